"""The papers' claims as data, each checked by two independent routes.

A `Claim` is a named statement (one sentence and LaTeX) with its source (paper and equation or
section, or "derived" / "open" as `THEORY.md` marks it), a *symbolic route* (what lindyn's symbolic
engine derives from the rule definitions, compared exactly or at 40 digits with the paper's
formula), a *numeric route* (full-matrix integration of the network with `lindyn.integrate`, and
mpmath where digits matter) and a tolerance with its reason. Formulas from the papers appear here
only as oracles that the derived or integrated results are compared with; they are never the code
path of the engine. Checking a claim returns a `ClaimResult`: every measurement, the worst error
(the *agreement*), pass or fail, and a readable reason when it fails.

>>> [c.name for c in CLAIMS][:3]
['saxe-sigmoid', 'deep-mode-eq15-eq17', 'gd-conservation']
>>> get_claim("block-ngd-rate-L").source
'Bernacchia et al. 2018, Sec. 3 (per-layer NG ÷ L has rate 1); derived (THEORY §3)'

This module, `trajectory.py` and `verify.py` are the only ones that use sympy and numpy together.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Callable, Literal, Sequence

import mpmath
import numpy as np
import sympy

from ._chain import chain_products
from ._checks import LindynError, SingularCrossing, fail
from .integrate import Flow, integrate
from .numeric.matrix_ode import velocity_field
from .problem import GivenWeights, Network, Problem, Task, aligned_problem, random_orthogonal
from .rules import GD, NGD, BlockNGD, bernacchia
from .symbolic.modes import layer_velocities, mode_symbols
from .trajectory import derive

__all__ = ["Measurement", "Curve", "Plot", "Evidence", "Claim", "ClaimResult", "CLAIMS", "all_claims",
           "get_claim", "exponential_claim"]

# --- tolerances (each with its reason) -----------------------------------------------------------

#: Full-matrix flow against an oracle or a derived solution. The integrator runs DOP853 at
#: rtol 1e-10, atol 1e-12 (`Flow()` defaults), which reaches ~1e-10 relative on these small nets;
#: the bound leaves two orders of margin for error growth over the integrated times.
FLOW_TOL = 1e-8
#: 30-digit mpmath evaluations (derived closed forms, quadrature of the paper's integral):
#: both sides carry >= 28 correct digits, so 25 digits must agree.
MP_TOL = 1e-25
MP_DPS = 30
#: Symbolic comparisons that `sympy.simplify` does not close are evaluated at rational sample
#: points with 40 digits: a true identity leaves only rounding, < 1e-35.
SYMBOLIC_TOL = 1e-30
#: Linear-algebra identities in float64 (pseudo-inverses of Kronecker blocks of random Gaussian
#: matrices): rounding is ~κ·1e-16 with condition numbers κ up to ~1e6 over the seeds of --thorough.
LINALG_TOL = 1e-8
#: A generalized-inverse defect ‖FGF − F‖/‖F‖ this large is not rounding (which stays below 1e-9).
DEFECT_MIN = 1e-2
#: A rule "breaks" a conserved quantity when it changes by at least this much (THEORY §3 measures
#: imbalance of order 0.1-5 from a balanced, task-non-aligned init; the conserving rules stay < 1e-9).
BREAK_MIN = 1e-2

_FLOW = Flow(rtol=1e-10, atol=1e-12)


# --- result data ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measurement:
    """One comparison a claim's route made.

    kind "error": an error between two routes or against an oracle (relative or absolute, as the
    label says) that must be <= bound; only these enter the claim's agreement.
    kind "at_most" / "at_least": a property the statement asserts, measured on one route (e.g. block
    NGD changes C_i by at least 0.01; GD's speed ratio is at most 1e-3).
    `bound` None means the claim's own tolerance. `ok` may force the verdict (external checks).

    >>> Measurement("u vs Eq. 12", 3e-11, 1e-8).passed
    True
    """

    label: str
    value: float
    bound: float | None = None
    kind: Literal["error", "at_most", "at_least"] = "error"
    ok: bool | None = None

    @property
    def passed(self) -> bool:
        """Whether the value is within (error) or beyond (separation) the bound."""
        if self.ok is not None:
            return self.ok
        if self.bound is None or not math.isfinite(self.value):
            return False
        return self.value >= self.bound if self.kind == "at_least" else self.value <= self.bound

    def describe(self) -> str:
        """One line: label, value, relation to the bound."""
        rel = ">=" if self.kind == "at_least" else "<="
        verdict = "ok" if self.passed else "FAILED"
        bound = "—" if self.bound is None else f"{self.bound:.3g}"
        return f"{self.label}: {self.value:.3g} (must be {rel} {bound}) {verdict}"


@dataclass(frozen=True)
class Curve:
    """One plotted series: `style` is a matplotlib format ('-', '--', 'o', ...); `color` pairs series."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    style: str = "-"
    color: str | None = None


@dataclass(frozen=True)
class Plot:
    """A figure a route produced from its own data (drawn by `lindyn.report`)."""

    name: str
    title: str
    xlabel: str
    ylabel: str
    curves: tuple[Curve, ...]
    xscale: str = "linear"
    yscale: str = "linear"


@dataclass(frozen=True)
class Evidence:
    """What one route found: a short summary, its measurements, derived LaTeX and plots."""

    summary: str
    measurements: tuple[Measurement, ...]
    latex: tuple[str, ...] = ()
    plots: tuple[Plot, ...] = ()


Route = Callable[[bool], Evidence]


@dataclass(frozen=True)
class Claim:
    """A claim of the literature, checked by a symbolic and a numeric route.

    Attributes:
        name: short identifier (command line: `lindyn verify NAME`).
        statement: one sentence.
        latex: the statement's formula in LaTeX (math mode content).
        source: paper with equation/section, or "derived" / "open" as THEORY.md marks it.
        symbolic: route(thorough) -> Evidence from lindyn's symbolic engine (None: external check).
        numeric: route(thorough) -> Evidence from full-matrix integration / mpmath.
        tolerance: default bound of the routes' error measurements.
        reason: why this tolerance.
    """

    name: str
    statement: str
    latex: str
    source: str
    symbolic: Route | None
    numeric: Route
    tolerance: float
    reason: str

    def check(self, thorough: bool = False) -> "ClaimResult":
        """Run both routes and judge every measurement.

        A route that raises counts as a failed measurement whose label is the exception, so a
        broken claim never passes silently.

        Args:
            thorough: widen the grids (depths, q, seeds) of both routes.

        Returns:
            The `ClaimResult`.
        """
        # === check arguments
        if not isinstance(thorough, bool):
            raise fail("thorough", "True or False", thorough)
        start = time.perf_counter()
        evidence = []
        for kind, route in (("symbolic", self.symbolic), ("numeric", self.numeric)):
            if route is None:
                evidence.append(None)
                continue
            try:
                ev = route(thorough)
            except Exception as err:  # recorded as a failed measurement, with its type and message
                ev = Evidence(f"{kind} route raised {type(err).__name__}",
                              (Measurement(f"{kind} route raised {type(err).__name__}: {err}", math.inf),))
            measured = tuple(m if m.bound is not None else replace(m, bound=self.tolerance) for m in ev.measurements)
            evidence.append(replace(ev, measurements=measured))
        return ClaimResult(self, evidence[0], evidence[1], time.perf_counter() - start)


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of `Claim.check`: both routes' evidence and the verdict.

    Attributes:
        claim: the claim.
        symbolic, numeric: each route's `Evidence` (symbolic None for external checks).
        seconds: wall time of the check.
    """

    claim: Claim
    symbolic: Evidence | None
    numeric: Evidence
    seconds: float

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """All measurements of both routes."""
        sym = self.symbolic.measurements if self.symbolic is not None else ()
        return sym + self.numeric.measurements

    @property
    def passed(self) -> bool:
        """True when every measurement passes (and there is at least one)."""
        ms = self.measurements
        return bool(ms) and all(m.passed for m in ms)

    @property
    def agreement(self) -> float:
        """Worst error seen by either route (relative or absolute, per the measurement labels)."""
        errors = [m.value for m in self.measurements if m.kind == "error"]
        return float(max(errors)) if errors else 0.0

    @property
    def numeric_agreement(self) -> float:
        """Worst error of the numeric route alone."""
        errors = [m.value for m in self.numeric.measurements if m.kind == "error"]
        return float(max(errors)) if errors else 0.0

    @property
    def digits(self) -> float:
        """Agreeing decimal digits of the worst error, −log10(agreement) (inf when exact)."""
        return digits(self.agreement)

    @property
    def reason(self) -> str:
        """Why it failed (each failed measurement on a line), or a one-line pass summary."""
        failed = [m for m in self.measurements if not m.passed]
        if not failed:
            return f"{self.claim.name}: all {len(self.measurements)} checks hold (worst error {self.agreement:.2g})"
        lines = [f"{self.claim.name} fails: {len(failed)} of {len(self.measurements)} checks do not hold"]
        lines += ["  " + m.describe() for m in failed]
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        verdict = r"\text{passed}" if self.passed else r"\text{FAILED}"
        sym = self.symbolic.summary if self.symbolic is not None else "(external check)"
        return (r"$\begin{array}{l}\textbf{" + _tex_text(self.claim.name) + r"}\quad " + verdict + r"\\ "
                + self.claim.latex + r"\\ \text{" + _tex_text(self.claim.source) + r"}\\ "
                + r"\text{symbolic: " + _tex_text(sym) + r"}\\ "
                + r"\text{worst error: " + f"{self.agreement:.2g}" + r" (" + _digits_text(self.agreement)
                + r" digits)}\end{array}$")


def digits(error: float) -> float:
    """Agreeing decimal digits −log10(error): inf for an exact (zero) error.

    >>> digits(1e-12)
    12.0
    """
    # === check arguments
    if not isinstance(error, (int, float)) or math.isnan(error):
        raise fail("error", "a number >= 0", error)
    if error <= 0:
        return math.inf
    return -math.log10(error)


def _digits_text(error: float) -> str:
    d = digits(error)
    return "exact" if d == math.inf else ("none" if not math.isfinite(d) else f"{d:.1f}")


def _tex_text(text: str) -> str:
    """Escape a plain string for LaTeX \\text{}."""
    # One pass, so that the braces of an inserted \textbackslash{} are not escaped again; < and >
    # are math symbols (pdflatex's default OT1 text font would print them as ¡ and ¿).
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}", "<": "$<$", ">": "$>$"}
    return "".join(table.get(ch, ch) for ch in text)


# --- helpers shared by the routes ----------------------------------------------------------------

def _sample_points(sym: Any, n: int = 3, lam: Any = None) -> list[dict[Any, sympy.Expr]]:
    """Rational sample values of a mode's symbols inside the physical domain 0 < u0 < u < s/λ.

    λ = 1 (whitened, as in a trajectory derived with lam=1) unless `lam` names the λ symbol of the
    expressions, which then gets the values 1, 3/2, 1/2.
    """
    rows = []
    s_v = [_rational(3, 2), _rational(5, 2), _rational(7, 10)]
    lam_v = [1, 1, 1] if lam is None else [1, _rational(3, 2), _rational(1, 2)]
    w_v = [_rational(1, 3), _rational(1, 2), _rational(3, 4)]
    w0_v = [_rational(1, 100), _rational(1, 20), _rational(1, 7)]
    tau_v = [1, _rational(3, 2), 2]
    t_v = [_rational(1, 2), 1, 3]
    for k in range(n):
        s, lam_k = s_v[k], lam_v[k]
        p = {sym.s: s, sym.lam: lam_k, sym.u: s / lam_k * w_v[k], sym.u0: s / lam_k * w0_v[k], sym.tau: tau_v[k],
             sym.t: t_v[k]}
        if lam is not None:
            p[lam] = lam_k
        for i, (a, a0) in enumerate(zip(sym.gains, sym.gains0)):
            p[a] = _rational(3 + i, 4 + 2 * k)
            p[a0] = _rational(2 + i, 5 + k)
        rows.append(p)
    return rows


def _rational(p: int, q: int) -> sympy.Rational:
    """sympy.Rational (kept short for the sample tables)."""
    return sympy.Rational(p, q)


def _difference(expr: Any, oracle: Any, points: Sequence[dict[Any, Any]]) -> float:
    """0 when sympy proves expr == oracle; else the worst relative difference at the sample points.

    Evaluated with 40 significant digits, relative to max(|oracle|, 1e-30).
    """
    if expr is None:
        return 1.0
    diff = sympy.sympify(expr) - sympy.sympify(oracle)
    try:
        if sympy.count_ops(diff) < 300 and sympy.simplify(diff) == 0:
            return 0.0
    except (TypeError, ValueError, NotImplementedError):
        pass
    worst = 0.0
    for p in points:
        d = complex(sympy.N(diff.subs(p), 40))
        o = complex(sympy.N(sympy.sympify(oracle).subs(p), 40))
        worst = max(worst, abs(d) / max(abs(o), 1e-30))
    return float(worst)


def _rel_max(a: Any, b: Any, scale: Any = None) -> float:
    """max |a − b| / scale (scale defaults to max |b|, at least 1e-300)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    sc = float(np.max(np.abs(b))) if scale is None else float(scale)
    return float(np.max(np.abs(a - b)) / max(sc, 1e-300))


def _spd(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random symmetric positive definite matrix with eigenvalues of order 1."""
    G = rng.normal(size=(n, n))
    return G @ G.T / n + 0.5 * np.eye(n)


def _random_problem(widths: Sequence[int], seed: int, tau: float = 1.0, white: bool = False,
                    scale: float = 1.0) -> Problem:
    """Random task (Σ_yx Gaussian, Σ_xx random SPD) and random Gaussian init W_i ~ N(0, scale²/n_{i-1}).

    On square nets the sign of det W(0) is matched to det W* so that straight-line rules never meet
    a singular W (that case is its own claim, `ngd-singular-crossing`).
    """
    rng = np.random.default_rng(seed)
    n0, nL = widths[0], widths[-1]
    Syx = rng.normal(size=(nL, n0))
    Sxx = np.eye(n0) if white else _spd(n0, rng)
    W = [scale * rng.normal(size=(widths[i + 1], widths[i])) / math.sqrt(widths[i]) for i in range(len(widths) - 1)]
    if n0 == nL:
        end = np.linalg.multi_dot(W[::-1]) if len(W) > 1 else W[0]
        for _ in range(1000):   # redraw the target until the segment from W(0) to W* stays invertible
            if _segment_invertible(end, np.linalg.solve(Sxx.T, Syx.T).T):
                break
            Syx = rng.normal(size=(nL, n0))
    task = Task(Sigma_yx=Syx, Sigma_xx=Sxx)
    return Problem(Network(tuple(widths)), task, GivenWeights(tuple(W)), tau=tau)


def _segment_invertible(W0: np.ndarray, W_star: np.ndarray) -> bool:
    """Whether W* + x(W0 − W*) is invertible for every x in [0, 1].

    det(W* + xE) = det W*·det(I + x W*⁻¹E) vanishes at x = −1/μ for each real eigenvalue μ of W*⁻¹E,
    which lies in (0, 1] exactly when μ <= −1.
    """
    mu = np.linalg.eigvals(np.linalg.solve(W_star, W0 - W_star))
    return not bool(np.any((np.abs(mu.imag) <= 1e-9 * np.abs(mu)) & (mu.real <= -1.0)))


def _curve(label: str, x: Any, y: Any, style: str = "-", color: int | None = None) -> Curve:
    return Curve(label, tuple(float(v) for v in np.ravel(x)), tuple(float(v) for v in np.ravel(y)), style,
                 None if color is None else f"C{color}")


def _pretty(expr: Any) -> str:
    """A sympy expression as short readable text: λ for lambda, ^ for powers, · for products."""
    text = sympy.sstr(expr)
    for a, b in (("**", "^"), ("*", "·"), ("lambda", "λ"), ("sqrt", "√"), ("oo", "∞")):
        text = text.replace(a, b)
    return text


def _latex_eq(lhs: str, rhs: Any) -> str:
    return f"{lhs} = {sympy.latex(rhs)}"


def _same_invariants(derived: Sequence[Any], oracle: Sequence[Any]) -> float:
    """0 when each oracle invariant is a constant multiple of some derived one, else 1."""
    for o in oracle:
        if not any(not sympy.simplify(c / o).free_symbols for c in derived):
            return 1.0
    return 0.0


# --- Saxe et al. 2014 ----------------------------------------------------------------------------

def _eq12(s: Any, u0: Any, t: Any, tau: Any) -> Any:
    """Saxe Eq. 12 (oracle), written u = s/(1 + (s/u0 − 1)e^{−2st/τ}) so that it never overflows."""
    return s / (1 + (s / u0 - 1) * np.exp(-2 * s * np.asarray(t) / tau))


def _saxe_symbolic(thorough: bool) -> Evidence:
    tr = derive(GD(), 2)
    sym = tr.symbols
    s, u, u0, t, tau = sym.s, sym.u, sym.u0, sym.t, sym.tau
    pts = _sample_points(sym)
    eq10 = 2 * u * (s - u)
    eq12 = s * sympy.exp(2 * s * t / tau) / (sympy.exp(2 * s * t / tau) - 1 + s / u0)
    eq11 = tau / (2 * s) * sympy.log(u * (s - u0) / (u0 * (s - u)))
    ms = [Measurement("derived ODE − Eq. 10 (relative; 0 = proved by sympy)", _difference(tr.ode.rhs, eq10, pts), SYMBOLIC_TOL),
          Measurement("derived u(t) − Eq. 12 (relative)", _difference(tr.u, eq12, pts), SYMBOLIC_TOL),
          Measurement("derived t(u) − Eq. 11 (relative)", _difference(tr.t_of_u, eq11, pts), SYMBOLIC_TOL)]
    f = tr.lambdify("mpmath")
    worst = 0.0
    cases = [(2, "0.01", "0.5"), (2, "0.01", "2"), (1, "1e-6", "7.5")] + ([(5, "1e-9", "3"), (0.3, "1e-3", "40")] if thorough else [])
    with mpmath.workdps(MP_DPS + 10):
        for s_v, u0_v, t_v in cases:
            S, U0, T = mpmath.mpf(s_v), mpmath.mpf(u0_v), mpmath.mpf(t_v)
            oracle = S / (1 + (S / U0 - 1) * mpmath.exp(-2 * S * T))
            got = f(T, s=S, u0=U0, dps=MP_DPS)
            worst = max(worst, float(abs(got - oracle) / oracle))
    ms.append(Measurement(f"derived u(t), mpmath {MP_DPS} digits, vs Eq. 12 (relative, {len(cases)} cases)", worst, MP_TOL))
    latex = (_latex_eq(r"\tau\dot u", tr.ode.rhs), _latex_eq("u(t)", tr.u), _latex_eq("t(u)", tr.t_of_u))
    return Evidence(f"τu̇ = {_pretty(tr.ode.rhs)}; u(t) = Eq. 12, t(u) = Eq. 11", tuple(ms), latex)


def _saxe_numeric(thorough: bool) -> Evidence:
    s = np.array([3.0, 2.0, 1.0])
    u0, tau = 1e-3, 1.5
    problem = aligned_problem(s, depth=2, u0=u0, width=4, tau=tau)
    grid = np.linspace(0.0, 8.0, 81 if not thorough else 321)
    uf = 0.9 * s
    t_f = tau / (2 * s) * np.log(uf * (s - u0) / (u0 * (s - uf)))   # Saxe Eq. 11 (oracle)
    times = np.unique(np.concatenate([grid, t_f]))
    traj = integrate(problem, GD(), times, method=_FLOW)
    oracle = np.stack([_eq12(s_a, u0, times, tau) for s_a in s])
    derived = derive(GD(), 2).evaluate(times, s=s, u0=u0, tau=tau)
    err12 = max(_rel_max(traj.u[a], oracle[a], s[a]) for a in range(len(s)))
    errd = max(_rel_max(traj.u[a], derived[a], s[a]) for a in range(len(s)))
    idx = [int(np.searchsorted(times, x)) for x in t_f]
    err11 = max(abs(traj.u[a, idx[a]] - uf[a]) / s[a] for a in range(len(s)))
    ms = (Measurement("full-matrix flow (widths 3-4-3, 3 modes) vs Eq. 12, |Δu|/s", err12),
          Measurement("full-matrix flow vs derived u(t), |Δu|/s", errd),
          Measurement("u at Eq. 11's time for u_f = 0.9 s, |u − u_f|/s", float(err11)),
          Measurement("leakage between modes (max off-diagonal of UᵀWV)", float(np.max(traj.leakage)), 1e-10))
    curves = []
    for a in range(len(s)):
        curves.append(_curve(f"Eq. 12, s = {s[a]:g}", grid, _eq12(s[a], u0, grid, tau), "-", a))
        curves.append(_curve(f"full-matrix flow, s = {s[a]:g}", times[::4], traj.u[a][::4], "o", a))
    plot = Plot("saxe_sigmoid", "Two-layer GD: each mode is a sigmoid (Saxe Eq. 12)", "t", "mode strength u",
                tuple(curves))
    return Evidence(f"flow matches Eq. 12 to {err12:.1g}", ms, plots=(plot,))


def _eq17(L: int, s: float, u0: float, uf: float) -> float:
    """Saxe Eq. 17 (oracle, read as the L → ∞ form of Eq. 16: u^{2−2/L} → u²)."""
    return (1 / (s * u0) - 1 / (s * uf) + math.log(uf * (s - u0) / (u0 * (s - uf))) / s ** 2) / L


def _eq16_quad(L: int, s: Any, u0: Any, uf: Any) -> Any:
    """Saxe Eq. 16 by mpmath quadrature (oracle): t = ∫ du / (L u^{2−2/L}(s − u)), τ = 1."""
    L = mpmath.mpf(L)
    return mpmath.quad(lambda v: 1 / (L * v ** (2 - 2 / L) * (s - v)), [u0, (u0 + uf) / 2, uf])


def _t_half(L: int) -> sympy.Expr:
    """The derived GD learning time t(u0 = 1e-3 → 0.5) at s = 1, τ = 1, depth L (exact expression)."""
    tr = derive(GD(), L)
    sym = tr.symbols
    return tr.t_of_u.subs({sym.s: 1, sym.u0: sympy.Rational(1, 1000), sym.u: sympy.Rational(1, 2), sym.tau: 1})


def _deep_symbolic(thorough: bool) -> Evidence:
    depths = (3, 4) if not thorough else (2, 3, 4, 5, 6, 8)
    ms, latex = [], []
    ratios = {}
    for L in depths:
        tr = derive(GD(), L)
        sym = tr.symbols
        eq15 = L * sym.u ** (2 - sympy.Rational(2, L)) * (sym.s - sym.u)
        ms.append(Measurement(f"L = {L}: derived ODE − Eq. 15 (relative)", _difference(tr.ode.rhs, eq15, _sample_points(sym)),
                              SYMBOLIC_TOL))
        exact = sympy.N(_t_half(L), MP_DPS + 5)
        with mpmath.workdps(MP_DPS + 5):
            quad = _eq16_quad(L, mpmath.mpf(1), mpmath.mpf(1) / 1000, mpmath.mpf(1) / 2)
            ms.append(Measurement(f"L = {L}: derived t(1e-3 → 0.5) vs mpmath quadrature of Eq. 16 (relative)",
                                  float(abs(mpmath.mpf(str(exact)) - quad) / quad), MP_TOL))
        ratios[L] = _eq17(L, 1.0, 1e-3, 0.5) / float(exact)
        latex.append(_latex_eq(rf"L={L}:\ \tau\dot u", tr.ode.rhs))
    exact3 = float(sympy.N(_t_half(3), 20))
    ms.append(Measurement("Eq. 17 / exact learning time at L = 3 (Eq. 17 is far off at finite depth)",
                          _eq17(3, 1.0, 1e-3, 0.5) / exact3, 10.0, "at_least"))
    deep = {}
    with mpmath.workdps(20):
        for L in (3, 10, 100, 1000):
            deep[L] = _eq17(L, 1.0, 1e-3, 0.5) / float(_eq16_quad(L, mpmath.mpf(1), mpmath.mpf("1e-3"), mpmath.mpf("0.5")))
    ms.append(Measurement("|Eq. 17 / Eq. 16 − 1| at L = 1000 (Eq. 17 is the L → ∞ asymptote)", abs(deep[1000] - 1), 0.05, "at_most"))
    ms.append(Measurement("Eq. 17 / Eq. 16 decreases towards 1 over L = 3, 10, 100, 1000 (0 = monotone)",
                          float(sum(max(0.0, deep[b] - deep[a]) for a, b in zip((3, 10, 100), (10, 100, 1000)))), 0.0,
                          "at_most"))
    summary = (f"τu̇ = L u^(2−2/L)(s − u) = Eq. 15; L = 3, 1e-3 → 0.5: t = {exact3:.4f} exact, Eq. 17 gives "
               f"{_eq17(3, 1.0, 1e-3, 0.5):.2f} (×{deep[3]:.1f}); ratio {deep[1000]:.3f} at L = 1000")
    return Evidence(summary, tuple(ms), tuple(latex))


def _deep_numeric(thorough: bool) -> Evidence:
    depths = (3, 4) if not thorough else (2, 3, 4, 5, 6)
    s = np.array([1.0, 2.0])
    u0 = 1e-3
    ms, exact_t = [], {}
    for L in depths:
        tr = derive(GD(), L)
        t_half = np.array([tr.learning_time(sa / 2, s=sa, u0=u0) for sa in s])
        t17 = np.array([_eq17(L, sa, u0, sa / 2) for sa in s])
        times = np.unique(np.concatenate([t_half, t17]))
        traj = integrate(aligned_problem(s, depth=L, u0=u0, width=3), GD(), times, method=_FLOW)
        k = [int(np.searchsorted(times, x)) for x in t_half]
        k17 = [int(np.searchsorted(times, x)) for x in t17]
        ms.append(Measurement(f"L = {L}: full-matrix u at the derived time of u = s/2, |u − s/2|/s",
                              float(max(abs(traj.u[a, k[a]] - s[a] / 2) / s[a] for a in range(len(s))))))
        ms.append(Measurement(f"L = {L}: at Eq. 17's time the mode is already learned, min u/s",
                              float(min(traj.u[a, k17[a]] / s[a] for a in range(len(s)))), 0.99, "at_least"))
        exact_t[L] = t_half[0]
    Ls = np.arange(2, 9)
    derived_t = [derive(GD(), int(L)).learning_time(0.5, s=1.0, u0=u0) for L in Ls]
    plot = Plot("saxe_depth", "Balanced GD mode, s = 1, u: 1e-3 → 0.5", "depth L", "learning time t",
                (_curve("exact (derived from Eq. 15)", Ls, derived_t, "-"),
                 _curve("full-matrix flow reaches s/2 at the derived time", list(exact_t), list(exact_t.values()), "o"),
                 _curve("Saxe Eq. 17 (L → ∞ asymptote)", Ls, [_eq17(int(L), 1.0, u0, 0.5) for L in Ls], "--")),
                yscale="log")
    return Evidence("full-matrix GD reaches s/2 at the exact finite-depth time", tuple(ms), plots=(plot,))


def _conservation_symbolic(thorough: bool) -> Evidence:
    depths = (2, 3) if not thorough else (2, 3, 4, 5)
    ms, latex = [], []
    for L in depths:
        sym = mode_symbols(L)
        a = sym.gains
        oracle = [a[i] ** 2 - a[i + 1] ** 2 for i in range(L - 1)]
        tr = derive(GD(), L, gains="unbalanced")
        ms.append(Measurement(f"L = {L}: derived conserved quantities are a_i² − a_(i+1)² (0 = yes)",
                              _same_invariants(tr.conserved, oracle)))
        v = layer_velocities(GD(), sym)
        rate = max(abs(float(sympy.simplify(2 * a[i] * v[i] - 2 * a[i + 1] * v[i + 1]) != 0)) for i in range(L - 1))
        ms.append(Measurement(f"L = {L}: d/dt(a_i² − a_(i+1)²) from the derived velocities simplifies to 0 (0 = yes)",
                              float(rate)))
        latex += [sympy.latex(c) + r" = \mathrm{const}" for c in tr.conserved]
    return Evidence("a_i² − a_(i+1)² conserved (derived from GD's per-layer velocities)", tuple(ms), tuple(latex))


def _conservation_numeric(thorough: bool) -> Evidence:
    times = np.linspace(0.0, 10.0, 51)
    gains = [[1.2, 0.4, 0.7]]
    traj = integrate(aligned_problem([2.0, 1.0], depth=3, gains=gains, width=3), GD(), times, method=_FLOW)
    G = traj.gains[:2]                                            # (modes, L, T)
    Q = G[:, :-1, :] ** 2 - G[:, 1:, :] ** 2
    drift = float(np.max(np.abs(Q - Q[..., :1]) / np.maximum(1.0, np.abs(Q[..., :1]))))
    moved = float(np.max(np.abs(G - G[..., :1])))
    ms = [Measurement("aligned unbalanced init (L = 3): drift of a_i² − a_(i+1)², relative to max(1, |Q(0)|)", drift),
          Measurement("…while the gains themselves move by", moved, 0.1, "at_least")]
    cases = [((3, 4, 5, 2), 0)] + ([((4, 4, 4, 4), 1), ((2, 6, 3), 2), ((3, 3, 3, 3, 3), 3)] if thorough else [])
    for widths, seed in cases:
        tr = integrate(_random_problem(widths, seed, scale=0.8), GD(), [0.0, 1.0, 3.0, 10.0], method=_FLOW)
        for i, C in enumerate(tr.balance):
            scale = max(1.0, float(np.max(np.abs(C[0]))))
            ms.append(Measurement(f"generic init, widths {'-'.join(map(str, widths))}: drift of C_{i + 1} = "
                                  f"W_{i + 2}ᵀW_{i + 2} − W_{i + 1}W_{i + 1}ᵀ (relative)",
                                  float(np.max(np.abs(C - C[0]))) / scale))
    curves = []
    for i in range(2):
        curves.append(_curve(f"a_{i + 1}² − a_{i + 2}² (mode 1)", times, Q[0, i], "-"))
    for i in range(3):
        curves.append(_curve(f"a_{i + 1}(t) (mode 1)", times, G[0, i], ":"))
    plot = Plot("gd_conservation", "GD, depth 3, unbalanced aligned init: a_i² − a_j² stays constant",
                "t", "value", tuple(curves))
    return Evidence(f"drift {drift:.1g} on gains, C_i conserved from generic init", tuple(ms), plots=(plot,))


def _scaling_cases(thorough: bool) -> list[tuple[Any, int, sympy.Expr]]:
    base = [(GD(), 2, sympy.Integer(-1)), (GD(), 3, sympy.Rational(-4, 3)), (NGD(), 3, sympy.Integer(0))]
    if thorough:
        base += [(GD(), 4, sympy.Rational(-3, 2)), (GD(), 5, sympy.Rational(-8, 5)),
                 (BlockNGD(q=Fraction(1, 2)), 2, sympy.Rational(-1, 2)), (BlockNGD(q=Fraction(1, 2)), 3, sympy.Rational(-2, 3))]
    return base


def _scaling_symbolic(thorough: bool) -> Evidence:
    ms = []
    for rule, L, p in _scaling_cases(thorough):
        tr = derive(rule, L)
        sym = tr.symbols
        T = tr.t_of_u.subs({sym.u: sym.s / 2, sym.u0: sym.s / 1000})
        exponent = sym.s * sympy.diff(T, sym.s) / T
        pts = [{sym.s: v, sym.tau: 1} for v in (sympy.Rational(1, 3), 1, sympy.Rational(7, 2))]
        ms.append(Measurement(f"{rule.name}, L = {L}: d ln t / d ln s − ({p}) for u: s/1000 → s/2",
                              _difference(exponent, p, pts), SYMBOLIC_TOL))
    return Evidence("t ∝ s^(−g): 1/s at L = 2 (Saxe), s^(−4/3) at L = 3, s⁰ for NGD", tuple(ms))


def _scaling_numeric(thorough: bool) -> Evidence:
    s = np.array([0.5, 1.0, 2.0, 4.0])
    ms, curves = [], []
    styles = iter(["o", "s", "^", "D", "v", "x", "+"])
    for color, (rule, L, p) in enumerate(_scaling_cases(thorough)):
        tr = derive(rule, L)
        t_ref = tr.learning_time(0.5, s=1.0, u0=1e-3)
        t_pred = t_ref * s ** float(p)
        order = np.argsort(t_pred)
        traj = integrate(aligned_problem(s, depth=L, u0=s / 1000, width=4), rule, t_pred[order], method=_FLOW)
        w = np.array([traj.u[a, int(np.where(order == a)[0][0])] / s[a] for a in range(len(s))])
        ms.append(Measurement(f"{rule.name}, L = {L}: full-matrix u/s at t(s=1)·s^({p}) vs 1/2 (4 modes, s = 0.5-4)",
                              float(np.max(np.abs(w - 0.5)))))
        sg = np.geomspace(0.3, 5, 30)
        curves.append(_curve(f"{rule.name}, L = {L}: t(s=1)·s^({p})", sg, t_ref * sg ** float(p), "-", color))
        curves.append(_curve(f"{rule.name}, L = {L}: full-matrix flow at s/2", s, t_pred, next(styles), color))
    plot = Plot("learning_time_s", "Time for a mode to go from s/1000 to s/2", "singular value s",
                "learning time t", tuple(curves), "log", "log")
    return Evidence("each mode reaches s/2 at the scaled time", tuple(ms), plots=(plot,))


# --- exact NGD and the block rule: straight-line convergence -------------------------------------

def exponential_claim(name: str, rules: Sequence[tuple[Any, Callable[[int], int], str]], *, statement: str,
                      latex: str, source: str) -> Claim:
    """A claim "rule moves W on W(t) = W* + e^{−r t/τ}(W(0) − W*)", checked two ways.

    Symbolic route: the derived balanced mode ODE (input variance λ symbolic) must be
    τu̇ = r (s/λ − u), and so must the unbalanced mode's (any balance). Numeric route: full-matrix
    flow from random invertible inits with random SPD Σ_xx, compared with the straight line and with
    the excess loss e^{−2rt/τ}ℓ(0). A rule that does not converge exponentially fails with the
    measured differences as its reason (see tests/test_claims.py: "GD converges exponentially").

    Args:
        name: claim name.
        rules: (rule, r(L), text of r) triples, e.g. (NGD(), lambda L: 1, "1").
        statement, latex, source: as in `Claim`.

    Returns:
        The `Claim`.

    >>> exponential_claim("gd-exp", [(GD(), lambda L: 1, "1")], statement="wrong", latex="", source="none").name
    'gd-exp'
    """
    # === check arguments
    if not rules:
        raise fail("rules", "a non-empty list of (rule, rate(L), rate text) triples", rules)
    for r in rules:
        if len(r) != 3 or not callable(getattr(r[0], "velocity", None)) or not callable(r[1]):
            raise fail("rules", "(rule, rate(L), rate text) triples", r)
    rules = tuple(rules)

    def symbolic(thorough: bool) -> Evidence:
        lam = sympy.Symbol("lambda", positive=True)
        ms, latex_out, found = [], [], []
        for rule, rate, text in rules:
            for L in ((2, 3) if not thorough else (2, 3, 4, 5, 6)):
                tr = derive(rule, L, lam=lam)
                sym = tr.symbols
                pts = _sample_points(sym, lam=lam)
                oracle = rate(L) * (sym.s / lam - sym.u)
                ms.append(Measurement(f"{rule.name}, L = {L}: derived τu̇ − {text}·(s/λ − u) (relative)",
                                      _difference(tr.ode.rhs, oracle, pts), SYMBOLIC_TOL))
                latex_out.append(_latex_eq(rf"\text{{{rule.name}}},\ L={L}:\ \tau\dot u", tr.ode.rhs))
                if L == 3:
                    found.append(f"{rule.name}, L = 3: τu̇ = {_pretty(tr.ode.rhs)}")
            tu = derive(rule, 3, gains="unbalanced")
            sym = tu.symbols
            if tu.ode.lhs.has(sympy.Function("u")(sym.t)):
                err = _difference(tu.ode.rhs, rate(3) * (sym.s - sym.u), _sample_points(sym))
                label = f"{rule.name}, L = 3, unbalanced: derived τu̇ − {text}·(s − u) (relative)"
            else:
                err, label = 1.0, f"{rule.name}, L = 3, unbalanced: no closed law τu̇ = f(u) (reduced to a_1; 1 = not exponential)"
            ms.append(Measurement(label, err, SYMBOLIC_TOL))
        return Evidence("; ".join(found), tuple(ms), tuple(latex_out))

    def numeric(thorough: bool) -> Evidence:
        cases = [((3, 3, 3, 3), 0), ((3, 5, 4, 2), 1)]
        if thorough:
            cases += [((2, 2, 2), 2), ((4, 4, 4, 4, 4), 3), ((3, 4, 6, 5, 2), 4), ((3, 3, 3, 3), 5)]
        tau = 2.0
        ms, curves = [], []
        for color, (rule, rate, text) in enumerate(rules):
            for widths, seed in cases:
                problem = _random_problem(widths, seed, tau=tau)
                r = rate(len(widths) - 1)
                t = np.array([0.0, 0.25, 0.5, 1.0, 2.0]) * tau / r * 2
                traj = integrate(problem, rule, t, method=_FLOW)
                W0, Ws = traj.W_end[0], problem.task.W_star
                line = Ws + np.exp(-r * t / tau)[:, None, None] * (W0 - Ws)
                scale = np.linalg.norm(W0 - Ws)
                errW = float(max(np.linalg.norm(traj.W_end[k] - line[k]) for k in range(len(t))) / scale)
                errL = _rel_max(traj.loss, traj.loss[0] * np.exp(-2 * r * t / tau), traj.loss[0])
                tag = f"{rule.name}, widths {'-'.join(map(str, widths))}, random init and SPD Σ_xx, τ = {tau:g}"
                ms.append(Measurement(f"{tag}: ‖W(t) − straight line at rate {text}‖/‖W(0) − W*‖", errW))
                ms.append(Measurement(f"{tag}: |ℓ(t) − ℓ(0)e^(−2·{text}·t/τ)|/ℓ(0)", errL))
                if seed == 0:
                    curves.append(_curve(f"{rule.name}: full-matrix flow", t, traj.loss / traj.loss[0], "ox^s"[color % 4],
                                         color))
                    tt = np.linspace(0, t[-1], 50)
                    curves.append(_curve(f"{rule.name}: e^(−2·{text}·t/τ)", tt, np.exp(-2 * r * tt / tau), "--", color))
        title = "Excess loss from a random init (L = 3, random SPD input covariance)"
        if len(rules) > 1:
            title += "\n" + " and ".join(r[0].name for r in rules) + " coincide"
        plot = Plot(f"{name}_loss", title,
                    "t", "ℓ(t)/ℓ(0)", tuple(curves), yscale="log")
        worst = max(m.value for m in ms)
        return Evidence(f"straight line to {worst:.1g}", tuple(ms), plots=(plot,))

    return Claim(name=name, statement=statement, latex=latex, source=source, symbolic=symbolic, numeric=numeric,
                 tolerance=FLOW_TOL, reason="full-matrix DOP853 at rtol 1e-10 reaches ~1e-10 relative; symbolic "
                 f"checks are exact or at 40 digits ({SYMBOLIC_TOL:g})")


# --- the generalized inverse and the bottleneck --------------------------------------------------

def _fisher_gap_numpy(W: Sequence[np.ndarray], S: np.ndarray) -> float:
    """‖FGF − F‖/‖F‖ for G = blockdiag(F_ii⁺)/L, F from its definition J = [A_iᵀ ⊗ B_i] (THEORY §0)."""
    A, B, _ = chain_products(W, np.eye)
    J = np.hstack([np.kron(a.T, b) for a, b in zip(A, B)])
    F = J.T @ np.kron(S, np.eye(W[-1].shape[0])) @ J
    blocks = [np.kron(np.linalg.pinv(a @ S @ a.T), np.linalg.pinv(b.T @ b)) for a, b in zip(A, B)]
    G = np.zeros_like(F)
    k = 0
    for blk in blocks:
        G[k:k + blk.shape[0], k:k + blk.shape[0]] = blk
        k += blk.shape[0]
    G /= len(W)
    return float(np.linalg.norm(F @ G @ F - F) / np.linalg.norm(F))


def _fisher_gap_sympy(W: Sequence[sympy.Matrix], S: sympy.Matrix) -> sympy.Expr:
    """The same gap in exact rational arithmetic (pseudo-inverse of a Kronecker product = product of pinvs)."""
    from sympy.physics.quantum import TensorProduct
    A, B, _ = chain_products(W, sympy.eye)
    J = sympy.Matrix.hstack(*[TensorProduct(a.T, b) for a, b in zip(A, B)])
    F = J.T * TensorProduct(S, sympy.eye(W[-1].shape[0])) * J
    G = sympy.diag(*[TensorProduct((a * S * a.T).pinv(), (b.T * b).pinv()) for a, b in zip(A, B)]) / len(W)
    D = F * G * F - F
    return sympy.sqrt(sum(x ** 2 for x in D) / sum(x ** 2 for x in F))


def _full_rank_integers(m: int, n: int, rng: np.random.Generator) -> sympy.Matrix:
    """A random m x n integer matrix (entries −3..3) of full rank min(m, n)."""
    while True:
        M = sympy.Matrix(m, n, [int(x) for x in rng.integers(-3, 4, size=m * n)])
        if M.rank() == min(m, n):
            return M


def _ginverse_symbolic(thorough: bool) -> Evidence:
    rng = np.random.default_rng(7)
    ms, found = [], []
    cases = [((2, 2, 2), False), ((3, 1, 3), True), ((4, 2, 4), True)]
    if thorough:
        cases += [((2, 3, 2), False), ((2, 2, 2, 2), False), ((3, 2, 2, 3), True)]
    S_full = {n: sympy.Matrix(n, n, lambda i, j: 2 if i == j else (1 if abs(i - j) == 1 else 0)) for n in (2, 3, 4)}
    for widths, bottleneck in cases:
        W = [_full_rank_integers(widths[i + 1], widths[i], rng) for i in range(len(widths) - 1)]
        gap = _fisher_gap_sympy(W, S_full[widths[0]])
        tag = "-".join(map(str, widths))
        if bottleneck:
            ms.append(Measurement(f"widths {tag} (bottleneck), exact integers: ‖FGF − F‖/‖F‖", float(gap), DEFECT_MIN,
                                  "at_least"))
            found.append(f"{tag}: {float(gap):.3f}")
        else:
            ms.append(Measurement(f"widths {tag}, exact integers: ‖FGF − F‖/‖F‖ (0 = FGF = F exactly)",
                                  float(sympy.N(gap, 30)), SYMBOLIC_TOL))
            found.append(f"{tag}: {'0 exactly' if gap == 0 else float(gap)}")
    return Evidence("exact: ‖FGF − F‖/‖F‖ = " + ", ".join(found), tuple(ms))


def _ginverse_numeric(thorough: bool) -> Evidence:
    ms, values = [], []
    seeds = range(3) if not thorough else range(10)
    for seed in seeds:
        rng = np.random.default_rng(100 + seed)
        for widths in ((4, 4, 4), (4, 2, 4)):
            W = [rng.normal(size=(widths[i + 1], widths[i])) for i in range(len(widths) - 1)]
            gap = _fisher_gap_numpy(W, _spd(4, rng))
            if widths[1] == 4:
                ms.append(Measurement(f"seed {seed}, widths 4-4-4, float64: ‖FGF − F‖/‖F‖", gap, LINALG_TOL))
            else:
                values.append(gap)
                ms.append(Measurement(f"seed {seed}, widths 4-2-4 (bottleneck), float64: ‖FGF − F‖/‖F‖", gap, DEFECT_MIN,
                                      "at_least"))
    # consequence for the dynamics: Bernacchia's rule (block NGD / L) follows exact NGD only without bottleneck
    for widths in ((4, 4, 4), (4, 2, 4)):
        problem = _random_problem(widths, 11)
        t = [0.5, 1.0, 2.0]
        a = integrate(problem, NGD(), t, method=_FLOW).W_end
        b = integrate(problem, bernacchia(), t, method=_FLOW).W_end
        gap = float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
        if widths[1] == 4:
            ms.append(Measurement("widths 4-4-4: Bernacchia's rule vs exact NGD, end-to-end maps (relative)", gap))
        else:
            ms.append(Measurement("widths 4-2-4: Bernacchia's rule departs from exact NGD (relative gap)", gap, 1e-3,
                                  "at_least"))
    return Evidence(f"bottleneck 4-2-4: ‖FGF − F‖/‖F‖ = {min(values):.2f}-{max(values):.2f}", tuple(ms))


# --- NGD on GD's path; block rules off it --------------------------------------------------------

_PATH_RULES = (GD(), NGD(), NGD(q=Fraction(1, 2)), BlockNGD(), bernacchia(), BlockNGD(q=Fraction(1, 2)))
_KEEPS_PATH = {"gd", "ngd", "ngd(q=1/2)"}


def _path_symbolic(thorough: bool) -> Evidence:
    ms, latex = [], []
    for L in ((2, 3) if not thorough else (2, 3, 4)):
        sym = mode_symbols(L)
        a = sym.gains
        gd_inv = [a[i] ** 2 - a[i + 1] ** 2 for i in range(L - 1)]
        v_gd = layer_velocities(GD(), sym)
        for rule in _PATH_RULES[1:]:
            inv = derive(rule, L, gains="unbalanced").conserved
            latex.append(rf"\text{{{rule.name}}},\ L={L}:\ " + ",\\ ".join(sympy.latex(c) for c in inv) + r" = \mathrm{const}")
            v = layer_velocities(rule, sym)
            # same path with a new clock <=> velocity ratios ȧ_i^rule / ȧ_i^GD equal for every layer
            ratio = [sympy.simplify(v[i] / v_gd[i]) for i in range(L)]
            parallel = all(sympy.simplify(ratio[i] - ratio[0]) == 0 for i in range(1, L))
            same = _same_invariants(inv, gd_inv) == 0.0
            if rule.name in _KEEPS_PATH:
                ms.append(Measurement(f"{rule.name}, L = {L}: derived invariants = GD's a_i² − a_(i+1)² (0 = yes)",
                                      0.0 if same else 1.0))
                ms.append(Measurement(f"{rule.name}, L = {L}: per-layer velocity ∥ GD's (new clock {ratio[0]}) (0 = yes)",
                                      0.0 if parallel else 1.0))
            else:
                ms.append(Measurement(f"{rule.name}, L = {L}: derived invariants differ from GD's (1 = differ)",
                                      0.0 if same else 1.0, 1.0, "at_least"))
                ms.append(Measurement(f"{rule.name}, L = {L}: per-layer velocity not parallel to GD's (1 = not)",
                                      0.0 if parallel else 1.0, 1.0, "at_least"))
    inv_ngd = derive(NGD(), 2, gains="unbalanced").conserved
    inv_blk = derive(BlockNGD(), 2, gains="unbalanced").conserved
    return Evidence(f"NGD conserves {_pretty(inv_ngd[0])} (GD's), block/K-FAC/Bernacchia {_pretty(inv_blk[0])}", tuple(ms),
                    tuple(latex))


def _balanced_nonaligned(n: int, L: int, seed: int) -> Problem:
    """Balanced (C_i = 0), task-non-aligned init W_i = O_{i+1} D O_iᵀ, and a random task W* = Σ_yx.

    The task is redrawn until the straight segment from W(0) to W* stays invertible (no real
    eigenvalue of W*⁻¹(W(0) − W*) below −1), so that the straight-line rules can be compared over
    the whole run; the sign-mismatch case is the claim `ngd-singular-crossing`.
    """
    rng = np.random.default_rng(seed)
    O = [random_orthogonal(n, rng) for _ in range(L + 1)]
    D = np.diag(np.linspace(0.9, 0.4, n))
    W = [O[i + 1] @ D @ O[i].T for i in range(L)]
    end = np.linalg.multi_dot(W[::-1])
    for _ in range(100):
        Syx = rng.normal(size=(n, n)) + 1.5 * np.eye(n)
        if _segment_invertible(end, Syx):
            break
    return Problem(Network((n,) * (L + 1)), Task(Sigma_yx=Syx), GivenWeights(tuple(W)))


def _path_numeric(thorough: bool) -> Evidence:
    ms, plane, balance = [], [], []
    times = np.linspace(0.0, 6.0, 61)
    g0 = np.array([[1.4, 0.25]])
    problem = aligned_problem([2.0], depth=2, gains=g0, width=2)
    c0 = g0[0, 0] ** 2 - g0[0, 1] ** 2
    for rule in _PATH_RULES:
        traj = integrate(problem, rule, times, method=_FLOW)
        a1, a2 = traj.gains[0, 0], traj.gains[0, 1]
        dev = float(np.max(np.abs(a1 ** 2 - a2 ** 2 - c0)) / max(1.0, abs(c0)))
        if rule.name in _KEEPS_PATH:
            ms.append(Measurement(f"{rule.name}: distance of the (a_1, a_2) path from GD's curve a_1² − a_2² = const", dev))
        else:
            ms.append(Measurement(f"{rule.name}: leaves GD's curve by (max |Δ(a_1² − a_2²)|)", dev, BREAK_MIN, "at_least"))
        plane.append(_curve(rule.name, a1, a2, "-" if rule.name == "gd" else ("o" if rule.name in _KEEPS_PATH else "--")))
    Ls = (2,) if not thorough else (2, 3)
    for L in Ls:
        problem = _balanced_nonaligned(3, L, seed=5 + L)
        t = np.linspace(0.0, 4.0, 41)
        for rule in _PATH_RULES:
            traj = integrate(problem, rule, t, method=_FLOW)
            scale = max(1.0, max(float(np.max(np.abs(w[0]))) ** 2 for w in traj.W))
            imb = np.max(np.stack([np.abs(C).reshape(len(t), -1).max(axis=1) for C in traj.balance]), axis=0)
            if rule.name in _KEEPS_PATH:
                ms.append(Measurement(f"L = {L}, balanced non-aligned init, {rule.name}: max |C_i(t)| (relative)",
                                      float(np.max(imb)) / scale))
            else:
                ms.append(Measurement(f"L = {L}, balanced non-aligned init, {rule.name}: breaks balance, max |C_i(t)|",
                                      float(np.max(imb)), BREAK_MIN, "at_least"))
            if L == 2:
                balance.append(_curve(rule.name, t[1:], np.maximum(imb[1:], 1e-17), "-"))
    plots = (Plot("ngd_path", "Paths in the (a_1, a_2) plane, s = 2: NGD stays on GD's hyperbola", "a_1", "a_2",
                  tuple(plane)),
             Plot("balance", "Balance from a balanced, task-non-aligned init (L = 2, width 3)", "t",
                  "max_ij |C_1(t)| with C_1 = W_2ᵀW_2 − W_1W_1ᵀ", tuple(balance), yscale="log"))
    return Evidence("NGD, NGD^(1/2) on GD's curve; block rules leave it", tuple(ms), plots=plots)


# --- parameter speed at small init ---------------------------------------------------------------

_SPEED_RULES = (GD(), NGD(), BlockNGD(), NGD(q=Fraction(1, 2)), BlockNGD(q=Fraction(1, 2)))


def _speed_expr(rule: Any, L: int) -> tuple[sympy.Expr, Any]:
    """‖θ̇‖ on a balanced mode from the derived ODE: √L·ȧ with a = u^{1/L}, ȧ = u̇/(L a^{L−1}) (τ = 1)."""
    tr = derive(rule, L)
    sym = tr.symbols
    rhs = tr.ode.rhs.subs(sym.tau, 1)
    return sympy.sqrt(L) * rhs / (L * sym.u ** sympy.Rational(L - 1, L)), sym


def _speed_limit_oracle(rule: Any, L: int, s: sympy.Symbol) -> sympy.Expr:
    """THEORY §3: GD → 0, NGD and block NGD → ∞, block q = ½ → √L·s, full q = ½ → s."""
    return {"gd": sympy.Integer(0), "ngd": sympy.oo, "blockdiag": sympy.oo,
            "ngd(q=1/2)": s, "blockdiag(q=1/2)": sympy.sqrt(L) * s}[rule.name]


def _speed_symbolic(thorough: bool) -> Evidence:
    ms, found = [], []
    for L in ((3,) if not thorough else (2, 3, 4, 5)):
        for rule in _SPEED_RULES:
            expr, sym = _speed_expr(rule, L)
            lim = sympy.limit(expr, sym.u, 0, "+")
            oracle = _speed_limit_oracle(rule, L, sym.s)
            ms.append(Measurement(f"L = {L}, {rule.name}: lim_(u→0) ‖θ̇‖ = {lim} vs {oracle} (0 = equal)",
                                  0.0 if sympy.simplify(lim - oracle) == 0 or lim == oracle else 1.0))
            if L == 3:
                found.append(f"{rule.name} → {_pretty(lim)}")
    return Evidence("L = 3: " + ", ".join(found), tuple(ms))


def _speed_numeric(thorough: bool) -> Evidence:
    L, s = 3, 1.5
    u0s = (1e-4, 1e-8, 1e-12)
    ms, curves = [], []
    markers = iter(["o", "s", "^", "D", "v"])
    for color, rule in enumerate(_SPEED_RULES):
        expr, sym = _speed_expr(rule, L)
        f_sym = sympy.lambdify(sym.u, expr.subs(sym.s, s), "mpmath")
        speeds = []
        for u0 in u0s:
            problem = aligned_problem([s], depth=L, u0=u0, width=3)
            W0 = problem.initial_weights()
            f = velocity_field(rule, [w.shape for w in W0], problem.task.Sigma_xx, problem.task.Sigma_yx, 1.0)
            v = f(np.concatenate([w.reshape(-1, order="F") for w in W0]))
            speeds.append(float(np.linalg.norm(v)))
        exact = [float(f_sym(mpmath.mpf(u0))) for u0 in u0s]
        err = max(abs(a - b) / abs(b) for a, b in zip(speeds, exact))
        ms.append(Measurement(f"{rule.name}: full-matrix ‖θ̇‖ at u0 = 1e-4, 1e-8, 1e-12 vs derived speed (relative)", err))
        ratio = speeds[-1] / speeds[0]
        if rule.name == "gd":
            ms.append(Measurement("gd: speed(1e-12)/speed(1e-4) (vanishing)", ratio, 1e-3, "at_most"))
        elif rule.name in ("ngd", "blockdiag"):
            ms.append(Measurement(f"{rule.name}: speed(1e-12)/speed(1e-4) (diverging)", ratio, 1e3, "at_least"))
        else:
            ms.append(Measurement(f"{rule.name}: |speed(1e-12)/speed(1e-4) − 1| (bounded, non-zero)", abs(ratio - 1), 1e-3, "at_most"))
        ug = np.geomspace(1e-12, 1.0, 60)
        curves.append(_curve(f"{rule.name} (derived)", ug, [float(f_sym(mpmath.mpf(x))) for x in ug], "-", color))
        curves.append(_curve(f"{rule.name} (full matrices)", u0s, speeds, next(markers), color))
    plot = Plot("parameter_speed", f"Parameter speed on a balanced mode (L = {L}, s = {s:g})", "mode strength u",
                "‖dθ/dt‖", tuple(curves), "log", "log")
    return Evidence("full-matrix speeds match the derived ones", tuple(ms), plots=(plot,))


# --- NGD: every mode has time constant τ ---------------------------------------------------------

def _timeconst_symbolic(thorough: bool) -> Evidence:
    lam = sympy.Symbol("lambda", positive=True)
    ms = []
    for L in ((2, 3) if not thorough else (2, 3, 4, 5, 6)):
        tr = derive(NGD(), L, lam=lam)
        sym = tr.symbols
        pts = _sample_points(sym, lam=lam)
        ms.append(Measurement(f"NGD, L = {L}: τu̇ / (s/λ − u) − 1 (time constant τ, free of s and λ)",
                              _difference(tr.ode.rhs / (sym.s / lam - sym.u), 1, pts), SYMBOLIC_TOL))
        g = derive(GD(), L)
        sg = g.symbols
        rate = -sympy.diff(g.ode.rhs, sg.u).subs(sg.u, sg.s)
        ms.append(Measurement(f"GD, L = {L}: rate at the target − L s^(2−2/L) (depends on s)",
                              _difference(rate, L * sg.s ** (2 - sympy.Rational(2, L)), _sample_points(sg)), SYMBOLIC_TOL))
    return Evidence("NGD: τu̇ = s/λ − u for every mode; GD rate L s^(2−2/L)", tuple(ms))


def _timeconst_numeric(thorough: bool) -> Evidence:
    s = np.array([4.0, 1.0, 0.01])
    lam = np.array([1.0, 2.0, 0.5])
    u0, tau, L = 1e-4, 1.5, 3
    t = np.geomspace(1e-2, 20.0, 40)
    traj = integrate(aligned_problem(s, depth=L, u0=u0, lam=lam, width=3, tau=tau), NGD(), t, method=_FLOW)
    frac = (traj.u - u0) / (s / lam - u0)[:, None]
    err = float(np.max(np.abs(frac - (1 - np.exp(-t / tau)))))
    ms = [Measurement("NGD, L = 3, s = 4, 1, 0.01, λ = 1, 2, 0.5: fraction learned vs 1 − e^(−t/τ) (absolute)", err)]
    gd = derive(GD(), L)
    t90 = [gd.learning_time(0.9 * sa, s=sa, u0=u0, tau=tau) for sa in s]
    tg = np.geomspace(1e-2, t90[1] * 1.2, 300)
    grid = np.unique(np.concatenate([tg, [t90[0]]]))
    g = integrate(aligned_problem(s, depth=L, u0=u0, width=3, tau=tau), GD(), grid, method=_FLOW)
    k = int(np.searchsorted(grid, t90[0]))
    gfrac = (g.u - u0) / (s - u0)[:, None]
    ms.append(Measurement("GD: signal mode (s = 4) at its derived time of u = 0.9 s, |u/s − 0.9|",
                          float(abs(g.u[0, k] / s[0] - 0.9))))
    ms.append(Measurement("GD: noise mode (s = 0.01) learned by then (fraction, must stay small)", float(gfrac[2, k]), 0.01, "at_most"))
    ms.append(Measurement("GD: derived t90(noise)/t90(signal)", t90[2] / t90[0], 100.0, "at_least"))
    curves = [_curve("1 − e^(−t/τ)", t, 1 - np.exp(-t / tau), "-", 7)]
    for a, mk in zip(range(3), "o^s"):
        curves.append(_curve(f"NGD, s = {s[a]:g}, λ = {lam[a]:g}", t, frac[a], mk, a))
    for a, st in zip(range(3), ("--", "-.", ":")):
        curves.append(_curve(f"GD, s = {s[a]:g}, λ = 1", grid, gfrac[a], st, a))
    plot = Plot("time_constant", "Fraction learned, L = 3: under NGD (markers) every mode follows 1 − e^(−t/τ);\n"
                f"under GD (lines) the noise mode s = 0.01 needs {t90[2] / t90[0]:.0f}× the time of s = 4",
                "t", "(u − u0)/(s/λ − u0)", tuple(curves), xscale="log")
    return Evidence(f"all NGD modes follow 1 − e^(−t/τ) to {err:.1g}; GD noise/signal time ×{t90[2] / t90[0]:.0f}",
                    tuple(ms), plots=(plot,))


# --- the NGD singular crossing -------------------------------------------------------------------

_X_W1 = ((2, 1), (1, 1))
_X_W2 = ((1, 0), (0, -1))
_X_WSTAR = ((3, 1), (1, 2))


def _crossing_exact() -> tuple[sympy.Expr, sympy.Expr]:
    """(x*, t*) for the example: largest root x* in (0, 1) of det(W* + x(W(0) − W*)), t* = −ln x* (τ = 1, rate 1)."""
    W0 = sympy.Matrix(_X_W2) * sympy.Matrix(_X_W1)
    Ws = sympy.Matrix(_X_WSTAR)
    x = sympy.Symbol("x", real=True)
    roots = [r for r in sympy.solve((Ws + x * (W0 - Ws)).det(), x) if r.is_real and 0 < r < 1]
    xs = max(roots, key=lambda r: float(r))
    return sympy.nsimplify(xs), -sympy.log(xs)


def _crossing_symbolic(thorough: bool) -> Evidence:
    W0 = sympy.Matrix(_X_W2) * sympy.Matrix(_X_W1)
    Ws = sympy.Matrix(_X_WSTAR)
    ms = [Measurement("det W(0)·det W* < 0 (sign mismatch forces a crossing; 1 = yes)",
                      1.0 if W0.det() * Ws.det() < 0 else 0.0, 1.0, "at_least")]
    xs, ts = _crossing_exact()
    t = sympy.Symbol("t", positive=True)
    det_line = (Ws + sympy.exp(-t) * (W0 - Ws)).det()
    ms.append(Measurement("det W(t*) on the derived NGD line (exact, 0 = singular)",
                          float(abs(sympy.N(det_line.subs(t, ts), 40))), SYMBOLIC_TOL))
    lam = sympy.Symbol("lambda", positive=True)
    rhs = derive(NGD(), 2, lam=lam).ode.rhs
    sym = mode_symbols(2)
    ms.append(Measurement("derived NGD mode law τu̇ = s/λ − u (straight line in W), relative difference",
                          _difference(rhs, sym.s / lam - sym.u, _sample_points(sym, lam=lam)),
                          SYMBOLIC_TOL))
    return Evidence(f"t* = −ln({_pretty(xs)}) ≈ {float(ts):.10f} (τ = 1, exact root of det)", tuple(ms),
                    (r"t^* = " + sympy.latex(ts),))


def _crossing_numeric(thorough: bool) -> Evidence:
    _, ts = _crossing_exact()
    t_star = float(ts)
    W1, W2, Ws = (np.array(x, dtype=float) for x in (_X_W1, _X_W2, _X_WSTAR))
    problem = Problem(Network((2, 2, 2)), Task(Sigma_yx=Ws), GivenWeights((W1, W2)))
    E0 = W2 @ W1 - Ws
    ms, curves = [], []
    for color, (rule, rate) in enumerate(((NGD(), 1), (bernacchia(), 1), (BlockNGD(), 2))):
        tc = t_star / rate
        t = tc * np.array([0.0, 0.25, 0.5, 0.75, 0.9, 0.99])
        traj = integrate(problem, rule, t, method=_FLOW)
        det_num = np.linalg.det(traj.W_end)
        det_line = np.array([np.linalg.det(Ws + math.exp(-rate * x) * E0) for x in t])
        ms.append(Measurement(f"{rule.name}: det W(t) up to 0.99 t* vs the straight line (relative to |det W(0)|)",
                              _rel_max(det_num, det_line, abs(det_num[0]))))
        try:
            integrate(problem, rule, [tc * (1 + 1e-6)], method=_FLOW)
            detected, err = False, 1.0
        except SingularCrossing as exc:
            detected = True
            err = abs(exc.time - tc) / tc
        ms.append(Measurement(f"{rule.name}: asking for t just past t* raises SingularCrossing (1 = yes)",
                              1.0 if detected else 0.0, 1.0, "at_least"))
        ms.append(Measurement(f"{rule.name}: reported crossing time vs exact t*/{rate} (relative; 10 digits printed)",
                              err, 1e-9))
        curves.append(_curve(f"{rule.name} (full matrices)", t, det_num, "ox^"[color], color))
        tt = np.linspace(0, tc, 60)
        curves.append(_curve(f"{rule.name}: det(W* + e^(−{'' if rate == 1 else rate}t)(W(0) − W*))", tt,
                             [np.linalg.det(Ws + math.exp(-rate * x) * E0) for x in tt], "--", color))
    plot = Plot("singular_crossing", "det W(0)·det W* < 0: the straight path meets det W = 0 at t* (NGD, Bernacchia)\n"
                "and t*/2 (block NGD); NGD and Bernacchia's rule coincide",
                "t", "det W(t)",
                tuple(curves))
    return Evidence(f"detected at t* = {t_star:.10f} (NGD), t*/2 (block NGD)", tuple(ms), plots=(plot,))


# --- the registry --------------------------------------------------------------------------------

def _claim(name: str, statement: str, latex: str, source: str, symbolic: Route | None, numeric: Route,
           tolerance: float = FLOW_TOL, reason: str = "") -> Claim:
    return Claim(name, statement, latex, source, symbolic, numeric, tolerance,
                 reason or "full-matrix DOP853 at rtol 1e-10, atol 1e-12 reaches ~1e-10; bounds of exact and "
                           "mpmath measurements are stated with each measurement")


CLAIMS: tuple[Claim, ...] = (
    _claim("saxe-sigmoid",
           "A two-layer linear network trained by gradient descent learns each input-output mode along the "
           "sigmoid u(t) of Eq. 12, the solution of τu̇ = 2u(s − u) (Eq. 10), reaching u_f at Eq. 11's time.",
           r"u(t) = \frac{s\,e^{2st/\tau}}{e^{2st/\tau} - 1 + s/u_0},\quad "
           r"t_f = \frac{\tau}{2s}\ln\frac{u_f(s-u_0)}{u_0(s-u_f)}",
           "Saxe et al. 2014, Eq. 10-12", _saxe_symbolic, _saxe_numeric),
    _claim("deep-mode-eq15-eq17",
           "A balanced mode of a depth-L network under GD obeys τu̇ = L u^{2−2/L}(s − u) (Eq. 15); its exact "
           "finite-depth learning time follows from this ODE, while Eq. 17 is only the L → ∞ asymptote and "
           "overestimates the time many-fold at L = 3.",
           r"\tau\dot u = L\,u^{2-2/L}(s-u),\quad t_{\text{Eq.17}}/t_{\text{exact}} \to 1 \ (L\to\infty)",
           "Saxe et al. 2014, Eq. 15-17", _deep_symbolic, _deep_numeric),
    _claim("gd-conservation",
           "Under gradient descent the per-layer gains of an aligned mode keep a_i² − a_j² constant; in matrix "
           "form C_i = W_{i+1}ᵀW_{i+1} − W_iW_iᵀ is constant from any initialisation.",
           r"\frac{d}{dt}\left(a_i^2 - a_j^2\right) = 0,\quad \frac{d}{dt}\left(W_{i+1}^\top W_{i+1} - W_iW_i^\top\right) = 0",
           "Saxe et al. 2014, Eq. 14 (matrix form: derived)", _conservation_symbolic, _conservation_numeric),
    _claim("learning-time-scaling",
           "The time a mode needs between fixed fractions of its target scales as 1/s for two-layer GD "
           "(Saxe), as s^{−(2−2/L)} at depth L, and does not depend on s under NGD.",
           r"t \propto s^{-g},\quad g_{\mathrm{GD}} = 2 - 2/L,\ g_{\mathrm{NGD}} = 0",
           "Saxe et al. 2014, Sec. 2 (1/s); depth and NGD: derived", _scaling_symbolic, _scaling_numeric),
    exponential_claim(
        "ngd-exponential",
        [(NGD(), lambda L: 1, "1"), (bernacchia(), lambda L: 1, "1")],
        statement="Exact natural gradient (full Fisher, Moore–Penrose), and Bernacchia's per-layer rule, move the "
                  "end-to-end map on the straight line W(t) = W* + e^{−t/τ}(W(0) − W*) from any invertible init "
                  "and for any SPD input covariance; the excess loss decays as e^{−2t/τ}.",
        latex=r"W(t) = W^* + e^{-t/\tau}\left(W(0) - W^*\right),\quad \ell(t) - \ell^* \propto e^{-2t/\tau}",
        source="Bernacchia et al. 2018, abstract and Eq. 10; derived (THEORY §3)"),
    exponential_claim(
        "block-ngd-rate-L",
        [(BlockNGD(), lambda L: L, "L")],
        statement="Block-diagonal NGD (K-FAC with exact factors, without the 1/L) moves W on the same straight "
                  "line L times faster: W(t) = W* + e^{−Lt/τ}(W(0) − W*).",
        latex=r"W(t) = W^* + e^{-Lt/\tau}\left(W(0) - W^*\right)",
        source="Bernacchia et al. 2018, Sec. 3 (per-layer NG ÷ L has rate 1); derived (THEORY §3)"),
    _claim("bottleneck-ginverse",
           "G = blockdiag(F_ii⁺)/L is a generalized inverse of the Fisher (FGF = F) when no layer is a "
           "bottleneck, which is why block NGD/L equals exact NGD; with a bottleneck (widths 4-2-4) it is not, "
           "‖FGF − F‖/‖F‖ is of order 0.3, and the two flows part.",
           r"FGF = F \ \text{(no bottleneck)},\quad \frac{\|FGF - F\|}{\|F\|} \approx 0.3 \ \text{(4-2-4)}",
           "derived (THEORY §3)", _ginverse_symbolic, _ginverse_numeric, LINALG_TOL,
           "float64 pseudo-inverses of Kronecker blocks of random matrices: rounding ~κ·1e-16 with κ up to 1e6 "
           "(exact integers: 0); the flows are compared at the same 1e-8, DOP853 at rtol 1e-10 reaches ~1e-11"),
    _claim("ngd-gd-path",
           "Full NGD (and every full-Fisher power q) keeps GD's invariants, so an aligned mode follows GD's path "
           "a_i² − a_j² = const with a new clock; block NGD, K-FAC and Bernacchia's per-layer rule conserve "
           "a_i/a_j instead, leave GD's path and break balance from a balanced init.",
           r"\dot a_i^{\mathrm{NGD}} = \kappa(a)\,\dot a_i^{\mathrm{GD}},\quad "
           r"C_i = W_{i+1}^\top W_{i+1} - W_iW_i^\top\ \text{conserved by NGD}^q,\ \text{not by block rules}",
           "Huh 2020, abstract (generalized conservation law); derived (THEORY §2-3)", _path_symbolic, _path_numeric),
    _claim("parameter-speed-small-init",
           "On a balanced mode as u → 0 the parameter speed vanishes under GD, diverges under NGD and block NGD, "
           "and tends to √L·s (block, q = 1/2) or s (full, q = 1/2): q = 1/2 keeps a bounded, non-zero speed.",
           r"\lim_{u\to0}\|\dot\theta\| = 0\ (\mathrm{GD}),\ \infty\ (\mathrm{NGD}),\ \sqrt{L}\,s\ "
           r"(\text{block}, q=\tfrac12),\ s\ (\text{full}, q=\tfrac12)",
           "Huh 2020 (fractional correction); derived (THEORY §3)", _speed_symbolic, _speed_numeric),
    _claim("ngd-same-time-constant",
           "Under NGD every mode approaches its target with the same time constant τ, whatever its singular value "
           "or input variance, so a noise mode is fitted as fast as the signal; under GD the rate near the target "
           "is L s^{2−2/L}/τ and weak modes are learned much later.",
           r"\tau\dot u_\alpha = \frac{s_\alpha}{\lambda_\alpha} - u_\alpha\ (\mathrm{NGD}),\quad "
           r"\text{rate}_{\mathrm{GD}} = L\,s^{2-2/L}/\tau",
           "derived (THEORY §2, learning speed)", _timeconst_symbolic, _timeconst_numeric),
    _claim("ngd-singular-crossing",
           "On a square network with det W(0)·det W* < 0, exact NGD (and Bernacchia's rule, and block NGD at "
           "L times the speed) moves W on a straight segment that must pass a singular matrix at "
           "t* = −τ ln x*; lindyn integrates up to t* and refuses to go past it, naming the time.",
           r"\det\!\left(W^* + e^{-t^*/\tau}(W(0) - W^*)\right) = 0",
           "derived (THEORY §3)", _crossing_symbolic, _crossing_numeric),
)


def _external_claims() -> list[Claim]:
    """Claims contributed by other modules: `lindyn.function_space.kerekes_claims()` when that module exists."""
    if importlib.util.find_spec("lindyn.function_space") is None:
        return []
    module = importlib.import_module("lindyn.function_space")
    out = []
    for d in module.kerekes_claims():
        out.append(_from_dict(d))
    return out


def _from_dict(d: dict[str, Any]) -> Claim:
    """Wrap a claim given as a dict {name, source, statement, latex, check, tolerance, reason}.

    `check()` (or `check(thorough=...)` when it accepts it) returns (passed, agreement, detail).
    """
    check = d["check"]
    takes_thorough = "thorough" in inspect.signature(check).parameters

    def numeric(thorough: bool) -> Evidence:
        passed, agreement, detail = check(thorough=thorough) if takes_thorough else check()
        return Evidence(str(detail), (Measurement(str(detail), float(agreement), float(d["tolerance"]), ok=bool(passed)),))

    return Claim(name=d["name"], statement=d["statement"], latex=d["latex"], source=d["source"], symbolic=None,
                 numeric=numeric, tolerance=float(d["tolerance"]), reason=d["reason"])


def all_claims() -> tuple[Claim, ...]:
    """Every registered claim: lindyn's own (`CLAIMS`) and those of optional modules (Kerekes et al.).

    >>> len(all_claims()) >= len(CLAIMS)
    True
    """
    # === check arguments
    return CLAIMS + tuple(_external_claims())


def get_claim(name: str) -> Claim:
    """The registered claim called `name`.

    Args:
        name: a claim name (see `all_claims()`).

    Raises:
        LindynError: no such claim (the message lists the names).

    >>> get_claim("saxe-sigmoid").source
    'Saxe et al. 2014, Eq. 10-12'
    """
    # === check arguments
    for c in all_claims():
        if c.name == name:
            return c
    raise fail("name", "one of " + ", ".join(c.name for c in all_claims()), name)
