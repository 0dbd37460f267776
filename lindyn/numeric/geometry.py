"""The full-matrix geometry of a network at θ, for every model, loss and data (numpy or mpmath).

One class, `MatrixGeometry`, implements the `lindyn._types.Geometry` protocol that the learning
rules read, with the same meaning for every problem:

* `W`, `depth`, `grads` (g_i = ∂ℓ/∂W_i), `vec`/`unvec`;
* `A[i]` = W_{i−1}⋯W_1, `B[i]` = W_L⋯W_{i+1} (deep linear nets without biases only: a nonlinear
  net has no such chain, and asking for it is an error, never a silent substitute);
* `Sigma` = E[xxᵀ], the second moment of the network's inputs (the data's, for every loss);
* `output_curvature`: the loss's output Fisher D (k x n per example entry; the identity for the
  squared loss on moments);
* `input_factor(i)`, `output_factor(i)`: K-FAC's Kronecker factors of the diagonal Fisher block,
  F_ii ≈ input_factor(i) ⊗ output_factor(i) (Martens & Grosse 2015). Deep linear net with squared
  loss: A_iΣA_iᵀ and B_iᵀB_i, exact. With per-example curvature D_n = ω c_n diag(o)
  (`Loss.kfac_weights`), input_factor = Σ_n ω c_n ã_n ã_nᵀ and output_factor = E_n[M_nᵀ diag(o) M_n]
  (ã_n the layer's input with a 1 appended for a bias, M_n = ∂f_n/∂z_i): exact for a linear chain
  (M_n = B_i for every n), K-FAC's independence approximation otherwise;
* `fisher()`: F = J_fᵀ D J_f, structured (`KroneckerFisher` on moments, `LowRankGram` on samples)
  on the efficient route, dense on the explicit one.

Data are `Moments` (Σ, Σ_yx: the squared loss in its population form ½ tr[(W − W*)Σ(W − W*)ᵀ])
or `SampleData` (X, Y with any `Loss`).

A diagonal linear network (`diagonal_depth=L`, samples only; `lindyn.DiagonalNetwork`) has the two
1 x d layers W_1 = uᵀ, W_2 = vᵀ and the forward map f = wᵀX with w = u^{⊙L} − v^{⊙L}: grads, outputs,
`jacobian` (J_f = [Xᵀ diag(L u^{L−1}), −Xᵀ diag(L v^{L−1})]), `fisher` and `end_to_end_velocity`
(ẇ = L u^{L−1} ⊙ u̇ − L v^{L−1} ⊙ v̇) are those of this map; it has no chain products A_i, B_i and
no K-FAC factors (asking for them is an error). A layer with a bias is the matrix [W_i  b_i] acting on
[a; 1] (Bernacchia et al. 2018's convention), so every rule treats it as one weight matrix.

>>> import numpy as np
>>> from lindyn.numeric._ops import NumpyOps
>>> geo = MatrixGeometry((np.array([[2.0]]), np.array([[3.0]])), Moments(np.eye(1), np.array([[1.0]])))
>>> [float(g[0, 0]) for g in geo.grads]       # B_iᵀ(WΣ − Σ_yx)A_iᵀ with W = 6
[15.0, 10.0]
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Literal, Sequence

import numpy as np

from .._chain import chain_products, end_to_end_velocity, squared_loss_gradients
from .._checks import fail
from ._ops import NumpyOps, unvec_layers, vec_layers

__all__ = ["Moments", "SampleData", "MatrixGeometry", "VelocityField", "Activation", "forward"]

FisherRoute = Literal["efficient", "explicit"]
Activation = Literal["linear", "tanh"]


@dataclass(frozen=True)
class Moments:
    """Population data of the squared loss: Σ = E[xxᵀ], Σ_yx = E[yxᵀ] (numpy or mpf arrays)."""

    Sigma: Any
    Sigma_yx: Any


@dataclass(frozen=True)
class SampleData:
    """Samples: inputs X (n_0 x n) and targets Y (n_L x n), one column per example."""

    X: np.ndarray
    Y: np.ndarray


def _phi(z: np.ndarray, activation: str) -> tuple[np.ndarray, np.ndarray]:
    """φ(z) and φ'(z) of the hidden activation."""
    if activation == "tanh":
        h = np.tanh(z)
        return h, 1.0 - h * h
    return z, np.ones_like(z)


def forward(W: Sequence[np.ndarray], X: np.ndarray, activation: str = "linear", bias: bool = False) -> np.ndarray:
    """f = W_L φ(⋯ φ(W_1 x)) for the columns of X (a layer with a bias acts on [a; 1])."""
    h = X
    for i, w in enumerate(W):
        z = w[:, :-1] @ h + w[:, -1:] if bias else w @ h
        h = np.tanh(z, out=z) if i < len(W) - 1 and activation == "tanh" else z
    return h


class MatrixGeometry:
    """Geometry of a network with layers W_1..W_L at one point θ (see the module docstring).

    Args:
        W: layer weights; W_i has shape (n_i, n_{i−1}) (or (n_i, n_{i−1} + 1) with a bias).
        data: `Moments` or `SampleData`.
        ops: the backend (`NumpyOps()` default, or `MpmathOps(dps)` on moments).
        fisher_route: 'efficient' (structured Fisher) or 'explicit' (dense F).
        loss: the `Loss` of sample data (ignored for moments: squared loss).
        activation: hidden activation 'linear' or 'tanh' (sample data only).
        bias: whether each W_i carries a bias column (sample data only).
        diagonal_depth: None (a chain of layers), or the power L of a diagonal network: W = (uᵀ, vᵀ),
            w = u^{⊙L} − v^{⊙L} (sample data only).
        state: a stochastic run's `lindyn.numeric.curvature.CurvatureState` (draws, running averages,
            adaptive damping), or None.
    """

    def __init__(self, W: Sequence[Any], data: Moments | SampleData, ops: Any = None,
                 fisher_route: FisherRoute = "efficient", *, loss: Any = None, activation: Activation = "linear",
                 bias: bool = False, diagonal_depth: int | None = None, state: Any = None) -> None:
        self.ops = ops if ops is not None else NumpyOps()
        self.state = state
        self.noted: dict[int, tuple[Any, Any]] = {}
        self.depth = len(W)
        self.W = tuple(W)
        self.data = data
        self.fisher_route = fisher_route
        self.loss = loss
        self.activation = activation
        self.bias = bias
        self.shapes = tuple(w.shape for w in self.W)
        self.diagonal_depth = diagonal_depth
        self.linear_chain = activation == "linear" and not bias and diagonal_depth is None
        if diagonal_depth is not None:
            if isinstance(data, Moments):
                raise fail("data", "SampleData(X, Y) for a diagonal network", "Moments")
            self._diagonal_forward_backward()
        elif isinstance(data, Moments):
            self.Sigma = data.Sigma
            self.Sigma_yx = data.Sigma_yx
            self._chain = chain_products(self.W, self.ops.eye)
            self.grads = squared_loss_gradients(*self._chain, self.Sigma, self.Sigma_yx)
        else:
            self._forward_backward()

    # ------------------------------------------------------------------ samples
    def _forward_backward(self) -> None:
        X, Y = self.data.X, self.data.Y
        n = X.shape[1]
        ones = np.ones((1, n))
        inputs, derivs = [], []          # ã_{i} (layer inputs, with 1 for a bias) and φ'(z_i)
        h = X
        for i, w in enumerate(self.W):
            a = np.vstack([h, ones]) if self.bias else h
            inputs.append(a)
            z = w @ a
            if i < self.depth - 1:
                h, d = _phi(z, self.activation)
                derivs.append(d)
            else:
                h = z
        self.outputs = h                                   # f (k x n)
        self._inputs, self._derivs = inputs, derivs
        deltas = self.backpropagate(self.loss.grad(h, Y))
        self.grads = tuple(d @ a.T for d, a in zip(deltas, inputs))
        self.Sigma = X @ X.T / n

    def backpropagate(self, e: np.ndarray, repeats: int = 1) -> list[np.ndarray]:
        """δ_i = ∂(Σ_n e_nᵀ f_n)/∂z_i for every layer i: output vectors e (k x n·repeats) pulled back.

        δ_L = e, δ_{i−1} = (W_iᵀ δ_i) ⊙ φ'(z_{i−1}) (the bias column does not propagate). With
        `repeats` = S the columns are S blocks of the n examples (S draws per example).
        """
        deltas: list[np.ndarray] = [e] * self.depth
        delta = e
        for i in range(self.depth - 1, 0, -1):
            back = self.W[i][:, :-1] if self.bias else self.W[i]
            d = self._derivs[i - 1]
            delta = (back.T @ delta) * (np.tile(d, (1, repeats)) if repeats > 1 else d)
            deltas[i - 1] = delta
        return deltas

    @property
    def layer_inputs(self) -> list[np.ndarray]:
        """ã_{i−1} of every layer i (n_{i−1} (+1 with a bias) x n), sample data."""
        return self._inputs

    @property
    def loss_value(self) -> float:
        """ℓ(f; Y) on this geometry's samples."""
        return float(self.loss.value(self.outputs, self.data.Y))

    def output_jvp(self, V: Sequence[np.ndarray]) -> np.ndarray:
        """J_f V: the first-order change of the outputs f (k x n) along layer directions V_i (chain nets).

        Forward mode: ż_i = V_i ã_{i−1} + W_i ȧ_{i−1} (without the bias column), ȧ_i = φ'(z_i) ⊙ ż_i.
        """
        dz = None
        for i, (w, v) in enumerate(zip(self.W, V)):
            z_dot = v @ self._inputs[i]
            if dz is not None:
                z_dot = z_dot + (w[:, :-1] if self.bias else w) @ dz
            dz = z_dot * self._derivs[i] if i < self.depth - 1 else z_dot
        return dz

    # ------------------------------------------------------------------ estimated curvature (stochastic runs)
    def estimated_factors(self, i: int, estimator: Any) -> tuple[np.ndarray, np.ndarray]:
        """(G_i, Ā_i): K-FAC's factors as `estimator` sees them on these samples (`lindyn.numeric.curvature`)."""
        if isinstance(self.data, Moments) or self.diagonal_depth is not None:
            raise fail("estimator", "ExactFactors() on moment data or a diagonal network (estimators read samples "
                                    "of a chain network)", getattr(estimator, "name", estimator))
        cache = self.__dict__.setdefault("_estimates", {})
        if estimator not in cache:
            from .curvature import estimate_factors
            cache[estimator] = estimate_factors(self, estimator, self.state)
        return cache[estimator][i]

    def adaptive_damping(self, schedule: Any) -> float:
        """The current λ of a `LevenbergMarquardt` schedule (the stochastic run's state holds it)."""
        if self.state is None:
            raise fail("damping", "a number >= 0 outside a stochastic run (LevenbergMarquardt adapts from minibatch "
                                  "losses: integrate with method=Stochastic(...))", schedule)
        return self.state.damping_value(schedule, schedule.initial)

    def note_curvature(self, i: int, left: Any, right: Any) -> None:
        """A rule's record of the (damped) Kronecker curvature it preconditioned layer i with (stochastic
        runs keep it for the Levenberg–Marquardt quadratic model m(Δ) = ⟨g, Δ⟩ + ½ Σ_i ⟨Δ_i, left Δ_i right⟩)."""
        if self.state is not None:
            self.noted[i] = (left, right)

    def _diagonal_forward_backward(self) -> None:
        """f = wᵀX, w = u^{⊙L} − v^{⊙L}; ∂ℓ/∂u = L u^{L−1} ⊙ ∇_wℓ, ∂ℓ/∂v = −L v^{L−1} ⊙ ∇_wℓ, ∇_wℓ = X∇_fℓᵀ."""
        X, Y = self.data.X, self.data.Y
        L = self.diagonal_depth
        if len(self.W) != 2 or any(w.shape != (1, X.shape[0]) for w in self.W):
            raise fail("W", f"two layers uᵀ, vᵀ of shape (1, {X.shape[0]}) for a diagonal network",
                       [np.shape(w) for w in self.W])
        u, v = self.W[0][0], self.W[1][0]
        # ∂w/∂u = L u^{L−1} and ∂w/∂v = −L v^{L−1}, elementwise (u^0 = 1 at L = 1)
        self._dw = (L * u ** (L - 1), -L * v ** (L - 1))
        self.w = u ** L - v ** L
        self.outputs = self.w[None, :] @ X                  # f (1 x n)
        grad_w = (self.loss.grad(self.outputs, Y) @ X.T)[0]
        self.grads = tuple((grad_w * dw)[None, :] for dw in self._dw)
        self.Sigma = X @ X.T / X.shape[1]

    @cached_property
    def _chain(self) -> tuple[tuple[Any, ...], tuple[Any, ...], Any]:
        """(A, B, W_end), computed on first use on sample data (GD never needs them)."""
        if not self.linear_chain:
            raise fail("geometry", "a deep linear network without biases to have the chain products A_i, B_i "
                                   "(rules for other networks read input_factor(i), output_factor(i), fisher())",
                       f"diagonal network (depth {self.diagonal_depth})" if self.diagonal_depth is not None
                       else f"activation={self.activation!r}, bias={self.bias}")
        return chain_products(self.W, self.ops.eye)

    @property
    def A(self) -> tuple[Any, ...]:
        """A_i = W_{i−1}⋯W_1 (identity for i = 1)."""
        return self._chain[0]

    @property
    def B(self) -> tuple[Any, ...]:
        """B_i = W_L⋯W_{i+1} (identity for i = L)."""
        return self._chain[1]

    @property
    def W_end(self) -> Any:
        """The end-to-end map W = W_L⋯W_1 (a diagonal network: wᵀ = (u^{⊙L} − v^{⊙L})ᵀ, 1 x d)."""
        if self.diagonal_depth is not None:
            return self.w[None, :]
        return self._chain[2]

    @cached_property
    def output_curvature(self) -> Any:
        """The loss's output Fisher D: (k x n) per output entry and example; Σ-weighted identity on moments."""
        if isinstance(self.data, Moments):
            return self.ops.eye(self.W[-1].shape[0])
        return self.loss.curvature(self.outputs, self.data.Y)

    @cached_property
    def _output_jacobians(self) -> list[np.ndarray]:
        """M_i = ∂f_n/∂z_i per example: arrays (n, k, n_i), z_i = W_i ã_{i−1} the layer's pre-activation."""
        k, n = self.outputs.shape
        M = np.broadcast_to(np.eye(k), (n, k, k))
        out = [M]
        for i in range(self.depth - 1, 0, -1):
            back = self.W[i][:, :-1] if self.bias else self.W[i]
            M = (M @ back) * self._derivs[i - 1].T[:, None, :]
            out.insert(0, M)
        return out

    # ------------------------------------------------------------------ K-FAC factors
    def _no_kfac(self) -> None:
        if self.diagonal_depth is not None:
            raise fail("geometry", "a network of matrix layers for K-FAC's Kronecker factors (a diagonal network "
                                   "has none: use GD, NGD or BlockNGD(damping_mode='block'))",
                       f"diagonal network (depth {self.diagonal_depth})")

    def input_factor(self, i: int) -> Any:
        """K-FAC input factor Ā_i: A_iΣA_iᵀ on moments; Σ_n ω c_n ã_n ã_nᵀ on samples."""
        self._no_kfac()
        if isinstance(self.data, Moments):
            return self.A[i] @ self.Sigma @ self.A[i].T
        c, _ = self.loss.kfac_weights(self.outputs, self.data.Y)
        omega = 1.0 / self.outputs.shape[1] if getattr(self.loss, "reduction", "mean") == "mean" else 1.0
        a = self._inputs[i]
        return (a * (omega * c)) @ a.T

    def output_factor(self, i: int) -> Any:
        """K-FAC output factor G_i: B_iᵀB_i on moments; E_n[M_nᵀ diag(o) M_n] on samples."""
        self._no_kfac()
        if isinstance(self.data, Moments):
            return self.B[i].T @ self.B[i]
        _, o = self.loss.kfac_weights(self.outputs, self.data.Y)
        if self.linear_chain:
            return self.B[i].T @ (o[:, None] * self.B[i])
        if self.activation == "linear":     # with biases M_n = B_i (bias columns dropped) for every example
            B = self.ops.eye(self.W[-1].shape[0])
            for w in self.W[i + 1:][::-1]:
                B = B @ (w[:, :-1] if self.bias else w)
            return B.T @ (o[:, None] * B)
        M = self._output_jacobians[i]
        return np.einsum("nkr,k,nks->rs", M, o, M) / M.shape[0]

    # ------------------------------------------------------------------ Fisher
    def jacobian(self) -> Any:
        """Output Jacobian: J = [A_iᵀ ⊗ B_i]_i = ∂vec W/∂θ on moments; J_f = ∂vec f/∂θ on samples.

        Diagonal network: J_f = [Xᵀ diag(L u^{L−1}), −Xᵀ diag(L v^{L−1})] (n x 2d).
        """
        if self.diagonal_depth is not None:
            XT = self.data.X.T
            return np.hstack([XT * dw[None, :] for dw in self._dw])
        if isinstance(self.data, Moments):
            return np.hstack([np.kron(self.A[i].T, self.B[i]) for i in range(self.depth)])
        k, n = self.outputs.shape
        blocks = []
        for i, M in enumerate(self._output_jacobians):
            a = self._inputs[i]
            # ∂f_{jn}/∂W_i[r, c] = M[n, j, r] ã[c, n]; rows (n, j) = column-major vec f, columns (c, r) = vec W_i
            blocks.append(np.einsum("njr,cn->njcr", M, a).reshape(n * k, -1))
        return np.hstack(blocks)

    def fisher(self) -> Any:
        """F = Jᵀ(Σ ⊗ I)J (moments) or J_fᵀ diag(vec D) J_f (samples): structured or dense by route."""
        if isinstance(self.data, Moments):
            if self.fisher_route == "efficient" and self.ops.__class__ is NumpyOps:
                from .fisher import KroneckerFisher  # the efficient route (never forms F)
                return KroneckerFisher.from_geometry(self)
            J = self.jacobian()
            if self.fisher_route == "efficient" and J.dtype == object:   # mpmath: F = KᵀK kept factored
                from .highprec import MpGram
                return MpGram.from_moments(J, self.Sigma, self.W[-1].shape[0], self.ops)
            D = np.kron(self.Sigma, np.eye(self.W[-1].shape[0], dtype=J.dtype))
            return J.T @ D @ J
        from .losses import LowRankGram
        d = np.sqrt(self.output_curvature.reshape(-1, order="F"))
        gram = LowRankGram(d[:, None] * self.jacobian())
        return gram if self.fisher_route == "efficient" else gram.dense()

    def end_to_end_velocity(self, V: Sequence[Any]) -> Any:
        """dW/dt = Σ_i B_i V_i A_i for layer velocities V_i (the product rule; deep linear nets).

        Diagonal network: ẇᵀ = (L u^{L−1} ⊙ u̇ − L v^{L−1} ⊙ v̇)ᵀ, shape (1, d).
        """
        if self.diagonal_depth is not None:
            return (self._dw[0] * np.asarray(V[0])[0] + self._dw[1] * np.asarray(V[1])[0])[None, :]
        return end_to_end_velocity(self.A, self.B, V)

    def vec(self, layers: Sequence[Any]) -> np.ndarray:
        """θ = (vec W_1, …, vec W_L), column-major (`vec_layers`)."""
        return vec_layers(layers)

    def unvec(self, v: Any) -> tuple[np.ndarray, ...]:
        """Inverse of `vec` (`unvec_layers` at this network's shapes)."""
        return unvec_layers(v, self.shapes)


class VelocityField:
    """θ ↦ dθ/dt = vec(rule.velocity(∂ℓ/∂W, geometry)) / τ: what a solver integrates.

    Built once per `integrate` call; each evaluation builds the geometry at θ and runs the rule's
    own `velocity`. `calls` counts evaluations.

    Args:
        rule: any object with `velocity(grads, geo, ops)`.
        shapes: shape of each W_i.
        data, loss, activation, bias, diagonal_depth, fisher_route: as `MatrixGeometry`.
        tau: time constant τ (float, or mpf for the high-precision route).
        ops: the backend.
    """

    def __init__(self, rule: Any, shapes: Sequence[tuple[int, int]], data: Moments | SampleData, *, tau: Any = 1.0,
                 ops: Any = None, fisher_route: FisherRoute = "efficient", loss: Any = None,
                 activation: Activation = "linear", bias: bool = False, diagonal_depth: int | None = None) -> None:
        self.rule = rule
        self.shapes = tuple(shapes)
        self.data = data
        self.tau = tau
        self.ops = ops if ops is not None else NumpyOps()
        self.options = dict(loss=loss, activation=activation, bias=bias, diagonal_depth=diagonal_depth)
        self.fisher_route = fisher_route
        self.calls = 0
        self.state: Any = None          # a stochastic run's CurvatureState for `geometry` probes, else None
        self._object = not isinstance(self.ops, NumpyOps)
        starts = np.cumsum([0] + [m * n for m, n in self.shapes])
        self._slots = tuple((int(starts[i]), m, n) for i, (m, n) in enumerate(self.shapes))
        self._size = int(starts[-1])

    def geometry(self, theta: Any) -> MatrixGeometry:
        """The geometry at θ."""
        return MatrixGeometry(unvec_layers(theta, self.shapes), self.data, self.ops, self.fisher_route,
                              state=self.state, **self.options)

    @property
    def examples(self) -> int | None:
        """Number of samples (None for moment data)."""
        return None if isinstance(self.data, Moments) else int(self.data.X.shape[1])

    def batch_geometry(self, theta: np.ndarray, columns: np.ndarray, state: Any = None) -> MatrixGeometry:
        """The geometry at θ on the samples `columns` only (a minibatch), carrying a stochastic run's state."""
        data = SampleData(self.data.X[:, columns], self.data.Y[:, columns])
        return MatrixGeometry(unvec_layers(theta, self.shapes), data, self.ops, self.fisher_route, state=state,
                              **self.options)

    def batch_velocity(self, geo: MatrixGeometry) -> np.ndarray:
        """dθ/dt = vec(rule.velocity(∂ℓ_B/∂W, geometry of the batch B)) / τ."""
        self.calls += 1
        return vec_layers([np.asarray(v, dtype=float) for v in self.rule.velocity(geo.grads, geo, self.ops)]) / self.tau

    def batch_loss(self, theta: np.ndarray, columns: np.ndarray) -> float:
        """ℓ_B(θ) on the samples `columns` (one forward pass)."""
        X, Y = self.data.X[:, columns], self.data.Y[:, columns]
        f = forward(unvec_layers(theta, self.shapes), X, self.options["activation"], self.options["bias"])
        return float(self.options["loss"].value(f, Y))

    def layer_velocities(self, theta: Any) -> tuple[Any, ...]:
        """τ dW_i/dt at θ, checked for count and shapes."""
        geo = self.geometry(theta)
        vel = tuple(self.rule.velocity(geo.grads, geo, self.ops))
        if len(vel) != len(self.shapes) or any(np.shape(v) != s for v, s in zip(vel, self.shapes)):
            raise fail("rule", f"a rule whose velocity returns one array per layer with shapes {list(self.shapes)}",
                       getattr(self.rule, "name", self.rule))
        return vel

    def __call__(self, theta: Any) -> Any:
        """dθ/dt at θ (the shapes are checked on the first call; a rule's structure does not change)."""
        self.calls += 1
        if self.calls == 1 or self._object:
            vel = self.layer_velocities(theta)
            if self._object:
                return vec_layers([np.asarray(v, dtype=object) for v in vel]) / self.tau
            return vec_layers([np.asarray(v, dtype=float) for v in vel]) / self.tau
        geo = MatrixGeometry(unvec_layers(theta, self.shapes), self.data, self.ops, self.fisher_route, **self.options)
        out = np.empty(self._size)
        for v, (start, m, n) in zip(self.rule.velocity(geo.grads, geo, self.ops), self._slots):
            out[start:start + m * n].reshape(n, m).T[...] = v      # column-major vec, one copy in place
        if self.tau != 1.0:
            out /= self.tau
        return out


Field = Callable[[np.ndarray], np.ndarray]
