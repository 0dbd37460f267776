"""Bad input (issue 3 item 7): one `LindynError` per mistake, with a message naming the argument;
the command line prints that one line and exits with status 2."""
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from lindyn import (GD, NGD, BlockNGD, Discrete, Flow, GivenWeights, HighPrecision, IntegrationFailed, LindynError,
                    Network, Problem, SingularCrossing, Task, aligned_problem, bernacchia, integrate, rule)
from lindyn.cli import main

OK = aligned_problem(s=[1.0], depth=2, u0=0.1)


@pytest.mark.parametrize("make,match", [
    (lambda: aligned_problem(s=[1.0], depth=0, u0=0.1), "depth"),
    (lambda: aligned_problem(s=[1.0], depth=2.5, u0=0.1), "depth"),
    (lambda: Network((3,)), "widths"),
    (lambda: Network((3, 0, 2)), r"widths\[1\]"),
])
def test_depth_and_widths(make, match):
    with pytest.raises(LindynError, match=match):
        make()


@pytest.mark.parametrize("make,match", [
    (lambda: Problem(Network((2, 3, 2)), Task(np.eye(3)), GivenWeights((np.eye(3, 2), np.eye(2, 3)))), "task"),
    (lambda: integrate(Problem(Network((2, 3, 2)), Task(np.eye(2)), GivenWeights((np.eye(2), np.eye(2)))),
                       GD(), [1.0]), r"W\[0\]"),
    (lambda: Task(np.eye(2), np.eye(3)), "Sigma_xx"),
    (lambda: aligned_problem(s=[1.0, 2.0], depth=2, u0=0.1, width=1), "width"),
])
def test_shapes_that_do_not_fit(make, match):
    with pytest.raises(LindynError, match=match):
        make()


def test_rule_with_wrong_shapes():
    bad = rule(lambda grads, geo, ops: tuple(g.T for g in grads), name="transposed")
    with pytest.raises(LindynError, match="rule"):
        integrate(aligned_problem(s=[1.0, 2.0], depth=2, u0=0.1, width=3), bad, [1.0])
    missing = rule(lambda grads, geo, ops: grads[:1], name="one-layer")
    with pytest.raises(LindynError, match="rule"):
        integrate(OK, missing, [1.0])
    with pytest.raises(LindynError, match="rule"):
        integrate(OK, object(), [1.0])


@pytest.mark.parametrize("Sxx", [[[1.0, 0.5], [0.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]], [[1.0, 1.0], [1.0, 1.0]]],
                         ids=["non-symmetric", "indefinite", "singular"])
def test_sigma_not_spd(Sxx):
    with pytest.raises(LindynError, match="Sigma_xx.*symmetric positive definite"):
        Task(np.eye(2), np.array(Sxx))


@pytest.mark.parametrize("make,match", [
    (lambda: Task([[math.nan]]), "Sigma_yx.*finite"),
    (lambda: Task(np.eye(2), [[1.0, 0.0], [0.0, math.inf]]), "Sigma_xx.*finite"),
    (lambda: aligned_problem(s=[math.nan], depth=2, u0=0.1), "s.*finite"),
    (lambda: aligned_problem(s=[1.0], depth=2, u0=math.inf), "u0.*finite"),
    (lambda: integrate(OK, GD(), [0.5, math.nan]), "t.*finite"),
    (lambda: GivenWeights((np.array([[math.nan]]),)).weights(Network((1, 1)), Task([[1.0]])), "W\\[0\\].*finite"),
    (lambda: Flow(rtol=math.nan), "rtol"),
    (lambda: Discrete(lr=math.inf), "lr"),
])
def test_nan_or_inf(make, match):
    with pytest.raises(LindynError, match=match):
        make()


@pytest.mark.parametrize("make", [lambda: NGD(q=0.5), lambda: BlockNGD(q=0.25)])
def test_float_q(make):
    with pytest.raises(LindynError, match="`q`.*not a float"):
        make()


@pytest.mark.parametrize("t,match", [([-1.0, 1.0], "times >= 0"), ([2.0, 1.0], "increasing"), ([], "non-empty")])
def test_bad_times(t, match):
    with pytest.raises(LindynError, match=match):
        integrate(OK, GD(), t)


@pytest.mark.parametrize("make,match", [
    (lambda: integrate(OK, GD(), [1.0], method="flow"), "method"),
    (lambda: Flow(solver="Euler"), "solver"),
    (lambda: Flow(fisher_route="dense"), "fisher_route"),
    (lambda: Discrete(lr=0.0), "lr"),
    (lambda: HighPrecision(dps=5), "dps"),
    (lambda: integrate("problem", GD(), [1.0]), "problem"),
])
def test_bad_method_and_arguments(make, match):
    with pytest.raises(LindynError, match=match):
        make()


@pytest.mark.parametrize("rule_,rate", [(NGD(), 1.0), (BlockNGD(), 2.0), (bernacchia(), 1.0)], ids=["ngd", "block", "bern"])
def test_singular_crossing(rule_, rate):
    # s = 1, u0 = −0.5: the straight path u = 1 − 1.5 e^{−rate·t} hits u = 0 at t = ln(1.5)/rate.
    p = aligned_problem(s=[1.0], depth=2, gains=[-0.5, 1.0])
    t_cross = math.log(1.5) / rate
    with pytest.raises(SingularCrossing, match=rf"singular at t = {t_cross:.10g}"):
        integrate(p, rule_, [0.1, 1.0])
    before = integrate(p, rule_, [0.5 * t_cross])          # below the crossing: finite and exact
    assert abs(before.u[0, 0] - (1 - 1.5 * math.exp(-rate * 0.5 * t_cross))) <= 1e-8


def test_singular_crossing_in_square_matrices():
    p = aligned_problem(s=[2.0, 1.0], depth=3, u0=[0.1, -0.2], width=4)
    with pytest.raises(SingularCrossing, match="det W\\(0\\)·det W\\* < 0"):
        integrate(p, NGD(), [5.0])


def test_cli_run_time_failure_exits_1_with_one_line(capsys):
    """A singular crossing is not bad input: exit status 1, one line naming the failure."""
    code = main(["integrate", "--rule", "ngd", "--depth", "2", "--s", "1", "--gains", "-0.5,1", "--t", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("lindyn integrate: failed:") and "singular" in err[0]


def test_integrator_failure_finite_time_blowup():
    # τ dW_i/dt = W_i² blows up at t = 1/W_i(0): the solver must fail loudly, not return a partial result
    blowup = rule(lambda grads, geo, ops: tuple(w @ w for w in geo.W), name="blowup")
    p = Problem(Network((1, 1, 1)), Task([[1.0]]), GivenWeights((np.array([[1.0]]), np.array([[0.5]]))))
    with pytest.raises(IntegrationFailed, match="DOP853 failed at t ≈"):
        integrate(p, blowup, [0.5, 3.0])
    with pytest.raises(IntegrationFailed, match="Discrete.*diverged"):
        integrate(p, blowup, [3.0], method=Discrete(lr=0.01))


def test_discrete_learning_rate_too_large():
    with pytest.raises(IntegrationFailed, match="lr"):
        integrate(aligned_problem(s=[10.0], depth=3, u0=1.0), GD(), [100.0], method=Discrete(lr=1.0))


def test_run_time_failures_are_not_bad_input():
    """IntegrationFailed and SingularCrossing are run-time failures (RuntimeError), not LindynError."""
    from lindyn import LindynFailure
    assert issubclass(SingularCrossing, IntegrationFailed) and issubclass(IntegrationFailed, LindynFailure)
    assert issubclass(LindynFailure, RuntimeError) and not issubclass(LindynFailure, ValueError)
    with pytest.raises(IntegrationFailed) as info:
        integrate(aligned_problem(s=[10.0], depth=3, u0=1.0), GD(), [100.0], method=Discrete(lr=1.0))
    assert not isinstance(info.value, LindynError) and info.value.time > 0


@pytest.mark.parametrize("argv,match", [
    (["--depth", "0"], "depth"),
    (["--depth", "two"], "depth"),
    (["--q", "2", "--rule", "ngd"], "q"),
    (["--q", "1/2", "--rule", "kfac"], "q"),
    (["--t", "2,1"], "increasing"),
    (["--t", "-1"], "times >= 0"),
    (["--s", "1,nan"], "finite"),
    (["--gains", "0.1,0.2,0.3"], "gains"),
    (["--lam", "-1"], "lam"),
    (["--width", "0"], "width"),
    (["--method", "discrete", "--lr", "0"], "lr"),
    (["--dps", "30"], "dps"),
])
def test_cli_bad_input_exits_2_with_one_line(argv, match, capsys):
    base = {"--rule": "gd", "--depth": "2", "--s": "1", "--u0": "0.1", "--t": "0.5,1"}
    args = dict(base)
    if "--gains" in argv:
        args.pop("--u0")
    for k, v in zip(argv[::2], argv[1::2]):
        args[k] = v
    flat = ["integrate"] + [x for kv in args.items() for x in kv]
    assert main(flat) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lindyn integrate: error: Option `--") and _search(match, err[0])


def _search(pattern, text):
    import re
    return re.search(pattern, text) is not None


def test_cli_exit_2_from_outside():
    r = subprocess.run([sys.executable, "-m", "lindyn", "integrate", "--rule", "gd", "--depth", "0", "--s", "2",
                        "--u0", "0.01", "--t", "0.5,1,2"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "depth" in r.stderr


def test_fraction_q_accepted():
    integrate(OK, NGD(q=Fraction(1, 2)), [0.1])
