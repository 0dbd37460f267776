"""Conserved quantities of an aligned mode, derived from the ratio of layer velocities (sympy only).

When the per-layer velocities separate as τ ȧ_i = h(a_1, …, a_L) · k(a_i), with one common factor
h and one per-layer function k, every Φ(a_i) = ∫ da/k(a) moves at the same speed h/τ, so

    Φ(a_i) − Φ(a_j) is conserved.

The engine finds k from the ratio ȧ_1/ȧ_2 = k(a_1)/k(a_2), checks the separation for every layer,
and integrates 1/k. For k(a) = a^p (every built-in rule) Φ = a^{1−p}/(1−p), or ln a at p = 1:
GD and full NGD^q give k = 1/a (a_i² − a_j², Saxe et al. 2014 Eq. 14); block NGD^q gives
k = a^{2q−1} (a_i^{2−2q} − a_j^{2−2q}; a_i/a_j at q = 1).

>>> from lindyn.rules import GD
>>> conserved_quantities(GD(), 3)
(a_1**2 - a_2**2, a_2**2 - a_3**2)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy

from ..rules import LearningRule
from .._checks import check_int
from .modes import _tidy, _velocities, mode_symbols

__all__ = ["Separation", "separate_velocities", "conserved_quantities"]


@dataclass(frozen=True)
class Separation:
    """τ ȧ_i = h · k(a_i) with Φ(x) = ∫ dx/k(x); `power` = n when Φ ∝ x^n (0 for ln x), else None.

    `conserved` lists Φ-differences of neighbouring layers in their plain form (a_i^n − a_{i+1}^n,
    or a_i/a_{i+1} for the logarithm).
    """

    x: sympy.Symbol
    k: sympy.Expr
    Phi: sympy.Expr
    h: sympy.Expr
    power: sympy.Expr | None
    conserved: tuple[sympy.Expr, ...]

    def inverse_Phi(self, y: sympy.Expr) -> sympy.Expr:
        """Φ⁻¹(y) (closed form for the power and logarithm cases)."""
        if self.power is None:
            raise NotImplementedError("Φ⁻¹ is only closed for power-law k")
        if self.power == 0:
            return sympy.exp(y)
        return (self.power * y) ** (1 / self.power)


def _free_of(expr: sympy.Expr, symbols: Any) -> bool:
    return not any(expr.has(x) for x in symbols)


@lru_cache(maxsize=512)
def _separate(rule: Any, depth: int) -> Separation | None:
    sym = mode_symbols(depth)
    a = sym.gains
    if depth < 2:
        return None
    vel = _velocities(rule, depth)
    if any(v == 0 for v in vel):
        return None
    # Ratios first: the common factor (residual, Fisher norm) cancels structurally, so this stays
    # cheap at depth 10 where the velocities themselves are large.
    ratios = [_tidy(sympy.cancel(_tidy(v / vel[0]))) for v in vel[1:]]
    if not _free_of(ratios[0], a[2:]):
        return None
    x = sympy.Symbol("x", positive=True)
    k = _tidy(sympy.cancel(1 / ratios[0]).subs(a[1], 1).subs(a[0], x))
    if k.has(*a) or k == 0:
        return None
    for i, r in enumerate(ratios, start=1):
        want = _tidy(k.subs(x, a[i]) / k.subs(x, a[0]))
        if r != want and sympy.simplify(r - want) != 0:
            return None
    h = vel[0] / k.subs(x, a[0])
    # k(x) = κ x^p?  p = x ∂_x log k must be free of x.
    p = sympy.simplify(x * sympy.diff(sympy.expand_log(sympy.log(k), force=True), x))
    if not p.has(x):
        n = sympy.simplify(1 - p)
        if n == 0:
            Phi, power = sympy.log(x), sympy.S.Zero
            conserved = tuple(a[i] / a[i + 1] for i in range(depth - 1))
        else:
            Phi, power = x ** n / n, n
            conserved = tuple(a[i] ** n - a[i + 1] ** n for i in range(depth - 1))
        k = x ** p
        h = vel[0] / a[0] ** p
    else:
        Phi, power = sympy.integrate(1 / k, x), None
        conserved = tuple(sympy.simplify(Phi.subs(x, a[i]) - Phi.subs(x, a[i + 1])) for i in range(depth - 1))
    return Separation(x=x, k=k, Phi=Phi, h=h, power=power, conserved=conserved)


def separate_velocities(rule: Any, depth: int) -> Separation | None:
    """Separate τ ȧ_i = h · k(a_i) for `rule` at depth L, or None when the velocities do not separate.

    Args:
        rule: a learning rule (hashable; any object with `velocity`).
        depth: L >= 2.

    >>> from lindyn.rules import BlockNGD
    >>> separate_velocities(BlockNGD(), 2).conserved
    (a_1/a_2,)
    """
    # === check arguments
    depth = check_int(depth, "depth", minimum=1)
    return _separate(rule, depth)


def conserved_quantities(rule: LearningRule, depth: int) -> tuple[sympy.Expr, ...]:
    """Conserved quantities of an aligned mode (neighbouring layers), derived from `rule.velocity`.

    Args:
        rule: a learning rule.
        depth: L >= 1 (L = 1 has none).

    Returns:
        Tuple of L − 1 expressions in a_1..a_L, or () when the velocities do not separate.

    >>> from fractions import Fraction
    >>> from lindyn.rules import BlockNGD
    >>> conserved_quantities(BlockNGD(q=Fraction(1, 2)), 2)
    (a_1 - a_2,)
    """
    # === check arguments
    depth = check_int(depth, "depth", minimum=1)
    sep = _separate(rule, depth)
    return () if sep is None else sep.conserved
