"""Balanced modes at a symbolic depth L: one generic layer with multiplicity L (sympy only).

On a balanced aligned mode every layer has the same gain a, so layer k (1 <= k <= L) sees the chain
products A_k = a^{k−1}, B_k = a^{L−k}, the K-FAC factors Ā_k = λa^{2(k−1)}, G_k = a^{2(L−k)}, and the
rank-one mode Fisher F = λjjᵀ with the uniform column j = a^{L−1}·1_L, |j|² = L a^{2L−2}. The rule's
own `velocity` runs once on this `UniformGeometry` with a symbolic layer index k; the engine then
requires the velocity to be free of k (every layer moves alike) and reads off

    τu̇ = L a^{L−1} φ(a),  a = u^{1/L},   and, when it has that shape, τu̇ = c u^g (s − λu)

with c and g as functions of L (and q). The solution t(u) is the universal ₂F₁ antiderivative of
`lindyn.symbolic.solve`, valid for every L at once.

>>> from lindyn.rules import GD
>>> fam = derive_depth_family(GD())
>>> fam.ode.c, fam.ode.g
(L, 2 - 2/L)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy

from .._checks import NoModeDecomposition
from ._ops import SympyOps
from .modes import ModeODE, ModeSymbols, identify_power_form, mode_symbols, tidy_powers
from .solve import Solution, solve_balanced

__all__ = ["UniformGeometry", "UniformVector", "UniformRankOne", "DepthFamily", "derive_depth_family",
           "depth_symbol"]


def depth_symbol(name: str = "L") -> sympy.Symbol:
    """The depth as a positive integer symbol."""
    return sympy.Symbol(name, integer=True, positive=True)


@dataclass(frozen=True)
class UniformVector:
    """The parameter vector (x, x, …, x) of L equal layers (one entry per layer of a mode)."""

    x: sympy.Expr
    length: sympy.Expr

    def __neg__(self) -> "UniformVector":
        return UniformVector(-self.x, self.length)

    def __mul__(self, c: Any) -> "UniformVector":
        return UniformVector(self.x * c, self.length)

    __rmul__ = __mul__

    def __add__(self, other: "UniformVector") -> "UniformVector":
        return UniformVector(self.x + other.x, self.length)

    def __sub__(self, other: "UniformVector") -> "UniformVector":
        return UniformVector(self.x - other.x, self.length)


@dataclass(frozen=True)
class UniformOperator:
    """c·jjᵀ/|j|² restricted to uniform vectors (j uniform): multiplies them by `scale`; `extra` adds e·I
    on the complement (unused on uniform vectors)."""

    scale: sympy.Expr

    def __matmul__(self, v: UniformVector) -> UniformVector:
        if not isinstance(v, UniformVector):
            raise NoModeDecomposition("the any-depth geometry applies the Fisher only to per-layer velocities")
        return UniformVector(self.scale * v.x, v.length)

    def __neg__(self) -> "UniformOperator":
        return UniformOperator(-self.scale)

    def __mul__(self, c: Any) -> "UniformOperator":
        return UniformOperator(self.scale * c)

    __rmul__ = __mul__


@dataclass(frozen=True)
class UniformRankOne:
    """The mode Fisher λjjᵀ with j = a^{L−1}·1_L (rank one), optionally damped by εI."""

    entry: sympy.Expr
    length: sympy.Expr
    weight: sympy.Expr
    eps: sympy.Expr = sympy.S.Zero

    @property
    def norm2(self) -> sympy.Expr:
        """|j|² = L·entry²."""
        return self.length * self.entry ** 2

    def damped(self, eps: Any) -> "UniformRankOne":
        """λjjᵀ + εI."""
        return UniformRankOne(self.entry, self.length, self.weight, self.eps + sympy.sympify(eps))

    def pinv_pow(self, q: Any) -> UniformOperator:
        """(F⁺)^q (or (F + εI)^{−q}) on uniform vectors, which lie along j: multiplication by (λ|j|² + ε)^{−q}."""
        return UniformOperator((self.weight * self.norm2 + self.eps) ** (-sympy.sympify(q)))

    @property
    def T(self) -> "UniformRankOne":
        """Symmetric: itself."""
        return self

    def __matmul__(self, v: UniformVector) -> UniformVector:
        return UniformVector((self.weight * self.norm2 + self.eps) * v.x, v.length)


class UniformGeometry:
    """One generic layer k of a balanced mode at depth L: W_k = (a), Σ = (λ), Σ_yx = (s).

    Args:
        depth: L (a positive integer symbol).
        a: the common gain.
        s, lam: singular value and input variance of the mode.
        index: the generic layer index k (a symbol).
    """

    def __init__(self, depth: sympy.Expr, a: sympy.Expr, s: sympy.Expr, lam: sympy.Expr, index: sympy.Symbol) -> None:
        self.depth, self.a, self.s, self.lam, self.k = depth, a, s, lam, index
        L, k = depth, index
        self.W = (sympy.Matrix([[a]]),)
        self.Sigma = sympy.Matrix([[lam]])
        self.Sigma_yx = sympy.Matrix([[s]])
        self.A = (sympy.Matrix([[a ** (k - 1)]]),)
        self.B = (sympy.Matrix([[a ** (L - k)]]),)
        self.W_end = sympy.Matrix([[a ** L]])
        # ∂ℓ/∂W_k = B_kᵀ(WΣ − Σ_yx)A_kᵀ
        self.grads = (self.B[0].T * (self.W_end * self.Sigma - self.Sigma_yx) * self.A[0].T,)

    def input_factor(self, i: int) -> sympy.Matrix:
        """Ā_k = A_kΣA_kᵀ of the generic layer (the index is the symbol k)."""
        return self.A[0] * self.Sigma * self.A[0].T

    def output_factor(self, i: int) -> sympy.Matrix:
        """G_k = B_kᵀB_k of the generic layer."""
        return self.B[0].T * self.B[0]

    def fisher(self) -> UniformRankOne:
        """λjjᵀ, j_i = A_iB_i = a^{L−1} for every layer."""
        return UniformRankOne(self.a ** (self.depth - 1), self.depth, self.lam)

    def vec(self, layers: Any) -> UniformVector:
        """The uniform parameter vector of the (equal) layer blocks."""
        return UniformVector(sympy.Matrix(layers[0])[0, 0], self.depth)

    def unvec(self, v: UniformVector) -> tuple[sympy.Matrix, ...]:
        """The generic layer's block."""
        return (sympy.Matrix([[v.x]]),)


@dataclass(frozen=True)
class DepthFamily:
    """A rule's balanced mode for every depth L at once.

    Attributes:
        rule_name: the rule.
        depth: the symbol L.
        symbols: mode symbols (t, τ, s, λ, u, u0).
        step: φ(a), the velocity of every layer at equal gains a.
        ode: τu̇ = rhs (with c, g as functions of L when of power form).
        solution: t(u) valid for every L (₂F₁), from `solve_balanced`.
    """

    rule_name: str
    depth: sympy.Symbol
    symbols: ModeSymbols
    step: sympy.Expr
    ode: ModeODE
    solution: Solution


def _family_symbols(L: sympy.Symbol) -> ModeSymbols:
    base = mode_symbols(1)
    return ModeSymbols(t=base.t, tau=base.tau, s=base.s, lam=base.lam, u=base.u, u0=base.u0, gains=(),
                       gains0=(), depth=L)   # type: ignore[arg-type]


@lru_cache(maxsize=64)
def derive_depth_family(rule: Any, depth: sympy.Symbol | None = None, lam: Any = 1) -> DepthFamily:
    """Derive the balanced mode ODE and its solution for every depth L at once.

    Args:
        rule: a learning rule whose velocity runs on 1x1 blocks and the rank-one mode Fisher.
        depth: the depth symbol (default `depth_symbol()`, L).
        lam: input variance λ (default 1, whitened).

    Raises:
        NoModeDecomposition: the generic layer's velocity depends on its index (layers move at
            different speeds), or the rule needs a general matrix.
    """
    L = depth_symbol() if depth is None else depth
    sym = _family_symbols(L)
    lam = sympy.sympify(lam)
    a = sympy.Symbol("a", positive=True)
    k = sympy.Symbol("k", integer=True, positive=True)
    geo = UniformGeometry(L, a, sym.s, lam, k)
    try:
        out = rule.velocity(geo.grads, geo, SympyOps())
    except NoModeDecomposition:
        raise
    except Exception as err:   # a rule written for explicit layer tuples or concrete depths
        raise NoModeDecomposition(
            f"Argument `rule` must run on the any-depth geometry (one generic layer of multiplicity L); "
            f"{type(err).__name__}: {err}. Derive at a concrete depth instead.") from None
    v = out[0]
    phi = sympy.sympify(v.x if isinstance(v, UniformVector) else sympy.Matrix(v)[0, 0])
    phi = sympy.powsimp(sympy.powdenest(tidy_powers(phi), force=True), force=True)
    if phi.has(k):
        phi_k = sympy.simplify(phi)
        if phi_k.has(k):
            raise NoModeDecomposition(
                f"Argument `rule` ({getattr(rule, 'name', rule)!r}) moves the layers of a balanced mode at "
                "different speeds (its velocity depends on the layer index), so no depth-free mode ODE exists.")
        phi = phi_k
    u = sym.u
    rhs = tidy_powers(L * a ** (L - 1) * phi).subs(a, u ** (1 / L))
    rhs = sympy.factor_terms(sympy.powsimp(sympy.powdenest(tidy_powers(rhs), force=True), force=True))
    form = identify_power_form(rhs, u, sym.s, lam)
    if form is None:
        ode = ModeODE(rhs=rhs, c=None, g=None)
    else:
        c, g = (sympy.simplify(x) for x in form)
        ode = ModeODE(rhs=c * u ** g * (sym.s - lam * u), c=c, g=g)
    return DepthFamily(rule_name=rule.name, depth=L, symbols=sym, step=phi, ode=ode,
                       solution=solve_balanced(ode, sym, lam))
