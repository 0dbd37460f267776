"""The LaTeX report: written with its figures, compiles with pdflatex, LaTeX errors are reported.

CI installs texlive-latex-base and sets LINDYN_REQUIRE_PDFLATEX=1 so the compile test cannot skip.
"""
import os
import shutil

import pytest

from lindyn import verify, write_report
from lindyn.report import LatexError, report_latex, tex_text

NEED_PDFLATEX = os.environ.get("LINDYN_REQUIRE_PDFLATEX") == "1"


@pytest.fixture(scope="module")
def small_verification():
    return verify(["saxe-sigmoid", "ngd-singular-crossing", "parameter-speed-small-init"])


def test_report_tex_and_figures(small_verification, tmp_path):
    path = write_report(small_verification, tmp_path, compile=False)
    assert path == tmp_path / "report.tex"
    tex = path.read_text()
    tex.encode("ascii")                                    # pdflatex reads it without inputenc trouble
    assert r"\begin{document}" in tex and r"\end{document}" in tex
    for name in ("saxe-sigmoid", "ngd-singular-crossing"):
        assert tex_text(name) in tex
    assert (tmp_path / "figures" / "saxe_sigmoid.png").stat().st_size > 10_000
    assert r"\includegraphics" in tex
    assert "Derived mode dynamics" in tex and r"\tau \frac{d u}{d t}" in tex


def test_report_shows_both_routes_and_outcomes_as_measured_vs_threshold(small_verification):
    from lindyn.claims import Claim, Evidence, Measurement
    from lindyn.verify import Verification

    def experiment(thorough):
        return Evidence("toy experiment", (Measurement("recovery error", 3.7e-2, 0.05, "at_most"),))

    outcome = Claim("toy-outcome", "GD recovers.", "", "toy", None, experiment, 0.05, "threshold", kind="outcome")
    v = Verification(small_verification.results + (outcome.check(),), False, 1.0)
    tex = report_latex(v)
    row = next(line for line in tex.splitlines() if line.startswith("toy-outcome &"))
    assert "outcome: measured 0.037 vs threshold" in row and "digits" not in row
    assert r"\emph{Outcome:} outcome" not in tex and r"\emph{Outcome:} measured 0.037" in tex
    sigmoid = next(line for line in tex.splitlines() if line.startswith("saxe-sigmoid &"))
    cells = sigmoid.split(" & ")                                 # claim, source, symbolic, numeric, result
    assert len(cells) == 5 and all("digits" in c or c == "exact" for c in cells[2:4])
    assert r"\emph{Symbolic route}" in tex and r"\emph{Numeric route}" in tex


def test_tex_text_escapes_and_maps_unicode():
    out = tex_text("τu̇ = s − u; 50% & a_1 ‖F‖ ≈ 0.3 ∞")
    out.encode("ascii")
    assert r"\%" in out and r"\&" in out and r"\_" in out and r"$\tau$" in out


@pytest.mark.skipif(shutil.which("pdflatex") is None and not NEED_PDFLATEX, reason="pdflatex not installed")
def test_report_compiles(small_verification, tmp_path):
    path = write_report(small_verification, tmp_path)
    assert path == tmp_path / "report.pdf"
    assert path.stat().st_size > 10_000


@pytest.mark.skipif(shutil.which("pdflatex") is None and not NEED_PDFLATEX, reason="pdflatex not installed")
def test_latex_error_is_reported(small_verification, tmp_path, monkeypatch):
    import lindyn.report as report

    monkeypatch.setattr(report, "report_latex",
                        lambda v, f=None: "\\documentclass{article}\n\\begin{document}\n\\undefinedmacro\n\\end{document}\n")
    with pytest.raises(LatexError, match="Undefined control sequence"):
        write_report(small_verification, tmp_path, compile=True)


def test_report_latex_rejects_other_input():
    from lindyn import LindynError
    with pytest.raises(LindynError, match="verification"):
        report_latex("not a verification")
