"""Benchmark: high-precision NGD, the factored mpf Fisher vs the dense one (issue 15 row 11).

    python bench/bench_highprec.py [--runs R]

The problem of row 11: `integrate(aligned_problem(s=[3, 1], depth=2, u0=0.1), NGD(), [0.5, 1],
HighPrecision(30))`. The two arms are the same solver (GBS at 30 digits, the same steps and
evaluations) with `fisher_route="efficient"` (F = KᵀK kept factored, powers through G = KKᵀ, a
certified Cholesky inverse for q = 1; the default) and `fisher_route="explicit"` (the dense 8 x 8
Fisher and `mpmath.eigsy`, the previous default, written as a competent mpmath user would). They
alternate R times in one process; reported: median [min–max] seconds, the ratio of medians, and the
largest difference of the final weights between the arms (they must agree to ~1e-28). One BLAS
thread (mpmath does not use BLAS; pinned for uniformity). Never a timed test.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import mpmath  # noqa: E402
import numpy as np  # noqa: E402

from lindyn import NGD, HighPrecision, aligned_problem, integrate  # noqa: E402


def main() -> None:
    """Run the two arms alternately and print a Markdown row."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="alternating repetitions (default 5)")
    args = parser.parse_args()
    problem = aligned_problem(s=[3, 1], depth=2, u0=0.1)
    times: dict[str, list[float]] = {"efficient": [], "explicit": []}
    last = {}
    for _ in range(args.runs):
        for route in times:
            start = time.perf_counter()
            traj = integrate(problem, NGD(), [0.5, 1.0], method=HighPrecision(30, fisher_route=route))
            times[route].append(time.perf_counter() - start)
            last[route] = traj
    with mpmath.workdps(30):
        diff = max(abs(a - b) for x, y in zip(last["efficient"].W, last["explicit"].W)
                   for a, b in zip(x[-1].ravel(), y[-1].ravel()))
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"evaluations {last['efficient'].evaluations} (both arms); load average {os.getloadavg()[0]:.2f}")
    print("| route | seconds, median [range] of %d |" % args.runs)
    print("| --- | --- |")
    for k, v in times.items():
        print(f"| {k} | {med[k]:.2f} [{min(v):.2f}–{max(v):.2f}] |")
    print(f"explicit / efficient: {med['explicit'] / med['efficient']:.1f}x; max |ΔW| between the arms: "
          f"{mpmath.nstr(diff, 3)}")


if __name__ == "__main__":
    main()
