"""Conserved quantities of an aligned mode, derived from the ratio of layer velocities (sympy only).

When the per-layer velocities separate as τ ȧ_i = h(a_1, …, a_L) · k(a_i), with one common factor
h and one per-layer function k, every Φ(a_i) = ∫ da/k(a) moves at the same speed h/τ, so

    Φ(a_i) − Φ(a_j) is conserved.

The engine finds k from the ratio ȧ_1/ȧ_2 = k(a_1)/k(a_2), checks the separation for every layer,
and integrates 1/k. For k(a) = a^p (every undamped built-in rule) Φ = a^{1−p}/(1−p), or ln a at
p = 1: GD and full NGD^q give k = 1/a (a_i² − a_j², Saxe et al. 2014 Eq. 14); block NGD^q gives
k = a^{2q−1} (a_i^{2−2q} − a_j^{2−2q}; a_i/a_j at q = 1). Damped K-FAC at L = 2, λ = 1 gives
k = (a² + δ)/a, Φ = ½ ln(a² + δ): (a_1² + δ)/(a_2² + δ) is conserved.

>>> from lindyn.rules import GD
>>> conserved_quantities(GD(), 3)
(a_1**2 - a_2**2, a_2**2 - a_3**2)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from .._checks import NoModeDecomposition, check_int
from ..rules import LearningRule
from .modes import ModeSymbols, layer_velocities, mode_symbols, tidy_powers

__all__ = ["Separation", "separate_velocities", "conserved_quantities"]


@dataclass(frozen=True)
class Separation:
    """τ ȧ_i = h · k(a_i) with Φ(x) = ∫ dx/k(x); `power` = n when Φ ∝ x^n (0 for ln x), else None.

    `conserved` lists Φ-differences of neighbouring layers in their plain form (a_i^n − a_{i+1}^n,
    a_i/a_{i+1} for the logarithm, exp of the difference when Φ is a logarithm of another function).
    """

    x: sympy.Symbol
    k: sympy.Expr
    Phi: sympy.Expr
    h: sympy.Expr
    power: sympy.Expr | None
    conserved: tuple[sympy.Expr, ...]

    def inverse_Phi(self, y: sympy.Expr) -> sympy.Expr:
        """Φ⁻¹(y): closed for the power and logarithm cases, else the one positive root of Φ(x) = y.

        Raises:
            NoModeDecomposition: Φ(x) = y has no unique closed positive solution.

        >>> x = sympy.Symbol("x", positive=True)
        >>> Separation(x, 1 / x, x ** 2 / 2, sympy.S.One, sympy.Integer(2), ()).inverse_Phi(sympy.Integer(8))
        4
        """
        if self.power == 0:
            return sympy.exp(y)
        if self.power is not None:
            return (self.power * y) ** (1 / self.power)
        v = sympy.Dummy("v")
        try:
            roots = sympy.solve(sympy.Eq(self.Phi, v), self.x)
        except NotImplementedError:
            roots = []
        # the root that is positive at a generic point (Φ is increasing in x > 0 when k > 0)
        probe = {v: self.Phi.subs(self.x, sympy.Rational(3, 2))}
        probe.update({p: sympy.Rational(2, 7) for p in self.Phi.free_symbols - {self.x}})
        good = [r for r in roots if sympy.N(r.subs(probe).subs(probe), 30).is_positive]
        if len(good) != 1:
            raise NoModeDecomposition("Argument `rule` has conserved quantities Φ(a_i) − Φ(a_j) with "
                                      f"Φ = {self.Phi} not invertible in closed form")
        # exp(c ln A − c ln B)/c-style nests: merge the logarithms so that exp(ln X) collapses to X
        return good[0].subs(v, y).replace(
            lambda e: isinstance(e, sympy.exp),
            lambda e: sympy.exp(sympy.logcombine(sympy.factor_terms(e.args[0]), force=True)))


def _free_of(expr: sympy.Expr, symbols: Any) -> bool:
    return not any(expr.has(x) for x in symbols)


def separate_velocities(velocities: tuple[sympy.Expr, ...], sym: ModeSymbols) -> Separation | None:
    """Separate τ ȧ_i = h · k(a_i), or None when the derived velocities do not separate.

    Args:
        velocities: (τ ȧ_1, …, τ ȧ_L) from `layer_velocities` (L >= 2 to separate).
        sym: the mode's symbols.

    >>> from lindyn.rules import BlockNGD
    >>> sym = mode_symbols(2)
    >>> separate_velocities(layer_velocities(BlockNGD(), sym), sym).conserved
    (a_1/a_2,)
    """
    # === check arguments
    a, depth, vel = sym.gains, sym.depth, velocities
    if depth < 2 or any(v == 0 for v in vel):
        return None
    # Ratios first: the common factor (residual, Fisher norm) cancels structurally, so this stays
    # cheap at depth 10 where the velocities themselves are large.
    ratios = [tidy_powers(sympy.cancel(tidy_powers(v / vel[0]))) for v in vel[1:]]
    if not _free_of(ratios[0], a[2:]):
        return None
    x = sympy.Symbol("x", positive=True)
    k = tidy_powers(sympy.cancel(1 / ratios[0]).subs(a[1], 1).subs(a[0], x))
    if k.has(*a) or k == 0:
        return None
    for i, r in enumerate(ratios, start=1):
        want = tidy_powers(k.subs(x, a[i]) / k.subs(x, a[0]))
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
        Phi, power = sympy.simplify(sympy.integrate(1 / k, x)), None
        diffs = [sympy.simplify(Phi.subs(x, a[i]) - Phi.subs(x, a[i + 1])) for i in range(depth - 1)]
        if Phi.has(sympy.log):      # c·ln A(a_i) − c·ln A(a_j): conserved A(a_i)/A(a_j) reads plainer
            conserved = tuple(sympy.simplify(sympy.exp(sympy.expand_log(d, force=True) / _log_coefficient(Phi)))
                              for d in diffs)
        else:
            conserved = tuple(diffs)
    return Separation(x=x, k=k, Phi=Phi, h=h, power=power, conserved=conserved)


def _log_coefficient(Phi: sympy.Expr) -> sympy.Expr:
    """c when Φ = c·ln A(x), else 1."""
    c, rest = sympy.S.One, Phi
    if isinstance(Phi, sympy.Mul):
        c, rest = Phi.as_independent(sympy.log)
    return c if isinstance(rest, sympy.log) else sympy.S.One


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
    sym = mode_symbols(depth)
    sep = separate_velocities(layer_velocities(rule, sym), sym)
    return () if sep is None else sep.conserved
