"""`verify`: check the papers' claims two ways and collect the verdicts.

The third verb next to `derive` and `integrate`: it runs each registered `Claim` (symbolic
derivation + an independent numeric route, or an experiment against a stated threshold; see
`lindyn.claims` and `lindyn.papers`) and returns a
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

from ._checks import check_int, fail
from .claims import Claim, ClaimResult, all_claims, error_text, plain_text, tex_escape

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
        """{"passed": bool, "claims": [{"name", "source", "statement", "kind", "passed", "agreement"}]}.

        kind is "two-routes" or "outcome"; agreement is the worst error (relative or absolute, per
        measurement) of either route, 0.0 for an outcome (it measures against thresholds, not errors).
        """
        return {"passed": self.passed,
                "claims": [{"name": r.claim.name, "source": r.claim.source, "statement": r.claim.statement,
                            "kind": r.claim.kind, "passed": r.passed, "agreement": _finite(r.agreement)}
                           for r in self.results]}

    def table(self, width: int = 34) -> str:
        """A plain-text table: claim, source, what it found, both routes' worst errors, pass/fail.

        Two-route claims show the symbolic route's and the numeric route's worst error (exact, or
        the error with its digits); outcome claims show "outcome: measured X vs threshold Y".
        Failed claims are followed by their reasons.
        """
        def cut(text: str, n: int) -> str:
            return text if len(text) <= n else text[: n - 1] + "…"

        rows = [("claim", "source", "found", "symbolic route", "numeric route", "result")]
        for r in self.results:
            verdict = "pass" if r.passed else "FAIL"
            if r.claim.kind == "outcome":
                rows.append((r.claim.name, cut(r.claim.source, 30), cut(plain_text(r.numeric.summary), width), "outcome:",
                             r.outcome_text(), verdict))
            else:
                found = plain_text(r.symbolic.summary) if r.symbolic is not None else ""
                rows.append((r.claim.name, cut(r.claim.source, 30), cut(found, width), error_text(r.symbolic_error),
                             error_text(r.numeric_error), verdict))
        widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        n_pass = sum(r.passed for r in self.results)
        lines.append("")
        lines.append(f"{n_pass} of {len(self.results)} claims passed in {self.seconds:.1f} s"
                     f"{' (thorough)' if self.thorough else ''}. Routes: worst error, digits = −log10(error); "
                     "an outcome is an experiment against a stated threshold.")
        for r in self.results:
            if not r.passed:
                lines.append("")
                lines.append(r.reason)
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        rows = [r"\text{" + r.claim.name.replace("-", r"\text{-}") + r"} & "
                + ("\\checkmark" if r.passed else r"\times") + r" & \text{"
                + (("outcome: " + tex_escape(r.outcome_text())) if r.claim.kind == "outcome"
                   else f"symbolic {error_text(r.symbolic_error)}; numeric {error_text(r.numeric_error)}") + r"}\\"
                for r in self.results]
        return r"$\begin{array}{lcl}\text{claim} & & \text{routes}\\ \hline " + " ".join(rows) + r"\end{array}$"


def _check_by_name(name: str, thorough: bool) -> tuple[Any, Any, float]:
    """Run one registered claim in a worker process; return its evidence (picklable) and seconds."""
    from .claims import get_claim
    result = get_claim(name).check(thorough=thorough)
    return result.symbolic, result.numeric, result.seconds


#: Environment of the worker processes of `verify(jobs=N)`: one BLAS thread each (N workers share N cores).
_WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _check_parallel(chosen: list[Claim], thorough: bool, jobs: int,
                    progress: Progress | None) -> list[ClaimResult]:
    """The claims in `jobs` worker processes (spawned, one BLAS thread each); results in the given order."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed
    saved = {k: os.environ.get(k) for k in _WORKER_ENV}
    os.environ.update(_WORKER_ENV)          # inherited by the spawned workers only at start-up
    try:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    results: list[ClaimResult | None] = [None] * len(chosen)
    with pool:
        futures = {pool.submit(_check_by_name, c.name, thorough): k for k, c in enumerate(chosen)}
        for future in as_completed(futures):
            k = futures[future]
            claim = chosen[k]
            try:
                symbolic, numeric, seconds = future.result()
            except Exception as err:     # a worker that died is a failed claim, never a silent pass
                label = f"worker process raised {type(err).__name__}: {err}"
                from .claims import Evidence, Measurement
                symbolic, numeric, seconds = None, Evidence(label, (Measurement(label, math.inf),)), 0.0
            results[k] = ClaimResult(claim, symbolic, numeric, seconds)
            if progress is not None:
                progress(k, len(chosen), claim, None)
                progress(k, len(chosen), claim, results[k])
    return [r for r in results if r is not None]


def verify(names: Sequence[str] | None = None, thorough: bool = False,
           progress: Progress | None = None, jobs: int = 1) -> Verification:
    """Check claims of the literature: two routes each, or an experiment against a stated threshold.

    A two-route claim's symbolic route compares what lindyn derives from the rule definitions with
    the paper's formula (exactly with sympy, or at 40 digits); its numeric route integrates the full
    matrix ODE τ dW_i/dt = v_i(W) (DOP853, rtol 1e-10) or evaluates with mpmath where digits matter.
    An outcome claim runs an experiment and compares each measurement with its threshold. A claim
    passes when every measurement holds.

    Args:
        names: claim names to run (default: all, see `lindyn.claims.all_claims`).
        thorough: widen the grids (depths, powers q, seeds); the default run takes well under a minute.
        progress: optional callback progress(index, total, claim, result), called before each claim
            (result None) and after it (with jobs > 1: both when it completes, in completion order).
        jobs: claims run in this many worker processes at once (>= 1; 1 runs them here, in order).
            Each worker uses one BLAS thread; results come back in the order of `names`.

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

    jobs = check_int(jobs, "jobs", minimum=1, maximum=256)
    start = time.perf_counter()
    if jobs > 1 and len(chosen) > 1:
        results = _check_parallel(chosen, thorough, min(jobs, len(chosen)), progress)
        return Verification(tuple(results), thorough, time.perf_counter() - start)
    results = []
    for k, claim in enumerate(chosen):
        if progress is not None:
            progress(k, len(chosen), claim, None)
        result = claim.check(thorough=thorough)
        results.append(result)
        if progress is not None:
            progress(k, len(chosen), claim, result)
    return Verification(tuple(results), thorough, time.perf_counter() - start)
