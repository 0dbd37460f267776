"""Alignment from random small init: when the aligned-mode formulas of `lindyn.derive` apply.

    python derivations/alignment.py OUTDIR [--thorough]

writes into OUTDIR
  alignment.tex                 ρ(t)'s definition and the table of t_align(ε)/t_half (ε = 1e-2, 1e-3), the top
                                mode's half time, seeds aligned before it, and the closed-form error after
                                alignment, for GD, NGD, K-FAC, block q = 1/2 and NGD q = 1/2, L = 2, 3,
                                init scales 1e-2 and 1e-3, seeds 0..4 (with --thorough: scales 1e-2, 1e-3,
                                1e-4 and seeds 0..9);
  alignment_rho.png             ρ(t) against t/t_half per rule at scale 1e-3, L = 2 and L = 3 (median, worst seed);
  alignment_scale.png           t_align(1e-2)/t_half against the init scale per rule (mean, min-max over seeds);
  alignment_formula.png         integrated modes vs the closed form restarted at ρ < 1e-2: GD and NGD q = 1/2.

The experiments live in `lindyn.papers.alignment` (about a minute on one core: 100 runs; --thorough: about four
minutes, 300 runs).
"""
from __future__ import annotations

import pathlib
import sys

from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.papers import alignment as paper


def write(out: pathlib.Path, thorough: bool = False) -> str:
    """Write the table (.tex) and figures (PNG) into `out`; return a summary line."""
    seeds = paper.SEEDS if thorough else paper.SEEDS[:5]
    scales = paper.SCALES if thorough else paper.SCALES[:2]
    cells = paper.alignment_study(paper.DEPTHS, scales, seeds)
    (out / "alignment.tex").write_text(paper.table_tex(cells))
    draw([paper.alignment_plot(depth, paper.DEFAULT_SCALE, seeds) for depth in paper.DEPTHS],
         out / "alignment_rho.png", legend_outside=True)
    draw([paper.scale_plot(depth, seeds, scales) for depth in paper.DEPTHS], out / "alignment_scale.png",
         legend_outside=True)
    draw([paper.formula_plot("GD", 2), paper.formula_plot("NGD q=1/2", 2)], out / "alignment_formula.png",
         legend_outside=True)
    failed = sum(len(c.failed) for c in cells)
    return (f"alignment: wrote the table ({len(cells)} cells x {len(seeds)} seeds; {failed} runs stopped "
            "before t_half) and 3 figures")


if __name__ == "__main__":
    sys.exit(run("alignment", write, thorough="scales 1e-2, 1e-3, 1e-4 and seeds 0..9 (300 runs, ~4 min)"))
