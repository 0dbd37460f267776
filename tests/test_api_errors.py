"""Bad arguments to the public Python API: a `LindynError` naming the argument, raised at the boundary.

Never a TypeError/ValueError/AttributeError from inside sympy, numpy or scipy, never a silent NaN,
never a hang. Each case is `pytest.raises(LindynError, match=<parameter name>)`.
"""
import math
import warnings

import numpy as np
import pytest
import sympy

import lindyn
from lindyn import (GD, NGD, Aligned, BlockNGD, GivenWeights, LambdaBalanced, LindynError, Network, Problem,
                    RandomOrthogonal, SmallRandom, Task, aligned_problem, derive, function_space_trajectory,
                    integrate, kfac, rule_from_name, verify)

NAN, INF = math.nan, math.inf
NET, TASK = Network((1, 1, 1)), Task(np.eye(1))
OK = aligned_problem([1.0], 2, u0=0.1)


@pytest.fixture(scope="module")
def traj():
    return derive(GD(), 2)


@pytest.fixture(scope="module")
def traj_unbalanced():
    return derive(GD(), 2, gains="unbalanced")


@pytest.fixture(scope="module")
def traj_q():
    return derive(NGD(q=sympy.Symbol("q", positive=True)), 2)


def _raises(make, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # a RuntimeWarning on the way is a failure too
        with pytest.raises(LindynError, match=match):
            make()


CONSTRUCTION = {
    # derive
    "derive depth 0": (lambda: derive(GD(), 0), "depth"),
    "derive depth 2.5": (lambda: derive(GD(), 2.5), "depth"),
    "derive depth True": (lambda: derive(GD(), True), "depth"),
    "derive depth huge": (lambda: derive(GD(), 10**6), "depth"),
    "derive rule None": (lambda: derive(None, 2), "rule"),
    "derive rule str": (lambda: derive("gd", 2), "rule"),
    "derive gains": (lambda: derive(GD(), 2, gains="x"), "gains"),
    "derive lam 0": (lambda: derive(GD(), 2, lam=0), "lam"),
    "derive lam -1": (lambda: derive(GD(), 2, lam=-1), "lam"),
    "derive lam nan": (lambda: derive(GD(), 2, lam=NAN), "lam"),
    "derive lam inf": (lambda: derive(GD(), 2, lam=INF), "lam"),
    "derive lam 0.5 float": (lambda: derive(GD(), 2, lam=0.5), "lam"),
    "derive lam str": (lambda: derive(GD(), 2, lam="abc"), "lam"),
    "derive lam oo": (lambda: derive(GD(), 2, lam=sympy.oo), "lam"),
    "derive lam list": (lambda: derive(GD(), 2, lam=[1, 2]), "lam"),
    "derive lam None": (lambda: derive(GD(), 2, lam=None), "lam"),
    # integrate
    "integrate t nan": (lambda: integrate(OK, GD(), [NAN]), "`t`"),
    "integrate t negative": (lambda: integrate(OK, GD(), [-1.0]), "`t`"),
    "integrate t unsorted": (lambda: integrate(OK, GD(), [2.0, 1.0]), "`t`"),
    "integrate t empty": (lambda: integrate(OK, GD(), []), "`t`"),
    "integrate t str": (lambda: integrate(OK, GD(), "abc"), "`t`"),
    "integrate t None": (lambda: integrate(OK, GD(), None), "`t`"),
    "integrate method class": (lambda: integrate(OK, GD(), [1.0], method=lindyn.Flow), "method"),
    "integrate problem": (lambda: integrate("p", GD(), [1.0]), "problem"),
    "integrate rule": (lambda: integrate(OK, "gd", [1.0]), "rule"),
    "integrate lr too small": (lambda: integrate(OK, GD(), [1.0], method=lindyn.Discrete(lr=1e-300)), "lr"),
    # aligned_problem
    "aligned depth 0": (lambda: aligned_problem([1.0], 0, u0=0.1), "depth"),
    "aligned depth huge": (lambda: aligned_problem([1.0], 10**6, u0=0.1), "depth"),
    "aligned s empty": (lambda: aligned_problem([], 2, u0=0.1), "`s`"),
    "aligned s 2d": (lambda: aligned_problem([[1.0]], 2, u0=0.1), "`s`"),
    "aligned s str": (lambda: aligned_problem("abc", 2, u0=0.1), "`s`"),
    "aligned s None": (lambda: aligned_problem(None, 2, u0=0.1), "`s`"),
    "aligned s negative": (lambda: aligned_problem([-1.0], 2, u0=0.1), "`s`"),
    "aligned s text item": (lambda: aligned_problem(["a"], 2, u0=0.1), "`s`"),
    "aligned s nan": (lambda: aligned_problem([NAN], 2, u0=0.1), "`s`"),
    "aligned u0 count": (lambda: aligned_problem([1.0], 2, u0=[1, 2, 3]), "u0"),
    "aligned u0 str": (lambda: aligned_problem([1.0], 2, u0="abc"), "u0"),
    "aligned u0 inf": (lambda: aligned_problem([1.0], 2, u0=INF), "u0"),
    "aligned lam count": (lambda: aligned_problem([1.0], 2, u0=0.1, lam=[1, 2]), "lam"),
    "aligned lam str": (lambda: aligned_problem([1.0], 2, u0=0.1, lam="x"), "lam"),
    "aligned lam 0": (lambda: aligned_problem([1.0], 2, u0=0.1, lam=0), "lam"),
    "aligned u0 and gains": (lambda: aligned_problem([1.0], 2, u0=0.1, gains=[1, 1]), "u0"),
    "aligned neither": (lambda: aligned_problem([1.0], 2), "u0"),
    "aligned gains str": (lambda: aligned_problem([1.0], 2, gains="x"), "gains"),
    "aligned gains count": (lambda: aligned_problem([1.0], 2, gains=[1.0]), "gains"),
    "aligned gains rows": (lambda: aligned_problem([1.0], 2, gains=np.ones((2, 2))), "gains"),
    "aligned gains nan": (lambda: aligned_problem([1.0], 2, gains=[NAN, 1.0]), "gains"),
    "aligned width huge": (lambda: aligned_problem([1.0], 2, u0=0.1, width=10**8), "width"),
    "aligned width small": (lambda: aligned_problem([1.0, 2.0], 2, u0=0.1, width=1), "width"),
    "aligned tau nan": (lambda: aligned_problem([1.0], 2, u0=0.1, tau=NAN), "tau"),
    "aligned seed str": (lambda: aligned_problem([1.0], 2, u0=0.1, seed="x"), "seed"),
    "aligned seed negative": (lambda: aligned_problem([1.0], 2, u0=0.1, seed=-5000), "seed"),
    # Network, Task, Problem
    "Network str": (lambda: Network("abc"), "widths"),
    "Network int": (lambda: Network(3), "widths"),
    "Network float width": (lambda: Network((2.0, 2)), r"widths\[0\]"),
    "Task non-symmetric": (lambda: Task(np.eye(2), [[1, 0.5], [0, 1]]), "Sigma_xx"),
    "Task not positive definite": (lambda: Task(np.eye(2), [[1, 0], [0, -1]]), "Sigma_xx"),
    "Task shape mismatch": (lambda: Task(np.eye(2), np.eye(3)), "Sigma_xx"),
    "Task Sigma_yx nan": (lambda: Task([[NAN]]), "Sigma_yx"),
    "Task Sigma_xx nan": (lambda: Task(np.eye(1), [[NAN]]), "Sigma_xx"),
    "Task 1d": (lambda: Task([1.0, 2.0]), "Sigma_yx"),
    "Task str": (lambda: Task("abc"), "Sigma_yx"),
    "Task None": (lambda: Task(None), "Sigma_yx"),
    "Task empty": (lambda: Task(np.zeros((0, 0))), "Sigma_yx"),
    "Task complex": (lambda: Task(np.eye(2) * 1j), "Sigma_yx"),
    "Task ragged": (lambda: Task([[1.0], [1.0, 2.0]]), "Sigma_yx"),
    "Task.from_data columns": (lambda: Task.from_data(np.ones((2, 3)), np.ones((1, 4))), "Y"),
    "Problem network": (lambda: Problem("x", TASK, Aligned(np.ones((1, 2)))), "network"),
    "Problem task": (lambda: Problem(NET, "x", Aligned(np.ones((1, 2)))), "task"),
    "Problem init": (lambda: Problem(NET, TASK, "x"), "init"),
    "Problem tau 0": (lambda: Problem(NET, TASK, Aligned(np.ones((1, 2))), tau=0), "tau"),
    "Problem task shape": (lambda: Problem(Network((2, 3, 2)), Task(np.eye(3)), SmallRandom()), "task"),
    # inits
    "Aligned gains nan": (lambda: Problem(NET, TASK, Aligned([[NAN, 1]])).initial_weights(), "gains"),
    "Aligned gains columns": (lambda: Problem(NET, TASK, Aligned([[1.0, 1, 1]])).initial_weights(), "gains"),
    "Aligned gains str": (lambda: Aligned("x").weights(NET, TASK), "gains"),
    "Aligned U shape": (lambda: Aligned([[1.0, 1.0]], U=np.eye(3)).weights(NET, TASK), "`U`"),
    "Aligned seed str": (lambda: Aligned([[1.0, 1.0]], seed="x").weights(Network((1, 2, 1)), TASK), "seed"),
    "Aligned.balanced u0 nan": (lambda: Aligned.balanced([NAN], 2), "u0"),
    "Aligned.balanced depth 0": (lambda: Aligned.balanced([0.1], 0), "depth"),
    "LambdaBalanced depth 3": (lambda: LambdaBalanced().weights(Network((1, 1, 1, 1)), TASK), "network"),
    "LambdaBalanced lam nan": (lambda: LambdaBalanced(lam=NAN).weights(NET, TASK), "lam"),
    "LambdaBalanced lam < 0, input narrower than hidden": (
        lambda: LambdaBalanced(lam=-10.0).weights(Network((1, 2, 2)), Task(np.ones((2, 1)))), "lam"),
    "LambdaBalanced kind": (lambda: LambdaBalanced(kind="gaussian").weights(NET, TASK), "kind"),
    "LambdaBalanced scale -1": (lambda: LambdaBalanced(scale=-1).weights(NET, TASK), "scale"),
    "LambdaBalanced seed str": (lambda: LambdaBalanced(seed="x").weights(NET, TASK), "seed"),
    "SmallRandom scale nan": (lambda: SmallRandom(scale=NAN).weights(NET, TASK), "scale"),
    "SmallRandom scale -1": (lambda: SmallRandom(scale=-1).weights(NET, TASK), "scale"),
    "SmallRandom seed float": (lambda: SmallRandom(seed=1.5).weights(NET, TASK), "seed"),
    "RandomOrthogonal scale nan": (lambda: RandomOrthogonal(scale=NAN).weights(NET, TASK), "scale"),
    "GivenWeights count": (lambda: GivenWeights((np.eye(1),)).weights(NET, TASK), "`W`"),
    "GivenWeights nan": (lambda: GivenWeights((np.eye(1) * NAN, np.eye(1))).weights(NET, TASK), r"W\[0\]"),
    "GivenWeights shape": (lambda: GivenWeights((np.eye(2), np.eye(1))).weights(NET, TASK), r"W\[0\]"),
    "GivenWeights not a sequence": (lambda: GivenWeights(5).weights(NET, TASK), "`W`"),
    "GivenWeights None": (lambda: GivenWeights(None).weights(NET, TASK), "`W`"),
    # rules
    "NGD q 0.5": (lambda: NGD(q=0.5), "`q`"),
    "NGD q numpy float": (lambda: NGD(q=np.float64(0.5)), "`q`"),
    "NGD q None": (lambda: NGD(q=None), "`q`"),
    "NGD q sympy Float": (lambda: NGD(q=sympy.Float(0.5)), "`q`"),
    "NGD q sympy nan": (lambda: NGD(q=sympy.nan), "`q`"),
    "NGD q sympy I": (lambda: NGD(q=sympy.I), "`q`"),
    "NGD q numpy 2": (lambda: NGD(q=np.int64(2)), "`q`"),
    "BlockNGD q 2": (lambda: BlockNGD(q=2), "`q`"),
    "BlockNGD damping -1": (lambda: BlockNGD(damping=-1), "damping"),
    "BlockNGD damping nan": (lambda: BlockNGD(damping=NAN), "damping"),
    "BlockNGD damping str": (lambda: BlockNGD(damping="x"), "damping"),
    "kfac damping -1": (lambda: kfac(-1), "damping"),
    "rule not callable": (lambda: lindyn.rule(5), "fn"),
    "rule_from_name": (lambda: rule_from_name("xx"), "rule"),
    "rule_from_name q": (lambda: rule_from_name("ngd", 2), "`q`"),
    # verify
    "verify unknown": (lambda: verify(names=["nope"]), "names"),
    "verify one string": (lambda: verify(names="nope"), "names"),
    "verify thorough": (lambda: verify(names=["ngd-singular-crossing"], thorough=1), "thorough"),
    "get_claim unknown": (lambda: lindyn.get_claim("nope"), "name"),
    "write_report": (lambda: lindyn.write_report("x", "/tmp/x"), "verification"),
    "conserved_quantities depth": (lambda: lindyn.conserved_quantities(GD(), 0), "depth"),
}


@pytest.mark.parametrize("case", list(CONSTRUCTION), ids=list(CONSTRUCTION))
def test_construction_and_verbs(case):
    _raises(*CONSTRUCTION[case])


EVALUATE = {
    "t nan": (lambda tr: tr.evaluate([NAN], s=1.0, u0=0.1), "`t`"),
    "t negative": (lambda tr: tr.evaluate([-1.0], s=1.0, u0=0.1), "`t`"),
    "t str": (lambda tr: tr.evaluate("abc", s=1.0, u0=0.1), "`t`"),
    "t None": (lambda tr: tr.evaluate(None, s=1.0, u0=0.1), "`t`"),
    "wrong name": (lambda tr: tr.evaluate([1.0], s=1.0, u=0.1), "`u`"),
    "u0 0": (lambda tr: tr.evaluate([1.0], s=1.0, u0=0.0), "u0"),
    "u0 negative": (lambda tr: tr.evaluate([1.0], s=1.0, u0=-0.1), "u0"),
    "u0 missing": (lambda tr: tr.evaluate([1.0], s=1.0), "u0"),
    "u0 str": (lambda tr: tr.evaluate([1.0], s=1.0, u0="x"), "u0"),
    "s str": (lambda tr: tr.evaluate([1.0], s="x", u0=0.1), "`s`"),
    "s 2d": (lambda tr: tr.evaluate([1.0], s=[[1.0]], u0=0.1), "`s`"),
    "s nan": (lambda tr: tr.evaluate([1.0], s=NAN, u0=0.1), "`s`"),
    "s and u0 counts": (lambda tr: tr.evaluate([1.0], s=[1.0, 2.0], u0=[0.1, 0.2, 0.3]), "u0"),
    "tau str": (lambda tr: tr.evaluate([1.0], s=1.0, u0=0.1, tau="x"), "tau"),
    "tau 0": (lambda tr: tr.evaluate([1.0], s=1.0, u0=0.1, tau=0.0), "tau"),
    "lam other than derived": (lambda tr: tr.evaluate([1.0], s=1.0, u0=0.1, lam=2.0), "lam"),
    "lam str": (lambda tr: tr.evaluate([1.0], s=1.0, u0=0.1, lam="x"), "lam"),
    "gains on balanced": (lambda tr: tr.evaluate([1.0], s=1.0, gains=[1, 1]), "u0"),
    "learning_time nan": (lambda tr: tr.learning_time(NAN, s=1.0, u0=0.1), "u_to"),
    "learning_time negative": (lambda tr: tr.learning_time(-1.0, s=1.0, u0=0.1), "u_to"),
    "learning_time at the fixed point": (lambda tr: tr.learning_time(1.0, s=1.0, u0=0.1), "u_to"),
    "learning_time beyond": (lambda tr: tr.learning_time(2.0, s=1.0, u0=0.1), "u_to"),
    "learning_time wrong name": (lambda tr: tr.learning_time(0.5, s=1.0, u00=0.1), "u00"),
    "learning_time u0 0": (lambda tr: tr.learning_time(0.5, s=1.0, u0=0.0), "u0"),
    "learning_time two modes": (lambda tr: tr.learning_time(0.5, s=[1.0, 2.0], u0=0.1), "`s`"),
    "lambdify backend": (lambda tr: tr.lambdify("jax"), "backend"),
    "mpmath dps 0": (lambda tr: tr.lambdify("mpmath")(1.0, s=1, u0=0.1, dps=0), "dps"),
    "mpmath dps huge": (lambda tr: tr.lambdify("mpmath")(1.0, s=1, u0=0.1, dps=10**7), "dps"),
    "mpmath t nan": (lambda tr: tr.lambdify("mpmath")(NAN, s=1, u0=0.1), "`t`"),
    "mpmath t negative": (lambda tr: tr.lambdify("mpmath")(-1.0, s=1, u0=0.1), "`t`"),
    "mpmath u0 0": (lambda tr: tr.lambdify("mpmath")(1.0, s=1, u0=0.0), "u0"),
    "mpmath u0 missing": (lambda tr: tr.lambdify("mpmath")(1.0, s=1), "u0"),
    "mpmath s text": (lambda tr: tr.lambdify("mpmath")(1.0, s="x", u0=0.1), "`s`"),
    "mpmath wrong name": (lambda tr: tr.lambdify("mpmath")(1.0, s=1, u=0.1), "`u`"),
}


@pytest.mark.parametrize("case", list(EVALUATE), ids=list(EVALUATE))
def test_trajectory_evaluate(case, traj):
    make, match = EVALUATE[case]
    _raises(lambda: make(traj), match)


@pytest.mark.parametrize("make,match", [
    (lambda tr: tr.evaluate([1.0], s=1.0, gains=[1, 1, 1]), "gains"),
    (lambda tr: tr.evaluate([1.0], s=1.0, gains="x"), "gains"),
    (lambda tr: tr.evaluate([1.0], s=1.0, gains=[1, NAN]), "gains"),
    (lambda tr: tr.evaluate([1.0], s=1.0, gains=[1, -1]), "gains"),
    (lambda tr: tr.evaluate([1.0], s=[1.0, 2.0], gains=np.ones((3, 2))), "gains"),
    (lambda tr: tr.evaluate([1.0], s=1.0, u0=0.1), "gains"),
], ids=["count", "str", "nan", "negative", "rows", "u0 instead"])
def test_unbalanced_gains(make, match, traj_unbalanced):
    _raises(lambda: make(traj_unbalanced), match)


@pytest.mark.parametrize("q", [None, 2.0, NAN, "x"], ids=["missing", "2", "nan", "text"])
def test_symbolic_q_value(q, traj_q):
    _raises(lambda: traj_q.evaluate([1.0], s=1.0, u0=0.1, q=q), "`q`")


def test_far_horizon_is_the_fixed_point_without_warnings(traj, traj_q):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert traj.evaluate([1e308], s=1.0, u0=0.1).tolist() == [1.0]
        assert traj_q.evaluate([1e308], s=1.0, u0=0.1, q=0.5).tolist() == [1.0]


def test_integrate_zero_init_has_no_nan(recwarn):
    # u0 = 0 is the saddle: u stays 0; the log-det ratio is undefined there and is not reported.
    from lindyn import BlockNGD
    for r in (GD(), BlockNGD()):
        traj = integrate(aligned_problem([1.0], 2, u0=0.0), r, [0.5, 1.0])
        assert traj.u.tolist() == [[0.0, 0.0]]
        assert all(np.all(np.isfinite(v)) for v in traj.conserved.values())
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_flow_evaluation_budget():
    from lindyn import Flow, IntegrationFailed
    with pytest.raises(IntegrationFailed, match="budget of 2000 .*LSODA"):
        integrate(OK, GD(), [1e308], method=Flow(max_evaluations=2000))


# --- Kerekes et al. 2021: function space and the numeric experiments -------------------------------

@pytest.fixture(scope="module")
def squared():
    return function_space_trajectory("squared")


KEREKES = {
    "loss name": (lambda fs: function_space_trajectory("hinge"), "loss"),
    "loss None": (lambda fs: function_space_trajectory(None), "loss"),
    "t nan": (lambda fs: fs.evaluate([NAN], f0=0.0, y=1.0), "`t`"),
    "t negative": (lambda fs: fs.evaluate([-1.0], f0=0.0, y=1.0), "`t`"),
    "wrong keyword": (lambda fs: fs.evaluate([1.0], m0=0.0), "params"),
    "f0 and y lengths": (lambda fs: fs.evaluate([1.0], f0=[0.0, 1.0], y=[1.0, 2.0, 3.0]), "`y`"),
    "f0 nan": (lambda fs: fs.evaluate([1.0], f0=NAN, y=1.0), "f0"),
    "separable_data n 0": (lambda fs: lindyn.separable_data(0, 4), "`n`"),
    "separable_data n 2.5": (lambda fs: lindyn.separable_data(2.5, 4), "`n`"),
    "low_rank_problem observed": (lambda fs: lindyn.low_rank_problem(6, 1, 1.5), "observed"),
    "low_rank_problem observed nan": (lambda fs: lindyn.low_rank_problem(6, 1, NAN), "observed"),
    "low_rank_problem rank": (lambda fs: lindyn.low_rank_problem(3, 5, 0.5), "rank"),
    "max_margin labels": (lambda fs: lindyn.max_margin_direction(np.eye(3), np.array([1.0, 0.0, 1.0])), "`y`"),
    "max_margin nan": (lambda fs: lindyn.max_margin_direction(np.eye(3) * NAN, np.array([1.0, -1.0, 1.0])), "`X`"),
    "effective_rank nan": (lambda fs: lindyn.effective_rank(np.eye(3) * NAN), "`W`"),
    "singular_crossing mask": (lambda fs: lindyn.singular_crossing(np.eye(3), np.ones((2, 2)), np.eye(3)), "mask"),
    "logistic labels": (lambda fs: Problem(Network((2, 1)), lindyn.Samples(np.eye(2), [0.5, 1.0]),
                                           GivenWeights((np.zeros((1, 2)),)), loss=lindyn.LogisticLoss()), "`Y`"),
    "samples nan": (lambda fs: lindyn.Samples(np.eye(2) * NAN, [1.0, 1.0]), "`X`"),
    "masked loss shape": (lambda fs: Problem(Network((2, 2)), lindyn.Samples(np.eye(2), np.eye(2)),
                                             GivenWeights((np.eye(2),)), loss=lindyn.MaskedSquaredLoss(np.ones((3, 3)))),
                          "`Y`"),
}


@pytest.mark.parametrize("case", list(KEREKES), ids=list(KEREKES))
def test_kerekes(case, squared):
    make, match = KEREKES[case]
    _raises(lambda: make(squared), match)
