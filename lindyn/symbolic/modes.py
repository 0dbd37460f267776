"""From a learning rule to the ODE of one aligned singular mode (sympy only).

The rule's own `velocity` runs on the per-mode geometry (`ModeGeometry`: 1x1 layer blocks, rank-one
Fisher), which gives the per-layer velocities τ ȧ_i(a_1, …, a_L). The mode strength u = ∏ a_i then
moves by the chain rule,

    τ u̇ = Σ_i (u/a_i) τ ȧ_i,

and on the balanced manifold a_i = u^{1/L} this is one ODE τ u̇ = f(u). When f has the shape
c u^g (s − λu), the exponent is *read off*, not assumed: g = u ∂_u log[f/(s − λu)] must come out
free of u, and c = f/(u^g (s − λu)) free of u and s.

>>> from lindyn.rules import GD
>>> sym = mode_symbols(3)
>>> ode = balanced_mode_ode(layer_velocities(GD(), sym), sym)
>>> ode.c, ode.g
(3, 4/3)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy

from .._checks import NoModeDecomposition, check_int
from ..rules import LearningRule
from ._ops import ModeGeometry, SympyOps

__all__ = ["ModeSymbols", "ModeODE", "mode_symbols", "layer_velocities", "balanced_mode_ode",
           "identify_power_form", "tidy_powers"]


@dataclass(frozen=True)
class ModeSymbols:
    """The symbols of one aligned mode (all positive).

    t: time; tau: time constant τ = 1/η; s: singular value of Σ_yx; lam: input variance λ;
    u: mode strength ∏ a_i; u0: u(0); gains: a_1..a_L; gains0: a_1(0)..a_L(0); depth: L.
    """

    t: sympy.Symbol
    tau: sympy.Symbol
    s: sympy.Symbol
    lam: sympy.Symbol
    u: sympy.Symbol
    u0: sympy.Symbol
    gains: tuple[sympy.Symbol, ...]
    gains0: tuple[sympy.Symbol, ...]
    depth: int


@lru_cache(maxsize=None)
def mode_symbols(depth: int) -> ModeSymbols:
    """Standard symbols t, τ, s, λ, u, u0, a_1..a_L, a_1(0)..a_L(0) of a depth-L mode.

    Args:
        depth: L >= 1.

    >>> mode_symbols(2).gains
    (a_1, a_2)
    """
    # === check arguments
    depth = check_int(depth, "depth", minimum=1)
    pos = dict(positive=True)
    t = sympy.Symbol("t", nonnegative=True)
    gains = tuple(sympy.Symbol(f"a_{i}", **pos) for i in range(1, depth + 1))
    gains0 = tuple(sympy.Symbol(f"a_{i}0", **pos) for i in range(1, depth + 1))
    return ModeSymbols(t=t, tau=sympy.Symbol("tau", **pos), s=sympy.Symbol("s", **pos),
                       lam=sympy.Symbol("lambda", **pos), u=sympy.Symbol("u", **pos),
                       u0=sympy.Symbol("u_0", **pos), gains=gains, gains0=gains0, depth=depth)


def tidy_powers(expr: sympy.Expr) -> sympy.Expr:
    """Merge powers of positive symbols (the gains, u, λ are positive; q is real).

    >>> a = sympy.Symbol("a", positive=True)
    >>> tidy_powers(sympy.sqrt(a ** 3) * a ** sympy.Rational(1, 2))
    a**2
    """
    if all(p.exp.is_Integer for p in expr.atoms(sympy.Pow)):
        return expr              # rational in its symbols: nothing to merge
    expr = sympy.powdenest(sympy.expand_power_base(expr, force=True), force=True)
    return sympy.powsimp(expr, force=True)


def layer_velocities(rule: LearningRule, sym: ModeSymbols, lam: Any = None) -> tuple[sympy.Expr, ...]:
    """Per-layer velocities τ ȧ_i of an aligned mode, from `rule.velocity` on `ModeGeometry`.

    Args:
        rule: any object with `velocity(grads, geo, ops)`.
        sym: the mode's symbols (`mode_symbols(L)`).
        lam: the input variance λ of the mode (a positive number or symbol; default the symbol λ).

    Returns:
        (τ ȧ_1, …, τ ȧ_L) as sympy expressions in a_1..a_L, s, λ (and q if symbolic).

    Raises:
        NoModeDecomposition: when the rule's velocity does not act on 1x1 mode blocks.

    >>> from lindyn.rules import GD
    >>> layer_velocities(GD(), mode_symbols(2))
    (-a_2*(a_1*a_2*lambda - s), -a_1*(a_1*a_2*lambda - s))
    """
    # === check arguments
    if not callable(getattr(rule, "velocity", None)):
        raise NoModeDecomposition(
            f"Argument `rule` must have a method velocity(grads, geo, ops), got rule={rule!r}; "
            "for other dynamics use lindyn.integrate.")
    geo = ModeGeometry(sym.gains, sym.s, sym.lam if lam is None else lam)
    try:
        out = rule.velocity(geo.grads, geo, SympyOps())
        vel = tuple(sympy.sympify(sympy.Matrix(v)[0, 0]) for v in out)
    except NoModeDecomposition:
        raise
    except Exception as err:  # a user rule written for full matrices only
        raise NoModeDecomposition(
            f"Argument `rule` must run on the per-mode geometry (1x1 blocks); {type(err).__name__}: {err}. "
            "Use lindyn.integrate (full-matrix route) for this rule.") from None
    if len(vel) != sym.depth:
        raise NoModeDecomposition(
            f"Argument `rule` must return one velocity per layer ({sym.depth}), got {len(vel)}; "
            "use lindyn.integrate.")
    return vel


@dataclass(frozen=True)
class ModeODE:
    """τ u̇ = rhs(u) on the balanced manifold; c, g when rhs = c u^g (s − λu), else None."""

    rhs: sympy.Expr
    c: sympy.Expr | None
    g: sympy.Expr | None


def identify_power_form(f: sympy.Expr, u: sympy.Symbol, s: sympy.Symbol,
                        lam: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr] | None:
    """Read (c, g) off f(u) = c u^g (s − λu), or None when f has another shape.

    g = u ∂_u log[f/(s − λu)] must be free of u and s; c = f/(u^g (s − λu)) free of u and s.

    >>> u, s, lam = sympy.symbols("u s lambda", positive=True)
    >>> identify_power_form(2*u*(s - lam*u), u, s, lam)
    (2, 1)
    """
    # === check arguments
    f = sympy.sympify(f)
    ratio = sympy.cancel(tidy_powers(f / (s - lam * u)))
    if ratio.has(s) or ratio == 0:
        return None
    logr = sympy.expand_log(sympy.log(ratio), force=True)
    g = sympy.simplify(u * sympy.diff(logr, u))
    if g.has(u) or g.has(s):
        return None
    c = sympy.simplify(tidy_powers(ratio / u ** g))
    if c.has(u) or c.has(s):
        return None
    return c, g


def balanced_mode_ode(velocities: tuple[sympy.Expr, ...], sym: ModeSymbols, lam: Any = None) -> ModeODE:
    """The balanced mode ODE τ u̇ = f(u), u = a^L, from the derived layer velocities.

    The balanced manifold a_i = a must be invariant (every layer moves at the same speed at equal
    gains); then τ u̇ = Σ (u/a_i) τ ȧ_i = L a^{L−1} τ ȧ with a = u^{1/L}.

    Args:
        velocities: (τ ȧ_1, …, τ ȧ_L) from `layer_velocities`.
        sym: the mode's symbols.
        lam: the λ the velocities were derived with (default the symbol λ).

    Returns:
        `ModeODE` with rhs f(u) and, when f = c u^g (s − λu), the derived c and g.

    Raises:
        NoModeDecomposition: the layers move at different speeds at equal gains.

    >>> from lindyn.rules import NGD
    >>> sym = mode_symbols(4)
    >>> ode = balanced_mode_ode(layer_velocities(NGD(), sym), sym)
    >>> ode.c, ode.g
    (1/lambda, 0)
    """
    # === check arguments
    lam = sym.lam if lam is None else lam
    depth = sym.depth
    a = sympy.Symbol("a", positive=True)
    to_a = {ai: a for ai in sym.gains}
    raw = [v.xreplace(to_a) for v in velocities]
    first = tidy_powers(raw[0])
    # structurally equal after a_i -> a for symmetric rules; otherwise compared after simplifying
    if any(v != raw[0] and sympy.simplify(tidy_powers(v) - first) != 0 for v in raw[1:]):
        raise NoModeDecomposition("Argument `rule` must keep a balanced mode balanced "
                                  "(equal layer velocities at equal gains)")
    u = sym.u
    rhs = tidy_powers(depth * a ** (depth - 1) * first).subs(a, u ** sympy.Rational(1, depth))
    rhs = sympy.factor_terms(tidy_powers(rhs))
    form = identify_power_form(rhs, u, sym.s, lam)
    if form is None:
        if rhs.is_rational_function(u) and sympy.simplify(rhs.subs(u, sym.s / lam)) == 0:
            # e.g. damped K-FAC: written (s − λu)·r(u) = u(s − u)/(u + 1), the fixed point in sight
            rest = sympy.cancel(rhs / (sym.s - lam * u))
            alg = {p: sympy.Dummy() for p in rest.atoms(sympy.Pow) if not p.exp.is_Integer and not p.has(u)}
            rest = sympy.factor(rest.xreplace(alg)).xreplace({v: k for k, v in alg.items()})   # √γ kept whole
            rhs = (sym.s - lam * u) * rest
        return ModeODE(rhs=rhs, c=None, g=None)
    c, g = form
    return ModeODE(rhs=c * u ** g * (sym.s - lam * u), c=c, g=g)
