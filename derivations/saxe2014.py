"""Saxe, McClelland & Ganguli 2014: exact learning dynamics of deep linear networks, derived by lindyn.

    python derivations/saxe2014.py OUTDIR

writes into OUTDIR
  saxe2014.tex                 the derived mode ODEs, solutions and conserved quantities (GD, L = 2, 3, 4,
                               and the unbalanced two-layer mode), and the learning-time table (exact vs Eq. 17,
                               N_l = L + 1 layers of neurons);
  saxe2014_fig3_modes.png      Fig. 3 redone: hierarchical data (5-level binary tree), a 16-32-31 network (L = 2
                               weight matrices): each mode's closed form u(t) against full-matrix integration,
                               and plain GD from a small random init;
  saxe2014_learning_time.png   learning time against s (1/s at L = 2) and against depth (exact vs Eq. 17);
  saxe2014_fig3_random.png     Fig. 3 from small random inits (32 items, 1000 diffusion features, 32 hidden,
                               linear and tanh, 20 seeds; `--seeds 100` as Saxe): mean mode trajectories vs
                               Eq. 12, and the relative delay of the half-learning time per mode (mean ± std).

The experiments live in `lindyn.papers.saxe2014`; this script draws and writes them.
"""
from __future__ import annotations

import pathlib
import sys

from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.papers import saxe2014 as paper
from lindyn.papers import saxe2014_random as random_init


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    (out / "saxe2014.tex").write_text(paper.formulas_tex())
    fig3, err = paper.fig3_modes()
    draw([fig3], out / "saxe2014_fig3_modes.png", legend_outside=True)
    draw(paper.learning_time_panels(), out / "saxe2014_learning_time.png")
    draw(list(random_init.fig3_random_plots(random_init.DEFAULT_SEEDS)), out / "saxe2014_fig3_random.png")
    return f"saxe2014: wrote {out}/saxe2014.tex and 3 figures; max |flow − closed form| = {err:.2g}"


if __name__ == "__main__":
    sys.exit(run("saxe2014", write))
