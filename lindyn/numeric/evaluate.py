"""Numeric evaluation of a derived mode solution (numpy/scipy/mpmath, never sympy).

`lindyn.trajectory` lambdifies the derived expressions and hands plain callables to one of the
evaluators below, one per solution form. Every callable takes its variable first, then the mode's
arguments in one fixed order, `Mode.args()`: (s, λ, τ, u0, a_1(0), …, a_L(0), free parameters…).

* `MobiusEvaluator` (explicit u(t)): w = ((P0 + P1 E)/(Q0 + Q1 E))^k, E = e^{−rate·t}, summed
  without cancellation, straight numpy over all modes and times;
* `PowerEvaluator` (τu̇ = c u^g (s − λu), implicit): u = (s/λ) w(Γ + κt) on the universal flow of
  dw/dτ = w^g (1 − w) (`stable.PowerFlow`): modes with the same g share one table, each mode is a
  start Γ = τ(w0) and a rate κ (both long double), so all modes and times are one vectorised pass;
  the ₂F₁ difference form D(w, w0) (`lindyn.symbolic.solve.universal_difference`) gives t(u) of
  every power-law mode (learning times), explicit ones included;
* `InverseEvaluator` (other implicit t(u)): t̃ = G(w) − G(w0) solved for w by bracketed Newton;
* `QuadratureEvaluator` (exact integral): the reduced ODE τ ẋ = ẋ(x) integrated by DOP853, with the
  layer of smallest initial gain as x (no cancellation in the conserved curves), then one Newton
  step on the exact t(x) (`stable.refine_reduced`);

and for 30+ digits `ExplicitMp`, `ImplicitMp`, `QuadratureMp` (the mpmath callables of the same
derivation). `evaluate_modes` and `value_mp` run them; both return u, never NaN. Modes are passed as
a sequence of `Mode` or as `Modes` (arrays, one entry per mode). `evaluate_bounded` also returns a
bound of the condition number over each power-law mode's whole path; `condition_modes` gives the
condition number κ(t) = |t u̇/u| of each value (see there).

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

from .._checks import IntegrationFailed
from .mode_ode import integrate_mode_mp
from .stable import (FLOW_BLOCK, LONG, MONOTONE_RTOL, QUADRATURE_MONOTONE_RTOL, PowerFlow, fixed_point_reduced,
                     hyp2f1_1b, integrate_reduced, invert_time, monotone, power_flow, reduced_time, refine_reduced,
                     solve_time_mp)

__all__ = ["Mode", "Modes", "MobiusEvaluator", "PowerEvaluator", "InverseEvaluator", "QuadratureEvaluator", "ExplicitMp",
           "ImplicitMp", "QuadratureMp", "evaluate_modes", "evaluate_bounded", "condition_modes", "time_to", "value_mp",
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


@dataclass(frozen=True)
class Modes:
    """Several modes' numbers as arrays, one entry per mode: the vectorised `Mode`.

    s, lam, tau, u0 have shape (modes,); gains (modes, L) for unbalanced modes; `free` holds the
    values of free parameters shared by all modes.

    >>> ms = Modes.of([Mode(s=2.0, lam=1.0, tau=1.0, u0=0.01), Mode(s=1.0, lam=1.0, tau=1.0, u0=0.5)])
    >>> len(ms), ms.s.tolist(), ms.mode(1) == Mode(s=1.0, lam=1.0, tau=1.0, u0=0.5)
    (2, [2.0, 1.0], True)
    """

    s: NDArray
    lam: NDArray
    tau: NDArray
    u0: NDArray
    gains: NDArray | None = None
    free: tuple[Any, ...] = ()
    depth: int = 0

    def __len__(self) -> int:
        return int(self.s.size)

    def args(self) -> tuple[Any, ...]:
        """The arrays in `Mode.args()` order (gains column by column)."""
        gains = [self.gains[:, i] for i in range(self.gains.shape[1])] if self.gains is not None \
            else [self.u0] * self.depth
        return (self.s, self.lam, self.tau, self.u0, *gains, *self.free)

    def mode(self, i: int) -> Mode:
        """Mode i as a `Mode` of Python floats."""
        gains = None if self.gains is None else tuple(float(a) for a in self.gains[i])
        return Mode(s=float(self.s[i]), lam=float(self.lam[i]), tau=float(self.tau[i]), u0=float(self.u0[i]),
                    gains=gains, free=self.free, depth=self.depth)

    def take(self, rows: NDArray) -> "Modes":
        """The modes at index array `rows`."""
        return Modes(s=self.s[rows], lam=self.lam[rows], tau=self.tau[rows], u0=self.u0[rows],
                     gains=None if self.gains is None else self.gains[rows], free=self.free, depth=self.depth)

    @classmethod
    def of(cls, modes: "Sequence[Mode] | Modes") -> "Modes":
        """`Modes` from a sequence of `Mode` (sharing free values and depth), or unchanged."""
        if isinstance(modes, Modes):
            return modes
        ms = list(modes)
        if not ms:
            empty = np.empty(0)
            return cls(s=empty, lam=empty, tau=empty, u0=empty)
        gains = None if ms[0].gains is None else np.array([[float(a) for a in m.gains] for m in ms])
        return cls(s=np.array([float(m.s) for m in ms]), lam=np.array([float(m.lam) for m in ms]),
                   tau=np.array([float(m.tau) for m in ms]), u0=np.array([float(m.u0) for m in ms]), gains=gains,
                   free=ms[0].free, depth=ms[0].depth)


def _mode_list(modes: "Sequence[Mode] | Modes") -> list[Mode]:
    return [modes.mode(i) for i in range(len(modes))] if isinstance(modes, Modes) else list(modes)


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


def _long_args(modes: Modes) -> tuple[Any, ...]:
    """`Modes.args()` in long double (free parameter values included)."""
    return tuple(np.asarray(a, dtype=LONG) for a in modes.args())


@dataclass(frozen=True)
class _Orbit:
    """Where modes sit on the universal flow of their branch: τ(t) = tau_ref + rate (t − t_ref)."""

    rows: NDArray            # the modes (indices) on this orbit
    flow: PowerFlow
    rate: NDArray            # κ (double)
    t_ref: NDArray           # a time near the transition (0 from a finite end or past w = 1/2)
    tau_ref: NDArray         # τ(t_ref), computed in long double: |τ_ref| ~ rate·ulp(t_ref)
    gamma: NDArray           # Γ = τ(w0) (double, for the κ bound)
    eta_lo: float            # lowest η0 of the modes (sizes the table)


def _orbits(rate: NDArray, g: Any, modes: Modes) -> tuple[list[_Orbit], NDArray]:
    """The orbits of power-law modes with κ = rate, exponent g (long double, one for all modes or one
    per mode); and the rows at their fixed point (w0 = 1).

    w0 = λu0/s and |1 − w0| = |s − λu0|/s, Γ = τ(w0), κ and the reference point are long double:
    t̃ = κt and Γ are ~10²-10³ at a typical transition and cancel there, so each must carry ~3
    digits more than double for u to be right to 1-2 ulp (what THEORY.md calls the exact float t).
    """
    s, lam, u0 = (np.asarray(x, dtype=LONG) for x in (modes.s, modes.lam, modes.u0))
    w0 = lam * u0 / s
    wc0 = np.abs(s - lam * u0) / s
    fixed = wc0 == 0
    orbits = []
    for growth in (True, False):
        branch = (w0 < 1) if growth else (w0 > 1)
        branch &= ~fixed
        if not np.any(branch):
            continue
        for gv in ([g] if np.ndim(g) == 0 else np.unique(g[branch])):
            rows = np.flatnonzero(branch if np.ndim(g) == 0 else branch & (g == gv))
            flow = power_flow(gv, growth)
            gam = flow.time(w0[rows], wc0[rows])
            eta0 = flow.eta_of(w0[rows], wc0[rows])
            r = rate[rows]
            if flow.kind == "end":
                t_ref = np.zeros(rows.size)
                tau_ref = gam
            else:
                with np.errstate(all="ignore"):
                    t_ref = np.where(gam < 0, (-gam / r).astype(float), 0.0)
                tau_ref = r * t_ref.astype(LONG) + gam
            orbits.append(_Orbit(rows=rows, flow=flow, rate=r.astype(float), t_ref=t_ref,
                                 tau_ref=tau_ref.astype(float), gamma=gam.astype(float),
                                 eta_lo=float(np.min(eta0))))
    return orbits, np.flatnonzero(fixed)


@dataclass(frozen=True)
class PowerEvaluator:
    """τ u̇ = c u^g (s − λu): u = (s/λ) w(Γ + κt) on the universal flow of dw/dτ = w^g (1 − w).

    rate(*args) = κ = c s^g λ^{1−g}/τ; g(*args); below(w, w0, wc, wc0, *args), above(...): the ₂F₁
    difference form D(w, w0) of the time (`universal_difference`; learning times, and u(t) when the
    long-double callables are absent); f(u, *args) = τ u̇; rate_long, g_long: κ and g computed in long
    double from long-double arguments (constants exact to its digits). With them, u(t) of all modes is
    one vectorised pass: modes with the same g share the table of `stable.PowerFlow`, each mode
    being a start Γ = τ(w0) and a rate κ on it.
    """

    rate: Fn
    g: Fn
    below: Fn
    above: Fn
    f: Fn | None = None
    t_of_u: Fn | None = None
    monotone_rtol: float = MONOTONE_RTOL
    rate_long: Fn | None = None
    g_long: Fn | None = None

    def difference(self, m: Mode) -> tuple[float, Callable[..., NDArray]]:
        """(w0, D): D(w, wc) = t̃ from w0 to w, wc = |1 − w| (default: from w, exact at the η nodes)."""
        args = m.args()
        w0 = m.lam * m.u0 / m.s
        wc0 = abs(m.s - m.lam * m.u0) / m.s            # s − λu0 is exact near u* (Sterbenz)
        D = self.below if w0 < 1.0 else self.above

        def at(w: Any, wc: Any = None) -> NDArray:
            return D(w, w0, np.abs(1.0 - w) if wc is None else wc, wc0, *args)
        return w0, at

    def orbits(self, modes: Modes) -> tuple[list[_Orbit], NDArray]:
        """The modes' places on the universal flows (see `_orbits`) and their fixed-point rows."""
        if self.rate_long is None or self.g_long is None:
            raise TypeError("no long-double rate and g for this evaluator")
        args = _long_args(modes)
        with np.errstate(all="ignore"):
            rate = np.broadcast_to(np.asarray(self.rate_long(*args), dtype=LONG), modes.s.shape)
            g = np.asarray(self.g_long(*args), dtype=LONG)          # one exponent (0-d) or one per mode
        return _orbits(rate, g if g.ndim == 0 else np.broadcast_to(g, modes.s.shape), modes)

    def kappa_bounds(self, modes: Modes) -> NDArray | None:
        """An upper bound of κ(t) = |t u̇/u| over each mode's whole path (`PowerFlow.kappa_bound`; 0 at
        the fixed point), from the start Γ = τ(w0) alone; None without the long-double callables."""
        if self.g_long is None:
            return None
        with np.errstate(all="ignore"):
            g = np.asarray(self.g_long(*_long_args(modes)), dtype=LONG)
        s, lam, u0 = (np.asarray(x, dtype=LONG) for x in (modes.s, modes.lam, modes.u0))
        w0 = lam * u0 / s
        wc0 = np.abs(s - lam * u0) / s
        out = np.zeros(len(modes))
        for growth in (True, False):
            branch = ((w0 < 1) if growth else (w0 > 1)) & (wc0 != 0)
            if not np.any(branch):
                continue
            for gv in ([g] if g.ndim == 0 else np.unique(g[branch])):
                rows = np.flatnonzero(branch if g.ndim == 0 else branch & (g == gv))
                flow = power_flow(gv, growth)
                if flow.kind == "end":                      # the bound does not depend on the start
                    gamma = np.zeros(rows.size)
                elif flow.kind == "lin":                    # τ = η (growth, g = 1), η − ln 2 (decay, g = 0)
                    gamma = (flow.eta_of(w0[rows], wc0[rows]) - (0 if growth else np.log(LONG(2)))).astype(float)
                else:
                    gamma = flow.time(w0[rows], wc0[rows]).astype(float)
                out[rows] = flow.kappa_bound(gamma)
        return out

    def values_modes(self, ts: NDArray, modes: Modes) -> tuple[NDArray, NDArray]:
        """(u, κ bound): u at times ts >= 0 (any order) for every mode, shape (modes, ts.size), in one
        pass per orbit (no loop over modes); κ bound: an upper bound of κ(t) = |t u̇/u| over each
        mode's whole path (`PowerFlow.kappa_bound`)."""
        out = np.empty((len(modes), ts.size))
        bound = np.zeros(len(modes))
        orbits, fixed = self.orbits(modes)
        S = modes.s / modes.lam
        for o in orbits:
            ok = np.isfinite(o.t_ref) & np.isfinite(o.tau_ref) & np.isfinite(o.rate) & (o.rate > 0)
            try:
                o.flow.table(o.eta_lo)
            except IntegrationFailed:        # a start beyond the double range of the table
                ok[:] = False
            if not ok.all():                 # such starts (or rates) take the ₂F₁ route, κ per value
                for i in o.rows[~ok]:
                    out[i] = self._values_inverse(ts, modes.mode(int(i)))
                bound[o.rows[~ok]] = np.inf
                if not ok.any():
                    continue
                o = _Orbit(rows=o.rows[ok], flow=o.flow, rate=o.rate[ok], t_ref=o.t_ref[ok], tau_ref=o.tau_ref[ok],
                           gamma=o.gamma[ok], eta_lo=o.eta_lo)
            t_ref, rate, tau_ref = o.t_ref[:, None], o.rate[:, None], o.tau_ref[:, None]
            Sr = S[o.rows, None]
            every = o.rows.size == len(modes)
            step = max(1, FLOW_BLOCK // o.rows.size)     # blocks of columns that stay in cache
            for a in range(0, ts.size, step):
                tau = ts[None, a:a + step] - t_ref        # τ = τ_ref + κ (t − t_ref)
                with np.errstate(over="ignore"):          # κt = inf for huge t: clipped to the table end
                    tau *= rate
                tau += tau_ref
                e = o.flow.excess(tau, o.eta_lo)
                if o.flow.growth:            # u = (s/λ)/(1 + e^{−η})
                    e += 1.0
                    np.divide(Sr, e, out=e)
                else:                        # u = (s/λ)(1 + e^{−η})
                    e *= Sr
                    e += Sr
                if every:
                    out[:, a:a + step] = e
                else:
                    out[o.rows, a:a + step] = e
            bound[o.rows] = o.flow.kappa_bound(o.gamma)
        out[fixed] = modes.u0[fixed, None]
        return out, bound

    def values(self, ts: NDArray, m: Mode) -> NDArray:
        """u at sorted times ts >= 0 (the flow when the long-double callables are there, else the ₂F₁
        form inverted by `invert_time`)."""
        if self.rate_long is not None and self.g_long is not None:
            return self.values_modes(np.asarray(ts, dtype=float), Modes.of([m]))[0][0]
        return self._values_inverse(ts, m)

    def _values_inverse(self, ts: NDArray, m: Mode) -> NDArray:
        """u at times ts by the ₂F₁ difference form inverted with `invert_time` (double precision)."""
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

    rate(*args); coef(w0, *args) -> (P0, P1, Q0, Q1, P0 + P1, Q0 + Q1) (entries broadcast over modes);
    t_of_u(u, *args) or None; power: the `PowerEvaluator` of the same mode (learning times, and the
    κ bound of `values_modes`); f = τ u̇.
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
        return self.values_modes(np.asarray(ts, dtype=float), Modes.of([m]), bound=False)[0][0]

    def values_modes(self, ts: NDArray, modes: Modes, bound: bool = True) -> tuple[NDArray, NDArray | None]:
        """(u, κ bound or None): u at times ts for every mode, shape (modes, ts.size), straight numpy.

        Each of c0 + c1 E (numerator, denominator) is summed without cancellation: as is when c0, c1
        share a sign; otherwise (c0 + c1) + c1 expm1(−rate·t) where rate·t < 1/2 (E near 1, where
        c0 + c1 E would cancel) and c0 + c1 E beyond (there |c0 + c1 E| >= 0.39 |c0|, as |c1| <= |c0|
        on a path that never crosses 0). A constant numerator or denominator is folded into one
        scale, so the logistic costs an exp, a multiply-add and a divide per value, as its bare
        formula does. Blocks of FLOW_BLOCK values keep the temporaries in cache.
        """
        args = modes.args()
        M = len(modes)
        with np.errstate(all="ignore"):
            rate = _per_mode(self.rate(*args), M)
            P0, P1, Q0, Q1, Ps, Qs = (_per_mode(v, M) for v in _entries(self.coef(modes.lam * modes.u0 / modes.s,
                                                                                  *args)))
            # one pass per pattern of signs and constant parts (usually one pattern for all modes)
            keys = (P0 * P1 >= 0) * 8 + (Q0 * Q1 >= 0) * 4 + (P1 == 0) * 2 + (Q1 == 0)
        S = modes.s / modes.lam
        out = np.empty((M, ts.size))
        for key in ([keys[0]] if keys.min() == keys.max() else np.unique(keys)):
            rows = np.flatnonzero(keys == key) if len(keys) > 1 else np.zeros(1, np.intp)
            ps, qs, pc, qc = bool(key & 8), bool(key & 4), bool(key & 2), bool(key & 1)
            col = (lambda a: a[:, None]) if rows.size == M else (lambda a: a[rows, None])
            if self.k == 1 and qc:              # u = (S/Q0)(P0 + P1 E): the scale folded into P
                sc = S / Q0
                form = ("num", col(P0 * sc), col(P1 * sc), col(Ps * sc), ps)
            elif self.k == 1 and pc:            # u = (S P0)/(Q0 + Q1 E)
                form = ("den", col(Q0), col(Q1), col(Qs), qs, col(S * P0))
            else:
                form = ("both",)
            mrate = col(-rate)
            every = rows.size == M
            step = max(1, MOBIUS_BLOCK // rows.size)
            for a in range(0, ts.size, step):
                # x = −rate·t <= 0, written straight into the output block when it is one (−inf for
                # rate·t beyond the double range: E = 0, u at the fixed point)
                with np.errstate(over="ignore"):
                    v = np.multiply(mrate, ts[None, a:a + step], out=out[:, a:a + step] if every else None)
                if form[0] == "both":
                    np.multiply(self._both(v, rows, P0, P1, Ps, Q0, Q1, Qs, ps, qs, pc, qc), col(S), out=v)
                else:
                    c0, c1, tot, same = form[1:5]
                    _affine(c0, c1, tot, v, same)
                    if form[0] == "den":
                        np.divide(form[5], v, out=v)
                if not every:
                    out[rows, a:a + step] = v
        kb = self.power.kappa_bounds(modes) if bound and self.power is not None else None
        return out, kb

    def _both(self, x: NDArray, rows: NDArray, P0: NDArray, P1: NDArray, Ps: NDArray, Q0: NDArray, Q1: NDArray,
              Qs: NDArray, ps: bool, qs: bool, pc: bool, qc: bool) -> NDArray:
        """((P0 + P1 E)/(Q0 + Q1 E))^k on one block (general Möbius form; E computed once)."""
        col = (lambda a: a[:, None]) if rows.size == P0.size else (lambda a: a[rows, None])
        E = np.exp(x)
        num = _affine(col(P0), col(P1), col(Ps), x, ps, E) if not pc else col(P0)
        den = _affine(col(Q0), col(Q1), col(Qs), x, qs, E) if not qc else col(Q0)
        v = np.divide(num, den, out=E)
        if self.k == 2:
            np.square(v, out=v)
        elif self.k != 1:
            v **= self.k
        return v


def _per_mode(v: Any, M: int) -> NDArray:
    """v as a float array of one value per mode (a scalar repeated)."""
    v = np.asarray(v, dtype=float)
    return np.full(M, float(v)) if v.ndim == 0 else np.broadcast_to(v.reshape(-1), (M,))


def _entries(coef: Any) -> list[Any]:
    """The six Möbius coefficients from a tuple, list or (6, 1) array."""
    if isinstance(coef, np.ndarray) and coef.dtype != object and coef.ndim == 2 and coef.shape[1] == 1:
        return list(coef[:, 0])
    return [np.ravel(np.asarray(x, dtype=float)) if np.ndim(x) else x for x in coef] \
        if isinstance(coef, (tuple, list)) else list(np.ravel(coef))


#: Values per block of `MobiusEvaluator.values_modes` (in-place operations; measured fastest at 64k).
MOBIUS_BLOCK = 1 << 16
#: Below this |rate·t|, c0 + c1 e^{−rate·t} with c0, c1 of opposite signs is summed as
#: (c0 + c1) + c1 expm1(−rate·t) (E − 1 without cancellation); beyond, as c0 + c1 E.
_EXPM1_BELOW = 0.5


def _affine(c0: NDArray, c1: NDArray, total: NDArray, x: NDArray, same: bool, E: NDArray | None = None) -> NDArray:
    """c0 + c1 e^{x} (x <= 0) without cancellation: as is when c0, c1 share a sign; else total +
    c1 expm1(x) where x > −1/2 (the cancelling end, near E = 1; total = c0 + c1 exact). In place of
    x, or, with E = e^{x} given, a new array (x kept)."""
    near = None
    if not same and x.size and float(x.max()) > -_EXPM1_BELOW:
        near = x > -_EXPM1_BELOW
        with np.errstate(all="ignore"):
            fix = np.expm1(x)
            fix *= c1
            fix += total
    if E is None:
        out = np.exp(x, out=x)
        out *= c1
    else:
        out = E * c1
    out += c0
    if near is not None:
        np.copyto(out, fix, where=near)
    return out


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
        """u at sorted times ts >= 0: the reduced ODE by DOP853 (~1e-12), then one Newton step on the
        exact t(x) = τ ∫ dx/ẋ (`refine_reduced`: Gauss–Legendre in a variable smooth at both ends)."""
        args = m.args()
        r, x0 = self.reference(m)
        x = integrate_reduced(lambda x: float(self.xdot[r](x, *args)), x0, ts, tau=m.tau)
        star = m.s / m.lam
        if m.u0 != star:
            u_of_x = lambda x: self.u_of_x[r](x, *args)                     # noqa: E731
            try:
                x_star = fixed_point_reduced(u_of_x, x0, star)
            except (ValueError, RuntimeError):                              # no bracket: keep DOP853's x
                x_star = None
            if x_star is not None and x_star != x0:
                x = refine_reduced(lambda x: self.xdot[r](x, *args), x0, ts, x, x_star, tau=m.tau)
        return np.asarray(self.u_of_x[r](x, *args), dtype=float) * np.ones_like(x)


Evaluator = MobiusEvaluator | PowerEvaluator | InverseEvaluator | QuadratureEvaluator

#: Below this many times an unsorted grid is ordered by `np.argsort`; above, by one sort of packed
#: integer keys (the time's leading bits, then its index), about half the cost.
_PACKED_SORT_MIN = 1 << 14


def _is_sorted(t: NDArray) -> bool:
    return t.size < 2 or bool(np.all(t[1:] >= t[:-1]))


def _order(t: NDArray) -> NDArray:
    """A stable permutation that sorts t (unsorted, flat).

    Large grids of times >= 0 sort integers instead: the bits of t with its last b bits replaced by
    the index (b = bits of the size). t >= 0 orders as its bit pattern, so one integer sort gives the
    permutation; times equal in all but their last b bits (duplicates included) are found among
    neighbours and sent to `np.argsort`.
    """
    n = t.size
    if n >= _PACKED_SORT_MIN and n < (1 << 40) and float(t.min()) >= 0:
        bits = np.uint64((n - 1).bit_length())
        key = (t + 0.0).view(np.uint64) >> bits            # + 0.0: −0.0 becomes +0.0
        key <<= bits
        key |= np.arange(n, dtype=np.uint64)
        key.sort()
        lead = key >> bits
        if not bool(np.any(lead[1:] == lead[:-1])):
            key &= (np.uint64(1) << bits) - np.uint64(1)
            return key.view(np.int64)
    return np.argsort(t, kind="stable")


def _guard_rows(out: NDArray, modes: Modes, rtol: float, order: NDArray | None = None) -> NDArray:
    """The monotone guard row by row along sorted time (columns `order` when given; in place)."""
    if out.shape[1] < 2:
        return out
    increasing = modes.lam * modes.u0 <= modes.s        # w0 <= 1: growth (or at rest)
    if bool(increasing.all()) or not bool(increasing.any()):
        groups = [(bool(increasing[0]), np.arange(len(modes)))]
    else:
        groups = [(d, np.flatnonzero(increasing == d)) for d in (True, False)]
    for direction, rows in groups:
        every = rows.size == len(modes)
        part = (out if every else out[rows]) if order is None else (out[:, order] if every else out[np.ix_(rows, order)])
        later, earlier = part[:, 1:], part[:, :-1]
        if bool(np.any(later < earlier)) if direction else bool(np.any(later > earlier)):
            fixed = monotone(part, increasing=direction, axis=1, rtol=rtol)
            if order is None:
                out[rows] = fixed
            else:
                out[np.ix_(rows, order)] = fixed
    return out


def _guard(out: NDArray, ts: NDArray, modes: Modes, rtol: float) -> NDArray:
    """Exact u0 at t = 0 and the monotone guard, row by row, on sorted times ts (in place)."""
    zeros = int(np.searchsorted(ts, 0.0, side="right"))
    if zeros:
        out[:, :zeros] = modes.u0[:, None]
    return _guard_rows(out, modes, rtol)


def _evaluate(evaluator: Evaluator, t: NDArray, modes: "Sequence[Mode] | Modes") -> tuple[NDArray, NDArray | None]:
    """(u, κ bound or None) of `evaluate_modes` (the bound when the evaluator gives one)."""
    flat = np.ravel(np.asarray(t, dtype=float))
    is_sorted = _is_sorted(flat)
    if hasattr(evaluator, "values_modes") and (not isinstance(evaluator, PowerEvaluator)
                                               or evaluator.rate_long is not None):
        # closed forms: every value on its own, in the given order; only the guard needs the order
        ms = Modes.of(modes)
        out, bound = evaluator.values_modes(flat, ms)
        if is_sorted:
            return _guard(out, flat, ms, evaluator.monotone_rtol), bound
        zero = flat == 0.0
        if bool(zero.any()):
            out[:, zero] = ms.u0[:, None]
        return _guard_rows(out, ms, evaluator.monotone_rtol, _order(flat)), bound
    order = None if is_sorted else _order(flat)
    ts = flat if order is None else flat[order]
    listed = _mode_list(modes)
    ms = Modes.of(listed)
    out = np.empty((len(listed), ts.size))
    for i, m in enumerate(listed):
        out[i] = evaluator.values(ts, m)
    out = _guard(out, ts, ms, evaluator.monotone_rtol)
    if order is None:
        return out, None
    res = np.empty_like(out)
    res[:, order] = out
    return res, None


def evaluate_modes(evaluator: Evaluator, t: NDArray, modes: "Sequence[Mode] | Modes") -> NDArray:
    """u(t) for each mode: shape (modes, t.size); exact at t = 0, monotone in t (rounding guard).

    Closed forms (`MobiusEvaluator`, `PowerEvaluator`) evaluate all modes and times in one vectorised
    pass; implicit forms of other shapes and quadratures go mode by mode. Unsorted times are ordered
    once (`_sorting`), evaluated, guarded and put back.

    Args:
        evaluator: one of the evaluators above.
        t: times >= 0 (flat, any order).
        modes: the modes' numbers (a sequence of `Mode`, or `Modes`).
    """
    # === check arguments
    return _evaluate(evaluator, t, modes)[0]


def evaluate_bounded(evaluator: Evaluator, t: NDArray, modes: "Sequence[Mode] | Modes") -> tuple[NDArray, NDArray | None]:
    """`evaluate_modes` and, for power-law modes, an upper bound of the condition number κ(t) = |t u̇/u|
    over each mode's whole path (None for other forms): where it is below a threshold, no value can
    be worse conditioned, so the per-value κ of `condition_modes` (three evaluations) is not needed.

    >>> import numpy as np
    >>> logistic = MobiusEvaluator(rate=lambda *a: 2.0 * a[0], k=1, t_of_u=None,
    ...     coef=lambda w0, *a: (w0, 0.0, w0, 1.0 - w0, w0, 1.0))
    >>> u, bound = evaluate_bounded(logistic, np.array([1.0, 0.0]), [Mode(s=2.0, lam=1.0, tau=1.0, u0=0.01)])
    >>> u.round(6).tolist(), bound is None
    ([[0.430588, 0.01]], True)
    """
    # === check arguments
    return _evaluate(evaluator, t, modes)


#: Half-width of the window of `condition_modes`' finite difference: 64 ulps of t.
CONDITION_WINDOW = 2.0 ** -46


def condition_modes(evaluator: Evaluator, t: NDArray, modes: "Sequence[Mode] | Modes") -> tuple[NDArray, NDArray]:
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
        for i, m in enumerate(_mode_list(modes)):
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
