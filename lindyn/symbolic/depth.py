"""Balanced modes at a symbolic depth L: one generic layer with multiplicity L (sympy only).

On a balanced aligned mode every layer has the same gain a, so layer k (1 <= k <= L) sees the chain
products A_k = a^{k−1}, B_k = a^{L−k}, the K-FAC factors Ā_k = λa^{2(k−1)}, G_k = a^{2(L−k)}, and the
rank-one mode Fisher F = λjjᵀ with the uniform column j = a^{L−1}·1_L, |j|² = L a^{2L−2}. The rule's
own `velocity` runs once on this `UniformGeometry` with a symbolic layer index k; the engine then
requires the velocity to be free of k (every layer moves alike) and reads off

    τu̇ = L a^{L−1} φ(a),  a = u^{1/L},   and, when it has that shape, τu̇ = c u^g (s − λu)

with c and g as functions of L (and q). The solution t(u) is the universal ₂F₁ antiderivative of
`lindyn.symbolic.solve`, valid for every L at once.

Unbalanced modes (`derive_depth_invariant`): the layers fall into classes of equal gains with
multiplicities, here (a_i, 1), (a_j, 1), (b, L − 2), u = a_i a_j b^{L−2}. The Fisher is still rank one,
F = λjjᵀ with j_c = u/a_c and |j|² = Σ_c m_c (u/a_c)², so its Moore–Penrose power is exact
(`ClassRankOne`); a layer of class c sees A_c = P_c, B_c = u/(a_c P_c) with P_c a free symbol, and its
velocity must not depend on P_c. When τȧ_k = Φ·ψ(a_k), h(a_i) − h(a_j) with h' = 1/ψ is conserved for
every L (GD: a_i² − a_j², Saxe et al. 2014 Eq. 14).

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
from .invariants import separate_velocities
from .modes import ModeODE, ModeSymbols, identify_power_form, mode_symbols, tidy_powers
from .solve import Solution, solve_balanced

__all__ = ["UniformGeometry", "UniformVector", "UniformRankOne", "DepthFamily", "derive_depth_family",
           "depth_symbol", "ClassGeometry", "ClassVector", "ClassRankOne", "DepthInvariant",
           "derive_depth_invariant"]


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


# --- unbalanced modes at symbolic depth: a few layer classes with multiplicities ------------------

@dataclass(frozen=True)
class ClassVector:
    """A per-layer vector constant on layer classes: entry x_c repeated m_c times (m_c may contain L)."""

    x: tuple[sympy.Expr, ...]
    mult: tuple[sympy.Expr, ...]

    def dot(self, other: "ClassVector") -> sympy.Expr:
        """Σ_c m_c x_c y_c."""
        return sum((m * p * r for m, p, r in zip(self.mult, self.x, other.x)), sympy.S.Zero)

    def __neg__(self) -> "ClassVector":
        return ClassVector(tuple(-p for p in self.x), self.mult)

    def __mul__(self, c: Any) -> "ClassVector":
        return ClassVector(tuple(p * c for p in self.x), self.mult)

    __rmul__ = __mul__

    def __add__(self, other: "ClassVector") -> "ClassVector":
        return ClassVector(tuple(p + r for p, r in zip(self.x, other.x)), self.mult)

    def __sub__(self, other: "ClassVector") -> "ClassVector":
        return ClassVector(tuple(p - r for p, r in zip(self.x, other.x)), self.mult)


def _along(j: ClassVector, v: ClassVector) -> tuple[sympy.Expr, ClassVector]:
    """(κ, v − κj) with κ = jᵀv/|j|² (the weights m_c in both products).

    On a mode the gradient lies along j (v_c = κ j_c for every class), which is read off the class
    ratios exactly; otherwise κ is formed from the weighted sums (the general rank-one projection)."""
    ratios = [tidy_powers(sympy.cancel(tidy_powers(p / r))) for p, r in zip(v.x, j.x)]
    if all(r == ratios[0] or sympy.simplify(r - ratios[0]) == 0 for r in ratios[1:]):
        return ratios[0], ClassVector(tuple(sympy.S.Zero for _ in v.x), v.mult)
    kappa = sympy.cancel(tidy_powers(j.dot(v) / j.dot(j)))
    return kappa, ClassVector(tuple(sympy.cancel(p - kappa * r) for p, r in zip(v.x, j.x)), v.mult)


@dataclass(frozen=True)
class ClassOperator:
    """along·P_j + across·(I − P_j), P_j = jjᵀ/|j|² (|j|² = Σ_c m_c j_c²), on class vectors."""

    j: ClassVector
    along: sympy.Expr
    across: sympy.Expr

    def __matmul__(self, v: ClassVector) -> ClassVector:
        if not isinstance(v, ClassVector):
            raise NoModeDecomposition("the class geometry applies the Fisher only to per-layer velocities")
        kappa, rest = _along(self.j, v)
        out = self.j * (self.along * kappa)
        if self.across != 0 and any(r != 0 for r in rest.x):
            out = out + rest * self.across
        return out

    def __neg__(self) -> "ClassOperator":
        return ClassOperator(self.j, -self.along, -self.across)

    def __mul__(self, c: Any) -> "ClassOperator":
        return ClassOperator(self.j, self.along * c, self.across * c)

    __rmul__ = __mul__


@dataclass(frozen=True)
class ClassRankOne:
    """The mode Fisher λjjᵀ (+ εI) with j constant on layer classes, j_c = u/a_c: still rank one,
    |j|² = Σ_c m_c (u/a_c)²."""

    j: ClassVector
    weight: sympy.Expr
    eps: sympy.Expr = sympy.S.Zero

    @property
    def norm2(self) -> sympy.Expr:
        """|j|² = Σ_c m_c j_c²."""
        return self.j.dot(self.j)

    def damped(self, eps: Any) -> "ClassRankOne":
        """λjjᵀ + εI."""
        return ClassRankOne(self.j, self.weight, self.eps + sympy.sympify(eps))

    def pinv_pow(self, q: Any) -> ClassOperator:
        """(F⁺)^q = (λ|j|²)^{−q} P_j, or (F + εI)^{−q} = (λ|j|² + ε)^{−q} P_j + ε^{−q}(I − P_j)."""
        q = sympy.sympify(q)
        across = self.eps ** (-q) if self.eps != 0 else sympy.S.Zero
        return ClassOperator(self.j, (self.weight * self.norm2 + self.eps) ** (-q), across)

    @property
    def T(self) -> "ClassRankOne":
        """Symmetric: itself."""
        return self

    def __matmul__(self, v: ClassVector) -> ClassVector:
        out = self.j * (self.weight * self.j.dot(v))
        return out + v * self.eps if self.eps != 0 else out


class ClassGeometry:
    """An aligned mode at depth L whose layers fall into classes of equal gains a_c with multiplicities m_c.

    Σ_c m_c = L, u = ∏_c a_c^{m_c}, Σ = (λ), Σ_yx = (s). A layer of class c sees the chain products
    A_c = P_c (a free positive symbol: the product of the gains before it, which depends on where
    the layer sits) and B_c = u/(a_c P_c); the rank-one Fisher has j_c = A_cB_c = u/a_c. The rule's
    `velocity` runs once with one 1x1 block per class; a mode decomposition requires the result to
    be free of every P_c (a layer's velocity must not depend on its position).

    Args:
        depth: L (a positive integer symbol).
        gains: a_c per class.
        mult: m_c per class (expressions in L, summing to L).
        s, lam: singular value and input variance of the mode.
        prefixes: the symbols P_c.
    """

    def __init__(self, depth: sympy.Expr, gains: tuple[sympy.Expr, ...], mult: tuple[sympy.Expr, ...],
                 s: sympy.Expr, lam: sympy.Expr, prefixes: tuple[sympy.Symbol, ...]) -> None:
        self.depth, self.gains, self.mult, self.s, self.lam, self.prefixes = depth, gains, mult, s, lam, prefixes
        u = sympy.Mul(*[a ** m for a, m in zip(gains, mult)])
        self.u = u
        self.W = tuple(sympy.Matrix([[a]]) for a in gains)
        self.Sigma = sympy.Matrix([[lam]])
        self.Sigma_yx = sympy.Matrix([[s]])
        self.A = tuple(sympy.Matrix([[P]]) for P in prefixes)
        self.B = tuple(sympy.Matrix([[u / (a * P)]]) for a, P in zip(gains, prefixes))
        self.W_end = sympy.Matrix([[u]])
        # ∂ℓ/∂W_c = B_cᵀ(WΣ − Σ_yx)A_cᵀ
        self.grads = tuple(B.T * (self.W_end * self.Sigma - self.Sigma_yx) * A.T for A, B in zip(self.A, self.B))

    def input_factor(self, i: int) -> sympy.Matrix:
        """Ā_c = A_cΣA_cᵀ of class i."""
        return self.A[i] * self.Sigma * self.A[i].T

    def output_factor(self, i: int) -> sympy.Matrix:
        """G_c = B_cᵀB_c of class i."""
        return self.B[i].T * self.B[i]

    def fisher(self) -> ClassRankOne:
        """λjjᵀ with j_c = u/a_c on the m_c layers of class c."""
        return ClassRankOne(ClassVector(tuple(self.u / a for a in self.gains), self.mult), self.lam)

    def vec(self, layers: Any) -> ClassVector:
        """The class-constant parameter vector of the layer blocks."""
        return ClassVector(tuple(sympy.Matrix(x)[0, 0] for x in layers), self.mult)

    def unvec(self, v: ClassVector) -> tuple[sympy.Matrix, ...]:
        """One 1x1 block per class."""
        return tuple(sympy.Matrix([[x]]) for x in v.x)


@dataclass(frozen=True)
class DepthInvariant:
    """The conserved quantity of an unbalanced aligned mode at symbolic depth L.

    Two distinguished layers have gains a_i, a_j, the other L − 2 share the gain b. When the derived
    velocities separate, τȧ_k = Φ·ψ(a_k) with one common factor Φ, then h' = 1/ψ and
    h(a_i) − h(a_j) is conserved; `conserved` is its plain form (a_i^n − a_j^n, or a_i/a_j when h = ln).

    Attributes:
        rule_name: the rule.
        depth: the symbol L.
        gains: (a_i, a_j, b); multiplicities: (1, 1, L − 2).
        velocities: (τȧ_i, τȧ_j, τȧ_b), derived from the rule at symbolic L.
        psi: ψ(x) (None when not separable); h: ∫ dx/ψ(x); x: the variable of ψ and h.
        conserved: expression in a_i, a_j (and q, L if the rule's ψ carries them), or None.
        reason: why `conserved` is None ("" when it is found).
    """

    rule_name: str
    depth: sympy.Symbol
    gains: tuple[sympy.Symbol, ...]
    multiplicities: tuple[sympy.Expr, ...]
    velocities: tuple[sympy.Expr, ...] | None
    x: sympy.Symbol
    psi: sympy.Expr | None
    h: sympy.Expr | None
    conserved: sympy.Expr | None
    reason: str


@lru_cache(maxsize=64)
def derive_depth_invariant(rule: Any, depth: sympy.Symbol | None = None, lam: Any = 1) -> DepthInvariant:
    """Derive the conserved quantity h(a_i) − h(a_j) of an unbalanced aligned mode at symbolic depth L.

    The rule runs once on `ClassGeometry` with classes (a_i, 1), (a_j, 1), (b, L − 2); the per-layer
    velocities are separated as in `lindyn.symbolic.invariants.separate_velocities`: the ratio
    ȧ_i/ȧ_j = ψ(a_i)/ψ(a_j) must be free of b and L, and ȧ_b/ȧ_i = ψ(b)/ψ(a_i); then
    d/dt[h(a_i) − h(a_j)] = Φ − Φ = 0 with h = ∫ dx/ψ.

    Args:
        rule: a learning rule (an object with velocity(grads, geo, ops)).
        depth: the depth symbol (default `depth_symbol()`, L).
        lam: input variance λ (default 1).

    Returns:
        A `DepthInvariant`; `conserved` is None with a `reason` when the rule does not run on the
        class geometry, a velocity depends on the layer's position, or the velocities do not separate.

    >>> from lindyn.rules import GD
    >>> derive_depth_invariant(GD()).conserved
    a_i**2 - a_j**2
    """
    L = depth_symbol() if depth is None else depth
    lam = sympy.sympify(lam)
    s = mode_symbols(1).s
    a_i, a_j, b = (sympy.Symbol(n, positive=True) for n in ("a_i", "a_j", "b"))
    gains, mult = (a_i, a_j, b), (sympy.S.One, sympy.S.One, L - 2)
    prefixes = tuple(sympy.Symbol(f"P_{n}", positive=True) for n in ("i", "j", "b"))
    x = sympy.Symbol("x", positive=True)
    name = getattr(rule, "name", repr(rule))

    def none(reason: str, vel: tuple[sympy.Expr, ...] | None = None) -> DepthInvariant:
        return DepthInvariant(name, L, gains, mult, vel, x, None, None, None, reason)

    geo = ClassGeometry(L, gains, mult, s, lam, prefixes)
    try:
        out = rule.velocity(geo.grads, geo, SympyOps())
        vel = tuple(sympy.sympify(v.x if isinstance(v, ClassVector) else sympy.Matrix(v)[0, 0]) for v in out)
    except Exception as err:   # a rule written for explicit layer tuples, dense Fishers or concrete depths
        return none(f"the rule does not run on the layer-class geometry ({type(err).__name__}: {err})")
    if len(vel) != len(gains):
        return none(f"the rule returned {len(vel)} velocities for {len(gains)} layer classes")
    vel = tuple(sympy.powsimp(sympy.powdenest(tidy_powers(v), force=True), force=True) for v in vel)
    if any(v.has(*prefixes) for v in vel):
        vel = tuple(sympy.simplify(v) if v.has(*prefixes) else v for v in vel)
        if any(v.has(*prefixes) for v in vel):
            return none("a layer's velocity depends on its position in the chain (on the product of the gains "
                        "before it), so the layers of one gain class do not move alike", vel)
    if any(v == 0 for v in vel):
        return none("a layer does not move (zero velocity)", vel)
    ratio = tidy_powers(sympy.cancel(tidy_powers(vel[0] / vel[1])))
    if ratio.has(b, L) and sympy.simplify(ratio).has(b, L):
        return none("ȧ_i/ȧ_j depends on the other layers (on b or L): τȧ_k is not Φ·ψ(a_k)", vel)
    sym = ModeSymbols(t=sympy.Symbol("t"), tau=sympy.Symbol("tau"), s=s, lam=sympy.Symbol("lambda"),
                      u=sympy.Symbol("u"), u0=sympy.Symbol("u_0"), gains=gains, gains0=gains, depth=3)
    sep = separate_velocities(vel, sym)
    if sep is None:
        return none("the velocities do not separate as τȧ_k = Φ·ψ(a_k) with one ψ for every layer class", vel)
    return DepthInvariant(name, L, gains, mult, vel, sep.x, sep.k, sep.Phi, sep.conserved[0], "")
