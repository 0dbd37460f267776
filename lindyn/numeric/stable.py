"""Stable, vectorised evaluation of derived mode solutions (numpy/scipy/mpmath, never sympy).

The symbolic engine hands over lambdified pieces of its derived solution; this module evaluates
them without overflow, NaN or loss of monotonicity:

* explicit Möbius forms w = ((P0 + P1 E)/(Q0 + Q1 E))^k, E = e^{−x}, x >= 0, are summed in the
  cancellation-free order: P0 + P1E when P0, P1 share a sign, else (P0 + P1) + P1 (E − 1) with
  E − 1 = expm1(−x) (a path that never crosses 0 has |P0| > |P1| there);
* implicit forms t̃ = G(w) − G(w0) are inverted by a bracketed, safeguarded Newton solve in the
  variable η = logit w (growth, w0 < 1) or η = −ln(w − 1) (decay, w0 > 1), in which the solution
  is smooth and tends linearly to +∞; a table of exact (η_k, T_k = G(w_k) − G(w0)) pairs gives the
  bracket and a cubic Hermite first guess, so one or two Newton steps reach machine precision;
* quadrature forms are integrated as the reduced one-dimensional ODE (`Flow`: DOP853, rtol 1e-13),
  then refined by one Newton step on the exact t(x) (`refine_reduced`);
* power-law modes τu̇ = c u^g (s − λu) are points on one universal orbit per (g, branch),
  `PowerFlow`: its time τ(w) is summed in long double and its inverse tabulated once (Taylor cells
  found by one multiplication), so u(t) of any number of modes and times is one vectorised pass,
  accurate to 1-2 ulp with no Newton step per value.

>>> import numpy as np
>>> w = mobius_power(np.array([0.0, 1.0, 800.0]), 0.5, -0.5, 1.0, 0.0, 1)
>>> np.round(w, 5).tolist()
[0.0, 0.31606, 0.5]
"""
from __future__ import annotations

from typing import Any, Callable

import mpmath
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import digamma

from .._checks import fail, failure
from .solvers import Flow

__all__ = ["mobius_power", "invert_time", "integrate_reduced", "reduced_time", "newton_refine_mp",
           "bisect_time_mp", "solve_time_mp", "monotone", "hyp2f1_1b", "MP_MAX_EXTRA_DIGITS", "PowerFlow",
           "power_flow", "LONG", "LONG_IS_EXTENDED", "refine_reduced", "fixed_point_reduced"]

#: numpy's long double: x87 extended on x86-64 Linux (64 mantissa bits, ε = 1.1e-19). `PowerFlow`
#: computes its per-mode constants and table nodes in it; where it is plain double (Windows, Apple
#: silicon) the same code runs at double precision (errors then grow with the condition number,
#: as in the ₂F₁ route: ~κ·1e-16).
LONG = np.longdouble
#: True when LONG carries more digits than double.
LONG_IS_EXTENDED = bool(np.finfo(np.longdouble).nmant > 52)
_EPS_LONG = float(np.finfo(np.longdouble).eps)

#: End of the η table: |w − 1| = e^{−η} >= 2^{−44} ≈ 6e-14 there, so w stays distinct from 1 and G is
#: finite at every node (power-law modes are inverted in w itself, `PowerPlan`; a G in v = w^{1/k} is
#: only used for k <= 24, `MAX_PARTIAL_FRACTION_K`, where v − 1 >= 2.5e-15); beyond, η grows linearly
#: in t̃ (its slope varies by O(e^{−η}) ≈ 6e-14, so u is in error by ~1e-26 relative).
_ETA_TABLE = 44 * float(np.log(2.0))


def _lin(c0: Any, c1: Any, E: NDArray, em1: NDArray, total: Any = None) -> NDArray:
    """c0 + c1 E without cancellation (see module docstring); `total` = c0 + c1 computed exactly."""
    c0 = np.asarray(c0, dtype=float)
    c1 = np.asarray(c1, dtype=float)
    total = c0 + c1 if total is None else np.asarray(total, dtype=float)
    same = np.sign(c0) * np.sign(c1) >= 0
    return np.where(same, c0 + c1 * E, total + c1 * em1)


def mobius_power(x: ArrayLike, P0: Any, P1: Any, Q0: Any, Q1: Any, k: int,
                 P_sum: Any = None, Q_sum: Any = None) -> NDArray:
    """w = ((P0 + P1 E)/(Q0 + Q1 E))^k with E = e^{−x}, x >= 0, evaluated stably.

    Args:
        x: decay exponent(s) >= 0 (rate · t), any shape broadcastable with the coefficients.
        P0, P1, Q0, Q1: coefficients (arrays broadcast against x).
        k: integer power.
        P_sum, Q_sum: P0 + P1 and Q0 + Q1 from an exact (symbolic) sum, to avoid cancelling them.

    >>> mobius_power(np.array([0.0, 800.0]), 1e-12, 0.0, 1e-12, 1.0 - 1e-12, 1).tolist()   # logistic from 1e-12
    [1e-12, 1.0]
    """
    # === check arguments
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", under="ignore"):
        E = np.exp(-x)
        em1 = np.expm1(-x)
        v = _lin(P0, P1, E, em1, P_sum) / _lin(Q0, Q1, E, em1, Q_sum)
    return v ** k


#: Largest relative step against the known direction that `monotone` treats as rounding (a few ulp
#: of u): closed forms (Möbius, inverted G) are evaluated to this.
MONOTONE_RTOL = 1e-13
#: The same for the reduced ODE integrated by DOP853 at rtol 1e-13 (`integrate_reduced`): its dense
#: output is accurate to ~1e-12 relative, not to rounding (measured 1.1e-12 against a 25-digit
#: Taylor integration on unbalanced L = 3 GD decaying from u0 = 6 to s = 1); `refine_reduced` takes it
#: to ~1e-15, and this guard stays wide for modes whose fixed point cannot be bracketed.
QUADRATURE_MONOTONE_RTOL = 1e-10


def monotone(u: NDArray, increasing: bool, axis: int = -1, rtol: float = MONOTONE_RTOL) -> NDArray:
    """Remove rounding-level wiggles from values known to be monotone along `axis` (sorted times).

    Only a guard against wiggles at the evaluator's accuracy: a step against the known direction
    larger than `rtol` relative is an evaluation error, reported rather than flattened.

    Raises:
        IntegrationFailed: a violation above rtol · |u|.

    >>> monotone(np.array([1.0, 2.0, 2.0 - 1e-15, 3.0]), increasing=True).tolist()
    [1.0, 2.0, 2.0, 3.0]
    """
    acc = np.maximum.accumulate if increasing else np.minimum.accumulate
    out = acc(u, axis=axis)
    excess = np.abs(out - u)
    rel = excess / np.maximum(np.abs(out), np.finfo(float).tiny)
    if np.any(excess > rtol * np.abs(out)):
        at = np.unravel_index(int(np.argmax(rel)), rel.shape)[axis]
        raise failure("evaluation of u(t)", f"the time with index {at}", f"u(t) is not monotonic there: relative "
                      f"step {float(np.max(rel)):.2g} against the direction of motion, above the rounding guard {rtol:g}")
    return out


def hyp2f1_1b(b: ArrayLike, z: ArrayLike, zc: ArrayLike | None = None) -> NDArray:
    """₂F₁(1, b; 1 + b; z) = b Σ_n zⁿ/(n + b) for 0 <= z < 1, with c = a + b exactly.

    scipy's hyp2f1 receives c and b as separately rounded floats, so c − a − b is ~1e-16 instead
    of 0 and its z → 1 connection formula cancels (measured: 2.7 % wrong at z = 0.999, b = 2/3). Here
    c − a − b = 0 by construction: z <= ½ sums the power series; z > ½ sums the logarithmic
    connection series in 1 − z (DLMF 15.8.10 with a = 1, c = a + b):
    ₂F₁ = b Σ_k (b)_k/k! [ψ(k + 1) − ψ(b + k) − ln(1 − z)] (1 − z)^k.
    Both converge at least as ½^k; b must not be 0 or a negative integer.

    Args:
        b: the parameter (not 0 or a negative integer).
        z: the argument, 0 <= z < 1.
        zc: 1 − z computed without cancellation (e.g. (w − 1)/w for z = 1/w); default 1 − z. Near
            z = 1 the value is −b ln(1 − z) + O(1), so a rounded z would lose the digits of 1 − z.

    >>> bool(np.isclose(hyp2f1_1b(1.0, 0.75), 4 * np.log(4) / 3, rtol=1e-15))  # ₂F₁(1, 1; 2; z) = −ln(1 − z)/z
    True
    """
    # === check arguments
    if zc is None:
        b, z = np.broadcast_arrays(np.asarray(b, dtype=float), np.asarray(z, dtype=float))
        zc = 1.0 - z
    else:
        b, z, zc = np.broadcast_arrays(np.asarray(b, dtype=float), np.asarray(z, dtype=float),
                                       np.asarray(zc, dtype=float))
    out = np.empty(z.shape)
    near = z > 0.5
    with np.errstate(all="ignore"):
        bs, zs = b[~near], z[~near]
        term, total = np.ones_like(zs), np.zeros_like(zs)
        for n in range(1, 200):
            term = term * zs
            total = total + term / (n + bs)
            if not np.any(np.abs(term) > 1e-18):
                break
        out[~near] = 1.0 + bs * total
        bn, x = b[near], zc[near]
        lx = np.log(x)
        poch, xk = np.ones_like(x), np.ones_like(x)
        psi1, psib = digamma(1.0), digamma(bn)
        total = np.zeros_like(x)
        for k in range(200):
            total = total + poch * (psi1 - psib - lx) * xk
            psi1 = psi1 + 1.0 / (k + 1)
            psib = psib + 1.0 / (bn + k)
            poch = poch * (bn + k) / (k + 1)
            xk = xk * x
            if not np.any(np.abs(poch * xk) * (1.0 + np.abs(lx)) > 1e-18 * np.abs(total)):
                break
        out[near] = bn * total
    return out


def _eta_to_w(eta: NDArray, growth: bool) -> NDArray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-eta)) if growth else 1.0 + np.exp(-eta)


def invert_time(G: Callable[[NDArray], NDArray], slope: Callable[[NDArray], NDArray], w0: float,
                ttilde: ArrayLike, nodes_per_unit: float = 48.0, newton_steps: int = 1) -> NDArray:
    """Solve G(w) − G(w0) = t̃ for w, vectorised over t̃ >= 0, by bracketed safeguarded Newton.

    Args:
        G: antiderivative with G'(w) = 1/slope(w) (vectorised numpy callable).
        slope: dw/dt̃ (positive for w0 < 1, negative for w0 > 1).
        w0: initial value (> 0, ≠ 1: the fixed point w = 1 never moves).
        ttilde: rescaled times >= 0.
        nodes_per_unit: table density in η.
        newton_steps: Newton steps after the Hermite guess (each one squares the error: the guess
            is good to ~1e-10 at the default table density, so one step reaches rounding level).

    Returns:
        w(t̃) with the shape of `ttilde`.

    Raises:
        IntegrationFailed: G or the slope is not finite (or G not increasing) at a table node.

    >>> G = lambda w: np.log(w / (1 - w))                 # logistic: dw/dt̃ = w (1 − w)
    >>> w = invert_time(G, lambda w: w * (1 - w), 0.01, np.array([0.0, 1.0, 1e6]))
    >>> np.allclose(w, [0.01, 1 / (1 + 99 * np.exp(-1.0)), 1.0], rtol=1e-15)
    True
    """
    # === check arguments
    tt = np.asarray(ttilde, dtype=float)
    if w0 == 1.0:
        return np.ones_like(tt)
    growth = w0 < 1.0
    eta0 = np.log(w0) - np.log1p(-w0) if growth else -np.log(w0 - 1.0)
    eta_end = max(_ETA_TABLE, eta0)
    n = int(np.ceil((eta_end - eta0) * nodes_per_unit)) + 2
    w_k = _eta_to_w(np.linspace(eta0, eta_end, n), growth)
    w_k[0] = w0
    # η of the rounded nodes (1 − w and w − 1 are exact there), so that (η_k, T_k) are exact pairs
    eta_k = np.log(w_k) - np.log1p(-w_k) if growth else -np.log(w_k - 1.0)
    eta_k[0] = eta0
    with np.errstate(all="ignore"):
        G0 = float(G(np.array([w0]))[0])
        T_k = G(w_k) - G0
        dw_deta = w_k * (1.0 - w_k) if growth else -(w_k - 1.0)
        r_k = slope(w_k) / dw_deta                      # dη/dt̃ at the nodes (> 0)
    T_k[0] = 0.0
    bad = ~(np.isfinite(T_k) & np.isfinite(r_k) & (r_k > 0))
    if not np.isfinite(G0) or np.any(bad):
        w_bad = float(w0) if not np.isfinite(G0) else float(w_k[np.argmax(bad)])
        raise failure("inverting t(u)", f"w = {w_bad!r}",
                      "the antiderivative G or the slope is not finite there (G' = 1/slope > 0 is needed)")
    # G is increasing in η: a decrease beyond rounding (relative 1e-12) is an error in G
    drop = np.maximum.accumulate(T_k) - T_k
    if np.any(drop > 1e-12 * (1.0 + np.abs(T_k) + abs(G0))):
        raise failure("inverting t(u)", f"w = {float(w_k[np.argmax(drop > 0)])!r}",
                      "G(w) − G(w0) decreases along the path")
    T_k = np.maximum.accumulate(T_k)                    # rounding-level ties near w = 1
    keep = np.concatenate([[True], np.diff(T_k) > 0])
    eta_k, T_k, r_k = eta_k[keep], T_k[keep], r_k[keep]
    flat = tt.ravel()
    beyond = flat >= T_k[-1]
    any_beyond = bool(beyond.any())
    if any_beyond:
        out = np.empty_like(flat)
        # beyond the table w = 1 to double precision: η grows linearly at rate r → 1
        out[beyond] = eta_k[-1] + (flat[beyond] - T_k[-1]) * r_k[-1]
        inside = ~beyond
        x = flat[inside]
    else:
        x = flat
    # cubic Hermite in t̃ with the exact slopes dη/dt̃, stored per interval as Horner coefficients
    h = np.diff(T_k)
    d = np.diff(eta_k)
    m0, m1 = r_k[:-1] * h, r_k[1:] * h
    c2 = 3 * d - 2 * m0 - m1
    c3 = m0 + m1 - 2 * d
    j = np.clip(np.searchsorted(T_k, x, side="right"), 1, len(T_k) - 1) - 1
    z = (x - T_k[j]) * (1.0 / h)[j]
    lo = eta_k[j]
    eta = lo + z * (m0[j] + z * (c2[j] + z * c3[j]))
    hi = lo + d[j]
    target = x + G0
    with np.errstate(all="ignore"):
        for _ in range(newton_steps):
            w = _eta_to_w(eta, growth)
            dw_deta = w * (1.0 - w) if growth else -(w - 1.0)
            new = eta - (G(w) - target) * slope(w) / dw_deta
            # safeguard: the root lies in the bracket [η_j, η_{j+1}]; a step that leaves it (or is
            # not finite) is cut back to the bracket's midpoint with the current iterate
            bad = ~((new >= lo) & (new <= hi))
            if np.any(bad):
                new = np.where(bad, 0.5 * (eta + np.where(new < lo, lo, hi)), new)
            eta = new
    if any_beyond:
        out[inside] = eta
    else:
        out = eta
    return _eta_to_w(out, growth).reshape(tt.shape)


def integrate_reduced(xdot: Callable[[float], float], x0: float, t: ArrayLike, tau: float = 1.0,
                      rtol: float = 1e-13) -> NDArray:
    """x(t) for the reduced mode ODE τ ẋ = xdot(x), x > 0, integrated in ln x by DOP853.

    Args:
        xdot: right-hand side τ ẋ (scalar callable).
        x0: x(0) > 0.
        t: times >= 0 (any order).
        tau: time constant.
        rtol: relative tolerance (atol = rtol · 1e-3 on ln x).

    >>> x = integrate_reduced(lambda x: 1 - x, 0.5, [1.0])             # x = 1 − 0.5 e^{−t}
    >>> bool(abs(x[0] - (1 - 0.5 * np.exp(-1))) < 1e-12)
    True
    """
    # === check arguments
    t = np.asarray(t, dtype=float)
    order = np.argsort(t.ravel())
    ts = t.ravel()[order]
    out = np.full(ts.shape, x0, dtype=float)
    if ts.size and ts[-1] > 0:
        def F(y: float) -> float:
            value = xdot(np.exp(y)) / (tau * np.exp(y))
            # a trial step far past a stiff fixed point may overflow: a huge finite slope makes DOP853
            # reject the step and shrink it (a real blow-up still ends in "step size too small")
            return value if np.isfinite(value) else (float(np.sign(value)) if np.isinf(value) else 1.0) * 1e300

        def converged(_t: float, y: Any) -> float:
            # |y − y*| ≈ |F(y)|/|F'(y)|: stop once that is below rounding, since past the fixed
            # point's time scale an explicit method would only crawl (step ~ 1/|F'|, t up to 1e6)
            dy = 1e-6 * (1.0 + abs(y[0]))
            slope = abs(F(y[0] + dy) - F(y[0] - dy)) / (2 * dy)
            return abs(F(y[0])) - 1e-15 * (1.0 + abs(y[0])) * slope

        # lindyn's one ODE stepper (`Flow`: DOP853 with per-step interpolants and a terminal event)
        with np.errstate(all="ignore"):
            run = Flow(rtol=rtol, atol=rtol * 1e-3).solve(lambda y: np.array([F(y[0])]), np.array([np.log(x0)]),
                                                          ts, event=converged)
        y = np.empty(ts.shape)
        y[: len(run.t)] = run.theta[:, 0][: ts.size]
        y[len(run.t):] = run.theta[-1, 0]          # past convergence: the fixed point to rounding
        out = np.exp(y)
        out[ts == 0] = x0
    res = np.empty_like(out)
    res[order] = out
    return res.reshape(t.shape)


#: Gauss–Legendre rule of `refine_reduced` (8 nodes on [−1, 1]) and its largest piece in v.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_REFINE_PIECE = 0.25


def fixed_point_reduced(u_of_x: Callable[[NDArray], NDArray], x0: float, u_star: float) -> float:
    """x* with u(x*) = u* on the reduced path from x0 (u(x) increasing in x), by bracketing and brentq.

    >>> round(fixed_point_reduced(lambda x: x ** 3, 0.1, 8.0), 12)
    2.0
    """
    # === check arguments
    f = lambda x: float(u_of_x(np.asarray(x, dtype=float))) - u_star       # noqa: E731
    up = f(x0) < 0
    lo, hi = (x0, x0 * 2.0) if up else (x0 * 0.5, x0)
    for _ in range(2000):
        if (f(hi) >= 0) if up else (f(lo) <= 0):
            break
        if up:
            lo, hi = hi, hi * 2.0
        else:
            hi, lo = lo, lo * 0.5
    return brentq(f, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=400)


def refine_reduced(xdot: Callable[[NDArray], NDArray], x0: float, t: NDArray, x: NDArray, x_star: float,
                   tau: float = 1.0) -> NDArray:
    """One Newton step on t(x) = τ ∫_{x0}^{x} dx'/ẋ(x') = t at every value of an approximate x(t).

    The times of the approximations are summed exactly (8-point Gauss–Legendre pieces, in long
    double) in v = ln x − ln|x* − x|, in which the integrand dt/dv = τ x |x* − x|/(x* |ẋ|) is smooth
    at the start and at the fixed point x* alike; then v += (t − t(v)) dv/dt. From DOP853's ~1e-12
    the step lands at rounding level (the error squares).

    Args:
        xdot: τ ẋ as a vectorised callable of x.
        x0: x(0) (≠ x*).
        t: sorted times >= 0.
        x: approximations of x(t) (same shape); values at or past x* are kept.
        x_star: the fixed point of the path (`fixed_point_reduced`).
        tau: time constant.

    >>> x = refine_reduced(lambda x: 1 - x, 0.5, np.array([1.0]), np.array([0.816060279]), 1.0)
    >>> bool(abs(x[0] - (1 - 0.5 * np.exp(-1))) < 1e-15)                     # x = 1 − ½ e^{−t}
    True
    """
    # === check arguments
    t = np.asarray(t, dtype=float)
    x = np.array(x, dtype=float)
    growth = x_star > x0
    inside = (x > x0) & (x < x_star) if growth else (x < x0) & (x > x_star)
    idx = np.flatnonzero(inside & (t > 0))
    if idx.size == 0:
        return x

    def v_of(xx: NDArray) -> NDArray:
        return np.log(xx) - np.log(np.abs(x_star - xx))

    def x_of(v: NDArray) -> NDArray:
        return x_star / (1 + np.exp(-v)) if growth else x_star / -np.expm1(-v)

    def dt_dv(v: NDArray) -> NDArray:
        xx = x_of(v)
        return tau * xx * np.abs(x_star - xx) / (x_star * np.abs(xdot(xx)))

    with np.errstate(all="ignore"):
        v = np.concatenate([[v_of(np.asarray(x0))], v_of(x[idx])])
        v = np.maximum.accumulate(v)                      # sorted t: v increases (ties at rounding)
        gaps = np.diff(v)
        pieces = np.maximum(1, np.ceil(gaps / _REFINE_PIECE)).astype(np.intp)
        owner = np.repeat(np.arange(gaps.size), pieces)
        k = np.arange(owner.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        h = gaps[owner] / pieces[owner]
        a = v[:-1][owner] + k * h
        nodes = a[:, None] + 0.5 * h[:, None] * (1 + _GL_X[None, :])
        piece = 0.5 * h * (dt_dv(nodes) @ _GL_W)
        steps = np.add.reduceat(piece.astype(LONG), np.cumsum(pieces) - pieces)
        T = np.cumsum(steps)                              # t at each approximation (long double)
        vi = v[1:]
        rate = 1 / dt_dv(vi)                              # dv/dt
        vn = vi + (np.asarray(t[idx], dtype=LONG) - T).astype(float) * rate
        xn = x_of(vn)
    good = np.isfinite(xn) & ((xn > 0) if growth else (xn > x_star))
    x[idx[good]] = xn[good]
    return x


def reduced_time(xdot: Callable[[float], float], u_of_x: Callable[[float], float], x0: float, u_to: float,
                 tau: float = 1.0) -> float:
    """t at which u(x(t)) = u_to on the reduced ODE τ ẋ = xdot(x): t = τ ∫_{x0}^{x*} dx/xdot(x).

    Raises:
        LindynError: u_to is not reached (at or beyond the fixed point).
        IntegrationFailed: the quadrature of dx/xdot is not finite.
    """
    # === check arguments
    u_start = u_of_x(x0)
    up = u_to > u_start
    lo, hi = (x0, x0 * 2.0) if up else (x0 * 0.5, x0)
    for _ in range(200):
        if (u_of_x(hi) >= u_to) if up else (u_of_x(lo) <= u_to):
            break
        if up:
            hi *= 2.0
        else:
            lo *= 0.5
    try:
        x_to = brentq(lambda x: u_of_x(x) - u_to, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=400)
    except (ValueError, RuntimeError):       # no sign change (u_to not on the path) or no convergence
        raise fail("u_to", f"a strength reached from u(0) = {u_start:.6g} on the reduced path "
                   "(strictly before the fixed point)", u_to) from None
    if not xdot(x0) * xdot(x_to) > 0:      # ẋ changes sign: a fixed point lies between (or at) them
        raise fail("u_to", f"strictly between u(0) = {u_start:.6g} and the fixed point of the reduced ODE", u_to)
    val, _err = quad(lambda x: 1.0 / xdot(x), x0, x_to, epsabs=0.0, epsrel=1e-13, limit=400)
    if not np.isfinite(val):
        raise failure("the quadrature t = τ ∫ dx/ẋ", f"u_to = {u_to!r}", "the integral is not finite")
    return tau * val


def _exact(x: Any) -> Any:
    """x as an mpf without rounding an mpf to the current precision (inputs carry more digits than the
    working precision: t of a transition at s = 1e6, u0 = 1e-12, L = 50 needs ~1e17 times more)."""
    return x if isinstance(x, mpmath.mpf) else mpmath.mpf(x)


def _real(x: Any) -> Any:
    """x as an mpf when it is a finite real number (an mpc with zero imaginary part included), else None."""
    if isinstance(x, mpmath.mpc):
        if x.imag != 0:
            return None
        x = x.real
    try:
        x = mpmath.mpf(x)
    except (TypeError, ValueError):
        return None
    return x if mpmath.isfinite(x) else None


class _EtaPath:
    """The path from u(0) towards the fixed point u* in the variable η (mpmath), in which t is smooth.

    Growth (u(0) < u*): u = u*/(1 + e^{−η}), η = ln(u/(u* − u)); decay: u = u*(1 + e^{−η}),
    η = −ln(u/u* − 1). Every real η is a point of the path (a Newton step cannot leave the domain),
    η increases with t, and t(η) tends to a straight line as η → ∞ (and, for growth, as η → −∞ when
    f(u) ∝ u near 0).
    """

    def __init__(self, fixed: Any, start: Any) -> None:
        self.us = _exact(fixed)
        self.growth = _exact(start) < self.us

    def u(self, eta: Any) -> Any:
        e = mpmath.exp(-eta)
        return self.us / (1 + e) if self.growth else self.us * (1 + e)

    def eta(self, u: Any) -> Any:
        return mpmath.log(u / (self.us - u)) if self.growth else -mpmath.log(u / self.us - 1)

    def du(self, eta: Any) -> Any:
        """du/dη."""
        e = mpmath.exp(-eta)
        return self.us * e / (1 + e) ** 2 if self.growth else -self.us * e

    def dlog(self, eta: Any) -> Any:
        """|d ln u/dη| (1 − w for growth, (w − 1)/w for decay, w = u/u*): the relative step of u per unit η."""
        return 1 / (1 + mpmath.exp(eta))


def newton_refine_mp(T: Callable[[Any], Any], dT: Callable[[Any], Any], t: Any, guess: Any,
                     dps: int = 30, steps: int = 12, fixed: Any = None, start: Any = None) -> Any:
    """Refine u with T(u) = t in mpmath at `dps` digits by Newton steps.

    With the fixed point u* given, Newton runs in η (growth: η = ln(u/(u* − u)); decay:
    η = −ln(u/u* − 1)): every real η is a point of the path, so no step leaves the domain (the
    former variable ln|1 − u/u*| crossed to u < 0 and made T complex), and T is close to linear in
    η near u* and, for f ∝ u, near 0. The residual signs keep a bracket; a step that leaves it is
    replaced by bisection. It stops when a step moves u by less than 10^−(dps+5) relative.

    Args:
        T: time as a function of u (mpmath callable).
        dT: dT/du = τ/f(u).
        t: the target time (mpf).
        guess: a starting point on the path (e.g. from `bisect_time_mp`).
        dps: working digits.
        steps: maximum Newton steps (quadratic convergence; +20 with `fixed`).
        fixed: the fixed point u* = s/λ (optional).
        start: u(0), which tells the side of u* the path lies on (needed with `fixed`).

    Raises:
        IntegrationFailed: no convergence to `dps` digits within the allowed steps, or T not real.

    >>> T = lambda u: mpmath.log(u / (1 - u)) - mpmath.log(mpmath.mpf(1) / 9)   # logistic from 0.1
    >>> u = newton_refine_mp(T, lambda u: 1 / (u * (1 - u)), 1, mpmath.mpf("0.2"), fixed=1, start=mpmath.mpf("0.1"))
    >>> with mpmath.workdps(40):
    ...     bool(abs(u - 1 / (1 + 9 * mpmath.e ** -1)) < 1e-30)
    True
    """
    # === check arguments
    with mpmath.workdps(dps + 10):
        t = _exact(t)
        tol = mpmath.mpf(10) ** (-(dps + 5))
        if fixed is None:
            u = mpmath.mpf(guess)
            for _ in range(steps):
                du = _real((T(u) - t) / dT(u))
                if du is None:
                    raise failure("Newton on t(u)", f"u = {float(u)!r}", "t(u) is not real there")
                u = u - du
                if abs(du) <= abs(u) * tol:
                    return +u
            raise failure("Newton on t(u)", f"t = {float(t)!r}", f"it did not converge to {dps} digits in {steps} steps")
        path = _EtaPath(fixed, start)
        out = _refine_eta(T, dT, t, path, path.eta(_exact(guess)), -mpmath.inf, mpmath.inf, dps, steps + 20)
        if out is None:
            raise failure("Newton on t(u)", f"t = {float(t)!r}",
                          f"it did not converge to {dps} digits in {steps + 20} steps")
        return +out[0]


def _refine_eta(T: Callable[[Any], Any], dT: Callable[[Any], Any], t: Any, path: _EtaPath, eta: Any, lo: Any,
                hi: Any, dps: int, steps: int) -> tuple[Any, Any, Any, Any] | None:
    """Safeguarded Newton in η on T(u(η)) = t within [lo, hi]: (u, η, lo, hi) or None (no convergence)."""
    tol = mpmath.mpf(10) ** (-(dps + 5))
    eta_max = (dps + 5) * mpmath.log(10)            # beyond: |1 − u/u*| < 10^−(dps+5)
    for _ in range(steps):
        if eta > eta_max:
            return path.us, eta, lo, hi
        u = path.u(eta)
        r, slope = _real(T(u) - t), _real(dT(u) * path.du(eta))
        if r is None or slope is None:              # not expected on the path; bisect if bracketed
            if not (mpmath.isfinite(lo) and mpmath.isfinite(hi)):
                raise failure("Newton on t(u)", f"u = {float(u)!r}", "t(u) or its slope is not real there")
            eta = (lo + hi) / 2
            continue
        if r == 0:
            return u, eta, eta, eta
        if r > 0:
            hi = eta
        else:
            lo = eta
        new = eta - r / slope if slope > 0 else None
        if new is None or not (lo < new < hi):
            if not (mpmath.isfinite(lo) and mpmath.isfinite(hi)):
                # no bracket yet: a wrong-way or overlong step is halved towards the iterate
                new = eta - mpmath.sign(r) * min(abs(r / slope), 1) if slope > 0 else eta - mpmath.sign(r)
            else:
                new = (lo + hi) / 2
        step = abs(new - eta)
        eta = new
        if step * path.dlog(eta) <= tol:
            return path.u(eta), eta, lo, hi
    return None


def bisect_time_mp(T: Callable[[Any], Any], t: Any, start: Any, fixed: Any, dps: int = 30,
                   tol: float = 1e-12) -> Any:
    """u with T(u) = t on the path from `start` towards the fixed point, by bisection (mpmath).

    Uses only T (no double-precision evaluator), in the variable η of the path (growth:
    u = u*/(1 + e^{−η}); decay: u = u*(1 + e^{−η})), in which every real η is a point of the path
    and t grows with η: a bracket [η0, η_hi] with T >= t at η_hi is found by doubling the step, then
    bisected to |Δη| <= tol (a relative accuracy of about tol on u). A seed for `newton_refine_mp`
    that is independent of `Trajectory.evaluate`.

    Args:
        T: time as a function of u (mpmath callable, increasing along the path).
        t: target time >= 0.
        start: u(0) (≠ u*).
        fixed: the fixed point u*.
        dps: working digits.
        tol: bracket width in η at which to stop.

    Returns:
        u (mpf), or u* itself when T(u) < t still at |1 − u/u*| = 10^−(dps+5).

    Raises:
        IntegrationFailed: no bracket (T stays below t over 2e6 units of η), or T not real.

    >>> T = lambda u: mpmath.log(u / (1 - u)) - mpmath.log(mpmath.mpf(1) / 9)   # logistic from 0.1
    >>> u = bisect_time_mp(T, 1, mpmath.mpf("0.1"), 1)
    >>> bool(abs(u - 1 / (1 + 9 * mpmath.e ** -1)) < 1e-11)
    True
    """
    # === check arguments
    with mpmath.workdps(dps + 10):
        t, path, found, end = _start_on_path(T, t, start, fixed, dps)
        if found is None:
            return end
        lo, hi = found
        while hi - lo > tol:
            mid = (lo + hi) / 2
            val = _real(T(path.u(mid)))
            if val is None:
                raise failure("bisection on t(u)", f"u = {float(path.u(mid))!r}", "t(u) is not real there")
            if val < t:
                lo = mid
            else:
                hi = mid
        return +path.u((lo + hi) / 2)


def _start_on_path(T: Callable[[Any], Any], t: Any, start: Any, fixed: Any,
                   dps: int) -> tuple[Any, _EtaPath, tuple[Any, Any] | None, Any]:
    """At the caller's precision: (t, the path, [η_lo, η_hi] bracketing T = t, end). With no bracket the
    answer is `end`: u(0) for t <= 0, u* when T stays below t to dps digits of u*."""
    t, u_start = _exact(t), _exact(start)        # inputs keep their digits (not rounded to the precision)
    path = _EtaPath(fixed, u_start)
    if t <= 0:
        return t, path, None, +u_start
    return t, path, _bracket_eta(T, t, path, path.eta(u_start), dps), +path.us


def _bracket_eta(T: Callable[[Any], Any], t: Any, path: _EtaPath, eta0: Any, dps: int) -> tuple[Any, Any] | None:
    """[lo, hi] in η with T(lo) < t <= T(hi), stepping up from η0 (T(η0) < t); None: beyond u* to dps digits."""
    eta_max = (dps + 5) * mpmath.log(10)
    if eta0 >= eta_max:              # u(0) itself is u* to the digits asked
        return None
    lo, step = eta0, mpmath.mpf(1)
    hi = min(lo + step, eta_max)
    while True:
        val = _real(T(path.u(hi)))
        if val is None:
            raise failure("bracketing t(u)", f"u = {float(path.u(hi))!r}", "t(u) is not real there")
        if val >= t:
            return lo, hi
        if hi >= eta_max:            # within 10^−(dps+5) of u* (T is not resolved closer)
            return None
        if step > 1e6:
            raise failure("bracketing t(u)", f"t = {float(t)!r}", "t(u) stays below t along the path")
        lo, step = hi, 2 * step
        hi = min(lo + step, eta_max)


#: Most digits `solve_time_mp` adds to dps + 10 when T(u) is computed as a difference of large terms.
MP_MAX_EXTRA_DIGITS = 400


def solve_time_mp(T: Callable[[Any], Any], dT: Callable[[Any], Any], t: Any, start: Any, fixed: Any,
                  dps: int = 30) -> Any:
    """u with T(u) = t on the path from u(0) = `start` to the fixed point u*, to `dps` digits (mpmath).

    The variable is η of the path (growth: u = u*/(1 + e^{−η}); decay: u = u*(1 + e^{−η})), so every
    iterate is a point of the path and T stays real. A bracket [η_lo, η_hi] is found by doubling steps
    from η(u0), then safeguarded Newton (bisection when a step leaves the bracket) runs to a relative
    step of 10^−(dps+5) on u. Working precision: T is often a difference of large terms (t(u) of a
    transition at s = 1e6, u0 = 1e-12, L = 50 subtracts terms ~1e17 times larger than the time), so
    its rounding noise at the root is measured (T at the working precision vs 20 more digits) and,
    when that noise amounts to more than 10^−(dps+3) relative on u, the digits are raised by the
    shortfall and Newton repeated from the bracket (re-checked at the new precision).

    Args:
        T: t(u) (mpmath callable, increasing along the path; evaluated at the current mpmath precision).
        dT: dt/du = τ/f(u).
        t: target time >= 0.
        start: u(0) (≠ u*).
        fixed: the fixed point u* = s/λ.
        dps: digits wanted.

    Returns:
        u (mpf), or u* when u is within 10^−(dps+5) of it.

    Raises:
        IntegrationFailed: no bracket, T not real on the path, or the digits asked cannot be reached
            with MP_MAX_EXTRA_DIGITS more working digits.

    >>> T = lambda u: mpmath.log(u / (1 - u)) - mpmath.log(mpmath.mpf("1e-20") / (1 - mpmath.mpf("1e-20")))
    >>> u = solve_time_mp(T, lambda u: 1 / (u * (1 - u)), 40, mpmath.mpf("1e-20"), 1)   # logistic
    >>> with mpmath.workdps(40):
    ...     bool(abs(u * (1 + (mpmath.mpf(10) ** 20 - 1) * mpmath.e ** -40) - 1) < 1e-30)
    True
    """
    # === check arguments
    digits = dps + 10
    with mpmath.workdps(digits):
        t, path, found, end = _start_on_path(T, t, start, fixed, dps)
        if found is None:
            return end
        lo, hi = found
        eta = (lo + hi) / 2
    while True:
        with mpmath.workdps(digits):
            out = _refine_eta(T, dT, t, path, eta, lo, hi, dps, 100)
            if out is not None:
                u, eta, lo, hi = out
                if u == path.us:
                    return +u
                # rounding noise of T at the root, as a relative error of u
                here = _real(T(u))
                with mpmath.workdps(digits + 20):
                    ref = _real(T(path.u(eta)))
                    slope = _real(dT(path.u(eta)) * path.du(eta))
                if here is None or ref is None or slope is None:
                    raise failure("solving t(u) = t", f"u = {float(u)!r}", "t(u) is not real there")
                noise = abs(here - ref) * path.dlog(eta) / abs(slope)
                wanted = mpmath.mpf(10) ** (-(dps + 3))
                if noise <= wanted:
                    return +u
                extra = int(mpmath.ceil(mpmath.log10(noise / wanted))) + 5
            else:
                extra = 20
        digits += extra
        if digits > dps + 10 + MP_MAX_EXTRA_DIGITS:
            raise failure("solving t(u) = t", f"t = {float(t)!r}",
                          f"t(u) is too ill-conditioned there for {dps} digits with {MP_MAX_EXTRA_DIGITS} extra")
        with mpmath.workdps(digits):
            # re-check the bracket at the new precision (the old one may sit inside the old noise)
            width = max(hi - lo, mpmath.mpf(10) ** (-(dps // 2)))
            lo, hi = eta - width, eta + width
            for _ in range(200):
                t_lo, t_hi = _real(T(path.u(lo))), _real(T(path.u(hi)))
                if t_lo is None or t_hi is None:
                    raise failure("solving t(u) = t", f"t = {float(t)!r}", "t(u) is not real near the root")
                if t_lo <= t <= t_hi:
                    break
                width *= 4
                lo, hi = (lo - width, hi) if t_lo > t else (lo, hi + width)


# ------------------------------------------------------------------ the universal power-law flow


#: Taylor degree and cell width (in the index variable η̂) of the `PowerFlow` tables; measured: w to
#: 2e-16 - 5e-16 relative (1-2 ulp) for g in [0, 2) on both branches, η from −40 to 31.
FLOW_DEGREE = 6
FLOW_CELL = 0.05
#: End of a flow table in η (|1 − w| = e^{−η} = 2^{−44}), as `_ETA_TABLE`; beyond it η is continued
#: linearly in τ (its slope varies by |g − 1|·6e-14 there, so w is off by ~1e-26 relative).
FLOW_ETA_END = _ETA_TABLE
#: Half-width of the part of the index variable that is τ itself (g > 1 growth, g < 0 decay): the
#: log map η̂ ~ −β ln|τ| starts beyond it, so typical grids (|τ| < 64) need no logarithm.
FLOW_UNIFORM = 64.0
#: Smallest slope β of the log map: cells of relative width FLOW_CELL/β near the singular end.
FLOW_BETA_MIN = 4.0
#: Values per block of `PowerFlow.excess`: its ~20 temporaries then stay in cache (measured 2x faster
#: than whole 10^6-value arrays, which are bound by memory traffic).
FLOW_BLOCK = 16384
_SERIES_MAX = 400


def _poch_ratio(g: Any, n: int) -> NDArray:
    """(g)_k / k! for k = 0..n in long double."""
    out = np.empty(n + 1, dtype=LONG)
    out[0] = 1
    for k in range(1, n + 1):
        out[k] = out[k - 1] * (g + (k - 1)) / k
    return out


def _terms(ratio_max: float) -> int:
    """Number of terms of a series with ratio <= ratio_max for long-double accuracy."""
    if ratio_max <= 0:
        return 1
    return int(min(_SERIES_MAX, np.ceil(np.log(_EPS_LONG / 8) / np.log(ratio_max)) + 3))


def _eta_taylor(w: NDArray, v: NDArray, g: float, growth: bool, p: int) -> tuple[NDArray, NDArray]:
    """(λ, ẽ): η(τ_m + z/λ) = η_m + Σ_{i=1..p} ẽ_i z^i at points with w and v = |1 − w|, λ = dη/dτ there.

    Scaled so that nothing under- or overflows whatever w is (w = 1e-300 included): with p = w/w_m,
    dp/dz = p^g (1 − w) (growth, λ = w_m^{g−1}) or −p^g (w − 1)/w_m (decay, λ = w_m^g); p^g by
    J.C.P. Miller's power recurrence (p_0 = 1), one integration per order, then η = ln w − ln(1 − w)
    (growth) or −ln(w − 1) (decay) by the series logarithm. ẽ has shape (p, len(w)), entries O(1).
    """
    N = w.shape[0]
    P = np.zeros((p + 1, N))        # w/w_m
    V = np.zeros((p + 1, N))        # 1 − w (growth) or w − 1 (decay)
    B = np.zeros((p + 1, N))        # (w/w_m)^g
    P[0], V[0], B[0] = 1.0, v, 1.0
    with np.errstate(all="ignore"):
        lam = w ** (g - 1) if growth else w ** g
        for n in range(p):
            if n >= 1:
                acc = np.zeros(N)
                for k in range(1, n + 1):
                    acc += (g * k - n + k) * P[k] * B[n - k]
                B[n] = acc / n
            C = np.zeros(N)
            for k in range(n + 1):
                C += B[k] * V[n - k]
            P[n + 1] = (C if growth else -C / w) / (n + 1)
            V[n + 1] = -w * P[n + 1] if growth else w * P[n + 1]

        def log_series(X: NDArray) -> NDArray:
            L = np.zeros((p + 1, N))
            for n in range(1, p + 1):
                acc = X[n].copy()
                for k in range(1, n):
                    acc -= k * L[k] * X[n - k] / n
                L[n] = acc / X[0]
            return L
        E = log_series(P) - log_series(V) if growth else -log_series(V)
    return lam, E[1:]


class PowerFlow:
    """The universal solution of dw/dτ = w^g (1 − w) on one branch, shared by all power-law modes with this g.

    Every mode τ_c u̇ = c u^g (s − λu) is this flow in w = λu/s and τ = Γ + κt, κ = c s^g λ^{1−g}/τ_c
    (THEORY.md §2): the autonomous ODE has one orbit per branch (growth 0 < w < 1, decay w > 1), and
    a mode only picks its start Γ = τ(w0) on it. So one table per (g, branch) serves every mode.

    * τ(w) is summed in long double from convergent series of ∫ dx/(x^g (1 − x)) (ratio <= 1/2 or
      2/3): w^{n+1−g} terms for w <= 1/2 and (1 − w)^k terms beyond (growth); w^{−(g+n)} terms for
      w >= 3/2 and (w − 1)^k terms below (decay). τ is measured from the finite end of the orbit when
      there is one (w = 0 for growth with g < 1, w = ∞ for decay with g > 0), else from w = 1/2
      (growth) or w = 3/2 (decay); near a finite end τ itself is small and keeps its relative digits.
    * The inverse η(τ), η = ln(w/(1 − w)) (growth) or −ln(w − 1) (decay), is tabulated on cells of
      width FLOW_CELL in an index variable η̂(τ) that is τ itself in the middle of the orbit and
      β ln|τ| towards an end (cells shrink with the distance to the singular end), so a cell is found
      by one multiplication, with no search. Each cell stores η at its centre τ_m (solved by Newton on
      the long-double τ(η), so (τ_m, η_m) is an exact pair to ~1e-19), the local rate λ = dη/dτ and
      the Taylor coefficients of η in z = λ(τ − τ_m) to degree FLOW_DEGREE (series arithmetic on the
      ODE; O(1) numbers wherever the cell is, w = 1e-300 included).
    * `excess(τ)` = e^{−η(τ)}: w = 1/(1 + e) (growth), w = 1 + e (decay), accurate to 1-2 ulp.

    Args:
        g: the exponent (long double, exact to its digits).
        growth: the branch 0 < w < 1 (True) or w > 1 (False).

    >>> flow = PowerFlow(LONG(1), growth=True)               # logistic: η = τ exactly
    >>> e = flow.excess(np.array([-3.0, 0.0, 2.0]))
    >>> np.allclose(e, np.exp(-np.array([-3.0, 0.0, 2.0])), rtol=1e-15)
    True
    """

    def __init__(self, g: Any, growth: bool) -> None:
        g = LONG(g)
        self.g, self.growth = g, growth
        gf = float(g)
        k = np.arange(1, _SERIES_MAX + 1, dtype=LONG)
        pk = _poch_ratio(g, _SERIES_MAX)[1:]
        half = LONG(1) / 2
        if growth:
            self.finite = gf < 1                                # w reaches 0 at a finite time back
            self._near_coef = pk / k                            # (g)_k/(k! k)
            self._near_base = half                              # the near series runs in y = 1 − w <= 1/2
            self._small = [] if self.finite else [n for n in range(int(np.ceil(gf)) + 1) if n + 1 - gf < 0.5]
            self._first = len(self._small) + 1 - g              # first exponent of the plain power terms
            far_at = half                                       # far series in w <= 1/2, ratio w
        else:
            self.finite = gf > 0                                # w reaches ∞ at a finite time back
            self._near_coef = (-1) ** np.arange(1, _SERIES_MAX + 1) * pk / k      # binom(−g, k)/k
            self._near_base = half
            self._small = [] if self.finite else [n for n in range(int(np.ceil(-gf)) + 1) if gf + n < 0.5]
            self._first = len(self._small) + g
            far_at = LONG(3) / 2                                # far series in 1/w <= 2/3
        # Σ of the plain power terms at the junction (w = 1/2 or 3/2): K = Σ_j r^{a_j}/a_j
        a = self._first + np.arange(_SERIES_MAX, dtype=LONG)
        r = far_at if growth else 1 / far_at
        self._junction = np.sum(r ** a / a)
        # τ at the junction: 0 (reference there) or, from a finite end, the whole far sum
        self._tau_junction = self._junction if self.finite else LONG(0)
        self._near_const = np.sum(self._near_coef[:200] * half ** k[:200])
        if growth:
            self.kind = "end" if gf < 1 else ("lin" if gf == 1 else "inf")
            beta = 1 / abs(1 - gf) if gf != 1 else 1.0
        else:
            self.kind = "end" if gf > 0 else ("lin" if gf == 0 else "inf")
            beta = 1 / abs(gf) if gf != 0 else 1.0
        self.beta = max(beta, FLOW_BETA_MIN)
        self.B = self.beta if self.kind == "end" else max(FLOW_UNIFORM, self.beta)
        self._table: tuple[Any, ...] | None = None
        self._kappa: tuple[float, float] | None = None

    # ---------------------------------------------------------------- τ(w) in long double
    def time(self, w: ArrayLike, wc: ArrayLike) -> NDArray:
        """τ(w) in long double; `wc` = |1 − w| given exactly (near w = 1 it carries the digits).

        >>> flow = PowerFlow(LONG(0), growth=True)     # dw/dτ = 1 − w from the end w = 0: τ = −ln(1 − w)
        >>> bool(abs(flow.time(np.array([0.75]), np.array([0.25]))[0] - np.log(LONG(4))) < 1e-18)
        True
        """
        w = np.atleast_1d(np.asarray(w, dtype=LONG))
        y = np.atleast_1d(np.asarray(wc, dtype=LONG))
        out = np.empty(w.shape, dtype=LONG)
        g = self.g
        far = (w <= 0.5) if self.growth else (w >= 1.5)
        if np.any(far):
            wf = w[far]
            tot = np.zeros(wf.shape, dtype=LONG)
            with np.errstate(all="ignore"):
                if self.growth:
                    lw = np.log(2 * wf)                 # terms with small exponent a: 2^{−a} expm1(a ln 2w)/a
                    for n in self._small:
                        a = n + 1 - g
                        tot += lw if a == 0 else LONG(0.5) ** a * np.expm1(a * lw) / a
                    r, p = wf, wf ** self._first
                else:
                    lw = np.log(wf * 2 / 3)             # (2/3)^b expm1(−b ln(2w/3))/b
                    for n in self._small:
                        b = g + n
                        tot += -lw if b == 0 else (LONG(2) / 3) ** b * np.expm1(-b * lw) / b
                    r, p = 1 / wf, wf ** (-self._first)
                s = np.zeros(wf.shape, dtype=LONG)
                for j in range(_terms(float(np.max(r))) - 1, -1, -1):
                    s = s * r + 1 / (self._first + j)
                out[far] = tot + (p * s if self.finite else p * s - self._junction)
        near = ~far
        if np.any(near):
            yn = y[near]
            s = np.zeros(yn.shape, dtype=LONG)
            for j in range(min(_terms(float(np.max(yn))), _SERIES_MAX) - 1, -1, -1):
                s = s * yn + self._near_coef[j]
            with np.errstate(divide="ignore"):
                out[near] = self._tau_junction - np.log(2 * yn) + (self._near_const - s * yn)
        return out

    def _w(self, eta: NDArray) -> tuple[NDArray, NDArray]:
        """(w, |1 − w|) at η (long double)."""
        with np.errstate(over="ignore"):
            if self.growth:
                return 1 / (1 + np.exp(-eta)), 1 / (1 + np.exp(eta))
            v = np.exp(-eta)
            return 1 + v, v

    def _tau_eta(self, eta: NDArray) -> tuple[NDArray, NDArray]:
        """(τ(η), dτ/dη) in long double: dτ/dη = w^{1−g} (growth), w^{−g} (decay)."""
        w, v = self._w(eta)
        return self.time(w, v), (w ** (1 - self.g) if self.growth else w ** (-self.g))

    def eta_of(self, w: ArrayLike, wc: ArrayLike) -> NDArray:
        """η of w (long double): ln(w/(1 − w)) (growth) or −ln(w − 1) (decay), with wc = |1 − w|."""
        w, wc = np.asarray(w, dtype=LONG), np.asarray(wc, dtype=LONG)
        with np.errstate(divide="ignore"):
            return np.log(w) - np.log(wc) if self.growth else -np.log(wc)

    # ---------------------------------------------------------------- the index variable η̂(τ)
    def hat(self, tau: NDArray) -> NDArray:
        """η̂(τ) (a new array): τ in the middle of the orbit, ±B ± β ln(|τ|/B) beyond |τ| = B
        (monotone and continuous; B = β near a finite end, max(64, β) towards τ = −∞)."""
        B, beta = self.B, self.beta
        if self.kind == "lin" or tau.size == 0:
            return tau.copy()
        if self.kind == "end":                  # τ > 0, singular end at τ = 0
            if float(tau.min()) >= B:
                return tau.copy()
            low = np.minimum(tau, B)
            low *= 1.0 / B
            np.log(low, out=low)
            low *= beta
            h = np.maximum(tau, B)
            h += low
            return h
        if float(tau.min()) >= -B:              # τ → −∞ at the singular end
            return tau.copy()
        low = np.negative(tau)
        np.maximum(low, B, out=low)
        low *= 1.0 / B
        np.log(low, out=low)
        low *= beta
        h = np.maximum(tau, -B)
        h -= low
        return h

    def unhat(self, h: NDArray) -> NDArray:
        """τ(η̂), the inverse of `hat`."""
        B, beta = self.B, self.beta
        if self.kind == "lin":
            return h.copy()
        if self.kind == "end":
            return np.where(h >= B, h, B * np.exp((np.minimum(h, B) - B) / beta))
        return np.where(h >= -B, h, -B * np.exp((-B - np.minimum(h, -B)) / beta))

    # ---------------------------------------------------------------- the table
    def table(self, eta_lo: float) -> tuple[Any, ...]:
        """The cell table covering η >= eta_lo (built, or rebuilt lower, on demand; cells are fixed
        in η̂, so a rebuilt table gives bit-identical values on the cells both cover)."""
        tab = self._table
        if tab is not None and tab[0] <= eta_lo:
            return tab
        lo = float(np.floor(min(eta_lo, -8.0) / 8.0) * 8.0)       # in steps of 8: few rebuilds
        if not (lo > -4000.0):
            raise failure("the power-law flow table", f"η = {eta_lo!r}", "the start is too close to the end of the orbit")
        hc = FLOW_CELL
        tau_ends = self._tau_eta(np.array([lo, FLOW_ETA_END], dtype=LONG))[0].astype(float)
        h_ends = self.hat(tau_ends)
        c_lo = int(np.floor(h_ends[0] / hc)) - 2
        c_hi = int(np.ceil(h_ends[1] / hc)) + 1
        tm = self.unhat((np.arange(c_lo, c_hi) + 0.5) * hc)
        # first guess: cubic Hermite of η(τ) on a fixed η grid of step 1/16 (fixed: bit-identical rebuilds)
        ek = np.arange(np.floor(16 * lo) - 64, np.ceil(16 * FLOW_ETA_END) + 64) / 16.0
        tk, dk = self._tau_eta(ek.astype(LONG))
        tk, sk = tk.astype(float), (1 / dk).astype(float)        # τ(η) and dη/dτ at the nodes
        j = np.clip(np.searchsorted(tk, tm) - 1, 0, len(tk) - 2)
        h = tk[j + 1] - tk[j]
        z = (tm - tk[j]) / h
        m0, m1, d = sk[j] * h, sk[j + 1] * h, ek[j + 1] - ek[j]
        eta = (ek[j] + z * (m0 + z * ((3 * d - 2 * m0 - m1) + z * (m0 + m1 - 2 * d)))).astype(LONG)
        target = tm.astype(LONG)
        for _ in range(3):                                         # quadratic: 1e-9 → 1e-18 → exact
            T, dT = self._tau_eta(eta)
            eta = eta - (T - target) / dT
        w, v = self._w(eta)
        lam, coef = _eta_taylor(w.astype(float), v.astype(float), float(self.g), self.growth, FLOW_DEGREE)
        coef = -coef
        E = np.exp(-eta).astype(float)
        # tail: beyond the last cell η grows linearly at the last cell's end (a last, linear cell)
        i_end = int(np.searchsorted(tm, tau_ends[1]))
        i_end = min(max(i_end, 1), len(tm) - 1)
        tm = np.append(tm[:i_end], tau_ends[1])
        wl, vl = self._w(LONG(FLOW_ETA_END))
        lam = np.append(lam[:i_end], float(wl ** (self.g - 1)) if self.growth else float(wl ** self.g))
        coef = np.concatenate([coef[:, :i_end], np.zeros((FLOW_DEGREE, 1))], axis=1)
        coef[0, -1] = -1.0
        E = np.append(E[:i_end], float(np.exp(-LONG(FLOW_ETA_END))))
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(lam) & (lam > 0)) and np.all(np.isfinite(tm))):
            raise failure("the power-law flow table", f"η >= {lo!r}", "its scales leave the double range")
        cap = float(tau_ends[1]) + 1e4
        tab = (lo, hc, c_lo, tm, lam, tuple(coef), E, i_end, cap)
        self._table = tab
        return tab

    def excess(self, tau: NDArray, eta_lo: float | None = None) -> NDArray:
        """e^{−η(τ)} at τ (any shape): w = 1/(1 + e) (growth) or 1 + e (decay); a new array.

        Per value: the cell c = ⌊η̂(τ)/FLOW_CELL⌋ − c_lo, z = λ[c] (τ − τ_m[c]), and
        e = E[c] exp(−Σ_i ẽ_i[c] z^i) (Horner), in blocks of FLOW_BLOCK values that stay in cache.

        Args:
            tau: times on the orbit (double); values beyond the table end are clipped there
                (w is 1 to double precision).
            eta_lo: the lowest η the table must cover (default: τ's minimum, found by bisection).
        """
        tau = np.asarray(tau, dtype=float)
        if eta_lo is None:
            eta_lo = self._eta_at_time(float(tau.min())) if tau.size else -8.0
        tab = self.table(eta_lo)
        flat = tau.reshape(-1)
        out = np.empty(flat.size)
        for a in range(0, flat.size, FLOW_BLOCK):
            out[a:a + FLOW_BLOCK] = self._excess_block(flat[a:a + FLOW_BLOCK], tab)
        return out.reshape(tau.shape)

    def _excess_block(self, tau: NDArray, tab: tuple[Any, ...]) -> NDArray:
        """`excess` of one block (a new array of its size)."""
        _lo, hc, c_lo, tm, lam, coef, E, last, cap = tab
        if tau.size and float(tau.max()) > cap:
            tau = np.minimum(tau, cap)
        h = self.hat(tau)
        h *= 1.0 / hc
        h -= c_lo
        c = h.astype(np.intp)
        np.clip(c, 0, last, out=c)
        x = tm.take(c)
        np.subtract(tau, x, out=x)          # exact or nearly: τ and τ_m are close
        x *= lam.take(c)                    # z = λ (τ − τ_m), |z| <~ FLOW_CELL
        P = coef[-1].take(c)
        for i in range(len(coef) - 2, -1, -1):
            P *= x
            P += coef[i].take(c)
        P *= x
        np.exp(P, out=P)
        P *= E.take(c)
        return P

    def _eta_at_time(self, tau: float) -> float:
        """η at a (double) τ by bisection on the long-double τ(η) (only to size a table)."""
        lo, hi = -4000.0, FLOW_ETA_END
        T = float(self._tau_eta(np.array([lo], dtype=LONG))[0][0])
        if tau <= T:
            return lo
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if float(self._tau_eta(np.array([mid], dtype=LONG))[0][0]) < tau:
                lo = mid
            else:
                hi = mid
        return lo

    def kappa_bound(self, gamma: ArrayLike) -> NDArray:
        """An upper bound of the condition number κ = t̃ |d ln w/dτ| (t̃ = τ − Γ >= 0) over the whole
        orbit from each start Γ: with ρ = |d ln w/dτ| = w^{g−1}|1 − w|, (τ − Γ)ρ <= max(τρ) +
        max(−Γ, 0) max ρ, and τρ alone from a finite end (τ >= Γ >= 0); max(τρ) over τ > 0 and
        max ρ are sampled once per flow (η from −60 to the table end, step 1/8, a 25 % margin).

        >>> flow = PowerFlow(LONG(1), growth=True)     # logistic: κ = t̃ (1 − w) <= |ln w0| + O(1)
        >>> bool(flow.kappa_bound(np.array([-20.0]))[0] > 20)
        True
        """
        if self._kappa is None:
            eta = np.arange(-60 * 8, int(FLOW_ETA_END * 8) + 1) / 8.0
            tau, _d = self._tau_eta(eta.astype(LONG))
            w, v = self._w(eta.astype(LONG))
            rho = (w ** (self.g - 1) * v).astype(float)
            tau = tau.astype(float)
            pos = (tau > 0) | (self.kind == "end")
            self._kappa = (float(np.max(tau[pos] * rho[pos])) if np.any(pos) else 0.0, float(np.max(rho)))
        A, R = self._kappa
        gamma = np.asarray(gamma, dtype=float)
        if self.kind == "end":
            return np.full(gamma.shape, 1.25 * A + 1.0)
        return 1.25 * (A + np.maximum(-gamma, 0.0) * R) + 1.0


_FLOWS: dict[tuple[Any, bool], PowerFlow] = {}


def power_flow(g: Any, growth: bool) -> PowerFlow:
    """The cached `PowerFlow` of exponent g (long double) and branch (at most 64 kept).

    >>> power_flow(LONG(4) / 3, True) is power_flow(LONG(4) / 3, True)
    True
    """
    key = (LONG(g), bool(growth))
    flow = _FLOWS.get(key)
    if flow is None:
        if len(_FLOWS) >= 64:
            _FLOWS.pop(next(iter(_FLOWS)))
        flow = _FLOWS[key] = PowerFlow(key[0], key[1])
    return flow
