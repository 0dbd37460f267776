"""Benchmark grid: deep matrix completion over init scales, depths, variants and seeds (issue 6 item 4).

    python bench/bench_completion.py                 # 8x8 rank 1, 50% observed; scales 0.03-1, L = 1-4, 3 seeds
    python bench/bench_completion.py --n 10 --rank 2 --observed 0.6 --seeds 2

For each (variant, init scale α, depth L, seed) prints the relative error on the unobserved entries
‖P_Ωᶜ(W − M)‖/‖P_Ωᶜ M‖, the effective rank of W, the time at which the observed entries are fitted
to 0.1% relative error (an `integrate` event), the wall time, and for the function-space NGF whether
its path meets a singular W. Variants (`lindyn.papers.kerekes2021.COMPLETION_VARIANTS`, all run by
`lindyn.integrate` on `MaskedSquaredLoss`): gd = GD(); ngf = NGD() with the model Fisher (the
function-space flow); ngd-data = NGD() with the data Fisher, Moore–Penrose in parameter space.
Seed s draws the problem and the initial weights of every variant and depth. Not a test.
"""
from __future__ import annotations

import os

# One BLAS thread: many SVDs of small matrices; threads only add contention on a shared machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from lindyn import Flow  # noqa: E402
from lindyn.function_space import low_rank_problem  # noqa: E402
from lindyn.papers.kerekes2021 import COMPLETION_VARIANTS, train_completion  # noqa: E402


def main() -> None:
    """Run the grid and print one line per run, then the seed-averaged table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--rank", type=int, default=1)
    parser.add_argument("--observed", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scales", default="0.03,0.1,0.3,1.0")
    parser.add_argument("--depths", default="1,2,3,4")
    args = parser.parse_args()
    scales = [float(x) for x in args.scales.split(",")]
    depths = [int(x) for x in args.depths.split(",")]
    t_gd = np.concatenate([[0.0], np.logspace(-1, 6, 50)])
    table: dict = {}
    print("variant   scale  L seed  unobs.err  eff.rank  t_fit      wall   note")
    for seed in range(args.seeds):
        M, mask = low_rank_problem(args.n, args.rank, args.observed, seed=seed)
        for variant in COMPLETION_VARIANTS:
            for a in scales:
                for L in depths:
                    start = time.perf_counter()
                    t = t_gd if variant == "gd" else np.array([0.0, 20.0])
                    r = train_completion(M, mask, L, variant, t, init_scale=a, seed=seed, stop_at=1e-3,
                                         method=Flow(rtol=1e-8 if variant == "gd" else 1e-6, atol=1e-12))
                    wall = time.perf_counter() - start
                    note = "" if r.observed_error[-1] <= 1.01e-3 else f"observed error {r.observed_error[-1]:.1e}"
                    if r.crossing is not None:
                        note += f" singular crossing s={r.crossing:.3f}"
                    print(f"{variant:9s} {a:5.2f} {L:2d} {seed:4d}  {r.recovery_error[-1]:9.4f} "
                          f"{r.effective_rank[-1]:9.3f} {r.t[-1]:9.3g} {wall:7.1f}s  {note}", flush=True)
                    table.setdefault((variant, a, L), []).append((r.recovery_error[-1], r.effective_rank[-1]))
    print("\nmean over seeds: unobserved error / effective rank")
    print("variant   scale " + " ".join(f"{'L=' + str(L):>15s}" for L in depths))
    for variant in COMPLETION_VARIANTS:
        for a in scales:
            cells = []
            for L in depths:
                vals = np.array(table[(variant, a, L)])
                cells.append(f"{vals[:, 0].mean():7.3f}/{vals[:, 1].mean():5.2f}")
            print(f"{variant:9s} {a:5.2f} " + " ".join(f"{c:>15s}" for c in cells))


if __name__ == "__main__":
    main()
