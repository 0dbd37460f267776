"""The efficient full-Fisher route (lindyn.numeric.fisher) against the explicit dense Fisher.

Oracle: (F⁺)^q v = J̃ᵀ(K̃⁺)^{q+1}J̃v (SVD of J̃ = (Σ^{1/2}⊗I)J); the explicit route builds J and
F = Jᵀ(Σ⊗I)J and takes the Moore–Penrose power by eigh. Both must agree to 1e-10 relative
(issue 3 item 5) on random nets with and without bottleneck, white and non-white Σ.
"""
from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg as sla
from conftest import ROUTE_RTOL

from lindyn import NGD
from lindyn.numeric._ops import NumpyOps
from lindyn.numeric.geometry import MatrixGeometry, Moments
from lindyn.numeric.fisher import KroneckerFisher

WIDTHS = {"square": (4, 4, 4, 4), "unequal": (3, 5, 6, 4), "bottleneck": (4, 2, 4), "narrow-output": (5, 3, 6, 2),
          "deep-bottleneck": (4, 2, 3, 4),
          "two-layer": (3, 5, 4), "one-layer": (4, 3)}


def random_net(widths, seed, white):
    rng = np.random.default_rng(seed)
    W = [np.eye(m, n) + 0.5 * rng.normal(size=(m, n)) / np.sqrt(n) for n, m in zip(widths[:-1], widths[1:])]
    n0 = widths[0]
    G = rng.normal(size=(n0, n0))
    Sigma = np.eye(n0) if white else G @ G.T / n0 + 0.3 * np.eye(n0)
    return W, Sigma, rng.normal(size=(widths[-1], n0))


def velocities(W, Sigma, Syx, q):
    out = []
    for route in ("efficient", "explicit"):
        geo = MatrixGeometry(W, Moments(Sigma, Syx), NumpyOps(), route)
        out.append(geo.vec(NGD(q=q).velocity(geo.grads, geo, NumpyOps())))
    return out


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("q", [1, Fraction(1, 2), Fraction(1, 4)], ids=str)
@pytest.mark.parametrize("white", [True, False], ids=["white", "nonwhite"])
@pytest.mark.parametrize("net", sorted(WIDTHS))
def test_efficient_route_matches_explicit_fisher(net, white, q, seed):
    W, Sigma, Syx = random_net(WIDTHS[net], seed, white)
    eff, exp = velocities(W, Sigma, Syx, q)
    assert np.linalg.norm(eff - exp) <= ROUTE_RTOL * np.linalg.norm(exp)


@pytest.mark.parametrize("q", [0, 1, Fraction(1, 2)], ids=str)
@pytest.mark.parametrize("net", ["square", "bottleneck", "deep-bottleneck", "one-layer"])
def test_fisher_power_on_arbitrary_vectors(net, q):
    # (F⁺)^q v for v outside range(F) too: the operator is the full Moore–Penrose power.
    W, Sigma, Syx = random_net(WIDTHS[net], 3, white=False)
    geo = MatrixGeometry(W, Moments(Sigma, Syx), NumpyOps(), "explicit")
    F = geo.fisher()
    KF = KroneckerFisher.from_geometry(geo)
    v = np.random.default_rng(4).normal(size=F.shape[0])
    assert np.allclose(KF @ v, F @ v, rtol=1e-12, atol=1e-12 * np.abs(F).max())
    dense = NumpyOps().pinv_pow(F, q) @ v
    assert np.linalg.norm(KF.pinv_pow(q, NumpyOps()) @ v - dense) <= ROUTE_RTOL * np.linalg.norm(dense)


def test_route_choice_and_dense_fallbacks():
    # no bottleneck, q ∈ {0, 1}: Sylvester-preconditioned CG; L <= 2 otherwise: block-diagonal K̃;
    # L >= 3 with a bottleneck or fractional q: eigh of the dense K̃
    W, Sigma, Syx = random_net(WIDTHS["square"], 0, white=False)
    KF = KroneckerFisher.from_geometry(MatrixGeometry(W, Moments(Sigma, Syx)))
    assert KF.pinv_pow(1, NumpyOps()).kind == "sylvester-pcg"
    assert KF.pinv_pow(Fraction(1, 2), NumpyOps()).kind == "eigh"
    v = np.random.default_rng(1).normal(size=KF.shape[0])
    fast = KF.pinv_pow(1, NumpyOps()) @ v
    dense = KF._dense_power(1)                      # the dense Cholesky route, kept as fallback
    assert dense.kind == "cholesky"
    assert np.linalg.norm(dense @ v - fast) <= ROUTE_RTOL * np.linalg.norm(fast)
    for net, kind in [("bottleneck", "two-layer-eigh"), ("two-layer", "two-layer-eigh"), ("deep-bottleneck", "eigh")]:
        W, Sigma, Syx = random_net(WIDTHS[net], 0, white=False)
        KF = KroneckerFisher.from_geometry(MatrixGeometry(W, Moments(Sigma, Syx)))
        assert KF.pinv_pow(1 if "bottleneck" in net else Fraction(1, 4), NumpyOps()).kind == kind


def test_cg_stall_falls_back_to_dense(monkeypatch):
    import lindyn.numeric.fisher as fisher
    W, Sigma, Syx = random_net(WIDTHS["square"], 2, white=False)
    KF = KroneckerFisher.from_geometry(MatrixGeometry(W, Moments(Sigma, Syx)))
    v = np.random.default_rng(2).normal(size=KF.shape[0])
    reference = KF.pinv_pow(1, NumpyOps()) @ v
    monkeypatch.setattr(fisher, "PCG_MAXITER", 0)
    monkeypatch.setattr(fisher, "PCG_RTOL", 1e-300)
    assert np.linalg.norm(KF.pinv_pow(1, NumpyOps()) @ v - reference) <= ROUTE_RTOL * np.linalg.norm(reference)


@pytest.mark.parametrize("white", [True, False], ids=["white", "nonwhite"])
def test_ngd_is_min_norm_solution_of_sylvester_equation_at_depth_two(white):
    # Second derivation of the q = 1 velocity (L = 2, no bottleneck): θ̇ is the minimum-norm
    # solution of Jθ̇ = −vec(W − W*); Σ drops out. Solve W2W2ᵀX + XW1ᵀW1 = W − W* (Sylvester),
    # then θ̇_i = −B_iᵀ X A_iᵀ.
    W, Sigma, Syx = random_net((4, 5, 3), 7, white)
    geo = MatrixGeometry(W, Moments(Sigma, Syx))
    E = geo.W_end - Syx @ np.linalg.inv(Sigma)
    X = sla.solve_sylvester(W[1] @ W[1].T, W[0].T @ W[0], E)
    expected = geo.vec([-(W[1].T @ X), -(X @ W[0].T)])
    got = geo.vec(NGD().velocity(geo.grads, geo, NumpyOps()))
    assert np.linalg.norm(got - expected) <= ROUTE_RTOL * np.linalg.norm(expected)
