"""Benchmark: evaluating the closed forms (issue 15, rows 4-8 of its table).

    python bench/bench_evaluate.py            # all rows, ~3-4 minutes on 2 shared cores
    python bench/bench_evaluate.py --quick    # fewer repeats, no rtol-1e-13 full-matrix baseline, ~1.5 min
    python bench/bench_evaluate.py --rows 4,7 # some rows only

Rules of the comparison (the same for every row):
* the same problem on both sides, in one process; BLAS pinned to one thread (set before numpy loads);
* every timing is the median of --repeat runs (default 5; 21 for sub-millisecond calls) with the range
  [min, max]; the two sides alternate run by run, so load on the shared machine hits both;
* accuracy is measured on both sides against one independent reference: lindyn's mpmath route
  (`Trajectory.evaluate(..., dps=30)`: the derived t(u) solved by bracketed Newton at 30 digits at the
  exact binary t), or, for unbalanced modes, an oracle written here from THEORY.md (GD conserves
  a_i² − a_j²; t(a_1) by tanh-sinh quadrature at 30 digits), at 200 (row 4) or 40 (row 5) random times
  (seed 0);
* the baselines are what a competent user writes: `scipy.integrate.solve_ivp` with dense output on the
  scalar mode ODE (row 4) at several tolerances, the tightest scipy accepts included (rtol = 100 ε),
  and Radau there, the only scipy method that gets near 1e-14; the bare numpy formula (row 7); a
  hand-written full-matrix `solve_ivp` (DOP853) of the width-128 network (row 8) at rtol 1e-10 and
  1e-13;
* grids: the transition only (t in [0, 10], sorted and shuffled), the whole path ([0, 40]) and a
  log-spaced grid [1e-3, 1e3] (row 4); the closed form takes any order, solve_ivp sorts internally
  (its own `OdeSolution.__call__`), which is charged to it.
Never a timed test.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from fractions import Fraction  # noqa: E402

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from lindyn import GD, NGD, BlockNGD, aligned_problem, derive  # noqa: E402

EPS = float(np.finfo(float).eps)


def timed(fn, repeat):
    """(median, min, max) seconds of `repeat` calls, and the last result."""
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return (float(np.median(times)), min(times), max(times)), out


def alternate(ours, base, repeat):
    """Time two callables alternately; ((median, min, max) ours, (...) base, last results)."""
    a, b, ra, rb = [], [], None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        ra = ours()
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rb = base()
        b.append(time.perf_counter() - t0)
    stat = (lambda x: (float(np.median(x)), min(x), max(x)))  # noqa: E731
    return stat(a), stat(b), ra, rb


def fmt(stat, unit=1e3):
    med, lo, hi = stat
    return f"{med * unit:.3g} [{lo * unit:.3g}, {hi * unit:.3g}]"


def rel_err(u, ref):
    return float(np.max(np.abs(np.asarray(u) / np.asarray(ref) - 1)))


# ------------------------------------------------------------------ row 4

def row4(repeat, quick):
    """u(t) at 10^6 points, GD L = 3 (τu̇ = 3u^{4/3}(s − u), s = 1, u0 = 1e-3) vs solve_ivp dense output."""
    traj = derive(GD(), 3)
    s, u0, n = 1.0, 1e-3, 10 ** 6
    traj.evaluate([1.0], s=s, u0=u0)                               # lambdify and build the flow table
    rng = np.random.default_rng(1)
    transition = np.linspace(0.0, 10.0, n)
    grids = {"transition [0, 10], sorted": transition, "transition [0, 10], shuffled": rng.permutation(transition),
             "whole path [0, 40], sorted": np.linspace(0.0, 40.0, n),
             "log-spaced [1e-3, 1e3], sorted": np.geomspace(1e-3, 1e3, n)}
    tolerances = [1e-10, 1e-13, 100 * EPS]

    def baseline(t, rtol, method="DOP853"):
        def run():
            sol = solve_ivp(lambda _t, y: 3.0 * y ** (4.0 / 3.0) * (s - y), (0.0, float(t.max())), [u0], method=method,
                            rtol=rtol, atol=1e-300, dense_output=True)
            return sol.sol(t)[0]
        return run

    print("\n### Row 4: u(t) at 10^6 points, GD L = 3 (s = 1, u0 = 1e-3)\n")
    print("Times in ms, median [min, max] of", repeat, "runs; errors: max relative error at 200 random "
          "points against `evaluate(..., dps=30)`.\n")
    print("| grid | lindyn (ms) | lindyn error | solve_ivp DOP853 rtol | solve_ivp (ms) | solve_ivp error | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    idx = np.random.default_rng(0).choice(n, 200, replace=False)
    for name, t in grids.items():
        ref = traj.evaluate(t[idx], s=s, u0=u0, dps=30)
        for rtol in tolerances:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")                   # scipy: rtol raised to 100 ε
                ours, base, u, ub = alternate(lambda: traj.evaluate(t, s=s, u0=u0), baseline(t, rtol), repeat)
            print(f"| {name} | {fmt(ours)} | {rel_err(u[idx], ref):.2g} | {rtol:.2g} | {fmt(base)} | "
                  f"{rel_err(ub[idx], ref):.2g} | **{base[0] / ours[0]:.2f}** |")
    if not quick:
        t = grids["transition [0, 10], sorted"]
        ref = traj.evaluate(t[idx], s=s, u0=u0, dps=30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours, base, u, ub = alternate(lambda: traj.evaluate(t, s=s, u0=u0),
                                          baseline(t, 100 * EPS, "Radau"), max(2, repeat // 2))
        print(f"| transition [0, 10], sorted | {fmt(ours)} | {rel_err(u[idx], ref):.2g} | Radau {100 * EPS:.2g} | "
              f"{fmt(base)} | {rel_err(ub[idx], ref):.2g} | **{base[0] / ours[0]:.2f}** |")


# ------------------------------------------------------------------ row 5

def row5(repeat, quick):
    """Accuracy of u(t) at every depth, against the mpmath route."""
    depths = [2, 3, 4, 5, 8, 10, 20, 30, 50]
    cases = [(1.0, 1e-3, "s = 1, u0 = 1e-3"), (3.0, 1e-6, "s = 3, u0 = 1e-6"), (1.0, 2.5, "s = 1, u0 = 2.5 (decay)")]
    print("\n### Row 5: accuracy of u(t), GD, 37 random times in [0, 3 t_half] and t_half (0.9, 1, 1.1) per case\n")
    print("Max relative error against `evaluate(..., dps=30)` (κ: the largest condition number |t u̇/u| of "
          "the 40 values; a double t alone is uncertain by κ·1.1e-16).\n")
    print("| L | " + " | ".join(f"{c[2]}: error (κ)" for c in cases) + " |")
    print("| --- | " + " | ".join("---" for _ in cases) + " |")
    rng = np.random.default_rng(0)
    for L in depths:
        traj = derive(GD(), L)
        cells = []
        for s, u0, _name in cases:
            half = traj.learning_time(0.5 * s if u0 < s else s + 0.5 * (u0 - s), s=s, u0=u0)
            t = np.sort(np.concatenate([rng.uniform(0.0, 3.0 * half, 37), half * np.array([0.9, 1.0, 1.1])]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                u = traj.evaluate(t, s=s, u0=u0)
            ref = traj.evaluate(t, s=s, u0=u0, dps=30)
            kappa = float(np.max(traj.condition(t, s=s, u0=u0)))
            cells.append(f"{rel_err(u, ref):.2g} ({kappa:.3g})")
        print(f"| {L} | " + " | ".join(cells) + " |")


# ------------------------------------------------------------------ row 6

def _gd_unbalanced_error(gains, s, t, u):
    """The relative error of a computed u(t) of unbalanced GD (τ = λ = 1), from the oracle
    t(u) = ∫ da a/(u (s − u)) along the conserved curves (a_j² = a_r² + c_j, r the smallest gain) at
    30 digits: |t(u) − t| · |d ln u/dt|, or, within 1e-12 of s (where a double u no longer resolves
    the gap s − u), |u − u_true|/u_true with t(s(1 ∓ δ)) = t solved for δ by bisection."""
    with mpmath.workdps(30):
        a = [mpmath.mpf(g) for g in gains]
        r = min(range(len(a)), key=lambda i: a[i])
        c = [a[j] ** 2 - a[r] ** 2 for j in range(len(a)) if j != r]
        sm, um, tm = mpmath.mpf(s), mpmath.mpf(u), mpmath.mpf(t)

        def u_of(x):
            return x * mpmath.fprod(mpmath.sqrt(x ** 2 + cj) for cj in c)

        below = u_of(a[r]) < sm

        def x_at(uu):
            return mpmath.findroot(lambda x: u_of(x) - uu, a[r] * (uu / u_of(a[r])) ** (mpmath.mpf(1) / len(a)))

        def t_at(uu):
            return mpmath.quad(lambda x: x / (u_of(x) * (sm - u_of(x))), [a[r], x_at(uu)])

        if abs(um / sm - 1) < 1e-12:
            lo, hi = mpmath.log(mpmath.mpf("1e-40")), mpmath.log(mpmath.mpf("1e-11"))
            for _ in range(60):
                mid = (lo + hi) / 2
                gap = mpmath.exp(mid)
                if t_at(sm * (1 - gap) if below else sm * (1 + gap)) > tm:
                    lo = mid
                else:
                    hi = mid
            gap = mpmath.exp((lo + hi) / 2)
            return float(abs(um / (sm * (1 - gap) if below else sm * (1 + gap)) - 1))
        x = x_at(um)
        gains_at = [x] + [mpmath.sqrt(x ** 2 + cj) for cj in c]
        rate = abs((sm - um) * sum(um / g ** 2 for g in gains_at))       # d ln u/dt = (s − u) Σ u/a_i²
        return float(abs(t_at(um) - tm) * rate)


def row6(repeat, quick):
    """Quadrature forms (unbalanced GD, L >= 3): accuracy against the THEORY oracle."""
    cases = [(0.1, 0.2, 0.3), (2.0, 1.5, 2.0), (0.05, 0.1, 0.2, 0.15), (0.01, 0.1, 1.0)]
    print("\n### Row 6: quadrature forms (unbalanced GD), 6 times in [0.1, 2.5] t_half\n")
    print("| gains | L | max relative error | time per call (ms) |")
    print("| --- | --- | --- | --- |")
    for gains in cases:
        traj = derive(GD(), len(gains), gains="unbalanced")
        u0 = float(np.prod(gains))
        half = traj.learning_time(0.5 if u0 < 1 else 1 + 0.5 * (u0 - 1), s=1.0, gains=gains)
        t = half * np.array([0.1, 0.5, 0.9, 1.1, 1.6, 2.5])
        stat, u = timed(lambda: traj.evaluate(t, s=1.0, gains=gains), repeat)
        err = max(_gd_unbalanced_error(gains, 1.0, ti, ui) for ti, ui in zip(t, u))
        print(f"| {gains} | {len(gains)} | {err:.2g} | {fmt(stat)} |")


# ------------------------------------------------------------------ row 7

def row7(repeat, quick):
    """Explicit forms vs the bare numpy formula (10^6 sorted times in [0, 10], s = 1, u0 = 1e-3)."""
    s, u0, n = 1.0, 1e-3, 10 ** 6
    t = np.linspace(0.0, 10.0, n)

    def logistic():
        e = np.exp(2 * s * t)
        return s * u0 * e / (s - u0 + u0 * e)

    def exponential():
        return s - (s - u0) * np.exp(-t)

    def tanh2():
        return s * np.tanh(np.sqrt(s) * t + np.arctanh(np.sqrt(u0 / s))) ** 2

    cases = [("GD, L = 2 (logistic, g = 1)", GD(), 2, logistic),
             ("NGD, L = 3 (exponential, g = 0)", NGD(), 3, exponential),
             ("BlockNGD q = 1/2, L = 2 (tanh², k = 2)", BlockNGD(q=Fraction(1, 2)), 2, tanh2)]
    print("\n### Row 7: explicit forms vs the bare numpy formula (10^6 sorted times)\n")
    print("| form | lindyn `evaluate` (ms) | bare formula (ms) | lindyn / bare | lindyn error | bare error |")
    print("| --- | --- | --- | --- | --- | --- |")
    idx = np.random.default_rng(0).choice(n, 200, replace=False)
    for name, rule, L, bare in cases:
        traj = derive(rule, L)
        traj.evaluate([1.0], s=s, u0=u0)
        ours, base, u, ub = alternate(lambda: traj.evaluate(t, s=s, u0=u0), bare, max(repeat, 9))
        ref = traj.evaluate(t[idx], s=s, u0=u0, dps=30)
        print(f"| {name} | {fmt(ours)} | {fmt(base)} | **{ours[0] / base[0]:.2f}** | {rel_err(u[idx], ref):.2g} | "
              f"{rel_err(ub[idx], ref):.2g} |")


# ------------------------------------------------------------------ row 8

def _cold_first_call(L, T):
    """Seconds of the first `evaluate` in a fresh process (lambdify and flow table included; after `derive`)."""
    code = ("import time, numpy as np; from lindyn import GD, derive; traj = derive(GD(), %d); "
            "s = np.linspace(3.0, 0.5, 128); t = np.linspace(0.0, %r, 200); t0 = time.perf_counter(); "
            "traj.evaluate(t, s=s, u0=1e-3); print(time.perf_counter() - t0)" % (L, T))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def row8(repeat, quick):
    """128 modes of a square width-128 GD network, 200 times: closed form vs full-matrix solve_ivp."""
    print("\n### Row 8: 128 modes, square width-128 GD network, 200 times\n")
    print("s = linspace(3, 0.5, 128) in random bases (`aligned_problem`, seed 0), u0 = 1e-3 per mode, "
          "t in [0, T], T = 1.5 × the time the slowest mode reaches 0.99 s. Baseline: a hand-written "
          "`solve_ivp` (DOP853, t_eval) of the full weights; baseline error: max over modes and times of "
          "|u_α(t) − (UᵀW(t)V)_αα| / max s against the closed form (accurate to ~1e-15, rows 4-5; the "
          "baseline's error grows on the converged modes).\n")
    print("| L | lindyn warm (ms) | lindyn first call, fresh process (ms) | solve_ivp rtol | solve_ivp (s) | baseline error | ratio (warm) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    n, u0 = 128, 1e-3
    s = np.linspace(3.0, 0.5, n)
    for L in (2, 3):
        prob = aligned_problem(s=s, depth=L, u0=u0, width=n)
        weights = prob.initial_weights()
        S = prob.task.Sigma_yx
        U, _sv, Vt = np.linalg.svd(S)
        shapes, sizes = [w.shape for w in weights], [w.size for w in weights]
        traj = derive(GD(), L)
        T = 1.5 * traj.learning_time(0.99 * s.min(), s=float(s.min()), u0=u0)
        t = np.linspace(0.0, T, 200)

        def split(y):
            out, k = [], 0
            for shp, size in zip(shapes, sizes):
                out.append(y[k:k + size].reshape(shp))
                k += size
            return out

        def rhs(_t, y):
            Ws = split(y)
            prods = [np.eye(Ws[0].shape[1])]
            for W in Ws:                                    # W_i ⋯ W_1
                prods.append(W @ prods[-1])
            R = S - prods[-1]                               # whitened input: Σ_xx = I
            grads, left = [], np.eye(Ws[-1].shape[0])
            for i in range(L - 1, -1, -1):                  # W_L ⋯ W_{i+2}
                grads.append((left.T @ R @ prods[i].T).ravel())
                left = left @ Ws[i]
            return np.concatenate(grads[::-1])

        y0 = np.concatenate([w.ravel() for w in weights])
        first = _cold_first_call(L, T)
        warm, u = timed(lambda: traj.evaluate(t, s=s, u0=u0), 21)
        for rtol, atol in ((1e-10, 1e-12), (1e-13, 1e-15)):
            if quick and rtol < 1e-10:
                continue
            base, sol = timed(lambda: solve_ivp(rhs, (0.0, T), y0, method="DOP853", rtol=rtol, atol=atol, t_eval=t),
                              max(1, min(3, repeat // 2)) if rtol >= 1e-10 else 1)
            diag = np.empty((n, t.size))
            for k in range(t.size):
                Ws = split(sol.y[:, k])
                W = Ws[0]
                for Wi in Ws[1:]:
                    W = Wi @ W
                diag[:, k] = np.diag(U.T @ W @ Vt.T)
            agree = float(np.max(np.abs(diag - u)) / s.max())
            print(f"| {L} | {fmt(warm)} | {first * 1e3:.3g} | {rtol:g} | {fmt(base, 1)} ({sol.nfev} evaluations) | "
                  f"{agree:.2g} | **{base[0] / warm[0]:.0f}** |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no Radau and no rtol-1e-13 full-matrix run")
    ap.add_argument("--repeat", type=int, default=5, help="runs per timing (median and range reported)")
    ap.add_argument("--rows", default="4,5,6,7,8", help="comma-separated rows of the issue's table")
    args = ap.parse_args()
    repeat = 3 if args.quick and args.repeat == 5 else args.repeat
    rows = {"4": row4, "5": row5, "6": row6, "7": row7, "8": row8}
    print(f"numpy {np.__version__}, BLAS threads pinned to {os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"load average {os.getloadavg()[0]:.2f} at start")
    for r in args.rows.split(","):
        start = time.perf_counter()
        rows[r.strip()](repeat, args.quick)
        print(f"\n(row {r.strip()}: {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
