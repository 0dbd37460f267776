"""Solutions of the mode ODE in their honest form: explicit, implicit or quadrature (sympy only).

Balanced mode τ u̇ = c u^g (s − λu). With w = λu/s and t̃ = κt, κ = c λ^{1−g} s^g/τ, every such ODE
is the universal dw/dt̃ = w^g (1 − w), so t̃ = G(w) − G(w0) with G' = 1/(w^g (1 − w)):

* g = p/k rational: w = v^k turns G into ∫ k v^{k−1−p}/(1 − v^k) dv, a rational function, integrated
  here by partial fractions over the k-th roots of unity ω_j = e^{2πij/k}:
  v^m/(1 − v^k) = (1/k) Σ_j ω_j^{m+1}/(ω_j − v) for 0 <= m < k (Laurent terms split off first);
  conjugate roots pair into ½ln(v² − 2v cos θ + 1) and arctangents, so G is elementary.
* when G is a single logarithm of a Möbius function of v (g = 0, g = 1, g = ½ ...) the relation is
  inverted: u(t) explicit. Otherwise t(u) is the implicit closed form.
* g symbolic: G(w) = Σ_n w^{n+1−g}/(n+1−g) = w^{1−g}/(1−g) ₂F₁(1, 1−g; 2−g; w) for w < 1 and
  Σ_n z^{n+g}/(n+g) = z^g/g ₂F₁(1, g; 1+g; z), z = 1/w, for w > 1 (decay from above). The n = 0
  term, singular at g = 1 (w < 1) and g = 0 (w > 1), is shifted by a constant to the Box–Cox form
  (x^a − 1)/a → ln x (a → 0), so one G holds for every g, including the logistic (g = 1) and the
  exponential (g = 0) rows: G = bc(w, 1−g) + w^{2−g}/(2−g) ₂F₁(1, 2−g; 3−g; w), resp.
  −bc(w, −g) + w^{−1−g}/(1+g) ₂F₁(1, 1+g; 2+g; 1/w), with bc(x, a) = (x^a − 1)/a.

Unbalanced modes are reduced through the derived conserved quantities (`invariants.py`): when u̇
depends on u alone the balanced solution holds with u0 = ∏ a_i(0); at L = 2 the gains are solved
for in terms of u (a^n − (u/a)^n = C is quadratic in a^n) and τ/f(u) = R(u, √Q(u)) is integrated
by Euler's substitution √Q = z − √α u and partial fractions (`ratint`); otherwise the mode is the
exact quadrature t = τ ∫ da_1/ȧ_1 along the conserved curves a_i = Φ⁻¹(Φ(a_1) + C_i).

>>> from lindyn.symbolic.modes import mode_symbols, balanced_mode_ode
>>> from lindyn.rules import GD
>>> sym = mode_symbols(2)
>>> sol = solve_balanced(balanced_mode_ode(GD(), sym), sym)
>>> sol.form
'explicit'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import sympy
from sympy.integrals.rationaltools import ratint

from .._checks import NoModeDecomposition
from .invariants import _separate
from .modes import ModeODE, ModeSymbols, _balanced, _tidy, _velocities, mode_symbols

__all__ = ["Antiderivative", "NumericPlan", "Solution", "universal_antiderivative", "solve_balanced",
           "solve_unbalanced", "boxcox", "W", "W0", "V"]

Form = Literal["explicit", "implicit", "quadrature"]

#: The universal variables: w = λu/s, w0 = λu0/s, v = w^{1/k}.
W = sympy.Symbol("w", positive=True)
W0 = sympy.Symbol("w_0", positive=True)
V = sympy.Symbol("v", positive=True)
_E = sympy.Symbol("E", positive=True)


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

    def _at(self, v: sympy.Expr, absolute: bool) -> sympy.Expr:
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
        return self._at(w ** sympy.Rational(1, self.k), absolute=True)

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
        g: the exponent (rational: elementary terms; otherwise the ₂F₁ form, finite for every g < 2).

    >>> G = universal_antiderivative(sympy.Integer(1))
    >>> sympy.simplify(sympy.diff(G.difference(), W) - 1 / (W * (1 - W)))
    0
    """
    # === check arguments
    g = sympy.sympify(g)
    if g.is_Rational:
        p, k = int(g.p), int(g.q)
        return Antiderivative(g=g, k=k, terms=_rational_terms(p, k))
    # Σ_n w^{n+1−g}/(n+1−g): the n = 0 term as bc(w, 1 − g) (finite at g = 1), the rest a ₂F₁
    below = boxcox(W, 1 - g) + W ** (2 - g) / (2 - g) * sympy.hyper([1, 2 - g], [3 - g], W)
    # Σ_n z^{n+g}/(n+g), z = 1/w: bc(z, g) = −bc(w, −g) (finite at g = 0), the rest a ₂F₁
    above = -boxcox(W, -g) + W ** (-1 - g) / (1 + g) * sympy.hyper([1, 1 + g], [2 + g], 1 / W)
    return Antiderivative(g=g, k=None, terms=None, hyper=sympy.Piecewise((below, W < 1), (above, True)))


@dataclass(frozen=True)
class NumericPlan:
    """What the numeric side needs, as sympy expressions to lambdify.

    kind "mobius": w = ((P0 + P1 E)/(Q0 + Q1 E))^k, E = e^{−rate·t}, coefficients in w0.
    kind "inverse": t̃ = G(w) − G(w0) inverted by bracketed Newton; dw/dt̃ = slope(w); t̃ = rate·t.
    kind "quadrature": τ dx/dt = xdot(x) for x = a_1, u = u_of_x(x), x(0) = x0.
    Parameters are the symbols listed in `params` (besides w, w0, x).
    """

    kind: str
    rate: sympy.Expr
    k: int = 1
    coefficients: tuple[sympy.Expr, ...] = ()
    G: sympy.Expr | None = None
    slope: sympy.Expr | None = None
    G_v: sympy.Expr | None = None        # G and slope in v = w^{1/k} (integer powers only: cheaper)
    slope_v: sympy.Expr | None = None
    xdot: sympy.Expr | None = None
    u_of_x: sympy.Expr | None = None
    x0: sympy.Expr | None = None
    params: tuple[sympy.Symbol, ...] = ()


@dataclass(frozen=True)
class Solution:
    """A solved mode: its form, u(t) when explicit, t(u) when closed, and the numeric plan."""

    form: Form
    u: sympy.Expr | None
    t_of_u: sympy.Expr | None
    plan: NumericPlan
    c: sympy.Expr | None = None
    g: sympy.Expr | None = None
    ode_rhs: sympy.Expr | None = None
    reduced: dict[str, Any] = field(default_factory=dict)


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


@lru_cache(maxsize=512)
def _solve_power(c: sympy.Expr, g: sympy.Expr, depth: int) -> Solution:
    sym = mode_symbols(depth)
    s, lam, tau, t, u, u0 = sym.s, sym.lam, sym.tau, sym.t, sym.u, sym.u0
    kappa = c * lam ** (1 - g) * s ** g / tau
    G = universal_antiderivative(g)
    scaled = {W: lam * u / s, W0: lam * u0 / s}
    t_of_u = _tidy(1 / kappa) * G.difference().subs(scaled)
    rhs = c * u ** g * (s - lam * u)
    inv = _explicit(G) if G.terms is not None else None
    if inv is not None:
        rate_factor, (P0, P1, Q0, Q1) = inv
        E = sympy.exp(-rate_factor * kappa * t)
        v = (P0 + P1 * E) / (Q0 + Q1 * E)
        u_t = (s / lam) * (v ** G.k).subs(W0, lam * u0 / s)
        sums = (sympy.simplify(P0 + P1), sympy.simplify(Q0 + Q1))   # exact: no cancellation in floats
        plan = NumericPlan("mobius", rate=rate_factor * kappa, k=G.k, coefficients=(P0, P1, Q0, Q1) + sums)
        return Solution("explicit", u_t, t_of_u, plan, c=c, g=g, ode_rhs=rhs)
    if G.terms is not None:
        plan = NumericPlan("inverse", rate=kappa, k=G.k, G=G.G(), slope=W ** g * (1 - W),
                           G_v=G._at(V, absolute=True), slope_v=V ** int(g.p) * (1 - V ** G.k))
    else:
        plan = NumericPlan("inverse", rate=kappa, G=G.G(), slope=W ** g * (1 - W))
    return Solution("implicit", None, t_of_u, plan, c=c, g=g, ode_rhs=rhs)


def solve_balanced(ode: ModeODE, sym: ModeSymbols) -> Solution:
    """Solve the balanced mode ODE τ u̇ = c u^g (s − λu) in its honest form.

    Args:
        ode: the derived `ModeODE` (its c and g must be known).
        sym: the mode's symbols.

    Returns:
        `Solution` with form "explicit" (u(t) and t(u)) or "implicit" (t(u) in closed form); a
        right-hand side of another shape (user rules) gives the exact quadrature t = τ ∫ du/f(u).

    >>> from lindyn.symbolic.modes import mode_symbols, balanced_mode_ode
    >>> from lindyn.rules import GD
    >>> sym = mode_symbols(3)
    >>> solve_balanced(balanced_mode_ode(GD(), sym), sym).form
    'implicit'
    """
    # === check arguments
    if ode.c is None or ode.g is None:
        return _solve_general(ode.rhs, sym)
    return _solve_power(ode.c, ode.g, sym.depth)


def _solve_general(rhs: sympy.Expr, sym: ModeSymbols) -> Solution:
    """τ u̇ = f(u) of another shape: the exact quadrature t = τ ∫ du/f(u)."""
    u, x = sym.u, sympy.Symbol("x", positive=True)
    t_of_u = sym.tau * sympy.Integral(1 / rhs.subs(u, x), (x, sym.u0, u))
    plan = NumericPlan("quadrature", rate=1 / sym.tau, xdot=rhs.subs(u, x), u_of_x=x, x0=sym.u0,
                       params=(sym.s, sym.lam))
    return Solution("quadrature", None, t_of_u, plan, ode_rhs=rhs)


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


@lru_cache(maxsize=256)
def _solve_unbalanced(rule: Any, depth: int) -> Solution:
    sym = mode_symbols(depth)
    a, a0, s, lam, tau, u, u0 = sym.gains, sym.gains0, sym.s, sym.lam, sym.tau, sym.u, sym.u0
    ode = _balanced(rule, depth)
    vel = _velocities(rule, depth)
    prod = sympy.Mul(*a)
    prod0 = sympy.Mul(*a0)
    udot = sum(prod / a[i] * vel[i] for i in range(depth))
    # 1. Does u̇ depend on u alone (NGD, block q = 1, per-layer NG)?  Then the balanced solution holds.
    if ode.c is not None:
        diff = udot - ode.rhs.subs(u, prod)
        trial = {x: sympy.Rational(3 + 2 * i, 7 + i) for i, x in enumerate(a)}
        trial.update({s: sympy.Rational(5, 3), lam: sympy.Rational(7, 5)})
        trial.update({x: sympy.Rational(1, 3) for x in diff.free_symbols if x not in trial})
        if abs(sympy.N(diff.subs(trial), 30)) < 1e-25 and sympy.simplify(_tidy(sympy.cancel(diff))) == 0:
            bal = _solve_power(ode.c, ode.g, depth)
            sub = {u0: prod0}
            plan = bal.plan
            return Solution(bal.form, None if bal.u is None else bal.u.subs(sub), bal.t_of_u.subs(sub), plan,
                            c=bal.c, g=bal.g, ode_rhs=bal.ode_rhs, reduced={"u0": prod0, "same_as_balanced": True})
    sep = _separate(rule, depth)
    if sep is None or sep.power is None:
        raise NoModeDecomposition(
            f"Argument `rule` ({getattr(rule, 'name', rule)!r}) does not reduce an unbalanced mode to one ODE "
            "(its layer velocities do not separate as h·k(a_i)); use lindyn.integrate.")
    n = sep.power
    x = sep.x
    # Conserved: Φ(a_i) − Φ(a_1) = C_i, so a_i = Φ⁻¹(Φ(a_1) + C_i): one ODE in a_1.
    Phi = sep.Phi
    C = [Phi.subs(x, a0[i]) - Phi.subs(x, a0[0]) for i in range(depth)]
    a_of_x = [x] + [_tidy(sep.inverse_Phi(Phi + C[i])) for i in range(1, depth)]
    on_curve = dict(zip(a, a_of_x))
    xdot = _tidy(vel[0].subs(on_curve))
    u_of_x = sympy.Mul(*a_of_x)
    reduced = {"variable": a[0], "gains_on_curve": tuple(e.subs(x, a[0]) for e in a_of_x), "u0": prod0}
    t_quad = tau * sympy.Integral(1 / xdot, (x, a0[0], a[0]))
    plan_q = NumericPlan("quadrature", rate=1 / tau, xdot=xdot, u_of_x=u_of_x, x0=a0[0],
                         params=(s, lam) + tuple(a0))
    # The same quadrature with layer r as the variable, for each r: numerically the layer with the
    # smallest initial gain is used, so that every a_i^n = x^n + (a_i(0)^n − a_r(0)^n) adds a
    # non-negative constant (a_1 as the variable would cancel when a_1 is the largest gain).
    by_layer = []
    for r in range(depth):
        Cr = [Phi.subs(x, a0[i]) - Phi.subs(x, a0[r]) for i in range(depth)]
        a_r = [x if i == r else _tidy(sep.inverse_Phi(Phi + Cr[i])) for i in range(depth)]
        by_layer.append(NumericPlan("quadrature", rate=1 / tau, xdot=_tidy(vel[r].subs(dict(zip(a, a_r)))),
                                    u_of_x=sympy.Mul(*a_r), x0=a0[r], params=(s, lam) + tuple(a0)))
    reduced["plans_by_layer"] = tuple(by_layer)
    if depth == 2 and n != 0 and n.is_number:
        # a^n − (u/a)^n = C  ⇒  a^n = (C + √(C² + 4u^n))/2; then τ u̇ = f(u) with f from the chain rule.
        Cs = sympy.Symbol("C", real=True)          # the conserved a_1^n − a_2^n
        an = (Cs + sympy.sqrt(Cs ** 2 + 4 * u ** n)) / 2
        a1 = an ** (1 / n)
        f = _tidy(udot.subs({a[0]: a1, a[1]: u / a1}))
        # Euler's substitution needs f = R(u, √Q(u)): only integer and half-integer powers of u-terms
        # (anything else, e.g. NGD^q's |J|^{−2q}, is left as the exact quadrature).
        halfint = all((p.exp * 2).is_Integer for p in f.atoms(sympy.Pow) if p.base.has(u))
        halfint = halfint and sympy.count_ops(f) <= 60   # keep derivation fast; else quadrature
        found = None
        if halfint:
            try:
                f = sympy.factor_terms(sympy.cancel(sympy.radsimp(f)))
                found = _euler_integral(sympy.cancel(tau / f), u)
            except (sympy.PolynomialError, NotImplementedError, ZeroDivisionError):
                found = None
        C_value = a0[0] ** n - a0[1] ** n
        if found is not None:
            F, z, z_of_u = found
            f = sympy.factor_terms(f)
            t_of_u = _log_difference(F, z, z_of_u.subs(u, u0)).subs(z, z_of_u)
            sub = {Cs: C_value, u0: prod0}
            G = F.replace(sympy.log, lambda e: sympy.log(sympy.Abs(e))).subs(z, z_of_u).subs(u, s * W / lam)
            slope = (lam / s) * f.subs(u, s * W / lam)   # dw/dt · τ
            plan = NumericPlan("inverse", rate=1 / tau, G=(G / tau).subs(Cs, C_value),
                               slope=slope.subs(Cs, C_value), params=(s, lam) + tuple(a0))
            return Solution("implicit", None, t_of_u.subs(sub), plan, ode_rhs=f.subs(Cs, C_value),
                            reduced={**reduced, "C": C_value, "ode_in_u": f.subs(Cs, C_value)})
        if halfint:
            reduced["ode_in_u"] = f.subs(Cs, C_value)
    return Solution("quadrature", None, t_quad, plan_q, ode_rhs=None, reduced=reduced)


def solve_unbalanced(rule: Any, sym: ModeSymbols) -> Solution:
    """Solve an unbalanced aligned mode (gains a_1(0)..a_L(0)) through its conserved quantities.

    Args:
        rule: a hashable learning rule.
        sym: the mode's symbols (depth L).

    Returns:
        `Solution`: the balanced form when u̇ depends on u alone, a closed t(u) at L = 2 when the
        integral is elementary, otherwise the exact quadrature t = τ ∫ da_1/ȧ_1.

    Raises:
        NoModeDecomposition: when the layer velocities do not separate.

    >>> from lindyn.rules import GD
    >>> solve_unbalanced(GD(), mode_symbols(2)).form
    'implicit'
    """
    # === check arguments
    if sym.depth == 1:
        return _solve_unbalanced_l1(rule)
    return _solve_unbalanced(rule, sym.depth)


def _solve_unbalanced_l1(rule: Any) -> Solution:
    ode = _balanced(rule, 1)
    sym = mode_symbols(1)
    sol = solve_balanced(ode, sym)
    sub = {sym.u0: sym.gains0[0]}
    return Solution(sol.form, None if sol.u is None else sol.u.subs(sub), sol.t_of_u.subs(sub), sol.plan,
                    c=sol.c, g=sol.g, ode_rhs=sol.ode_rhs, reduced={"u0": sym.gains0[0], "same_as_balanced": True})
