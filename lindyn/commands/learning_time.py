"""`lindyn learning-time`: the time t(u0 → U) from the derived t(u) (`--json` prints {"t": ...})."""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ..cli import add_problem_arguments, check_real, fail, print_table
from .trajectory import mode_kw, derived_problem


def register(subparsers: Any) -> None:
    """Add the `learning-time` subcommand."""
    p = subparsers.add_parser("learning-time", help="time for each mode to go from u0 to --until U")
    add_problem_arguments(p, times=False)
    p.add_argument("--until", required=True,
                   help="target strength U, between u0 (included) and the fixed point s/lam (excluded), for every mode")
    p.add_argument("--json", action="store_true", help='print {"t": ...} (a list when several modes)')
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Derive and print the learning time of each mode."""
    # === check arguments
    until = check_real(args.until, "until", positive=True)
    pa, traj, kw = derived_problem(args)
    for m in range(len(pa["s"])):
        mode = mode_kw(kw, m)
        u0 = mode["u0"] if "u0" in mode else math.prod(mode["gains"])
        star = mode["s"] / mode.get("lam", 1.0)
        if not (min(u0, star) <= until <= max(u0, star)) or (until == star != u0):
            raise fail("until", f"between u0 = {u0:g} and the fixed point s/lam = {star:g} (excluded)"
                                + (f" for mode {m + 1}" if len(pa["s"]) > 1 else ""), args.until)
    times = [traj.learning_time(until, **mode_kw(kw, m)) for m in range(len(pa["s"]))]
    value: Any = times[0] if len(times) == 1 else times
    if args.json:
        print(json.dumps({"t": value}))
    elif len(times) == 1:
        print(value)
    else:
        print_table(["mode", "s", "until", "t"], [[str(m + 1), pa["s"][m], until, times[m]] for m in range(len(times))])
    return 0
