"""Bad command-line input: exit status 2, ONE line on stderr naming the option, never a traceback.

A grid of bad invocations of every subcommand, run in-process through `lindyn.cli.main` (fast),
plus a few through the installed `lindyn` script and `python -m lindyn`.

What each command allows (stated in its --help):
- integrate: s >= 0, u0 and gains any finite value (negative: sign on the first layer; 0: the
  saddle, which stays put), lam > 0, tau > 0 (one value), 1 <= depth <= 100, width in
  [modes, 2048], lr > 0 with max(t)/lr <= 5e7, dps in [15, 200].
- trajectory, learning-time: s, u0 and gains > 0 (the closed forms), dps in [15, 200]; --until
  between u0 (included) and s/lam (excluded).
- q: an exact number in [0, 1]; a decimal string is read exactly ("0.5" is 1/2), since the
  command line text is an exact decimal (floats are refused only in the Python API).
"""
import json
import shutil
import subprocess
import sys

import pytest

from lindyn.cli import main

BASE = {
    "integrate": {"--rule": "gd", "--depth": "2", "--s": "1", "--u0": "0.1", "--t": "0.5,1"},
    "trajectory": {"--rule": "gd", "--depth": "2", "--s": "1", "--u0": "0.1", "--t": "0.5,1"},
    "learning-time": {"--rule": "gd", "--depth": "2", "--s": "1", "--u0": "0.1", "--until": "0.5"},
}


def argv(command, **changes):
    """The base invocation of `command` with options changed (None removes one; gains replaces u0)."""
    opts = dict(BASE[command])
    for key, value in changes.items():
        opt = "--" + key.replace("_", "-")
        if opt == "--gains":
            opts.pop("--u0", None)
        if value is None:
            opts.pop(opt, None)
        else:
            opts[opt] = value
    return [command] + [x for kv in opts.items() for x in kv]


def assert_one_line(capsys, args, option, status=2):
    rc = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == status, (args, rc, err)
    assert len(err) == 1, (args, err)
    assert "Traceback" not in err[0]
    assert option in err[0], (option, err[0])
    return err[0]


# --- options shared by integrate, trajectory and learning-time ----------------------------------

SHARED = [
    ({"depth": "0"}, "depth"), ({"depth": "-1"}, "depth"), ({"depth": "2.5"}, "depth"), ({"depth": "abc"}, "depth"),
    ({"depth": "1000000"}, "depth"), ({"depth": "101"}, "depth"),
    ({"s": ""}, "`--s`"), ({"s": "nan"}, "`--s`"), ({"s": "inf"}, "`--s`"), ({"s": "-1"}, "`--s`"), ({"s": "1,abc"}, "`--s`"),
    ({"s": "1,-2"}, "`--s`"),
    ({"u0": "nan"}, "u0"), ({"u0": "inf"}, "u0"), ({"u0": ""}, "u0"), ({"u0": "0.1,0.2,0.3"}, "u0"),
    ({"gains": "0.1"}, "gains"), ({"gains": "nan,0.1"}, "gains"), ({"gains": "0.1,0.2,0.3"}, "gains"),
    ({"gains": "inf,1"}, "gains"),
    ({"lam": "0"}, "lam"), ({"lam": "-1"}, "lam"), ({"lam": "nan"}, "lam"), ({"lam": "inf"}, "lam"),
    ({"lam": "1,2"}, "lam"), ({"lam": ""}, "lam"),
    ({"tau": "0"}, "tau"), ({"tau": "-1"}, "tau"), ({"tau": "nan"}, "tau"), ({"tau": "1,2"}, "tau"),
    ({"q": "2", "rule": "ngd"}, "`--q`"), ({"q": "abc", "rule": "ngd"}, "`--q`"), ({"q": "1/0", "rule": "ngd"}, "`--q`"),
    ({"q": "-1", "rule": "ngd"}, "`--q`"), ({"q": "nan", "rule": "ngd"}, "`--q`"), ({"q": "0.5", "rule": "kfac"}, "`--q`"),
    ({"rule": "bogus"}, "--rule"), ({"depth": None}, "--depth"), ({"bogus": "1"}, "--bogus"),
]


def _id(case):
    return ",".join(f"{k}={v!r}" for k, v in case[0].items())


@pytest.mark.parametrize("command", ["integrate", "trajectory", "learning-time"])
@pytest.mark.parametrize("case", SHARED, ids=[_id(c) for c in SHARED])
def test_shared_options(command, case, capsys):
    changes, option = case
    assert_one_line(capsys, argv(command, **changes), option)


TIMES = [({"t": "-1"}, "`--t`"), ({"t": "2,1"}, "`--t`"), ({"t": "nan"}, "`--t`"), ({"t": ""}, "`--t`"),
         ({"t": "inf"}, "`--t`"), ({"t": "1,x"}, "`--t`")]


@pytest.mark.parametrize("command", ["integrate", "trajectory"])
@pytest.mark.parametrize("case", TIMES, ids=[_id(c) for c in TIMES])
def test_times(command, case, capsys):
    assert_one_line(capsys, argv(command, **case[0]), case[1])


# --- per command: what is allowed differs (see the module docstring) ------------------------------

DERIVED_ONLY = [({"s": "0"}, "`--s`"), ({"u0": "0"}, "u0"), ({"u0": "-0.1"}, "u0"), ({"gains": "0,0.2"}, "gains"),
                ({"gains": "-0.1,0.2"}, "gains")]


@pytest.mark.parametrize("command", ["trajectory", "learning-time"])
@pytest.mark.parametrize("case", DERIVED_ONLY, ids=[_id(c) for c in DERIVED_ONLY])
def test_closed_forms_need_positive_values(command, case, capsys):
    assert_one_line(capsys, argv(command, **case[0]), case[1])


@pytest.mark.parametrize("changes", [{"u0": "0"}, {"u0": "-0.1"}, {"gains": "-0.1,0.2"}, {"s": "0"}, {"q": "0.5", "rule": "ngd"}],
                         ids=["u0=0", "u0<0", "negative gain", "s=0", "q=0.5"])
def test_integrate_allows(changes, capsys):
    assert main(argv("integrate", **changes) + ["--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["u"]


def test_decimal_q_is_exact(capsys):
    assert main(argv("trajectory", rule="ngd", q="0.5") + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["q"] == "1/2"


INTEGRATE = [
    ({"method": "bad"}, "--method"),
    ({"method": "discrete", "lr": "0"}, "lr"), ({"method": "discrete", "lr": "-1"}, "lr"),
    ({"method": "discrete", "lr": "nan"}, "lr"), ({"method": "discrete", "lr": "abc"}, "lr"),
    ({"method": "discrete", "lr": "1e-300"}, "lr"), ({"lr": "0.1"}, "lr"),
    ({"method": "mpmath", "dps": "0"}, "dps"), ({"method": "mpmath", "dps": "100000"}, "dps"),
    ({"method": "mpmath", "dps": "abc"}, "dps"), ({"dps": "30"}, "dps"),
    ({"width": "0"}, "width"), ({"width": "abc"}, "width"), ({"width": "1", "s": "1,2"}, "width"),
    ({"width": "100000000"}, "width"),
]


@pytest.mark.parametrize("case", INTEGRATE, ids=[_id(c) for c in INTEGRATE])
def test_integrate_options(case, capsys):
    assert_one_line(capsys, argv("integrate", **case[0]), case[1])


def test_integrate_far_horizon_stops_with_one_line(capsys):
    # --t 1e308 would keep DOP853 stepping for ever; it stops after the evaluation budget (shrunk here):
    # a run-time failure, exit status 1, one line naming the budget and the remedy.
    line = assert_one_line(capsys, argv("integrate", t="1e308", max_evaluations="2000"), "budget", status=1)
    assert "LSODA" in line


@pytest.mark.parametrize("case", [({"dps": "0"}, "dps"), ({"dps": "1000000"}, "dps"), ({"dps": "abc"}, "dps")],
                         ids=["dps=0", "dps=1e6", "dps=abc"])
def test_trajectory_options(case, capsys):
    assert_one_line(capsys, argv("trajectory", **case[0]), case[1])


def test_trajectory_far_horizon_is_finite(capsys):
    assert main(argv("trajectory", t="1e308") + ["--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["u"] == [[1.0]]


UNTIL = [({"until": "nan"}, "until"), ({"until": "0"}, "until"), ({"until": "-1"}, "until"),
         ({"until": "2"}, "until"), ({"until": "1"}, "until"), ({"until": "0.05"}, "until"),
         ({"until": "abc"}, "until"), ({"until": "0.5", "u0": "2"}, "until"),
         ({"until": "0.5", "s": "1,2", "u0": "0.1,0.7"}, "until"), ({"until": None}, "--until")]


@pytest.mark.parametrize("case", UNTIL, ids=[_id(c) for c in UNTIL])
def test_learning_time_until(case, capsys):
    line = assert_one_line(capsys, argv("learning-time", **case[0]), case[1])
    assert "u_to" not in line


def test_verify_unknown_claim(capsys):
    assert_one_line(capsys, ["verify", "nope", "--quiet"], "names")


def test_verify_unwritable_report(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = assert_one_line(capsys, ["verify", "ngd-singular-crossing", "--quiet", "--report", str(blocker / "out")],
                           "report")
    assert "claims" not in line


@pytest.mark.parametrize("args,option", [(["--bogus"], "--bogus"), (["verify", "--bogus"], "--bogus"),
                                         (["integrate"], "--rule")])
def test_usage_errors_are_one_line(args, option, capsys):
    assert_one_line(capsys, args, option)


# --- from outside: the installed script and python -m lindyn --------------------------------------

def _outside(args):
    exe = shutil.which("lindyn")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "lindyn", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,option", [
    (argv("integrate", depth="1000000"), "depth"),
    (argv("trajectory", u0="nan"), "u0"),
    (argv("integrate", gains="-0.1,0.2", t="-1"), "`--t`"),
])
def test_script_one_line(args, option):
    r = _outside(args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and option in lines[0] and "Traceback" not in r.stderr


def test_python_m_lindyn_bogus():
    r = subprocess.run([sys.executable, "-m", "lindyn", "--bogus"], capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "--bogus" in lines[0] and "Traceback" not in r.stderr
