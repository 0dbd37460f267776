"""Kerekes, Mészáros & Huszár 2021, the sparse case: diagonal linear networks, GD's sparsity bias and NGD's.

The paper's abstract names two implicit biases reparameterisation gives gradient descent,
"identifying sparse classifiers or reconstructing low-rank matrices", and asks what natural
gradient does instead. `lindyn.papers.kerekes2021` covers the low-rank case; this module the
sparse one, on the one problem / one integrator of lindyn: a `DiagonalNetwork` (w = u^{⊙L} − v^{⊙L},
two 1 x d "layers") inside a `Problem`, integrated by `integrate` with the unchanged rules `GD()` and
`NGD()`, from `DiagonalInit(α)`: u(0) = v(0) = α·1 (Woodworth et al. 2020's init scale).

What is derived here, from the rules (`derive_coordinate_flow`) [derived]:

* On one coordinate (u, v) and one example, GD's and NGD's velocities (the rules' own `velocity`
  on a sympy geometry) both lie along ∂w/∂θ = (L u^{L−1}, −L v^{L−1}): u̇/∂_u w = v̇/∂_v w =: ζ̇.
  Hence Φ(u) + Φ(v) is conserved, Φ = ∫ du/(L u^{L−1}) (ln(uv)/2 at L = 2, −(u^{2−L} + v^{2−L})/(L(L−2))
  otherwise), and dsolve from u = v = α gives w(ζ) = α^L h_L(κζ), Woodworth et al.'s h_L (the oracle
  `woodworth_h`). With n examples the velocity is Jᵀc (J = Xᵀ ∂w/∂θ), so ζ = Xν, ν ∈ R^n: every point
  a GD or NGD run visits is w = α^L h_L(Xν), and on this n-dimensional manifold Xᵀw = f has one
  solution, the minimiser of Q^L_α(w) s.t. Xᵀw = f (`woodworth_interpolant`).
* GD therefore ends at the Q^L_α-interpolant of y (Woodworth et al. 2020): min-ℓ2 at L = 1 (h linear),
  → min-ℓ1 as α → 0 for L >= 2 (`min_l1_interpolant`, a linear program). Moore–Penrose NGD in
  parameter space (`NGD()` on the diagonal network) moves on the same manifold while its training
  outputs follow the derived function-space flow ḟ = −D⁻¹∇_fℓ (`function_space_trajectory`; J of full
  row rank), so its whole path is known: w_NGD(t) = Q^L_α-interpolant of f(t) (`ngd_path`), with
  f(t) = y + e^{−t}(f0 − y) (regression) or y·m(t), m(t) = ln[(e^{m0} + 1)e^t − 1] (classification).
  It keeps GD's sparsity bias, and its limit depends on depth and scale exactly as GD's. Its
  w-velocity is ẇ = −PX(XᵀPX)⁻¹(f − y), P = diag(L²(u^{2L−2} + v^{2L−2})): the function-space flow
  only when P ∝ I (L = 1: the redundant w = u − v is harmless).
* The function-space flow ("ngf": the natural gradient of the function w itself, Moore–Penrose in
  w; `NGD()` on the linear model θ = w) moves w only in the row space of X and ends at
  w(0) + X⁺ᵀ(y − Xᵀw(0)) = X⁺ᵀy (w(0) = 0 for every depth and scale here): the minimum-ℓ2
  interpolant whatever the depth or scale, no sparsity bias. In classification it turns to the
  equal-margin direction X⁺ᵀy; MP NGD on the diagonal network, whose margins equalise the same way,
  to the ℓ1 equal-margin interpolant argmin ‖w‖₁ s.t. y_i x_iᵀw = 1 (growing targets put Q_α in its
  ℓ1 regime); GD to the ℓ1 max-margin direction at L = 2 and the ℓ2 one at L = 1.

Experiment [chosen example]: a k-sparse teacher (k = 5, entries ±1) in d = 100 dimensions from
n = 40 Gaussian samples (`sparse_regression_data`; a noisy variant with σ = `NOISE`), and the same
teacher's labels for separable classification (`sparse_classification_data`); depths 1-4, init
scales α = 1e-3 … 1. Seeds (policy): a claim runs `SEEDS` (thorough: `THOROUGH_SEEDS`); within a seed
every arm (variant, depth, scale) gets the same data, and every seed's values are reported as their
own measurements (the init is deterministic).

Numerical limits (reported, not hidden): GD's plateau from small α lasts ~α^{2−L}/(L(L−2)) (L = 4,
α = 1e-3: t ~ 1e5; the stiff solver LSODA runs it, thorough only), and its slowest directions relax
at a rate ∝ α^{2L−2}, so GD's limit is compared with the oracle at α >= 0.3 and its small-α recovery
is an outcome at a stated horizon. MP NGD's Fisher is ∝ α^{2L−2} on the coordinates off the
teacher's support: where α^{2L−2} < `NGD_FISHER_MIN` (L = 3, α = 1e-3; L = 4, α <= 1e-2) those
directions fall below the Moore–Penrose cutoff (rcond 1e-12) and the integrator cannot follow the
rule, so those arms are not run (their derived path, `ngd_path`, is plotted instead).

Routes take the rule they test as a keyword, so a test can run a route with a wrong rule and see
its measurements fail.

>>> [c.name for c in CLAIMS]
['kerekes-sparse-recovery', 'kerekes-sparse-ngd-invariance']
>>> float(woodworth_h(2, 0.5)) == 2 * math.sinh(0.5)
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import sympy
from scipy.linalg import solve_triangular

from lindyn import (GD, NGD, Flow, GivenWeights, LindynError, LogisticLoss, Network, Problem, Samples, SquaredLoss,
                    integrate)
from lindyn.claims import Claim, Evidence, Measurement, Plot
from lindyn.function_space import (diagonal_problem, function_space_trajectory, l1_max_margin_direction,
                                   max_margin_direction, min_l1_interpolant, recovery_error, sign_agreement,
                                   sparse_classification_data, sparse_regression_data)
from lindyn.papers import curve, expr_difference, rel_max

__all__ = [
    "CLAIMS", "SEEDS", "THOROUGH_SEEDS", "SIZES", "NOISE", "DEPTHS", "SCALES", "VARIANTS", "NGD_FISHER_MIN",
    # oracles (Woodworth et al. 2020)
    "woodworth_h", "woodworth_h_expr", "woodworth_interpolant",
    # derived
    "CoordinateFlow", "derive_coordinate_flow", "ngd_path",
    # experiments
    "sparse_problem", "SparseRun", "train_sparse", "classification_references", "gd_horizon", "ngd_integrable",
    # routes
    "recovery_symbolic", "recovery_numeric", "invariance_symbolic", "invariance_numeric",
    # figures
    "sparse_plots",
]

SOURCE = ("Kerekes, Mészáros & Huszár 2021 (abstract: reparameterisation gives GD a bias 'identifying sparse "
          "classifiers'; THEORY §4); Woodworth et al. 2020 (the depth-D diagonal model, its h_D and Q_α)")

#: (d, n, k): input dimension, training examples, teacher sparsity (the issue's example).
SIZES = (100, 40, 5)
#: Label-noise std of the noisy regression variant (teacher entries ±1: ‖w*‖² = k = 5, Var y = 5 + σ²).
NOISE = 0.5
DEPTHS = (1, 2, 3, 4)
#: Init scales α: u(0) = v(0) = α·1 (`DiagonalInit`), smallest first.
SCALES = (1e-3, 1e-2, 1e-1, 1.0)
#: Seeds of the default check and of `thorough=True`: one data draw each, the same for every arm.
SEEDS, THOROUGH_SEEDS = (0,), (0, 1, 2)
#: The variants: GD and Moore–Penrose NGD on the diagonal network, and the function-space flow ("ngf": NGD
#: on the linear model θ = w, Moore–Penrose in w; depth and scale do not enter).
VARIANTS = ("gd", "ngd", "ngf")
#: MP NGD is integrated where α^{2L−2} >= this: its Fisher on the off-support coordinates is ∝ α^{2L−2}
#: relative to the support's, and the Moore–Penrose cutoff of `NumpyOps` (rcond 1e-12 on eigenvalues)
#: must not drop it (measured: (3, 1e-2) and (4, 1e-1) integrate in ~1 s; (3, 1e-3), (4, 1e-2) stall).
NGD_FISHER_MIN = 1e-10

#: Integrated network against the oracle interpolant: the solvers at rtol 1e-10 keep w to ~1e-9 relative
#: (measured 1e-12 … 3e-9).
ORACLE_TOL = 1e-6
#: Woodworth's interpolant at α = 1e-6 (L = 2) against the LP's min-ℓ1 interpolant: the gap closes like a power
#: of α (measured 5e-4 at α = 1e-6, seed 0); the bound checks the α → 0 limit, not its rate.
L1_LIMIT_ALPHA, L1_LIMIT_TOL = 1e-6, 1e-2
#: Recovery outcome thresholds (relative error ‖w − w*‖/‖w*‖): recovered <= 0.1 (deep GD from α = 1e-3: measured
#: 0.05 at L = 2 (t = 1e3), 6e-3 at L = 3 (t = 2e3), seed 0); not recovered >= 0.5 (min-ℓ2 interpolant: 0.84, seed 0).
RECOVERED_MAX, NOT_RECOVERED_MIN = 0.1, 0.5
#: "The limit depends on depth and scale": the spread of the limits' recovery errors over the arms >= 0.1.
DEPENDS_MIN = 0.1
#: GD is compared with the oracle at these scales (converged by `T_GD_ORACLE` under LSODA: measured <= 3e-10).
GD_ORACLE_SCALES, T_GD_ORACLE = (0.3, 1.0), 1e3     # default: the first only
#: GD classification horizon (the direction converges logarithmically); MP NGD horizon (outputs at e^{−30}).
T_GD_CLASS, T_NGD = 1e3, 30.0
#: Ratio outcomes: angle(w, the reference it should approach) / angle(w, the other) < 1 (classification); test
#: error of deep GD / depth-1 GD < 1 (noisy labels; measured 0.5, seed 0).
CLOSER_MAX = 1.0
REASON = ("integrated networks vs the oracle interpolant: DOP853 / LSODA at rtol 1e-10, atol 1e-12 keep w to ~1e-9 "
          "relative (ORACLE_TOL = 1e-6); symbolic comparisons are exact (sympy) or at 40 digits")
SYMBOLIC_TOL = 1e-30


# --- oracles: Woodworth et al. 2020 ------------------------------------------------------------------

def _power(depth: int) -> float:
    return depth / (depth - 2)


def woodworth_h(depth: int, z: Any) -> np.ndarray:
    """Woodworth et al.'s h_L: GD's diagonal-network map w = α^L h_L(z), z = Xν (numpy, stable form).

    h_2(z) = 2 sinh z; L ≠ 2: h_L(z) = (1 − z)^{−p} − (1 + z)^{−p}, p = L/(L − 2), |z| < 1
    (L = 1: p = −1, h_1(z) = −2z, linear). Evaluated as expm1(−p log1p(−z)) − expm1(−p log1p(z)),
    without cancellation at small z.

    >>> float(woodworth_h(3, 0.5)), float(woodworth_h(1, 0.25))
    (7.703703703703702, -0.5)
    """
    z = np.asarray(z, dtype=float)
    if depth == 2:
        return 2.0 * np.sinh(z)
    p = _power(depth)
    return np.expm1(-p * np.log1p(-z)) - np.expm1(-p * np.log1p(z))


def _dh(depth: int, z: np.ndarray) -> np.ndarray:
    if depth == 2:
        return 2.0 * np.cosh(z)
    p = _power(depth)
    return p * ((1 - z) ** (-p - 1) + (1 + z) ** (-p - 1))


def _H(depth: int, z: np.ndarray) -> np.ndarray:
    """H_L with H_L' = h_L (the dual potential): 2 cosh z at L = 2; [(1 − z)^{1−p} + (1 + z)^{1−p}]/(p − 1)."""
    if depth == 2:
        return 2.0 * np.cosh(z)
    p = _power(depth)
    return ((1 - z) ** (1 - p) + (1 + z) ** (1 - p)) / (p - 1)


def woodworth_h_expr(depth: int, z: Any) -> sympy.Expr:
    """h_L(z) in sympy: 2 sinh z (L = 2), (1 − z)^{−p} − (1 + z)^{−p} with p = L/(L − 2) otherwise."""
    if depth == 2:
        return 2 * sympy.sinh(z)
    p = sympy.Rational(depth, depth - 2)
    return (1 - z) ** (-p) - (1 + z) ** (-p)


def woodworth_interpolant(X: Any, targets: Any, alpha: float, depth: int) -> np.ndarray:
    """The interpolant GD reaches on a depth-L diagonal network from u = v = α (Woodworth et al. 2020).

    w = argmin Q^L_α(w) s.t. Xᵀw = targets, Q^L_α(w) = α^L Σ_j q_L(w_j/α^L), q_L' = h_L⁻¹;
    equivalently the one w = α^L h_L(Xν) with Xᵀw = targets. Computed by Newton's method on the strictly convex dual
    Ψ(ν) = α^L Σ_j H_L((Xν)_j) − targetsᵀν (H_L' = h_L; ∇Ψ = Xᵀw − targets), with backtracking that keeps
    |Xν| < 1 for L > 2. L = 1: h is linear and Q ∝ ‖w‖², the minimum-ℓ2 interpolant X⁺ᵀ targets.

    Args:
        X: data (d x n), rank n <= d.
        targets: (n,).
        alpha: α > 0.
        depth: L >= 1.

    Returns:
        w, shape (d,).

    Raises:
        LindynError: bad arguments, or Newton's method did not reach ‖Xᵀw − targets‖ <= 1e-9 max(1, ‖targets‖).

    >>> X = np.array([[1.0], [2.0]])
    >>> np.round(woodworth_interpolant(X, [2.0], 1e-9, 2), 6)               # α → 0: the min-ℓ1 interpolant
    array([0., 1.])
    >>> np.round(woodworth_interpolant(X, [2.0], 1.0, 1), 6)                # L = 1: min ℓ2
    array([0.4, 0.8])
    """
    # === check arguments
    X = np.asarray(X, dtype=float)
    y = np.asarray(targets, dtype=float).reshape(-1)
    if X.ndim != 2 or y.shape != (X.shape[1],):
        raise LindynError(f"Argument `targets` must have one entry per column of X ({X.shape[-1]}), got shape {y.shape}.")
    if not (isinstance(alpha, (int, float)) and alpha > 0 and math.isfinite(alpha)):
        raise LindynError(f"Argument `alpha` must be a finite number > 0, got alpha={alpha!r}.")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise LindynError(f"Argument `depth` must be an integer >= 1, got depth={depth!r}.")
    if depth == 1:
        return np.linalg.lstsq(X.T, y, rcond=None)[0]
    scale = max(1.0, float(np.linalg.norm(y)))
    aL = float(alpha) ** depth                      # w_±(0) = α^L: the scale of h_L's image
    nu = np.zeros(X.shape[1])

    def psi(v: np.ndarray) -> float:
        z = X @ v
        if depth != 2 and np.max(np.abs(z)) >= 1.0:
            return math.inf
        with np.errstate(over="ignore"):            # a trial step far out: Ψ = inf, rejected
            return float(aL * np.sum(_H(depth, z)) - y @ v)

    def gradient_norm(v: np.ndarray) -> float:
        z = X @ v
        if depth != 2 and np.max(np.abs(z)) >= 1.0:
            return math.inf
        with np.errstate(over="ignore"):
            return float(np.linalg.norm(X.T @ (aL * woodworth_h(depth, z)) - y))

    best = (math.inf, np.zeros(X.shape[0]))
    for _ in range(200):
        z = X @ nu
        w = aL * woodworth_h(depth, z)
        g = X.T @ w - y
        gn = float(np.linalg.norm(g))
        if gn < best[0]:
            best = (gn, w)
        if gn <= 1e-13 * scale:
            break
        # Newton step from the QR of A = diag(α^L h_L'(z))^{1/2} X: AᵀA is the Hessian, whose condition number
        # (up to ~1e18 near the boundary |z| → 1 at L > 2) the normal equations would square
        R = np.linalg.qr(np.sqrt(aL * _dh(depth, z))[:, None] * X, mode="r")
        step = solve_triangular(R, solve_triangular(R, g, trans="T"))
        # damped: |Δz| <= 2 per iteration (far from the optimum at tiny α the full step is ~1/α^L)
        s, f0, decrease, accepted = min(1.0, 2.0 / max(float(np.max(np.abs(X @ step))), 1e-300)), psi(nu), \
            float(g @ step), False
        for _ in range(60):                           # backtracking
            trial = nu - s * step
            if s * decrease > 1e-12 * (abs(f0) + 1.0):
                accepted = psi(trial) <= f0 - 1e-4 * s * decrease          # Armijo on Ψ
            else:
                accepted = gradient_norm(trial) < gn      # Ψ's decrease below its rounding: the gradient must shrink
            if accepted:
                break
            s /= 2
        if not accepted:
            break
        nu = trial
    if best[0] > 1e-9 * scale:
        raise LindynError(f"Argument `targets` must be reachable by w = α^L h_L(Xν) (X of full column rank); Newton's "
                          f"method stopped at ‖Xᵀw − targets‖ = {best[0]:.2g}.")
    return best[1]


# --- derived: one coordinate of the diagonal network, symbolically -----------------------------------

class _RankOneFisher:
    """c·jjᵀ for one example (j = ∂f/∂θ, a 2 x 1 sympy column), kept factored for its exact pseudo-inverse."""

    def __init__(self, j: sympy.Matrix, c: sympy.Expr) -> None:
        self.j, self.c = j, c

    @property
    def T(self) -> "_RankOneFisher":
        return self

    def dense(self) -> sympy.Matrix:
        return self.c * self.j * self.j.T


class _SympyOps:
    """Backend of the rules on the coordinate geometry: (c jjᵀ)^{+q} = (c|j|²)^{−q} jjᵀ/|j|² exactly."""

    def pinv_pow(self, M: Any, q: Any) -> sympy.Matrix:
        if isinstance(M, _RankOneFisher):
            n2 = sympy.expand((M.j.T * M.j)[0, 0])
            return (M.c * n2) ** (-sympy.sympify(q)) * M.j * M.j.T / n2
        M = sympy.Matrix(M)
        if M.is_diagonal():
            return sympy.diag(*[(x ** (-sympy.sympify(q)) if x != 0 else sympy.S.Zero) for x in M.diagonal()])
        raise LindynError("Argument `rule` must use the Fisher of the coordinate geometry or diagonal factors "
                          "(a general symbolic matrix power is not available here).")

    def eye(self, n: int) -> sympy.Matrix:
        return sympy.eye(n)

    def scalar(self, x: Any) -> sympy.Expr:
        return sympy.sympify(x)

    def sqrt(self, x: Any) -> sympy.Expr:
        return sympy.sqrt(x)


class _CoordinateGeometry:
    """One coordinate (u, v > 0) of a depth-L diagonal network on one example x: f = (u^L − v^L)x.

    The loss enters through g = ∂ℓ/∂f and the output Fisher c > 0 (symbols: any loss).
    """

    def __init__(self, depth: int, u: sympy.Symbol, v: sympy.Symbol, x: sympy.Symbol, g: sympy.Symbol,
                 c: sympy.Symbol) -> None:
        self.depth = 2
        self.W = (sympy.Matrix([[u]]), sympy.Matrix([[v]]))
        self.dw = (depth * u ** (depth - 1), -depth * v ** (depth - 1))
        self.j = sympy.Matrix([x * self.dw[0], x * self.dw[1]])
        self.grads = (sympy.Matrix([[self.j[0] * g]]), sympy.Matrix([[self.j[1] * g]]))
        self.c = c

    def fisher(self) -> _RankOneFisher:
        return _RankOneFisher(self.j, self.c)

    def vec(self, layers: Sequence[Any]) -> sympy.Matrix:
        return sympy.Matrix([sympy.Matrix(x)[0, 0] for x in layers])

    def unvec(self, v: Any) -> tuple[sympy.Matrix, ...]:
        v = sympy.Matrix(v)
        return (sympy.Matrix([[v[0]]]), sympy.Matrix([[v[1]]]))


@dataclass(frozen=True)
class CoordinateFlow:
    """What a rule does to one coordinate of a depth-L diagonal network, derived from its `velocity`.

    Attributes:
        rule: the rule's name; depth: L.
        velocity: (u̇, v̇) on one example (symbols u, v, x, g = ∂ℓ/∂f, c = output Fisher).
        off_span: u̇/∂_u w − v̇/∂_v w, simplified: 0 when the velocity lies along ∂w/∂θ (in range Jᵀ).
        clock: ζ̇ = u̇/∂_u w (the rule's own speed along the shared direction).
        Phi: Φ(x) = ∫ dx/(L x^{L−1}); conserved: Φ(u) + Φ(v); conserved_rate: its d/dt (simplified).
        w_of_zeta: w = u(ζ)^L − v(ζ)^L from dsolve of du/dζ = ∂_u w, dv/dζ = ∂_v w, u(0) = v(0) = α
            (None when off_span ≠ 0: no shared clock).
        kappa: the scale with w(ζ) = α^L h_L(κζ) matched at first order: w'(0)/(α^L h_L'(0)).
        symbols: name -> sympy Symbol (u, v, x, g, c, zeta, alpha).
    """

    rule: str
    depth: int
    velocity: tuple[sympy.Expr, sympy.Expr]
    off_span: sympy.Expr
    clock: sympy.Expr
    Phi: sympy.Expr
    conserved: sympy.Expr
    conserved_rate: sympy.Expr
    w_of_zeta: sympy.Expr | None
    kappa: sympy.Expr | None
    symbols: dict = field(repr=False)

    def latex(self) -> str:
        """u̇, v̇, the conserved quantity and w(ζ) as one aligned LaTeX block."""
        s = self.symbols
        rows = [rf"\dot u &= {sympy.latex(self.velocity[0])}", rf"\dot v &= {sympy.latex(self.velocity[1])}",
                rf"\Phi(u) + \Phi(v) &= {sympy.latex(self.conserved)} \quad (\text{{conserved}})"]
        if self.w_of_zeta is not None:
            rows.append(rf"w(\zeta) &= {sympy.latex(self.w_of_zeta)} = {sympy.latex(s['alpha'])}\,h_{{{self.depth}}}"
                        rf"\left({sympy.latex(self.kappa * s['zeta'])}\right)")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def derive_coordinate_flow(rule: Any, depth: int) -> CoordinateFlow:
    """Derive what `rule` does to one coordinate of a depth-L diagonal network (from its `velocity`).

    The rule runs on a sympy geometry of one coordinate and one example (W_1 = (u), W_2 = (v),
    f = (u^L − v^L)x, ∂ℓ/∂f = g, Fisher c jjᵀ with j = x(L u^{L−1}, −L v^{L−1})). If its velocity lies
    along j (off_span = 0: GD, NGD and every full-Fisher power), u and v share the clock ζ̇ = u̇/∂_u w,
    Φ(u) + Φ(v) is conserved, and dsolve of du/dζ = ∂_u w, dv/dζ = ∂_v w from u = v = α gives w(ζ).

    Args:
        rule: a learning rule (`velocity(grads, geo, ops)`).
        depth: L, 1 <= L <= 6.

    Returns:
        A `CoordinateFlow`.

    >>> flow = derive_coordinate_flow(GD(), 2)
    >>> flow.off_span, flow.conserved, flow.w_of_zeta
    (0, log(u)/2 + log(v)/2, 2*alpha**2*sinh(4*zeta))
    """
    # === check arguments
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 6:
        raise LindynError(f"Argument `depth` must be an integer in [1, 6], got depth={depth!r}.")
    if not callable(getattr(rule, "velocity", None)):
        raise LindynError(f"Argument `rule` must be a learning rule with velocity(grads, geo, ops), got rule={rule!r}.")
    return _derive_coordinate_flow(rule, depth)


@lru_cache(maxsize=None)
def _derive_coordinate_flow(rule: Any, depth: int) -> CoordinateFlow:
    # Cached: dsolve at L = 4 takes ~1 s; rules are frozen dataclasses (hashable), results immutable.
    u, v, x, g, c, alpha = sympy.symbols("u v x g c alpha", positive=True)
    zeta = sympy.Symbol("zeta", real=True)
    geo = _CoordinateGeometry(depth, u, v, x, g, c)
    du, dv = (sympy.Matrix(m)[0, 0] for m in rule.velocity(geo.grads, geo, _SympyOps()))
    du, dv = sympy.simplify(du), sympy.simplify(dv)
    clock = sympy.simplify(du / geo.dw[0])
    off_span = sympy.simplify(clock - dv / geo.dw[1])
    s = sympy.Symbol("s", positive=True)
    Phi = sympy.integrate(1 / (depth * s ** (depth - 1)), s)
    conserved = sympy.expand_log(Phi.subs(s, u) + Phi.subs(s, v), force=True)
    rate = sympy.simplify(sympy.diff(Phi, s).subs(s, u) * du + sympy.diff(Phi, s).subs(s, v) * dv)
    w_of_zeta = kappa = None
    if off_span == 0:
        a = alpha
        F = sympy.Function("F")
        ends = []
        for sign in (1, -1):
            sol = sympy.dsolve(sympy.Eq(F(zeta).diff(zeta), sign * depth * F(zeta) ** (depth - 1)), F(zeta),
                               ics={F(0): a})
            sol = sol[0] if isinstance(sol, list) else sol
            ends.append(sol.rhs)
        w_of_zeta = sympy.simplify(ends[0] ** depth - ends[1] ** depth)
        z = sympy.Symbol("z")
        kappa = sympy.simplify(sympy.diff(w_of_zeta, zeta).subs(zeta, 0)
                               / (alpha ** depth * sympy.diff(woodworth_h_expr(depth, z), z).subs(z, 0)))
    return CoordinateFlow(rule.name, depth, (du, dv), off_span, clock, Phi, conserved, rate, w_of_zeta, kappa,
                          {"u": u, "v": v, "x": x, "g": g, "c": c, "zeta": zeta, "alpha": alpha})


def _map_difference(flow: CoordinateFlow) -> float:
    """0 when sympy proves w(ζ)/α^L = h_L(κζ); else the worst relative difference at rational points (40 digits)."""
    if flow.w_of_zeta is None:
        return 1.0
    s = flow.symbols
    lhs = flow.w_of_zeta / s["alpha"] ** flow.depth
    rhs = woodworth_h_expr(flow.depth, flow.kappa * s["zeta"])
    # points inside the domain |κζ| < 1 of h_L (L > 2): α in (0, 1], ζ small
    points = [{s["alpha"]: sympy.Rational(1, 2 ** k), s["zeta"]: sympy.Rational(sign, 7 * 2 ** (k + 2))}
              for k, sign in ((1, 1), (2, -1), (3, 1))]
    return expr_difference(lhs, rhs, points)


def ngd_path(X: Any, y: Any, depth: int, alpha: float, t: Any, *, loss: str = "squared") -> np.ndarray:
    """The derived Moore–Penrose NGD path on the diagonal network: w(t) = Q^L_α-interpolant of f(t).

    f(t) is the derived function-space flow (`function_space_trajectory`) from f0 = 0 (w(0) = 0):
    squared, f = y + e^{−t}(0 − y); logistic, f = y·m(t) with m(t) from m0 = 0. Then
    w(t) = `woodworth_interpolant`(X, f(t), α, L): NGD's velocity lies along ∂w/∂θ (derived), so w stays on
    GD's manifold w = α^L h_L(Xν), where Xᵀw = f(t) has one solution.

    Args:
        X: data (d x n); y: targets or labels (n,); depth, alpha: L and α; t: times >= 0.
        loss: "squared" or "logistic".

    Returns:
        (T, d).

    >>> X = np.array([[1.0], [2.0]])
    >>> np.round(ngd_path(X, [2.0], 2, 1e-9, [0.0, 50.0]), 6)
    array([[0., 0.],
           [0., 1.]])
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    t = np.atleast_1d(np.asarray(t, dtype=float))
    if loss == "squared":
        f = function_space_trajectory("squared").evaluate(t, f0=np.zeros_like(y), y=y)
    else:
        f = function_space_trajectory("logistic").evaluate(t, m0=np.zeros_like(y)) * y
    return np.stack([woodworth_interpolant(X, fk, alpha, depth) if np.any(fk) else np.zeros(np.shape(X)[0])
                     for fk in f])


# --- experiments ----------------------------------------------------------------------------------

def _loss(kind: str) -> Any:
    return SquaredLoss() if kind == "squared" else LogisticLoss(reduction="sum")


def sparse_problem(X: Any, y: Any, depth: int, alpha: float, *, variant: str = "gd",
                   loss: str = "squared") -> Problem:
    """The problem of one arm: a depth-L `DiagonalNetwork` from `DiagonalInit(α)` ("gd", "ngd"), or the
    linear model θ = w from w(0) = 0 ("ngf": its NGD is the function-space flow; depth and α do not enter).

    Args:
        X: inputs (d x n); y: targets (n,) (labels ±1 for the logistic loss).
        depth: L >= 1; alpha: α > 0.
        variant: one of `VARIANTS`.
        loss: "squared" (mean reduction) or "logistic" (summed, as in `lindyn.papers.kerekes2021`).

    >>> p = sparse_problem(np.eye(3), [1.0, 0.0, 0.0], 2, 0.1)
    >>> p.network.shapes, float(p.initial_weights()[1][0, 2])
    (((1, 3), (1, 3)), 0.1)
    """
    # === check arguments
    if variant not in VARIANTS:
        raise LindynError(f"Argument `variant` must be one of {', '.join(map(repr, VARIANTS))}, got variant={variant!r}.")
    if loss not in ("squared", "logistic"):
        raise LindynError(f"Argument `loss` must be 'squared' or 'logistic', got loss={loss!r}.")
    if variant != "ngf":
        return diagonal_problem(X, y, depth, alpha, loss=loss)
    X = np.asarray(X, dtype=float)
    return Problem(Network((X.shape[0], 1)), Samples(X, np.asarray(y, dtype=float)[None, :]),
                   GivenWeights((np.zeros((1, X.shape[0])),)), loss=_loss(loss))


def gd_horizon(depth: int, alpha: float) -> float:
    """GD's regression horizon: 6x the plateau ζ ~ α^{2−L}/(L(L−2)) (u^{2−L} = α^{2−L} − L(L−2)ζ), >= 1e3; 100 at L = 1.

    From α = 1e-3 the L = 3 run leaves its last saddle by t ~ 1.5e3 (seeds 0-2), so t = 2e3 shows the recovery.

    >>> gd_horizon(1, 1e-3), gd_horizon(2, 1e-3), round(gd_horizon(3, 1e-3)), gd_horizon(4, 1e-3)
    (100.0, 1000.0, 2000, 750000.0)
    """
    if depth == 1:
        return 100.0
    if depth == 2:
        return 1e3
    return max(1e3, 6.0 * alpha ** (2 - depth) / (depth * (depth - 2)))


def _gd_method(depth: int, alpha: float, horizon: float) -> Flow:
    """LSODA (stiff) where GD sits long at its limit (α >= 0.3) or its plateau is long (t > 1e4), else DOP853."""
    return Flow(solver="LSODA") if alpha >= 0.3 or horizon > 1e4 else Flow()


def ngd_integrable(depth: int, alpha: float) -> bool:
    """Whether MP NGD on the diagonal network is integrable in double precision: α^{2L−2} >= `NGD_FISHER_MIN`.

    >>> [ngd_integrable(L, 1e-3) for L in (1, 2, 3, 4)]
    [True, True, False, False]
    """
    return alpha ** (2 * depth - 2) >= NGD_FISHER_MIN


@dataclass(frozen=True)
class SparseRun:
    """One trained arm, measured at every time reached.

    Attributes:
        variant, rule, depth, alpha, loss: what ran ("ngf" ignores depth and alpha).
        t: times (T,); w: the predictor w(t), (T, d); train_loss: ℓ(t).
        recovery: ‖w − w*‖/‖w*‖; test: regression: population test error ‖w − w*‖² + σ² (x ~ N(0, I_d));
            classification: test accuracy 1 − ∠(w, w*)/π (exact for x ~ N(0, I_d); ½ while w = 0).
        cos: classification only: cosines of w with the unit directions of `classification_references`
            ("l1-mm", "l2-mm", "l1-eq", "l2-eq"; nan while w = 0), else empty.
    """

    variant: str
    rule: str
    depth: int
    alpha: float
    loss: str
    t: np.ndarray
    w: np.ndarray
    train_loss: np.ndarray
    recovery: np.ndarray
    test: np.ndarray
    cos: dict = field(default_factory=dict)


@lru_cache(maxsize=8)
def _references(X_bytes: bytes, y_bytes: bytes, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    X = np.frombuffer(X_bytes).reshape(shape)
    y = np.frombuffer(y_bytes)
    l1eq, l2eq = min_l1_interpolant(X, y), np.linalg.pinv(X.T) @ y
    return {"l1-mm": l1_max_margin_direction(X, y).w, "l2-mm": max_margin_direction(X, y).w,
            "l1-eq": l1eq / np.linalg.norm(l1eq), "l2-eq": l2eq / np.linalg.norm(l2eq)}


def classification_references(X: Any, y: Any) -> dict[str, np.ndarray]:
    """Unit reference directions of separable data (X d x n, labels y): "l1-mm", "l2-mm" (ℓ1 / ℓ2 max margin:
    linear program, QP), "l1-eq", "l2-eq" (ℓ1 / ℓ2 equal-margin interpolants: argmin ‖w‖ s.t. y_i x_iᵀw = 1)."""
    X, y = np.ascontiguousarray(X, dtype=float), np.ascontiguousarray(y, dtype=float)
    return _references(X.tobytes(), y.tobytes(), X.shape)


def train_sparse(X: Any, y: Any, w_star: Any, depth: int, alpha: float, variant: str, t: Any, *,
                 loss: str = "squared", noise: float = 0.0, rule: Any = None, method: Flow = Flow()) -> SparseRun:
    """Train one arm through `integrate` and measure it (`rule` replaces the variant's: GD for "gd", else NGD).

    Args:
        X, y, w_star: data and teacher; depth, alpha, variant, loss: as `sparse_problem`.
        t: output times; noise: σ of the labels (enters the test error); method: the integrator.
    """
    rule = (GD() if variant == "gd" else NGD()) if rule is None else rule
    problem = sparse_problem(X, y, depth, alpha, variant=variant, loss=loss)
    tr = integrate(problem, rule, t, method)
    w = tr.W_end[:, 0, :]
    w_star = np.asarray(w_star, dtype=float)
    rec = recovery_error(w, w_star)
    if loss == "squared":
        return SparseRun(variant, rule.name, depth, alpha, loss, tr.t, w, tr.loss, rec,
                         np.sum((w - w_star) ** 2, axis=1) + noise ** 2)
    norms = np.linalg.norm(w, axis=1)
    moved = norms > 0
    unit = np.where(moved[:, None], w, np.nan) / np.where(moved, norms, 1.0)[:, None]
    cos = {name: unit @ ref for name, ref in classification_references(X, y).items()}
    test = np.full(len(norms), 0.5)
    test[moved] = sign_agreement(w[moved], w_star)
    return SparseRun(variant, rule.name, depth, alpha, loss, tr.t, w, tr.loss, rec, test, cos)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return math.acos(max(-1.0, min(1.0, float(a @ b) / float(np.linalg.norm(a) * np.linalg.norm(b)))))


def _regression(seed: int, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d, n, k = SIZES
    return sparse_regression_data(n, d, k, noise=noise, seed=seed)


def _classification(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d, n, k = SIZES
    return sparse_classification_data(n, d, k, seed=seed)


# --- routes --------------------------------------------------------------------------------------

def _coordinate_measurements(rule: Any, depths: Sequence[int]) -> tuple[list[Measurement], list[str]]:
    out, tex = [], []
    for L in depths:
        flow = derive_coordinate_flow(rule, L)
        out.append(Measurement(f"{rule.name} L = {L}: u̇/∂_u w − v̇/∂_v w (the velocity lies along ∂w/∂θ)",
                               0.0 if flow.off_span == 0 else 1.0, SYMBOLIC_TOL))
        out.append(Measurement(f"{rule.name} L = {L}: d/dt [Φ(u) + Φ(v)] = d/dt [{flow.conserved}]",
                               0.0 if flow.conserved_rate == 0 else 1.0, SYMBOLIC_TOL))
        out.append(Measurement(f"{rule.name} L = {L}: derived w(ζ)/α^L − Woodworth's h_L(κζ), κ = {flow.kappa}",
                               _map_difference(flow), SYMBOLIC_TOL))
        tex.append(f"% {rule.name}, L = {L}\n" + flow.latex())
    return out, tex


def recovery_symbolic(thorough: bool = False, *, rule: Any = GD()) -> Evidence:
    """From `rule`'s velocity on one coordinate: one clock for u and v, the conserved Φ(u) + Φ(v), and
    w(ζ) = α^L h_L(κζ) (dsolve) against Woodworth et al.'s h_L."""
    out, tex = _coordinate_measurements(rule, (1, 2, 3, 4, 5) if thorough else DEPTHS)
    return Evidence(f"{rule.name} on one coordinate of w = u^L − v^L: dsolve from u = v = α gives Woodworth's "
                    "w = α^L h_L(κζ); with n examples ζ = Xν", tuple(out), latex=tuple(tex))


def recovery_numeric(thorough: bool = False, *, rule: Any = GD()) -> Evidence:
    """GD on diagonal networks: its limit against Woodworth's interpolant (α >= 0.3), the oracle's α → 0 limit
    against the LP, recovery from α = 1e-3 at depths >= 2 and not at depth 1, classification directions."""
    out, text = [], []
    depths = DEPTHS if thorough else (1, 2, 3)
    for seed in (THOROUGH_SEEDS if thorough else SEEDS):
        X, y, w_star = _regression(seed)
        l1 = min_l1_interpolant(X, y)
        out.append(Measurement(f"seed {seed}: Q_α-interpolant at α = {L1_LIMIT_ALPHA:g}, L = 2 vs the LP's min-ℓ1 "
                               "interpolant (α → 0)", rel_max(woodworth_interpolant(X, y, L1_LIMIT_ALPHA, 2), l1),
                               L1_LIMIT_TOL))
        for alpha in (GD_ORACLE_SCALES if thorough else GD_ORACLE_SCALES[:1]):
            for L in depths[1:]:                     # L = 1 (min-ℓ2) is checked on the α = 1e-3 run below
                run = train_sparse(X, y, w_star, L, alpha, "gd", [0.0, T_GD_ORACLE], rule=rule,
                                   method=_gd_method(L, alpha, T_GD_ORACLE))
                out.append(Measurement(f"seed {seed}, {run.rule} L = {L}, α = {alpha:g}: w(t = {T_GD_ORACLE:g}) vs "
                                       "the Q_α-interpolant", rel_max(run.w[-1], woodworth_interpolant(X, y, alpha, L)),
                                       ORACLE_TOL))
        alpha, errs = SCALES[0], []
        for L in depths:
            T = gd_horizon(L, alpha)
            run = train_sparse(X, y, w_star, L, alpha, "gd", [0.0, T], rule=rule, method=_gd_method(L, alpha, T))
            err = float(run.recovery[-1])
            limit = float(recovery_error(woodworth_interpolant(X, y, alpha, L), w_star))
            errs.append(f"L={L}: {err:.2g} (t = {T:.3g}; limit {limit:.2g})")
            if L == 1:
                out.append(Measurement(f"seed {seed}, {run.rule} L = 1, α = {alpha:g}: w(t = {T:g}) vs the min-ℓ2 "
                                       "interpolant (the Q_α-interpolant at L = 1)",
                                       rel_max(run.w[-1], woodworth_interpolant(X, y, alpha, 1)), ORACLE_TOL))
                out.append(Measurement(f"seed {seed}, {run.rule} L = 1, α = {alpha:g}: recovery error (min-ℓ2 limit)",
                                       err, NOT_RECOVERED_MIN, "at_least"))
            else:
                out.append(Measurement(f"seed {seed}, {run.rule} L = {L}, α = {alpha:g}: recovery error at t = {T:.3g}",
                                       err, RECOVERED_MAX, "at_most"))
        text.append(f"seed {seed}: GD ‖w − w*‖/‖w*‖ from α = {alpha:g}: " + ", ".join(errs)
                    + f"; min-ℓ1 LP {float(recovery_error(l1, w_star)):.1e}")
        Xn, yn, wn = _regression(seed, NOISE)
        test = {L: float(train_sparse(Xn, yn, wn, L, alpha, "gd", [0.0, gd_horizon(L, alpha)], noise=NOISE,
                                      rule=rule).test[-1]) for L in (1, 2)}
        out.append(Measurement(f"seed {seed}, noisy labels σ = {NOISE}: {rule.name} test error ‖w − w*‖² + σ², L = 2 / "
                               f"L = 1, α = {alpha:g}", test[2] / test[1], CLOSER_MAX, "at_most"))
        text.append(f"noisy (σ = {NOISE}) test error L=1: {test[1]:.2f}, L=2: {test[2]:.2f} (σ² = {NOISE ** 2:g})")
        Xc, yc, wc = _classification(seed)
        refs = classification_references(Xc, yc)
        for L in ((1, 2, 3) if thorough else (1, 2)):
            run = train_sparse(Xc, yc, wc, L, alpha, "gd", [0.0, T_GD_CLASS], loss="logistic", rule=rule,
                               method=Flow(rtol=1e-8, atol=1e-12))
            a1, a2 = _angle(run.w[-1], refs["l1-mm"]), _angle(run.w[-1], refs["l2-mm"])
            near, far, ratio = ("ℓ2", "ℓ1", a2 / a1) if L == 1 else ("ℓ1", "ℓ2", a1 / a2)
            out.append(Measurement(f"seed {seed}, {run.rule} L = {L}, α = {alpha:g}, logistic, t = {T_GD_CLASS:g}: "
                                   f"angle(w, {near} max margin) / angle(w, {far} max margin)", ratio, CLOSER_MAX,
                                   "at_most"))
            text.append(f"classification L={L}: cos(w, ℓ1-MM) {math.cos(a1):.3f}, cos(w, ℓ2-MM) {math.cos(a2):.3f}, "
                        f"test accuracy {float(run.test[-1]):.3f}")
    return Evidence(f"d, n, k = {SIZES}; " + "; ".join(text), tuple(out))


def invariance_symbolic(thorough: bool = False, *, rule: Any = NGD()) -> Evidence:
    """`rule` (Moore–Penrose NGD) on one coordinate: GD's shared clock, invariant and map w(ζ); the derived
    output flows it follows on the training set."""
    depths = (1, 2, 3, 4, 5) if thorough else DEPTHS
    out, tex = _coordinate_measurements(rule, depths)
    for L in depths:
        mine, gd = derive_coordinate_flow(rule, L), derive_coordinate_flow(GD(), L)
        same = expr_difference(mine.w_of_zeta, gd.w_of_zeta, [{}]) if mine.w_of_zeta is not None else 1.0
        out.append(Measurement(f"{rule.name} L = {L}: its w(ζ) − GD's w(ζ) (the same invariant manifold)", same,
                               SYMBOLIC_TOL))
    sq, lo = function_space_trajectory("squared"), function_space_trajectory("logistic")
    clock = derive_coordinate_flow(rule, 2).clock
    return Evidence(f"{rule.name} moves each coordinate along ∂w/∂θ with its own clock (L = 2: ζ̇ = {clock}), so it "
                    f"stays on GD's manifold w = α^L h_L(Xν); its training outputs follow the derived "
                    f"{sq.solution.lhs} = {sq.solution.rhs} and {lo.solution.lhs} = {lo.solution.rhs}", tuple(out),
                    latex=tuple(tex) + (sq.latex(), lo.latex()))


#: MP NGD arms of the default check (each integrable, `ngd_integrable`); thorough: every integrable (L, α).
NGD_ARMS = ((1, 1e-3), (2, 1e-3), (2, 1.0), (3, 1e-2), (3, 1.0))


def invariance_numeric(thorough: bool = False, *, rule: Any = NGD()) -> Evidence:
    """MP NGD on diagonal networks against its derived path (the Q_α-interpolant of f(t)); the function-space
    flow against X⁺ᵀf(t); the recovery errors; classification (equal-margin directions)."""
    out, text = [], []
    arms = tuple((L, a) for L in DEPTHS for a in SCALES if ngd_integrable(L, a)) if thorough else NGD_ARMS
    times = np.array([0.0, 1.0, 4.0, T_NGD])
    for seed in (THOROUGH_SEEDS if thorough else SEEDS):
        X, y, w_star = _regression(seed)
        limits = {}
        for L, alpha in arms:
            run = train_sparse(X, y, w_star, L, alpha, "ngd", times, rule=rule)
            out.append(Measurement(f"seed {seed}, {run.rule} L = {L}, α = {alpha:g}: w(t) vs the Q_α-interpolant of "
                                   f"f(t) = (1 − e^(−t))y, t = 1, 4, {T_NGD:g}",
                                   rel_max(run.w[1:], ngd_path(X, y, L, alpha, run.t[1:])), ORACLE_TOL))
            limits[(L, alpha)] = float(run.recovery[-1])
        for L in sorted({L for L, _ in limits if L >= 2}):
            alpha = min(a for L2, a in limits if L2 == L)     # the smallest integrated scale of this depth
            out.append(Measurement(f"seed {seed}, MP NGD L = {L}, α = {alpha:g}: recovery error (GD's sparsity bias "
                                   "kept)", limits[(L, alpha)], RECOVERED_MAX, "at_most"))
        out.append(Measurement(f"seed {seed}, MP NGD: spread of the limits' recovery errors over (L, α) (the limit "
                               "depends on them)", max(limits.values()) - min(limits.values()), DEPENDS_MIN, "at_least"))
        ngf = train_sparse(X, y, w_star, 1, 1.0, "ngf", times)
        f = function_space_trajectory("squared").evaluate(ngf.t, f0=np.zeros_like(y), y=y)
        out.append(Measurement(f"seed {seed}, function-space flow: w(t) vs X⁺ᵀf(t) (w stays in the row space of X)",
                               rel_max(ngf.w[1:], f[1:] @ np.linalg.pinv(X)), ORACLE_TOL))
        out.append(Measurement(f"seed {seed}, function-space flow: recovery error (limit X⁺ᵀy for every L and α)",
                               float(ngf.recovery[-1]), NOT_RECOVERED_MIN, "at_least"))
        text.append(f"seed {seed}: MP NGD limits ‖w − w*‖/‖w*‖ " + ", ".join(
            f"(L={L}, α={a:g}) {e:.2g}" for (L, a), e in limits.items()) + f"; function-space flow {ngf.recovery[-1]:.3f}")
        Xc, yc, wc = _classification(seed)
        refs = classification_references(Xc, yc)
        tc = np.array([0.0, 2.0, 10.0])
        for L in ((2, 3) if thorough else (2,)):
            alpha = SCALES[0] if ngd_integrable(L, SCALES[0]) else SCALES[1]
            run = train_sparse(Xc, yc, wc, L, alpha, "ngd", tc, loss="logistic", rule=rule)
            out.append(Measurement(f"seed {seed}, {run.rule} L = {L}, α = {alpha:g}, logistic: w(t) vs the "
                                   "Q_α-interpolant of y·m(t), t = 2, 10",
                                   rel_max(run.w[1:], ngd_path(Xc, yc, L, alpha, run.t[1:], loss="logistic")),
                                   ORACLE_TOL))
            ratio = _angle(run.w[-1], refs["l1-eq"]) / _angle(run.w[-1], refs["l1-mm"])
            out.append(Measurement(f"seed {seed}, {run.rule} L = {L}, α = {alpha:g}, logistic, t = 10: angle(w, ℓ1 "
                                   "equal margins) / angle(w, ℓ1 max margin)", ratio, CLOSER_MAX, "at_most"))
            text.append(f"classification MP NGD L={L}: cos(w, ℓ1 equal margins) {run.cos['l1-eq'][-1]:.3f}, "
                        f"cos(w, ℓ1-MM) {run.cos['l1-mm'][-1]:.3f}, test accuracy {run.test[-1]:.3f}")
        ngf = train_sparse(Xc, yc, wc, 1, 1.0, "ngf", tc, loss="logistic")
        out.append(Measurement(f"seed {seed}, function-space flow, logistic: 1 − cos(w, X⁺ᵀy) at t = 2, 10",
                               float(1.0 - np.min(ngf.cos["l2-eq"][1:])), ORACLE_TOL))
        text.append(f"classification function-space flow: test accuracy {ngf.test[-1]:.3f}")
    return Evidence(f"d, n, k = {SIZES}; " + "; ".join(text), tuple(out))


CLAIMS: tuple[Claim, ...] = (
    Claim("kerekes-sparse-recovery",
          "Gradient descent on a depth-L diagonal network w = u^{⊙L} − v^{⊙L} from u = v = α moves on w = α^L h_L(Xν) "
          "and ends at Woodworth et al.'s interpolant argmin Q^L_α(w) s.t. Xᵀw = y (min-ℓ2 at L = 1, min-ℓ1 as α → 0); "
          "from α = 1e-3 deep GD (L >= 2) recovers a 5-sparse teacher in d = 100 from n = 40 samples (relative error "
          "<= 0.1) while depth 1 does not (>= 0.5), with noisy labels (σ = 0.5) depth 2 has the lower test error, and in "
          "classification deep GD turns towards the ℓ1 max-margin direction (depth 1: ℓ2).",
          r"w_{\mathrm{GD}}(\infty) = \arg\min_{X^\top w = y} Q^L_\alpha(w),\quad w = \alpha^L h_L(X\nu)",
          SOURCE + "; the coordinate map and its invariant: [derived]; the example: [chosen example]",
          recovery_symbolic, recovery_numeric, ORACLE_TOL, REASON),
    Claim("kerekes-sparse-ngd-invariance",
          "On diagonal networks the reparameterisation-invariant function-space flow moves w only in the row space of X "
          "and ends at the min-ℓ2 interpolant X⁺ᵀy for every depth and init scale (no sparsity bias: relative error >= "
          "0.5), while Moore–Penrose NGD in parameter space, not invariant, stays on GD's invariant manifold: its path "
          "is the Q^L_α-interpolant of the derived outputs f(t), so it recovers the sparse teacher like deep GD (<= 0.1 "
          "from the smallest scale it is integrable at: α = 1e-3 at L = 2, 1e-2 at L = 3, 0.1 at L = 4) and its limit "
          "depends on depth and init scale.",
          r"w_{\mathrm{NGF}}(t) = X^{+\top} f(t),\qquad w_{\mathrm{NGD}}(t) = \arg\min_{X^\top w = f(t)} Q^L_\alpha(w)",
          SOURCE + "; both paths: [derived]; the example: [chosen example]",
          invariance_symbolic, invariance_numeric, ORACLE_TOL, REASON),
)


# --- figures (derivations/kerekes2021.py and the report) -------------------------------------------

def sparse_plots(seed: int = 0, depths: Sequence[int] = DEPTHS, scales: Sequence[float] = SCALES) -> list[Plot]:
    """The figures of the sparse case (data seed `seed`; every arm on the same data), ~1 min on one core.

    In order (draw them as four figures: [0], [1, 2], [3], [4, 5], [6]):

    0. "kerekes-sparse-scale": the limit's recovery error against α per depth: GD integrated to
       `gd_horizon` (o; at L >= 3 and small α not yet at its limit there), MP NGD integrated to t = 30
       where integrable (x), their derived limit (Woodworth's interpolant, lines), the function-space
       flow, min-ℓ1 (LP) and min-ℓ2;
    1, 2. "kerekes-sparse-recovery-time", "kerekes-sparse-loss-time": recovery error and training loss over t
       (L = 2, 3; GD from α = 1e-3, MP NGD from its smallest integrable α) and the function-space flow;
    3. "kerekes-sparse-noisy": the noisy variant (σ = `NOISE`): population test error ‖w − w*‖² + σ² over t;
    4, 5. "kerekes-sparse-cos-l1", "kerekes-sparse-cos-l2": classification, cosine of w(t) to the ℓ1 (LP)
       and ℓ2 (QP) max-margin directions;
    6. "kerekes-sparse-accuracy": classification test accuracy 1 − ∠(w, w*)/π over t.
    """
    X, y, w_star = _regression(seed)
    return ([_scale_panel(X, y, w_star, seed, depths, scales)] + _time_panels(X, y, w_star)
            + [_noisy_panel(seed)] + _classification_panels(seed))


def _scale_panel(X: np.ndarray, y: np.ndarray, w_star: np.ndarray, seed: int, depths: Sequence[int],
                 scales: Sequence[float]) -> Plot:
    l1, l2 = min_l1_interpolant(X, y), np.linalg.pinv(X.T) @ y
    curves = []
    for k, L in enumerate(depths):
        limit = [max(float(recovery_error(woodworth_interpolant(X, y, a, L), w_star)), 1e-16) for a in scales]
        curves.append(curve(f"Q_α-interpolant, L = {L}", scales, limit, "-", k))
        gd = []
        for a in scales:
            T = gd_horizon(L, a)
            gd.append(float(train_sparse(X, y, w_star, L, a, "gd", [0.0, T], method=_gd_method(L, a, T)).recovery[-1]))
        kept = [a for a in scales if ngd_integrable(L, a)]
        ngd = [float(train_sparse(X, y, w_star, L, a, "ngd", [0.0, T_NGD]).recovery[-1]) for a in kept]
        curves += [curve("GD at its horizon" if k == 0 else "", scales, np.maximum(gd, 1e-16), "o", k),
                   curve("MP NGD at t = 30" if k == 0 else "", kept, np.maximum(ngd, 1e-16), "x", k)]
    ngf = float(train_sparse(X, y, w_star, 1, 1.0, "ngf", [0.0, T_NGD]).recovery[-1])
    curves += [curve("function-space flow (every L, α)", scales, [ngf] * len(scales), "--", 7),
               curve("min-ℓ2", scales, [float(recovery_error(l2, w_star))] * len(scales), ":", 9),
               curve("min-ℓ1 (LP)", scales, [max(float(recovery_error(l1, w_star)), 1e-16)] * len(scales), ":", 8)]
    return Plot("kerekes-sparse-scale", f"recovery error of the limit, (d, n, k) = {SIZES}, seed {seed}",
                "init scale α", "‖w − w*‖ / ‖w*‖", tuple(curves), "log", "log")


def _time_panels(X: np.ndarray, y: np.ndarray, w_star: np.ndarray) -> list[Plot]:
    rec, loss = [], []
    for k, (L, a_ngd) in enumerate(((2, 1e-3), (3, 1e-2))):
        for variant, alpha, T, style in (("gd", SCALES[0], gd_horizon(L, SCALES[0]), "-"), ("ngd", a_ngd, T_NGD, "--")):
            t = np.concatenate([[0.0], np.logspace(-2, math.log10(T), 40)])
            r = train_sparse(X, y, w_star, L, alpha, variant, t,
                             method=_gd_method(L, alpha, T) if variant == "gd" else Flow())
            label = f"{'GD' if variant == 'gd' else 'MP NGD'} L = {L}, α = {alpha:g}"
            rec.append(curve(label, r.t[1:], np.maximum(r.recovery[1:], 1e-16), style, k))
            loss.append(curve(label, r.t[1:], np.maximum(r.train_loss[1:], 1e-30), style, k))
    r = train_sparse(X, y, w_star, 1, 1.0, "ngf", np.concatenate([[0.0], np.logspace(-2, math.log10(T_NGD), 40)]))
    rec.append(curve("function-space flow", r.t[1:], r.recovery[1:], ":", 7))
    loss.append(curve("function-space flow", r.t[1:], np.maximum(r.train_loss[1:], 1e-30), ":", 7))
    return [Plot("kerekes-sparse-recovery-time", "recovery of the 5-sparse teacher over time", "t", "‖w − w*‖ / ‖w*‖",
                 tuple(rec), "log", "log"),
            Plot("kerekes-sparse-loss-time", "training loss (MP NGD and the function-space flow share f(t))", "t",
                 "training loss", tuple(loss), "log", "log")]


def _noisy_panel(seed: int) -> Plot:
    Xn, yn, wn = _regression(seed, NOISE)
    noisy = []
    for k, (L, a_ngd) in enumerate(((1, 1e-3), (2, 1e-3), (3, 1e-2))):
        for variant, alpha, T, style in (("gd", SCALES[0], gd_horizon(L, SCALES[0]), "-"), ("ngd", a_ngd, T_NGD, "--")):
            t = np.concatenate([[0.0], np.logspace(-2, math.log10(T), 40)])
            r = train_sparse(Xn, yn, wn, L, alpha, variant, t, noise=NOISE,
                             method=_gd_method(L, alpha, T) if variant == "gd" else Flow())
            noisy.append(curve(f"{'GD' if variant == 'gd' else 'MP NGD'} L = {L}, α = {alpha:g}", r.t[1:], r.test[1:],
                               style, k))
    r = train_sparse(Xn, yn, wn, 1, 1.0, "ngf", np.concatenate([[0.0], np.logspace(-2, math.log10(T_NGD), 40)]),
                     noise=NOISE)
    noisy.append(curve("function-space flow", r.t[1:], r.test[1:], ":", 7))
    return Plot("kerekes-sparse-noisy", f"noisy labels (σ = {NOISE}): population test error", "t", "‖w − w*‖² + σ²",
                tuple(noisy), "log", "log")


def _classification_panels(seed: int) -> list[Plot]:
    Xc, yc, wc = _classification(seed)
    l1c, l2c, acc = [], [], []
    for k, (L, a_ngd) in enumerate(((1, 1e-3), (2, 1e-3), (3, 1e-2))):
        for variant, alpha, T, style in (("gd", SCALES[0], T_GD_CLASS, "-"), ("ngd", a_ngd, 40.0, "--")):
            if variant == "ngd" and L == 1:
                continue                       # MP NGD at L = 1 is the function-space flow (drawn below)
            t = np.concatenate([[0.0], np.logspace(-2, math.log10(T), 40)])
            r = train_sparse(Xc, yc, wc, L, alpha, variant, t, loss="logistic", method=Flow(rtol=1e-8, atol=1e-12))
            label = f"{'GD' if variant == 'gd' else 'MP NGD'} L = {L}, α = {alpha:g}"
            l1c.append(curve(label, r.t[1:], r.cos["l1-mm"][1:], style, k))
            l2c.append(curve(label, r.t[1:], r.cos["l2-mm"][1:], style, k))
            acc.append(curve(label, r.t[1:], r.test[1:], style, k))
    r = train_sparse(Xc, yc, wc, 1, 1.0, "ngf", np.concatenate([[0.0], np.logspace(-2, math.log10(40.0), 40)]),
                     loss="logistic")
    l1c.append(curve("function-space flow", r.t[1:], r.cos["l1-mm"][1:], ":", 7))
    l2c.append(curve("function-space flow", r.t[1:], r.cos["l2-mm"][1:], ":", 7))
    acc.append(curve("function-space flow", r.t[1:], r.test[1:], ":", 7))
    return [Plot("kerekes-sparse-cos-l1", "classification: cosine to the ℓ1 max-margin direction (LP)", "t",
                 "cos(w, ℓ1 max margin)", tuple(l1c), "log"),
            Plot("kerekes-sparse-cos-l2", "classification: cosine to the ℓ2 max-margin direction (QP)", "t",
                 "cos(w, ℓ2 max margin)", tuple(l2c), "log"),
            Plot("kerekes-sparse-accuracy", "classification: test accuracy 1 − ∠(w, w*)/π", "t", "test accuracy",
                 tuple(acc), "log")]
