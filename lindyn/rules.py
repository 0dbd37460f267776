"""Learning rules, each defined once as what it does to the per-layer gradients.

A rule maps the layer gradients g_i = ∂ℓ/∂W_i to the velocities τ dW_i/dt. Its body uses only
`@`, `.T`, `+`, `-`, scalar products and the backend `ops` (Moore–Penrose powers, identities), so
the same code runs on the symbolic per-mode geometry (sympy, 1x1 layer blocks, rank-one Fisher)
and on the full-matrix numeric geometry (numpy, or mpmath for high precision). This module imports
neither sympy nor numpy.

>>> from fractions import Fraction
>>> BlockNGD(q=Fraction(1, 2)).name
'blockdiag(q=1/2)'
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Protocol, runtime_checkable

from ._checks import check_exponent, check_real, fail
from ._types import Exponent, Geometry, Layers, Ops

__all__ = [
    "LearningRule", "GD", "NGD", "BlockNGD", "Scaled", "FunctionRule", "rule",
    "kfac", "bernacchia", "rule_from_name", "RULE_NAMES",
    "ExactFactors", "SampledFisher", "EmpiricalFisher", "MovingAverage", "LevenbergMarquardt", "ESTIMATORS",
]


@runtime_checkable
class LearningRule(Protocol):
    """What a learning rule does to per-layer gradients."""

    @property
    def name(self) -> str:
        """Short name used in reports and on the command line."""
        ...

    def velocity(self, grads: Layers, geo: Geometry, ops: Ops) -> Layers:
        """τ dW_i/dt for each layer i, given g_i = ∂ℓ/∂W_i."""
        ...


def _q_text(q: Any) -> str:
    """q as written; an exact rational of many digits as ~m·10^e (names are for reading, q stays exact)."""
    text = str(q)
    if len(text) <= 24 or not isinstance(q, Fraction) or q <= 0:
        return text
    e10 = math.log10(q.numerator) - math.log10(q.denominator)
    exponent = math.floor(e10)
    return f"~{10 ** (e10 - exponent):.6g}e{exponent}"


@dataclass(frozen=True)
class GD:
    """Gradient descent: τ dW_i/dt = −∂ℓ/∂W_i (Saxe et al. 2014 Eq. 13).

    >>> GD().name
    'gd'
    """

    @property
    def name(self) -> str:
        """'gd'."""
        return "gd"

    def velocity(self, grads: Layers, geo: Geometry, ops: Ops) -> Layers:
        """τ dW_i/dt = −g_i."""
        return tuple(-g for g in grads)


@dataclass(frozen=True)
class NGD:
    """Full-Fisher natural gradient, Moore–Penrose power q: τ dθ/dt = −(F⁺)^q ∇ℓ.

    F = Jᵀ(Σ ⊗ I)J is the Fisher of the Gaussian output model (= Gauss–Newton). q = 1 is NGD
    (Bernacchia et al. 2018; Huh 2020); 0 < q < 1 is the full-Fisher partial correction
    (Huh 2020, one of the two readings of his fractional rule; see `BlockNGD` for the other).

    With `damping` ε > 0 the rule is Levenberg–Marquardt damped natural gradient (Huh 2020's
    experiments use ε = 1e-5):

        τ dθ/dt = −(F + εI)^{−q} ∇ℓ,

    a true inverse power (F + εI is positive definite; the numeric backends still drop eigenvalues
    below rcond·λ_max, so ε should exceed ~1e-12·λ_max(F)); ε = 0 is exactly the undamped rule above
    (same code path, same name). On an aligned mode
    F = λ jjᵀ and ∇ℓ lies along j, so the damped velocity is (λ|j|² + ε)^{−q}∇ℓ: the rule keeps
    GD's invariants a_i² − a_j² and its speed at small init stays finite (≤ ε^{−q}|∇ℓ|).
    Numerically the damped rule forms the dense P x P Fisher (structured operators are densified:
    O(P³) per velocity, for small nets); the undamped rule keeps the efficient route.

    Args:
        q: exact power in [0, 1] (int, Fraction or sympy expression; floats are refused).
        damping: ε >= 0 (a finite number, or a sympy expression to derive the family).

    >>> NGD().name, NGD(q=Fraction(1, 2)).name, NGD(damping=Fraction(1, 100)).name
    ('ngd', 'ngd(q=1/2)', 'ngd[damping=1/100]')
    """

    q: Exponent = 1
    damping: Any = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "q", check_exponent(self.q, "q"))
        _check_damping(self.damping)

    @property
    def name(self) -> str:
        """'ngd' or 'ngd(q=...)', with '[damping=ε]' when ε != 0."""
        base = "ngd" if self.q == 1 else f"ngd(q={_q_text(self.q)})"
        return base if self.damping == 0 else f"{base}[damping={self.damping}]"

    def velocity(self, grads: Layers, geo: Geometry, ops: Ops) -> Layers:
        """τ dθ/dt = −(F⁺)^q ∇ℓ (ε = 0) or −(F + εI)^{−q} ∇ℓ (ε > 0), θ = (vec W_1, …, vec W_L)."""
        F = geo.fisher()
        if self.damping != 0:
            F = _plus_identity(F, ops.scalar(self.damping), ops)
        return geo.unvec(-(ops.pinv_pow(F, self.q) @ geo.vec(grads)))


# --- estimators of K-FAC's Kronecker factors and adaptive damping (what a practitioner runs) --------

@dataclass(frozen=True)
class ExactFactors:
    """The exact Kronecker factors of the geometry (the theory): G_i = E_n[M_nᵀ D_n M_n], Ā_i = ω Σ_n ã_n ã_nᵀ.

    On a deep linear net with the squared loss these are B_iᵀB_i and A_iΣA_iᵀ (THEORY §1), on
    the data the geometry holds (all samples for `Flow`/`Discrete`, the minibatch for `Stochastic`).

    >>> ExactFactors().name
    'exact'
    """

    @property
    def name(self) -> str:
        """'exact'."""
        return "exact"


@dataclass(frozen=True)
class SampledFisher:
    """The model's Fisher, sampled (Bernacchia et al. 2018 Sec. 5; their `lib/ngd.ml`).

    G_i = (1/(n·S)) Σ_{n,s} g̃ g̃ᵀ, with g̃ = M_nᵀ ε the pre-activation gradient of layer i
    back-propagated from ε ~ N(0, D_n/ω) drawn at the output (the model's own predictive noise:
    N(0, I) for the squared loss), S = `samples` draws per example; Ā_i = ω Σ_n ã_n ã_nᵀ from
    the layer inputs (a 1 appended for a bias). E[G_i] is the exact factor, so the error falls like
    1/√(n·S). Needs random draws: integrate with `Stochastic(...)`.

    Args:
        samples: draws S >= 1 of ε per example.

    >>> SampledFisher().name
    'sampled-fisher'
    """

    samples: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.samples, int) or isinstance(self.samples, bool) or self.samples < 1:
            raise fail("samples", "an integer >= 1", self.samples)

    @property
    def name(self) -> str:
        """'sampled-fisher' (with '(S=…)' for more than one draw)."""
        return "sampled-fisher" if self.samples == 1 else f"sampled-fisher(S={self.samples})"


@dataclass(frozen=True)
class EmpiricalFisher:
    """The empirical Fisher: the same as `SampledFisher` but back-propagating the observed residual.

    g̃ = M_nᵀ r_n with r_n = ∇_{f_n}ℓ_n (f_n − y_n for the squared loss) instead of a draw from
    the model. It is NOT the Fisher (Kunstner et al. 2019): near a fit r_n → 0 and G_i collapses
    to the noise, so the step blows up unless damped. Named separately because users confuse them.

    >>> EmpiricalFisher().name
    'empirical-fisher'
    """

    @property
    def name(self) -> str:
        """'empirical-fisher'."""
        return "empirical-fisher"


@dataclass(frozen=True)
class MovingAverage:
    """K-FAC's running estimate (Martens & Grosse 2015 Sec. 5): F̂_k = β_k F̂_{k−1} + (1 − β_k) F_batch.

    β_k = min(1 − 1/k, `decay`) at the k-th step (k = 1: the batch estimate), for both factors of
    every layer; the batch estimate comes from `of`. Needs a run with memory: `Stochastic(...)`.

    Args:
        of: the per-batch estimator (`SampledFisher()` default, `EmpiricalFisher()`, `ExactFactors()`).
        decay: β in [0, 1).

    >>> MovingAverage().name
    'moving-average(sampled-fisher, 0.95)'
    """

    of: Any = field(default_factory=lambda: SampledFisher())
    decay: float = 0.95

    def __post_init__(self) -> None:
        if not isinstance(self.of, (ExactFactors, SampledFisher, EmpiricalFisher)):
            raise fail("of", "ExactFactors(), SampledFisher(...) or EmpiricalFisher()", self.of)
        check_real(self.decay, "decay", nonnegative=True)
        if not self.decay < 1:
            raise fail("decay", "a number in [0, 1)", self.decay)

    @property
    def name(self) -> str:
        """'moving-average(<of>, <decay>)'."""
        return f"moving-average({self.of.name}, {self.decay:g})"


#: The estimators of K-FAC's factors a `BlockNGD` rule can use (`estimator=`).
ESTIMATORS = (ExactFactors, SampledFisher, EmpiricalFisher, MovingAverage)


@dataclass(frozen=True)
class LevenbergMarquardt:
    """Damping λ adapted from the reduction ratio, Levenberg–Marquardt style.

    ρ = [ℓ_B(θ + Δ) − ℓ_B(θ)] / [m(Δ) − m(0)] on the step's minibatch B, with m the quadratic model
    (`Stochastic(quadratic=...)`); λ ← `grow`·λ if ρ < `low`, λ ← `shrink`·λ if ρ > `high`
    (Bernacchia et al. 2018 code: 3/2, 2/3, 1/4, 3/4; Martens & Grosse 2015 Sec. 6.5). The step
    itself is always taken. λ enters the rule as its `damping` (factored: √λ added to each factor).
    Adapting needs the minibatch losses: integrate with `Stochastic(...)`; λ stays in
    [`minimum`, `maximum`].

    Args:
        initial: λ at the first step (> 0).
        grow, shrink: factors > 1 and in (0, 1).
        low, high: thresholds 0 <= low <= high.
        minimum, maximum: bounds of λ (0 <= minimum < maximum).

    >>> str(LevenbergMarquardt(0.01))
    'LM(0.01)'
    """

    initial: float = 0.01
    grow: float = 1.5
    shrink: float = 2 / 3
    low: float = 0.25
    high: float = 0.75
    minimum: float = 1e-12
    maximum: float = 1e12

    def __post_init__(self) -> None:
        check_real(self.initial, "initial", positive=True)
        check_real(self.grow, "grow", positive=True)
        check_real(self.shrink, "shrink", positive=True)
        if not self.grow > 1:
            raise fail("grow", "a factor > 1", self.grow)
        if not self.shrink < 1:
            raise fail("shrink", "a factor in (0, 1)", self.shrink)
        check_real(self.low, "low", nonnegative=True)
        check_real(self.high, "high", nonnegative=True)
        if not self.low <= self.high:
            raise fail("high", f"a threshold >= low = {self.low}", self.high)
        check_real(self.minimum, "minimum", nonnegative=True)
        check_real(self.maximum, "maximum", positive=True)
        if not self.minimum < self.maximum or not self.minimum <= self.initial <= self.maximum:
            raise fail("initial", f"within [minimum, maximum] = [{self.minimum}, {self.maximum}]", self.initial)

    def __str__(self) -> str:
        return f"LM({self.initial:g})"


def _check_damping(damping: Any, adaptive: bool = False) -> None:
    """A damping is a finite number >= 0, a symbolic expression (e.g. sympy.Symbol('gamma')), or
    (block rules) a `LevenbergMarquardt` schedule."""
    if isinstance(damping, LevenbergMarquardt):
        if not adaptive:
            raise fail("damping", "a number >= 0 for this rule (LevenbergMarquardt adapts the factored damping of "
                                  "BlockNGD / kfac / bernacchia)", damping)
        return
    if not hasattr(damping, "free_symbols"):
        check_real(damping, "damping", nonnegative=True)


def _dense(F: Any) -> Any:
    """A Fisher as an explicit matrix: structured operators (efficient route, rank-one mode Fisher)
    expose `dense()`; arrays and sympy matrices are returned as they are."""
    return F.dense() if hasattr(F, "dense") else F


def _plus_identity(F: Any, eps: Any, ops: Ops) -> Any:
    """F + εI. The per-mode rank-one Fisher keeps its structure (`damped`), so that the symbolic
    engine inverts it in closed form; numeric structured operators become dense P x P matrices."""
    if hasattr(F, "damped"):
        return F.damped(eps)
    F = _dense(F)
    return F + eps * ops.eye(F.shape[0])


@dataclass(frozen=True)
class BlockNGD:
    """Block-diagonal natural gradient, power q (Huh 2020 "NGD-d"; q = 1 is K-FAC's exact factors).

    τ dW_i/dt = −G_i^{+q} ∂ℓ/∂W_i Ā_i^{+q} = −F_ii^{+q} ∇_i, with K-FAC's Kronecker factors
    G_i = B_iᵀB_i and Ā_i = A_iΣA_iᵀ (F_ii = Ā_i ⊗ G_i, exact in a deep linear net). Damping
    ε = `damping` > 0 is read one of two ways, chosen by `damping_mode`:

    * "factored" (default; Martens & Grosse 2015, Bernacchia et al. 2018): Tikhonov damping
      δ = √ε added to each Kronecker factor,
      τ dW_i/dt = −(G_i + δI)^{−q} ∂ℓ/∂W_i (Ā_i + δI)^{−q}, i.e. (F_ii + δ(Ā_i ⊕ G_i) + εI)^{−q};
    * "block" (Huh 2020's Levenberg–Marquardt reading of NGD-d): ε added to the whole block,
      τ vec(dW_i/dt) = −(F_ii + εI)^{−q} vec(∂ℓ/∂W_i), with F_ii the diagonal block of the dense
      Fisher (= Ā_i ⊗ G_i on deep linear nets with the squared loss; on other nets the exact block,
      not K-FAC's factorisation). Costs a dense Fisher per velocity (small nets).

    With ε = 0 both modes are the undamped Moore–Penrose rule.

    The factors are exact by default (the theory). `estimator` picks what a practitioner computes
    from a minibatch instead: `SampledFisher()` (Bernacchia et al. 2018: noise back-propagated
    from the model's output distribution), `EmpiricalFisher()` (the observed residuals), or
    `MovingAverage(of=...)` (K-FAC's running average); `damping=LevenbergMarquardt(λ0)` adapts
    the factored damping from the reduction ratio. Both need `Stochastic(...)`.

    Args:
        q: exact power in [0, 1]; q = 1/2 is Huh's fractional correction (block reading).
        damping: ε >= 0 (0: Moore–Penrose, no damping), a number or a sympy expression, or a
            `LevenbergMarquardt` schedule (factored reading).
        damping_mode: "factored" or "block" (see above).
        estimator: `ExactFactors()` (default), `SampledFisher(samples)`, `EmpiricalFisher()`,
            `MovingAverage(of, decay)`.

    >>> BlockNGD().name, BlockNGD(q=Fraction(1, 2)).name
    ('blockdiag', 'blockdiag(q=1/2)')
    >>> BlockNGD(damping=Fraction(1, 100), damping_mode="block").name
    'blockdiag[damping=1/100, block]'
    """

    q: Exponent = 1
    damping: Any = 0
    damping_mode: str = "factored"
    estimator: Any = field(default_factory=lambda: ExactFactors())

    def __post_init__(self) -> None:
        object.__setattr__(self, "q", check_exponent(self.q, "q"))
        _check_damping(self.damping, adaptive=True)
        if self.damping_mode not in DAMPING_MODES:
            raise fail("damping_mode", "'factored' or 'block'", self.damping_mode)
        if not isinstance(self.estimator, ESTIMATORS):
            raise fail("estimator", "ExactFactors(), SampledFisher(...), EmpiricalFisher() or MovingAverage(...)",
                       self.estimator)
        if self.damping_mode == "block" and (isinstance(self.damping, LevenbergMarquardt)
                                             or not isinstance(self.estimator, ExactFactors)):
            raise fail("damping_mode", "'factored' with an estimator or a LevenbergMarquardt damping (the block "
                                       "reading damps the exact dense Fisher block)", self.damping_mode)

    @property
    def name(self) -> str:
        """'blockdiag', 'blockdiag(q=...)', with the damping (and ', block' for the block reading) and a
        non-exact estimator if any."""
        base = "blockdiag" if self.q == 1 else f"blockdiag(q={_q_text(self.q)})"
        tags = []
        if isinstance(self.damping, LevenbergMarquardt) or self.damping != 0:
            mode = "" if self.damping_mode == "factored" else f", {self.damping_mode}"
            tags.append(f"damping={self.damping}{mode}")
        if not isinstance(self.estimator, ExactFactors):
            tags.append(self.estimator.name)
        return base + (f"[{'; '.join(tags)}]" if tags else "")

    def velocity(self, grads: Layers, geo: Geometry, ops: Ops) -> Layers:
        """τ dW_i/dt = −G_i^{+q} g_i Ā_i^{+q} (factored damping inside G_i, Ā_i), or −(F_ii + εI)^{−q} g_i."""
        adaptive = isinstance(self.damping, LevenbergMarquardt)
        if not adaptive and self.damping != 0 and self.damping_mode == "block":
            return self._block_damped(grads, geo, ops)
        exact = isinstance(self.estimator, ExactFactors)
        damping = geo.adaptive_damping(self.damping) if adaptive else self.damping
        out = []
        for i, g in enumerate(grads):
            # K-FAC's Kronecker factors of the diagonal Fisher block F_ii ≈ right ⊗ left; in a deep
            # linear net with squared loss left = B_iᵀB_i and right = A_iΣA_iᵀ exactly (THEORY §1).
            if exact:
                left, right = geo.output_factor(i), geo.input_factor(i)
            else:
                left, right = geo.estimated_factors(i, self.estimator)
            if adaptive or damping != 0:
                delta = ops.sqrt(ops.scalar(damping))
                left = left + delta * ops.eye(left.shape[0])
                right = right + delta * ops.eye(right.shape[0])
            note = getattr(geo, "note_curvature", None)
            if note is not None:            # the stochastic solver's quadratic model reads it (numeric only)
                note(i, left, right)
            out.append(-(ops.pinv_pow(left, self.q) @ g @ ops.pinv_pow(right, self.q)))
        return tuple(out)

    def _block_damped(self, grads: Layers, geo: Geometry, ops: Ops) -> Layers:
        """−(F_ii + εI)^{−q} vec g_i per layer, F_ii sliced from the dense Fisher (layer order of `geo.vec`)."""
        F = _dense(geo.fisher())
        eps = ops.scalar(self.damping)
        flat = geo.vec(grads)
        out = 0 * flat                     # same backend and shape as θ; filled layer by layer
        start = 0
        for g in grads:
            n = g.shape[0] * g.shape[1]
            block = F[start:start + n, start:start + n] + eps * ops.eye(n)
            step = ops.pinv_pow(block, self.q) @ _segment(flat, start, n)
            for k in range(n):
                out[start + k] = -step[k]
            start += n
        return geo.unvec(out)


#: The two readings of a damped block rule (`BlockNGD.damping_mode`).
DAMPING_MODES = ("factored", "block")


def _segment(v: Any, start: int, n: int) -> Any:
    """Entries start..start+n−1 of a parameter vector as a vector of the same kind (a sympy column
    sliced as a column, a 1-D array as a 1-D array)."""
    return v[start:start + n, :] if hasattr(v, "col_join") else v[start:start + n]


@dataclass(frozen=True)
class Scaled:
    """A rule whose velocity is multiplied by a factor that may depend on the geometry.

    `Scaled(BlockNGD(), by=inverse_depth)` is Bernacchia et al.'s per-layer natural gradient
    (their Eq. 10: the learning rate of the block-diagonal rule divided by L).

    Args:
        rule: the rule to scale.
        by: function of the geometry returning an exact factor (int or Fraction).
        label: name of the scaled rule.
    """

    rule: Any
    by: Callable[[Geometry], Any]
    label: str = "scaled"

    @property
    def name(self) -> str:
        """The given label."""
        return self.label

    def velocity(self, grads: Layers, geo: Geometry, ops: Ops) -> Layers:
        """τ dW_i/dt = by(geo) · rule.velocity."""
        factor = ops.scalar(self.by(geo))
        return tuple(factor * v for v in self.rule.velocity(grads, geo, ops))


@dataclass(frozen=True)
class FunctionRule:
    """A user-defined rule from a function `fn(grads, geo, ops) -> velocities`.

    The function must use only `@`, `.T`, `+`, `-`, scalar products and `ops`, so that it runs
    on the symbolic and numeric geometries alike (see the module docstring).
    """

    fn: Callable[[Layers, Geometry, Ops], Layers] = field(compare=True)
    label: str = "user"

    @property
    def name(self) -> str:
        """The given label."""
        return self.label

    def velocity(self, grads: Layers, geo: Geometry, ops: Ops) -> Layers:
        """τ dW_i/dt = fn(grads, geo, ops)."""
        return tuple(self.fn(grads, geo, ops))


def rule(fn: Callable[[Layers, Geometry, Ops], Layers], name: str = "user") -> FunctionRule:
    """Wrap a function of (grads, geo, ops) as a learning rule.

    >>> half_gd = rule(lambda grads, geo, ops: tuple(-g * ops.scalar(Fraction(1, 2)) for g in grads), name="half-gd")
    >>> half_gd.name
    'half-gd'
    """
    if not callable(fn):
        raise fail("fn", "a callable fn(grads, geo, ops) returning one velocity per layer", fn)
    return FunctionRule(fn, name)


def inverse_depth(geo: Geometry) -> Any:
    """1/L as an exact Fraction (or 1/L as an expression when the depth is a symbol)."""
    if isinstance(geo.depth, int):
        return Fraction(1, geo.depth)
    return 1 / geo.depth


def kfac(damping: Any = 0, estimator: Any = None) -> BlockNGD:
    """K-FAC: block NGD with q = 1 (Martens & Grosse 2015), exact Kronecker factors by default.

    In a deep linear network K-FAC's factors B_iᵀB_i and A_iΣA_iᵀ are exact; the only
    approximation is dropping the off-diagonal Fisher blocks. The practical algorithm estimates
    them: `kfac(LevenbergMarquardt(), MovingAverage())` is Martens & Grosse's K-FAC.

    Args:
        damping: ε >= 0 (factored: √ε added to each factor) or `LevenbergMarquardt(...)`.
        estimator: None / `ExactFactors()`, `SampledFisher()`, `EmpiricalFisher()`, `MovingAverage(...)`.
    """
    return BlockNGD(q=1, damping=damping, estimator=ExactFactors() if estimator is None else estimator)


def bernacchia(damping: Any = 0, estimator: Any = None) -> Scaled:
    """Bernacchia et al. 2018's per-layer natural gradient: block NGD (q = 1) scaled by 1/L (their Eq. 10).

    `bernacchia(LevenbergMarquardt(0.01), SampledFisher())` is the online algorithm of their code
    (`lib/ngd.ml`): factors from one back-propagated Gaussian draw per example, √λ added to each.
    """
    tags = ([f"damping={damping}"] if isinstance(damping, LevenbergMarquardt) else []) + \
        ([estimator.name] if estimator is not None and not isinstance(estimator, ExactFactors) else [])
    label = "bernacchia" + (f"[{'; '.join(tags)}]" if tags else "")
    return Scaled(BlockNGD(q=1, damping=damping, estimator=ExactFactors() if estimator is None else estimator),
                  by=inverse_depth, label=label)


RULE_NAMES = ("gd", "ngd", "blockdiag", "kfac", "bernacchia")


def rule_from_name(name: str, q: Any = 1) -> Any:
    """Build a built-in rule from its command-line name and power q.

    Args:
        name: one of 'gd', 'ngd', 'blockdiag', 'kfac', 'bernacchia'.
        q: exact power in [0, 1], used by 'ngd' and 'blockdiag' ('kfac' and 'bernacchia' need q = 1).

    >>> rule_from_name("blockdiag", "1/2").name
    'blockdiag(q=1/2)'
    """
    q = check_exponent(q, "q")
    if name == "gd":
        return GD()
    if name == "ngd":
        return NGD(q=q)
    if name == "blockdiag":
        return BlockNGD(q=q)
    if name in ("kfac", "bernacchia"):
        if q != 1:
            raise fail("q", f"1 for rule {name!r} (use --rule blockdiag for other powers)", q)
        return kfac() if name == "kfac" else bernacchia()
    raise fail("rule", "one of " + ", ".join(RULE_NAMES), name)
