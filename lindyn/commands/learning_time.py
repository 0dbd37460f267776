"""`lindyn learning-time`: the time t(u0 → U) from the derived t(u) (`--json` prints {"t": ...})."""
from __future__ import annotations

import argparse
import json
from typing import Any

from .._checks import check_real
from ..cli import add_problem_arguments
from .trajectory import _mode_kw, derived_problem


def register(subparsers: Any) -> None:
    """Add the `learning-time` subcommand."""
    p = subparsers.add_parser("learning-time", help="time for each mode to go from u0 to --until U")
    add_problem_arguments(p, times=False)
    p.add_argument("--until", required=True, help="target strength U (between u0 and s/lam)")
    p.add_argument("--json", action="store_true", help='print {"t": ...} (a list when several modes)')
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Derive and print the learning time of each mode."""
    # === check arguments
    until = check_real(args.until, "until", positive=True)
    pa, traj, kw = derived_problem(args)
    times = [traj.learning_time(until, **_mode_kw(kw, m)) for m in range(len(pa["s"]))]
    value: Any = times[0] if len(times) == 1 else times
    if args.json:
        print(json.dumps({"t": value}))
    else:
        print(value)
    return 0
