"""Bernacchia et al. 2018's online natural gradient on the linear teacher task (lindyn.papers.bernacchia2018_online).

Oracles: chain products of the layer matrices (B_iᵀB_i, A_iΣA_iᵀ) typed here; the network's own outputs for
the affine end-to-end map; `Discrete(lr)` for the stochastic solver on full batches; the depth-L flow for its
depth-1 reduction. Rates are fitted (log-log slopes), never assumed.
"""
import math

import numpy as np
import pytest

from lindyn import (GD, Discrete, ExactFactors, GivenWeights, LindynError, Network, Problem, Samples, Stochastic,
                    bernacchia, bernacchia_linear_task, estimated_factors, integrate, random_net)
from lindyn.papers import bernacchia2018_online as online


def _chain(W, i):
    """(A_i, B_i) as products of the raw layer matrices (oracle; i from 0)."""
    A, B = np.eye(W[0].shape[1]), np.eye(W[-1].shape[0])
    for w in W[:i]:
        A = w @ A
    for w in W[:i:-1]:
        B = B @ w
    return A, B


# --- the estimator ------------------------------------------------------------------------------------------

def test_exact_factors_are_the_chain_products():
    rng = np.random.default_rng(5)
    net = Network((3, 4, 5, 2))
    W = random_net(net, 7)
    X, Y = rng.normal(size=(3, 300)), rng.normal(size=(2, 300))
    problem = Problem(net, Samples(X, Y), GivenWeights(W))
    Sigma = X @ X.T / 300
    for i, (G, A_bar) in enumerate(estimated_factors(problem, ExactFactors())):
        A, B = _chain(W, i)
        assert np.allclose(G, B.T @ B, rtol=1e-12, atol=1e-14)
        assert np.allclose(A_bar, A @ Sigma @ A.T, rtol=1e-12, atol=1e-14)
    assert all(e < online.EXACT_VELOCITY_TOL for e in online.exact_factor_errors(n=512))


@pytest.fixture(scope="module")
def convergence():
    return online.estimator_convergence()


def test_sampled_factor_error_falls_like_one_over_sqrt_samples(convergence):
    r = convergence
    assert abs(r.slope_G + 0.5) <= online.SLOPE_TOL and abs(r.slope_A + 0.5) <= online.SLOPE_TOL
    # the errors are against B_iᵀB_i and A_iCA_iᵀ with C the population covariance: they must actually shrink
    assert r.factor_error_G[-1] < r.factor_error_G[0] / 8 and r.factor_error_A[-1] < r.factor_error_A[0] / 6
    assert r.factor_error_G[-1] < online.FACTOR_ERROR_MAX


def test_sampled_update_approaches_the_exact_per_layer_velocity(convergence):
    r = convergence
    assert abs(r.slope_update + 0.5) <= online.SLOPE_TOL
    assert r.update_error[-1] < online.UPDATE_ERROR_MAX < r.update_error[0]
    assert r.update_error[0] / r.update_error[-1] > 8          # 256x the draws: ~16x smaller error


# --- the solver and the flow's route ------------------------------------------------------------------------

def _small_problem(seed=0, n=64, width=4, depth=3):
    task = bernacchia_linear_task(seed=seed, width=width, depth=depth, n_train=n, n_test=50)
    rng = np.random.default_rng(seed + 11)
    layers = tuple(np.hstack([np.eye(width) + 0.2 * rng.normal(size=(width, width)) / 2,
                              0.1 * rng.normal(size=(width, 1))]) for _ in range(depth))
    return task, Problem(task.network, task.train, GivenWeights(layers))


def _invertible_problem():
    """The first seed whose straight NG path meets no singular matrix (decided from the init and data alone):
    at a singular crossing the per-layer dynamics amplify rounding (~1e-9 after 20 steps on seed 0)."""
    for seed in range(20):
        task, problem = _small_problem(seed)
        if online.flow_curve(task.train, task.test, problem.initial_weights(), [0.0]).crossing is None:
            return task, problem
    raise AssertionError("no seed without a singular crossing")


@pytest.mark.parametrize("rule", [bernacchia(), GD()], ids=["bernacchia", "gd"])
def test_stochastic_full_batch_epochs_is_discrete(rule):
    task, problem = _invertible_problem()
    lr, n = 0.1, task.train.X.shape[1]
    t = np.arange(0, 41) * lr
    a = integrate(problem, rule, t, method=Stochastic(lr=lr, batch=n, sampling="epochs", seed=3))
    b = integrate(problem, rule, t, method=Discrete(lr=lr))
    assert np.allclose(a.t, b.t)
    err = max(np.max(np.abs(x - y)) / np.max(np.abs(y)) for x, y in zip(a.W, b.W))
    assert err < 1e-12
    assert np.max(np.abs(a.W[0][-1] - a.W[0][0])) > 1e-2      # it moved


def test_affine_map_reproduces_the_network_outputs():
    task, problem = _small_problem(seed=1)
    W = problem.initial_weights()
    f = integrate(problem, GD(), [0.0], method=Discrete(lr=0.1)).outputs[0]
    X = np.vstack([task.train.X, np.ones((1, task.train.X.shape[1]))])
    assert np.allclose(online.affine_map(W) @ X, f, rtol=1e-12, atol=1e-12)


def test_depth_L_flow_follows_its_depth_1_reduction():
    assert online.flow_reduction_error() < online.REDUCTION_TOL
    assert online.flow_reduction_error(width=3, depth=4, seed=1) < online.REDUCTION_TOL


def test_paper_init_meets_a_singular_matrix_at_once():
    """From the paper's init (a product of 16 random matrices) the straight path is singular almost at t = 0."""
    task = bernacchia_linear_task(seed=0)
    W0 = random_net(task.network, online.STUDENT_SEED_OFFSET)
    fc = online.flow_curve(task.train, task.test, W0, [0.0, 20.0])
    assert fc.crossing_t is not None and fc.crossing_t < 1e-3
    assert fc.test_error[-1] < online.FLOOR_FACTOR * task.noise_floor < fc.test_error[0]


# --- the experiment --------------------------------------------------------------------------------------------

def test_ng_beats_sgd_on_the_linear_task():
    r = online.linear_experiment(epochs=7, sgd_alphas=(0.02,))
    ng, sgd = r.ng(0), r.sgd(0)[0]
    assert r.ng_steps_to_floor(0) is not None and r.ng_steps_to_floor(0) <= 70
    assert ng.final_test_error(r.n_train) <= r.floor_level
    assert sgd.min_test_error >= online.SGD_GAP * r.noise_floor
    assert r.best_sgd(0) is sgd
    assert np.all(np.diff(ng.wall_time) >= 0) and ng.samples[-1] == 70_000
    assert np.all(ng.damping[1:] > 0) and np.all(np.isnan(sgd.damping))
    # the realised floor of the 1,000 test samples is within 2% of its expectation ½·n·σ²
    assert abs(r.teacher_test_errors[0] / r.noise_floor - 1) < 0.02


def _tiny(**kw):
    args = dict(epochs=1, sgd_alphas=(0.02, 100.0), n_train=2000, n_test=100, width=4, depth=2)
    args.update(kw)
    return online.linear_experiment(**args)


def test_reproducible_with_seeds_and_diverged_arms_are_kept():
    a, b, c = _tiny(seeds=(0, 1)), _tiny(seeds=(0, 1)), _tiny(seeds=(2,))
    for x, y in zip(a.arms, b.arms):
        assert x.name == y.name and np.array_equal(x.test_error, y.test_error) and x.diverged_at == y.diverged_at
    assert not np.allclose(a.ng(0).test_error[1:], a.ng(1).test_error[1:])
    assert not np.allclose(a.ng(0).test_error[1:], c.ng(2).test_error[1:])
    wild = [arm for arm in a.sgd(0) if arm.alpha == 100.0][0]
    assert wild.diverged and wild.final_test_error(a.n_train) == math.inf and a.best_sgd(0) is not wild
    assert len(a.arms) == 6                                   # NG + 2 SGD per seed: nothing dropped
    names = [p.name for p in online.linear_panels(a)]
    assert names == ["online_ng_linear_samples", "online_ng_linear_wallclock"]
    labels = [cv.label for cv in online.linear_panels(a)[0].curves]
    assert any("diverged at step" in lab for lab in labels) and any("noise floor" in lab for lab in labels)


@pytest.mark.parametrize("kwargs, name", [
    (dict(record_every=1500), "record_every"), (dict(epochs=0), "epochs"), (dict(seeds=()), "seeds"),
    (dict(sgd_alphas=(-1.0,)), "sgd_alphas"), (dict(sgd_alphas=()), "sgd_alphas"),
    (dict(floor_factor=0.9), "floor_factor"), (dict(width=0), "width")])
def test_bad_experiment_arguments(kwargs, name):
    with pytest.raises(LindynError, match=name):
        online.linear_experiment(**kwargs)


def test_bad_estimator_arguments():
    with pytest.raises(LindynError, match="samples"):
        online.estimator_convergence(samples=(64,))
    with pytest.raises(LindynError, match="draws"):
        online.estimator_convergence(draws=(4, 1))
    with pytest.raises(LindynError, match="layers"):
        online.affine_map([np.ones((2, 3)), np.ones((2, 2))])


# --- the claims ---------------------------------------------------------------------------------------------

def test_claims_pass_by_default_and_cite_the_paper():
    assert [c.name for c in online.CLAIMS] == ["online-ng-linear", "online-ng-estimator"]
    for claim in online.CLAIMS:
        assert "Bernacchia et al. 2018, Sec. 5" in claim.source
        result = claim.check(False)
        assert result.passed, result.reason
    assert online.CLAIMS[0].kind == "outcome" and online.CLAIMS[1].kind == "two-routes"
