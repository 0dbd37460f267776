"""`derive`: a learning rule's exact mode dynamics as a frozen `Trajectory` (sympy + numpy).

The one module (with `verify.py`) that joins the two sides: the symbolic pipeline
(`lindyn.symbolic.solve.derive_mode`: rule → velocities → mode ODE → separation → solution) runs once
per (rule, depth, gains, λ); the `Trajectory` keeps that derivation, lambdifies its expressions and
hands the callables to the numeric evaluators (`lindyn.numeric.evaluate`).

Accuracy. `evaluate` and `learning_time` are accurate to a few ulp wherever the value is well
conditioned: near u = 0 and up to the last float before u* (`evaluate`: the universal power-law flow
of `lindyn.numeric.stable.PowerFlow`; `learning_time`: the ₂F₁ difference form of t(u), see
`lindyn.symbolic.solve.universal_difference`). Where u(t) is ill-conditioned, its condition number
κ(t) = |t u̇/u| (`Trajectory.condition`) says how far a relative rounding of t moves u: double
precision resolves about κ·2.2e-16 relative, `evaluate` warns (`IllConditioned`) where κ > 1e8, and
`evaluate(..., dps=30)` evaluates the exact float t with mpmath instead.

>>> from lindyn.rules import GD
>>> traj = derive(GD(), depth=2)
>>> traj.form, traj.c, traj.g
('explicit', 2, 1)
>>> [round(float(x), 10) for x in traj.evaluate([0.5, 1.0, 2.0], s=2.0, u0=0.01)]
[0.0716031774, 0.4305879205, 1.8748411137]
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable, Literal

import numpy as np
import sympy
from numpy.typing import ArrayLike, NDArray

from ._checks import MAX_DEPTH, MAX_DPS, check_int, check_real, fail
from .numeric import evaluate as ev
from .rules import LearningRule
from .symbolic.modes import ModeSymbols, mode_symbols
from .symbolic.solve import V, W, W0, WC, WC0, X, Derivation, Explicit, Implicit, Quadrature, Solution, derive_mode

__all__ = ["ModeProblem", "Trajectory", "derive", "mode_symbols", "ModeSymbols", "IllConditioned",
           "CONDITION_WARN"]

Gains = Literal["balanced", "unbalanced"]
Form = Literal["explicit", "implicit", "quadrature"]

#: Largest `dps` of the mpmath evaluator (as `HighPrecision`): the work grows fast with the digits.
MP_MAX_DPS = MAX_DPS

#: `evaluate` warns (`IllConditioned`) where the condition number κ(t) = |t u̇/u| exceeds this: the
#: rounding of t alone (ε = 2.2e-16 relative) then moves u by more than 2e-8 relative, so double
#: precision resolves fewer than about 8 digits of u(t).
CONDITION_WARN = 1e8


class IllConditioned(UserWarning):
    """`evaluate` returned values whose condition number κ = |t u̇/u| exceeds `CONDITION_WARN`.

    Double precision resolves such a u(t) only to about κ·2.2e-16 relative (a transition narrower
    than a few ulps of t); `evaluate(..., dps=30)` evaluates the exact float t with mpmath.
    """


_HYP = sympy.Function("hyp2f1")
_HYP1B = sympy.Function("hyp2f1_1b")
_EVAL_PARAMS = "s, u0, gains, tau, lam, q"


def _floats(x: Any, name: str, allowed: str) -> np.ndarray:
    """`x` as a float array, or a `LindynError` naming `name` (no ValueError from numpy)."""
    if x is None or isinstance(x, (str, bytes)):
        raise fail(name, allowed, x)
    try:
        if np.iscomplexobj(x):
            raise fail(name, allowed, x)
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise fail(name, allowed, x) from None


def _decimal(x: Any, name: str) -> Any:
    """A decimal string (accepted exactly by the mpmath evaluator) as a float, for checking only."""
    if not isinstance(x, str):
        return x
    try:
        return float(x)
    except ValueError:
        raise fail(name, "a number (or a decimal string)", x) from None


def _prepare(expr: sympy.Expr) -> sympy.Expr:
    """Replace sympy's hyper([a, b], [c], z) by a plain function of its parameters that lambdify maps.

    ₂F₁(1, b; 1 + b; z) (the G of a symbolic g) becomes hyp2f1_1b(b, z): c = a + b must hold exactly,
    which separately rounded float parameters would break (scipy is then wrong near z = 1).
    """
    def plain(e: sympy.hyper) -> sympy.Expr:
        (a, b), (c,) = e.ap, e.bq
        if a == 1 and sympy.expand(c - b) == 1:
            return _HYP1B(b, e.argument)
        if b == 1 and sympy.expand(c - a) == 1:
            return _HYP1B(a, e.argument)
        return _HYP(a, b, c, e.argument)
    return expr.replace(lambda e: isinstance(e, sympy.hyper) and len(e.ap) == 2 and len(e.bq) == 1, plain)


def _lambdify(args: tuple[Any, ...], expr: Any, backend: str) -> Callable[..., Any]:
    expr = _prepare(sympy.sympify(expr))
    if backend == "numpy":
        return sympy.lambdify(args, expr, modules=[ev.NUMPY_FUNCTIONS, "numpy"], cse=True)
    if backend == "long":
        return _lambdify_long(args, expr)
    return sympy.lambdify(args, expr, modules=[ev.MPMATH_FUNCTIONS, "mpmath"])


def _lambdify_long(args: tuple[Any, ...], expr: sympy.Expr) -> Callable[..., Any]:
    """`expr` as a numpy callable for long-double arguments, its constants exact to long double.

    lambdify prints a rational such as the 4/3 of s**(4/3) as a Python float division (rounded to
    double), so every non-integer number (and every integer beyond 2**53) is replaced by a symbol
    bound to its long-double value (`sympy.N` at 30 digits, read by numpy's long-double parser).
    """
    numbers = sorted((a for a in expr.atoms(sympy.Number, sympy.NumberSymbol)
                      if not (a.is_Integer and abs(int(a)) <= 2 ** 53)), key=sympy.default_sort_key)
    names = tuple(sympy.Dummy(f"k{i}") for i in range(len(numbers)))
    values = tuple(ev.LONG(str(sympy.N(a, 30))) for a in numbers)
    f = sympy.lambdify(args + names, expr.xreplace(dict(zip(numbers, names))), modules="numpy")
    return lambda *a: f(*a, *values)


@dataclass(frozen=True)
class ModeProblem:
    """One aligned singular mode: depth L, balanced or per-layer gains, input variance λ.

    Args:
        depth: L >= 1 weight matrices.
        gains: "balanced" (u = a^L) or "unbalanced" (per-layer gains a_1(0)..a_L(0)).
        lam: input variance λ along the mode: 1 (whitened), an exact number, or a sympy symbol.
    """

    depth: int
    gains: Gains = "balanced"
    lam: Any = 1


@dataclass(frozen=True)
class Trajectory:
    """Closed-form dynamics of one aligned singular mode of `problem` under `rule`.

    Attributes:
        problem: the `ModeProblem`.
        rule: the learning rule it was derived from.
        ode: τ du/dt = f(u) derived from `rule.velocity` (unbalanced quadrature: τ da_1/dt on the
            conserved curves).
        form: "explicit" (u(t) known), "implicit" (t(u) in closed form) or "quadrature".
        u: u(t) when explicit, else None.
        t_of_u: t(u) (time from u0 to u) when closed, else the exact quadrature (sympy Integral).
        conserved: conserved quantities of the unbalanced mode (neighbouring layers).
        symbols: the `ModeSymbols` (t, τ, s, λ, u, u0, gains).
        c, g: τu̇ = c u^g (s − λu) when the ODE has this form (else None).
        derivation: the symbolic `Derivation` (velocities, mode ODE, separation, solution).
    """

    problem: ModeProblem
    rule: LearningRule
    ode: sympy.Eq
    form: Form
    u: sympy.Expr | None
    t_of_u: sympy.Expr | None
    conserved: tuple[sympy.Expr, ...]
    symbols: ModeSymbols
    c: sympy.Expr | None
    g: sympy.Expr | None
    derivation: Derivation = field(repr=False, compare=False)

    @property
    def solution(self) -> Solution:
        """The typed solution: `Explicit`, `Implicit` or `Quadrature` (lindyn.symbolic.solve)."""
        return self.derivation.solution

    # ------------------------------------------------------------------ parameters
    @cached_property
    def parameters(self) -> tuple[sympy.Symbol, ...]:
        """Free symbols of the derived dynamics (a symbolic power q, a symbolic damping ...).

        Each is bound at evaluation by a keyword of its name (`q=`, `gamma=`); `q=` also binds the
        only free parameter whatever its name.
        """
        return self.derivation.parameters

    @property
    def q(self) -> sympy.Symbol | None:
        """The symbolic power bound by `q=`: the parameter named q, or the only parameter; else None."""
        free = self.parameters
        named = [x for x in free if str(x) == "q"]
        return named[0] if named else (free[0] if len(free) == 1 else None)

    def _free_values(self, q: Any, named: dict[str, Any]) -> tuple[float, ...]:
        """Values of `parameters`, by name (or `q=`), checked."""
        values = []
        for x in self.parameters:
            name = str(x)
            if name in named:
                values.append(check_real(named[name], name))
            elif x == self.q and q is not None:
                q_v = check_real(q, "q")
                if not 0 <= q_v <= 1:
                    raise fail("q", "in [0, 1]", q)
                values.append(q_v)
            else:
                key = "q" if x == self.q else name
                raise fail(key, f"a number: the trajectory was derived for a symbolic {name}", None)
        return tuple(values)

    def _unknown(self, unknown: dict[str, Any], allowed: str) -> dict[str, Any]:
        """Split keywords into free-parameter values; any other name is an error."""
        names = {str(x) for x in self.parameters}
        bad = sorted(k for k in unknown if k not in names)
        if bad:
            every = ", ".join([allowed] + sorted(names - {"q"}))
            raise fail(bad[0], f"not a parameter here (the parameters are {every})", unknown[bad[0]])
        return unknown

    def _modes(self, s: Any, u0: Any, gains: Any, tau: Any, lam: Any, q: Any,
               named: dict[str, Any]) -> tuple[list[ev.Mode], bool]:
        """Check and broadcast the numeric parameters over modes; (modes, scalar input)."""
        modes, scalar = self._mode_arrays(s, u0, gains, tau, lam, q, named)
        return [modes.mode(i) for i in range(len(modes))], scalar

    def _mode_arrays(self, s: Any, u0: Any, gains: Any, tau: Any, lam: Any, q: Any,
                     named: dict[str, Any]) -> tuple[ev.Modes, bool]:
        """`_modes` as arrays (`ev.Modes`, no per-mode objects); (modes, scalar input)."""
        s_arr = np.atleast_1d(_floats(s, "s", "finite singular values > 0 (one per mode)"))
        if s_arr.ndim != 1 or s_arr.size == 0 or not np.all(np.isfinite(s_arr)) or np.any(s_arr <= 0):
            raise fail("s", "finite singular values > 0 (at least one mode)", s)
        if q is not None and self.q is None:
            free = ", ".join(str(x) for x in self.parameters) or "none"
            raise fail("q", f"not given: the dynamics derived for {getattr(self.rule, 'name', self.rule)!r} at depth "
                       f"{self.problem.depth} have no symbolic power q (free parameters: {free}); q is given at "
                       "evaluation only to a rule derived with a symbolic power, e.g. NGD(q=sympy.Symbol('q'))", q)
        if lam is not None and np.ndim(lam) > 0 and np.size(lam) not in (1, s_arr.size):
            raise fail("lam", f"one value or one per mode ({s_arr.size}, as s)", lam)
        if not isinstance(self.problem.lam, sympy.Symbol):
            fixed = float(self.problem.lam)
            if lam is not None and not np.allclose(_floats(lam, "lam", f"{fixed:g}"), fixed, rtol=0, atol=0):
                raise fail("lam", f"{fixed:g} (derived with lam={self.problem.lam}; derive with "
                           "lam='symbolic' for other input variances)", lam)
            lam = fixed
        elif lam is None:
            raise fail("lam", "given: the trajectory was derived with a symbolic λ", lam)
        lam_arr = _floats(lam, "lam", "finite input variances > 0")
        if not np.all(np.isfinite(lam_arr)) or np.any(lam_arr <= 0):
            raise fail("lam", "finite input variances > 0", lam)
        tau_v = check_real(tau, "tau", positive=True)
        free = self._free_values(q, named)
        depth = self.problem.depth
        if self.problem.gains == "balanced":
            if u0 is None or gains is not None:
                raise fail("u0", "given for a balanced mode (not gains)", u0)
            u0_arr = _floats(u0, "u0", "finite initial strengths > 0")
            if not np.all(np.isfinite(u0_arr)) or np.any(u0_arr <= 0):
                raise fail("u0", "finite initial strengths > 0", u0)
            try:
                s_b, lam_b, u0_b = np.broadcast_arrays(s_arr, lam_arr, u0_arr)
            except ValueError:
                raise fail("u0", f"one value or one per mode ({s_arr.size}, as s)", u0) from None
            if s_b.ndim != 1:
                raise fail("u0", f"one value or one per mode ({s_arr.size}, as s)", u0)
            g_b = None
        else:
            if gains is None or u0 is not None:
                raise fail("gains", f"{depth} per-layer gains for an unbalanced mode (not u0)", gains)
            g_arr = np.atleast_2d(_floats(gains, "gains", f"{depth} finite gains > 0 per mode"))
            if g_arr.ndim != 2 or g_arr.shape[-1] != depth or not np.all(np.isfinite(g_arr)) or np.any(g_arr <= 0):
                raise fail("gains", f"{depth} finite gains > 0 per mode", gains)
            try:
                s_b, lam_b = np.broadcast_arrays(s_arr, lam_arr)
                g_b = np.broadcast_to(g_arr, s_b.shape + (depth,)).astype(float)
            except ValueError:
                raise fail("gains", f"one row of {depth} gains, or one row per mode ({s_arr.size})", gains) from None
            u0_b = np.prod(g_b, axis=-1)
        modes = ev.Modes(s=np.array(s_b, dtype=float), lam=np.array(lam_b, dtype=float),
                         tau=np.full(s_b.shape, tau_v), u0=np.array(u0_b, dtype=float), gains=g_b, free=free,
                         depth=depth)
        return modes, np.ndim(s) == 0 and np.ndim(u0 if u0 is not None else 0) == 0

    # ------------------------------------------------------------------ lambdified evaluators
    def _args(self) -> tuple[sympy.Symbol, ...]:
        """The symbols in `ev.Mode.args()` order: s, λ, τ, u0, a_1(0)..a_L(0), free parameters."""
        sym = self.symbols
        lam = self.problem.lam if isinstance(self.problem.lam, sympy.Symbol) else sym.lam
        return (sym.s, lam, sym.tau, sym.u0, *sym.gains0, *self.parameters)

    def _evaluator(self, backend: str) -> Any:
        """The numeric evaluator of this solution's form (the one dispatch on the solution variant)."""
        sol, args, sym = self.solution, self._args(), self.symbols

        def fn(var: tuple[Any, ...], expr: Any) -> Callable[..., Any]:
            return _lambdify(var + args, expr, backend)

        closed = None if sol.t_of_u.has(sympy.Integral) else sol.t_of_u
        power = None
        if backend == "numpy" and isinstance(sol, (Explicit, Implicit)) and sol.power is not None:
            pp = sol.power
            # τu̇ = c u^g (s − λu): u(t) (implicit) and t(u) (every form) from the ₂F₁ difference form
            var = (W, W0, WC, WC0)
            power = ev.PowerEvaluator(rate=fn((), pp.rate), g=fn((), pp.g), below=fn(var, pp.below),
                                      above=fn(var, pp.above), f=fn((sym.u,), sol.rhs), t_of_u=fn((sym.u,), closed),
                                      rate_long=_lambdify(args, pp.rate, "long"), g_long=_lambdify(args, pp.g, "long"))
        if isinstance(sol, Explicit):
            if backend == "mpmath":
                return ev.ExplicitMp(u=fn((sym.t,), sol.u))
            p = sol.plan
            return ev.MobiusEvaluator(rate=fn((), p.rate), coef=fn((W0,), tuple(p.coefficients)), k=p.k,
                                      t_of_u=fn((sym.u,), closed), power=power, f=fn((sym.u,), sol.rhs))
        if isinstance(sol, Implicit):
            if backend == "mpmath":
                return ev.ImplicitMp(T=fn((sym.u,), sol.t_of_u), f=fn((sym.u,), sol.rhs))
            if power is not None:
                return power
            p = sol.plan
            var, G, slope = ((V,), p.G_v, p.slope_v) if p.G_v is not None else ((W,), p.G, p.slope)
            return ev.InverseEvaluator(rate=fn((), p.rate), G=fn(var, G), slope=fn(var, slope),
                                       k=p.k if p.G_v is not None else 1, t_of_u=fn((sym.u,), closed),
                                       f=fn((sym.u,), sol.rhs))
        assert isinstance(sol, Quadrature)
        layered = sol.plans[0].layer is not None
        if backend == "mpmath":
            return ev.QuadratureMp(xdot=fn((X,), sol.plans[0].xdot), u_of_x=fn((X,), sol.plans[0].u_of_x),
                                   layered=layered)
        return ev.QuadratureEvaluator(xdot=tuple(fn((X,), p.xdot) for p in sol.plans),
                                      u_of_x=tuple(fn((X,), p.u_of_x) for p in sol.plans), layered=layered,
                                      du_dx=tuple(fn((X,), sympy.diff(p.u_of_x, X)) for p in sol.plans))

    @cached_property
    def _numpy(self) -> Any:
        return self._evaluator("numpy")

    @cached_property
    def _mpmath(self) -> Any:
        # kept on the trajectory: bounded by the (cached) trajectories themselves, not a global table
        return self._evaluator("mpmath")

    # ------------------------------------------------------------------ public verbs
    def evaluate(self, t: ArrayLike, *, s: ArrayLike = 1.0, u0: ArrayLike | None = None,
                 gains: ArrayLike | None = None, tau: float = 1.0, lam: ArrayLike | None = None,
                 q: float | None = None, dps: int | None = None, **params: Any) -> NDArray:
        """u(t) of each mode, evaluated stably (no overflow, NaN or loss of monotonicity).

        All modes and times are one vectorised pass for closed forms: explicit forms straight in
        numpy, in cancellation-free order; implicit power-law forms τu̇ = c u^g (s − λu) as points on
        the universal flow of dw/dτ = w^g (1 − w) (one table per exponent and branch, shared by all
        modes: u = (s/λ) w(Γ + κt), with the start Γ and the rate κ in long double); other implicit
        forms by a bracketed Newton solve; quadratures by the reduced ODE, refined by a Newton step on
        the exact integral. Any order of t (no sorting is needed for the values, only for the
        monotone guard). Accurate to 1-2 ulp where u(t) is well conditioned (measured <= 1e-15
        relative at every depth <= 50 against the mpmath route), and to ~κ·1e-18 beyond: the exact
        float t is honoured to about 1e-19 relative (long double; plain double on platforms without
        it). Where the condition number κ(t) = |t u̇/u| (`condition`) exceeds CONDITION_WARN = 1e8 the
        call warns `IllConditioned` (closed forms; a bound of κ over each power-law mode's whole path
        decides when the per-value κ is computed at all): rounding t to a double moves u by
        κ·2.2e-16 relative (at s = 1e6, u0 = 1e-12, L >= 10 the transition is a few ulps of t wide, κ
        up to ~1e17), and `dps=` evaluates the exact float t in mpmath.

        Args:
            t: times >= 0 (any shape).
            s: singular value(s) s_α > 0, one per mode (at least one).
            u0: initial strength(s) > 0 (balanced modes).
            gains: per-layer initial gains (unbalanced modes): L values, or modes x L.
            tau: time constant τ > 0.
            lam: input variance(s) (only when derived with a symbolic λ, or equal to it).
            q: value of a symbolic power q, in [0, 1] (an error when the rule has no symbolic power).
            dps: None (double precision) or 15 <= dps <= 200: every value by the mpmath route
                (`lambdify("mpmath")`) at dps digits, at the exact binary value of each t and input,
                then rounded to double (about a millisecond to a second per value; no warning).
            **params: values of other free parameters, by name (e.g. gamma= for a symbolic damping).

        Returns:
            Array of shape t.shape for one mode, else (modes,) + t.shape.

        Warns:
            IllConditioned: some κ(t) > CONDITION_WARN (double precision, closed forms).

        >>> from lindyn.rules import NGD
        >>> derive(NGD(), depth=3).evaluate([0.0, 1e6], s=[1.0, 2.0], u0=1e-3).round(6).tolist()
        [[0.001, 1.0], [0.001, 2.0]]
        """
        # === check arguments
        named = self._unknown(params, "t, " + _EVAL_PARAMS + ", dps")
        t_arr = _floats(t, "t", "finite times >= 0")
        # two reductions (NaN propagates through both) instead of elementwise masks
        if t_arr.size and not (float(t_arr.min()) >= 0 and float(t_arr.max()) < np.inf):
            raise fail("t", "finite times >= 0", t)
        if dps is not None:
            dps = check_int(dps, "dps", minimum=15, maximum=MP_MAX_DPS)
        modes, scalar = self._mode_arrays(s, u0, gains, tau, lam, q, named)
        flat = t_arr.ravel()
        if dps is not None:
            out = self._evaluate_mp(flat, [modes.mode(i) for i in range(len(modes))], dps)
        elif isinstance(self._numpy, ev.QuadratureEvaluator):
            out = ev.evaluate_modes(self._numpy, flat, modes)
        else:
            # power-law modes: one vectorised pass and a bound of κ over each whole path; κ per value
            # (three evaluations) only where that bound reaches CONDITION_WARN
            out, bound = ev.evaluate_bounded(self._numpy, flat, modes)
            if bound is None or float(np.max(bound)) > CONDITION_WARN:
                out, kappa = ev.condition_modes(self._numpy, flat, modes)
                self._warn_condition(flat, kappa)
        out = out.reshape((len(modes),) + t_arr.shape)
        return out[0] if scalar else out

    @staticmethod
    def _warn_condition(t: NDArray, kappa: NDArray) -> None:
        """Warn `IllConditioned` where κ(t) = |t u̇/u| > CONDITION_WARN."""
        worst = np.nan_to_num(kappa, nan=0.0)
        if worst.size and np.max(worst) > CONDITION_WARN:
            m, k = np.unravel_index(int(np.argmax(worst)), worst.shape)
            n = int(np.sum(worst > CONDITION_WARN))
            warnings.warn(f"u(t) is ill-conditioned at {n} value(s): condition number κ = |t u̇/u| up to "
                          f"{float(worst[m, k]):.3g} (mode {m}, t = {float(t[k])!r}), so double precision "
                          f"resolves u there only to about {min(1.0, float(worst[m, k]) * 2.2e-16):.2g} relative; "
                          "evaluate(..., dps=30) evaluates the exact float t with mpmath", IllConditioned, stacklevel=3)

    def _evaluate_mp(self, t: NDArray, modes: list[ev.Mode], dps: int) -> NDArray:
        """Every (mode, t) by the mpmath route at `dps` digits, at the exact binary inputs; rounded to double."""
        symbolic = isinstance(self.problem.lam, sympy.Symbol)
        lam_exact = None if symbolic else str(sympy.N(self.problem.lam, MP_MAX_DPS + 20))
        out = np.empty((len(modes), t.size))
        for i, m in enumerate(modes):
            mode = ev.Mode(s=m.s, lam=lam_exact if lam_exact is not None else m.lam, tau=m.tau, u0=m.u0,
                           gains=m.gains, free=m.free, depth=m.depth)
            for k, tk in enumerate(t):
                out[i, k] = float(ev.value_mp(self._mpmath, float(tk), mode, dps=dps)) if tk > 0 else m.u0
        return out

    def condition(self, t: ArrayLike, *, s: ArrayLike = 1.0, u0: ArrayLike | None = None,
                  gains: ArrayLike | None = None, tau: float = 1.0, lam: ArrayLike | None = None,
                  q: float | None = None, **params: Any) -> NDArray:
        """Condition number of u(t): κ(t) = |t u̇(t)/u(t)| = |d ln u/d ln t|, per mode and time.

        The relative change of u per relative change of t (0 at t = 0): a double t is uncertain by
        ε = 2.2e-16 relative, so no double-precision evaluation resolves u(t) better than about κ·ε
        relative. u̇ = f(u)/τ from the derived mode ODE (quadratures: along the conserved curves), at
        the computed u; where the transition is narrower than the evaluation's time error the computed
        u may sit on a plateau, and κ is then the finite difference of ln u over t(1 ± 2^−46), a lower
        bound (`lindyn.numeric.evaluate.condition_modes`). κ is O(1)-O(10) on ordinary
        transitions; inside a transition a few ulps of t wide (s = 1e6, u0 = 1e-12, L >= 10) it
        reaches 1e13-1e17, where `evaluate(..., dps=30)` is needed.

        Args:
            t, s, u0, gains, tau, lam, q, params: as in `evaluate`.

        Returns:
            Array of shape t.shape for one mode, else (modes,) + t.shape.

        >>> from lindyn.rules import GD
        >>> float(derive(GD(), depth=2).condition(1.0, s=1.0, u0=0.5).round(6))   # logistic: 2t(1 − u)
        0.238406
        """
        # === check arguments
        named = self._unknown(params, "t, " + _EVAL_PARAMS)
        t_arr = _floats(t, "t", "finite times >= 0")
        if not np.all(np.isfinite(t_arr)) or np.any(t_arr < 0):
            raise fail("t", "finite times >= 0", t)
        modes, scalar = self._modes(s, u0, gains, tau, lam, q, named)
        out = ev.condition_modes(self._numpy, t_arr.ravel(), modes)[1].reshape((len(modes),) + t_arr.shape)
        return out[0] if scalar else out

    def learning_time(self, u_to: float, *, s: float = 1.0, u0: float | None = None,
                      gains: ArrayLike | None = None, tau: float = 1.0, lam: float | None = None,
                      q: float | None = None, **params: Any) -> float:
        """Time for one mode to go from u0 to u_to: t(u_to) from the derived t(u).

        Power-law modes (τu̇ = c u^g (s − λu)) use the ₂F₁ difference form of t(u): accurate near
        u = 0 and finite and accurate up to the last float before s/λ (e.g. GD, L = 3, s = 1,
        u0 = 1e-3, u_to = 0.9999999999999999: t = 21.4876044389365).

        Args:
            u_to: target strength, strictly between u0 and the fixed point s/λ.
            s, u0, gains, tau, lam, q, params: as in `evaluate` (one mode).

        >>> from lindyn.rules import GD
        >>> round(derive(GD(), depth=2).learning_time(1 - 1e-4, s=1.0, u0=1e-4), 12)
        9.210240366976
        """
        # === check arguments
        named = self._unknown(params, "u_to, " + _EVAL_PARAMS)
        modes, _ = self._modes(s, u0, gains, tau, lam, q, named)
        if len(modes) != 1:
            raise fail("s", "one singular value (learning_time is per mode)", s)
        u_to = check_real(u_to, "u_to", positive=True)
        m = modes[0]
        star = m.s / m.lam
        if not (min(m.u0, star) <= u_to <= max(m.u0, star)) or (u_to == star != m.u0):
            raise fail("u_to", f"between u0 = {m.u0:g} and the fixed point s/λ = {star:g} (excluded)", u_to)
        return ev.time_to(self._numpy, u_to, m)

    def lambdify(self, backend: Literal["numpy", "mpmath"] = "numpy") -> Callable[..., Any]:
        """A function u(t, **params): stable numpy arrays, or mpmath numbers at `dps` digits.

        numpy: the same as `evaluate`. mpmath: explicit forms evaluate u(t) directly; implicit forms
        bracket the root of t(u) = t by bisection on the mpmath t(u) (independent of `evaluate`),
        then refine it by Newton steps; quadratures integrate the reduced ODE with mpmath's
        Taylor-series integrator (`lindyn.numeric.mode_ode`).

        Args:
            backend: "numpy" or "mpmath" (mpmath callables take scalar t and a `dps=30` keyword).

        >>> import mpmath
        >>> from lindyn.rules import GD
        >>> f = derive(GD(), depth=3).lambdify("mpmath")
        >>> mpmath.nstr(f(9.144747306608, s=1, u0=1e-3, dps=30), 12)
        '0.5'
        """
        # === check arguments
        if backend == "numpy":
            return lambda t, **kw: self.evaluate(t, **kw)
        if backend != "mpmath":
            raise fail("backend", "'numpy' or 'mpmath'", backend)
        return self._value_mp

    def _value_mp(self, t: Any, *, s: Any = 1, u0: Any = None, gains: Any = None, tau: Any = 1,
                  lam: Any = None, q: Any = None, dps: int = 30, **params: Any) -> Any:
        # === check arguments (the numeric values as in `evaluate`; strings are kept exact for mpmath)
        named = self._unknown(params, "t, " + _EVAL_PARAMS + ", dps")
        dps = check_int(dps, "dps", minimum=15, maximum=MP_MAX_DPS)
        if np.ndim(t) != 0:
            raise fail("t", "one time >= 0 (the mpmath evaluator takes scalar t)", t)
        t_chk = float(_floats(_decimal(t, "t"), "t", "a finite time >= 0"))
        if not np.isfinite(t_chk) or t_chk < 0:
            raise fail("t", "a finite time >= 0", t)
        checked = [_decimal(x, n) for x, n in ((s, "s"), (u0, "u0"), (gains, "gains"), (tau, "tau"), (lam, "lam"))]
        modes, _ = self._modes(*checked, q, {k: _decimal(v, k) for k, v in named.items()})
        if len(modes) != 1:
            raise fail("s", "one singular value (the mpmath evaluator is per mode)", s)
        # the exact inputs (decimal strings, mpf) go to mpmath, not their checked float copies
        lam_v = lam if lam is not None else str(sympy.N(self.problem.lam, MP_MAX_DPS + 20))
        free = list(modes[0].free)
        for i, x in enumerate(self.parameters):
            if str(x) in named:
                free[i] = named[str(x)]
            elif q is not None:
                free[i] = q
        mode = ev.Mode(s=s, lam=lam_v, tau=tau, u0=u0, gains=None if gains is None else tuple(gains),
                       free=tuple(free), depth=self.problem.depth)
        return ev.value_mp(self._mpmath, t, mode, dps=dps)

    def _repr_latex_(self) -> str:
        """Rendered math in Jupyter: the mode ODE and its solution (``$$ ... $$`` display blocks)."""
        from .latex import trajectory_latex
        body = trajectory_latex(self).replace("\\begin{equation}", "$$").replace("\\end{equation}", "$$")
        body = body.replace("\\begin{equation*}", "$$").replace("\\end{equation*}", "$$")
        return "\n".join(line for line in body.splitlines() if not line.lstrip().startswith(("%", "\\label")))

    def latex(self, part: Literal["all", "ode", "solution"] = "all") -> str:
        """LaTeX of the derivation: by default equation environments for the mode ODE, the solution and
        the conserved quantities; `part="ode"` or `"solution"` gives that one formula (no environment).

        >>> from lindyn.rules import GD
        >>> "\\\\begin{equation}" in derive(GD(), depth=2).latex()
        True
        >>> print(derive(GD(), depth=2).latex("ode"))
        \\tau \\frac{d u}{d t} = 2 u \\left(s - u\\right)
        """
        # === check arguments
        from . import latex as tex
        if part == "all":
            return tex.trajectory_latex(self)
        if part == "ode":
            return tex.ode_latex(self)
        if part == "solution":
            return tex.solution_latex(self)
        raise fail("part", "'all', 'ode' or 'solution'", part)


def _check_rule(rule: Any) -> Any:
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule (an object with velocity(grads, geo, ops))", rule)
    try:
        hash(rule)
    except TypeError:
        raise fail("rule", "hashable (a frozen dataclass, or lindyn.rule(fn))", rule) from None
    return rule


def _check_lam(lam: Any, depth: int) -> sympy.Expr:
    """λ as an exact positive sympy number or a symbol ("symbolic": the engine's own λ)."""
    if isinstance(lam, str) and lam == "symbolic":
        return mode_symbols(depth).lam
    if isinstance(lam, sympy.Symbol):
        return lam
    if isinstance(lam, float) and not float(lam).is_integer():
        raise fail("lam", "exact (int, Fraction, sympy number or symbol, or 'symbolic'), not a float", lam)
    if lam is None or isinstance(lam, bool) or not (isinstance(lam, (int, str, sympy.Basic, np.integer, float))
                                                    or hasattr(lam, "numerator")):
        raise fail("lam", "a positive exact number, a sympy symbol or 'symbolic'", lam)
    try:
        value = sympy.nsimplify(lam) if not isinstance(lam, sympy.Basic) else lam
    except (TypeError, ValueError, AttributeError, sympy.SympifyError):
        raise fail("lam", "a positive exact number, a sympy symbol or 'symbolic'", lam) from None
    if not (getattr(value, "is_number", False) and value.is_positive and value.is_finite):
        raise fail("lam", "a positive exact number, a sympy symbol or 'symbolic'", lam)
    return value


@lru_cache(maxsize=1024)
def _derive(rule: Any, depth: int, gains: Gains, lam: sympy.Expr) -> Trajectory:
    d = derive_mode(rule, depth, gains, lam)
    sym, sol = d.symbols, d.solution
    name = "u" if sol.variable == sym.u else "a_1"
    lhs = sym.tau * sympy.Derivative(sympy.Function(name)(sym.t), sym.t)
    return Trajectory(problem=ModeProblem(depth=depth, gains=gains, lam=lam), rule=rule,
                      ode=sympy.Eq(lhs, sol.rhs, evaluate=False), form=sol.form, u=sol.u, t_of_u=sol.t_of_u,
                      conserved=d.conserved if depth >= 2 else (), symbols=sym, c=sol.c, g=sol.g, derivation=d)


def derive(rule: LearningRule, depth: int, *, gains: Gains = "balanced", lam: Any = 1) -> Trajectory:
    """Derive the exact dynamics of one aligned singular mode under `rule`.

    From `rule.velocity` on the per-mode geometry, once: the per-layer velocities, the mode ODE
    τ u̇ = f(u) (chain rule; balanced u = a^L), its form c u^g (s − λu) (g read off as
    u ∂_u log[f/(s − λu)]), the conserved quantities (separation of ȧ_i/ȧ_j) and the solution in
    its honest form (explicit u(t), implicit closed t(u), or exact quadrature). Cached by
    (rule, depth, gains, λ).

    Args:
        rule: a learning rule (hashable object with `velocity`); q may be an exact number or a symbol.
        depth: number of weight matrices, 1 <= L <= 100 (`lindyn._checks.MAX_DEPTH`).
        gains: "balanced" (initial u0, every gain u0^{1/L}) or "unbalanced" (per-layer gains).
        lam: input variance λ: 1 (whitened, default), an exact positive number, a sympy symbol, or
            "symbolic" (the engine's own λ, `trajectory.symbols.lam`; values are given at evaluation).

    Returns:
        A frozen `Trajectory`.

    Raises:
        LindynError: bad arguments.
        NoModeDecomposition: the rule does not reduce to one mode ODE (use `lindyn.integrate`).

    >>> import sympy
    >>> from lindyn.rules import NGD, kfac
    >>> q = sympy.Symbol("q", positive=True)
    >>> derive(NGD(q=q), depth=4, lam="symbolic").g
    3/2 - 3*q/2
    >>> derive(kfac(damping=1), depth=2).ode.rhs            # damped K-FAC: balanced at λ = 1
    u*(s - u)/(u + 1)
    """
    # === check arguments
    rule = _check_rule(rule)
    depth = check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH)
    if gains not in ("balanced", "unbalanced"):
        raise fail("gains", "'balanced' or 'unbalanced'", gains)
    return _derive(rule, depth, gains, _check_lam(lam, depth))
