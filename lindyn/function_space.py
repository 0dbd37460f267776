"""Natural gradient flow in function space (Kerekes, Mészáros & Huszár 2021): derived, and measured.

The public module of the function-space results. It joins the symbolic derivation
(`lindyn.symbolic.function_space`: ḟ = −D⁻¹∇_fℓ from the loss and the output likelihood, solved
by `sympy.dsolve`, evaluated in a sympy-derived stable form) with the generic numeric tools the
experiments measure with (`lindyn.numeric.classification`, `lindyn.numeric.completion`). The
experiments themselves run through the one problem / one integrator (`Problem`, `integrate`) in
`lindyn.papers.kerekes2021`, which also holds the claims.

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

from ._checks import fail
from .numeric.classification import (MaxMargin, equal_margin_direction, max_margin_direction, outside_span,
                                     separable_data)
from .numeric.completion import completion_errors, effective_rank, low_rank_problem, singular_crossing
from .symbolic.function_space import LOSS_NAMES, ReductionCheck, derive_output_flow, derive_reduction

__all__ = ["FunctionSpaceTrajectory", "function_space_trajectory", "derive_reduction", "ReductionCheck",
           # generic numeric tools of the experiments (lindyn.numeric), offered here as the public API
           "MaxMargin", "max_margin_direction", "equal_margin_direction", "outside_span", "separable_data",
           "low_rank_problem", "completion_errors", "effective_rank", "singular_crossing"]

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
