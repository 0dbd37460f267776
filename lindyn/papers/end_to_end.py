"""Arora, Cohen & Hazan 2018: the end-to-end flow of a balanced deep linear network, derived from the rule.

Arora et al.'s Theorem 1 (ICML 2018, "On the optimization of deep networks: implicit acceleration
by overparameterization"): under gradient flow from a balanced init, W_{j+1}ᵀW_{j+1} = W_jW_jᵀ, the
end-to-end map W = W_L⋯W_1 obeys (τ = 1)

    dW/dt = −Σ_{j=1}^{L} (WWᵀ)^{(L−j)/L} ∇ℓ(W) (WᵀW)^{(j−1)/L}.

lindyn does not type this in: `lindyn.end_to_end.EndToEnd(rule, L)` derives the flow of W from any
rule's definition (balanced factorisation, the deep geometry, `rule.velocity`, product rule), and
`integrate` integrates it. The formula above and its full-Fisher analogue −A^{1−q}(∇ℓ) [derived]
(`arora_velocity`, `ngd_power_velocity`) are oracles of this module only. Two claims:

- `arora-end-to-end` (two routes): the EndToEnd velocity equals the oracles at random W, and on an
  aligned mode the oracles equal the engine's derived mode ODE (first route); integrating the deep
  network layer by layer from a balanced init and integrating the EndToEnd flow of the one-layer
  problem give the same W(t) for GD, NGD and NGD^½ at L = 2..4 (second route).
- `end-to-end-block-breaks` (outcome): block rules break balance; what that does to the end-to-end
  map, measured against the EndToEnd flow (which re-balances at every instant).

>>> [c.name for c in CLAIMS]
['arora-end-to-end', 'end-to-end-block-breaks']
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import numpy as np
import sympy

from lindyn import (GD, NGD, BlockNGD, Flow, GivenWeights, LindynError, Network, Problem, Task, derive, integrate,
                   kfac, layer_velocities)
from lindyn.claims import SYMBOLIC_TOL, Claim, Evidence, Measurement, Plot
from lindyn import EndToEnd, balanced_factors, end_to_end_problem, imbalance
from lindyn.papers import curve, expr_difference
from lindyn.papers.saxe2014 import segment_invertible, spd

__all__ = ["CLAIMS", "arora_velocity", "ngd_power_velocity", "balanced_random_problem", "FlowPair", "flow_pair",
           "half_time", "at_time", "growth_exponent", "agreement_runs", "block_study", "BlockStudy", "agreement_plot", "block_plots",
           "formulas_tex", "AGREE_FLOW", "AGREE_TOL", "VELOCITY_TOL", "BREAK_THRESHOLD", "IMBALANCE_THRESHOLD",
           "GD_THRESHOLD", "SEEDS", "WIDTH"]

HALF = Fraction(1, 2)

#: Every layer n x n (the balanced factorisation needs equal widths).
WIDTH = 4
#: Rules that keep a balanced init balanced (Huh 2020's conservation law): the EndToEnd flow is exact.
AGREE_RULES = (GD(), NGD(), NGD(q=HALF))
#: GD as the control, and the two block rules (K-FAC = block NGD q = 1, and √NGD-d, q = 1/2).
BLOCK_RULES = (GD(), kfac(), BlockNGD(q=HALF))

#: Both flows by DOP853 at rtol 1e-13, atol 1e-15: the two integrations then agree to ~2e-11 of ‖W*‖
#: (the gap is the solvers' error: at rtol 1e-12 GD runs at L = 4 reached 4.8e-10, at rtol 1e-11 1.8e-9).
AGREE_FLOW = Flow(rtol=1e-13, atol=1e-15)
#: Layer-wise vs EndToEnd W(t), relative to ‖W*‖_F: 1e-9 (measured up to ~2e-11 at AGREE_FLOW).
AGREE_TOL = 1e-9
#: EndToEnd velocity vs the oracles at one W: both are a few dozen flops in double precision (seen ≤ 1e-14).
VELOCITY_TOL = 1e-12

#: Seed policy: the same seeds for every rule and depth. The agreement claim uses SEEDS[:2] by default,
#: the block measurement all of SEEDS; thorough runs use range(6).
SEEDS = (0, 1, 2)
THOROUGH_SEEDS = tuple(range(6))

#: Block study: the √NGD-d end-to-end map must have left the EndToEnd flow by at least this much
#: (relative to ‖W*‖) at its half-learning time; GD must stay within GD_THRESHOLD of it; a block rule
#: has broken balance when max_i ‖C_i‖_F reaches IMBALANCE_THRESHOLD at t_{1/2} (layers of scale ~1; GD
#: keeps it at rounding level, < GD_IMBALANCE; the block rules were seen at 0.1 to 1.7).
BREAK_THRESHOLD = 1e-3
GD_THRESHOLD = 1e-9
IMBALANCE_THRESHOLD = 1e-2
#: GD keeps the balance to rounding (C_i is conserved): its imbalance must stay below this.
GD_IMBALANCE = 1e-10
#: Early-growth window for the fitted exponents, as fractions of each run's t_{1/2} (K-FAC runs L times
#: faster than GD, so a fixed window would reach its curved part): from a balanced init C(0) = 0 and
#: Ċ(0) ≠ 0, so the imbalance grows ∝ t; the two velocities agree at t = 0 and differ by
#: O(imbalance), so the discrepancy grows ∝ t² [derived]. Exponents within 0.1 of 1 and 2.
EARLY_WINDOW = (1e-3, 1e-2)
EXPONENT_TOL = 0.1

REASON = ("velocities: EndToEnd vs the oracles at one W, double precision (seen ≤ 1e-14, bound 1e-12); symbolic: "
          "exact sympy identities (or 40 digits, 1e-30); flows: two DOP853 runs at rtol 1e-13, atol 1e-15 agree to "
          "~2e-11 of ‖W*‖, bound 1e-9")


# --- oracles: the paper's formula and its full-Fisher analogue (comparison routes only) -------------

def _psd_power(S: np.ndarray, p: float) -> np.ndarray:
    """S^p of a symmetric PSD matrix by eigendecomposition (negative rounding eigenvalues clipped to 0)."""
    lam, V = np.linalg.eigh(0.5 * (S + S.T))
    lam = np.clip(lam, 0.0, None)
    powered = np.where(lam > 0, lam, 1.0) ** p * (lam > 0) if p != 0 else np.ones_like(lam)
    return (V * powered) @ V.T


def arora_velocity(W: np.ndarray, G: np.ndarray, L: int) -> np.ndarray:
    """Oracle: Arora, Cohen & Hazan 2018, Theorem 1 (τ = 1): −Σ_{j=1}^{L} (WWᵀ)^{(L−j)/L} G (WᵀW)^{(j−1)/L}.

    Args:
        W: the end-to-end map (n_L x n_0).
        G: ∇ℓ(W), e.g. WΣ − Σ_yx for the squared loss on moments.
        L: depth >= 1.

    >>> import numpy as np
    >>> arora_velocity(np.diag([4.0, 1.0]), np.eye(2), 2).tolist()      # −2σ per diagonal entry
    [[-8.0, -0.0], [-0.0, -2.0]]
    """
    WWt, WtW = W @ W.T, W.T @ W
    return -sum(_psd_power(WWt, (L - j) / L) @ G @ _psd_power(WtW, (j - 1) / L) for j in range(1, L + 1))


def ngd_power_velocity(W: np.ndarray, G: np.ndarray, L: int, q: Any) -> np.ndarray:
    """Oracle [derived]: full NGD^q on a balanced chain, whitened input: dW/dt = −A^{1−q}(G).

    A(G) = Σ_j (WWᵀ)^{(L−j)/L} G (WᵀW)^{(j−1)/L} = JJᵀ G (J the chain's Jacobian at the balanced
    factorisation), so −J(JᵀJ)^{+q}Jᵀ G = −(JJᵀ)^{1−q} G. In W = UΣVᵀ's basis A multiplies the entry
    (a, b) of UᵀGV by Σ_j σ_a^{2(L−j)/L} σ_b^{2(j−1)/L}; q = 0 is `arora_velocity`, q = 1 is −G on
    an invertible W (the exact NGD of THEORY §3).

    Args:
        W: a square end-to-end map; G: ∇ℓ(W) (with Σ = I: W − Σ_yx); L: depth; q: power in [0, 1].

    >>> import numpy as np
    >>> ngd_power_velocity(np.diag([4.0, 1.0]), np.eye(2), 2, 1).round(12).tolist()
    [[-1.0, 0.0], [0.0, -1.0]]
    """
    U, sigma, Vt = np.linalg.svd(W)
    G_basis = U.T @ G @ Vt.T
    mult = sum(np.outer(sigma ** (2 * (L - j) / L), sigma ** (2 * (j - 1) / L)) for j in range(1, L + 1))
    power = np.where(mult > 0, mult, 1.0) ** (1 - float(q)) * (mult > 0)
    return -U @ (power * G_basis) @ Vt


# --- experiments ---------------------------------------------------------------------------------

def balanced_random_problem(depth: int, seed: int, *, width: int = WIDTH, scale: float = 0.5,
                            whitened: bool = False) -> Problem:
    """A random task and a balanced random init: W(0) = scale·G/√n (G Gaussian), factorised balanced.

    Σ_yx Gaussian, Σ_xx random SPD (identity with `whitened`); the target is redrawn until the
    segment from W(0) to W* stays invertible (the straight-line rules, NGD and K-FAC, would
    otherwise meet a singular W; and det W(0) det W* > 0 lets balanced GD converge).

    Args:
        depth: L >= 1; seed: integer >= 0; width: n; scale: init scale; whitened: Σ_xx = I.

    >>> p = balanced_random_problem(3, seed=0)
    >>> p.network.widths, bool(imbalance(p.initial_weights()) < 1e-12)
    ((4, 4, 4, 4), True)
    """
    rng = np.random.default_rng(seed)
    Sxx = np.eye(width) if whitened else spd(width, rng)
    W0 = scale * rng.normal(size=(width, width)) / math.sqrt(width)
    for _ in range(1000):
        Syx = rng.normal(size=(width, width))
        if segment_invertible(W0, np.linalg.solve(Sxx.T, Syx.T).T):
            break
    else:
        raise LindynError(f"Argument `seed` must give an invertible segment W(0) → W*, got seed={seed!r}.")
    return Problem(Network((width,) * (depth + 1)), Task(Sigma_yx=Syx, Sigma_xx=Sxx),
                   GivenWeights(balanced_factors(W0, depth)))


@dataclass(frozen=True)
class FlowPair:
    """The layer-wise flow and the EndToEnd flow of one problem under one rule.

    Attributes:
        t: times (T,); layerwise, end_to_end: the two `NumericTrajectory`s;
        discrepancy: ‖W_layer(t) − W_e2e(t)‖_F / ‖W*‖_F, (T,);
        imbalance: max_i ‖W_{i+1}ᵀW_{i+1} − W_iW_iᵀ‖_F of the layer-wise flow, (T,);
        loss: the layer-wise excess loss, (T,).
    """

    t: np.ndarray
    layerwise: Any
    end_to_end: Any
    discrepancy: np.ndarray
    imbalance: np.ndarray
    loss: np.ndarray


def flow_pair(problem: Problem, rule: Any, t: Sequence[float], method: Flow = AGREE_FLOW) -> FlowPair:
    """Integrate `problem` layer by layer and its one-layer problem under EndToEnd(rule, L); compare W(t).

    >>> pair = flow_pair(balanced_random_problem(2, seed=0), GD(), [0.0, 0.5])
    >>> bool(pair.discrepancy.max() < 1e-9)
    True
    """
    L = problem.network.depth
    layer = integrate(problem, rule, t, method=method)
    e2e = integrate(end_to_end_problem(problem), EndToEnd(rule, L), t, method=method)
    scale = float(np.linalg.norm(problem.task.W_star))
    d = np.linalg.norm(layer.W_end - e2e.W_end, axis=(1, 2)) / scale
    return FlowPair(np.asarray(layer.t), layer, e2e, d, imbalance(layer.W), np.asarray(layer.loss, dtype=float))


def half_time(t: np.ndarray, loss: np.ndarray) -> float:
    """First time the excess loss falls to ℓ(0)/2, interpolated linearly in (log t, log ℓ) between grid points.

    >>> half_time(np.array([0.0, 1.0, 2.0, 4.0]), np.array([1.0, 0.8, 0.4, 0.1]))
    1.6
    """
    target = loss[0] / 2
    hits = np.nonzero(loss <= target)[0]
    if len(hits) == 0:
        raise LindynError(f"Argument `t` must reach the half-learning time (loss ℓ(0)/2 = {target:.3g}), got "
                          f"t up to {t[-1]:.3g} with loss {loss[-1]:.3g}.")
    k = int(hits[0])
    if k == 0 or t[k - 1] <= 0:
        return float(t[k])
    x = np.log([loss[k], loss[k - 1]])
    y = np.log([t[k], t[k - 1]])
    return float(np.exp(np.interp(math.log(target), x, y)))


def at_time(t: np.ndarray, y: np.ndarray, t0: float) -> float:
    """y at t0 by interpolation in (log t, log y) over t > 0 (y clipped at 1e-300).

    >>> at_time(np.array([0.0, 1.0, 10.0]), np.array([0.0, 1.0, 100.0]), 3.0)
    9.000000000000002
    """
    pos = t > 0
    return float(np.exp(np.interp(math.log(t0), np.log(t[pos]), np.log(np.maximum(y[pos], 1e-300)))))


def growth_exponent(t: np.ndarray, y: np.ndarray, window: tuple[float, float]) -> float:
    """Least-squares slope p of log y against log t over t in `window` (y ∝ t^p).

    >>> t = np.geomspace(1e-3, 1e-2, 5)
    >>> round(growth_exponent(t, 3 * t ** 2, (1e-3, 1e-2)), 12)
    2.0
    """
    sel = (t >= window[0] * (1 - 1e-12)) & (t <= window[1] * (1 + 1e-12))
    return float(np.polyfit(np.log(t[sel]), np.log(np.maximum(y[sel], 1e-300)), 1)[0])


# --- arora-end-to-end ----------------------------------------------------------------------------

def _mode_oracle(rule: Any, L: int, u: sympy.Symbol, s: sympy.Symbol) -> sympy.Expr:
    """The oracles on one aligned mode (1 x 1 matrices W = u > 0, ∇ℓ = u − s, Σ = 1)."""
    A = sum(u ** sympy.Rational(2 * (L - j), L) * u ** sympy.Rational(2 * (j - 1), L) for j in range(1, L + 1))
    q = 0 if rule.name == "gd" else sympy.Rational(rule.q)
    return -A ** (1 - q) * (u - s)


def _oracle_route(thorough: bool) -> Evidence:
    """EndToEnd's velocity vs the oracles at random W, and the oracles on a mode vs the derived mode ODE."""
    ms = []
    depths = (2, 3, 4, 5, 6) if thorough else (2, 3, 4)
    seeds = THOROUGH_SEEDS if thorough else SEEDS
    for rule in AGREE_RULES:
        worst_sym = 0.0
        for L in depths:
            d = derive(rule, L)
            sym = d.symbols
            points = [{sym.s: sympy.Rational(3, 2), sym.u: sympy.Rational(1, 3)}, {sym.s: 2, sym.u: sympy.Rational(7, 5)}]
            worst_sym = max(worst_sym, expr_difference(d.ode.rhs, _mode_oracle(rule, L, sym.u, sym.s), points))
        what = "Theorem 1" if rule.name == "gd" else "−A^(1−q)(∇ℓ)"
        ms.append(Measurement(f"{rule.name}, L = {', '.join(map(str, depths))}: {what} on an aligned mode − the "
                              "derived mode ODE τu̇ (relative; 0 = proved by sympy)", worst_sym, SYMBOLIC_TOL))
    for rule in AGREE_RULES:
        worst = 0.0
        for L in depths:
            for seed in seeds:
                rng = np.random.default_rng(1000 + seed)
                n = WIDTH
                W = rng.normal(size=(n, n)) / math.sqrt(n)
                Syx = rng.normal(size=(n, n))
                Sxx = spd(n, rng) if rule.name == "gd" else np.eye(n)
                one = Problem(Network((n, n)), Task(Sigma_yx=Syx, Sigma_xx=Sxx), GivenWeights((W,)))
                v = layer_velocities(one, EndToEnd(rule, L))[0]
                G = W @ Sxx - Syx
                oracle = arora_velocity(W, G, L) if rule.name == "gd" else ngd_power_velocity(W, G, L, rule.q)
                worst = max(worst, float(np.abs(v - oracle).max() / np.abs(oracle).max()))
        data = "random SPD Σ_xx" if rule.name == "gd" else "Σ_xx = I"
        what = "Arora et al. Theorem 1" if rule.name == "gd" else f"−A^(1−q)(∇ℓ), q = {rule.q}"
        ms.append(Measurement(f"{rule.name}: EndToEnd velocity vs {what} at random W ({len(seeds)} seeds x L = "
                              f"{', '.join(map(str, depths))}, {data}; max relative)", worst, VELOCITY_TOL))
    latex = (r"\tau\dot W = \sum_{j=1}^{L} W_L\cdots W_{j+1}\,\dot W_j\,W_{j-1}\cdots W_1\Big|_{W_1=\Sigma^{1/L}V^\top,"
             r"\ W_j=\Sigma^{1/L},\ W_L=U\Sigma^{1/L}} = -\sum_{j=1}^{L}(WW^\top)^{\frac{L-j}{L}}\nabla\ell(W)"
             r"(W^\top W)^{\frac{j-1}{L}}\ \text{(GD)}",)
    return Evidence("EndToEnd's velocity, derived from each rule, is Arora et al.'s Theorem 1 for GD and −A^{1−q}(∇ℓ) "
                    "for NGD^q; on an aligned mode both are the engine's mode ODE", tuple(ms), latex=latex)


def agreement_runs(thorough: bool = False) -> tuple[dict[tuple[str, int], list[FlowPair]], np.ndarray]:
    """The `flow_pair`s of GD, NGD, NGD^½ at L = 2..4 (2..5 thorough) on the same seeds, and their time grid."""
    depths = (2, 3, 4, 5) if thorough else (2, 3, 4)
    seeds = THOROUGH_SEEDS if thorough else SEEDS[:2]
    t = np.linspace(0.0, 5.0, 26) if thorough else np.linspace(0.0, 3.0, 16)
    out: dict[tuple[str, int], list[FlowPair]] = {}
    for rule in AGREE_RULES:
        for L in depths:
            out[(rule.name, L)] = [flow_pair(balanced_random_problem(L, seed), rule, t) for seed in seeds]
    return out, t


def agreement_plot(pairs: dict[tuple[str, int], list[FlowPair]], t: np.ndarray) -> Plot:
    """Per rule, the worst layer-wise vs EndToEnd discrepancy over depths and seeds, against t (log y)."""
    curves = []
    for color, rule in enumerate(AGREE_RULES):
        runs = [p.discrepancy for (name, _), ps in pairs.items() if name == rule.name for p in ps]
        worst = np.max(runs, axis=0)
        curves.append(curve(rule.name, t[1:], np.maximum(worst[1:], 1e-17), "o", color))
    curves.append(curve(f"tolerance {AGREE_TOL:g}", t[[1, -1]], [AGREE_TOL, AGREE_TOL], "--", 7))
    depths = sorted({L for _, L in pairs})
    n_seeds = len(next(iter(pairs.values())))
    return Plot("end_to_end_agreement", f"Balanced init: layer-wise W_L⋯W_1 vs the EndToEnd flow (worst over "
                f"L = {', '.join(map(str, depths))}, {n_seeds} seeds)", "t", "‖ΔW‖_F / ‖W*‖_F, layer-wise − EndToEnd",
                tuple(curves), yscale="log")


def _flows_route(thorough: bool) -> Evidence:
    pairs, t = agreement_runs(thorough)
    ms = []
    for rule in AGREE_RULES:
        for L in sorted({L for name, L in pairs if name == rule.name}):
            ps = pairs[(rule.name, L)]
            worst = max(float(p.discrepancy.max()) for p in ps)
            drift = max(float(p.imbalance.max()) for p in ps)
            ms.append(Measurement(f"{rule.name}, L = {L}: layer-wise W_L⋯W_1 vs EndToEnd flow, max over t ≤ {t[-1]:g} and "
                                  f"{len(ps)} seeds, ‖ΔW‖_F/‖W*‖_F (layer-wise imbalance stays {drift:.1g})", worst))
    worst = max(m.value for m in ms)
    depths = sorted({L for _, L in pairs})
    return Evidence(f"layer-wise and EndToEnd flows agree to {worst:.1g} of ‖W*‖ (GD, NGD, NGD^½; L = {depths[0]}.."
                    f"{depths[-1]})",
                    tuple(ms), plots=(agreement_plot(pairs, t),))


# --- end-to-end-block-breaks ---------------------------------------------------------------------

@dataclass(frozen=True)
class BlockStudy:
    """Per rule name, one row per (depth, seed): t_{1/2}, discrepancy and imbalance at t_{1/2}, early exponents.

    Attributes:
        t: the common time grid; rows: rule name -> list of dicts (depth, seed, t_half, d_half, imb_half,
            d_max, p_d, p_imb); pairs: rule name -> list of `FlowPair` (same order as rows).
    """

    t: np.ndarray
    rows: dict[str, list[dict[str, float]]]
    pairs: dict[str, list[FlowPair]]


def block_study(depths: Sequence[int] = (3,), seeds: Sequence[int] = SEEDS, t_max: float = 5.0) -> BlockStudy:
    """Layer-wise vs EndToEnd flows of GD, K-FAC and √NGD-d from balanced random inits (same seeds for all).

    For each rule, depth and seed: t_{1/2} (the layer-wise excess loss first reaches ℓ(0)/2), the
    discrepancy ‖W_layer − W_e2e‖_F/‖W*‖_F and the imbalance max_i ‖C_i‖_F at t_{1/2} (log-log
    interpolation on a geometric grid of 71 times in [1e-5, t_max]), and the exponents p of the early
    growth ∝ t^p over t in t_{1/2} · `EARLY_WINDOW`.
    """
    t = np.concatenate([[0.0], np.geomspace(1e-5, t_max, 71)])
    rows: dict[str, list[dict[str, float]]] = {r.name: [] for r in BLOCK_RULES}
    pairs: dict[str, list[FlowPair]] = {r.name: [] for r in BLOCK_RULES}
    for L in depths:
        for seed in seeds:
            problem = balanced_random_problem(L, seed)
            for rule in BLOCK_RULES:
                p = flow_pair(problem, rule, t)
                th = half_time(t, p.loss)
                early = (EARLY_WINDOW[0] * th, EARLY_WINDOW[1] * th)
                rows[rule.name].append({"depth": L, "seed": seed, "t_half": th,
                                        "d_half": at_time(t, p.discrepancy, th), "imb_half": at_time(t, p.imbalance, th),
                                        "d_max": float(p.discrepancy.max()), "imb_max": float(p.imbalance.max()),
                                        "d_end": float(p.discrepancy[-1]),
                                        "p_d": growth_exponent(t, p.discrepancy, early),
                                        "p_imb": growth_exponent(t, p.imbalance, early)})
                pairs[rule.name].append(p)
    return BlockStudy(t, rows, pairs)


def block_plots(study: BlockStudy) -> tuple[Plot, Plot]:
    """Discrepancy and imbalance against t (log-log), one curve per rule and seed (first depth), t_{1/2} marked."""
    t = study.t[1:]
    d_curves, i_curves = [], []
    L0 = study.rows[BLOCK_RULES[0].name][0]["depth"]
    for color, rule in enumerate(BLOCK_RULES):
        first = True
        for row, p in zip(study.rows[rule.name], study.pairs[rule.name]):
            if row["depth"] != L0:
                continue
            label = rule.name if first else ""
            d_curves.append(curve(label, t, np.maximum(p.discrepancy[1:], 1e-17), "-", color))
            i_curves.append(curve(label, t, np.maximum(p.imbalance[1:], 1e-17), "-", color))
            mark = "value at t_{1/2} (each rule's)" if first and color == len(BLOCK_RULES) - 1 else ""
            d_curves.append(curve(mark, [row["t_half"]], [max(row["d_half"], 1e-17)], "o", color))
            i_curves.append(curve(mark, [row["t_half"]], [max(row["imb_half"], 1e-17)], "o", color))
            first = False
    d_curves.append(curve(f"threshold {BREAK_THRESHOLD:g}", t[[0, -1]], [BREAK_THRESHOLD] * 2, "--", 7))
    n_seeds = sum(1 for r in study.rows[BLOCK_RULES[0].name] if r["depth"] == L0)
    where = f"L = {L0}, width {WIDTH}, {n_seeds} seeds"
    return (Plot("end_to_end_block_discrepancy", f"Layer-wise W_L⋯W_1 vs the re-balanced EndToEnd flow ({where})",
                 "t", "‖ΔW‖_F / ‖W*‖_F, layer-wise − EndToEnd", tuple(d_curves), xscale="log", yscale="log"),
            Plot("end_to_end_block_imbalance", f"Balance of the layer-wise flow from a balanced init ({where})",
                 "t", "max_i ‖W_{i+1}ᵀW_{i+1} − W_iW_iᵀ‖_F", tuple(i_curves), xscale="log", yscale="log"))


def _stats(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3g} ± {v.std():.2g} [{v.min():.3g}, {v.max():.3g}]"


def _block_route(thorough: bool) -> Evidence:
    study = block_study(depths=(2, 3, 4) if thorough else (3,), seeds=THOROUGH_SEEDS if thorough else SEEDS)
    R = study.rows
    gd, kf, half = R["gd"], R["blockdiag"], R["blockdiag(q=1/2)"]
    n = len(gd)
    ms = (
        Measurement(f"√NGD-d (block q = 1/2): min over {n} runs of ‖W_layer − W_e2e‖/‖W*‖ at t_{{1/2}}",
                    min(r["d_half"] for r in half), BREAK_THRESHOLD, "at_least"),
        Measurement(f"GD (control, same seeds): max over {n} runs of ‖W_layer − W_e2e‖/‖W*‖ over the whole run",
                    max(r["d_max"] for r in gd), GD_THRESHOLD, "at_most"),
        Measurement(f"K-FAC (block q = 1): min over {n} runs of the imbalance max_i ‖C_i‖_F at t_{{1/2}} (balance broken)",
                    min(r["imb_half"] for r in kf), IMBALANCE_THRESHOLD, "at_least"),
        Measurement(f"K-FAC: max over {n} runs of ‖W_layer − W_e2e‖/‖W*‖ over the whole run (W still follows the "
                    "EndToEnd flow)", max(r["d_max"] for r in kf), GD_THRESHOLD, "at_most"),
        Measurement(f"√NGD-d: min over {n} runs of the imbalance at t_{{1/2}}", min(r["imb_half"] for r in half),
                    IMBALANCE_THRESHOLD, "at_least"),
        Measurement(f"GD (control): max over {n} runs of the imbalance over the whole run (C_i conserved)",
                    max(r["imb_max"] for r in gd), GD_IMBALANCE, "at_most"),
        Measurement(f"√NGD-d: max over {n} runs of |p − 2|, p the early growth exponent of the discrepancy "
                    f"(t in [{EARLY_WINDOW[0]:g}, {EARLY_WINDOW[1]:g}] t_{{1/2}})", max(abs(r["p_d"] - 2) for r in half),
                    EXPONENT_TOL, "at_most"),
        Measurement(f"K-FAC and √NGD-d: max over {2 * n} runs of |p − 1|, p the early growth exponent of the imbalance",
                    max(abs(r["p_imb"] - 1) for r in kf + half), EXPONENT_TOL, "at_most"),
    )
    summary = (f"over {n} runs (L = {sorted({r['depth'] for r in gd})}, seeds {sorted({r['seed'] for r in gd})}); "
               f"mean ± std [min, max]: √NGD-d discrepancy at t_{{1/2}} {_stats([r['d_half'] for r in half])}, "
               f"imbalance {_stats([r['imb_half'] for r in half])}, exponents d ∝ t^{_stats([r['p_d'] for r in half])}, "
               f"C ∝ t^{_stats([r['p_imb'] for r in half])}; the departure is transient (peak "
               f"{_stats([r['d_max'] for r in half])}, at t = {study.t[-1]:g} {_stats([r['d_end'] for r in half])}: both "
               f"flows reach W*); K-FAC imbalance at t_{{1/2}} "
               f"{_stats([r['imb_half'] for r in kf])} but discrepancy ≤ {max(r['d_max'] for r in kf):.1g}; "
               f"GD discrepancy ≤ {max(r['d_max'] for r in gd):.1g}")
    return Evidence(summary, ms, plots=block_plots(study))


# --- LaTeX for derivations/end_to_end.py ----------------------------------------------------------

def formulas_tex(study: BlockStudy | None = None) -> str:
    """LaTeX: the EndToEnd construction, what it is checked against, and the block-rule measurements."""
    parts = [
        "% The end-to-end flow of a balanced deep linear network, derived by lindyn from each rule "
        "(python derivations/end_to_end.py)",
        "% EndToEnd(rule, L): balanced factorisation of W, the deep geometry, rule.velocity, product rule",
        "\\begin{equation}\n W = U\\Sigma V^\\top,\\quad W_1 = \\Sigma^{1/L}V^\\top,\\ W_j = \\Sigma^{1/L},\\ "
        "W_L = U\\Sigma^{1/L},\\qquad \\tau\\dot W = \\sum_{j=1}^{L} W_L\\cdots W_{j+1}\\,"
        "v_j(\\partial\\ell/\\partial W_1,\\dots)\\,W_{j-1}\\cdots W_1\n\\end{equation}",
        "% checked against Arora, Cohen & Hazan 2018, Theorem 1 (GD), and the full-Fisher power [derived]",
        "\\begin{equation}\n \\dot W_{\\text{GD}} = -\\mathcal{A}(\\nabla\\ell),\\quad "
        "\\dot W_{\\text{NGD}^q} = -\\mathcal{A}^{1-q}(\\nabla\\ell),\\quad "
        "\\mathcal{A}(G) = \\sum_{j=1}^{L}(WW^\\top)^{\\frac{L-j}{L}}\\,G\\,(W^\\top W)^{\\frac{j-1}{L}}\n\\end{equation}",
    ]
    if study is not None:
        rows = []
        for rule in BLOCK_RULES:
            R = study.rows[rule.name]
            # an exponent fitted to rounding noise (the quantity never leaves ~1e-12) is not a growth law
            p_d = _tex_stats([r["p_d"] for r in R]) if max(r["d_max"] for r in R) > GD_THRESHOLD else "-- (rounding)"
            p_imb = (_tex_stats([r["p_imb"] for r in R]) if max(r["imb_max"] for r in R) > GD_THRESHOLD
                     else "-- (rounding)")
            rows.append(f"{rule.name} & {_tex_stats([r['t_half'] for r in R])} & "
                        f"{_tex_stats([r['d_half'] for r in R])} & {_tex_stats([r['imb_half'] for r in R])} & "
                        f"{p_d} & {p_imb} \\\\")
        n = len(study.rows["gd"])
        parts.append(f"% measured over {n} runs (mean, [min, max]); discrepancy = ||W_layer - W_e2e||_F/||W*||_F\n"
                     "\\begin{tabular}{llllll}\nrule & $t_{1/2}$ & discrepancy at $t_{1/2}$ & imbalance at $t_{1/2}$ "
                     "& growth exponent (discrepancy) & growth exponent (imbalance)\\\\ \\hline\n"
                     + "\n".join(rows) + "\n\\end{tabular}\n")
    return "\n".join(parts) + "\n"


def _tex_stats(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3g} [{v.min():.2g}, {v.max():.2g}]"


CLAIMS: tuple[Claim, ...] = (
    Claim("arora-end-to-end",
          "From a balanced init, the flow of W = W_L⋯W_1 derived from the rule (balanced factorisation, the deep "
          "geometry, the rule's own velocity, product rule) is Arora et al.'s Theorem 1 for GD and −A^{1−q}(∇ℓ) for "
          "full NGD^q, and integrating it gives the same W(t) as integrating the deep network layer by layer "
          "(GD, NGD, NGD^½; L = 2..4).",
          r"\dot W = -\sum_{j=1}^{L}(WW^\top)^{\frac{L-j}{L}}\nabla\ell(W)(W^\top W)^{\frac{j-1}{L}},\quad "
          r"\dot W_{\mathrm{NGD}^q} = -\mathcal{A}^{1-q}(\nabla\ell)",
          "Arora, Cohen & Hazan 2018, Theorem 1 (GD); NGD^q: [derived]",
          _oracle_route, _flows_route, AGREE_TOL, REASON),
    Claim("end-to-end-block-breaks",
          "Block rules break balance from a balanced init (the imbalance grows ∝ t and is ≥ 1e-2 at the half-learning "
          "time t_{1/2}, where GD keeps it at rounding level); for √NGD-d (block q = 1/2) the end-to-end map then leaves "
          "the re-balanced EndToEnd flow (discrepancy ∝ t², ≥ 1e-3 of ‖W*‖ at t_{1/2}; transient, both flows reach W*) "
          "while GD stays on it (< 1e-9); K-FAC (block q = 1) breaks balance even more, yet its W(t) still follows "
          "the EndToEnd flow (< 1e-9), since on invertible square layers its end-to-end velocity −L(W − W*) does not "
          "depend on the factorisation (random tasks and balanced inits, width 4, L = 3, seeds 0-2; thorough: "
          "L = 2-4, seeds 0-5).",
          r"\|W_{\mathrm{layer}}(t_{1/2}) - W_{\mathrm{e2e}}(t_{1/2})\| \ge 10^{-3}\|W^*\|\ (q=\tfrac12),\quad "
          r"\le 10^{-9}\|W^*\|\ (\mathrm{GD},\ q=1)",
          "Arora, Cohen & Hazan 2018 (balanced init, Theorem 1); block rules: [derived]",
          None, _block_route, GD_THRESHOLD,
          "thresholds: 1e-3 of ‖W*‖ for a visible departure (measured ~1e-2), 1e-9 for agreement (two DOP853 runs at "
          "rtol 1e-13 agree to ~1e-11), imbalance 1e-2 for broken balance on layers of scale ~1 (GD's stays < 1e-10), "
          "growth exponents within 0.1 of the derived 1 and 2",
          kind="outcome"),
)
