"""Finite steps: the discrete map of a balanced mode for every rule, derived by lindyn, and Saxe's depth claim.

    python derivations/discrete.py OUTDIR

writes into OUTDIR
  discrete.tex                  the derived map a ← a + ηφ(a), its η_max, modified equation and implicit
                                regulariser for GD, NGD, K-FAC, √NGD, √NGD-d and the per-layer rule (L = 2, 3);
  discrete_iterates.png         GD at L = 3: derived iterates vs full matrices at 0.5, 0.95, 1.05 η_max;
  discrete_eta_max.png          derived η_max vs the full network's Jacobian threshold;
  discrete_modified.png         |iterates − flow| = O(η) and |iterates − modified flow| = O(η²);
  saxe2014_depth.png            optimal rate ∝ 1/N_l and saturating iterations (derived map; digits data).

The experiments live in `lindyn.papers.discrete_steps` and `lindyn.papers.saxe2014_depth`.
"""
from __future__ import annotations

import pathlib
import sys

from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.papers import discrete_steps as steps
from lindyn.papers import saxe2014_depth as depth


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    (out / "discrete.tex").write_text(steps.formulas_tex())
    draw([steps.iterates_plot()], out / "discrete_iterates.png")
    draw([steps.eta_max_plot()], out / "discrete_eta_max.png", legend_outside=True)
    draw([steps.modified_equation_plot()], out / "discrete_modified.png", legend_outside=True)
    ev = depth.depth_numeric(False)
    draw(list(ev.plots), out / "saxe2014_depth.png")
    return f"discrete: wrote formulas and 4 figures; {ev.summary}"


if __name__ == "__main__":
    sys.exit(run("discrete", write))
