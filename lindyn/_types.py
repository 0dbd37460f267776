"""Type aliases shared by the symbolic and numeric sides (no runtime dependency on either)."""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Protocol, Sequence, Union

#: An exact curvature power: int, Fraction, or a sympy expression (e.g. a Symbol).
Exponent = Union[int, Fraction, Any]

#: Per-layer matrices W_1..W_L (numpy arrays, sympy matrices or object arrays of mpmath numbers).
Layers = tuple[Any, ...]


class Ops(Protocol):
    """Backend operations a learning rule may use besides `@`, `.T`, `+`, `-` and scalar `*`."""

    def pinv_pow(self, M: Any, q: Exponent) -> Any:
        """(M⁺)^q for symmetric PSD M (Moore–Penrose power), or a structured operator."""
        ...

    def eye(self, n: int) -> Any:
        """Identity matrix of size n."""
        ...

    def scalar(self, x: Any) -> Any:
        """Convert an exact number (int, Fraction) to this backend's scalar type."""
        ...

    def sqrt(self, x: Any) -> Any:
        """Square root of a scalar in this backend."""
        ...


class Geometry(Protocol):
    """Layer geometry of a deep linear network at one point θ = (W_1..W_L).

    A_i = W_{i-1}⋯W_1 (identity for i = 1), B_i = W_L⋯W_{i+1} (identity for i = L), Σ = E[xxᵀ].
    Indices are 0-based: `A[0]` is A_1.
    """

    depth: int
    W: Layers
    A: Layers
    B: Layers
    Sigma: Any

    def input_factor(self, i: int) -> Any:
        """K-FAC's input factor Ā_i of layer i (0-based): E[a aᵀ] of the layer's input a.

        Deep linear net, squared loss: A_iΣA_iᵀ. With a per-example output curvature D_n = c_n Ω
        the weights c_n enter here (exact Kronecker factorisation of the block F_ii).
        """
        ...

    def output_factor(self, i: int) -> Any:
        """K-FAC's output factor G_i of layer i (0-based): back-propagated output curvature.

        Deep linear net, squared loss: B_iᵀB_i; in general B_iᵀΩB_i, Ω the loss's output curvature.
        """
        ...

    def fisher(self) -> Any:
        """F = Jᵀ(Σ ⊗ I)J, J_i = A_iᵀ ⊗ B_i; dense or a structured operator for `ops.pinv_pow`."""
        ...

    def vec(self, layers: Sequence[Any]) -> Any:
        """Stack column-major vec(W_i) of all layers into one vector θ."""
        ...

    def unvec(self, v: Any) -> Layers:
        """Inverse of `vec`."""
        ...
