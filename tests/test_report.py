"""The LaTeX report as a researcher reads it: real mathematics, every glyph, a clean pdflatex log.

- `tex_text` typesets the Unicode/ASCII mathematics of statements and labels as LaTeX math
  (oracles: hand-written LaTeX for each construct), and no character of any claim's text lacks a
  glyph.
- The compiled report's log has no "Missing character", no undefined reference or citation and no
  overfull box over 10pt (`latex_log_problems`), with the appendix of derived formulas included.
- `lindyn verify --report` says in one line when it wrote only the .tex and why; a LaTeX failure
  still prints the table, keeps the .tex and exits 1 naming the log.
- Figures: two curves that coincide are both visible.

CI installs texlive-latex-base and sets LINDYN_REQUIRE_PDFLATEX=1 so the compile tests cannot skip.
"""
import os
import re
import shutil

import pytest

from lindyn import verify, write_report
from lindyn.claims import Claim, Curve, Evidence, Measurement, Plot, all_claims, plain_text
from lindyn.cli import main
from lindyn.report import (LatexError, latex_log_problems, mathtext, plot_panels, report_latex, tex_text,
                           unmapped_characters)
from lindyn.verify import Verification

NEED_PDFLATEX = os.environ.get("LINDYN_REQUIRE_PDFLATEX") == "1"
needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None and not NEED_PDFLATEX,
                                    reason="pdflatex not installed")


def toy_outcome() -> Claim:
    def experiment(thorough):
        return Evidence("toy experiment, 3 seeds", (Measurement("recovery error |x − y|/|y|", 3.7e-2, 0.05, "at_most"),
                                                    Measurement("spread", 0.2, 0.1, "at_least"),
                                                    Measurement("spread", 0.2, 0.5, "at_most")))
    return Claim("toy-outcome", "GD recovers: σ̇ ⟨x, y⟩ ½‖W‖².", "", "[chosen example]", None, experiment, 0.05,
                 "threshold", kind="outcome")


@pytest.fixture(scope="module")
def small_verification():
    v = verify(["saxe-sigmoid", "ngd-singular-crossing", "parameter-speed-small-init"])
    return Verification(v.results + (toy_outcome().check(),), False, v.seconds)


# --- text and mathematics ------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("u^(2−2/L)", "$u^{2-2/L}$"),
    ("e^(−2t/τ)", r"$e^{-2t/\tau}$"),
    ("|u − s/2|/s", r"$\lvert u - s/2\rvert /s$"),
    ("‖W(t) − W*‖", r"$\lVert W(t) - W^{*}\rVert$"),
    ("σ̇_r", r"$\dot{\sigma}_{r}$"),
    ("⟨∇ℓ(W), u_r v_rᵀ⟩", r"$\langle\nabla\ell(W), u_{r} v_{r}^{\top}\rangle$"),
    ("x <= 1e-8", r"$x \le 10^{-8}$"),
    ("~1e-10", r"$\sim 10^{-10}$"),
    ("a_(i+1)² − W_{i+1}ᵀW_iW_iᵀ", r"$a_{i+1}^{2} - W_{i+1}^{\top}W_{i}W_{i}^{\top}$"),
    ("√NGD-d", r"$\sqrt{\mathrm{NGD\text{-}d}}$"),
    ("½n_out σ²", r"$\tfrac{1}{2}n_{\mathrm{out}} \sigma^{2}$"),
    ("50% & a_1", r"50\% \& $a_{1}$"),
    ("Mészáros", r"M\'{e}sz\'{a}ros"),
    ("value $\\frac{1}{2}$ kept", "value $\\frac{1}{2}$ kept"),
])
def test_tex_text_typesets_mathematics(text, expected):
    assert tex_text(text) == expected
    tex_text(text).encode("ascii")


def test_tex_text_leaves_plain_words_alone():
    assert tex_text("the full-matrix flow of a two-layer net (relative)") == \
        "the full-matrix flow of a two-layer net (relative)"


def test_every_claim_text_has_glyphs_and_no_ascii_math():
    for c in all_claims():
        for text in (c.statement, c.source, c.reason):
            assert unmapped_characters(text) == set(), (c.name, text)
            tex = tex_text(text)
            outside_math = re.sub(r"\$[^$]*\$", "", tex)
            assert not re.search(r"\*\*|<=|>=|\^\(|\boo\b|\bTrue\b|\d(\.\d+)?e-\d", outside_math), (c.name, tex)
            assert "?" not in tex.replace(text.count("?") * "?", ""), (c.name, tex)
    assert unmapped_characters("☃") == {"☃"}


def test_mathtext_for_figures_and_plain_text_for_the_terminal():
    assert mathtext("ℓ(t)/ℓ(0)") == r"$\ell(t)/\ell(0)$"
    assert mathtext("50% of runs") == "50% of runs"              # matplotlib's text needs no escapes
    assert plain_text(r"$\tau\dot u = 3 u^{\frac{4}{3}} \left(s - u\right)$") == "τu̇ = 3 u^(4/3) (s - u)"


# --- the document --------------------------------------------------------------------------------

def test_report_tex_and_figures(small_verification, tmp_path):
    path = write_report(small_verification, tmp_path, compile=False)
    assert path == tmp_path / "report.tex"
    tex = path.read_text()
    tex.encode("ascii")                                    # pdflatex reads it without inputenc trouble
    assert r"\begin{document}" in tex and r"\end{document}" in tex
    assert r"\label{claim:saxe-sigmoid}" in tex and r"\hyperref[claim:ngd-singular-crossing]" in tex
    assert (tmp_path / "figures" / "saxe_sigmoid.png").stat().st_size > 10_000
    assert r"\includegraphics" in tex and r"\resizebox" not in tex       # formulas are broken, never shrunk
    assert "Derived mode dynamics" in tex and r"\tau \frac{d u}{d t}" in tex
    assert r"\cite{saxe2014}" in tex and r"\bibitem{saxe2014}" in tex and r"\bibitem{theory}" in tex
    assert r"\infty" in tex and " oo " not in tex                         # sympy's limit, as LaTeX


def test_report_rows_outcomes_and_two_sided_bounds(small_verification):
    tex = report_latex(small_verification)
    row = next(line for line in tex.splitlines() if line.startswith(r"\hyperref[claim:toy-outcome]"))
    assert "outcome: measured 0.037 vs threshold" in row and "digits" not in row
    sigmoid = next(line for line in tex.splitlines() if line.startswith(r"\hyperref[claim:saxe-sigmoid]"))
    assert sigmoid.count("digits") == 2                          # both routes' worst errors
    spread = [line for line in tex.splitlines() if line.startswith("spread &")]
    assert spread == [r"spread & $0.2$ & $\in [0.1, 0.5]$ & ok\\"]   # one row for a two-sided bound
    assert r"\textbf{Symbolic route}" in tex and r"\textbf{Numeric route}" in tex


def test_latex_log_problems_finds_each_kind():
    log = ("Missing character: There is no ^^c3 in font cmr10!\n"
           "LaTeX Warning: Reference `claim:x' on page 2 undefined on input line 40.\n"
           "LaTeX Warning: Citation `nobody2020' on page 1 undefined on input line 9.\n"
           "Overfull \\hbox (25.1pt too wide) in paragraph at lines 3--4\n"
           "Overfull \\hbox (4.0pt too wide) in paragraph at lines 5--6\n")
    problems = latex_log_problems(log)
    assert len(problems) == 4 and not any("4.0pt" in p for p in problems)
    assert latex_log_problems("Output written on report.pdf (3 pages).") == []


@needs_pdflatex
def test_report_compiles_with_a_clean_log(small_verification, tmp_path):
    path = write_report(small_verification, tmp_path)
    assert path == tmp_path / "report.pdf" and path.stat().st_size > 10_000
    log = (tmp_path / "report.log").read_text(errors="replace")
    assert latex_log_problems(log, overfull_pt=10.0) == []


@needs_pdflatex
def test_latex_error_is_reported_and_the_tex_kept(small_verification, tmp_path, monkeypatch):
    import lindyn.report as report

    monkeypatch.setattr(report, "report_latex",
                        lambda v, f=None: "\\documentclass{article}\n\\begin{document}\n\\undefinedmacro\n\\end{document}\n")
    with pytest.raises(LatexError, match=r"Undefined control sequence.*report\.log"):
        write_report(small_verification, tmp_path, compile=True)
    assert (tmp_path / "report.tex").exists()


def test_report_latex_rejects_other_input():
    from lindyn import LindynError
    with pytest.raises(LindynError, match="verification"):
        report_latex("not a verification")


# --- the command line ----------------------------------------------------------------------------

def test_verify_report_without_pdflatex_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    import lindyn.report as report

    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    status = main(["verify", "ngd-singular-crossing", "--quiet", "--report", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 0 and "ngd-singular-crossing" in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "report.tex only" in lines[0] and "pdflatex" in lines[0]
    assert "texlive-latex-base" in lines[0]
    assert (tmp_path / "report.tex").exists() and not (tmp_path / "report.pdf").exists()


@needs_pdflatex
def test_verify_report_latex_failure_prints_table_and_names_log(tmp_path, capsys, monkeypatch):
    import lindyn.report as report

    monkeypatch.setattr(report, "report_latex", lambda v, f=None: "\\documentclass{article}\n\\begin{document}\n"
                                                                   "\\undefinedmacro\n\\end{document}\n")
    status = main(["verify", "ngd-singular-crossing", "--quiet", "--report", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 1
    assert "ngd-singular-crossing" in out and "claims passed" in out          # the table is printed
    assert "report.log" in err and "Undefined control sequence" in err
    assert (tmp_path / "report.tex").exists()


# --- figures -------------------------------------------------------------------------------------

def test_coinciding_curves_are_both_visible(tmp_path):
    import matplotlib.image
    import numpy as np

    x = tuple(float(v) for v in np.linspace(0, 1, 50))
    y = tuple(float(np.exp(-3 * v)) for v in x)
    plot = Plot("same", "Two rules, one curve\ncaption", "t", "ℓ(t)/ℓ(0)",
                (Curve("ngd", x, y, "-", "C0"), Curve("bernacchia", x, y, "-", "C1")), yscale="log")
    img = matplotlib.image.imread(plot_panels([plot], tmp_path / "same.png"))[..., :3]

    def pixels(rgb):
        return int(np.sum(np.all(np.abs(img - np.array(rgb) / 255) < 0.08, axis=-1)))
    assert pixels((31, 119, 180)) > 200 and pixels((255, 127, 14)) > 200     # C0 and C1 both show
