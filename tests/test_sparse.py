"""Diagonal linear networks (the sparse case of Kerekes et al. 2021): the model, its geometry, GD's and NGD's paths.

Oracles: central finite differences of the loss and of the outputs (gradients, Jacobian, Fisher); the
derived Moore–Penrose NGD velocity in w, ẇ = −PX(XᵀPX)⁻¹(f − y), P = diag(L²(u^{2L−2} + v^{2L−2}));
closed-form minimum-ℓ1 solutions of one-example problems (all weight on the largest |x_j|); Monte Carlo
for the Gaussian test accuracy 1 − ∠(w, w*)/π; Woodworth et al. 2020's characterisation of GD's
limit (w = α^L h_L(Xν), Xᵀw = y) and the conservation laws it rests on (u v at L = 2).
"""
import math
import warnings

import numpy as np
import pytest

from lindyn import (GD, NGD, Aligned, BlockNGD, GivenWeights, LindynError, LogisticLoss, Network, Problem, Samples,
                    SquaredLoss, Task, geometry, integrate, layer_velocities, rule)
from lindyn.function_space import (function_space_trajectory, l1_max_margin_direction, min_l1_interpolant,
                                   sign_agreement, sparse_classification_data, sparse_regression_data)
from lindyn.papers import kerekes2021_sparse as ks
from lindyn.problem import DiagonalInit, DiagonalNetwork

#: Central differences with step 1e-6 on O(1) functions: truncation ~1e-12, rounding ~1e-10.
FD_RTOL = 1e-6
#: Two evaluations of the same algebra (dense vs structured, formula vs rule): rounding only.
SAME_RTOL = 1e-9
#: Integrated (DOP853, rtol 1e-10) vs an oracle: ~1e-9 observed.
FLOW_RTOL = 1e-7
#: Monte Carlo accuracy with 4e5 samples: standard error ~8e-4.
MC_TOL = 5e-3

RNG = np.random.default_rng(3)
X = RNG.normal(size=(6, 4))
Y = RNG.normal(size=(1, 4))
LABELS = np.sign(RNG.normal(size=(1, 4)))


def _generic(d, rng=RNG):
    return (0.5 + rng.random((1, d)), 0.5 + rng.random((1, d)))


def _problem(L, loss=SquaredLoss(), y=Y, W=None):
    return Problem(DiagonalNetwork(X.shape[0], L), Samples(X, y), GivenWeights(W or _generic(X.shape[0])), loss=loss)


@pytest.mark.parametrize("L", [1, 2, 3, 4])
@pytest.mark.parametrize("loss,y", [(SquaredLoss(), Y), (LogisticLoss(reduction="sum"), LABELS)],
                         ids=["squared", "logistic"])
def test_gradients_jacobian_and_fisher_match_finite_differences(L, loss, y):
    p = _problem(L, loss, y)
    geo = geometry(p)
    theta = np.concatenate([w[0] for w in p.initial_weights()])
    d = X.shape[0]

    def outputs(th):
        return (th[:d] ** L - th[d:] ** L) @ X

    def value(th):
        return loss.value(outputs(th)[None, :], y)

    h = 1e-6
    E = np.eye(2 * d) * h
    fd_grad = np.array([(value(theta + e) - value(theta - e)) / (2 * h) for e in E])
    fd_jac = np.array([(outputs(theta + e) - outputs(theta - e)) / (2 * h) for e in E]).T
    grads = np.concatenate([g[0] for g in geo.grads])
    assert np.max(np.abs(grads - fd_grad)) <= FD_RTOL * max(1.0, np.max(np.abs(fd_grad)))
    assert np.max(np.abs(geo.jacobian() - fd_jac)) <= FD_RTOL * max(1.0, np.max(np.abs(fd_jac)))
    D = loss.curvature(geo.outputs, y)[0]
    F = fd_jac.T @ (D[:, None] * fd_jac)
    assert np.max(np.abs(geo.fisher().dense() - F)) <= FD_RTOL * max(1.0, np.max(np.abs(F)))
    # the explicit route forms the same dense Fisher
    assert np.allclose(geometry(p, fisher_route="explicit").fisher(), geo.fisher().dense(), rtol=SAME_RTOL, atol=0)
    # end-to-end velocity of the diagonal map = directional derivative of w
    V = (RNG.normal(size=(1, d)), RNG.normal(size=(1, d)))
    v = np.concatenate([x[0] for x in V])
    w = lambda th: th[:d] ** L - th[d:] ** L  # noqa: E731
    fd_w = (w(theta + h * v) - w(theta - h * v)) / (2 * h)
    assert np.max(np.abs(geo.end_to_end_velocity(V)[0] - fd_w)) <= FD_RTOL * max(1.0, np.max(np.abs(fd_w)))
    assert np.allclose(geo.W_end[0], w(theta), rtol=1e-14, atol=0)


@pytest.mark.parametrize("L", [1, 2, 3])
def test_ngd_velocity_in_w_is_the_derived_preconditioned_flow(L):
    """ẇ = −PX(XᵀPX)⁻¹(f − y), P = diag(L²(u^{2L−2} + v^{2L−2})) (mean squared loss): the rule, unchanged."""
    p = _problem(L)
    W = p.initial_weights()
    geo = geometry(p)
    wdot = geo.end_to_end_velocity(layer_velocities(p, NGD(), W))[0]
    u, v = W[0][0], W[1][0]
    P = L ** 2 * (u ** (2 * L - 2) + v ** (2 * L - 2))
    f = geo.outputs[0]
    oracle = -(P[:, None] * X) @ np.linalg.solve(X.T @ (P[:, None] * X), f - Y[0])
    assert np.max(np.abs(wdot - oracle)) <= SAME_RTOL * max(1.0, np.max(np.abs(oracle)))
    # GD's w-velocity is −P X ∇_fℓ: both lie in P·range(X), the root of their shared invariant manifold
    gd = geo.end_to_end_velocity(layer_velocities(p, GD(), W))[0]
    assert np.max(np.abs(gd + (P[:, None] * X) @ ((f - Y[0]) / X.shape[1]))) <= SAME_RTOL * max(1.0, np.abs(gd).max())


def test_ngd_at_depth_one_is_the_function_space_flow_and_deeper_it_is_not():
    """L = 1 (P = 2I): MP NGD on w = u − v equals NGD on θ = w; at L = 2 the same outputs, another w."""
    t = [0.0, 0.5, 2.0]
    y = Y[0]
    flow = integrate(Problem(Network((6, 1)), Samples(X, Y), GivenWeights((np.zeros((1, 6)),))), NGD(), t)
    for L, same in ((1, True), (2, False)):
        tr = integrate(Problem(DiagonalNetwork(6, L), Samples(X, Y), DiagonalInit(0.3)), NGD(), t)
        gap = np.max(np.abs(tr.W_end - flow.W_end))
        assert (gap <= FLOW_RTOL) if same else (gap >= 1e-2)
        f = tr.outputs[:, 0, :]
        derived = function_space_trajectory("squared").evaluate(tr.t, f0=np.zeros(4), y=y)
        assert np.max(np.abs(f - derived)) <= FLOW_RTOL


@pytest.mark.parametrize("rule_", [GD(), NGD()], ids=lambda r: r.name)
def test_gd_and_ngd_conserve_the_diagonal_invariants(rule_):
    """L = 2: u_j v_j constant and ln(u/α) in the column space of X (velocity along ∂w/∂θ, in range Jᵀ)."""
    p = _problem(2, W=(np.full((1, 6), 0.2), np.full((1, 6), 0.2)))
    tr = integrate(p, rule_, [0.0, 1.0, 3.0])
    u, v = tr.W[0][:, 0, :], tr.W[1][:, 0, :]
    assert np.max(np.abs(u * v - 0.04)) <= FLOW_RTOL
    Q, _ = np.linalg.qr(X)
    drift = np.log(u / 0.2)
    assert np.max(np.abs(drift - drift @ Q @ Q.T)) <= FLOW_RTOL
    assert np.max(np.abs(drift[-1])) >= 1e-2          # it did move


def test_gd_limit_is_woodworths_interpolant_and_ngd_path_is_the_derived_one():
    X2, y2, w_star = sparse_regression_data(5, 12, 2, seed=4)
    for L in (2, 3):
        gd = integrate(ks.sparse_problem(X2, y2, L, 0.5), GD(), [0.0, 400.0])
        assert np.max(np.abs(gd.W_end[-1, 0] - ks.woodworth_interpolant(X2, y2, 0.5, L))) <= FLOW_RTOL
        t = [0.0, 0.7, 3.0]
        ngd = integrate(ks.sparse_problem(X2, y2, L, 0.1), NGD(), t)
        assert np.max(np.abs(ngd.W_end[1:, 0] - ks.ngd_path(X2, y2, L, 0.1, t[1:]))) <= FLOW_RTOL


def test_woodworth_interpolant_is_on_the_manifold_and_tends_to_min_l1():
    X2, y2, _ = sparse_regression_data(6, 15, 2, seed=1)
    for L in (2, 3, 4):
        w = ks.woodworth_interpolant(X2, y2, 0.2, L)
        assert np.max(np.abs(X2.T @ w - y2)) <= 1e-9
        # w = α^L h_L(Xν): the inverse map lands in the column space of X
        z = np.arcsinh(w / (2 * 0.2 ** 2)) if L == 2 else _h_inverse(w / 0.2 ** L, L)
        Q, _ = np.linalg.qr(X2)
        assert np.max(np.abs(z - Q @ (Q.T @ z))) <= 1e-8
    l1 = min_l1_interpolant(X2, y2)           # α → 0 (a power of α here: 0.09, 3e-3, 9e-5, 3e-6)
    gaps = [np.max(np.abs(ks.woodworth_interpolant(X2, y2, a, 2) - l1)) for a in (1e-4, 1e-8, 1e-12, 1e-16)]
    assert all(b < a for a, b in zip(gaps, gaps[1:])) and gaps[-1] <= 1e-5
    assert np.allclose(ks.woodworth_interpolant(X2, y2, 0.7, 1), np.linalg.pinv(X2.T) @ y2, atol=1e-12)


def _h_inverse(target, L):
    from scipy.optimize import brentq
    return np.array([brentq(lambda z: float(ks.woodworth_h(L, z)) - t, -1 + 1e-15, 1 - 1e-15) for t in target])


def test_l1_tools_against_closed_forms():
    x = np.array([[0.5], [-3.0], [2.0]])
    assert np.allclose(min_l1_interpolant(x, [6.0]), [0.0, -2.0, 0.0], atol=1e-12)
    mm = l1_max_margin_direction(x, [1.0])
    assert np.allclose(mm.v, [0.0, -1.0 / 3.0, 0.0], atol=1e-12) and math.isclose(mm.margin, 3.0)
    Xc, yc, wc = sparse_classification_data(30, 20, 3, seed=2)
    mm = l1_max_margin_direction(Xc, yc)
    assert np.min(yc * (mm.v @ Xc)) >= 1 - 1e-9
    w = RNG.normal(size=20)
    xs = np.random.default_rng(0).normal(size=(400_000, 20))
    mc = float(np.mean(np.sign(xs @ w) == np.sign(xs @ wc)))
    assert abs(float(sign_agreement(w, wc)) - mc) <= MC_TOL


def test_coordinate_derivation_and_a_wrong_rule():
    for rule_ in (GD(), NGD()):
        flow = ks.derive_coordinate_flow(rule_, 3)
        assert flow.off_span == 0 and flow.conserved_rate == 0
    wrong = rule(lambda grads, geo, ops: (-grads[0], -2 * grads[1]), name="lopsided")
    flow = ks.derive_coordinate_flow(wrong, 2)
    assert flow.off_span != 0 and flow.w_of_zeta is None
    ev = ks.recovery_symbolic(rule=wrong)
    assert not all(m.passed for m in ev.measurements)
    assert all(m.passed for m in ks.recovery_symbolic().measurements)


def test_bad_input_names_the_argument():
    with pytest.raises(LindynError, match="task"):
        Problem(DiagonalNetwork(2, 2), Task(np.ones((1, 2))), DiagonalInit(0.1))
    with pytest.raises(LindynError, match="network"):
        Problem(Network((2, 1)), Samples(np.eye(2), [1.0, 0.0]), DiagonalInit(0.1)).initial_weights()
    with pytest.raises(LindynError, match="network"):
        Problem(DiagonalNetwork(2, 2), Samples(np.eye(2), [1.0, 0.0]), Aligned([[1.0, 1.0]])).initial_weights()
    with pytest.raises(LindynError, match="depth"):
        DiagonalNetwork(3, 0)
    with pytest.raises(LindynError, match="d"):
        DiagonalNetwork(0, 2)
    with pytest.raises(LindynError, match="scale"):
        Problem(DiagonalNetwork(2, 2), Samples(np.eye(2), [1.0, 0.0]), DiagonalInit(-1.0)).initial_weights()
    with pytest.raises(LindynError, match="geometry"):
        layer_velocities(_problem(2), BlockNGD())                  # K-FAC factors do not exist here
    with pytest.raises(LindynError, match="alpha"):
        ks.woodworth_interpolant(X, Y[0], 0.0, 2)
    with pytest.raises(LindynError, match="variant"):
        ks.sparse_problem(X, Y[0], 2, 0.1, variant="kfac")
    # the damped block rule reads the dense Fisher: it runs
    v = layer_velocities(_problem(2), BlockNGD(damping=1e-3, damping_mode="block"))
    assert all(np.all(np.isfinite(x)) for x in v)


def test_claims_pass_and_a_wrong_rule_fails_the_ngd_route():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for claim in ks.CLAIMS:
            assert claim.kind == "two-routes"
        result = ks.CLAIMS[1].check()
        assert result.passed, result.reason
        ev = ks.invariance_numeric(rule=GD())        # GD does not follow NGD's derived path
        assert not all(m.passed for m in ev.measurements if "Q_α-interpolant of" in m.label)
