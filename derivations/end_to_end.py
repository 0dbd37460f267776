"""The end-to-end flow of a balanced deep linear network, derived from each rule (Arora, Cohen & Hazan 2018).

    python derivations/end_to_end.py OUTDIR

writes into OUTDIR
  end_to_end.tex                the EndToEnd construction (balanced factorisation, the rule's velocity, product
                                rule), what it is checked against (Arora et al.'s Theorem 1; −𝒜^{1−q}(∇ℓ) for
                                NGD^q) and the measured block-rule table (t_½, discrepancy, imbalance, exponents);
  end_to_end_agreement.png      layer-wise W_L⋯W_1 vs the EndToEnd flow for GD, NGD, NGD^½ (L = 2..4, balanced init);
  end_to_end_block.png          the same comparison for GD, K-FAC and √NGD-d, with the layer-wise imbalance.

The experiments live in `lindyn.papers.end_to_end`.
"""
from __future__ import annotations

import pathlib
import sys

from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.papers import end_to_end as e2e


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    pairs, t = e2e.agreement_runs(False)
    draw([e2e.agreement_plot(pairs, t)], out / "end_to_end_agreement.png")
    study = e2e.block_study()
    draw(list(e2e.block_plots(study)), out / "end_to_end_block.png", legend_outside=True)
    (out / "end_to_end.tex").write_text(e2e.formulas_tex(study))
    worst = max(float(p.discrepancy.max()) for ps in pairs.values() for p in ps)
    half = study.rows["blockdiag(q=1/2)"]
    return (f"end_to_end: wrote formulas and 2 figures; GD/NGD/NGD^½ layer-wise vs EndToEnd ≤ {worst:.1g} of ‖W*‖; "
            f"√NGD-d departs by {min(r['d_half'] for r in half):.2g}..{max(r['d_half'] for r in half):.2g} at t_½")


if __name__ == "__main__":
    sys.exit(run("end_to_end", write))
