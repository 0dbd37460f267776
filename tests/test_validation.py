"""Issue 14, items 7 and 8: bounds stated and enforced in one line, progress for long work, and inputs
that used to be dropped, refused or silently mis-served."""
import io
import json

import numpy as np
import pytest

from lindyn import GD, Discrete, LindynError, aligned_problem, derive, integrate
from lindyn._progress import Progress, reporting
from lindyn.cli import MAX_MODES, main


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize("option", ["--s", "--u0", "--t"])
def test_an_empty_list_item_is_refused_not_dropped(option, capsys):
    args = {"--s": "1", "--u0": "0.1", "--t": "1,2"}
    args[option] = {"--s": "1,,2", "--u0": "0.1,,0.2", "--t": "1,,2"}[option]
    argv = ["trajectory", "--rule", "gd", "--depth", "2"] + [x for kv in args.items() for x in kv]
    assert main(argv) == 2
    assert "empty items" in one_error_line(capsys)


def test_numpy_integers_are_integers():
    assert derive(GD(), np.int64(3)).c == derive(GD(), 3).c == 3


def test_a_learning_rate_that_serves_t_by_the_initial_state_is_refused(capsys):
    with pytest.raises(LindynError, match="lr"):
        integrate(aligned_problem([1.0], 2, u0=0.1), GD(), [0.0, 1.0], method=Discrete(lr=1e300))
    assert main(["integrate", "--rule", "gd", "--depth", "2", "--s", "1", "--u0", "0.1", "--t", "0,1",
                 "--method", "discrete", "--lr", "1e300"]) == 2
    assert "`--lr`" in one_error_line(capsys)


def test_too_many_modes_fail_fast_with_the_bound(capsys):
    s = ",".join(["1"] * (MAX_MODES + 1))
    assert main(["trajectory", "--rule", "gd", "--depth", "2", "--s", s, "--u0", "0.1", "--t", "1"]) == 2
    assert f"at most {MAX_MODES}" in one_error_line(capsys)
    s = ",".join(["1"] * 2049)
    assert main(["integrate", "--rule", "gd", "--depth", "2", "--s", s, "--u0", "0.1", "--t", "1"]) == 2
    assert "at most 2048" in one_error_line(capsys)


def test_a_horizon_the_budget_cannot_reach_fails_early_with_the_projection(capsys):
    # DOP853 near a converged state is stability-limited: t = 1e6 would need ~6e6 evaluations;
    # the run stops once a tenth of the budget is spent, with the projection and the remedy
    assert main(["integrate", "--rule", "gd", "--depth", "3", "--s", "1", "--u0", "1e-3", "--t", "1e6"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    failed = [x for x in err if x.startswith("lindyn integrate: failed:")]
    assert len(failed) == 1 and all(x.startswith("integrate (DOP853):") for x in err if x not in failed)
    line = failed[0]
    assert "needs ~" in line and "LSODA" in line


def test_the_stiff_solver_reaches_the_long_horizon(capsys):
    assert main(["integrate", "--rule", "gd", "--depth", "3", "--s", "1", "--u0", "1e-3", "--t", "1e6",
                 "--solver", "LSODA", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["u"][0][0] == pytest.approx(1.0, abs=1e-9)


def test_progress_lines_only_when_reporting_and_only_after_the_delay():
    stream = io.StringIO()
    with reporting(True):
        p = Progress("work", 10.0, "steps", after=0.0, every=0.0, stream=stream)
        p.update(5.0)
        quiet = Progress("work", 10.0, after=1e9, stream=stream)
        quiet.update(5.0)
    with reporting(False):
        Progress("off", 10.0, after=0.0, stream=stream).update(5.0)
    lines = stream.getvalue().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("work: 5 of 10 steps (50%)")


def test_the_command_line_reports_progress_of_a_long_flow(capsys, monkeypatch):
    import lindyn._progress as progress
    monkeypatch.setattr(progress.Progress.__init__, "__defaults__", ("", 0.0, 0.0, None))
    assert main(["integrate", "--rule", "gd", "--depth", "2", "--s", "1", "--u0", "0.1", "--t", "5"]) == 0
    err = capsys.readouterr().err
    assert "integrate (DOP853):" in err and "of 5 t" in err
