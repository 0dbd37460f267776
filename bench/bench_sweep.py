"""Benchmark: a 40-point integration grid on a 2-worker Dask LocalCluster vs serially, and the per-task overhead.

    python bench/bench_sweep.py                  # width 24, best of 2 alternating runs (~2 min on 2 cores)
    python bench/bench_sweep.py --width 16 --repeat 1

Grid (`lindyn.sweep`, task "integrate", the command `lindyn integrate --json` in-process per point):
rule ∈ {gd, ngd} x depth ∈ {2, 3, 4, 6, 8} x seed ∈ {0, 1, 2, 3} = 40 points; four modes s = 4, 3, 2, 1
from u0 = 0.01 (aligned), hidden width --width, DOP853 to t = 10. Serial: `sweep(..., scheduler="serial")`
in this process; Dask: a LocalCluster of 2 single-threaded worker processes, started and warmed up
(lindyn imported, one point run on each worker) before the timing, as the serial side is warmed up by
one point. BLAS is pinned to one thread here and in the workers. Reports the wall times, the speed-up,
the sums of per-point wall and CPU times, the workers' occupancy (point wall time / (2 x sweep wall
time)), the speed-up two free cores would give (serial CPU time / (Dask CPU time / (2 x occupancy)): on
a machine shared with other work the wall-clock ratio measures the other load as much as the
scheduler), the largest difference between the two runs' rows, and the per-task overhead:
raw Dask (`client.map` of a no-op, then gather) and `lindyn.sweep` of a no-op function (with and
without the per-point records on disk, and serially). Not a test.
"""
from __future__ import annotations

import os

# One BLAS thread, in this process and (through the environment) in the workers; dask's nanny sets the
# same variables in its workers (distributed.nanny.pre-spawn-environ).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from lindyn.sweep import Grid, sweep  # noqa: E402


def noop(x: int) -> dict:
    """A point that does nothing: what is left is the scheduler's and the sweep's cost per task."""
    return {"y": x}


def grid(width: int) -> Grid:
    """The 40-point integration grid."""
    return Grid({"rule": ["gd", "ngd"], "depth": [2, 3, 4, 6, 8], "seed": [0, 1, 2, 3]},
                fixed={"s": [4, 3, 2, 1], "u0": 0.01, "t": [1, 2, 5, 10], "width": width})


def largest_difference(a, b) -> float:
    """max |x − y| / max(|y|, 1e-300) over the u_final and loss_final columns of two runs' rows."""
    worst = 0.0
    for ra, rb in zip(a.rows, b.rows):
        assert ra["key"] == rb["key"] and ra["status"] == rb["status"] == "done", (ra, rb)
        for col in ("u_final_1", "u_final_2", "u_final_3", "u_final_4", "loss_final"):
            worst = max(worst, abs(ra[col] - rb[col]) / max(abs(rb[col]), 1e-300))
    return worst


def main() -> None:
    """Run the comparison and print the numbers (markdown rows for bench/README.md)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=2, help="alternating serial / Dask runs; the best is kept")
    parser.add_argument("--tasks", type=int, default=400, help="no-op tasks for the overhead")
    parser.add_argument("--overhead-only", action="store_true", help="skip the integration grid")
    args = parser.parse_args()
    import distributed

    g = grid(args.width)
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores, shared)")
    sweep("integrate", {"depth": [2]}, fixed={**g.fixed, "rule": "ngd", "seed": 0}, scheduler="serial")   # warm-up
    start = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    startup = time.perf_counter() - start
    print(f"LocalCluster(2 workers) start: {startup:.2f} s; worker BLAS threads: "
          f"{sorted(set(client.run(lambda: os.environ.get('OPENBLAS_NUM_THREADS')).values()))}")
    sweep("integrate", {"seed": [0, 1]}, fixed={**g.fixed, "rule": "ngd", "depth": 2}, scheduler=client)  # warm-up

    serial_times, dask_times, ratios, busy_fraction, estimates, serial, dask = [], [], [], [], [], None, None
    for k in range(0 if args.overhead_only else args.repeat):
        serial = sweep("integrate", g, scheduler="serial")
        serial_times.append(serial.seconds)
        dask = sweep("integrate", g, scheduler=client)
        dask_times.append(dask.seconds)
        ratios.append(serial.seconds / dask.seconds)
        busy = sum(r["seconds"] for r in dask.records)
        busy_fraction.append(busy / (2 * dask.seconds))     # share of the 2 workers' wall time spent in points
        cpu_s, cpu_d = (sum(r["cpu_seconds"] for r in x.records) for x in (serial, dask))
        # On two free cores the serial wall time is its CPU time, and the Dask wall time is half the points'
        # CPU time over the measured occupancy: the speed-up the machine would give without the other load.
        estimates.append(cpu_s / (cpu_d / (2 * busy_fraction[-1])))
        print(f"run {k + 1}: serial {serial.seconds:.2f} s, 2 workers {dask.seconds:.2f} s "
              f"(speed-up {ratios[-1]:.2f}x); sum of point wall / CPU times: serial "
              f"{sum(r['seconds'] for r in serial.records):.2f} / {cpu_s:.2f} s, Dask {busy:.2f} / {cpu_d:.2f} s "
              f"(workers busy {100 * busy_fraction[-1]:.0f}% of the wall time; on 2 free cores "
              f"{estimates[-1]:.2f}x); load {os.getloadavg()[0]:.2f}")
    if args.overhead_only:
        serial = dask = sweep("integrate", {"seed": [0]}, fixed={**g.fixed, "rule": "gd", "depth": 2},
                              scheduler="serial")
        serial_times, dask_times, ratios, busy_fraction, estimates = ([math.nan] for _ in range(5))
    assert serial is not None and dask is not None and serial.done == dask.done
    best_s, best_d = min(serial_times), min(dask_times)
    diff = largest_difference(dask, serial)
    print(f"best: serial {best_s:.2f} s, 2 workers {best_d:.2f} s, ratio of the bests {best_s / best_d:.2f}x; "
          f"paired speed-ups {', '.join(f'{r:.2f}x' for r in ratios)}; workers busy "
          f"{', '.join(f'{100 * b:.0f}%' for b in busy_fraction)}; largest relative difference between the "
          f"runs' rows {diff:.1e}")

    # --- per-task overhead
    n = args.tasks
    client.gather(client.map(noop, range(20), pure=False))     # warm-up
    start = time.perf_counter()
    client.gather(client.map(noop, range(n), pure=False))
    raw = (time.perf_counter() - start) / n
    start = time.perf_counter()
    sweep(noop, {"x": list(range(n))}, scheduler=client)
    lindyn_mem = (time.perf_counter() - start) / n
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sweep(noop, {"x": list(range(n))}, scheduler=client, out=tmp)
        lindyn_disk = (time.perf_counter() - start) / n
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sweep(noop, {"x": list(range(n))}, scheduler="serial", out=tmp)
        serial_disk = (time.perf_counter() - start) / n
    print(f"per-task overhead ({n} no-op tasks, 2 workers): raw Dask map+gather {1e3 * raw:.2f} ms; "
          f"lindyn.sweep {1e3 * lindyn_mem:.2f} ms (no records), {1e3 * lindyn_disk:.2f} ms (records + table on "
          f"disk); serial sweep with records {1e3 * serial_disk:.2f} ms")
    print("\n| width | serial (s) | 2 workers (s) | speed-up (bests) | paired | workers busy | on 2 free cores | "
          "cluster start (s) | raw Dask / task (ms) | sweep / task (ms) | sweep + disk / task (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {args.width} | {best_s:.2f} | {best_d:.2f} | {best_s / best_d:.2f}x | "
          f"{'/'.join(f'{r:.2f}' for r in ratios)} | {'/'.join(f'{100 * b:.0f}%' for b in busy_fraction)} | "
          f"{'/'.join(f'{e:.2f}' for e in estimates)} | "
          f"{startup:.1f} | {1e3 * raw:.2f} | {1e3 * lindyn_mem:.2f} | {1e3 * lindyn_disk:.2f} |")
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
