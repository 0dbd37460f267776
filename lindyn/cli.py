"""Command line: `lindyn {integrate,trajectory,learning-time,discrete,matrix,sweep,verify}`; `python -m lindyn` verifies.

Each subcommand lives in `lindyn/commands/<name>.py` with `register(subparsers)`; this module
holds what they share: the problem arguments (rule, q, depth, s, u0 | gains, lam, tau, t) and
the error contract (bad input, a `LindynError`, prints one line on stderr and exits with status 2;
a run-time failure, a `LindynFailure`, prints one line and exits with status 1).
"""
from __future__ import annotations

import argparse
import os
import importlib
import math
import re
import sys
from typing import Any, NoReturn, Sequence

from ._checks import (MAX_DEPTH, MAX_WIDTH, LindynError, LindynFailure, check_exponent, check_int, check_real, check_times,
                      fail)
from ._progress import reporting
from ._version import __version__
from .rules import RULE_NAMES

#: Most modes one command takes (the derived evaluation is vectorised over modes; `integrate` has its
#: own bound, the hidden width <= 2048).
MAX_MODES = 10_000

COMMANDS = ("integrate", "trajectory", "learning_time", "discrete", "matrix", "sweep", "verify")

#: The argument checks the subcommands share (one error format, `lindyn._checks`).
__all__ = ["main", "build_parser", "rule_power", "print_table", "decimal_items", "RULES_WITH_POWER", "MAX_MODES", "MAX_WIDTH", "add_problem_arguments", "problem_arguments", "parse_floats", "parse_int", "fail", "check_int",
           "check_real", "check_times", "check_exponent", "COMMANDS"]


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line on stderr (exit status 2), like ours."""

    def error(self, message: str) -> NoReturn:
        """Print "<prog>: error: <message>" (no usage block) and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


#: A value that starts with "-" but is a number list ("-0.1,0.2", "-.5"): argparse would take it
#: for an option, so `main` joins it to its option as "--gains=-0.1,0.2".
_NEGATIVE_VALUE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


def _join_negative_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    k = 0
    while k < len(argv):
        a = argv[k]
        if a.startswith("--") and "=" not in a and k + 1 < len(argv) and _NEGATIVE_VALUE.match(argv[k + 1]):
            out.append(f"{a}={argv[k + 1]}")
            k += 2
            continue
        out.append(a)
        k += 1
    return out


def parse_floats(text: str, name: str) -> list[float]:
    """Parse '1,2.5,3e-2' into floats; a bad item raises `LindynError` naming the option."""
    items = text.split(",")
    if any(x.strip() == "" for x in items) and text.strip() != "":
        raise fail(name, "a comma-separated list of numbers without empty items, e.g. 1,2.5", text)
    try:
        values = [float(x) for x in items if x.strip() != ""]
    except ValueError:
        raise fail(name, "a comma-separated list of numbers, e.g. 1,2.5", text) from None
    if not values:
        raise fail(name, "a non-empty comma-separated list of numbers", text)
    return values


def add_problem_arguments(parser: argparse.ArgumentParser, *, times: bool = True, derived: bool = True) -> None:
    """Add the options that define an aligned mode problem (shared by every subcommand).

    `derived` (trajectory, learning-time): the closed forms need s, u0 and gains > 0; without it
    (integrate) s >= 0 and any finite u0 or gains are allowed (a negative value flips the first layer's
    sign, 0 starts at the saddle and stays there).
    """
    if derived:
        s_help, u0_help = "> 0", "> 0"
        gains_help = "> 0"
    else:
        s_help, u0_help = ">= 0", "any finite value (negative: sign on the first layer; 0: stays at the saddle)"
        gains_help = "finite"
    parser.add_argument("--rule", required=True, choices=RULE_NAMES,
                        help="learning rule: gd, ngd (full Fisher, power q), blockdiag (block NGD, power q), "
                             "kfac (= blockdiag q=1), bernacchia (per-layer NG: blockdiag q=1 scaled by 1/L)")
    parser.add_argument("--q", default=None,
                        help="exact curvature power in [0, 1] of ngd and blockdiag: a fraction such as 1/2, or a "
                             "decimal such as 0.5, which is read exactly (0.5 = 1/2, 0.1 = 1/10) (default 1); an error "
                             "with gd, kfac and bernacchia, which have no power to choose")
    parser.add_argument("--depth", required=True, help=f"number of weight matrices, 1 <= L <= {MAX_DEPTH}")
    parser.add_argument("--s", required=True, help=f"singular values of Σ_yx, one per mode: S1,S2,... (each {s_help})")
    init = parser.add_mutually_exclusive_group(required=True)
    init.add_argument("--u0", help="initial mode strength (balanced: each layer gain U0^(1/L)); one or one per mode; "
                                   f"each {u0_help}")
    init.add_argument("--gains", help=f"per-layer initial gains A1,...,AL (unbalanced init), shared by all modes; "
                                      f"each {gains_help}")
    parser.add_argument("--lam", default="1",
                        help="input variance along each mode, > 0: one or one per mode (default 1); mode converges to S/LAM")
    parser.add_argument("--tau", default="1", help="time constant τ = 1/η > 0, one value (default 1)")
    if times:
        parser.add_argument("--t", required=True, help="times T1,T2,... (finite, >= 0, increasing)")


#: The rules that take a curvature power --q.
RULES_WITH_POWER = ("ngd", "blockdiag")


def parse_int(text: str, name: str, minimum: int, maximum: int | None = None) -> int:
    """Parse an integer option within [minimum, maximum]; a bad value raises `LindynError` naming the option."""
    try:
        value = int(text)
    except ValueError:
        raise fail(name, f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else ""), text) from None
    return check_int(value, name, minimum=minimum, maximum=maximum)


def rule_power(rule: str, q: str | None) -> Any:
    """The exact power of --q (default 1); refused for rules without a power to choose."""
    if q is None:
        return check_exponent(1, "q")
    if rule not in RULES_WITH_POWER:
        raise fail("q", f"not given with --rule {rule} (only {' and '.join(RULES_WITH_POWER)} take a power)", q)
    return check_exponent(q, "q")


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]], width: int = 18) -> None:
    """One table style for every subcommand: right-aligned columns, modes numbered from 1 (u_1, u_2, …),
    floats with 12 significant digits, strings (e.g. mpmath digits) as given."""
    cells = [[x if isinstance(x, str) else f"{x:.12g}" for x in row] for row in rows]
    width = max([width] + [len(x) for row in cells for x in row] + [len(h) for h in header])
    print("  ".join(f"{h:>{width}}" for h in header))
    for row in cells:
        print("  ".join(f"{x:>{width}}" for x in row))


def decimal_items(text: str | None) -> list[str] | None:
    """The comma-separated items as written (exact decimals for the mpmath route); None stays None."""
    return None if text is None else [x.strip() for x in text.split(",")]


def problem_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """Parse the shared options into checked Python values.

    Returns a dict with keys rule_name, q (exact), depth (int), s, u0 or gains (lists), lam, tau, t.
    """
    try:
        depth = int(args.depth)
    except ValueError:
        raise fail("depth", f"an integer in [1, {MAX_DEPTH}]", args.depth) from None
    check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH)
    tau = parse_floats(args.tau, "tau")
    if len(tau) != 1:
        raise fail("tau", "one number > 0", args.tau)
    out: dict[str, Any] = {
        "rule_name": args.rule,
        "q": rule_power(args.rule, args.q),
        "depth": depth,
        "s": parse_floats(args.s, "s"),
        "u0": parse_floats(args.u0, "u0") if args.u0 is not None else None,
        "gains": parse_floats(args.gains, "gains") if args.gains is not None else None,
        "lam": parse_floats(args.lam, "lam"),
        "tau": tau[0],
    }
    if len(out["s"]) > MAX_MODES:
        raise fail("s", f"at most {MAX_MODES} singular values (modes)", f"{len(out['s'])} values")
    for key in ("s", "u0", "gains", "lam"):
        if out[key] is not None and not all(math.isfinite(x) for x in out[key]):
            raise fail(key, "finite numbers (no NaN or inf)", getattr(args, key))
    if not math.isfinite(out["tau"]) or out["tau"] <= 0:
        raise fail("tau", "a finite number > 0", args.tau)
    if out["gains"] is not None and len(out["gains"]) != depth:
        raise fail("gains", f"{depth} comma-separated gains (one per layer)", args.gains)
    if getattr(args, "t", None) is not None:
        out["t"] = check_times(parse_floats(args.t, "t"), "t")
    return out


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand."""
    parser = OneLineParser(
        prog="lindyn",
        description="Exact learning dynamics of deep linear networks: derive, integrate, verify.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  lindyn trajectory --rule gd --depth 3 --s 1 --u0 1e-3 --t 5,10,20 --json      closed form u(t)
  lindyn integrate  --rule ngd --depth 3 --s 3,1 --u0 1e-3 --t 1,5 --width 4    full matrices
  lindyn learning-time --rule blockdiag --q 1/2 --depth 3 --s 1 --u0 1e-3 --until 0.5
  lindyn discrete   --rule gd --depth 3 --s 1 --u0 1e-2 --lr 0.5 --steps 40        finite steps, derived vs matrices
  lindyn matrix     --rule gd --depth 2 --lam 0.5 --init random --t 0,1,5        two-layer W(t), any alignment
  lindyn sweep examples/saxe2014_depth.toml --out saxe.sweep   a grid of commands on Dask (resumable)
  lindyn verify --report out/         every claim, checked two ways; LaTeX/PDF report
  python -m lindyn                    the same as `lindyn verify`

Rules: gd; ngd (full Fisher, Moore-Penrose power q); blockdiag (block-diagonal NGD, power q);
kfac (= blockdiag, q = 1); bernacchia (per-layer natural gradient: blockdiag q = 1 scaled by 1/L).
Run `lindyn COMMAND --help` for the options of each command.""",
    )
    parser.add_argument("--version", action="version", version=f"lindyn {__version__}")
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


def _as_option(message: str, parser: argparse.ArgumentParser, command: str) -> str:
    """Name the command-line flag in a library message: "Argument `s` ..., got s=..." -> "Option `--s` ..., got --s ..."."""
    match = re.match(r"Argument `([A-Za-z_][\w-]*)`", message)
    if not match:
        return message
    name = match.group(1)
    flag = "--" + name.replace("_", "-")
    sub = parser._subparsers._group_actions[0].choices.get(command) if parser._subparsers else None  # type: ignore[union-attr]
    if sub is None or flag not in {s for a in sub._actions for s in a.option_strings}:
        return message
    message = f"Option `{flag}`" + message[match.end():]
    return message.replace(f", got {name}=", f", got {flag} ")


def main(argv: Sequence[str] | None = None, *, default_command: str | None = None) -> int:
    """Entry point; returns the exit status.

    0 on success; 1 when a computation fails at run time (`LindynFailure`: an integrator that
    cannot reach the time, a singular crossing; or a claim that fails); 2 on bad input, with one
    line on stderr. `lindyn` alone prints the help; `python -m lindyn` runs `verify`
    (`default_command`), the main job.
    """
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()  # type: ignore[union-attr]
    if default_command in known and (not argv or argv[0] not in known | {"-h", "--help", "--version"}):
        argv.insert(0, default_command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:   # --help/--version (0) or a usage error (2, one line already printed)
        return done.code if isinstance(done.code, int) else 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        with reporting(True):   # progress lines on stderr for long computations
            return int(args.handler(args) or 0)
    except LindynError as err:
        print(f"lindyn {args.command}: error: {_as_option(str(err), parser, args.command)}", file=sys.stderr)
        return 2
    except LindynFailure as err:
        print(f"lindyn {args.command}: failed: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
