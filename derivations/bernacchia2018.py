"""Bernacchia, Lengyel & Hennequin 2018: exact natural gradient in deep linear networks, derived by lindyn.

    python derivations/bernacchia2018.py OUTDIR

writes into OUTDIR
  bernacchia2018.tex             derived mode ODEs and solutions of NGD, block NGD (K-FAC's exact factors),
                                 the per-layer rule (block NGD ÷ L) and the power-q families;
  bernacchia2018_rules.png       GD vs NGD vs block NGD vs q = 1/2 (full and block) vs the per-layer rule on
                                 one problem (L = 3, non-white input, small random init): loss and slowest mode;
  bernacchia2018_deep.png        a 16-layer network (width 5, a scaled-down version of the paper's 16 layers of
                                 width 20): NGD and the per-layer rule converge as e^(−2t); GD sits on a plateau;
  bernacchia2018_bottleneck.png  with a bottleneck the per-layer rule is no longer exact NGD.

Uses only lindyn's public API (plus numpy to draw random problems).
"""
from __future__ import annotations

import pathlib
import sys
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import sympy  # noqa: E402

from lindyn import (GD, NGD, BlockNGD, Flow, GivenWeights, Network, Problem, Task, bernacchia, derive,  # noqa: E402
                    integrate)

#: Integrator settings of the 16-layer figure (tolerance of a plot, not of a test; the claims use rtol 1e-10).
FIGURE_FLOW = Flow(rtol=1e-8, atol=1e-10)
#: Figure size in inches and resolution: every PNG is 1080 x 600 pixels.
FIGSIZE, DPI = (9.0, 5.0), 120

RULES = [(GD(), "GD"), (NGD(), "NGD (full Fisher)"), (BlockNGD(), "block NGD = K-FAC (exact factors)"),
         (bernacchia(), "per-layer NG (block ÷ L, Bernacchia)"), (NGD(q=Fraction(1, 2)), "full NGD, q = 1/2"),
         (BlockNGD(q=Fraction(1, 2)), "block NGD, q = 1/2")]


def invertible_task(W_end: np.ndarray, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """A random target W* whose straight segment to W(0) stays invertible.

    NGD moves W on the segment W* + x(W(0) − W*), x = e^{−t}; it would meet a singular matrix where
    det vanishes, which lindyn refuses to integrate through (a real eigenvalue of W*⁻¹(W(0) − W*) <= −1).
    """
    n = W_end.shape[0]
    for _ in range(1000):
        W_star = scale * rng.normal(size=(n, n))
        ev = np.linalg.eigvals(np.linalg.solve(W_star, W_end - W_star))
        if not np.any((np.abs(ev.imag) <= 1e-9 * np.abs(ev)) & (ev.real <= -1.0)):
            return W_star
    raise RuntimeError("no invertible segment found")


def rules_figure(out: pathlib.Path) -> None:
    """All rules on one problem: widths 4-6-6-3 (L = 3), non-white input, small random init."""
    rng = np.random.default_rng(1)
    widths = (4, 6, 6, 3)
    G = rng.normal(size=(4, 4))
    Sxx = G @ G.T / 4 + 0.2 * np.eye(4)                   # non-white input covariance
    U, _, Vt = np.linalg.svd(rng.normal(size=(3, 4)), full_matrices=False)
    Syx = U @ np.diag([3.0, 1.0, 0.3]) @ Vt @ Sxx          # W* = Σ_yx Σ_xx⁻¹ has singular values 3, 1, 0.3
    W0 = tuple(0.15 * rng.normal(size=(widths[i + 1], widths[i])) for i in range(3))
    # read modes in W*'s own bases (Σ_yx's SVD differs from W*'s when the input is not white)
    problem = Problem(Network(widths), Task(Sigma_yx=Syx, Sigma_xx=Sxx), GivenWeights(W0), mode_bases=(U, Vt.T))
    t = np.geomspace(1e-3, 60.0, 120)
    t = np.concatenate([[0.0], t])
    fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI)
    for color, (rule, label) in enumerate(RULES):
        traj = integrate(problem, rule, t)
        left.loglog(t[1:], traj.loss[1:] / traj.loss[0], color=f"C{color}", label=label)
        right.semilogx(t[1:], traj.u[2][1:] / 0.3, color=f"C{color}", label=label)
    left.loglog(t[1:], np.exp(-2 * t[1:]), "k:", lw=1, label="e^(−2t) (exact NGD law)")
    left.loglog(t[1:], np.exp(-6 * t[1:]), "k--", lw=1, label="e^(−2Lt) (block NGD law, L = 3)")
    left.set_ylim(1e-12, 2)
    left.set_xlabel("t")
    left.set_ylabel("excess loss ℓ(t)/ℓ(0)")
    left.set_title("One problem: widths 4-6-6-3, non-white input, small random init\n"
                   "(NGD and the per-layer rule coincide)", fontsize=10)
    left.grid(alpha=0.3)
    left.legend(fontsize=7, loc="lower left")
    right.set_xlabel("t")
    right.set_ylabel("weakest mode u/s (s = 0.3)")
    right.set_title("Weakest mode: GD waits on a plateau,\nNGD learns it like the others", fontsize=10)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "bernacchia2018_rules.png")
    plt.close(fig)


def deep_figure(out: pathlib.Path) -> dict[str, float]:
    """16 layers of width 5 from an init of scale 0.7 per layer: NGD is exponential, GD plateaus."""
    rng = np.random.default_rng(2)
    n, L = 5, 16
    W0 = [0.7 * (np.eye(n) + 0.3 * rng.normal(size=(n, n)) / np.sqrt(n)) for _ in range(L)]
    end = np.linalg.multi_dot(W0[::-1])
    problem = Problem(Network((n,) * (L + 1)), Task(Sigma_yx=invertible_task(end, rng)), GivenWeights(tuple(W0)))
    t = np.linspace(0.0, 6.0, 31)
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    errors = {}
    for color, (rule, label) in enumerate(RULES[:4]):
        if rule.name == "blockdiag":
            continue                    # identical path L = 16 times faster; shown in the L = 3 figure
        traj = integrate(problem, rule, t, method=FIGURE_FLOW)
        ax.semilogy(t, traj.loss / traj.loss[0], color=f"C{color}", lw=2, label=label,
                    ls="--" if rule.name == "bernacchia" else "-")
        if rule.name in ("ngd", "bernacchia"):
            errors[rule.name] = float(np.max(np.abs(traj.loss / traj.loss[0] - np.exp(-2 * t))))
    ax.semilogy(t, np.exp(-2 * t), "k:", label="e^(−2t): W(t) = W* + e^(−t)(W(0) − W*)")
    ax.set_xlabel("t")
    ax.set_ylabel("excess loss ℓ(t)/ℓ(0)")
    ax.set_title(f"Deep linear network, {L} layers of width {n} (initial ‖W‖ small: layer gain 0.7):\n"
                 "NGD and the per-layer rule (dashed; the two coincide) converge at rate 1, GD plateaus", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "bernacchia2018_deep.png")
    plt.close(fig)
    return errors


def bottleneck_figure(out: pathlib.Path) -> None:
    """Widths 6-6-6-6 vs 6-4-2-4-6: the per-layer rule equals exact NGD only without a bottleneck."""
    rng = np.random.default_rng(3)
    fig, axes = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI, sharey=True)
    t = np.linspace(0.0, 5.0, 51)
    for ax, widths in zip(axes, ((6, 6, 6, 6), (6, 4, 2, 4, 6))):
        L = len(widths) - 1
        W0 = [rng.normal(size=(widths[i + 1], widths[i])) / np.sqrt(widths[i]) for i in range(L)]
        end = np.linalg.multi_dot(W0[::-1])
        if min(widths) == widths[0]:
            W_star = invertible_task(end, rng)
        else:   # a rank-2 target that the bottleneck can represent
            W_star = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 6)) / np.sqrt(2)
        problem = Problem(Network(widths), Task(Sigma_yx=W_star), GivenWeights(tuple(W0)))
        for color, (rule, label) in enumerate(RULES[:4]):
            if rule.name == "blockdiag":
                continue
            traj = integrate(problem, rule, t)
            ax.semilogy(t, traj.loss / traj.loss[0], color=f"C{color}", lw=2 if rule.name == "ngd" else 1.5,
                        ls="-" if rule.name != "bernacchia" else "--", label=label)
        ax.semilogy(t, np.exp(-2 * t), "k:", lw=1, label="e^(−2t)")
        name = "-".join(map(str, widths))
        ax.set_title(f"widths {name}: " + ("per-layer rule = NGD = e^(−2t)" if min(widths) == widths[0]
                                           else "bottleneck, rank-2 target:\nthe per-layer rule departs from NGD"),
                     fontsize=10)
        ax.set_xlabel("t")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("excess loss ℓ(t)/ℓ(0)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "bernacchia2018_bottleneck.png")
    plt.close(fig)


def formulas(out: pathlib.Path) -> None:
    """The derived formulas as a LaTeX fragment."""
    q = sympy.Symbol("q", positive=True)
    parts = ["% Bernacchia et al. 2018, derived by lindyn (python derivations/bernacchia2018.py)"]
    for rule in (NGD(), BlockNGD(), bernacchia()):
        for L in (2, 3, 16):
            parts.append(derive(rule, L).latex())
    parts.append("% input variance lambda along the mode: NGD is invariant to input scaling")
    parts.append(derive(NGD(), 3, lam=sympy.Symbol("lambda", positive=True)).latex())
    parts.append("% power-q families (q symbolic)")
    parts.append(derive(NGD(q=q), 3).latex())
    parts.append(derive(BlockNGD(q=q), 3).latex())
    (out / "bernacchia2018.tex").write_text("\n".join(parts))


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    formulas(out)
    rules_figure(out)
    errors = deep_figure(out)
    bottleneck_figure(out)
    return ("bernacchia2018: wrote formulas and 3 figures; 16-layer |ℓ/ℓ0 − e^(−2t)|: "
            + ", ".join(f"{k} {v:.1g}" for k, v in errors.items()))


if __name__ == "__main__":
    from _script import run  # derivations/_script.py, beside this file

    sys.exit(run("bernacchia2018", write))
