"""Whole-matrix closed forms: two-layer λ-balanced GD beyond aligned modes, and the lazy-to-rich transition.

    python derivations/whole_matrix.py OUTDIR

writes into OUTDIR
  whole_matrix.tex              the Riccati form lindyn derives from the GD rule (τṖ = FP + PF − P², F) and the
                                solution P(t), with the λ sweep's table;
  whole_matrix_riccati.png      loss of the closed form vs the integrated flow, widths 4-3-5, λ ∈ {−1, 0, 0.5, 2};
  whole_matrix_lazy_rich.png    tangent-kernel distance from init over time for λ >= 0, and kernel distance,
                                movement of P and learning time t99 as functions of λ.

The experiments live in `lindyn.papers.whole_matrix`.
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np
from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.papers import whole_matrix as wm


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    sym = wm.CLAIMS[0].symbolic(False)
    num = wm.CLAIMS[0].numeric(False)
    lazy = wm.CLAIMS[1].numeric(True)
    r = wm.lazy_rich_sweep()
    rows = "\n".join(f"{lam:g} & {kd:.3g} & {mv:.3g} & {t:.3g} \\\\" for lam, kd, mv, t in
                     zip(r["lam"], r["kernel_distance"], r["movement"], r["t99"]))
    tex = (sym.latex[0] + "\n% lazy-to-rich sweep, 4-4-4, s = 3, 2, 1, 0.5, init scale 1e-3, mean over seeds 0-4\n"
           "\\begin{tabular}{rrrr}\n$\\lambda$ & kernel distance & movement of $P$ & $t_{99}$ \\\\\n\\hline\n"
           + rows + "\n\\end{tabular}\n")
    (out / "whole_matrix.tex").write_text(tex)
    draw(list(num.plots), out / "whole_matrix_riccati.png", legend_outside=True)
    draw(list(lazy.plots), out / "whole_matrix_lazy_rich.png")
    worst = max(m.value for m in num.measurements)
    return (f"whole_matrix: closed form vs integration worst {worst:.2g}; {lazy.summary}; "
            f"t99 over λ: {', '.join(f'{x:.3g}' for x in np.asarray(r['t99']))}")


if __name__ == "__main__":
    sys.exit(run("whole_matrix", write))
