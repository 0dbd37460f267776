"""Command line: `lindyn {integrate,trajectory,learning-time,verify}`; `python -m lindyn` verifies.

Each subcommand lives in `lindyn/commands/<name>.py` with `register(subparsers)`; this module
holds what they share: the problem arguments (rule, q, depth, s, u0 | gains, lam, tau, t) and
the error contract (a `LindynError` prints one line on stderr and exits with status 2).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Sequence

from ._checks import LindynError, check_exponent, fail
from .rules import RULE_NAMES

COMMANDS = ("integrate", "trajectory", "learning_time", "verify")


def parse_floats(text: str, name: str) -> list[float]:
    """Parse '1,2.5,3e-2' into floats; a bad item raises `LindynError` naming the option."""
    try:
        values = [float(x) for x in text.split(",") if x.strip() != ""]
    except ValueError:
        raise fail(name, "a comma-separated list of numbers, e.g. 1,2.5", text) from None
    if not values:
        raise fail(name, "a non-empty comma-separated list of numbers", text)
    return values


def add_problem_arguments(parser: argparse.ArgumentParser, *, times: bool = True) -> None:
    """Add the options that define an aligned mode problem (shared by every subcommand)."""
    parser.add_argument("--rule", required=True, choices=RULE_NAMES,
                        help="learning rule: gd, ngd (full Fisher, power q), blockdiag (block NGD, power q), "
                             "kfac (= blockdiag q=1), bernacchia (per-layer NG: blockdiag q=1 scaled by 1/L)")
    parser.add_argument("--q", default="1", help="exact curvature power in [0, 1], e.g. 1/2 (default 1)")
    parser.add_argument("--depth", required=True, help="number of weight matrices L >= 1")
    parser.add_argument("--s", required=True, help="singular values of Σ_yx, one per mode: S1,S2,...")
    init = parser.add_mutually_exclusive_group(required=True)
    init.add_argument("--u0", help="initial mode strength (balanced: each layer gain U0^(1/L)); one or one per mode")
    init.add_argument("--gains", help="per-layer initial gains A1,...,AL (unbalanced init), shared by all modes")
    parser.add_argument("--lam", default="1", help="input variance along each mode (default 1); mode converges to S/LAM")
    parser.add_argument("--tau", default="1", help="time constant τ = 1/η (default 1)")
    if times:
        parser.add_argument("--t", required=True, help="times T1,T2,... (>= 0, increasing)")


def problem_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """Parse the shared options into checked Python values.

    Returns a dict with keys rule_name, q (exact), depth (int), s, u0 or gains (lists), lam, tau, t.
    """
    try:
        depth = int(args.depth)
    except ValueError:
        raise fail("depth", "an integer >= 1", args.depth) from None
    if depth < 1:
        raise fail("depth", "an integer >= 1", depth)
    out: dict[str, Any] = {
        "rule_name": args.rule,
        "q": check_exponent(args.q, "q"),
        "depth": depth,
        "s": parse_floats(args.s, "s"),
        "u0": parse_floats(args.u0, "u0") if args.u0 is not None else None,
        "gains": parse_floats(args.gains, "gains") if args.gains is not None else None,
        "lam": parse_floats(args.lam, "lam"),
        "tau": parse_floats(args.tau, "tau")[0],
    }
    if out["gains"] is not None and len(out["gains"]) != depth:
        raise fail("gains", f"{depth} comma-separated gains (one per layer)", args.gains)
    if getattr(args, "t", None) is not None:
        from ._checks import check_times
        out["t"] = check_times(parse_floats(args.t, "t"), "t")
    return out


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="lindyn",
        description="Exact learning dynamics of deep linear networks: derive, integrate, verify.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"lindyn.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"lindyn.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 on bad input, with one line on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()  # type: ignore[union-attr]
    if (not argv or argv[0] not in known | {"-h", "--help"}) and "verify" in known:
        argv.insert(0, "verify")  # `python -m lindyn [--json ...]` runs the verification report
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except LindynError as err:
        print(f"lindyn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
