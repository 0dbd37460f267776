"""Claim machinery: a claim of the literature, the evidence its routes produce, and the registry.

A `Claim` is a named statement (one sentence and LaTeX) with its source (paper and equation, or
"[derived]" for results derived here) and either

- kind "two-routes": a *symbolic* route (what lindyn's engine derives from the rule definitions,
  compared exactly or at 40 digits with the paper's formula) and an independent *numeric* route
  (full-matrix integration with `lindyn.integrate`, mpmath quadrature where digits matter); or
- kind "outcome": an experiment (the numeric route alone) whose measurements are "at_most" /
  "at_least" against explicit thresholds, reported as "measured X vs threshold Y".

The claims themselves live with their paper in `lindyn.papers.<paper>`; paper formulas appear
there only as oracles. `all_claims()` collects them in the order of `lindyn.papers.PAPERS`. This
module imports neither numpy nor sympy: the helpers the routes share live in `lindyn.papers`.

>>> Measurement("u vs Eq. 12", 3e-11, 1e-8).passed
True
>>> get_claim("block-ngd-rate-L").kind
'two-routes'
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from typing import Callable, Literal

from ._checks import fail
from .integrate import Flow

__all__ = ["Measurement", "Curve", "Plot", "Evidence", "Claim", "ClaimResult", "all_claims", "get_claim",
           "digits", "error_text", "tex_escape", "plain_text", "FLOW_TOL", "MP_TOL", "MP_DPS", "SYMBOLIC_TOL", "CLAIM_FLOW"]

# --- tolerances shared by the routes (each with its reason) --------------------------------------

#: Full-matrix flow against an oracle or a derived solution: DOP853 at rtol 1e-10, atol 1e-12
#: (`CLAIM_FLOW`) reaches ~1e-10 relative on these small nets; two orders of margin for error growth.
FLOW_TOL = 1e-8
#: 30-digit mpmath evaluations: both sides carry >= 28 correct digits, so 25 digits must agree.
MP_TOL = 1e-25
MP_DPS = 30
#: Symbolic comparisons that `sympy.simplify` does not close are evaluated at rational sample
#: points with 40 digits: a true identity leaves only rounding, < 1e-35.
SYMBOLIC_TOL = 1e-30
#: The integrator settings of every numeric route.
CLAIM_FLOW = Flow(rtol=1e-10, atol=1e-12)

Kind = Literal["two-routes", "outcome"]
KINDS = ("two-routes", "outcome")


# --- result data ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measurement:
    """One comparison a claim's route made.

    kind "error": an error between two routes or against an oracle that must be <= bound; only
    these enter the agreement. kind "at_most" / "at_least": a property the statement asserts,
    measured on one route, against a threshold. `bound` None means the claim's tolerance; `ok`
    may force the verdict.

    >>> Measurement("gap", 0.3, 0.1, "at_least").passed
    True
    """

    label: str
    value: float
    bound: float | None = None
    kind: Literal["error", "at_most", "at_least"] = "error"
    ok: bool | None = None

    @property
    def passed(self) -> bool:
        """Whether the value is within (error, at_most) or beyond (at_least) the bound."""
        if self.ok is not None:
            return self.ok
        if self.bound is None or not math.isfinite(self.value):
            return False
        return self.value >= self.bound if self.kind == "at_least" else self.value <= self.bound

    @property
    def relation(self) -> str:
        """'>=' for at_least, else '<='."""
        return ">=" if self.kind == "at_least" else "<="

    def describe(self) -> str:
        """One line: label, value, relation to the bound, verdict."""
        bound = "—" if self.bound is None else f"{self.bound:.3g}"
        return f"{plain_text(self.label)}: {self.value:.3g} (must be {self.relation} {bound}) {'ok' if self.passed else 'FAILED'}"


@dataclass(frozen=True)
class Curve:
    """One plotted series: `style` is a matplotlib format ('-', '--', 'o', ...); `color` pairs series."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    style: str = "-"
    color: str | None = None


@dataclass(frozen=True)
class Plot:
    """A figure panel a route (or a paper's experiment) produced from its own data."""

    name: str
    title: str
    xlabel: str
    ylabel: str
    curves: tuple[Curve, ...]
    xscale: str = "linear"
    yscale: str = "linear"
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None


@dataclass(frozen=True)
class Evidence:
    """What one route found: a short summary, its measurements, derived LaTeX and plots."""

    summary: str
    measurements: tuple[Measurement, ...]
    latex: tuple[str, ...] = ()
    plots: tuple[Plot, ...] = ()


Route = Callable[[bool], Evidence]


@dataclass(frozen=True)
class Claim:
    """A claim of the literature and how it is checked.

    Attributes:
        name: short identifier (`lindyn verify NAME`).
        statement: one sentence.
        latex: the statement's formula (math-mode content).
        source: paper with equation/section, "[derived]" where derived here.
        symbolic: route(thorough) -> Evidence from lindyn's symbolic engine; None for an outcome.
        numeric: route(thorough) -> Evidence from an independent numeric route (or the experiment).
        tolerance: default bound of error measurements.
        reason: why this tolerance.
        kind: "two-routes" (both routes required) or "outcome" (experiment vs stated thresholds).
    """

    name: str
    statement: str
    latex: str
    source: str
    symbolic: Route | None
    numeric: Route
    tolerance: float
    reason: str
    kind: Kind = "two-routes"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise fail("kind", "'two-routes' or 'outcome'", self.kind)
        if not callable(self.numeric):
            raise fail("numeric", "a route numeric(thorough) -> Evidence", self.numeric)
        if self.kind == "two-routes" and not callable(self.symbolic):
            raise fail("symbolic", "a route symbolic(thorough) -> Evidence (kind 'two-routes' needs both)",
                       self.symbolic)
        if self.kind == "outcome" and self.symbolic is not None:
            raise fail("symbolic", "None for kind 'outcome' (an experiment has one route)", self.symbolic)

    def check(self, thorough: bool = False) -> "ClaimResult":
        """Run the routes and judge every measurement.

        A route that raises counts as a failed measurement naming the exception; an outcome whose
        measurements are not "at_most"/"at_least" with explicit bounds fails the same way.

        Args:
            thorough: widen the grids (depths, q, seeds).
        """
        # === check arguments
        if not isinstance(thorough, bool):
            raise fail("thorough", "True or False", thorough)
        start = time.perf_counter()
        evidence = []
        for name, route in (("symbolic", self.symbolic), ("numeric", self.numeric)):
            if route is None:
                evidence.append(None)
                continue
            try:
                ev = route(thorough)
            except Exception as err:  # a broken route is a failed measurement, never a silent pass
                label = f"{name} route raised {type(err).__name__}"
                ev = Evidence(label, (Measurement(f"{label}: {err}", math.inf),))
            measured = tuple(m if m.bound is not None else replace(m, bound=self.tolerance) for m in ev.measurements)
            if self.kind == "outcome":
                measured = tuple(m if m.kind != "error" else replace(m, ok=False, label=m.label + " [an outcome "
                                 "measures against thresholds (at_most/at_least), not errors]") for m in measured)
            evidence.append(replace(ev, measurements=measured))
        return ClaimResult(self, evidence[0], evidence[1], time.perf_counter() - start)


def _worst_error(ev: Evidence | None) -> float | None:
    if ev is None:
        return None
    errors = [m.value for m in ev.measurements if m.kind == "error"]
    return float(max(errors)) if errors else None


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of `Claim.check`: the routes' evidence and the verdict."""

    claim: Claim
    symbolic: Evidence | None
    numeric: Evidence
    seconds: float

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """All measurements of both routes."""
        return (self.symbolic.measurements if self.symbolic is not None else ()) + self.numeric.measurements

    @property
    def passed(self) -> bool:
        """True when every measurement passes (and there is at least one)."""
        return bool(self.measurements) and all(m.passed for m in self.measurements)

    @property
    def agreement(self) -> float:
        """Worst error measurement of either route (0.0 when there is none, as for outcomes)."""
        errors = [x for x in (_worst_error(self.symbolic), _worst_error(self.numeric)) if x is not None]
        return max(errors) if errors else 0.0

    @property
    def symbolic_error(self) -> float | None:
        """Worst error of the symbolic route (None: no symbolic route or no error measured)."""
        return _worst_error(self.symbolic)

    @property
    def numeric_error(self) -> float | None:
        """Worst error of the numeric route (None when it measured no errors)."""
        return _worst_error(self.numeric)

    @property
    def deciding(self) -> Measurement | None:
        """For an outcome: the failed threshold measurement, else the one nearest its threshold."""
        ms = [m for m in self.measurements if m.kind != "error" and m.bound is not None]
        if not ms:
            return None
        failed = [m for m in ms if not m.passed]
        if failed:
            return failed[0]

        def margin(m: Measurement) -> float:
            a, b = abs(m.value), abs(m.bound or 0.0)
            return math.inf if a == 0 or b == 0 else abs(math.log(a / b))
        return min(ms, key=margin)

    def outcome_text(self) -> str:
        """'measured X vs threshold <= Y' for the deciding measurement of an outcome claim."""
        m = self.deciding
        if m is None:
            return "no threshold measured"
        more = sum(1 for x in self.measurements if x.kind != "error") - 1
        return (f"measured {m.value:.3g} vs threshold {m.relation} {m.bound:.3g}"
                + (f" (+{more} more)" if more > 0 else ""))

    @property
    def reason(self) -> str:
        """Why it failed (each failed measurement on a line), or a one-line pass summary."""
        failed = [m for m in self.measurements if not m.passed]
        if not failed:
            what = (self.outcome_text() if self.claim.kind == "outcome"
                    else f"worst error {self.agreement:.2g}")
            return f"{self.claim.name}: all {len(self.measurements)} checks hold ({what})"
        lines = [f"{self.claim.name} fails: {len(failed)} of {len(self.measurements)} checks do not hold"]
        return "\n".join(lines + ["  " + m.describe() for m in failed])

    def _repr_latex_(self) -> str:
        verdict = r"\text{passed}" if self.passed else r"\text{FAILED}"
        if self.claim.kind == "outcome":
            detail = r"\text{outcome: " + tex_escape(self.outcome_text()) + "}"
        else:
            detail = (r"\text{symbolic: " + tex_escape(self.symbolic.summary if self.symbolic else "") + r"}\\ "
                      + r"\text{worst error: " + f"{self.agreement:.2g}" + r"}")
        return (r"$\begin{array}{l}\textbf{" + tex_escape(self.claim.name) + r"}\quad " + verdict + r"\\ "
                + self.claim.latex + r"\\ \text{" + tex_escape(self.claim.source) + r"}\\ " + detail
                + r"\end{array}$")


def digits(error: float) -> float:
    """Agreeing decimal digits −log10(error): inf for an exact (zero) error.

    >>> digits(1e-12)
    12.0
    """
    # === check arguments
    if not isinstance(error, (int, float)) or math.isnan(error):
        raise fail("error", "a number >= 0", error)
    return math.inf if error <= 0 else -math.log10(error)


def error_text(error: float | None) -> str:
    """A route's worst error for tables: 'exact', '3.2e-11 (10.5 digits)', 'failed' (inf) or '—' (none measured).

    >>> error_text(1e-12), error_text(0.0), error_text(None)
    ('1.0e-12 (12.0 digits)', 'exact', '—')
    """
    if error is None:
        return "—"
    if not math.isfinite(error):
        return "failed"
    return "exact" if error == 0 else f"{error:.1e} ({digits(error):.1f} digits)"


def tex_escape(text: str) -> str:
    """Escape LaTeX's special characters of a plain string (for \\text{} or running text).

    >>> tex_escape("50% of a_1")
    '50\\\\% of a\\\\_1'
    """
    # One pass, so that the braces of an inserted \textbackslash{} are not escaped again; < and >
    # are math symbols (pdflatex's default OT1 text font would print them as ¡ and ¿).
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}", "<": "$<$", ">": "$>$"}
    return "".join(table.get(ch, ch) for ch in text)


_TEX_UNICODE = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ",
    "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ",
    "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "ell": "ℓ",
    "infty": "∞", "cdot": "·", "times": "×", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "approx": "≈",
    "to": "→", "rightarrow": "→", "Rightarrow": "⇒", "propto": "∝", "pm": "±", "ne": "≠", "neq": "≠", "nabla": "∇",
    "partial": "∂", "otimes": "⊗", "top": "ᵀ", "langle": "⟨", "rangle": "⟩", "lVert": "‖", "rVert": "‖",
    "Vert": "‖", "lvert": "|", "rvert": "|", "vert": "|", "dots": "…", "ldots": "…", "cdots": "⋯", "sum": "Σ",
    "prod": "∏", "in": "∈", "sim": "~", "quad": "  ", "qquad": "   ", "log": "log", "ln": "ln", "exp": "exp",
    "sin": "sin", "cos": "cos", "tanh": "tanh", "det": "det", "max": "max", "min": "min", "lim": "lim",
    "atan": "atan", "surd": "√", "square": "□", "circ": "∘",
}
_SUP_CHARS = dict(zip("0123456789+-()ijnT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁱʲⁿᵀ"))
_SUB_CHARS = dict(zip("0123456789ijkln", "₀₁₂₃₄₅₆₇₈₉ᵢⱼₖₗₙ"))
_ACCENT_MARKS = {"dot": "\u0307", "hat": "\u0302", "tilde": "\u0303", "bar": "\u0304", "ddot": "\u0308"}


def _tex_group(text: str, i: int) -> tuple[str, int]:
    """The argument at text[i] ({...} or one character, spaces skipped) and the index after it."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] == "{":
        depth = 0
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                return text[i + 1:j], j + 1
        return text[i + 1:], len(text)
    if i < len(text) and text[i] == "\\":
        m = re.match(r"\\[A-Za-z]+", text[i:])
        if m:
            return m.group(0), i + m.end()
    return text[i:i + 1], i + 1


def _wrapped(text: str) -> str:
    """A fraction's numerator or denominator: a plain product without spaces, anything else in parentheses."""
    compact = text.replace(" ", "")
    return compact if re.fullmatch(r"[\w.ᵀ⁺⁻′'·|‖]+", compact) else f"({text})"


def _tex_to_unicode(tex: str) -> str:
    """LaTeX math (sympy's printer, the report's formulas) as readable Unicode text."""
    out, i = [], 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            name = m.group(1)
            i += m.end()
            if name in ("frac", "tfrac", "dfrac"):
                num, i = _tex_group(tex, i)
                den, i = _tex_group(tex, i)
                out.append(_wrapped(_tex_to_unicode(num)) + "/" + _wrapped(_tex_to_unicode(den)))
            elif name == "sqrt":
                arg, i = _tex_group(tex, i)
                out.append("√" + _wrapped(_tex_to_unicode(arg)))
            elif name in _ACCENT_MARKS:
                arg, i = _tex_group(tex, i)
                out.append(_tex_to_unicode(arg) + _ACCENT_MARKS[name])
            elif name in ("mathrm", "operatorname", "text", "mathbf", "mathit", "textrm"):
                arg, i = _tex_group(tex, i)
                out.append(_tex_to_unicode(arg) if name in ("mathrm", "operatorname", "mathbf", "mathit") else arg)
            elif name in _TEX_UNICODE:
                out.append(_TEX_UNICODE[name])
            elif name in (",", ";", " ", ":"):
                out.append(" ")
            elif name in ("{", "}", "%", "&", "#", "$", "_"):
                out.append(name)
            # \left, \right, \Bigl, \displaystyle, ...: layout only
        elif ch in "^_":
            arg, i = _tex_group(tex, i + 1)
            text = _tex_to_unicode(arg)
            table = _SUP_CHARS if ch == "^" else _SUB_CHARS
            if text and all(c in table for c in text) and (ch == "_" or len(text) <= 3):
                out.append("".join(table[c] for c in text))
            else:
                out.append(ch + _wrapped(text) if ch == "^" else "_" + (text if re.fullmatch(r"\w+", text) else "{" + text + "}"))
        elif ch in "{}":
            i += 1
        else:
            out.append(ch)
            i += 1
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def plain_text(text: str) -> str:
    r"""A statement, summary or label for the terminal: each `$...$` (LaTeX math, as sympy prints it)
    rewritten as Unicode; the rest unchanged.

    >>> plain_text(r"found $\tau \frac{d u}{d t} = 2 u \left(s - u\right)$")
    'found τ du/dt = 2 u (s - u)'
    """
    # === check arguments
    if not isinstance(text, str):
        raise fail("text", "a string", text)
    return re.sub(r"\$([^$]+)\$", lambda m: _tex_to_unicode(m.group(1)), text)


# --- the routes' shared helpers, defined in lindyn.papers (numpy and sympy stay out of this module) ---

_ROUTE_HELPERS = ("curve", "sample_points", "expr_difference", "rel_max")


def __getattr__(name: str) -> object:
    """`from lindyn.claims import curve` (and sample_points, expr_difference, rel_max) reads them from lindyn.papers."""
    if name in _ROUTE_HELPERS:
        from . import papers
        return getattr(papers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the registry --------------------------------------------------------------------------------

def all_claims() -> tuple[Claim, ...]:
    """Every registered claim, paper by paper in the order of `lindyn.papers.PAPERS`.

    >>> "saxe-sigmoid" in [c.name for c in all_claims()]
    True
    """
    from .papers import collect_claims   # lazily: the paper modules import this module
    return collect_claims()


def get_claim(name: str) -> Claim:
    """The registered claim called `name`.

    Raises:
        LindynError: no such claim (the message lists the names).

    >>> get_claim("saxe-sigmoid").source
    'Saxe et al. 2014, Eq. 10-12'
    """
    # === check arguments
    claims = all_claims()
    for c in claims:
        if c.name == name:
            return c
    raise fail("name", "one of " + ", ".join(c.name for c in claims), name)
