"""One derivation, rule → velocities → mode ODE → separation → solution (sympy only).

`derive_mode` runs the pipeline once and returns a frozen `Derivation`; every later step receives
what the earlier ones derived (no step re-enters from the rule). The solution is a typed variant:
`Explicit` (u(t), t(u), Möbius plan), `Implicit` (t(u) closed, inverse plan) or `Quadrature`
(the exact integral, with its per-layer plans).

Balanced mode τ u̇ = c u^g (s − λu). With w = λu/s and t̃ = κt, κ = c λ^{1−g} s^g/τ, every such ODE
is the universal dw/dt̃ = w^g (1 − w), so t̃ = G(w) − G(w0) with G' = 1/(w^g (1 − w)):

* g = p/k rational: w = v^k turns G into ∫ k v^{k−1−p}/(1 − v^k) dv, a rational function, integrated
  here by partial fractions over the k-th roots of unity ω_j = e^{2πij/k}:
  v^m/(1 − v^k) = (1/k) Σ_j ω_j^{m+1}/(ω_j − v) for 0 <= m < k (Laurent terms split off first);
  conjugate roots pair into ½ln(v² − 2v cos θ + 1) and arctangents, so G is elementary.
* when G is a single logarithm of a Möbius function of v (g = 0, g = 1, g = ½ ...) the relation is
  inverted: u(t) explicit. Otherwise t(u) is the implicit closed form.
* partial fractions stop at k = MAX_PARTIAL_FRACTION_K (24; about k logarithms and arctangents):
  a larger denominator (NGD at L = 3: q = 0.3333 gives k = 7500, q = 10⁻⁴⁰⁰ gives k = 2.5·10³⁹⁹) takes the ₂F₁ form
  below with the exact rational g, whose size does not grow with k.
* g symbolic (or rational with k > 24): G(w) = Σ_n w^{n+1−g}/(n+1−g) = w^{1−g}/(1−g) ₂F₁(1, 1−g; 2−g; w)
  for w < 1 and Σ_n z^{n+g}/(n+g) = z^g/g ₂F₁(1, g; 1+g; z), z = 1/w, for w > 1 (decay from above). The n = 0
  term, singular at g = 1 (w < 1) and g = 0 (w > 1), is shifted by a constant to the Box–Cox form
  (x^a − 1)/a → ln x (a → 0), so one G holds for every g, including the logistic (g = 1) and the
  exponential (g = 0) rows: G = bc(w, 1−g) + w^{2−g}/(2−g) ₂F₁(1, 2−g; 3−g; w), resp.
  −bc(w, −g) + w^{−1−g}/(1+g) ₂F₁(1, 1+g; 2+g; 1/w), with bc(x, a) = (x^a − 1)/a.
* numbers (every g, `PowerPlan`): t̃ = G(w) − G(w0) is evaluated as the same series with the n = 0
  terms merged, w0^{1−g} bc(w/w0, 1−g) + R(w) − R(w0), R(w) = w^{2−g}/(2−g) ₂F₁(1, 2−g; 3−g; w)
  (decay: w0^{−g} bc(w0/w, g) + R̃(w) − R̃(w0)): no O(1) constants cancel as w, w0 → 0 (the sum of
  logarithms and arctangents of the partial fractions loses ~w^{g−1}ε there for 0 < g < 1), and
  1 − w (resp. (w − 1)/w) enters the ₂F₁ exactly, so t(u) stays finite and accurate up to the
  last float before u*.
* a balanced ODE of another shape (damped K-FAC, user rules) with τ/f(u) rational in u and a simple
  root at u* = s/λ is integrated by partial fractions (implicit t(u)); otherwise t = τ ∫ du/f(u).

Unbalanced modes are reduced through the derived conserved quantities (`invariants.py`): when u̇
depends on u alone the balanced solution holds with u0 = ∏ a_i(0); at L = 2 the gains are solved
for in terms of u (a^n − (u/a)^n = C is quadratic in a^n) and τ/f(u) = R(u, √Q(u)) is integrated
by Euler's substitution √Q = z − √α u and partial fractions (`ratint`); otherwise the mode is the
exact quadrature t = τ ∫ da_1/ȧ_1 along the conserved curves a_i = Φ⁻¹(Φ(a_1) + C_i).

>>> from lindyn.rules import GD
>>> derive_mode(GD(), 2).solution.form
'explicit'
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, ClassVar, Literal, Union

import sympy
from sympy.integrals.rationaltools import ratint

from .._checks import NoModeDecomposition
from ..rules import LearningRule
from .invariants import Separation, separate_velocities
from .modes import ModeODE, ModeSymbols, balanced_mode_ode, layer_velocities, mode_symbols, tidy_powers

__all__ = ["Antiderivative", "MobiusPlan", "InversePlan", "PowerPlan", "QuadraturePlan", "Reduction", "Explicit",
           "Implicit", "Quadrature", "Solution", "Derivation", "derive_mode", "universal_antiderivative",
           "universal_difference", "solve_balanced", "solve_unbalanced", "boxcox", "hyp2f1_1b", "W", "W0", "WC", "WC0",
           "V", "X",
           "MAX_PARTIAL_FRACTION_K"]

Form = Literal["explicit", "implicit", "quadrature"]

#: The universal variables: w = λu/s, w0 = λu0/s, v = w^{1/k}; x: the variable of a quadrature.
W = sympy.Symbol("w", positive=True)
W0 = sympy.Symbol("w_0", positive=True)
V = sympy.Symbol("v", positive=True)
X = sympy.Symbol("x", positive=True)
#: |1 − w| and |1 − w0|, given separately to the numeric difference form (`universal_difference`):
#: |s − λu|/s is exact where λu/s − 1 would round (w within a few ulps of 1).
WC = sympy.Symbol("w_c", positive=True)
WC0 = sympy.Symbol("w_c0", positive=True)
_E = sympy.Symbol("E", positive=True)

#: Largest denominator k of a rational g = p/k integrated by partial fractions over the k-th roots of
#: unity (about k logarithms and arctangents, built and printed in well under a second for k <= 24);
#: beyond it the antiderivative is the ₂F₁ form of a symbolic g with g substituted exactly, whose size
#: does not depend on k (before: k = 2500 grew to 24 GB, q = 10⁻⁴⁰⁰ never finished).
MAX_PARTIAL_FRACTION_K = 24


class boxcox(sympy.Function):   # noqa: N801  (lambdify maps it by this name)
    """The Box–Cox function bc(x, a) = (x^a − 1)/a, with its limit bc(x, 0) = ln x.

    The power term of the ₂F₁ antiderivative in this form stays finite as g → 0, 1 (a → 0);
    numerically it is scipy.special.boxcox (expm1(a ln x)/a: no cancellation for small a).

    >>> x, a = sympy.symbols("x a", positive=True)
    >>> boxcox(x, 0), sympy.diff(boxcox(x, a), x)
    (log(x), x**(a - 1))
    """

    nargs = 2

    @classmethod
    def eval(cls, x: sympy.Expr, a: sympy.Expr) -> sympy.Expr | None:
        if a.is_zero:
            return sympy.log(x)
        if a.is_number and x.is_number:
            return (x ** a - 1) / a
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x, a = self.args
        if argindex == 1:
            return x ** (a - 1)
        return (x ** a * sympy.log(x) - boxcox(x, a)) / a

    def _eval_rewrite_as_Pow(self, x: sympy.Expr, a: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return sympy.Piecewise((sympy.log(x), sympy.Eq(a, 0)), ((x ** a - 1) / a, True))

    def _latex(self, printer: Any) -> str:
        x, a = (printer._print(e) for e in self.args)
        return rf"\frac{{\left({x}\right)^{{{a}}} - 1}}{{{a}}}"


class hyp2f1_1b(sympy.Function):   # noqa: N801  (lambdify maps it by this name)
    """₂F₁(1, b; 1 + b; z) = b Σ_n zⁿ/(n + b), with its complement zc = 1 − z as a separate argument.

    For numbers only: near z = 1 the function is −b ln(1 − z) + O(1), and 1 − z formed by subtracting a
    rounded z loses every digit of a tiny complement; the caller passes zc computed without
    cancellation (1 − w for z = w, (w − 1)/w for z = 1/w). Numerically `lindyn.numeric.stable.hyp2f1_1b`.

    >>> b, z = sympy.symbols("b z", positive=True)
    >>> hyp2f1_1b(b, z, 1 - z).rewrite(sympy.hyper)
    hyper((1, b), (b + 1,), z)
    """

    nargs = 3

    def _eval_rewrite_as_hyper(self, b: sympy.Expr, z: sympy.Expr, zc: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return sympy.hyper([1, b], [1 + b], z)

    def _latex(self, printer: Any) -> str:
        b, z = (printer._print(e) for e in self.args[:2])
        return rf"{{}}_{{2}}F_{{1}}\left(1, {b}; 1 + {b}; {z}\right)"


@dataclass(frozen=True)
class _Term:
    kind: str            # "pow": coef·v^e; "log": coef·ln A(v); "atan": coef·atan A(v)
    coef: sympy.Expr
    arg: sympy.Expr      # e for "pow", A(v) otherwise


@dataclass(frozen=True)
class Antiderivative:
    """G(w) with G' = 1/(w^g (1 − w)), as terms in v = w^{1/k} (rational g) or a ₂F₁ (symbolic g)."""

    g: sympy.Expr
    k: int | None
    terms: tuple[_Term, ...] | None
    hyper: sympy.Expr | None = None

    def at(self, v: sympy.Expr, absolute: bool) -> sympy.Expr:
        """G as a function of v = w^{1/k} (rational g; logarithms of |A(v)| when `absolute`)."""
        out = sympy.S.Zero
        for t in self.terms or ():
            a = t.arg.subs(V, v)
            if t.kind == "pow":
                out += t.coef * v ** t.arg
            elif t.kind == "log":
                out += t.coef * sympy.log(sympy.Abs(a) if absolute else a)
            else:
                out += t.coef * sympy.atan(a)
        return out

    def G(self, w: sympy.Expr = W) -> sympy.Expr:
        """G(w) for numerical evaluation (logarithms of absolute values; valid for w < 1 and w > 1)."""
        if self.hyper is not None:
            return self.hyper.subs(W, w)
        return self.at(w ** sympy.Rational(1, self.k), absolute=True)

    def difference(self, w: sympy.Expr = W, w0: sympy.Expr = W0) -> sympy.Expr:
        """t̃ = G(w) − G(w0), logarithms merged as ln[A(v)/A(v0)] (no absolute values needed)."""
        if self.hyper is not None:
            return self.hyper.subs(W, w) - self.hyper.subs(W, w0)
        v, v0 = w ** sympy.Rational(1, self.k), w0 ** sympy.Rational(1, self.k)
        out = sympy.S.Zero
        for t in self.terms:
            if t.kind == "pow":
                out += t.coef * (v ** t.arg - v0 ** t.arg)
            elif t.kind == "log":
                out += t.coef * sympy.log(t.arg.subs(V, v) / t.arg.subs(V, v0))
            else:
                out += t.coef * (sympy.atan(t.arg.subs(V, v)) - sympy.atan(t.arg.subs(V, v0)))
        return out


def _rational_terms(p: int, k: int) -> tuple[_Term, ...]:
    """Terms of ∫ k v^{k−1−p}/(1 − v^k) dv by partial fractions over the k-th roots of unity."""
    m, coef = k - 1 - p, sympy.Integer(k)
    laurent: dict[int, sympy.Expr] = {}
    # v^m/(1−v^k) = v^m + v^{m+k}/(1−v^k)  (m < 0);  = −v^{m−k} + v^{m−k}/(1−v^k)  (m >= k)
    while m < 0:
        laurent[m] = laurent.get(m, 0) + coef
        m += k
    while m >= k:
        laurent[m - k] = laurent.get(m - k, 0) - coef
        m -= k
    terms: list[_Term] = []
    for n, cn in sorted(laurent.items()):
        if n == -1:
            terms.append(_Term("log", cn, V))
        else:
            terms.append(_Term("pow", cn / (n + 1), sympy.Integer(n + 1)))
    # proper part: (coef/k) Σ_j ω_j^{m+1}/(ω_j − v), integrated to −(coef/k) ω^{m+1} ln(ω − v)
    c = coef / k
    terms.append(_Term("log", -c, 1 - V))                                  # ω = 1
    if k % 2 == 0:                                                         # ω = −1
        terms.append(_Term("log", -c * (-1) ** (m + 1), 1 + V))
    for j in range(1, (k + 1) // 2):                                       # conjugate pairs
        if 2 * j == k:
            continue
        th = 2 * sympy.pi * j / k
        cth, sth = sympy.cos(th), sympy.sin(th)
        # −2 Re[ω^{m+1} ln(ω − v)] = −cos((m+1)θ) ln(v² − 2v cosθ + 1) + 2 sin((m+1)θ) arg(ω − v),
        # arg(ω − v) = π/2 + atan((v − cosθ)/sinθ)
        terms.append(_Term("log", -c * sympy.cos((m + 1) * th), V ** 2 - 2 * cth * V + 1))
        terms.append(_Term("atan", 2 * c * sympy.sin((m + 1) * th), (V - cth) / sth))
    return tuple(t for t in terms if t.coef != 0)


@lru_cache(maxsize=256)
def universal_antiderivative(g: sympy.Expr) -> Antiderivative:
    """G(w) = ∫ dw/(w^g (1 − w)) for the universal mode ODE dw/dt̃ = w^g (1 − w).

    Args:
        g: the exponent (rational with denominator k <= MAX_PARTIAL_FRACTION_K: elementary terms;
            otherwise the ₂F₁ form, finite for every g < 2 and every non-integer g).

    >>> G = universal_antiderivative(sympy.Integer(1))
    >>> sympy.simplify(sympy.diff(G.difference(), W) - 1 / (W * (1 - W)))
    0
    >>> universal_antiderivative(sympy.Rational(6667, 7500)).terms is None     # k > 24: the ₂F₁ form
    True
    """
    # === check arguments
    g = sympy.sympify(g)
    if g.is_Rational and g.q <= MAX_PARTIAL_FRACTION_K:
        p, k = int(g.p), int(g.q)
        return Antiderivative(g=g, k=k, terms=_rational_terms(p, k))
    # Σ_n w^{n+1−g}/(n+1−g): the n = 0 term as bc(w, 1 − g) (finite at g = 1), the rest a ₂F₁
    below = boxcox(W, 1 - g) + W ** (2 - g) / (2 - g) * sympy.hyper([1, 2 - g], [3 - g], W)
    # Σ_n z^{n+g}/(n+g), z = 1/w: bc(z, g) = −bc(w, −g) (finite at g = 0), the rest a ₂F₁
    above = -boxcox(W, -g) + W ** (-1 - g) / (1 + g) * sympy.hyper([1, 1 + g], [2 + g], 1 / W)
    return Antiderivative(g=g, k=None, terms=None, hyper=sympy.Piecewise((below, W < 1), (above, True)))


def universal_difference(g: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """t̃ = G(w) − G(w0) of the universal ODE dw/dt̃ = w^g (1 − w), in a form for numbers: (w, w0 < 1, w, w0 > 1).

    Both are expressions in W, W0 and WC = |1 − w|, WC0 = |1 − w0|, which the caller computes
    without cancellation (|s − λu|/s).

    The series G = Σ_n w^{n+1−g}/(n+1−g) (w < 1) with the n = 0 terms of both ends merged:

        D(w, w0) = w0^{1−g} bc(w/w0, 1−g) + R(w) − R(w0),  R(x) = x^{2−g}/(2−g) ₂F₁(1, 2−g; 3−g; x),
        with the complement 1 − x of each ₂F₁ argument given as WC (WC0),

    and for w, w0 > 1 (decay from above; z = 1/w, G = Σ_n z^{n+g}/(n+g)):

        D(w, w0) = w0^{−g} bc(w0/w, g) + R̃(w) − R̃(w0),  R̃(x) = x^{−1−g}/(1+g) ₂F₁(1, 1+g; 2+g; 1/x),
        with 1 − 1/x = (x − 1)/x given as WC/W (WC0/W0),

    bc(x, a) = (x^a − 1)/a (ln x at a = 0). Each piece is small where the path is: no constant of
    integration is added and then cancelled (the partial-fraction G has O(1) terms that cancel to
    O(w^{1−g}) as w → 0), and each ₂F₁ gets its complement exactly, so D stays finite and accurate up
    to the last float before w = 1 (−b ln(1 − x) is the leading term there). Valid for g < 2 (g > −1
    above) and every non-integer g.

    >>> below, above = universal_difference(sympy.Rational(1, 2))
    >>> D = below.subs({WC: 1 - W, WC0: 1 - W0}).rewrite(sympy.hyper).rewrite(sympy.Pow)
    >>> sympy.simplify(sympy.diff(D, W) - 1 / (sympy.sqrt(W) * (1 - W)))
    0
    """
    # === check arguments
    g = sympy.sympify(g)

    def R(x: sympy.Expr, xc: sympy.Expr) -> sympy.Expr:
        return x ** (2 - g) / (2 - g) * hyp2f1_1b(2 - g, x, xc)

    def R_above(x: sympy.Expr, xc: sympy.Expr) -> sympy.Expr:
        return x ** (-1 - g) / (1 + g) * hyp2f1_1b(1 + g, 1 / x, xc / x)

    below = W0 ** (1 - g) * boxcox(W / W0, 1 - g) + R(W, WC) - R(W0, WC0)
    above = W0 ** (-g) * boxcox(W0 / W, g) + R_above(W, WC) - R_above(W0, WC0)
    return below, above


# ---------------------------------------------------------------- numeric plans and solution variants

@dataclass(frozen=True)
class MobiusPlan:
    """w = ((P0 + P1 E)/(Q0 + Q1 E))^k, E = e^{−rate·t}; coefficients in w0 = λu0/s (and P0 + P1, Q0 + Q1
    summed exactly, so that floats never cancel them)."""

    rate: sympy.Expr
    k: int
    coefficients: tuple[sympy.Expr, ...]


@dataclass(frozen=True)
class InversePlan:
    """t̃ = G(w) − G(w0) with dw/dt̃ = slope(w), t̃ = rate·t, inverted by bracketed Newton.

    For rational g = p/k, `G_v` and `slope_v` are the same in v = w^{1/k} (integer powers only: cheaper).
    """

    rate: sympy.Expr
    G: sympy.Expr
    slope: sympy.Expr
    k: int = 1
    G_v: sympy.Expr | None = None
    slope_v: sympy.Expr | None = None


@dataclass(frozen=True)
class PowerPlan:
    """τ u̇ = c u^g (s − λu) for numbers: t̃ = κ t = D(w, w0), w = λu/s, κ = c λ^{1−g} s^g/τ.

    `below` and `above` are `universal_difference(g)` (w0 < 1 and w0 > 1), in W, W0, WC = |1 − w|,
    WC0 = |1 − w0|; dw/dt̃ = w^g (1 − w).
    The evaluators use this plan for u(t) (inverse forms) and t(u) (every form): it is accurate near
    w = 0 and up to the last float before w = 1, whatever the denominator of g.
    """

    rate: sympy.Expr
    g: sympy.Expr
    below: sympy.Expr
    above: sympy.Expr


@dataclass(frozen=True)
class QuadraturePlan:
    """τ dx/dt = xdot(x), u = u_of_x(x): x = u (layer None, x(0) = u0) or x = a_{layer+1} (x(0) = its gain)."""

    xdot: sympy.Expr
    u_of_x: sympy.Expr
    layer: int | None = None


@dataclass(frozen=True)
class Reduction:
    """How an unbalanced mode became one ODE.

    Attributes:
        u0: u(0) = ∏ a_i(0).
        route: "balanced" (u̇ depends on u alone: the balanced solution with this u0), "closed" (L = 2:
            the gains solved for in terms of u through the conserved quantity) or "quadrature"
            (τ da_1/dt along the conserved curves).
        conserved_value: C = Φ(a_1(0)) − Φ(a_2(0)) of the closed route.
        gains_on_curve: a_1..a_L as functions of a_1 on the conserved curves (quadrature route).
    """

    u0: sympy.Expr
    route: Literal["balanced", "closed", "quadrature"]
    conserved_value: sympy.Expr | None = None
    gains_on_curve: tuple[sympy.Expr, ...] = ()


@dataclass(frozen=True)
class Explicit:
    """u(t) in closed form (and t(u)); τ (d variable/dt) = rhs."""

    form: ClassVar[Form] = "explicit"
    u: sympy.Expr
    t_of_u: sympy.Expr
    plan: MobiusPlan
    rhs: sympy.Expr
    variable: sympy.Symbol
    c: sympy.Expr | None = None
    g: sympy.Expr | None = None
    reduction: Reduction | None = None
    power: PowerPlan | None = None

    def expressions(self) -> tuple[Any, ...]:
        """Every sympy expression carried (to read off free parameters)."""
        return (self.u, self.t_of_u, self.rhs, self.plan.rate, *self.plan.coefficients)


@dataclass(frozen=True)
class Implicit:
    """t(u) in closed form, inverted numerically; τ u̇ = rhs(u)."""

    form: ClassVar[Form] = "implicit"
    t_of_u: sympy.Expr
    plan: InversePlan
    rhs: sympy.Expr
    variable: sympy.Symbol
    c: sympy.Expr | None = None
    g: sympy.Expr | None = None
    reduction: Reduction | None = None
    power: PowerPlan | None = None

    @property
    def u(self) -> None:
        """No closed u(t)."""
        return None

    def expressions(self) -> tuple[Any, ...]:
        """Every sympy expression carried (to read off free parameters)."""
        p = self.plan
        return (self.t_of_u, self.rhs, p.rate, p.G, p.slope, p.G_v, p.slope_v)


@dataclass(frozen=True)
class Quadrature:
    """The exact quadrature t = τ ∫ dx/ẋ (a sympy Integral) and its plans, one per reference layer.

    τ (d variable/dt) = rhs: variable u (balanced, or unbalanced L = 2 without a closed integral) or a_1.
    """

    form: ClassVar[Form] = "quadrature"
    t_of_u: sympy.Expr
    plans: tuple[QuadraturePlan, ...]
    rhs: sympy.Expr
    variable: sympy.Symbol
    c: sympy.Expr | None = None
    g: sympy.Expr | None = None
    reduction: Reduction | None = None

    @property
    def u(self) -> None:
        """No closed u(t)."""
        return None

    def expressions(self) -> tuple[Any, ...]:
        """Every sympy expression carried (to read off free parameters)."""
        return (self.t_of_u, self.rhs, *(e for p in self.plans for e in (p.xdot, p.u_of_x)))


#: A solved mode: one of the three variants.
Solution = Union[Explicit, Implicit, Quadrature]


def _single_log(G: Antiderivative) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr] | None:
    """(a, N, D) when G = a ln(N(v)/D(v)) with N, D linear in v; else None."""
    if G.terms is None or any(t.kind != "log" for t in G.terms):
        return None
    logs = [t for t in G.terms if sympy.Poly(t.arg, V).degree() <= 1]
    if len(logs) != len(G.terms) or len(logs) > 2:
        return None
    if len(logs) == 1:
        return logs[0].coef, logs[0].arg, sympy.S.One
    t1, t2 = logs
    if sympy.simplify(t1.coef + t2.coef) != 0:
        return None
    return t1.coef, t1.arg, t2.arg


@lru_cache(maxsize=256)
def _explicit(G: Antiderivative) -> tuple[sympy.Expr, tuple[sympy.Expr, ...]] | None:
    """Invert a single-log G: v = (P0 + P1 E)/(Q0 + Q1 E), E = e^{−t̃/|a|}; returns (1/|a|, coeffs in w0)."""
    found = _single_log(G)
    if found is None:
        return None
    a, N, D = found
    v0 = W0 ** sympy.Rational(1, G.k)
    N0, D0 = N.subs(V, v0), D.subs(V, v0)
    # a ln(N D0/(D N0)) = t̃  ⇒  N D0 = N0 D e^{t̃/a};  with E = e^{−t̃/|a|}
    eq = N * D0 * _E - N0 * D if a > 0 else N * D0 - N0 * D * _E
    sol = sympy.solve(eq, V)
    if len(sol) != 1:
        return None
    num, den = sympy.fraction(sympy.together(sol[0]))
    pn, pd = sympy.Poly(sympy.expand(num), _E), sympy.Poly(sympy.expand(den), _E)
    if pn.degree() > 1 or pd.degree() > 1:
        return None
    P1, P0 = (pn.all_coeffs() + [0])[:2] if pn.degree() == 1 else (0, pn.all_coeffs()[0])
    Q1, Q0 = (pd.all_coeffs() + [0])[:2] if pd.degree() == 1 else (0, pd.all_coeffs()[0])
    return 1 / abs(a), tuple(sympy.simplify(x) for x in (P0, P1, Q0, Q1))


# ---------------------------------------------------------------- balanced modes

def _solve_power(c: sympy.Expr, g: sympy.Expr, sym: ModeSymbols, lam: sympy.Expr) -> Explicit | Implicit:
    """τ u̇ = c u^g (s − λu) through the universal antiderivative G."""
    s, tau, t, u, u0 = sym.s, sym.tau, sym.t, sym.u, sym.u0
    kappa = c * lam ** (1 - g) * s ** g / tau
    G = universal_antiderivative(g)
    scaled = {W: lam * u / s, W0: lam * u0 / s}
    t_of_u = tidy_powers(1 / kappa) * G.difference().subs(scaled)
    rhs = c * u ** g * (s - lam * u)
    below, above = universal_difference(g)
    power = PowerPlan(rate=kappa, g=g, below=below, above=above)
    inv = _explicit(G) if G.terms is not None else None
    if inv is not None:
        rate_factor, (P0, P1, Q0, Q1) = inv
        E = sympy.exp(-rate_factor * kappa * t)
        v = (P0 + P1 * E) / (Q0 + Q1 * E)
        u_t = (s / lam) * (v ** G.k).subs(W0, lam * u0 / s)
        sums = (sympy.simplify(P0 + P1), sympy.simplify(Q0 + Q1))   # exact: no cancellation in floats
        plan = MobiusPlan(rate=rate_factor * kappa, k=G.k, coefficients=(P0, P1, Q0, Q1) + sums)
        return Explicit(u=u_t, t_of_u=t_of_u, plan=plan, rhs=rhs, variable=u, c=c, g=g, power=power)
    if G.terms is not None:
        iplan = InversePlan(rate=kappa, G=G.G(), slope=W ** g * (1 - W), k=G.k, G_v=G.at(V, absolute=True),
                            slope_v=V ** int(g.p) * (1 - V ** G.k))
    else:
        iplan = InversePlan(rate=kappa, G=G.G(), slope=W ** g * (1 - W))
    return Implicit(t_of_u=t_of_u, plan=iplan, rhs=rhs, variable=u, c=c, g=g, power=power)


def solve_balanced(ode: ModeODE, sym: ModeSymbols, lam: Any = None) -> Solution:
    """Solve the balanced mode ODE τ u̇ = f(u) in its honest form.

    Args:
        ode: the derived `ModeODE`.
        sym: the mode's symbols.
        lam: the λ of the derivation (default the symbol λ).

    Returns:
        `Explicit` (u(t) and t(u)) or `Implicit` (t(u) in closed form) for f = c u^g (s − λu), and for
        f of another shape whose τ/f is rational with a simple root at s/λ (partial fractions);
        otherwise `Quadrature`, the exact t = τ ∫ du/f(u).

    >>> from lindyn.rules import GD
    >>> sym = mode_symbols(3)
    >>> solve_balanced(balanced_mode_ode(layer_velocities(GD(), sym), sym), sym).form
    'implicit'
    """
    # === check arguments
    lam = sym.lam if lam is None else lam
    if ode.c is None or ode.g is None:
        return _solve_general(ode.rhs, sym, lam)
    return _solve_power(ode.c, ode.g, sym, lam)


def _partial_fraction_integral(f: sympy.Expr, u: sympy.Symbol) -> sympy.Expr | None:
    """∫ f du for f rational in u by partial fractions over linear factors; None otherwise."""
    # algebraic coefficients free of u (e.g. √γ of a damping) as plain symbols, so `apart` splits
    alg = {p: sympy.Dummy(positive=True) for p in f.atoms(sympy.Pow) if not p.exp.is_Integer and not p.has(u)}
    back = {v: k for k, v in alg.items()}
    g = f.xreplace(alg)
    if not g.is_rational_function(u):
        return None
    out = sympy.S.Zero
    for term in sympy.Add.make_args(sympy.apart(sympy.cancel(g), u)):
        coef, rest = term.as_independent(u, as_Add=False)
        if rest.is_polynomial(u):
            out += coef * sympy.integrate(rest, u)
            continue
        base, exp = rest.as_base_exp()
        if not (exp.is_Integer and exp < 0 and sympy.Poly(base, u).degree() == 1):
            return None
        alpha = sympy.Poly(base, u).LC()
        out += coef * (sympy.log(base) / alpha if exp == -1 else base ** (exp + 1) / (alpha * (exp + 1)))
    return out.xreplace(back)


def _solve_general(rhs: sympy.Expr, sym: ModeSymbols, lam: sympy.Expr) -> Implicit | Quadrature:
    """τ u̇ = f(u) of another shape: closed t(u) when τ/f is rational with a simple root at s/λ."""
    u, s, tau = sym.u, sym.s, sym.tau
    fixed = s / lam
    # a simple root at u* means an exponential approach, as the inverse evaluator assumes
    at_fixed = sympy.simplify(rhs.subs(u, fixed))
    slope_at = sympy.simplify(sympy.diff(rhs, u).subs(u, fixed))
    F = _partial_fraction_integral(1 / rhs, u) if at_fixed == 0 and slope_at.is_zero is not True \
        and slope_at != 0 else None
    if F is not None and not F.has(sympy.RootSum, sympy.Integral):
        t_of_u = tau * _log_difference(F, u, sym.u0)
        G = F.replace(sympy.log, lambda e: sympy.log(sympy.Abs(e))).subs(u, s * W / lam)
        plan = InversePlan(rate=1 / tau, G=G, slope=(lam / s) * rhs.subs(u, s * W / lam))
        return Implicit(t_of_u=t_of_u, plan=plan, rhs=rhs, variable=u)
    t_of_u = tau * sympy.Integral(1 / rhs.subs(u, X), (X, sym.u0, u))
    return Quadrature(t_of_u=t_of_u, plans=(QuadraturePlan(xdot=rhs.subs(u, X), u_of_x=X),), rhs=rhs, variable=u)


# ---------------------------------------------------------------- unbalanced modes

def _log_difference(F: sympy.Expr, z: sympy.Symbol, z0: sympy.Expr) -> sympy.Expr:
    """F(z) − F(z0) with each c·ln A merged into c·ln[A(z)/A(z0)] (valid on either side of a root)."""
    out = sympy.S.Zero
    for term in sympy.Add.make_args(sympy.expand(F)):
        logs = [f for f in sympy.Mul.make_args(term) if isinstance(f, sympy.log)]
        if len(logs) == 1:
            coef = term / logs[0]
            A = logs[0].args[0]
            out += coef * sympy.log(sympy.together(A / A.subs(z, z0)))
        else:
            out += term - term.subs(z, z0)
    return out


def _euler_integral(integrand: sympy.Expr, u: sympy.Symbol) -> tuple[sympy.Expr, sympy.Symbol, sympy.Expr] | None:
    """∫ R(u, √Q(u)) du by Euler's substitution √Q = z − √α u (α > 0); returns (F(z), z, z(u)) or None."""
    roots = [p for p in integrand.atoms(sympy.Pow) if p.exp == sympy.Rational(1, 2) and p.base.has(u)]
    bases = {p.base for p in roots} | {p.base for p in integrand.atoms(sympy.Pow)
                                       if p.exp == -sympy.Rational(1, 2) and p.base.has(u)}
    if len(bases) != 1:
        return None
    Q = bases.pop()
    poly = sympy.Poly(sympy.expand(Q), u)
    z = sympy.Symbol("z", positive=True)
    if poly.degree() == 1:                     # √(βu + γ) = z: rational in z
        beta, gamma = poly.all_coeffs()
        u_z = (z ** 2 - gamma) / beta
        R = integrand.subs(sympy.sqrt(Q), z).subs(u, u_z) * sympy.diff(u_z, z)
        R = sympy.factor(sympy.cancel(sympy.together(R)))
        if not R.is_rational_function(z):
            return None
        return sympy.simplify(ratint(R, z)), z, sympy.sqrt(Q)
    if poly.degree() != 2:
        return None
    alpha, beta, gamma = poly.all_coeffs()
    if not alpha.is_positive:
        return None
    z = sympy.Symbol("z", positive=True)
    ra = sympy.sqrt(alpha)
    # Q = (z − √α u)²  ⇒  β u + γ = z² − 2√α z u
    u_z = (z ** 2 - gamma) / (beta + 2 * ra * z)
    root_z = z - ra * u_z
    R = integrand.subs(sympy.sqrt(Q), root_z).subs(u, u_z) * sympy.diff(u_z, z)
    R = sympy.factor(sympy.cancel(sympy.together(R)))
    if not R.is_rational_function(z):
        return None
    F = ratint(R, z)
    F = F.replace(lambda e: e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer and not e.base.has(z),
                  lambda e: sympy.radsimp(e))
    return sympy.simplify(F), z, sympy.sqrt(Q) + ra * u


def _same_as_balanced(udot: sympy.Expr, ode: ModeODE, sym: ModeSymbols) -> bool:
    """Does τ u̇ (from all layers) equal the balanced f(u) at u = ∏ a_i for every gain?"""
    diff = udot - ode.rhs.subs(sym.u, sympy.Mul(*sym.gains))
    trial = {x: sympy.Rational(3 + 2 * i, 7 + i) for i, x in enumerate(sym.gains)}
    trial.update({sym.s: sympy.Rational(5, 3), sym.lam: sympy.Rational(7, 5)})
    trial.update({x: sympy.Rational(1, 3) for x in diff.free_symbols if x not in trial})
    # a cheap 30-digit screen first; the exact check only when it passes
    return abs(sympy.N(diff.subs(trial), 30)) < 1e-25 and sympy.simplify(tidy_powers(sympy.cancel(diff))) == 0


def solve_unbalanced(velocities: tuple[sympy.Expr, ...], ode: ModeODE, sep: Separation | None,
                     sym: ModeSymbols, lam: Any = None) -> Solution:
    """Solve an unbalanced aligned mode (gains a_1(0)..a_L(0)) from its derived velocities and separation.

    Args:
        velocities: (τ ȧ_1, …, τ ȧ_L) from `layer_velocities`.
        ode: the balanced `ModeODE` of the same velocities.
        sep: their `Separation` (None when they do not separate).
        sym: the mode's symbols (depth L).
        lam: the λ of the derivation (default the symbol λ).

    Returns:
        The balanced form when u̇ depends on u alone (u0 = ∏ a_i(0)); at L = 2 a closed t(u) when the
        integral is elementary; otherwise the exact quadrature t = τ ∫ da_1/ȧ_1 (`Quadrature`).

    Raises:
        NoModeDecomposition: when the layer velocities do not separate.

    >>> from lindyn.rules import GD
    >>> sym = mode_symbols(2)
    >>> vel = layer_velocities(GD(), sym)
    >>> solve_unbalanced(vel, balanced_mode_ode(vel, sym), separate_velocities(vel, sym), sym).form
    'implicit'
    """
    # === check arguments
    lam = sym.lam if lam is None else lam
    a, a0, s, tau, u, u0 = sym.gains, sym.gains0, sym.s, sym.tau, sym.u, sym.u0
    depth = sym.depth
    prod0 = sympy.Mul(*a0)
    udot = sum(sympy.Mul(*a) / a[i] * velocities[i] for i in range(depth))
    # 1. u̇ depends on u alone (L = 1, NGD, block q = 1, per-layer NG): the balanced solution holds.
    if depth == 1 or _same_as_balanced(udot, ode, sym):
        bal = solve_balanced(ode, sym, lam)
        sub = {u0: prod0}
        extra = {"u": bal.u.subs(sub)} if isinstance(bal, Explicit) else {}
        return replace(bal, t_of_u=bal.t_of_u.subs(sub), reduction=Reduction(u0=prod0, route="balanced"), **extra)
    if sep is None:
        raise NoModeDecomposition("Argument `rule` does not reduce an unbalanced mode to one ODE "
                                  "(its layer velocities do not separate as h·k(a_i))")
    n, x, Phi = sep.power, sep.x, sep.Phi
    # Conserved: Φ(a_i) − Φ(a_r) = C_i, so a_i = Φ⁻¹(Φ(a_r) + C_i): one ODE in a_r, for each layer r.
    # Numerically the layer with the smallest initial gain is the variable, so that every
    # a_i^n = x^n + (a_i(0)^n − a_r(0)^n) adds a non-negative constant (no cancellation).
    plans = []
    for r in range(depth):
        a_r = [x if i == r else tidy_powers(sep.inverse_Phi(Phi + Phi.subs(x, a0[i]) - Phi.subs(x, a0[r])))
               for i in range(depth)]
        plans.append(QuadraturePlan(xdot=tidy_powers(velocities[r].subs(dict(zip(a, a_r)))),
                                    u_of_x=sympy.Mul(*a_r), layer=r))
    on_curve = tuple(tidy_powers(sep.inverse_Phi(Phi + Phi.subs(x, a0[i]) - Phi.subs(x, a0[0]))).subs(x, a[0])
                     if i else a[0] for i in range(depth))
    rhs_a1 = plans[0].xdot.subs(x, a[0])
    quad = Quadrature(t_of_u=tau * sympy.Integral(1 / plans[0].xdot, (x, a0[0], a[0])), plans=tuple(plans),
                      rhs=rhs_a1, variable=a[0],
                      reduction=Reduction(u0=prod0, route="quadrature", gains_on_curve=on_curve))
    if not (depth == 2 and n is not None and n != 0 and n.is_number):
        return quad
    # L = 2: a^n − (u/a)^n = C  ⇒  a^n = (C + √(C² + 4u^n))/2; then τ u̇ = f(u) by the chain rule.
    Cs = sympy.Symbol("C", real=True)          # the conserved a_1^n − a_2^n
    an = (Cs + sympy.sqrt(Cs ** 2 + 4 * u ** n)) / 2
    a1 = an ** (1 / n)
    f = tidy_powers(udot.subs({a[0]: a1, a[1]: u / a1}))
    C_value = a0[0] ** n - a0[1] ** n
    # Euler's substitution needs f = R(u, √Q(u)): only integer and half-integer powers of u-terms
    # (anything else, e.g. NGD^q's |J|^{−2q}, is left as the exact quadrature).
    halfint = all((p.exp * 2).is_Integer for p in f.atoms(sympy.Pow) if p.base.has(u))
    if not halfint or sympy.count_ops(f) > 60:     # keep the derivation fast; else quadrature
        return quad
    try:
        f = sympy.factor_terms(sympy.cancel(sympy.radsimp(f)))
        found = _euler_integral(sympy.cancel(tau / f), u)
    except (sympy.PolynomialError, NotImplementedError, ZeroDivisionError):
        found = None
    f_u = f.subs(Cs, C_value)
    if found is None:      # the ODE in u is still the plainer statement
        return replace(quad, rhs=f_u, variable=u)
    F, z, z_of_u = found
    t_of_u = _log_difference(F, z, z_of_u.subs(u, u0)).subs(z, z_of_u)
    G = F.replace(sympy.log, lambda e: sympy.log(sympy.Abs(e))).subs(z, z_of_u).subs(u, s * W / lam)
    slope = (lam / s) * f.subs(u, s * W / lam)   # dw/dt · τ
    plan = InversePlan(rate=1 / tau, G=(G / tau).subs(Cs, C_value), slope=slope.subs(Cs, C_value))
    return Implicit(t_of_u=t_of_u.subs({Cs: C_value, u0: prod0}), plan=plan, rhs=f_u, variable=u,
                    reduction=Reduction(u0=prod0, route="closed", conserved_value=C_value))


# ---------------------------------------------------------------- the pipeline

@dataclass(frozen=True)
class Derivation:
    """One mode's derivation, built once: velocities → mode ODE → separation → solution.

    Attributes:
        rule: the learning rule.
        symbols: the mode's `ModeSymbols`.
        gains: "balanced" or "unbalanced".
        lam: the input variance λ the derivation used (a positive number or a symbol).
        velocities: τ ȧ_i for each layer, from `rule.velocity` on the per-mode geometry.
        ode: the balanced mode ODE τ u̇ = f(u) (with c, g when f = c u^g (s − λu)).
        separation: τ ȧ_i = h·k(a_i) and its conserved quantities (None when they do not separate).
        solution: `Explicit`, `Implicit` or `Quadrature`.
    """

    rule: LearningRule
    symbols: ModeSymbols
    gains: Literal["balanced", "unbalanced"]
    lam: sympy.Expr
    velocities: tuple[sympy.Expr, ...]
    ode: ModeODE
    separation: Separation | None
    solution: Solution

    @property
    def conserved(self) -> tuple[sympy.Expr, ...]:
        """Conserved quantities of neighbouring layers (() when the velocities do not separate)."""
        return () if self.separation is None else self.separation.conserved

    @property
    def parameters(self) -> tuple[sympy.Symbol, ...]:
        """Free symbols of the solution besides the mode's own (e.g. a symbolic power q or damping)."""
        sym = self.symbols
        own = {sym.t, sym.tau, sym.s, sym.lam, sym.u, sym.u0, *sym.gains, *sym.gains0, W, W0, V, X}
        if isinstance(self.lam, sympy.Symbol):
            own.add(self.lam)
        found: set[sympy.Symbol] = set()
        for e in self.solution.expressions():
            if isinstance(e, sympy.Basic):
                found |= {x for x in e.free_symbols if isinstance(x, sympy.Symbol)}
        return tuple(sorted(found - own, key=str))


def _name(rule: Any) -> str:
    return repr(getattr(rule, "name", rule))


def derive_mode(rule: LearningRule, depth: int, gains: Literal["balanced", "unbalanced"] = "balanced",
                lam: Any = None) -> Derivation:
    """Run the derivation pipeline once for one aligned mode of `rule` (not cached: `lindyn.derive` is).

    Args:
        rule: a learning rule (any object with `velocity`).
        depth: L >= 1.
        gains: "balanced" or "unbalanced".
        lam: input variance λ (a positive exact number or a symbol; default the symbol λ).

    Raises:
        NoModeDecomposition: the rule does not reduce to one mode ODE; the message names what would
            work instead (another λ, the balanced mode, or `lindyn.integrate`).

    >>> from lindyn.rules import kfac
    >>> d = derive_mode(kfac(damping=1), 2, lam=1)
    >>> d.solution.form, d.conserved
    ('implicit', ((a_1**2 + 1)/(a_2**2 + 1),))
    """
    # === check arguments
    sym = mode_symbols(depth)
    lam = sym.lam if lam is None else sympy.sympify(lam)
    vel = layer_velocities(rule, sym, lam)
    try:
        ode = balanced_mode_ode(vel, sym, lam)
    except NoModeDecomposition:
        # equal gains stay equal whenever the velocities separate, so the unbalanced mode does not
        # reduce either: the one option that may help is another λ
        hint = ""
        if lam != 1:
            try:
                balanced_mode_ode(layer_velocities(rule, sym, 1), sym, 1)
                hint = " The layers do move together at λ = 1 (whitened input): derive with lam=1."
            except NoModeDecomposition:
                pass
        raise NoModeDecomposition(
            f"Argument `rule` ({_name(rule)}) must keep a balanced mode balanced (equal layer velocities "
            f"at equal gains) at depth {depth} and λ = {lam}; neither the balanced nor an unbalanced mode "
            f"reduces to one ODE, so use lindyn.integrate (full-matrix route).{hint}") from None
    sep = separate_velocities(vel, sym)
    if gains == "balanced":
        sol = solve_balanced(ode, sym, lam)
    else:
        try:
            sol = solve_unbalanced(vel, ode, sep, sym, lam)
        except NoModeDecomposition as err:
            raise NoModeDecomposition(
                f"{err} for rule {_name(rule)} at depth {depth}: gains='balanced' derives the balanced mode; "
                "use lindyn.integrate for unbalanced gains.") from None
    return Derivation(rule=rule, symbols=sym, gains=gains, lam=lam, velocities=vel, ode=ode, separation=sep,
                      solution=sol)
