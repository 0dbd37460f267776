"""Saxe, McClelland & Ganguli 2014: exact solutions for the learning dynamics of deep linear networks.

Saxe et al. count layers of neurons: N_l layers, N_l − 1 = L weight matrices. Their Eq. 10-12 are
the two-layer (L = 2) mode ODE, learning time and sigmoid; Eq. 14 is the energy of the deep chain;
Eq. 15 is the balanced mode ODE τu̇ = (N_l − 1)u^{2−2/(N_l−1)}(s − u); Eq. 16 its N_l → ∞ form
τu̇ = N_l u²(s − u); Eq. 17, the integral of Eq. 16, divides by N_l (THEORY §2). The 1/s learning
time is Sec. 1.3 (after Eq. 11). Their formulas below are oracles only: the engine derives its
own from the GD rule (`derive(GD(), L)`).

>>> [c.name for c in CLAIMS]
['saxe-sigmoid', 'deep-mode-eq15-eq17', 'gd-conservation', 'learning-time-scaling']
>>> round(eq17_time(3, 1.0, 1e-3, 0.5), 4)
251.2267
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import sympy

from lindyn import (GD, NGD, Aligned, BlockNGD, Discrete, GivenWeights, Network, Problem, SmallRandom, Task,
                    aligned_problem, conserved_quantities, derive, integrate)
from lindyn.claims import CLAIM_FLOW, FLOW_TOL, MP_DPS, MP_TOL, SYMBOLIC_TOL, Claim, Evidence, Measurement, Plot
from lindyn.papers import curve, expr_difference, rel_max, sample_points

__all__ = ["CLAIMS", "eq11_time", "eq12_u", "eq15_rhs", "eq17_time", "eq15_quadrature_time", "aligned_gains",
           "leakage", "spd", "segment_invertible", "random_problem", "hierarchical_tree_data", "fig3_modes", "learning_time_panels", "formulas_tex",
           "FIG3_LEARNING_RATE", "FIG3_U0", "FIG3_HIDDEN"]

REASON = ("full-matrix DOP853 at rtol 1e-10, atol 1e-12 reaches ~1e-10; symbolic comparisons are exact or at 40 "
          "digits (1e-30), mpmath ones at 30 digits (1e-25); each bound is stated with its measurement")


# --- oracles: the paper's formulas ---------------------------------------------------------------

def eq12_u(s: Any, u0: Any, t: Any, tau: Any = 1.0) -> Any:
    """Eq. 12, u = s/(1 + (s/u0 − 1)e^{−2st/τ}) (written so that it never overflows)."""
    return s / (1 + (s / u0 - 1) * np.exp(-2 * s * np.asarray(t) / tau))


def eq11_time(s: Any, u0: Any, uf: Any, tau: Any = 1.0) -> Any:
    """Eq. 11, t_f = (τ/2s) ln[u_f(s − u0)/(u0(s − u_f))]."""
    return tau / (2 * s) * np.log(uf * (s - u0) / (u0 * (s - uf)))


def eq15_rhs(L: int, u: Any, s: Any) -> Any:
    """Eq. 15 with N_l − 1 = L weight matrices: τu̇ = L u^{2−2/L}(s − u) (sympy or numbers)."""
    return L * u ** (2 - sympy.Rational(2, L)) * (s - u)


def eq17_time(L: int, s: float, u0: float, uf: float) -> float:
    """Eq. 17, the integral of the N_l → ∞ ODE (Eq. 16), with N_l = L + 1 layers of neurons:
    t = (1/N_l)[1/(s u0) − 1/(s u_f) + ln(u_f(s − u0)/(u0(s − u_f)))/s²] (τ = 1)."""
    N_l = L + 1
    return (1 / (s * u0) - 1 / (s * uf) + math.log(uf * (s - u0) / (u0 * (s - uf))) / s ** 2) / N_l


def eq15_quadrature_time(L: int, s: Any, u0: Any, uf: Any) -> Any:
    """Finite-depth learning time by mpmath quadrature of Eq. 15: t = ∫ du/(L u^{2−2/L}(s − u)), τ = 1."""
    L = mpmath.mpf(L)
    return mpmath.quad(lambda v: 1 / (L * v ** (2 - 2 / L) * (s - v)), [u0, (u0 + uf) / 2, uf])


# --- numeric helpers shared with the other papers ------------------------------------------------

def aligned_gains(traj: Any) -> np.ndarray:
    """Per-layer mode gains a_{i,α}(t) = (R_{i+1}ᵀ W_i(t) R_i)_αα of a run from an `Aligned` init: (modes, L, T)."""
    problem = traj.problem
    R = problem.init.bases(problem.network, problem.task)
    n = min(problem.network.widths)
    return np.stack([np.stack([np.diagonal(R[i + 1].T @ Wk @ R[i])[:n] for Wk in W], axis=-1)
                     for i, W in enumerate(traj.W)], axis=1)


def leakage(traj: Any) -> float:
    """max |off-diagonal entry of Uᵀ W(t) V| over the run (0 while the modes stay decoupled)."""
    U, V = traj.problem.bases()
    M = np.einsum("ia,kij,jb->kab", U, np.asarray(traj.W_end, dtype=float), V)
    off = M - np.einsum("kaa->ka", M)[:, :, None] * np.eye(M.shape[1])[None]
    return float(np.max(np.abs(off)))


def spd(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random symmetric positive definite matrix with eigenvalues of order 1."""
    G = rng.normal(size=(n, n))
    return G @ G.T / n + 0.5 * np.eye(n)


def segment_invertible(W0: np.ndarray, W_star: np.ndarray) -> bool:
    """Whether W* + x(W0 − W*) is invertible for all x in [0, 1] (no real eigenvalue of W*⁻¹(W0 − W*) <= −1)."""
    mu = np.linalg.eigvals(np.linalg.solve(W_star, W0 - W_star))
    return not bool(np.any((np.abs(mu.imag) <= 1e-9 * np.abs(mu)) & (mu.real <= -1.0)))


def random_problem(widths: tuple[int, ...], seed: int, tau: float = 1.0, scale: float = 1.0) -> Problem:
    """Random task (Gaussian Σ_yx, random SPD Σ_xx) and Gaussian init W_i ~ N(0, scale²/n_{i−1}).

    On square nets the target is redrawn until the segment from W(0) to W* stays invertible, so
    that straight-line rules never meet a singular W (that case is `ngd-singular-crossing`).
    """
    rng = np.random.default_rng(seed)
    n0, nL = widths[0], widths[-1]
    Syx, Sxx = rng.normal(size=(nL, n0)), spd(n0, rng)
    W = [scale * rng.normal(size=(widths[i + 1], widths[i])) / math.sqrt(widths[i]) for i in range(len(widths) - 1)]
    if n0 == nL:
        end = np.linalg.multi_dot(W[::-1]) if len(W) > 1 else W[0]
        for _ in range(1000):
            if segment_invertible(end, np.linalg.solve(Sxx.T, Syx.T).T):
                break
            Syx = rng.normal(size=(nL, n0))
    return Problem(Network(tuple(widths)), Task(Sigma_yx=Syx, Sigma_xx=Sxx), GivenWeights(tuple(W)), tau=tau)


def _latex_eq(lhs: str, rhs: Any) -> str:
    return f"{lhs} = {sympy.latex(rhs)}"


def _text(expr: Any) -> str:
    """A derived expression inside a summary: sympy's LaTeX printer (the report typesets it, the table
    shows it as Unicode via `lindyn.claims.plain_text`)."""
    return sympy.latex(expr)


# --- saxe-sigmoid --------------------------------------------------------------------------------

def _sigmoid_symbolic(thorough: bool) -> Evidence:
    tr = derive(GD(), 2)
    sym = tr.symbols
    s, u, u0, t, tau = sym.s, sym.u, sym.u0, sym.t, sym.tau
    pts = sample_points(sym)
    eq10 = 2 * u * (s - u)
    eq12 = s * sympy.exp(2 * s * t / tau) / (sympy.exp(2 * s * t / tau) - 1 + s / u0)
    eq11 = tau / (2 * s) * sympy.log(u * (s - u0) / (u0 * (s - u)))
    ms = [Measurement("derived ODE − Eq. 10 (relative; 0 = proved by sympy)", expr_difference(tr.ode.rhs, eq10, pts), SYMBOLIC_TOL),
          Measurement("derived u(t) − Eq. 12 (relative)", expr_difference(tr.u, eq12, pts), SYMBOLIC_TOL),
          Measurement("derived t(u) − Eq. 11 (relative)", expr_difference(tr.t_of_u, eq11, pts), SYMBOLIC_TOL)]
    f = tr.lambdify("mpmath")
    worst = 0.0
    cases = [(2, "0.01", "0.5"), (2, "0.01", "2"), (1, "1e-6", "7.5")] + ([(5, "1e-9", "3"), (0.3, "1e-3", "40")] if thorough else [])
    with mpmath.workdps(MP_DPS + 10):
        for s_v, u0_v, t_v in cases:
            S, U0, T = mpmath.mpf(s_v), mpmath.mpf(u0_v), mpmath.mpf(t_v)
            oracle = S / (1 + (S / U0 - 1) * mpmath.exp(-2 * S * T))
            worst = max(worst, float(abs(f(T, s=S, u0=U0, dps=MP_DPS) - oracle) / oracle))
    ms.append(Measurement(f"derived u(t), mpmath {MP_DPS} digits, vs Eq. 12 (relative, {len(cases)} cases)", worst, MP_TOL))
    latex = (_latex_eq(r"\tau\dot u", tr.ode.rhs), _latex_eq("u(t)", tr.u), _latex_eq("t(u)", tr.t_of_u))
    return Evidence(f"$\\tau\\dot u = {_text(tr.ode.rhs)}$ = Eq. 10; u(t) = Eq. 12, t(u) = Eq. 11", tuple(ms), latex)


def _sigmoid_numeric(thorough: bool) -> Evidence:
    s = np.array([3.0, 2.0, 1.0])
    u0, tau = 1e-3, 1.5
    grid = np.linspace(0.0, 8.0, 81 if not thorough else 321)
    uf = 0.9 * s
    t_f = eq11_time(s, u0, uf, tau)
    times = np.unique(np.concatenate([grid, t_f]))
    traj = integrate(aligned_problem(s, depth=2, u0=u0, width=4, tau=tau), GD(), times, method=CLAIM_FLOW)
    oracle = np.stack([eq12_u(s_a, u0, times, tau) for s_a in s])
    err12 = max(rel_max(traj.u[a], oracle[a], s[a]) for a in range(len(s)))
    idx = [int(np.searchsorted(times, x)) for x in t_f]
    err11 = max(abs(traj.u[a, idx[a]] - uf[a]) / s[a] for a in range(len(s)))
    ms = (Measurement("full-matrix flow (widths 3-4-3, 3 modes) vs Eq. 12, |Δu|/s", err12),
          Measurement("u at Eq. 11's time for u_f = 0.9 s, |u − u_f|/s", float(err11)),
          Measurement("leakage between modes (max off-diagonal of UᵀWV)", leakage(traj), 1e-10))
    curves = []
    for a in range(len(s)):
        curves.append(curve(f"Eq. 12, s = {s[a]:g}", grid, eq12_u(s[a], u0, grid, tau), "-", a))
        curves.append(curve(f"full-matrix flow, s = {s[a]:g}", times[::4], traj.u[a][::4], "o", a))
    plot = Plot("saxe_sigmoid", "Two-layer GD: every mode follows Eq. 12's sigmoid\nfull-matrix flow (markers, "
                f"widths 3-4-3) on Saxe et al.'s Eq. 12 (lines), s = 3, 2, 1, u0 = {u0:g}, τ = {tau:g}", "t",
                "mode strength u",
                tuple(curves))
    return Evidence(f"flow matches Eq. 12 to {err12:.1g}", ms, plots=(plot,))


# --- deep-mode-eq15-eq17 -------------------------------------------------------------------------

def _t_half(L: int) -> sympy.Expr:
    """The derived GD learning time t(u0 = 1e-3 → 0.5) at s = 1, τ = 1, depth L (exact expression)."""
    tr = derive(GD(), L)
    sym = tr.symbols
    return tr.t_of_u.subs({sym.s: 1, sym.u0: sympy.Rational(1, 1000), sym.u: sympy.Rational(1, 2), sym.tau: 1})


def _deep_symbolic(thorough: bool) -> Evidence:
    ms, latex = [], []
    for L in ((3, 4) if not thorough else (2, 3, 4, 5, 6, 8)):
        tr = derive(GD(), L)
        sym = tr.symbols
        ms.append(Measurement(f"L = {L} (N_l = {L + 1}): derived ODE − Eq. 15 (relative)",
                              expr_difference(tr.ode.rhs, eq15_rhs(L, sym.u, sym.s), sample_points(sym)), SYMBOLIC_TOL))
        latex.append(_latex_eq(rf"L={L}:\ \tau\dot u", tr.ode.rhs))
    exact3 = float(sympy.N(_t_half(3), 20))
    ratio = eq17_time(3, 1.0, 1e-3, 0.5) / exact3
    ms.append(Measurement("Eq. 17 (N_l = 4) / derived exact time at L = 3 (Eq. 17 is far off at finite depth)",
                          ratio, 10.0, "at_least"))
    summary = (f"τu̇ = L u^(2−2/L)(s − u) = Eq. 15; L = 3, 1e-3 → 0.5: t = {exact3:.4f} exact, Eq. 17 (N_l = 4) "
               f"gives {eq17_time(3, 1.0, 1e-3, 0.5):.4f} (×{ratio:.2f})")
    return Evidence(summary, tuple(ms), tuple(latex))


def _deep_numeric(thorough: bool) -> Evidence:
    ms, exact_t = [], {}
    s, u0 = np.array([1.0, 2.0]), 1e-3
    for L in ((3, 4) if not thorough else (2, 3, 4, 5, 6)):
        # mpmath quadrature of Eq. 15 against the derived closed form (independent of the engine)
        with mpmath.workdps(MP_DPS + 5):
            quad = eq15_quadrature_time(L, mpmath.mpf(1), mpmath.mpf(1) / 1000, mpmath.mpf(1) / 2)
            exact = mpmath.mpf(str(sympy.N(_t_half(L), MP_DPS + 5)))
            ms.append(Measurement(f"L = {L}: derived t(1e-3 → 0.5) vs mpmath quadrature of Eq. 15 (relative)",
                                  float(abs(exact - quad) / quad), MP_TOL))
        tr = derive(GD(), L)
        t_half = np.array([tr.learning_time(sa / 2, s=sa, u0=u0) for sa in s])
        t17 = np.array([eq17_time(L, sa, u0, sa / 2) for sa in s])
        times = np.unique(np.concatenate([t_half, t17]))
        traj = integrate(aligned_problem(s, depth=L, u0=u0, width=3), GD(), times, method=CLAIM_FLOW)
        k = [int(np.searchsorted(times, x)) for x in t_half]
        k17 = [int(np.searchsorted(times, x)) for x in t17]
        ms.append(Measurement(f"L = {L}: full-matrix u at the derived time of u = s/2, |u − s/2|/s",
                              float(max(abs(traj.u[a, k[a]] - s[a] / 2) / s[a] for a in range(len(s))))))
        ms.append(Measurement(f"L = {L}: at Eq. 17's time the mode is already learned, min u/s",
                              float(min(traj.u[a, k17[a]] / s[a] for a in range(len(s)))), 0.99, "at_least"))
        exact_t[L] = t_half[0]
    deep = {}
    with mpmath.workdps(20):
        for L in (3, 10, 100, 1000):
            deep[L] = eq17_time(L, 1.0, 1e-3, 0.5) / float(eq15_quadrature_time(L, mpmath.mpf(1), mpmath.mpf("1e-3"),
                                                                               mpmath.mpf("0.5")))
    ms.append(Measurement("|Eq. 17 / quadrature of Eq. 15 − 1| at L = 1000 (Eq. 17 is the deep asymptote)",
                          abs(deep[1000] - 1), 0.05, "at_most"))
    ms.append(Measurement("Eq. 17 / exact decreases towards 1 over L = 3, 10, 100, 1000 (0 = monotone)",
                          float(sum(max(0.0, deep[b] - deep[a]) for a, b in zip((3, 10, 100), (10, 100, 1000)))), 0.0,
                          "at_most"))
    Ls = np.arange(2, 9)
    derived_t = [derive(GD(), int(L)).learning_time(0.5, s=1.0, u0=u0) for L in Ls]
    plot = Plot("saxe_depth", "Eq. 17 is far above the exact learning time at small L\nbalanced GD mode, s = 1, "
                "u: 1e-3 → 0.5; exact time derived from Eq. 15 (reached by the full-matrix flow), and Saxe et al.'s "
                "Eq. 17 with N_l = L + 1", "depth L (weight matrices)", "learning time t",
                (curve("exact (derived from Eq. 15)", Ls, derived_t, "-"),
                 curve("full-matrix flow reaches s/2 at the derived time", list(exact_t), list(exact_t.values()), "o"),
                 curve("Saxe Eq. 17 (N_l = L + 1; the deep asymptote)", Ls, [eq17_time(int(L), 1.0, u0, 0.5) for L in Ls],
                       "--")), yscale="log")
    return Evidence(f"quadrature of Eq. 15 = derived time; full-matrix GD reaches s/2 then; Eq. 17/exact = "
                    f"{deep[3]:.2f} at L = 3, {deep[1000]:.3f} at L = 1000", tuple(ms), plots=(plot,))


# --- gd-conservation -----------------------------------------------------------------------------

def _same_invariants(derived: Any, oracle: Any) -> float:
    """0 when each oracle invariant is a constant multiple of some derived one, else 1."""
    for o in oracle:
        if not any(not sympy.simplify(c / o).free_symbols for c in derived):
            return 1.0
    return 0.0


def _conservation_symbolic(thorough: bool) -> Evidence:
    ms, latex = [], []
    for L in ((2, 3) if not thorough else (2, 3, 4, 5)):
        tr = derive(GD(), L, gains="unbalanced")
        a = tr.symbols.gains
        oracle = [a[i] ** 2 - a[i + 1] ** 2 for i in range(L - 1)]
        ms.append(Measurement(f"L = {L}: conserved quantities of the derived unbalanced mode are a_i² − a_(i+1)² "
                              "(0 = yes)", _same_invariants(tr.conserved, oracle)))
        ms.append(Measurement(f"L = {L}: invariants separated from GD's layer velocities (conserved_quantities) "
                              "are a_i² − a_(i+1)² (0 = yes)", _same_invariants(conserved_quantities(GD(), L), oracle)))
        latex += [sympy.latex(c) + r" = \mathrm{const}" for c in tr.conserved]
    return Evidence("a_i² − a_(i+1)² conserved (derived from GD's per-layer velocities)", tuple(ms), tuple(latex))


def _conservation_numeric(thorough: bool) -> Evidence:
    times = np.linspace(0.0, 10.0, 51)
    traj = integrate(aligned_problem([2.0, 1.0], depth=3, gains=[[1.2, 0.4, 0.7]], width=3), GD(), times,
                     method=CLAIM_FLOW)
    G = aligned_gains(traj)[:2]                                  # (modes, L, T)
    Q = G[:, :-1, :] ** 2 - G[:, 1:, :] ** 2
    drift = float(np.max(np.abs(Q - Q[..., :1]) / np.maximum(1.0, np.abs(Q[..., :1]))))
    ms = [Measurement("aligned unbalanced init (L = 3): drift of a_i² − a_(i+1)², relative to max(1, |Q(0)|)", drift),
          Measurement("…while the gains themselves move by", float(np.max(np.abs(G - G[..., :1]))), 0.1, "at_least")]
    cases = [((3, 4, 5, 2), 0)] + ([((4, 4, 4, 4), 1), ((2, 6, 3), 2), ((3, 3, 3, 3, 3), 3)] if thorough else [])
    for widths, seed in cases:
        tr = integrate(random_problem(widths, seed, scale=0.8), GD(), [0.0, 1.0, 3.0, 10.0], method=CLAIM_FLOW)
        for i, C in enumerate(tr.balance):
            scale = max(1.0, float(np.max(np.abs(C[0]))))
            ms.append(Measurement(f"generic init, widths {'-'.join(map(str, widths))}: drift of C_{i + 1} = "
                                  f"W_{i + 2}ᵀW_{i + 2} − W_{i + 1}W_{i + 1}ᵀ (relative)",
                                  float(np.max(np.abs(C - C[0]))) / scale))
    curves = [curve(f"a_{i + 1}² − a_{i + 2}² (mode 1)", times, Q[0, i], "-") for i in range(2)]
    curves += [curve(f"a_{i + 1}(t) (mode 1)", times, G[0, i], ":") for i in range(3)]
    plot = Plot("gd_conservation", "GD conserves a_i² − a_j² while the gains move\nGD, depth 3, unbalanced aligned "
                "init, mode 1: the differences of squared gains (solid) stay constant, the gains (dotted) do not",
                "t", "value", tuple(curves))
    return Evidence(f"drift {drift:.1g} on gains, C_i conserved from generic init", tuple(ms), plots=(plot,))


# --- learning-time-scaling -----------------------------------------------------------------------

def _scaling_cases(thorough: bool) -> list[tuple[Any, int, sympy.Expr]]:
    R = sympy.Rational
    base = [(GD(), 2, sympy.Integer(-1)), (GD(), 3, R(-4, 3)), (NGD(), 3, sympy.Integer(0))]
    if thorough:
        base += [(GD(), 4, R(-3, 2)), (GD(), 5, R(-8, 5)), (BlockNGD(q=Fraction(1, 2)), 2, R(-1, 2)),
                 (BlockNGD(q=Fraction(1, 2)), 3, R(-2, 3))]
    return base


def _scaling_symbolic(thorough: bool) -> Evidence:
    ms = []
    for rule, L, p in _scaling_cases(thorough):
        tr = derive(rule, L)
        sym = tr.symbols
        T = tr.t_of_u.subs({sym.u: sym.s / 2, sym.u0: sym.s / 1000})
        exponent = sym.s * sympy.diff(T, sym.s) / T
        pts = [{sym.s: v, sym.tau: 1} for v in (sympy.Rational(1, 3), 1, sympy.Rational(7, 2))]
        ms.append(Measurement(f"{rule.name}, L = {L}: derived d ln t / d ln s − ({p}) for u: s/1000 → s/2",
                              expr_difference(exponent, p, pts), SYMBOLIC_TOL))
    return Evidence("t ∝ s^(−g): 1/s at L = 2 (Saxe), s^(−4/3) at L = 3, s⁰ for NGD", tuple(ms))


def _scaling_numeric(thorough: bool) -> Evidence:
    s = np.array([0.5, 1.0, 2.0, 4.0])
    ms, curves = [], []
    styles = iter(["o", "s", "^", "D", "v", "x", "+"])
    for color, (rule, L, p) in enumerate(_scaling_cases(thorough)):
        # the derived time at s = 1, scaled by s^p, is the claim's prediction that the full-matrix flow must meet
        t_ref = derive(rule, L).learning_time(0.5, s=1.0, u0=1e-3)
        t_pred = t_ref * s ** float(p)
        order = np.argsort(t_pred)
        traj = integrate(aligned_problem(s, depth=L, u0=s / 1000, width=4), rule, t_pred[order], method=CLAIM_FLOW)
        w = np.array([traj.u[a, int(np.where(order == a)[0][0])] / s[a] for a in range(len(s))])
        ms.append(Measurement(f"{rule.name}, L = {L}: full-matrix u/s at t(s = 1) s^{{{p}}} vs 1/2 (4 modes, s = 0.5–4)",
                              float(np.max(np.abs(w - 0.5)))))
        sg = np.geomspace(0.3, 5, 30)
        curves.append(curve(f"{rule.name}, L = {L}: t(s = 1) s^{{{p}}}" if p != 0 else f"{rule.name}, L = {L}: t(s = 1)",
                            sg, t_ref * sg ** float(p), "-", color))
        curves.append(curve(f"{rule.name}, L = {L}: full-matrix flow at s/2", s, t_pred, next(styles), color))
    plot = Plot("learning_time_s", "Learning time ∝ s^(−g): 1/s for two-layer GD, s⁰ for NGD\ntime for a mode to "
                "go from s/1000 to s/2: the derived time at s = 1 scaled by s^(−g) (lines) and where the full-matrix "
                "flow reaches s/2 (markers)", "singular value s",
                "learning time t", tuple(curves), "log", "log")
    return Evidence("each mode reaches s/2 at the scaled time", tuple(ms), plots=(plot,))


CLAIMS: tuple[Claim, ...] = (
    Claim("saxe-sigmoid",
          "A two-layer linear network trained by gradient descent learns each input-output mode along the "
          "sigmoid u(t) of Eq. 12, the solution of τu̇ = 2u(s − u) (Eq. 10), reaching u_f at Eq. 11's time.",
          r"u(t) = \frac{s\,e^{2st/\tau}}{e^{2st/\tau} - 1 + s/u_0},\quad "
          r"t_f = \frac{\tau}{2s}\ln\frac{u_f(s-u_0)}{u_0(s-u_f)}",
          "Saxe et al. 2014, Eq. 10-12", _sigmoid_symbolic, _sigmoid_numeric, FLOW_TOL, REASON),
    Claim("deep-mode-eq15-eq17",
          "A balanced mode of a network with L = N_l − 1 weight matrices obeys τu̇ = L u^{2−2/L}(s − u) under GD "
          "(Eq. 15); its exact finite-depth learning time follows from this ODE, while Eq. 17 (the integral of the "
          "N_l → ∞ Eq. 16, divided by N_l) is only the deep asymptote and overestimates the time 27-fold at L = 3.",
          r"\tau\dot u = L\,u^{2-2/L}(s-u),\quad t_{\text{Eq.17}}/t_{\text{exact}} \to 1 \ (L\to\infty)",
          "Saxe et al. 2014, Eq. 15-17 (N_l = L + 1 layers of neurons)", _deep_symbolic, _deep_numeric,
          FLOW_TOL, REASON),
    Claim("gd-conservation",
          "Under gradient descent the per-layer gains of an aligned mode keep a_i² − a_j² constant; in matrix "
          "form C_i = W_{i+1}ᵀW_{i+1} − W_iW_iᵀ is constant from any initialisation.",
          r"\frac{d}{dt}\left(a_i^2 - a_j^2\right) = 0,\quad "
          r"\frac{d}{dt}\left(W_{i+1}^\top W_{i+1} - W_iW_i^\top\right) = 0",
          "Saxe et al. 2014, Sec. 3 (GD on the energy of Eq. 14); matrix form C_i: [derived]",
          _conservation_symbolic, _conservation_numeric, FLOW_TOL, REASON),
    Claim("learning-time-scaling",
          "The time a mode needs between fixed fractions of its target scales as 1/s for two-layer GD "
          "(Saxe), as s^{−(2−2/L)} at depth L, and does not depend on s under NGD.",
          r"t \propto s^{-g},\quad g_{\mathrm{GD}} = 2 - 2/L,\ g_{\mathrm{NGD}} = 0",
          "Saxe et al. 2014, Sec. 1.3 (1/s, after Eq. 11); depth L and NGD: [derived]",
          _scaling_symbolic, _scaling_numeric, FLOW_TOL, REASON),
)


# --- experiments and figure data of derivations/saxe2014.py --------------------------------------

#: Saxe et al.'s Fig. 3 settings: learning rate λ = 0.5e-3 (τ = 1/λ), initial mode strength 1e-6, 32 hidden units.
FIG3_LEARNING_RATE, FIG3_U0, FIG3_HIDDEN = 0.5e-3, 1e-6, 32


def hierarchical_tree_data(levels: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Items at the leaves of a binary tree with `levels` levels; one output feature per tree node.

    Item i has feature k = 1 when node k is on the path from the root to leaf i (Saxe et al. 2014,
    hierarchically structured data). Inputs are one-hot scaled by √P so that Σ_xx = I.

    Returns:
        X (P x P) and Y (nodes x P), P = 2^(levels−1) items, 2^levels − 1 nodes.
    """
    P = 2 ** (levels - 1)
    rows = []
    for depth in range(levels):
        width = P // 2 ** depth
        for node in range(2 ** depth):
            row = np.zeros(P)
            row[node * width:(node + 1) * width] = 1.0
            rows.append(row)
    return np.sqrt(P) * np.eye(P), np.array(rows)


def fig3_modes() -> tuple[Plot, float]:
    """Fig. 3 redone: closed-form u(t) per mode vs full-matrix flow and plain GD from a small random init.

    Returns:
        The plot and max |flow − closed form| over the modes.
    """
    X, Y = hierarchical_tree_data(5)
    task = Task.from_data(X, Y)
    s = np.linalg.svd(task.Sigma_yx, compute_uv=False)
    s = s[s > 1e-9]
    network = Network((X.shape[0], FIG3_HIDDEN, Y.shape[0]))
    tau = 1.0 / FIG3_LEARNING_RATE
    aligned = Problem(network, task, Aligned.balanced(np.full(len(s), FIG3_U0), depth=2), tau=tau)
    random = Problem(network, task, SmallRandom(scale=float(np.sqrt(FIG3_U0 / np.sqrt(FIG3_HIDDEN))), seed=0), tau=tau)
    t = np.linspace(0.0, 8.0e4, 321)
    closed = derive(GD(), 2).evaluate(t, s=s, u0=FIG3_U0, tau=tau)
    flow = integrate(aligned, GD(), t)
    plain = integrate(random, GD(), t, method=Discrete(lr=1.0))     # one step = one iteration at rate λ
    curves = []
    _, first = np.unique(np.round(s, 9), return_index=True)
    for color, a in enumerate(sorted(first, key=lambda k: -s[k])):
        mult = int(np.sum(np.isclose(s, s[a])))
        curves.append(curve(f"s = {s[a]:.3g} ({mult} mode{'s' if mult > 1 else ''}): closed form", t, closed[a], "-", color))
        curves.append(curve("full-matrix flow, aligned u0 = 1e-6" if color == 0 else "", t[::10], flow.u[a][::10], "o", color))
        curves.append(curve("plain GD, small random init (|u|)" if color == 0 else "", plain.t, np.abs(plain.u[a]), "--",
                            color))
    plot = Plot("saxe2014_fig3_modes", "Saxe et al. 2014, Fig. 3: stronger modes are learned first\nhierarchical "
                "data (5-level binary tree), 16-32-31 network; each tree level is one mode strength s",
                "t (iterations at learning rate 0.5e-3)", "mode strength u", tuple(curves))
    return plot, float(np.max(np.abs(flow.u[: len(s)] - closed)))


def learning_time_panels() -> tuple[Plot, Plot]:
    """Learning time u0 = s/1000 → s/2 against s (L = 2, 3, 4), and against depth (exact vs Eq. 17)."""
    s_grid = np.geomspace(0.2, 5.0, 40)
    left = [curve(f"L = {L} (derived)", s_grid,
                  [derive(GD(), L).learning_time(sv / 2, s=sv, u0=sv / 1000) for sv in s_grid], "-", k)
            for k, L in enumerate((2, 3, 4))]
    left.append(curve("∝ 1/s", s_grid, 3.0 / s_grid, ":"))
    depths = np.arange(2, 11)
    exact = [derive(GD(), int(L)).learning_time(0.5, s=1.0, u0=1e-3) for L in depths]
    eq17 = [eq17_time(int(L), 1.0, 1e-3, 0.5) for L in depths]
    right = (curve("exact, from τu̇ = L u^(2−2/L)(s − u) (Eq. 15)", depths, exact, "o"),
             curve("Eq. 17 with N_l = L + 1 (the deep asymptote)", depths, eq17, "s"))
    return (Plot("learning_time_s", "GD: t ∝ s^(−(2−2/L)), 1/s at L = 2", "singular value s",
                 "time from u = s/1000 to s/2 (τ = 1)", tuple(left), "log", "log"),
            Plot("learning_time_depth", f"L = 3: exact {exact[1]:.4f}, Eq. 17 {eq17[1]:.4f} (×{eq17[1] / exact[1]:.2f})\n"
                 "exact learning time from Eq. 15 and Saxe et al.'s Eq. 17 with N_l = L + 1 layers of neurons",
                 "depth L (weight matrices)", "time from u = 1e-3 to 0.5 (s = 1, τ = 1)", right, yscale="log"))


def formulas_tex() -> str:
    """The derived formulas (GD, L = 2, 3, 4, the unbalanced two-layer mode) and the Eq. 17 table, as LaTeX."""
    parts = ["% Saxe et al. 2014, derived by lindyn from the GD rule (python derivations/saxe2014.py)"]
    for L in (2, 3, 4):
        parts += [f"% balanced mode, depth L = {L}", derive(GD(), L).latex()]
    parts += ["% unbalanced two-layer mode (per-layer gains a_1(0), a_2(0))", derive(GD(), 2, gains="unbalanced").latex()]
    rows = []
    for L in (2, 3, 4, 6, 10):
        t = derive(GD(), L).learning_time(0.5, s=1.0, u0=1e-3)
        t17 = eq17_time(L, 1.0, 1e-3, 0.5)
        rows.append(f"{L} & {L + 1} & {t:.10g} & {t17:.7g} & {t17 / t:.4g} \\\\")
    parts.append("\\begin{tabular}{rrrrr}\n$L$ & $N_l$ & exact $t$ & Eq.~17 & ratio\\\\ \\hline\n" + "\n".join(rows)
                 + "\n\\end{tabular}\n")
    return "\n".join(parts)
