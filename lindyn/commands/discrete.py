"""`lindyn discrete`: finite steps on a balanced mode, the derived map next to the full matrices.

    lindyn discrete --rule gd --depth 2 --s 1 --u0 0.01 --lr 0.1 --steps 5 --json

A step is W_i ← W_i + lr·v_i with v_i the rule's velocity at τ = 1 (whitened input, balanced aligned
init from --u0). Prints one JSON object with keys rule, q, depth, lr, k (step indices 0..K), u (the
derived map a_{k+1} = a_k + lr·φ(a_k), u = a^L; [mode][k]), u_matrix (the full matrices stepped by
`lindyn.integrate(..., Discrete(lr))`, modes read as diag(Uᵀ W V); [mode][k]) and eta_max (the derived
largest stable step, one per mode); also s, u0, map (φ as text), diverged (first non-finite step per
mode and route, or null) and max_difference. Iterates that overflow are null from that step on.
"""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ..cli import MAX_DEPTH, check_real, fail, parse_floats, parse_int, print_table, rule_power

#: Largest --steps (each step of the full-matrix route costs one velocity evaluation).
MAX_STEPS = 1_000_000


def register(subparsers: Any) -> None:
    """Add the `discrete` subcommand."""
    from ..rules import RULE_NAMES
    p = subparsers.add_parser(
        "discrete", help="finite learning-rate steps: derived balanced-mode map vs full matrices",
        description="Finite steps W_i <- W_i + lr*v_i (tau = 1, whitened input, balanced aligned init): the "
                    "discrete map of each mode derived from the rule, next to the full weight matrices "
                    "stepped the same way, and the derived largest stable step eta_max per mode.",
        epilog="example: lindyn discrete --rule gd --depth 3 --s 1,2 --u0 1e-3 --lr 0.05 --steps 200")
    p.add_argument("--rule", required=True, choices=RULE_NAMES,
                   help="learning rule: gd, ngd (full Fisher, power q), blockdiag (block NGD, power q), kfac, bernacchia")
    p.add_argument("--q", default=None, help="exact curvature power in [0, 1] of ngd/blockdiag, e.g. 1/2 (default 1); "
                                             "an error with gd, kfac, bernacchia")
    p.add_argument("--depth", required=True, help="number of weight matrices, 1 <= L <= 100")
    p.add_argument("--s", required=True, help="singular values of the target map, one per mode: S1,S2,... (each > 0)")
    p.add_argument("--u0", required=True, help="initial mode strength > 0 (each layer gain U0^(1/L)); one or one per mode")
    p.add_argument("--lr", required=True, help="step (learning rate) > 0")
    p.add_argument("--steps", required=True, help=f"number of steps K, 0 <= K <= {MAX_STEPS}")
    p.add_argument("--width", help="hidden width of the full-matrix route, >= number of modes (default: number of modes)")
    p.add_argument("--seed", default="0", help="seed of the random orthogonal bases of the full-matrix route (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def _floats(text: str, name: str) -> list[float]:
    values = parse_floats(text, name)
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise fail(name, "positive finite numbers", text)
    return values


def _json_list(row: Any) -> list[float | None]:
    return [float(x) if math.isfinite(float(x)) else None for x in row]


def _first_bad(row: Any) -> int | None:
    for k, x in enumerate(row):
        if not math.isfinite(float(x)):
            return k
    return None


def run(args: argparse.Namespace) -> int:
    """Handler of `lindyn discrete`."""
    from .. import rule_from_name
    from ..discrete import derive_discrete, matrix_iterates

    # === check arguments
    depth = parse_int(args.depth, "depth", 1, MAX_DEPTH)
    q = rule_power(args.rule, args.q)
    s = _floats(args.s, "s")
    u0 = _floats(args.u0, "u0")
    if len(u0) not in (1, len(s)):
        raise fail("u0", f"one value or one per mode ({len(s)})", args.u0)
    lr = check_real(args.lr, "lr", positive=True)
    steps = parse_int(args.steps, "steps", 0, MAX_STEPS)
    width = None if args.width is None else parse_int(args.width, "width", len(s), 2048)
    seed = parse_int(args.seed, "seed", 0)
    rule = rule_from_name(args.rule, q)

    dmap = derive_discrete(rule, depth)
    u = dmap.iterate(s, u0, lr, steps)
    u_matrix = matrix_iterates(rule, depth, s, u0, lr, steps, width=width, seed=seed)
    eta_max = [float(x) for x in dmap.eta_max(s)]
    both = [(a, b) for ra, rb in zip(u, u_matrix) for a, b in zip(ra, rb) if math.isfinite(a) and math.isfinite(b)]
    diff = max((abs(a - b) for a, b in both), default=None)
    diverged = {"u": [_first_bad(r) for r in u], "u_matrix": [_first_bad(r) for r in u_matrix]}
    if args.json:
        print(json.dumps({
            "rule": args.rule, "q": str(q), "depth": depth, "lr": lr, "k": list(range(steps + 1)),
            "u": [_json_list(r) for r in u], "u_matrix": [_json_list(r) for r in u_matrix],
            "eta_max": [x if math.isfinite(x) else None for x in eta_max],
            "s": s, "u0": u0 if len(u0) == len(s) else u0 * len(s), "map": f"a <- a + lr*({dmap.derivation.step})",
            "diverged": diverged, "max_difference": diff}))
        return 0
    print(f"lindyn discrete: rule {rule.name}, depth {depth}, lr {lr:g}, {steps} steps; "
          f"derived map a <- a + lr*({dmap.derivation.step}), u = a^{depth}")
    print("eta_max (derived largest stable step) per mode: " + ", ".join(f"{x:.6g}" for x in eta_max)
          + ("  [lr is above it for some mode]" if any(lr > x for x in eta_max) else ""))
    header = ["k"] + [f"{name}_{m + 1}" for m in range(len(s)) for name in ("u", "u_matrix")]
    print_table(header, [[str(k)] + [x[m][k] for m in range(len(s)) for x in (u, u_matrix)] for k in range(steps + 1)])
    if diff is not None:
        print(f"max |u - u_matrix| over finite iterates: {diff:.3g}")
    for route, first in diverged.items():
        for m, k in enumerate(first):
            if k is not None:
                print(f"{route} of mode {m + 1} left the finite numbers at step {k}")
    return 0
