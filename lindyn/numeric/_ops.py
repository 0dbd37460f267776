"""Numeric backends of the learning rules (numpy float64, mpmath object arrays) and θ = vec(W).

The learning rules of `lindyn.rules` run on `lindyn.numeric.geometry.MatrixGeometry` with
`NumpyOps` (double precision) or `MpmathOps` (any number of digits, numpy object arrays of mpmath
numbers, so that `@` and `.T` work unchanged).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import mpmath
import numpy as np


def vec_layers(layers: Sequence[Any]) -> np.ndarray:
    """θ = (vec W_1, …, vec W_L): the column-major vec of each layer, concatenated.

    Works on float arrays and on object arrays of `mpmath.mpf` (the dtype is kept).

    Args:
        layers: W_1..W_L, each a 2-D array (n_i, n_{i-1}).

    Returns:
        A 1-D array of length P = Σ_i n_i n_{i-1}.

    >>> import numpy as np
    >>> vec_layers([np.array([[1, 2], [3, 4]]), np.array([[5, 6]])])
    array([1, 3, 2, 4, 5, 6])
    """
    return np.concatenate([np.asarray(x).reshape(-1, order="F") for x in layers])


def unvec_layers(v: Any, shapes: Sequence[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    """Inverse of `vec_layers`; a batch of vectors (..., P) gives layers of shape (..., n_i, n_{i-1}).

    Args:
        v: θ of shape (P,) or a batch (..., P), e.g. (T, P) for T times.
        shapes: shape (n_i, n_{i-1}) of each W_i, with Σ_i n_i n_{i-1} = P.

    Returns:
        One array per layer (views into `v` where numpy allows).

    >>> import numpy as np
    >>> W = unvec_layers(np.array([1, 3, 2, 4, 5, 6]), [(2, 2), (1, 2)])
    >>> [w.tolist() for w in W]
    [[[1, 2], [3, 4]], [[5, 6]]]
    >>> unvec_layers(np.stack([np.arange(6), 10 + np.arange(6)]), [(2, 2), (1, 2)])[1].tolist()
    [[[4, 5]], [[14, 15]]]
    """
    v = np.asarray(v)
    out, start = [], 0
    for m, n in shapes:
        block = v[..., start:start + m * n]
        # column-major vec: the last axis runs down the columns, so reshape to (n, m) and transpose
        out.append(block.reshape(v.shape[:-1] + (n, m)).swapaxes(-1, -2))
        start += m * n
    return tuple(out)


def _as_float(q: Any) -> float:
    return float(Fraction(q)) if isinstance(q, (int, Fraction)) else float(q)


def _certified_inverse(S: np.ndarray, rcond: float) -> np.ndarray | None:
    """S⁻¹ of a symmetric S by Cholesky when it is positive definite with λ_min > 2·rcond·λ_max
    (certified by tr S · tr S⁻¹ < 1/(2 rcond), since λ_max <= tr S and 1/λ_min <= tr S⁻¹); else None."""
    from scipy.linalg import lapack
    if not np.all(np.isfinite(S)):
        return None
    c, info = lapack.dpotrf(S, lower=1, clean=1)      # S = CCᵀ, C lower triangular
    if info != 0:
        return None
    c_inv, info = lapack.dtrtri(c, lower=1)            # C⁻¹ (lower); S⁻¹ = C⁻ᵀC⁻¹, tr S⁻¹ = ‖C⁻¹‖_F²
    if info != 0:
        return None
    trace_inv = float(np.einsum("ij,ij->", c_inv, c_inv))
    if not (trace_inv > 0 and float(np.trace(S)) * trace_inv < 0.5 / rcond):
        return None
    return c_inv.T @ c_inv


@dataclass(frozen=True)
class NumpyOps:
    """Double-precision backend.

    Args:
        rcond: eigenvalues below rcond · λ_max count as zero in Moore–Penrose powers.
    """

    rcond: float = 1e-12

    def pinv_pow(self, M: Any, q: Any) -> Any:
        """(M⁺)^q of a symmetric PSD matrix by eigendecomposition, or a structured operator.

        q = 1 tries a Cholesky inverse first (LAPACK potrf/potri, ~4x cheaper than eigh): it is
        used only when it certifies that no eigenvalue falls below the cutoff, via
        λ_min/λ_max >= 1/(tr M · tr M⁻¹) > 2·rcond, so that M⁺ = M⁻¹; otherwise eigh as below.
        """
        if hasattr(M, "pinv_pow"):
            return M.pinv_pow(q, self)
        M = np.asarray(M, dtype=float)
        if _as_float(q) == 1.0 and M.ndim == 2 and M.shape[0] == M.shape[1] and M.shape[0] > 0:
            inverse = _certified_inverse(0.5 * (M + M.T), self.rcond)
            if inverse is not None:
                return inverse
        lam, V = np.linalg.eigh(0.5 * (M + M.T))
        cutoff = self.rcond * max(float(np.max(np.abs(lam))), np.finfo(float).tiny)
        keep = lam > cutoff
        powered = np.zeros_like(lam)
        powered[keep] = lam[keep] ** (-_as_float(q))
        return (V * powered) @ V.T

    def eye(self, n: int) -> np.ndarray:
        """numpy identity."""
        return np.eye(n)

    def scalar(self, x: Any) -> float:
        """float(x)."""
        return _as_float(x)

    def sqrt(self, x: Any) -> float:
        """math sqrt of a float."""
        return float(np.sqrt(x))


@dataclass(frozen=True)
class MpmathOps:
    """High-precision backend on numpy object arrays of `mpmath.mpf`.

    Args:
        dps: decimal digits of working precision (used for the Moore–Penrose cutoff).
    """

    dps: int = 30

    def pinv_pow(self, M: Any, q: Any) -> Any:
        """(M⁺)^q of a symmetric PSD matrix by `mpmath.eigsy`."""
        if hasattr(M, "pinv_pow"):
            return M.pinv_pow(q, self)
        n = M.shape[0]
        A = mpmath.matrix(n, n)
        for i in range(n):
            for k in range(n):
                A[i, k] = (M[i, k] + M[k, i]) / 2
        lam, V = mpmath.eigsy(A)
        lam_max = max(abs(lam[i]) for i in range(n))
        cutoff = mpmath.mpf(10) ** (-(self.dps * 3) // 4) * max(lam_max, mpmath.mpf(10) ** (-self.dps))
        qq = self.scalar(q)
        out = np.empty((n, n), dtype=object)
        powered = [lam[i] ** (-qq) if lam[i] > cutoff else mpmath.mpf(0) for i in range(n)]
        for i in range(n):
            for k in range(n):
                out[i, k] = mpmath.fsum(V[i, m] * powered[m] * V[k, m] for m in range(n))
        return out

    def eye(self, n: int) -> np.ndarray:
        """Identity as an object array of mpf."""
        out = np.empty((n, n), dtype=object)
        for i in range(n):
            for k in range(n):
                out[i, k] = mpmath.mpf(1 if i == k else 0)
        return out

    def scalar(self, x: Any) -> Any:
        """Exact number -> mpf."""
        f = Fraction(x)
        return mpmath.mpf(f.numerator) / f.denominator

    def sqrt(self, x: Any) -> Any:
        """mpmath.sqrt."""
        return mpmath.sqrt(x)
