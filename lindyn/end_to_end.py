"""The end-to-end flow of a balanced deep linear network, as a learning rule of the one-layer problem.

Arora, Cohen & Hazan 2018 (Theorem 1): when the layers of W = W_L⋯W_1 start balanced,
W_{j+1}ᵀW_{j+1} = W_jW_jᵀ, gradient flow keeps them balanced and the end-to-end map obeys a flow of
W alone. lindyn does not type that formula in: `EndToEnd(rule, depth)` *derives* the flow of W
from the rule's own definition, at every instant,

1. factorising W = UΣVᵀ into the balanced chain W_1 = Σ^{1/L}Vᵀ, W_j = Σ^{1/L} (1 < j < L),
   W_L = UΣ^{1/L} (`balanced_factors`; square, equal widths n);
2. building the deep problem's geometry at those layers (`lindyn.geometry`) and its per-layer
   gradients g_j = ∂ℓ/∂W_j;
3. running `rule.velocity(g, geometry, ops)` (GD, NGD(q), BlockNGD(q), K-FAC, any user rule);
4. chaining by the product rule: τ dW/dt = Σ_j W_L⋯W_{j+1} (τ dW_j/dt) W_{j−1}⋯W_1.

So `integrate(end_to_end_problem(deep), EndToEnd(GD(), L), t)` is the end-to-end flow, integrated
by lindyn's one integrator. It equals the layer-wise flow's W_L⋯W_1 whenever the rule keeps a
balanced init balanced (GD and every full-Fisher power NGD^q, which conserve C_j = W_{j+1}ᵀW_{j+1}
− W_jW_jᵀ; Huh 2020) and the rule is invariant under the rotations W_j → O_jW_jO_{j−1}ᵀ that leave
the balanced factorisation's freedom (all built-in rules are). Block rules break balance; their
EndToEnd flow re-balances at every instant and is then a different dynamics of W in general.

>>> import numpy as np
>>> from lindyn import GD, GivenWeights, Network, Problem, Task, integrate
>>> rng = np.random.default_rng(0)
>>> deep = Problem(Network((3, 3, 3, 3)), Task(rng.normal(size=(3, 3))),
...                GivenWeights(balanced_factors(rng.normal(size=(3, 3)), 3)))
>>> layerwise = integrate(deep, GD(), [1.0]).W_end[-1]
>>> flow = integrate(end_to_end_problem(deep), EndToEnd(GD(), 3), [1.0]).W_end[-1]
>>> bool(np.abs(layerwise - flow).max() < 1e-9)
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ._checks import MAX_DEPTH, check_int, fail
from ._types import Geometry, Layers, Ops
from .integrate import geometry
from .numeric.geometry import Moments
from .problem import GivenWeights, Network, Problem, Samples, Task

__all__ = ["EndToEnd", "balanced_factors", "end_to_end_problem", "imbalance"]


def balanced_factors(W: Any, depth: int) -> tuple[np.ndarray, ...]:
    """The balanced factorisation W = W_L⋯W_1 of a square matrix, from its SVD W = UΣVᵀ.

    W_1 = Σ^{1/L}Vᵀ, W_j = Σ^{1/L} for 1 < j < L, W_L = UΣ^{1/L} (L = 1: W_1 = W), so that
    W_{j+1}ᵀW_{j+1} = W_jW_jᵀ = Σ^{2/L} for every j (Arora, Cohen & Hazan 2018, Sec. 3: every layer
    has the singular values σ_r^{1/L}). The factorisation is unique up to W_j → O_jW_jO_{j−1}ᵀ
    (O_0 = O_L = I, O_j orthogonal); which one numpy's SVD picks does not matter to rules that are
    invariant under those rotations.

    Args:
        W: a finite square n x n matrix (equal widths n: the construction needs all layers n x n).
        depth: number of layers L, 1 <= L <= 100.

    Returns:
        (W_1, …, W_L), each n x n.

    >>> import numpy as np
    >>> W = np.array([[2.0, 1.0], [0.0, -1.0]])
    >>> layers = balanced_factors(W, 2)
    >>> bool(np.allclose(layers[1] @ layers[0], W)), bool(np.allclose(layers[1].T @ layers[1], layers[0] @ layers[0].T))
    (True, True)
    """
    # === check arguments
    depth = check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH)
    W = _square(W, "W")
    U, sigma, Vt = np.linalg.svd(W)
    if depth == 1:
        return (W.copy(),)
    root = sigma ** (1.0 / depth)
    first = root[:, None] * Vt                 # Σ^{1/L}Vᵀ
    last = U * root[None, :]                   # UΣ^{1/L}
    return (first,) + tuple(np.diag(root) for _ in range(depth - 2)) + (last,)


def _square(W: Any, name: str) -> np.ndarray:
    """W as a finite float square matrix, or a `LindynError` naming `name`."""
    try:
        arr = np.asarray(W, dtype=float)
    except (TypeError, ValueError):
        raise fail(name, "a finite real square matrix (n x n)", W) from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise fail(name, "a square matrix n x n (the balanced factorisation is built with equal widths n)",
                   f"shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise fail(name, "a finite matrix", "a matrix with NaN or inf")
    return arr


@dataclass(frozen=True)
class EndToEnd:
    """The flow of W = W_L⋯W_1 that `rule` induces on a balanced depth-L factorisation of W.

    A learning rule of the one-layer problem (`Network((n, n))`, the deep problem's data): at W it
    factorises W balanced (`balanced_factors`: W_1 = Σ^{1/L}Vᵀ, W_j = Σ^{1/L}, W_L = UΣ^{1/L}),
    evaluates the deep problem's per-layer gradients g_j = B_jᵀ(WΣ − Σ_yx)A_jᵀ there, runs
    `rule.velocity` and chains the layer velocities V_j by the product rule,

        τ dW/dt = Σ_{j=1}^{L} B_j V_j A_j,   B_j = W_L⋯W_{j+1}, A_j = W_{j−1}⋯W_1.

    For GD this is Arora, Cohen & Hazan 2018's Theorem 1 (derived here, not typed in):
    τ dW/dt = −Σ_j (WWᵀ)^{(L−j)/L} ∇ℓ(W) (WᵀW)^{(j−1)/L}; for full NGD^q on whitened data it is
    −𝒜^{1−q}(∇ℓ(W)) with 𝒜 that sum as an operator on ∇ℓ [derived].

    Restrictions: square W with equal widths n in every layer (else `LindynError`); a deep linear
    chain without biases (moment data or samples with any loss); double precision (`Flow`,
    `Discrete`; `HighPrecision` and the symbolic engine are refused, the factorisation is numpy's SVD).

    Args:
        rule: any learning rule with `velocity(grads, geo, ops)`.
        depth: the depth L of the balanced factorisation, 1 <= L <= 100 (L = 1: the rule itself).

    >>> from lindyn import GD, NGD
    >>> EndToEnd(GD(), 3).name, EndToEnd(NGD(), 2).name
    ('end-to-end[gd, L=3]', 'end-to-end[ngd, L=2]')
    """

    rule: Any
    depth: int

    def __post_init__(self) -> None:
        if not callable(getattr(self.rule, "velocity", None)):
            raise fail("rule", "a learning rule with velocity(grads, geo, ops) (see lindyn.rule)", self.rule)
        object.__setattr__(self, "depth", check_int(self.depth, "depth", minimum=1, maximum=MAX_DEPTH))

    @property
    def name(self) -> str:
        """'end-to-end[<rule name>, L=<depth>]'."""
        return f"end-to-end[{getattr(self.rule, 'name', type(self.rule).__name__)}, L={self.depth}]"

    def velocity(self, grads: Layers, geo: Geometry, ops: Ops) -> Layers:
        """τ dW/dt = Σ_j B_j V_j A_j, V = rule.velocity at the balanced factorisation of W (one layer in, one out)."""
        layers = getattr(geo, "W", ())
        if len(layers) != 1:
            raise fail("problem", "a one-layer problem Network((n, n)) for EndToEnd (it moves the end-to-end map W; "
                                  "build it with end_to_end_problem(deep_problem))", f"{len(layers)} layers")
        W = layers[0]
        if not (isinstance(W, np.ndarray) and W.dtype.kind == "f"):
            raise fail("method", "Flow(...) or Discrete(lr): EndToEnd runs in double precision (numpy's SVD), not "
                                 "on HighPrecision or the symbolic engine", type(W).__name__ + f" of {W.dtype}"
                       if isinstance(W, np.ndarray) else type(W).__name__)
        if not getattr(geo, "linear_chain", False):
            raise fail("problem", "a linear layer without bias for EndToEnd (a deep linear chain's end-to-end map)",
                       "a nonlinear, biased or diagonal network")
        if W.shape[0] != W.shape[1]:
            raise fail("problem", "a square map W (n x n) for EndToEnd: the balanced factorisation has equal "
                                  "widths n", f"W of shape {W.shape}")
        layers = balanced_factors(W, self.depth)
        deep = geometry(_deep_problem(geo, layers), layers, fisher_route=getattr(geo, "fisher_route", "efficient"))
        V = self.rule.velocity(deep.grads, deep, ops)
        return (deep.end_to_end_velocity(V),)


def _deep_problem(geo: Any, layers: Sequence[np.ndarray]) -> Problem:
    """The depth-L problem on the one-layer geometry's data, at the given layers."""
    n = layers[0].shape[0]
    data = geo.data
    if isinstance(data, Moments):
        task: Task | Samples = Task(Sigma_yx=data.Sigma_yx, Sigma_xx=data.Sigma)
        loss = None
    else:
        task, loss = Samples(data.X, data.Y), geo.loss
    return Problem(Network((n,) * (len(layers) + 1)), task, GivenWeights(tuple(layers)), loss=loss)


def end_to_end_problem(problem: Problem) -> Problem:
    """The one-layer problem of a deep linear problem: same data, loss and τ, init W(0) = W_L(0)⋯W_1(0).

    `integrate(end_to_end_problem(p), EndToEnd(rule, p.network.depth), t)` is the end-to-end flow of
    `p` from its initial map; it equals `integrate(p, rule, t).W_end` when p's init is balanced
    (W_{j+1}ᵀW_{j+1} = W_jW_jᵀ, see `imbalance`) and the rule keeps it balanced (GD, NGD^q).

    Args:
        problem: a `Problem` on a deep linear network without biases (`Network(widths)`, activation
            'linear'); moment data or samples.

    Returns:
        A `Problem` on `Network((n_0, n_L))` with `GivenWeights((W(0),))`, the same task, loss, τ
        and mode bases.

    >>> import numpy as np
    >>> from lindyn import GivenWeights, Network, Problem, Task
    >>> p = Problem(Network((2, 2, 2)), Task(np.eye(2)), GivenWeights((2 * np.eye(2), 3 * np.eye(2))))
    >>> end_to_end_problem(p).initial_weights()[0].tolist()
    [[6.0, 0.0], [0.0, 6.0]]
    """
    # === check arguments
    if not isinstance(problem, Problem):
        raise fail("problem", "a lindyn.Problem on a deep linear network", problem)
    net = problem.network
    if not isinstance(net, Network) or not net.linear:
        raise fail("problem", "a problem on a deep linear network without biases (Network(widths)); it has an "
                              "end-to-end map W = W_L⋯W_1", net)
    W0 = net.end_to_end(problem.initial_weights())
    one = Network((net.widths[0], net.widths[-1]))
    return Problem(one, problem.task, GivenWeights((np.array(W0, dtype=float),)), tau=problem.tau,
                   loss=problem.loss, mode_bases=problem.mode_bases)


def imbalance(layers: Sequence[Any]) -> np.ndarray:
    """max_i ‖W_{i+1}ᵀW_{i+1} − W_iW_iᵀ‖_F, the distance from balance (0 for a balanced chain).

    Args:
        layers: W_1..W_L (L >= 1), each (n_i, n_{i−1}); stacked layers (T, n_i, n_{i−1}) give one value
            per time (e.g. `NumericTrajectory.W`).

    Returns:
        A float (unstacked layers) or an array (T,) (stacked); 0 for L = 1.

    >>> import numpy as np
    >>> float(imbalance(balanced_factors(np.array([[1.0, 2.0], [3.0, 4.0]]), 3))) < 1e-12
    True
    >>> float(imbalance([np.eye(2), 2 * np.eye(2)]))          # ‖4I − I‖_F = 3√2
    4.242640687119285
    """
    # === check arguments
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
        raise fail("layers", "a non-empty sequence of weight matrices W_1..W_L", layers)
    W = [np.asarray(w, dtype=float) for w in layers]
    if any(w.ndim not in (2, 3) or w.ndim != W[0].ndim for w in W):
        raise fail("layers", "matrices (n_i, n_{i-1}) or stacks (T, n_i, n_{i-1}), all alike",
                   [w.shape for w in W])
    if any(W[i + 1].shape[-1] != W[i].shape[-2] for i in range(len(W) - 1)):
        raise fail("layers", "a chain: W_{i+1} has as many columns as W_i has rows", [w.shape for w in W])
    stacked = W[0].ndim == 3
    zero = np.zeros(W[0].shape[0]) if stacked else np.array(0.0)
    out = zero
    for a, b in zip(W[:-1], W[1:]):
        C = np.swapaxes(b, -1, -2) @ b - a @ np.swapaxes(a, -1, -2)
        out = np.maximum(out, np.sqrt(np.sum(C * C, axis=(-2, -1))))
    return out if stacked else np.float64(out)
