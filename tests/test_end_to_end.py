"""EndToEnd(rule, L): the flow of W = W_L⋯W_1 derived from the rule on a balanced factorisation.

Oracles (test-only, written here from the papers, independent of lindyn's construction):
- Arora, Cohen & Hazan 2018, Theorem 1: under GD from a balanced init,
  dW/dt = −Σ_j (WWᵀ)^{(L−j)/L} ∇ℓ(W) (WᵀW)^{(j−1)/L} (matrix powers by eigh here);
- full NGD^q [derived]: dW/dt = −J(JᵀDJ)^{+q}Jᵀ vec ∇ℓ with D = Σ ⊗ I and JJᵀ = 𝒜 on a balanced chain, i.e.
  −D^{−1/2}(D^{1/2}𝒜D^{1/2})^{1−q}D^{−1/2} vec ∇ℓ (dense here); with Σ = I, −𝒜^{1−q}(∇ℓ) in W's SVD basis;
- K-FAC on invertible square layers: dW/dt = −L(W − W*), so W(t) = W* + e^{−Lt}(W(0) − W*) (THEORY §3).
Independent route: the layer-wise flow `integrate(deep, rule, t)` from a balanced init (GD and NGD^q keep it).
"""
from fractions import Fraction

import numpy as np
import pytest

from lindyn import (GD, NGD, BlockNGD, Discrete, Flow, GivenWeights, HighPrecision, IntegrationFailed, LindynError,
                    Network, Problem, Samples, Task, geometry, integrate, kfac, layer_velocities)
from lindyn.end_to_end import EndToEnd, balanced_factors, end_to_end_problem, imbalance

HALF = Fraction(1, 2)
N = 4
#: Both flows by DOP853 at rtol 1e-13: the two integrations agree to ~1e-11 (their own error); accept 1e-10.
TIGHT = Flow(rtol=1e-13, atol=1e-15)
FLOW_AGREE = 1e-10
#: One velocity in double precision, a few dozen flops on O(1) matrices: ~1e-14; accept 1e-12.
VELOCITY_AGREE = 1e-12


def psd_power(S, p):
    lam, V = np.linalg.eigh(0.5 * (S + S.T))
    lam = np.clip(lam, 0.0, None)
    return (V * np.where(lam > 0, lam, 1.0) ** p * (lam > 0)) @ V.T if p != 0 else np.eye(len(S))


def arora(W, G, L):
    """Theorem 1 of Arora, Cohen & Hazan 2018 (τ = 1)."""
    return -sum(psd_power(W @ W.T, (L - j) / L) @ G @ psd_power(W.T @ W, (j - 1) / L) for j in range(1, L + 1))


def A_operator(W, L):
    """𝒜 as an n²x n² matrix on column-major vec: vec(Q G P) = (Pᵀ ⊗ Q) vec G."""
    return sum(np.kron(psd_power(W.T @ W, (j - 1) / L).T, psd_power(W @ W.T, (L - j) / L)) for j in range(1, L + 1))


def ngd_dense(W, G, Sigma, L, q):
    """−D^{−1/2}(D^{1/2}𝒜D^{1/2})^{1−q}D^{−1/2} vec G, D = Σ ⊗ I (full NGD^q through J, dense)."""
    n = W.shape[0]
    D = np.kron(Sigma, np.eye(n))
    Dh, Dmh = psd_power(D, 0.5), psd_power(D, -0.5)
    v = -Dmh @ psd_power(Dh @ A_operator(W, L) @ Dh, 1 - float(q)) @ Dmh @ G.reshape(-1, order="F")
    return v.reshape(n, n, order="F")


def ngd_svd(W, G, L, q):
    """−𝒜^{1−q}(G) with Σ = I, in W = UΣVᵀ's basis: entry (a, b) times (Σ_j σ_a^{2(L−j)/L} σ_b^{2(j−1)/L})^{1−q}."""
    U, s, Vt = np.linalg.svd(W)
    mult = sum(np.outer(s ** (2 * (L - j) / L), s ** (2 * (j - 1) / L)) for j in range(1, L + 1))
    return -U @ (mult ** (1 - float(q)) * (U.T @ G @ Vt.T)) @ Vt


def spd(rng, n=N):
    M = rng.normal(size=(n, n))
    return M @ M.T / n + 0.5 * np.eye(n)


def my_balanced(W, L):
    """The balanced factorisation, built here independently: W_1 = Σ^{1/L}Vᵀ, W_j = Σ^{1/L}, W_L = UΣ^{1/L}."""
    U, s, Vt = np.linalg.svd(W)
    r = np.diag(s ** (1 / L))
    return (W,) if L == 1 else (r @ Vt,) + (r,) * (L - 2) + (U @ r,)


def deep_problem(L, seed, whitened=False, scale=0.5):
    """Random task, balanced random init; the target redrawn until the segment W(0) → W* stays invertible."""
    rng = np.random.default_rng(seed)
    Sxx = np.eye(N) if whitened else spd(rng)
    W0 = scale * rng.normal(size=(N, N)) / np.sqrt(N)
    while True:
        Syx = rng.normal(size=(N, N))
        Ws = np.linalg.solve(Sxx.T, Syx.T).T
        mu = np.linalg.eigvals(np.linalg.solve(Ws, W0 - Ws))
        if not np.any((np.abs(mu.imag) < 1e-9) & (mu.real <= -1)):
            break
    return Problem(Network((N,) * (L + 1)), Task(Sigma_yx=Syx, Sigma_xx=Sxx), GivenWeights(my_balanced(W0, L)))


def one_layer(W, Syx, Sxx=None):
    return Problem(Network((N, N)), Task(Sigma_yx=Syx, Sigma_xx=Sxx), GivenWeights((W,)))


def compare(problem, rule, t):
    L = problem.network.depth
    layer = integrate(problem, rule, t, method=TIGHT)
    e2e = integrate(end_to_end_problem(problem), EndToEnd(rule, L), t, method=TIGHT)
    return np.linalg.norm(layer.W_end - e2e.W_end, axis=(1, 2)).max() / np.linalg.norm(problem.task.W_star), layer


# --- (a), (c): layer-wise vs end-to-end flows -------------------------------------------------------

@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("rule", [GD(), NGD(), NGD(q=HALF)], ids=lambda r: r.name)
def test_layerwise_flow_equals_end_to_end_flow(rule, L):
    problem = deep_problem(L, seed=10 * L)
    err, layer = compare(problem, rule, np.linspace(0.0, 2.0, 9))
    assert err <= FLOW_AGREE
    assert imbalance(layer.W).max() < 1e-10                       # the rule kept the balanced init balanced
    assert np.linalg.norm(layer.W_end[-1] - layer.W_end[0]) > 0.1   # W moved: the comparison is not trivial


def test_discrete_steps_of_the_end_to_end_field_converge_at_first_order():
    """One integrator: Discrete(lr) takes Euler steps of the EndToEnd field; the iterates approach the layer-wise
    flow's W(t) with an error ∝ lr (halving lr halves it)."""
    problem = deep_problem(3, seed=3)
    t = [0.0, 0.5]
    exact = integrate(problem, GD(), t, method=TIGHT).W_end[-1]
    errs = [np.abs(integrate(end_to_end_problem(problem), EndToEnd(GD(), 3), t, method=Discrete(lr=lr)).W_end[-1]
                   - exact).max() for lr in (1e-2, 5e-3)]
    assert 1.8 < errs[0] / errs[1] < 2.2


# --- (b), (c): velocities against the oracles ---------------------------------------------------------

@pytest.mark.parametrize("L", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_gd_velocity_is_arora_theorem_1(L, seed):
    rng = np.random.default_rng(seed)
    W, Syx, Sxx = rng.normal(size=(N, N)), rng.normal(size=(N, N)), spd(rng)
    v = layer_velocities(one_layer(W, Syx, Sxx), EndToEnd(GD(), L))[0]
    oracle = arora(W, W @ Sxx - Syx, L)
    assert np.abs(v - oracle).max() <= VELOCITY_AGREE * np.abs(oracle).max()


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("q", [1, HALF, Fraction(1, 3)])
def test_ngd_velocity_is_A_power(L, q):
    rng = np.random.default_rng(L)
    W, Syx = rng.normal(size=(N, N)), rng.normal(size=(N, N))
    # whitened: the SVD-basis multiplier
    v = layer_velocities(one_layer(W, Syx), EndToEnd(NGD(q=q), L))[0]
    oracle = ngd_svd(W, W - Syx, L, q)
    assert np.abs(v - oracle).max() <= VELOCITY_AGREE * np.abs(oracle).max()
    # non-white Σ: the dense operator through the Fisher's D = Σ ⊗ I
    Sxx = spd(rng)
    v = layer_velocities(one_layer(W, Syx, Sxx), EndToEnd(NGD(q=q), L))[0]
    oracle = ngd_dense(W, W @ Sxx - Syx, Sxx, L, q)
    assert np.abs(v - oracle).max() <= 1e-10 * np.abs(oracle).max()


def test_oracles_agree_with_each_other():
    """The SVD-basis multiplier at q = 0 is Theorem 1's sum (a check on the test's own oracles)."""
    rng = np.random.default_rng(7)
    W, G = rng.normal(size=(N, N)), rng.normal(size=(N, N))
    assert np.allclose(ngd_svd(W, G, 3, 0), arora(W, G, 3), rtol=0, atol=1e-12)
    assert np.allclose(ngd_dense(W, G, np.eye(N), 3, HALF), ngd_svd(W, G, 3, HALF), rtol=0, atol=1e-12)


@pytest.mark.parametrize("rule", [GD(), NGD(q=HALF), BlockNGD(q=HALF), kfac()], ids=lambda r: r.name)
def test_velocity_does_not_depend_on_the_factorisation(rule):
    """Any balanced factorisation O_jW_jO_{j−1}ᵀ gives the same chained velocity (the rules are rotation
    invariant), so EndToEnd is a function of W alone."""
    rng = np.random.default_rng(5)
    L = 3
    W, Syx, Sxx = rng.normal(size=(N, N)), rng.normal(size=(N, N)), spd(rng)
    layers = balanced_factors(W, L)
    O = [np.eye(N)] + [np.linalg.qr(rng.normal(size=(N, N)))[0] for _ in range(L - 1)] + [np.eye(N)]
    rotated = tuple(O[j + 1] @ layers[j] @ O[j].T for j in range(L))
    deep = Problem(Network((N,) * (L + 1)), Task(Syx, Sxx), GivenWeights(rotated))
    geo = geometry(deep)
    chained = geo.end_to_end_velocity(layer_velocities(deep, rule))
    v = layer_velocities(one_layer(W, Syx, Sxx), EndToEnd(rule, L))[0]
    assert np.abs(v - chained).max() <= 1e-11 * np.abs(v).max()


def test_depth_one_is_the_rule_itself():
    rng = np.random.default_rng(2)
    W, Syx, Sxx = rng.normal(size=(N, N)), rng.normal(size=(N, N)), spd(rng)
    p = one_layer(W, Syx, Sxx)
    for rule in (GD(), NGD(q=HALF), kfac()):
        assert np.allclose(layer_velocities(p, EndToEnd(rule, 1))[0], layer_velocities(p, rule)[0], rtol=0, atol=1e-12)


def test_kfac_end_to_end_flow_is_the_straight_line():
    """K-FAC's end-to-end velocity on invertible square layers is −L(W − W*), whatever the factorisation."""
    problem = deep_problem(3, seed=4)
    t = np.array([0.0, 0.3, 1.0])
    e2e = integrate(end_to_end_problem(problem), EndToEnd(kfac(), 3), t, method=TIGHT).W_end
    W0, Ws = e2e[0], problem.task.W_star
    line = Ws[None] + np.exp(-3 * t)[:, None, None] * (W0 - Ws)[None]
    assert np.abs(e2e - line).max() < 1e-10


def test_samples_with_squared_loss():
    """Samples (X, Y) with the squared loss: the same construction, ∇ℓ(W) = (WX − Y)Xᵀ/n in the oracle."""
    rng = np.random.default_rng(8)
    X, Y, W = rng.normal(size=(N, 12)), rng.normal(size=(N, 12)), rng.normal(size=(N, N))
    p = Problem(Network((N, N)), Samples(X, Y), GivenWeights((W,)))
    v = layer_velocities(p, EndToEnd(GD(), 3))[0]
    oracle = arora(W, (W @ X - Y) @ X.T / X.shape[1], 3)
    assert np.abs(v - oracle).max() <= VELOCITY_AGREE * np.abs(oracle).max()


# --- helpers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("L", [1, 2, 5])
def test_balanced_factors(L):
    rng = np.random.default_rng(L)
    W = rng.normal(size=(N, N))
    W[:, 0] = W[:, 1]                                   # singular: a zero singular value
    layers = balanced_factors(W, L)
    prod = layers[0]
    for w in layers[1:]:
        prod = w @ prod
    assert np.allclose(prod, W, rtol=0, atol=1e-12)
    for a, b in zip(layers[:-1], layers[1:]):
        assert np.allclose(b.T @ b, a @ a.T, rtol=0, atol=1e-12)
    assert imbalance(layers) < 1e-12


def test_imbalance_matches_trajectory_balance():
    problem = deep_problem(3, seed=1)
    traj = integrate(problem, BlockNGD(q=HALF), [0.0, 0.2, 0.5], method=Flow())
    ref = np.max([np.linalg.norm(C, axis=(1, 2)) for C in traj.balance], axis=0)
    assert np.allclose(imbalance(traj.W), ref, rtol=1e-12, atol=0)
    assert ref[0] < 1e-12 < 1e-3 < ref[-1]               # balanced at t = 0, broken by the block rule


def test_end_to_end_problem_keeps_data_tau_and_init():
    problem = deep_problem(3, seed=2)
    problem = Problem(problem.network, problem.task, problem.init, tau=2.5)
    one = end_to_end_problem(problem)
    W = problem.initial_weights()
    assert one.network.widths == (N, N) and one.tau == 2.5 and one.task is problem.task
    assert np.allclose(one.initial_weights()[0], W[2] @ W[1] @ W[0], rtol=0, atol=1e-15)


def test_name():
    assert EndToEnd(BlockNGD(q=HALF), 4).name == "end-to-end[blockdiag(q=1/2), L=4]"


# --- (d) bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [0, -1, 2.0, "3", True, 101])
def test_bad_depth(depth):
    with pytest.raises(LindynError, match="depth"):
        EndToEnd(GD(), depth)


def test_bad_rule():
    with pytest.raises(LindynError, match="rule"):
        EndToEnd("gd", 2)


def test_deep_problem_refused():
    problem = deep_problem(2, seed=0)
    with pytest.raises(LindynError, match="one-layer problem"):
        integrate(problem, EndToEnd(GD(), 2), [1.0])


def test_non_square_refused():
    p = Problem(Network((3, 2)), Task(np.ones((2, 3))), GivenWeights((np.ones((2, 3)),)))
    with pytest.raises(LindynError, match="square"):
        integrate(p, EndToEnd(GD(), 2), [1.0])
    with pytest.raises(LindynError, match="square"):
        balanced_factors(np.ones((2, 3)), 2)


def test_nonlinear_refused():
    p = Problem(Network((N, N), bias=True), Samples(np.ones((N, 3)), np.ones((N, 3))), GivenWeights((np.ones((N, N + 1)),)))
    with pytest.raises(LindynError, match="without bias"):
        layer_velocities(p, EndToEnd(GD(), 2))
    with pytest.raises(LindynError, match="deep linear network"):
        end_to_end_problem(Problem(Network((N, N, N), activation="tanh"), Samples(np.ones((N, 3)), np.ones((N, 3))),
                                   GivenWeights((np.eye(N), np.eye(N)))))


def test_high_precision_refused():
    p = one_layer(np.eye(N), np.eye(N))
    # the first velocity is taken in double precision; the HighPrecision field then refuses (wrapped by the solver)
    with pytest.raises((LindynError, IntegrationFailed), match="double precision"):
        integrate(p, EndToEnd(GD(), 2), [1.0], method=HighPrecision(20))


@pytest.mark.parametrize("bad", [np.full((2, 2), np.nan), "W", np.ones(3)])
def test_bad_factorisation_input(bad):
    with pytest.raises(LindynError, match="W"):
        balanced_factors(bad, 2)


@pytest.mark.parametrize("bad", [[], "layers", [np.ones((2, 2)), np.ones((3, 3))]])
def test_bad_imbalance_input(bad):
    with pytest.raises(LindynError, match="layers"):
        imbalance(bad)


def test_bad_end_to_end_problem_input():
    with pytest.raises(LindynError, match="problem"):
        end_to_end_problem("deep")
