"""`verify`: check the papers' claims two ways and collect the verdicts.

The third verb next to `derive` and `integrate`: it runs each registered `Claim` (symbolic
derivation + full-matrix integration, mpmath where digits matter; see `lindyn.claims`) and returns a
frozen `Verification` that prints as a table, serialises to the JSON of `lindyn verify --json` and
renders as LaTeX (`lindyn.report.write_report`).

>>> v = verify(["parameter-speed-small-init"])
>>> v.passed, [r.claim.name for r in v.results]
(True, ['parameter-speed-small-init'])
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ._checks import fail
from .claims import Claim, ClaimResult, all_claims, digits

__all__ = ["Verification", "verify"]

#: progress(index, total, claim, result): called before a claim runs (result None) and after it.
Progress = Callable[[int, int, Claim, "ClaimResult | None"], None]


def _finite(x: float) -> float:
    """JSON has no inf: an infinite error (a route that raised) is reported as the largest float."""
    return x if math.isfinite(x) else sys.float_info.max


@dataclass(frozen=True)
class Verification:
    """The verdicts of one `verify` run.

    Attributes:
        results: one `ClaimResult` per claim, in registry order.
        thorough: whether the widened grids were used.
        seconds: total wall time.
    """

    results: tuple[ClaimResult, ...]
    thorough: bool
    seconds: float

    @property
    def passed(self) -> bool:
        """True when every claim passed."""
        return all(r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """{"passed": bool, "claims": [{"name", "source", "statement", "passed", "agreement"}]}.

        agreement is the worst error (relative or absolute, per measurement) the check saw.
        """
        return {"passed": self.passed,
                "claims": [{"name": r.claim.name, "source": r.claim.source, "statement": r.claim.statement,
                            "passed": r.passed, "agreement": _finite(r.agreement)} for r in self.results]}

    def table(self, width: int = 46) -> str:
        """A plain-text table: claim, source, symbolic result, numeric agreement (digits), pass/fail.

        Failed claims are followed by their reasons.
        """
        def cut(text: str, n: int) -> str:
            return text if len(text) <= n else text[: n - 1] + "…"

        rows = [("claim", "source", "symbolic result", "numeric error", "digits", "result")]
        for r in self.results:
            sym = r.symbolic.summary if r.symbolic is not None else "(one check) " + r.numeric.summary
            d = digits(r.numeric_agreement)
            rows.append((r.claim.name, cut(r.claim.source, 34), cut(sym, width), f"{_finite(r.numeric_agreement):.1e}",
                         "exact" if d == math.inf else ("—" if not math.isfinite(d) else f"{d:.1f}"),
                         "pass" if r.passed else "FAIL"))
        widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        n_pass = sum(r.passed for r in self.results)
        lines.append("")
        lines.append(f"{n_pass} of {len(self.results)} claims passed in {self.seconds:.1f} s"
                     f"{' (thorough)' if self.thorough else ''}. digits = −log10(numeric error); "
                     "the JSON agreement is the worst error of both routes.")
        for r in self.results:
            if not r.passed:
                lines.append("")
                lines.append(r.reason)
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        rows = [r"\text{" + r.claim.name.replace("-", r"\text{-}") + r"} & "
                + ("\\checkmark" if r.passed else r"\times") + f" & {_finite(r.agreement):.1e}" + r"\\"
                for r in self.results]
        return r"$\begin{array}{lcl}\text{claim} & & \text{worst error}\\ \hline " + " ".join(rows) + r"\end{array}$"


def verify(names: Sequence[str] | None = None, thorough: bool = False,
           progress: Progress | None = None) -> Verification:
    """Check claims of the literature by two routes: derivation and full-matrix integration.

    Each claim's symbolic route compares what lindyn derives from the rule definitions with the
    paper's formula (exactly with sympy, or at 40 digits); its numeric route integrates the full
    matrix ODE τ dW_i/dt = v_i(W) (DOP853, rtol 1e-10) and, where digits matter, evaluates with mpmath
    at 30 digits. A claim passes when every measurement is within its tolerance.

    Args:
        names: claim names to run (default: all, see `lindyn.claims.all_claims`).
        thorough: widen the grids (depths, powers q, seeds); the default run takes well under a minute.
        progress: optional callback progress(index, total, claim, result), called before each claim
            (result None) and after it.

    Returns:
        A `Verification` (`.passed`, `.results`, `.table()`, `.to_dict()`).

    Raises:
        LindynError: an unknown claim name, or a non-callable progress.

    >>> verify(["ngd-singular-crossing"]).results[0].passed
    True
    """
    # === check arguments
    registry = all_claims()
    known = {c.name: c for c in registry}
    if names is None or len(names) == 0:
        chosen = list(registry)
    else:
        if isinstance(names, str):
            raise fail("names", "a list of claim names (not one string)", names)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise fail("names", "claim names among " + ", ".join(known), unknown[0])
        chosen = [known[n] for n in dict.fromkeys(names)]
    if not isinstance(thorough, bool):
        raise fail("thorough", "True or False", thorough)
    if progress is not None and not callable(progress):
        raise fail("progress", "a callable progress(index, total, claim, result) or None", progress)

    start = time.perf_counter()
    results = []
    for k, claim in enumerate(chosen):
        if progress is not None:
            progress(k, len(chosen), claim, None)
        result = claim.check(thorough=thorough)
        results.append(result)
        if progress is not None:
            progress(k, len(chosen), claim, result)
    return Verification(tuple(results), thorough, time.perf_counter() - start)
