"""Benchmark: full-Fisher NGD velocities and flows, structured routes vs dense baselines (issues 3 and 15).

    python bench/bench_ngd.py              # issue 3 table: L = 3, widths 4..32, q = 1 and 1/2 vs explicit (~1-2 min)
    python bench/bench_ngd.py --full       # also widths 24 and 40 (the explicit route takes minutes)
    python bench/bench_ngd.py --rows       # issue 15 rows 1-3 (about 10 minutes, see below)
    python bench/bench_ngd.py --rows --quick   # rows 1-3, slowest baselines run once, no dense flow

Rules (every table):
- One BLAS thread (OPENBLAS/OMP/MKL_NUM_THREADS=1 unless set by the caller); both sides in one process.
- Same problem on both sides: the same weights, Σ, target and rule body `NGD(q).velocity`; only the
  Fisher route differs. Accuracy is reported next to every time: the relative difference of the two
  results (velocity vectors, or final weights of a flow). The structured routes certify relative
  1e-10 (Krylov route: a-posteriori estimate; Sylvester-basis CG: backward error of a direct solver).
- Times are the median of R runs with [min-max]; the first (cold) call of a structured route, which
  pays one-off costs (scipy.optimize import, the rational rule), is reported separately.
- Favourable and unfavourable inits: near-identity W_i = I + 0.5 G/√n (κ(K̃) ~ 1e2) and Gaussian
  W_i = G/√n (κ(K̃) ~ 1e5-1e6, the preconditioned CG needs 3-4x more iterations).

Issue 15 rows (`--rows`), L = 3, equal widths, non-white Σ = GGᵀ/n + ½I for single velocities:
1. NGD^{1/2} velocity, widths 32 and 64: Krylov route (`lindyn.numeric.fisher.KrylovFisherPower`) vs
   the dense K̃ route it replaces (eigh of the n² x n² output kernel: KRYLOV_MIN_DIM raised above n²)
   and, at width 32, a competent user's SVD of the whitened Jacobian J̃ = (Σ^{1/2}⊗I)J (n² x 3n²):
   (F⁺)^{1/2}∇ℓ = V diag(s⁻¹) Vᵀ∇ℓ.
2. NGD^{1/2} flow to T = 20 (bench_flow's problem: SPD target, white Σ; `integrate`, DOP853 rtol 1e-10,
   atol 1e-12), widths 16, 32, 64 (and 128 without --quick), Gaussian init at widths 16 and 32:
   Krylov route vs the dense K̃ route (width 16, and 32 except the Gaussian one under --quick);
   difference of the final weights. (From Gaussian layers at width 64 a third of the velocities meet
   κ(K̃) > 1e11, where the Krylov route leaves the rank decision to the dense route: not run.)
3. MP-NGD (q = 1) velocity, width 32: Sylvester-basis CG (`SylvesterFisherPower`) vs the explicit
   pseudo-inverse (J and F = Jᵀ(Σ⊗I)J formed, eigh of F, the row's baseline) and vs the minimum-norm
   least-squares solve a competent user would write: θ̇ = −J̃⁺ vec((W − W*)Σ^{1/2}) (`numpy.linalg.lstsq`,
   since F⁺J̃ᵀ = J̃⁺).
Never used as a timed test.
"""
from __future__ import annotations

import os

# One BLAS thread unless the caller says otherwise: on a shared 2-core machine, multithreaded BLAS
# on small matrices thrashed (a 128 x 128 product took 32 ms instead of 0.4 ms under load 4).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import lindyn.numeric.fisher as fisher_module  # noqa: E402
from lindyn import NGD, GivenWeights, Network, Problem, Task, integrate  # noqa: E402
from lindyn.numeric._ops import NumpyOps  # noqa: E402
from lindyn.numeric.geometry import MatrixGeometry, Moments  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_flow import Counted, problem as flow_problem  # noqa: E402


def random_net(n: int, depth: int, seed: int = 0, init: str = "near"):
    """Equal widths n; near-identity I + 0.5G/√n or Gaussian G/√n layers; Σ = GGᵀ/n + ½I; random Σ_yx."""
    rng = np.random.default_rng(seed)
    if init == "near":
        W = [np.eye(n) + 0.5 * rng.normal(size=(n, n)) / np.sqrt(n) for _ in range(depth)]
    else:
        W = [rng.normal(size=(n, n)) / np.sqrt(n) for _ in range(depth)]
    G = rng.normal(size=(n, n))
    return W, G @ G.T / n + 0.5 * np.eye(n), rng.normal(size=(n, n))


def velocity(W, Sigma, Syx, q, route="efficient"):
    """The rule body on a fresh geometry (geometry, Fisher route and solve all timed)."""
    geo = MatrixGeometry(W, Moments(Sigma, Syx), NumpyOps(), route)
    return geo.vec(NGD(q=q).velocity(geo.grads, geo, NumpyOps()))


@contextlib.contextmanager
def dense_kernel_route():
    """Today's route for fractional q at L >= 3: the dense K̃ (n_0 n_L square) and eigh."""
    saved = fisher_module.KRYLOV_MIN_DIM
    fisher_module.KRYLOV_MIN_DIM = 10 ** 12
    try:
        yield
    finally:
        fisher_module.KRYLOV_MIN_DIM = saved


def timed(fn, repeat):
    """(median, min, max, last result) of `repeat` calls."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), min(times), max(times), out


def fmt(t):
    med, lo, hi = t[:3]
    return f"{med:.4g} s [{lo:.3g}-{hi:.3g}]"


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def svd_power(W, Sigma, Syx, q, rcond=1e-12):
    """Competent user's NGD^q velocity: SVD of J̃ = (Σ^{1/2}⊗I)J, −V diag(s^{−2q}) Vᵀ∇ℓ."""
    geo = MatrixGeometry(W, Moments(Sigma, Syx), NumpyOps(), "explicit")
    lam, Q = np.linalg.eigh(Sigma)
    S_half = (Q * np.sqrt(lam)) @ Q.T
    Jt = np.kron(S_half, np.eye(W[-1].shape[0])) @ geo.jacobian()
    _, s, Vt = np.linalg.svd(Jt, full_matrices=False)
    keep = s ** 2 > rcond * s[0] ** 2
    g = geo.vec(geo.grads)
    return -(Vt[keep].T @ (s[keep] ** (-2.0 * float(q)) * (Vt[keep] @ g)))


def lstsq_mp(W, Sigma, Syx):
    """Competent user's MP-NGD velocity: −J̃⁺ vec((W − W*)Σ^{1/2}) by numpy.linalg.lstsq (F⁺J̃ᵀ = J̃⁺)."""
    geo = MatrixGeometry(W, Moments(Sigma, Syx), NumpyOps(), "explicit")
    lam, Q = np.linalg.eigh(Sigma)
    S_half = (Q * np.sqrt(lam)) @ Q.T
    Jt = np.kron(S_half, np.eye(W[-1].shape[0])) @ geo.jacobian()
    E = geo.W_end - Syx @ np.linalg.inv(Sigma)
    return -np.linalg.lstsq(Jt, (E @ S_half).reshape(-1, order="F"), rcond=None)[0]


def row1(args) -> None:
    q = Fraction(1, 2)
    print("\nRow 1: NGD^{1/2} velocity, L = 3 (certified Krylov route vs dense K̃ eigh; SVD of J̃ at width 32)")
    for n in (32, 64):
        for init in ("near", "gauss"):
            W, Sigma, Syx = random_net(n, 3, init=init)
            fisher_module.stieltjes_rule.cache_clear()
            start = time.perf_counter()
            velocity(W, Sigma, Syx, q)
            cold = time.perf_counter() - start
            kry = timed(lambda: velocity(W, Sigma, Syx, q), args.repeat)
            runs = 1 if args.quick else (2 if n == 64 else args.repeat_slow)     # one dense run at 64: ~40 s
            with dense_kernel_route():
                dense = timed(lambda: velocity(W, Sigma, Syx, q), runs)
            line = (f"  width {n:>3} {init:>5}: krylov {fmt(kry)} (cold {cold:.3g} s) | dense K̃ {fmt(dense)} | "
                    f"({runs} runs) ratio {dense[0] / kry[0]:.0f}x | rel. diff {rel(kry[3], dense[3]):.1e}")
            if n == 32:
                svd = timed(lambda: svd_power(W, Sigma, Syx, q), 1 if args.quick else args.repeat_slow)
                line += f" | SVD of J̃ {fmt(svd)} ({svd[0] / kry[0]:.0f}x, diff {rel(kry[3], svd[3]):.1e})"
            print(line, flush=True)


def gaussian_flow_problem(n: int, seed: int = 0) -> Problem:
    """bench_flow's target with Gaussian layers G/√n (the unfavourable init)."""
    p = flow_problem(3, n, seed)
    rng = np.random.default_rng(seed + 1)
    W = tuple(rng.normal(size=(n, n)) / np.sqrt(n) for _ in range(3))
    return Problem(p.network, p.task, GivenWeights(W))


def run_flow(p, q):
    """(final weights, velocity evaluations, loss(T)/loss(0), stop note) of the NGD^q flow to T = 20."""
    counted = Counted(NGD(q=q))
    traj = integrate(p, counted, [0.0, 20.0])
    note = "" if traj.stopped_at is None else f" (stopped at t = {traj.stopped_at:.3g}: {traj.stop_reason})"
    return (np.concatenate([np.ravel(w[-1]) for w in traj.W]), counted.calls, traj.loss[-1] / traj.loss[0], note)


def row2(args) -> None:
    q = Fraction(1, 2)
    print("\nRow 2: NGD^{1/2} flow to T = 20, L = 3 (DOP853 rtol 1e-10, atol 1e-12)")
    widths = {"near": (16, 32, 64) if args.quick else (16, 32, 64, 128),
              # from Gaussian layers at width 64 a third of the velocities meet κ(K̃) > 1e11, where the
              # Krylov route defers the rank decision to the dense K̃ (4096², ~12 s each): not run
              "gauss": (16, 32)}
    for init in ("near", "gauss"):
        for n in widths[init]:
            p = flow_problem(3, n) if init == "near" else gaussian_flow_problem(n)
            reps = 1 if (n >= 64 or args.quick) else 3
            kry = timed(lambda: run_flow(p, q), reps)
            line = (f"  width {n:>3} {init:>5}: krylov {fmt(kry)}, {kry[3][1]} velocity evals, "
                    f"loss(T)/loss(0) {kry[3][2]:.1e}{kry[3][3]}")
            run_dense = n == 16 or (n == 32 and (init == "near" or not args.quick) and not args.no_dense_flow)
            if run_dense:
                with dense_kernel_route():
                    dense = timed(lambda: run_flow(p, q), 1)
                line += (f" | dense K̃ {dense[0]:.4g} s ({dense[3][1]} evals), ratio {dense[0] / kry[0]:.0f}x, "
                         f"final W rel. diff {rel(kry[3][0], dense[3][0]):.1e}")
            print(line, flush=True)


def row3(args) -> None:
    print("\nRow 3: MP-NGD (q = 1) velocity, L = 3, width 32 (Sylvester-basis CG vs explicit pinv vs lstsq of J̃)")
    n = 32
    for init in ("near", "gauss"):
        W, Sigma, Syx = random_net(n, 3, init=init)
        velocity(W, Sigma, Syx, 1)
        eff = timed(lambda: velocity(W, Sigma, Syx, 1), args.repeat)
        exp = timed(lambda: velocity(W, Sigma, Syx, 1, "explicit"), 1 if args.quick else args.repeat_slow)
        lsq = timed(lambda: lstsq_mp(W, Sigma, Syx), 1 if args.quick else args.repeat_slow)
        print(f"  {init:>5}: efficient {fmt(eff)} | explicit pinv {fmt(exp)} ratio {exp[0] / eff[0]:.0f}x "
              f"[{exp[1] / eff[2]:.0f}-{exp[2] / eff[1]:.0f}x] diff {rel(eff[3], exp[3]):.1e} | "
              f"lstsq(J̃) {fmt(lsq)} ratio {lsq[0] / eff[0]:.0f}x diff {rel(eff[3], lsq[3]):.1e}", flush=True)


def issue3_table(args) -> None:
    widths = [4, 8, 16, 24, 32, 40] if args.full else [4, 8, 16, 32]
    print(f"NGD velocity, depth L = {args.depth}, equal widths, non-white Σ (efficient: best of 5; explicit: one run)")
    print(f"{'width':>5} {'q':>4} {'params':>7} {'explicit s':>11} {'efficient s':>12} {'ratio':>9} {'rel. diff':>10}")
    for n in widths:
        W, Sigma, Syx = random_net(n, args.depth)
        for q in (1, Fraction(1, 2)):
            velocity(W, Sigma, Syx, q)
            t_eff = min(timed(lambda: velocity(W, Sigma, Syx, q), 5)[1:3])
            v_eff = velocity(W, Sigma, Syx, q)
            t_exp, _, _, v_exp = timed(lambda: velocity(W, Sigma, Syx, q, "explicit"), 1)
            print(f"{n:>5} {str(q):>4} {args.depth * n * n:>7} {t_exp:>11.4f} {t_eff:>12.5f} {t_exp / t_eff:>9.1f} "
                  f"{rel(v_eff, v_exp):>10.2e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="issue 3 table: add widths 24 and 40")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--rows", action="store_true", help="issue 15 rows 1-3 instead of the issue 3 table")
    parser.add_argument("--quick", action="store_true", help="rows: slow baselines once, no Gaussian dense flow")
    parser.add_argument("--no-dense-flow", action="store_true", help="rows: skip the dense flow at width 32")
    parser.add_argument("--only", default="1,2,3", help="rows to run with --rows, e.g. '1,3' (default all)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of the structured routes (median reported)")
    parser.add_argument("--repeat-slow", type=int, default=3, help="runs of the slow baselines")
    args = parser.parse_args()
    print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; numpy {np.__version__}")
    if not args.rows:
        issue3_table(args)
        return
    rows = {int(r) for r in args.only.split(",")}
    for number, row in ((1, row1), (3, row3), (2, row2)):
        if number in rows:
            row(args)


if __name__ == "__main__":
    main()
