"""Kerekes, Mészáros & Huszár 2021: natural gradient flow in function space, derived by lindyn.

    python derivations/kerekes2021.py OUTDIR

writes into OUTDIR
  kerekes2021.tex                  the derived function-space flows (logistic, squared, masked completion) and
                                   their solutions; the reduction ḟ = −D⁻¹∇_fℓ checked symbolically;
  kerekes2021_classification.png   GD vs NGF at depths 1-3 on separable data, n = 5 ≤ d = 10: cosine of w(t) to the
                                   max-margin direction and to X⁺ᵀy;
  kerekes2021_outside_span.png     the part of w outside the data span at the end of training, by depth and init scale;
  kerekes2021_completion.png       deep matrix completion (8x8, rank 1, half observed): error on the unobserved entries
                                   and effective rank against depth, for GD, the function-space NGF (model Fisher)
                                   and Moore–Penrose NGD with the data Fisher;
  kerekes2021_singular_values.png  singular values of W(t) under GD and the function-space NGF, L = 3;
  kerekes2021_tanh.png             a tanh net under NGF: outputs against the derived flow, deviation against width;
  kerekes2021_sparse_scale.png     diagonal linear nets, 5-sparse teacher in d = 100 from n = 40: recovery error of
                                   the limit against init scale and depth (GD, MP NGD, function-space flow);
  kerekes2021_sparse_time.png      recovery and training loss over time; noisy labels: test error;
  kerekes2021_sparse_classification.png  separable classification: cosines to the ℓ1 / ℓ2 max-margin directions
                                   and test accuracy (`lindyn.papers.kerekes2021_sparse`).

The experiments live in `lindyn.papers.kerekes2021`; this script draws and writes them.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # many small SVDs: threads only add contention

import pathlib  # noqa: E402
import sys  # noqa: E402

from _script import draw, run  # noqa: E402  (derivations/_script.py, beside this file)

from lindyn.papers import kerekes2021 as paper  # noqa: E402
from lindyn.papers import kerekes2021_sparse as sparse  # noqa: E402


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    (out / "kerekes2021.tex").write_text(paper.formulas_tex())
    draw(paper.classification_panels(), out / "kerekes2021_classification.png")
    draw([paper.outside_span_panel()], out / "kerekes2021_outside_span.png", legend_outside=True)
    draw(paper.completion_panels(), out / "kerekes2021_completion.png")
    draw(paper.singular_value_panels(), out / "kerekes2021_singular_values.png")
    draw(paper.tanh_panels(), out / "kerekes2021_tanh.png")
    panels = sparse.sparse_plots()
    draw(panels[:1], out / "kerekes2021_sparse_scale.png", legend_outside=True)
    draw(panels[1:3], out / "kerekes2021_sparse_time.png")
    draw(panels[4:6], out / "kerekes2021_sparse_classification.png")
    return "kerekes2021: wrote formulas and 8 figures"


if __name__ == "__main__":
    sys.exit(run("kerekes2021", write))
