"""Whole-matrix closed forms beyond aligned modes: two-layer λ-balanced GD (Braun et al. 2022) [derived].

The engine runs the GD rule on non-commuting matrix symbols (`lindyn.derive_matrix`): it finds the
balance W₂ᵀW₂ − W₁W₁ᵀ conserved and Q = [W₁ᵀ; W₂] obeying τQ̇ = FQ − ½Q(QᵀQ), so P = QQᵀ solves
the Riccati equation τṖ = FP + PF − P² with F = [[−(λ/2)I, Sᵀ], [S, (λ/2)I]] (Fukumizu 1998;
Braun, Dominé, Fitzgerald & Saxe 2022; Dominé et al. 2024), and evaluates its solution without
overflow at any t.

Claims:
* `riccati-two-layer` (two routes): symbolically, the derived F and κ against the papers' F (an
  oracle typed here) and NGD/K-FAC refused (they read the curvature); numerically, the closed-form
  W₂W₁(t), W₁ᵀW₁(t), W₂W₂ᵀ(t) against the integrated layer-wise flow for widths (3,3,3), (4,3,5),
  (5,3,4), λ ∈ {−1, 0, 0.5, 2}, random and aligned inits.
* `lazy-rich-transition` (outcome): as |λ| grows the network goes from rich to lazy learning: the
  tangent kernel and the weights move less (kernel distance, relative movement of P), and learning
  is faster [chosen example: 4-4-4, S = U diag(3, 2, 1, 0.5)Vᵀ in random bases, init scale 1e-3,
  seeds 0-4, λ ∈ ±{0.25, 1, 4, 16} and 0].
"""
from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from lindyn import GD, NGD, Flow, LambdaBalanced, Network, NoModeDecomposition, Problem, Task, derive_matrix, integrate, kfac
from lindyn.claims import Claim, Evidence, Measurement, Plot
from lindyn.papers import curve, expr_difference

WIDTHS = ((3, 3, 3), (4, 3, 5), (5, 3, 4))
LAMS = (-1.0, 0.0, 0.5, 2.0)
LAZY_LAMS = (-16.0, -4.0, -1.0, -0.25, 0.0, 0.25, 1.0, 4.0, 16.0)
SEEDS = (0, 1, 2, 3, 4)
T_END = 1e3


def _haar(n: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.normal(size=(n, n)))
    return Q * np.sign(np.diag(R))


def task(s: Any, n0: int, n2: int, seed: int = 0) -> Task:
    """Σ_yx = U diag(s) Vᵀ (n₂ x n₀) in Haar-random bases, Σ_xx = I [chosen example]."""
    rng = np.random.default_rng(seed)
    k = len(s)
    U, V = _haar(n2, rng)[:, :k], _haar(n0, rng)[:, :k]
    return Task(U @ np.diag(np.asarray(s, dtype=float)) @ V.T)


def _symbolic(thorough: bool) -> Evidence:
    sol = derive_matrix(GD(), Problem(Network((2, 2, 2)), Task(np.eye(2)), LambdaBalanced(lam=1.0)))
    form = sol.form
    lam = sympy.Symbol("lam", real=True)
    S, ST = sympy.symbols("S St", commutative=False)
    oracle = ((-lam / 2, ST), (S, lam / 2))                          # Braun et al. 2022, F
    worst = max(0.0 if sympy.expand(form.F[i][j] - oracle[i][j]) == 0 else 1.0 for i in range(2) for j in range(2))
    ms = [Measurement("F blocks vs Braun et al.'s [[−λ/2 I, Sᵀ], [S, λ/2 I]] (0: identical expressions)", worst),
          Measurement("κ − ½ in τQ̇ = FQ − κQ(QᵀQ)", float(abs(form.kappa - sympy.Rational(1, 2)))),
          Measurement("d/dt(W₂ᵀW₂ − W₁W₁ᵀ) under GD, expanded (0: conserved)", 0.0 if form.balance_rate == 0 else 1.0)]
    refused = 0
    for rule in (NGD(), kfac()):
        try:
            derive_matrix(rule, Problem(Network((2, 2, 2)), Task(np.eye(2)), LambdaBalanced(lam=1.0)))
        except NoModeDecomposition:
            refused += 1
    ms.append(Measurement("NGD and K-FAC refused (no Riccati form; they read the curvature): 1 − fraction refused",
                          1.0 - refused / 2))
    return Evidence("the GD rule on matrix symbols gives Braun et al.'s F, κ = ½ and a conserved balance",
                    tuple(ms), latex=("% derived by lindyn from the GD rule\n\\begin{equation}\n" + sol.latex()
                                      + "\n\\end{equation}\n",))


def _numeric(thorough: bool) -> Evidence:
    ms, curves = [], []
    t = np.linspace(0.0, 15.0, 31 if thorough else 16)
    for w in WIDTHS:
        worst = 0.0
        for lam in LAMS:
            for kind in ("random", "aligned"):
                p = Problem(Network(w), task(np.linspace(2.0, 0.5, min(w[0], w[2])), w[0], w[2], seed=sum(w)),
                            LambdaBalanced(lam=lam, scale=0.3, kind=kind, seed=1))
                sol = derive_matrix(GD(), p)
                tr = integrate(p, GD(), t, Flow(rtol=1e-12, atol=1e-14))
                K1, K2 = sol.representations(t)
                W1, W2 = tr.W
                err = max(np.abs(sol.network_map(t) - tr.W_end).max(),
                          np.abs(K1 - np.swapaxes(W1, 1, 2) @ W1).max(), np.abs(K2 - W2 @ np.swapaxes(W2, 1, 2)).max())
                worst = max(worst, float(err))
                if w == (4, 3, 5) and kind == "random":
                    c = LAMS.index(lam)
                    curves.append(curve(f"λ = {lam:g}: closed form", t, sol.loss(t), "-", c))
                    curves.append(curve(f"λ = {lam:g}: integrated", t, tr.loss, "o", c))
        ms.append(Measurement(f"widths {w}: max |closed form − integrated| over W₂W₁, W₁ᵀW₁, W₂W₂ᵀ, λ ∈ "
                              f"{{{', '.join(f'{x:g}' for x in LAMS)}}}, random and aligned", worst))
    plot = Plot("riccati_loss", "Two-layer GD, widths 4-3-5, random λ-balanced init: closed form vs integration",
                "t / τ", "loss ½‖W − S‖²", tuple(curves), yscale="log")
    return Evidence("closed-form Riccati solution vs DOP853 (rtol 1e-12) on 24 problems per width",
                    tuple(ms), plots=(plot,))


def lazy_rich_sweep(lams: Any = LAZY_LAMS, seeds: Any = SEEDS, scale: float = 1e-3, n_t: int = 400) -> dict[str, Any]:
    """Closed-form sweep over λ (4-4-4, s = 3, 2, 1, 0.5): kernel distance, movement of P, learning time.

    Returns arrays over λ (mean over seeds, with min/max) and the kernel-distance curves of seed 0:
    kernel_distance at T_END, movement ‖P(T_END) − P(0)‖_F / ‖P(0)‖_F, t99 = first t with loss <= 1% of
    its initial value (on a log grid of `n_t` points over 1e-3..T_END).
    """
    t = np.geomspace(1e-3, T_END, n_t)
    out: dict[str, Any] = {"lam": np.asarray(lams, dtype=float), "t": t, "curves": {}}
    kd, mv, t99 = [], [], []
    for lam in lams:
        row_kd, row_mv, row_t = [], [], []
        for seed in seeds:
            p = Problem(Network((4, 4, 4)), task((3.0, 2.0, 1.0, 0.5), 4, 4, seed=0),
                        LambdaBalanced(lam=lam, scale=scale, seed=seed))
            sol = derive_matrix(GD(), p)
            loss = sol.loss(t)
            row_t.append(float(t[np.argmax(loss <= 0.01 * sol.loss([0.0])[0])]))
            row_kd.append(float(sol.kernel_distance([T_END])[0]))
            P0, P1 = sol.P([0.0, T_END])
            row_mv.append(float(np.linalg.norm(P1 - P0) / np.linalg.norm(P0)))
            if seed == seeds[0]:
                out["curves"][float(lam)] = sol.kernel_distance(t)
        kd.append(row_kd)
        mv.append(row_mv)
        t99.append(row_t)
    for name, rows in (("kernel_distance", kd), ("movement", mv), ("t99", t99)):
        arr = np.array(rows)
        out[name] = arr.mean(axis=1)
        out[name + "_min"], out[name + "_max"] = arr.min(axis=1), arr.max(axis=1)
    return out


def _lazy_rich(thorough: bool) -> Evidence:
    r = lazy_rich_sweep(seeds=SEEDS if thorough else SEEDS[:3])
    lam, kd, mv, t99 = r["lam"], r["kernel_distance"], r["movement"], r["t99"]
    i0 = int(np.argmin(np.abs(lam)))
    big = np.abs(lam) == np.abs(lam).max()
    ms = [Measurement("kernel distance at λ = 0 (rich: the tangent kernel moves)", float(r["kernel_distance_min"][i0]),
                      0.1, "at_least"),
          Measurement("kernel distance at |λ| = 16 (lazy: it barely moves), worst seed",
                      float(r["kernel_distance_max"][big].max()), 1e-3, "at_most"),
          Measurement("relative movement of P at λ = 0 / at |λ| = 16", float(mv[i0] / mv[big].max()), 100.0,
                      "at_least")]
    for sign in (1, -1):
        side = [k for k in np.argsort(np.abs(lam)) if np.sign(lam[k]) in (0, sign)]
        steps = np.diff(kd[side])
        ms.append(Measurement(f"kernel distance non-increasing in |λ| for λ {'>' if sign > 0 else '<'}= 0: "
                              "largest increase between neighbours", float(max(steps.max(), 0.0)), 1e-12, "at_most"))
    ms.append(Measurement("learning time t99 at λ = 0 / at |λ| = 16", float(t99[i0] / t99[big].max()), 20.0, "at_least"))
    pos = (lam >= 4)
    slope = float(np.polyfit(np.log(lam[pos]), np.log(t99[pos]), 1)[0])
    ms.append(Measurement("fitted exponent of t99 ∝ λ^p over λ = 4..16 (lazy: p ≈ −1; at most −0.7)", slope, -0.7,
                          "at_most"))
    curves = [curve(f"λ = {x:g}", r["t"], np.maximum(r["curves"][float(x)], 1e-16), "-", k)
              for k, x in enumerate(x for x in lam if x >= 0)]
    plots = (Plot("lazy_rich_kernel", "Tangent-kernel distance from init, 4-4-4 GD, init scale 1e-3 (seed 0)",
                  "t / τ", "1 − cos(K(0), K(t))", tuple(curves), xscale="log", yscale="log"),
             Plot("lazy_rich_summary", "Lazy-to-rich transition as λ varies (mean over seeds)", "λ", "value",
                  (curve("kernel distance at t = 1e3", lam, kd, "o", 0),
                   curve("movement ‖P(∞) − P(0)‖/‖P(0)‖", lam, mv, "s", 1),
                   curve("t99 (loss at 1% of initial)", lam, t99, "^", 2)), yscale="log"))
    summary = (f"kernel distance {kd[i0]:.3g} at λ = 0 → {kd[big].max():.2g} at |λ| = 16; t99 {t99[i0]:.3g} → "
               f"{t99[big].max():.3g}; t99 ∝ λ^{slope:.2f} for λ = 4..16")
    return Evidence(summary, tuple(ms), plots=plots)


CLAIMS = (
    Claim("riccati-two-layer",
          "Derived from the GD rule on whole matrices, a two-layer λ-balanced net obeys the matrix Riccati equation "
          "τṖ = FP + PF − P² for P = QQᵀ, Q = [W₁ᵀ; W₂]; its closed-form solution, evaluated without overflow, is the "
          "integrated network map and representations for any alignment and unequal widths.",
          r"\tau\dot P = FP + PF - P^2,\ F = \begin{pmatrix} -\frac{\lambda}{2}I & S^{\top} \\ S & \frac{\lambda}{2}I"
          r"\end{pmatrix}",
          "Fukumizu 1998 and Braun, Dominé, Fitzgerald & Saxe 2022 (abstract: the matrix Riccati solution, the network "
          "function, representations and neural tangent kernel); the derivation from the rule and the stable evaluation: [derived]",
          _symbolic, _numeric, 1e-8,
          "symbolic: exact expression identity; numeric: DOP853 at rtol 1e-12, atol 1e-14 vs the closed form, 1e-8 "
          "absolute on entries of size <= 10 (the issue's bound; the integrator's own error dominates)"),
    Claim("lazy-rich-transition",
          "As |λ| grows, two-layer GD goes from rich to lazy learning (4-4-4, init scale 1e-3, seeds 0-4): at λ = 0 "
          "from small init the tangent kernel and "
          "the weights move far and learning takes long; at |λ| = 16 the kernel barely moves and the loss falls on the "
          "kernel's time scale ∝ 1/λ.",
          r"\lambda = 0:\ \text{rich};\quad |\lambda|\to\infty:\ K(t)\approx K(0),\ t_{99}\propto|\lambda|^{-1}",
          "Dominé et al. 2024 (abstract: λ-balanced inits span the rich and lazy regimes); measured here on the closed "
          "form: [chosen example]",
          None, _lazy_rich, 1e-3,
          "outcome thresholds: kernel distance >= 0.1 at λ = 0 and <= 1e-3 at |λ| = 16 on every seed, monotone in |λ|; "
          "movement ratio >= 100; t99 ratio >= 20; fitted exponent <= −0.7", kind="outcome"),
)
