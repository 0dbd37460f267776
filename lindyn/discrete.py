"""`derive_discrete`: what a finite step does to a balanced mode, derived from the rule (sympy + numpy).

A practitioner's algorithm steps the layers, W_i ← W_i + η v_i (τ = 1, whitened input). On a
balanced aligned mode this is the one-dimensional map a_{k+1} = a_k + η φ(a_k), u_k = a_k^L, with
φ the rule's own per-layer velocity at equal gains (`lindyn.symbolic.discrete`). A `DiscreteMap`
keeps that derivation and evaluates it: the iterates, the largest stable step η_max = 2/(−φ'(a*)),
the modified flow that the iterates follow to O(η²), iterations to a threshold. The independent
route is `matrix_iterates`: the full matrices stepped by `lindyn.integrate(..., Discrete(lr))`.

>>> from lindyn.rules import GD
>>> m = derive_discrete(GD(), 2)
>>> float(m.eta_max([1.0])[0])
1.0
>>> [round(float(x), 6) for x in m.iterate(s=[1.0], u0=[0.01], lr=0.1, steps=2)[0]]
[0.01, 0.012078, 0.014582]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable

import numpy as np
import sympy
from numpy.typing import ArrayLike, NDArray

from ._checks import MAX_DEPTH, LindynError, LindynFailure, check_int, check_real, fail
from .integrate import Discrete, Flow, integrate
from .numeric.solvers import MAX_DISCRETE_STEPS
from .problem import aligned_problem
from .rules import LearningRule
from .symbolic.discrete import DiscreteDerivation, derive_discrete_map

__all__ = ["DiscreteMap", "derive_discrete", "matrix_iterates", "fitted_order"]

#: Integrator of the modified flow (a scalar ODE per mode): far below the O(η²) effects it resolves.
MODIFIED_FLOW = Flow(rtol=1e-12, atol=1e-14)


def _positive(x: Any, name: str) -> NDArray[np.float64]:
    try:
        arr = np.atleast_1d(np.asarray(x, dtype=float))
    except (TypeError, ValueError):
        raise fail(name, "positive finite numbers", x) from None
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise fail(name, "a non-empty list of positive finite numbers", x)
    return arr


def _per_mode(x: Any, name: str, m: int) -> NDArray[np.float64]:
    arr = _positive(x, name)
    if arr.size == 1:
        return np.full(m, arr[0])
    if arr.size != m:
        raise fail(name, f"one value or one per mode ({m})", x)
    return arr


def _steps(steps: Any) -> int:
    return check_int(steps, "steps", minimum=0, maximum=MAX_DISCRETE_STEPS)


def _step_arguments(s: Any, u0: Any, lr: Any, steps: Any) -> tuple[NDArray[np.float64], NDArray[np.float64], float, int]:
    """Checked (s, u0 per mode, lr, steps) of a run of discrete steps."""
    s = _positive(s, "s")
    return s, _per_mode(u0, "u0", s.size), check_real(lr, "lr", positive=True), _steps(steps)


@dataclass(frozen=True)
class DiscreteMap:
    """The derived discrete dynamics of a balanced mode under `rule` at depth L (τ = 1, λ = 1).

    Attributes:
        rule: the learning rule.
        depth: L.
        derivation: the symbolic results (`lindyn.symbolic.discrete.DiscreteDerivation`): the map,
            fixed points, η_max, modified equation and implicit regulariser as sympy expressions.
    """

    rule: LearningRule
    depth: int
    derivation: DiscreteDerivation = field(repr=False)

    # --- compiled expressions ---------------------------------------------------------------------
    @cached_property
    def _step(self) -> Callable[..., Any]:
        sym = self.derivation.symbols
        return sympy.lambdify((sym.x, sym.s), self.derivation.signed_step, "numpy")

    @cached_property
    def _modified(self) -> Callable[..., Any]:
        sym = self.derivation.symbols
        phi = self.derivation.step
        expr = phi - sym.eta / 2 * sympy.diff(phi, sym.a) * phi
        return sympy.lambdify((sym.a, sym.s, sym.eta), expr, "numpy")

    @cached_property
    def _eta_max(self) -> Callable[..., Any] | None:
        d = self.derivation
        return None if d.eta_max is None else sympy.lambdify((d.symbols.s,), d.eta_max, "numpy")

    # --- evaluation -------------------------------------------------------------------------------
    def eta_max(self, s: ArrayLike) -> NDArray[np.float64]:
        """The largest stable step per mode, η_max(s) = 2/(−φ'(s^{1/L})) (inf if the optimum is never stable).

        >>> from lindyn.rules import GD
        >>> [round(float(x), 12) for x in derive_discrete(GD(), 3).eta_max([1.0, 8.0])]
        [0.666666666667, 0.041666666667]
        """
        s = _positive(s, "s")
        if self._eta_max is None:
            return np.full(s.shape, np.inf)
        with np.errstate(over="ignore"):
            return np.broadcast_to(np.asarray(self._eta_max(s), dtype=float), s.shape).copy()

    def iterate(self, s: ArrayLike, u0: ArrayLike, lr: float, steps: int) -> NDArray[np.float64]:
        """Iterates u_k = a_k^L of a_{k+1} = a_k + η φ(a_k), a_0 = u0^{1/L}, for k = 0..steps.

        A mode whose iterates leave the finite numbers is NaN from that step on (the others go on).

        Args:
            s: singular values (one per mode), > 0.
            u0: initial mode strengths (one, or one per mode), > 0.
            lr: the step η > 0.
            steps: number of steps K >= 0.

        Returns:
            Array (modes, K + 1).
        """
        # === check arguments
        s, u0, lr, steps = _step_arguments(s, u0, lr, steps)
        a0 = u0 ** (1.0 / self.depth)
        k = np.arange(steps + 1, dtype=float) * lr
        f = lambda s_: (lambda a: np.asarray(self._step(a, s_), dtype=float) * np.ones_like(a))  # noqa: E731
        with np.errstate(over="ignore", invalid="ignore"):
            a = _finite_prefix(f(s), a0, k, lr)
            if np.isnan(a[-1]).any():   # a mode diverged: each on its own, up to its last finite step
                a = np.column_stack([_finite_prefix(f(s[m:m + 1]), a0[m:m + 1], k, lr)[:, 0] for m in range(s.size)])
            return a.T ** self.depth

    def modified_flow(self, t: ArrayLike, s: ArrayLike, u0: ArrayLike, lr: float) -> NDArray[np.float64]:
        """u(t) of the modified equation ȧ = φ − (η/2)φ'φ (the flow the iterates follow to O(η²)).

        Integrated per mode with `Flow(rtol=1e-12, atol=1e-14)`; returns (modes, len(t)).
        """
        s, u0, lr, _ = _step_arguments(s, u0, lr, 0)
        t = np.asarray(t, dtype=float)
        field_ = lambda a: np.asarray(self._modified(a, s, lr), dtype=float) * np.ones_like(a)  # noqa: E731
        theta = MODIFIED_FLOW.solve(field_, u0 ** (1.0 / self.depth), t).theta
        return theta.T ** self.depth

    def iterations_to(self, fraction: float, s: float, u0: float, lr: float, max_steps: int = 10**6) -> int | None:
        """The first k with u_k >= fraction·s (from u0 < fraction·s), or None when not reached in max_steps
        (diverged, or too slow)."""
        fraction = check_real(fraction, "fraction", positive=True)
        s_, u0_ = float(_positive(s, "s")[0]), float(_positive(u0, "u0")[0])
        lr = check_real(lr, "lr", positive=True)
        max_steps = _steps(max_steps)
        target = fraction * s_
        L = self.depth
        f = lambda a: np.asarray(self._step(a, s_), dtype=float) * np.ones_like(a)  # noqa: E731
        event = lambda _t, a: float(np.sign(a[0]) * abs(a[0]) ** L - target)  # noqa: E731
        try:
            out = Discrete(lr=lr).solve(f, np.array([u0_ ** (1.0 / L)]), np.array([max_steps * lr]), event=event)
        except LindynFailure:
            return None
        return None if out.stopped_at is None else int(round(out.stopped_at / lr))

    def steps_to_settle(self, band: float, s: float, u0: float, lr: float, max_steps: int = 10**6) -> int | None:
        """The first k from which every iterate stays within |u_k − s| <= band·s, or None when the iterates
        have not settled there within max_steps (diverged, oscillating, or too slow).

        Runs of 1000, 2000, 4000, … steps until the last iterate is inside the band and the last half of
        the run never left it, so an overshoot that later escapes is not counted as learned.
        """
        band = check_real(band, "band", positive=True)
        s_, u0_ = float(_positive(s, "s")[0]), float(_positive(u0, "u0")[0])
        max_steps = _steps(max_steps)
        K = min(1000, max_steps)
        while True:
            u = self.iterate([s_], [u0_], lr, K)[0]
            outside = ~(np.abs(u - s_) <= band * s_)            # NaN counts as outside
            if not outside[-1]:
                last_out = int(np.flatnonzero(outside)[-1]) if outside.any() else -1
                if last_out < K // 2:
                    return last_out + 1
            if K >= max_steps or not np.isfinite(u[-1]):
                return None
            K = min(2 * K, max_steps)

    def latex(self) -> str:
        """LaTeX (align environment) of the map, its optimum, η_max, modified equation and regulariser."""
        d = self.derivation
        sym = d.symbols
        a, u = sympy.latex(sym.a), sympy.latex(sym.u)
        eta_max = sympy.latex(d.eta_max) if d.eta_max is not None else r"\infty"
        rows = [rf"a_{{k+1}} &= a_k + \eta\,\phi(a_k),\quad \phi({a}) = {sympy.latex(d.step)},\quad u_k = a_k^{{{d.depth}}}",
                rf"a^* &= {sympy.latex(d.optimum)},\quad 1 + \eta\,\phi'(a^*) = {sympy.latex(d.multiplier)}",
                rf"\eta_{{\max}} &= {eta_max}",
                rf"\dot {u} &= {sympy.latex(d.mode_rhs)} + \eta\left[{sympy.latex(d.correction)}\right] + O(\eta^2)"]
        if d.regulariser is not None:
            rows.append(rf"R({u}) &= {sympy.latex(d.regulariser)}")
        return "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}\n"


def _finite_prefix(f: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, times: np.ndarray,
                   lr: float) -> NDArray[np.float64]:
    """θ at `times` stepped by `Discrete(lr)`; NaN from the first non-finite step on."""
    out = np.full((times.size, theta0.size), np.nan)
    solved = Discrete(lr=lr, on_failure="stop").solve(f, theta0, times)
    out[:len(solved.t)] = solved.theta
    return out


@lru_cache(maxsize=256)
def _derive_discrete(rule: Any, depth: int) -> DiscreteMap:
    return DiscreteMap(rule=rule, depth=depth, derivation=derive_discrete_map(rule, depth))


def derive_discrete(rule: LearningRule, depth: int) -> DiscreteMap:
    """Derive the discrete map of a balanced mode under finite steps of `rule` (cached).

    From the rule's per-layer velocity at equal gains φ(a): the map a ← a + ηφ(a), its fixed points,
    η_max = 2/(−φ'(s^{1/L})), the modified equation τu̇ = f(u) + η f₁(u) and the implicit
    regulariser R (for GD, Barrett & Dherin's (η/4)‖∇ℓ‖²).

    Args:
        rule: a learning rule with a per-mode form that keeps balanced gains equal.
        depth: number of weight matrices, 1 <= L <= 100.

    Raises:
        LindynError: bad arguments.
        NoModeDecomposition: the rule has no one-dimensional balanced map (e.g. damped block rules at L >= 3).

    >>> from lindyn.rules import BlockNGD
    >>> derive_discrete(BlockNGD(), 4).derivation.eta_max
    1/2
    """
    # === check arguments
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule (an object with velocity(grads, geo, ops))", rule)
    depth = check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH)
    return _derive_discrete(rule, depth)


def matrix_iterates(rule: LearningRule, depth: int, s: ArrayLike, u0: ArrayLike, lr: float, steps: int, *,
                    width: int | None = None, seed: int = 0) -> NDArray[np.float64]:
    """The independent route: full weight matrices stepped W_i ← W_i + η v_i from a balanced aligned init.

    `aligned_problem(s, depth, u0=u0, width=width, seed=seed)` (whitened input, random orthogonal
    bases) stepped by `integrate(..., method=Discrete(lr))`; the mode strengths u = diag(Uᵀ W V)
    are read from the matrices at k = 0..steps. NaN from the first step where the matrices stop
    being finite.

    Returns:
        Array (modes, steps + 1).
    """
    s, u0, lr, steps = _step_arguments(s, u0, lr, steps)
    problem = aligned_problem(list(s), depth, u0=list(u0), width=width, seed=seed)
    times = np.arange(steps + 1, dtype=float) * lr
    out = np.full((s.size, steps + 1), np.nan)
    traj = integrate(problem, rule, times, method=Discrete(lr=lr, on_failure="stop"))
    out[:, :len(traj.t)] = traj.u[: s.size]
    return out


def fitted_order(h: ArrayLike, err: ArrayLike) -> float:
    """Least-squares slope of log(err) against log(h): the observed order of an error err ∝ h^p.

    >>> round(fitted_order([0.1, 0.05, 0.025], [1e-2, 2.5e-3, 6.25e-4]), 12)
    2.0
    """
    h, err = np.asarray(h, dtype=float), np.asarray(err, dtype=float)
    if h.shape != err.shape or h.size < 2 or np.any(h <= 0) or np.any(err <= 0):
        raise LindynError("Arguments `h` and `err` must be equal-length arrays of >= 2 positive numbers, "
                          f"got h={h!r}, err={err!r}.")
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])
