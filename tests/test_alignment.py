"""Alignment from random small init (lindyn.papers.alignment).

Oracles and invariants: ρ of a hand-built M; ρ = 0 on an aligned init under every rule (symmetry: the
modes never couple); scale invariance of ρ; on the straight-line rules (NGD r = 1, K-FAC r = L) the
off-diagonal part of UᵀW(t)V is e^{−rt} times the init's, so at small t, ρ(t) ≈ ‖offdiag M(0)‖/(t‖W*‖)
gives t_align(ε) as the root of e^{−rt}‖offdiag M(0)‖ = ε‖W* + e^{−rt}(W(0) − W*)‖ (brentq); the square-net crossing time from the
eigenvalues of (W* − W(0))⁻¹W(0) (numpy, independent of lindyn's QZ root finder); GD's ρ falls from ~1.
"""
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from lindyn import Aligned, Flow, LindynError, Network, Problem, integrate
from lindyn.claims import Evidence, Plot
from lindyn.papers import alignment as paper

#: ρ on an aligned init: the off-diagonal entries are rounding (~1e-16 of ‖W‖), the integrator never couples
#: modes that start exactly decoupled (the velocity keeps the block structure).
ALIGNED_RHO_TOL = 1e-12
#: t_align(ε) of the run vs the straight-line oracle solved by brentq: the run's value is a log-log interpolation
#: between grid points 4.7 % apart; ρ ≈ off0/(rt‖W*‖) is a straight line there up to O(ε) curvature, so the
#: interpolation error is ~ε·(0.047)² ~ 1e-5 relative; 1e-4 leaves a margin.
INTERPOLATION_RTOL = 1e-4
#: Crossing time: both routes find the root of a 4 x 4 determinant in double precision; t* ~ 1e-6 is a
#: difference 1 − x of order 1e-6, so ~1e-10 relative survives.
CROSSING_RTOL = 1e-6


# --- the measure ---------------------------------------------------------------------------------

def test_relative_leakage_oracle_and_invariances():
    p = paper.random_problem(2, 1e-3, 0)
    U, V = p.bases()
    M = np.zeros((4, 5))
    M[0, 0], M[1, 1], M[2, 2], M[0, 1], M[3, 4] = 3.0, 2.0, 1.0, 1.0, 2.0   # ‖off‖² = 1 + 4, ‖M‖² = 9 + 4 + 1 + 5
    W = U @ M @ V.T
    assert paper.relative_leakage(p, W)[0] == pytest.approx(math.sqrt(5 / 19), rel=1e-13)
    assert paper.relative_leakage(p, 7.5 * W)[0] == pytest.approx(math.sqrt(5 / 19), rel=1e-13)   # scale-free
    assert paper.relative_leakage(p, p.task.W_star)[0] < 1e-15
    # per mode: mode 0 has off-diagonal 1 (row) against 3; mode 1 has 1 (column) against 2; mode 2 none;
    # mode 3 has 2 against a diagonal that is 0 up to rounding
    rho_a = paper.mode_leakage(p, W)[:, 0]
    assert rho_a[:3] == pytest.approx([1 / 3, 1 / 2, 0.0], abs=1e-13) and rho_a[3] > 1e10


def test_first_time_below():
    t = np.geomspace(1e-3, 1e3, 61)
    rho = 0.2 / t                                                   # a straight line in log-log: exact
    assert paper.first_time_below(t, rho, 1e-2) == pytest.approx(20.0, rel=1e-12)
    assert paper.first_time_below(t, rho, 1e-9) == math.inf
    assert paper.first_time_below(t, rho, 1e3) == t[0]


@pytest.mark.parametrize("rule", list(paper.RULES))
def test_aligned_init_stays_aligned_under_every_rule(rule):
    task = paper.alignment_task()
    for depth in (2, 3):
        widths = (paper.N_IN,) + (paper.HIDDEN,) * (depth - 1) + (4,)
        p = Problem(Network(widths), task, Aligned.balanced([0.3, 0.2, 0.1, 0.05], depth, seed=1))
        traj = integrate(p, paper.RULES[rule], [0.0, 0.3, 1.0], method=Flow(rtol=1e-9, atol=1e-12))
        rho = paper.relative_leakage(p, traj.W_end)
        assert np.max(rho) < ALIGNED_RHO_TOL, (rule, depth, rho)
        assert np.all(paper.mode_leakage(p, traj.W_end) < ALIGNED_RHO_TOL)


# --- the runs ------------------------------------------------------------------------------------

def test_gd_random_init_leakage_falls():
    run = paper.alignment_run("GD", 2, 1e-3, 0)
    assert run.rho[0] > 0.5                                        # a random init is not aligned
    assert run.rho_at_half < 0.5 * run.rho[0]                      # falls during the top mode's rise ...
    assert run.rho[-1] < paper.STOP_RHO                            # ... and to the stopping level by the end
    assert run.stop_reason == "event" and np.all(run.u[:, -1] >= paper.LEARNED * np.array(paper.S_VALUES) - 1e-9)
    assert 1.0 < run.ratio(1e-2) < run.ratio(1e-3)                  # GD aligns after t_half here (the claim)


@pytest.mark.parametrize("rule, r", [("NGD", 1), ("K-FAC", 2)])
def test_straight_line_rules_carry_the_init_leakage(rule, r):
    run = paper.alignment_run(rule, 2, 1e-4, 0)
    norm_W = run.off / run.rho
    assert np.max(np.abs(run.rho - np.exp(-r * run.t) * run.off[0] / norm_W)) < paper.CARRY_TOL
    # the oracle: ρ(t) = e^{−rt}‖offdiag M(0)‖/‖W* + e^{−rt}(W(0) − W*)‖_F = ε, solved without the integrator
    p = paper.random_problem(2, 1e-4, 0)
    W0, W_star = np.linalg.multi_dot(p.initial_weights()[::-1]), p.task.W_star
    off0 = paper.relative_leakage(p, W0)[0] * np.linalg.norm(W0)
    for eps in paper.EPSILONS:
        gap = lambda t: math.exp(-r * t) * off0 / np.linalg.norm(W_star + math.exp(-r * t) * (W0 - W_star)) - eps
        oracle = brentq(gap, 1e-12, 1.0, xtol=1e-15, rtol=1e-14)
        assert run.t_align[eps] == pytest.approx(oracle, rel=INTERPOLATION_RTOL)
    # and the modes follow the closed form u = s − (s − u0)e^{−rt} from any restart
    _, err = paper.mode_formula_errors(run)
    assert np.max(err) < paper.STRAIGHT_FORMULA_TOL


def test_square_crossing_times_match_an_eigenvalue_oracle():
    times = paper.square_crossings(2, 1e-3, seeds=(0, 1))
    for seed in (0, 1):
        p = paper.random_problem(2, 1e-3, seed, square=True)
        W0 = np.linalg.multi_dot(p.initial_weights()[::-1])
        Ws = p.task.W_star
        # W0 + x(W* − W0) singular ⇔ x = −μ, μ an eigenvalue of (W* − W0)⁻¹W0; first real x in (0, 1)
        mu = np.linalg.eigvals(np.linalg.solve(Ws - W0, W0))
        xs = sorted(-m.real for m in mu if abs(m.imag) < 1e-12 and 0 < -m.real < 1)
        assert xs, "this seed's straight path is expected to cross"
        for rule, r in (("NGD", 1), ("K-FAC", 2)):
            assert times[rule][seed] == pytest.approx(-math.log1p(-xs[0]) / r, rel=CROSSING_RTOL)


def test_formula_errors_restart_choices():
    run = paper.alignment_run("GD", 2, 1e-3, 0)
    t_g, err_g = paper.mode_formula_errors(run, restart="global")
    t_m, err_m = paper.mode_formula_errors(run, restart="mode")
    assert np.all(t_g == t_g[0])                                   # one restart time for every mode
    k = int(np.searchsorted(run.t, t_g[0]))
    assert run.rho[k] < paper.RESTART_EPS <= run.rho[k - 1]
    # under GD the weak modes are not yet individually decoupled at the global restart: the closed form misses
    # (by 1.6 % of s on this seed; up to 45 % on seeds 0-9), a hundred times what the per-mode restart leaves
    scored = np.isfinite(err_m)
    assert scored.any() and np.max(err_m[scored]) < paper.GD_MODE_FORMULA_TOL
    assert np.nanmax(err_g) > 100 * np.max(err_m[scored])


# --- the claims ----------------------------------------------------------------------------------

def test_claims_default_routes_measure_against_thresholds():
    for claim in paper.CLAIMS:
        assert claim.kind == "outcome" and claim.symbolic is None
        ev = claim.numeric(False)
        assert isinstance(ev, Evidence) and ev.measurements and ev.plots
        assert all(isinstance(p, Plot) and p.curves for p in ev.plots)
        for m in ev.measurements:
            assert m.kind in ("at_most", "at_least") and m.bound is not None and math.isfinite(m.value), m
        result = claim.check(False)
        assert result.passed, result.reason


def test_table_and_plots():
    cells = paper.alignment_study((2,), (1e-3,), (0, 1))
    tex = paper.table_tex(cells)
    assert r"\begin{equation}" in tex and tex.count(r"\\") >= len(paper.RULES) + 1
    plot = paper.alignment_plot(2, 1e-3, (0, 1))
    assert plot.yscale == "log" and len([c for c in plot.curves if "median" in c.label]) == len(paper.RULES)


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, name", [
    (lambda: paper.random_problem(0, 1e-3, 0), "depth"),
    (lambda: paper.random_problem(2, 1.0, 0), "scale"),
    (lambda: paper.random_problem(2, 1e-3, -1), "seed"),
    (lambda: paper.random_problem(2, 1e-3, 0, square=1), "square"),
    (lambda: paper.alignment_run("adam", 2, 1e-3, 0), "rule"),
    (lambda: paper.relative_leakage(paper.random_problem(2, 1e-3, 0), np.zeros((4, 4))), "W_end"),
    (lambda: paper.relative_leakage(paper.random_problem(2, 1e-3, 0), np.zeros((4, 5))), "W_end"),
    (lambda: paper.first_time_below([1.0, 2.0], [1.0], 0.5), "values"),
    (lambda: paper.first_time_below([1.0, 2.0], [1.0, 0.1], 0.0), "level"),
    (lambda: paper.mode_formula_errors(paper.alignment_run("NGD", 2, 1e-3, 0), restart="late"), "restart"),
    (lambda: paper.mode_formula_errors(paper.alignment_run("NGD", 2, 1e-3, 0), eps=2.0), "eps"),
    (lambda: paper.summarize("GD", 2, 1e-3, seeds=()), "seeds"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(LindynError, match=name):
        call()
