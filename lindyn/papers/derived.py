"""Results derived here (THEORY §2-3, tagged [derived]): not a paper's equations, checked two ways.

- `ngd-same-time-constant`: under NGD every mode has time constant τ, whatever s and λ.
- `ngd-singular-crossing`: with det W(0)·det W* < 0 the straight NGD path meets a singular W at
  t* = −τ ln x*, x* the largest root in (0, 1) of det(W* + x(W(0) − W*)); the integrator follows
  det W(t) → 0 up to t* and refuses to pass it.

>>> [c.name for c in CLAIMS]
['ngd-same-time-constant', 'ngd-singular-crossing']
"""
from __future__ import annotations

import math
import numpy as np
import sympy

from lindyn import (GD, NGD, BlockNGD, GivenWeights, Network, Problem, SingularCrossing, Task, aligned_problem,
                    bernacchia, derive, integrate)
from lindyn.claims import CLAIM_FLOW, FLOW_TOL, SYMBOLIC_TOL, Claim, Evidence, Measurement, Plot
from lindyn.papers import curve, expr_difference, rel_max, sample_points

__all__ = ["CLAIMS", "crossing_example", "crossing_time"]

REASON = "full-matrix DOP853 at rtol 1e-10 reaches ~1e-10; symbolic checks are exact or at 40 digits (1e-30)"
#: det W(t)/(t* − t) at t = t*(1 − 1e-5) against d det/dt at t*: the curvature of det along the path leaves a
#: relative error of order 1e-5·t*·|d² det/dt²|/|d det/dt| (measured ~1e-6), the solver ~1e-10/1e-5 = 1e-5 at worst.
RATE_TOL = 1e-4


# --- ngd-same-time-constant ----------------------------------------------------------------------

def _timeconst_symbolic(thorough: bool) -> Evidence:
    lam = sympy.Symbol("lambda", positive=True)
    ms = []
    for L in ((2, 3) if not thorough else (2, 3, 4, 5, 6)):
        tr = derive(NGD(), L, lam=lam)
        sym = tr.symbols
        ms.append(Measurement(f"NGD, L = {L}: derived τu̇ / (s/λ − u) − 1 (time constant τ, free of s and λ)",
                              expr_difference(tr.ode.rhs / (sym.s / lam - sym.u), 1, sample_points(sym, lam=lam)),
                              SYMBOLIC_TOL))
        g = derive(GD(), L)
        sg = g.symbols
        rate = -sympy.diff(g.ode.rhs, sg.u).subs(sg.u, sg.s)
        ms.append(Measurement(f"GD, L = {L}: derived rate at the target − L s^(2−2/L) (depends on s)",
                              expr_difference(rate, L * sg.s ** (2 - sympy.Rational(2, L)), sample_points(sg)),
                              SYMBOLIC_TOL))
    return Evidence("NGD: τu̇ = s/λ − u for every mode; GD rate L s^(2−2/L)", tuple(ms))


def _timeconst_numeric(thorough: bool) -> Evidence:
    s, lam = np.array([4.0, 1.0, 0.01]), np.array([1.0, 2.0, 0.5])
    u0, tau, L = 1e-4, 1.5, 3
    t = np.geomspace(1e-2, 20.0, 40)
    traj = integrate(aligned_problem(s, depth=L, u0=u0, lam=lam, width=3, tau=tau), NGD(), t, method=CLAIM_FLOW)
    frac = (traj.u - u0) / (s / lam - u0)[:, None]
    err = float(np.max(np.abs(frac - (1 - np.exp(-t / tau)))))
    ms = [Measurement("NGD, L = 3, s = 4, 1, 0.01, λ = 1, 2, 0.5: fraction learned vs 1 − e^(−t/τ) (absolute)", err)]
    gd = derive(GD(), L)
    t90 = [gd.learning_time(0.9 * sa, s=sa, u0=u0, tau=tau) for sa in s]
    grid = np.unique(np.concatenate([np.geomspace(1e-2, t90[1] * 1.2, 300), [t90[0]]]))
    g = integrate(aligned_problem(s, depth=L, u0=u0, width=3, tau=tau), GD(), grid, method=CLAIM_FLOW)
    k = int(np.searchsorted(grid, t90[0]))
    gfrac = (g.u - u0) / (s - u0)[:, None]
    ms.append(Measurement("GD: signal mode (s = 4) at its derived time of u = 0.9 s, |u/s − 0.9|",
                          float(abs(g.u[0, k] / s[0] - 0.9))))
    ms.append(Measurement("GD: noise mode (s = 0.01) learned by then (fraction, must stay small)", float(gfrac[2, k]),
                          0.01, "at_most"))
    ms.append(Measurement("GD: derived t90(noise)/t90(signal)", t90[2] / t90[0], 100.0, "at_least"))
    curves = [curve("1 − e^(−t/τ)", t, 1 - np.exp(-t / tau), "-", 7)]
    curves += [curve(f"NGD, s = {s[a]:g}, λ = {lam[a]:g}", t, frac[a], mk, a) for a, mk in zip(range(3), "o^s")]
    curves += [curve(f"GD, s = {s[a]:g}, λ = 1", grid, gfrac[a], st, a) for a, st in zip(range(3), ("--", "-.", ":"))]
    plot = Plot("time_constant", "NGD learns every mode at rate 1/τ; GD waits on weak ones\n"
                "fraction learned, L = 3: under NGD (markers) every mode follows 1 − e^(−t/τ); under GD (lines) the "
                f"noise mode s = 0.01 needs {t90[2] / t90[0]:.0f}× the time of s = 4",
                "t", "(u − u0)/(s/λ − u0)", tuple(curves), xscale="log")
    return Evidence(f"all NGD modes follow 1 − e^(−t/τ) to {err:.1g}; GD noise/signal time ×{t90[2] / t90[0]:.0f}",
                    tuple(ms), plots=(plot,))


# --- ngd-singular-crossing -----------------------------------------------------------------------

_W1, _W2, _WSTAR = ((2, 1), (1, 1)), ((1, 0), (0, -1)), ((3, 1), (1, 2))
#: (rule, rate r of its straight line at L = 2): t* / r is where each meets det W = 0.
_CROSSING_RULES = ((NGD(), 1), (bernacchia(), 1), (BlockNGD(), 2))


def crossing_example() -> Problem:
    """Square 2-2-2 net with det W(0) = −1 < 0 < det W* = 5 (W(0) = W_2 W_1)."""
    W1, W2, Ws = (np.array(x, dtype=float) for x in (_W1, _W2, _WSTAR))
    return Problem(Network((2, 2, 2)), Task(Sigma_yx=Ws), GivenWeights((W1, W2)))


def crossing_time() -> tuple[sympy.Expr, sympy.Expr]:
    """Oracle (the determinant route): (x*, t*) with x* the largest root in (0, 1) of det(W* + x(W(0) − W*)), t* = −ln x*."""
    W0 = sympy.Matrix(_W2) * sympy.Matrix(_W1)
    Ws = sympy.Matrix(_WSTAR)
    x = sympy.Symbol("x", real=True)
    roots = [r for r in sympy.solve((Ws + x * (W0 - Ws)).det(), x) if r.is_real and 0 < r < 1]
    xs = max(roots, key=lambda r: float(r))
    return sympy.nsimplify(xs), -sympy.log(xs)


def _crossing_symbolic(thorough: bool) -> Evidence:
    lam = sympy.Symbol("lambda", positive=True)
    ms = []
    for rule, r in _CROSSING_RULES:
        for gains in ("balanced", "unbalanced"):
            tr = derive(rule, 2, lam=lam) if gains == "balanced" else derive(rule, 2, gains="unbalanced")
            sym = tr.symbols
            target = sym.s / lam if gains == "balanced" else sym.s
            ms.append(Measurement(f"{rule.name}, L = 2, {gains} mode: derived τu̇ − {'' if r == 1 else r}"
                                  f"({'s/λ' if gains == 'balanced' else 's'} − u) (relative; the straight line at "
                                  f"rate {r})",
                                  expr_difference(tr.ode.rhs, r * (target - sym.u), sample_points(sym, lam=lam)),
                                  SYMBOLIC_TOL))
    xs, ts = crossing_time()
    return Evidence(f"the engine derives rate-r straight lines (NGD, Bernacchia r = 1; block NGD r = 2), which meet "
                    f"det W = 0 at $t^* = -\\ln\\bigl({sympy.latex(xs)}\\bigr) \\approx {float(ts):.10f}$ (τ = 1) and t*/2", tuple(ms),
                    (r"t^* = " + sympy.latex(ts),))


def _crossing_numeric(thorough: bool) -> Evidence:
    t_star = float(crossing_time()[1])
    problem = crossing_example()
    W0_end, Ws = problem.initial_weights()[1] @ problem.initial_weights()[0], problem.task.W_star
    E0 = W0_end - Ws
    det0 = abs(np.linalg.det(W0_end))
    ms, curves = [], []
    gaps = 10.0 ** -np.arange(1, 6)                     # t = t*(1 − 10^-k), k = 1..5
    for color, (rule, r) in enumerate(_CROSSING_RULES):
        tc = t_star / r
        t = np.concatenate([[0.0], tc * (1 - gaps)])
        traj = integrate(problem, rule, t, method=CLAIM_FLOW)
        det = np.linalg.det(np.asarray(traj.W_end, dtype=float))
        line = np.array([np.linalg.det(Ws + math.exp(-r * x) * E0) for x in t])
        ms.append(Measurement(f"{rule.name}: det W(t) of the integrated flow up to t*(1 − 1e-5) vs the straight line "
                              "(relative to |det W(0)|)", rel_max(det, line, det0)))
        # rate: det W(t) vanishes linearly, det W(t)/(t* − t) → −d/dt det(W* + e^{−rt}E0) at t* (Jacobi's formula)
        Wc = Ws + math.exp(-r * tc) * E0
        ddet = float(np.trace(_adjugate(Wc) @ (-r * math.exp(-r * tc) * E0)))
        slope = det[-1] / (tc - t[-1])
        ms.append(Measurement(f"{rule.name}: det W(t)/(t* − t) at t*(1 − 1e-5) vs −d det/dt at t* of the oracle "
                              "(relative)", abs(slope + ddet) / abs(ddet), RATE_TOL))
        # t*(1 + 1e-12): t* itself, up to the rounding of two independent float computations of it
        for when, label in ((tc * (1 + 1e-12), "t = t*"), (tc * (1 + 1e-6), "t = t*(1 + 1e-6)")):
            try:
                integrate(problem, rule, [0.0, when], method=CLAIM_FLOW)
                raised, reported = False, None
            except SingularCrossing as exc:
                raised, reported = True, getattr(exc, "time", None)
            ms.append(Measurement(f"{rule.name}: integrate to {label} raises SingularCrossing (1 = yes)",
                                  1.0 if raised else 0.0, 1.0, "at_least"))
        if reported is not None:
            ms.append(Measurement(f"{rule.name}: crossing time the integrator reports vs {'t*' if r == 1 else f't*/{r}'} "
                                  "of the determinant root (relative)", abs(reported - tc) / tc, 1e-9))
        curves.append(curve(f"{rule.name} (integrated, full matrices)", t, det, "ox^"[color], color))
        tt = np.linspace(0, tc, 60)
        curves.append(curve(f"{rule.name}: det(W* + e^(−{'' if r == 1 else r}t)(W(0) − W*))", tt,
                            [np.linalg.det(Ws + math.exp(-r * x) * E0) for x in tt], "--", color))
    plot = Plot("singular_crossing", "The straight NGD path meets a singular W at t*\n"
                "det W(0)·det W* < 0: the straight path meets det W = 0 at t* (NGD, Bernacchia) and t*/2 (block NGD); "
                "the integrator follows it there and stops", "t", "det W(t)", tuple(curves))
    return Evidence(f"det W(t) → 0 linearly at t* = {t_star:.10f} (NGD, Bernacchia) and t*/2 (block NGD); "
                    "SingularCrossing raised at and past t*", tuple(ms), plots=(plot,))


def _adjugate(M: np.ndarray) -> np.ndarray:
    """adj of a 2 x 2 matrix (d det(M) = tr(adj M dM))."""
    return np.array([[M[1, 1], -M[0, 1]], [-M[1, 0], M[0, 0]]])


CLAIMS: tuple[Claim, ...] = (
    Claim("ngd-same-time-constant",
          "Under NGD every mode approaches its target with the same time constant τ, whatever its singular value "
          "or input variance, so a noise mode is fitted as fast as the signal; under GD the rate near the target "
          "is L s^{2−2/L}/τ and weak modes are learned much later.",
          r"\tau\dot u_\alpha = \frac{s_\alpha}{\lambda_\alpha} - u_\alpha\ (\mathrm{NGD}),\quad "
          r"\text{rate}_{\mathrm{GD}} = L\,s^{2-2/L}/\tau",
          "[derived] (THEORY §2, learning speed)", _timeconst_symbolic, _timeconst_numeric, FLOW_TOL, REASON),
    Claim("ngd-singular-crossing",
          "On a square network with det W(0)·det W* < 0, exact NGD (and Bernacchia's rule, and block NGD at "
          "L times the speed) moves W on a straight segment that must pass a singular matrix at "
          "t* = −τ ln x*; the integrated flow reaches det W = 0 there linearly, and lindyn refuses to go past it.",
          r"\det\!\left(W^* + e^{-t^*/\tau}(W(0) - W^*)\right) = 0",
          "[derived] (THEORY §3)", _crossing_symbolic, _crossing_numeric, FLOW_TOL, REASON),
)
