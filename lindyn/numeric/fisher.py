"""Full-Fisher natural gradient without forming the Fisher (the efficient route).

The Fisher of the Gaussian output model is F = Jᵀ(Σ ⊗ I)J with J = [J_1 … J_L],
J_i = A_iᵀ ⊗ B_i (column-major vec), a P x P matrix, P = Σ_i n_i n_{i-1}. Write
J̃ = (Σ^{1/2} ⊗ I)J, so that F = J̃ᵀJ̃, and let

    K̃ = J̃J̃ᵀ = Σ_i (Σ^{1/2}A_iᵀA_iΣ^{1/2}) ⊗ (B_iB_iᵀ),

an (n_0 n_L) x (n_0 n_L) matrix in output space, a sum of L Kronecker products. With the SVD
J̃ = U S Vᵀ, F = V S² Vᵀ and K̃ = U S² Uᵀ, hence for every vector v and every power q >= 0

    (F⁺)^q v = V S^{−2q} Vᵀ v = J̃ᵀ (K̃⁺)^{q+1} J̃ v.                         (1)

J̃v = vec(Σ_i B_i V_i A_i Σ^{1/2}) and J̃ᵀy = (vec(B_iᵀ Y Σ^{1/2} A_iᵀ))_i cost O(L n³) with
matrix products; the only dense object is K̃, of size n_0 n_L instead of P (L times fewer rows
on a net of equal widths).

Routes, cheapest first (`KroneckerFisher.pinv_pow` picks the first that applies):

1. q ∈ {0, 1} and J surjective (no bottleneck). Then F⁺ = J⁺(Σ⁻¹ ⊗ I)J⁺ᵀ with J⁺ = JᵀK⁻¹ and
   K = JJᵀ = Σ_i (A_iᵀA_i) ⊗ (B_iB_iᵀ), i.e. K(X) = Σ_i B_iB_iᵀ X A_iᵀA_i on n_L x n_0 matrices:

       F⁺ v = Jᵀ K⁻¹ (K⁻¹(Jv) Σ⁻¹),      (F⁺)⁰ v = J⁺J v = Jᵀ K⁻¹(Jv).

   K X = Y is solved by conjugate gradients preconditioned with the Sylvester operator
   M(X) = B_1B_1ᵀ X + X A_LᵀA_L (the first and last terms of K; M⁻¹ is exact in the eigenbases
   of its two factors, O(n³)), with iterative refinement to the backward error of a direct
   solver. At L = 2, K = M: one Sylvester solve, the textbook route (Σ drops out for v = ∇ℓ,
   the minimum-norm solution of Jθ̇ = −vec(W − W*)). Cost O(L n³) per CG iteration. Taken when
   M is positive definite (then so is K ⪰ M, i.e. J is surjective); a bottleneck narrower than
   min(n_0, n_L) makes B_1B_1ᵀ and A_LᵀA_L both singular and sends the call to route 2 or 3.
2. L <= 2, any q (fractional, or a bottleneck): K̃(Y) = B_1B_1ᵀ Y Σ + Y Σ^{1/2}A_2ᵀA_2Σ^{1/2} is block
   diagonal in the eigenbasis of B_1B_1ᵀ (n_L blocks μ_bΣ + Σ^{1/2}A_2ᵀA_2Σ^{1/2} of size n_0),
   so its Moore–Penrose power costs n_L eigendecompositions of size n_0: O(n⁴), exact.
3. Otherwise (L >= 3 with fractional q or a bottleneck, or CG that stalls): the dense K̃
   (n_0 n_L square, never F):
   Cholesky for integer q when LAPACK's condition estimate allows, else eigh with the same
   Moore–Penrose cutoff as the explicit route (`ops.rcond` · λ_max; F and K̃ share their
   non-zero eigenvalues). Cost O(L n⁴) to build, O(n⁶/3) Cholesky or O(9 n⁶) eigh.

The explicit route (`MatrixGeometry(..., fisher_route="explicit")` (`lindyn.numeric.geometry`)) builds J (n_0 n_L x P) and
F (P x P), O(L² n⁶), and takes eigh of F, O(9 L³ n⁶). Measured (bench/bench_ngd.py, L = 3,
width 32, one BLAS thread): route 1 is ~1700x faster than explicit (1700-3400x over runs),
route 3 (q = 1/2) ~50x; at L = 2, route 2 (q = 1/2) ~270x. Routes agree to ~1e-14 relative on
well-conditioned nets. Accuracy of every route degrades like ε·κ(K) when K
is ill conditioned; the K̃-based formula (1) loses up to ~100x more than the explicit route
there (measured 5e-5 vs 8e-7 against an SVD of J̃ at κ(K) ≈ 2e9, L = 8).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.linalg as sla

from .._chain import end_to_end_velocity
from ._ops import unvec_layers, vec_layers

__all__ = ["KroneckerFisher", "FisherPower"]

#: Cholesky is used only when LAPACK's reciprocal condition estimate of K̃ exceeds this;
#: below it the eigendecomposition with the Moore–Penrose cutoff decides the rank.
CHOLESKY_MIN_RCOND = 1e-9


def _sym_sqrt(S: np.ndarray) -> np.ndarray:
    """Symmetric square root of an SPD matrix (exact identity for Σ = I)."""
    if np.array_equal(S, np.eye(S.shape[0])):
        return S.copy()
    lam, Q = np.linalg.eigh(0.5 * (S + S.T))
    return (Q * np.sqrt(np.clip(lam, 0.0, None))) @ Q.T


@dataclass(frozen=True)
class FisherPower:
    """The operator (F⁺)^q = J̃ᵀ (K̃⁺)^{q+1} J̃, applied with `@` to a parameter vector θ.

    Built by `KroneckerFisher.pinv_pow`; `op @ v` costs O(L n³) plus the K̃ solves.
    """

    fisher: "KroneckerFisher"
    q: Any
    kind: str            # 'cholesky' or 'eigh'
    factor: Any          # cho_factor output, or (eigenvalues ** -(q+1), eigenvectors)

    def _apply_k_power(self, y: np.ndarray) -> np.ndarray:
        if self.kind == "cholesky":
            for _ in range(int(self.q) + 1):
                y = sla.cho_solve(self.factor, y, check_finite=False)
            return y
        powered, Q = self.factor
        return Q @ (powered * (Q.T @ y))

    def __matmul__(self, v: Any) -> np.ndarray:
        """(F⁺)^q v for a parameter vector v = (vec V_1, …, vec V_L)."""
        v = np.asarray(v, dtype=float)
        y = self.fisher.jt_apply(v)
        return self.fisher.jt_transpose_apply(self._apply_k_power(y))


@dataclass(frozen=True)
class SylvesterFisherPower:
    """(F⁺)^q for q ∈ {0, 1} when J is surjective: F⁺ = Jᵀ K⁻¹ (Σ⁻¹ ⊗ I) K⁻¹ J, J⁺J = Jᵀ K⁻¹ J.

    K = JJᵀ acts on n_L x n_0 matrices as K(X) = Σ_i (B_iB_iᵀ) X (A_iᵀA_i). Its first and last
    terms form the Sylvester operator M(X) = B_1B_1ᵀ X + X A_LᵀA_L, inverted exactly in O(n³) in
    the eigenbases of its two factors; K X = Y is solved by conjugate gradients preconditioned
    with M (exact in one step at L = 2, where K = M: the Sylvester equation of the q = 1 route).
    """

    fisher: "KroneckerFisher"
    q: int
    Y: np.ndarray            # eigenvectors of B_1B_1ᵀ
    Z: np.ndarray            # eigenvectors of A_LᵀA_L
    denom: np.ndarray        # μ_b + ν_a, the eigenvalues of M
    Sigma_inv: np.ndarray
    kind: str = "sylvester-pcg"

    def _precondition(self, R: np.ndarray) -> np.ndarray:
        return self.Y @ ((self.Y.T @ R @ self.Z) / self.denom) @ self.Z.T

    def solve(self, Yrhs: np.ndarray) -> np.ndarray:
        """X with K(X) = Yrhs to normwise backward error PCG_BACKWARD_TOL.

        Preconditioned CG with iterative refinement: each round solves K D = Y − K(X) by PCG on
        the recursive residual, then checks the true residual ‖Y − K(X)‖ <= tol·(‖K‖‖X‖ + ‖Y‖),
        the accuracy of a backward-stable direct solver (the recursive residual of CG can drift
        far below the true one when K is ill conditioned).
        """
        K = self.fisher.gram_apply
        bound = self.fisher.gram_norm_bound()
        X = self._precondition(Yrhs)
        for _ in range(PCG_REFINEMENTS):
            R = Yrhs - K(X)
            if np.linalg.norm(R) <= PCG_BACKWARD_TOL * (bound * np.linalg.norm(X) + np.linalg.norm(Yrhs)):
                return X
            X = X + self._pcg(R)
        raise _NotConverged

    def _pcg(self, B: np.ndarray) -> np.ndarray:
        """Approximate K⁻¹B by preconditioned CG, stopped at recursive relative residual PCG_RTOL."""
        K = self.fisher.gram_apply
        X = np.zeros_like(B)
        R = B.copy()
        b = np.linalg.norm(B)
        Zr = self._precondition(R)
        P = Zr.copy()
        rz = float(np.sum(R * Zr))
        for _ in range(PCG_MAXITER):
            if np.linalg.norm(R) <= PCG_RTOL * b or rz <= 0.0:
                break
            KP = K(P)
            pKp = float(np.sum(P * KP))
            if pKp <= 0.0:
                break
            alpha = rz / pKp
            X = X + alpha * P
            R = R - alpha * KP
            Zr = self._precondition(R)
            rz_new = float(np.sum(R * Zr))
            P = Zr + (rz_new / rz) * P
            rz = rz_new
        return X

    def __matmul__(self, v: Any) -> np.ndarray:
        """(F⁺)^q v."""
        F = self.fisher
        Yv = F.j_apply(np.asarray(v, dtype=float))
        X = self.solve(Yv)
        if self.q == 1:
            X = self.solve(X @ self.Sigma_inv)
        return F.j_transpose_apply(X)


class _NotConverged(Exception):
    pass


#: Conjugate-gradient settings of the Sylvester-preconditioned route: recursive relative residual
#: and iterations of one PCG run, number of refinement rounds, and the normwise backward error
#: ‖Y − K(X)‖ / (‖K‖‖X‖ + ‖Y‖) required at the end (~5 ε with the Frobenius bound of ‖K‖, what Cholesky achieves); a solve that
#: does not reach it falls back to the dense route.
PCG_RTOL = 1e-12
PCG_MAXITER = 300
PCG_REFINEMENTS = 4
PCG_BACKWARD_TOL = 1e-15
#: The Sylvester preconditioner M is used only if λ_min(M) > SYLVESTER_MIN_RCOND · λ_max(M).
SYLVESTER_MIN_RCOND = 1e-10


@dataclass(frozen=True)
class _CheckedSylvester:
    """Runs the Sylvester-preconditioned route and falls back to the dense route if CG stalls."""

    op: SylvesterFisherPower
    fisher: "KroneckerFisher"

    @property
    def kind(self) -> str:
        """'sylvester-pcg'."""
        return self.op.kind

    def __matmul__(self, v: Any) -> np.ndarray:
        """(F⁺)^q v."""
        try:
            return self.op @ v
        except _NotConverged:
            return self.fisher._dense_power(self.op.q) @ v


@dataclass(frozen=True)
class TwoLayerFisherPower:
    """(F⁺)^q = J̃ᵀ(K̃⁺)^{q+1}J̃ at depth L <= 2, any q, exact in O(n⁴).

    K̃(Y) = B_1B_1ᵀ Y Σ + Y Σ^{1/2}A_2ᵀA_2Σ^{1/2} (L = 2; at L = 1, K̃(Y) = YΣ). In the eigenbasis
    B_1B_1ᵀ = Y diag(μ) Yᵀ, row b of Ŷ = YᵀY is multiplied by G_b = μ_bΣ + Σ^{1/2}A_2ᵀA_2Σ^{1/2}:
    K̃ is block diagonal with n_L blocks of size n_0, each raised to −(q + 1) by eigh.
    """

    fisher: "KroneckerFisher"
    q: Any
    Y: np.ndarray
    blocks: tuple[np.ndarray, ...]      # G_b^{+(q+1)}, one n_0 x n_0 matrix per output direction b
    kind: str = "two-layer-eigh"

    def __matmul__(self, v: Any) -> np.ndarray:
        """(F⁺)^q v."""
        F = self.fisher
        Yv = F.jt_apply(np.asarray(v, dtype=float)).reshape((F.n_out, F.n_in), order="F")
        hat = self.Y.T @ Yv
        hat = np.stack([hat[b] @ self.blocks[b] for b in range(hat.shape[0])])
        return F.jt_transpose_apply((self.Y @ hat).reshape(-1, order="F"))


class KroneckerFisher:
    """F = Jᵀ(Σ ⊗ I)J kept as its factors A_i, B_i, Σ^{1/2}: never formed (see module docstring).

    Args:
        A: A_i = W_{i-1}⋯W_1 for each layer (0-based tuple).
        B: B_i = W_L⋯W_{i+1} for each layer.
        Sigma: input covariance Σ (SPD, n_0 x n_0).
        shapes: shape (n_i, n_{i-1}) of each W_i.

    >>> import numpy as np
    >>> from lindyn.numeric.geometry import MatrixGeometry, Moments
    >>> rng = np.random.default_rng(0)
    >>> W = [np.eye(3) + 0.3 * rng.normal(size=(3, 3)) for _ in range(3)]
    >>> geo = MatrixGeometry(W, Moments(np.eye(3), np.eye(3)))
    >>> F = KroneckerFisher.from_geometry(geo)
    >>> from lindyn.numeric._ops import NumpyOps
    >>> v = rng.normal(size=27)
    >>> bool(np.allclose(F.pinv_pow(1, NumpyOps()) @ v, np.linalg.pinv(F.dense()) @ v))
    True
    """

    def __init__(self, A: Any, B: Any, Sigma: np.ndarray, shapes: Any) -> None:
        self.A = tuple(np.asarray(a, dtype=float) for a in A)
        self.B = tuple(np.asarray(b, dtype=float) for b in B)
        self.Sigma = np.asarray(Sigma, dtype=float)
        self.shapes = tuple(shapes)
        self.S_half = _sym_sqrt(self.Sigma)
        self.n_out = self.B[0].shape[0]
        self.n_in = self.A[0].shape[1]
        self._K: np.ndarray | None = None
        self._factors: list[tuple[np.ndarray, np.ndarray]] | None = None

    @classmethod
    def from_geometry(cls, geo: Any) -> "KroneckerFisher":
        """The structured Fisher of a `MatrixGeometry` (numpy backend)."""
        return cls(geo.A, geo.B, geo.Sigma, geo.shapes)

    @property
    def shape(self) -> tuple[int, int]:
        """(P, P), P = number of parameters."""
        P = sum(m * n for m, n in self.shapes)
        return (P, P)

    def j_apply(self, v: np.ndarray) -> np.ndarray:
        """Jv as the n_L x n_0 matrix Σ_i B_i V_i A_i, O(L n³)."""
        return end_to_end_velocity(self.A, self.B, unvec_layers(v, self.shapes))

    def j_transpose_apply(self, Y: np.ndarray) -> np.ndarray:
        """Jᵀ vec(Y) = (vec(B_iᵀ Y A_iᵀ))_i, O(L n³)."""
        return vec_layers([self.B[i].T @ Y @ self.A[i].T for i in range(len(self.A))])

    def gram_apply(self, X: np.ndarray) -> np.ndarray:
        """K(X) = JJᵀ vec(X) = Σ_i (B_iB_iᵀ) X (A_iᵀA_i), O(L n³) with the cached factors."""
        return sum(Q @ X @ P for Q, P in self._gram_factors())

    def gram_norm_bound(self) -> float:
        """Σ_i ‖B_iB_iᵀ‖_F ‖A_iᵀA_i‖_F >= ‖K‖₂."""
        return float(sum(np.linalg.norm(Q) * np.linalg.norm(P) for Q, P in self._gram_factors()))

    def _gram_factors(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self._factors is None:
            self._factors = [(B @ B.T, A.T @ A) for A, B in zip(self.A, self.B)]
        return self._factors

    def jt_apply(self, v: np.ndarray) -> np.ndarray:
        """J̃v = vec(Σ_i B_i V_i A_i Σ^{1/2}), O(L n³)."""
        return (self.j_apply(v) @ self.S_half).reshape(-1, order="F")

    def jt_transpose_apply(self, y: np.ndarray) -> np.ndarray:
        """J̃ᵀy = (vec(B_iᵀ Y Σ^{1/2} A_iᵀ))_i, O(L n³)."""
        return self.j_transpose_apply(y.reshape((self.n_out, self.n_in), order="F") @ self.S_half)

    def output_gram(self) -> np.ndarray:
        """K̃ = Σ_i (Σ^{1/2}A_iᵀA_iΣ^{1/2}) ⊗ (B_iB_iᵀ), (n_0 n_L) x (n_0 n_L), O(L n⁴)."""
        if self._K is None:
            K = np.zeros((self.n_in * self.n_out,) * 2)
            for A, B in zip(self.A, self.B):
                SA = A @ self.S_half
                K += np.kron(SA.T @ SA, B @ B.T)
            self._K = 0.5 * (K + K.T)
        return self._K

    def __matmul__(self, v: Any) -> np.ndarray:
        """F v = J̃ᵀ J̃ v without forming F."""
        return self.jt_transpose_apply(self.jt_apply(np.asarray(v, dtype=float)))

    def dense(self) -> np.ndarray:
        """F as a dense P x P matrix (for tests on small nets only)."""
        P = self.shape[0]
        return np.column_stack([self @ e for e in np.eye(P)])

    def _two_layer_power(self, q: Fraction, rcond: float) -> TwoLayerFisherPower:
        """Exact block-diagonal route at L <= 2 (see `TwoLayerFisherPower`), O(n_L n_0³)."""
        Q1 = self.B[0] @ self.B[0].T
        if len(self.A) == 2:
            SA = self.A[1] @ self.S_half
            P2 = SA.T @ SA
        else:
            P2 = np.zeros_like(self.Sigma)
        mu, Y = sla.eigh(Q1, check_finite=False)
        decomps = [sla.eigh(m * self.Sigma + P2, check_finite=False) for m in mu]
        lam_max = max(float(np.max(np.abs(lam))) for lam, _ in decomps)
        cutoff = rcond * max(lam_max, np.finfo(float).tiny)
        blocks = []
        for lam, V in decomps:
            powered = np.zeros_like(lam)
            keep = lam > cutoff
            powered[keep] = lam[keep] ** (-(float(q) + 1.0))
            blocks.append((V * powered) @ V.T)
        return TwoLayerFisherPower(self, q, Y, tuple(blocks))

    def _sylvester_power(self, q: int) -> Any:
        """The Sylvester-preconditioned operator if J is surjective (M positive definite), else None."""
        if q not in (0, 1):
            return None
        Q1, PL = self._gram_factors()[0][0], self._gram_factors()[-1][1]
        if len(self.A) == 1:
            PL = np.zeros_like(PL)          # L = 1: K = I ⊗ I, a single term
        mu, Y = sla.eigh(Q1, check_finite=False)
        nu, Z = sla.eigh(PL, check_finite=False)
        denom = mu[:, None] + nu[None, :]
        if denom.min() <= SYLVESTER_MIN_RCOND * max(denom.max(), np.finfo(float).tiny):
            return None
        op = SylvesterFisherPower(self, q, Y, Z, denom, np.linalg.inv(self.Sigma))
        return _CheckedSylvester(op, self)

    def pinv_pow(self, q: Any, ops: Any) -> Any:
        """The operator (F⁺)^q = J̃ᵀ(K̃⁺)^{q+1}J̃ (Moore–Penrose power, cutoff `ops.rcond`).

        Args:
            q: exact power >= 0 (int or Fraction).
            ops: the numpy backend (its `rcond` sets the Moore–Penrose cutoff).

        Returns:
            An operator `op` with `op @ v` = (F⁺)^q v.
        """
        qf = Fraction(q)
        if qf.denominator == 1:
            fast = self._sylvester_power(int(qf))
            if fast is not None:
                return fast
        if len(self.A) <= 2:
            return self._two_layer_power(qf, getattr(ops, "rcond", 1e-12))
        return self._dense_power(qf, getattr(ops, "rcond", 1e-12))

    def _dense_power(self, q: Any, rcond: float = 1e-12) -> FisherPower:
        """(F⁺)^q from the dense K̃: Cholesky for integer q if well conditioned, else eigh."""
        qf = Fraction(q)
        K = self.output_gram()
        if qf.denominator == 1:
            try:
                c = sla.cho_factor(K, check_finite=False)
                rc = sla.lapack.dpocon(c[0], np.linalg.norm(K, 1))[0]
                if rc > CHOLESKY_MIN_RCOND:
                    return FisherPower(self, int(qf), "cholesky", c)
            except np.linalg.LinAlgError:
                pass
        lam, Q = sla.eigh(K, check_finite=False)
        cutoff = rcond * max(float(np.max(np.abs(lam))), np.finfo(float).tiny)
        keep = lam > cutoff
        powered = np.zeros_like(lam)
        powered[keep] = lam[keep] ** (-(float(qf) + 1.0))
        return FisherPower(self, qf, "eigh", (powered, Q))
