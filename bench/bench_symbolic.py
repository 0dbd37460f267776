"""Benchmark of the symbolic engine (issue 4): ratios measured in one run, never a timed test.

Goals:
  1. derive every built-in rule (gd, ngd, blockdiag, kfac, bernacchia) at L = 2..10 — ODE,
     solution and conserved quantities — in less total time than sympy's `dsolve` on GD at L = 3;
  2. repeated derivations from the cache in < 1 s;
  3. u(t) of L = 3 GD at 10^6 points with relative error <= 1e-14, at a throughput >= that of
     `solve_ivp` dense output on the scalar ODE (rtol 1e-10), and >= 300x faster than full-matrix
     integration of a width-128, L = 3 network on the same time grid (`lindyn.integrate`).

Run: `python bench/bench_symbolic.py [--quick]` (prints one JSON object; --quick skips dsolve and
the full-matrix run, which take tens of seconds).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import sys
import time

import numpy as np


def _dsolve_gd3(queue: "mp.Queue") -> None:
    import sympy
    t = sympy.Symbol("t")
    s = sympy.Symbol("s", positive=True)
    u = sympy.Function("u")
    t0 = time.perf_counter()
    try:
        sympy.dsolve(sympy.Eq(u(t).diff(t), 3 * u(t) ** sympy.Rational(4, 3) * (s - u(t))))
        queue.put(time.perf_counter() - t0)
    except Exception as err:  # pragma: no cover
        queue.put(f"{type(err).__name__}: {err}")


def time_dsolve(timeout: float = 60.0) -> float | str:
    """Seconds sympy's dsolve needs for τ u̇ = 3 u^{4/3} (s − u) (fresh process, no lindyn)."""
    q: mp.Queue = mp.Queue()
    p = mp.Process(target=_dsolve_gd3, args=(q,))
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.terminate()
        p.join()
        return f"> {timeout:.0f} s (timed out)"
    return q.get()


def time_derivations() -> dict[str, float]:
    """Total time to derive all built-in rules at L = 2..10 (fresh caches), then cached."""
    import sympy

    from lindyn import derive
    from lindyn.rules import rule_from_name, RULE_NAMES

    rules = [rule_from_name(n) for n in RULE_NAMES]
    t0 = time.perf_counter()
    forms = {}
    for r in rules:
        for L in range(2, 11):
            traj = derive(r, L)
            forms[(r.name, L)] = traj.form
            _ = traj.conserved
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in rules:
        for L in range(2, 11):
            derive(r, L)
    cached = time.perf_counter() - t0
    from fractions import Fraction
    q = sympy.Symbol("q", positive=True)
    extra = [rule_from_name(n, qq) for n in ("ngd", "blockdiag") for qq in (Fraction(1, 4), Fraction(1, 2), Fraction(3, 4))]
    from lindyn import NGD, BlockNGD
    extra += [NGD(q=q), BlockNGD(q=q)]
    t0 = time.perf_counter()
    for r in extra:
        for L in range(2, 11):
            forms[(r.name, L)] = derive(r, L).form
    powers = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in rules + extra[:3]:
        for L in (2, 3, 4):
            forms[(r.name, L, "unbalanced")] = derive(r, L, gains="unbalanced").form
    unbalanced = time.perf_counter() - t0
    from lindyn import NoModeDecomposition, bernacchia, kfac
    t0 = time.perf_counter()
    for r in (kfac(1), kfac(Fraction(1, 4)), bernacchia(1), kfac(sympy.Symbol("gamma", positive=True))):
        for L in (2, 3):          # damped block rules reduce at L = 2 (λ = 1) and not at L = 3
            try:
                forms[(r.name, L, "damped")] = derive(r, L).form
            except NoModeDecomposition:
                forms[(r.name, L, "damped")] = "no reduction"
    damped = time.perf_counter() - t0
    counts: dict[str, int] = {}
    for f in forms.values():
        counts[f] = counts.get(f, 0) + 1
    return {"builtin_L2_10_s": first, "builtin_cached_s": cached, "q_family_L2_10_s": powers,
            "unbalanced_L2_4_s": unbalanced, "damped_L2_3_s": damped, "forms": counts}


def time_evaluation(n: int = 10 ** 6, check: int = 200) -> dict[str, float]:
    """Throughput and accuracy of L = 3 GD u(t) at n points vs solve_ivp dense output."""
    import mpmath
    from scipy.integrate import solve_ivp

    from lindyn import GD, derive

    traj = derive(GD(), 3)
    t = np.linspace(0.0, 40.0, n)
    traj.evaluate(t[:10], s=1.0, u0=1e-3)               # warm the lambdified functions
    # best of 5, interleaved, since the machine is shared
    ours, ivp = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        u = traj.evaluate(t, s=1.0, u0=1e-3)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sol = solve_ivp(lambda _t, y: 3 * y ** (4 / 3) * (1 - y), (0, 40.0), [1e-3], method="DOP853",
                        rtol=1e-10, atol=1e-14, dense_output=True)
        u_ivp = sol.sol(t)[0]
        ivp.append(time.perf_counter() - t0)
    ours, ivp = min(ours), min(ivp)
    f = traj.lambdify("mpmath")
    idx = np.random.default_rng(0).choice(n, check, replace=False)
    with mpmath.workdps(40):
        ref = np.array([float(f(mpmath.mpf(t[i]), s=1, u0=mpmath.mpf("0.001"), dps=40)) for i in idx])
    return {"points": n, "ours_s": ours, "ours_points_per_s": n / ours, "ours_max_rel_err": float(np.max(np.abs(u[idx] / ref - 1))),
            "solve_ivp_dense_s": ivp, "solve_ivp_points_per_s": n / ivp,
            "solve_ivp_max_rel_err": float(np.max(np.abs(u_ivp[idx] / ref - 1))),
            "ratio_ours_vs_solve_ivp": ivp / ours, "_t": t, "_ours": ours}


def time_matrix(n: int = 2000, width: int = 128) -> dict[str, float]:
    """Full-matrix integration of a width-128, L = 3 network (one aligned mode, 1 -> 128 -> 128 -> 1)
    vs the derived u(t), both on the same grid of n times in [0, 40] (u from 1e-3 to 1 - 1e-9).

    The integrator stores every weight at every requested time (16.6k numbers per time), so the
    grid is n = 2000 here, not 10^6 (10^6 would need ~130 GB); the derived side at 10^6 points is
    measured in `time_evaluation`.
    """
    from lindyn import GD, Flow, aligned_problem, derive, integrate

    t = np.linspace(0.0, 40.0, n)
    prob = aligned_problem(s=[1.0], depth=3, u0=1e-3, width=width)
    t0 = time.perf_counter()
    num = integrate(prob, GD(), t, method=Flow(rtol=1e-10, atol=1e-12))
    matrix = time.perf_counter() - t0
    traj = derive(GD(), 3)
    traj.evaluate(t[:5], s=1.0, u0=1e-3)
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        u = traj.evaluate(t, s=1.0, u0=1e-3)
    ours = (time.perf_counter() - t0) / reps
    return {"matrix_width": width, "matrix_points": n, "matrix_s": matrix, "ours_same_grid_s": ours,
            "ratio_matrix_vs_ours": matrix / ours,
            "matrix_vs_derived_max_abs": float(np.max(np.abs(np.asarray(num.u)[0] - u)))}


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    out: dict[str, object] = {}
    if not quick:
        out["dsolve_gd_L3_s"] = time_dsolve()
        print("dsolve", out["dsolve_gd_L3_s"], file=sys.stderr)
    out.update(time_derivations())
    print("derivations done", file=sys.stderr)
    ev = time_evaluation()
    ev.pop("_t"), ev.pop("_ours")
    out.update(ev)
    print("evaluation done", file=sys.stderr)
    if not quick:
        out.update(time_matrix())
    if isinstance(out.get("dsolve_gd_L3_s"), float):
        out["ratio_dsolve_vs_all_builtin"] = out["dsolve_gd_L3_s"] / out["builtin_L2_10_s"]
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
