"""Numeric evaluation of a derived mode solution (numpy/scipy/mpmath, never sympy).

`lindyn.trajectory` lambdifies the derived expressions and hands plain callables to one of the
evaluators below, one per solution form. Every callable takes its variable first, then the mode's
arguments in one fixed order, `Mode.args()`: (s, λ, τ, u0, a_1(0), …, a_L(0), free parameters…).

* `MobiusEvaluator` (explicit u(t)): w = ((P0 + P1 E)/(Q0 + Q1 E))^k, E = e^{−rate·t}, summed stably;
* `PowerEvaluator` (τu̇ = c u^g (s − λu), implicit): t̃ = D(w, w0), the ₂F₁ form of G(w) − G(w0)
  with nothing to cancel (`lindyn.symbolic.solve.universal_difference`), solved for w by bracketed
  Newton; it also gives t(u) of every power-law mode (learning times), explicit ones included;
* `InverseEvaluator` (other implicit t(u)): t̃ = G(w) − G(w0) solved for w by bracketed Newton;
* `QuadratureEvaluator` (exact integral): the reduced ODE τ ẋ = ẋ(x) integrated by DOP853, with the
  layer of smallest initial gain as x (no cancellation in the conserved curves);

and for 30+ digits `ExplicitMp`, `ImplicitMp`, `QuadratureMp` (the mpmath callables of the same
derivation). `evaluate_modes` and `value_mp` run them; both return u, never NaN. `condition_modes`
gives the condition number κ(t) = |t u̇/u| of each value (see there).

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
from .stable import (MONOTONE_RTOL, QUADRATURE_MONOTONE_RTOL, hyp2f1_1b, integrate_reduced, invert_time,
                     mobius_power, monotone, reduced_time, solve_time_mp)

__all__ = ["Mode", "MobiusEvaluator", "PowerEvaluator", "InverseEvaluator", "QuadratureEvaluator", "ExplicitMp",
           "ImplicitMp", "QuadratureMp", "evaluate_modes", "condition_modes", "time_to", "value_mp",
           "NUMPY_FUNCTIONS", "MPMATH_FUNCTIONS"]

Fn = Callable[..., Any]


def _mp_hyp2f1_1b(b: Any, z: Any, zc: Any = None) -> Any:
    if zc is not None and 0 < zc < 0.5:
        # z = 1 − zc to the digits of zc: as many extra bits as zc has leading zeros
        with mpmath.extraprec(int(-mpmath.log(zc, 2)) + 10):
            return +mpmath.hyp2f1(1, b, b + 1, 1 - zc)
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


def _log_rate(f: Fn | None, u: NDArray, m: Mode) -> NDArray:
    """d ln u/dt = f(u)/(τ u) from the mode ODE τ u̇ = f(u, *args)."""
    if f is None:
        raise TypeError("no mode ODE f(u) for this evaluator")
    with np.errstate(all="ignore"):
        return np.asarray(f(u, *m.args()), dtype=float) / (m.tau * u)


@dataclass(frozen=True)
class PowerEvaluator:
    """τ u̇ = c u^g (s − λu): t̃ = κ t = D(w, w0), w = λu/s, inverted by `invert_time` in w.

    rate(*args) = κ; g(*args); below(w, w0, wc, wc0, *args), above(...): D for w0 < 1 and w0 > 1
    (`universal_difference`: the ₂F₁ series with the n = 0 terms merged, no O(1) constants to
    cancel near w = 0; wc = |1 − w| = |s − λu|/s passed exactly near w = 1); f(u, *args) = τ u̇.
    """

    rate: Fn
    g: Fn
    below: Fn
    above: Fn
    f: Fn | None = None
    t_of_u: Fn | None = None
    monotone_rtol: float = MONOTONE_RTOL

    def difference(self, m: Mode) -> tuple[float, Callable[..., NDArray]]:
        """(w0, D): D(w, wc) = t̃ from w0 to w, wc = |1 − w| (default: from w, exact at the η nodes)."""
        args = m.args()
        w0 = m.lam * m.u0 / m.s
        wc0 = abs(m.s - m.lam * m.u0) / m.s            # s − λu0 is exact near u* (Sterbenz)
        D = self.below if w0 < 1.0 else self.above

        def at(w: Any, wc: Any = None) -> NDArray:
            return D(w, w0, np.abs(1.0 - w) if wc is None else wc, wc0, *args)
        return w0, at

    def values(self, ts: NDArray, m: Mode) -> NDArray:
        """u at sorted times ts >= 0."""
        args = m.args()
        g = float(self.g(*args))
        w0, D = self.difference(m)
        rate = float(self.rate(*args))
        return m.s / m.lam * invert_time(D, lambda w: w ** g * (1.0 - w), w0, rate * ts)

    def time(self, u_to: float, m: Mode) -> float:
        """t(u0 → u_to) = D(λu_to/s, λu0/s)/κ."""
        if u_to == m.u0:
            return 0.0
        w0, D = self.difference(m)
        w, wc = m.lam * u_to / m.s, abs(m.s - m.lam * u_to) / m.s
        with np.errstate(all="ignore"):
            return float(np.asarray(D(np.asarray(w), np.asarray(wc)))) / float(self.rate(*m.args()))

    def log_rate(self, ts: NDArray, u: NDArray, m: Mode) -> NDArray:
        """d ln u/dt at the values u."""
        return _log_rate(self.f, u, m)


@dataclass(frozen=True)
class MobiusEvaluator:
    """Explicit u(t) = (s/λ) w, w = ((P0 + P1 E)/(Q0 + Q1 E))^k, E = e^{−rate·t}.

    rate(*args); coef(w0, *args) -> (P0, P1, Q0, Q1, P0 + P1, Q0 + Q1); t_of_u(u, *args) or None;
    power: the `PowerEvaluator` of the same mode (learning times: accurate up to u*); f = τ u̇.
    """

    rate: Fn
    coef: Fn
    k: int
    t_of_u: Fn | None
    monotone_rtol: float = MONOTONE_RTOL
    power: PowerEvaluator | None = None
    f: Fn | None = None

    def log_rate(self, ts: NDArray, u: NDArray, m: Mode) -> NDArray:
        """d ln u/dt at the values u."""
        return _log_rate(self.f, u, m)

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
    f: Fn | None = None

    def log_rate(self, ts: NDArray, u: NDArray, m: Mode) -> NDArray:
        """d ln u/dt at the values u."""
        return _log_rate(self.f, u, m)

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
    du_dx: tuple[Fn, ...] = ()

    def log_rate(self, ts: NDArray, u: NDArray, m: Mode) -> NDArray:
        """d ln u/dt = (du/dx) ẋ/u along the reduced ODE (integrated again for x(t))."""
        args = m.args()
        r, x0 = self.reference(m)
        x = integrate_reduced(lambda x: float(self.xdot[r](x, *args)), x0, ts, tau=m.tau)
        with np.errstate(all="ignore"):
            xdot = np.array([float(self.xdot[r](xi, *args)) for xi in np.ravel(x)]).reshape(np.shape(x))
            return np.asarray(self.du_dx[r](x, *args), dtype=float) * xdot / (m.tau * u)

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


Evaluator = MobiusEvaluator | PowerEvaluator | InverseEvaluator | QuadratureEvaluator


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


#: Half-width of the window of `condition_modes`' finite difference: 64 ulps of t.
CONDITION_WINDOW = 2.0 ** -46


def condition_modes(evaluator: Evaluator, t: NDArray, modes: Sequence[Mode]) -> tuple[NDArray, NDArray]:
    """(u, κ): the values u(t) and their condition numbers κ(t) = |t u̇/u| = |d ln u/d ln t|, each (modes, t.size).

    κ is the relative change of u per relative change of t: a double t is itself uncertain by
    ε = 2.2e-16 relative, so no double-precision evaluation resolves u better than about κ·ε relative.
    It is |t u̇/u| at the computed u, with u̇ from the mode ODE τ u̇ = f(u) (closed forms) or from the
    reduced ODE along the conserved curves (quadratures, integrated again for x(t)), unless the
    finite difference κ_fd = |ln u(t(1 + δ)) − ln u(t(1 − δ))|/(2δ) over δ = 2^−46 (64 ulps of t)
    exceeds 2κ + 1 (its rounding noise is ~0.05): inside a transition narrower than the evaluation's
    own time error (s = 1e6, u0 = 1e-12, L = 50: width ~1e-17 relative) the computed u may sit on
    either plateau, where the slope is flat, and κ_fd (~1e15 there) is then reported, a lower bound.

    Args:
        evaluator: one of the evaluators above.
        t: times >= 0 (flat, any order).
        modes: the modes' numbers.

    >>> logistic = MobiusEvaluator(rate=lambda *a: 2.0 * a[0], k=1, t_of_u=None,   # τu̇ = 2u(s − u), Saxe Eq. 12
    ...     coef=lambda w0, *a: (w0, 0.0, w0, 1.0 - w0, w0, 1.0), f=lambda u, s, lam, tau, u0: 2 * u * (s - lam * u))
    >>> u, kappa = condition_modes(logistic, np.array([1.0]), [Mode(s=1.0, lam=1.0, tau=1.0, u0=0.5)])
    >>> round(float(kappa[0, 0]), 6), round(float(2 * 1.0 * (1 - u[0, 0])), 6)       # κ = 2t(s − u)
    (0.238406, 0.238406)
    """
    # === check arguments
    flat = np.ravel(t)
    n = flat.size
    both = evaluate_modes(evaluator, np.concatenate([flat, flat * (1.0 - CONDITION_WINDOW),
                                                     flat * (1.0 + CONDITION_WINDOW)]), modes)
    u, lo, hi = both[:, :n], both[:, n:2 * n], both[:, 2 * n:]
    kappa = np.empty((len(modes), n))
    with np.errstate(all="ignore"):
        for i, m in enumerate(modes):
            slope = np.abs(flat * evaluator.log_rate(flat, u[i], m))
            fd = np.abs(np.log(hi[i] / lo[i])) / (2.0 * CONDITION_WINDOW)
            slope, fd = np.nan_to_num(slope, nan=0.0), np.nan_to_num(fd, nan=0.0)
            kappa[i] = np.where(fd > 2.0 * slope + 1.0, fd, slope)
    kappa[:, flat == 0.0] = 0.0
    return u, kappa


def time_to(evaluator: Evaluator, u_to: float, m: Mode) -> float:
    """Time for mode m to go from u0 to u_to: t(u) of a power-law mode by its ₂F₁ difference form
    (accurate near u = 0 and up to the last float before u*), else the closed t(u) when there is
    one, else the quadrature."""
    # === check arguments
    power = evaluator if isinstance(evaluator, PowerEvaluator) else getattr(evaluator, "power", None)
    if power is not None:
        return power.time(u_to, m)
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
    """t(u, *args) and the mode ODE's f(u, *args): the root of t(u) = t by `solve_time_mp`."""

    T: Fn
    f: Fn

    def value(self, t: Any, m: Mode, dps: int) -> Any:
        """The root of t(u) = t (bracketed Newton in the path variable η, digits raised where t(u)
        cancels), independent of the double-precision evaluator."""
        args = m.args()
        with mpmath.workdps(dps + 10 + INPUT_EXTRA_DIGITS):       # u* to the digits of the inputs
            fixed = m.s / m.lam
        if m.u0 == fixed:
            return +m.u0
        return solve_time_mp(lambda u: self.T(u, *args), lambda u: m.tau / self.f(u, *args), t, m.u0, fixed, dps=dps)


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


#: Digits at which `value_mp` reads decimal strings, beyond dps: an ill-conditioned solve raises its
#: working precision (`solve_time_mp`), and the inputs must carry those digits.
INPUT_EXTRA_DIGITS = 100


def value_mp(evaluator: ExplicitMp | ImplicitMp | QuadratureMp, t: Any, m: Mode, dps: int = 30) -> Any:
    """u(t) of one mode at `dps` digits; numbers in `m` (and decimal strings) are read exactly
    (strings to dps + INPUT_EXTRA_DIGITS digits), the result rounded to dps + 10.

    >>> import mpmath
    >>> f = ExplicitMp(u=lambda t, s, lam, tau, u0: s - (s - u0) * mpmath.exp(-t / tau))
    >>> mpmath.nstr(value_mp(f, "1", Mode(s=1, lam=1, tau=1, u0="0.5"), dps=20), 15)
    '0.816060279414279'
    """
    # === check arguments
    with mpmath.workdps(dps + 10 + INPUT_EXTRA_DIGITS):
        gains = None if m.gains is None else tuple(_mp(a) for a in m.gains)
        u0 = mpmath.fprod(gains) if gains is not None else _mp(m.u0)
        mm = Mode(s=_mp(m.s), lam=_mp(m.lam), tau=_mp(m.tau), u0=u0, gains=gains,
                  free=tuple(_mp(x) for x in m.free), depth=m.depth)
        t_mp = _mp(t)
    with mpmath.workdps(dps + 10):
        return +evaluator.value(t_mp, mm, dps)
