"""`integrate(problem, rule, t, method=Flow())`: the full matrix dynamics of a deep linear network.

What to integrate (a `Problem` and a learning rule) is kept apart from how (`Flow`, `Discrete`,
`HighPrecision`), as in diffrax's `diffeqsolve(terms, solver, ...)`. Every rule runs through the
same code: its `velocity` is evaluated on the full-matrix geometry at each step, so a user rule
made with `lindyn.rule(fn)` is integrated exactly like a built-in one.

>>> from lindyn import GD, aligned_problem
>>> traj = integrate(aligned_problem(s=[2.0], depth=2, u0=0.01), GD(), [0.5, 1.0, 2.0])
>>> [round(float(x), 8) for x in traj.u[0]]          # Saxe et al. 2014 Eq. 12
[0.07160318, 0.43058792, 1.87484111]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np

from ._chain import chain_products, end_to_end, end_to_end_velocity
from ._checks import LindynError, SingularCrossing, check_int, check_real, check_times, fail
from .numeric._ops import unvec_layers, vec_layers
from .numeric.matrix_ode import discrete_steps, solve_discrete, solve_flow, velocity_field
from .numeric.singular import first_singular_point
from .problem import Aligned, Problem

__all__ = ["Flow", "Discrete", "HighPrecision", "NumericTrajectory", "integrate"]

_SOLVERS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")
_ROUTES = ("efficient", "explicit")

#: A candidate invariant enters `NumericTrajectory.conserved` when its rate of change at t = 0,
#: relative to the size of the terms that make it, is below this (rounding level is ~1e-15).
CONSERVATION_PROBE_RTOL = 1e-8

#: The rule is taken to move W(t) along the straight line to W* when its end-to-end velocity at
#: t = 0 is parallel to W* − W(0) within this relative residual (exact NGD, block NGD q = 1).
STRAIGHT_PATH_RTOL = 1e-8

#: A straight-line rule has the same rate r at W(0) and at the generic probe weights; the rates are
#: taken to match within this relative difference. Each rate passed the `STRAIGHT_PATH_RTOL` residual
#: test, so it is accurate to about 1e-8; a rule straight only at a special W(0) (GD at W_i = I) has an
#: O(1) different rate, or none, at generic weights.
STRAIGHT_RATE_MATCH_RTOL = 1e-6


@dataclass(frozen=True)
class Flow:
    """The gradient-flow ODE τ dW_i/dt = v_i(W), solved with `scipy.integrate.solve_ivp`.

    The solver runs once from 0 to max(t) with dense output, which is evaluated at the requested
    times (so asking for more times costs no extra steps).

    Args:
        rtol, atol: solver tolerances (> 0).
        solver: a `solve_ivp` method: 'DOP853' (default), 'RK45', 'RK23', 'Radau', 'BDF', 'LSODA'.
        fisher_route: 'efficient' (full-Fisher powers without forming F, `lindyn.numeric.fisher`)
            or 'explicit' (dense J and F, the reference for small nets).

    >>> Flow().solver
    'DOP853'
    """

    rtol: float = 1e-10
    atol: float = 1e-12
    solver: str = "DOP853"
    fisher_route: str = "efficient"

    def __post_init__(self) -> None:
        check_real(self.rtol, "rtol", positive=True)
        check_real(self.atol, "atol", positive=True)
        if self.solver not in _SOLVERS:
            raise fail("solver", "one of " + ", ".join(_SOLVERS), self.solver)
        if self.fisher_route not in _ROUTES:
            raise fail("fisher_route", "'efficient' or 'explicit'", self.fisher_route)

    @property
    def name(self) -> str:
        """'flow'."""
        return "flow"


@dataclass(frozen=True)
class Discrete:
    """The discrete algorithm a practitioner runs: W_i ← W_i + lr · v_i(W)/τ, at times t_k = k·lr.

    t counts iterations × η, so step k sits at t_k = k·lr (forward Euler on the flow with step lr).
    A requested time that is not on the grid is served by the nearest iterate k = round(t/lr);
    the trajectory's `t` holds the grid times k·lr actually returned.

    Args:
        lr: learning rate (time step) > 0.
        fisher_route: as in `Flow`.

    >>> Discrete(lr=0.01).lr
    0.01
    """

    lr: float = 1e-3
    fisher_route: str = "efficient"

    def __post_init__(self) -> None:
        check_real(self.lr, "lr", positive=True)
        if self.fisher_route not in _ROUTES:
            raise fail("fisher_route", "'efficient' or 'explicit'", self.fisher_route)

    @property
    def name(self) -> str:
        """'discrete'."""
        return "discrete"


@dataclass(frozen=True)
class HighPrecision:
    """The flow at `dps` decimal digits with mpmath (Taylor series solver), small nets only.

    The rule runs unchanged on numpy object arrays of `mpmath.mpf` with `MpmathOps`; the Fisher
    is dense (at most ~20 parameters is practical). The float64 problem data are converted
    exactly to mpf.

    Args:
        dps: working precision in decimal digits, 15 <= dps <= 200.

    >>> HighPrecision(dps=40).dps
    40
    """

    dps: int = 30

    def __post_init__(self) -> None:
        check_int(self.dps, "dps", minimum=15, maximum=200)

    @property
    def name(self) -> str:
        """'mpmath'."""
        return "mpmath"


Method = Union[Flow, Discrete, HighPrecision]


@dataclass(frozen=True)
class NumericTrajectory:
    """Full-matrix trajectory of `problem` under `rule`, integrated by `method`.

    Attributes:
        problem, rule, method: what made it.
        t: times (T,) (for `Discrete`, the grid times k·lr used).
        W: per layer, an array (T, n_i, n_{i-1}) of W_i(t).
        W_end: (T, n_L, n_0), the end-to-end map W = W_L⋯W_1.
        loss: (T,), excess loss ℓ − ℓ* = ½ tr[(W − W*)Σ(W − W*)ᵀ].
        u: (modes, T), mode strengths diag(Uᵀ W V) with (U, V) = problem.bases(), modes = min(n_0, n_L).
        leakage: (T,), max |off-diagonal entry of Uᵀ W V| (0 while the modes stay decoupled).
        balance: per i = 1..L−1, (T, n_i, n_i): C_i = W_{i+1}ᵀW_{i+1} − W_iW_iᵀ.
        gains: (modes, L, T) per-layer mode gains a_{i,α} = (R_{i+1}ᵀ W_i R_i)_αα when the init is
            `Aligned` (bases R from `Aligned.bases`, modes = min(widths)); else None.
        conserved: name -> array over t of each candidate invariant that the rule conserves for every
            init, decided by probing the rule's velocity at two fixed random generic weights of the
            same shapes (rate of change below `CONSERVATION_PROBE_RTOL` relative):
            'C_i' (the balance C_i, conserved by GD and every full-Fisher power NGD^q, Huh 2020),
            and on nets of equal widths 'logdet_W{i+1}/W{i}' = log|det W_{i+1}| − log|det W_i|
            (conserved by block NGD q = 1, K-FAC and Bernacchia's per-layer rule, for which
            d/dt log|det W_i| = −tr((W − W*)W⁻¹)/τ is the same for every layer).
            Block NGD with q < 1 breaks both; its invariant a_i^{2−2q} − a_j^{2−2q} lives on the
            mode gains (see `gains`).

    For `HighPrecision`, `W`, `W_end`, `u` and `loss` are object arrays of `mpmath.mpf` (so that
    25-digit comparisons are possible); `leakage`, `balance`, `gains` and `conserved` are float64.
    """

    problem: Problem
    rule: Any
    method: Any
    t: np.ndarray
    W: tuple[np.ndarray, ...]
    W_end: np.ndarray
    loss: np.ndarray
    u: np.ndarray
    leakage: np.ndarray
    balance: tuple[np.ndarray, ...]
    gains: np.ndarray | None
    conserved: dict[str, np.ndarray]

    def drift(self, name: str) -> np.ndarray:
        """max |Q(t) − Q(0)| over the entries of the conserved quantity `name`, shape (T,).

        >>> from lindyn import GD, aligned_problem
        >>> traj = integrate(aligned_problem(s=[1.0], depth=2, u0=0.1), GD(), [0.0, 1.0])
        >>> bool(traj.drift("C_1")[-1] < 1e-9)
        True
        """
        # === check arguments
        if name not in self.conserved:
            raise fail("name", "one of " + ", ".join(sorted(self.conserved)) if self.conserved
                       else "a conserved quantity (this rule conserves none of the candidates)", name)
        Q = np.asarray(self.conserved[name], dtype=float)
        return np.abs(Q - Q[0]).reshape(len(Q), -1).max(axis=1)


def integrate(problem: Problem, rule: Any, t: Sequence[float], method: Method = Flow()) -> NumericTrajectory:
    """Integrate the full matrix dynamics τ dW_i/dt = v_i, v = rule.velocity(∂ℓ/∂W, geometry).

    ℓ = ½ tr[(W − W*)Σ(W − W*)ᵀ], ∂ℓ/∂W_i = B_iᵀ(WΣ − Σ_yx)A_iᵀ (Saxe et al. 2014 Eq. 6).
    Rules whose end-to-end path is the straight line W(t) = W* + e^{−rt/τ}(W(0) − W*) (exact NGD,
    r = 1; block NGD q = 1, r = L; Bernacchia et al. 2018) are detected at t = 0; on a square net
    with det W(0)·det W* < 0 that line passes a singular W at a computable time (the largest root
    x ∈ (0, 1) of det(W* + x(W(0) − W*)) = 0 gives t = −(τ/r) ln x), and asking for a time at or
    beyond it raises `SingularCrossing` instead of integrating into the singularity.

    Args:
        problem: the network, task, initialisation and τ.
        rule: a learning rule (any object with `velocity(grads, geo, ops)`; see `lindyn.rules`).
        t: times >= 0 in increasing order.
        method: `Flow(...)` (default), `Discrete(lr)` or `HighPrecision(dps)`.

    Returns:
        A `NumericTrajectory` at the requested times.

    Raises:
        LindynError: bad arguments, or a rule whose velocities do not fit the layer shapes.
        SingularCrossing: the straight NGD-type path meets det W = 0 within the requested times.
        IntegrationFailed: the integrator stopped or diverged (never a partial result).

    >>> from lindyn import NGD, aligned_problem
    >>> traj = integrate(aligned_problem(s=[1.0], depth=3, u0=0.5), NGD(), [1.0])
    >>> round(float(traj.u[0, 0]), 10) == round(1 - 0.5 * math.exp(-1), 10)   # u = s − (s − u0)e^{−t}
    True
    """
    # === check arguments
    if not isinstance(problem, Problem):
        raise fail("problem", "a lindyn.Problem (e.g. from aligned_problem)", problem)
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule with velocity(grads, geo, ops) (see lindyn.rule)", rule)
    if not isinstance(method, (Flow, Discrete, HighPrecision)):
        raise fail("method", "Flow(...), Discrete(lr) or HighPrecision(dps)", method)
    times = np.asarray(check_times(t, "t"), dtype=float)

    W0 = problem.initial_weights()
    shapes = [w.shape for w in W0]
    Sigma, Sigma_yx, tau = problem.task.Sigma_xx, problem.task.Sigma_yx, float(problem.tau)
    route = getattr(method, "fisher_route", "efficient")
    f = velocity_field(rule, shapes, Sigma, Sigma_yx, tau, route)
    theta0 = vec_layers(W0)
    V0 = _probe_rule(rule, f, theta0, shapes)
    _check_singular_crossing(problem, rule, W0, V0, times, route)

    if isinstance(method, Flow):
        thetas = solve_flow(f, theta0, times, rtol=method.rtol, atol=method.atol, solver=method.solver)
        layers = _split_layers(thetas, shapes)
    elif isinstance(method, Discrete):
        steps = discrete_steps(times, method.lr)
        thetas = solve_discrete(f, theta0, steps, method.lr)
        times = steps * method.lr
        layers = _split_layers(thetas, shapes)
    else:
        from .numeric.highprec import solve_flow_mpmath
        per_time = solve_flow_mpmath(rule, W0, Sigma, Sigma_yx, tau, times, method.dps)
        layers = tuple(np.stack([Ws[i] for Ws in per_time]) for i in range(len(shapes)))
    return _trajectory(problem, rule, method, times, layers, W0, V0)


# --- helpers -------------------------------------------------------------------------------------

def _split_layers(thetas: np.ndarray, shapes: Sequence[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    """θ at T times, (T, P) -> one contiguous (T, n_i, n_{i-1}) array per layer."""
    return tuple(np.ascontiguousarray(x) for x in unvec_layers(thetas, shapes))


def _probe_rule(rule: Any, f: Any, theta0: np.ndarray, shapes: Sequence[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    """The rule's velocities dW_i/dt at t = 0, checked for count, shapes and finiteness."""
    try:
        v = f(theta0)
    except (ValueError, TypeError, IndexError) as err:
        if isinstance(err, LindynError):
            raise
        raise fail("rule", "a rule whose velocity(grads, geo, ops) returns one array per layer, shaped like "
                           f"that layer ({err})", getattr(rule, "name", rule)) from None
    P = sum(m * n for m, n in shapes)
    if v.shape != (P,):
        raise fail("rule", f"a rule returning velocities of the layer shapes {list(shapes)}",
                   getattr(rule, "name", rule))
    if not np.all(np.isfinite(v)):
        raise fail("rule", "a rule with a finite velocity at the initial weights (got NaN or inf)",
                   getattr(rule, "name", rule))
    return tuple(np.ascontiguousarray(x) for x in unvec_layers(v, shapes))


def _straight_rate(W: Sequence[np.ndarray], V: Sequence[np.ndarray], W_star: np.ndarray) -> float | None:
    """r if the end-to-end velocity at W is −r(W − W*) with r > 0 (relative residual), else None."""
    A, B, W_end = chain_products(W, np.eye)
    E = W_end - W_star
    Wdot = end_to_end_velocity(A, B, V)
    norm_e = float(np.sum(E * E))
    if norm_e == 0.0:
        return None
    rate = -float(np.sum(Wdot * E)) / norm_e
    residual = np.linalg.norm(Wdot + rate * E)
    if rate <= 0 or residual > STRAIGHT_PATH_RTOL * max(np.linalg.norm(Wdot), np.finfo(float).tiny):
        return None
    return rate


def _check_singular_crossing(problem: Problem, rule: Any, W0: Sequence[np.ndarray], V0: Sequence[np.ndarray],
                             times: np.ndarray, route: str = "efficient") -> None:
    """Raise `SingularCrossing` when a straight-line rule must pass det W = 0 by max(t).

    Always the case when det W(0)·det W* < 0 (the determinant changes sign along the segment);
    two roots are possible even when the signs agree. A rule counts as straight-line when its
    end-to-end velocity is −r(W − W*) with the same r at W(0) and at two generic random weights
    (GD can be momentarily straight at a special W(0), e.g. W_i = I, without staying on the line).
    """
    W_star = problem.task.W_star
    if W_star.shape[0] != W_star.shape[1]:
        return
    W_end = end_to_end(W0)
    s0, _ = np.linalg.slogdet(W_end)
    s1, _ = np.linalg.slogdet(W_star)
    if s1 == 0:
        return
    rate = _straight_rate(W0, V0, W_star)
    if rate is None:
        return
    # W(t) = W(0) + s(W* − W(0)) with s = 1 − e^{−rate·t}, so the first singular s gives t = −ln(1 − s)/rate
    s_cross = first_singular_point(W_end, W_star)
    if s_cross is None:
        return
    t_cross = -math.log1p(-s_cross) / rate
    if times[-1] >= t_cross:
        probes = _generic_probes(rule, problem, [w.shape for w in W0], route)
        rates = [_straight_rate(W, V, W_star) for W, V in probes]
        if not probes or any(r is None or abs(r - rate) > STRAIGHT_RATE_MATCH_RTOL * rate for r in rates):
            return  # straight only at this W(0): not a straight-line rule
        name = getattr(rule, "name", type(rule).__name__)
        why = "det W(0)·det W* < 0, so" if s0 * s1 < 0 else "the segment meets det W = 0:"
        err = fail("t", f"< {t_cross:.10g}: under rule {name!r} the end-to-end map moves on the straight line "
                        f"W(t) = W* + exp(-{rate:.6g} t)(W(0) - W*) and {why} W(t) is singular "
                        f"at t = {t_cross:.10g} (singular crossing); the rule cannot be integrated through it",
                   float(times[-1]), SingularCrossing)
        err.time = t_cross  # type: ignore[attr-defined]
        raise err


def _trajectory(problem: Problem, rule: Any, method: Any, times: np.ndarray, layers: tuple[np.ndarray, ...],
                W0: Sequence[np.ndarray], V0: Sequence[np.ndarray]) -> NumericTrajectory:
    high = isinstance(method, HighPrecision)
    if high:
        import mpmath
        with mpmath.workdps(method.dps):  # mpf arithmetic below must run at the working precision
            return _trajectory_values(problem, rule, method, times, layers, W0, V0, high)
    return _trajectory_values(problem, rule, method, times, layers, W0, V0, high)


def _trajectory_values(problem: Problem, rule: Any, method: Any, times: np.ndarray, layers: tuple[np.ndarray, ...],
                       W0: Sequence[np.ndarray], V0: Sequence[np.ndarray], high: bool) -> NumericTrajectory:
    floats = tuple(np.asarray(x, dtype=float) for x in layers)
    T = len(times)
    # end-to-end map and loss (in mpf for the high-precision route)
    if high:
        from .numeric.highprec import to_mpf_array
        ends, losses = [], []
        S, W_star = to_mpf_array(problem.task.Sigma_xx), _mp_w_star(problem)
        for k in range(T):
            E = end_to_end([w[k] for w in layers])
            ends.append(E)
            R = E - W_star
            losses.append(sum(np.diag(R @ S @ R.T)) / 2)
        W_end = np.stack(ends)
        loss = np.empty(T, dtype=object)
        loss[:] = losses
        U, V = (to_mpf_array(b) for b in problem.bases())
    else:
        W_end = end_to_end(floats)
        R = W_end - problem.task.W_star
        loss = 0.5 * np.einsum("kij,jl,kil->k", R, problem.task.Sigma_xx, R)
        U, V = problem.bases()
    M = np.stack([U.T @ W_end[k] @ V for k in range(T)])
    modes = min(M.shape[1:])
    u = np.stack([M[:, a, a] for a in range(modes)])
    Mf = np.asarray(M, dtype=float)
    off = Mf.copy()
    off[:, np.arange(modes), np.arange(modes)] = 0.0
    leakage = np.abs(off).reshape(T, -1).max(axis=1) if off[0].size else np.zeros(T)
    balance = tuple(np.transpose(floats[i + 1], (0, 2, 1)) @ floats[i + 1] - floats[i] @ np.transpose(floats[i], (0, 2, 1))
                    for i in range(len(floats) - 1))
    gains = None
    if isinstance(problem.init, Aligned):
        Rb = problem.init.bases(problem.network, problem.task)
        n_modes = min(problem.network.widths)
        gains = np.stack([np.stack([np.diagonal(Rb[i + 1].T @ floats[i][k] @ Rb[i])[:n_modes] for k in range(T)], axis=-1)
                          for i in range(len(floats))], axis=1)
    conserved = {}
    probes = _generic_probes(rule, problem, [w.shape for w in W0], getattr(method, "fisher_route", "efficient"))
    for name, value in _candidate_invariants(floats, balance).items():
        if probes and all(_rate_vanishes(name, W, V) for W, V in probes):  # no probes: claim nothing
            conserved[name] = value
    return NumericTrajectory(problem=problem, rule=rule, method=method, t=np.asarray(times, dtype=float),
                             W=tuple(layers), W_end=W_end, loss=loss, u=u, leakage=leakage, balance=balance,
                             gains=gains, conserved=conserved)


def _mp_w_star(problem: Problem) -> np.ndarray:
    """W* = Σ_yx Σ_xx⁻¹ in mpf at the current precision."""
    import mpmath
    from .numeric.highprec import to_mpf_array
    Syx, S = problem.task.Sigma_yx, problem.task.Sigma_xx
    inv = mpmath.inverse(mpmath.matrix(to_mpf_array(S).tolist()))
    S_inv = np.array([[inv[i, j] for j in range(S.shape[0])] for i in range(S.shape[0])], dtype=object)
    return to_mpf_array(Syx) @ S_inv


def _square_chain(W: Sequence[np.ndarray]) -> bool:
    return all(w.shape[-1] == w.shape[-2] for w in W)


def _candidate_invariants(floats: Sequence[np.ndarray], balance: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Candidate invariants over t: the balance C_i, and log-determinant ratios on square chains."""
    out = {f"C_{i + 1}": C for i, C in enumerate(balance)}
    if _square_chain([w[0] for w in floats]):
        logdet = [np.linalg.slogdet(w)[1] for w in floats]
        for i in range(len(floats) - 1):
            # a singular layer (e.g. u0 = 0) has log|det| = −inf: the ratio is undefined, not a candidate
            if np.all(np.isfinite(logdet[i + 1])) and np.all(np.isfinite(logdet[i])):
                out[f"logdet_W{i + 2}/W{i + 1}"] = logdet[i + 1] - logdet[i]
    return out


def _generic_probes(rule: Any, problem: Problem, shapes: Sequence[tuple[int, int]],
                    route: str) -> list[tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]]:
    """The rule's velocities at two fixed random (generic, non-aligned, unbalanced) weights.

    A quantity whose rate vanishes there is an invariant of the rule for every init; probing
    the initial weights alone would also accept quantities that are only stationary there
    (e.g. C_i = 0 from a balanced init under block rules, which then drifts at second order).
    """
    task = problem.task
    f = velocity_field(rule, shapes, task.Sigma_xx, task.Sigma_yx, float(problem.tau), route)
    rng = np.random.default_rng(20140101)
    out = []
    for _ in range(2):
        W = tuple(np.eye(m, n) + 0.3 * rng.normal(size=(m, n)) / math.sqrt(n) for m, n in shapes)
        theta = vec_layers(W)
        try:
            V = _probe_rule(rule, f, theta, shapes)
        except Exception:  # a rule undefined at generic weights: claim no invariant rather than fail
            return []
        out.append((W, V))
    return out


def _rate_vanishes(name: str, W: Sequence[np.ndarray], V: Sequence[np.ndarray]) -> bool:
    """Whether the candidate `name` has zero rate of change at W under velocities V (relative)."""
    if name.startswith("C_"):
        i = int(name[2:]) - 1
        Wa, Wb, Va, Vb = W[i], W[i + 1], V[i], V[i + 1]
        rate = Vb.T @ Wb + Wb.T @ Vb - Va @ Wa.T - Wa @ Va.T
        scale = 2 * (np.linalg.norm(Wb) * np.linalg.norm(Vb) + np.linalg.norm(Wa) * np.linalg.norm(Va))
        return bool(np.linalg.norm(rate) <= CONSERVATION_PROBE_RTOL * scale)
    i = int(name.split("/W")[1]) - 1
    try:
        Ia, Ib = np.linalg.inv(W[i]), np.linalg.inv(W[i + 1])
    except np.linalg.LinAlgError:
        return False
    if not (np.all(np.isfinite(Ia)) and np.all(np.isfinite(Ib))):
        return False
    # d/dt log|det W_i| = tr(W_i⁻¹ dW_i/dt)
    ra, rb = np.trace(Ia @ V[i]), np.trace(Ib @ V[i + 1])
    scale = np.linalg.norm(Ia) * np.linalg.norm(V[i]) + np.linalg.norm(Ib) * np.linalg.norm(V[i + 1])
    return bool(abs(rb - ra) <= CONSERVATION_PROBE_RTOL * scale)
