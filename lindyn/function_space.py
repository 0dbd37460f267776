"""Natural gradient flow in function space (Kerekes, Mészáros & Huszár 2021): derived, and measured.

The public module of the function-space results. It joins the symbolic derivation
(`lindyn.symbolic.function_space`: ḟ = −D⁻¹∇_fℓ from the loss and the output likelihood, solved
by `sympy.dsolve`, evaluated in a sympy-derived stable form) with the generic numeric tools the
experiments measure with (`lindyn.numeric.classification`, `lindyn.numeric.completion`). The
experiments themselves run through the one problem / one integrator (`Problem`, `integrate`) in
`lindyn.papers.kerekes2021`, which also holds the claims. The sparse case (diagonal linear networks,
`lindyn.papers.kerekes2021_sparse`) takes its data, its model (`diagonal_problem`) and its reference
solutions from here: a k-sparse teacher, the minimum-ℓ1 interpolant and the ℓ1 max-margin direction
(linear programs, certified by duality), the recovery error and the Gaussian test accuracy.

Which natural gradient the closed forms describe: any generalized inverse of the full Fisher
F = J_fᵀDJ_f (so `NGD()` of `lindyn.rules`, Moore–Penrose), provided the output Jacobian J_f on
the training set has full row rank; D is the output-distribution Fisher of the loss
(`LogisticLoss`: Bernoulli p(1 − p); `SquaredLoss`: 1; `MaskedSquaredLoss(fisher="model")`: 1 on
every entry, which gives the reparameterisation-invariant completion flow Ẇ = −P_Ω(W − M)).

>>> traj = function_space_trajectory("logistic")
>>> traj.ode
Eq(Derivative(m(t), t), 1 + exp(-m(t)))
>>> [round(float(x), 12) for x in traj.evaluate([1.0, 5.0], m0=0.0)]
[1.489880125645, 5.689772519291]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Literal

import numpy as np
import sympy

from ._checks import check_int, check_real, fail
from .numeric.losses import LogisticLoss, SquaredLoss
from .problem import DiagonalInit, DiagonalNetwork, Problem, Samples
from .numeric.classification import (MaxMargin, equal_margin_direction, max_margin_direction, outside_span,
                                     separable_data)
from .numeric.completion import completion_errors, effective_rank, low_rank_problem, singular_crossing
from .symbolic.function_space import LOSS_NAMES, ReductionCheck, derive_output_flow, derive_reduction

__all__ = ["FunctionSpaceTrajectory", "function_space_trajectory", "derive_reduction", "ReductionCheck",
           # generic numeric tools of the experiments (lindyn.numeric), offered here as the public API
           "MaxMargin", "max_margin_direction", "equal_margin_direction", "outside_span", "separable_data",
           "low_rank_problem", "completion_errors", "effective_rank", "singular_crossing",
           # sparse recovery with diagonal linear networks (the sparse case of Kerekes et al. 2021)
           "sparse_teacher", "sparse_regression_data", "sparse_classification_data", "diagonal_problem",
           "min_l1_interpolant", "L1MaxMargin", "l1_max_margin_direction", "recovery_error", "sign_agreement"]

#: Accepted relative duality gap / infeasibility of the linear programs of `min_l1_interpolant` and
#: `l1_max_margin_direction` (HiGHS solves them to ~1e-12 on the experiments' sizes).
LP_TOL = 1e-8

#: The keyword parameters of `FunctionSpaceTrajectory.evaluate` per loss (symbol names of the derivation).
_PARAMS = {"logistic": ("m0",), "squared": ("f0", "y"), "masked": ("f0", "y", "mask")}


@dataclass(frozen=True)
class FunctionSpaceTrajectory:
    """Closed-form training outputs under natural gradient flow, whatever the architecture.

    Valid when the output Jacobian J_f on the training set has full row rank (see
    `lindyn.symbolic.function_space`). logistic: margins m = yf, ṁ = 1 + e^{−m},
    m(t) = ln[(e^{m0} + 1)e^t − 1]; squared: ḟ = y − f, f(t) = y + e^{−t}(f0 − y); masked
    (completion, model Fisher): ḟ = −m(f − y), f(t) = y + e^{−mt}(f0 − y) with the mask bit m
    (Kerekes, Mészáros & Huszár 2021; THEORY §4). All are derived, never typed in.

    Attributes:
        loss: "logistic", "squared" or "masked".
        ode: the derived ODE (sympy.Eq).
        solution: the derived solution (sympy.Eq), from `sympy.dsolve`.
        fisher: the output Fisher D(f) derived from the likelihood.
        loss_expr: ℓ(f).
        symbols: name -> sympy Symbol.
        stable: `solution.rhs` rewritten by sympy for floating point (logistic:
            t + logaddexp(m0, ln(−expm1(−t)))), checked equal to it; what `evaluate` runs.
    """

    loss: str
    ode: sympy.Eq
    solution: sympy.Eq
    fisher: sympy.Expr
    loss_expr: sympy.Expr
    symbols: dict
    stable: sympy.Expr
    _stable_fn: Callable[..., Any] = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def latex(self) -> str:
        """LaTeX of the loss, output Fisher, ODE and solution, one aligned block.

        >>> "\\\\frac{d}{d t}" in function_space_trajectory("squared").latex()
        True
        """
        rows = [rf"\ell(f) &= {sympy.latex(self.loss_expr)}",
                rf"D(f) &= {sympy.latex(self.fisher)}",
                rf"{sympy.latex(self.ode.lhs)} &= {sympy.latex(self.ode.rhs)}",
                rf"{sympy.latex(self.solution.lhs)} &= {sympy.latex(self.solution.rhs)}"]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _args(self) -> tuple[sympy.Symbol, ...]:
        return (self.symbols["t"],) + tuple(self.symbols[k] for k in _PARAMS[self.loss])

    def lambdify(self) -> Callable[..., Any]:
        """The derived solution as a numpy function (direct formula, may overflow for large t).

        logistic: fn(t, m0); squared: fn(t, f0, y); masked: fn(t, f0, y, mask). For large t use
        `evaluate`, which runs the stable rewrite `self.stable` of the same solution.

        Returns:
            A numpy function of (t, m0), (t, f0, y) or (t, f0, y, mask).

        >>> round(float(function_space_trajectory("logistic").lambdify()(1.0, 0.0)), 12)
        1.489880125645
        """
        return sympy.lambdify(self._args(), self.solution.rhs, "numpy")

    def evaluate(self, t: Any, **params: Any) -> np.ndarray:
        """Evaluate the derived solution without overflow; broadcasts t (T,) against the outputs (n,).

        Runs `stable` (sympy's rewrite of the dsolve result, lambdified once), so the values are
        the derivation's, finite for any t >= 0 and finite m0 (e.g. t = 1e6, m0 = ±800).

        Args:
            t: times >= 0 (scalar or 1-d).
            **params: logistic: m0 (initial margins); squared: f0 and y (initial outputs, targets);
                masked: f0, y and mask (0/1 per entry); each scalar or 1-d.

        Returns:
            Array of shape t.shape + params' shape (margins for logistic, outputs otherwise).

        >>> function_space_trajectory("squared").evaluate([0.0, 1.0], f0=[0.0, 2.0], y=[1.0, 1.0]).round(6)
        array([[0.      , 2.      ],
               [0.632121, 1.367879]])
        >>> function_space_trajectory("logistic").evaluate([0.0, 1e6], m0=[-800.0, 800.0]).tolist()
        [[-800.0, 800.0], [1000000.0, 1000800.0]]
        """
        # === check arguments
        needed = set(_PARAMS[self.loss])
        if set(params) != needed:
            raise fail("params", "exactly the keywords " + ", ".join(sorted(needed)), sorted(params))
        try:
            tt = np.asarray(t, dtype=float)
            vals = {k: np.asarray(v, dtype=float) for k, v in params.items()}
        except (TypeError, ValueError):
            raise fail("t", "real numbers", t) from None
        if tt.ndim > 1 or not np.all(np.isfinite(tt)) or np.any(tt < 0):
            raise fail("t", "finite times >= 0 (scalar or 1-d)", t)
        for k, v in vals.items():
            if v.ndim > 1 or not np.all(np.isfinite(v)):
                raise fail(k, "finite numbers (scalar or 1-d)", params[k])
        if len(vals) > 1:
            try:
                np.broadcast_shapes(*(v.shape for v in vals.values()))
            except ValueError:
                raise fail("y", "of the same length as f0 (one target per output)", params["y"]) from None
        T = tt.reshape(tt.shape + (1,) * max(v.ndim for v in vals.values()))
        fn = self._stable_fn if self._stable_fn is not None else sympy.lambdify(self._args(), self.stable, "numpy")
        with np.errstate(divide="ignore"):            # ln(−expm1(−0)) = −inf; logaddexp(m0, −inf) = m0
            out = fn(T, *(vals[k] for k in _PARAMS[self.loss]))
        shape = np.broadcast_shapes(T.shape, *(v.shape for v in vals.values()))
        return np.broadcast_to(np.asarray(out, dtype=float), shape).copy()


def function_space_trajectory(loss: Literal["logistic", "squared", "masked"]) -> FunctionSpaceTrajectory:
    """Derive the function-space NGF of `loss` (ḟ = −D⁻¹∇_fℓ) and its closed-form solution.

    Args:
        loss: "logistic" (labels ±1, Bernoulli output), "squared" (unit Gaussian output) or "masked"
            (matrix completion: ½ m (f − y)² per entry with the Gaussian model Fisher of every entry).

    Returns:
        A `FunctionSpaceTrajectory`.

    >>> function_space_trajectory("logistic").solution
    Eq(m(t), log((exp(m_0) + 1)*exp(t) - 1))
    """
    # === check arguments
    if loss not in LOSS_NAMES:
        raise fail("loss", "one of " + ", ".join(repr(x) for x in LOSS_NAMES), loss)
    return _derive_trajectory(loss)


@lru_cache(maxsize=None)
def _derive_trajectory(loss: str) -> FunctionSpaceTrajectory:
    # Cached: dsolve and the simplify check of the stable form take ~1 s; the result is immutable.
    flow = derive_output_flow(loss)
    args = (flow.symbols["t"],) + tuple(flow.symbols[k] for k in _PARAMS[loss])
    return FunctionSpaceTrajectory(loss, flow.ode, flow.solution, flow.fisher, flow.loss_expr, flow.symbols,
                                   flow.stable, sympy.lambdify(args, flow.stable, "numpy"))


# --- sparse recovery: data and the reference interpolants / directions (numpy, scipy.optimize.linprog) ---

def sparse_teacher(d: int, k: int, seed: int = 0) -> np.ndarray:
    """A k-sparse teacher w* ∈ R^d: support of k coordinates drawn uniformly, entries ±1 (random signs).

    Args:
        d: dimension >= 1.
        k: number of non-zero entries, 1 <= k <= d.
        seed: random seed (integer >= 0).

    Returns:
        w*, shape (d,), with ‖w*‖₀ = k and ‖w*‖₂ = √k.

    >>> w = sparse_teacher(10, 3, seed=0); int(np.sum(w != 0)), float(np.sum(w ** 2))
    (3, 3.0)
    """
    # === check arguments
    d = check_int(d, "d", minimum=1)
    k = check_int(k, "k", minimum=1, maximum=d)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng([seed, 17])
    w = np.zeros(d)
    w[rng.choice(d, size=k, replace=False)] = rng.choice([-1.0, 1.0], size=k)
    return w


def _gaussian_inputs(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, 29]).normal(size=(d, n))


def sparse_regression_data(n: int, d: int, k: int, *, noise: float = 0.0,
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n Gaussian inputs x_i ~ N(0, I_d) with targets y_i = w*ᵀx_i + σε_i, w* = `sparse_teacher(d, k, seed)`.

    For x ~ N(0, I_d) the population test error of a predictor w is E(wᵀx − y)² = ‖w − w*‖² + σ².

    Args:
        n: number of examples >= 1.
        d: input dimension >= 1.
        k: sparsity of the teacher, 1 <= k <= d.
        noise: σ >= 0, standard deviation of the label noise ε_i ~ N(0, 1).
        seed: random seed of the teacher, the inputs and the noise.

    Returns:
        (X, y, w*): X of shape (d, n), y of shape (n,), w* of shape (d,).

    >>> X, y, w = sparse_regression_data(4, 6, 2, seed=1); X.shape, bool(np.allclose(y, w @ X))
    ((6, 4), True)
    """
    # === check arguments
    n = check_int(n, "n", minimum=1)
    noise = check_real(noise, "noise", nonnegative=True)
    w = sparse_teacher(d, k, seed)
    X = _gaussian_inputs(n, d, seed)
    eps = np.random.default_rng([seed, 31]).normal(size=n)
    return X, w @ X + noise * eps, w


def sparse_classification_data(n: int, d: int, k: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n Gaussian inputs x_i ~ N(0, I_d) labelled by a k-sparse teacher: y_i = sign(w*ᵀx_i) (separable).

    Args:
        n: number of examples >= 1.
        d: input dimension >= 1.
        k: sparsity of the teacher, 1 <= k <= d.
        seed: random seed (the same teacher and inputs as `sparse_regression_data` with this seed).

    Returns:
        (X, y, w*): X (d, n), labels y ∈ {−1, +1}^n, w* (d,).

    >>> X, y, w = sparse_classification_data(5, 8, 2, seed=0); bool(np.all(y * (w @ X) > 0))
    True
    """
    # === check arguments
    n = check_int(n, "n", minimum=1)
    w = sparse_teacher(d, k, seed)
    X = _gaussian_inputs(n, d, seed)
    y = np.sign(w @ X)
    y[y == 0] = 1.0
    return X, y, w


def diagonal_problem(X: Any, y: Any, depth: int, alpha: float, *, loss: str = "squared") -> Problem:
    """A depth-L diagonal linear network fitted to (X, y): w = u^{⊙L} − v^{⊙L} from u = v = α·1 (w(0) = 0).

    `Problem(DiagonalNetwork(d, L), Samples(X, y), DiagonalInit(α), loss)`, the model of Woodworth et
    al. 2020's sparse-recovery analysis, integrated by `lindyn.integrate` with any rule.

    Args:
        X: inputs (d x n), one column per example.
        y: targets (n,): real for loss "squared" (mean reduction), labels ±1 for "logistic" (summed).
        depth: L >= 1.
        alpha: init scale α > 0.
        loss: "squared" or "logistic".

    Returns:
        The `Problem`.

    >>> p = diagonal_problem(np.eye(3), [1.0, 0.0, 0.0], 2, 0.1)
    >>> p.network.shapes, float(p.initial_weights()[1][0, 2])
    (((1, 3), (1, 3)), 0.1)
    """
    # === check arguments
    if loss not in ("squared", "logistic"):
        raise fail("loss", "'squared' or 'logistic'", loss)
    X = np.asarray(X, dtype=float)
    data = Samples(X, np.asarray(y, dtype=float).reshape(1, -1))
    return Problem(DiagonalNetwork(X.shape[0] if X.ndim == 2 else 0, depth), data, DiagonalInit(alpha),
                   loss=SquaredLoss() if loss == "squared" else LogisticLoss(reduction="sum"))


def _check_design(X: Any, y: Any, labels: bool) -> tuple[np.ndarray, np.ndarray]:
    X = np.array(X, dtype=float)
    y = np.array(y, dtype=float).reshape(-1)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise fail("X", "a finite 2-d data matrix (d x n, one column per example)", X)
    if y.shape != (X.shape[1],) or not np.all(np.isfinite(y)):
        raise fail("y", f"{X.shape[1]} finite targets (one per column of X)", y)
    if labels and not np.all(np.abs(y) == 1):
        raise fail("y", f"{X.shape[1]} labels in {{-1, +1}}", y)
    return X, y


def _linprog(c: np.ndarray, **kw: Any) -> Any:
    from scipy.optimize import linprog
    return linprog(c, method="highs", **kw)


def min_l1_interpolant(X: Any, y: Any) -> np.ndarray:
    """The minimum-ℓ1 interpolant argmin ‖w‖₁ s.t. Xᵀw = y (basis pursuit), by a linear program.

    Solved as min 1ᵀ(p + q) s.t. Xᵀ(p − q) = y, p, q >= 0 (HiGHS), and certified by LP duality:
    the dual max yᵀλ s.t. ‖Xλ‖_∞ <= 1 must be feasible and close the gap (within `LP_TOL`). This is
    the limit of gradient descent on a depth-2 diagonal network as the init scale α → 0 (Woodworth
    et al. 2020, Theorem 1 with Q_α → ‖·‖₁).

    Args:
        X: data (d x n), one column per example.
        y: targets (n,).

    Returns:
        w, shape (d,).

    Raises:
        LindynError: no interpolant exists (y outside the range of Xᵀ).

    >>> np.round(min_l1_interpolant(np.array([[1.0], [2.0]]), [2.0]), 6)     # all weight on the larger input
    array([0., 1.])
    """
    # === check arguments
    X, y = _check_design(X, y, labels=False)
    d = X.shape[0]
    A = np.hstack([X.T, -X.T])
    res = _linprog(np.ones(2 * d), A_eq=A, b_eq=y, bounds=[(0, None)] * (2 * d))
    if res.status != 0:
        raise fail("y", "targets that some w interpolates (Xᵀw = y)", f"a linear program with status {res.status}")
    w = res.x[:d] - res.x[d:]
    lam = res.eqlin.marginals
    scale = max(1.0, float(np.abs(w).sum()))
    gap = abs(float(y @ lam) - float(np.abs(w).sum())) / scale
    residual = float(np.max(np.abs(X.T @ w - y))) / max(1.0, float(np.abs(y).max()))
    infeasible = max(float(np.max(np.abs(X @ lam))) - 1.0, residual)
    if gap > LP_TOL or infeasible > LP_TOL:
        raise fail("X", f"data whose basis-pursuit LP closes its duality gap to {LP_TOL:g}",
                   f"gap {gap:.2g}, infeasibility {infeasible:.2g}")
    return w


@dataclass(frozen=True)
class L1MaxMargin:
    """ℓ1 max-margin classifier: v = argmin ‖v‖₁ s.t. y_i vᵀx_i >= 1.

    Attributes:
        w: unit (ℓ2) direction v/‖v‖₂, shape (d,).
        margin: the ℓ1-normalised margin min_i y_i vᵀx_i / ‖v‖₁ = 1/‖v‖₁.
        v: the LP solution.
        support: indices of the examples with y_i vᵀx_i = 1 (active constraints).
    """

    w: np.ndarray
    margin: float
    v: np.ndarray
    support: np.ndarray


def l1_max_margin_direction(X: Any, y: Any) -> L1MaxMargin:
    """The ℓ1 max-margin direction argmax_{‖v‖₁ <= 1} min_i y_i vᵀx_i, by a linear program.

    Solved as min 1ᵀ(p + q) s.t. y_i x_iᵀ(p − q) >= 1, p, q >= 0 (HiGHS) and certified by LP
    duality: μ >= 0 with ‖Σ_i μ_i y_i x_i‖_∞ <= 1 and 1ᵀμ = ‖v‖₁ (within `LP_TOL`). Gradient descent
    on the logistic loss of a depth-2 diagonal network converges in direction to it (Gunasekar et
    al. 2018; Moroshko et al. 2020), as plain GD does to the ℓ2 one (`max_margin_direction`).

    Args:
        X: data (d x n), one column per example.
        y: labels ±1 (n,).

    Returns:
        An `L1MaxMargin`.

    Raises:
        LindynError: the data are not linearly separable through the origin.

    >>> mm = l1_max_margin_direction(np.array([[1.0, 0.0], [0.0, 2.0]]), [1.0, 1.0])
    >>> np.round(mm.v, 6), round(mm.margin, 6)                           # v = (1, ½), ‖v‖₁ = 3/2
    (array([1. , 0.5]), 0.666667)
    """
    # === check arguments
    X, y = _check_design(X, y, labels=True)
    d = X.shape[0]
    Z = X * y
    res = _linprog(np.ones(2 * d), A_ub=-np.hstack([Z.T, -Z.T]), b_ub=-np.ones(X.shape[1]),
                   bounds=[(0, None)] * (2 * d))
    if res.status != 0:
        raise fail("X", "linearly separable through the origin with labels y", "data without a separating direction")
    v = res.x[:d] - res.x[d:]
    mu = -res.ineqlin.marginals
    norm1 = float(np.abs(v).sum())
    gap = abs(float(mu.sum()) - norm1) / max(1.0, norm1)
    infeasible = max(float(np.max(np.abs(Z @ mu))) - 1.0, float(-mu.min(initial=0.0)), float(np.max(1.0 - Z.T @ v)))
    if gap > LP_TOL or infeasible > LP_TOL:
        raise fail("X", f"data whose ℓ1 max-margin LP closes its duality gap to {LP_TOL:g}",
                   f"gap {gap:.2g}, infeasibility {infeasible:.2g}")
    return L1MaxMargin(v / np.linalg.norm(v), 1.0 / norm1, v, np.flatnonzero(Z.T @ v < 1.0 + 1e-9))


def recovery_error(w: Any, w_star: Any) -> np.ndarray:
    """Relative recovery error ‖w − w*‖₂/‖w*‖₂ of each estimate (rows of w).

    Args:
        w: estimates, shape (d,) or (T, d).
        w_star: the teacher (d,), non-zero.

    Returns:
        Shape () or (T,).

    >>> float(recovery_error(np.array([1.0, 1.0]), np.array([1.0, 0.0])))
    1.0
    """
    # === check arguments
    w, w_star = np.asarray(w, dtype=float), np.asarray(w_star, dtype=float)
    if w_star.ndim != 1 or w.shape[-1] != w_star.shape[0] or not np.any(w_star):
        raise fail("w_star", f"a non-zero vector of length {w.shape[-1]}", f"shape {w_star.shape}")
    return np.linalg.norm(w - w_star, axis=-1) / np.linalg.norm(w_star)


def sign_agreement(w: Any, w_star: Any) -> np.ndarray:
    """Test accuracy of the classifier sign(wᵀx) against the teacher sign(w*ᵀx), x ~ N(0, I_d): 1 − ∠(w, w*)/π.

    Exact for isotropic Gaussian inputs (the two half-spaces disagree on a wedge of angle ∠(w, w*)),
    so no test set is sampled.

    Args:
        w: classifiers, shape (d,) or (T, d), non-zero.
        w_star: the teacher (d,), non-zero.

    Returns:
        Shape () or (T,), in [0, 1].

    >>> float(sign_agreement(np.array([1.0, 1.0]), np.array([1.0, 0.0])))            # 45°: 1 − 1/4
    0.75
    """
    # === check arguments
    w, w_star = np.asarray(w, dtype=float), np.asarray(w_star, dtype=float)
    if w_star.ndim != 1 or w.shape[-1] != w_star.shape[0] or not np.any(w_star):
        raise fail("w_star", f"a non-zero vector of length {w.shape[-1]}", f"shape {w_star.shape}")
    cos = (w @ w_star) / (np.linalg.norm(w, axis=-1) * np.linalg.norm(w_star))
    return 1.0 - np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi
