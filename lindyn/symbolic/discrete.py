"""Discrete steps on a balanced mode, derived from the rule's definition (sympy only).

A practitioner's algorithm steps the layers, W_i ← W_i + η v_i(W) (τ = 1, whitened input). On a
balanced aligned mode every layer has the same gain a and, by the rule's symmetry, the same velocity
φ(a) = τ ȧ_i at a_1 = … = a_L = a, read off `rule.velocity` on the per-mode geometry exactly as
the flow's mode ODE is. The balanced manifold is then invariant under the step too, and the mode
follows the one-dimensional map

    a_{k+1} = a_k + η φ(a_k),    u_k = a_k^L.

From φ alone the engine derives:

- the fixed points (φ(a*) = 0; the optimum a* = s^{1/L});
- the multiplier 1 + η φ'(a*) of the map at the optimum and the largest stable step
  η_max = 2 / (−φ'(a*)): for a flow τu̇ = c u^g (s − u) this is 2/(c s^g), the inverse curvature
  of the loss along the balanced manifold in the rule's metric (GD: 2/(L s^{2−2/L}));
- the modified equation (first-order backward error analysis; Hairer, Lubich & Wanner, Geometric
  Numerical Integration, Ch. IX): the iterates follow, to O(η²) over a fixed time t = kη, the flow
  ȧ = φ − (η/2) φ'φ, i.e. τu̇ = f(u) + η f₁(u);
- the implicit regulariser R (Barrett & Dherin 2021 for GD): writing the flow as ȧ = −P(a) ℓ'(a)
  with ℓ(a) = ½(s − a^L)² the mode's loss and P = −φ/ℓ' the rule's metric on the manifold, the
  modified flow is ȧ = −P (ℓ + R)' with R' = −(η/2) φ' ℓ' and R(a*) = 0. For GD, P = 1/L and
  R = (η/4) L φ² = (η/4)‖∇_θ ℓ‖²; for other rules R = (η/4) P ℓ'² (the metric-weighted squared
  gradient) plus a term from the variation of the metric, (η/4)∫ P' ℓ'² da, which is reported too.

>>> from lindyn.rules import GD
>>> d = derive_discrete_map(GD(), 2)
>>> d.eta_max
1/s
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy

from .._checks import NoModeDecomposition, check_int
from ._ops import ModeGeometry, SympyOps
from .modes import layer_velocities, mode_symbols, tidy_powers

__all__ = ["DiscreteDerivation", "derive_discrete_map", "discrete_symbols"]


@dataclass(frozen=True)
class DiscreteSymbols:
    """a: layer gain (positive); x: the same gain as a real symbol (a signed iterate); s: singular value;
    eta: the step η; u: mode strength a^L."""

    a: sympy.Symbol
    x: sympy.Symbol
    s: sympy.Symbol
    eta: sympy.Symbol
    u: sympy.Symbol


@lru_cache(maxsize=None)
def discrete_symbols() -> DiscreteSymbols:
    """The standard symbols of the discrete map."""
    pos = dict(positive=True)
    return DiscreteSymbols(a=sympy.Symbol("a", **pos), x=sympy.Symbol("a", real=True), s=sympy.Symbol("s", **pos),
                           eta=sympy.Symbol("eta", **pos), u=mode_symbols(1).u)


@dataclass(frozen=True)
class DiscreteDerivation:
    """The derived discrete dynamics of a balanced mode (τ = 1, whitened input λ = 1).

    Attributes:
        rule_name, depth: the rule and L.
        symbols: the `DiscreteSymbols` the expressions use.
        step: φ(a), the per-layer velocity at equal gains a > 0.
        signed_step: φ(x) derived with a real gain x (valid where an iterate overshoots through 0;
            used by the numeric iteration).
        map: a + η φ(a).
        fixed_points: positive solutions of φ(a) = 0 (the optimum s^{1/L}).
        optimum: a* = s^{1/L}.
        slope: φ'(a*), the linearisation of the velocity at the optimum.
        multiplier: 1 + η φ'(a*).
        eta_max: 2 / (−φ'(a*)), the largest step at which the optimum is stable (None if φ'(a*) >= 0).
        mode_rhs: f(u) with τu̇ = f(u) the flow of u = a^L.
        correction: f₁(u) with τu̇ = f(u) + η f₁(u) the modified equation.
        metric: P(a) = −φ/ℓ' with ℓ(a) = ½(s − a^L)².
        regulariser: R(u) with the modified flow ȧ = −P (ℓ + R)', R(s) = 0 (None if not integrable).
        regulariser_metric_term: R − (η/4) P ℓ'², the part due to the metric's variation (0 for GD).
    """

    rule_name: str
    depth: int
    symbols: DiscreteSymbols
    step: sympy.Expr
    signed_step: sympy.Expr
    map: sympy.Expr
    fixed_points: tuple[sympy.Expr, ...]
    optimum: sympy.Expr
    slope: sympy.Expr
    multiplier: sympy.Expr
    eta_max: sympy.Expr | None
    mode_rhs: sympy.Expr
    correction: sympy.Expr
    metric: sympy.Expr
    regulariser: sympy.Expr | None
    regulariser_metric_term: sympy.Expr | None


def _simplify(expr: sympy.Expr) -> sympy.Expr:
    return sympy.factor_terms(sympy.simplify(tidy_powers(sympy.sympify(expr))))


def _signed_step(rule: Any, depth: int, sym: DiscreteSymbols) -> sympy.Expr:
    """φ(x) for a real gain x: the rule's velocity on the mode geometry with all gains equal to x."""
    geo = ModeGeometry((sym.x,) * depth, sym.s, 1)
    out = rule.velocity(geo.grads, geo, SympyOps())
    return sympy.sympify(sympy.Matrix(out[0])[0, 0])


def _to_u(expr: sympy.Expr, sym: DiscreteSymbols, depth: int) -> sympy.Expr:
    return _simplify(expr.subs(sym.a, sym.u ** sympy.Rational(1, depth)))


@lru_cache(maxsize=256)
def derive_discrete_map(rule: Any, depth: int) -> DiscreteDerivation:
    """Derive the discrete balanced-mode map of `rule` at depth L and everything that follows from it.

    Args:
        rule: a learning rule (its `velocity` must run on the per-mode geometry).
        depth: L >= 1 weight matrices.

    Raises:
        NoModeDecomposition: the rule has no per-mode form, or moves equal gains at different speeds.

    >>> from lindyn.rules import NGD
    >>> derive_discrete_map(NGD(), 3).eta_max
    2
    """
    # === check arguments
    depth = check_int(depth, "depth", minimum=1)
    sym = discrete_symbols()
    msym = mode_symbols(depth)
    vel = layer_velocities(rule, msym, lam=1)
    equal = {g: sym.a for g in msym.gains}
    raw = [tidy_powers(v.xreplace(equal)) for v in vel]
    phi = raw[0].subs(msym.s, sym.s)
    if any(sympy.simplify(v.subs(msym.s, sym.s) - phi) != 0 for v in raw[1:]):
        raise NoModeDecomposition("Argument `rule` must keep a balanced mode balanced "
                                  "(equal layer velocities at equal gains) for a one-dimensional discrete map")
    phi = _simplify(phi)
    signed = _signed_step(rule, depth, sym)
    a, s, eta = sym.a, sym.s, sym.eta

    # === fixed points and the largest stable step
    optimum = s ** sympy.Rational(1, depth)
    if sympy.simplify(phi.subs(a, optimum)) != 0:
        raise NoModeDecomposition(f"the balanced optimum a = s^(1/L) is not a fixed point of rule {rule.name!r}")
    try:
        roots = [r for r in sympy.solve(sympy.numer(sympy.together(phi)), a) if r.is_positive is not False]
    except NotImplementedError:
        roots = [optimum]
    fixed = tuple(sorted({_simplify(r) for r in roots} | {optimum}, key=sympy.default_sort_key))
    dphi = sympy.diff(phi, a)
    slope = _simplify(dphi.subs(a, optimum))
    eta_max = _simplify(-2 / slope) if slope.is_negative else None

    # === modified equation and implicit regulariser on the balanced manifold
    L = depth
    loss = (s - a ** L) ** 2 / 2
    dloss = sympy.diff(loss, a)
    to_u_rate = L * a ** (L - 1)
    mode_rhs = _to_u(to_u_rate * phi, sym, L)
    correction = _to_u(to_u_rate * (-dphi * phi / 2), sym, L)
    metric = _simplify(sympy.cancel(-phi / dloss))
    reg, metric_term = _regulariser(dphi, dloss, metric, optimum, sym)
    if reg is not None:
        reg_u = _to_u(reg, sym, L)
        metric_term = _to_u(metric_term, sym, L)
    else:
        reg_u = None
    return DiscreteDerivation(
        rule_name=rule.name, depth=depth, symbols=sym, step=phi, signed_step=signed, map=a + eta * phi,
        fixed_points=fixed, optimum=optimum, slope=slope, multiplier=_simplify(1 + eta * slope), eta_max=eta_max,
        mode_rhs=mode_rhs, correction=correction, metric=metric, regulariser=reg_u,
        regulariser_metric_term=metric_term)


def _regulariser(dphi: sympy.Expr, dloss: sympy.Expr, metric: sympy.Expr, optimum: sympy.Expr,
                 sym: DiscreteSymbols) -> tuple[sympy.Expr | None, sympy.Expr | None]:
    """R(a) = −(η/2)∫_{a*}^{a} φ'ℓ' da and its metric-variation part R − (η/4)Pℓ'², or (None, None)."""
    a, eta = sym.a, sym.eta
    integrand = sympy.expand(tidy_powers(-eta / 2 * dphi * dloss))
    try:
        anti = sympy.integrate(integrand, a)
    except Exception:  # sympy may fail on exotic user rules: the regulariser is then not reported
        return None, None
    if anti.has(sympy.Integral):
        return None, None
    reg = sympy.simplify(anti - anti.subs(a, optimum))
    return reg, sympy.simplify(reg - eta / 4 * metric * dloss ** 2)
