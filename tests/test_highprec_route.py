"""The factored high-precision Fisher (`HighPrecision(fisher_route="efficient")`, `MpGram`) against the dense one.

(F⁺)^q = Kᵀ(G⁺)^{q+1}K with G = KKᵀ is exact algebra (SVD of K); at 30 digits the two routes must
agree to ~1e-25 of the weights on: a full-rank G with q = 1 (the certified LU inverse), q = 1/2 (the
eigendecomposition of G), a bottleneck (G singular: the cut-off), a non-white Σ, and m >= P (dense).
"""
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import lindyn as ld

AGREE = mpmath.mpf(10) ** -25


def _moments(widths, seed, white=True):
    rng = np.random.default_rng(seed)
    Syx = rng.normal(size=(widths[-1], widths[0]))
    if white:
        return ld.Task(Syx)
    M = rng.normal(size=(widths[0], widths[0]))
    return ld.Task(Syx, M @ M.T + widths[0] * np.eye(widths[0]))


@pytest.mark.parametrize("widths, rule, white", [
    ((2, 2, 2), ld.NGD(), True),                       # m = 4 < P = 8, G invertible: LU
    ((2, 2, 2), ld.NGD(q=Fraction(1, 2)), False),      # eigsy of G, non-white Σ
    ((3, 2, 3), ld.NGD(), True),                       # bottleneck: G singular (rank 8 of 9): the cut-off
    ((2, 1, 2), ld.NGD(), True),                       # m = 4 = P: dense route
])
def test_factored_and_dense_high_precision_fisher_agree(widths, rule, white):
    problem = ld.Problem(ld.Network(widths), _moments(widths, 1, white), ld.SmallRandom(0.5, seed=2))
    fast = ld.integrate(problem, rule, [0.05], method=ld.HighPrecision(30))
    dense = ld.integrate(problem, rule, [0.05], method=ld.HighPrecision(30, fisher_route="explicit"))
    with mpmath.workdps(30):
        for a, b in zip(fast.W, dense.W):
            scale = max(abs(x) for x in b[-1].ravel())
            assert max(abs(x - y) for x, y in zip(a[-1].ravel(), b[-1].ravel())) <= AGREE * scale


def test_high_precision_route_is_checked():
    with pytest.raises(ld.LindynError, match="fisher_route"):
        ld.HighPrecision(30, fisher_route="fast")
