"""Kerekes, Mészáros & Huszár 2021: function-space NGF, classification, completion, tanh nets.

Oracles (test-only, in tests/oracles.py; THEORY §4-5): logistic margins m(t) = ln[(e^{m0}+1)e^t − 1]
(THEORY §5 item 5 gives m(1) = 1.489880125645, m(5) = 5.689772519291 for m0 = 0); squared loss
f = y + e^{−t}(f0 − y); Arora et al. 2019 σ̇_r = −L(σ_r²)^{1−1/L}⟨∇ℓ, u_r v_rᵀ⟩ (THEORY §3).
The package derives the first two (sympy.dsolve) and evaluates only what it derived.
"""
from fractions import Fraction

import numpy as np
import pytest
import sympy
from conftest import (KEREKES_ARORA_TOL, KEREKES_DEPTH_TOL, KEREKES_DIRECTION_GAP, KEREKES_KKT_TOL,
                      KEREKES_LOW_RANK_MAX, KEREKES_MARGIN_TOL, KEREKES_NOT_RECOVERED, KEREKES_PINV_COS_MIN,
                      KEREKES_RECOVERED, KEREKES_TANH_TOL, KEREKES_UNOBSERVED_TOL)
from oracles import (KEREKES_MARGIN_M, KEREKES_MARGIN_T, kerekes_margin, kerekes_margin_expr, kerekes_squared,
                     kerekes_squared_expr)

from lindyn import (BlockNGD, CompletionLoss, GD, LindynError, LogisticLoss, LossGeometry, NGD, SquaredLoss,
                    arora_singular_value_check, derive_reduction, equal_margin_direction, function_space_trajectory,
                    integrate_loss, kerekes_claims, low_rank_problem, max_margin_direction, rule, run_classifier,
                    run_completion, run_tanh, separable_data, singular_crossing, tanh_task)
from lindyn._chain import chain_products
from lindyn.numeric._ops import NumpyOps
from lindyn.numeric.classification import layer_init


# --- symbolic: derived == oracle, exactly --------------------------------------------------

def test_logistic_margin_derivation_is_exact():
    traj = function_space_trajectory("logistic")
    s = traj.symbols
    assert sympy.simplify(traj.solution.rhs - kerekes_margin_expr(s["t"], s["m0"])) == 0
    assert sympy.simplify(traj.ode.rhs - (1 + sympy.exp(-traj.ode.lhs.args[0]))) == 0
    # Bernoulli Fisher derived from the likelihood equals σ(f)σ(−f)
    f = s["f"]
    assert sympy.simplify((traj.fisher - sympy.exp(f) / (1 + sympy.exp(f)) ** 2).rewrite(sympy.exp)) == 0


def test_squared_derivation_is_exact():
    traj = function_space_trajectory("squared")
    s = traj.symbols
    assert sympy.simplify(traj.solution.rhs - kerekes_squared_expr(s["t"], s["f0"], s["y"])) == 0
    assert traj.fisher == 1


def test_reduction_holds_for_generic_jacobian():  # public name (lindyn.derive_reduction)
    assert derive_reduction(2, 3).holds


def test_published_margin_values():
    traj = function_space_trajectory("logistic")
    np.testing.assert_allclose(traj.evaluate(KEREKES_MARGIN_T, m0=0.0), KEREKES_MARGIN_M, rtol=0, atol=1e-12)


def test_stable_form_is_the_derived_solution():
    """What `evaluate` runs is a sympy rewrite of the dsolve result, equal to the paper's formula."""
    traj = function_space_trajectory("logistic")
    s = traj.symbols
    elementary = traj.stable.rewrite(sympy.log).rewrite(sympy.exp)
    assert sympy.simplify(elementary - kerekes_margin_expr(s["t"], s["m0"])) == 0
    t = np.array([0.0, 0.5, 3.0])
    m0 = np.array([-2.0, 0.0, 1.5])
    np.testing.assert_allclose(traj.evaluate(t, m0=m0), kerekes_margin(t[:, None], m0[None, :]), rtol=1e-14, atol=0)


def test_evaluate_is_stable_and_matches_lambdify():
    traj = function_space_trajectory("logistic")
    t = np.array([0.0, 0.3, 2.0, 10.0])
    m0 = np.array([-30.0, -1.0, 0.0, 3.0, 40.0])
    sym = traj.symbols
    exact = np.array([[float(traj.solution.rhs.subs({sym["t"]: sympy.Float(a, 40), sym["m0"]: sympy.Float(b, 40)}).evalf(30))
                       for b in m0] for a in t])
    stable = traj.evaluate(t, m0=m0)
    np.testing.assert_allclose(stable, exact, rtol=1e-13)
    np.testing.assert_allclose(traj.lambdify()(t[1:, None], m0[None, 1:]), exact[1:, 1:], rtol=1e-9)
    np.testing.assert_array_equal(stable[0], m0)
    big = traj.evaluate([1e6], m0=[0.0, -700.0, 700.0])
    assert np.all(np.isfinite(big))


def test_latex_contains_the_solution():
    text = function_space_trajectory("logistic").latex()
    assert "\\log" in text and "e^{t}" in text


# --- numeric: margins of a depth-3 NGF against the closed form --------------------------------

def test_depth3_ngf_margins_match_closed_form():
    X, y = separable_data(3, 4, seed=0)
    t = np.linspace(0.0, 6.0, 13)
    W0 = layer_init([4, 4, 4, 1], 0.7, seed=3)
    tr = integrate_loss(NGD(), W0, X, LogisticLoss(y), t, rtol=1e-12, atol=1e-14)
    m = tr.outputs()[:, 0, :] * y
    assert np.max(np.abs(m - kerekes_margin(t[:, None], m[0][None, :]))) <= KEREKES_MARGIN_TOL
    # and the library's derived solution agrees with the same integration
    assert np.max(np.abs(m - function_space_trajectory("logistic").evaluate(t, m0=m[0]))) <= KEREKES_MARGIN_TOL


def test_ngf_outputs_independent_of_depth_and_init_scale():
    """Same initial outputs, different depth and scale: identical training outputs."""
    X, y = separable_data(3, 5, seed=2)
    t = np.linspace(0.0, 3.0, 7)
    target_f0 = np.array([0.3, -0.2, 0.1])
    runs = []
    for L in (1, 2, 3, 4):
        for scale in (0.3, 1.0):
            W0 = list(layer_init([5] * L + [1], scale, seed=L))
            # shift the first layer so that f(0) = target_f0 exactly (B_1 has full row rank)
            B1 = chain_products(W0, np.eye)[1][0]          # B_1 = W_L⋯W_2
            delta = np.linalg.lstsq(X.T, target_f0 - (B1 @ W0[0] @ X)[0], rcond=None)[0]
            W0[0] = W0[0] + np.linalg.pinv(B1) @ delta[None, :]
            tr = integrate_loss(NGD(), W0, X, LogisticLoss(y), t, rtol=1e-11, atol=1e-13)
            runs.append(tr.outputs()[:, 0, :])
    ref = runs[0]
    assert max(np.max(np.abs(r - ref)) for r in runs) <= KEREKES_DEPTH_TOL
    np.testing.assert_allclose(ref * y, kerekes_margin(t[:, None], (target_f0 * y)[None, :]), atol=KEREKES_DEPTH_TOL)


def test_same_rule_objects_run_on_every_loss():
    """GD, NGD and BlockNGD from lindyn.rules run unchanged on the three losses."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4))
    W = layer_init([3, 3, 2], 0.8, seed=0)
    M, mask = low_rank_problem(2, 1, 1.0, seed=0)
    for loss, X_ in ((SquaredLoss(rng.normal(size=(2, 4))), X), (CompletionLoss(M, mask), np.eye(2))):
        W_ = W if X_ is X else layer_init([2, 2, 2], 0.8, seed=0)
        geo = LossGeometry(W_, X_, loss)
        for rule in (GD(), NGD(), NGD(q=Fraction(1, 2)), BlockNGD(), BlockNGD(q=Fraction(1, 2))):
            v = rule.velocity(geo.grads, geo, NumpyOps())
            assert [x.shape for x in v] == [w.shape for w in W_]
    geo = LossGeometry(layer_init([3, 3, 1], 0.8, seed=0), X, LogisticLoss([1, -1, 1, -1]))
    # scalar output: BlockNGD's Kronecker factors are the exact diagonal Fisher blocks
    J = geo.output_jacobian()
    d = geo.loss.fisher_diag(geo.f).reshape(-1)
    F = J.T @ (d[:, None] * J)
    F11 = F[:9, :9]
    kron = np.kron(geo.A[0] @ geo.Sigma @ geo.A[0].T, geo.B[0].T @ geo.B[0])
    np.testing.assert_allclose(F11, kron, rtol=1e-12, atol=1e-14)


def test_kfac_equals_ngd_at_depth_one_on_logistic_loss():
    """Depth 1 has one block: K-FAC's factors (A Σ Aᵀ with Σ = X diag(p(1−p)) Xᵀ) are the whole Fisher."""
    X, y = separable_data(6, 4, seed=0)
    geo = LossGeometry(layer_init([4, 1], 0.5, seed=0), X, LogisticLoss(y))
    v_block = BlockNGD().velocity(geo.grads, geo, NumpyOps())[0]
    v_full = NGD().velocity(geo.grads, geo, NumpyOps())[0]
    np.testing.assert_allclose(v_block, v_full, rtol=1e-10)


# --- classification ------------------------------------------------------------------------

@pytest.mark.parametrize("n,d", [(5, 10), (20, 5)])
def test_max_margin_direction_satisfies_kkt(n, d):
    X, y = separable_data(n, d, seed=0)
    mm = max_margin_direction(X, y)
    assert mm.kkt <= KEREKES_KKT_TOL
    assert np.min(y * (mm.w @ X)) == pytest.approx(mm.margin, rel=1e-9)


def test_ngf_turns_to_equal_margin_direction_and_gd_to_max_margin():
    X, y = separable_data(5, 10, seed=0)
    t = np.array([0.0, 40.0])
    ngf = run_classifier(X, y, 2, "ngf", t)
    assert ngf.cos_pinv[-1] > KEREKES_PINV_COS_MIN and ngf.cos_pinv[-1] > ngf.cos_svm[-1] + KEREKES_DIRECTION_GAP
    gd = run_classifier(X, y, 1, "gd", np.array([0.0, 1e4]))
    assert gd.cos_svm[-1] > gd.cos_pinv[-1] + KEREKES_DIRECTION_GAP


def test_experiments_accept_rule_objects_and_a_user_rule():
    """A rule object (here a user rule = NGD written by hand) gives the same run as its string."""
    def my_ngf(grads, geo, ops):
        return geo.unvec(-(ops.pinv_pow(geo.fisher(), 1) @ geo.vec(grads)))

    mine = rule(my_ngf, name="my-ngf")
    X, y = separable_data(3, 4, seed=0)
    t = np.array([0.0, 2.0])
    a, b = run_classifier(X, y, 2, "ngf", t), run_classifier(X, y, 2, mine, t)
    assert b.rule == "my-ngf"
    np.testing.assert_allclose(b.w, a.w, rtol=1e-12, atol=1e-14)
    Xt, yt = tanh_task(6, 2, seed=0)
    ta, tb = run_tanh(Xt, yt, 4, t), run_tanh(Xt, yt, 4, t, rule=mine)
    assert tb.rule == "my-ngf"
    np.testing.assert_allclose(tb.f, ta.f, rtol=1e-12, atol=1e-14)
    M, mask = low_rank_problem(4, 1, 0.75, seed=0)
    ca = run_completion(M, mask, "ngd-data", 2, t, init_scale=0.5)
    cb = run_completion(M, mask, mine, 2, t, init_scale=0.5, fisher="data")
    assert cb.variant == "my-ngf"
    np.testing.assert_allclose(cb.W, ca.W, rtol=1e-12, atol=1e-14)
    half_gd = rule(lambda grads, geo, ops: tuple(-0.5 * g for g in grads), name="half-gd")
    g1 = run_classifier(X, y, 2, "gd", np.array([0.0, 1.0]))
    g2 = run_classifier(X, y, 2, half_gd, np.array([0.0, 2.0]))
    np.testing.assert_allclose(g2.w[-1], g1.w[-1], rtol=1e-8)
    with pytest.raises(LindynError, match="rule"):
        run_classifier(X, y, 2, "adam", t)
    with pytest.raises(LindynError, match="rule"):
        run_tanh(Xt, yt, 4, t, rule=object())
    with pytest.raises(LindynError, match="fisher"):
        run_completion(M, mask, "ngf", 2, t, fisher="data")


def test_non_separable_data_is_refused():
    X = np.array([[1.0, 1.0]])
    with pytest.raises(LindynError, match="X"):
        max_margin_direction(X, [1.0, -1.0])


# --- matrix completion -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def completion_problem():
    return low_rank_problem(8, 1, 0.5, seed=0)


def test_completion_deep_gd_recovers(completion_problem):
    M, mask = completion_problem
    t = np.concatenate([[0.0], np.logspace(-1, 4, 30)])
    run = run_completion(M, mask, "gd", 3, t, init_scale=0.1, stop_at=1e-3)
    assert run.recovery_error[-1] < KEREKES_RECOVERED
    assert run.effective_rank[-1] < KEREKES_LOW_RANK_MAX


def test_completion_shallow_gd_does_not_recover(completion_problem):
    M, mask = completion_problem
    run = run_completion(M, mask, "gd", 1, np.array([0.0, 20.0]), init_scale=0.1)
    assert run.recovery_error[-1] > KEREKES_NOT_RECOVERED
    assert run.unobserved_change[-1] == 0.0


def test_completion_function_space_ngf_fails_to_generalise(completion_problem):
    M, mask = completion_problem
    run = run_completion(M, mask, "ngf", 3, np.array([0.0, 12.0]), init_scale=0.1, rtol=1e-6)
    assert run.crossing is None
    assert run.recovery_error[-1] > KEREKES_NOT_RECOVERED
    assert run.observed_error[-1] < 1e-4


def test_completion_unobserved_entries_never_move_under_function_space_ngf():
    M, mask = low_rank_problem(6, 1, 0.5, seed=1)
    run = run_completion(M, mask, "ngf", 3, np.linspace(0.0, 8.0, 5), init_scale=0.5, rtol=1e-10)
    assert run.crossing is None
    assert run.unobserved_change.max() <= KEREKES_UNOBSERVED_TOL
    closed = np.where(mask > 0, kerekes_squared(run.t[:, None, None], run.W[0], M), run.W[0])
    assert np.max(np.abs(run.W - closed)) <= KEREKES_UNOBSERVED_TOL


def test_completion_data_fisher_ngd_moves_unobserved_entries(completion_problem):
    M, mask = completion_problem
    runs = {L: run_completion(M, mask, "ngd-data", L, np.array([0.0, 12.0]), init_scale=0.1, rtol=1e-6)
            for L in (1, 3)}
    assert runs[1].unobserved_change[-1] == 0.0           # depth 1: J = I, nothing to move them
    assert runs[3].unobserved_change[-1] > 0.1            # depth 3: they move
    assert runs[3].recovery_error[-1] < runs[1].recovery_error[-1]


def test_singular_crossing_is_detected():
    M, mask = low_rank_problem(6, 1, 0.5, seed=0)
    W0 = np.linalg.multi_dot(layer_init([6] * 4, 0.5, seed=0)[::-1])
    s = singular_crossing(M, mask, W0)
    assert s is not None and 0 < s < 1
    Ws = W0 + s * mask * (M - W0)
    assert abs(np.linalg.det(Ws)) < 1e-10 * np.prod(np.linalg.svd(W0 + 0 * Ws, compute_uv=False)) + 1e-12


@pytest.mark.parametrize("L", [2, 3, 4])
def test_arora_singular_value_dynamics(L):
    M, mask = low_rank_problem(6, 2, 0.6, seed=1)
    t = np.concatenate([[0.0], np.logspace(-1, 3, 10)])
    run = run_completion(M, mask, "gd", L, t, init_scale=0.3, rtol=1e-10, stop_at=1e-4)
    assert arora_singular_value_check(run) <= KEREKES_ARORA_TOL


# --- tanh over-parameterisation ---------------------------------------------------------------

def test_wide_tanh_ngf_follows_function_space_flow():
    X, y = tanh_task(12, 3, seed=0)
    run = run_tanh(X, y, 8, np.linspace(0.0, 6.0, 13))
    assert run.stopped_at is None and run.deviation <= KEREKES_TANH_TOL
    oracle = kerekes_squared(run.t[:, None], run.f[0], y)
    assert np.max(np.linalg.norm(run.f - oracle, axis=1)) / np.linalg.norm(run.f[0] - y) <= KEREKES_TANH_TOL


def test_narrow_tanh_ngf_does_not():
    X, y = tanh_task(12, 3, seed=0)
    run = run_tanh(X, y, 1, np.linspace(0.0, 6.0, 13), seed=3)
    assert run.n_params < run.n and run.deviation > 1e-2


# --- errors and claims -------------------------------------------------------------------------

def test_errors_name_the_argument():
    with pytest.raises(LindynError, match="loss"):
        function_space_trajectory("hinge")
    with pytest.raises(LindynError, match="variant"):
        run_completion(np.eye(2), np.ones((2, 2)), "adam", 2, [0.0, 1.0])
    with pytest.raises(LindynError, match="y"):
        LogisticLoss([1.0, 0.5])
    with pytest.raises(LindynError, match="t"):
        function_space_trajectory("logistic").evaluate([-1.0], m0=0.0)
    with pytest.raises(LindynError, match="params"):
        function_space_trajectory("squared").evaluate([1.0], m0=0.0)


def test_claims_are_well_formed():
    claims = kerekes_claims()
    keys = {"name", "source", "statement", "latex", "check", "tolerance", "reason"}
    assert all(set(c) == keys and callable(c["check"]) for c in claims)
    assert len({c["name"] for c in claims}) == len(claims)


@pytest.mark.slow
def test_claims_pass():
    for c in kerekes_claims():
        ok, err, detail = c["check"]()
        assert ok, f"{c['name']}: {detail}"
