"""`lindyn matrix`: the whole-matrix closed form W(t) of a two-layer λ-balanced net next to integration.

    lindyn matrix --rule gd --depth 2 --lam 0.5 --init random --seed 0 --t 0,1,5 --json

The task is Σ_yx = U diag(s) Vᵀ with Haar-random bases U, V (seeded by --seed) and Σ_xx = I; the init
is `LambdaBalanced(lam, scale, seed, kind=init)`, W₂ᵀW₂ − W₁W₁ᵀ = λI, not aligned with the task
unless --init aligned. The closed form is `lindyn.derive_matrix` (the Riccati form derived from
the rule); the integrated map is `lindyn.integrate` of the layer-wise flow (DOP853, rtol 1e-12,
atol 1e-14). JSON keys: t, W (closed form, [t][row][col]), W_integrated (same shape), max_abs_diff;
also rule, depth, lam, init, seed, widths, s, Sigma_yx, loss, kernel_distance, representation_distance
and riccati (the derived equation as LaTeX).
"""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ..cli import check_int, check_real, check_times, fail, parse_floats, parse_int, print_table

#: Largest width of a layer of `lindyn matrix` (dense eigendecompositions of (n₀ + n₂)-square F).
MAX_MATRIX_WIDTH = 512


def register(subparsers: Any) -> None:
    """Add the `matrix` subcommand."""
    from ..rules import RULE_NAMES
    p = subparsers.add_parser(
        "matrix", help="whole-matrix closed form W(t) of a two-layer lambda-balanced net vs integration",
        description="Two-layer linear network, whitened input, target Sigma_yx = U diag(s) V^T in random bases: "
                    "the closed-form network map W(t) = W2 W1 from the matrix Riccati equation the engine derives "
                    "from the rule (any alignment, unequal widths), next to the integrated layer-wise flow and their "
                    "difference. Init: W2^T W2 - W1 W1^T = lam I.",
        epilog="example: lindyn matrix --rule gd --depth 2 --lam 0.5 --init random --seed 0 --t 0,1,2,5 --json")
    p.add_argument("--rule", default="gd", choices=RULE_NAMES,
                   help="learning rule (default gd; only gradient-type rules have a Riccati form: the others "
                        "are refused with the reason)")
    p.add_argument("--depth", default="2", help="number of weight matrices: 2 (the closed form is two-layer)")
    p.add_argument("--lam", default="0", help="balance lambda, W2^T W2 - W1 W1^T = lam I (default 0; lam >= 0 "
                                              "needs n2 >= h, lam < 0 needs n0 >= h)")
    p.add_argument("--init", default="random", choices=("random", "orthogonal", "aligned"),
                   help="the drawn factor: random (Gaussian, default), orthogonal (orthonormal rows), aligned "
                        "(with the task's singular vectors)")
    p.add_argument("--scale", default="0.1", help="size of the drawn factor, >= 0 (default 0.1)")
    p.add_argument("--seed", default="0", help="seed of the init and of the task's random bases (default 0)")
    p.add_argument("--s", default="3,2,1", help="singular values of Sigma_yx, each > 0 (default 3,2,1)")
    p.add_argument("--widths", default=None,
                   help="N0,H,N2: input, hidden, output widths (default: len(s) each); min(N0, N2) >= len(s)")
    p.add_argument("--t", default="0,1,2,5,10", help="times >= 0, increasing (default 0,1,2,5,10)")
    p.add_argument("--tau", default="1", help="time constant tau > 0 (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of `lindyn matrix`."""
    import numpy as np

    from .. import Flow, LambdaBalanced, Network, Problem, Task, derive_matrix, integrate, rule_from_name
    from ..problem import random_orthogonal

    # === check arguments
    depth = parse_int(args.depth, "depth", 1)
    if depth != 2:
        raise fail("depth", "2 (the whole-matrix closed form is for two-layer networks)", args.depth)
    lam = check_real(args.lam, "lam")
    scale = check_real(args.scale, "scale", nonnegative=True)
    seed = parse_int(args.seed, "seed", 0)
    tau = check_real(args.tau, "tau", positive=True)
    s = parse_floats(args.s, "s")
    if not all(math.isfinite(x) and x > 0 for x in s):
        raise fail("s", "positive finite numbers", args.s)
    if args.widths is None:
        widths = (len(s),) * 3
    else:
        items = parse_floats(args.widths, "widths")
        if len(items) != 3 or any(x != int(x) for x in items):
            raise fail("widths", "three integers N0,H,N2", args.widths)
        widths = tuple(check_int(int(x), "widths", minimum=1, maximum=MAX_MATRIX_WIDTH) for x in items)
    if min(widths[0], widths[2]) < len(s):
        raise fail("s", f"at most min(N0, N2) = {min(widths[0], widths[2])} singular values for widths {widths}",
                   args.s)
    if max(widths) > MAX_MATRIX_WIDTH:
        raise fail("s", f"at most {MAX_MATRIX_WIDTH} singular values", args.s)
    t = check_times(parse_floats(args.t, "t"), "t")
    rule = rule_from_name(args.rule, 1)

    # === the problem: Σ_yx = U diag(s) Vᵀ in random bases, a λ-balanced init
    rng = np.random.default_rng(seed)
    n0, h, n2 = widths
    U, V = random_orthogonal(n2, rng)[:, :len(s)], random_orthogonal(n0, rng)[:, :len(s)]
    Sigma_yx = U @ np.diag(s) @ V.T
    problem = Problem(Network(widths), Task(Sigma_yx), LambdaBalanced(lam=lam, scale=scale, seed=seed, kind=args.init),
                      tau=tau)
    solution = derive_matrix(rule, problem)
    W = solution.network_map(t)
    W_int = integrate(problem, rule, t, Flow(rtol=1e-12, atol=1e-14)).W_end
    diff = float(np.abs(W - W_int).max())
    if args.json:
        print(json.dumps({
            "t": t, "W": W.tolist(), "W_integrated": W_int.tolist(), "max_abs_diff": diff,
            "rule": args.rule, "depth": depth, "lam": solution.lam, "init": args.init, "seed": seed,
            "widths": list(widths), "s": s, "tau": tau, "Sigma_yx": Sigma_yx.tolist(),
            "loss": solution.loss(t).tolist(), "kernel_distance": solution.kernel_distance(t).tolist(),
            "representation_distance": solution.representation_distance(t).tolist(),
            "riccati": solution.latex()}))
        return 0
    print(f"lindyn matrix: rule {rule.name}, widths {widths}, lam {solution.lam:.6g} (W2^T W2 - W1 W1^T, conserved), "
          f"init {args.init} (scale {scale:g}, seed {seed}), s = {', '.join(f'{x:g}' for x in s)}")
    print("derived: tau dP/dt = F P + P F - P^2, P = Q Q^T, Q = [W1^T; W2], F = [[-lam/2 I, S^T], [S, lam/2 I]]")
    loss, kd = solution.loss(t), solution.kernel_distance(t)
    rows = []
    for k, tk in enumerate(t):
        rows.append([tk, float(loss[k]), float(np.linalg.norm(W[k] - Sigma_yx) / np.linalg.norm(Sigma_yx)),
                     float(kd[k]), float(np.abs(W[k] - W_int[k]).max())])
    print_table(["t", "loss", "|W - S|/|S|", "kernel_distance", "max|W - W_int|"], rows)
    print(f"max |W_closed_form - W_integrated| over all times and entries: {diff:.3g}")
    return 0
