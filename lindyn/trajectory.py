"""`derive`: a learning rule's exact mode dynamics as a frozen `Trajectory` (sympy + numpy).

The one module (with `verify.py`) that joins the symbolic engine (`lindyn.symbolic`: rule → mode ODE
→ conserved quantities → solution) and the numeric evaluators (`lindyn.numeric.stable`): it
lambdifies the derived expressions and hands them to the stable evaluators.

>>> from lindyn.rules import GD
>>> traj = derive(GD(), depth=2)
>>> traj.form, traj.c, traj.g
('explicit', 2, 1)
>>> [round(float(x), 10) for x in traj.evaluate([0.5, 1.0, 2.0], s=2.0, u0=0.01)]
[0.0716031774, 0.4305879205, 1.8748411137]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable, Literal

import mpmath
import numpy as np
import scipy.special
import sympy
from numpy.typing import ArrayLike, NDArray

from .rules import LearningRule
from ._checks import MAX_DEPTH, MAX_DPS, check_int, check_real, fail
from .numeric.stable import (MONOTONE_RTOL, QUADRATURE_MONOTONE_RTOL, bisect_time_mp, hyp2f1_1b, integrate_reduced,
                             invert_time, mobius_power, monotone, newton_refine_mp, reduced_time)
from .symbolic.invariants import conserved_quantities
from .symbolic.modes import ModeSymbols, _balanced, mode_symbols
from .symbolic.solve import V, W, W0, Solution, solve_balanced, solve_unbalanced

__all__ = ["ModeProblem", "Trajectory", "derive"]

Gains = Literal["balanced", "unbalanced"]
Form = Literal["explicit", "implicit", "quadrature"]

_X = sympy.Symbol("x", positive=True)
_HYP = sympy.Function("hyp2f1")
_HYP1B = sympy.Function("hyp2f1_1b")


def _root(k: int) -> Callable[[Any], Any]:
    """w ↦ w^{1/k} with numpy's dedicated square and cube roots where they apply."""
    if k == 1:
        return lambda w: w
    if k == 2:
        return np.sqrt
    if k == 3:
        return np.cbrt
    return lambda w: np.power(w, 1.0 / k)


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


def _no_unknown(unknown: dict[str, Any], allowed: str) -> None:
    if unknown:
        name = sorted(unknown)[0]
        raise fail(name, f"not a parameter here (the parameters are {allowed})", unknown[name])


_EVAL_PARAMS = "s, u0, gains, tau, lam, q"


def _decimal(x: Any, name: str) -> Any:
    """A decimal string (accepted exactly by the mpmath evaluator) as a float, for checking only."""
    if not isinstance(x, str):
        return x
    try:
        return float(x)
    except ValueError:
        raise fail(name, "a number (or a decimal string)", x) from None


def _numpy_hyp2f1(a: Any, b: Any, c: Any, z: Any) -> Any:
    return scipy.special.hyp2f1(a, b, c, z)


def _mp_hyp2f1(a: Any, b: Any, c: Any, z: Any) -> Any:
    return mpmath.hyp2f1(a, b, c, z)


def _mp_hyp2f1_1b(b: Any, z: Any) -> Any:
    return mpmath.hyp2f1(1, b, b + 1, z)


def _mp_boxcox(x: Any, a: Any) -> Any:
    return mpmath.log(x) if a == 0 else mpmath.powm1(x, a) / a


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


def _lambdify(args: Any, expr: sympy.Expr, backend: str = "numpy") -> Callable[..., Any]:
    expr = _prepare(sympy.sympify(expr))
    if backend == "numpy":
        fns = {"hyp2f1": _numpy_hyp2f1, "hyp2f1_1b": hyp2f1_1b, "boxcox": scipy.special.boxcox}
        return sympy.lambdify(args, expr, modules=[fns, "numpy"], cse=True)
    fns = {"hyp2f1": _mp_hyp2f1, "hyp2f1_1b": _mp_hyp2f1_1b, "boxcox": _mp_boxcox}
    return sympy.lambdify(args, expr, modules=[fns, "mpmath"])


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
        ode: τ du/dt = f(u) derived from `rule.velocity` (unbalanced L >= 3: τ da_1/dt on the
            conserved curves).
        form: "explicit" (u(t) known), "implicit" (t(u) in closed form) or "quadrature".
        u: u(t) when explicit, else None.
        t_of_u: t(u) (time from u0 to u) when closed, else the exact quadrature (sympy Integral).
        conserved: conserved quantities of the unbalanced mode (neighbouring layers).
        symbols: the `ModeSymbols` (t, τ, s, λ, u, u0, gains).
        c, g: τu̇ = c u^g (s − λu) when the ODE has this form (else None).
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
    solution: Solution = field(repr=False, compare=False)

    # ------------------------------------------------------------------ parameters
    @property
    def q(self) -> sympy.Symbol | None:
        """The free parameter of the derived dynamics (a symbolic power q), bound by `q=`; else None."""
        qs = self._q_symbols()
        return qs[0] if qs else None

    @cached_property
    def _free(self) -> tuple[sympy.Symbol, ...]:
        """Symbols of the derived expressions other than the mode's own and the solver's variables.

        Read off the derivation, not the rule's attributes, so that any rule (a user rule included)
        that carries a symbolic power is evaluated the same way.
        """
        sol, sym = self.solution, self.symbols
        own = {sym.t, sym.tau, sym.s, sym.lam, sym.u, sym.u0, *sym.gains, *sym.gains0, W, W0, V, _X}
        own |= set(sol.plan.params)
        exprs = [sol.u, sol.t_of_u, sol.ode_rhs, sol.plan.rate, sol.plan.G, sol.plan.slope, sol.plan.G_v,
                 sol.plan.slope_v, sol.plan.xdot, sol.plan.u_of_x, sol.plan.x0, *sol.plan.coefficients]
        exprs += [e for pl in sol.reduced.get("plans_by_layer", ()) for e in (pl.xdot, pl.u_of_x)]
        found: set[sympy.Symbol] = set()
        for e in exprs:
            if isinstance(e, sympy.Basic):
                found |= {x for x in e.free_symbols if isinstance(x, sympy.Symbol)}
        return tuple(sorted(found - own, key=str))

    def _q_symbols(self) -> tuple[sympy.Symbol, ...]:
        free = self._free
        if len(free) > 1:
            raise fail("rule", "a rule whose derived dynamics have at most one free parameter (bound by q=)",
                       ", ".join(map(str, free)))
        return free

    def _lam_symbol(self) -> sympy.Symbol:
        return self.symbols.lam

    def _params(self, s: Any, u0: Any, gains: Any, tau: Any, lam: Any, q: Any) -> dict[str, Any]:
        """Check and broadcast the numeric parameters over modes."""
        s_arr = np.atleast_1d(_floats(s, "s", "finite singular values > 0 (one per mode)"))
        if s_arr.ndim != 1 or not np.all(np.isfinite(s_arr)) or np.any(s_arr <= 0):
            raise fail("s", "finite singular values > 0 (one per mode)", s)
        if lam is not None and np.ndim(lam) > 0 and np.size(lam) not in (1, s_arr.size):
            raise fail("lam", f"one value or one per mode ({s_arr.size}, as s)", lam)
        if self.problem.lam == 1 or not isinstance(self.problem.lam, sympy.Symbol):
            fixed = float(self.problem.lam)
            if lam is not None and not np.allclose(_floats(lam, "lam", f"{fixed:g}"), fixed, rtol=0, atol=0):
                raise fail("lam", f"{fixed:g} (derived with lam={self.problem.lam}; derive with "
                           "lam=sympy.Symbol('lambda') for other input variances)", lam)
            lam = fixed
        elif lam is None:
            raise fail("lam", "given: the trajectory was derived with a symbolic λ", lam)
        lam_arr = _floats(lam, "lam", "finite input variances > 0")
        if not np.all(np.isfinite(lam_arr)) or np.any(lam_arr <= 0):
            raise fail("lam", "finite input variances > 0", lam)
        tau_v = check_real(tau, "tau", positive=True)
        qs = self._q_symbols()
        if qs:
            if q is None:
                raise fail("q", "a number: the trajectory was derived for a symbolic q", q)
            q_v = check_real(q, "q")
            if not 0 <= q_v <= 1:
                raise fail("q", "in [0, 1]", q)
        else:
            q_v = None
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
                raise fail("gains", f"{self.problem.depth} per-layer gains for an unbalanced mode (not u0)", gains)
            g_arr = np.atleast_2d(_floats(gains, "gains", f"{self.problem.depth} finite gains > 0 per mode"))
            if g_arr.ndim != 2 or g_arr.shape[-1] != self.problem.depth or not np.all(np.isfinite(g_arr)) \
                    or np.any(g_arr <= 0):
                raise fail("gains", f"{self.problem.depth} finite gains > 0 per mode", gains)
            try:
                s_b, lam_b = np.broadcast_arrays(s_arr, lam_arr)
                g_b = np.broadcast_to(g_arr, s_b.shape + (self.problem.depth,)).astype(float)
            except ValueError:
                raise fail("gains", f"one row of {self.problem.depth} gains, or one row per mode ({s_arr.size})",
                           gains) from None
            u0_b = np.prod(g_b, axis=-1)
        return {"s": np.array(s_b, dtype=float), "lam": np.array(lam_b, dtype=float),
                "u0": np.array(u0_b, dtype=float), "gains": g_b, "tau": tau_v, "q": q_v,
                "scalar": np.ndim(s) == 0 and np.ndim(u0 if u0 is not None else 0) == 0}

    # ------------------------------------------------------------------ numeric functions
    @cached_property
    def _numeric(self) -> dict[str, Callable[..., Any]]:
        sym, plan = self.symbols, self.solution.plan
        qs = self._q_symbols()
        base = (sym.s, sym.lam, sym.tau) + qs
        fns: dict[str, Callable[..., Any]] = {"rate": _lambdify(base, plan.rate)}
        if plan.kind == "mobius":
            fns["coef"] = _lambdify((W0,) + qs, sympy.Matrix(plan.coefficients))
        elif plan.kind == "inverse" and plan.G_v is not None:
            # rational g = p/k: evaluate in v = w^{1/k}, where G and dw/dt̃ have integer powers only
            Gv = _lambdify((V,) + qs, plan.G_v)
            sv = _lambdify((V,) + qs, plan.slope_v)
            root = _root(plan.k)
            fns["G"] = lambda w, *a: Gv(root(w), *a)
            fns["slope"] = lambda w, *a: sv(root(w), *a)
        elif plan.kind == "inverse":
            extra = tuple(plan.params)
            fns["G"] = _lambdify((W,) + extra + qs, plan.G)
            fns["slope"] = _lambdify((W,) + extra + qs, plan.slope)
        else:
            extra = tuple(plan.params)
            fns["xdot"] = _lambdify((_X,) + extra + qs, plan.xdot)
            fns["u_of_x"] = _lambdify((_X,) + extra + qs, plan.u_of_x)
            fns["x0"] = _lambdify(extra + qs + (sym.u0,), plan.x0)
            for r, pl in enumerate(self.solution.reduced.get("plans_by_layer", ())):
                fns[f"xdot{r}"] = _lambdify((_X,) + extra + qs, pl.xdot)
                fns[f"u_of_x{r}"] = _lambdify((_X,) + extra + qs, pl.u_of_x)
        t_of_u = self.solution.t_of_u
        if t_of_u is not None and not t_of_u.has(sympy.Integral):
            fns["t_of_u"] = _lambdify((sym.u, sym.u0) + base + tuple(sym.gains0), t_of_u)
        return fns

    def _mode_args(self, p: dict[str, Any], m: int) -> tuple[Any, ...]:
        """Values of plan.params for mode m (s, λ, a_1(0)..a_L(0) for unbalanced plans)."""
        args: list[Any] = []
        for x in self.solution.plan.params:
            if x == self.symbols.s:
                args.append(p["s"][m])
            elif x == self.symbols.lam:
                args.append(p["lam"][m])
            else:
                args.append(p["gains"][m][self.symbols.gains0.index(x)])
        return tuple(args)

    # ------------------------------------------------------------------ public verbs
    def evaluate(self, t: ArrayLike, *, s: ArrayLike = 1.0, u0: ArrayLike | None = None,
                 gains: ArrayLike | None = None, tau: float = 1.0, lam: ArrayLike | None = None,
                 q: float | None = None, **unknown: Any) -> NDArray:
        """u(t) of each mode, evaluated stably (no overflow, NaN or loss of monotonicity).

        Explicit forms are evaluated in cancellation-free order; implicit forms t̃ = G(w) − G(w0)
        by a bracketed, safeguarded Newton solve; quadratures by integrating the reduced ODE.

        Args:
            t: times >= 0 (any shape).
            s: singular value(s) s_α > 0, one per mode.
            u0: initial strength(s) > 0 (balanced modes).
            gains: per-layer initial gains (unbalanced modes): L values, or modes x L.
            tau: time constant τ > 0.
            lam: input variance(s) (only when derived with a symbolic λ, or equal to it).
            q: value of a symbolic power q.

        Returns:
            Array of shape t.shape for one mode, else (modes,) + t.shape.

        >>> from lindyn.rules import NGD
        >>> derive(NGD(), depth=3).evaluate([0.0, 1e6], s=[1.0, 2.0], u0=1e-3).round(6).tolist()
        [[0.001, 1.0], [0.001, 2.0]]
        """
        # === check arguments
        _no_unknown(unknown, "t, " + _EVAL_PARAMS)
        t_arr = _floats(t, "t", "finite times >= 0")
        if not np.all(np.isfinite(t_arr)) or np.any(t_arr < 0):
            raise fail("t", "finite times >= 0", t)
        p = self._params(s, u0, gains, tau, lam, q)
        fns, plan = self._numeric, self.solution.plan
        qv = () if p["q"] is None else (p["q"],)
        flat = t_arr.ravel()
        is_sorted = flat.size < 2 or bool(np.all(flat[1:] >= flat[:-1]))
        order = None if is_sorted else np.argsort(flat, kind="stable")
        ts = flat if order is None else flat[order]
        n_modes = len(p["s"])
        out = np.empty((n_modes, ts.size))
        for m in range(n_modes):
            s_m, lam_m, u0_m = p["s"][m], p["lam"][m], p["u0"][m]
            rate = float(fns["rate"](s_m, lam_m, p["tau"], *qv))
            if plan.kind == "mobius":
                w0 = lam_m * u0_m / s_m
                P0, P1, Q0, Q1, Ps, Qs = (float(x) for x in np.ravel(fns["coef"](w0, *qv)))
                with np.errstate(over="ignore"):   # rate·t = inf for huge t: e^{−inf} = 0, u = s/λ
                    x = rate * ts
                w = mobius_power(x, P0, P1, Q0, Q1, plan.k, Ps, Qs)
                u = s_m / lam_m * w
            elif plan.kind == "inverse":
                extra = self._mode_args(p, m)
                w0 = lam_m * u0_m / s_m
                G = lambda w, e=extra: fns["G"](w, *e, *qv)         # noqa: E731
                sl = lambda w, e=extra: fns["slope"](w, *e, *qv)    # noqa: E731
                u = s_m / lam_m * invert_time(G, sl, w0, rate * ts)
            else:
                extra = self._mode_args(p, m)
                key, x0 = self._reference_layer(p, m, u0_m, extra, qv)
                xdot = lambda x, e=extra, k=key: float(fns["xdot" + k](x, *e, *qv))  # noqa: E731
                x = integrate_reduced(xdot, x0, ts, tau=p["tau"])
                u = np.asarray(fns["u_of_x" + key](x, *extra, *qv), dtype=float) * np.ones_like(x)
            w0 = lam_m * u0_m / s_m
            u = np.where(ts == 0.0, u0_m, u)          # exact at t = 0 (no w ↔ u rounding)
            out[m] = monotone(u, increasing=w0 <= 1.0,
                              rtol=QUADRATURE_MONOTONE_RTOL if plan.kind == "quadrature" else MONOTONE_RTOL)
        if order is None:
            res = out
        else:
            res = np.empty_like(out)
            res[:, order] = out
        res = res.reshape((n_modes,) + t_arr.shape)
        return res[0] if p["scalar"] else res

    def learning_time(self, u_to: float, *, s: float = 1.0, u0: float | None = None,
                      gains: ArrayLike | None = None, tau: float = 1.0, lam: float | None = None,
                      q: float | None = None, **unknown: Any) -> float:
        """Time for one mode to go from u0 to u_to: t(u_to) from the derived t(u).

        Args:
            u_to: target strength, strictly between u0 and the fixed point s/λ.
            s, u0, gains, tau, lam, q: as in `evaluate` (one mode).

        >>> from lindyn.rules import GD
        >>> round(derive(GD(), depth=2).learning_time(1 - 1e-4, s=1.0, u0=1e-4), 12)
        9.210240366976
        """
        # === check arguments
        _no_unknown(unknown, "u_to, " + _EVAL_PARAMS)
        p = self._params(s, u0, gains, tau, lam, q)
        if len(p["s"]) != 1:
            raise fail("s", "one singular value (learning_time is per mode)", s)
        u_to = check_real(u_to, "u_to", positive=True)
        s_m, lam_m, u0_m = p["s"][0], p["lam"][0], p["u0"][0]
        star = s_m / lam_m
        if not (min(u0_m, star) <= u_to <= max(u0_m, star)) or (u_to == star != u0_m):
            raise fail("u_to", f"between u0 = {u0_m:g} and the fixed point s/λ = {star:g} (excluded)", u_to)
        qv = () if p["q"] is None else (p["q"],)
        fns = self._numeric
        if "t_of_u" in fns:
            g0 = p["gains"][0] if p["gains"] is not None else np.ones(self.problem.depth)
            args = (u_to, u0_m, s_m, lam_m, p["tau"], *qv, *tuple(g0))
            return float(fns["t_of_u"](*args))
        extra = self._mode_args(p, 0)
        key, x0 = self._reference_layer(p, 0, u0_m, extra, qv)
        xdot = lambda x: float(fns["xdot" + key](x, *extra, *qv))      # noqa: E731
        u_of_x = lambda x: float(fns["u_of_x" + key](x, *extra, *qv))  # noqa: E731
        return reduced_time(xdot, u_of_x, x0, u_to, tau=p["tau"])

    def _reference_layer(self, p: dict[str, Any], m: int, u0_m: float, extra: tuple[Any, ...],
                         qv: tuple[Any, ...]) -> tuple[str, float]:
        """(function-name suffix, x0) of the quadrature variable: the layer with the smallest gain."""
        plans = self.solution.reduced.get("plans_by_layer", ())
        if plans and p["gains"] is not None:
            r = int(np.argmin(p["gains"][m]))
            return str(r), float(p["gains"][m][r])
        plan = self.solution.plan
        x0 = u0_m if plan.x0 == self.symbols.u0 else float(self._numeric["x0"](*extra, *qv, 0.0))
        return "", x0

    def lambdify(self, backend: Literal["numpy", "mpmath"] = "numpy") -> Callable[..., Any]:
        """A function u(t, **params): stable numpy arrays, or mpmath numbers at `dps` digits.

        numpy: the same as `evaluate`. mpmath: explicit forms evaluate u(t) directly; implicit forms
        bracket the root of t(u) = t by bisection on the mpmath t(u) (independent of `evaluate`),
        then refine it by Newton steps; quadratures
        integrate the reduced ODE by mpmath's Taylor method (`lindyn.numeric.mode_ode`).

        Args:
            backend: "numpy" or "mpmath" (mpmath callables take scalar t and a `dps=30` keyword).

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
        return self._mp_evaluator

    def _mp_evaluator(self, t: Any, *, s: Any = 1, u0: Any = None, gains: Any = None, tau: Any = 1,
                      lam: Any = None, q: Any = None, dps: int = 30, **unknown: Any) -> Any:
        # === check arguments (the numeric values as in `evaluate`; strings are kept exact for mpmath)
        _no_unknown(unknown, "t, " + _EVAL_PARAMS + ", dps")
        dps = check_int(dps, "dps", minimum=15, maximum=MP_MAX_DPS)
        if np.ndim(t) != 0:
            raise fail("t", "one time >= 0 (the mpmath evaluator takes scalar t)", t)
        t_chk = float(_floats(t, "t", "a finite time >= 0"))
        if not np.isfinite(t_chk) or t_chk < 0:
            raise fail("t", "a finite time >= 0", t)
        self._params(*(_decimal(x, n) for x, n in ((s, "s"), (u0, "u0"), (gains, "gains"), (tau, "tau"),
                                                   (lam, "lam"), (q, "q"))))
        sym = self.symbols
        lam_v = self.problem.lam if (lam is None and not isinstance(self.problem.lam, sympy.Symbol)) else lam
        with mpmath.workdps(dps + 10):
            sub = {sym.s: _mp(s), sym.lam: _mp(lam_v), sym.tau: _mp(tau)}
            for x in self._q_symbols():
                sub[x] = _mp(q)
            if gains is not None:
                sub.update({a: _mp(v) for a, v in zip(sym.gains0, gains)})
                u0_v = mpmath.fprod([_mp(v) for v in gains])
            else:
                u0_v = _mp(u0)
            sub[sym.u0] = u0_v
            tt = _mp(t)
            sol = self.solution
            if sol.u is not None:
                f = _mp_fn(self, "u", (sym.t,) + tuple(sub), expr=sol.u)
                return +f(tt, *sub.values())
            if sol.t_of_u is not None and not sol.t_of_u.has(sympy.Integral):
                T = _mp_fn(self, "t_of_u", (sym.u,) + tuple(sub), expr=sol.t_of_u)
                rhs = self.solution.ode_rhs
                if self.solution.reduced.get("same_as_balanced") is None and self.problem.gains == "unbalanced":
                    rhs = self.solution.reduced["ode_in_u"]
                F = _mp_fn(self, "rhs", (sym.u,) + tuple(sub), expr=rhs)
                vals = tuple(sub.values())
                fixed = sub[sym.s] / sub[sym.lam]
                if u0_v == fixed:
                    return +u0_v
                # seed by bisection on this t(u) alone (not `evaluate`), so the result is independent
                guess = bisect_time_mp(lambda u: T(u, *vals), tt, u0_v, fixed, dps=dps)
                return newton_refine_mp(lambda u: T(u, *vals), lambda u: sub[sym.tau] / F(u, *vals), tt, guess,
                                        dps=dps, fixed=fixed, start=u0_v)
            from .numeric.mode_ode import integrate_mode_mp
            plan = self.solution.plan
            extra = [sub[x] for x in plan.params]
            xd = _mp_fn(self, "xdot", (_X,) + tuple(plan.params) + self._q_symbols(), expr=plan.xdot)
            uo = _mp_fn(self, "u_of_x", (_X,) + tuple(plan.params) + self._q_symbols(), expr=plan.u_of_x)
            qv = [sub[x] for x in self._q_symbols()]
            x0 = sub[plan.x0]
            xt = integrate_mode_mp(lambda x: xd(x, *extra, *qv), x0, [tt], tau=sub[sym.tau], dps=dps)[0]
            return +uo(xt, *extra, *qv)

    def _repr_latex_(self) -> str:
        """Rendered math in Jupyter: the mode ODE and its solution (``$$ ... $$`` display blocks)."""
        from .latex import trajectory_latex
        body = trajectory_latex(self).replace("\\begin{equation}", "$$").replace("\\end{equation}", "$$")
        body = body.replace("\\begin{equation*}", "$$").replace("\\end{equation*}", "$$")
        return "\n".join(line for line in body.splitlines() if not line.lstrip().startswith(("%", "\\label")))

    def latex(self) -> str:
        """LaTeX equation environments: the mode ODE, the solution, the conserved quantities.

        >>> from lindyn.rules import GD
        >>> "\\\\begin{equation}" in derive(GD(), depth=2).latex()
        True
        """
        # === check arguments
        from .latex import trajectory_latex
        return trajectory_latex(self)


#: mpmath evaluators by (id(traj), name, args); the value keeps `traj` alive, so its id is not reused.
#: Largest `dps` of the mpmath evaluator (as `HighPrecision`): the work grows fast with the digits.
MP_MAX_DPS = MAX_DPS

_MP_CACHE: dict[tuple[int, str, tuple[Any, ...]], tuple[Any, Callable[..., Any]]] = {}


def _mp(x: Any) -> Any:
    if isinstance(x, (int, np.integer)):
        return mpmath.mpf(int(x))
    if isinstance(x, str):
        return mpmath.mpf(x)
    return mpmath.mpf(x) if not isinstance(x, mpmath.mpf) else x


def _mp_fn(traj: Trajectory, name: str, args: tuple[Any, ...], expr: Any = None) -> Callable[..., Any]:
    key = (id(traj), name, args)
    if key not in _MP_CACHE or _MP_CACHE[key][0] is not traj:
        e = getattr(traj, name) if expr is None else expr
        _MP_CACHE[key] = (traj, _lambdify(args, e, backend="mpmath"))
    return _MP_CACHE[key][1]


def _check_rule(rule: Any) -> Any:
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule (an object with velocity(grads, geo, ops))", rule)
    try:
        hash(rule)
    except TypeError:
        raise fail("rule", "hashable (a frozen dataclass, or lindyn.rule(fn))", rule) from None
    return rule


@lru_cache(maxsize=1024)
def _derive(rule: Any, depth: int, gains: str, lam_key: Any) -> Trajectory:
    sym = mode_symbols(depth)
    if gains == "balanced":
        ode = _balanced(rule, depth)
        sol = solve_balanced(ode, sym)
        rhs = ode.rhs
        lhs = sym.tau * sympy.Derivative(sympy.Function("u")(sym.t), sym.t)
    else:
        sol = solve_unbalanced(rule, sym)
        if sol.reduced.get("same_as_balanced"):
            rhs = sol.ode_rhs
            lhs = sym.tau * sympy.Derivative(sympy.Function("u")(sym.t), sym.t)
        elif "ode_in_u" in sol.reduced:
            rhs = sol.reduced["ode_in_u"]
            lhs = sym.tau * sympy.Derivative(sympy.Function("u")(sym.t), sym.t)
        else:
            rhs = sol.plan.xdot.subs(_X, sym.gains[0])
            lhs = sym.tau * sympy.Derivative(sympy.Function("a_1")(sym.t), sym.t)
    conserved = conserved_quantities(rule, depth) if depth >= 2 else ()
    c, g, u, t_of_u = sol.c, sol.g, sol.u, sol.t_of_u
    if lam_key is not None:   # substitute the given λ (a number, or the user's own symbol)
        lam_value = lam_key
        sub = {sym.lam: lam_value}
        rhs = rhs.subs(sub)
        c = None if c is None else c.subs(sub)
        u = None if u is None else u.subs(sub)
        t_of_u = None if t_of_u is None else t_of_u.subs(sub)
    problem = ModeProblem(depth=depth, gains=gains, lam=sym.lam if lam_key is None else lam_key)
    return Trajectory(problem=problem, rule=rule, ode=sympy.Eq(lhs, rhs, evaluate=False), form=sol.form,
                      u=u, t_of_u=t_of_u, conserved=conserved, symbols=sym, c=c, g=g, solution=sol)


def derive(rule: LearningRule, depth: int, *, gains: Gains = "balanced", lam: Any = 1) -> Trajectory:
    """Derive the exact dynamics of one aligned singular mode under `rule`.

    From `rule.velocity` on the per-mode geometry: the per-layer velocities, the mode ODE
    τ u̇ = f(u) (chain rule; balanced u = a^L), its form c u^g (s − λu) (g read off as
    u ∂_u log[f/(s − λu)]), the conserved quantities (separation of ȧ_i/ȧ_j) and the solution in
    its honest form (explicit u(t), implicit closed t(u), or exact quadrature). Cached.

    Args:
        rule: a learning rule (hashable object with `velocity`); q may be an exact number or a symbol.
        depth: number of weight matrices, 1 <= L <= 100 (`lindyn._checks.MAX_DEPTH`).
        gains: "balanced" (initial u0, every gain u0^{1/L}) or "unbalanced" (per-layer gains).
        lam: input variance λ: 1 (whitened, default), an exact positive number, or a sympy symbol.

    Returns:
        A frozen `Trajectory`.

    Raises:
        LindynError: bad arguments.
        NoModeDecomposition: the rule does not reduce to one mode ODE (use `lindyn.integrate`).

    >>> import sympy
    >>> from lindyn.rules import NGD
    >>> q = sympy.Symbol("q", positive=True)
    >>> derive(NGD(q=q), depth=4, lam=sympy.Symbol("lambda", positive=True)).g
    3/2 - 3*q/2
    """
    # === check arguments
    rule = _check_rule(rule)
    depth = check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH)
    if gains not in ("balanced", "unbalanced"):
        raise fail("gains", "'balanced' or 'unbalanced'", gains)
    sym_lam = mode_symbols(depth).lam
    if isinstance(lam, sympy.Symbol):
        lam_key = None if lam == sym_lam else lam
    else:
        if isinstance(lam, float) and not float(lam).is_integer():
            raise fail("lam", "exact (int, Fraction, sympy number or symbol), not a float", lam)
        if lam is None or isinstance(lam, bool) or not (isinstance(lam, (int, str, sympy.Basic, np.integer))
                                                        or hasattr(lam, "numerator") or isinstance(lam, float)):
            raise fail("lam", "a positive exact number or a sympy symbol", lam)
        try:
            lam_key = sympy.nsimplify(lam) if not isinstance(lam, sympy.Basic) else lam
        except (TypeError, ValueError, AttributeError, sympy.SympifyError):
            raise fail("lam", "a positive exact number or a sympy symbol", lam) from None
        if not (getattr(lam_key, "is_number", False) and lam_key.is_positive and lam_key.is_finite):
            raise fail("lam", "a positive exact number or a sympy symbol", lam)
    return _derive(rule, depth, gains, lam_key)
