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
    # products with the identities A_1 = I and B_L = I are skipped (two fewer matrix products per call)
    A = [eye(W[0].shape[1])]
    for i in range(1, L):
        A.append(W[0] if i == 1 else W[i - 1] @ A[-1])
    B = [eye(W[-1].shape[0])]
    for i in range(L - 2, -1, -1):
        B.insert(0, W[-1] if i == L - 2 else B[0] @ W[i + 1])
    end = W[0] if L == 1 else W[-1] @ A[-1]
    return tuple(A), tuple(B), end


def end_to_end(W: Sequence[Any]) -> Any:
    """W = W_L⋯W_1, the end-to-end map; stacked layers (..., n_i, n_{i-1}) give a stack of maps.

    Args:
        W: layer weights W_1..W_L (L >= 1); W_i has shape (n_i, n_{i-1}).

    >>> import numpy as np
    >>> end_to_end([np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])]).tolist()
    [[3.0, 6.0], [4.0, 8.0]]
    """
    out = W[0]
    for w in W[1:]:
        out = w @ out
    return out


def end_to_end_velocity(A: Sequence[Any], B: Sequence[Any], V: Sequence[Any]) -> Any:
    """dW/dt = Σ_i B_i (dW_i/dt) A_i for W = W_L⋯W_1 (product rule; the Jacobian J applied to V).

    Args:
        A, B: A_i = W_{i-1}⋯W_1 and B_i = W_L⋯W_{i+1}, as from `chain_products`.
        V: layer velocities V_i = dW_i/dt, V_i shaped like W_i.

    >>> import numpy as np
    >>> W = [np.array([[2.0]]), np.array([[3.0]])]
    >>> A, B, _ = chain_products(W, np.eye)
    >>> end_to_end_velocity(A, B, [np.array([[1.0]]), np.array([[1.0]])]).tolist()   # 3·1 + 1·2
    [[5.0]]
    """
    total = B[0] @ V[0] @ A[0]
    for i in range(1, len(V)):
        total = total + B[i] @ V[i] @ A[i]
    return total


def squared_loss_gradients(A: Sequence[Any], B: Sequence[Any], W_end: Any, Sigma: Any, Sigma_yx: Any) -> tuple[Any, ...]:
    """∂ℓ/∂W_i = B_iᵀ (WΣ − Σ_yx) A_iᵀ for ℓ = ½ tr[(W − W*)Σ(W − W*)ᵀ] (Saxe et al. 2014 Eq. 6)."""
    residual = W_end @ Sigma - Sigma_yx
    L = len(A)
    out = []
    for i in range(L):
        g = residual if i == L - 1 else B[i].T @ residual          # B_L = I
        out.append(g if i == 0 else g @ A[i].T)                    # A_1 = I
    return tuple(out)
