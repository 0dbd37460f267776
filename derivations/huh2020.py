"""Huh 2020: curvature-corrected learning dynamics (natural gradient of power q), derived by lindyn.

    python derivations/huh2020.py OUTDIR

writes into OUTDIR
  huh2020.tex             the derived mode ODEs of block and full NGD with symbolic power q and q = 1/2;
  huh2020_paths.png       parameter paths in the (a_1, a_2) plane of a two-layer mode: full NGD (q = 1, 1/2) runs
                          on GD's hyperbola a_1² − a_2² = const with another clock; block rules leave it;
  huh2020_balance.png     balance ‖C_1(t)‖, C_1 = W_2ᵀW_2 − W_1W_1ᵀ, from a balanced init not aligned with the task;
  huh2020_fractional.png  the block power-q family at L = 3 from u0 = 1e-6: mode trajectories (closed form vs
                          full-matrix flow) and the parameter speed against u (`lindyn.papers.huh2020.parameter_speed`,
                          from the derived mode ODE; q = 1/2: bounded, non-zero);
  huh2020_generalisation.png  teacher-student with output noise: test/training error over time for GD, NGD,
                          NGD-d, √NGD, √NGD-d (L = 2, 3), best early-stopped test error per rule vs GD, and
                          signal/noise mode trajectories (`lindyn.papers.huh2020_generalisation`);
  huh2020_stability.png   discrete training from small init: update norm per step, and the largest stable
                          step per rule, damping and clipping (`lindyn.papers.huh2020_stability`).

The experiments live in `lindyn.papers.huh2020`; this script draws and writes them.
"""
from __future__ import annotations

import pathlib
import sys

from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.papers import huh2020 as paper
from lindyn.papers import huh2020_generalisation as generalisation
from lindyn.papers import huh2020_stability as stability


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    (out / "huh2020.tex").write_text(paper.formulas_tex())
    paths, worst = paper.paths_panel()
    draw([paths], out / "huh2020_paths.png", legend_outside=True)
    draw([paper.balance_panel()], out / "huh2020_balance.png")
    draw(paper.fractional_panels(), out / "huh2020_fractional.png")
    panels = generalisation.generalisation_plots()
    draw([panels[0], panels[2]], out / "huh2020_generalisation.png")
    draw(list(stability.stability_plots()), out / "huh2020_stability.png")
    return f"huh2020: wrote formulas and 5 figures; max |Δ(a_1² − a_2²)| under full NGD = {worst:.1g}"


if __name__ == "__main__":
    sys.exit(run("huh2020", write))
