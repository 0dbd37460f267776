"""Benchmark: full-Fisher NGD velocity, efficient route vs explicit Fisher pseudo-inverse (issue 3 item 9).

    python bench/bench_ngd.py            # L = 3, widths 4, 8, 16, 32; q = 1 and q = 1/2 (about 1-2 minutes)
    python bench/bench_ngd.py --full     # also widths 24 and 40 (explicit route takes minutes)

Both routes evaluate the same rule body `NGD(q).velocity` on the same random net (equal widths,
non-white Σ); only `MatrixGeometry.fisher()` differs: 'explicit' builds J and F = Jᵀ(Σ⊗I)J and
takes the Moore–Penrose power by eigh, 'efficient' is `lindyn.numeric.fisher.KroneckerFisher`.
Times are the best of `repeat` runs for the efficient route and one run for the explicit one,
measured in the same process; the relative difference of the two velocities is printed with them.
Never used as a timed test.
"""
from __future__ import annotations

import os

# One BLAS thread unless the caller says otherwise: on a shared 2-core machine, multithreaded BLAS
# on small matrices thrashed (a 128 x 128 product took 32 ms instead of 0.4 ms under load 4).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from fractions import Fraction

import numpy as np

from lindyn import NGD
from lindyn.numeric._ops import NumpyOps
from lindyn.numeric.geometry import MatrixGeometry, Moments


def random_net(n: int, depth: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    W = [np.eye(n) + 0.5 * rng.normal(size=(n, n)) / np.sqrt(n) for _ in range(depth)]
    G = rng.normal(size=(n, n))
    return W, G @ G.T / n + 0.5 * np.eye(n), rng.normal(size=(n, n))


def velocity_time(W, Sigma, Syx, q, route, repeat):
    best, v = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        geo = MatrixGeometry(W, Moments(Sigma, Syx), NumpyOps(), route)
        v = geo.vec(NGD(q=q).velocity(geo.grads, geo, NumpyOps()))
        best = min(best, time.perf_counter() - start)
    return best, v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add widths 24 and 40")
    parser.add_argument("--depth", type=int, default=3)
    args = parser.parse_args()
    widths = [4, 8, 16, 24, 32, 40] if args.full else [4, 8, 16, 32]
    print(f"NGD velocity, depth L = {args.depth}, equal widths, non-white Σ")
    print(f"{'width':>5} {'q':>4} {'params':>7} {'explicit s':>11} {'efficient s':>12} {'ratio':>9} {'rel. diff':>10}")
    for n in widths:
        W, Sigma, Syx = random_net(n, args.depth)
        for q in (1, Fraction(1, 2)):
            t_eff, v_eff = velocity_time(W, Sigma, Syx, q, "efficient", repeat=5)
            t_exp, v_exp = velocity_time(W, Sigma, Syx, q, "explicit", repeat=1)
            diff = np.linalg.norm(v_eff - v_exp) / np.linalg.norm(v_exp)
            print(f"{n:>5} {str(q):>4} {args.depth * n * n:>7} {t_exp:>11.4f} {t_eff:>12.5f} {t_exp / t_eff:>9.1f} {diff:>10.2e}",
                  flush=True)


if __name__ == "__main__":
    main()
