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

   K X = Y is solved in the eigenbases U of B_1B_1ᵀ and V of A_LᵀA_L, where the Sylvester
   operator M(X) = B_1B_1ᵀ X + X A_LᵀA_L (the first and last terms of K) is diagonal (`HatGram`),
   by conjugate gradients preconditioned with the diagonal of K there (M's eigenvalues μ_b + ν_a
   plus the diagonals of the middle terms), with iterative refinement to the backward error of a
   direct solver. At L = 2, K = M: exact in one step, the textbook Sylvester route (Σ drops out
   for v = ∇ℓ, the minimum-norm solution of Jθ̇ = −vec(W − W*)). Cost O(n³) set-up, then
   2(L − 2) products of n x n matrices per CG iteration. Taken when M is positive definite (then
   so is K ⪰ M, i.e. J is surjective); a bottleneck narrower than min(n_0, n_L) makes B_1B_1ᵀ and
   A_LᵀA_L both singular and sends the call on. A CG stall falls back to route 3 (or 4 if small).
2. L <= 2, any q (fractional, or a bottleneck): K̃(Y) = B_1B_1ᵀ Y Σ + Y Σ^{1/2}A_2ᵀA_2Σ^{1/2} is block
   diagonal in the eigenbasis of B_1B_1ᵀ (n_L blocks μ_bΣ + Σ^{1/2}A_2ᵀA_2Σ^{1/2} of size n_0),
   so its Moore–Penrose power costs n_L eigendecompositions of size n_0: O(n⁴), exact.
3. L >= 3 with fractional q or a bottleneck, n_0 n_L >= KRYLOV_MIN_DIM (= 256, where the dense
   eigendecomposition starts to cost more): the Krylov route (`KrylovFisherPower`). In the rotated
   coordinates of route 1, (K̃⁺)^{m+1} by m + 1 preconditioned CG solves (refined with residuals in
   extended precision), then K̃^{−f} (q = m + f, 0 < f < 1) by a rational approximation
   Σ_j w_j (K̃ + t_j)⁻¹ of x^{−f} on the spectral interval (`stieltjes_rule`: positive weights,
   ~20 poles at κ = 1e3, ~33 at 1e6 for 1e-11), whose shifted systems run side by side through
   one CG loop preconditioned with diag + t_j. The null block of a bottleneck (zero rows of both
   B_1B_1ᵀ and A_LᵀA_L) is projected out, as the cutoff of route 4 drops it. An a-posteriori
   estimate is checked against the stated tolerance KRYLOV_RTOL = 1e-10 (relative); if it is not
   met, if the kept spectrum reaches within ~2x of the cutoff rcond·λ_max, or if the null block is
   not that of K̃, the call falls back to route 4 with a `FisherFallbackWarning`. Never forms K̃.
4. Otherwise (small K̃, or a fallback): the dense K̃ (n_0 n_L square, never F): Cholesky for
   integer q when LAPACK's condition estimate allows, else eigh with the same Moore–Penrose cutoff
   as the explicit route (`ops.rcond` · λ_max; F and K̃ share their non-zero eigenvalues). Cost
   O(L n⁴) to build, O(n⁶/3) Cholesky or O(9 n⁶) eigh.

The explicit route (`MatrixGeometry(..., fisher_route="explicit")` (`lindyn.numeric.geometry`)) builds
J (n_0 n_L x P) and F (P x P), O(L² n⁶), and takes eigh of F, O(9 L³ n⁶). Measured
(bench/bench_ngd.py --rows, L = 3, one BLAS thread, 2-core machine shared with other work, medians):
width 32, q = 1: route 1 2.1 ms (near-identity init) / 3.1 ms (Gaussian) vs explicit 5.5-5.7 s
(2700x / 1800x); q = 1/2: route 3 10 / 22 ms vs 0.22-0.23 s for route 4 and 1.4 s for an SVD of
J̃; width 64, q = 1/2: route 3 39 / 164 ms vs 11-12 s for route 4 (310x / 66x); a whole NGD^{1/2}
flow (T = 20, DOP853 rtol 1e-10) at width 32: 1.2-2.6 s vs 123-244 s, width 128: 46 s. Routes agree
to ~1e-11 relative on well-conditioned nets. Every double-precision route loses accuracy like ε·κ(K̃) when
K̃ is ill conditioned (the rounding of its factors); against a 40-digit evaluation of the same
factors at κ(K̃) ≈ 1e9, route 3 erred 4e-9..2e-8, route 4 5e-9..3e-7, the explicit route more
(1e-8 already at κ ≈ 1e7); the K̃-based formula (1) through route 4 loses up to ~100x more than
the explicit route at κ(K) ≈ 2e9, L = 8 (5e-5 vs 8e-7 against an SVD of J̃).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.linalg as sla

from .._chain import end_to_end_velocity
from ._ops import unvec_layers, vec_layers

__all__ = ["KroneckerFisher", "FisherPower", "KrylovFisherPower", "HatGram", "FisherFallbackWarning",
           "stieltjes_rule"]

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
    terms form the Sylvester operator M(X) = B_1B_1ᵀ X + X A_LᵀA_L, diagonal (μ_b + ν_a) in the
    eigenbases U of B_1B_1ᵀ and V of A_LᵀA_L. K X = Y is solved in those coordinates (`HatGram`:
    X̂ = UᵀXV, where M is diagonal and each CG iteration costs 2(L − 2) products of n x n
    matrices) by conjugate gradients preconditioned with the diagonal of K̂ (μ_b + ν_a plus the
    diagonals of the middle terms; exact in one step at L = 2, where K = M: the Sylvester equation
    of the q = 1 route).
    """

    fisher: "KroneckerFisher"
    q: int
    gram: "HatGram"              # K in the eigenbases of B_1B_1ᵀ and A_LᵀA_L
    Sigma_inv_hat: np.ndarray    # VᵀΣ⁻¹V
    kind: str = "sylvester-pcg"

    def solve(self, Yrhs: np.ndarray) -> np.ndarray:
        """X̂ with K̂(X̂) = Ŷ (rotated coordinates) to normwise backward error PCG_BACKWARD_TOL.

        Preconditioned CG with iterative refinement: each round solves K D = Y − K(X) by PCG on
        the recursive residual, then checks the true residual ‖Y − K(X)‖ <= tol·(‖K‖‖X‖ + ‖Y‖),
        the accuracy of a backward-stable direct solver (the recursive residual of CG can drift
        far below the true one when K is ill conditioned).
        """
        G = self.gram
        bound = self.fisher.gram_norm_bound()
        X = Yrhs * G.Dinv
        ynorm = np.linalg.norm(Yrhs)
        for _ in range(PCG_REFINEMENTS):
            R = Yrhs - G.apply(X)
            rnorm = np.linalg.norm(R)
            if rnorm <= PCG_BACKWARD_TOL * (bound * np.linalg.norm(X) + ynorm):
                return X
            dX, _, _ = _pcg(G, R[None], np.zeros(1), np.array([PCG_RTOL * rnorm]), maxiter=PCG_MAXITER)
            X = X + dX[0]
        raise _NotConverged

    def __matmul__(self, v: Any) -> np.ndarray:
        """(F⁺)^q v."""
        F, G = self.fisher, self.gram
        X = self.solve(G.U.T @ F.j_apply(np.asarray(v, dtype=float)) @ G.V)
        if self.q == 1:
            X = self.solve(X @ self.Sigma_inv_hat)
        return F.j_transpose_apply(G.from_hat(X))


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
    """Runs the Sylvester-basis CG route; if CG stalls, falls back to `KroneckerFisher._fallback_power`
    (the Krylov route on large K̃, else the dense one)."""

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
            return self.fisher._fallback_power(self.op.q) @ v


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


# ---------------------------------------------------------------------------------------------
# Route 3: Moore–Penrose powers at L >= 3 without the dense K̃ (shifted preconditioned CG)

#: Stated tolerance of the Krylov route: relative error of (F⁺)^q v, certified a posteriori.
KRYLOV_RTOL = 1e-10
#: n_0 n_L below which the dense eigendecomposition of K̃ is cheaper than the Krylov route.
KRYLOV_MIN_DIM = 256
#: Largest n_0 n_L for which an uncertified Krylov result falls back to the dense K̃ (8 n² x 8 bytes
#: of memory and ~9 (n_0 n_L)³ flops: 4096 is about a minute); above it the Krylov result is returned
#: with a `FisherFallbackWarning` that states its estimate.
DENSE_FALLBACK_MAX_DIM = 4096
#: Iterations of one preconditioned CG run, and refinement runs on the true residual.
KRYLOV_MAXITER = 2000
KRYLOV_REFINEMENTS = 3
#: Normwise backward error at which a CG run stops (what a backward-stable direct solver reaches).
KRYLOV_BACKWARD_TOL = 1e-15
#: Relative residual of the refinement correction d = K̂⁻¹r of each first-stage solve.
KRYLOV_CORRECTION_RTOL = 1e-4
#: Shares of the tolerance given to the quadrature rule and to the shifted solves.
KRYLOV_QUADRATURE_SHARE = 0.1
KRYLOV_SHIFT_SHARE = 0.3
#: The rank decision is left to the dense route unless the smallest kept eigenvalue (lower bound a)
#: exceeds the cutoff rcond·λ_max by the factor KRYLOV_CUT_MARGIN + n_0 n_L ε/rcond (the dense
#: eigenvalues carry absolute errors up to ~n_0 n_L ε λ_max, so beyond that it surely keeps them),
#: and the null block lies KRYLOV_CUT_MARGIN below the cutoff.
KRYLOV_CUT_MARGIN = 2.0
#: Safety factor on the Ritz estimate λ_min(D^{-1/2}K̂D^{-1/2})·min D of the smallest eigenvalue.
KRYLOV_RITZ_SAFETY = 0.5


class FisherFallbackWarning(RuntimeWarning):
    """The Krylov route could not certify its tolerance: the dense K̃ route was used (or, above
    `DENSE_FALLBACK_MAX_DIM`, the uncertified Krylov result was kept); the message says which and why."""


def _is_identity(M: np.ndarray) -> bool:
    return M.shape[0] == M.shape[1] and np.array_equal(M, np.eye(M.shape[0]))


def _extreme_eigs(M: np.ndarray) -> tuple[float, float]:
    lam = np.linalg.eigvalsh(M)
    return max(float(lam[0]), 0.0), max(float(lam[-1]), 0.0)


class HatGram:
    """A sum of Kronecker products K(X) = Σ_i Q_i X P_i (X: n_L x n_0) in rotated coordinates.

    Q_1 = U diag(μ) Uᵀ and P_L = V diag(ν) Vᵀ are diagonalised once (O(n³)); in the coordinates
    X̂ = UᵀXV the operator is

        K̂(X̂) = diag(μ) X̂ P̂_1 + Σ_{1<i<L} Q̂_i X̂ P̂_i + X̂ diag(ν),   Q̂_i = UᵀQ_iU, P̂_i = VᵀP_iV,

    an orthogonal similarity of K (same eigenvalues, f(K) = (V⊗U) f(K̂) (V⊗U)ᵀ for every f). One
    application costs 2(L − 2) products of n x n matrices (one more if P_1 ≠ I), on a stack of
    right-hand sides at once. Its diagonal D_ba = Σ_i (Q̂_i)_bb (P̂_i)_aa is the preconditioner
    (exact at L = 2 with P_1 = I; for shifted systems D + t). At L = 1, K = Q_1 ⊗ P_1 is diagonal,
    D = μ_b ν_a.

    Null block: with N_Q = {b: μ_b <= rcond·μ_max} and N_P = {a: ν_a <= rcond·ν_max}, the entries
    N = N_Q x N_P span null(Q_1 ⊗ ·) ∩ null(· ⊗ P_L) = null of the first and last terms. For
    K ⪰ 0, a zero diagonal block forces zero coupling, so if the middle terms vanish on N too
    (`null_bound` small: a bottleneck) K̂ = 0 ⊕ K̂_kept, and the Moore–Penrose power acts on the
    kept entries only (`keep` is the boolean mask, `mask` the same as 0/1 floats).

    Rigorous spectral bounds on the kept block: λ_max <= `lam_upper` = Σ_i ‖Q_i‖‖P_i‖ and
    λ_min >= `lam_lower` = min_kept(μ_b λ_min(P_1) + ν_a) + Σ_{1<i<L} λ_min(Q_i) λ_min(P_i)
    (K ⪰ each term, and diag(μ) ⊗ P_1 ⪰ λ_min(P_1) diag(μ) ⊗ I).

    Args:
        Qs, Ps: the left factors Q_i (n_L x n_L) and right factors P_i (n_0 x n_0), symmetric PSD.
        rcond: relative threshold of the null block (the Moore–Penrose cutoff).
    """

    def __init__(self, Qs: Any, Ps: Any, rcond: float) -> None:
        mu, self.U = sla.eigh(Qs[0], check_finite=False)
        nu, self.V = sla.eigh(Ps[-1], check_finite=False)
        self.mu, self.nu = np.clip(mu, 0.0, None), np.clip(nu, 0.0, None)
        tiny = np.finfo(float).tiny
        NQ = self.mu <= rcond * max(float(self.mu.max()), tiny)
        NP = self.nu <= rcond * max(float(self.nu.max()), tiny)
        self.mids: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
        self.first: np.ndarray | None = None
        if len(Qs) == 1:
            self.diag = np.outer(self.mu, self.nu)
            self.D = self.diag
            null = NQ[:, None] | NP[None, :]
            self.lam_upper = float(self.D.max())
            self.null_bound = float(self.D[null].max()) if null.any() else 0.0
            self.keep = ~null
            self.lam_lower = float(self.D[self.keep].min()) if self.keep.any() else 0.0
        else:
            P1 = np.asarray(Ps[0])
            self.first = None if _is_identity(P1) else self.V.T @ P1 @ self.V
            self.mids = tuple((self.U.T @ Q @ self.U, self.V.T @ P @ self.V) for Q, P in zip(Qs[1:-1], Ps[1:-1]))
            self.diag = self.mu[:, None] + self.nu[None, :]          # the diagonal part when P_1 = I
            d1 = np.ones_like(self.nu) if self.first is None else np.diag(self.first)
            D = self.mu[:, None] * d1[None, :] + self.nu[None, :]
            for Qh, Ph in self.mids:
                D = D + np.outer(np.diag(Qh), np.diag(Ph))
            self.D = D
            e1 = (1.0, 1.0) if self.first is None else _extreme_eigs(self.first)
            ext = [(_extreme_eigs(Qh), _extreme_eigs(Ph)) for Qh, Ph in self.mids]
            self.lam_upper = float(self.mu.max() * e1[1] + self.nu.max() + sum(q[1] * p[1] for q, p in ext))
            null = np.outer(NQ, NP)
            self.keep = ~null
            base = self.mu[:, None] * e1[0] + self.nu[None, :]
            self.lam_lower = (float(base[self.keep].min() + sum(q[0] * p[0] for q, p in ext))
                              if self.keep.any() else 0.0)
            self.null_bound = 0.0
            if null.any():
                self.null_bound = float(self.mu[NQ].max() * e1[1] + self.nu[NP].max()
                                        + sum(np.linalg.norm(Qh[np.ix_(NQ, NQ)]) * np.linalg.norm(Ph[np.ix_(NP, NP)])
                                              for Qh, Ph in self.mids))
        self.has_null = not bool(self.keep.all())
        self.mask = self.keep.astype(float)
        self.Dinv = np.zeros_like(self.D)
        np.divide(1.0, self.D, out=self.Dinv, where=self.keep & (self.D > 0.0))

    def to_hat(self, Y: np.ndarray) -> np.ndarray:
        """X̂ = UᵀYV restricted to the kept entries."""
        return (self.U.T @ Y @ self.V) * self.mask

    def from_hat(self, X: np.ndarray) -> np.ndarray:
        """Y = U X̂ Vᵀ."""
        return self.U @ X @ self.V.T

    def residual_extended(self, B: np.ndarray, X: np.ndarray) -> np.ndarray:
        """B − K̂X on the kept entries, accumulated in extended precision (numpy longdouble), rounded once.

        The residual of a double-precision X is then exact to a few ulp of itself (not of ‖K̂‖‖X‖),
        which makes the refinement correction K̂⁻¹(B − K̂X) an error estimate of X. O(n³) without BLAS.
        """
        ext = np.longdouble
        Xe = X.astype(ext)
        if self.first is None:
            out = Xe * self.diag.astype(ext)
        else:
            out = (Xe @ self.first.astype(ext)) * self.mu.astype(ext)[:, None] + Xe * self.nu.astype(ext)[None, :]
        for Qh, Ph in self.mids:
            out += Qh.astype(ext) @ Xe @ Ph.astype(ext)
        R = (B.astype(ext) - out).astype(float)
        return R * self.mask if self.has_null else R

    def apply(self, X: np.ndarray, shifts: Any = None) -> np.ndarray:
        """(K̂ + t I) X̂ on the kept entries, for a stack X (..., n_L, n_0) and shifts t (...,) or None."""
        t = 0.0 if shifts is None else np.asarray(shifts, dtype=float)[..., None, None]
        if self.first is None:
            out = X * (self.diag + t)
        else:
            out = X @ self.first
            out *= self.mu[:, None]
            out += X * (self.nu[None, :] + t)
        for Qh, Ph in self.mids:
            out += (Qh @ X) @ Ph
        if self.has_null:
            out *= self.mask
        return out


def _pcg1(gram: "HatGram", B: np.ndarray, target: float, maxiter: int,
          ritz: bool) -> tuple[np.ndarray, int, Any]:
    """`_pcg` for one unshifted system (scalar recurrences: less per-iteration overhead)."""
    Minv = gram.Dinv
    X = np.zeros_like(B)
    R = B * gram.mask if gram.has_null else B.copy()
    Z = R * Minv
    P = Z.copy()
    rz = float(np.vdot(R, Z))
    bnorm = float(np.sqrt(np.vdot(B, B)))
    lam = gram.lam_upper
    coeffs: list[tuple[float, float]] = []
    rnorm = float(np.sqrt(np.vdot(R, R)))
    it = 0
    while it < maxiter:
        if rnorm <= target or rz <= 0.0:
            break
        if rnorm <= KRYLOV_BACKWARD_TOL * (lam * float(np.sqrt(np.vdot(X, X))) + bnorm):
            break
        KP = gram.apply(P)
        pKp = float(np.vdot(P, KP))
        if pKp <= 0.0:
            break
        alpha = rz / pKp
        X += alpha * P
        R -= alpha * KP
        np.multiply(R, Minv, out=Z)
        rz_new = float(np.vdot(R, Z))
        beta = rz_new / rz
        if ritz:
            coeffs.append((alpha, beta))
        P *= beta
        P += Z
        rz = rz_new
        rnorm = float(np.sqrt(np.vdot(R, R)))
        it += 1
    return X, it, _ritz_values(coeffs) if ritz else None


def _ritz_values(coeffs: list[tuple[float, float]]) -> Any:
    """Extreme eigenvalues of the Lanczos matrix built from CG's (α_k, β_k) (Golub & Van Loan §11.3.5)."""
    if not coeffs:
        return None
    a = np.array([c[0] for c in coeffs])
    b = np.array([c[1] for c in coeffs])
    diag = 1.0 / a
    diag[1:] += b[:-1] / a[:-1]
    off = np.sqrt(np.clip(b[:-1], 0.0, None)) / a[:-1]
    ev = sla.eigvalsh_tridiagonal(diag, off) if diag.size > 1 else diag
    return (float(ev[0]), float(ev[-1]))


def _pcg(gram: "HatGram", B: np.ndarray, shifts: np.ndarray, targets: np.ndarray,
         ritz: bool = False, maxiter: int | None = None) -> tuple[np.ndarray, np.ndarray, Any]:
    """X_j ≈ (K̂ + t_j)⁻¹ B_j for a stack of systems by Jacobi-preconditioned CG, run side by side.

    System j stops when its recursive residual is below max(targets_j, KRYLOV_BACKWARD_TOL ·
    ((λ_up + t_j)‖X_j‖ + ‖B_j‖)) (the second term: a backward-stable direct solver's accuracy)
    or after `maxiter` (default KRYLOV_MAXITER) iterations; converged systems leave the stack. With `ritz` (one
    system) the CG coefficients are turned into the Lanczos matrix of D^{-1/2}K̂D^{-1/2}, whose
    extreme eigenvalues are returned (else None).

    Returns:
        (X, iterations per system, (θ_min, θ_max) or None).
    """
    N = B.shape[0]
    maxiter = KRYLOV_MAXITER if maxiter is None else maxiter
    if N == 1 and not np.any(shifts):
        X1, it1, theta1 = _pcg1(gram, B[0], float(np.ravel(targets)[0]), maxiter, ritz)
        return X1[None], np.array([it1]), theta1
    X = np.zeros_like(B)
    iters = np.zeros(N, dtype=int)
    idx = np.arange(N)
    t = np.array(shifts, dtype=float)
    Minv = np.zeros_like(B)
    np.divide(gram.mask, gram.D[None] + t[:, None, None], out=Minv, where=gram.keep[None])
    R = B * gram.mask
    Z = R * Minv
    P = Z.copy()
    rz = np.einsum("nij,nij->n", R, Z)
    bnorm = np.sqrt(np.einsum("nij,nij->n", B, B))
    tgt = np.array(targets, dtype=float)
    lam = gram.lam_upper + t
    Xa = np.zeros_like(B)
    tmp = np.empty_like(B)
    coeffs: list[tuple[float, float]] = []
    rnorm = np.sqrt(np.einsum("nij,nij->n", R, R))
    for it in range(maxiter + 1):
        xnorm = np.sqrt(np.einsum("nij,nij->n", Xa, Xa))
        done = (rnorm <= tgt) | (rz <= 0.0) | (rnorm <= KRYLOV_BACKWARD_TOL * (lam * xnorm + bnorm))
        if it == maxiter:
            done[:] = True
        if done.any():
            X[idx[done]] = Xa[done]
            iters[idx[done]] = it
            live = ~done
            if not live.any():
                break
            idx, Xa, R, Z, P, rz = idx[live], Xa[live], R[live], Z[live], P[live], rz[live]
            Minv, tmp = Minv[live], tmp[live]
            t, tgt, lam, bnorm = t[live], tgt[live], lam[live], bnorm[live]
        KP = gram.apply(P, t)
        pKp = np.einsum("nij,nij->n", P, KP)
        bad = pKp <= 0.0
        alpha = np.where(bad, 0.0, rz / np.where(bad, 1.0, pKp))[:, None, None]
        np.multiply(P, alpha, out=tmp)
        Xa += tmp
        np.multiply(KP, alpha, out=tmp)
        R -= tmp
        np.multiply(R, Minv, out=Z)
        rz_new = np.einsum("nij,nij->n", R, Z)
        beta = rz_new / np.where(rz > 0.0, rz, 1.0)
        if ritz and idx.size == 1 and not bad[0]:
            coeffs.append((float(alpha[0, 0, 0]), float(beta[0])))
        P *= beta[:, None, None]
        P += Z
        rz = np.where(bad, 0.0, rz_new)
        rnorm = np.sqrt(np.einsum("nij,nij->n", R, R))
    return X, iters, _ritz_values(coeffs) if ritz else None


def _solve(gram: HatGram, B: np.ndarray, shifts: np.ndarray, targets: np.ndarray,
           ritz: bool = False, refine: bool = True) -> tuple[np.ndarray, np.ndarray, int, Any]:
    """`_pcg`, then (if `refine`) up to KRYLOV_REFINEMENTS runs on the true residual B − (K̂ + t)X.

    Returns (X, true residual norms, total iterations, Ritz pair or None). Refinement stops for
    a system once its true residual meets its target or stops decreasing (the rounding floor).
    """
    X, its, theta = _pcg(gram, B, shifts, targets, ritz)
    total = int(its.max(initial=0))
    R = B * gram.mask - gram.apply(X, shifts)
    rn = np.sqrt(np.einsum("nij,nij->n", R, R))
    for _ in range(KRYLOV_REFINEMENTS if refine else 0):
        again = rn > targets
        if not again.any():
            break
        dX, its, _ = _pcg(gram, R[again], shifts[again], targets[again])
        total += int(its.max(initial=0))
        Xn = X[again] + dX
        Rn = B[again] * gram.mask - gram.apply(Xn, shifts[again])
        rnn = np.sqrt(np.einsum("nij,nij->n", Rn, Rn))
        better = rnn < 0.5 * rn[again]
        if not better.any():
            break
        sel = np.flatnonzero(again)[better]
        X[sel], R[sel], rn[sel] = Xn[better], Rn[better], rnn[better]
    return X, rn, total, theta


@lru_cache(maxsize=128)
def stieltjes_rule(f: Fraction, log2_kappa: int, tol: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Nodes t_j > 0 and weights w_j >= 0 with Σ_j w_j/(x + t_j) = x^{−f}(1 + δ(x)), |δ| <= err on [1, 2^k].

    x^{−f} = (sin πf/π) ∫₀^∞ t^{−f} (x + t)^{−1} dt (0 < f < 1) is a Stieltjes function, so every
    positive quadrature of this integral is such a sum. Here the poles −t_j are spaced
    geometrically over [10^{−3}, 10² κ] (κ = 2^k) and the weights fitted by non-negative least
    squares to the relative error x^f Σ_j w_j/(x + t_j) − 1 on 2000 points of [1, κ] (log-spaced);
    the number of poles grows from 10 + k until `err`, the maximum of |δ| on a grid four times
    finer, is below `tol` (about 22 poles at κ = 2^10, 33 at 2^20 for 1e-11, against 36 and 56
    for Gauss–Jacobi/Gauss–Legendre quadrature of the integral). If no fit succeeds by 100 poles,
    the composite quadrature (`_stieltjes_quadrature`) is used. A rule for [a, b] with b/a <= κ is
    t → a t, w → a^{1−f} w. Non-negative weights keep the sum of the shifted solves free of
    cancellation.

    Args:
        f: the power, 0 < f < 1.
        log2_kappa: k >= 1.
        tol: required relative accuracy.

    Returns:
        (t, w, err).

    >>> t, w, err = stieltjes_rule(Fraction(1, 2), 8, 1e-12)
    >>> x = np.array([1.0, 17.0, 256.0])
    >>> rel_err = np.abs((w / (x[:, None] + t)).sum(1) * np.sqrt(x) - 1)
    >>> bool(rel_err.max() <= err <= 1e-12), bool(np.all(w > 0))
    (True, True)
    """
    from scipy.optimize import nnls

    fl = float(f)
    span = log2_kappa * np.log(2.0)
    x = np.exp(np.linspace(0.0, span, 2000))
    xv = np.exp(np.linspace(0.0, span, 8000))
    for n in range(10 + log2_kappa, 101):
        t = np.exp(np.linspace(np.log(1e-3), span + np.log(1e2), n))
        A = x[:, None] ** fl / (x[:, None] + t[None, :])
        scale = np.linalg.norm(A, axis=0)
        w, _ = nnls(A / scale, np.ones_like(x), maxiter=50 * n)
        w = w / scale
        keep = w > 0.0
        t, w = t[keep], w[keep]
        err = float(np.max(np.abs((w[None, :] / (xv[:, None] + t[None, :])).sum(1) * xv ** fl - 1.0)))
        if err <= tol:
            return t, w, err
    return _stieltjes_quadrature(fl, log2_kappa, tol)


def _stieltjes_quadrature(fl: float, log2_kappa: int, tol: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Composite quadrature of x^{−f} = (sin πf/π)∫₀^∞ t^{−f}(x + t)^{−1}dt (fallback of `stieltjes_rule`).

    Gauss–Jacobi on [0, 1] (weight t^{−f}), Gauss–Legendre panels of length <= 6 in s = ln t on
    [1, κ] (the integrand is analytic in the strip |Im s| < π), Gauss–Jacobi on [κ, ∞) after
    t = κ/u (weight u^{f−1}); node counts grow together until the sampled relative error is below tol.
    """
    from scipy.special import roots_jacobi, roots_legendre

    kappa = 2.0 ** log2_kappa
    c = np.sin(np.pi * fl) / np.pi
    span = np.log(kappa)
    panels = max(1, int(np.ceil(span / 6.0)))
    x = np.exp(np.linspace(0.0, span, max(800, int(span / 0.005) + 1)))
    for extra in range(60):
        n_end, n_mid = 4 + extra, 6 + extra
        y, w = roots_jacobi(n_end, 0.0, -fl)
        T = [(1.0 + y) / 2.0]
        Wt = [w * 0.5 ** (1.0 - fl)]
        y, w = roots_legendre(n_mid)
        edges = np.linspace(0.0, span, panels + 1)
        for lo, hi in zip(edges[:-1], edges[1:]):
            s = 0.5 * (lo + hi) + 0.5 * (hi - lo) * y
            T.append(np.exp(s))
            Wt.append(w * 0.5 * (hi - lo) * np.exp((1.0 - fl) * s))
        y, w = roots_jacobi(n_end, 0.0, fl - 1.0)
        u = (1.0 + y) / 2.0
        T.append(kappa / u)
        Wt.append(w * 0.5 ** fl * kappa ** (1.0 - fl) / u)
        t, wt = np.concatenate(T), c * np.concatenate(Wt)
        err = float(np.max(np.abs((wt[None, :] / (x[:, None] + t[None, :])).sum(1) * x ** fl - 1.0)))
        if err <= tol:
            return t, wt, err
    raise _NotConverged


def _sqrt_weight(t: np.ndarray, a: float, b: float) -> np.ndarray:
    """g(t) = max_{x ∈ [a, b]} √x/(x + t): bounds ‖K^{1/2}(K + t)⁻¹r‖ by g(t)‖r‖ on spectrum [a, b]."""
    x = np.clip(t, a, b)
    return np.sqrt(x) / (x + t)


class KrylovFisherPower:
    """(F⁺)^q v = J̃ᵀ (K̃⁺)^{q+1} J̃ v with the output kernel K̃ kept as L Kronecker products.

    q = m + f with m an integer and 0 <= f < 1. In the rotated coordinates of `HatGram`
    (K̃(Y) = Σ_i B_iB_iᵀ Y Σ^{1/2}A_iᵀA_iΣ^{1/2}, ŷ = UᵀYV):

    1. ẑ = K̂⁻¹ ⋯ K̂⁻¹ ŷ (m + 1 solves, ŷ = J̃v) by Jacobi-preconditioned CG to the backward error
       of a direct solver, each followed by refinement with the residual accumulated in extended
       precision; on the kept block only (the null block of a bottleneck is projected out, as the
       dense route's cutoff rcond·λ_max drops it).
    2. if f > 0: K̂^{−f} ẑ ≈ Σ_j w_j (K̂ + t_j)⁻¹ ẑ (`stieltjes_rule` on the spectral interval
       [a, b]), all shifted systems solved side by side by CG preconditioned with D + t_j.
    3. (F⁺)^q v = J̃ᵀ(U ŵ Vᵀ).

    Spectral interval: b = `HatGram.lam_upper` (rigorous); a = max(`lam_lower` (rigorous),
    KRYLOV_RITZ_SAFETY · θ_min · min D), θ_min the smallest Ritz value of D^{-1/2}K̂D^{-1/2} from
    the first CG run (K̂ ⪰ λ_min(D^{-1/2}K̂D^{-1/2}) min D; θ_min converges to that from above,
    hence the safety factor 1/2).

    A-posteriori estimate (`info["estimate"]`) of ‖error‖/‖R‖, R the result, ‖J̃ᵀe‖ = ‖e‖_K̂:

        δ_Q + Σ_j w_j g(t_j)‖r_j‖/‖R‖ + Σ_k (1 + δ_Q) max(a^{e_k}, b^{e_k}) (‖ρ_k‖/a + ε‖ẑ_k‖)/‖R‖,

    δ_Q the rule's relative error on [a, b], r_j the true residual of shifted system j,
    g(t) = max_{x∈[a,b]} √x/(x + t), ρ_k the residual of the last refinement correction of solve
    k, ẑ_k its result, e_k = 1/2 − f − (m + 1 − k) (what the remaining steps do to an error of
    ẑ_k). It bounds the error of the route against the exact Moore–Penrose power of K̃ as formed
    from the double-precision factors whenever a <= λ_min (up to the rounding of the final
    products). The rounding of the factors themselves, which the dense route shares, is bounded
    separately and conservatively by `info["floor"]` = (q + 1) n ε b ‖K̂^{−1/2}ŵ‖/‖R‖ (eigenvalues
    moved by n ε λ_max, n the largest width): total error <= estimate + floor. Measured against a
    40-digit evaluation of the same factors at κ(K̃) = 1e5..1e9 the route was as accurate as the
    dense route or better (tests/test_fisher_krylov.py).

    `tol` (default KRYLOV_RTOL = 1e-10) is the stated tolerance on the estimate. If the estimate
    exceeds it, or the kept spectrum reaches within a factor ~2 of the Moore–Penrose cutoff
    rcond·λ_max, or the null block is not resolved by Q_1 and P_L, the dense K̃ route is used
    instead and a `FisherFallbackWarning` says why (above DENSE_FALLBACK_MAX_DIM the Krylov result
    is kept, with the warning).

    After each `@`, `info` holds: estimate, parts (its quadrature, shifted-solve and first-step
    terms), floor, interval (a, b), nodes, iterations (summed over the CG runs; side-by-side runs
    count their longest system), fallback (None or the reason).
    Cost: O(n³) set-up, then per CG iteration 2(L − 2) (+1 if Σ ≠ I) products of n x n matrices
    per live system; never forms K̃ (n_0 n_L square) or F.
    """

    kind = "krylov"

    def __init__(self, fisher: "KroneckerFisher", q: Any, rcond: float = 1e-12, tol: float = KRYLOV_RTOL) -> None:
        self.fisher = fisher
        self.q = Fraction(q)
        self.rcond = float(rcond)
        self.tol = float(tol)
        self.gram = fisher.output_hat_gram(rcond)
        self.info: dict[str, Any] = {}

    def __matmul__(self, v: Any) -> np.ndarray:
        """(F⁺)^q v, certified to `tol` or computed by the dense route (see the class docstring)."""
        v = np.asarray(v, dtype=float)
        result, info = self._krylov(v)
        self.info = info
        if info["fallback"] is None:
            return result
        n_dim = self.fisher.n_in * self.fisher.n_out
        if n_dim <= DENSE_FALLBACK_MAX_DIM:
            warnings.warn(f"Krylov route of (F⁺)^{self.q}: {info['fallback']}; used the dense K̃ route "
                          f"({n_dim} x {n_dim})", FisherFallbackWarning, stacklevel=2)
            return self.fisher._dense_power(self.q, self.rcond) @ v
        warnings.warn(f"Krylov route of (F⁺)^{self.q}: {info['fallback']}; kept the Krylov result (the dense "
                      f"K̃ would be {n_dim} x {n_dim})", FisherFallbackWarning, stacklevel=2)
        return result

    def _krylov(self, v: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        F, G = self.fisher, self.gram
        info: dict[str, Any] = {"estimate": 0.0, "floor": 0.0, "interval": None, "nodes": 0, "iterations": 0,
                                "fallback": None}
        m, f = divmod(self.q, 1)
        m, fl = int(m), float(f)
        eps = np.finfo(float).eps
        yhat = G.to_hat(F.jt_apply(v).reshape((F.n_out, F.n_in), order="F"))
        if not np.any(yhat):
            return np.zeros_like(v), info
        if G.has_null and G.null_bound > G.D.max() * self.rcond / KRYLOV_CUT_MARGIN:
            info["fallback"] = ("the Moore–Penrose cutoff does not separate the null block of the first and "
                                "last Kronecker terms of K̃ from the rest of its spectrum")
            return np.zeros_like(v), info
        zero = np.zeros(1)
        # step 1: m + 1 solves, each refined with an extended-precision residual
        z, stage1, rhs = yhat[None], [], yhat[None]
        a, b = G.lam_lower, G.lam_upper
        for k in range(m + 1):
            rhs = z
            z, _, its, theta = _solve(G, rhs, zero, zero, ritz=(k == 0), refine=False)
            info["iterations"] += its
            if k == 0 and theta is not None:
                a = max(a, KRYLOV_RITZ_SAFETY * theta[0] * float(G.D[G.keep].min()))
            # z ← z + d with d ≈ K̂⁻¹r, r = rhs − K̂z exact to a few ulp: the error of z is then
            # K̂⁻¹(r − K̂d) (norm <= ‖r − K̂d‖/λ_min) plus the rounding of z + d (<= ε‖z‖); d is solved
            # until the first term is below the second (reachable: ‖d‖ ~ ε‖z‖, so the double-precision
            # floor of that solve, ε‖K̂‖‖d‖, is ε²‖K̂‖‖z‖), repeated if the residual was not yet exact
            rho = 0.0
            for _ in range(KRYLOV_REFINEMENTS):
                r = G.residual_extended(rhs[0], z[0])[None]
                rnorm = float(np.linalg.norm(r))
                if rnorm == 0.0:
                    rho = 0.0
                    break
                target = min(KRYLOV_CORRECTION_RTOL * rnorm, 0.5 * eps * a * float(np.linalg.norm(z)))
                d, rd, its, _ = _solve(G, r, zero, np.array([target]), refine=False)
                info["iterations"] += its
                z = z + d
                rho = float(rd[0])
                if rho <= eps * float(np.linalg.norm(z)) * a:
                    break
            stage1.append((rho, float(np.linalg.norm(z))))
        info["interval"] = (a, b)
        margin = KRYLOV_CUT_MARGIN + F.n_in * F.n_out * eps / self.rcond
        if not a > margin * self.rcond * b:
            info["fallback"] = (f"the smallest kept eigenvalue (>= {a:.3g}) is within {margin:.3g}x of "
                                f"the Moore–Penrose cutoff rcond·λ_max (<= {self.rcond * b:.3g})")
            return np.zeros_like(v), info
        # step 2: K̂^{−f} by the rational rule, all shifted systems side by side
        delta_q, out_hat, shift_part = 0.0, z[0], 0.0
        if fl > 0:
            try:
                tq, wq, delta_q = stieltjes_rule(Fraction(f), max(1, int(np.ceil(np.log2(b / a)))),
                                                 KRYLOV_QUADRATURE_SHARE * self.tol)
            except _NotConverged:
                info["fallback"] = f"no rational rule for x^(-{f}) reaches {KRYLOV_QUADRATURE_SHARE * self.tol:.0e}"
                return np.zeros_like(v), info
            t, w = a * tq, a ** (1.0 - fl) * wq
            # a lower bound of ‖R‖ = ‖K̂^β ẑ‖ (β = 1/2 − f) to set the per-system targets: x^β on [a, b],
            # and the log-convexity of β ↦ ‖K̂^β ẑ‖ through β = 1 (‖rhs‖) and 2 (‖K̂ rhs‖)
            beta = 0.5 - fl
            ynorm = float(np.linalg.norm(rhs))
            kynorm = float(np.linalg.norm(G.apply(rhs)))
            r_low = max(min(a ** beta, b ** beta) * float(np.linalg.norm(z)),
                        ynorm * (kynorm / ynorm) ** (beta - 1.0) if kynorm > 0.0 else 0.0)
            gw = w * _sqrt_weight(t, a, b)
            targets = KRYLOV_SHIFT_SHARE * self.tol * r_low / (t.size * gw)
            X, rn, its, _ = _solve(G, np.repeat(z, t.size, axis=0), t, targets)
            info["iterations"] += its
            info["nodes"] = int(t.size)
            out_hat = np.einsum("j,jab->ab", w, X)
            shift_part = float(np.dot(gw, rn))
        result = F.jt_transpose_apply(G.from_hat(out_hat).reshape(-1, order="F"))
        rnorm = float(np.linalg.norm(result))
        if rnorm == 0.0:
            return result, info
        stage1_part = sum((1.0 + delta_q) * max(a ** e, b ** e) * (rho / a + eps * zn)
                          for e, (rho, zn) in zip((0.5 - fl - (m + 1 - k) for k in range(1, m + 2)), stage1))
        est = delta_q + (shift_part + stage1_part) / rnorm
        # rounding of the factors: (q + 1) n ε b ‖K̂^{1/2} K̂⁻¹ ŵ‖ / ‖R‖ (one loose solve)
        sol, _, its, _ = _solve(G, out_hat[None], zero, np.array([1e-2 * float(np.linalg.norm(out_hat)) * a]),
                                refine=False)
        info["iterations"] += its
        info["floor"] = (float(self.q) + 1.0) * F.max_width * eps * b * float(
            np.sqrt(max(float(np.vdot(out_hat, sol[0])), 0.0))) / rnorm
        info["estimate"] = est
        info["parts"] = {"quadrature": delta_q, "shifted": shift_part / rnorm, "first": stage1_part / rnorm}
        if not est <= self.tol:
            info["fallback"] = f"a-posteriori estimate {est:.2e} > tolerance {self.tol:.0e}"
        return result, info


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

    @property
    def max_width(self) -> int:
        """The largest layer width n_i (rounding of the factors B_iB_iᵀ, A_iᵀA_i grows with it)."""
        return max(max(m, n) for m, n in self.shapes)

    def output_factors(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(B_iB_iᵀ, Σ^{1/2}A_iᵀA_iΣ^{1/2}) for each layer: K̃(Y) = Σ_i (B_iB_iᵀ) Y (Σ^{1/2}A_iᵀA_iΣ^{1/2})."""
        out = []
        for A, B in zip(self.A, self.B):
            SA = A @ self.S_half
            out.append((B @ B.T, SA.T @ SA))
        return out

    def output_hat_gram(self, rcond: float = 1e-12) -> "HatGram":
        """K̃ as a `HatGram` (rotated Kronecker sum with Jacobi preconditioner and spectral bounds)."""
        Qs, Ps = zip(*self.output_factors())
        return HatGram(Qs, Ps, rcond)

    def krylov_power(self, q: Any, rcond: float = 1e-12, tol: float = KRYLOV_RTOL) -> KrylovFisherPower:
        """(F⁺)^q by the Krylov route (`KrylovFisherPower`): no dense K̃, certified to `tol` or dense fallback.

        Args:
            q: exact power >= 0 (int or Fraction).
            rcond: Moore–Penrose cutoff relative to λ_max (as the dense route).
            tol: stated relative tolerance of (F⁺)^q v (default KRYLOV_RTOL = 1e-10).
        """
        if len(self.A) < 2:
            raise ValueError("krylov_power needs depth L >= 2")
        return KrylovFisherPower(self, q, rcond, tol)

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
        """The Sylvester-basis PCG operator if J is surjective (M positive definite), else None."""
        if q not in (0, 1):
            return None
        Qs, Ps = zip(*self._gram_factors())
        gram = HatGram(Qs, Ps, SYLVESTER_MIN_RCOND)
        denom = gram.diag                   # the eigenvalues of M (of K itself at L = 1)
        if denom.min() <= SYLVESTER_MIN_RCOND * max(denom.max(), np.finfo(float).tiny):
            return None
        op = SylvesterFisherPower(self, q, gram, gram.V.T @ np.linalg.inv(self.Sigma) @ gram.V)
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
        rcond = getattr(ops, "rcond", 1e-12)
        if len(self.A) <= 2:
            return self._two_layer_power(qf, rcond)
        if self.n_in * self.n_out >= KRYLOV_MIN_DIM:
            return self.krylov_power(qf, rcond)
        return self._dense_power(qf, rcond)

    def _fallback_power(self, q: Any, rcond: float = 1e-12) -> Any:
        """The dense K̃ route, or the Krylov route when K̃ is large (n_0 n_L >= KRYLOV_MIN_DIM, L >= 2)."""
        if len(self.A) >= 2 and self.n_in * self.n_out >= KRYLOV_MIN_DIM:
            return self.krylov_power(q, rcond)
        return self._dense_power(q, rcond)

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
