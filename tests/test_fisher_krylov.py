"""The Krylov route of the full-Fisher power (issue 15 item 1) against the dense K̃ route and a 30-digit oracle.

(F⁺)^q v = J̃ᵀ(K̃⁺)^{q+1}J̃v (SVD of J̃ = (Σ^{1/2}⊗I)J). The dense reference builds K̃ with the
public `KroneckerFisher.output_gram()` and takes its Moore–Penrose power by eigh with the cutoff
rcond·λ_max (written out here, independently of `lindyn.numeric.fisher`). The oracle evaluates the
same formula in mpmath at 30 digits from the same double-precision factors. The Krylov route
(`KroneckerFisher.krylov_power`) never forms K̃: shifted conjugate gradients on the Kronecker sum
and a rational rule for x^{−f}; it reports an a-posteriori estimate (`info["estimate"]`, checked
against the stated tolerance) and a bound on the rounding of the factors (`info["floor"]`).
"""
import warnings
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import scipy.linalg as sla

from lindyn import NGD
from lindyn.numeric._ops import NumpyOps
from lindyn.numeric.fisher import KRYLOV_RTOL, FisherFallbackWarning, KroneckerFisher, stieltjes_rule
from lindyn.numeric.geometry import MatrixGeometry, Moments

#: The stated tolerance of the route (relative, on (F⁺)^q v): the Krylov result must agree with the
#: dense K̃ route to this on nets where both are accurate to ~1e-12 (κ(K̃) <= 1e6; measured 1e-12..2e-11).
ROUTE_TOL = KRYLOV_RTOL
#: κ(K̃) ~ 1e9: every double-precision route is off by ~ε·κ (measured vs the oracle: dense 5e-9..3e-7);
#: the Krylov route must be at least as accurate as the dense one, within this factor.
AS_ACCURATE_FACTOR = 3.0
#: Loose tolerance of the upper-bound check: the route stops early, so its own (algorithmic) error
#: dominates rounding and the estimate must bound it.
LOOSE_TOL = 1e-5
QS = [Fraction(1, 2), Fraction(1, 3), Fraction(3, 4)]


def random_net(widths, seed, init="near", white=False, decades=None):
    """Layers of shape (n_i, n_{i-1}): near-identity I + 0.5G/√n, Gaussian G/√n, or U diag(s) Vᵀ with
    s log-spaced over `decades` (ill-conditioned); Σ = I or GGᵀ/n + ½I."""
    rng = np.random.default_rng(seed)
    W = []
    for n, m in zip(widths[:-1], widths[1:]):
        if decades is not None:
            U, _ = np.linalg.qr(rng.normal(size=(m, m)))
            V, _ = np.linalg.qr(rng.normal(size=(n, n)))
            r = min(m, n)
            W.append(U[:, :r] @ np.diag(np.logspace(0, -decades, r)) @ V[:, :r].T)
        elif init == "near":
            W.append(np.eye(m, n) + 0.5 * rng.normal(size=(m, n)) / np.sqrt(n))
        else:
            W.append(rng.normal(size=(m, n)) / np.sqrt(n))
    n0 = widths[0]
    G = rng.normal(size=(n0, n0))
    Sigma = np.eye(n0) if white else G @ G.T / n0 + 0.5 * np.eye(n0)
    return W, Sigma, rng.normal(size=(widths[-1], n0))


def fisher(W, Sigma, Syx):
    geo = MatrixGeometry(W, Moments(Sigma, Syx))
    return geo, KroneckerFisher.from_geometry(geo)


def dense_power(KF, q, v, rcond=1e-12):
    """Reference: J̃ᵀ (K̃⁺)^{q+1} J̃ v with K̃ dense, eigh, eigenvalues below rcond·λ_max dropped."""
    lam, Q = sla.eigh(KF.output_gram())
    keep = lam > rcond * lam.max()
    powered = np.zeros_like(lam)
    powered[keep] = lam[keep] ** (-(float(q) + 1.0))
    return KF.jt_transpose_apply(Q @ (powered * (Q.T @ KF.jt_apply(v))))


def oracle_power(KF, q, v, dps=30):
    """The same formula in mpmath at `dps` digits from the same double factors (test-only oracle)."""
    with mpmath.workdps(dps):
        S = mpmath.matrix(KF.S_half.tolist())
        n0, nL = KF.n_in, KF.n_out
        K = mpmath.zeros(n0 * nL, n0 * nL)
        for A, B in zip(KF.A, KF.B):
            SA = mpmath.matrix(A.tolist()) * S
            P, Qm = SA.T * SA, mpmath.matrix(B.tolist()) * mpmath.matrix(B.tolist()).T
            for a in range(n0):
                for a2 in range(n0):
                    for b in range(nL):
                        for b2 in range(nL):
                            K[a * nL + b, a2 * nL + b2] += P[a, a2] * Qm[b, b2]
        E, V = mpmath.eigsy(K)
        y = V.T * mpmath.matrix(KF.jt_apply(v).tolist())
        lam_max = max(E[i] for i in range(E.rows))
        for i in range(E.rows):
            y[i] = y[i] * E[i] ** (-(mpmath.mpf(q.numerator) / q.denominator + 1)) if E[i] > 1e-12 * lam_max else 0
        w = V * y
        Ym = mpmath.matrix([[w[a * nL + b] for a in range(n0)] for b in range(nL)]) * S
        out = []
        for A, B in zip(KF.A, KF.B):
            M = mpmath.matrix(B.tolist()).T * Ym * mpmath.matrix(A.tolist()).T
            out += [float(M[i, j]) for j in range(M.cols) for i in range(M.rows)]
    return np.array(out)


def rel(x, ref):
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def krylov(KF, q, v, **kw):
    op = KF.krylov_power(q, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FisherFallbackWarning)     # a certified result, no fallback
        out = op @ v
    return out, op.info


NETS = {"L2": (5, 6, 4), "L3": (6, 5, 7, 6), "L4": (4, 5, 5, 5, 4)}


@pytest.mark.parametrize("q", QS, ids=str)
@pytest.mark.parametrize("init", ["near", "gauss"])
@pytest.mark.parametrize("net", sorted(NETS))
def test_krylov_matches_dense_route(net, init, q):
    W, Sigma, Syx = random_net(NETS[net], 0, init, white=(net == "L3"))
    geo, KF = fisher(W, Sigma, Syx)
    v = geo.vec(geo.grads)
    got, info = krylov(KF, q, v)
    ref = dense_power(KF, q, v)
    err = rel(got, ref)
    assert info["estimate"] <= ROUTE_TOL
    assert err <= ROUTE_TOL
    assert err <= info["estimate"] + info["floor"]              # the estimate bounds the difference


@pytest.mark.parametrize("q", [0, Fraction(1, 2), Fraction(3, 4), 1], ids=str)
@pytest.mark.parametrize("widths", [(4, 2, 4), (4, 2, 4, 4), (6, 3, 3, 6), (5, 2, 5, 5, 5)], ids=str)
def test_bottleneck_projects_out_the_null_space_as_the_cutoff_does(widths, q):
    # K̃ is singular (rank r(n_0 + n_L − r) < n_0 n_L); the dense route drops its zero eigenvalues by
    # the cutoff; the Krylov route must drop the same subspace (arbitrary v: null components too)
    W, Sigma, Syx = random_net(widths, 1, "near")
    geo, KF = fisher(W, Sigma, Syx)
    assert KF.output_hat_gram().has_null
    v = np.random.default_rng(2).normal(size=KF.shape[0])
    got, info = krylov(KF, q, v)
    ref = dense_power(KF, q, v)
    assert rel(got, ref) <= ROUTE_TOL
    assert rel(got, ref) <= info["estimate"] + info["floor"] + 1e-13


@pytest.mark.parametrize("q", QS, ids=str)
@pytest.mark.parametrize("widths", [(3, 3, 3, 3), (4, 3, 4, 4)], ids=str)
def test_estimate_bounds_the_true_error_against_a_30_digit_oracle(widths, q):
    W, Sigma, Syx = random_net(widths, 3, "gauss")
    geo, KF = fisher(W, Sigma, Syx)
    v = geo.vec(geo.grads)
    got, info = krylov(KF, q, v)
    ref = oracle_power(KF, q, v)
    assert rel(got, ref) <= info["estimate"] + info["floor"]
    assert rel(got, ref) <= ROUTE_TOL


@pytest.mark.parametrize("q", [Fraction(1, 2), Fraction(3, 4)], ids=str)
@pytest.mark.parametrize("widths,decades", [((4, 4, 4, 4), 2.5), ((4, 4, 4, 4, 4), 2.0)], ids=["L3", "L4"])
def test_ill_conditioned_kappa_1e9(widths, decades, q):
    # κ(K̃) ~ 1e8-1e9: no double-precision route agrees with the exact power to 1e-10; the Krylov
    # result must be at least as accurate as the dense one and within its estimate + floor
    W, Sigma, Syx = random_net(widths, 0, decades=decades)
    geo, KF = fisher(W, Sigma, Syx)
    lam = np.linalg.eigvalsh(KF.output_gram())
    assert lam[-1] / lam[0] > 1e8
    v = geo.vec(geo.grads)
    got, info = krylov(KF, q, v)
    ref = oracle_power(KF, q, v)
    err_dense = rel(dense_power(KF, q, v), ref)
    assert rel(got, ref) <= info["estimate"] + info["floor"]
    assert rel(got, ref) <= AS_ACCURATE_FACTOR * max(err_dense, ROUTE_TOL)


@pytest.mark.parametrize("q", QS, ids=str)
@pytest.mark.parametrize("init", ["near", "gauss"])
def test_estimate_bounds_the_error_at_a_loose_tolerance(init, q):
    # stopped early (tol 1e-5), the route's own error dominates rounding: the estimate must bound it
    W, Sigma, Syx = random_net((6, 6, 6, 6, 6), 5, init)
    geo, KF = fisher(W, Sigma, Syx)
    v = geo.vec(geo.grads)
    got, info = krylov(KF, q, v, tol=LOOSE_TOL)
    err = rel(got, dense_power(KF, q, v))
    assert info["estimate"] <= LOOSE_TOL
    assert err <= info["estimate"]
    assert err > 1e-12                 # the check is not vacuous: the loose run did leave an error


@pytest.mark.parametrize("q,reason", [(1, "estimate"), (Fraction(1, 2), "rational rule")], ids=["q=1", "q=1/2"])
def test_uncertified_result_falls_back_to_dense_and_says_so(q, reason):
    # a tolerance below what double precision can certify (1e-16): the dense route is used, with a warning
    W, Sigma, Syx = random_net((4, 4, 4, 4), 0, decades=1.0)
    geo, KF = fisher(W, Sigma, Syx)
    v = geo.vec(geo.grads)
    op = KF.krylov_power(q, tol=1e-16)
    with pytest.warns(FisherFallbackWarning, match=reason):
        got = op @ v
    assert op.info["fallback"] is not None
    assert rel(got, dense_power(KF, q, v)) <= 1e-12


def test_spectrum_at_the_cutoff_falls_back_to_dense():
    # with rcond = 1e-3 the cutoff cuts through the spectrum of K̃ (κ ~ 1e5): the rank decision is
    # left to the dense route, which the result must then equal with the same cutoff
    W, Sigma, Syx = random_net((4, 4, 4, 4), 0, decades=1.5)
    geo, KF = fisher(W, Sigma, Syx)
    v = geo.vec(geo.grads)
    op = KF.krylov_power(Fraction(1, 2), rcond=1e-3)
    with pytest.warns(FisherFallbackWarning, match="cutoff"):
        got = op @ v
    ref = dense_power(KF, Fraction(1, 2), v, rcond=1e-3)
    assert rel(got, ref) <= 1e-12
    assert rel(got, dense_power(KF, Fraction(1, 2), v)) > 1e-3      # the cutoff did change the result


@pytest.mark.parametrize("f", [Fraction(1, 2), Fraction(1, 3), Fraction(3, 4), Fraction(1, 10)], ids=str)
@pytest.mark.parametrize("k", [3, 12, 30])
def test_rational_rule_for_the_fractional_power(f, k):
    t, w, err = stieltjes_rule(f, k, 1e-11)
    x = np.exp(np.random.default_rng(k).uniform(0.0, k * np.log(2.0), 500))
    approx = (w[None, :] / (x[:, None] + t[None, :])).sum(1)
    assert np.all(w > 0) and np.all(t > 0)
    assert np.max(np.abs(approx * x ** float(f) - 1.0)) <= err <= 1e-11


def test_route_choice_by_size():
    # L >= 3, fractional q: K̃ of size n_0 n_L >= 256 goes to the Krylov route, smaller to dense eigh
    W, Sigma, Syx = random_net((16, 16, 16, 16), 0, "near")
    geo, KF = fisher(W, Sigma, Syx)
    op = KF.pinv_pow(Fraction(1, 2), NumpyOps())
    assert op.kind == "krylov"
    v = geo.vec(geo.grads)
    assert rel(op @ v, dense_power(KF, Fraction(1, 2), v)) <= ROUTE_TOL
    W, Sigma, Syx = random_net((8, 8, 8, 8), 0, "near")
    assert fisher(W, Sigma, Syx)[1].pinv_pow(Fraction(1, 2), NumpyOps()).kind == "eigh"


@pytest.mark.parametrize("q", [1, Fraction(1, 2)], ids=str)
def test_ngd_velocity_efficient_equals_explicit_at_width_16_gaussian(q):
    # the rule body, both Fisher routes: q = 1 takes the Sylvester-basis CG, q = 1/2 the Krylov route
    W, Sigma, Syx = random_net((16, 16, 16, 16), 4, "gauss")
    out = []
    for route in ("efficient", "explicit"):
        geo = MatrixGeometry(W, Moments(Sigma, Syx), NumpyOps(), route)
        out.append(geo.vec(NGD(q=q).velocity(geo.grads, geo, NumpyOps())))
    assert rel(out[0], out[1]) <= ROUTE_TOL
