"""Benchmark: `lindyn.integrate` against a hand-written `solve_ivp` loop on the same problem (issue 9).

    python bench/bench_integrate.py            # L = 3 width 128 and L = 8 width 64, GD; ~2-4 minutes
    python bench/bench_integrate.py --quick    # small widths, seconds

Both sides integrate the same GD flow τ dW_i/dt = −B_iᵀ(WΣ − Σ_yx)A_iᵀ from the same weights to the
same times, with DOP853 at the same rtol/atol and the requested times served by each step's
interpolant (`t_eval`), so they take the same steps. The baseline is what a competent user writes:
one function computing the chain products and gradients with numpy, passed to `scipy.integrate.
solve_ivp`. Reported: wall time of each (best of `--repeat` runs, the two sides alternating, in one process),
their ratio, the largest difference between the two solutions relative to ‖W‖ (same accuracy), and
peak Python-heap memory (tracemalloc) of each, which must stay O(parameters x requested times).
BLAS runs on one thread (pinned below) on both sides. Two inits: a near-identity one (favourable:
few steps) and a scaled random orthogonal one, 0.7·Q per layer (unfavourable: a plateau, more steps).
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from lindyn import GD, Flow, GivenWeights, Network, Problem, Task, integrate  # noqa: E402


def make_problem(depth: int, n: int, init: str, seed: int = 0) -> Problem:
    """Equal widths n, SPD target W* with eigenvalues in [1, 2]; near-identity or small random init."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    W_star = Q @ np.diag(np.linspace(1.0, 2.0, n)) @ Q.T
    if init == "near-identity":
        W = tuple(0.5 ** (1 / depth) * np.eye(n) + 0.1 * rng.normal(size=(n, n)) / np.sqrt(n) for _ in range(depth))
    else:
        W = tuple(0.7 * np.linalg.qr(rng.normal(size=(n, n)))[0] for _ in range(depth))   # ‖W‖ = 0.7^L
    return Problem(Network((n,) * (depth + 1)), Task(W_star), GivenWeights(W))


def hand_written(problem: Problem, times: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """The baseline: GD written directly with numpy and solved with solve_ivp(t_eval=times)."""
    W0 = problem.initial_weights()
    shapes = [w.shape for w in W0]
    sizes = np.cumsum([0] + [m * n for m, n in shapes])
    Sigma, Syx = problem.task.Sigma_xx, problem.task.Sigma_yx

    def rhs(_t: float, theta: np.ndarray) -> np.ndarray:
        W = [theta[sizes[i]:sizes[i + 1]].reshape(shapes[i]) for i in range(len(shapes))]
        L = len(W)
        A = [None, W[0]]                     # A_i = W_{i-1}⋯W_1 (A_1 = I is never multiplied)
        for w in W[1:-1]:
            A.append(w @ A[-1])
        B = [W[-1]]                          # B_i = W_L⋯W_{i+1} (B_L = I is never multiplied)
        for w in W[-2:0:-1]:
            B.insert(0, B[0] @ w)
        B.append(None)
        R = (W[-1] @ A[-1] if L > 1 else W[0]) @ Sigma - Syx
        grads = []
        for i in range(L):
            g = R if i == L - 1 else B[i].T @ R
            grads.append(-(g if i == 0 else g @ A[i].T))
        return np.concatenate([g.ravel() for g in grads])

    theta0 = np.concatenate([w.ravel() for w in W0])
    sol = solve_ivp(rhs, (0.0, float(times[-1])), theta0, method="DOP853", rtol=rtol, atol=atol, t_eval=times)
    return np.stack([sol.y[sizes[-2]:, k].reshape(shapes[-1]) for k in range(len(times))])


def measure(fns, repeat: int) -> list[tuple[float, float, object]]:
    """For each fn: (best wall seconds over `repeat` runs, alternating between the fns; peak traced MiB; result)."""
    best, results = [np.inf] * len(fns), [None] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            results[k] = fn()
            best[k] = min(best[k], time.perf_counter() - start)
    peaks = []
    for fn in fns:
        tracemalloc.start()
        fn()
        peaks.append(tracemalloc.get_traced_memory()[1] / 2 ** 20)
        tracemalloc.stop()
    return list(zip(best, peaks, results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small widths (seconds)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the best is kept (default 3)")
    parser.add_argument("--times", type=int, default=50, help="number of requested times (default 50)")
    args = parser.parse_args()
    cases = [(3, 32), (8, 16)] if args.quick else [(3, 128), (8, 64)]
    rtol, atol, T = 1e-10, 1e-12, 10.0
    times = np.linspace(0.0, T, args.times)
    print(f"GD flow to T = {T}, DOP853 rtol {rtol:g} atol {atol:g}, {args.times} requested times, one BLAS thread")
    print(f"{'init':>14} {'L':>2} {'width':>5} {'lindyn s':>9} {'solve_ivp s':>11} {'ratio':>6} "
          f"{'max diff/|W|':>12} {'lindyn MiB':>10} {'solve_ivp MiB':>13}")
    for init in ("near-identity", "small-random"):
        for depth, n in cases:
            p = make_problem(depth, n, init)
            ours = lambda: integrate(p, GD(), times, method=Flow(rtol=rtol, atol=atol)).W[-1]  # noqa: E731
            base = lambda: hand_written(p, times, rtol, atol)                                   # noqa: E731
            (t_ours, m_ours, W_ours), (t_base, m_base, W_base) = measure([ours, base], args.repeat)
            diff = float(np.max(np.abs(W_ours - W_base)) / np.max(np.abs(W_base)))
            print(f"{init:>14} {depth:>2} {n:>5} {t_ours:>9.2f} {t_base:>11.2f} {t_ours / t_base:>6.2f} "
                  f"{diff:>12.1e} {m_ours:>10.1f} {m_base:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
