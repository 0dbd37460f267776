"""Chain algebra of a deep linear network, written once with `@` and `.T` only.

Shared by the symbolic per-mode geometry (1x1 sympy matrices) and the numeric full-matrix
geometry (numpy or mpmath object arrays), so both sides compute A_i, B_i and the layer gradients
∂ℓ/∂W_i = B_iᵀ (WΣ − Σ_yx) A_iᵀ by the same code.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence


def chain_products(W: Sequence[Any], eye: Callable[[int], Any]) -> tuple[tuple[Any, ...], tuple[Any, ...], Any]:
    """Return (A, B, W_end) with A_i = W_{i-1}⋯W_1, B_i = W_L⋯W_{i+1}, W_end = W_L⋯W_1.

    Args:
        W: layer weights W_1..W_L; W_i has shape (n_i, n_{i-1}).
        eye: identity constructor of the backend.
    """
    L = len(W)
    A = [eye(W[0].shape[1])]
    for i in range(1, L):
        A.append(W[i - 1] @ A[-1])
    B = [eye(W[-1].shape[0])]
    for i in range(L - 2, -1, -1):
        B.insert(0, B[0] @ W[i + 1])
    end = W[-1] @ A[-1]
    return tuple(A), tuple(B), end


def squared_loss_gradients(A: Sequence[Any], B: Sequence[Any], W_end: Any, Sigma: Any, Sigma_yx: Any) -> tuple[Any, ...]:
    """∂ℓ/∂W_i = B_iᵀ (WΣ − Σ_yx) A_iᵀ for ℓ = ½ tr[(W − W*)Σ(W − W*)ᵀ] (Saxe et al. 2014 Eq. 6)."""
    residual = W_end @ Sigma - Sigma_yx
    return tuple(B[i].T @ residual @ A[i].T for i in range(len(A)))
