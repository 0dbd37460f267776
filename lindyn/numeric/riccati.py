"""Stable evaluation of the matrix Riccati solution P(t) = QQᵀ (numpy only).

Ṗ = FP + PF − P² with F symmetric and P(0) = Q₀Q₀ᵀ (Q₀ of h columns) has the solution

    P(t) = e^{Ft}Q₀ [I + Q₀ᵀ Φ(t) Q₀]⁻¹ Q₀ᵀ e^{Ft},   Φ(t) = ∫₀ᵗ e^{2Fs} ds

(Fukumizu 1998; Braun et al. 2022). With F = O diag(d) Oᵀ and Z = OᵀQ₀ everything is diagonal
except the h x h inverse, but e^{d t} overflows long before P stops changing. The evaluation
factors the exponentials out instead of forming them:

* P depends on Q₀ only through Q₀Q₀ᵀ and is unchanged by Z → ZM for the matching change of the
  h x h inverse, so column operations M on Z are free. Gaussian elimination over the rows of Z
  with d > 0, taken in order of decreasing d (pivot: the largest remaining entry of the row),
  makes column j vanish above its pivot row p_j. Its growth is then at most e^{d_{p_j} t}.
* Column j is scaled by e^{−σ_j}, σ_j = d_{p_j} t (0 for a column without a positive pivot). Every
  entry of Ñ = e^{Dt} Z M e^{−σ} is A_kj e^{d_k t − σ_j} with exponent <= 0 where A = ZM ≠ 0.
* G̃ = e^{−σ}Mᵀ(I + ZᵀΦZ)M e^{−σ} = M̃ᵀM̃ + Σ_{d_k>0} ψ_k Ñ_kᵀÑ_k + Σ_{d_k<=0} φ_k B_kᵀB_k with
  ψ_k = (1 − e^{−2d_k t})/(2d_k), φ_k = (e^{2d_k t} − 1)/(2d_k) (t at d = 0), B = A e^{−σ}:
  every term is bounded, no difference of large numbers is formed.
* P = O Ñ G̃⁻¹ Ñᵀ Oᵀ = O YᵀY Oᵀ with G̃ = LLᵀ, Y = L⁻¹Ñᵀ: positive semi-definite by construction.

Large exponents underflow to 0, which is their limit: P(t) at t = 1e6 is the converged P.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RiccatiSolution", "riccati_solution"]


@dataclass(frozen=True)
class RiccatiSolution:
    """P(t) for Ṗ = FP + PF − P², P(0) = Q₀Q₀ᵀ, in F's eigenbasis after pivoted column elimination.

    Attributes:
        O, d: F = O diag(d) Oᵀ.
        A: Z M (n x h), Z = OᵀQ₀, after the elimination (zero above each column's pivot row).
        M: the column operations (h x h).
        pivot_rate: d at each column's pivot row (0 for a column without a growing pivot).
    """

    O: np.ndarray
    d: np.ndarray
    A: np.ndarray
    M: np.ndarray
    pivot_rate: np.ndarray

    def _eigen_factor(self, t: np.ndarray) -> np.ndarray:
        """(T, h, n): Y with Oᵀ P(t) O = YᵀY (one vectorised pass over the times)."""
        t = np.asarray(t, dtype=float).reshape(-1)
        d, A = self.d, self.A
        ell = t[:, None] * d[None, :]                                   # (T, n): d_k t
        sigma = t[:, None] * self.pivot_rate[None, :]                   # (T, h)
        expo = ell[:, :, None] - sigma[:, None, :]                      # (T, n, h)
        nz = A != 0
        N = np.where(nz[None], A[None] * np.exp(np.minimum(expo, 0.0)), 0.0)
        # exponents are <= 0 wherever A ≠ 0 (zeroed above the pivots); the clamp only guards rounding at ties
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            pos = d > 0
            neg = ~pos
            psi = np.where(pos[None], -np.expm1(-2.0 * np.where(pos[None], ell, 0.0)) /
                           np.where(pos, 2.0 * d, 1.0)[None], 0.0)
            phi = np.where(d[None] != 0, np.expm1(2.0 * np.where(neg[None], ell, 0.0)) /
                           np.where(d != 0, 2.0 * d, 1.0)[None], t[:, None])
            phi = np.where(neg[None], phi, 0.0)
        scale = np.exp(-sigma)                                          # (T, h)
        Mt = self.M[None] * scale[:, None, :]                           # M̃ = M e^{−σ}
        B = A[None] * scale[:, None, :]
        G = np.swapaxes(Mt, 1, 2) @ Mt
        G += np.einsum("tkj,tk,tkl->tjl", N, psi, N, optimize=True)
        G += np.einsum("tkj,tk,tkl->tjl", B, phi, B, optimize=True)
        G = 0.5 * (G + np.swapaxes(G, 1, 2))
        try:
            L = np.linalg.cholesky(G)
            return np.linalg.solve(L, np.swapaxes(N, 1, 2))              # Y = L⁻¹Ñᵀ, (T, h, n)
        except np.linalg.LinAlgError:                                   # G̃ ⪰ 0 but numerically singular
            lam, V = np.linalg.eigh(G)
            keep = lam > 1e-15 * lam.max(axis=1, keepdims=True)
            inv_root = np.where(keep, 1.0 / np.sqrt(np.where(keep, lam, 1.0)), 0.0)
            return (np.swapaxes(V, 1, 2) * inv_root[:, :, None]) @ np.swapaxes(N, 1, 2)

    def factor(self, t: np.ndarray) -> np.ndarray:
        """(T, n, h): a factor Q̃(t) with P(t) = Q̃Q̃ᵀ (Q̃ = O Yᵀ; equal to Q(t) up to an h x h rotation)."""
        Y = self._eigen_factor(t)
        return self.O[None] @ np.swapaxes(Y, 1, 2)

    def eigen_P(self, t: np.ndarray) -> np.ndarray:
        """(T, n, n): Oᵀ P(t) O for times t >= 0 (one vectorised pass)."""
        Y = self._eigen_factor(t)
        return np.swapaxes(Y, 1, 2) @ Y

    def P(self, t: np.ndarray) -> np.ndarray:
        """(T, n, n): P(t) = Q(t)Q(t)ᵀ."""
        X = self.factor(t)
        return X @ np.swapaxes(X, 1, 2)


def riccati_solution(F: np.ndarray, Q0: np.ndarray) -> RiccatiSolution:
    """Prepare P(t) for Ṗ = FP + PF − P², P(0) = Q₀Q₀ᵀ (F symmetric n x n, Q₀ n x h); see the module docstring."""
    F = np.asarray(F, dtype=float)
    Q0 = np.asarray(Q0, dtype=float)
    d, O = np.linalg.eigh(0.5 * (F + F.T))
    order = np.argsort(-d, kind="stable")
    d, O = d[order], O[:, order]
    A = O.T @ Q0
    h = A.shape[1]
    M = np.eye(h)
    pivot_rate = np.zeros(h)
    free = list(range(h))
    for k in range(len(d)):
        if d[k] <= 0 or not free:
            break
        row = np.abs(A[k, free])
        if row.max() == 0.0:
            continue
        c = free[int(np.argmax(row))]
        free.remove(c)
        pivot_rate[c] = d[k]
        for j in free:
            if A[k, j] != 0.0:
                f = A[k, j] / A[k, c]
                A[:, j] -= f * A[:, c]
                M[:, j] -= f * M[:, c]
                A[k, j] = 0.0
    return RiccatiSolution(O=O, d=d, A=A, M=M, pivot_rate=pivot_rate)
