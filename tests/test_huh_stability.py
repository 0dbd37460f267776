"""Damped natural gradient, update-speed clipping, and the Huh 2020 stability experiment (issue 12, item 5).

Oracles (test-only, written from the definitions in THEORY §0-1, not from lindyn's geometry):
* the Fisher F = Jᵀ(Σ ⊗ I)J with J_i = A_iᵀ ⊗ B_i built with numpy `kron`, the gradient
  ∂ℓ/∂W_i = B_iᵀ(WΣ − Σ_yx)A_iᵀ, and (F + εI)^{−q} by `numpy.linalg.eigh`;
* the damped two-layer mode law τu̇ = 2u(s − u)/(2u + ε) of NGD(damping=ε) (|j|² = a_1² + a_2² = 2u on
  a balanced mode), and for L = 3 the full-matrix flow;
* clipping: every applied step ‖θ_{k+1} − θ_k‖₂ <= c, and the clipping count equals the number of
  steps whose unclipped ‖lr·v(θ_k)‖₂ (recomputed with `layer_velocities`) exceeds c.
"""
from fractions import Fraction

import numpy as np
import pytest
import sympy

from conftest import DERIVED_VS_MATRIX_ATOL, MATRIX_ATOL, MATRIX_RTOL
from lindyn import (GD, NGD, BlockNGD, Discrete, Flow, IntegrationFailed, LindynError, Network, Problem,
                    SmallRandom, Task, aligned_problem, derive, geometry, integrate, layer_velocities, rule)
from lindyn.papers import huh2020_stability as huh

HALF = Fraction(1, 2)
#: Damped velocity vs the numpy oracle, relative: the eigendecompositions of F + εI (condition number up to
#: λ_max/ε ≈ 1e5 at ε = 1e-5) leave ~1e-11; 1e-9 leaves two orders of margin.
DAMPED_RTOL = 1e-9
#: Clipped steps have norm c up to the rounding of θ_{k+1} − θ_k (|θ| = O(1)): a few ulp.
CLIP_ATOL = 1e-12


def _net(seed=3):
    """A small non-aligned deep linear net (3-4-4-2), non-white input, weights of order 0.5."""
    rng = np.random.default_rng(seed)
    Sxx = np.eye(3) + 0.2 * np.ones((3, 3))
    return Problem(Network((3, 4, 4, 2)), Task(rng.normal(size=(2, 3)), Sxx), SmallRandom(0.5, seed))


def _oracle_fisher_and_gradient(problem):
    """F = Jᵀ(Σ ⊗ I)J, J_i = A_iᵀ ⊗ B_i (column-major vec) and ∇ℓ, written from THEORY §0."""
    W = problem.initial_weights()
    S, Syx = problem.task.Sigma_xx, problem.task.Sigma_yx
    L = len(W)
    A, B = [], []
    for i in range(L):
        a = np.eye(W[0].shape[1])
        for w in W[:i]:
            a = w @ a                    # A_i = W_{i-1}⋯W_1
        A.append(a)
        B.append(np.linalg.multi_dot([np.eye(W[-1].shape[0])] + list(W[i + 1:])[::-1] + [np.eye(W[i].shape[0])]))
    W_end = np.linalg.multi_dot(W[::-1])
    J = np.hstack([np.kron(A[i].T, B[i]) for i in range(L)])
    F = J.T @ np.kron(S, np.eye(W[-1].shape[0])) @ J
    grads = [B[i].T @ (W_end @ S - Syx) @ A[i].T for i in range(L)]
    g = np.concatenate([x.reshape(-1, order="F") for x in grads])
    sizes = [w.size for w in W]
    return F, g, sizes, grads, A, B, S


def _inv_pow(M, q):
    lam, V = np.linalg.eigh(0.5 * (M + M.T))
    return (V * lam ** (-float(q))) @ V.T


def _flat(layers):
    return np.concatenate([np.asarray(x).reshape(-1, order="F") for x in layers])


# --- damping = 0 is today's NGD -------------------------------------------------------------------

#: Today's NGD body, verbatim, as a user rule: the oracle for "damping = 0 changes nothing".
TODAY = {q: rule(lambda grads, geo, ops, q=q: geo.unvec(-(ops.pinv_pow(geo.fisher(), q) @ geo.vec(grads))),
                 name=f"today-{q}") for q in (1, HALF)}


@pytest.mark.parametrize("q", [1, HALF], ids=["q=1", "q=1/2"])
@pytest.mark.parametrize("route", ["efficient", "explicit"])
def test_zero_damping_is_bit_identical_to_undamped_ngd(q, route):
    problem = _net()
    assert NGD(q=q, damping=0) == NGD(q=q) and NGD(q=q, damping=0).name == NGD(q=q).name
    t = [0.05, 0.1, 0.2]
    ours = integrate(problem, NGD(q=q, damping=0), t, method=Discrete(lr=0.01, fisher_route=route))
    old = integrate(problem, TODAY[q], t, method=Discrete(lr=0.01, fisher_route=route))
    assert all(np.array_equal(a, b) for a, b in zip(ours.W, old.W))
    flow = integrate(problem, NGD(q=q, damping=0), [0.3], method=Flow(fisher_route=route))
    flow_old = integrate(problem, TODAY[q], [0.3], method=Flow(fisher_route=route))
    assert all(np.array_equal(a, b) for a, b in zip(flow.W, flow_old.W))
    assert derive(NGD(q=q, damping=0), 3).ode == derive(NGD(q=q), 3).ode


# --- damped velocities against numpy ---------------------------------------------------------------

@pytest.mark.parametrize("q", [1, HALF], ids=["q=1", "q=1/2"])
@pytest.mark.parametrize("eps", [1e-5, 0.3])
@pytest.mark.parametrize("route", ["efficient", "explicit"])
def test_damped_ngd_velocity_matches_numpy(q, eps, route):
    """NGD(q, damping=ε): v = −(F + εI)^{−q}∇ℓ, with F and ∇ℓ built from their definitions."""
    problem = _net()
    F, g, *_ = _oracle_fisher_and_gradient(problem)
    expected = -_inv_pow(F + eps * np.eye(F.shape[0]), q) @ g
    geo = geometry(problem, fisher_route=route)
    got = _flat(NGD(q=q, damping=eps).velocity(geo.grads, geo, geo.ops))
    assert np.max(np.abs(got - expected)) <= DAMPED_RTOL * np.max(np.abs(expected))
    # the damping matters: the undamped velocity differs by more than the tolerance at ε = 0.3
    if eps == 0.3:
        plain = _flat(layer_velocities(problem, NGD(q=q)))
        assert np.max(np.abs(plain - expected)) > 1e-3 * np.max(np.abs(expected))


@pytest.mark.parametrize("q", [1, HALF], ids=["q=1", "q=1/2"])
@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_block_damping_modes_match_numpy(q, eps):
    """'block': −(F_ii + εI)^{−q} vec ∇_i; 'factored': −(G_i + √εI)^{−q} ∇_i (Ā_i + √εI)^{−q}."""
    problem = _net()
    F, g, sizes, grads, A, B, S = _oracle_fisher_and_gradient(problem)
    out, start = [], 0
    for n in sizes:
        out.append(-_inv_pow(F[start:start + n, start:start + n] + eps * np.eye(n), q) @ g[start:start + n])
        start += n
    block = _flat(layer_velocities(problem, BlockNGD(q=q, damping=eps, damping_mode="block")))
    assert np.max(np.abs(block - np.concatenate(out))) <= DAMPED_RTOL * np.max(np.abs(np.concatenate(out)))
    d = np.sqrt(eps)
    fact = [-_inv_pow(B[i].T @ B[i] + d * np.eye(B[i].shape[1]), q) @ grads[i]
            @ _inv_pow(A[i] @ S @ A[i].T + d * np.eye(A[i].shape[0]), q) for i in range(len(grads))]
    got = _flat(layer_velocities(problem, BlockNGD(q=q, damping=eps)))
    assert np.max(np.abs(got - _flat(fact))) <= DAMPED_RTOL * np.max(np.abs(_flat(fact)))
    if eps == 0.3:     # the two readings are different rules
        assert np.max(np.abs(got - block)) > 1e-3 * np.max(np.abs(block))


# --- the symbolic route ---------------------------------------------------------------------------

def test_damped_ngd_mode_law_is_derived():
    """L = 2: τu̇ = 2u(s − u)/(2u + ε) (q = 1), 2u(s − u)/√(2u + ε) (q = 1/2); GD's invariant a_1² − a_2²."""
    eps = sympy.Symbol("epsilon", positive=True)
    for q, power in ((1, 1), (HALF, sympy.Rational(1, 2))):
        traj = derive(NGD(q=q, damping=eps), 2)
        u, s = traj.symbols.u, traj.symbols.s
        assert sympy.simplify(traj.ode.rhs - 2 * u * (s - u) / (2 * u + eps) ** power) == 0
        a1, a2 = derive(NGD(q=q, damping=eps), 2, gains="unbalanced").symbols.gains
        inv = derive(NGD(q=q, damping=eps), 2, gains="unbalanced").conserved
        assert len(inv) == 1 and sympy.simplify(inv[0] / (a1 ** 2 - a2 ** 2)).is_number
    # a float damping is read as its decimal, exactly (sympy's rational algorithms refuse Floats)
    assert derive(NGD(damping=1e-5), 2).ode.rhs == derive(NGD(damping=Fraction(1, 100000)), 2).ode.rhs


@pytest.mark.parametrize("name,rule_", [("ngd", NGD(damping=Fraction(1, 100))),
                                         ("sqrt-ngd", NGD(q=HALF, damping=Fraction(1, 100))),
                                         ("block", BlockNGD(q=HALF, damping=Fraction(1, 100), damping_mode="block"))])
def test_damped_rules_derived_at_depth_three_match_full_matrices(name, rule_):
    """derive(rule, 3) for the damped rules (a quadrature form) vs full-matrix flow, two modes."""
    t, s, u0 = [0.5, 2.0, 6.0], [1.5, 0.6], [0.05, 0.2]
    traj = derive(rule_, 3)
    num = integrate(aligned_problem(s=s, depth=3, u0=u0), rule_, t, method=Flow(rtol=MATRIX_RTOL, atol=MATRIX_ATOL))
    assert np.max(np.abs(traj.evaluate(t, s=s, u0=u0) - np.asarray(num.u))) <= 10 * DERIVED_VS_MATRIX_ATOL


# --- clipping --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,rule_,lr", [("ngd", NGD(), 0.05), ("block", BlockNGD(), 0.02)])
def test_clipping_bounds_every_step_and_counts_events(name, rule_, lr):
    problem = huh.stability_problems(1)[0][1]           # the aligned init u0 = 1e-3: huge first NGD steps
    c, n = 0.5, 40
    traj = integrate(problem, rule_, lr * np.arange(n + 1),
                     method=Discrete(lr=lr, max_update=c, record_updates=True))
    theta = np.stack([_flat([w[k] for w in traj.W]) for k in range(n + 1)])
    applied = np.linalg.norm(np.diff(theta, axis=0), axis=1)
    assert np.all(applied <= c + CLIP_ATOL)
    proposed = np.array([lr * np.linalg.norm(_flat(layer_velocities(problem, rule_, [w[k] for w in traj.W])))
                         for k in range(n)])
    assert np.allclose(traj.step_norms, proposed, rtol=1e-10)
    assert traj.clipped == int(np.sum(proposed > c)) and traj.clipped >= 3       # the first steps are clipped
    clipped = proposed > c
    assert np.allclose(applied[clipped], c, atol=CLIP_ATOL) and np.allclose(applied[~clipped], proposed[~clipped])
    plain = integrate(problem, rule_, [lr * n], method=Discrete(lr=lr, record_updates=True))
    assert plain.clipped == 0 and plain.step_norms.max() > c


# --- divergence ------------------------------------------------------------------------------------

def test_diverging_run_raises_or_stops_as_documented():
    problem = aligned_problem(s=[10.0], depth=3, u0=1.0)
    with pytest.raises(IntegrationFailed, match="diverged"):
        integrate(problem, GD(), [100.0], method=Discrete(lr=1.0))
    traj = integrate(problem, GD(), [1.0, 2.0, 100.0], method=Discrete(lr=1.0, on_failure="stop", record_updates=True))
    assert traj.stopped_at is not None and "diverged" in traj.stop_reason and traj.stopped_at < 100.0
    assert len(traj.t) < 3 and traj.step_norms.size == round(traj.stopped_at / 1.0)
    run = huh.train(huh.stability_problems(1)[0][1], NGD(), 1.0)          # Huh's instability, flagged
    assert run.outcome == "diverged" and not run.stable and run.step_norms[0] > 100


@pytest.mark.parametrize("make,match", [
    (lambda: Discrete(lr=0.1, max_update=0.0), "max_update"),
    (lambda: Discrete(lr=0.1, max_update=float("nan")), "max_update"),
    (lambda: Discrete(lr=0.1, on_failure="ignore"), "on_failure"),
    (lambda: Discrete(lr=0.1, record_updates="yes"), "record_updates"),
    (lambda: NGD(damping=-1e-3), "damping"),
    (lambda: BlockNGD(damping=1e-3, damping_mode="kronecker"), "damping_mode"),
    (lambda: huh.huh_rules(-1.0), "damping"),
    (lambda: huh.train(huh.stability_problems(1)[0][1], GD(), 0.0), "lr"),
])
def test_bad_arguments(make, match):
    with pytest.raises(LindynError, match=match):
        make()


# --- the claims ------------------------------------------------------------------------------------

@pytest.mark.parametrize("claim", huh.CLAIMS, ids=[c.name for c in huh.CLAIMS])
def test_claims_pass(claim):
    result = claim.check(thorough=False)
    assert result.passed, result.reason
    assert len(result.measurements) >= 10


def test_stability_plots_have_data():
    norms, steps = huh.stability_plots(False)
    assert len(norms.curves) == 5 and all(len(c.y) > 10 for c in norms.curves)
    assert {c.label for c in steps.curves} >= {"ε = 0", "ε = 1e-05", "ε = 0, clip c = 0.5"}
