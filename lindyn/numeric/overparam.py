"""Finite over-parameterisation: natural gradient flow of a small tanh network in function space.

Kerekes, Mészáros & Huszár 2021 (THEORY §4). Network f(x) = Σ_j v_j tanh(w_jᵀx), hidden width h,
parameters θ = (W (h x d), vᵀ (1 x h)), squared loss ℓ = ½Σ_n (f(x_n) − y_n)², Gaussian output
Fisher D = I. NGF is `NGD(q=1)` of `lindyn.rules` (full Fisher F = J_fᵀJ_f, Moore–Penrose) run on
`TanhGeometry`: the rule's body only needs `fisher()`, `vec` and `unvec`, so the same object that
trains deep linear networks trains this one. When the output Jacobian J_f (n x P, P = h(d + 1))
keeps full row rank along the path, the training outputs follow f(t) = y + e^{−t}(f(0) − y)
exactly; a net with P < n (too narrow) cannot, because ḟ = J_fθ̇ lies in an h(d + 1)-dimensional
subspace.

>>> import numpy as np
>>> X, y = tanh_task(4, 2, seed=0)
>>> W0 = tanh_init(2, 8, scale=1.0, seed=0)
>>> geo = TanhGeometry(W0, X, y)
>>> geo.fisher().rank() == 4
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.integrate import DOP853

from .._checks import check_int, check_real, check_times, fail
from ..rules import GD, NGD
from ._ops import NumpyOps, unvec_layers, vec_layers
from .losses import LowRankGram, resolve_rule

__all__ = ["TanhGeometry", "tanh_task", "tanh_init", "TanhRun", "run_tanh"]


def _integrate_until_stuck(rhs: Any, y0: np.ndarray, times: np.ndarray, rtol: float, atol: float,
                           max_nfev: int) -> tuple[np.ndarray, list[np.ndarray], float | None]:
    """DOP853 step by step, sampled at `times` by dense output; stop early if the budget is spent.

    Not `matrix_ode.solve_flow`: a too-narrow net's Fisher changes rank along the path and the
    step size collapses; `solve_flow` would raise and return nothing, while `run_tanh` reports
    the outputs up to where the flow stalled (`TanhRun.stopped_at`), which is the measurement.
    """
    out_t, out_y = [float(times[0])], [y0.copy()] if times[0] == 0 else []
    if times[0] != 0:
        out_t = []
    k = 1 if times[0] == 0 else 0
    if times[-1] == 0:
        return np.asarray(out_t), out_y, None
    solver = DOP853(rhs, 0.0, y0, float(times[-1]), rtol=rtol, atol=atol)
    while solver.status == "running":
        solver.step()
        if solver.status == "failed":
            break
        dense = solver.dense_output()
        while k < times.size and times[k] <= solver.t:
            out_t.append(float(times[k]))
            out_y.append(dense(times[k]))
            k += 1
        if solver.nfev > max_nfev:
            break
    stopped = None if k == times.size else float(solver.t)
    return np.asarray(out_t), out_y, stopped


class TanhGeometry:
    """Geometry of f(x) = vᵀtanh(Wx) on data X (d x n) with squared loss to targets y.

    Layers are (W, vᵀ); `grads` are ∂ℓ/∂W and ∂ℓ/∂vᵀ; `fisher()` is J_fᵀJ_f factored as a
    `LowRankGram`; `vec` / `unvec` stack the layers column-major. GD and NGD run on it; the
    block rules need a linear chain (A_i, B_i) and do not.

    Args:
        layers: (W, vᵀ), shapes (h, d) and (1, h).
        X: inputs (d x n).
        y: targets (n,).
    """

    def __init__(self, layers: tuple[np.ndarray, np.ndarray], X: np.ndarray, y: np.ndarray) -> None:
        self.W = tuple(np.asarray(x, dtype=float) for x in layers)
        self.depth = 2
        self.X, self.y = X, y
        W, vt = self.W
        self.H = np.tanh(W @ X)                     # h x n
        self.f = (vt @ self.H)[0]                   # n
        r = self.f - y
        S = (1 - self.H ** 2) * vt.T                # ∂f_n/∂(w_j·x_n) = v_j (1 − tanh²)
        self.grads = ((S * r) @ X.T, (self.H @ r)[None, :])
        self.shapes = (W.shape, vt.shape)
        self._S = S

    def output_jacobian(self) -> np.ndarray:
        """J_f = ∂f/∂θ, shape (n, h d + h), columns ordered as `vec`."""
        h, d = self.shapes[0]
        n = self.X.shape[1]
        # ∂f_n/∂W_jk = S_jn X_kn, column-major index j + h k.
        JW = (self._S.T[:, :, None] * self.X.T[:, None, :]).reshape(n, h * d, order="F")
        return np.hstack([JW, self.H.T])

    def fisher(self) -> LowRankGram:
        """F = J_fᵀJ_f (D = I), factored."""
        return LowRankGram(self.output_jacobian())

    def vec(self, layers: Any) -> np.ndarray:
        """θ = (vec W, v), column-major (`vec_layers`)."""
        return vec_layers(layers)

    def unvec(self, v: Any) -> tuple[np.ndarray, ...]:
        """Inverse of `vec` (`unvec_layers`)."""
        return unvec_layers(v, self.shapes)


def tanh_task(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n inputs x ~ N(0, I_d) with targets y = sin(x_1) + ½x_2 (a smooth nonlinear target).

    Args:
        n: examples >= 1; d: input dimension >= 2; seed: random seed.

    Returns:
        (X, y), X of shape (d, n).

    >>> X, y = tanh_task(5, 3, seed=0)
    >>> X.shape, bool(np.allclose(y, np.sin(X[0]) + 0.5 * X[1]))
    ((3, 5), True)
    """
    # === check arguments
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=2)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    X = rng.normal(size=(d, n))
    return X, np.sin(X[0]) + 0.5 * X[1]


def tanh_init(d: int, h: int, *, scale: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """W ~ N(0, scale²/d), v ~ N(0, scale²/h) (fan-in scaling).

    Args:
        d: input dimension; h: hidden width >= 1; scale: > 0; seed: random seed.

    Returns:
        (W, vᵀ), shapes (h, d) and (1, h).

    >>> [w.shape for w in tanh_init(3, 5, seed=0)]
    [(5, 3), (1, 5)]
    """
    # === check arguments
    d = check_int(d, "d", minimum=1)
    h = check_int(h, "h", minimum=1)
    scale = check_real(scale, "scale", positive=True)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    return scale * rng.normal(size=(h, d)) / np.sqrt(d), scale * rng.normal(size=(1, h)) / np.sqrt(h)


@dataclass(frozen=True)
class TanhRun:
    """Training outputs of a tanh net under a rule, against the function-space flow.

    Attributes:
        width: h; n_params: P = h(d + 1); n: training examples.
        rule: rule name.
        t: times; f: outputs f(t), shape (T, n); f_flow: y + e^{−t}(f(0) − y), shape (T, n).
        deviation: max_t ‖f(t) − f_flow(t)‖ / ‖f(0) − y‖.
        min_row_singular: smallest singular value of J_f over the stored times (0 if P < n).
        velocity_gap: ‖ḟ(0) − (y − f(0))‖ / ‖f(0) − y‖ at t = 0, ḟ = J_fθ̇: the part of the residual
            outside range(J_f); 0 when J_f has full row rank, > 0 for P < n.
        stopped_at: None if every requested time was reached; else the time where the flow
            stalled (the Fisher of a too-narrow net turns singular along the path, e.g. when an
            output weight v_j passes through 0, and θ̇ = −F⁺∇ℓ jumps as its rank changes).
    """

    width: int
    n_params: int
    n: int
    rule: str
    t: np.ndarray
    f: np.ndarray
    f_flow: np.ndarray
    deviation: float
    min_row_singular: float
    stopped_at: float | None = None
    velocity_gap: float = 0.0


def run_tanh(X: Any, y: Any, width: int, t: Any, *, rule: Any = "ngf", scale: float = 1.0, seed: int = 0,
             rtol: float = 1e-10, atol: float = 1e-12, max_nfev: int = 20000) -> TanhRun:
    """Train f(x) = vᵀtanh(Wx) by NGF (or GD) and compare its outputs with f = y + e^{−t}(f(0) − y).

    Args:
        X: inputs (d x n); y: targets (n,).
        width: hidden width h >= 1.
        t: increasing output times >= 0.
        rule: "ngf" (NGD(q=1), Gaussian output Fisher), "gd", or a learning rule object (any
            object with `velocity(grads, geo, ops)` that runs on `TanhGeometry`: `grads`,
            `fisher()`, `vec`, `unvec`).
        scale, seed: of `tanh_init`.
        rtol, atol: integrator tolerances.
        max_nfev: right-hand-side budget; past it the run stops and says where (`stopped_at`).

    Returns:
        A `TanhRun` on the times reached.

    >>> X, y = tanh_task(4, 2, seed=0)
    >>> run = run_tanh(X, y, 4, [0.0, 1.0, 3.0])       # P = 12 >= n = 4
    >>> run.stopped_at is None and run.deviation < 1e-8
    True
    """
    # === check arguments
    X = np.array(X, dtype=float)
    y = np.array(y, dtype=float).reshape(-1)
    if X.ndim != 2 or y.shape != (X.shape[1],) or not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise fail("X", "a finite d x n array with n targets y", f"X of shape {X.shape}, y of shape {y.shape}")
    width = check_int(width, "width", minimum=1)
    chosen = resolve_rule(rule, {"ngf": NGD, "gd": GD})
    times = np.asarray(check_times(np.ravel(t), "t"), dtype=float)
    d, n = X.shape
    W0 = tanh_init(d, width, scale=scale, seed=seed)
    ops = NumpyOps()
    geo0 = TanhGeometry(W0, X, y)

    def rhs(_: float, theta: np.ndarray) -> np.ndarray:
        geo = TanhGeometry(geo0.unvec(theta), X, y)
        return geo.vec(chosen.velocity(geo.grads, geo, ops))

    ts, thetas, stopped = _integrate_until_stuck(rhs, geo0.vec(W0), times, rtol, atol, max_nfev)
    geos = [TanhGeometry(geo0.unvec(th), X, y) for th in thetas]
    f = np.array([g.f for g in geos])
    # The thing compared against: the function-space flow ḟ = y − f solved (Kerekes et al. 2021; THEORY §4).
    # This module may not import sympy; `lindyn.function_space` checks the same runs against the derived
    # solution (`function_space_trajectory("squared")`) in its claim.
    f_flow = y + np.exp(-ts)[:, None] * (f[0] - y)
    dev = float(np.max(np.linalg.norm(f - f_flow, axis=1)) / np.linalg.norm(f[0] - y))
    P = width * (d + 1)
    smin = 0.0 if P < n else min(float(np.linalg.svd(g.output_jacobian(), compute_uv=False)[-1]) for g in geos)
    r0 = geo0.f - y
    f_dot0 = geo0.output_jacobian() @ rhs(0.0, geo0.vec(W0))
    gap = float(np.linalg.norm(f_dot0 + r0) / np.linalg.norm(r0))
    return TanhRun(width, P, n, getattr(chosen, "name", "user"), ts, f, f_flow, dev, smin, stopped, gap)
