"""Finite steps: the largest stable step and the modified equation of every rule [derived].

The engine derives, from each rule's per-layer velocity, the map a ← a + ηφ(a) of a balanced mode
(`lindyn.discrete.derive_discrete`). Two claims check what follows from it by independent routes:

- `discrete-eta-max`: η_max = 2/(−φ'(a*)) against the flow's c, g (η_max = 2/(c s^g), THEORY §2) and
  against the full network: the spectrum of the Jacobian of the full-matrix velocity field at the
  balanced optimum (central differences), with every mode and cross-mode coupling in it; and the
  full matrices just below / above the threshold converge / do not.
- `discrete-modified-equation`: for GD the derived modified flow is Barrett & Dherin's
  −∇(ℓ + (η/4)‖∇ℓ‖²) on the balanced manifold (exact sympy identity); for every rule the iterates
  follow the derived modified flow with an error falling as η² (fitted order), the plain flow as η.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

import numpy as np
import sympy

from lindyn import GD, NGD, BlockNGD, aligned_problem, bernacchia, derive, layer_velocities
from lindyn.claims import Claim, Evidence, Measurement, Plot
from lindyn.discrete import derive_discrete, fitted_order, matrix_iterates
from lindyn.papers import curve, expr_difference

HALF = Fraction(1, 2)

#: The rules whose discrete maps the claims check (GD, NGD, NGD-d = K-FAC, √NGD, √NGD-d, per-layer NG).
RULES = (GD(), NGD(), BlockNGD(), NGD(q=HALF), BlockNGD(q=HALF), bernacchia())

#: Central differences of the velocity field at step 1e-6: the Jacobian is exact to ~1e-9 relative.
JACOBIAN_TOL = 1e-6
REASON_ETA = ("derived η_max vs the flow's c, g: exact sympy identity; vs the full-matrix Jacobian spectrum by central "
              "differences (h = 1e-6, truncation ~h², rounding ~1e-10/h): 1e-6 relative")


def _oracle_eta_max(rule: Any, L: int, s: sympy.Symbol) -> sympy.Expr:
    """2/(c s^g) with (c, g) of the flow τu̇ = c u^g (s − u), from `derive` (THEORY §2 table)."""
    traj = derive(rule, L)
    return 2 / (traj.c * s ** traj.g)


def _eta_symbolic(thorough: bool) -> Evidence:
    ms, rows = [], []
    for L in ((2, 3, 4, 6) if thorough else (2, 3, 4)):
        for rule in RULES:
            d = derive_discrete(rule, L).derivation
            s = d.symbols.s
            ms.append(Measurement(f"{rule.name}, L = {L}: derived η_max − 2/(c s^g) of the flow",
                                  expr_difference(d.eta_max, _oracle_eta_max(rule, L, s), [{s: sympy.Rational(3, 2)}])))
            rows.append(rf"{rule.name.replace('_', ' ')} & {L} & ${sympy.latex(d.eta_max)}$ \\")
        # Saxe et al. Sec. 2: GD's optimal rate is O(1/(N_l s²)); exactly 2/(L s^{2−2/L}) here
        d = derive_discrete(GD(), L).derivation
        s = d.symbols.s
        ms.append(Measurement(f"gd, L = {L}: derived η_max − 2/(L s^(2−2/L))",
                              expr_difference(d.eta_max, 2 / (L * s ** (2 - sympy.Rational(2, L))), [{s: 3}])))
    table = ("\\begin{tabular}{lll}\nrule & $L$ & $\\eta_{\\max}(s)$\\\\ \\hline\n" + "\n".join(rows)
             + "\n\\end{tabular}\n")
    return Evidence("η_max = 2/(−φ'(a*)) equals 2/(c s^g) for every rule and depth", tuple(ms), latex=(table,))


def _jacobian_eta_max(rule: Any, L: int, s: np.ndarray) -> float:
    """2 / max|eig(Dv)| of the full-matrix velocity field v at the balanced optimum (central differences)."""
    problem = aligned_problem(list(s), L, u0=list(s), seed=1)
    W = problem.initial_weights()
    shapes = [w.shape for w in W]
    theta = np.concatenate([w.ravel() for w in W])
    sizes = np.cumsum([0] + [w.size for w in W])

    def v(th: np.ndarray) -> np.ndarray:
        layers = [th[sizes[i]:sizes[i + 1]].reshape(shapes[i]) for i in range(L)]
        return np.concatenate([x.ravel() for x in layer_velocities(problem, rule, layers)])

    h = 1e-6
    J = np.empty((theta.size, theta.size))
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        J[:, j] = (v(theta + e) - v(theta - e)) / (2 * h)
    return float(2.0 / np.max(np.abs(np.linalg.eigvals(J))))


def _settles(u: np.ndarray, s: np.ndarray) -> float:
    """max over modes of |u_K − s|/s at the last step (inf if an iterate left the finite numbers)."""
    last = u[:, -1]
    return float(np.max(np.abs(last - s) / s)) if np.all(np.isfinite(last)) else float("inf")


def _eta_numeric(thorough: bool) -> Evidence:
    s = np.array([0.5, 1.0, 2.0])
    depths = (2, 3, 4) if thorough else (2, 3)
    ms, curves = [], []
    for color, rule in enumerate(RULES):
        derived, full = [], []
        for L in depths:
            derived.append(float(np.min(derive_discrete(rule, L).eta_max(s))))
            full.append(_jacobian_eta_max(rule, L, s))
            ms.append(Measurement(f"{rule.name}, L = {L}: min over modes of derived η_max vs 2/ρ(Dv) of the full "
                                  "network (3 modes, s = 0.5, 1, 2)", abs(derived[-1] - full[-1]) / full[-1],
                                  JACOBIAN_TOL))
            if L == 2 or thorough:
                # the full matrices from u0 = s/2: just below the threshold they converge, just above they do not
                below = matrix_iterates(rule, L, s, s / 2, 0.9 * derived[-1], 400)
                above = matrix_iterates(rule, L, s, s / 2, 1.1 * derived[-1], 400)
                ms.append(Measurement(f"{rule.name}, L = {L}: full matrices at 0.9 η_max, max |u_K − s|/s after "
                                      "400 steps", _settles(below, s), 1e-6, "at_most"))
                ms.append(Measurement(f"{rule.name}, L = {L}: full matrices at 1.1 η_max, max |u_K − s|/s after "
                                      "400 steps", _settles(above, s), 1e-3, "at_least"))
        curves.append(curve(f"{rule.name}: derived 2/(−φ'(a*))", depths, derived, "-", color))
        curves.append(curve("2/ρ(Dv) of the full matrices" if color == 0 else "", depths, full, "x", color))
    plot = Plot("discrete_eta_max", "Derived η_max = the full network's threshold\nlargest stable step, min over "
                "modes s = 0.5, 1, 2: derived (lines) vs the full network's Jacobian (×); ngd = bernacchia = 2", "depth L", "η_max", tuple(curves), yscale="log")
    return Evidence("derived η_max = the full network's linear stability threshold; iterates converge at 0.9 η_max "
                    "and do not at 1.1 η_max", tuple(ms), plots=(plot,))


# --- the modified equation -----------------------------------------------------------------------

def _barrett_dherin_gd(L: int) -> tuple[sympy.Expr, sympy.Expr]:
    """Oracle: GD's modified flow −∇(ℓ + (η/4)‖∇ℓ‖²) restricted to the balanced manifold, as τu̇ (in u).

    On the manifold a_i = a the per-layer gradient is g_i = −(s − a^L) a^{L−1}, ‖∇_θℓ‖² = L g², and
    ȧ = −(1/L) d/da [ℓ(a) + (η/4) L g(a)²] with ℓ = ½(s − a^L)² (each of the L layers moves by the
    same gradient component).
    """
    d = derive_discrete(GD(), L).derivation
    a, s, eta, u = d.symbols.a, d.symbols.s, d.symbols.eta, d.symbols.u
    g = -(s - a ** L) * a ** (L - 1)
    loss = (s - a ** L) ** 2 / 2
    a_dot = -sympy.diff(loss + eta / 4 * L * g ** 2, a) / L
    u_dot = sympy.expand(L * a ** (L - 1) * a_dot)
    return sympy.simplify(u_dot.subs(a, u ** sympy.Rational(1, L))), sympy.simplify(
        (eta / 4 * L * g ** 2).subs(a, u ** sympy.Rational(1, L)))


def _modified_symbolic(thorough: bool) -> Evidence:
    ms, latex = [], []
    for L in ((2, 3, 4, 5) if thorough else (2, 3, 4)):
        d = derive_discrete(GD(), L).derivation
        s, eta, u = d.symbols.s, d.symbols.eta, d.symbols.u
        rhs, reg = _barrett_dherin_gd(L)
        pts = [{s: sympy.Rational(3, 2), eta: sympy.Rational(1, 10), u: sympy.Rational(1, 3)}]
        ms.append(Measurement(f"gd, L = {L}: derived τu̇ = f + ηf₁ vs −∇(ℓ + η/4‖∇ℓ‖²) on the manifold",
                              expr_difference(d.mode_rhs + eta * d.correction, rhs, pts)))
        ms.append(Measurement(f"gd, L = {L}: derived implicit regulariser R vs (η/4)‖∇ℓ‖²",
                              expr_difference(d.regulariser, reg, pts)))
        if L <= 3:
            latex.append(f"% GD, L = {L}\n" + derive_discrete(GD(), L).latex())
    for rule in (NGD(), BlockNGD(q=HALF)):
        d = derive_discrete(rule, 2).derivation
        s, eta, u = d.symbols.s, d.symbols.eta, d.symbols.u
        at = {s: 1, eta: 1, u: sympy.Rational(1, 3)}
        share = abs(float(d.regulariser_metric_term.subs(at))) / abs(float(d.regulariser.subs(at)))
        ms.append(Measurement(f"{rule.name}, L = 2: |metric-variation part| / |R| of the regulariser at u = s/3",
                              share, 1e-3, "at_least"))
        latex.append(f"% {rule.name}, L = 2\n" + derive_discrete(rule, 2).latex())
    return Evidence("GD's derived modified equation is Barrett & Dherin's implicit regularisation", tuple(ms),
                    latex=tuple(latex))


def _modified_numeric(thorough: bool) -> Evidence:
    s, u0, T = np.array([1.0, 2.0]), np.array([0.05, 0.1]), 3.0
    lrs = np.array([0.04, 0.02, 0.01, 0.005]) if not thorough else np.array([0.04, 0.02, 0.01, 0.005, 0.0025])
    ms, curves = [], []
    depths = (2, 3) if thorough else (2,)
    for color, rule in enumerate(RULES):
        for L in depths:
            dmap = derive_discrete(rule, L)
            traj = derive(rule, L)
            err_mod, err_flow = [], []
            for lr in lrs:
                K = int(round(T / lr))
                t = np.arange(K + 1) * lr
                it = dmap.iterate(s, u0, lr, K)
                err_mod.append(float(np.max(np.abs(it - dmap.modified_flow(t, s, u0, lr)) / s[:, None])))
                err_flow.append(float(np.max(np.abs(it - traj.evaluate(t, s=s, u0=u0)) / s[:, None])))
            p_mod, p_flow = fitted_order(lrs, err_mod), fitted_order(lrs, err_flow)
            ms.append(Measurement(f"{rule.name}, L = {L}: fitted order of |iterates − modified flow| in η",
                                  p_mod, 1.8, "at_least"))
            ms.append(Measurement(f"{rule.name}, L = {L}: fitted order of |iterates − flow| in η (first order)",
                                  abs(p_flow - 1.0), 0.2, "at_most"))
            if L == 2:
                curves.append(curve(f"{rule.name}: vs modified flow (order {p_mod:.2f})", lrs, err_mod, "-", color))
                curves.append(curve(f"{rule.name}: vs flow (order {p_flow:.2f})", lrs, err_flow, "--", color))
    # the independent matrix route: full weight matrices stepped the same way
    for rule in RULES:
        lr = 0.02
        K = int(round(T / lr))
        it = derive_discrete(rule, 3).iterate(s, u0, lr, K)
        ms.append(Measurement(f"{rule.name}, L = 3: derived map vs full matrices stepped at η = 0.02 "
                              f"({K} steps), max |Δu|/s", float(np.max(np.abs(it - matrix_iterates(rule, 3, s, u0, lr, K))
                                                                        / s[:, None])), 1e-9))
    plot = Plot("discrete_modified_equation", "Iterates follow the modified flow to O(η²)\niterates against the "
                "flow (O(η)) and the derived modified flow (O(η²)), L = 2, t ≤ 3", "step η", "max |u_k − u(kη)|/s", tuple(curves), "log", "log")
    return Evidence("iterates follow the derived modified flow to O(η²), the plain flow to O(η); the derived map "
                    "equals the full matrices", tuple(ms), plots=(plot,))


CLAIMS: tuple[Claim, ...] = (
    Claim("discrete-eta-max",
          "Under finite steps W_i ← W_i + ηv_i a balanced mode follows a ← a + ηφ(a); its optimum is stable for "
          "η < η_max = 2/(−φ'(s^{1/L})) = 2/(c s^g), which is also the full network's threshold (GD: "
          "2/(L s^{2−2/L}), Saxe's O(1/(N_l s²)); NGD and per-layer NG: 2; K-FAC: 2/L).",
          r"\eta_{\max} = \frac{2}{-\phi'(a^*)} = \frac{2}{c\,s^{g}},\quad \eta_{\max}^{\mathrm{GD}} = \frac{2}{L s^{2-2/L}}",
          "Saxe et al. 2014, Sec. 2 (optimal rate O(1/(N_l s²)), GD); exact thresholds and other rules: [derived]",
          _eta_symbolic, _eta_numeric, JACOBIAN_TOL, REASON_ETA),
    Claim("discrete-modified-equation",
          "The iterates of every rule follow, to O(η²) at fixed t = kη, the derived modified flow "
          "ȧ = φ − (η/2)φ'φ; for GD this is gradient flow on ℓ + (η/4)‖∇ℓ‖² (implicit gradient regularisation), "
          "for the natural-gradient rules the regulariser carries an extra term from the varying metric.",
          r"\dot a = \phi(a) - \tfrac{\eta}{2}\phi'(a)\phi(a),\quad "
          r"\tilde\ell_{\mathrm{GD}} = \ell + \tfrac{\eta}{4}\lVert\nabla\ell\rVert^2",
          "Barrett & Dherin 2021 (GD, implicit gradient regularisation); other rules: [derived]",
          _modified_symbolic, _modified_numeric, 1e-9,
          "symbolic: exact sympy identity (or 40-digit points); orders fitted over η = 0.04..0.005 must be >= 1.8 "
          "(modified flow) and within 0.2 of 1 (plain flow); derived map vs full matrices 1e-9 relative "
          "(rounding over 150 steps)"),
)


# --- figures and formulas of derivations/discrete.py --------------------------------------------

def formulas_tex() -> str:
    """LaTeX: the derived map, η_max, modified equation and regulariser of every rule at L = 2, 3, and an η_max table."""
    parts = ["% Discrete steps on a balanced mode, derived by lindyn from each rule (python derivations/discrete.py)",
             "\\begin{equation}\n a_{k+1} = a_k + \\eta\\,\\phi(a_k),\\qquad "
             "\\eta_{\\max} = \\frac{2}{-\\phi'(s^{1/L})},\\qquad "
             "\\dot a = \\phi - \\tfrac{\\eta}{2}\\phi'\\phi + O(\\eta^2)\n\\end{equation}"]
    for rule in RULES:
        for L in (2, 3):
            parts += [f"% {rule.name}, L = {L}", derive_discrete(rule, L).latex()]
    parts += list(_eta_symbolic(False).latex)
    return "\n".join(parts)


def iterates_plot(rule: Any = GD(), L: int = 3, s: float = 1.0, u0: float = 1e-2) -> Plot:
    """u_k of the derived map (lines) and of the full matrices (markers) at 0.5, 0.95 and 1.05 η_max."""
    dmap = derive_discrete(rule, L)
    eta = float(dmap.eta_max([s])[0])
    curves = []
    for color, f in enumerate((0.5, 0.95, 1.05)):
        lr = f * eta
        K = int(min(400, 40 / lr))
        k = np.arange(K + 1)
        u = dmap.iterate([s], [u0], lr, K)[0]
        um = matrix_iterates(rule, L, [s], [u0], lr, K)[0]
        curves.append(curve(f"η = {f} η_max: derived map", k, u, "-", color))
        curves.append(curve("full matrices" if color == 0 else "", k[::max(1, K // 40)], um[::max(1, K // 40)], "o", color))
    return Plot("discrete_iterates", f"{rule.name}, L = {L}, s = {s}: iterates below and above η_max = {eta:.4g}",
                "step k", "mode strength u_k", tuple(curves))


def eta_max_plot() -> Plot:
    """The derived η_max against the full-matrix Jacobian threshold (the claim's numeric route)."""
    return _eta_numeric(False).plots[0]


def modified_equation_plot() -> Plot:
    """Error of the iterates against the flow and the modified flow, against η (the claim's numeric route)."""
    return _modified_numeric(False).plots[0]


def measured_threshold(rule: Any, L: int, s: Sequence[float] = (0.5, 1.0, 2.0), steps: int = 1500,
                       iterations: int = 30) -> float:
    """The step where the full matrices stop converging from u0 = s/2, found by bisection (an outcome).

    "Converges" means max |u_K − s|/s <= 1e-6 after `steps` steps; the bracket starts at
    [0.5, 2] × the derived η_max and is halved `iterations` times (relative width 1.5·2^−30).
    Near the threshold the multiplier is close to −1, so convergence is slow: the measured value
    sits slightly below η_max, by about log(1e-6)/steps relative.
    """
    s = np.asarray(s, dtype=float)
    eta = float(np.min(derive_discrete(rule, L).eta_max(s)))
    lo, hi = 0.5 * eta, 2.0 * eta
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if _settles(matrix_iterates(rule, L, s, s / 2, mid, steps), s) <= 1e-6:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def thresholds_tex(depths: Sequence[int] = (2, 3, 4)) -> str:
    """LaTeX table: derived η_max (min over s = 0.5, 1, 2) and the measured full-matrix threshold per rule and L."""
    rows = []
    for rule in RULES:
        for L in depths:
            eta = float(np.min(derive_discrete(rule, L).eta_max([0.5, 1.0, 2.0])))
            rows.append(f"{rule.name} & {L} & {eta:.6g} & {measured_threshold(rule, L):.6g} \\\\")
    return ("\\begin{tabular}{lrrr}\nrule & $L$ & derived $\\eta_{\\max}$ & measured threshold\\\\ \\hline\n"
            + "\n".join(rows) + "\n\\end{tabular}\n")
