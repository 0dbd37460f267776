"""Huh 2020: curvature-corrected learning dynamics in deep linear networks (natural gradient of power q).

Claims: the generalized conservation law (full NGD^q keeps GD's invariants C_i and so GD's path;
block rules break them) and the parameter speed at small init (q = 1/2 keeps a bounded, non-zero
speed). The speed comes from the engine: `parameter_speed(rule, L)` applies the chain rule to the
derived mode ODE (u = a^L, ‖θ̇‖ = √L·ȧ on a balanced mode) and is checked against the full-matrix
velocity the integrator applies (`flow_speed`, from `lindyn.layer_velocities`).

>>> [c.name for c in CLAIMS]
['ngd-gd-path', 'parameter-speed-small-init']
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import sympy

from lindyn import (GD, NGD, BlockNGD, GivenWeights, Network, Problem, Task, aligned_problem, bernacchia,
                    conserved_quantities, derive, integrate, layer_velocities)
from lindyn.claims import CLAIM_FLOW, FLOW_TOL, Claim, Evidence, Measurement, Plot
from lindyn.papers import curve
from lindyn.papers.saxe2014 import aligned_gains, segment_invertible

__all__ = ["CLAIMS", "parameter_speed", "flow_speed", "speed_limit", "paths_panel", "balance_panel",
           "fractional_panels", "formulas_tex", "balanced_nonaligned"]

HALF = Fraction(1, 2)
#: A rule "breaks" a conserved quantity when it changes by at least this much (THEORY §3: imbalance of
#: order 0.1-5 from a balanced, task-non-aligned init; the conserving rules stay below 1e-9).
BREAK_MIN = 1e-2
#: The full-matrix speed is the norm of the rule's layer velocities at W(0) in float64 (a few roundings, ~1e-15
#: relative); the derived speed is evaluated with mpmath: 1e-10 leaves five orders of margin.
SPEED_TOL = 1e-10

_PATH_RULES = (GD(), NGD(), NGD(q=HALF), BlockNGD(), bernacchia(), BlockNGD(q=HALF))
_KEEPS_PATH = {"gd", "ngd", "ngd(q=1/2)"}
_SPEED_RULES = (GD(), NGD(), BlockNGD(), NGD(q=HALF), BlockNGD(q=HALF))


# --- the engine's parameter speed, and the oracle ------------------------------------------------

def parameter_speed(rule: Any, L: int) -> tuple[sympy.Expr, Any]:
    """‖θ̇‖ on a balanced mode from the derived mode ODE (τ = 1): √L·ȧ, ȧ = u̇/(L u^{(L−1)/L}).

    Every layer gain of a balanced mode is a = u^{1/L} and moves at ȧ, so the parameter velocity
    has L equal components of size ȧ.

    Returns:
        (expression in the trajectory's symbols u and s, those symbols).

    >>> expr, sym = parameter_speed(GD(), 2)
    >>> sympy.simplify(expr.subs(sym.u, sym.s))
    0
    """
    tr = derive(rule, L)
    sym = tr.symbols
    udot = tr.ode.rhs.subs(sym.tau, 1)
    return sympy.sqrt(L) * udot / (L * sym.u ** sympy.Rational(L - 1, L)), sym


def speed_limit(rule: Any, L: int, s: Any) -> Any:
    """Oracle, THEORY §3: lim_{u→0} ‖θ̇‖ = 0 (GD), ∞ (NGD, block NGD), √L·s (block q = ½), s (full q = ½)."""
    return {"gd": sympy.Integer(0), "ngd": sympy.oo, "blockdiag": sympy.oo,
            "ngd(q=1/2)": s, "blockdiag(q=1/2)": sympy.sqrt(L) * s}[rule.name]


def flow_speed(problem: Problem, rule: Any) -> float:
    """‖θ̇(0)‖ of the full-matrix dynamics: the norm of the layer velocities the integrator applies at W(0)."""
    return float(np.sqrt(sum(np.sum(v ** 2) for v in layer_velocities(problem, rule))))


# --- parameter-speed-small-init ------------------------------------------------------------------

def _speed_symbolic(thorough: bool) -> Evidence:
    ms, found = [], []
    for L in ((3,) if not thorough else (2, 3, 4, 5)):
        for rule in _SPEED_RULES:
            expr, sym = parameter_speed(rule, L)
            lim = sympy.limit(expr, sym.u, 0, "+")
            oracle = speed_limit(rule, L, sym.s)
            same = lim == oracle or sympy.simplify(lim - oracle) == 0
            ms.append(Measurement(f"L = {L}, {rule.name}: lim_(u→0) ‖θ̇‖ of the derived mode, ${sympy.latex(lim)}$, "
                                  f"vs ${sympy.latex(oracle)}$ (0 = equal)", 0.0 if same else 1.0))
            # the unbalanced derivation reduces to the first layer's gain: at equal gains ȧ_1 must be ȧ
            un = derive(rule, L, gains="unbalanced")
            if not un.ode.lhs.has(sympy.Function("u")(un.symbols.t)):
                a, a0 = un.symbols.gains[0], un.symbols.gains0
                adot = un.ode.rhs.subs(un.symbols.tau, 1).subs({g: a for g in a0})
                balanced = (expr / sympy.sqrt(L)).subs(sym.u, a ** L).subs(sym.s, un.symbols.s)
                diff = sympy.simplify(adot - balanced)
                ms.append(Measurement(f"L = {L}, {rule.name}: derived unbalanced ȧ_1 at equal gains − ȧ of the "
                                      "balanced mode (0 = equal)", 0.0 if diff == 0 else 1.0))
            if L == 3:
                found.append(f"{rule.name} → ${sympy.latex(lim)}$")
    return Evidence("L = 3: " + ", ".join(found), tuple(ms))


def _speed_numeric(thorough: bool) -> Evidence:
    L, s = 3, 1.5
    u0s = (1e-4, 1e-8, 1e-12)
    ms, curves = [], []
    markers = iter(["o", "s", "^", "D", "v"])
    for color, rule in enumerate(_SPEED_RULES):
        expr, sym = parameter_speed(rule, L)
        f = sympy.lambdify(sym.u, expr.subs(sym.s, s), "mpmath")
        speeds = [flow_speed(aligned_problem([s], depth=L, u0=u0, width=3), rule) for u0 in u0s]
        derived = [float(f(mpmath.mpf(u0))) for u0 in u0s]
        ms.append(Measurement(f"{rule.name}: full-matrix speed ‖layer_velocities‖ at u0 = 1e-4, 1e-8, 1e-12 vs "
                              "the derived speed (relative)", max(abs(a - b) / abs(b) for a, b in zip(speeds, derived)),
                              SPEED_TOL))
        ratio = speeds[-1] / speeds[0]
        if rule.name == "gd":
            ms.append(Measurement("gd: full-matrix speed(1e-12)/speed(1e-4) (vanishing)", ratio, 1e-3, "at_most"))
        elif rule.name in ("ngd", "blockdiag"):
            ms.append(Measurement(f"{rule.name}: full-matrix speed(1e-12)/speed(1e-4) (diverging)", ratio, 1e3, "at_least"))
        else:
            ms.append(Measurement(f"{rule.name}: |full-matrix speed(1e-12)/speed(1e-4) − 1| (bounded, non-zero)", abs(ratio - 1),
                                  1e-3, "at_most"))
        ug = np.geomspace(1e-12, 1.0, 60)
        curves.append(curve(f"{rule.name} (derived)", ug, [float(f(mpmath.mpf(x))) for x in ug], "-", color))
        curves.append(curve(f"{rule.name} (full matrices)", u0s, speeds, next(markers), color))
    plot = Plot("parameter_speed", f"Speed as u → 0: GD → 0, NGD → ∞, q = 1/2 bounded\nparameter speed on a balanced "
                f"mode, L = {L}, s = {s:g}: derived (lines) and full-matrix layer velocities (markers)", "mode strength u",
                "‖dθ/dt‖", tuple(curves), "log", "log")
    return Evidence("the full-matrix velocities match the derived speeds", tuple(ms), plots=(plot,))


# --- ngd-gd-path ---------------------------------------------------------------------------------

def _same_invariants(derived: Any, oracle: Any) -> bool:
    """Whether each oracle invariant is a constant multiple of some derived one."""
    return all(any(not sympy.simplify(c / o).free_symbols for c in derived) for o in oracle)


def _path_symbolic(thorough: bool) -> Evidence:
    ms, latex = [], []
    for L in ((2, 3) if not thorough else (2, 3, 4)):
        gd = derive(GD(), L)
        a = gd.symbols.gains
        gd_inv = [a[i] ** 2 - a[i + 1] ** 2 for i in range(L - 1)]
        for rule in _PATH_RULES[1:]:
            inv = derive(rule, L, gains="unbalanced").conserved
            separated = conserved_quantities(rule, L)
            latex.append(rf"\text{{{rule.name}}},\ L={L}:\ " + ",\\ ".join(sympy.latex(c) for c in inv) + r" = \mathrm{const}")
            same = _same_invariants(inv, gd_inv) and _same_invariants(separated, gd_inv)
            if rule.name in _KEEPS_PATH:
                ms.append(Measurement(f"{rule.name}, L = {L}: derived invariants = GD's a_i² − a_(i+1)², so GD's path "
                                      "(0 = yes)", 0.0 if same else 1.0))
            else:
                ms.append(Measurement(f"{rule.name}, L = {L}: derived invariants differ from GD's (1 = differ)",
                                      0.0 if same else 1.0, 1.0, "at_least"))
        clock = derive(NGD(), L).ode.rhs - gd.ode.rhs
        ms.append(Measurement(f"L = {L}: NGD's derived mode law differs from GD's (a new clock; 1 = differ)",
                              0.0 if sympy.simplify(clock) == 0 else 1.0, 1.0, "at_least"))
    inv_ngd = derive(NGD(), 2, gains="unbalanced").conserved
    inv_blk = derive(BlockNGD(), 2, gains="unbalanced").conserved
    return Evidence(f"NGD conserves {inv_ngd[0]} (GD's), block/K-FAC/Bernacchia {inv_blk[0]}".replace("**", "^"),
                    tuple(ms), tuple(latex))


def balanced_nonaligned(n: int, L: int, seed: int) -> Problem:
    """Balanced (C_i = 0), task-non-aligned init W_i = O_{i+1} D O_iᵀ and a random task W* = Σ_yx.

    The task is redrawn until the straight segment from W(0) to W* stays invertible, so that the
    straight-line rules can be compared over the whole run (the other case is `ngd-singular-crossing`).
    """
    rng = np.random.default_rng(seed)
    O = [np.linalg.qr(rng.normal(size=(n, n)))[0] for _ in range(L + 1)]
    D = np.diag(np.linspace(0.9, 0.4, n))
    W = [O[i + 1] @ D @ O[i].T for i in range(L)]
    end = np.linalg.multi_dot(W[::-1])
    for _ in range(100):
        Syx = rng.normal(size=(n, n)) + 1.5 * np.eye(n)
        if segment_invertible(end, Syx):
            break
    return Problem(Network((n,) * (L + 1)), Task(Sigma_yx=Syx), GivenWeights(tuple(W)))


def _path_numeric(thorough: bool) -> Evidence:
    ms, plane, balance = [], [], []
    times = np.linspace(0.0, 6.0, 61)
    g0 = np.array([[1.4, 0.25]])
    problem = aligned_problem([2.0], depth=2, gains=g0, width=2)
    c0 = g0[0, 0] ** 2 - g0[0, 1] ** 2
    for rule in _PATH_RULES:
        G = aligned_gains(integrate(problem, rule, times, method=CLAIM_FLOW))
        a1, a2 = G[0, 0], G[0, 1]
        dev = float(np.max(np.abs(a1 ** 2 - a2 ** 2 - c0)) / max(1.0, abs(c0)))
        if rule.name in _KEEPS_PATH:
            ms.append(Measurement(f"{rule.name}: distance of the (a_1, a_2) path from GD's curve a_1² − a_2² = const", dev))
        else:
            ms.append(Measurement(f"{rule.name}: leaves GD's curve by (max |Δ(a_1² − a_2²)|)", dev, BREAK_MIN, "at_least"))
        plane.append(curve(rule.name, a1, a2, "-" if rule.name == "gd" else ("o" if rule.name in _KEEPS_PATH else "--")))
    for L in ((2,) if not thorough else (2, 3)):
        problem = balanced_nonaligned(3, L, seed=5 + L)
        t = np.linspace(0.0, 4.0, 41)
        for rule in _PATH_RULES:
            traj = integrate(problem, rule, t, method=CLAIM_FLOW)
            scale = max(1.0, max(float(np.max(np.abs(w[0]))) ** 2 for w in traj.W))
            imb = np.max(np.stack([np.abs(C).reshape(len(t), -1).max(axis=1) for C in traj.balance]), axis=0)
            if rule.name in _KEEPS_PATH:
                ms.append(Measurement(f"L = {L}, balanced non-aligned init, {rule.name}: max |C_i(t)| (relative)",
                                      float(np.max(imb)) / scale))
            else:
                ms.append(Measurement(f"L = {L}, balanced non-aligned init, {rule.name}: breaks balance, max |C_i(t)|",
                                      float(np.max(imb)), BREAK_MIN, "at_least"))
            if L == 2:
                balance.append(curve(rule.name, t[1:], np.maximum(imb[1:], 1e-17), "-"))
    plots = (Plot("ngd_path", "NGD stays on GD's hyperbola a_1² − a_2² = const\npaths of a two-layer mode in the "
                  "(a_1, a_2) plane, s = 2", "a_1", "a_2",
                  tuple(plane)),
             Plot("balance", "NGD keeps the balance C_1 = 0, block rules break it\nmax_ij |(C_1)_ij(t)| with "
                  "C_1 = W_2ᵀW_2 − W_1W_1ᵀ, from a balanced init not aligned with the task (L = 2, width 3)", "t",
                  "max_ij |(C_1)_ij(t)|", tuple(balance), yscale="log"))
    return Evidence("NGD, NGD^(1/2) on GD's curve; block rules leave it", tuple(ms), plots=plots)


REASON = "full-matrix DOP853 at rtol 1e-10 reaches ~1e-10; symbolic checks are exact (sympy simplify / limit)"

CLAIMS: tuple[Claim, ...] = (
    Claim("ngd-gd-path",
          "Full NGD (and every full-Fisher power q) keeps GD's invariants, so an aligned mode follows GD's path "
          "a_i² − a_j² = const with a new clock; block NGD, K-FAC and Bernacchia's per-layer rule conserve "
          "a_i/a_j instead, leave GD's path and break balance from a balanced init.",
          r"C_i = W_{i+1}^\top W_{i+1} - W_iW_i^\top\ \text{conserved by NGD}^q,\ \text{not by block rules}",
          "Huh 2020, abstract (generalized conservation law); block rules: [derived] (THEORY §2-3)",
          _path_symbolic, _path_numeric, FLOW_TOL, REASON),
    Claim("parameter-speed-small-init",
          "On a balanced mode as u → 0 the parameter speed vanishes under GD, diverges under NGD and block NGD, "
          "and tends to √L·s (block, q = 1/2) or s (full, q = 1/2): q = 1/2 keeps a bounded, non-zero speed.",
          r"\lim_{u\to0}\|\dot\theta\| = 0\ (\mathrm{GD}),\ \infty\ (\mathrm{NGD}),\ \sqrt{L}\,s\ "
          r"(\text{block}, q=\tfrac12),\ s\ (\text{full}, q=\tfrac12)",
          "Huh 2020 (fractional correction); the limits: [derived] (THEORY §3)", _speed_symbolic, _speed_numeric,
          SPEED_TOL, "the full-matrix layer velocities carry float64 rounding only (~1e-15 relative); symbolic "
          "limits are exact"),
)


# --- experiments and figure data of derivations/huh2020.py ---------------------------------------

def paths_panel() -> tuple[Plot, float]:
    """(a_1, a_2) paths from three unbalanced starts, s = 2; returns the plot and full NGD's worst drift."""
    s = 2.0
    rules = [(GD(), "GD", "-"), (NGD(), "NGD", "o"), (NGD(q=HALF), "full NGD, q = 1/2", "x"),
             (BlockNGD(), "block NGD (K-FAC)", "--"), (BlockNGD(q=HALF), "block NGD, q = 1/2", "-.")]
    t = np.linspace(0.0, 12.0, 241)
    a = np.linspace(0.8, 2.5, 200)
    curves, worst = [curve("optimum a_1 a_2 = s", a, s / a, ":")], 0.0
    for k, g0 in enumerate([(1.6, 0.1), (0.15, 1.2), (0.3, 0.35)]):
        problem = aligned_problem([s], depth=2, gains=[list(g0)], width=2)
        for color, (rule, label, style) in enumerate(rules):
            G = aligned_gains(integrate(problem, rule, t))
            a1, a2 = G[0, 0], G[0, 1]
            if rule.name in ("ngd", "ngd(q=1/2)"):
                worst = max(worst, float(np.max(np.abs(a1 ** 2 - a2 ** 2 - (g0[0] ** 2 - g0[1] ** 2)))))
                a1, a2 = a1[::12], a2[::12]
            curves.append(curve(label if k == 0 else "", a1, a2, style, color))
    return (Plot("huh2020_paths", "Full NGD follows GD's path a_1² − a_2² = const\n"
                 "two-layer mode, s = 2: full NGD (markers) on GD's path; block rules keep a_1/a_2 (K-FAC) or "
                 "a_1 − a_2 (q = 1/2) instead", "a_1 (layer-1 gain)",
                 "a_2 (layer-2 gain)", tuple(curves), xlim=(0.0, 2.5), ylim=(0.0, 2.0)), worst)


def balance_panel() -> Plot:
    """‖C_1(t)‖_F for every rule from a balanced, task-non-aligned init (widths 4-4-4)."""
    problem = balanced_nonaligned(4, 2, seed=4)
    t = np.linspace(0.0, 5.0, 101)
    rules = [(GD(), "GD"), (NGD(), "NGD"), (NGD(q=HALF), "full NGD, q = 1/2"), (BlockNGD(), "block NGD (K-FAC)"),
             (bernacchia(), "per-layer NG (Bernacchia)"), (BlockNGD(q=HALF), "block NGD, q = 1/2")]
    curves = []
    for color, (rule, label) in enumerate(rules):
        norm = np.linalg.norm(integrate(problem, rule, t).balance[0], axis=(1, 2))
        curves.append(curve(label, t[1:], np.maximum(norm[1:], 1e-16), "--" if rule.name == "bernacchia" else "-", color))
    return Plot("huh2020_balance", "Full NGD^q conserves C_1, block rules do not\n"
                "balance from a balanced init not aligned with the task (widths 4-4-4): GD and full NGD^q conserve "
                "it (Huh's conservation law); block rules break it", "t",
                "‖C_1(t)‖_F,  C_1 = W_2ᵀW_2 − W_1W_1ᵀ  (C_1(0) = 0)", tuple(curves), yscale="log")


def fractional_panels() -> tuple[Plot, Plot]:
    """Block power q in {0, 1/4, 1/2, 3/4, 1} at L = 3: u(t) closed form vs flow; speed vs u (`parameter_speed`)."""
    L, s, u0 = 3, 1.0, 1e-6
    t = np.geomspace(1e-3, 300.0, 300)
    problem = aligned_problem([s], depth=L, u0=u0, width=3)
    u = np.geomspace(1e-12, 0.99, 300)
    left, right = [], [curve("√L·s (q = 1/2 limit)", u, np.full_like(u, np.sqrt(L) * s), ":")]
    for color, q in enumerate([Fraction(0), Fraction(1, 4), HALF, Fraction(3, 4), Fraction(1)]):
        rule = BlockNGD(q=q) if q != 0 else GD()
        tr = derive(rule, L)
        left.append(curve(f"q = {q} ({'GD' if q == 0 else 'block'})", t, np.ravel(tr.evaluate(t, s=s, u0=u0)), "-", color))
        # integrate only until the mode is learned: beyond, an explicit solver crawls at its stability limit
        tf = np.geomspace(1e-3, tr.learning_time(0.999 * s, s=s, u0=u0), 30)
        left.append(curve("full-matrix flow" if color == 0 else "", tf, integrate(problem, rule, tf).u[0], "o", color))
        expr, sym = parameter_speed(rule, L)
        speed = np.broadcast_to(sympy.lambdify(sym.u, expr.subs(sym.s, s), "numpy")(u), u.shape)
        right.append(curve(f"q = {q}", u, speed, "-", color))
    return (Plot("huh2020_fractional_u", "Block NGD^q, L = 3: closed form = flow\nclosed form (lines) vs "
                 "full-matrix integration (markers)", "t", "mode strength u (s = 1, u0 = 1e-6)", tuple(left), "log"),
            Plot("huh2020_fractional_speed", "Speed at small u: bounded only at q = 1/2\nspeed at small init: → 0 for "
                 "q < 1/2, → ∞ for q > 1/2, bounded (√L·s) for q = 1/2", "mode strength u", "parameter speed ‖dθ/dt‖", tuple(right), "log", "log"))


def formulas_tex() -> str:
    """The derived mode laws of block and full NGD with symbolic q and q = 1/2, as LaTeX."""
    q = sympy.Symbol("q", positive=True)
    parts = ["% Huh 2020, derived by lindyn (python derivations/huh2020.py)"]
    for rule in (BlockNGD(q=q), NGD(q=q), BlockNGD(q=HALF), NGD(q=HALF)):
        parts += [derive(rule, L).latex() for L in (2, 3)]
    return "\n".join(parts)
