"""`lindyn sweep GRID.toml [--scheduler ADDRESS] [--out DIR] [--json]`: a grid of lindyn commands on Dask.

    lindyn sweep examples/saxe2014_depth.toml --out saxe.sweep            # local Dask cluster (one worker per core)
    lindyn sweep examples/saxe2014_depth.toml --scheduler tcp://host:8786  # an existing Dask cluster

The grid file names a subcommand (`task = "integrate"`, "trajectory", "learning-time", "discrete",
"verify") and its options: a `[grid]` table of lists (the sweep is their product), a `[fixed]` table
and optional `[[points]]` (see `lindyn.sweep.load_grid`). Each point runs `lindyn TASK ... --json`
in-process on a Dask worker. Writes DIR/points/<key>.json (one record per point, as it finishes),
DIR/results.csv (one row per point) and DIR/results.json (the grid, column types, counts); a rerun
with the same DIR skips the points already done. Progress (points done / total, rate, ETA) goes to
stderr; `--json` prints {"points", "done", "failed", "skipped", "results"} (counts and the table's
path). Exit status 0 when every point is done, 1 when some point failed (its error is in the table),
2 on bad input, 130 on Ctrl-C (finished points stay on disk: rerun to resume).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

from ..cli import check_int, fail


def register(subparsers: Any) -> None:
    """Add the `sweep` subcommand."""
    p = subparsers.add_parser(
        "sweep", help="run a grid of lindyn commands from a TOML file, on Dask (resumable; CSV table)",
        description="Run a lindyn subcommand at every point of a grid (a TOML file: task, [grid] lists whose "
                    "product is swept, [fixed] options) on a local Dask cluster or an existing one, and write "
                    "one table row per point (CSV with a JSON sidecar). Rerunning skips finished points.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""example grid file (saxe.toml):
  task = "discrete"
  [grid]
  depth = [2, 4, 9, 19]
  lr = [0.01, 0.03, 0.1, 0.3]
  [fixed]
  rule = "gd"
  s = 1
  u0 = 0.01
  steps = 3000

  lindyn sweep saxe.toml --out saxe.sweep                       local Dask cluster
  dask scheduler & dask worker tcp://HOST:8786 --nworkers 2 --nthreads 1 &
  lindyn sweep saxe.toml --scheduler tcp://HOST:8786            an existing cluster""")
    p.add_argument("grid", metavar="GRID.toml", help="the grid file")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://host:8786 (default: start a local Dask "
                        "cluster with one single-threaded worker process per core; without Dask installed, run "
                        "serially); 'serial' runs every point in this process")
    p.add_argument("--out", metavar="DIR", help="results directory, created if missing (default: GRID's name with "
                                                "'.sweep' in the current directory); rerun with the same DIR to resume")
    p.add_argument("--workers", help="worker processes of the local cluster, >= 1 (default: the number of cores)")
    p.add_argument("--retries", default="2",
                   help="resubmissions of a point whose workers died, >= 0 (default 2); a point that raises is "
                        "recorded as failed at once")
    p.add_argument("--summary-only", action="store_true",
                   help="keep only the table's columns in the per-point records, not the complete outputs")
    p.add_argument("--json", action="store_true", help='print {"points", "done", "failed", "skipped", "results"}')
    p.set_defaults(handler=run)


def _int(text: str | None, name: str, minimum: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise fail(name, f"an integer >= {minimum}", text) from None
    return check_int(value, name, minimum=minimum)


def run(args: argparse.Namespace) -> int:
    """Handler of `lindyn sweep`."""
    from ..sweep import load_grid, sweep

    # === check arguments
    task, grid = load_grid(args.grid)
    workers = _int(args.workers, "workers", 1)
    retries = _int(args.retries, "retries", 0)
    if workers is not None and args.scheduler not in (None, "local"):
        raise fail("workers", "given only for the local cluster (not with --scheduler)", args.workers)
    out = pathlib.Path(args.out) if args.out is not None else pathlib.Path(pathlib.Path(args.grid).stem + ".sweep")
    try:
        result = sweep(task, grid, out=out, scheduler=args.scheduler, workers=workers, retries=retries,
                       full=not args.summary_only)
    except KeyboardInterrupt:
        print(f"lindyn sweep: interrupted; the finished points are in {out} (rerun the same command to resume)",
              file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"lindyn sweep: {result.points} points of {result.task}: {result.done} done, {result.failed} failed, "
              f"{result.skipped} skipped (done before) in {result.seconds:.1f} s; table {result.table}")
    if result.failed:
        failed = [r for r in result.records if r["status"] == "failed"]
        for r in failed[:3]:
            print(f"lindyn sweep: point {r['key']} {json.dumps(r['params'])} failed: {r['error']}", file=sys.stderr)
        if len(failed) > 3:
            print(f"lindyn sweep: ... and {len(failed) - 3} more failed points (column `error` of the table)",
                  file=sys.stderr)
        return 1
    return 0
