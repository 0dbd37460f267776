"""Estimated Kronecker factors and adaptive damping: the curvature of the algorithms people run (numpy).

A rule names its estimator (`lindyn.rules.SampledFisher`, `EmpiricalFisher`, `MovingAverage`,
`ExactFactors`) and, optionally, a `LevenbergMarquardt` damping; the geometry of one minibatch
computes the estimate here, reading and writing the run's `CurvatureState` (random draws, running
averages, the current λ), which the `Stochastic` solver owns and carries from step to step.

For layer i with inputs ã_n (a 1 appended for a bias) and output Jacobians M_n = ∂f_n/∂z_i, the
loss weight ω (1/n for a mean) and the loss's output curvature D_n:

* input factor  Ā_i = ω Σ_n ã_n ã_nᵀ;
* output factor G_i = (1/(n S)) Σ_{n,s} g̃ g̃ᵀ, g̃ = M_nᵀ e, with e ~ N(0, D_n/ω) (`SampledFisher`,
  S draws; E G_i = E_n[M_nᵀ (D_n/ω) M_n], the exact factor) or e = ∇_{f_n}ℓ_n / ω, the observed
  residual (`EmpiricalFisher`: not the Fisher);
* `MovingAverage`: F̂_k = β_k F̂_{k−1} + (1 − β_k) F_batch, β_k = min(1 − 1/k, decay), per factor.

>>> import numpy as np
>>> state = CurvatureState(np.random.default_rng(0))
>>> state.damping_value(0.5, 0.5)     # first read: the schedule's initial value
0.5
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import fail
from ..rules import EmpiricalFisher, ExactFactors, LevenbergMarquardt, MovingAverage, SampledFisher

__all__ = ["CurvatureState", "estimate_factors", "update_damping"]


@dataclass
class CurvatureState:
    """What a stochastic run remembers between steps (mutable; owned by one `Stochastic.solve`).

    Attributes:
        rng: the generator of the estimators' draws.
        step: steps taken so far.
        damping: current λ of each `LevenbergMarquardt` schedule met so far.
        averages: running factor estimates per (estimator, layer).
        updates: number of running-average updates per (estimator, layer).
        read: schedules whose λ the current step read (they are adapted after the step).
    """

    rng: np.random.Generator
    step: int = 0
    damping: dict[Any, float] = field(default_factory=dict)
    averages: dict[Any, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    updates: dict[Any, int] = field(default_factory=dict)
    read: set[Any] = field(default_factory=set)

    def damping_value(self, schedule: Any, initial: float) -> float:
        """Current λ of `schedule` (its initial value on first read); marks it read this step."""
        self.read.add(schedule)
        return self.damping.setdefault(schedule, float(initial))


def _needs_state(estimator: Any, state: CurvatureState | None) -> CurvatureState:
    if state is None:
        raise fail("estimator", "ExactFactors() outside a stochastic run: integrate with method=Stochastic(...) to "
                                f"use {estimator.name} (it needs random draws or memory between steps)",
                   estimator.name)
    return state


def _batch_factors(geo: Any, estimator: Any, state: CurvatureState | None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(G_i, Ā_i) of every layer from this geometry's examples."""
    if isinstance(estimator, ExactFactors):
        return tuple((geo.output_factor(i), geo.input_factor(i)) for i in range(geo.depth))
    f, Y = geo.outputs, geo.data.Y
    k, n = f.shape
    omega = 1.0 / n if getattr(geo.loss, "reduction", "mean") == "mean" else 1.0
    if isinstance(estimator, SampledFisher):
        rng = _needs_state(estimator, state).rng
        scale = np.sqrt(np.asarray(geo.output_curvature, dtype=float) / omega)
        draws = estimator.samples
        # k x (S n): the S draws side by side; drawn in single precision (2x faster; a draw's rounding,
        # 6e-8 relative, is far below the estimator's own sampling error 1/√(nS))
        e = rng.standard_normal((k, draws * n), dtype=np.float32).astype(float)
        e *= np.tile(scale, (1, draws)) if draws > 1 else scale
        deltas = geo.backpropagate(e, repeats=draws)
        count = n * draws
    elif isinstance(estimator, EmpiricalFisher):
        deltas = geo.backpropagate(np.asarray(geo.loss.grad(f, Y), dtype=float) / omega)
        count = n
    else:
        raise fail("estimator", "ExactFactors(), SampledFisher(...), EmpiricalFisher() or MovingAverage(...)", estimator)
    out = []
    for i in range(geo.depth):
        a = geo.layer_inputs[i]
        out.append(((deltas[i] @ deltas[i].T) / count, omega * (a @ a.T)))
    return tuple(out)


def estimate_factors(geo: Any, estimator: Any, state: CurvatureState | None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(G_i, Ā_i) for every layer i: the estimator's view of K-FAC's factors at this geometry.

    A `MovingAverage` folds the batch estimate into the state's running average (once per geometry:
    the geometry caches the result) and returns the average.
    """
    if not isinstance(estimator, MovingAverage):
        return _batch_factors(geo, estimator, state)
    state = _needs_state(estimator, state)
    batch = _batch_factors(geo, estimator.of, state)
    out = []
    for i, (G, A) in enumerate(batch):
        key = (estimator, i)
        k = state.updates.get(key, 0) + 1
        beta = min(1.0 - 1.0 / k, estimator.decay)
        if key in state.averages:
            G0, A0 = state.averages[key]
            G, A = beta * G0 + (1 - beta) * G, beta * A0 + (1 - beta) * A
        state.averages[key], state.updates[key] = (G, A), k
        out.append((G, A))
    return tuple(out)


def update_damping(state: CurvatureState, rho: float) -> None:
    """λ ← grow·λ if ρ < low, shrink·λ if ρ > high, for every schedule read this step (then clear).

    A non-finite ρ (the step made the loss NaN or the model predicted no decrease) counts as a bad
    step: λ grows.
    """
    for schedule in state.read:
        assert isinstance(schedule, LevenbergMarquardt)
        lam = state.damping[schedule]
        if not np.isfinite(rho) or rho < schedule.low:
            lam *= schedule.grow
        elif rho > schedule.high:
            lam *= schedule.shrink
        state.damping[schedule] = min(max(lam, schedule.minimum), schedule.maximum)
    state.read.clear()
