"""Huh 2020, curvature correction and generalisation (lindyn.papers.huh2020_generalisation).

Oracles: exact whitening XXᵀ/N = I; the mode-space errors against ½‖W − W_T‖² + ½n_outσ² and
(1/2N)‖Y − WX‖² computed from the matrices; the NGD mode law u = ŝ − (ŝ − u0)e^{−t} (THEORY §2,
number 4); the closed-form test error against a full-matrix integration.
"""
import math

import numpy as np
import pytest
import sympy

from lindyn import GD, NGD, BlockNGD, LindynError, derive, integrate
from lindyn.claims import CLAIM_FLOW
from lindyn.papers.huh2020_generalisation import (CLAIMS, RULES, early_stopping, error_curves, half_times,
                                                  mode_errors, student_problem, teacher_student)

#: Rounding of QR-orthonormalised inputs and of the SVD: a few ulp of O(1) numbers.
ROUNDING = 1e-12
#: Full-matrix DOP853 at rtol 1e-10 against the closed form, relative to the largest excess error (measured ~1e-10).
FLOW_VS_CLOSED = 1e-8


@pytest.mark.parametrize("shape", [(5, 3, 5), (4, 6, 9), (10, 10, 20)])
def test_inputs_are_exactly_whitened_and_the_teacher_has_its_singular_values(shape):
    d = teacher_student(*shape, rank=2, teacher_s=[2.5, 0.5], noise=0.3, seed=3)
    X = d.samples.X
    assert np.max(np.abs(X @ X.T / X.shape[1] - np.eye(X.shape[0]))) < ROUNDING
    assert np.allclose(np.linalg.svd(d.W_teacher, compute_uv=False)[:2], [2.5, 0.5], atol=ROUNDING)
    assert np.linalg.matrix_rank(d.W_teacher) == 2
    assert d.teacher_residual >= -ROUNDING and d.train_residual >= -ROUNDING
    # the noise is what it says: Y − W_T X has per-entry variance ≈ σ² (loose: a few dozen entries)
    Z = d.samples.Y - d.W_teacher @ X
    assert 0.3 * 0.5 < Z.std() < 0.3 * 1.5


def test_bad_arguments_name_the_parameter():
    with pytest.raises(LindynError, match="n_samples"):
        teacher_student(5, 3, 4, 1)                       # whitening needs N >= n_in
    with pytest.raises(LindynError, match="rank"):
        teacher_student(5, 3, 6, 4)
    with pytest.raises(LindynError, match="noise"):
        teacher_student(5, 3, 6, 1, noise=0.0)
    with pytest.raises(LindynError, match="teacher_s"):
        teacher_student(5, 3, 6, 2, teacher_s=[1.0, -1.0])
    d = teacher_student(5, 3, 6, 1)
    with pytest.raises(LindynError, match="u"):
        mode_errors(d, [1.0, 2.0])                        # 3 modes
    with pytest.raises(LindynError, match="u0"):
        student_problem(d, 2, u0=0.0)


@pytest.mark.parametrize("shape,seed", [((6, 4, 8), 0), ((3, 5, 7), 1), ((8, 8, 8), 2)])
def test_mode_errors_equal_the_matrix_errors_for_random_mode_strengths(shape, seed):
    d = teacher_student(*shape, rank=2, teacher_s=[3.0, 1.0], noise=0.5, seed=seed)
    rng = np.random.default_rng(seed + 10)
    k = d.modes
    for _ in range(5):
        u = rng.normal(scale=2.0, size=k)
        W = d.U_hat[:, :k] @ np.diag(u) @ d.V_hat[:, :k].T
        test, train = mode_errors(d, u)
        direct_test = 0.5 * np.sum((W - d.W_teacher) ** 2) + 0.5 * d.W_teacher.shape[0] * d.noise ** 2
        direct_train = np.sum((d.samples.Y - W @ d.samples.X) ** 2) / (2 * d.samples.n)
        assert test == pytest.approx(direct_test, rel=ROUNDING)
        assert train == pytest.approx(direct_train, rel=ROUNDING)
    # vectorised over times: rows of u are modes
    U = rng.normal(size=(k, 4))
    assert np.allclose(mode_errors(d, U)[0], [mode_errors(d, U[:, j])[0] for j in range(4)], rtol=ROUNDING)


def test_ngd_error_curve_matches_the_oracle_mode_law():
    d = teacher_student(6, 4, 8, 2, teacher_s=[2.0, 1.0], noise=0.4, seed=5)
    t, u0 = np.geomspace(1e-2, 20.0, 30), 1e-3
    oracle_u = d.s_hat[:, None] - (d.s_hat[:, None] - u0) * np.exp(-t)        # THEORY §5 number 4
    for L in (2, 3):
        test, train = error_curves(d, NGD(), L, t, u0=u0)
        assert np.allclose(test, mode_errors(d, oracle_u)[0], rtol=1e-12)
        assert np.allclose(train, mode_errors(d, oracle_u)[1], rtol=1e-12)


@pytest.mark.parametrize("samples", [False, True])
def test_closed_form_test_error_matches_the_full_matrix_integration(samples):
    d = teacher_student(6, 4, 8, 2, teacher_s=[2.0, 1.0], noise=0.5, seed=0)
    t = np.concatenate([[0.0], np.geomspace(1e-2, 40.0, 20)])
    traj = integrate(student_problem(d, 2, samples=samples), GD(), t, method=CLAIM_FLOW)
    test, train = error_curves(d, GD(), 2, t)
    excess = test - d.floor
    assert np.max(np.abs(d.test_error(traj.W_end) - test)) / excess.max() < FLOW_VS_CLOSED
    assert np.max(np.abs(d.train_error(traj.W_end) - train)) / train.max() < FLOW_VS_CLOSED
    # the closed form is not trivially matched: a different rule's curve is far off
    other, _ = error_curves(d, NGD(), 2, t)
    assert np.max(np.abs(d.test_error(traj.W_end) - other)) / excess.max() > 0.1


@pytest.mark.parametrize("L", [2, 3])
def test_ngd_time_constant_is_the_same_for_every_mode(L):
    for rule, c in ((NGD(), 1), (BlockNGD(), L)):
        tr = derive(rule, L)
        sym = tr.symbols
        # τu̇ = c(s − u): the relaxation rate c is free of s, so every mode has the same time constant
        assert sympy.simplify(tr.ode.rhs.subs(sym.tau, 1) - c * (sym.s - sym.u)) == 0
    gd = derive(GD(), L)
    rate = -sympy.diff(gd.ode.rhs, gd.symbols.u).subs(gd.symbols.u, gd.symbols.s)
    assert gd.symbols.s in rate.free_symbols                   # GD's rate depends on the mode
    d = teacher_student(10, 10, 20, 3, teacher_s=[3.0, 2.0, 1.0], noise=0.5, seed=0)
    assert np.allclose(half_times(d, NGD(), L), math.log(2), rtol=1e-12)
    gd_times = half_times(d, GD(), L)
    assert gd_times.max() / gd_times.min() > 2


def test_early_stopping_finds_the_minimum_of_the_curve():
    d = teacher_student(10, 10, 20, 3, teacher_s=[3.0, 2.0, 1.0], noise=0.5, seed=1)
    t = np.geomspace(1e-3, 1e4, 20001)
    for rule, _ in RULES[:2]:
        es = early_stopping(d, rule, 2)
        test, _ = error_curves(d, rule, 2, t)
        assert es.test_best <= test.min() + 1e-14
        assert es.test_best > test.min() - 1e-6             # the grid brackets the same minimum
        assert es.floor < es.test_best < es.test_final
        assert 0 < es.share_removed < 1


def test_the_claims_pass():
    for claim in CLAIMS:
        result = claim.check(thorough=False)
        assert result.passed, result.reason
    assert [c.kind for c in CLAIMS] == ["two-routes", "outcome"]
