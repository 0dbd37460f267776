"""Saxe, McClelland & Ganguli 2014: exact learning dynamics of deep linear networks, derived by lindyn.

    python derivations/saxe2014.py OUTDIR

writes into OUTDIR
  saxe2014.tex                 the derived mode ODEs, solutions and conserved quantities (GD, L = 2, 3, 4,
                               and the unbalanced two-layer mode), and the learning-time table (Eq. 15 vs Eq. 17);
  saxe2014_fig3_modes.png      Fig. 3 redone: the hierarchical-tree data set (5-level binary tree), a
                               three-layer network (L = 2 weight matrices, 32 hidden units): each mode's closed
                               form u(t) against full-matrix integration, and plain GD from a small random init;
  saxe2014_learning_time.png   learning time against s (1/s at L = 2) and against depth (exact vs Eq. 17).

Uses only lindyn's public API.
"""
from __future__ import annotations

import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from lindyn import GD, Aligned, Discrete, Network, Problem, SmallRandom, Task, derive, integrate  # noqa: E402

#: Figure size in inches and resolution: every PNG is 1080 x 600 pixels.
FIGSIZE, DPI = (9.0, 5.0), 120
#: Saxe et al.'s Fig. 3 settings: learning rate λ = 0.5e-3 (τ = 1/λ), initial mode strength 1e-6, 32 hidden units.
LEARNING_RATE, U0, HIDDEN = 0.5e-3, 1e-6, 32


def hierarchical_tree_data(levels: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Items at the leaves of a binary tree with `levels` levels; one output feature per tree node.

    Item i has feature k = 1 when node k is on the path from the root to leaf i (Saxe et al. 2014,
    Sec. 4: hierarchically structured data). Inputs are one-hot, scaled by √P so that Σ_xx = I
    (whitened, the setting of the analytic solution).

    Returns:
        X (P x P) inputs and Y (nodes x P) features, P = 2^(levels−1) items, 2^levels − 1 nodes.
    """
    P = 2 ** (levels - 1)
    rows = []
    for depth in range(levels):
        width = P // 2 ** depth           # items under one node at this depth
        for node in range(2 ** depth):
            row = np.zeros(P)
            row[node * width:(node + 1) * width] = 1.0
            rows.append(row)
    return np.sqrt(P) * np.eye(P), np.array(rows)


def fig3_modes(out: pathlib.Path) -> dict[str, float]:
    """Closed-form u(t) of each distinct mode vs full-matrix flow and GD from a small random init."""
    X, Y = hierarchical_tree_data(5)
    task = Task.from_data(X, Y)
    s = np.linalg.svd(task.Sigma_yx, compute_uv=False)
    s = s[s > 1e-9]
    network = Network((X.shape[0], HIDDEN, Y.shape[0]))
    tau = 1.0 / LEARNING_RATE
    aligned = Problem(network, task, Aligned.balanced(np.full(len(s), U0), depth=2), tau=tau)
    # random init scaled so that the typical initial mode strength is of order U0, like the aligned one
    scale = float(np.sqrt(U0 / np.sqrt(HIDDEN)))
    random = Problem(network, task, SmallRandom(scale=scale, seed=3), tau=tau)
    t = np.linspace(0.0, 8.0e4, 321)
    closed = derive(GD(), 2).evaluate(t, s=s, u0=U0, tau=tau)
    flow = integrate(aligned, GD(), t)
    plain = integrate(random, GD(), t, method=Discrete(lr=1.0))        # one step = one iteration at rate λ
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    levels, first = np.unique(np.round(s, 9), return_index=True)
    for color, a in enumerate(sorted(first, key=lambda k: -s[k])):
        mult = int(np.sum(np.isclose(s, s[a])))
        ax.plot(t, closed[a], color=f"C{color}", lw=2, label=f"s = {s[a]:.3g} ({mult} mode{'s' if mult > 1 else ''})")
        ax.plot(t[::10], flow.u[a][::10], "o", color=f"C{color}", mfc="none", ms=5)
        ax.plot(plain.t, np.abs(plain.u[a]), "--", color=f"C{color}", lw=1)
    ax.plot([], [], "k-", lw=2, label="closed form u(t) (derived)")
    ax.plot([], [], "ko", mfc="none", label="full-matrix flow,\naligned init u0 = 1e-6")
    ax.plot([], [], "k--", lw=1, label="plain GD from a small\nrandom init (|u|)")
    ax.set_xlabel("t (iterations at learning rate 0.5e-3)")
    ax.set_ylabel("mode strength u")
    ax.set_title("Saxe et al. 2014, Fig. 3: hierarchical data (5-level binary tree), 16-32-31 network\n"
                 "each tree level is one mode strength s; stronger modes are learned first", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out / "saxe2014_fig3_modes.png")
    plt.close(fig)
    err = float(np.max(np.abs(flow.u[: len(s)] - closed)))
    return {"max |flow − closed form|": err, "modes": float(len(s))}


def learning_time(out: pathlib.Path) -> None:
    """Learning time from u0 = s/1000 to s/2 against s (L = 2, 3, 4), and against depth (exact vs Eq. 17)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI)
    s_grid = np.geomspace(0.2, 5.0, 40)
    for color, L in enumerate((2, 3, 4)):
        tr = derive(GD(), L)
        times = [tr.learning_time(sv / 2, s=sv, u0=sv / 1000) for sv in s_grid]
        left.loglog(s_grid, times, color=f"C{color}", label=f"L = {L} (derived)")
    left.loglog(s_grid, 3.0 / s_grid, "k:", label="∝ 1/s")
    left.set_xlabel("singular value s")
    left.set_ylabel("time from u = s/1000 to s/2 (τ = 1)")
    left.set_title("GD: t ∝ s^(−(2−2/L)); 1/s at L = 2", fontsize=10)
    left.xaxis.set_minor_formatter(NullFormatter())   # labelled minor ticks overlap
    left.set_xticks([0.2, 0.5, 1, 2, 5], labels=["0.2", "0.5", "1", "2", "5"])
    left.legend(fontsize=8)
    left.grid(alpha=0.3, which="both")
    depths = np.arange(2, 11)
    exact = [derive(GD(), int(L)).learning_time(0.5, s=1.0, u0=1e-3) for L in depths]
    eq17 = [(1 / 1e-3 - 1 / 0.5 + np.log(0.5 * (1 - 1e-3) / (1e-3 * 0.5))) / L for L in depths]
    right.semilogy(depths, exact, "o-", label="exact, from τu̇ = L u^(2−2/L)(s − u) (Eq. 15)")
    right.semilogy(depths, eq17, "s--", label="Eq. 17 (the L → ∞ asymptote)")
    right.set_xlabel("depth L (weight matrices)")
    right.set_ylabel("time from u = 1e-3 to 0.5 (s = 1, τ = 1)")
    right.set_title(f"L = 3: exact {exact[1]:.4g}, Eq. 17 {eq17[1]:.5g}", fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(out / "saxe2014_learning_time.png")
    plt.close(fig)


def formulas(out: pathlib.Path) -> None:
    """The derived formulas as a LaTeX fragment (equation environments)."""
    parts = ["% Saxe et al. 2014, derived by lindyn from the GD rule (python derivations/saxe2014.py)"]
    for L in (2, 3, 4):
        parts.append(f"% balanced mode, depth L = {L}")
        parts.append(derive(GD(), L).latex())
    parts.append("% unbalanced two-layer mode (per-layer gains a_1(0), a_2(0))")
    parts.append(derive(GD(), 2, gains="unbalanced").latex())
    rows = []
    for L in (2, 3, 4, 6, 10):
        t = derive(GD(), L).learning_time(0.5, s=1.0, u0=1e-3)
        t17 = (1 / 1e-3 - 1 / 0.5 + np.log(0.5 * (1 - 1e-3) / (1e-3 * 0.5))) / L
        rows.append(f"{L} & {t:.10g} & {t17:.6g} & {t17 / t:.3g} \\\\")
    parts.append("\\begin{tabular}{rrrr}\nL & exact $t$ & Eq.~17 & ratio\\\\ \\hline\n" + "\n".join(rows)
                 + "\n\\end{tabular}\n")
    (out / "saxe2014.tex").write_text("\n".join(parts))


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    formulas(out)
    info = fig3_modes(out)
    learning_time(out)
    return (f"saxe2014: wrote {out}/saxe2014.tex and 2 figures; {int(info['modes'])} modes, "
            f"max |flow − closed form| = {info['max |flow − closed form|']:.2g}")


if __name__ == "__main__":
    from _script import run  # derivations/_script.py, beside this file

    sys.exit(run("saxe2014", write))
