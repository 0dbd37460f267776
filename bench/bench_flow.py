"""Benchmark: full-matrix flow integration times (issue 3 item 9).

    python bench/bench_flow.py           # default grid, about 1-3 minutes on 2 cores
    python bench/bench_flow.py --full    # adds width 128 (GD) and 64 (NGD); several minutes

For each depth L in {2, 3, 4, 8} and width n, the network has equal widths n, a random SPD target
W* with eigenvalues in [1, 2], and a near-identity random init W_i = 0.5^{1/L} I + 0.1 G/√n;
`integrate(problem, rule, [T], method=Flow())` (DOP853, rtol 1e-10, atol 1e-12, efficient Fisher
route) runs to T = 20, where the excess loss is below 1e-8 of its initial value. Printed: wall
time, number of velocity evaluations (counted), final relative loss. Never used as a timed test.
"""
from __future__ import annotations

import os

# One BLAS thread unless the caller says otherwise: on a shared 2-core machine, multithreaded BLAS
# on small matrices thrashed (a 128 x 128 product took 32 ms instead of 0.4 ms under load 4).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np

from lindyn import GD, NGD, GivenWeights, Network, Problem, Task, integrate
from lindyn.problem import random_orthogonal


def problem(depth: int, n: int, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    s = np.linspace(1.0, 2.0, n)
    U = random_orthogonal(n, rng)
    W_star = U @ np.diag(s) @ U.T            # SPD target: the straight NGD path never meets det W = 0
    W = tuple(0.5 ** (1 / depth) * np.eye(n) + 0.1 * rng.normal(size=(n, n)) / np.sqrt(n) for _ in range(depth))
    return Problem(Network((n,) * (depth + 1)), Task(W_star), GivenWeights(W))


class Counted:
    """Wraps a rule and counts its velocity evaluations (the name is kept for reports)."""

    def __init__(self, rule):
        self.rule, self.calls, self.name = rule, 0, rule.name

    def velocity(self, grads, geo, ops):
        self.calls += 1
        return self.rule.velocity(grads, geo, ops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add width 128 for GD and 64 for NGD")
    parser.add_argument("--T", type=float, default=20.0, help="final time (default 20)")
    args = parser.parse_args()
    grids = {"gd": [4, 16, 32, 64] + ([128] if args.full else []),
             "ngd": [4, 8, 16, 32] + ([64] if args.full else [])}
    print(f"flow to T = {args.T}: DOP853, rtol 1e-10, atol 1e-12, efficient Fisher route")
    print(f"{'rule':>4} {'L':>2} {'width':>5} {'params':>7} {'seconds':>8} {'velocity evals':>15} {'loss(T)/loss(0)':>16}")
    for name, rule in (("gd", GD()), ("ngd", NGD())):
        for depth in (2, 3, 4, 8):
            for n in grids[name]:
                p = problem(depth, n)
                counted = Counted(rule)
                start = time.perf_counter()
                traj = integrate(p, counted, [0.0, args.T])
                seconds = time.perf_counter() - start
                print(f"{name:>4} {depth:>2} {n:>5} {depth * n * n:>7} {seconds:>8.2f} {counted.calls:>15} "
                      f"{traj.loss[-1] / traj.loss[0]:>16.2e}", flush=True)


if __name__ == "__main__":
    main()
