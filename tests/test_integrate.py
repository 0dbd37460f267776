"""Full-matrix integration (`lindyn.integrate`) against the foundation oracles of tests/README.md."""
import json
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from conftest import (BREAKING_MIN, CONSERVATION_RTOL, EXACT_PATH_RTOL, LEAKAGE_TOL, LEARNING_TIME_TOL, MP_TOL,
                      ORDER_TOL, SAXE_TOL)

from lindyn import (GD, NGD, BlockNGD, Discrete, Flow, GivenWeights, HighPrecision, Network, NumericTrajectory, Problem,
                    Task, aligned_problem, bernacchia, integrate, kfac)
from lindyn.cli import main

HALF, QUARTER = Fraction(1, 2), Fraction(1, 4)


def generic_problem(widths=(3, 3, 3, 3), seed=0, white=False, tau=1.0):
    """Random invertible (non-aligned) init, random SPD Σ, random W*.

    On square nets W(0) and W* are kept within spectral distance 1 of the identity, so the segment
    between them never meets a singular matrix (no singular crossing for the straight NGD path).
    """
    rng = np.random.default_rng(seed)
    W = [np.eye(m, n) + 0.12 * rng.normal(size=(m, n)) / np.sqrt(n) for n, m in zip(widths[:-1], widths[1:])]
    n0, nL = widths[0], widths[-1]
    G = rng.normal(size=(n0, n0))
    Sigma = np.eye(n0) if white else G @ G.T / n0 + 0.5 * np.eye(n0)
    W_star = np.eye(nL, n0) + 0.5 * rng.normal(size=(nL, n0)) / np.sqrt(n0)
    if n0 == nL:
        W_end = np.linalg.multi_dot(W[::-1]) if len(W) > 1 else W[0]
        assert max(np.linalg.norm(W_end - np.eye(n0), 2), np.linalg.norm(W_star - np.eye(n0), 2)) < 1
    return Problem(Network(widths), Task(W_star @ Sigma, Sigma), GivenWeights(tuple(W)), tau=tau)


def straight_line_error(traj, rate):
    """max_t ‖W(t) − W* − e^{−rate·t/τ}(W(0) − W*)‖ / ‖W(0) − W*‖."""
    p = traj.problem
    W_star = p.task.W_star
    E0 = traj.W_end[0] - W_star
    expected = W_star + np.exp(-rate * traj.t / p.tau)[:, None, None] * E0
    return np.max(np.linalg.norm(traj.W_end - expected, axis=(1, 2))) / np.linalg.norm(E0)


# --- Saxe et al. 2014 ---------------------------------------------------------------------------

def test_saxe_eq12_published_numbers():
    traj = integrate(aligned_problem(s=[2.0], depth=2, u0=0.01), GD(), [0.5, 1.0, 2.0])
    assert np.max(np.abs(traj.u[0] - [0.0716031774029, 0.4305879205034, 1.874841113744])) <= SAXE_TOL


@pytest.mark.parametrize("depth,u0,uf,t_f,s", [
    (2, 1e-4, 1 - 1e-4, math.log(9999.0), 1.0),     # Saxe Eq. 11
    (3, 1e-3, 0.5, 9.144747306608, 1.0),            # THEORY §5.3 (2F1 form)
    (4, 1e-3, 0.5, 15.529151651237, 1.0),
])
def test_learning_times(depth, u0, uf, t_f, s):
    traj = integrate(aligned_problem(s=[s], depth=depth, u0=u0), GD(), [t_f])
    assert abs(traj.u[0, -1] - uf) <= LEARNING_TIME_TOL


def test_tau_rescales_time():
    a = integrate(aligned_problem(s=[2.0], depth=2, u0=0.01, tau=3.0), GD(), [3.0])
    b = integrate(aligned_problem(s=[2.0], depth=2, u0=0.01), GD(), [1.0])
    assert abs(a.u[0, 0] - b.u[0, 0]) <= SAXE_TOL


# --- exact NGD and block NGD ------------------------------------------------------------------------

@pytest.mark.parametrize("route", ["efficient", "explicit"])
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_ngd_straight_line(route, seed):
    # Bernacchia et al. 2018: W(t) = W* + e^{−t/τ}(W(0) − W*) for any invertible init and SPD Σ.
    p = generic_problem(seed=seed, tau=1.5)
    traj = integrate(p, NGD(), np.linspace(0, 4, 9), method=Flow(fisher_route=route))
    assert straight_line_error(traj, 1.0) <= EXACT_PATH_RTOL
    # excess loss ∝ e^{−2t/τ}
    assert np.allclose(traj.loss, traj.loss[0] * np.exp(-2 * traj.t / p.tau), rtol=1e-7)


@pytest.mark.parametrize("rule,rate", [(BlockNGD(), 3.0), (kfac(), 3.0), (bernacchia(), 1.0)],
                         ids=["blockdiag", "kfac", "bernacchia"])
def test_block_ngd_rate_depth_generic_init(rule, rate):
    # blockdiag(F_ii⁻¹) is L times a generalized inverse of F without bottleneck: rate L (THEORY §3).
    traj = integrate(generic_problem(seed=2), rule, np.linspace(0, 2, 5))
    assert straight_line_error(traj, rate) <= EXACT_PATH_RTOL


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_block_ngd_mode_rate_depth(depth):
    # THEORY §5.4: block NGD q = 1, u = s − (s − u0)e^{−Lt}; full NGD: e^{−t} (any balance).
    t = np.array([0.25, 0.5, 1.0])
    block = integrate(aligned_problem(s=[2.0, 1.0], depth=depth, u0=0.05), BlockNGD(), t)
    full = integrate(aligned_problem(s=[2.0, 1.0], depth=depth, gains=[0.3] + [0.8] * (depth - 1)), NGD(), t)
    for a, s in enumerate([2.0, 1.0]):
        assert np.allclose(block.u[a], s - (s - 0.05) * np.exp(-depth * t), rtol=0, atol=1e-9)
        u0 = full.u[a, 0] if full.t[0] == 0 else 0.3 * 0.8 ** (depth - 1)
        assert np.allclose(full.u[a], s - (s - u0) * np.exp(-t), rtol=0, atol=1e-9)


# --- conservation law (Huh 2020) ----------------------------------------------------------------------

@pytest.mark.parametrize("rule", [GD(), NGD(), NGD(q=HALF), NGD(q=QUARTER)], ids=lambda r: r.name)
def test_balance_conserved_by_gd_and_full_ngd_powers(rule):
    traj = integrate(generic_problem(widths=(3, 4, 5, 2), seed=3), rule, [0.0, 1.0, 3.0])
    for i, C in enumerate(traj.balance):
        name = f"C_{i + 1}"
        assert name in traj.conserved
        assert traj.drift(name).max() <= CONSERVATION_RTOL * max(1.0, np.abs(C[0]).max())


@pytest.mark.parametrize("rule", [BlockNGD(), BlockNGD(q=HALF), bernacchia()], ids=lambda r: r.name)
def test_block_rules_break_balance(rule):
    # balanced (C_i = 0), task-non-aligned init: block rules move C_i away from 0 (THEORY §3)
    rng = np.random.default_rng(5)
    Q = [np.linalg.qr(rng.normal(size=(3, 3)))[0] for _ in range(3)]
    Q = [q * np.sign(np.linalg.det(q)) for q in Q]                 # rotations: det W(0) > 0, no crossing
    p = Problem(Network((3, 3, 3, 3)), generic_problem(seed=4, white=True).task, GivenWeights(tuple(0.6 * q for q in Q)))
    traj = integrate(p, rule, [0.0, 2.0])
    assert max(np.abs(C[0]).max() for C in traj.balance) <= 1e-12
    assert "C_1" not in traj.conserved and "C_2" not in traj.conserved
    assert max(np.abs(C[-1]).max() for C in traj.balance) >= BREAKING_MIN
    same_init_gd = integrate(p, NGD(), [0.0, 2.0])
    assert max(np.abs(C[-1]).max() for C in same_init_gd.balance) <= CONSERVATION_RTOL


@pytest.mark.parametrize("rule", [BlockNGD(), bernacchia()], ids=lambda r: r.name)
def test_block_q1_conserves_determinant_ratios(rule):
    # d/dt log|det W_i| = −tr((W − W*)W⁻¹)/τ for every layer under block NGD q = 1 (square nets)
    traj = integrate(generic_problem(seed=6), rule, [0.0, 0.5, 1.0])
    names = [k for k in traj.conserved if k.startswith("logdet")]
    assert len(names) == 2
    for name in names:
        assert traj.drift(name).max() <= CONSERVATION_RTOL


# --- discrete algorithm ---------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [GD(), NGD(q=HALF)], ids=lambda r: r.name)
def test_discrete_converges_to_flow_with_order_one(rule):
    p = generic_problem(widths=(3, 3, 3), seed=7)
    flow = integrate(p, rule, [1.0])
    lrs = np.array([0.04, 0.02, 0.01, 0.005])
    errors = [np.linalg.norm(integrate(p, rule, [1.0], method=Discrete(lr=lr)).W_end[-1] - flow.W_end[-1]) for lr in lrs]
    order = np.polyfit(np.log(lrs), np.log(errors), 1)[0]
    assert abs(order - 1) <= ORDER_TOL


def test_discrete_time_grid():
    p = aligned_problem(s=[1.0], depth=2, u0=0.1)
    traj = integrate(p, GD(), [0.0, 0.26, 0.33], method=Discrete(lr=0.1))
    assert np.allclose(traj.t, [0.0, 0.3, 0.3])       # nearest iterates k = round(t / lr)
    one = integrate(p, GD(), [0.1], method=Discrete(lr=0.1))
    W0 = p.initial_weights()
    a, b = W0[0][0, 0], W0[1][0, 0]
    assert abs(one.u[0, 0] - (a + 0.1 * b * (1 - a * b)) * (b + 0.1 * a * (1 - a * b))) <= 1e-15


# --- mode decoupling --------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [GD(), NGD(), NGD(q=HALF), BlockNGD(q=HALF), bernacchia()], ids=lambda r: r.name)
def test_aligned_modes_decouple(rule):
    p = aligned_problem(s=[3.0, 2.0, 1.0], depth=3, u0=0.02, lam=[1.0, 2.0, 0.5], width=5)
    traj = integrate(p, rule, [0.5, 1.0, 2.0, 4.0])
    assert traj.leakage.max() <= LEAKAGE_TOL
    assert traj.gains.shape == (3, 3, 4)
    assert np.allclose(np.prod(traj.gains, axis=1), traj.u, rtol=1e-10, atol=1e-14)


def test_ngd_non_white_mode_target():
    # THEORY §2: NGD u̇ = s/λ − u on a mode with input variance λ
    t = np.array([0.5, 2.0])
    traj = integrate(aligned_problem(s=[3.0, 1.0], depth=2, u0=0.1, lam=[2.0, 0.5]), NGD(), t)
    for a, (s, lam) in enumerate([(3.0, 2.0), (1.0, 0.5)]):
        assert np.allclose(traj.u[a], s / lam - (s / lam - 0.1) * np.exp(-t), atol=1e-9)


def test_result_shapes():
    p = aligned_problem(s=[2.0, 1.0], depth=3, u0=0.1, width=4)
    traj = integrate(p, GD(), [0.0, 1.0])
    assert isinstance(traj, NumericTrajectory)
    assert [w.shape for w in traj.W] == [(2, 4, 2), (2, 4, 4), (2, 2, 4)]
    assert traj.W_end.shape == (2, 2, 2) and traj.u.shape == (2, 2) and traj.loss.shape == (2,)
    assert [C.shape for C in traj.balance] == [(2, 4, 4), (2, 4, 4)]
    assert np.allclose(traj.W[0][0], p.initial_weights()[0])


def test_cli_json_contract(capsys):
    assert main(["integrate", "--rule", "gd", "--depth", "2", "--s", "2", "--u0", "0.01", "--t", "0.5,1,2", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert set(obj) >= {"rule", "q", "depth", "method", "t", "u", "loss"}
    assert max(abs(a - b) for a, b in zip(obj["u"][0], [0.0716031774029, 0.4305879205034, 1.874841113744])) <= SAXE_TOL


def test_cli_table(capsys):
    assert main(["integrate", "--rule", "blockdiag", "--q", "1/2", "--depth", "3", "--s", "2,1", "--gains", "0.2,0.3,0.4",
                 "--t", "0,1", "--width", "3", "--method", "discrete", "--lr", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "u_2" in out and len(out.strip().splitlines()) == 4


# --- high precision (mpmath) ---------------------------------------------------------------------------

@pytest.mark.slow
def test_high_precision_saxe_eq12_logistic():
    traj = integrate(aligned_problem(s=[2.0], depth=2, u0=0.01), GD(), [0.5, 1.0, 2.0], method=HighPrecision(dps=30))
    assert isinstance(traj.u[0, 0], mpmath.mpf)
    with mpmath.workdps(30):
        W0 = aligned_problem(s=[2.0], depth=2, u0=0.01).initial_weights()
        u0 = mpmath.mpf(W0[0][0, 0]) * mpmath.mpf(W0[1][0, 0])       # the exact binary initial strength
        for k, t in enumerate([0.5, 1.0, 2.0]):
            exact = 2 / (1 + (2 / u0 - 1) * mpmath.exp(-4 * mpmath.mpf(t)))   # Saxe Eq. 12, c = 2, s = 2
            assert abs(traj.u[0, k] - exact) <= MP_TOL


@pytest.mark.slow
@pytest.mark.parametrize("rule,rate", [(NGD(), 1), (BlockNGD(), 3)], ids=["ngd", "blockdiag"])
def test_high_precision_exact_ngd(rule, rate):
    p = aligned_problem(s=[1.5], depth=3, gains=[0.5, 0.7, 0.9])
    traj = integrate(p, rule, [0.0, 1.0], method=HighPrecision(dps=30))
    with mpmath.workdps(30):
        u0 = traj.u[0, 0]
        assert abs(traj.u[0, 1] - (mpmath.mpf(1.5) - (mpmath.mpf(1.5) - u0) * mpmath.exp(-rate))) <= MP_TOL


def test_gd_momentarily_straight_is_not_a_singular_crossing():
    """GD from W_i = I moves along W* − W at t = 0 but leaves that line: it must integrate.

    With W* = diag(1, −1) the second mode decays to 0 under GD (never crosses det W = 0),
    while exact NGD's straight path does cross at t = ln 2.
    """
    import numpy as np
    from lindyn import GD, NGD, GivenWeights, Network, Problem, SingularCrossing, Task, integrate
    problem = Problem(Network((2, 2, 2)), Task(Sigma_yx=np.diag([1.0, -1.0])), GivenWeights((np.eye(2), np.eye(2))))
    traj = integrate(problem, GD(), [1.0, 5.0])
    assert np.all(np.isfinite(traj.W_end)) and traj.W_end[-1, 1, 1] > 0
    with pytest.raises(SingularCrossing, match="singular crossing") as info:
        integrate(problem, NGD(), [5.0])
    assert abs(info.value.time - np.log(2.0)) < 1e-12
