"""High-precision ODE stepping with mpmath for `HighPrecision` (small networks only).

The same rule code runs on numpy object arrays of `mpmath.mpf` with `MpmathOps` (the Fisher is
kept factored as KᵀK, `MpGram`, and its powers taken through the smaller G = KKᵀ; or formed densely
and inverted with `mpmath.eigsy` on the explicit route). The ODE is solved by Gragg–Bulirsch–Stoer
extrapolation (modified midpoint rule extrapolated in h²; Hairer, Nørsett & Wanner, Solving
Ordinary Differential Equations I, §II.9), with adaptive macro steps and local tolerance
10^−(dps−3) relative. It is used instead of `mpmath.odefun`, whose Taylor coefficients come from
numerical differentiation of the velocity and lose about half the digits when the velocity
contains an eigendecomposition (a Fisher power): measured 9e-18 instead of 1e-30 on exact NGD.
Cost grows quickly with the number of parameters P (the dense Fisher power is O(P³) software
operations per velocity), so keep P <= ~10.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Sequence

import mpmath
import numpy as np

from .._progress import Progress


__all__ = ["to_mpf_array", "gbs_integrate", "MpGram"]


def _mp_cutoff(dps: int) -> Any:
    """`MpmathOps`' relative Moore–Penrose cutoff 10^(−⌈3·dps/4⌉)."""
    return mpmath.mpf(10) ** (-(dps * 3) // 4)


class _MpFactoredPower:
    """v ↦ Kᵀ M K v, kept factored (object arrays of mpf)."""

    def __init__(self, K: np.ndarray, M: np.ndarray) -> None:
        self.K, self.M = K, M

    def __matmul__(self, x: Any) -> np.ndarray:
        return self.K.T @ (self.M @ (self.K @ x))


def _cholesky_inverse(G: np.ndarray) -> np.ndarray | None:
    """C⁻¹ (lower triangular, object array) with G = CCᵀ, or None if G is not numerically positive definite."""
    m = G.shape[0]
    C = [[mpmath.mpf(0)] * m for _ in range(m)]
    for j in range(m):
        d = G[j, j] - mpmath.fsum(C[j][k] * C[j][k] for k in range(j))
        if not d > 0:
            return None
        C[j][j] = mpmath.sqrt(d)
        for i in range(j + 1, m):
            C[i][j] = (G[i, j] - mpmath.fsum(C[i][k] * C[j][k] for k in range(j))) / C[j][j]
    inv = np.empty((m, m), dtype=object)
    inv[:] = mpmath.mpf(0)
    for j in range(m):                      # forward substitution, column j of C⁻¹
        inv[j, j] = 1 / C[j][j]
        for i in range(j + 1, m):
            inv[i, j] = -mpmath.fsum(C[i][k] * inv[k, j] for k in range(j, i)) / C[i][i]
    return inv


_ROOTS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _sqrt_psd(Sigma: np.ndarray, n_out: int, ops: Any) -> np.ndarray:
    """Σ^{1/2} ⊗ I_{n_out} for a symmetric PSD object array Σ (`ops.pinv_pow(Σ, −1/2)`: eigenvalues below
    `MpmathOps`' cut-off count as 0), cached per array object (the data of one run)."""
    hit = _ROOTS.get((id(Sigma), n_out))
    if hit is not None and hit[0] is Sigma:
        return hit[1]
    root = ops.pinv_pow(Sigma, Fraction(-1, 2))
    eye = np.empty((n_out, n_out), dtype=object)
    for i in range(n_out):
        for k in range(n_out):
            eye[i, k] = mpmath.mpf(1 if i == k else 0)
    left = np.kron(root, eye)
    if len(_ROOTS) > 32:
        _ROOTS.clear()
    _ROOTS[(id(Sigma), n_out)] = (Sigma, left)     # keeps Σ alive, so its id is not reused while cached
    return left


class MpGram:
    """F = KᵀK kept factored at high precision (K: m x P object array of mpf).

    `pinv_pow(q, ops)` = (F⁺)^q = Kᵀ (G⁺)^{q+1} K with G = KKᵀ (m x m): F and G share their nonzero
    eigenvalues (K = UΣVᵀ: F = VΣ²Vᵀ, G = UΣ²Uᵀ, KᵀG^{+(q+1)}K = VΣ^{−2q}Vᵀ), so when m < P the
    power is `ops.pinv_pow` of the smaller matrix, whose cutoff is relative to the same λ_max.
    For q = 1 a certified inverse (Cholesky) is used when tr G · tr G⁻¹ < ½·10^{⌈3dps/4⌉}, which
    proves every eigenvalue is above the cutoff (λ_max <= tr G, 1/λ_min <= tr G⁻¹). When m >= P it
    is the dense F with `ops.pinv_pow`. Moments data: K = (Σ^{1/2} ⊗ I) J, so KᵀK = Jᵀ(Σ ⊗ I)J.
    """

    def __init__(self, K: np.ndarray) -> None:
        self.K = K

    @classmethod
    def from_moments(cls, J: np.ndarray, Sigma: np.ndarray, n_out: int, ops: Any) -> "MpGram":
        """K = (Σ^{1/2} ⊗ I_{n_out}) J (Σ^{1/2} from `ops`, cached per Σ)."""
        return cls(_sqrt_psd(Sigma, n_out, ops) @ J)

    def __matmul__(self, v: Any) -> np.ndarray:
        """F v = Kᵀ(K v)."""
        return self.K.T @ (self.K @ v)

    def dense(self) -> np.ndarray:
        """KᵀK as a P x P object array."""
        return self.K.T @ self.K

    def pinv_pow(self, q: Any, ops: Any) -> Any:
        """(F⁺)^q, factored through G = KKᵀ when K has fewer rows than columns (see the class docstring)."""
        m, P = self.K.shape
        if m >= P:
            return ops.pinv_pow(self.dense(), q)
        G = self.K @ self.K.T
        qq = ops.scalar(q)
        cutoff = _mp_cutoff(ops.dps)
        if qq == 1:
            c_inv = _cholesky_inverse(G)             # G⁻¹ = C⁻ᵀC⁻¹, tr G⁻¹ = ‖C⁻¹‖_F²
            if c_inv is not None:
                trace_inv = mpmath.fsum(x * x for x in c_inv.ravel())
                if mpmath.fsum(G[i, i] for i in range(m)) * trace_inv < 1 / (2 * cutoff):
                    inv = c_inv.T @ c_inv
                    return _MpFactoredPower(self.K, inv @ inv)
        # (G⁺)^{q+1} with `MpmathOps`' cut-off (relative to λ_max(G) = λ_max(F))
        M = ops.pinv_pow(G, Fraction(q) + 1)
        return _MpFactoredPower(self.K, M)


def to_mpf_array(x: Any) -> np.ndarray:
    """Exact conversion of a float array to an object array of `mpmath.mpf` (binary floats are exact)."""
    arr = np.asarray(x, dtype=float)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(arr.shape):
        out[idx] = mpmath.mpf(arr[idx])
    return out


def gbs_integrate(F: Callable[[np.ndarray], np.ndarray], y0: np.ndarray, t: Sequence[float],
                  dps: int) -> tuple[list[np.ndarray], int]:
    """Integrate dy/dt = F(y) at the current mpmath precision; return (states at each t, evaluations).

    Adaptive macro steps of `_gbs_step` with local tolerance 10^−(dps−3) relative. The float64
    times are converted exactly to mpf. Raises ValueError on a non-finite state or step underflow.
    """
    calls = [0]

    def field(_time: Any, y: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return F(y)

    y = y0.copy()
    tol = mpmath.mpf(10) ** (-(dps - 3))
    tiny = mpmath.mpf(10) ** (-12)
    result, now, H = [], mpmath.mpf(0), mpmath.mpf("0.1")
    progress = Progress(f"integrate (mpmath, {dps} digits)", float(t[-1]) if len(t) else 0.0, "t")
    for time in t:
        target = mpmath.mpf(float(time))
        while now < target:
            step = min(H, target - now)
            y_new, ok, H_next = _gbs_step(field, now, y, step, tol)
            if ok:
                now, y = now + step, y_new
                progress.update(float(now), f"{calls[0]} velocity evaluations")
                if not all(mpmath.isfinite(x) for x in y):
                    raise ValueError(f"non-finite state at t = {mpmath.nstr(now, 8)}")
                H = max(H, H_next) if step < H else H_next
            else:
                if step < tiny * max(target, mpmath.mpf(1)):
                    raise ValueError(f"step size underflow at t = {mpmath.nstr(now, 8)}")
                H = H_next
        result.append(y.copy())
    return result, calls[0]


def _gbs_step(F: Any, x: Any, y: np.ndarray, H: Any, tol: Any, k_max: int = 14) -> tuple[np.ndarray, bool, Any]:
    """One Gragg–Bulirsch–Stoer macro step of size H; returns (y(x + H), accepted, next H).

    Modified midpoint rule with n_k = 2k sub-steps, Aitken–Neville extrapolation in h² (the
    midpoint rule's error expansion is even in h, Gragg 1965). The next step follows the error
    estimate of the column that converged, err_k ∝ H^{2k−1} (Hairer, Nørsett & Wanner §II.9):
    H_next = H · 0.9 (tol/err_k)^{1/(2k−1)}, kept within [H/4, 4H], and pulled towards the work-optimal
    column k ≈ 8 (a step that needed k > 10 columns shrinks, one that needed k <= 5 grows).
    """
    f0 = F(x, y)
    rows: list[list[np.ndarray]] = []
    for k in range(1, k_max + 1):
        n = 2 * k
        h = H / n
        z0, z1 = y, y + f0 * h                 # array * mpf: mpf * array would first try (and fail) to convert the array
        for m in range(1, n):
            z0, z1 = z1, z0 + F(x + m * h, z1) * (2 * h)
        row = [(z0 + z1 + F(x + H, z1) * h) / 2]
        for j in range(1, k):
            ratio = mpmath.mpf(n) ** 2 / mpmath.mpf(2 * (k - j)) ** 2
            row.append(row[j - 1] + (row[j - 1] - rows[-1][j - 1]) / (ratio - 1))
        rows.append(row)
        if k >= 3:
            err = max(abs(a - b) for a, b in zip(row[-1], row[-2]))
            scale = 1 + max(abs(a) for a in row[-1])
            if err <= tol * scale:
                ratio = (tol * scale / err) if err > 0 else mpmath.mpf(10) ** 6
                fac = mpmath.mpf("0.9") * ratio ** (mpmath.mpf(1) / (2 * k - 1))
                if k > 10:
                    fac = min(fac, mpmath.mpf("0.7"))
                elif k <= 5:
                    fac = max(fac, mpmath.mpf(2))
                return row[-1], True, H * min(max(fac, mpmath.mpf("0.25")), mpmath.mpf(4))
    return y, False, H / 4
