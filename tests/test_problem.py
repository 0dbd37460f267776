"""One problem (model x loss x data), one geometry, one integrator: each fact checked by an independent route.

Oracles: the moment form of the squared loss (`Task.from_data`) against samples; finite differences
of the loss against the back-propagated gradients; the dense output Jacobian against the K-FAC
factors (exact for linear chains, Martens & Grosse 2015); the function-space flows of Kerekes
et al. 2021 (THEORY §4: logistic margins m(t) = ln[(e^{m0} + 1)e^t − 1], squared f = y + e^{−t}(f0 − y)).
"""
from fractions import Fraction

import numpy as np
import pytest
from conftest import EXACT_PATH_RTOL

from lindyn import (GD, NGD, BlockNGD, Discrete, Flow, GivenWeights, HighPrecision, IntegrationFailed, LindynError,
                    LogisticLoss, MaskedSquaredLoss, Network, Problem, Samples, SmallRandom, SquaredLoss, Task,
                    bernacchia, integrate, layer_velocities, rule)
from lindyn.numeric.geometry import MatrixGeometry, SampleData

#: Two routes through the same arithmetic up to reassociation (samples vs moments): rounding only.
SAME_PROBLEM_RTOL = 1e-12
#: Central finite differences with step 1e-6 on O(1) losses: truncation ~1e-12, rounding ~1e-10.
FD_RTOL = 1e-6

RNG = np.random.default_rng(7)
X = RNG.normal(size=(3, 12))
Y = RNG.normal(size=(2, 12))
NET = Network((3, 4, 2))
INIT = SmallRandom(scale=0.4, seed=3)
USER = rule(lambda grads, geo, ops: tuple(-(g @ g.T @ g) * ops.scalar(Fraction(1, 3)) for g in grads), name="cubic")


@pytest.mark.parametrize("rule_", [GD(), NGD(), NGD(q=Fraction(1, 2)), BlockNGD(), BlockNGD(q=Fraction(1, 2)),
                                   bernacchia(), USER], ids=lambda r: r.name)
def test_samples_equal_moments(rule_):
    """Squared loss on samples (mean) is the moment problem Task.from_data: same flow for every rule."""
    t = [0.0, 0.5, 1.0]
    a = integrate(Problem(NET, Samples(X, Y), INIT), rule_, t)
    b = integrate(Problem(NET, Task.from_data(X, Y), INIT), rule_, t)
    for wa, wb in zip(a.W, b.W):
        assert np.max(np.abs(wa - wb)) <= SAME_PROBLEM_RTOL * max(1.0, np.max(np.abs(wb))) * 1e3
    assert np.allclose(a.loss - a.loss[-1], b.loss - b.loss[-1], rtol=1e-9, atol=1e-12)


def _loss_at(problem, W):
    geo = MatrixGeometry(W, problem.data(), loss=problem.loss, activation=problem.network.activation,
                         bias=problem.network.bias)
    return problem.loss.value(geo.outputs, problem.task.Y), geo


@pytest.mark.parametrize("activation,bias,loss", [("linear", False, SquaredLoss()), ("tanh", True, SquaredLoss()),
                                                  ("tanh", False, LogisticLoss()), ("linear", True, LogisticLoss())])
def test_gradients_match_finite_differences(activation, bias, loss):
    y = np.sign(RNG.normal(size=(1, 12))) if isinstance(loss, LogisticLoss) else RNG.normal(size=(1, 12))
    p = Problem(Network((3, 5, 4, 1), activation=activation, bias=bias), Samples(X, y), SmallRandom(0.7, seed=1),
                loss=loss)
    W = p.initial_weights()
    _, geo = _loss_at(p, W)
    h = 1e-6
    for i, w in enumerate(W):
        for idx in [(0, 0), (w.shape[0] - 1, w.shape[1] - 1)]:
            plus = [x.copy() for x in W]
            minus = [x.copy() for x in W]
            plus[i][idx] += h
            minus[i][idx] -= h
            fd = (_loss_at(p, plus)[0] - _loss_at(p, minus)[0]) / (2 * h)
            assert abs(fd - geo.grads[i][idx]) <= FD_RTOL * max(1.0, abs(fd))


def test_kfac_factors_are_the_exact_diagonal_fisher_blocks_of_a_linear_chain():
    """F_ii = input_factor(i) ⊗ output_factor(i) on a deep linear net (squared and logistic losses)."""
    for loss, y in ((SquaredLoss(), Y), (LogisticLoss(), np.sign(RNG.normal(size=(1, 12))))):
        k = y.shape[0]
        W = SmallRandom(0.8, seed=2).weights(Network((3, 4, k)), None)
        geo = MatrixGeometry(W, SampleData(X, y), loss=loss)
        F = geo.fisher().dense()
        start = 0
        for i, w in enumerate(W):
            size = w.size
            block = F[start:start + size, start:start + size]
            kron = np.kron(geo.input_factor(i), geo.output_factor(i))
            assert np.max(np.abs(block - kron)) <= 1e-12 * np.max(np.abs(block))
            start += size


def test_chain_products_refused_on_nonlinear_nets():
    p = Problem(Network((3, 4, 1), activation="tanh"), Samples(X, Y[:1]), SmallRandom(0.5))
    geo = MatrixGeometry(p.initial_weights(), p.data(), loss=p.loss, activation="tanh")
    with pytest.raises(LindynError, match="deep linear network"):
        geo.B
    # K-FAC factors exist on every network (the independence approximation), so block rules run
    assert geo.output_factor(0).shape == (4, 4) and geo.input_factor(1).shape == (4, 4)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_logistic_ngf_margins_follow_the_function_space_flow(depth):
    """Kerekes et al. 2021 (THEORY §4): ṁ = 1 + e^{−m}, m(t) = ln[(e^{m0} + 1)e^t − 1], any depth."""
    d, n = 4, 3
    Xc = RNG.normal(size=(d, n))
    y = np.array([[1.0, -1.0, 1.0]])
    p = Problem(Network((d,) * depth + (1,)), Samples(Xc, y), SmallRandom(0.6, seed=depth),
                loss=LogisticLoss(reduction="sum"))
    t = np.array([0.0, 1.0, 3.0])
    traj = integrate(p, NGD(), t, method=Flow(rtol=1e-12, atol=1e-14))
    m = traj.outputs[:, 0, :] * y[0]
    oracle = np.log((np.exp(m[0]) + 1) * np.exp(t)[:, None] - 1)
    assert np.max(np.abs(m - oracle)) <= 1e-8


def test_wide_tanh_net_ngd_follows_function_space_flow_narrow_does_not():
    """J_f of full row rank: f = y + e^{−t}(f0 − y) (THEORY §4); P < n: it cannot (outcome, not identity)."""
    Xt = RNG.normal(size=(2, 6))
    y = np.sin(Xt[:1])
    t = np.array([0.0, 0.5, 2.0])
    wide = Problem(Network((2, 12, 1), activation="tanh"), Samples(Xt, y), SmallRandom(0.8, seed=0),
                   loss=SquaredLoss(reduction="sum"))
    f = integrate(wide, NGD(), t).outputs[:, 0, :]
    flow = y[0] + np.exp(-t)[:, None] * (f[0] - y[0])
    assert np.max(np.abs(f - flow)) <= 1e-7
    # P = 3 parameters < n = 6 examples: ḟ = J_f θ̇ lies in a 4-dimensional subspace, so it cannot be y − f
    narrow = Problem(Network((2, 1, 1), activation="tanh"), Samples(Xt, y), SmallRandom(0.8, seed=0),
                     loss=SquaredLoss(reduction="sum"))
    v = layer_velocities(narrow, NGD())
    geo = MatrixGeometry(narrow.initial_weights(), narrow.data(), loss=narrow.loss, activation="tanh")
    f_dot = geo.jacobian() @ np.concatenate([w.T.ravel() for w in v])
    residual = y[0] - geo.outputs[0]
    # NGD moves f by the projection of the residual on range(J_f) (J_f F⁺ J_fᵀ = P): the gap is the part outside
    J = geo.jacobian()
    Q = np.linalg.svd(J, full_matrices=False)[0][:, :np.linalg.matrix_rank(J)]
    outside = np.linalg.norm(residual - Q @ (Q.T @ residual))
    assert abs(np.linalg.norm(f_dot - residual) - outside) <= 1e-9 * np.linalg.norm(residual)
    assert outside >= 0.01 * np.linalg.norm(residual)


def test_masked_model_fisher_ngd_leaves_unobserved_entries():
    """Function-space NGD of completion: Ẇ = −P_Ω(W − M) (THEORY §4): unobserved entries never move."""
    n = 4
    M = np.outer(RNG.normal(size=n), RNG.normal(size=n))
    mask = (RNG.random((n, n)) < 0.6).astype(float)
    p = Problem(Network((n, n, n)), Samples(np.eye(n), M), SmallRandom(0.5, seed=0),
                loss=MaskedSquaredLoss(mask, fisher="model", reduction="sum"))
    traj = integrate(p, NGD(), [0.0, 0.5, 1.0])
    W = traj.W_end
    assert np.max(np.abs((1 - mask) * (W - W[0]))) <= 1e-8
    expected = W[0] + (1 - np.exp(-traj.t))[:, None, None] * (mask * (M - W[0]))
    assert np.max(np.abs(W - expected)) <= 1e-8


def test_event_stops_the_run_where_it_fires():
    p = Problem(NET, Samples(X, Y), INIT)
    W0 = p.initial_weights()
    target = 0.9 * p.loss.value(W0[1] @ W0[0] @ X, Y)
    event = lambda t, layers: p.loss.value(layers[1] @ layers[0] @ X, Y) - target  # noqa: E731
    for method in (Flow(), Discrete(lr=1e-2)):
        traj = integrate(p, GD(), np.linspace(0, 200, 5), method=method, event=event)
        assert traj.stopped_at is not None and traj.stop_reason == "event"
        assert traj.t[-1] == traj.stopped_at
        tol = 1e-8 if isinstance(method, Flow) else 1e-2
        assert abs(traj.loss[-1] - target) <= tol * target


def test_dense_output_only_when_asked_and_it_matches():
    p = Problem(NET, Task.from_data(X, Y), INIT)
    plain = integrate(p, GD(), [0.3, 0.7, 1.0])
    assert plain.interpolant is None
    dense = integrate(p, GD(), [1.0], method=Flow(dense=True))
    theta = dense.interpolant(0.3)
    assert np.max(np.abs(theta[:12].reshape(3, 4).T - plain.W[0][0])) <= 1e-9


def test_on_failure_stop_returns_what_was_reached():
    blowup = rule(lambda grads, geo, ops: tuple(w @ w for w in geo.W), name="blowup")
    p = Problem(Network((1, 1)), Task([[1.0]]), GivenWeights((np.array([[1.0]]),)))
    with pytest.raises(IntegrationFailed):
        integrate(p, blowup, [0.5, 3.0])
    traj = integrate(p, blowup, [0.25, 0.5, 3.0], method=Flow(on_failure="stop"))
    assert traj.stopped_at is not None and 0.5 < traj.stopped_at <= 1.0 + 1e-9 and list(traj.t) == [0.25, 0.5]
    assert abs(traj.W[0][-1, 0, 0] - 2.0) <= 1e-8           # W(t) = 1/(1 − t)


def test_layer_velocities_are_the_rule_on_the_geometry():
    p = Problem(NET, Task.from_data(X, Y), INIT, tau=2.0)
    v = layer_velocities(p, GD())
    geo = MatrixGeometry(p.initial_weights(), p.data())
    assert all(np.allclose(a, -g / 2.0) for a, g in zip(v, geo.grads))


@pytest.mark.parametrize("make,match", [
    (lambda: Problem(Network((3, 2), activation="relu"), Task(np.eye(2, 3)), SmallRandom()), "activation"),
    (lambda: Problem(Network((3, 2), activation="tanh"), Task(np.eye(2, 3)), SmallRandom()), "network"),
    (lambda: Problem(Network((3, 1)), Task(np.eye(1, 3)), SmallRandom(), loss=LogisticLoss()), "loss"),
    (lambda: Problem(Network((3, 1)), Samples(X, np.ones((1, 12)) * 0.5), SmallRandom(), loss=LogisticLoss()), "Y"),
    (lambda: Problem(Network((3, 2)), Samples(X, Y), SmallRandom(), loss="squared"), "loss"),
    (lambda: Samples(X, Y[:, :5]), "Y"),
    (lambda: MaskedSquaredLoss([[0.5]]), "mask"),
    (lambda: SquaredLoss(reduction="median"), "reduction"),
    (lambda: integrate(Problem(NET, Samples(X, Y), INIT), GD(), [1.0], method=HighPrecision()), "method"),
    (lambda: Flow(on_failure="ignore"), "on_failure"),
])
def test_bad_problems_name_the_argument(make, match):
    with pytest.raises(LindynError, match=match):
        make()
