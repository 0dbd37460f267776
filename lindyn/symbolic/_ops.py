"""Per-mode geometry and sympy backend operations for the learning rules.

On an aligned initialisation every singular mode evolves alone: layer i acts on the mode as the
scalar gain a_i, so each W_i is a 1x1 block, Σ = (λ), Σ_yx = (s), and the per-mode Jacobian of the
end-to-end strength u = ∏ a_i is the row j with j_i = ∂u/∂a_i = ∏_{k≠i} a_k. The per-mode Fisher
F = λ jᵀj is rank one (rank 1 of L), which `SympyOps.pinv_pow` inverts in closed form:
(F⁺)^q = (λ|j|²)^{−q} jᵀj / |j|². Levenberg–Marquardt damping keeps the structure:
(F + εI)^{−q} = (λ|j|² + ε)^{−q} P_j + ε^{−q}(I − P_j), P_j = jjᵀ/|j|², and on a mode the
gradient lies along j, so the damped rule acts on it as the scalar (λ|j|² + ε)^{−q}.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import sympy

from .._chain import chain_products, squared_loss_gradients
from .._checks import NoModeDecomposition


@dataclass(frozen=True)
class RankOneGram:
    """The rank-one matrix weight · jᵀj, kept factored so its Moore–Penrose power is exact."""

    j: sympy.Matrix        # column vector (L x 1)
    weight: sympy.Expr     # λ, the input variance of the mode

    def as_matrix(self) -> sympy.Matrix:
        """weight · j jᵀ as an explicit L x L matrix."""
        return self.weight * self.j * self.j.T

    @property
    def T(self) -> "RankOneGram":
        """Symmetric: itself."""
        return self

    def __matmul__(self, v: Any) -> sympy.Matrix:
        """(weight · j jᵀ) @ v, kept factored as j · (weight · jᵀv) (a rule may apply F itself)."""
        return RankOneOperator(self.j, self.weight) @ v

    def __rmatmul__(self, v: Any) -> sympy.Matrix:
        return (self @ sympy.Matrix(v).T).T

    @property
    def shape(self) -> tuple[int, int]:
        """(L, L)."""
        return (self.j.shape[0], self.j.shape[0])

    def dense(self) -> sympy.Matrix:
        """weight · j jᵀ as an explicit matrix (for rules that slice diagonal blocks)."""
        return self.as_matrix()

    def damped(self, eps: Any) -> "DampedRankOneGram":
        """weight · j jᵀ + εI, kept factored (Levenberg–Marquardt damping)."""
        return DampedRankOneGram(self.j, self.weight, sympy.sympify(eps))


@dataclass(frozen=True)
class DampedRankOneGram:
    """weight · j jᵀ + εI (ε > 0), kept factored so that its inverse power is exact:
    (weight·jjᵀ + εI)^{−q} = (weight|j|² + ε)^{−q} P_j + ε^{−q}(I − P_j), P_j = jjᵀ/|j|²."""

    j: sympy.Matrix
    weight: sympy.Expr
    eps: sympy.Expr

    @property
    def T(self) -> "DampedRankOneGram":
        """Symmetric: itself."""
        return self

    def as_matrix(self) -> sympy.Matrix:
        """weight · j jᵀ + εI as an explicit matrix."""
        return self.weight * self.j * self.j.T + self.eps * sympy.eye(self.j.shape[0])


@dataclass(frozen=True)
class DampedRankOneOperator:
    """along · P_j + across · (I − P_j), P_j = jjᵀ/|j|², applied to v as j·(along · jᵀv/|j|²) plus
    across · (v − P_j v). On a mode the gradient lies along j, the second part vanishes identically
    and every layer's velocity keeps one common scalar factor (as for `RankOneOperator`)."""

    j: sympy.Matrix
    along: sympy.Expr
    across: sympy.Expr

    @property
    def T(self) -> "DampedRankOneOperator":
        """Symmetric: itself."""
        return self

    def as_matrix(self) -> sympy.Matrix:
        """The operator as an explicit matrix."""
        norm2 = (self.j.T * self.j)[0, 0]
        P = self.j * self.j.T / norm2
        return self.along * P + self.across * (sympy.eye(self.j.shape[0]) - P)

    def __matmul__(self, v: Any) -> Any:
        v = sympy.Matrix(v)
        if v.shape[0] != self.j.shape[0]:
            return self.as_matrix() @ v
        norm2 = sympy.expand((self.j.T * self.j)[0, 0])
        cols = []
        for k in range(v.shape[1]):
            coef = sympy.cancel(sympy.factor_terms((self.j.T * v[:, k])[0, 0]) / norm2)
            rest = (v[:, k] - self.j * coef).applyfunc(sympy.cancel)
            col = self.j * sympy.factor_terms(self.along * coef)
            if not rest.is_zero_matrix:
                col = col + self.across * rest
            cols.append(col)
        return sympy.Matrix.hstack(*cols)

    def __rmatmul__(self, v: Any) -> Any:
        return (self @ sympy.Matrix(v).T).T

    def __neg__(self) -> "DampedRankOneOperator":
        return DampedRankOneOperator(self.j, -self.along, -self.across)

    def __mul__(self, x: Any) -> "DampedRankOneOperator":
        return DampedRankOneOperator(self.j, self.along * x, self.across * x)

    __rmul__ = __mul__


@dataclass(frozen=True)
class RankOneOperator:
    """scale · j jᵀ kept factored: `P @ v` = j · (scale · jᵀv), so every layer's velocity shares
    one common scalar factor (the engine reads conserved quantities off velocity ratios)."""

    j: sympy.Matrix
    scale: sympy.Expr

    @property
    def T(self) -> "RankOneOperator":
        """Symmetric: itself."""
        return self

    def as_matrix(self) -> sympy.Matrix:
        """scale · j jᵀ as an explicit matrix."""
        return self.scale * self.j * self.j.T

    def __matmul__(self, v: Any) -> Any:
        v = sympy.Matrix(v)
        if v.shape[0] != self.j.shape[0]:
            return self.as_matrix() @ v
        cols = [sympy.factor_terms(self.scale * (self.j.T * v[:, k])[0, 0]) for k in range(v.shape[1])]
        return sympy.Matrix.hstack(*[self.j * c for c in cols])

    def __rmatmul__(self, v: Any) -> Any:
        return (self @ sympy.Matrix(v).T).T

    def __neg__(self) -> "RankOneOperator":
        return RankOneOperator(self.j, -self.scale)

    def __mul__(self, x: Any) -> "RankOneOperator":
        return RankOneOperator(self.j, self.scale * x)

    __rmul__ = __mul__


class SympyOps:
    """Backend operations on sympy matrices (gains assumed positive)."""

    def pinv_pow(self, M: Any, q: Any) -> sympy.Matrix:
        """(M⁺)^q for a 1x1 block, a diagonal matrix, a `RankOneGram`, or (M)^{−q} for a `DampedRankOneGram`.

        Raises:
            NoModeDecomposition: for a general symbolic matrix (use `lindyn.integrate`).
        """
        q = sympy.sympify(q)
        if hasattr(M, "pinv_pow"):          # structured operators that know their own power (any-depth geometry)
            return M.pinv_pow(q)
        if isinstance(M, RankOneGram):
            norm2 = sympy.expand((M.j.T * M.j)[0, 0])
            return RankOneOperator(M.j, (M.weight * norm2) ** (-q) / norm2)
        if isinstance(M, DampedRankOneGram):
            norm2 = sympy.expand((M.j.T * M.j)[0, 0])
            return DampedRankOneOperator(M.j, (M.weight * norm2 + M.eps) ** (-q), M.eps ** (-q))
        M = sympy.Matrix(M)
        if M.is_diagonal():
            return sympy.diag(*[(d ** (-q) if d != 0 else sympy.S.Zero) for d in M.diagonal()])
        raise NoModeDecomposition(
            "Argument `rule` must act on a mode through 1x1 blocks or the rank-one mode Fisher; "
            "this rule needs a general matrix power, so use lindyn.integrate (full-matrix route)."
        )

    def eye(self, n: int) -> sympy.Matrix:
        """sympy identity matrix."""
        return sympy.eye(n)

    def scalar(self, x: Any) -> sympy.Expr:
        """Exact sympy number: Fraction -> Rational; a float is read as the decimal it prints as
        (1e-05 -> 1/100000), so that a damping given as a float keeps the derivation exact (sympy's
        rational-function algorithms fail on Float coefficients)."""
        if isinstance(x, float) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") == "f"):
            return sympy.Rational(repr(float(x)))
        return sympy.sympify(x)

    def sqrt(self, x: Any) -> sympy.Expr:
        """sympy.sqrt."""
        return sympy.sqrt(x)


class ModeGeometry:
    """Geometry of one aligned singular mode: W_i = (a_i), Σ = (λ), Σ_yx = (s).

    Args:
        gains: the layer gains a_1..a_L (sympy expressions, assumed positive).
        s: singular value of Σ_yx for this mode.
        lam: input variance λ along this mode (1 for whitened input).
    """

    def __init__(self, gains: Sequence[Any], s: Any, lam: Any = 1) -> None:
        self.depth = len(gains)
        self.W = tuple(sympy.Matrix([[a]]) for a in gains)
        self.Sigma = sympy.Matrix([[lam]])
        self.Sigma_yx = sympy.Matrix([[s]])
        self.A, self.B, self.W_end = chain_products(self.W, sympy.eye)
        self.grads = squared_loss_gradients(self.A, self.B, self.W_end, self.Sigma, self.Sigma_yx)

    def input_factor(self, i: int) -> sympy.Matrix:
        """K-FAC input factor Ā_i = A_iΣA_iᵀ (1x1 on a mode)."""
        return self.A[i] * self.Sigma * self.A[i].T

    def output_factor(self, i: int) -> sympy.Matrix:
        """K-FAC output factor G_i = B_iᵀB_i (1x1 on a mode)."""
        return self.B[i].T * self.B[i]

    def fisher(self) -> RankOneGram:
        """Per-mode Fisher λ jᵀj with j_i = A_i B_i = ∏_{k≠i} a_k (rank one)."""
        j = sympy.Matrix([(self.B[i] * self.A[i])[0, 0] for i in range(self.depth)])
        return RankOneGram(j, self.Sigma[0, 0])

    def vec(self, layers: Sequence[Any]) -> sympy.Matrix:
        """Column (a_1-velocity, ..., a_L-velocity) from 1x1 blocks."""
        return sympy.Matrix([sympy.Matrix(x)[0, 0] for x in layers])

    def unvec(self, v: Any) -> tuple[sympy.Matrix, ...]:
        """Split a length-L column into 1x1 blocks."""
        v = sympy.Matrix(v)
        return tuple(sympy.Matrix([[v[i]]]) for i in range(self.depth))
