"""Numeric evaluation of a derived mode solution (numpy/scipy/mpmath, never sympy).

`lindyn.trajectory` lambdifies the derived expressions and hands plain callables to one of the
evaluators below, one per solution form. Every callable takes its variable first, then the mode's
arguments in one fixed order, `Mode.args()`: (s, λ, τ, u0, a_1(0), …, a_L(0), free parameters…).

* `MobiusEvaluator` (explicit u(t)): w = ((P0 + P1 E)/(Q0 + Q1 E))^k, E = e^{−rate·t}, summed stably;
* `InverseEvaluator` (implicit t(u)): t̃ = G(w) − G(w0) solved for w by bracketed Newton;
* `QuadratureEvaluator` (exact integral): the reduced ODE τ ẋ = ẋ(x) integrated by DOP853, with the
  layer of smallest initial gain as x (no cancellation in the conserved curves);

and for 30+ digits `ExplicitMp`, `ImplicitMp`, `QuadratureMp` (the mpmath callables of the same
derivation). `evaluate_modes` and `value_mp` run them; both return u, never NaN.

>>> import numpy as np
>>> logistic = MobiusEvaluator(rate=lambda *a: 2.0 * a[0], k=1, t_of_u=None,
...     coef=lambda w0, *a: (w0, 0.0, w0, 1.0 - w0, w0, 1.0))      # Saxe Eq. 12, w = λu/s
>>> evaluate_modes(logistic, np.array([0.0, 1.0]), [Mode(s=2.0, lam=1.0, tau=1.0, u0=0.01)]).round(6).tolist()
[[0.01, 0.430588]]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import mpmath
import numpy as np
import scipy.special
from numpy.typing import NDArray

from .mode_ode import integrate_mode_mp
from .stable import (MONOTONE_RTOL, QUADRATURE_MONOTONE_RTOL, bisect_time_mp, hyp2f1_1b, integrate_reduced,
                     invert_time, mobius_power, monotone, newton_refine_mp, reduced_time)

__all__ = ["Mode", "MobiusEvaluator", "InverseEvaluator", "QuadratureEvaluator", "ExplicitMp", "ImplicitMp",
           "QuadratureMp", "evaluate_modes", "time_to", "value_mp", "NUMPY_FUNCTIONS", "MPMATH_FUNCTIONS"]

Fn = Callable[..., Any]


def _mp_hyp2f1_1b(b: Any, z: Any) -> Any:
    return mpmath.hyp2f1(1, b, b + 1, z)


def _mp_boxcox(x: Any, a: Any) -> Any:
    return mpmath.log(x) if a == 0 else mpmath.powm1(x, a) / a


#: Numeric implementations of the special functions in derived expressions, by the name lambdify
#: prints: ₂F₁ (with c = a + b exactly for hyp2f1_1b) and the Box–Cox function.
NUMPY_FUNCTIONS: dict[str, Fn] = {"hyp2f1": scipy.special.hyp2f1, "hyp2f1_1b": hyp2f1_1b,
                                  "boxcox": scipy.special.boxcox}
MPMATH_FUNCTIONS: dict[str, Fn] = {"hyp2f1": mpmath.hyp2f1, "hyp2f1_1b": _mp_hyp2f1_1b, "boxcox": _mp_boxcox}


@dataclass(frozen=True)
class Mode:
    """One mode's numbers: s, λ, τ, u0, per-layer gains (unbalanced) and free parameter values.

    `depth` pads `args()` for balanced modes, whose expressions do not contain the gains.
    """

    s: Any
    lam: Any
    tau: Any
    u0: Any
    gains: tuple[Any, ...] | None = None
    free: tuple[Any, ...] = ()
    depth: int = 0

    def args(self) -> tuple[Any, ...]:
        """(s, λ, τ, u0, a_1(0)..a_L(0), free...): the argument order of every lambdified callable."""
        gains = self.gains if self.gains is not None else (self.u0,) * self.depth
        return (self.s, self.lam, self.tau, self.u0, *gains, *self.free)


def _root(k: int) -> Fn:
    """w ↦ w^{1/k} with numpy's dedicated square and cube roots where they apply."""
    if k == 1:
        return lambda w: w
    if k == 2:
        return np.sqrt
    if k == 3:
        return np.cbrt
    return lambda w: np.power(w, 1.0 / k)


@dataclass(frozen=True)
class MobiusEvaluator:
    """Explicit u(t) = (s/λ) w, w = ((P0 + P1 E)/(Q0 + Q1 E))^k, E = e^{−rate·t}.

    rate(*args); coef(w0, *args) -> (P0, P1, Q0, Q1, P0 + P1, Q0 + Q1); t_of_u(u, *args) or None.
    """

    rate: Fn
    coef: Fn
    k: int
    t_of_u: Fn | None
    monotone_rtol: float = MONOTONE_RTOL

    def values(self, ts: NDArray, m: Mode) -> NDArray:
        """u at sorted times ts >= 0."""
        args = m.args()
        rate = float(self.rate(*args))
        P0, P1, Q0, Q1, Ps, Qs = (float(x) for x in np.ravel(self.coef(m.lam * m.u0 / m.s, *args)))
        with np.errstate(over="ignore"):   # rate·t = inf for huge t: e^{−inf} = 0, u = s/λ
            x = rate * ts
        return m.s / m.lam * mobius_power(x, P0, P1, Q0, Q1, self.k, Ps, Qs)


@dataclass(frozen=True)
class InverseEvaluator:
    """Implicit t̃ = G(w) − G(w0), t̃ = rate·t, inverted by `invert_time`.

    G(w, *args), slope(w, *args) = dw/dt̃; with k > 1 they are G_v, slope_v in v = w^{1/k}.
    """

    rate: Fn
    G: Fn
    slope: Fn
    k: int
    t_of_u: Fn | None
    monotone_rtol: float = MONOTONE_RTOL

    def values(self, ts: NDArray, m: Mode) -> NDArray:
        """u at sorted times ts >= 0."""
        args = m.args()
        root = _root(self.k)
        G = lambda w: self.G(root(w), *args)             # noqa: E731
        slope = lambda w: self.slope(root(w), *args)     # noqa: E731
        rate = float(self.rate(*args))
        return m.s / m.lam * invert_time(G, slope, m.lam * m.u0 / m.s, rate * ts)


@dataclass(frozen=True)
class QuadratureEvaluator:
    """The reduced ODE τ ẋ = xdot(x), u = u_of_x(x); one (xdot, u_of_x) per reference layer.

    `layered`: x is a layer gain (unbalanced; the smallest initial gain is used), else x = u.
    """

    xdot: tuple[Fn, ...]
    u_of_x: tuple[Fn, ...]
    layered: bool
    t_of_u: Fn | None = None
    monotone_rtol: float = QUADRATURE_MONOTONE_RTOL

    def reference(self, m: Mode) -> tuple[int, float]:
        """(plan index, x(0)): the layer with the smallest initial gain, or u itself."""
        if self.layered and m.gains is not None:
            r = int(np.argmin(m.gains))
            return r, float(m.gains[r])
        return 0, float(m.u0)

    def values(self, ts: NDArray, m: Mode) -> NDArray:
        """u at sorted times ts >= 0."""
        args = m.args()
        r, x0 = self.reference(m)
        x = integrate_reduced(lambda x: float(self.xdot[r](x, *args)), x0, ts, tau=m.tau)
        return np.asarray(self.u_of_x[r](x, *args), dtype=float) * np.ones_like(x)


Evaluator = MobiusEvaluator | InverseEvaluator | QuadratureEvaluator


def evaluate_modes(evaluator: Evaluator, t: NDArray, modes: Sequence[Mode]) -> NDArray:
    """u(t) for each mode: shape (modes, t.size); exact at t = 0, monotone in t (rounding guard).

    Args:
        evaluator: one of the evaluators above.
        t: times >= 0 (flat, any order).
        modes: the modes' numbers.
    """
    # === check arguments
    flat = np.ravel(t)
    is_sorted = flat.size < 2 or bool(np.all(flat[1:] >= flat[:-1]))
    order = None if is_sorted else np.argsort(flat, kind="stable")
    ts = flat if order is None else flat[order]
    out = np.empty((len(modes), ts.size))
    for i, m in enumerate(modes):
        u = evaluator.values(ts, m)
        u = np.where(ts == 0.0, m.u0, u)          # exact at t = 0 (no w ↔ u rounding)
        out[i] = monotone(u, increasing=m.lam * m.u0 / m.s <= 1.0, rtol=evaluator.monotone_rtol)
    if order is None:
        return out
    res = np.empty_like(out)
    res[:, order] = out
    return res


def time_to(evaluator: Evaluator, u_to: float, m: Mode) -> float:
    """Time for mode m to go from u0 to u_to: the closed t(u) when there is one, else the quadrature."""
    # === check arguments
    if evaluator.t_of_u is not None:
        return float(evaluator.t_of_u(u_to, *m.args()))
    if not isinstance(evaluator, QuadratureEvaluator):
        raise TypeError(f"no t(u) for {type(evaluator).__name__}")
    args = m.args()
    r, x0 = evaluator.reference(m)
    return reduced_time(lambda x: float(evaluator.xdot[r](x, *args)),
                        lambda x: float(evaluator.u_of_x[r](x, *args)), x0, u_to, tau=m.tau)


# ------------------------------------------------------------------ mpmath

@dataclass(frozen=True)
class ExplicitMp:
    """u(t, *args) in mpmath."""

    u: Fn

    def value(self, t: Any, m: Mode, dps: int) -> Any:
        """u(t) at the working precision."""
        return +self.u(t, *m.args())


@dataclass(frozen=True)
class ImplicitMp:
    """t(u, *args) and the mode ODE's f(u, *args): u found by bisection on t(u), then Newton."""

    T: Fn
    f: Fn

    def value(self, t: Any, m: Mode, dps: int) -> Any:
        """The root of t(u) = t, seeded independently of the double-precision evaluator."""
        args = m.args()
        fixed = m.s / m.lam
        if m.u0 == fixed:
            return +m.u0
        T = lambda u: self.T(u, *args)                   # noqa: E731
        guess = bisect_time_mp(T, t, m.u0, fixed, dps=dps)
        return newton_refine_mp(T, lambda u: m.tau / self.f(u, *args), t, guess, dps=dps, fixed=fixed, start=m.u0)


@dataclass(frozen=True)
class QuadratureMp:
    """The reduced ODE in mpmath (Taylor-series integrator `mpmath.odefun`); x = a_1 or u."""

    xdot: Fn
    u_of_x: Fn
    layered: bool

    def value(self, t: Any, m: Mode, dps: int) -> Any:
        """u(t) from the reduced ODE integrated at `dps` digits."""
        args = m.args()
        x0 = m.gains[0] if self.layered and m.gains is not None else m.u0
        xt = integrate_mode_mp(lambda x: self.xdot(x, *args), x0, [t], tau=m.tau, dps=dps)[0]
        return +self.u_of_x(xt, *args)


def _mp(x: Any) -> Any:
    """An exact mpmath number: ints, decimal strings and floats as given, mpf unchanged."""
    if isinstance(x, mpmath.mpf):
        return x
    if isinstance(x, (int, np.integer)):
        return mpmath.mpf(int(x))
    return mpmath.mpf(x)


def value_mp(evaluator: ExplicitMp | ImplicitMp | QuadratureMp, t: Any, m: Mode, dps: int = 30) -> Any:
    """u(t) of one mode at `dps` digits; numbers (and decimal strings) in `m` are read at that precision.

    >>> import mpmath
    >>> f = ExplicitMp(u=lambda t, s, lam, tau, u0: s - (s - u0) * mpmath.exp(-t / tau))
    >>> mpmath.nstr(value_mp(f, "1", Mode(s=1, lam=1, tau=1, u0="0.5"), dps=20), 15)
    '0.816060279414279'
    """
    # === check arguments
    with mpmath.workdps(dps + 10):
        gains = None if m.gains is None else tuple(_mp(a) for a in m.gains)
        u0 = mpmath.fprod(gains) if gains is not None else _mp(m.u0)
        mm = Mode(s=_mp(m.s), lam=_mp(m.lam), tau=_mp(m.tau), u0=u0, gains=gains,
                  free=tuple(_mp(x) for x in m.free), depth=m.depth)
        return evaluator.value(_mp(t), mm, dps)
