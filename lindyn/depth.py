"""`derive_any_depth`: a rule's balanced mode for every depth L at once, its limits and expansions.

The symbolic engine runs the rule once on a generic layer of multiplicity L
(`lindyn.symbolic.depth`): τu̇ = c(L) u^{g(L)} (s − λu) and t(u) as a ₂F₁ valid for all L. From it:

- `limit_ode()`: the L → ∞ mode ODE, lim rhs/c(L) (GD: u²(s − u), Saxe et al.'s Eq. 16 up to
  N_l = L + 1 ≈ L);
- `time_expansion(n)`: the exact learning time for large L, t(L) = Σ_m T_m/L^m, found by expanding
  the integrand τ/(c u^g (s − u)) in 1/L and integrating each coefficient from u0 to uf;
- `small_u0()`: the leading term of t(u0 → uf) as u0 → 0 (the 1/s and s^{−g} laws);
- `at(L)`: the family at a concrete depth, to compare with `lindyn.derive(rule, L)`;
- `conserved`: the conserved quantity h(a_i) − h(a_j) of an *unbalanced* aligned mode at symbolic L,
  derived by running the rule on three layer classes (gains a_i, a_j and b, multiplicities 1, 1, L − 2;
  the Fisher stays rank one, |j|² = Σ_c m_c (u/a_c)²) and separating τȧ_k = Φ·ψ(a_k), h' = 1/ψ
  (`lindyn.symbolic.depth.derive_depth_invariant`). GD and full NGD^q: a_i² − a_j²; block NGD^q:
  a_i^{2−2q} − a_j^{2−2q}; K-FAC and the per-layer rule: a_i/a_j.

>>> from lindyn.rules import GD
>>> fam = derive_any_depth(GD())
>>> fam.c, fam.g
(L, 2 - 2/L)
>>> fam.limit_ode()
u**2*(s - u)
>>> fam.conserved
a_i**2 - a_j**2
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import mpmath
import sympy

from ._checks import check_int, check_real, fail
from .rules import LearningRule
from .symbolic.depth import DepthFamily, DepthInvariant, depth_symbol, derive_depth_family, derive_depth_invariant

__all__ = ["AnyDepth", "derive_any_depth", "learning_time_mp"]


@dataclass(frozen=True)
class AnyDepth:
    """A rule's balanced mode for every depth L (τ and λ = 1 unless the family carries λ)."""

    rule: LearningRule
    family: DepthFamily

    @property
    def L(self) -> sympy.Symbol:
        """The depth symbol."""
        return self.family.depth

    @property
    def c(self) -> sympy.Expr | None:
        """c(L) of τu̇ = c u^g (s − λu)."""
        return self.family.ode.c

    @property
    def g(self) -> sympy.Expr | None:
        """g(L) of τu̇ = c u^g (s − λu)."""
        return self.family.ode.g

    @property
    def rhs(self) -> sympy.Expr:
        """f(u) of τu̇ = f(u) for every L."""
        return self.family.ode.rhs

    @property
    def t_of_u(self) -> sympy.Expr:
        """t(u0 → u) for every L (₂F₁ unless elementary for all L)."""
        return self.family.solution.t_of_u

    def at(self, depth: int) -> sympy.Expr:
        """The mode ODE's right-hand side at a concrete depth."""
        depth = check_int(depth, "depth", minimum=1)
        return sympy.simplify(self.rhs.subs(self.L, depth))

    def limit_ode(self) -> sympy.Expr:
        """lim_{L→∞} f(u)/c(L): the deep-limit mode ODE per unit of c (None-safe: f itself if c is None)."""
        scale = self.c if self.c is not None else 1
        return sympy.simplify(sympy.limit(self.rhs / scale, self.L, sympy.oo))

    @cached_property
    def _eps(self) -> sympy.Symbol:
        return sympy.Symbol("epsilon", positive=True)

    def time_expansion(self, order: int = 2) -> tuple[sympy.Expr, ...]:
        """Integrands of t(L) = Σ_{m<order} ε^m ∫_{u0}^{uf} k_m(u) du + O(ε^order), ε = 1/L (τ = 1, λ = 1).

        Returns the coefficient integrands k_m(u) (sympy, in u and s): the expansion of 1/f(u) in ε.
        """
        order = check_int(order, "order", minimum=1, maximum=6)
        eps = self._eps
        integrand = (1 / self.rhs).subs(self.L, 1 / eps)
        series = sympy.series(integrand, eps, 0, order).removeO()
        return tuple(sympy.simplify(series.coeff(eps, m)) for m in range(order))

    def time_expansion_value(self, s: float, u0: float, uf: float, order: int = 2, dps: int = 30) -> list[Any]:
        """The coefficients T_m = ∫_{u0}^{uf} k_m(u) du of `time_expansion`, by mpmath quadrature at `dps` digits.

        Args:
            s: singular value > 0; u0, uf: start and end strengths, both on one side of s (0 < u0 < uf < s
                or s < uf < u0); order: number of terms (1..6); dps: digits (15..200).
        """
        s, u0, uf = (check_real(x, n, positive=True) for x, n in ((s, "s"), (u0, "u0"), (uf, "uf")))
        if not (u0 < uf < s or s < uf < u0):
            raise fail("uf", f"between u0 = {u0:g} and s = {s:g} (excluded)", uf)
        dps = check_int(dps, "dps", minimum=15, maximum=200)
        sym = self.family.symbols
        out = []
        with mpmath.workdps(dps):
            for k in self.time_expansion(order):
                f = sympy.lambdify(sym.u, k.subs(sym.s, sympy.nsimplify(s)), "mpmath")
                out.append(mpmath.quad(f, [mpmath.mpf(u0), mpmath.mpf(uf)]))
        return out

    def small_u0(self) -> sympy.Expr:
        """Leading term of t(u0 → uf) as u0 → 0 (τ = λ = 1): ∫_{u0} du/(c s u^g) = u0^{1−g}/((g − 1)c s) for g > 1."""
        if self.c is None or self.g is None:
            raise fail("rule", "a rule whose mode ODE has the power form c u^g (s − u)", self.rule.name)
        sym = self.family.symbols
        return sympy.simplify(sym.u0 ** (1 - self.g) / ((self.g - 1) * self.c * sym.s))

    @cached_property
    def invariant(self) -> DepthInvariant:
        """The unbalanced mode at symbolic L: per-layer velocities (τȧ_i, τȧ_j, τȧ_b), ψ, h and the
        conserved quantity (`lindyn.symbolic.depth.derive_depth_invariant`)."""
        return derive_depth_invariant(self.rule, self.L)

    @property
    def conserved(self) -> sympy.Expr | None:
        """h(a_i) − h(a_j) in plain form, conserved on an unbalanced aligned mode for every depth L
        (any two layers i, j; the other L − 2 layers share a gain b), or None (see `conserved_reason`).

        Derived from τȧ_k = Φ·ψ(a_k) (h' = 1/ψ); THEORY §2: GD and full NGD^q a_i² − a_j² (Saxe et al.
        2014 Eq. 14), block NGD^q a_i^{2−2q} − a_j^{2−2q}, K-FAC and the per-layer rule a_i/a_j.

        >>> from fractions import Fraction
        >>> from lindyn.rules import BlockNGD
        >>> derive_any_depth(BlockNGD(q=Fraction(1, 2))).conserved
        a_i - a_j
        """
        return self.invariant.conserved

    @property
    def conserved_reason(self) -> str:
        """Why `conserved` is None ("" when it was derived)."""
        return self.invariant.reason

    def latex(self) -> str:
        """LaTeX of the any-depth ODE, its solution and the conserved quantity of an unbalanced mode."""
        lhs = r"\tau \frac{d u}{d t}"
        text = ("\\begin{equation}\n" + f"{lhs} = {sympy.latex(self.rhs)}" + "\n\\end{equation}\n"
                "\\begin{equation}\n" + f"t = {sympy.latex(self.t_of_u)}" + "\n\\end{equation}\n")
        if self.conserved is None:
            return text + f"% no conserved h(a_i) - h(a_j) at symbolic L: {self.conserved_reason}\n"
        return (text + "% conserved on an unbalanced aligned mode, any layers i, j, every depth L\n"
                "\\begin{equation}\n" + rf"\frac{{d}}{{d t}}\left({sympy.latex(self.conserved)}\right) = 0"
                + "\n\\end{equation}\n")


@lru_cache(maxsize=64)
def _derive_any_depth(rule: Any) -> AnyDepth:
    return AnyDepth(rule=rule, family=derive_depth_family(rule, depth_symbol()))


def derive_any_depth(rule: LearningRule) -> AnyDepth:
    """Derive a rule's balanced mode for every depth L at once (whitened input, τ = 1 in the limits).

    Raises:
        LindynError: `rule` is not a learning rule.
        NoModeDecomposition: the layers of a balanced mode move at different speeds under `rule`.
    """
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule (an object with velocity(grads, geo, ops))", rule)
    return _derive_any_depth(rule)


def learning_time_mp(rhs: sympy.Expr, u: sympy.Symbol, u0: Any, uf: Any, dps: int = 30) -> Any:
    """t = ∫_{u0}^{uf} du/f(u) by mpmath quadrature at `dps` digits (f numeric in u; an independent route).

    u0 and uf are positive (numbers or decimal strings, read exactly) and distinct.
    """
    for x, name in ((u0, "u0"), (uf, "uf")):
        check_real(x, name, positive=True)
    if mpmath.mpf(u0) == mpmath.mpf(uf):
        raise fail("uf", "different from u0", uf)
    dps = check_int(dps, "dps", minimum=15, maximum=200)
    with mpmath.workdps(dps):
        f = sympy.lambdify(u, 1 / rhs, "mpmath")
        a, b = mpmath.mpf(u0), mpmath.mpf(uf)
        pts = [a] + [a * (b / a) ** (mpmath.mpf(j) / 8) for j in range(1, 8)] + [b]   # log-spaced split points
        return mpmath.quad(f, pts)
