"""Losses of a network's outputs, each with the Fisher of its output distribution (numpy only).

A loss ℓ(f; Y) of the outputs f (k x n, one column per example) against the targets Y of the
data, reduced over the n examples by a mean (default, so that squared loss on samples equals the
moment form ½ tr[(W − W*)Σ(W − W*)ᵀ] + const of `lindyn.Task.from_data`) or a sum:

    ℓ = ω Σ_n ℓ_n(f_n),  ω = 1/n ("mean") or 1 ("sum").

Each loss gives ∇_f ℓ and its *output curvature* D (k x n): the Fisher of the output distribution
at each output entry (Kerekes et al. 2021; THEORY §4), weighted by ω, so that the parameter
Fisher is F = J_fᵀ diag(vec D) J_f:

* `SquaredLoss`: ℓ_n = ½‖f_n − y_n‖², unit Gaussian, D = ω.
* `LogisticLoss`: ℓ_n = ln(1 + e^{−y_n f_n}), labels ±1, Bernoulli, D = ω p(1 − p).
* `MaskedSquaredLoss`: ℓ_n = ½ Σ_j m_jn (f_jn − y_jn)² (matrix completion / sensing on Ω = {m = 1});
  `fisher="data"` gives D = ω m (the Fisher of the observed entries), `fisher="model"` D = ω
  (a Gaussian model of every entry). THEORY §4 [open]: both NGD readings are offered.

`kfac_weights` factors the per-example curvature as D_n ≈ c_n diag(o) (exact for the first two
losses; for the masked loss it is Martens & Grosse's independence approximation, o = row means of
the mask): K-FAC's factors are then Σ_n ω c_n a_n a_nᵀ (input side) and E[gᵀ diag(o) g] (output
side), see `lindyn.numeric.geometry`.

>>> import numpy as np
>>> loss = LogisticLoss(reduction="sum")
>>> f, y = np.array([[0.0, 2.0]]), np.array([[1.0, -1.0]])
>>> np.round(loss.grad(f, y), 6)        # −y σ(−y f)
array([[-0.5     ,  0.880797]])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from scipy.special import expit, log_expit

from .._checks import fail

__all__ = ["Loss", "SquaredLoss", "LogisticLoss", "MaskedSquaredLoss", "LowRankGram"]

Reduction = Literal["mean", "sum"]


class Loss(Protocol):
    """A loss ℓ(f; Y) of the outputs f (k x n) with its output-distribution curvature."""

    @property
    def name(self) -> str:
        """Short name."""
        ...

    def check_targets(self, Y: np.ndarray) -> np.ndarray:
        """Return the targets if this loss accepts them (shape k x n), else raise `LindynError`."""
        ...

    def value(self, f: np.ndarray, Y: np.ndarray) -> float:
        """ℓ(f; Y)."""
        ...

    def grad(self, f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """∇_f ℓ, shape (k, n)."""
        ...

    def curvature(self, f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Output Fisher D per entry (weighted by the reduction), shape (k, n)."""
        ...

    def kfac_weights(self, f: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(c, o) with D_n ≈ ω c_n diag(o): per-example (n,) and per-output (k,) weights."""
        ...


def _weight(reduction: str, n: int) -> float:
    return 1.0 / n if reduction == "mean" else 1.0


def _check_reduction(reduction: Any) -> None:
    if reduction not in ("mean", "sum"):
        raise fail("reduction", "'mean' or 'sum'", reduction)


@dataclass(frozen=True)
class SquaredLoss:
    """Squared error ℓ = ω Σ_n ½‖f_n − y_n‖² with the unit-Gaussian output Fisher.

    Args:
        reduction: "mean" (ω = 1/n, default) or "sum" (ω = 1) over examples.

    >>> SquaredLoss().value(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]]))
    2.5
    """

    reduction: Reduction = "mean"

    def __post_init__(self) -> None:
        _check_reduction(self.reduction)

    @property
    def name(self) -> str:
        """'squared'."""
        return "squared"

    def check_targets(self, Y: np.ndarray) -> np.ndarray:
        """Any real targets."""
        return Y

    def value(self, f: np.ndarray, Y: np.ndarray) -> float:
        """ω ½ ‖f − Y‖²_F."""
        return _weight(self.reduction, f.shape[1]) * 0.5 * float(np.sum((f - Y) ** 2))

    def grad(self, f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """ω (f − Y)."""
        return _weight(self.reduction, f.shape[1]) * (f - Y)

    def curvature(self, f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """ω on every entry."""
        return np.full(f.shape, _weight(self.reduction, f.shape[1]))

    def kfac_weights(self, f: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c = 1, o = 1: exact Kronecker factors."""
        return np.ones(f.shape[1]), np.ones(f.shape[0])


@dataclass(frozen=True)
class LogisticLoss:
    """Logistic loss ℓ = ω Σ_n ln(1 + e^{−y_n f_n}), labels ±1 (one output), Bernoulli Fisher.

    With margins m_n = y_n f_n: ∇_f ℓ = −ω y σ(−m), D = ω σ(m)σ(−m); computed in log space, so
    large margins neither overflow nor lose precision.

    Args:
        reduction: "mean" (default) or "sum".
    """

    reduction: Reduction = "mean"

    def __post_init__(self) -> None:
        _check_reduction(self.reduction)

    @property
    def name(self) -> str:
        """'logistic'."""
        return "logistic"

    def check_targets(self, Y: np.ndarray) -> np.ndarray:
        """One row of labels in {−1, +1}."""
        if Y.shape[0] != 1 or not np.all(np.abs(Y) == 1):
            raise fail("Y", "one row of labels in {-1, +1} for the logistic loss", Y.tolist() if Y.size < 8 else Y.shape)
        return Y

    @staticmethod
    def margins(f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """m_n = y_n f_n, shape (1, n)."""
        return f * Y

    def value(self, f: np.ndarray, Y: np.ndarray) -> float:
        """ω Σ ln(1 + e^{−m})."""
        return _weight(self.reduction, f.shape[1]) * float(-np.sum(log_expit(f * Y)))

    def grad(self, f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """−ω y σ(−m), shape (1, n)."""
        return -_weight(self.reduction, f.shape[1]) * Y * expit(-f * Y)

    def curvature(self, f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """ω σ(m)σ(−m) = ω e^{ln σ(m) + ln σ(−m)}, shape (1, n)."""
        m = f * Y
        return _weight(self.reduction, f.shape[1]) * np.exp(log_expit(m) + log_expit(-m))

    def kfac_weights(self, f: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c = p(1 − p), o = 1: exact for a scalar output."""
        m = (f * Y)[0]
        return np.exp(log_expit(m) + log_expit(-m)), np.ones(1)


@dataclass(frozen=True, eq=False)
class MaskedSquaredLoss:
    """Masked squared error ℓ = ω Σ_n ½ Σ_j m_jn (f_jn − y_jn)² (matrix completion on Ω = {m = 1}).

    Completion of an n x n matrix M is this loss on the data X = I (one example per column),
    Y = M: then f = W and ℓ = ω ½‖P_Ω(W − M)‖².

    Args:
        mask: 0/1 array of the targets' shape, 1 on the observed set Ω.
        fisher: "data" (D = ω m, Fisher of the observed entries) or "model" (D = ω on every entry:
            natural gradient is then the reparameterisation-invariant flow Ẇ = −P_Ω(W − M)).
        reduction: "mean" (default) or "sum".
    """

    mask: Any
    fisher: Literal["data", "model"] = "data"
    reduction: Reduction = "mean"

    def __post_init__(self) -> None:
        try:
            mask = np.array(self.mask, dtype=float)
        except (TypeError, ValueError):
            raise fail("mask", "a 0/1 array", self.mask) from None
        if mask.ndim != 2 or not np.all((mask == 0) | (mask == 1)):
            raise fail("mask", "a 2-d array of zeros and ones", self.mask)
        if self.fisher not in ("data", "model"):
            raise fail("fisher", "'data' or 'model'", self.fisher)
        _check_reduction(self.reduction)
        object.__setattr__(self, "mask", mask)

    @property
    def name(self) -> str:
        """'masked-squared(data)' or 'masked-squared(model)'."""
        return f"masked-squared({self.fisher})"

    def check_targets(self, Y: np.ndarray) -> np.ndarray:
        """Targets of the mask's shape."""
        if Y.shape != self.mask.shape:
            raise fail("Y", f"targets of the mask's shape {self.mask.shape}", f"shape {Y.shape}")
        return Y

    def value(self, f: np.ndarray, Y: np.ndarray) -> float:
        """ω ½ ‖P_Ω(f − Y)‖²."""
        return _weight(self.reduction, f.shape[1]) * 0.5 * float(np.sum((self.mask * (f - Y)) ** 2))

    def grad(self, f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """ω P_Ω(f − Y)."""
        return _weight(self.reduction, f.shape[1]) * self.mask * (f - Y)

    def curvature(self, f: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """ω m (data Fisher) or ω (model Fisher)."""
        w = _weight(self.reduction, f.shape[1])
        return w * self.mask if self.fisher == "data" else np.full(f.shape, w)

    def kfac_weights(self, f: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c = 1, o = row means of D/ω (K-FAC's independence approximation for the data Fisher)."""
        o = self.mask.mean(axis=1) if self.fisher == "data" else np.ones(f.shape[0])
        return np.ones(f.shape[1]), o


@dataclass(frozen=True)
class _LowRankOperator:
    """V diag(w) Vᵀ kept factored; `@` applies it to a vector or matrix."""

    V: np.ndarray
    w: np.ndarray

    def __matmul__(self, x: Any) -> np.ndarray:
        if np.ndim(x) == 2:
            return self.V @ (self.w[:, None] * (self.V.T @ x))
        return self.V @ (self.w * (self.V.T @ x))


@dataclass(frozen=True)
class LowRankGram:
    """F = KᵀK kept factored (K = D^{1/2} J_f, one row per output entry and example).

    `pinv_pow(q)` = (F⁺)^q = V diag(σ^{−2q}) Vᵀ from the thin SVD K = U diag(σ) Vᵀ, keeping
    σ² > rcond · σ_max² (the cutoff `NumpyOps` applies to eigenvalues of F): never the P x P
    eigendecomposition, and accurate to the square root of the conditioning forming F would cost.

    >>> K = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    >>> from lindyn.numeric._ops import NumpyOps
    >>> np.round(LowRankGram(K).pinv_pow(1, NumpyOps()) @ np.ones(3), 6)
    array([1.  , 0.25, 0.  ])
    """

    K: np.ndarray

    def pinv_pow(self, q: Any, ops: Any) -> _LowRankOperator:
        """(F⁺)^q as a factored operator."""
        _, sig, Vt = np.linalg.svd(self.K, full_matrices=False)
        rcond = getattr(ops, "rcond", 1e-12)
        keep = sig ** 2 > rcond * max(float(sig[0]) ** 2 if sig.size else 0.0, np.finfo(float).tiny)
        return _LowRankOperator(Vt[keep].T, sig[keep] ** (-2.0 * float(ops.scalar(q))))

    def __matmul__(self, v: Any) -> np.ndarray:
        """F v = Kᵀ(K v)."""
        return self.K.T @ (self.K @ v)

    def dense(self) -> np.ndarray:
        """KᵀK as a P x P matrix."""
        return self.K.T @ self.K

    def rank(self, rcond: float = 1e-12) -> int:
        """Numerical rank of F (= rank of K)."""
        sig = np.linalg.svd(self.K, compute_uv=False)
        return int(np.sum(sig ** 2 > rcond * sig[0] ** 2)) if sig.size else 0
