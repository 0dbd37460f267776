"""Two grids run by `lindyn.sweep` (a local Dask cluster when Dask is installed); one figure per sweep from its table.

    python derivations/sweeps.py OUTDIR

writes into OUTDIR
  saxe2014_depth.sweep/         examples/saxe2014_depth.toml: `lindyn discrete` at 6 depths x 20 learning rates
                                (Saxe et al. 2014, Fig. 4): results.csv, results.json, points/;
  saxe2014_depth_sweep.png      steps until |u − s| <= 0.1 s for good, against the rate, one curve per depth:
                                the derived map and the full matrices (two panels, from the table);
  integrate_rules.sweep/        examples/integrate_rules.toml: `lindyn integrate` for 4 rules x 6 depths;
  trajectory_rules.sweep/       the same grid with task "trajectory" (the derived closed form);
  integrate_rules_sweep.png     u(t = 1) of both modes against depth per rule (full matrices: markers; derived:
                                lines) and the largest difference between the two tables' rows.

Rerunning with the same OUTDIR skips the points already done (the sweeps resume).
"""
from __future__ import annotations

import dataclasses
import math
import pathlib
import sys

from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.claims import Plot
from lindyn.sweep import Grid, load_grid, read_table, sweep, sweep_plot

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
#: A difference of exactly 0 is drawn at this floor on the log axis.
FLOOR = 1e-17


def saxe(out: pathlib.Path) -> str:
    """The depth x learning-rate grid and its figure; returns a summary."""
    task, grid = load_grid(EXAMPLES / "saxe2014_depth.toml")
    result = sweep(task, grid, out=out / "saxe2014_depth.sweep", full=False)
    rows = read_table(result.table)
    panels = [sweep_plot(rows, "lr", col, by="depth", xscale="log", yscale="log", style="o", name=f"saxe_{col}",
                         title=f"{what}: steps to learn, GD from u0 = 0.01 (Saxe et al. 2014, Fig. 4)",
                         xlabel="learning rate", ylabel="steps until |u − s| <= 0.1 s for good")
              for col, what in (("settle_1", "derived map"), ("settle_matrix_1", "full matrices"))]
    draw(panels, out / "saxe2014_depth_sweep.png")
    best = {}
    for row in rows:
        if row["settle_1"] is not None and (row["depth"] not in best or row["settle_1"] < best[row["depth"]][1]):
            best[row["depth"]] = (row["lr"], row["settle_1"])
    text = ", ".join(f"L = {d}: {n} at {lr:g}" for d, (lr, n) in sorted(best.items()))
    return (f"saxe2014 depth x rate: {result.points} points ({result.done} run, {result.skipped} resumed, "
            f"{result.failed} failed) in {result.seconds:.0f} s; fewest steps {text}")


def integrate_vs_derived(out: pathlib.Path) -> str:
    """The integrate grid, the same grid derived in closed form, and the figure of both; returns a summary."""
    task, grid = load_grid(EXAMPLES / "integrate_rules.toml")
    matrix = sweep(task, grid, out=out / "integrate_rules.sweep")
    closed = Grid(grid.axes, {k: v for k, v in grid.fixed.items() if k not in ("width", "seed")},
                  name="trajectory-rules-depths", description="the derived closed form on the integrate grid")
    derived = sweep("trajectory", closed, out=out / "trajectory_rules.sweep")
    rows_m, rows_d = read_table(matrix.table), read_table(derived.table)
    by_point = {(r["rule"], r["depth"]): r for r in rows_d}
    joined = []
    for r in rows_m:
        d = by_point.get((r["rule"], r["depth"]))
        if r["status"] != "done" or d is None or d["status"] != "done":
            continue
        diff = max(abs(r[f"u_final_{m}"] - d[f"u_final_{m}"]) for m in (1, 2))
        joined.append({"rule": r["rule"], "depth": r["depth"], "difference": max(diff, FLOOR), "status": "done"})
    strengths = []          # lines: derived (labelled by rule); markers: full matrices (same colour, no label)
    for m, line in ((1, "-"), (2, "--")):
        derived_m = sweep_plot(rows_d, "depth", f"u_final_{m}", by="rule", style=line)
        matrix_m = sweep_plot(rows_m, "depth", f"u_final_{m}", by="rule", style="o")
        strengths += [dataclasses.replace(c, label=c.label if m == 1 else "") for c in derived_m.curves]
        strengths += [dataclasses.replace(c, label="") for c in matrix_m.curves]
    left = Plot("integrate_rules_u", "u(1) of modes s = 3 (solid), s = 1 (dashed): derived; markers: matrices",
                "depth L", "u at t = 1 from u0 = 0.05", tuple(strengths))
    right = sweep_plot(joined, "depth", "difference", by="rule", yscale="log", style="o", name="integrate_rules_diff",
                       title="Full matrices vs derived closed form", xlabel="depth L",
                       ylabel="max over modes |u_matrix(1) − u_derived(1)|")
    draw([left, right], out / "integrate_rules_sweep.png", legend_outside=False)
    worst = max((j["difference"] for j in joined), default=math.nan)
    return (f"integrate rules x depths: {matrix.points} points ({matrix.done} run, {matrix.skipped} resumed, "
            f"{matrix.failed} failed); largest |matrix − derived| at t = 1: {worst:.1e}")


def write(out: pathlib.Path) -> str:
    """Run both sweeps into `out` and draw their figures; return a summary line."""
    return "sweeps: " + saxe(out) + "; " + integrate_vs_derived(out)


if __name__ == "__main__":
    sys.exit(run("sweeps", write))
