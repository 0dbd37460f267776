"""Full-matrix dynamics τ dW_i/dt = v_i(W) in double precision: flow (solve_ivp) and discrete steps.

The state is θ = (vec W_1, …, vec W_L) (column-major). The velocity is whatever the learning rule
returns on a `MatrixGeometry`, so every rule, user rules included, is integrated by the same code.
Failures raise `IntegrationFailed` with the reason: a partial result is never returned.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from scipy.integrate import solve_ivp

from .._checks import IntegrationFailed, fail
from ._ops import MatrixGeometry, NumpyOps, unvec_layers, vec_layers

__all__ = ["velocity_field", "solve_flow", "solve_discrete", "discrete_steps"]

#: Largest number of discrete steps `solve_discrete` accepts in one call.
MAX_DISCRETE_STEPS = 50_000_000

#: Largest number of velocity evaluations `solve_flow` spends before it gives up with
#: `IntegrationFailed`: an explicit solver near a stable fixed point keeps a step of O(τ/rate), so a
#: horizon like t = 1e308 would otherwise never finish (GD, L = 2, one mode: ~5 evaluations per unit
#: of t, 10**6 evaluations ~40 s).
MAX_FLOW_EVALUATIONS = 1_000_000


def velocity_field(rule: Any, shapes: Sequence[tuple[int, int]], Sigma: np.ndarray, Sigma_yx: np.ndarray,
                   tau: float, fisher_route: str = "efficient", ops: Any = None) -> Callable[[np.ndarray], np.ndarray]:
    """Return f(θ) = dθ/dt = vec(rule.velocity(∂ℓ/∂W, geometry)) / τ.

    Args:
        rule: a learning rule (any object with `velocity(grads, geo, ops)`).
        shapes: shape (n_i, n_{i-1}) of each W_i.
        Sigma, Sigma_yx: Σ_xx and Σ_yx of the task.
        tau: time constant τ > 0.
        fisher_route: 'efficient' or 'explicit' (see `lindyn.numeric.fisher`).
        ops: numpy backend (default `NumpyOps()`).
    """
    ops = ops if ops is not None else NumpyOps()

    def f(theta: np.ndarray) -> np.ndarray:
        W = unvec_layers(theta, shapes)
        geo = MatrixGeometry(W, Sigma, Sigma_yx, ops, fisher_route)
        vel = tuple(rule.velocity(geo.grads, geo, ops))
        if len(vel) != len(shapes) or any(np.shape(v) != shape for v, shape in zip(vel, shapes)):
            raise fail("rule", f"a rule whose velocity returns one array per layer with shapes {list(shapes)}",
                       getattr(rule, "name", rule))
        return vec_layers([np.asarray(v, dtype=float) for v in vel]) / tau

    return f


def solve_flow(f: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, t: Sequence[float], *,
               rtol: float, atol: float, solver: str) -> np.ndarray:
    """Integrate dθ/dt = f(θ) from θ(0) = θ0 and return θ at each time in `t` (shape (T, P)).

    Uses `scipy.integrate.solve_ivp` with dense output, evaluated at the requested times (repeated
    times and t = 0 allowed). Raises `IntegrationFailed` if the solver stops early or produces a
    non-finite state.
    """
    t = np.asarray(t, dtype=float)
    t_end = float(t[-1])
    if t_end == 0.0:
        return np.tile(theta0, (len(t), 1))

    calls = [0]

    def rhs(_time: float, theta: np.ndarray) -> np.ndarray:
        calls[0] += 1
        if calls[0] > MAX_FLOW_EVALUATIONS:
            raise _Budget(_time)
        out = f(theta)
        if not np.all(np.isfinite(out)):
            raise _NonFinite(_time)
        return out

    try:
        sol = solve_ivp(rhs, (0.0, t_end), theta0, method=solver, rtol=rtol, atol=atol, dense_output=True)
    except _Budget as err:
        raise fail("t", f"reachable within {MAX_FLOW_EVALUATIONS} velocity evaluations of {solver} (it got to "
                        f"t ≈ {err.time:.6g}; use a smaller t, or a stiff solver such as Flow(solver='LSODA') "
                        "for long horizons)", t_end, IntegrationFailed) from None
    except _NonFinite as err:
        raise fail("t", f"within the range the {solver} solver can reach (the velocity became NaN or inf "
                        f"at t ≈ {err.time:.6g}; the weights may have diverged or become singular)",
                   t_end, IntegrationFailed) from None
    except (np.linalg.LinAlgError, FloatingPointError, OverflowError) as err:
        raise fail("t", f"within the range the {solver} solver can reach (numerical failure: {err})",
                   t_end, IntegrationFailed) from None
    if sol.status != 0:
        reached = float(sol.t[-1])
        raise fail("t", f"<= {reached:.6g}, where {solver} stopped: {sol.message}", t_end, IntegrationFailed)
    out = sol.sol(t).T
    out[t == 0.0] = theta0
    if not np.all(np.isfinite(out)):
        raise fail("t", f"a range where the {solver} solution stays finite", t_end, IntegrationFailed)
    return out


class _Budget(Exception):
    def __init__(self, time: float) -> None:
        super().__init__(time)
        self.time = time


class _NonFinite(Exception):
    def __init__(self, time: float) -> None:
        super().__init__(time)
        self.time = time


def discrete_steps(t: Sequence[float], lr: float) -> np.ndarray:
    """Step indices k = round(t / lr) that serve the requested times (t_k = k·lr)."""
    with np.errstate(over="ignore"):
        k = np.rint(np.asarray(t, dtype=float) / lr)
    if k.size and not float(k[-1]) <= MAX_DISCRETE_STEPS:   # checked as floats: t/lr may exceed int64
        raise fail("lr", f"large enough that max(t)/lr <= {MAX_DISCRETE_STEPS} steps", lr)
    return k.astype(np.int64)


def solve_discrete(f: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, steps: np.ndarray,
                   lr: float) -> np.ndarray:
    """The discrete algorithm θ_{k+1} = θ_k + lr · f(θ_k) (f already divided by τ); θ at `steps`.

    Raises `IntegrationFailed` when an iterate becomes non-finite (learning rate too large).
    """
    out = np.empty((len(steps), theta0.size))
    theta = theta0.copy()
    k = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for j, target in enumerate(steps):
            while k < target:
                theta = theta + lr * f(theta)
                k += 1
                if not np.all(np.isfinite(theta)):
                    raise fail("lr", f"small enough for the iterates to stay finite (they diverged at step {k}, "
                                     f"t = {k * lr:.6g})", lr, IntegrationFailed)
            out[j] = theta
    return out
