"""`lindyn.sweep` and `lindyn sweep`: grids of lindyn calls on a 2-process Dask LocalCluster and serially.

Oracles: a serial run in this process (same rows as the cluster), the derived closed form
(`trajectory` rows vs `integrate` rows), `DiscreteMap.steps_to_settle` (the settle columns of
`discrete`), and invariants of the store (one record and one row per grid point, whatever was
killed or interrupted). The cluster tests need Dask (`pip install "lindyn[sweep]"`) and are skipped
without it; the kill test runs last (it restarts one of the shared cluster's workers).
"""
import json
import logging
import math
import os
import signal
import sys
import time

import pytest

from conftest import DERIVED_VS_MATRIX_ATOL
from lindyn import GD, LindynError
from lindyn.cli import main
from lindyn.discrete import derive_discrete
from lindyn.sweep import (SETTLE_BAND, Grid, load_grid, point_key, read_table, run_point, sweep, sweep_plot)

#: A small integrate grid: 2 rules x 3 depths, two modes, aligned init (each point ~0.05 s).
AXES = {"rule": ["gd", "ngd"], "depth": [1, 2, 3]}
FIXED = {"s": [3, 1], "u0": 0.05, "t": [0.5, 1], "width": 4}
#: Cluster vs serial: the same code on the same inputs with one BLAS thread on both sides; DOP853's
#: step control can react to the last bit, so equality is asked to 1e-12 relative, not bitwise.
SAME_RTOL = 1e-12


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as c:
        yield c


def _close(a, b, rtol=SAME_RTOL):
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y, rtol) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-300)
    return a == b


# --- grids and keys -------------------------------------------------------------------------------

def test_grid_is_the_product_plus_explicit_points_over_fixed():
    g = Grid({"a": [1, 2], "b-c": ["x", "y", "z"]}, fixed={"a": 0, "d": True}, points=[{"a": 9}, {"a": 1, "b_c": "x"}])
    pts = g.expand()
    assert g.shape == (2, 3)
    assert pts[:3] == [{"a": 1, "d": True, "b_c": v} for v in "xyz"]
    assert pts[6] == {"a": 9, "d": True}
    assert len(pts) == 7          # the explicit {a: 1, b_c: x} equals the first product point: run once
    assert g.parameter_names() == ["a", "b_c", "d"]


def test_load_grid_reads_task_axes_fixed_and_points(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('task = "integrate"\ndescription = "d"\n[grid]\ndepth = [1, 2]\nrule = ["gd"]\n'
                    '[fixed]\ns = [3, 1]\nmax-evaluations = 1000\n[[points]]\ndepth = 5\nrule = "ngd"\n')
    task, g = load_grid(path)
    assert task == "integrate" and g.name == "g" and g.description == "d"
    assert g.expand() == [{"s": [3, 1], "max_evaluations": 1000, "depth": 1, "rule": "gd"},
                          {"s": [3, 1], "max_evaluations": 1000, "depth": 2, "rule": "gd"},
                          {"s": [3, 1], "max_evaluations": 1000, "depth": 5, "rule": "ngd"}]


@pytest.mark.parametrize("text, match", [
    ('task = "integrate"\n[grid]\ndepth = 2\n', "grid.depth"),          # an axis must be a list
    ('task = "integrate"\n[grid]\ndepth = []\n', "grid.depth"),
    ('[grid]\ndepth = [2]\n', "task"),
    ('task = "integrate"\nextra = 1\n', "extra"),
    ('task = "integrate"\n[grid\n', "TOML"),
])
def test_bad_grid_files_name_the_key(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(LindynError, match=match):
        load_grid(path)


@pytest.mark.parametrize("task, grid, match", [
    ("integrate", {"depht": [1]}, "grid.depht"),        # not an option of `lindyn integrate`
    ("integrate", {"json": [True]}, "grid.json"),       # the sweep sets --json itself
    ("verify", {"thorough": ["yes"]}, "grid.thorough"),  # a flag takes true/false
    ("nope", {"a": [1]}, "task"),
    ("sweep", {"a": [1]}, "task"),
])
def test_bad_sweeps_fail_before_any_work(task, grid, match):
    with pytest.raises(LindynError, match=match):
        sweep(task, grid, scheduler="serial")


def test_sweep_argument_checks(tmp_path):
    with pytest.raises(LindynError, match="retries"):
        sweep("integrate", AXES, fixed=FIXED, retries=-1, scheduler="serial")
    with pytest.raises(LindynError, match="workers"):
        sweep("integrate", AXES, fixed=FIXED, workers=0)
    with pytest.raises(LindynError, match="workers"):
        sweep("integrate", AXES, fixed=FIXED, workers=2, scheduler="serial")
    (tmp_path / "file").write_text("")
    with pytest.raises(LindynError, match="out"):
        sweep("integrate", AXES, fixed=FIXED, out=tmp_path / "file", scheduler="serial")


def test_key_is_task_parameters_and_version():
    p = {"rule": "gd", "depth": 2}
    assert point_key("integrate", p) == point_key("integrate", dict(reversed(p.items())))
    assert point_key("integrate", p) != point_key("trajectory", p)
    assert point_key("integrate", p) != point_key("integrate", {**p, "depth": 3})
    assert point_key("integrate", p) != point_key("integrate", p, version="0.0.1")


# --- what a point computes --------------------------------------------------------------------------

def test_integrate_rows_agree_with_the_derived_closed_form():
    """Each integrate point (full matrices) against the same point of the trajectory task (closed form)."""
    matrix = sweep("integrate", AXES, fixed=FIXED, scheduler="serial")
    derived = sweep("trajectory", AXES, fixed={k: v for k, v in FIXED.items() if k != "width"}, scheduler="serial")
    assert matrix.done == derived.done == 6
    for a, b in zip(matrix.records, derived.records):
        assert (a["params"]["rule"], a["params"]["depth"]) == (b["params"]["rule"], b["params"]["depth"])
        for ua, ub in zip(a["outputs"]["u"], b["outputs"]["u"]):
            assert max(abs(x - y) for x, y in zip(ua, ub)) <= DERIVED_VS_MATRIX_ATOL
        assert a["summary"]["u_final_1"] == a["outputs"]["u"][0][-1]
        assert a["summary"]["loss_final"] == a["outputs"]["loss"][-1]


def test_discrete_settle_column_is_the_maps_steps_to_settle():
    for depth, lr in ((9, 0.1), (2, 0.3), (19, 0.05), (4, 0.6)):     # settles at 56, 12, ...; the last never
        rec = run_point("discrete", {"rule": "gd", "depth": depth, "s": 1, "u0": 0.01, "lr": lr, "steps": 3000},
                        full=False)
        expected = derive_discrete(GD(), depth).steps_to_settle(SETTLE_BAND, 1.0, 0.01, lr, max_steps=3000)
        assert rec["outputs"] is None and rec["summary"]["settle_1"] == expected
        assert (expected is None) == (lr == 0.6)
        assert rec["summary"]["settle_matrix_1"] == expected      # full matrices settle at the same step here


def test_verify_point_reports_the_claim():
    rec = run_point("verify", {"claims": ["ngd-singular-crossing"]})
    assert rec["status"] == "done"
    assert rec["summary"]["passed"] is True and rec["summary"]["n_claims"] == 1
    assert rec["outputs"]["claims"][0]["name"] == "ngd-singular-crossing"
    bad = run_point("verify", {"claims": ["no-such-claim"]})
    assert bad["status"] == "failed" and "LindynError" in bad["error"]


# --- serial runs: resume, interrupt, fallback, table ------------------------------------------------

def test_interrupt_leaves_finished_points_and_rerun_resumes(tmp_path):
    def stop_after_two(rec):
        if len(list((tmp_path / "points").glob("*.json"))) == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        sweep("integrate", AXES, fixed=FIXED, out=tmp_path, scheduler="serial", on_result=stop_after_two)
    side = json.loads((tmp_path / "results.json").read_text())
    assert side["interrupted"] is True and len(read_table(tmp_path)) == 2
    again = sweep("integrate", AXES, fixed=FIXED, out=tmp_path, scheduler="serial")
    assert (again.skipped, again.done, again.failed) == (2, 4, 0)
    assert [r["key"] for r in read_table(tmp_path)] == [point_key("integrate", p) for p in Grid(AXES, FIXED).expand()]


def test_progress_shows_done_total_rate_and_eta(capsys):
    def point(x):
        time.sleep(0.7)
        return {"x": x}
    sweep(point, {"x": [1, 2, 3, 4]}, scheduler="serial", progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all(line.startswith("lindyn sweep ") for line in lines)
    assert "of 4 points" in lines[-1] and "points/s" in lines[-1] and "ETA" in lines[-1]


def test_without_dask_the_default_runs_serially_with_a_note(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)      # import distributed -> ImportError
    r = sweep("learning-time", {"u0": [0.25, 0.5]}, fixed={"rule": "gd", "depth": 1, "s": 1, "until": 0.75})
    assert r.done == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "pip install 'lindyn[sweep]'" in err
    with pytest.raises(LindynError, match=r"scheduler.*lindyn\[sweep\]"):
        sweep("learning-time", {"u0": [0.25]}, fixed={"rule": "gd", "depth": 1, "s": 1, "until": 0.75},
              scheduler="tcp://127.0.0.1:8786")


def test_table_round_trip_dense_view_and_plot(tmp_path):
    r = sweep("integrate", {"rule": ["gd", "ngd"], "depth": [1, 0, 2]}, fixed=FIXED, out=tmp_path,
              scheduler="serial")
    rows = read_table(r.table)
    assert rows == r.rows
    assert [row["status"] for row in rows] == ["done", "failed", "done"] * 2
    side = json.loads((tmp_path / "results.json").read_text())
    assert side["grid"]["axes"] == {"rule": ["gd", "ngd"], "depth": [1, 0, 2]}
    assert {c["name"]: c["type"] for c in side["columns"]}["u_final_1"] == "float"
    axes, values = r.dense("u_final_1")
    assert values.shape == (2, 3) and math.isnan(values[0, 1]) and values[1, 2] == rows[5]["u_final_1"]
    plot = sweep_plot(rows, "depth", "u_final_1", by="rule")
    assert [c.label for c in plot.curves] == ["rule = gd", "rule = ngd"]
    assert plot.curves[0].x == (1.0, 2.0)        # the failed depth-0 points are left out


def test_command_line(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text('task = "learning-time"\n[grid]\nu0 = [0.25, 0.5, -1]\n[fixed]\nrule = "gd"\ndepth = 1\n'
                    's = 1\nuntil = 0.75\n')
    out = tmp_path / "out"
    assert main(["sweep", str(grid), "--scheduler", "serial", "--out", str(out), "--json"]) == 1   # one failed
    got = json.loads(capsys.readouterr().out)
    assert got == {"points": 3, "done": 2, "failed": 1, "skipped": 0, "results": str(out / "results.csv")}
    rows = read_table(out)
    assert abs(rows[0]["t"] - math.log(3)) < 1e-12 and "u0" in rows[2]["error"]
    assert main(["sweep", str(grid), "--scheduler", "serial", "--out", str(out), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["skipped"] == 2
    grid.write_text('task = "learning-time"\n[grid]\nuntill = [1]\n')
    assert main(["sweep", str(grid), "--scheduler", "serial", "--out", str(out)]) == 2
    assert "grid.untill" in capsys.readouterr().err


# --- on the 2-process LocalCluster --------------------------------------------------------------------

def test_cluster_gives_the_serial_rows(client, tmp_path):
    serial = sweep("integrate", AXES, fixed=FIXED, scheduler="serial")
    dask = sweep("integrate", AXES, fixed=FIXED, scheduler=client, out=tmp_path)
    assert (dask.points, dask.done, dask.failed, dask.skipped) == (6, 6, 0, 0)
    assert [r["key"] for r in dask.records] == [r["key"] for r in serial.records]
    for a, b in zip(dask.records, serial.records):
        assert a["params"] == b["params"] and a["status"] == b["status"] == "done"
        assert a["worker"].startswith("tcp://") and b["worker"].startswith("serial:")
        assert _close(a["outputs"], b["outputs"]) and _close(a["summary"], b["summary"])
    assert len(read_table(tmp_path)) == 6 and len(list((tmp_path / "points").glob("*.json"))) == 6


def test_cluster_records_a_raising_point_and_finishes_the_rest(client, tmp_path):
    def point(x):
        if x == 3:
            raise ValueError("x = 3 is refused")
        return {"y": x * x}
    r = sweep(point, {"x": list(range(6))}, scheduler=client, out=tmp_path)
    assert (r.done, r.failed) == (5, 1)
    rows = read_table(tmp_path)
    assert [row["y"] for row in rows] == [0, 1, 4, None, 16, 25]
    assert rows[3]["status"] == "failed" and rows[3]["error"] == "ValueError: x = 3 is refused"
    again = sweep(point, {"x": list(range(6))}, scheduler=client, out=tmp_path)
    assert (again.skipped, again.done, again.failed) == (5, 0, 1)     # done points skipped, the failed one rerun


def test_cluster_interrupt_then_resume(client, tmp_path):
    def point(x):
        time.sleep(0.1)
        return {"y": 2 * x}

    def interrupt(rec):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        sweep(point, {"x": list(range(8))}, scheduler=client, out=tmp_path, on_result=interrupt)
    assert len(read_table(tmp_path)) == 1
    r = sweep(point, {"x": list(range(8))}, scheduler=client, out=tmp_path)
    assert (r.skipped, r.done) == (1, 7)
    assert [row["y"] for row in read_table(tmp_path)] == [2 * x for x in range(8)]


def test_killed_worker_loses_and_duplicates_no_row(client, tmp_path):
    """SIGKILL one worker process after the first result: its tasks are rerun elsewhere, each row once."""
    def point(x):
        import os
        import time
        time.sleep(0.4)
        return {"x2": x, "pid": os.getpid()}
    pids = client.run(os.getpid)          # worker address -> process id
    killed = []

    def kill_one(rec):
        if not killed:
            victim = rec["worker"]        # busy again with its next point
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(pids[victim])
    n = 10
    r = sweep(point, {"x": list(range(n))}, scheduler=client, out=tmp_path, on_result=kill_one)
    assert killed and (r.done, r.failed) == (n, 0)
    rows = read_table(tmp_path)
    assert [row["x2"] for row in rows] == list(range(n))
    assert len({row["key"] for row in rows}) == n and len(list((tmp_path / "points").glob("*.json"))) == n
    assert any(row["pid"] == killed[0] for row in rows)           # finished before the kill, kept
    assert any(row["pid"] != killed[0] for row in rows)


def test_points_dask_gives_up_on_are_resubmitted(tmp_path):
    """With allowed-failures 0 the scheduler gives up (KilledWorker) on the tasks of a killed worker at once;
    the sweep resubmits them (`retries`), and the table still has each point once."""
    distributed = pytest.importorskip("distributed")
    import dask

    def point(x):
        import os
        import time
        time.sleep(0.5)
        return {"x2": x, "pid": os.getpid()}
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                     silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as c:
        pids = c.run(os.getpid)
        killed = []

        def kill_one(rec):
            if not killed:
                killed.append(pids[rec["worker"]])
                os.kill(killed[0], signal.SIGKILL)
        r = sweep(point, {"x": list(range(6))}, scheduler=c, out=tmp_path, retries=1, on_result=kill_one)
    rows = read_table(tmp_path)
    assert (r.done, r.failed) == (6, 0) and [row["x2"] for row in rows] == list(range(6))
    assert max(row["attempts"] for row in rows) == 2          # at least one point was resubmitted
    assert all(row["pid"] != killed[0] for row in rows if row["attempts"] == 2)
