"""The matrix Riccati form of a two-layer rule, derived from the rule's definition (sympy only).

A two-layer linear net W = W₂W₁ on whitened input (Σ_xx = I) with Σ_yx = S has the loss
ℓ = ½‖S − W₂W₁‖²_F and per-layer gradients g₁ = W₂ᵀ(W₂W₁ − S), g₂ = (W₂W₁ − S)W₁ᵀ. The engine
runs the rule's own `velocity` on these gradients as *non-commuting* symbols (W₁, W₁ᵀ, W₂, W₂ᵀ,
S, Sᵀ: whole matrices, any widths, no alignment) and derives, for Q = [W₁ᵀ; W₂]:

1. whether the balance C = W₂ᵀW₂ − W₁W₁ᵀ is conserved (dC/dt expands to 0), so C = λI stays
   λ-balanced (Braun, Dominé, Fitzgerald & Saxe 2022);
2. on C = λI, the cubic part of Q̇ as −κQ(QᵀQ) for a scalar κ > 0, and the rest as a linear
   function FQ of Q, reading off the blocks of F;
3. F symmetric, so P = QQᵀ obeys the matrix Riccati equation Ṗ = FP + PF − 2κP² (Fukumizu 1998).

For GD this gives κ = ½ and F = [[−(λ/2)I, Sᵀ], [S, (λ/2)I]]. A rule that reads the curvature (NGD, block
rules) has no such form: its body asks the geometry for a Fisher, and the engine says so.

>>> from lindyn.rules import GD
>>> form = derive_riccati(GD())
>>> form.F
((-lam/2, St), (S, lam/2))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from .._checks import NoModeDecomposition, fail

__all__ = ["RiccatiForm", "derive_riccati", "nc_transpose"]

W1, W1T, W2, W2T, S, ST = sympy.symbols("W1 W1t W2 W2t S St", commutative=False)
LAM = sympy.Symbol("lam", real=True)
_PARTNER = {W1: W1T, W1T: W1, W2: W2T, W2T: W2, S: ST, ST: S}
_TEX = {W1: r"W_1", W1T: r"W_1^{\top}", W2: r"W_2", W2T: r"W_2^{\top}", S: r"S", ST: r"S^{\top}"}


def nc_transpose(expr: Any) -> sympy.Expr:
    """(AB⋯)ᵀ = ⋯BᵀAᵀ on non-commuting matrix symbols (scalars, e.g. λ, are their own transpose)."""
    expr = sympy.sympify(expr)
    if expr in _PARTNER:
        return _PARTNER[expr]
    if expr.is_Add:
        return sympy.Add(*[nc_transpose(a) for a in expr.args])
    if expr.is_Mul:
        scalars = [a for a in expr.args if a.is_commutative]
        mats = [a for a in expr.args if not a.is_commutative]
        return sympy.Mul(*scalars) * sympy.Mul(*[nc_transpose(a) for a in reversed(mats)])
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        return nc_transpose(expr.base) ** expr.exp
    if expr.is_commutative:
        return expr
    raise NoModeDecomposition(f"cannot transpose {expr} in the two-layer matrix algebra")


class _NoCurvature:
    """Geometry / ops of the whole-matrix derivation: only gradients exist, no Fisher or factors."""

    def __init__(self, rule_name: str) -> None:
        self._rule_name = rule_name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NoModeDecomposition(
            f"rule {self._rule_name!r} has no whole-matrix Riccati form: its velocity reads the curvature "
            f"(`{name}`), which is not a polynomial in W₁, W₂, S; only gradient-type rules (GD, scaled GD) have one")

    def scalar(self, x: Any) -> Any:
        """Scalars pass through (used by `Scaled`)."""
        if isinstance(x, (int, float, sympy.Expr)) and sympy.sympify(x).is_commutative and \
                not sympy.sympify(x).free_symbols & set(_PARTNER):
            return sympy.nsimplify(x) if isinstance(x, float) else sympy.sympify(x)
        return self.__getattr__("scalar")


@dataclass(frozen=True)
class RiccatiForm:
    """Q̇ = FQ − κQ(QᵀQ), Ṗ = FP + PF − 2κP² (τ = 1; κ = ½ for GD) for Q = [W₁ᵀ; W₂], P = QQᵀ, on W₂ᵀW₂ − W₁W₁ᵀ = λI.

    Attributes:
        rule_name: the rule it was derived from.
        velocity: (Ẇ₁, Ẇ₂) as non-commuting expressions in W₁, W₁ᵀ, W₂, W₂ᵀ, S, Sᵀ.
        balance_rate: d/dt(W₂ᵀW₂ − W₁W₁ᵀ), expanded (0: the balance is conserved).
        F: ((F₁₁, F₁₂), (F₂₁, F₂₂)), blocks of F (scalars stand for multiples of I).
        kappa: κ in Q̇ = FQ − κQ(QᵀQ), so Ṗ = FP + PF − 2κP² (κ = ½ for GD; c/2 for GD scaled by c).
    """

    rule_name: str
    velocity: tuple[sympy.Expr, sympy.Expr]
    balance_rate: sympy.Expr
    F: tuple[tuple[sympy.Expr, sympy.Expr], tuple[sympy.Expr, sympy.Expr]]
    kappa: sympy.Expr = sympy.Rational(1, 2)

    def latex(self) -> str:
        """LaTeX of the derived equation and F."""
        def tex(e: sympy.Expr) -> str:
            out = sympy.latex(e, symbol_names={**_TEX, LAM: r"\lambda"})
            return out

        def block(e: sympy.Expr) -> str:
            e = sympy.expand(e)
            return tex(e) + (r"\,I" if e != 0 and e.is_commutative else "")

        F = r"\begin{pmatrix} %s & %s \\ %s & %s \end{pmatrix}" % (
            block(self.F[0][0]), block(self.F[0][1]), block(self.F[1][0]), block(self.F[1][1]))
        eq = (r"\tau\dot P = FP + PF - P^2" if self.kappa == sympy.Rational(1, 2) else
              r"\tau\dot P = FP + PF - %s P^2" % tex(2 * self.kappa))
        return (r"\begin{aligned}&Q = \begin{pmatrix} W_1^{\top} \\ W_2 \end{pmatrix},\quad P = QQ^{\top},\quad "
                r"W_2^{\top}W_2 - W_1W_1^{\top} = \lambda I:\\ &" + eq + r",\quad F = " + F + r"\end{aligned}")


def _right_factor(term: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """term = coefficient · X with X ∈ {W₁ᵀ, W₂} its rightmost factor and a coefficient free of W."""
    coeff, mats = term.args_cnc()
    if not mats or mats[-1] not in (W1T, W2):
        raise NoModeDecomposition(f"the term {term} of Q̇ + ½Q(QᵀQ) does not end in a block of Q")
    left = sympy.Mul(*coeff) * sympy.Mul(*mats[:-1])
    if left.free_symbols & {W1, W1T, W2, W2T}:
        raise NoModeDecomposition(f"Q̇ + ½Q(QᵀQ) is not linear in Q: term {term}")
    return left, mats[-1]


def derive_riccati(rule: Any) -> RiccatiForm:
    """Derive the whole-matrix Riccati form of a two-layer rule (whitened input, τ = 1).

    Raises:
        LindynError: `rule` is not a learning rule.
        NoModeDecomposition: the rule reads the curvature, breaks the balance W₂ᵀW₂ − W₁W₁ᵀ, or its
            Q̇ + ½Q(QᵀQ) is not linear in Q.
    """
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule (an object with velocity(grads, geo, ops))", rule)
    name = getattr(rule, "name", type(rule).__name__)
    residual = W2 * W1 - S
    grads = (W2T * residual, residual * W1T)            # ∂ℓ/∂W₁, ∂ℓ/∂W₂ of ℓ = ½‖W₂W₁ − S‖²
    no_curvature = _NoCurvature(name)
    v1, v2 = (sympy.expand(v) for v in rule.velocity(grads, no_curvature, no_curvature))
    rate = sympy.expand(nc_transpose(v2) * W2 + W2T * v2 - v1 * W1T - W1 * nc_transpose(v1))
    if rate != 0:
        raise NoModeDecomposition(f"rule {name!r} does not conserve W₂ᵀW₂ − W₁W₁ᵀ (d/dt = {rate}); "
                                  "no λ-balanced Riccati form")
    gram = W1 * W1T + W2T * W2                            # QᵀQ
    on_balance = {W2T * W2: W1 * W1T + LAM}
    mats = {W1, W1T, W2, W2T}

    # Q̇ = FQ − κ Q(QᵀQ): on the balance the top block of Q(QᵀQ) is 2W₁ᵀW₁W₁ᵀ + λW₁ᵀ, so κ is minus half the
    # coefficient of W₁ᵀW₁W₁ᵀ in Ẇ₁ᵀ; the residual below must then be linear in Q (checked term by term)
    top = sympy.expand(sympy.expand(nc_transpose(v1)).subs(on_balance))
    kappa = -sum((sympy.Mul(*t.args_cnc()[0]) for t in sympy.Add.make_args(top)
                  if t.args_cnc()[1] == [W1T, W1, W1T]), sympy.S.Zero) / 2
    if kappa.free_symbols & mats or kappa == 0 or kappa.is_negative:
        raise NoModeDecomposition(f"rule {name!r}: Q̇ has no −κQ(QᵀQ) term with κ > 0 (got κ = {kappa})")
    rows = []
    for block, Q_block in ((nc_transpose(v1), W1T), (v2, W2)):
        res = sympy.expand(sympy.expand(block + kappa * Q_block * gram).subs(on_balance))
        coeffs = {W1T: sympy.S.Zero, W2: sympy.S.Zero}
        for term in sympy.Add.make_args(res):
            if term == 0:
                continue
            left, right = _right_factor(term)
            coeffs[right] += left
        rows.append((coeffs[W1T], coeffs[W2]))
    F = (rows[0], rows[1])
    if sympy.expand(nc_transpose(F[0][1]) - F[1][0]) != 0 or any(
            sympy.expand(nc_transpose(F[i][i]) - F[i][i]) != 0 for i in range(2)):
        raise NoModeDecomposition(f"rule {name!r}: the derived F is not symmetric, so P = QQᵀ has no Riccati form")
    return RiccatiForm(name, (v1, v2), rate, F, kappa)
