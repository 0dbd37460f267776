"""Bernacchia, Lengyel & Hennequin 2018: exact natural gradient in deep linear networks, derived by lindyn.

    python derivations/bernacchia2018.py OUTDIR

writes into OUTDIR
  bernacchia2018.tex             derived mode ODEs and solutions of NGD, block NGD (K-FAC's exact factors),
                                 the per-layer rule (block NGD ÷ L) and the power-q families;
  bernacchia2018_rules.png       every rule on one problem (L = 3, non-white input, small random init):
                                 excess loss and the weakest mode;
  bernacchia2018_deep.png        16 layers of width 5 (a scaled-down version of the paper's 16 layers of width 20):
                                 NGD and the per-layer rule converge as e^(−2t); GD sits on a plateau;
  bernacchia2018_bottleneck.png  with a bottleneck the per-layer rule is no longer exact NGD.

The experiments live in `lindyn.papers.bernacchia2018`; this script draws and writes them.
"""
from __future__ import annotations

import pathlib
import sys

from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.papers import bernacchia2018 as paper


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    (out / "bernacchia2018.tex").write_text(paper.formulas_tex())
    draw(paper.rules_panels(), out / "bernacchia2018_rules.png")
    deep, errors = paper.deep_panel()
    draw([deep], out / "bernacchia2018_deep.png")
    draw(paper.bottleneck_panels(), out / "bernacchia2018_bottleneck.png")
    return ("bernacchia2018: wrote formulas and 3 figures; 16-layer |ℓ/ℓ0 − e^(−2t)|: "
            + ", ".join(f"{k} {v:.1g}" for k, v in errors.items()))


if __name__ == "__main__":
    sys.exit(run("bernacchia2018", write))
