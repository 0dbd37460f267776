"""Benchmark: closed-form two-layer W(t) (`lindyn.derive_matrix`) vs integrating the matrix flow (issue 13).

    python bench/bench_matrix.py           # widths 4-3-5, 32-16-32, 64-32-64; ~1-2 minutes on 2 cores
    python bench/bench_matrix.py --full    # adds 128-64-128

Rules of the comparison:
* the same problem on both sides: two-layer GD, whitened input, Σ_yx = U diag(s) Vᵀ (s evenly spaced in
  [0.5, 3]) in random bases, a random λ-balanced init (`LambdaBalanced`), W(t) = W₂W₁ at 1,000 times (10 on one grid);
* the baseline is what a competent user writes: `scipy.integrate.solve_ivp` (DOP853) of
  Ẇ₁ = W₂ᵀ(S − W₂W₁), Ẇ₂ = (S − W₂W₁)W₁ᵀ on the flattened weights with `t_eval` at the 1,000 times,
  numpy right-hand side, at rtol 1e-10 / atol 1e-12 and at the tightest rtol 1e-13 / atol 1e-15
  (LSODA instead of DOP853 on the 'long' grid, where explicit steps to t = 1e6 would need ~1e7 evaluations);
  `lindyn.integrate` (the library's own integrator, same tolerances) is reported beside it;
* accuracy: the closed form and each integration are compared with the rtol-1e-13 run (max |ΔW| / ‖S‖);
  so the closed form is never credited with accuracy the baseline lacks, the accuracy of each is printed;
* grids: 'transition' (1,000 times in [0, 10], sorted), '10 times' (t = 1..10: the closed form's cost is per
  time, an integrator's is per step, so few outputs favour the closed form and many favour integration), 'long' (log-spaced 1e-3..1e6), 'unsorted' (the transition grid
  shuffled: the closed form takes it as is, the integrators need it sorted and mapped back, which is charged to
  them); 'long' only at 4-3-5 (the LSODA reference at rtol 1e-13 with a finite-difference Jacobian over 2n²
  unknowns takes hours at 32-16-32 — itself a measure of what integration costs there); inits: small (scale 1e-3, λ = 0, rich) and large λ (λ = 4, scale 0.1, lazy);
* BLAS pinned to one thread; each timing is the median of 3 runs (range printed). Never a timed test.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from lindyn import GD, Flow, LambdaBalanced, Network, Problem, Task, derive_matrix, integrate  # noqa: E402
from lindyn.problem import random_orthogonal  # noqa: E402


def make_problem(n0: int, h: int, n2: int, lam: float, scale: float, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    k = min(n0, n2)
    U, V = random_orthogonal(n2, rng)[:, :k], random_orthogonal(n0, rng)[:, :k]
    S = U @ np.diag(np.linspace(3.0, 0.5, k)) @ V.T
    return Problem(Network((n0, h, n2)), Task(S), LambdaBalanced(lam=lam, scale=scale, seed=seed))


def baseline(problem: Problem, t: np.ndarray, rtol: float, atol: float, method: str = "DOP853") -> np.ndarray:
    """A competent user's solve_ivp of the two-layer GD flow; returns W₂W₁ at t (any order)."""
    S = problem.task.Sigma_yx
    W1, W2 = problem.initial_weights()
    h, n0 = W1.shape
    n2 = W2.shape[0]
    split = h * n0

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        A, B = y[:split].reshape(h, n0), y[split:].reshape(n2, h)
        R = S - B @ A
        return np.concatenate([(B.T @ R).ravel(), (R @ A.T).ravel()])

    order = np.argsort(t, kind="stable")
    ts = t[order]
    sol = solve_ivp(rhs, (0.0, ts[-1]), np.concatenate([W1.ravel(), W2.ravel()]), method=method, t_eval=ts,
                    rtol=rtol, atol=atol)
    Y = sol.y.T
    W = Y[:, split:].reshape(-1, n2, h) @ Y[:, :split].reshape(-1, h, n0)
    out = np.empty_like(W)
    out[order] = W
    return out


def library(problem: Problem, t: np.ndarray, rtol: float, atol: float, method: str = "DOP853") -> np.ndarray:
    order = np.argsort(t, kind="stable")
    W = integrate(problem, GD(), t[order], Flow(solver=method, rtol=rtol, atol=atol, max_evaluations=10**7)).W_end
    out = np.empty_like(W)
    out[order] = W
    return out


def timed(f, repeats: int = 3):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), (min(times), max(times)), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add widths 128-64-128")
    args = parser.parse_args()
    widths = [(4, 3, 5), (32, 16, 32), (64, 32, 64)] + ([(128, 64, 128)] if args.full else [])
    rng = np.random.default_rng(1)
    transition = np.linspace(0.0, 10.0, 1000)
    grids = {"transition": transition, "long": np.concatenate([[0.0], np.geomspace(1e-3, 1e6, 999)]),
             "unsorted": rng.permutation(transition), "10 times": np.linspace(1.0, 10.0, 10)}
    inits = {"small (λ=0, 1e-3)": (0.0, 1e-3), "lazy (λ=4, 0.1)": (4.0, 0.1)}
    print("two-layer GD, W(t) at 1000 times: closed form vs solve_ivp (DOP853) and lindyn.integrate; "
          "median of 3 [range] seconds; accuracy = max|W - W_ref|/|S|, W_ref = solve_ivp at rtol 1e-13")
    head = (f"{'widths':>12} {'init':>18} {'grid':>10} {'closed (s)':>11} {'acc':>8} {'ivp 1e-10 (s)':>14} {'acc':>8} "
            f"{'ratio':>7} {'ivp 1e-13 (s)':>14} {'ratio':>7} {'integrate 1e-10 (s)':>19} {'ratio':>7}")
    print(head)
    for w in widths:
        for init_name, (lam, scale) in inits.items():
            p = make_problem(*w, lam=lam, scale=scale)
            for grid_name, t in grids.items():
                if grid_name == "long" and w[0] > 8:
                    continue        # LSODA's finite-difference Jacobian of 2n² unknowns makes the reference take hours
                m = "LSODA" if grid_name == "long" else "DOP853"       # explicit steps to t = 1e6 would take ~1e7 steps
                t_ref, _, ref = timed(lambda: baseline(p, t, 1e-13, 1e-15, m), repeats=1)
                t_cf, r_cf, W_cf = timed(lambda: derive_matrix(GD(), p).network_map(t))
                t_b, r_b, W_b = timed(lambda: baseline(p, t, 1e-10, 1e-12, m))
                t_l, r_l, _ = timed(lambda: library(p, t, 1e-10, 1e-12, m), repeats=1)
                norm = np.linalg.norm(p.task.Sigma_yx)
                acc_cf = np.abs(W_cf - ref).max() / norm
                acc_b = np.abs(W_b - ref).max() / norm
                print(f"{'-'.join(map(str, w)):>12} {init_name:>18} {grid_name:>10} {t_cf:>11.4f} {acc_cf:>8.1e} "
                      f"{t_b:>14.4f} {acc_b:>8.1e} {t_b / t_cf:>7.1f} {t_ref:>14.4f} {t_ref / t_cf:>7.1f} "
                      f"{t_l:>19.4f} {t_l / t_cf:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
