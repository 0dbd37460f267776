"""Bernacchia, Lengyel & Hennequin 2018: exact natural gradient in deep linear networks.

Their result (abstract, Eq. 10): exact NGD, and the per-layer rule (block NGD divided by L), move
the end-to-end map on a straight line to W* and converge exponentially; the block-diagonal inverse
is a generalized inverse of the Fisher only without a bottleneck. The engine derives the mode laws
from the rule definitions (`derive(NGD(), L)`, `derive(bernacchia(), L)`), the integrator runs the
same rules on full matrices; the straight line is the oracle.

>>> [c.name for c in CLAIMS]
['ngd-exponential', 'block-ngd-rate-L', 'bottleneck-ginverse']
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from lindyn import (GD, NGD, BlockNGD, Flow, GivenWeights, LindynError, Network, Problem, Task, bernacchia, derive,
                    integrate, layer_velocities)
from lindyn.claims import CLAIM_FLOW, FLOW_TOL, SYMBOLIC_TOL, Claim, Evidence, Measurement, Plot
from lindyn.papers import curve, expr_difference, rel_max, sample_points
from lindyn.papers.saxe2014 import random_problem, segment_invertible

__all__ = ["CLAIMS", "exponential_claim", "straight_line", "rules_panels", "deep_panel", "bottleneck_panels",
           "formulas_tex", "invertible_task", "end_to_end_velocity", "RULES", "FIGURE_FLOW", "PART_MIN"]

REASON = ("full-matrix DOP853 at rtol 1e-10 reaches ~1e-10 relative; symbolic checks are exact or at 40 digits "
          f"({SYMBOLIC_TOL:g})")
#: Two flows "part" when their end-to-end maps differ by at least this (relative); the agreeing pairs stay < 1e-9.
PART_MIN = 1e-3
#: Velocities in float64 from pseudo-inverses of Kronecker factors of random Gaussian matrices: rounding ~κ·1e-16
#: with condition numbers κ up to ~1e6.
LINALG_TOL = 1e-9


def straight_line(W0: np.ndarray, W_star: np.ndarray, t: Any, rate: float, tau: float = 1.0) -> np.ndarray:
    """Oracle: W(t) = W* + e^{−rate·t/τ}(W(0) − W*), shape (T, n_L, n_0)."""
    return W_star + np.exp(-rate * np.asarray(t, dtype=float) / tau)[:, None, None] * (W0 - W_star)


def _rate_times(text: str, what: str) -> str:
    """'(s/λ − u)' at rate 1, 'L(s/λ − u)' at rate L: no '1·' in a label."""
    return what if text == "1" else text + what


def exponential_claim(name: str, rules: Sequence[tuple[Any, Callable[[int], int], str]], *, statement: str,
                      latex: str, source: str) -> Claim:
    """A claim "rule moves W on W(t) = W* + e^{−r t/τ}(W(0) − W*)", checked two ways.

    Symbolic route: the derived balanced mode ODE (input variance λ symbolic) must be
    τu̇ = r(s/λ − u), and so must the unbalanced mode's. Numeric route: full-matrix flow from random
    invertible inits with random SPD Σ_xx against the straight line and the excess loss e^{−2rt/τ}ℓ(0).

    Args:
        name: claim name.
        rules: (rule, r(L), text of r) triples, e.g. (NGD(), lambda L: 1, "1").
        statement, latex, source: as in `Claim`.

    >>> exponential_claim("gd-exp", [(GD(), lambda L: 1, "1")], statement="wrong", latex="", source="none").name
    'gd-exp'
    """
    # === check arguments
    if not rules:
        raise LindynError(f"Argument `rules` must be a non-empty list of (rule, rate(L), rate text) triples, "
                          f"got rules={rules!r}.")
    rules = tuple(rules)

    def symbolic(thorough: bool) -> Evidence:
        lam = sympy.Symbol("lambda", positive=True)
        ms, latex_out, found = [], [], []
        for rule, rate, text in rules:
            for L in ((2, 3) if not thorough else (2, 3, 4, 5, 6)):
                tr = derive(rule, L, lam=lam)
                sym = tr.symbols
                ms.append(Measurement(f"{rule.name}, L = {L}: derived τu̇ − {_rate_times(text, '(s/λ − u)')} (relative)",
                                      expr_difference(tr.ode.rhs, rate(L) * (sym.s / lam - sym.u),
                                                      sample_points(sym, lam=lam)), SYMBOLIC_TOL))
                latex_out.append(rf"\text{{{rule.name}}},\ L={L}:\ \tau\dot u = " + sympy.latex(tr.ode.rhs))
                if L == 3:
                    found.append(f"{rule.name}, L = 3: $\\tau\\dot u = {sympy.latex(tr.ode.rhs)}$")
            tu = derive(rule, 3, gains="unbalanced")
            sym = tu.symbols
            if tu.ode.lhs.has(sympy.Function("u")(sym.t)):
                err = expr_difference(tu.ode.rhs, rate(3) * (sym.s - sym.u), sample_points(sym))
                label = f"{rule.name}, L = 3, unbalanced: derived τu̇ − {_rate_times(text, '(s − u)')} (relative)"
            else:
                err, label = 1.0, (f"{rule.name}, L = 3, unbalanced: no closed law τu̇ = f(u) (reduced to a_1; "
                                   "1 = not exponential)")
            ms.append(Measurement(label, err, SYMBOLIC_TOL))
        return Evidence("; ".join(found), tuple(ms), tuple(latex_out))

    def numeric(thorough: bool) -> Evidence:
        cases = [((3, 3, 3, 3), 0), ((3, 5, 4, 2), 1)]
        if thorough:
            cases += [((2, 2, 2), 2), ((4, 4, 4, 4, 4), 3), ((3, 4, 6, 5, 2), 4), ((3, 3, 3, 3), 5)]
        tau = 2.0
        ms, curves = [], []
        for color, (rule, rate, text) in enumerate(rules):
            for widths, seed in cases:
                problem = random_problem(widths, seed, tau=tau)
                r = rate(len(widths) - 1)
                t = np.array([0.0, 0.25, 0.5, 1.0, 2.0]) * tau / r * 2
                traj = integrate(problem, rule, t, method=CLAIM_FLOW)
                W0, Ws = traj.W_end[0], problem.task.W_star
                line = straight_line(W0, Ws, t, r, tau)
                errW = float(max(np.linalg.norm(traj.W_end[k] - line[k]) for k in range(len(t))) / np.linalg.norm(W0 - Ws))
                errL = rel_max(traj.loss, traj.loss[0] * np.exp(-2 * r * t / tau), traj.loss[0])
                tag = f"{rule.name}, widths {'-'.join(map(str, widths))}, random init and SPD Σ_xx, τ = {tau:g}"
                ms.append(Measurement(f"{tag}: ‖W(t) − straight line at rate {text}‖/‖W(0) − W*‖", errW))
                ms.append(Measurement(f"{tag}: |ℓ(t) − ℓ(0)e^(−2{_rate_times(text, 't')}/τ)|/ℓ(0)", errL))
                if seed == 0:
                    curves.append(curve(f"{rule.name}: full-matrix flow", t, traj.loss / traj.loss[0], "ox^s"[color % 4],
                                        color))
                    tt = np.linspace(0, t[-1], 50)
                    curves.append(curve(f"{rule.name}: e^(−2{_rate_times(text, 't')}/τ)", tt, np.exp(-2 * r * tt / tau), "--",
                                        color))
        rate_text = rules[0][2]
        title = (" and ".join(r[0].name for r in rules) + f": excess loss falls as e^(−2{_rate_times(rate_text, 't')}/τ)"
                 + "\nfrom a random init, L = 3, random SPD input covariance; markers: full-matrix flow, dashed: "
                 "the straight line" + ("; the rules' curves coincide" if len(rules) > 1 else ""))
        plot = Plot(f"{name}_loss", title, "t", "ℓ(t)/ℓ(0)", tuple(curves), yscale="log")
        return Evidence(f"straight line to {max(m.value for m in ms):.1g}", tuple(ms), plots=(plot,))

    return Claim(name, statement, latex, source, symbolic, numeric, FLOW_TOL, REASON)


# --- bottleneck-ginverse -------------------------------------------------------------------------

def _ginverse_symbolic(thorough: bool) -> Evidence:
    """Per mode every layer is 1 x 1, so no bottleneck: the engine derives Bernacchia's rule = exact NGD."""
    lam = sympy.Symbol("lambda", positive=True)
    ms = []
    for L in ((2, 3) if not thorough else (2, 3, 4, 5)):
        ngd, per_layer, block = (derive(r, L, lam=lam) for r in (NGD(), bernacchia(), BlockNGD()))
        pts = sample_points(ngd.symbols, lam=lam)
        ms.append(Measurement(f"L = {L}: derived mode law of block NGD / L (Bernacchia) − exact NGD's (relative)",
                              expr_difference(per_layer.ode.rhs, ngd.ode.rhs, pts), SYMBOLIC_TOL))
        ms.append(Measurement(f"L = {L}: derived mode law of block NGD − L × exact NGD's (relative)",
                              expr_difference(block.ode.rhs, L * ngd.ode.rhs, pts), SYMBOLIC_TOL))
    return Evidence("per mode (1 x 1 layers, no bottleneck) block NGD / L = exact NGD: τu̇ = s/λ − u", tuple(ms))


def end_to_end_velocity(W: Sequence[np.ndarray], V: Sequence[np.ndarray]) -> np.ndarray:
    """dW/dt of W = W_L⋯W_1 from layer velocities: Σ_i B_i V_i A_i (A_i = W_{i−1}⋯W_1, B_i = W_L⋯W_{i+1})."""
    out = np.zeros((W[-1].shape[0], W[0].shape[1]))
    for i in range(len(W)):
        A = np.eye(W[0].shape[1])
        for w in W[:i]:
            A = w @ A
        B = np.eye(W[i].shape[0])
        for w in W[i + 1:]:
            B = w @ B
        out += B @ V[i] @ A
    return out


def _ginverse_numeric(thorough: bool) -> Evidence:
    ms, gaps, curves = [], [], []
    # FGF = F shows in the function-space velocity: J G ∇ℓ = J F⁺ ∇ℓ for every gradient ∇ℓ = JᵀΣ-weighted error
    for widths, seeds in (((4, 4, 4), (11, 12, 13)), ((4, 2, 4), (21, 22, 23))):
        tag = "-".join(map(str, widths))
        worst = []
        for seed in (seeds if thorough else seeds[:2]):
            problem = random_problem(widths, seed)
            W0 = problem.initial_weights()
            v_ngd = end_to_end_velocity(W0, layer_velocities(problem, NGD()))
            v_blk = end_to_end_velocity(W0, layer_velocities(problem, bernacchia()))
            worst.append(rel_max(v_blk, v_ngd))
        if widths[1] == widths[0]:
            ms.append(Measurement(f"widths {tag}, random W(0): end-to-end velocity of block NGD / L vs exact NGD "
                                  "(relative; FGF = F)", max(worst), LINALG_TOL))
        else:
            ms.append(Measurement(f"widths {tag} (bottleneck), random W(0): end-to-end velocities of block NGD / L "
                                  "and exact NGD differ by (relative; FGF ≠ F)", min(worst), PART_MIN, "at_least"))
    t = np.array([0.0, 0.5, 1.0, 2.0])
    plain = [((4, 4, 4), 11)] + ([((3, 3, 3, 3), 12), ((3, 5, 3), 13)] if thorough else [])
    for widths, seed in plain:
        problem = random_problem(widths, seed)
        L = len(widths) - 1
        ngd = integrate(problem, NGD(), t, method=CLAIM_FLOW).W_end
        per_layer = integrate(problem, bernacchia(), t, method=CLAIM_FLOW).W_end
        block = integrate(problem, BlockNGD(), t / L, method=CLAIM_FLOW).W_end
        tag = "-".join(map(str, widths))
        ms.append(Measurement(f"widths {tag} (no bottleneck): block NGD / L vs exact NGD, end-to-end maps (relative)",
                              rel_max(per_layer, ngd)))
        ms.append(Measurement(f"widths {tag}: block NGD at t/L vs exact NGD at t (relative)", rel_max(block, ngd)))
    tt = np.linspace(0.0, 3.0, 31)
    for seed in ((21,) if not thorough else (21, 22, 23)):
        problem = random_problem((4, 2, 4), seed)
        a = integrate(problem, NGD(), tt, method=CLAIM_FLOW)
        b = integrate(problem, bernacchia(), tt, method=CLAIM_FLOW)
        gap = rel_max(b.W_end, a.W_end)
        gaps.append(gap)
        ms.append(Measurement(f"widths 4-2-4 (bottleneck), seed {seed}: block NGD / L departs from exact NGD "
                              "(max relative gap of the end-to-end maps)", gap, PART_MIN, "at_least"))
        if seed == 21:
            curves += [curve("exact NGD (4-2-4)", tt, a.loss / a.loss[0], "-", 0),
                       curve("block NGD / L (4-2-4)", tt, b.loss / b.loss[0], "--", 1)]
    plot = Plot("bottleneck_flows", "With a bottleneck (4-2-4) block NGD / L leaves exact NGD\n"
                "excess loss of exact NGD and block NGD / L, widths 4-4-4 (they coincide) and 4-2-4 (they part)", "t",
                "ℓ(t)/ℓ(0)", tuple(curves), yscale="log")
    return Evidence(f"no bottleneck: the flows coincide; 4-2-4: they part by {min(gaps):.2g}", tuple(ms), plots=(plot,))


CLAIMS: tuple[Claim, ...] = (
    exponential_claim(
        "ngd-exponential",
        [(NGD(), lambda L: 1, "1"), (bernacchia(), lambda L: 1, "1")],
        statement="Exact natural gradient (full Fisher, Moore–Penrose), and Bernacchia's per-layer rule, move the "
                  "end-to-end map on the straight line W(t) = W* + e^{−t/τ}(W(0) − W*) from any invertible init "
                  "and for any SPD input covariance; the excess loss decays as e^{−2t/τ}.",
        latex=r"W(t) = W^* + e^{-t/\tau}\left(W(0) - W^*\right),\quad \ell(t) - \ell^* \propto e^{-2t/\tau}",
        source="Bernacchia et al. 2018, abstract and Eq. 10; any SPD Σ_xx: [derived] (THEORY §3)"),
    exponential_claim(
        "block-ngd-rate-L",
        [(BlockNGD(), lambda L: L, "L")],
        statement="Block-diagonal NGD (K-FAC with exact factors, without the 1/L) moves W on the same straight "
                  "line L times faster: W(t) = W* + e^{−Lt/τ}(W(0) − W*).",
        latex=r"W(t) = W^* + e^{-Lt/\tau}\left(W(0) - W^*\right)",
        source="Bernacchia et al. 2018, Sec. 3 (per-layer NG ÷ L has rate 1); rate L: [derived] (THEORY §3)"),
    Claim("bottleneck-ginverse",
          "Without a bottleneck the block-diagonal inverse blockdiag(F_ii⁺)/L is a generalized inverse of the "
          "Fisher, so Bernacchia's rule (block NGD / L) runs exact NGD and block NGD runs it L times faster; with "
          "a bottleneck (widths 4-2-4) it is not: the end-to-end velocities differ by about a third and the flows "
          "part.",
          r"FGF = F,\ G = \tfrac1L\operatorname{blockdiag}(F_{ii}^+)\ \Rightarrow\ "
          r"\dot\theta_{\text{block}/L} = \dot\theta_{\text{NGD}}\ \text{(no bottleneck)}",
          "Bernacchia et al. 2018 (block-diagonal inverse); bottleneck: [derived] (THEORY §3)",
          _ginverse_symbolic, _ginverse_numeric, FLOW_TOL,
          "both rules integrated by the engine at rtol 1e-10 (agreement ~1e-10); a bottleneck gap below "
          f"{PART_MIN:g} would not be distinguishable from a loose solver"),
)


# --- experiments and figure data of derivations/bernacchia2018.py --------------------------------

#: Integrator settings of the 16-layer figure (tolerance of a plot, not of a test).
FIGURE_FLOW = Flow(rtol=1e-8, atol=1e-10)

RULES = [(GD(), "GD"), (NGD(), "NGD (full Fisher)"), (BlockNGD(), "block NGD = K-FAC (exact factors)"),
         (bernacchia(), "per-layer NG (block ÷ L, Bernacchia)"), (NGD(q=Fraction(1, 2)), "full NGD, q = 1/2"),
         (BlockNGD(q=Fraction(1, 2)), "block NGD, q = 1/2")]


def invertible_task(W_end: np.ndarray, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """A random target W* whose straight segment to W(0) stays invertible (no singular crossing)."""
    for _ in range(1000):
        W_star = scale * rng.normal(size=W_end.shape)
        if segment_invertible(W_end, W_star):
            return W_star
    raise RuntimeError("no invertible segment found")


def rules_panels() -> tuple[Plot, Plot]:
    """All rules on one problem: widths 4-6-6-3 (L = 3), non-white input, small random init."""
    rng = np.random.default_rng(1)
    widths = (4, 6, 6, 3)
    G = rng.normal(size=(4, 4))
    Sxx = G @ G.T / 4 + 0.2 * np.eye(4)
    U, _, Vt = np.linalg.svd(rng.normal(size=(3, 4)), full_matrices=False)
    Syx = U @ np.diag([3.0, 1.0, 0.3]) @ Vt @ Sxx          # W* = Σ_yx Σ_xx⁻¹ has singular values 3, 1, 0.3
    W0 = tuple(0.15 * rng.normal(size=(widths[i + 1], widths[i])) for i in range(3))
    problem = Problem(Network(widths), Task(Sigma_yx=Syx, Sigma_xx=Sxx), GivenWeights(W0), mode_bases=(U, Vt.T))
    t = np.concatenate([[0.0], np.geomspace(1e-3, 60.0, 120)])
    loss, weak = [], []
    for color, (rule, label) in enumerate(RULES):
        traj = integrate(problem, rule, t)
        style = "--" if rule.name == "bernacchia" else "-"
        loss.append(curve(label, t[1:], traj.loss[1:] / traj.loss[0], style, color))
        weak.append(curve(label, t[1:], traj.u[2][1:] / 0.3, style, color))
    loss += [curve("e^(−2t) (exact NGD law)", t[1:], np.exp(-2 * t[1:]), ":"),
             curve("e^(−2Lt) (block NGD law, L = 3)", t[1:], np.exp(-6 * t[1:]), "-.")]
    return (Plot("bernacchia2018_rules_loss", "Widths 4-6-6-3, non-white input, small random init\n"
                 "(NGD and the per-layer rule coincide)", "t", "excess loss ℓ(t)/ℓ(0)", tuple(loss), "log", "log",
                 ylim=(1e-12, 2.0)),
            Plot("bernacchia2018_rules_weak", "Weakest mode: GD waits on a plateau,\nNGD learns it like the others",
                 "t", "weakest mode u/s (s = 0.3)", tuple(weak), "log"))


def deep_panel() -> tuple[Plot, dict[str, float]]:
    """16 layers of width 5, layer gain 0.7: NGD and the per-layer rule follow e^(−2t), GD plateaus."""
    rng = np.random.default_rng(2)
    n, L = 5, 16
    W0 = [0.7 * (np.eye(n) + 0.3 * rng.normal(size=(n, n)) / np.sqrt(n)) for _ in range(L)]
    end = np.linalg.multi_dot(W0[::-1])
    problem = Problem(Network((n,) * (L + 1)), Task(Sigma_yx=invertible_task(end, rng)), GivenWeights(tuple(W0)))
    t = np.linspace(0.0, 6.0, 31)
    curves, errors = [], {}
    for color, (rule, label) in enumerate(RULES[:4]):
        if rule.name == "blockdiag":
            continue                    # the same path L = 16 times faster
        traj = integrate(problem, rule, t, method=FIGURE_FLOW)
        curves.append(curve(label, t, traj.loss / traj.loss[0], "--" if rule.name == "bernacchia" else "-", color))
        if rule.name in ("ngd", "bernacchia"):
            errors[rule.name] = float(np.max(np.abs(traj.loss / traj.loss[0] - np.exp(-2 * t))))
    curves.append(curve("e^(−2t): W(t) = W* + e^(−t)(W(0) − W*)", t, np.exp(-2 * t), ":"))
    return (Plot("bernacchia2018_deep", f"{L} layers of width {n} (layer gain 0.7): NGD and the per-layer rule "
                 "(dashed; they coincide)\nconverge at rate 1, GD plateaus", "t", "excess loss ℓ(t)/ℓ(0)",
                 tuple(curves), yscale="log"), errors)


def bottleneck_panels() -> tuple[Plot, Plot]:
    """Widths 6-6-6-6 vs 6-4-2-4-6: the per-layer rule equals exact NGD only without a bottleneck."""
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 5.0, 51)
    panels = []
    for widths in ((6, 6, 6, 6), (6, 4, 2, 4, 6)):
        L = len(widths) - 1
        W0 = [rng.normal(size=(widths[i + 1], widths[i])) / np.sqrt(widths[i]) for i in range(L)]
        end = np.linalg.multi_dot(W0[::-1])
        bottleneck = min(widths) < widths[0]
        W_star = (rng.normal(size=(6, 2)) @ rng.normal(size=(2, 6)) / np.sqrt(2) if bottleneck
                  else invertible_task(end, rng))       # a rank-2 target the bottleneck can represent
        problem = Problem(Network(widths), Task(Sigma_yx=W_star), GivenWeights(tuple(W0)))
        curves = []
        for color, (rule, label) in enumerate(RULES[:4]):
            if rule.name == "blockdiag":
                continue
            traj = integrate(problem, rule, t)
            curves.append(curve(label, t, traj.loss / traj.loss[0], "--" if rule.name == "bernacchia" else "-", color))
        curves.append(curve("e^(−2t)", t, np.exp(-2 * t), ":"))
        name = "-".join(map(str, widths))
        panels.append(Plot(f"bottleneck_{name}", f"widths {name}: " + ("bottleneck, rank-2 target:\nthe per-layer rule "
                           "departs from NGD" if bottleneck else "per-layer rule = NGD = e^(−2t)"), "t",
                           "excess loss ℓ(t)/ℓ(0)", tuple(curves), yscale="log"))
    return panels[0], panels[1]


def formulas_tex() -> str:
    """The derived mode laws of NGD, block NGD, the per-layer rule and the power-q families, as LaTeX."""
    q = sympy.Symbol("q", positive=True)
    parts = ["% Bernacchia et al. 2018, derived by lindyn (python derivations/bernacchia2018.py)"]
    for rule in (NGD(), BlockNGD(), bernacchia()):
        parts += [derive(rule, L).latex() for L in (2, 3, 16)]
    parts.append("% input variance lambda along the mode: NGD is invariant to input scaling")
    parts.append(derive(NGD(), 3, lam=sympy.Symbol("lambda", positive=True)).latex())
    parts += ["% power-q families (q symbolic)", derive(NGD(q=q), 3).latex(), derive(BlockNGD(q=q), 3).latex()]
    return "\n".join(parts)
