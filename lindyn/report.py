"""The verification report as a LaTeX document (compiled to PDF when `pdflatex` is present).

`write_report(verification, directory)` writes `report.tex` and `figures/*.png` into the directory:
the claims table (name, source, each route's worst error and digits, or "outcome: measured X vs
threshold Y" for an experiment, verdict), each claim with its statement, what each route found,
every measurement and the figures its routes produced, and an
appendix with every derived mode ODE, solution and conserved quantity of the built-in rules at
depths 2-4 (and the symbolic-q families). A LaTeX error raises `LatexError` quoting pdflatex's
first error line; nothing is silently left uncompiled when compilation was asked for.

Only packages of Debian's `texlive-latex-base` are used (amsmath, amssymb, graphicx, longtable,
geometry), so CI needs nothing more.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import unicodedata
from fractions import Fraction
from typing import Any

import sympy

from ._checks import LindynError, fail
from .claims import Plot, error_text, tex_escape
from .latex import conserved_latex, ode_latex, solution_latex
from .rules import GD, NGD, BlockNGD, bernacchia
from .trajectory import derive
from .verify import Verification

__all__ = ["LatexError", "write_report", "report_latex", "save_plot", "tex_text"]


class LatexError(LindynError):
    """pdflatex could not compile the report (the message quotes its first error)."""


#: Unicode in statements and labels, rendered for pdflatex (which reads only ASCII here).
_UNICODE = {
    "τ": r"$\tau$", "λ": r"$\lambda$", "α": r"$\alpha$", "θ": r"$\theta$", "Σ": r"$\Sigma$", "ℓ": r"$\ell$",
    "κ": r"$\kappa$", "δ": r"$\delta$", "η": r"$\eta$", "ε": r"$\varepsilon$", "π": r"$\pi$",
    "ᵀ": r"$^{\top}$", "⁺": r"$^{+}$", "⁻": r"$^{-}$", "¹": r"$^{1}$", "²": r"$^{2}$", "³": r"$^{3}$",
    "⁰": r"$^{0}$", "₀": r"$_0$", "₁": r"$_1$", "₂": r"$_2$", "ᵢ": r"$_i$", "ⱼ": r"$_j$",
    "−": "-", "–": "--", "—": "---", "…": r"\dots{}", "·": r"$\cdot$", "×": r"$\times$", "√": r"$\surd$",
    "‖": r"$\|$", "∥": r"$\parallel$", "→": r"$\to$", "∞": r"$\infty$", "≈": r"$\approx$", "≤": r"$\le$",
    "≥": r"$\ge$", "⊗": r"$\otimes$", "∂": r"$\partial$", "∝": r"$\propto$", "§": r"\S{}", "’": "'",
    "“": "``", "”": "''", "é": r"\'e", "á": r"\'a", "ö": r'\"o', "ü": r'\"u', "Mé": r"M\'e",
    "u̇": r"$\dot u$", "ȧ": r"$\dot a$", "θ̇": r"$\dot\theta$", "ḟ": r"$\dot f$", "ṁ": r"$\dot m$", "ẇ": r"$\dot w$",
    "⁻¹": r"$^{-1}$", "÷": r"$\div$", "Δ": r"$\Delta$", "≠": r"$\neq$", "∈": r"$\in$", "⊥": r"$\perp$",
    "β": r"$\beta$", "γ": r"$\gamma$", "μ": r"$\mu$", "σ": r"$\sigma$", "ρ": r"$\rho$", "ω": r"$\omega$",
    "Φ": r"$\Phi$", "Ω": r"$\Omega$", "φ": r"$\phi$", "ψ": r"$\psi$", "ν": r"$\nu$", "ξ": r"$\xi$",
    "⋯": r"$\cdots$", "∇": r"$\nabla$", "∑": r"$\sum$", "∏": r"$\prod$", "←": r"$\leftarrow$", "⇒": r"$\Rightarrow$",
    "ⁱ": r"$^{i}$", "ʲ": r"$^{j}$", "ᵍ": r"$^{g}$", "ᵏ": r"$^{k}$", "ⁿ": r"$^{n}$", "ᵗ": r"$^{t}$", "ᵃ": r"$^{a}$",
    "₃": r"$_3$", "ₖ": r"$_k$", "ₙ": r"$_n$", "ₗ": r"$_l$", "∗": "*", "′": "'", "“": "``",
}


def tex_text(text: str) -> str:
    """Plain text with Unicode math (τ, ᵀ, ², ‖, →, …) as LaTeX that pdflatex reads.

    Special characters are escaped; characters without a mapping become '?', so the report
    always compiles.

    >>> tex_text("τu̇ = s − u, ‖FGF − F‖ ≈ 0.3")
    '$\\\\tau$$\\\\dot u$ = s - u, $\\\\|$FGF - F$\\\\|$ $\\\\approx$ 0.3'
    """
    # === check arguments
    if not isinstance(text, str):
        raise fail("text", "a string", text)
    out = tex_escape(text)
    for key in sorted(_UNICODE, key=len, reverse=True):   # combining sequences (u̇) before single characters
        out = out.replace(key, _UNICODE[key])
    out = re.sub("([A-Za-z])\u0307", r"$\\dot{\1}$", out)   # any other letter with a combining dot above
    return "".join(ch if ord(ch) < 128 else _accented(ch) for ch in out)


_ACCENTS = {"\u0307": r"$\dot{%s}$", "\u0301": r"\'{%s}", "\u0300": r"\`{%s}", "\u0308": r'\"{%s}',
            "\u0302": r"\^{%s}", "\u0303": r"\~{%s}"}


def _accented(ch: str) -> str:
    """A precomposed accented Latin letter (ẋ, é, ö, ...) as LaTeX; anything else as '?'."""
    parts = unicodedata.normalize("NFD", ch)
    if len(parts) == 2 and parts[0].isascii() and parts[0].isalpha() and parts[1] in _ACCENTS:
        return _ACCENTS[parts[1]] % parts[0]
    return "?"


def save_plot(plot: Plot, path: str | os.PathLike[str], size: tuple[float, float] = (6.4, 4.0), dpi: int = 150) -> pathlib.Path:
    """Draw a claim's `Plot` with matplotlib (Agg backend) and save it as PNG.

    Args:
        plot: the plot data (curves with labels and styles, axis scales).
        path: output file (.png).
        size: figure size in inches (width, height).
        dpi: resolution; the image is size × dpi pixels.

    Returns:
        The path written.
    """
    # === check arguments
    if not isinstance(plot, Plot):
        raise fail("plot", "a lindyn.claims.Plot", plot)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    for c in plot.curves:
        marker = c.style if c.style not in ("-", "--", ":", "-.") else None
        line = c.style if c.style in ("-", "--", ":", "-.") else "none"
        ax.plot(c.x, c.y, linestyle=line, marker=marker, markersize=4, label=c.label, markerfacecolor="none",
                color=c.color)
    if plot.xlim is not None:
        ax.set_xlim(*plot.xlim)
    if plot.ylim is not None:
        ax.set_ylim(*plot.ylim)
    ax.set_xscale(plot.xscale)
    ax.set_yscale(plot.yscale)
    from matplotlib.ticker import NullFormatter
    for axis, scale in ((ax.xaxis, plot.xscale), (ax.yaxis, plot.yscale)):
        if scale == "log":
            axis.set_minor_formatter(NullFormatter())   # labelled minor ticks overlap on short log ranges
    ax.set_xlabel(plot.xlabel)
    ax.set_ylabel(plot.ylabel)
    ax.set_title(plot.title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", ncol=2 if len(plot.curves) > 6 else 1)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb,graphicx,longtable}
\newsavebox{\eqbox}
\newcommand{\fiteq}[1]{\sbox{\eqbox}{$\displaystyle #1$}%
  \ifdim\wd\eqbox>\linewidth\resizebox{\linewidth}{!}{\usebox{\eqbox}}\else\usebox{\eqbox}\fi}
\setlength{\parindent}{0pt}\setlength{\parskip}{4pt}
"""


def _display(math_tex: str) -> str:
    """A display equation scaled down to the line width when too wide."""
    return "\\begin{center}\n\\fiteq{" + math_tex + "}\n\\end{center}\n"


def _derivations() -> list[tuple[str, list[Any]]]:
    """(heading, trajectories) for the appendix: built-in rules at L = 2-4, symbolic q, unbalanced GD."""
    rules = [GD(), NGD(), BlockNGD(), bernacchia(), NGD(q=Fraction(1, 2)), BlockNGD(q=Fraction(1, 2))]
    out = [(f"Rule {r.name}", [derive(r, L) for L in (2, 3, 4)]) for r in rules]
    q = sympy.Symbol("q", positive=True)
    out.append(("Symbolic power q (depth 3)", [derive(NGD(q=q), 3), derive(BlockNGD(q=q), 3)]))
    out.append(("Unbalanced two-layer GD (per-layer gains a_1(0), a_2(0))", [derive(GD(), 2, gains="unbalanced")]))
    return out


def report_latex(verification: Verification, figures: dict[str, str] | None = None) -> str:
    """The report as one LaTeX document (string).

    Args:
        verification: the result of `lindyn.verify`.
        figures: claim plot name -> relative path of its PNG (from `write_report`); None: no figures.

    Returns:
        The LaTeX source.
    """
    # === check arguments
    if not isinstance(verification, Verification):
        raise fail("verification", "the result of lindyn.verify(...)", verification)
    figures = figures or {}
    n_pass = sum(r.passed for r in verification.results)
    parts = [_PREAMBLE, r"\title{lindyn: the papers' claims, derived and confirmed two ways}",
             r"\date{}", r"\begin{document}", r"\maketitle",
             tex_text(f"{n_pass} of {len(verification.results)} claims passed"
                      f"{' (thorough grids)' if verification.thorough else ''}. A two-route claim is checked by a "
                      "symbolic route (what lindyn derives from the learning-rule definitions, compared exactly or "
                      "at 40 digits with the paper's formula) and an independent numeric route (full-matrix "
                      "integration with DOP853 at rtol 1e-10, mpmath where digits matter); each route's column "
                      "gives its worst error and digits = -log10(error). An outcome claim is an experiment, "
                      "reported as the measured value against its stated threshold."),
             r"\section*{Claims}",
             r"\begin{longtable}{p{0.22\linewidth}p{0.3\linewidth}llr}",
             r"claim & source & symbolic route & numeric route & result\\ \hline \endhead"]
    for r in verification.results:
        verdict = "pass" if r.passed else r"\textbf{FAIL}"
        if r.claim.kind == "outcome":
            routes = r"\multicolumn{2}{l}{" + tex_text("outcome: " + r.outcome_text()) + "}"
        else:
            routes = tex_text(error_text(r.symbolic_error)) + " & " + tex_text(error_text(r.numeric_error))
        parts.append(f"{tex_text(r.claim.name)} & {tex_text(r.claim.source)} & {routes} & {verdict}" + r"\\")
    parts.append(r"\end{longtable}")
    for r in verification.results:
        c = r.claim
        parts.append(r"\subsection*{" + tex_text(c.name) + "}")
        parts.append(tex_text(c.statement) + r"\\ \emph{Source:} " + tex_text(c.source) + ".")
        if c.latex:
            parts.append(_display(c.latex))
        if c.kind == "outcome":
            parts.append(r"\emph{Experiment:} " + tex_text(r.numeric.summary) + ".")
            parts.append(r"\emph{Outcome:} " + tex_text(r.outcome_text()) + ".")
        else:
            parts.append(r"\emph{Symbolic route} (" + tex_text(error_text(r.symbolic_error)) + "): "
                         + tex_text(r.symbolic.summary if r.symbolic is not None else "") + ".")
            for line in (r.symbolic.latex if r.symbolic is not None else ()):
                parts.append(_display(line))
            parts.append(r"\emph{Numeric route} (" + tex_text(error_text(r.numeric_error)) + "): "
                         + tex_text(r.numeric.summary) + ".")
            parts.append(r"\emph{Tolerance:} " + f"{c.tolerance:.0e}" + " (" + tex_text(c.reason) + ").")
        parts.append(r"{\footnotesize\begin{itemize}\setlength{\itemsep}{0pt}")
        for m in r.measurements:
            parts.append(r"\item " + tex_text(m.describe()))
        parts.append(r"\end{itemize}}")
        ev = [e for e in (r.symbolic, r.numeric) if e is not None]
        for plot in (p for e in ev for p in e.plots):
            if plot.name in figures:
                parts.append(r"\begin{center}\includegraphics[width=0.75\linewidth]{" + figures[plot.name]
                             + r"}\\ {\small " + tex_text(plot.title) + r"}\end{center}")
        if not r.passed:
            parts.append(r"\textbf{Why it fails:} " + tex_text(r.reason).replace("\n", r"\\ "))
    parts.append(r"\appendix\section*{Derived mode dynamics}")
    parts.append(tex_text("Every ODE, solution and conserved quantity below is derived by lindyn's symbolic engine "
                          "from the learning rule's definition (aligned, balanced mode unless stated; whitened input)."))
    for heading, trajs in _derivations():
        parts.append(r"\subsection*{" + tex_text(heading) + "}")
        for tr in trajs:
            parts.append(tex_text(f"{tr.rule.name}, depth L = {tr.problem.depth}, {tr.problem.gains} mode, "
                                  f"solution form: {tr.form}."))
            parts.append(_display(ode_latex(tr)))
            parts.append(_display(solution_latex(tr)))
            for cq in conserved_latex(tr):
                parts.append(_display(cq))
    parts.append(r"\end{document}")
    return "\n".join(parts) + "\n"


_LATEX_ERROR = re.compile(r"^! (.*)$", re.MULTILINE)
_LATEX_LINE = re.compile(r"^l\.(\d+) (.*)$", re.MULTILINE)


def writable_directory(directory: Any, name: str = "directory") -> pathlib.Path:
    """Create `directory` if needed and return it, or raise `LindynError` if it cannot be written."""
    if not isinstance(directory, (str, os.PathLike)) or str(directory) == "":
        raise fail(name, "a directory path", directory)
    out = pathlib.Path(directory)
    if out.exists() and not out.is_dir():
        raise fail(name, "a directory (or a path to create)", str(directory))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise fail(name, f"a directory that can be created ({err.strerror})", str(directory)) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise fail(name, "a writable directory", str(directory))
    return out


def write_report(verification: Verification, directory: str | os.PathLike[str], *,
                 compile: bool | None = None) -> pathlib.Path:
    """Write `report.tex` and its figures into `directory`, and compile it to `report.pdf`.

    Args:
        verification: the result of `lindyn.verify`.
        directory: output directory (created if missing).
        compile: True: compile with pdflatex (error if it is missing); False: write the .tex only;
            None (default): compile when `pdflatex` is on PATH.

    Returns:
        Path of report.pdf when compiled, else of report.tex.

    Raises:
        LatexError: pdflatex failed (the message quotes its first error and the line) or is missing
            while compile=True.
    """
    # === check arguments
    if not isinstance(verification, Verification):
        raise fail("verification", "the result of lindyn.verify(...)", verification)
    if compile not in (None, True, False):
        raise fail("compile", "True, False or None", compile)
    out = writable_directory(directory, "directory")
    (out / "figures").mkdir(exist_ok=True)
    figures: dict[str, str] = {}
    for r in verification.results:
        for ev in (r.symbolic, r.numeric):
            for plot in (ev.plots if ev is not None else ()):
                save_plot(plot, out / "figures" / f"{plot.name}.png")
                figures[plot.name] = f"figures/{plot.name}.png"
    tex = out / "report.tex"
    tex.write_text(report_latex(verification, figures), encoding="ascii")
    pdflatex = shutil.which("pdflatex")
    if compile is False or (compile is None and pdflatex is None):
        return tex
    if pdflatex is None:
        raise fail("compile", "False when pdflatex is not installed (apt-get install texlive-latex-base)", compile,
                   LatexError)
    for _ in range(2):   # the second pass settles longtable's column widths
        proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=out,
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            log = (out / "report.log").read_text(errors="replace") if (out / "report.log").exists() else proc.stdout
            err = _LATEX_ERROR.search(log)
            line = _LATEX_LINE.search(log)
            where = f" at report.tex line {line.group(1)} ({line.group(2).strip()[:60]})" if line else ""
            first = err.group(1) if err else "pdflatex exited with status " + str(proc.returncode)
            raise fail("report", f"LaTeX that pdflatex compiles; first error: {first}{where}; full log: "
                                 f"{out / 'report.log'}", str(tex), LatexError)
    return out / "report.pdf"
