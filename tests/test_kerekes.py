"""Kerekes, Mészáros & Huszár 2021: function-space NGF, classification, completion, tanh nets.

Oracles (test-only, in tests/oracles.py; THEORY §4-5): logistic margins m(t) = ln[(e^{m0}+1)e^t − 1]
(THEORY §5 item 5 gives m(1) = 1.489880125645, m(5) = 5.689772519291 for m0 = 0); squared loss
f = y + e^{−t}(f0 − y); completion with the model Fisher Ẇ = −P_Ω(W − M); Arora et al. 2019
σ̇_r = −L(σ_r²)^{1−1/L}⟨∇ℓ, u_r v_rᵀ⟩ (THEORY §3). The package derives the first three (sympy.dsolve)
and evaluates only what it derived; every run goes through `Problem` and `integrate`.
"""
import dataclasses

import numpy as np
import pytest
import sympy
from conftest import (KEREKES_ARORA_TOL, KEREKES_DEPTH_TOL, KEREKES_DIRECTION_GAP, KEREKES_KKT_TOL,
                      KEREKES_LOW_RANK_MAX, KEREKES_MARGIN_TOL, KEREKES_NOT_RECOVERED, KEREKES_PINV_COS_MIN,
                      KEREKES_RECOVERED, KEREKES_TANH_TOL, KEREKES_UNOBSERVED_TOL)
from oracles import (KEREKES_MARGIN_M, KEREKES_MARGIN_T, kerekes_margin, kerekes_margin_expr, kerekes_squared,
                     kerekes_squared_expr)

from lindyn import GD, NGD, LindynError, LogisticLoss, MaskedSquaredLoss, integrate, layer_velocities, rule
from lindyn.function_space import (derive_reduction, equal_margin_direction, function_space_trajectory,
                                   low_rank_problem, max_margin_direction, outside_span, separable_data,
                                   singular_crossing)
from lindyn.papers import kerekes2021 as paper


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


def test_masked_derivation_is_the_projected_flow():
    """Model Fisher, ℓ = ½m(f − y)²: observed entries (m = 1) relax as e^{−t}, unobserved (m = 0) stay."""
    traj = function_space_trajectory("masked")
    s = traj.symbols
    assert sympy.simplify(traj.solution.rhs.subs(s["mask"], 1) - kerekes_squared_expr(s["t"], s["f0"], s["y"])) == 0
    assert traj.solution.rhs.subs(s["mask"], 0) == s["f0"]
    out = traj.evaluate([0.0, 1.0], f0=[2.0, 2.0], y=[1.0, 1.0], mask=[1.0, 0.0])
    np.testing.assert_allclose(out, [[2.0, 2.0], [1.0 + np.exp(-1.0), 2.0]], rtol=1e-15)


def test_reduction_holds_for_generic_jacobian():
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
    assert np.all(np.isfinite(traj.evaluate([1e6], m0=[0.0, -700.0, 700.0])))


def test_latex_contains_the_solution():
    text = function_space_trajectory("logistic").latex()
    assert "\\log" in text and "e^{t}" in text


# --- numeric: NGF margins through Problem + integrate --------------------------------------------

def test_depth3_ngf_margins_match_closed_form():
    X, y = separable_data(3, 4, seed=0)
    t = np.linspace(0.0, 6.0, 13)
    tr = integrate(paper.classifier_problem(X, y, 3, init_scale=0.7, seed=3), NGD(), t)
    m = tr.outputs[:, 0, :] * y
    assert np.max(np.abs(m - kerekes_margin(t[:, None], m[0][None, :]))) <= KEREKES_MARGIN_TOL
    assert np.max(np.abs(m - function_space_trajectory("logistic").evaluate(t, m0=m[0]))) <= KEREKES_MARGIN_TOL


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_ngf_margins_from_zero_give_the_published_numbers(reduction):
    """m0 = 0 (first layer shifted so that f(0) = 0): m(1), m(5) of THEORY §5 item 5; NGD ignores the reduction."""
    X, y = separable_data(3, 4, seed=0)
    p = paper.with_initial_outputs(paper.classifier_problem(X, y, 2, init_scale=0.7, seed=1), np.zeros(3))
    p = dataclasses.replace(p, loss=LogisticLoss(reduction=reduction))
    m = integrate(p, NGD(), [0.0] + KEREKES_MARGIN_T).outputs[:, 0, :] * y
    np.testing.assert_allclose(m[0], 0.0, atol=1e-14)
    expected = np.repeat(np.array(KEREKES_MARGIN_M)[:, None], 3, axis=1)
    np.testing.assert_allclose(m[1:], expected, rtol=0, atol=KEREKES_MARGIN_TOL)


def test_ngf_outputs_independent_of_depth_and_init_scale():
    """Same initial outputs, different depth and scale: identical training outputs."""
    X, y = separable_data(3, 5, seed=2)
    t = np.linspace(0.0, 3.0, 7)
    f0 = np.array([0.3, -0.2, 0.1])
    runs = [integrate(paper.with_initial_outputs(paper.classifier_problem(X, y, L, init_scale=a, seed=L), f0),
                      NGD(), t).outputs[:, 0, :] for L in (1, 2, 3, 4) for a in (0.3, 1.0)]
    assert max(np.max(np.abs(r - runs[0])) for r in runs) <= KEREKES_DEPTH_TOL
    np.testing.assert_allclose(runs[0] * y, kerekes_margin(t[:, None], (f0 * y)[None, :]), atol=KEREKES_DEPTH_TOL)


def test_gd_outputs_do_depend_on_depth():
    """The control: GD from the same outputs moves them differently at different depths."""
    X, y = separable_data(3, 5, seed=2)
    f0 = np.array([0.3, -0.2, 0.1])
    outs = [integrate(paper.with_initial_outputs(paper.classifier_problem(X, y, L, init_scale=0.5, seed=L), f0),
                      GD(), [0.0, 2.0]).outputs[-1, 0] for L in (1, 3)]
    assert np.max(np.abs(outs[0] - outs[1])) > 1e-2


# --- classification directions -------------------------------------------------------------

@pytest.mark.parametrize("n,d", [(5, 10), (20, 5)])
def test_max_margin_direction_satisfies_kkt(n, d):
    X, y = separable_data(n, d, seed=0)
    mm = max_margin_direction(X, y)
    assert mm.kkt <= KEREKES_KKT_TOL
    assert np.min(y * (mm.w @ X)) == pytest.approx(mm.margin, rel=1e-9)


def test_ngf_turns_to_equal_margin_direction_and_gd_to_max_margin():
    X, y = separable_data(5, 10, seed=0)
    ngf = paper.train_classifier(X, y, 2, NGD(), [0.0, 40.0])
    assert ngf.cos_pinv[-1] > KEREKES_PINV_COS_MIN and ngf.cos_pinv[-1] > ngf.cos_svm[-1] + KEREKES_DIRECTION_GAP
    gd = paper.train_classifier(X, y, 1, GD(), [0.0, 1e4])
    assert gd.cos_svm[-1] > gd.cos_pinv[-1] + KEREKES_DIRECTION_GAP
    # depth 1 NGD moves w only inside span(X): the off-span part keeps its size, its share shrinks
    one = paper.train_classifier(X, y, 1, NGD(), [0.0, 40.0])
    w = one.w
    assert outside_span(w[-1], X) < outside_span(w[0], X)
    np.testing.assert_allclose(outside_span(w[-1], X) * np.linalg.norm(w[-1]),
                               outside_span(w[0], X) * np.linalg.norm(w[0]), rtol=1e-8)


def test_a_user_rule_runs_like_its_builtin():
    def my_ngf(grads, geo, ops):
        return geo.unvec(-(ops.pinv_pow(geo.fisher(), 1) @ geo.vec(grads)))

    mine = rule(my_ngf, name="my-ngf")
    X, y = separable_data(3, 4, seed=0)
    a, b = (paper.train_classifier(X, y, 2, r, [0.0, 2.0]) for r in (NGD(), mine))
    assert b.rule == "my-ngf"
    np.testing.assert_allclose(b.w, a.w, rtol=1e-12, atol=1e-14)


def test_non_separable_data_is_refused():
    with pytest.raises(LindynError, match="X"):
        max_margin_direction(np.array([[1.0, 1.0]]), [1.0, -1.0])


def test_equal_margin_direction_gives_equal_margins():
    X, y = separable_data(4, 7, seed=3)
    w = equal_margin_direction(X, y)
    margins = y * (w @ X)
    np.testing.assert_allclose(margins, margins[0], rtol=1e-12)


# --- matrix completion -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def completion_problem():
    return low_rank_problem(8, 1, 0.5, seed=0)


@pytest.mark.parametrize("L", [1, 2, 3])
def test_model_fisher_ngd_is_the_masked_projection(L):
    """Ẇ = −P_Ω(W − M) at generic weights (end-to-end velocity from the layer velocities)."""
    M, mask = low_rank_problem(5, 1, 0.6, seed=0)
    p = paper.completion_problem(M, mask, L, fisher="model", init_scale=0.8, seed=L)
    W0 = p.initial_weights()
    W_dot = paper.end_to_end_velocity(W0, layer_velocities(p, NGD(), W0))
    W = np.linalg.multi_dot(W0[::-1]) if L > 1 else W0[0]
    np.testing.assert_allclose(W_dot, -mask * (W - M), atol=1e-12)


def test_completion_deep_gd_recovers(completion_problem):
    M, mask = completion_problem
    t = np.concatenate([[0.0], np.logspace(-1, 4, 30)])
    run = paper.train_completion(M, mask, 3, "gd", t, init_scale=0.1, stop_at=1e-3)
    assert run.observed_error[-1] == pytest.approx(1e-3, rel=1e-6)       # stopped by the event
    assert run.recovery_error[-1] < KEREKES_RECOVERED
    assert run.effective_rank[-1] < KEREKES_LOW_RANK_MAX


def test_completion_shallow_gd_does_not_recover(completion_problem):
    M, mask = completion_problem
    run = paper.train_completion(M, mask, 1, "gd", [0.0, 20.0], init_scale=0.1)
    assert run.recovery_error[-1] > KEREKES_NOT_RECOVERED
    assert run.unobserved_change[-1] == 0.0


def test_completion_function_space_ngf_fails_to_generalise(completion_problem):
    M, mask = completion_problem
    run = paper.train_completion(M, mask, 3, "ngf", [0.0, 12.0], init_scale=0.1)
    assert run.crossing is None
    assert run.recovery_error[-1] > KEREKES_NOT_RECOVERED
    assert run.observed_error[-1] < 1e-4


def test_completion_unobserved_entries_never_move_under_function_space_ngf():
    M, mask = low_rank_problem(6, 1, 0.5, seed=6)
    run = paper.train_completion(M, mask, 3, "ngf", np.linspace(0.0, 8.0, 5), init_scale=0.5, seed=6,
                                 method=paper.CLAIM_FLOW)
    assert run.crossing is None
    assert run.unobserved_change.max() <= KEREKES_UNOBSERVED_TOL
    closed = np.where(mask > 0, kerekes_squared(run.t[:, None, None], run.W[0], M), run.W[0])
    assert np.max(np.abs(run.W - closed)) <= KEREKES_UNOBSERVED_TOL


def test_completion_data_fisher_ngd_moves_unobserved_entries(completion_problem):
    M, mask = completion_problem
    runs = {L: paper.train_completion(M, mask, L, "ngd-data", [0.0, 12.0], init_scale=0.1) for L in (1, 3)}
    assert runs[1].unobserved_change[-1] == 0.0           # depth 1: J = I, nothing to move them
    assert runs[3].unobserved_change[-1] > 0.1            # depth 3: they move
    assert runs[3].recovery_error[-1] < runs[1].recovery_error[-1]


def test_singular_crossing_is_detected_and_where_ngd_leaves_the_flow():
    M, mask = low_rank_problem(6, 1, 0.5, seed=0)
    W0 = np.linalg.multi_dot(paper.completion_problem(M, mask, 3, init_scale=0.5, seed=0).initial_weights()[::-1])
    s = singular_crossing(M, mask, W0)
    assert s is not None and 0 < s < 1
    assert abs(np.linalg.det(W0 + s * mask * (M - W0))) < 1e-12


def test_arora_singular_value_dynamics():
    ev = paper.arora_numeric(True)                       # L = 2, 3, 4 along GD to 1e-4 observed error
    assert len(ev.measurements) == 3
    assert all(m.value <= KEREKES_ARORA_TOL for m in ev.measurements), [m.describe() for m in ev.measurements]


# --- tanh over-parameterisation ---------------------------------------------------------------

def test_wide_tanh_ngf_follows_function_space_flow():
    X, y = paper.tanh_task(12, 3, seed=0)
    run = paper.train_tanh(X, y, 8, np.linspace(0.0, 6.0, 13))
    assert run.stopped_at is None and run.deviation <= KEREKES_TANH_TOL
    oracle = kerekes_squared(run.t[:, None], run.f[0], y)
    assert np.max(np.linalg.norm(run.f - oracle, axis=1)) / np.linalg.norm(run.f[0] - y) <= KEREKES_TANH_TOL


def test_narrow_tanh_ngf_does_not():
    X, y = paper.tanh_task(12, 3, seed=0)
    run = paper.train_tanh(X, y, 1, np.linspace(0.0, 6.0, 13), seed=3)
    assert run.n_params < run.n and run.deviation > 1e-2


def test_stalled_narrow_tanh_run_reports_where():
    """P = n = 12 (h = 3): the Fisher changes rank on the path; Flow(on_failure="stop") returns what was reached."""
    X, y = paper.tanh_task(12, 3, seed=0)
    run = paper.train_tanh(X, y, 3, np.linspace(0.0, 6.0, 13), max_evaluations=3000)
    assert run.stopped_at is not None and 0 < run.stopped_at < 6 and "budget" in run.stop_reason
    assert run.t[-1] <= run.stopped_at


# --- errors and claims -------------------------------------------------------------------------

def test_errors_name_the_argument():
    with pytest.raises(LindynError, match="loss"):
        function_space_trajectory("hinge")
    with pytest.raises(LindynError, match="t"):
        function_space_trajectory("logistic").evaluate([-1.0], m0=0.0)
    with pytest.raises(LindynError, match="params"):
        function_space_trajectory("squared").evaluate([1.0], m0=0.0)
    with pytest.raises(LindynError, match="observed"):
        low_rank_problem(6, 1, 1.5)
    with pytest.raises(LindynError, match="mask"):
        singular_crossing(np.eye(2), np.ones((3, 3)), np.eye(2))
    with pytest.raises(LindynError, match="mask"):
        MaskedSquaredLoss(np.full((2, 2), 0.5))


def test_claims_are_well_formed():
    names = [c.name for c in paper.CLAIMS]
    assert len(names) == 8 and len(set(names)) == 8
    kinds = {c.name: c.kind for c in paper.CLAIMS}
    assert [n for n, k in kinds.items() if k == "outcome"] == ["kerekes-equal-margin-direction",
                                                                "kerekes-completion-outcome"]
    for c in paper.CLAIMS:
        assert (c.symbolic is None) == (c.kind == "outcome")
        assert "Kerekes" in c.source or "Arora" in c.source


def test_claims_pass():
    for c in paper.CLAIMS:
        result = c.check()
        assert result.passed, result.reason


def _wrong(expr_oracle):
    """An oracle off by a small amount (a typo in the formula)."""
    return lambda *args: expr_oracle(*args) * sympy.Rational(101, 100)


#: For each claim, routes run with a wrong rule or oracle; the claim must then fail.
BROKEN = {
    "kerekes-function-space-derivation": dict(numeric=lambda th: paper.reduction_numeric(th, rule=GD())),
    "kerekes-margin-closed-form": dict(symbolic=lambda th: paper.margin_symbolic(th, oracle=_wrong(paper.paper_margin_expr)),
                                       numeric=lambda th: paper.margin_numeric(th, rule=GD())),
    "kerekes-depth-invariance": dict(numeric=lambda th: paper.depth_numeric(th, rule=GD())),
    "kerekes-equal-margin-direction": dict(numeric=lambda th: paper.direction_outcome(th, rule=GD())),
    "kerekes-completion-invariant-flow": dict(
        symbolic=lambda th: paper.completion_flow_symbolic(
            th, oracle=lambda t, f0, y, obs: paper.paper_squared_expr(t, f0, y)),   # "unobserved move too"
        numeric=lambda th: paper.completion_flow_numeric(th, rule=NGD(q=sympy.Rational(1, 2)))),
    "kerekes-completion-outcome": dict(numeric=lambda th: paper.completion_outcome(th, gd_rule=NGD())),
    "kerekes-arora-singular-values": dict(symbolic=lambda th: paper.arora_symbolic(th, oracle=lambda L, s, g: -L * s * g),
                                          numeric=lambda th: paper.arora_numeric(th, rule=NGD())),
    "kerekes-tanh-overparam": dict(symbolic=lambda th: paper.tanh_symbolic(th, oracle=_wrong(paper.paper_squared_expr)),
                                   numeric=lambda th: paper.tanh_numeric(th, rule=GD())),
}


@pytest.mark.parametrize("name,route", [(n, r) for n, d in BROKEN.items() for r in d], ids=lambda x: str(x))
def test_each_claim_can_fail(name, route):
    claim = next(c for c in paper.CLAIMS if c.name == name)
    broken = dataclasses.replace(claim, **{route: BROKEN[name][route]})
    result = broken.check()
    failed = [m for m in (result.symbolic if route == "symbolic" else result.numeric).measurements if not m.passed]
    assert failed and not result.passed, f"{name}: the {route} route with a wrong rule/oracle still passes"
    assert not any("raised" in m.label for m in failed), [m.label for m in failed]   # failed by measurement
