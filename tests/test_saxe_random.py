"""Saxe et al. 2014 Fig. 3 from random inits (lindyn.papers.saxe2014_random).

Oracles: the diffusion's statistics (sibling leaves differ with probability 2p(1 − p); items whose
lowest common ancestor is d levels up have E[y_i y_j] = (1 − 2p)^{2d}); the mode readout of an
aligned init is its u0 (linear: exactly, tanh: to O(u0)); the exact output reduction reproduces the
unreduced network's run; Eq. 12's half time is Saxe's Eq. 11 (tests/oracles.py).
"""
import math

import numpy as np
import pytest
from oracles import saxe_eq11_time, saxe_eq12_u

from lindyn import GD, Aligned, Flow, LindynError, Network, Problem, Samples, Task, integrate
from lindyn.papers import saxe2014_random as paper

#: Sampling tolerance of the data statistics: 4000 features x 16 sibling pairs give a standard error
#: of ~0.002 on the disagreement rate and <= 0.016 on a mean correlation (4000 x 16 pairs at d = 1,
#: 4000 x 256 at d = 5, values in [-1, 1]); 0.03 is about 2-15 standard errors.
DATA_TOL = 0.03
#: Readout of an aligned linear init: U diag(u0) Vᵀ read back through the same SVD bases (rounding only).
READOUT_RTOL = 1e-12
#: tanh(z) = z − z³/3 + …: at u0 <= 1e-6 on 8 items the pre-activations are z ~ √(8 u0) ~ 3e-3, so the readout
#: is off by a relative O(z²) ~ 1e-5 (measured ~3e-6); larger modes would leak into smaller ones at O(z_max²).
TANH_READOUT_RTOL = 1e-4
#: Reduced vs unreduced network: both DOP853 at rtol 1e-10; the difference is integration error (~1e-9).
REDUCTION_RTOL = 1e-7


def _lca_levels(i: int, j: int) -> int:
    """Levels above two leaves (tree order) to their lowest common ancestor."""
    return (i ^ j).bit_length()


# --- the data ------------------------------------------------------------------------------------

def test_diffusion_data_has_the_stated_statistics():
    p, levels = 0.1, 5
    X, Y = paper.diffusion_tree_data(levels=levels, features=4000, flip=p, seed=1)
    P = 2 ** levels
    assert X.shape == (P, P) and Y.shape == (4000, P)
    assert np.allclose(X @ X.T / P, np.eye(P))                       # Σ_xx = I
    assert set(np.unique(Y).tolist()) == {-1.0, 1.0}
    assert abs(float(Y.mean())) < DATA_TOL                           # the root's sign is ±1 with probability ½
    # sibling leaves differ iff exactly one of them flips: 2p(1 − p) = 0.18
    rate = float(np.mean(Y[:, 0::2] != Y[:, 1::2]))
    assert abs(rate - 2 * p * (1 - p)) < DATA_TOL
    # hierarchical correlation: a deeper shared ancestor (smaller d) means a larger correlation (1 − 2p)^{2d}
    C = Y.T @ Y / Y.shape[0]
    by_d = [np.mean([C[i, j] for i in range(P) for j in range(P) if _lca_levels(i, j) == d])
            for d in range(1, levels + 1)]
    assert np.all(np.diff(by_d) < 0)
    assert np.max(np.abs(np.array(by_d) - (1 - 2 * p) ** (2 * np.arange(1, levels + 1)))) < DATA_TOL


def test_diffusion_data_limits_and_seed():
    _, Y0 = paper.diffusion_tree_data(levels=3, features=50, flip=0.0, seed=2)
    assert np.all(Y0 == Y0[:, :1])                                   # no flips: every item copies the root
    _, Yh = paper.diffusion_tree_data(levels=3, features=4000, flip=0.5, seed=2)
    C = Yh.T @ Yh / Yh.shape[0]
    assert np.max(np.abs(C - np.eye(8))) < 0.1                       # flip ½: independent items
    a, b = paper.diffusion_tree_data(seed=4)[1], paper.diffusion_tree_data(seed=4)[1]
    assert np.array_equal(a, b) and not np.array_equal(a, paper.diffusion_tree_data(seed=5)[1])


@pytest.mark.parametrize("kwargs, name", [({"levels": 0}, "levels"), ({"features": 0}, "features"),
                                          ({"flip": 0.6}, "flip"), ({"flip": float("nan")}, "flip"),
                                          ({"seed": -1}, "seed"), ({"levels": 2.0}, "levels")])
def test_diffusion_data_rejects_bad_input(kwargs, name):
    with pytest.raises(LindynError, match=name):
        paper.diffusion_tree_data(**kwargs)


def test_other_bad_input_names_the_argument():
    X, Y = paper.diffusion_tree_data(levels=2, features=20)
    with pytest.raises(LindynError, match="activation"):
        paper.fig3_random_problem(X, Y, seed=0, activation="relu")
    with pytest.raises(LindynError, match="seed"):
        paper.fig3_random_problem(X, Y, seed=-2)
    with pytest.raises(LindynError, match="u0"):
        paper.init_scale(0.0)
    with pytest.raises(LindynError, match="seeds"):
        paper.random_init_delays([])
    with pytest.raises(LindynError, match="horizon"):
        paper.random_init_delays([0], levels=2, features=20, hidden=4, horizon=0.5)
    with pytest.raises(LindynError, match="traj"):
        paper.mode_strengths(object())


# --- the readout and the exact reduction ---------------------------------------------------------

def test_mode_readout_of_an_aligned_init_is_its_u0():
    X, Y = paper.diffusion_tree_data(levels=3, features=60, seed=0)
    task = Task.from_data(X, Y)
    u0 = np.geomspace(1e-6, 1e-3, 8)
    init = Aligned.balanced(u0, depth=2, seed=1)
    lin = integrate(Problem(Network((8, 8, 60)), task, init), GD(), [0.0])
    assert np.max(np.abs(paper.mode_strengths(lin)[:, 0] - u0) / u0) < READOUT_RTOL
    u0 = np.geomspace(1e-7, 1e-6, 8)
    init = Aligned.balanced(u0, depth=2, seed=1)
    # the same readout on samples through a tanh net (nearly linear at these strengths)
    tanh = integrate(Problem(Network((8, 8, 60), activation="tanh"), Samples(X, Y), init), GD(), [0.0])
    assert np.max(np.abs(paper.mode_strengths(tanh)[:, 0] - u0) / u0) < TANH_READOUT_RTOL


def test_init_scale_gives_effective_strength_u0():
    # |(a + b)/2|² with a = W_2ᵀu_α, b = W_1v_α: the growing part of the linearised mode (init_scale's docstring)
    X, Y = paper.diffusion_tree_data(levels=5, features=200, seed=0)
    U, _, Vt = np.linalg.svd(Task.from_data(X, Y).Sigma_yx, full_matrices=False)
    grow = []
    for seed in range(10):
        W1, W2 = paper.fig3_random_problem(X, Y, seed=seed, reduce=False).initial_weights()
        grow.append(np.sum(((W2.T @ U + W1 @ Vt.T) / 2) ** 2, axis=0))
    assert abs(float(np.mean(grow)) / paper.FIG3_U0 - 1) < 0.05        # 320 chi-square(32) draws: s.e. ~0.014


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_output_reduction_is_exact(activation):
    # a small fast case run to convergence: the reduced net (r + N_2 outputs) against the unreduced one
    X, Y = paper.diffusion_tree_data(levels=3, features=200, seed=0)
    kw = dict(seed=3, hidden=6, activation=activation, u0=1e-3, lr=0.05)
    full = paper.fig3_random_problem(X, Y, reduce=False, **kw)
    red = paper.fig3_random_problem(X, Y, **kw)
    assert red.network.widths == (8, 6, 14) and full.network.widths == (8, 6, 200)
    t = np.linspace(0.0, 80.0, 41)
    flow = Flow(rtol=1e-10, atol=1e-14)
    a, b = integrate(full, GD(), t, method=flow), integrate(red, GD(), t, method=flow)
    ua, ub = paper.mode_strengths(a), paper.mode_strengths(b)
    s = np.linalg.svd(Task.from_data(X, Y).Sigma_yx, compute_uv=False)
    assert np.sum(ua[:, -1] / s > 0.5) >= 4                          # the run covers the learning of 4+ modes
    assert np.max(np.abs(ua - ub)) < REDUCTION_RTOL * np.max(np.abs(ua))
    assert np.max(np.abs(a.W[0] - b.W[0])) < REDUCTION_RTOL * np.max(np.abs(a.W[0]))
    Q = paper.output_reduction(Task.from_data(X, Y).Sigma_yx, full.initial_weights()[1])
    assert np.max(np.abs(a.W[1] - Q @ b.W[1])) < REDUCTION_RTOL * np.max(np.abs(a.W[1]))


# --- the measurement -----------------------------------------------------------------------------

def test_eq12_half_time_is_eq11_and_half_time_interpolates():
    st = paper.random_init_delays((0,), levels=2, features=40, hidden=4)
    tau = 1 / paper.FIG3_LEARNING_RATE
    eq11 = [saxe_eq11_time(float(s), paper.FIG3_U0, float(s) / 2, tau) for s in st.s]
    assert np.allclose(st.t_half_eq12, eq11, rtol=1e-10)
    eq12 = [[saxe_eq12_u(float(t), float(s), paper.FIG3_U0, tau) for t in st.t[::50]] for s in st.s]
    assert np.allclose(st.u_eq12[:, ::50], eq12, rtol=1e-9, atol=1e-15)
    # half_time on Eq. 12 sampled on the study's grid recovers Eq. 11 (linear interpolation at the inflection)
    th = paper.half_time(st.t, st.u_eq12, st.s / 2)
    assert np.max(np.abs(th - st.t_half_eq12) / st.t_half_eq12) < 1e-4
    assert math.isinf(float(paper.half_time([0.0, 1.0], [0.0, 0.1], 1.0)))


def test_random_init_half_time_is_later_than_eq12_on_a_small_case():
    # 8 items (3 levels), 200 features, 8 hidden units, seeds 0-4: every seed's mean delay over the modes is
    # positive (measured 0.033-0.11) and the weaker half of the modes is delayed more (the claim's key facts)
    st = paper.random_init_delays(tuple(range(5)), levels=3, features=200, hidden=8)
    r = st.rel_delay
    assert np.all(np.isfinite(r))
    assert np.all(r.mean(axis=1) > 0)
    assert np.all(st.t_half.mean(axis=1) > st.t_half_eq12.mean())
    assert r[:, 4:].mean() > r[:, :4].mean() + 0.03
    assert np.all(st.shape_error[:, 0] < 0.05)                       # the strongest mode keeps Eq. 12's shape


def test_claim_passes_with_default_settings():
    (claim,) = paper.CLAIMS
    assert claim.name == "saxe-random-init-delay" and claim.kind == "outcome"
    result = claim.check(thorough=False)
    assert result.passed, result.reason
    kinds = {m.kind for m in result.measurements}
    assert kinds <= {"at_most", "at_least"} and len(result.measurements) >= 10
    names = [p.name for p in result.numeric.plots]
    assert names == ["saxe2014_fig3_random_modes", "saxe2014_fig3_random_delay"]
    delay = result.numeric.plots[1]
    lin_mean = next(c for c in delay.curves if c.label == "linear net: mean over seeds")
    assert len(lin_mean.x) == 32 and np.mean(lin_mean.y) > 0
