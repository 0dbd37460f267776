"""The verification report as a LaTeX document (compiled to PDF when `pdflatex` is present).

`write_report(verification, directory)` writes `report.tex` and `figures/*.png` into the directory:
the claims table (name, source, each route's worst error and digits, or "measured X vs threshold Y"
for an experiment, verdict), then each claim with its statement, source, what each route found,
every measurement in a table and the figures its routes produced; an appendix with every derived
mode ODE, solution and conserved quantity of the built-in rules at depths 2-4 (and the symbolic-q
families); and the references. "THEORY §n" refers to `docs/theory.md` of this repository, which is
in the references too.

Text reaches the report through `tex_text`: the statements, sources and labels of the claims are
written with Unicode mathematics (τu̇ = 2u(s − u), ‖W‖, a_i², 1e-3) and every run of mathematics in
them is typeset as LaTeX math ($\\tau\\dot{u} = 2u(s - u)$); `$...$` in a string is LaTeX already
(what sympy's printer produced) and passes through. The same conversion gives matplotlib's
mathtext for the figures (`mathtext`). A LaTeX error raises `LatexError` naming pdflatex's first
error and the log; nothing is silently left uncompiled when compilation was asked for.

Only packages of Debian's `texlive-latex-base` are used (amsmath, amssymb, graphicx, longtable,
array, geometry, hyperref), so CI needs nothing more.

>>> tex_text("τu̇ = 2u(s − u) from u0 = 1e-3")
'$\\\\tau\\\\dot{u} = 2u(s - u)$ from $u_{0} = 10^{-3}$'
>>> mathtext("ℓ(t)/ℓ(0)")
'$\\\\ell(t)/\\\\ell(0)$'
"""
from __future__ import annotations

import math
import os
import pathlib
import re
import shutil
import subprocess
import unicodedata
import warnings
from fractions import Fraction
from typing import Any, Sequence

import sympy

from ._checks import LindynError, fail
from .claims import ClaimResult, Measurement, Plot, digits
from .rules import GD, NGD, BlockNGD, bernacchia
from .trajectory import derive
from .verify import Verification

__all__ = ["LatexError", "write_report", "report_latex", "save_plot", "plot_panels", "tex_text", "mathtext",
           "unmapped_characters", "latex_log_problems", "writable_directory", "REFERENCES"]


class LatexError(LindynError):
    """pdflatex could not compile the report (the message quotes its first error and names the log)."""


# === Unicode mathematics -> LaTeX / mathtext ======================================================

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "varepsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
    "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "ϵ": "epsilon", "ϕ": "varphi", "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi",
    "Π": "Pi", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}
#: Symbols of math mode: (LaTeX, mathtext).
_SYMBOLS = {
    "ℓ": (r"\ell", r"\ell"), "∞": (r"\infty", r"\infty"), "∂": (r"\partial", r"\partial"),
    "∇": (r"\nabla", r"\nabla"), "⊗": (r"\otimes", r"\otimes"), "⊙": (r"\odot", r"\odot"), "·": (r"\cdot", r"\cdot"),
    "×": (r"\times", r"\times"), "≤": (r"\le", r"\leq"), "≥": (r"\ge", r"\geq"), "≈": (r"\approx", r"\approx"),
    "→": (r"\to", r"\rightarrow"), "←": (r"\leftarrow", r"\leftarrow"), "⇒": (r"\Rightarrow", r"\Rightarrow"),
    "∝": (r"\propto", r"\propto"), "±": (r"\pm", r"\pm"), "≠": (r"\ne", r"\neq"), "∈": (r"\in", r"\in"),
    "⊥": (r"\perp", r"\perp"), "÷": (r"\div", r"\div"), "∑": (r"\sum", r"\sum"), "∏": (r"\prod", r"\prod"),
    "⟨": (r"\langle", r"\langle"), "⟩": (r"\rangle", r"\rangle"), "…": (r"\dots", r"\ldots"),
    "⋯": (r"\cdots", r"\cdots"), "−": ("-", "-"), "½": (r"\tfrac{1}{2}", r"\frac{1}{2}"),
    "∗": ("*", "*"), "′": ("'", "'"), "∘": (r"\circ", r"\circ"), "≡": (r"\equiv", r"\equiv"),
    "∼": (r"\sim", r"\sim"), "⊂": (r"\subset", r"\subset"), "∩": (r"\cap", r"\cap"), "∪": (r"\cup", r"\cup"),
    "√": (r"\surd", r"\surd"), "–": (r"\text{--}", "–"), "‖": (r"\Vert", r"\Vert"),
}
_SUPERSCRIPTS = {"ᵀ": r"\top", "⁺": "+", "⁻": "-", "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5",
                 "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9", "ⁱ": "i", "ʲ": "j", "ᵍ": "g", "ᵏ": "k", "ⁿ": "n",
                 "ᵗ": "t", "ᵃ": "a", "ᶜ": "c", "ˣ": "x", "ʸ": "y", "⁽": "(", "⁾": ")", "ᴴ": "H"}
_SUBSCRIPTS = {"₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4", "₅": "5", "₆": "6", "₇": "7", "₈": "8",
               "₉": "9", "ᵢ": "i", "ⱼ": "j", "ₖ": "k", "ₙ": "n", "ₗ": "l", "ₘ": "m", "ₓ": "x", "ₜ": "t"}
_ACCENTS = {"\u0307": "dot", "\u0302": "hat", "\u0303": "tilde", "\u0308": "ddot", "\u0304": "bar",
            "\u0301": "acute", "\u0300": "grave"}
#: Latin letters with accents in running text (names: Mészáros, Huszár, Dominé).
_TEXT_ACCENTS = {"\u0301": "\\'", "\u0300": "\\`", "\u0308": '\\"', "\u0302": "\\^", "\u0303": "\\~",
                 "\u0304": "\\=", "\u0327": "\\c ", "\u030c": "\\v ", "\u030b": "\\H "}
_TEXT_CHARS = {"“": "``", "”": "''", "‘": "`", "’": "'", "–": "--", "—": "---", "…": r"\dots{}", "§": r"\S{}",
               "\u00a0": "~", "°": r"$^\circ$"}
#: Functions typeset upright. LaTeX has commands for the first group.
_FUNCS = {"ln", "log", "exp", "sin", "cos", "tan", "tanh", "sinh", "cosh", "det", "max", "min", "lim", "sup",
          "inf", "arg"}
_OPERATORS = {"tr", "diag", "blockdiag", "rank", "sign", "vec", "span", "cond", "erf", "sgn", "argmin", "argmax"}
#: Names typeset upright in formulas (rules, losses, abbreviations; with a hyphen when they have one).
_UPRIGHT = ("NGD-d", "K-FAC", "NGD", "NGF", "GD", "SGD", "SPD", "SVM", "ODE", "MP", "NG", "KFAC", "LM", "MNIST",
            "rms", "opt", "test", "train", "sim", "out", "const", "max", "min", "full", "block", "exact", "eff")


class _Scanner:
    """Converts one run of Unicode/ASCII mathematics into LaTeX (or matplotlib mathtext) math content."""

    def __init__(self, text: str, mathtext: bool) -> None:
        self.s = unicodedata.normalize("NFD", text)
        self.mt = mathtext
        self.i = 0
        self.out: list[str] = []
        self.last = ""          # kind of the last piece: "sup", "sub", "atom", "op", ""
        self.bars = 0
        self.dbars = 0
        self.pair_bars = self.s.count("|") % 2 == 0
        self.pair_dbars = self.s.count("‖") % 2 == 0
        self.unmapped: set[str] = set()

    # -- output helpers
    def emit(self, piece: str, kind: str = "atom") -> None:
        if kind == "atom" and self.out and re.search(r"\\[A-Za-z]+$", self.out[-1]) and re.match(r"[A-Za-z0-9]", piece):
            piece = " " + piece          # \tau u, not \tauu
        self.out.append(piece)
        self.last = kind

    def script(self, mark: str, content: str) -> None:
        """Append ^{content} / _{content}, merging with a directly preceding script of the same kind."""
        kind = "sup" if mark == "^" else "sub"
        if self.last == kind:
            prev = self.out.pop()
            inner = prev[2:-1]
            sep = " " if re.search(r"\\[A-Za-z]+$", inner) and re.match(r"[A-Za-z0-9]", content) else ""
            content = inner + sep + content
        elif not self.out or self.last == "op":
            self.out.append("{}")
        self.out.append(f"{mark}{{{content}}}")
        self.last = kind

    def cmd(self, name: str) -> str:
        return "\\" + name

    # -- atoms
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def group(self, open_: str, close: str) -> str:
        """The converted inside of a balanced group starting at self.i (which holds `open_`)."""
        depth, j = 0, self.i
        while j < len(self.s):
            if self.s[j] == open_:
                depth += 1
            elif self.s[j] == close:
                depth -= 1
                if depth == 0:
                    break
            j += 1
        inner = self.s[self.i + 1:j]
        self.i = min(j + 1, len(self.s))
        sub = _Scanner(inner, self.mt)
        res = sub.run()
        self.unmapped |= sub.unmapped
        return res

    def operand(self, single_letter: bool) -> str:
        """The operand of ^, _ or √: a group, a number, a name (one letter after ^), a Greek letter."""
        ch = self.peek()
        if ch == "(":
            return self.group("(", ")")
        if ch == "{":
            return self.group("{", "}")
        sign = ""
        if ch in "-−+":
            sign = "-" if ch != "+" else "+"
            self.i += 1
            ch = self.peek()
        if ch.isdigit():
            m = re.match(r"\d+(\.\d+)?", self.s[self.i:])
            self.i += m.end()
            return sign + m.group(0)
        if ch in _GREEK:
            self.i += 1
            return sign + self.accented(self.cmd(_GREEK[ch]))
        if ch == "*" or ch == "∗":
            self.i += 1
            return sign + "*"
        if ch == "√":
            self.i += 1
            return sign + rf"\sqrt{{{self.operand(single_letter=False)}}}"
        m = re.match(r"[A-Za-z]+", self.s[self.i:])
        if m:
            word = m.group(0)
            for name in _UPRIGHT:
                if self.s.startswith(name, self.i) and len(name) > 1:
                    self.i += len(name)
                    return sign + self.upright(name)
            if single_letter and len(word) > 1:
                word = word[0]
            self.i += len(word)
            return sign + self.accented(word if len(word) <= 2 else self.upright(word))
        if ch in _SUPERSCRIPTS or ch in _SUBSCRIPTS:
            self.i += 1
            return sign + (_SUPERSCRIPTS.get(ch) or _SUBSCRIPTS[ch])
        return sign

    def accented(self, base: str) -> str:
        """Apply the combining accents that follow (ẋ, σ̇, û) to `base`."""
        while self.peek() in _ACCENTS:
            base = f"\\{_ACCENTS[self.peek()]}{{{base}}}"
            self.i += 1
        return base

    def upright(self, word: str) -> str:
        if "-" in word:
            left, right = word.split("-", 1)
            return (rf"\mathrm{{{left}\text{{-}}{right}}}" if not self.mt else rf"\mathrm{{{left}}}\text{{-}}\mathrm{{{right}}}"
                    ).replace(r"\text{-}", "{-}" if self.mt else r"\text{-}")
        return rf"\mathrm{{{word}}}"

    # -- main loop
    def run(self) -> str:
        s = self.s
        while self.i < len(s):
            ch = s[self.i]
            two = s[self.i:self.i + 2]
            if ch.isspace():
                self.i += 1
                if self.out and self.out[-1] != " ":
                    self.out.append(" ")
                continue
            if two in ("<=", ">=", "!=", "->", "=>", "**", ".."):
                self.i += 2
                if two == "**":
                    self.script("^", self.operand(single_letter=False))
                    continue
                if two == ".." and self.peek() == ".":
                    self.i += 1
                self.emit({"<=": r"\le", ">=": r"\ge", "!=": r"\ne", "->": r"\to", "=>": r"\Rightarrow",
                           "..": r"\dots"}[two] if not self.mt else
                          {"<=": r"\leq", ">=": r"\geq", "!=": r"\neq", "->": r"\rightarrow", "=>": r"\Rightarrow",
                           "..": r"\ldots"}[two], "op")
                continue
            if ch == "^":
                self.i += 1
                self.script("^", self.operand(single_letter=True))
                continue
            if ch == "_":
                self.i += 1
                if self.peek() in ("(", "{"):
                    self.script("_", self.operand(single_letter=False))
                else:
                    m = re.match(r"\d+|[A-Z]+|[a-z]+", s[self.i:])
                    hyph = next((n for n in _UPRIGHT if "-" in n and s.startswith(n, self.i)), None)
                    if hyph:
                        self.i += len(hyph)
                        self.script("_", self.upright(hyph))
                    elif m:
                        word = m.group(0)
                        self.i += len(word)
                        word = self.accented(word)
                        self.script("_", self.upright(word) if word.isalpha() and (len(word) >= 3 or word in _ACRONYMS)
                                    else word)
                    else:
                        self.script("_", self.operand(single_letter=True))
                continue
            if ch in _SUPERSCRIPTS:
                self.i += 1
                self.script("^", _SUPERSCRIPTS[ch])
                continue
            if ch in _SUBSCRIPTS:
                self.i += 1
                self.script("_", _SUBSCRIPTS[ch])
                continue
            if ch == "√":
                self.i += 1
                self.emit(rf"\sqrt{{{self.operand(single_letter=False)}}}")
                continue
            if ch in "*∗":
                self.i += 1
                self.script("^", "*")
                continue
            if ch == "|":
                self.i += 1
                if self.mt or not self.pair_bars:
                    self.emit("|" if self.mt else r"\vert ")
                else:
                    self.emit(r"\lvert " if self.bars % 2 == 0 else r"\rvert ", "op" if self.bars % 2 == 0 else "atom")
                self.bars += 1
                continue
            if ch == "‖":
                self.i += 1
                if self.mt or not self.pair_dbars:
                    self.emit(r"\Vert ")
                else:
                    self.emit(r"\lVert " if self.dbars % 2 == 0 else r"\rVert ", "op" if self.dbars % 2 == 0 else "atom")
                self.dbars += 1
                continue
            if ch.isdigit():
                m = re.match(r"(\d+(?:\.\d+)?)(?:e([+\-−]?)(\d+))?(x(?=\d))?", s[self.i:])
                self.i += m.end()
                mant, sign, exp, times = m.group(1), m.group(2), m.group(3), m.group(4)
                if exp is not None:
                    e = int(exp) * (-1 if sign in ("-", "−") else 1)
                    self.emit(f"10^{{{e}}}" if mant == "1" else rf"{mant}\times 10^{{{e}}}")
                else:
                    self.emit(mant)
                if times:
                    self.emit(r"\times", "op")
                continue
            if ch in _GREEK:
                self.i += 1
                self.emit(self.accented(self.cmd(_GREEK[ch])))
                continue
            if ch.isascii() and ch.isalpha():
                for name in _UPRIGHT:
                    if s.startswith(name, self.i) and not (s[self.i + len(name):self.i + len(name) + 1].isalpha()):
                        if len(name) > 1 and (name.isupper() or "-" in name or name in ("rms",)):
                            self.i += len(name)
                            self.emit(self.accented(self.upright(name)))
                            break
                else:
                    m = re.match(r"[A-Za-z]+", s[self.i:])
                    word = m.group(0)
                    after = s[self.i + len(word):self.i + len(word) + 1]
                    if word == "sqrt" and after == "(":
                        self.i += 4
                        self.emit(rf"\sqrt{{{self.operand(single_letter=False)}}}")
                    elif word == "oo":
                        self.i += 2
                        self.emit(r"\infty")
                    elif word in _FUNCS:
                        self.i += len(word)
                        self.emit("\\" + word + " ", "op")
                    elif word in _OPERATORS:
                        self.i += len(word)
                        self.emit((rf"\operatorname{{{word}}}" if not self.mt else rf"\mathrm{{{word}}}") + " ", "op")
                    elif len(word) >= 3 and word.islower() and re.match(r"[a-z]+(_[a-z0-9]+)+", s[self.i:]):
                        code = re.match(r"[a-z]+(_[a-z0-9]+)+", s[self.i:]).group(0)
                        self.i += len(code)         # a Python name (layer_velocities) inside a formula
                        self.emit(r"\mathtt{" + code.replace("_", r"\_") + "}")
                    elif len(word) >= 3 and (word.islower() or word[0].isupper() and word[1:].islower()):
                        self.i += len(word)
                        self.emit(self.accented(self.upright(word)))
                    elif len(word) == 1 and re.match(r"\d+(?![.\d]*e)", s[self.i + 1:]) and \
                            not re.match(r"\d+\.\d", s[self.i + 1:]):
                        m2 = re.match(r"\d+", s[self.i + 1:])        # u0, m0, W0: an index
                        self.i += 1 + m2.end()
                        self.emit(word)
                        self.script("_", m2.group(0))
                    else:
                        # a product of one-letter symbols (FGF, UᵀWV): each letter italic, accents on their letter
                        self.i += 1
                        self.emit(self.accented(word[0]))
                continue
            if ch in _SYMBOLS:
                self.i += 1
                latex, mt = _SYMBOLS[ch]
                self.emit(mt if self.mt else latex, "op" if ch not in "ℓ∞∂∇…⋯½" else "atom")
                if ch in "ℓ∂∇":
                    self.out[-1] = self.accented(self.out[-1])
                continue
            if ch in "~":
                self.i += 1
                self.emit(r"\sim", "op")
                continue
            if ch in "%#&$":
                self.i += 1
                self.emit("\\" + ch)
                continue
            if ch in "{}":
                self.i += 1
                self.emit("\\" + ch, "op" if ch == "{" else "atom")
                continue
            if ch == "\\":
                self.i += 1
                self.emit(r"\backslash")
                continue
            if ch in "()[],;:.!?'/=<>+-\"":
                self.i += 1
                self.emit({"-": "-", '"': "''"}.get(ch, ch), "op" if ch in "([=<>+-,;:/" else "atom")
                continue
            if ch in _ACCENTS:            # an accent on nothing we know: drop it
                self.i += 1
                continue
            self.i += 1
            self.unmapped.add(ch)
            self.emit(r"\square")
        return "".join(self.out).strip()


def _math(text: str, mathtext: bool = False) -> tuple[str, set[str]]:
    """One run of mathematics as LaTeX (or mathtext) math content, and the characters it could not map."""
    sc = _Scanner(text, mathtext)
    return sc.run(), sc.unmapped


# --- words ----------------------------------------------------------------------------------------

_MATH_CHARS = set(_GREEK) | set(_SYMBOLS) | set(_SUPERSCRIPTS) | set(_SUBSCRIPTS) | set("=<>^_|*~+") | {"ℓ"}
_MATH_CHARS -= {"–", "…"}
_ACRONYMS = {"GD", "NGD", "NGF", "SPD", "SVM", "ODE", "ODEs", "MP", "NG", "KFAC", "MNIST", "PDF", "CLI", "SGD", "LM",
             "CI", "API", "JSON", "DOP", "BLAS", "SVD", "PCA", "MSE", "FAC", "OK", "II", "III", "IV", "LR", "RK", "BDF",
             "TODO", "NOTE", "AND", "OR", "NOT", "ICML", "ICLR", "GPU", "CPU", "PNG", "TEX"}
_NUMBER = re.compile(r"^[+\-−]?\d+(\.\d+)?%?$")
_SCI = re.compile(r"^[+\-−]?\d+(\.\d+)?e[+\-−]?\d+$")
_DIMS = re.compile(r"^\d+x\d+$")
_SINGLE = re.compile(r"^[A-Za-z]$")
_INDEXED = re.compile(r"^[A-Za-z]\d$")
_CALL = re.compile(r"^(?:[A-Za-z]{1,2}|ln|log|exp|cos|sin|tanh|det|tr|diag|blockdiag|rank|max|min|lim|sqrt|O)\(")
_FRACTION = re.compile(r"^[A-Za-z0-9.()]+(/[A-Za-z0-9.()]+)+$")
_CODE = re.compile(r"^`[^`]+`$|^[a-z]{3,}(_[a-z0-9]+)+(\(.*\))?$|^[A-Z]{2,}(_[A-Z0-9]+)+$|^[A-Z][a-z]+[A-Z]\w*(\(.*\))?$")


def _word_kind(core: str) -> str:
    """'math', 'neutral' (a number: math next to math, else text), 'code' or 'text'."""
    if not core:
        return "text"
    if _CODE.match(core) and not re.match(r"(max|min|lim|sup|inf|arg)_", core):
        return "code"
    if _SCI.match(core) or _DIMS.match(core):
        return "math"
    if _NUMBER.match(core):
        return "math" if core[0] in "−-" else "neutral"
    if re.fullmatch(r"\d+[A-Za-z]{1,2}(\(.*)?", core) or core in {"ln", "exp", "cos", "sin", "tanh", "det", "tr", "diag", "blockdiag"}:
        return "math"          # 2u(s, 3s, cos
    nfd = unicodedata.normalize("NFD", core)
    if any(ch in _MATH_CHARS or ch in ("\u0307", "\u0302", "\u0303", "\u0304") for ch in nfd):
        # a word with math characters; a lone hyphenated English word ('full-matrix') never gets here
        return "math"
    if core in ("a", "A"):
        return "text"
    if re.fullmatch(r"[A-Z]{2,4}", core) and core not in _ACRONYMS:
        return "math"          # a product of matrices (FGF, XX)
    if _SINGLE.match(core) or _INDEXED.match(core):
        return "math"
    if _CALL.match(core) and core.count("(") >= 1:
        return "math"
    if _FRACTION.match(core) and not re.search(r"[A-Za-z]{3,}", core):
        return "math"
    if core == "-":
        return "math"
    return "text"


def _text_escape(text: str, unmapped: set[str]) -> str:
    """Running text for pdflatex's OT1 fonts: specials escaped, accents and quotes as LaTeX."""
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}", "<": r"$<$", ">": r"$>$", "|": r"$\vert$"}
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in table:
            out.append(table[ch])
        elif ch.isascii():
            out.append(ch)
        elif ch in _TEXT_CHARS:
            out.append(_TEXT_CHARS[ch])
        else:
            parts = unicodedata.normalize("NFD", ch)
            if len(parts) == 2 and parts[0].isascii() and parts[1] in _TEXT_ACCENTS:
                out.append(_TEXT_ACCENTS[parts[1]] + "{" + parts[0] + "}")
            else:
                math, bad = _math(ch)
                unmapped |= bad
                out.append(f"${math}$")
    return "".join(out)


_TRAIL = ",.;:"


def _split_word(word: str) -> tuple[str, str, str]:
    """(opening punctuation, core, closing punctuation): unbalanced parentheses and trailing ,.;: stay outside."""
    pre = post = ""
    while word and word[-1] in _TRAIL + ")]" and not (word[-1] in ")]" and word.count("(") + word.count("[")
                                                     >= word.count(")") + word.count("]")):
        if word[-1] == "." and re.search(r"\d\.$", word) and False:
            break
        post = word[-1] + post
        word = word[:-1]
    while word and word[0] in "([" and word.count("(") + word.count("[") > word.count(")") + word.count("]"):
        pre += word[0]
        word = word[1:]
    if len(word) > 2 and word[0] == "(" and word[-1] == ")" and "(" not in word[1:-1] and ")" not in word[1:-1]:
        pre, word, post = pre + "(", word[1:-1], ")" + post
    return pre, word, post


def _convert(text: str, mathtext: bool = False) -> tuple[str, set[str]]:
    """Text with Unicode mathematics -> LaTeX (or mathtext) with $...$ around every math run."""
    unmapped: set[str] = set()
    pieces = re.split(r"(\$[^$]+\$)", text)
    out = []
    for piece in pieces:
        if piece.startswith("$") and piece.endswith("$") and len(piece) > 1:
            out.append(piece)             # already math (LaTeX / mathtext): verbatim
            continue
        out.append(_convert_plain(piece, mathtext, unmapped))
    return "".join(out), unmapped


_SCI_IN_WORD = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?e[+\-−]?\d+)(?![\w.])")


def _text_with_numbers(word: str, mathtext: bool, unmapped: set[str]) -> str:
    """A text word, with any number in e-notation inside it (speed(1e-12)) set as a power of ten."""
    out, pos = [], 0
    for m in _SCI_IN_WORD.finditer(word):
        before = word[pos:m.start()]
        out.append(_text_escape(before, unmapped) if not mathtext else before.replace("$", r"\$"))
        out.append("$" + _math(m.group(1), mathtext)[0] + "$")
        pos = m.end()
    rest = word[pos:]
    out.append(_text_escape(rest, unmapped) if not mathtext else rest.replace("$", r"\$"))
    return "".join(out)


def _convert_plain(text: str, mathtext: bool, unmapped: set[str]) -> str:
    tokens = []            # (kind, text)
    for part in re.split(r"(\s+)", text):
        if not part:
            continue
        if part.isspace():
            tokens.append(("space", part))
            continue
        pre, core, post = _split_word(part)
        bar_pre = bar_post = ""
        while core[:1] in ("|", "‖") and len(core) > 1 and _word_kind(core[1:]) == "text":
            bar_pre, core = bar_pre + core[0], core[1:]
        while core[-1:] in ("|", "‖") and len(core) > 1 and _word_kind(core[:-1]) == "text":
            core, bar_post = core[:-1], core[-1] + bar_post
        if bar_pre:
            tokens.append(("math", bar_pre))
        for ch in pre:
            tokens.append(("punct", ch))
        if core:
            tokens.append((_word_kind(core), core))
        if bar_post:
            tokens.append(("math", bar_post))
        for ch in post:
            tokens.append(("punct", ch))
    # numbers next to math become math; punctuation between math words joins the run
    kinds = [k for k, _ in tokens]

    def neighbour(idx: int, step: int) -> str:
        j = idx + step
        while 0 <= j < len(tokens) and tokens[j][0] in ("space",):
            j += step
        return kinds[j] if 0 <= j < len(tokens) else ""
    changed = True
    while changed:
        changed = False
        for k, kind in enumerate(kinds):
            if kind == "neutral" and "math" in (neighbour(k, -1), neighbour(k, 1)):
                kinds[k] = "math"
                changed = True
    for k, kind in enumerate(kinds):
        if kind == "punct" and tokens[k][1] in "([" and neighbour(k, 1) == "math" and k + 1 < len(tokens) and \
                tokens[k + 1][0] != "space":
            kinds[k] = "math-punct"
        elif kind == "punct" and tokens[k][1] in ")]" and neighbour(k, -1) in ("math", "math-punct") and \
                k > 0 and tokens[k - 1][0] != "space":
            kinds[k] = "math-punct"
    # assemble runs
    out, run = [], []

    def flush() -> None:
        if not run:
            return
        src = "".join(run)
        trail = ""
        while src and (src[-1] in _TRAIL or src[-1].isspace()):
            trail = src[-1] + trail
            src = src[:-1]
        lead = ""
        while src and (src[0].isspace() or src[0] in "([" and src.count("(") + src.count("[") >
                                                        src.count(")") + src.count("]")):
            lead += src[0]
            src = src[1:]
        while src and src[-1] in ")]" and src.count(")") + src.count("]") > src.count("(") + src.count("["):
            trail = src[-1] + trail
            src = src[:-1]
        if src:
            math, bad = _math(src, mathtext)
            unmapped.update(bad)
            out.append((_text_escape(lead, unmapped) if not mathtext else lead) + f"${math}$"
                       + (_text_escape(trail, unmapped) if not mathtext else trail))
        else:
            out.append(lead + trail)
        run.clear()
    for k, (kind0, tok) in enumerate(tokens):
        kind = kinds[k]
        if kind == "math-punct" and tok in "([" and run and k > 0 and tokens[k - 1][0] == "space":
            flush()
        if kind in ("math", "math-punct") or (kind == "space" and run) or \
                (kind == "punct" and run and tok == "," and neighbour(k, 1) == "math"):
            run.append(tok)
            continue
        flush()
        if kind == "code":
            body = tok.strip("`")
            out.append(r"\texttt{" + _text_escape(body, unmapped) + "}" if not mathtext else body)
        else:
            out.append(_text_with_numbers(tok, mathtext, unmapped))
    flush()
    return "".join(out)


def tex_text(text: str) -> str:
    """Text with Unicode mathematics as LaTeX for pdflatex: every run of mathematics in math mode.

    Running text is escaped (% & _ # ...) and its accents kept (Mészáros); formulas written with
    Unicode or ASCII (τu̇, u^(2−2/L), a_i², ‖x‖, |x|, <=, 1e-3) become math ($\\tau\\dot{u}$,
    $u^{2-2/L}$, ...); a `$...$` segment is already LaTeX and passes through unchanged. No character
    is dropped: one without a LaTeX form is shown as a box and listed by `unmapped_characters`.

    Args:
        text: a statement, source, summary or label.

    Returns:
        LaTeX for running text (ASCII only).

    >>> tex_text("|u − s/2|/s <= 1e-8 (50% of W_{i+1}ᵀ)")
    '$\\\\lvert u - s/2\\\\rvert /s \\\\le 10^{-8}$ (50\\\\% of $W_{i+1}^{\\\\top}$)'
    """
    # === check arguments
    if not isinstance(text, str):
        raise fail("text", "a string", text)
    return _convert(text)[0]


def mathtext(text: str) -> str:
    """The same conversion for matplotlib: math runs as mathtext `$...$`, the rest left as it is.

    >>> mathtext("cos(w, X⁺ᵀy)")
    '$\\\\cos (w, X^{+\\\\top}y)$'
    """
    # === check arguments
    if not isinstance(text, str):
        raise fail("text", "a string", text)
    return _convert(text, mathtext=True)[0]


def unmapped_characters(text: str) -> set[str]:
    """Characters of `text` that `tex_text` cannot typeset (shown as a box in the report).

    >>> unmapped_characters("σ̇ ⟨x, y⟩ ½"), unmapped_characters("☃")
    (set(), {'☃'})
    """
    # === check arguments
    if not isinstance(text, str):
        raise fail("text", "a string", text)
    return _convert(text)[1]


def _num(x: float, sig: int = 3) -> str:
    """A number in math mode: 0.0193, 1.2\\times10^{-11}, \\infty."""
    if x is None:
        return "---"
    if isinstance(x, bool):
        x = float(x)
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        text = f"{x:.{sig}g}"
        return text if "e" not in text else f"{x:.0f}"     # 1e+03 -> 1000
    mant, exp = f"{x:.{sig - 1}e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    e = int(exp)
    return f"10^{{{e}}}" if mant == "1" else (f"-10^{{{e}}}" if mant == "-1" else rf"{mant}\times 10^{{{e}}}")


def _error_tex(error: float | None) -> str:
    """A route's worst error: 'exact', '$1.2\\times10^{-11}$ (10.9 digits)', 'failed' or '---'."""
    if error is None:
        return "---"
    if not math.isfinite(error):
        return r"\textbf{failed}"
    if error == 0:
        return "exact"
    return f"${_num(error, 2)}$ ({digits(error):.1f} digits)"


# === references ===================================================================================

#: The works the claims cite: key -> (pattern of the citation in a source or statement, entry).
REFERENCES: dict[str, tuple[str, str]] = {
    "saxe2014": (r"Saxe(?:, McClelland (?:&|and) Ganguli| et al\.?)? 2014",
                 "Andrew M. Saxe, James L. McClelland, Surya Ganguli. Exact solutions to the nonlinear dynamics of "
                 "learning in deep linear neural networks. ICLR 2014; arXiv:1312.6120."),
    "bernacchia2018": (r"Bernacchia(?:, Lengyel (?:&|and) Hennequin| et al\.?)? 2018",
                       "Alberto Bernacchia, Máté Lengyel, Guillaume Hennequin. Exact natural gradient in deep linear "
                       "networks and its application to the nonlinear case. NeurIPS 2018."),
    "huh2020": (r"Huh(?: \()?,? ?2020\)?", "Dongsung Huh. Curvature-corrected learning dynamics in deep neural "
                                          "networks. ICML 2020, PMLR 119."),
    "kerekes2021": (r"Kerekes(?:, Mészáros (?:&|and) Huszár| et al\.?)? 2021",
                    "Anna Kerekes, Anna Mészáros, Ferenc Huszár. Depth without the magic: inductive bias of natural "
                    "gradient descent. arXiv:2111.11542, 2021."),
    "arora2018": (r"Arora, Cohen (?:&|and) Hazan 2018",
                  "Sanjeev Arora, Nadav Cohen, Elad Hazan. On the optimization of deep networks: implicit acceleration "
                  "by overparameterization. ICML 2018."),
    "arora2019": (r"Arora(?:, Cohen, Hu (?:&|and) Luo| et al\.?) 2019",
                  "Sanjeev Arora, Nadav Cohen, Wei Hu, Yuping Luo. Implicit regularization in deep matrix "
                  "factorization. NeurIPS 2019."),
    "fukumizu1998": (r"Fukumizu 1998",
                     "Kenji Fukumizu. Effect of batch learning in multilayer neural networks. Proceedings of the 5th "
                     "International Conference on Neural Information Processing (ICONIP), 1998."),
    "braun2022": (r"Braun(?:, Dominé, Fitzgerald (?:&|and) Saxe| et al\.?) 2022",
                  "Lukas Braun, Clémentine C. J. Dominé, James E. Fitzgerald, Andrew M. Saxe. Exact learning dynamics "
                  "of deep linear networks with prior knowledge. NeurIPS 2022."),
    "domine2024": (r"Dominé(?:, Anguita, Proca, Braun, Kunin, Mediano (?:&|and) Saxe| et al\.?) 2024",
                   "Clémentine C. J. Dominé, Nicolas Anguita, Alexandra M. Proca, Lukas Braun, Daniel Kunin, Pedro A. M. "
                   "Mediano, Andrew M. Saxe. From lazy to rich: exact learning dynamics in deep linear networks. "
                   "arXiv:2409.14623, 2024."),
    "atanasov2022": (r"Atanasov(?:, Bordelon (?:&|and) Pehlevan| et al\.?) 2022",
                     "Alexander Atanasov, Blake Bordelon, Cengiz Pehlevan. Neural networks as kernel learners: the "
                     "silent alignment effect. ICLR 2022."),
    "martens2015": (r"Martens (?:&|and) Grosse 2015",
                    "James Martens, Roger Grosse. Optimizing neural networks with Kronecker-factored approximate "
                    "curvature. ICML 2015."),
    "woodworth2020": (r"Woodworth et al\.? 2020",
                      "Blake Woodworth, Suriya Gunasekar, Jason D. Lee, Edward Moroshko, Pedro Savarese, Itay Golan, "
                      "Daniel Soudry, Nathan Srebro. Kernel and rich regimes in overparametrized models. COLT 2020."),
    "barrett2021": (r"Barrett (?:&|and) Dherin 2021",
                    "David G. T. Barrett, Benoit Dherin. Implicit gradient regularization. ICLR 2021."),
    "lampinen2019": (r"Lampinen (?:&|and) Ganguli 2019",
                     "Andrew K. Lampinen, Surya Ganguli. An analytic theory of generalization dynamics and transfer "
                     "learning in deep linear networks. ICLR 2019."),
    "hairer2006": (r"Hairer, Lubich (?:&|and) Wanner(?: 2006)?",
                   "Ernst Hairer, Christian Lubich, Gerhard Wanner. Geometric Numerical Integration, 2nd ed. "
                   "Springer, 2006."),
    "theory": (r"THEORY(?: ?§ ?\d+(?:(?:-|–|, ?)\d+)*)?",
               "lindyn. THEORY: the mathematics lindyn implements, with sources. docs/theory.md in the lindyn "
               "repository: §0 conventions, §1 learning rules, §2 mode dynamics, §3 whole-network facts, §4 natural "
               "gradient in function space (Kerekes et al. 2021), §5 numbers used as tests, §6 finite steps, §7 "
               "damping, stability and generalisation (Huh 2020), §8 seeds and chosen examples."),
}
_CITE = re.compile("|".join(f"(?P<{key}>{pattern})" for key, (pattern, _) in REFERENCES.items()))


def _cited(text: str, used: list[str]) -> str:
    """`tex_text` of a source or statement with \\cite{key} after each work it names (recorded in `used`)."""
    out, pos = [], 0
    for m in _CITE.finditer(text):
        key = m.lastgroup
        out.append(tex_text(text[pos:m.end()]) + r"~\cite{" + key + "}")
        if key not in used:
            used.append(key)
        pos = m.end()
    out.append(tex_text(text[pos:]))
    return "".join(out)


def _bibliography(used: Sequence[str]) -> str:
    """thebibliography with every cited work (in the order of first citation) and then the others."""
    keys = list(used) + [k for k in REFERENCES if k not in used]
    items = [r"\bibitem{" + k + "} " + tex_text(REFERENCES[k][1]) for k in keys]
    return "\\begin{thebibliography}{99}\n" + "\n".join(items) + "\n\\end{thebibliography}"


# === figures ======================================================================================

#: Dash patterns for a line that lies on an earlier one (so that both stay visible).
_DASHES = ((0, (6, 3)), (0, (2, 2)), (0, (6, 2, 2, 2)), (0, (1, 3)))
_MARKERS = "osD^vx+*"


def _coincides(a: Any, b: Any, xlog: bool = False, ylog: bool = False) -> bool:
    """Whether curve `b` lies on curve `a` as drawn: every point of b within 1% of the axes' span of
    some point or segment of a (paths in a plane, other grids and log axes included)."""
    def coords(c: Any) -> list[tuple[float, float]]:
        pts = []
        for x, y in zip(c.x, c.y):
            if not (math.isfinite(x) and math.isfinite(y)) or (xlog and x <= 0) or (ylog and y <= 0):
                continue
            pts.append((math.log10(x) if xlog else x, math.log10(y) if ylog else y))
        return pts
    pa, pb = coords(a), coords(b)
    if len(pa) < 2 or not pb:
        return False
    xs = [p[0] for p in pa + pb]
    ys = [p[1] for p in pa + pb]
    sx, sy = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    na = [(x / sx, y / sy) for x, y in pa]
    for x, y in pb:
        px, py = x / sx, y / sy
        best = math.inf
        for (x0, y0), (x1, y1) in zip(na[:-1], na[1:]):
            dx, dy = x1 - x0, y1 - y0
            lam = 0.0 if dx == dy == 0 else min(1.0, max(0.0, ((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy)))
            best = min(best, math.hypot(px - x0 - lam * dx, py - y0 - lam * dy))
            if best <= 0.01:
                break
        if best > 0.01:
            return False
    return True


def _safe_mathtext(text: str) -> str:
    """`mathtext(text)` when matplotlib's parser accepts it, else the text as it is ($ escaped)."""
    if not text:
        return text
    converted = mathtext(text)
    try:
        from matplotlib.mathtext import MathTextParser
        parser = MathTextParser("path")
        for seg in re.findall(r"\$[^$]+\$", converted):
            parser.parse(seg)
    except Exception:   # a label matplotlib cannot parse is drawn as plain text rather than failing the figure
        return text.replace("$", r"\$")
    return converted


def _short_title(title: str) -> str:
    """The panel title: the first line of a Plot's title (the rest belongs to the caption)."""
    return title.split("\n", 1)[0].strip()


def _draw_panel(ax: Any, plot: Plot, legend: str) -> None:
    """Draw one `Plot` into a matplotlib axes: coinciding curves stay visible, labels in mathtext."""
    from matplotlib.ticker import LogLocator, NullFormatter
    drawn: list[Any] = []
    for k, c in enumerate(plot.curves):
        is_line = c.style in ("-", "--", ":", "-.")
        kwargs: dict[str, Any] = {"color": c.color, "label": _safe_mathtext(c.label) or None}
        overlaps = [d for d in drawn if _coincides(d, c, plot.xscale == "log", plot.yscale == "log")]
        if is_line:
            kwargs.update(linestyle=c.style, linewidth=1.6)
            if overlaps:    # lies on an earlier curve: dashed and on top, so that both are seen
                kwargs.update(linestyle=_DASHES[(len(overlaps) - 1) % len(_DASHES)], linewidth=1.3,
                              zorder=3 + len(overlaps))
        else:
            n = len(c.x)
            every = max(1, n // 25)
            kwargs.update(linestyle="none", marker=c.style, markersize=4.5, markerfacecolor="none",
                          markeredgewidth=1.0, markevery=(len(overlaps) * max(1, every // 2) % every, every)
                          if every > 1 else None, zorder=4 + len(overlaps))
            if overlaps and c.style in [d.style for d in overlaps]:
                kwargs["marker"] = next(m for m in _MARKERS if m not in [d.style for d in overlaps])
        ax.plot(c.x, c.y, **kwargs)
        drawn.append(c)
    ax.set_xscale(plot.xscale)
    ax.set_yscale(plot.yscale)
    if plot.xlim is not None:
        ax.set_xlim(*plot.xlim)
    if plot.ylim is not None:
        ax.set_ylim(*plot.ylim)
    for axis, scale in ((ax.xaxis, plot.xscale), (ax.yaxis, plot.yscale)):
        if scale == "log":
            axis.set_major_locator(LogLocator(base=10, numticks=8))
            axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10)), numticks=12))
            lo, hi = (ax.get_xlim() if axis is ax.xaxis else ax.get_ylim())
            if lo > 0 and hi / lo >= 10 ** 1.5:
                axis.set_minor_formatter(NullFormatter())   # decades are labelled; minor labels would collide
    ax.set_xlabel(_safe_mathtext(plot.xlabel))
    ax.set_ylabel(_safe_mathtext(plot.ylabel))
    ax.set_title(_safe_mathtext(_short_title(plot.title)), fontsize=10)
    ax.grid(alpha=0.3, which="major")
    labelled = [c for c in plot.curves if c.label]
    if labelled and legend != "none":
        if legend == "outside":
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        elif len(labelled) > 5:     # a long legend goes below the panel, never over the curves
            longest = max(len(c.label) for c in labelled)
            ncol = 3 if longest <= 26 else (2 if longest <= 50 else 1)
            leg = ax.legend(fontsize=7, loc="upper center", ncol=min(ncol, len(labelled)), frameon=False)
            leg.set_in_layout(True)
            ax.xaxis.label.set_in_layout(True)
            leg._below_axis = True          # placed under the x label by `_fit_inside`
        else:
            ax.legend(fontsize=7, loc="best", framealpha=0.85)


def _fit_inside(fig: Any) -> None:
    """Put legends meant for below a panel under its x label, and shrink titles wider than their panel."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for _ in range(2):      # the layout moves the axes once the legends are placed: settle twice
        for ax in fig.axes:
            leg = ax.get_legend()
            if leg is None or not getattr(leg, "_below_axis", False):
                continue
            label_box = ax.xaxis.get_tightbbox(renderer).transformed(ax.transAxes.inverted())
            leg.set_bbox_to_anchor((0.5, label_box.y0 - 0.02), transform=ax.transAxes)
        fig.canvas.draw()
    for ax in fig.axes:
        title = ax.title
        size = title.get_fontsize()
        while size > 6 and title.get_window_extent(renderer).width > ax.get_window_extent(renderer).width * 1.02:
            size -= 0.5
            title.set_fontsize(size)
    fig.canvas.draw()


def plot_panels(panels: Sequence[Plot], path: str | os.PathLike[str], size: tuple[float, float] = (6.0, 3.8),
                dpi: int = 150, legend: str = "inside") -> pathlib.Path:
    """Draw `Plot` panels side by side into one PNG: the figure style of the report and the derivation scripts.

    Coinciding curves stay visible (a line on an earlier line is dashed and drawn on top; markers on
    markers are staggered), labels and titles are matplotlib mathtext, log axes carry decade ticks,
    and titles are the first line of each `Plot.title` (shrunk to the panel's width if needed); the
    figure keeps its size in pixels (size × dpi).

    Args:
        panels: the panels (one or more).
        path: output file (.png).
        size: figure size in inches (width, height).
        dpi: resolution.
        legend: "inside" (best place in the panel), "outside" (right of the panel) or "none".

    Returns:
        The path written.
    """
    # === check arguments
    panels = list(panels) if not isinstance(panels, Plot) else [panels]
    if not panels or not all(isinstance(p, Plot) for p in panels):
        raise fail("panels", "one or more lindyn.claims.Plot", panels)
    if legend not in ("inside", "outside", "none"):
        raise fail("legend", "'inside', 'outside' or 'none'", legend)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    with plt.rc_context({"font.size": 9, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
                         "mathtext.fontset": "dejavusans", "axes.titlepad": 4}):
        for attempt in (legend, "inside"):
            fig, axes = plt.subplots(1, len(panels), figsize=size, dpi=dpi, squeeze=False, layout="constrained")
            for ax, plot in zip(axes[0], panels):
                _draw_panel(ax, plot, attempt)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                _fit_inside(fig)
            if attempt == "inside" or not any("collapsed" in str(w.message) for w in caught):
                break
            plt.close(fig)      # the legend left no room for the axes: draw it inside the panel instead
        fig.savefig(path)
        plt.close(fig)
    return path


def save_plot(plot: Plot, path: str | os.PathLike[str], size: tuple[float, float] = (6.0, 3.8), dpi: int = 150) -> pathlib.Path:
    """Draw one claim `Plot` as a PNG (`plot_panels` with one panel).

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
    return plot_panels([plot], path, size=size, dpi=dpi)


# === the document =================================================================================

_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb,graphicx,longtable,array}
\usepackage[hidelinks]{hyperref}
\tracinglostchars=1
\setlength{\parindent}{0pt}\setlength{\parskip}{4pt}
\setlength{\emergencystretch}{2.5em}
\newcommand{\claimfigure}[2]{\begin{center}\refstepcounter{figure}%
  \includegraphics[width=0.8\linewidth]{#1}\par\smallskip
  \parbox{0.9\linewidth}{\small Figure~\thefigure: #2}\end{center}}
\newcommand{\formula}[1]{\begin{center}$\displaystyle #1$\end{center}}
"""


def _display(tex: str) -> str:
    """A displayed formula. Plain formulas are set as centred \\displaystyle math, which TeX breaks
    after relations and operators (and after each \\quad separator) when wider than the line;
    environments (aligned, align) are kept and unnumbered."""
    body = "\n".join(line for line in tex.splitlines() if not line.lstrip().startswith("%")).strip()
    if not body:
        return ""
    if re.search(r"\\begin\{(align|equation|gather|multline)\*?\}", body):
        return re.sub(r"\\(begin|end)\{(align|equation|gather|multline)\}", r"\\\1{\2*}", body) + "\n"
    if body.startswith("\\begin{"):
        return "\\[\n" + body + "\n\\]\n"
    body = re.sub(r"(\\quad|\\qquad)(?![A-Za-z])", r"\1\\allowbreak ", body)
    return "\\formula{" + body + "}\n"


def _breakable(expr: Any, limit: int = 80) -> str:
    """sympy's LaTeX of `expr`, written so that TeX can break a long formula between terms.

    TeX breaks inline math only after a relation or operator at the outer level, never inside a
    \\left( ... \\right) group or a fraction: long sums are written term by term, a long quotient
    as \\frac{1}{den}[num], a long factor and a long logarithm's argument in \\Bigl( ... \\Bigr)
    (an opening and a closing symbol, not a group), a long quotient inside as (num)/(den). The
    mathematics is sympy's, term for term.
    """
    text = sympy.latex(expr)
    if len(text) < limit:
        return text
    if isinstance(expr, sympy.Add):
        terms = expr.as_ordered_terms()
        out = _breakable(terms[0], limit)
        for term in terms[1:]:
            out += (" - " + _breakable(-term, limit)) if term.could_extract_minus_sign() else (" + " + _breakable(term, limit))
        return out
    if isinstance(expr, sympy.Mul):
        num, den = sympy.fraction(expr)
        if den != 1 and len(sympy.latex(den)) < limit:
            return r"\frac{1}{" + sympy.latex(den) + r"}\Bigl[" + _breakable(num, limit) + r"\Bigr]"
        parts = []
        for f in expr.as_ordered_factors():
            if f == -1:
                parts.append("-")
            elif isinstance(f, sympy.Add) and len(sympy.latex(f)) >= limit:
                parts.append(r"\Bigl(" + _breakable(f, limit) + r"\Bigr)")
            else:
                parts.append(_breakable(f, limit) if not isinstance(f, sympy.Add) else
                             r"\left(" + sympy.latex(f) + r"\right)")
        return " ".join(parts)
    if isinstance(expr, sympy.log):
        num, den = sympy.fraction(expr.args[0])
        inner = (r"\Bigl(" + _breakable(num, limit) + r"\Bigr)\Big/\Bigl(" + _breakable(den, limit) + r"\Bigr)"
                 if den != 1 else _breakable(num, limit))
        return r"\log\Bigl[" + inner + r"\Bigr]"
    if isinstance(expr, sympy.Pow) and isinstance(expr.base, sympy.Add) and expr.exp.is_positive:
        return r"\Bigl(" + _breakable(expr.base, limit) + r"\Bigr)^{" + sympy.latex(expr.exp) + "}"
    return text


def _formula_lines(lhs: str, expr: Any) -> list[str]:
    """`lhs = expr` as displays; a piecewise expression gives one display per case."""
    folded = sympy.piecewise_fold(expr) if expr.has(sympy.Piecewise) else expr
    if isinstance(folded, sympy.Piecewise):
        out = []
        for branch, cond in folded.args:
            when = r"\text{otherwise}" if cond is sympy.true else r"\text{for } " + sympy.latex(cond)
            out.append(rf"{lhs} = {_breakable(branch)}\quad ({when})")
        return out
    return [rf"{lhs} = {_breakable(expr)}"]


def _merged(measurements: Sequence[Measurement]) -> list[tuple[str, float, str, bool]]:
    """(label, value, requirement, passed) per row; a two-sided bound on one quantity is one row."""
    rows: list[tuple[str, float, str, bool]] = []
    used: set[int] = set()
    for k, m in enumerate(measurements):
        if k in used:
            continue
        partner = next((j for j in range(k + 1, len(measurements)) if j not in used and measurements[j].label == m.label
                        and measurements[j].value == m.value and {m.kind, measurements[j].kind} == {"at_least", "at_most"}),
                       None)
        if partner is not None:
            used.add(partner)
            lo, hi = sorted((m, measurements[partner]), key=lambda x: x.kind != "at_least")
            rows.append((m.label, m.value, f"$\\in [{_num(lo.bound)}, {_num(hi.bound)}]$", m.passed and lo.passed and hi.passed))
            continue
        if m.bound is None:
            need = "---"
        else:
            need = "$" + (r"\ge " if m.kind == "at_least" else r"\le ") + _num(m.bound) + "$"
        rows.append((m.label, m.value, need, m.passed))
    return rows


def _measurement_table(result: ClaimResult) -> str:
    """The measurements of both routes as a table: what is measured, the value, what it must be, verdict."""
    lines = [r"{\small\begin{longtable}{@{}>{\raggedright\arraybackslash}p{0.6\linewidth}rll@{}}",
             r"measured quantity & value & required & \\ \hline \endhead"]
    for label, value, need, ok in _merged(result.measurements):
        verdict = "ok" if ok else r"\textbf{fails}"
        lines.append(f"{tex_text(label)} & ${_num(value)}$ & {need} & {verdict}" + r"\\")
    lines.append(r"\end{longtable}}")
    return "\n".join(lines)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _derivations() -> list[tuple[str, list[Any]]]:
    """(heading, trajectories) for the appendix: built-in rules at L = 2-4, symbolic q, unbalanced GD."""
    rules = [GD(), NGD(), BlockNGD(), bernacchia(), NGD(q=Fraction(1, 2)), BlockNGD(q=Fraction(1, 2))]
    out = [(f"Rule {r.name}", [derive(r, L) for L in (2, 3, 4)]) for r in rules]
    q = sympy.Symbol("q", positive=True)
    out.append(("Symbolic power q (depth 3)", [derive(NGD(q=q), 3), derive(BlockNGD(q=q), 3)]))
    out.append(("Unbalanced two-layer GD (per-layer gains a_1(0), a_2(0))", [derive(GD(), 2, gains="unbalanced")]))
    return out


def _trajectory_tex(tr: Any) -> list[str]:
    """The derived ODE, solution and conserved quantities of one trajectory as displays."""
    funcs = tr.ode.lhs.atoms(sympy.Derivative)
    var = next(iter(funcs)).expr if funcs else tr.symbols.u
    name = sympy.latex(sympy.Symbol(var.func.__name__) if isinstance(var, sympy.core.function.AppliedUndef) else var)
    out = _formula_lines(rf"\tau \frac{{d {name}}}{{d t}}", tr.ode.rhs)
    if tr.u is not None:
        out += _formula_lines("u(t)", tr.u)
    elif tr.t_of_u is not None:
        integrals = tr.t_of_u.atoms(sympy.Integral)
        arg = sympy.latex(next(iter(integrals)).limits[0][2]) if integrals else "u"
        out += _formula_lines(f"t({arg})", tr.t_of_u)
    if tr.conserved:
        out.append(r",\quad ".join(sympy.latex(c) for c in tr.conserved) + r" = \mathrm{const}")
    return out


_INTRO = (
    "{n_pass} of {n} claims passed{thorough}. Each claim of the literature is checked in one of two ways. A "
    "two-route claim has a symbolic route (what lindyn derives from the learning rules' definitions, compared "
    "exactly with sympy or at 40 digits with the paper's formula) and an independent numeric route (full-matrix "
    "integration with DOP853 at rtol 1e-10, mpmath where digits matter); the table gives each route's worst error "
    "and its digits, −log10(error). An outcome claim is an experiment: each measurement is reported against its "
    "stated threshold. Sources give the paper's section, figure or equation; [derived] marks a result derived "
    "here, [chosen example] a setting chosen here. THEORY §n refers to the sections of docs/theory.md, shipped "
    "with lindyn (see the references). Seeds follow one policy: a fixed list stated with each experiment, the "
    "same seeds for every compared arm, every seed reported.")


def report_latex(verification: Verification, figures: dict[str, str] | None = None) -> str:
    """The report as one LaTeX document (string).

    Args:
        verification: the result of `lindyn.verify`.
        figures: claim plot name -> relative path of its PNG (from `write_report`); None: no figures.

    Returns:
        The LaTeX source (ASCII).
    """
    # === check arguments
    if not isinstance(verification, Verification):
        raise fail("verification", "the result of lindyn.verify(...)", verification)
    figures = figures or {}
    cited: list[str] = []
    n_pass = sum(r.passed for r in verification.results)
    parts = [_PREAMBLE, r"\title{lindyn: the papers' claims, derived and checked two ways}", r"\date{}",
             r"\begin{document}", r"\maketitle",
             _cited(_INTRO.format(n_pass=n_pass, n=len(verification.results),
                                  thorough=" (thorough grids)" if verification.thorough else ""), cited),
             r"\section*{Claims}",
             r"{\small\begin{longtable}{@{}>{\raggedright\arraybackslash}p{0.2\linewidth}"
             r">{\raggedright\arraybackslash}p{0.3\linewidth}>{\raggedright\arraybackslash}p{0.18\linewidth}"
             r">{\raggedright\arraybackslash}p{0.18\linewidth}l@{}}",
             r"claim & source & symbolic route & numeric route & result\\ \hline \endhead"]
    for r in verification.results:
        verdict = "pass" if r.passed else r"\textbf{FAIL}"
        if r.claim.kind == "outcome":
            routes = r"\multicolumn{2}{>{\raggedright\arraybackslash}p{0.38\linewidth}}{outcome: " + \
                     tex_text(r.outcome_text()) + "}"
        else:
            routes = _error_tex(r.symbolic_error) + " & " + _error_tex(r.numeric_error)
        name = r"\hyperref[claim:" + r.claim.name + "]{" + tex_text(r.claim.name) + "}"
        parts.append(f"{name} & {_cited(r.claim.source, cited)} & {routes} & {verdict}" + r"\\")
    parts.append(r"\end{longtable}}")
    for r in verification.results:
        parts.append("\n\n".join(_claim_section(r, figures, cited)))
    parts.append(r"\appendix")
    parts.append(r"\section{Derived mode dynamics}")
    parts.append(tex_text("Every ODE, solution and conserved quantity below is derived by lindyn's symbolic engine "
                          "from the learning rule's definition (aligned, balanced mode unless stated; whitened "
                          "input; THEORY §2)."))
    for heading, trajs in _derivations():
        parts.append(r"\subsection*{" + tex_text(heading) + "}")
        for tr in trajs:
            parts.append(tex_text(f"{tr.rule.name}, depth L = {tr.problem.depth}, {tr.problem.gains} mode, "
                                  f"solution form: {tr.form}."))
            parts += [_display(line) for line in _trajectory_tex(tr)]
    parts.append(_bibliography(cited))
    parts.append(r"\end{document}")
    return "\n".join(parts) + "\n"


def _claim_section(r: ClaimResult, figures: dict[str, str], cited: list[str]) -> list[str]:
    c = r.claim
    parts = [r"\subsection*{" + tex_text(c.name) + r"}\label{claim:" + c.name + "}",
             r"\textbf{Claim.} " + _cited(c.statement, cited)]
    if c.latex:
        parts.append(_display(c.latex))
    parts.append(r"\textbf{Source.} " + _cited(c.source, cited) + ".")
    if c.kind == "outcome":
        parts.append(r"\textbf{Experiment.} " + tex_text(r.numeric.summary) + ".")
        parts.append(r"\textbf{Outcome.} " + tex_text(r.outcome_text()) + ".")
        parts.append(r"\textbf{Thresholds.} " + tex_text(c.reason) + ".")
    else:
        parts.append(r"\textbf{Symbolic route} (" + _error_tex(r.symbolic_error) + "). "
                     + tex_text(r.symbolic.summary if r.symbolic is not None else "") + ".")
        parts += [_display(line) for line in _unique(r.symbolic.latex if r.symbolic is not None else ())]
        parts.append(r"\textbf{Numeric route} (" + _error_tex(r.numeric_error) + "). " + tex_text(r.numeric.summary)
                     + ".")
        parts += [_display(line) for line in _unique(r.numeric.latex)]
        parts.append(r"\textbf{Tolerance} $" + _num(c.tolerance) + "$: " + tex_text(c.reason) + ".")
    parts.append(_measurement_table(r))
    for plot in (p for e in (r.symbolic, r.numeric) if e is not None for p in e.plots):
        if plot.name in figures:
            lines = [line.strip().rstrip(".") for line in plot.title.splitlines() if line.strip()]
            caption = ". ".join(line[:1].upper() + line[1:] for line in lines)
            parts.append(r"\claimfigure{" + figures[plot.name] + "}{" + tex_text(caption) + ".}")
    if not r.passed:
        parts.append(r"\textbf{Why it fails.} " + tex_text(r.reason).replace("\n", r"\\ "))
    return parts


# === compiling ====================================================================================

_LATEX_ERROR = re.compile(r"^! (.*)$", re.MULTILINE)
_LATEX_LINE = re.compile(r"^l\.(\d+) (.*)$", re.MULTILINE)
_OVERFULL = re.compile(r"^Overfull \\[hv]box \((\d+(?:\.\d+)?)pt too (?:wide|high)\)(.*)$", re.MULTILINE)


def latex_log_problems(log: str, overfull_pt: float = 10.0) -> list[str]:
    """What a reader would see wrong in the PDF, read from pdflatex's log.

    Missing characters (a glyph the font does not have; needs \\tracinglostchars >= 1, which the
    report sets), undefined references and citations, and overfull boxes wider than `overfull_pt`.

    Args:
        log: the text of report.log.
        overfull_pt: overfull boxes up to this many points are tolerated.

    Returns:
        One line per problem (empty when the PDF is clean).

    >>> latex_log_problems("Overfull \\\\hbox (12.5pt too wide) in paragraph at lines 3--4\\n")
    ['Overfull \\\\hbox (12.5pt too wide) in paragraph at lines 3--4']
    """
    # === check arguments
    if not isinstance(log, str):
        raise fail("log", "the text of a pdflatex log", log)
    problems = [line.strip() for line in log.splitlines() if line.startswith("Missing character")]
    problems += [line.strip() for line in log.splitlines()
                 if re.search(r"(Reference|Citation) `[^']*' on page \d+ undefined|There were undefined references", line)]
    problems += [m.group(0).strip() for m in _OVERFULL.finditer(log) if float(m.group(1)) > overfull_pt]
    return problems


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


#: Where pdflatex comes from, for the message when it is missing.
PDFLATEX_HINT = "install TeX Live's base LaTeX (Debian/Ubuntu: apt-get install texlive-latex-base)"


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
        LatexError: pdflatex failed (the message quotes its first error and the line, and names the
            log; report.tex is written) or is missing while compile=True.
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
        raise fail("compile", f"False when pdflatex is not installed ({PDFLATEX_HINT})", compile, LatexError)
    log_path = out / "report.log"
    for _ in range(3):   # cross-references and longtable's column widths settle by the second or third pass
        proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=out,
                              capture_output=True, text=True, timeout=600)
        log = log_path.read_text(errors="replace") if log_path.exists() else proc.stdout
        if proc.returncode != 0:
            err = _LATEX_ERROR.search(log)
            line = _LATEX_LINE.search(log)
            where = f" at report.tex line {line.group(1)}" if line else ""
            first = err.group(1) if err else f"pdflatex exited with status {proc.returncode}"
            raise LatexError(f"pdflatex could not compile {tex}: {first}{where}; the log is {log_path}")
        if not re.search(r"Rerun to get|Label\(s\) may have changed|Table widths have changed", log):
            break
    return out / "report.pdf"
