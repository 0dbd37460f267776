"""Benchmark: online natural gradient (Bernacchia et al. 2018) vs SGD per step, and the linear experiment's epochs (issue 11).

    python bench/bench_online.py              # (a) and (b), 5 runs each (~2 min on the shared 2-core machine)
    python bench/bench_online.py --quick      # 3 runs each
    python bench/bench_online.py --profile    # also cProfile one NG run at the batch with the largest ratio

(a) One NG step vs one SGD step on the SAME minibatch size b ∈ {20, 100, 500, 1000}, on the digits autoencoder
    64-48-32-16-8-16-32-48-64 (tanh hidden, linear output, biases; `lindyn.papers.bernacchia2018_autoencoder`,
    student `random_net(network, 0)`):
    - NG = `bernacchia(LevenbergMarquardt(1.0), SampledFisher())` under `Stochastic(lr=1, batch=b)`: forward and
      backward pass, one sampled back-propagation for the output factors, the two factor inverses per layer,
      and the damping adaptation's extra forward pass on the minibatch (ℓ_B(θ + Δ) for the reduction ratio);
    - NG, fixed λ = 1 (`bernacchia(1.0, SampledFisher())`): the same without the adaptation (no extra pass);
    - SGD = `GD()` under `Stochastic(lr=0.08/b, batch=b)` (the paper's α = 0.08, their lr = α/b).
    Each run is `integrate` over STEPS steps with one record at the end; the time per step is the run's
    `wall_time` (seconds spent stepping, recording and set-up excluded) / STEPS. The three arms alternate within
    each of R repetitions; reported: median per-step time [min–max] and the ratio of medians NG / SGD with the
    [min–max] of the per-repetition ratios. Goal (the paper's "computational simplicity"): ratio <= 3.
(b) The linear experiment (`bernacchia_linear_task()`: input 20, 16 layers of width 20 with biases, 10,000
    training examples; student `random_net(network, 1)`): 40 epochs of NG (`bernacchia(LevenbergMarquardt(0.01),
    SampledFisher())`, batch 1000, lr 1: 400 steps) in seconds, whole `integrate` call (goal < 60 s), against
    40 epochs of lindyn SGD on the same data: batch 20 at the paper's α = 0.02 (lr 0.001, 20,000 steps) and
    batch 1000 (lr 0.02/1000, 400 steps, the same minibatch as NG). Final test errors are printed for sanity.

Rules: one BLAS thread (OPENBLAS/OMP/MKL_NUM_THREADS=1 unless set by the caller); every arm in one process;
median and range of R runs; favourable (large batch: the products dominate) and unfavourable (small batch:
the per-step factor inversions and Python overhead dominate) cases both reported. Never used as a timed test.
"""
from __future__ import annotations

import os

# One BLAS thread unless the caller says otherwise: on the shared 2-core machine a second BLAS thread
# competing with other work made the NG step on 64 x 500 products ~100x slower.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from lindyn import (GD, GivenWeights, LevenbergMarquardt, Problem, SampledFisher, Stochastic,  # noqa: E402
                    bernacchia, bernacchia_linear_task, integrate, random_net)
from lindyn.papers.bernacchia2018_autoencoder import autoencoder_data, autoencoder_network  # noqa: E402

STEPS = 200
BATCHES = (20, 100, 500, 1000)
SGD_ALPHA = 0.08
LINEAR_EPOCHS = 40


def stat(xs):
    """(median, min, max)."""
    return float(np.median(xs)), float(min(xs)), float(max(xs))


def fmt(s, scale=1e3, digits=3):
    med, lo, hi = s
    return f"{med * scale:.{digits}g} [{lo * scale:.{digits}g}–{hi * scale:.{digits}g}]"


def step_time(problem, rule, method, steps=STEPS):
    """Seconds per step spent stepping (the trajectory's wall_time), over `steps` steps, one record at the end."""
    traj = integrate(problem, rule, [steps * method.lr], method=method)
    done = steps if traj.stopped_at is None else int(round(traj.stopped_at / method.lr))
    if traj.stopped_at is not None:
        print(f"    note: {rule.name} at batch {method.batch} diverged after {done} steps (timed up to there)")
        return float("nan")
    return float(traj.wall_time[-1]) / done


def autoencoder_arms(b):
    return {
        "NG (LM-adapted λ)": (bernacchia(LevenbergMarquardt(1.0), SampledFisher()), Stochastic(lr=1.0, batch=b, seed=0,
                                                                                            on_failure="stop")),
        "NG (fixed λ = 1)": (bernacchia(1.0, SampledFisher()), Stochastic(lr=1.0, batch=b, seed=0, on_failure="stop")),
        "SGD": (GD(), Stochastic(lr=SGD_ALPHA / b, batch=b, seed=0, on_failure="stop")),
    }


def part_a(repeat):
    train, _ = autoencoder_data()
    net = autoencoder_network()
    problem = Problem(net, train, GivenWeights(random_net(net, 0)))
    rows, worst = [], (0.0, None)
    print(f"(a) autoencoder {'-'.join(map(str, net.widths))}, {STEPS} steps per run, {repeat} alternating runs")
    for b in BATCHES:
        arms = autoencoder_arms(b)
        times = {name: [] for name in arms}
        for name, (rule, method) in arms.items():          # warm-up (imports, caches)
            step_time(problem, rule, method, steps=5)
        for _ in range(repeat):
            for name, (rule, method) in arms.items():
                times[name].append(step_time(problem, rule, method))
        sgd = np.array(times["SGD"])
        row = {"batch": b, "sgd": stat(sgd)}
        for name in ("NG (LM-adapted λ)", "NG (fixed λ = 1)"):
            ng = np.array(times[name])
            row[name] = (stat(ng), float(np.median(ng) / np.median(sgd)), stat(ng / sgd))
        rows.append(row)
        ratio = row["NG (LM-adapted λ)"][1]
        if ratio > worst[0]:
            worst = (ratio, b)
        print(f"  b = {b}: SGD {fmt(row['sgd'])} ms; NG {fmt(row['NG (LM-adapted λ)'][0])} ms (ratio {ratio:.2f}); "
              f"NG fixed λ {fmt(row['NG (fixed λ = 1)'][0])} ms (ratio {row['NG (fixed λ = 1)'][1]:.2f})", flush=True)
    print("\n| minibatch | SGD step (ms) | NG step (ms) | NG / SGD [range] | NG fixed λ (ms) | fixed λ / SGD [range] | goal <= 3 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ng, r, rr = row["NG (LM-adapted λ)"]
        nf, rf, rrf = row["NG (fixed λ = 1)"]
        print(f"| {row['batch']} | {fmt(row['sgd'])} | {fmt(ng)} | **{r:.2f}** [{rr[1]:.2f}–{rr[2]:.2f}] | {fmt(nf)} | "
              f"{rf:.2f} [{rrf[1]:.2f}–{rrf[2]:.2f}] | {'yes' if r <= 3 else 'no'} |")
    return problem, worst


def part_b(repeat):
    task = bernacchia_linear_task()
    W0 = random_net(task.network, 1)
    problem = Problem(task.network, task.train, GivenWeights(W0))
    n = task.train.X.shape[1]
    runs = {
        "NG, batch 1000, lr 1": (bernacchia(LevenbergMarquardt(0.01), SampledFisher()), Stochastic(lr=1.0, batch=1000)),
        "SGD, batch 20, α = 0.02 (lr 0.001)": (GD(), Stochastic(lr=0.02 / 20, batch=20, on_failure="stop")),
        "SGD, batch 1000, α = 0.02 (lr 2e-5)": (GD(), Stochastic(lr=0.02 / 1000, batch=1000, on_failure="stop")),
    }
    print(f"\n(b) linear task: widths {task.network.widths[0]} x {task.network.depth} layers, {n} training examples, "
          f"{LINEAR_EPOCHS} epochs, {repeat} alternating runs")
    totals = {name: [] for name in runs}
    stepping = {name: [] for name in runs}
    finals = {}
    for _ in range(repeat):
        for name, (rule, method) in runs.items():
            t = method.samples_to_t([LINEAR_EPOCHS * n])
            t0 = time.perf_counter()
            traj = integrate(problem, rule, t, method=method)
            totals[name].append(time.perf_counter() - t0)
            stepping[name].append(float(traj.wall_time[-1]))
            finals[name] = (float(traj.loss_on(task.test)[-1]), traj.stopped_at)
    ng = "NG, batch 1000, lr 1"
    print("\n| run | steps | whole integrate (s) | stepping (s) | NG / this (whole) | final test error |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (rule, method) in runs.items():
        steps = LINEAR_EPOCHS * n // method.batch
        ratio = np.median(totals[ng]) / np.median(totals[name])
        err, stopped = finals[name]
        print(f"| {name} | {steps} | {fmt(stat(totals[name]), 1, 3)} | {fmt(stat(stepping[name]), 1, 3)} | "
              f"{ratio:.2f} | {err:.3g}{' (diverged)' if stopped is not None else ''} |")
    print(f"noise floor of the test error: {task.noise_floor:.3g}; goal: NG 40 epochs < 60 s: "
          f"{'met' if np.median(totals[ng]) < 60 else 'NOT met'}")


def profile(problem, batch):
    rule, method = autoencoder_arms(batch)["NG (LM-adapted λ)"]
    prof = cProfile.Profile()
    prof.enable()
    integrate(problem, rule, [STEPS * method.lr], method=method)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
    print(f"\ncProfile: {STEPS} NG steps at batch {batch} (sorted by own time)\n" + out.getvalue())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 5")
    parser.add_argument("--profile", action="store_true", help="cProfile NG at the batch with the largest ratio")
    parser.add_argument("--only", choices=("a", "b"), help="run one part only")
    args = parser.parse_args()
    repeat = 3 if args.quick else 5
    print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.only in (None, "a"):
        problem, (ratio, batch) = part_a(repeat)
        if args.profile and batch is not None:
            profile(problem, batch)
    if args.only in (None, "b"):
        part_b(3 if args.quick else repeat)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
