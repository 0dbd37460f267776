"""`lindyn verify [CLAIM ...] [--json] [--report DIR] [--thorough] [--list]` (also `python -m lindyn`).

Runs every claim (or the named ones) by its two routes, or as an outcome (an experiment against a
stated threshold), shows progress on stderr and prints a table on stdout (claim, source, what it
found, the symbolic and the numeric route's worst error with digits, or "outcome: measured X vs
threshold Y", pass/fail), or with `--json` one object {"passed": bool, "claims": [{"name",
"source", "statement", "kind", "passed", "agreement"}]} with kind "two-routes" or "outcome".

`--report DIR` also writes the LaTeX report and its figures into DIR and compiles it to PDF when
`pdflatex` is on PATH; without it one line on stderr says that only report.tex was written, why,
and what to install. When pdflatex fails, the table is still printed and report.tex kept, one line
names pdflatex's first error and the log, and the exit status is 1. The exit status is 1 when
any claim fails, 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


#: The default --jobs is the number of CPU cores, at most this (each worker imports lindyn and sympy, ~0.3 GB).
DEFAULT_MAX_JOBS = 8


def register(subparsers: Any) -> None:
    """Add the `verify` subcommand."""
    p = subparsers.add_parser(
        "verify", help="check the papers' claims two ways (default command)",
        description="Check each claim of the literature two ways (the engine's symbolic derivation and an "
                    "independent numeric route), or as an outcome: an experiment against a stated threshold.")
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="claim names (default: all; see --list)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--report", metavar="DIR", help="write the LaTeX report (and PDF when pdflatex exists) into DIR")
    p.add_argument("--thorough", action="store_true", help="widen the grids (depths, q, seeds)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    p.add_argument("--jobs", metavar="N", default=None,
                   help="run N claims at once in worker processes (default: the number of CPU cores, at most 8; 1: in "
                        "order, in this process)")
    p.set_defaults(handler=run)


def _progress(index: int, total: int, claim: Any, result: Any) -> None:
    """One line per claim on stderr: "[ 3/11] name ... pass (0.8 s)" (index padded to the width of the total)."""
    head = f"[{index + 1:>{len(str(total))}}/{total}] {claim.name} "
    if result is None:
        print(head + "...", end="", file=sys.stderr, flush=True)
        return
    verdict = "pass" if result.passed else "FAIL"
    print(f" {verdict} ({result.seconds:.1f} s)", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Handler of `lindyn verify`."""
    from ..claims import all_claims
    from ..verify import verify

    if args.list:
        for c in all_claims():
            print(f"{c.name:30} {c.source}")
        return 0
    if args.report:   # fail before the claims run, not after
        from ..report import writable_directory
        writable_directory(args.report, "report")
    progress = None if args.quiet else _progress
    import os
    from ..cli import parse_int
    jobs = min(os.cpu_count() or 1, DEFAULT_MAX_JOBS) if args.jobs is None else parse_int(args.jobs, "--jobs", minimum=1)
    result = verify(args.claims or None, thorough=args.thorough, progress=progress, jobs=jobs)
    notes, latex_failed = [], False
    if args.report:
        from ..report import PDFLATEX_HINT, LatexError, write_report
        try:
            path = write_report(result, args.report)
        except LatexError as err:     # the table still matters: print it, then say where LaTeX failed
            notes.append(f"lindyn verify: report.tex written to {args.report} but not compiled: {err}")
            latex_failed = True
        else:
            if path.suffix == ".tex":
                notes.append(f"lindyn verify: wrote {path} only, not the PDF: pdflatex is not on PATH "
                             f"({PDFLATEX_HINT}, then rerun or run pdflatex on it)")
            else:
                notes.append(f"lindyn verify: report written to {path}")
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.table())
    for line in notes:
        print(line, file=sys.stderr)
    return 0 if result.passed and not latex_failed else 1
