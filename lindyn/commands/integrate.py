"""`lindyn integrate`: integrate the full matrices from an aligned init and print the mode strengths.

    lindyn integrate --rule gd --depth 2 --s 2 --u0 0.01 --t 0.5,1,2 --json

prints one JSON object with keys rule, q, depth, method, t, u (list over modes of lists over t:
mode strengths diag(Uᵀ W V) read from the matrices) and loss (list over t); without --json a
table. Bad input prints one line on stderr and exits with status 2; a run-time failure (an
integrator that cannot reach the time, a singular crossing) prints one line and exits with 1.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
from typing import Any

from ..cli import MAX_WIDTH, add_problem_arguments, print_table, check_int, check_real, fail, problem_arguments

METHODS = ("flow", "discrete", "mpmath")


def register(subparsers: Any) -> None:
    """Add the `integrate` subcommand to the top-level parser."""
    parser = subparsers.add_parser(
        "integrate", help="integrate the full matrix dynamics from an aligned init",
        description="Integrate the full matrix dynamics of a deep linear network from an aligned "
                    "initialisation and print the mode strengths u = diag(Uᵀ W V) and the loss.")
    add_problem_arguments(parser, derived=False)
    parser.add_argument("--width", help="hidden width N, number of modes <= N <= 2048 (default: twice the number of "
                                        "modes, a genuinely matrix network); random orthogonal hidden bases")
    parser.add_argument("--init", default="aligned", choices=("aligned", "random"),
                        help="aligned: each mode starts at --u0 (or --gains) on the task's singular vectors (default); "
                             "random: i.i.d. Gaussian weights of standard deviation --scale (seed --seed), with u read "
                             "in the task's bases")
    parser.add_argument("--scale", help="standard deviation of the entries of --init random, > 0 (default: "
                                        "u0^(1/L)/sqrt(N), so that each layer has singular values of order u0^(1/L))")
    parser.add_argument("--seed", default="0", help="seed of the random bases and of --init random, an integer >= 0 "
                                                    "(default 0)")
    parser.add_argument("--method", default="flow", choices=METHODS,
                        help="flow (solve_ivp DOP853, rtol 1e-10), discrete (W += lr·v/τ, t_k = k·lr), "
                             "mpmath (high precision, small nets)")
    parser.add_argument("--lr", help="learning rate (time step) > 0 of --method discrete, with max(t)/lr <= 5e7 "
                                     "steps (default 1e-3)")
    parser.add_argument("--dps", help="decimal digits of --method mpmath, 15 <= D <= 200 (default 30); the route "
                                      "integrates the problem's float64 weights exactly (key u_digits: D digits)")
    parser.add_argument("--rtol", help="relative tolerance of --method flow (default 1e-10)")
    parser.add_argument("--atol", help="absolute tolerance of --method flow (default 1e-12)")
    parser.add_argument("--solver", default="DOP853", choices=("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA"),
                        help="scipy solver of --method flow (default DOP853; LSODA for long horizons)")
    parser.add_argument("--max-evaluations", help="velocity evaluations --method flow may spend (default 1000000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def _method(args: argparse.Namespace) -> Any:
    from .. import Discrete, Flow, HighPrecision
    if args.lr is not None and args.method != "discrete":
        raise fail("lr", "given only with --method discrete", args.lr)
    if args.dps is not None and args.method != "mpmath":
        raise fail("dps", "given only with --method mpmath", args.dps)
    if args.method == "discrete":
        return Discrete(lr=check_real(args.lr if args.lr is not None else 1e-3, "lr", positive=True))
    if args.method == "mpmath":
        try:
            dps = int(args.dps) if args.dps is not None else 30
        except ValueError:
            raise fail("dps", "an integer in [15, 200]", args.dps) from None
        return HighPrecision(dps=check_int(dps, "dps", minimum=15, maximum=200))
    options: dict[str, Any] = {"solver": args.solver}
    for name in ("rtol", "atol"):
        if getattr(args, name) is not None:
            options[name] = check_real(getattr(args, name), name, positive=True)
    if args.max_evaluations is not None:
        try:
            options["max_evaluations"] = int(args.max_evaluations)
        except ValueError:
            raise fail("max-evaluations", "an integer >= 1", args.max_evaluations) from None
        check_int(options["max_evaluations"], "max-evaluations", minimum=1)
    return Flow(**options)


def run(args: argparse.Namespace) -> int:
    """Handler of `lindyn integrate`."""
    from .. import SingularCrossing, SmallRandom, aligned_problem, integrate, rule_from_name

    p = problem_arguments(args)
    width = None
    if args.width is not None:
        try:
            width = int(args.width)
        except ValueError:
            raise fail("width", "an integer >= the number of modes", args.width) from None
    if len(p["s"]) > MAX_WIDTH:
        raise fail("s", f"at most {MAX_WIDTH} modes for the full matrices (each layer is at least modes x modes)",
                   f"{len(p['s'])} values")
    try:
        seed = int(args.seed)
    except ValueError:
        raise fail("seed", "an integer >= 0", args.seed) from None
    check_int(seed, "seed", minimum=0)
    m = len(p["s"])
    width = min(max(2 * m, m + 1), MAX_WIDTH) if width is None else width
    rule = rule_from_name(p["rule_name"], p["q"])
    problem = aligned_problem(p["s"], p["depth"], u0=p["u0"], gains=p["gains"],
                              lam=p["lam"] if len(p["lam"]) > 1 else p["lam"][0], width=width, tau=p["tau"], seed=seed)
    if args.scale is not None and args.init != "random":
        raise fail("scale", "given only with --init random", args.scale)
    if args.init == "random":
        if p["gains"] is not None:
            raise fail("gains", "not given with --init random (use --scale)", args.gains)
        scale = (check_real(args.scale, "scale", positive=True) if args.scale is not None
                 else abs(p["u0"][0]) ** (1.0 / p["depth"]) / math.sqrt(max(problem.network.widths)))
        problem = dataclasses.replace(problem, init=SmallRandom(scale=scale, seed=seed))
    method = _method(args)
    try:
        traj = integrate(problem, rule, p["t"], method=method)
    except SingularCrossing as err:
        if args.init != "random":
            raise
        raise type(err)(f"{err} From --init random the end-to-end map W(0) has det W(0)·det W* < 0 on this seed: "
                        "try another --seed (about half of them have a positive sign), or --init aligned.") from None
    t = [float(x) for x in traj.t]
    u = [[float(x) for x in row] for row in traj.u]
    loss = [float(x) for x in traj.loss]
    digits = None
    if method.name == "mpmath":      # the D significant digits the high-precision route carries
        import mpmath
        digits = [[mpmath.nstr(x, method.dps, strip_zeros=False) for x in row] for row in traj.u]
    if args.json:
        out = {"rule": p["rule_name"], "q": str(p["q"]), "depth": p["depth"], "method": method.name,
               "t": t, "u": u, "loss": loss, "width": width, "init": args.init}
        if digits is not None:
            out["u_digits"] = digits
        print(json.dumps(out))
        return 0
    print(f"lindyn integrate: rule {rule.name}, depth {p['depth']}, method {method.name}, init {args.init}, "
          f"widths {problem.network.widths}")
    header = ["t"] + [f"u_{a + 1}" for a in range(len(u))] + ["loss"]
    print_table(header, [[t[k]] + [digits[a][k] if digits is not None else u[a][k] for a in range(len(u))] + [loss[k]]
                         for k in range(len(t))])
    return 0
