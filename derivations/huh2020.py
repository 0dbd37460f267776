"""Huh 2020: curvature-corrected learning dynamics (natural gradient of power q), derived by lindyn.

    python derivations/huh2020.py OUTDIR

writes into OUTDIR
  huh2020.tex           the derived mode ODEs of block and full NGD with symbolic power q, their conserved
                        quantities (a_i^(2−2q) − a_j^(2−2q) for block rules, a_i² − a_j² for full ones);
  huh2020_paths.png     parameter paths in the (a_1, a_2) plane of a two-layer mode: full NGD (q = 1, 1/2) runs on
                        GD's hyperbola a_1² − a_2² = const with another clock; block rules leave it;
  huh2020_balance.png   balance ‖C_1(t)‖, C_1 = W_2ᵀW_2 − W_1W_1ᵀ, from a balanced init not aligned with the task;
  huh2020_fractional.png  the block power-q family at L = 3 from u0 = 1e-6: mode trajectories (closed form vs
                        full-matrix flow) and the parameter speed against u (q = 1/2: bounded, non-zero).

Uses only lindyn's public API (plus numpy for random matrices).
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

from lindyn import (GD, NGD, BlockNGD, GivenWeights, Network, Problem, Task, aligned_problem, bernacchia,  # noqa: E402
                    derive, integrate)

#: Figure size in inches and resolution: every PNG is 1080 x 600 pixels.
FIGSIZE, DPI = (9.0, 5.0), 120
HALF = Fraction(1, 2)


def paths_figure(out: pathlib.Path) -> dict[str, float]:
    """(a_1, a_2) paths from three unbalanced starts, s = 2; GD's hyperbolas drawn from the conserved a_1² − a_2²."""
    s = 2.0
    rules = [(GD(), "GD", "-"), (NGD(), "NGD", "o"), (NGD(q=HALF), "full NGD, q = 1/2", "x"),
             (BlockNGD(), "block NGD (K-FAC)", "--"), (BlockNGD(q=HALF), "block NGD, q = 1/2", "-.")]
    starts = [(1.6, 0.1), (0.15, 1.2), (0.3, 0.35)]
    t = np.linspace(0.0, 12.0, 241)
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    a = np.linspace(0.05, 2.5, 300)
    ax.plot(a, s / a, color="0.6", lw=4, alpha=0.4, label="optimum a_1 a_2 = s")
    worst = 0.0
    for k, g0 in enumerate(starts):
        problem = aligned_problem([s], depth=2, gains=[list(g0)], width=2)
        c0 = g0[0] ** 2 - g0[1] ** 2
        for color, (rule, label, style) in enumerate(rules):
            traj = integrate(problem, rule, t)
            a1, a2 = traj.gains[0, 0], traj.gains[0, 1]
            if rule.name in ("ngd", "ngd(q=1/2)"):
                worst = max(worst, float(np.max(np.abs(a1 ** 2 - a2 ** 2 - c0))))
                ax.plot(a1[::12], a2[::12], style, color=f"C{color}", ms=6, mfc="none", label=label if k == 0 else None)
            else:
                ax.plot(a1, a2, style, color=f"C{color}", lw=2, label=label if k == 0 else None)
        ax.plot(*g0, "k*", ms=10, label="start" if k == 0 else None)
    ax.set_xlim(0, 2.5)
    ax.set_ylim(0, 2.0)
    ax.set_aspect("equal")
    ax.set_xlabel("a_1 (layer-1 gain)")
    ax.set_ylabel("a_2 (layer-2 gain)")
    ax.set_title("Two-layer mode, s = 2: full NGD (markers) follows GD's path a_1² − a_2² = const;\n"
                 "block rules keep a_1/a_2 (K-FAC) or a_1 − a_2 (q = 1/2) instead", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    fig.savefig(out / "huh2020_paths.png")
    plt.close(fig)
    return {"max |Δ(a_1² − a_2²)| under full NGD": worst}


def balanced_nonaligned(n: int, seed: int) -> Problem:
    """W_1 = O_2 D O_1ᵀ, W_2 = O_3 D O_2ᵀ (so C_1 = 0) with random orthogonal O's; random target whose straight
    segment from W(0) stays invertible (NGD and the block rule move on it)."""
    rng = np.random.default_rng(seed)
    O = [np.linalg.qr(rng.normal(size=(n, n)))[0] for _ in range(3)]
    D = np.diag(np.linspace(0.9, 0.4, n))
    W = (O[1] @ D @ O[0].T, O[2] @ D @ O[1].T)
    end = W[1] @ W[0]
    while True:
        W_star = rng.normal(size=(n, n)) + 1.5 * np.eye(n)
        ev = np.linalg.eigvals(np.linalg.solve(W_star, end - W_star))
        if not np.any((np.abs(ev.imag) <= 1e-9 * np.abs(ev)) & (ev.real <= -1.0)):
            break
    return Problem(Network((n, n, n)), Task(Sigma_yx=W_star), GivenWeights(W))


def balance_figure(out: pathlib.Path) -> None:
    """‖C_1(t)‖ (Frobenius) for every rule from a balanced, task-non-aligned init (width 4)."""
    problem = balanced_nonaligned(4, seed=4)
    t = np.linspace(0.0, 5.0, 101)
    rules = [(GD(), "GD"), (NGD(), "NGD"), (NGD(q=HALF), "full NGD, q = 1/2"), (BlockNGD(), "block NGD (K-FAC)"),
             (bernacchia(), "per-layer NG (Bernacchia)"), (BlockNGD(q=HALF), "block NGD, q = 1/2")]
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    for color, (rule, label) in enumerate(rules):
        traj = integrate(problem, rule, t)
        norm = np.linalg.norm(traj.balance[0], axis=(1, 2))
        ax.semilogy(t[1:], np.maximum(norm[1:], 1e-16), color=f"C{color}", lw=2,
                    ls="--" if rule.name == "bernacchia" else "-", label=label)
    ax.axhspan(1e-16, 1e-9, color="0.9", label="rounding level (conserved)")
    ax.set_xlabel("t")
    ax.set_ylabel("‖C_1(t)‖_F,  C_1 = W_2ᵀW_2 − W_1W_1ᵀ  (C_1(0) = 0)")
    ax.set_title("Balance from a balanced init not aligned with the task (widths 4-4-4):\n"
                 "GD and full NGD^q conserve it (Huh's conservation law); block rules break it", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(out / "huh2020_balance.png")
    plt.close(fig)


def fractional_figure(out: pathlib.Path) -> None:
    """Block power q ∈ {0, 1/4, 1/2, 3/4, 1} at L = 3: u(t) closed form vs flow; speed vs u from the derived ODE."""
    L, s, u0 = 3, 1.0, 1e-6
    qs = [Fraction(0), Fraction(1, 4), HALF, Fraction(3, 4), Fraction(1)]
    fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI)
    t = np.geomspace(1e-3, 300.0, 300)
    problem = aligned_problem([s], depth=L, u0=u0, width=3)
    u = np.geomspace(1e-12, 0.99, 300)
    sym_u, sym_s, sym_tau = sympy.symbols("u s tau", positive=True)
    for color, q in enumerate(qs):
        rule = BlockNGD(q=q) if q != 0 else GD()
        tr = derive(rule, L)
        closed = tr.evaluate(t, s=s, u0=u0)
        left.semilogx(t, closed, color=f"C{color}", lw=2, label=f"q = {q} ({'GD' if q == 0 else 'block'})")
        # integrate only until the mode is learned: beyond, an explicit solver crawls at its stability limit
        t_done = tr.learning_time(0.999 * s, s=s, u0=u0)
        tf = np.geomspace(1e-3, t_done, 30)
        flow = integrate(problem, rule, tf)
        left.semilogx(tf, flow.u[0], "o", color=f"C{color}", mfc="none", ms=5)
        # parameter speed ‖θ̇‖ = √L ȧ on a balanced mode, a = u^(1/L), ȧ = u̇ / (L a^(L−1)), from the derived ODE
        rhs = tr.ode.rhs.subs({tr.symbols.u: sym_u, tr.symbols.s: sym_s, tr.symbols.tau: sym_tau})
        speed = sympy.lambdify(sym_u, (sympy.sqrt(L) * rhs / (L * sym_u ** sympy.Rational(L - 1, L))).subs(sym_s, s))
        right.loglog(u, speed(u), color=f"C{color}", lw=2, label=f"q = {q}")
    left.plot([], [], "ko", mfc="none", label="full-matrix flow")
    left.set_xlabel("t")
    left.set_ylabel("mode strength u (s = 1, u0 = 1e-6)")
    left.set_title("Block NGD with power q, L = 3: closed form (lines)\nvs full-matrix integration (markers)",
                   fontsize=10)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.axhline(np.sqrt(L) * s, color="k", ls=":", lw=1, label="√L·s (q = 1/2 limit)")
    right.set_xlabel("mode strength u")
    right.set_ylabel("parameter speed ‖dθ/dt‖")
    right.set_title("Speed at small init: → 0 for q < 1/2, → ∞ for q > 1/2,\nbounded (√L·s) for q = 1/2",
                    fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "huh2020_fractional.png")
    plt.close(fig)


def formulas(out: pathlib.Path) -> None:
    """The derived formulas as a LaTeX fragment."""
    q = sympy.Symbol("q", positive=True)
    parts = ["% Huh 2020, derived by lindyn (python derivations/huh2020.py)"]
    for rule in (BlockNGD(q=q), NGD(q=q)):
        for L in (2, 3):
            parts.append(derive(rule, L).latex())
    for rule in (BlockNGD(q=HALF), NGD(q=HALF)):
        parts.append(derive(rule, 2).latex())
        parts.append(derive(rule, 3).latex())
    (out / "huh2020.tex").write_text("\n".join(parts))


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    formulas(out)
    info = paths_figure(out)
    balance_figure(out)
    fractional_figure(out)
    return ("huh2020: wrote formulas and 3 figures; " + ", ".join(f"{k} = {v:.1g}" for k, v in info.items()))


if __name__ == "__main__":
    from _script import run  # derivations/_script.py, beside this file

    sys.exit(run("huh2020", write))
