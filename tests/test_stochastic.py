"""The stochastic solver and the estimated curvature (issue 11): oracles and invariants.

* Bernacchia et al. 2018's online natural gradient, re-implemented here in plain numpy from their
  published algorithm (factors with √λ added, ΔW_i = −(α/L) Ā_i⁻¹∇_iG_i⁻¹, predicted decrease
  Σ_i (−a + a²/2)⟨∇_i, Ā_i⁻¹∇_iG_i⁻¹⟩, λ x3/2 if ρ < 1/4, x2/3 if ρ > 3/4) is an independent route
  for `Stochastic` + `bernacchia(LevenbergMarquardt(λ0))` on full batches: weights and λ to 1e-10.
* On a one-layer linear net with the squared loss the Gauss–Newton model is the loss itself, so
  ρ = 1 at every step and λ shrinks by exactly 2/3 per step.
* Full batches with `sampling="epochs"` reduce `Stochastic` to `Discrete` (GD).
* `SampledFisher` is unbiased for the exact factor; `EmpiricalFisher` is not the Fisher: at a
  perfect fit its output factor is exactly 0 while the Fisher's is B_iᵀB_i.
* `MovingAverage` follows F̂_k = β_k F̂_{k−1} + (1 − β_k)F_k, β_k = min(1 − 1/k, decay).
"""
import numpy as np
import pytest

import lindyn as ld
from lindyn.numeric.curvature import CurvatureState, estimate_factors


def _teacher_problem(widths=(3, 4, 4, 2), n=60, bias=True, noise=0.1, seed=0, init_seed=1):
    rng = np.random.default_rng(seed)
    net = ld.Network(widths, bias=bias)
    X = rng.normal(size=(widths[0], n))
    teacher = ld.random_net(net, rng)
    Y = _forward(teacher, X, bias) + noise * rng.normal(size=(widths[-1], n))
    W0 = ld.random_net(net, np.random.default_rng(init_seed))
    return ld.Problem(net, ld.Samples(X, Y), ld.GivenWeights(tuple(W0))), teacher


def _forward(W, X, bias):
    h = X
    for w in W:
        h = w[:, :-1] @ h + w[:, -1:] if bias else w @ h
    return h


def _bernacchia_oracle(W, X, Y, alpha, lam, steps):
    """Bernacchia et al. 2018's algorithm (their lib/ngd.ml) with exact factors, full batch, plain numpy."""
    W = [w.copy() for w in W]
    L, N = len(W), X.shape[1]
    lams = []
    for _ in range(steps):
        acts = [np.vstack([X, np.ones((1, N))])]
        for w in W[:-1]:
            acts.append(np.vstack([w @ acts[-1], np.ones((1, N))]))
        f = W[-1] @ acts[-1]
        loss = 0.5 * np.sum((f - Y) ** 2) / N
        dz = [None] * L
        dz[-1] = (f - Y) / N
        for i in range(L - 1, 0, -1):
            dz[i - 1] = W[i][:, :-1].T @ dz[i]
        a = alpha / L
        delta = np.sqrt(lam)
        predicted = 0.0
        new = []
        for i in range(L):
            grad = dz[i] @ acts[i].T
            A = acts[i] @ acts[i].T / N
            B = np.eye(W[-1].shape[0])
            for w in W[i + 1:][::-1]:
                B = B @ w[:, :-1]
            G = B.T @ B
            P = np.linalg.solve(G + delta * np.eye(len(G)), grad) @ np.linalg.inv(A + delta * np.eye(len(A)))
            new.append(W[i] - a * P)
            predicted += (-a + 0.5 * a * a) * np.sum(grad * P)
        W = new
        f_new = _forward(W, X, True)
        rho = (0.5 * np.sum((f_new - Y) ** 2) / N - loss) / predicted
        if rho < 0.25:
            lam *= 1.5
        if rho > 0.75:
            lam *= 2 / 3
        lams.append(lam)
    return W, lams


def test_online_natural_gradient_matches_the_published_algorithm():
    problem, _ = _teacher_problem()
    n = problem.task.n
    steps = 12
    for lam0 in (1e-2, 3.0):
        method = ld.Stochastic(lr=1.0, batch=n, sampling="epochs")
        traj = ld.integrate(problem, ld.bernacchia(ld.LevenbergMarquardt(lam0)), np.arange(steps + 1) * 1.0,
                            method=method)
        W_ref, lams = _bernacchia_oracle(problem.initial_weights(), problem.task.X, problem.task.Y, 1.0, lam0, steps)
        for w, ref in zip(traj.W, W_ref):
            assert np.max(np.abs(w[-1] - ref)) <= 1e-10 * max(1.0, np.max(np.abs(ref)))
        assert np.allclose(traj.damping[1:], lams, rtol=1e-12)
        assert len(set(np.round(np.log(traj.damping[1:]), 6))) > 1      # λ actually moved


def test_gauss_newton_model_is_exact_on_a_one_layer_linear_net():
    """ρ = 1 at every step (the quadratic model is the loss), so λ_k = λ0 (2/3)^k."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(4, 50)), rng.normal(size=(2, 50))
    problem = ld.Problem(ld.Network((4, 2)), ld.Samples(X, Y), ld.GivenWeights((rng.normal(size=(2, 4)),)))
    for lr in (0.5, 1.0, 3.0):                      # even an overshooting step is modelled exactly
        method = ld.Stochastic(lr=lr, batch=20, quadratic="gauss-newton", seed=4)
        traj = ld.integrate(problem, ld.kfac(ld.LevenbergMarquardt(0.5), ld.SampledFisher()),
                            np.arange(1, 9) * lr, method=method)
        assert np.allclose(traj.damping, 0.5 * (2 / 3) ** np.arange(1, 9), rtol=1e-9)
    every = ld.Stochastic(lr=1.0, batch=20, quadratic="gauss-newton", adapt_every=3)
    traj = ld.integrate(problem, ld.kfac(ld.LevenbergMarquardt(0.5)), np.arange(1, 10) * 1.0, method=every)
    assert np.allclose(traj.damping, 0.5 * (2 / 3) ** (np.arange(1, 10) // 3), rtol=1e-9)   # adapted at steps 3, 6, 9


def test_full_batch_stochastic_gd_is_discrete_gd():
    problem, _ = _teacher_problem(bias=False)
    t = [0.0, 0.5, 1.0, 2.0]
    a = ld.integrate(problem, ld.GD(), t, method=ld.Stochastic(lr=0.05, batch=problem.task.n, sampling="epochs"))
    b = ld.integrate(problem, ld.GD(), t, method=ld.Discrete(lr=0.05))
    for x, y in zip(a.W, b.W):
        assert np.max(np.abs(x - y)) <= 1e-13
    assert list(a.samples) == [0, 10 * 60, 20 * 60, 40 * 60]
    assert np.all(np.diff(a.wall_time) >= 0) and np.all(np.isnan(a.damping))


def test_minibatches_are_reproducible_and_cover_the_data():
    problem, _ = _teacher_problem()
    m = ld.Stochastic(lr=0.01, batch=7, seed=5)
    rule = ld.bernacchia(ld.LevenbergMarquardt(0.1), ld.SampledFisher())
    a = ld.integrate(problem, rule, [0.05, 0.1], method=m)
    b = ld.integrate(problem, rule, [0.05, 0.1], method=m)
    c = ld.integrate(problem, rule, [0.05, 0.1], method=ld.Stochastic(lr=0.01, batch=7, seed=6))
    assert all(np.array_equal(x, y) for x, y in zip(a.W, b.W))
    assert not all(np.array_equal(x, y) for x, y in zip(a.W, c.W))
    rng = np.random.default_rng(0)
    batches = ld.Stochastic(batch=12, sampling="epochs")._batches(60, rng)
    epoch = np.concatenate([next(batches) for _ in range(5)])
    assert sorted(epoch) == list(range(60))          # one epoch: every example exactly once


def test_sampled_fisher_is_unbiased_and_converges_like_one_over_root_samples():
    problem, _ = _teacher_problem(widths=(3, 4, 3, 2), n=400, bias=False)
    geo = ld.geometry(problem)
    exact = [(geo.B[i].T @ geo.B[i], geo.A[i] @ geo.Sigma @ geo.A[i].T) for i in range(3)]
    errors = []
    draws = (1, 4, 16, 64)
    for S in draws:
        err = []
        for seed in range(8):
            est = ld.estimated_factors(problem, ld.SampledFisher(S), seed=seed)
            err.append(max(np.linalg.norm(G - Ge) / np.linalg.norm(Ge) for (G, _), (Ge, _) in zip(est, exact)))
            for (_, A), (_, Ae) in zip(est, exact):      # the input factor is the data's own: exact
                assert np.allclose(A, Ae, rtol=1e-12, atol=1e-12)
        errors.append(np.mean(err))
    slope = np.polyfit(np.log(np.array(draws) * 400.0), np.log(errors), 1)[0]
    assert abs(slope + 0.5) < 0.12, (slope, errors)
    mean = np.mean([ld.estimated_factors(problem, ld.SampledFisher(16), seed=s)[0][0] for s in range(40)], axis=0)
    assert np.linalg.norm(mean - exact[0][0]) / np.linalg.norm(exact[0][0]) < 4 * errors[2] / np.sqrt(40)


def test_empirical_fisher_is_not_the_fisher():
    """At a perfect fit the residuals vanish: the empirical output factor is 0, the Fisher's is B_iᵀB_i."""
    rng = np.random.default_rng(2)
    net = ld.Network((3, 3, 2))
    W = ld.random_net(net, rng)
    X = rng.normal(size=(3, 100))
    problem = ld.Problem(net, ld.Samples(X, W[1] @ W[0] @ X), ld.GivenWeights(tuple(W)))
    empirical = ld.estimated_factors(problem, ld.EmpiricalFisher())
    fisher = ld.estimated_factors(problem, ld.ExactFactors())
    assert max(np.max(np.abs(G)) for G, _ in empirical) < 1e-25
    assert np.allclose(fisher[0][0], W[1].T @ W[1], rtol=1e-12)


def test_moving_average_recursion():
    problem, _ = _teacher_problem(bias=False)
    field_problem = problem
    state = CurvatureState(np.random.default_rng(0))
    est = ld.MovingAverage(of=ld.ExactFactors(), decay=0.5)
    expected = None
    for k, cols in enumerate((np.arange(0, 20), np.arange(20, 40), np.arange(40, 60), np.arange(0, 60)), start=1):
        batch = ld.estimated_factors(field_problem, ld.ExactFactors(), columns=cols)
        geo = ld.geometry(ld.Problem(problem.network, ld.Samples(problem.task.X[:, cols], problem.task.Y[:, cols]),
                                     problem.init))
        got = estimate_factors(geo, est, state)
        beta = min(1 - 1 / k, 0.5)
        expected = [(G, A) for G, A in batch] if expected is None else \
            [(beta * G0 + (1 - beta) * G, beta * A0 + (1 - beta) * A) for (G0, A0), (G, A) in zip(expected, batch)]
        for (G, A), (Ge, Ae) in zip(got, expected):
            assert np.allclose(G, Ge, rtol=1e-13) and np.allclose(A, Ae, rtol=1e-13)


@pytest.mark.parametrize("call, name", [
    (lambda p, q: ld.integrate(q, ld.GD(), [1.0], method=ld.Stochastic()), "method"),
    (lambda p, q: ld.integrate(p, ld.bernacchia(estimator=ld.SampledFisher()), [1.0]), "estimator"),
    (lambda p, q: ld.integrate(p, ld.kfac(ld.LevenbergMarquardt()), [1.0], method=ld.Discrete(0.1)), "damping"),
    (lambda p, q: ld.integrate(p, ld.GD(), [1.0], method=ld.Stochastic(batch=1000)), "batch"),
    (lambda p, q: ld.Stochastic(sampling="random"), "sampling"),
    (lambda p, q: ld.Stochastic(quadratic="exact"), "quadratic"),
    (lambda p, q: ld.Stochastic(lr=0), "lr"),
    (lambda p, q: ld.LevenbergMarquardt(grow=0.5), "grow"),
    (lambda p, q: ld.MovingAverage(decay=1.0), "decay"),
    (lambda p, q: ld.SampledFisher(0), "samples"),
    (lambda p, q: ld.NGD(damping=ld.LevenbergMarquardt()), "damping"),
    (lambda p, q: ld.BlockNGD(estimator="sampled"), "estimator"),
    (lambda p, q: ld.estimated_factors(p, ld.MovingAverage()), "estimator"),
    (lambda p, q: ld.estimated_factors(p, ld.SampledFisher(), columns=[0, 600]), "columns"),
    (lambda p, q: ld.estimated_factors(p, ld.SampledFisher(), columns=[0.5]), "columns"),
    (lambda p, q: ld.estimated_factors(p, ld.SampledFisher(), seed=-1), "seed"),
])
def test_errors_name_the_parameter(call, name):
    problem, _ = _teacher_problem()
    moments = ld.aligned_problem(s=[1.0], depth=2, u0=0.1)
    with pytest.raises(ld.LindynError, match=f"`{name}`"):
        call(problem, moments)


def test_diverging_run_stops_with_what_it_reached():
    problem, _ = _teacher_problem(bias=False)
    traj = ld.integrate(problem, ld.GD(), [5.0, 10.0, 5000.0], method=ld.Stochastic(lr=5.0, batch=10, on_failure="stop"))
    assert traj.stopped_at is not None and len(traj.t) < 3
    with pytest.raises(ld.IntegrationFailed):
        ld.integrate(problem, ld.GD(), [5000.0], method=ld.Stochastic(lr=5.0, batch=10))
