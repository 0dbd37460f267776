"""Losses beyond squared error, with the Fisher of the model's output distribution.

The learning rules of `lindyn.rules` (GD, NGD(q), BlockNGD(q), K-FAC, Bernacchia) run unchanged on
`LossGeometry`, the geometry of a deep linear network x ↦ W_L⋯W_1 x trained on a fixed data matrix
X (d x n, one column per example) with a loss ℓ(f) of its outputs f = W X (k x n):

    ∂ℓ/∂W_i = B_iᵀ G Xᵀ A_iᵀ,  G = ∇_f ℓ (k x n),
    F = J_fᵀ D J_f,  J_f = ∂vec f/∂θ = [(A_i X)ᵀ ⊗ B_i]_i (column-major vec),

with D = diag(vec D) the Fisher of the output distribution at each output entry (Kerekes et al.
2021; THEORY §4): 1 for a unit Gaussian (squared error), p(1 − p) for a Bernoulli with logit f
(logistic loss), and for matrix completion either the data Fisher (1 on the observed set Ω, 0
elsewhere) or the model Fisher (1 on every entry). Losses and Fishers are sums over examples, not
means; NGD is invariant to that scale, GD's clock is not.

`LossGeometry.fisher()` is returned factored as F = KᵀK with K = D^{1/2} J_f (rows: output entries),
so its Moore–Penrose power comes from the thin SVD of K (`LowRankGram.pinv_pow`), never from the
eigendecomposition of the P x P matrix F: cheaper, and accurate to the square root of the
conditioning that forming F would cost.

K-FAC factors (my choice, documented here because BlockNGD reads `geo.A`, `geo.B`, `geo.Sigma`):
the diagonal block is F_ii = Σ_n (A_i x_n x_nᵀ A_iᵀ) ⊗ (B_iᵀ D_n B_i), with D_n the k x k output
Fisher of example n. Each loss factors D_n ≈ s_n · diag(o) (`Loss.kfac_weights`), and the geometry
exposes Σ = X diag(s) Xᵀ and B_i := diag(o)^{1/2} B_i, so BlockNGD's factors are
(A_iΣA_iᵀ) ⊗ (B_iᵀ diag(o) B_i). This is exact whenever D_n = s_n diag(o): squared loss (s = 1,
o = 1, giving THEORY's Σ = XXᵀ) and the scalar-output logistic loss (s = p(1 − p), o = 1). For
matrix completion (D_n = diag(mask column n)) it is Martens & Grosse's independence approximation
E[aaᵀ ⊗ ggᵀ] ≈ E[aaᵀ] ⊗ E[ggᵀ]: s = 1 and o_i = fraction of row i observed (data Fisher).
The plain chain product stays available as `geo.B_chain`.

>>> import numpy as np
>>> from lindyn.rules import GD, NGD
>>> X = np.eye(2); loss = LogisticLoss(np.array([1.0, -1.0]))
>>> geo = LossGeometry((np.array([[0.5, 0.0]]),), X, loss)
>>> v = NGD().velocity(geo.grads, geo, NumpyOps())[0]
>>> np.round(v @ X * loss.y, 6)   # depth 1, J_f = Xᵀ invertible: ṁ_i = 1 + e^{−m_i}
array([[1.606531, 2.      ]])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, Sequence

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import expit, log_expit

from .._chain import chain_products
from .._checks import IntegrationFailed, check_real, check_times, fail
from ._ops import NumpyOps, unvec_layers, vec_layers
from .matrix_ode import solve_flow

__all__ = [
    "Loss", "SquaredLoss", "LogisticLoss", "CompletionLoss", "LossGeometry", "LowRankGram",
    "LossTrajectory", "integrate_loss", "resolve_rule",
]


class Loss(Protocol):
    """A loss ℓ(f) of the network outputs f (k x n) with its output-distribution Fisher."""

    name: str

    def value(self, f: np.ndarray) -> float:
        """ℓ(f)."""
        ...

    def grad(self, f: np.ndarray) -> np.ndarray:
        """∇_f ℓ, shape (k, n)."""
        ...

    def fisher_diag(self, f: np.ndarray) -> np.ndarray:
        """Output Fisher D per entry, shape (k, n) (diagonal output Fisher)."""
        ...

    def kfac_weights(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(s, o) with D_n ≈ s_n diag(o): per-example (n,) and per-output (k,) weights."""
        ...


def _matrix(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.array(x, dtype=float)
    except (TypeError, ValueError):
        raise fail(name, "a real array", x) from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise fail(name, "a finite 1-d or 2-d real array", f"array of shape {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class SquaredLoss:
    """Squared error ℓ = ½ Σ_n ‖f_n − y_n‖² with the unit-Gaussian output Fisher D = I.

    Args:
        Y: targets, shape (k, n) (a 1-d array is one output row).
    """

    Y: np.ndarray
    name: str = "squared"

    def __post_init__(self) -> None:
        object.__setattr__(self, "Y", _matrix(self.Y, "Y"))

    def value(self, f: np.ndarray) -> float:
        """½ ‖f − Y‖²_F."""
        return 0.5 * float(np.sum((f - self.Y) ** 2))

    def grad(self, f: np.ndarray) -> np.ndarray:
        """f − Y."""
        return f - self.Y

    def fisher_diag(self, f: np.ndarray) -> np.ndarray:
        """All ones (unit Gaussian)."""
        return np.ones_like(f)

    def kfac_weights(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """s = 1, o = 1: exact Kronecker factors."""
        return np.ones(f.shape[1]), np.ones(f.shape[0])


@dataclass(frozen=True, eq=False)
class LogisticLoss:
    """Logistic loss ℓ = Σ_n ln(1 + e^{−y_n f_n}), labels ±1, Bernoulli Fisher D = p(1 − p).

    With margins m_n = y_n f_n: ∇_f ℓ = −y σ(−m), D = σ(f)σ(−f) = σ(m)σ(−m) (σ the logistic
    sigmoid); computed in log space, so large margins neither overflow nor lose precision.

    Args:
        y: labels in {−1, +1}, shape (n,).
    """

    y: np.ndarray
    name: str = "logistic"

    def __post_init__(self) -> None:
        y = _matrix(self.y, "y")
        if y.shape[0] != 1 or not np.all(np.abs(y) == 1):
            raise fail("y", "a 1-d array of labels in {-1, +1}", self.y)
        object.__setattr__(self, "y", y[0])

    def margins(self, f: np.ndarray) -> np.ndarray:
        """m_n = y_n f_n, shape (n,)."""
        return np.asarray(f).reshape(-1) * self.y

    def value(self, f: np.ndarray) -> float:
        """Σ ln(1 + e^{−m})."""
        return float(-np.sum(log_expit(self.margins(f))))

    def grad(self, f: np.ndarray) -> np.ndarray:
        """−y σ(−m), shape (1, n)."""
        return (-self.y * expit(-self.margins(f)))[None, :]

    def fisher_diag(self, f: np.ndarray) -> np.ndarray:
        """σ(m)σ(−m) = e^{ln σ(m) + ln σ(−m)}, shape (1, n)."""
        m = self.margins(f)
        return np.exp(log_expit(m) + log_expit(-m))[None, :]

    def kfac_weights(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """s = p(1 − p), o = 1: exact for a scalar output."""
        return self.fisher_diag(f)[0], np.ones(1)


@dataclass(frozen=True, eq=False)
class CompletionLoss:
    """Matrix completion ℓ = ½ Σ_{(i,j)∈Ω} (f_ij − M_ij)², f = W (the data matrix X is I).

    Two output Fishers, naming the two NGD variants of THEORY §4:
    fisher="model": D = 1 on every entry (Gaussian model of every entry). NGD then gives the
    reparameterisation-invariant function-space flow Ẇ = −P_Ω(W − M) whenever J_f is
    surjective: unobserved entries never move.
    fisher="data": D = 1 on Ω, 0 elsewhere (the Fisher of the observed data), inverted by
    Moore–Penrose in parameter space: unobserved entries move, in a way that depends on the
    parameterisation.

    Args:
        M: target matrix (m x n); only entries in Ω are used.
        mask: boolean or 0/1 array of the same shape, 1 on Ω.
        fisher: "data" or "model".
    """

    M: np.ndarray
    mask: np.ndarray
    fisher: Literal["data", "model"] = "data"
    name: str = "completion"

    def __post_init__(self) -> None:
        M = _matrix(self.M, "M")
        mask = _matrix(self.mask, "mask")
        if mask.shape != M.shape or not np.all((mask == 0) | (mask == 1)):
            raise fail("mask", f"a 0/1 array of shape {M.shape}", self.mask)
        if self.fisher not in ("data", "model"):
            raise fail("fisher", "'data' or 'model'", self.fisher)
        object.__setattr__(self, "M", M)
        object.__setattr__(self, "mask", mask)

    def value(self, f: np.ndarray) -> float:
        """½ ‖P_Ω(f − M)‖²."""
        return 0.5 * float(np.sum((self.mask * (f - self.M)) ** 2))

    def grad(self, f: np.ndarray) -> np.ndarray:
        """P_Ω(f − M)."""
        return self.mask * (f - self.M)

    def fisher_diag(self, f: np.ndarray) -> np.ndarray:
        """The mask (data Fisher) or ones (model Fisher)."""
        return self.mask.copy() if self.fisher == "data" else np.ones_like(f)

    def kfac_weights(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """s = 1, o = row-wise mean of D (K-FAC's independence approximation)."""
        D = self.fisher_diag(f)
        return np.ones(f.shape[1]), D.mean(axis=1)


@dataclass(frozen=True)
class _LowRankOperator:
    """V diag(w) Vᵀ kept factored; `@` applies it to a vector or matrix."""

    V: np.ndarray
    w: np.ndarray

    def __matmul__(self, x: Any) -> np.ndarray:
        return self.V @ (self.w[:, None] * (self.V.T @ x)) if np.ndim(x) == 2 else self.V @ (self.w * (self.V.T @ x))

    def dense(self) -> np.ndarray:
        """The P x P matrix."""
        return (self.V * self.w) @ self.V.T


@dataclass(frozen=True)
class LowRankGram:
    """F = KᵀK kept factored (K = D^{1/2} J_f, one row per output entry).

    `pinv_pow(q)` = (F⁺)^q = V diag(σ^{−2q}) Vᵀ from the thin SVD K = U diag(σ) Vᵀ, keeping
    σ² > rcond · σ_max² (the cutoff `NumpyOps` applies to eigenvalues of F).
    """

    K: np.ndarray

    def pinv_pow(self, q: Any, ops: Any) -> _LowRankOperator:
        """(F⁺)^q as a factored operator."""
        _, sig, Vt = np.linalg.svd(self.K, full_matrices=False)
        rcond = getattr(ops, "rcond", 1e-12)
        keep = sig ** 2 > rcond * max(float(sig[0]) ** 2 if sig.size else 0.0, np.finfo(float).tiny)
        return _LowRankOperator(Vt[keep].T, sig[keep] ** (-2.0 * float(ops.scalar(q))))

    def dense(self) -> np.ndarray:
        """KᵀK as a P x P matrix."""
        return self.K.T @ self.K

    def rank(self, rcond: float = 1e-12) -> int:
        """Numerical rank of F (= rank of K)."""
        sig = np.linalg.svd(self.K, compute_uv=False)
        return int(np.sum(sig ** 2 > rcond * sig[0] ** 2)) if sig.size else 0


class LossGeometry:
    """Geometry of a deep linear network on data X under `loss`, for the rules of `lindyn.rules`.

    Outputs f = W X with W = W_L⋯W_1; layer gradients ∂ℓ/∂W_i = B_iᵀ ∇_fℓ Xᵀ A_iᵀ; Fisher
    F = J_fᵀ D J_f (factored, see `LowRankGram`); K-FAC factors as in the module docstring.

    Args:
        W: layer weights W_1..W_L, W_i of shape (n_i, n_{i−1}).
        X: data matrix (n_0 x n), one column per example.
        loss: a `Loss` (SquaredLoss, LogisticLoss, CompletionLoss or your own).
        ops: numeric backend (`NumpyOps()` by default).
    """

    def __init__(self, W: Sequence[np.ndarray], X: np.ndarray, loss: Loss, ops: Any = None) -> None:
        self.ops = ops if ops is not None else NumpyOps()
        self.depth = len(W)
        self.W = tuple(np.asarray(w, dtype=float) for w in W)
        self.X = X
        self.loss = loss
        self.A, self.B_chain, self.W_end = chain_products(self.W, np.eye)
        self.f = self.W_end @ X
        G = loss.grad(self.f)
        self.grads = tuple(self.B_chain[i].T @ G @ (self.A[i] @ X).T for i in range(self.depth))
        s, o = loss.kfac_weights(self.f)
        self.Sigma = (X * s) @ X.T
        self.B = tuple(np.sqrt(o)[:, None] * b for b in self.B_chain)
        self.shapes = tuple(w.shape for w in self.W)

    def input_factor(self, i: int) -> np.ndarray:
        """K-FAC input factor A_iΣA_iᵀ (Σ curvature-weighted, module docstring)."""
        return self.A[i] @ self.Sigma @ self.A[i].T

    def output_factor(self, i: int) -> np.ndarray:
        """K-FAC output factor B_iᵀ diag(o) B_i."""
        return self.B[i].T @ self.B[i]

    def output_jacobian(self) -> np.ndarray:
        """J_f = ∂vec f/∂θ = [(A_i X)ᵀ ⊗ B_i]_i, shape (k n, P)."""
        return np.hstack([np.kron((self.A[i] @ self.X).T, self.B_chain[i]) for i in range(self.depth)])

    def fisher(self) -> LowRankGram:
        """F = J_fᵀ D J_f, factored as KᵀK with K = D^{1/2} J_f."""
        d = self.loss.fisher_diag(self.f).reshape(-1, order="F")
        return LowRankGram(np.sqrt(d)[:, None] * self.output_jacobian())

    def vec(self, layers: Sequence[Any]) -> np.ndarray:
        """θ = (vec W_1, …, vec W_L), column-major (`vec_layers`)."""
        return vec_layers(layers)

    def unvec(self, v: Any) -> tuple[np.ndarray, ...]:
        """Inverse of `vec` (`unvec_layers` at this network's shapes)."""
        return unvec_layers(v, self.shapes)


@dataclass(frozen=True)
class LossTrajectory:
    """Weights of a deep linear network integrated under a rule and a loss.

    Attributes:
        t: output times (T,).
        W: per time, the layer weights W_1..W_L.
        X: the data matrix.
        loss: the loss.
        rule_name: name of the learning rule.
        nfev: right-hand-side evaluations used by the integrator.
    """

    t: np.ndarray
    W: tuple[tuple[np.ndarray, ...], ...]
    X: np.ndarray
    loss: Any
    rule_name: str
    nfev: int = field(default=0)

    def end_to_end(self) -> np.ndarray:
        """W(t) = W_L⋯W_1 at every output time, shape (T, k, d)."""
        return np.array([chain_products(Ws, np.eye)[2] for Ws in self.W])

    def outputs(self) -> np.ndarray:
        """f(t) = W(t) X, shape (T, k, n)."""
        return self.end_to_end() @ self.X


def integrate_loss(rule: Any, W0: Sequence[np.ndarray], X: Any, loss: Loss, t: Any, *,
                   tau: float = 1.0, rtol: float = 1e-10, atol: float = 1e-12, method: str = "DOP853",
                   ops: Any = None, max_step: float = np.inf,
                   event: Callable[[float, tuple[np.ndarray, ...]], float] | None = None) -> LossTrajectory:
    """Integrate τ dW_i/dt = rule.velocity(∂ℓ/∂W, LossGeometry, ops) with scipy's `solve_ivp`.

    Without `event` and `max_step` this is the shared full-matrix integrator
    `lindyn.numeric.matrix_ode.solve_flow` (as `lindyn.integrate` uses), with the loss geometry
    in place of the squared-loss one; with them, `solve_ivp` is called here (solve_flow has no
    events), with the same failure type and message format.

    Args:
        rule: any learning rule (GD(), NGD(q), BlockNGD(q), a user rule).
        W0: initial layer weights W_1..W_L.
        X: data matrix (n_0 x n).
        loss: the loss with its output Fisher.
        t: increasing output times >= 0 (integration starts at 0).
        tau: time constant τ > 0.
        rtol, atol: integrator tolerances (> 0).
        method: a `solve_ivp` method name.
        ops: numeric backend (`NumpyOps()` by default).
        max_step: largest integrator step.
        event: optional terminal event g(t, W); integration stops where it crosses zero, and the
            state there is appended as the last output time.

    Returns:
        A `LossTrajectory` at the times reached.

    Raises:
        IntegrationFailed: if the integrator stops early (not at a terminal event).

    >>> import numpy as np
    >>> from lindyn.rules import GD
    >>> tr = integrate_loss(GD(), (np.zeros((1, 2)),), np.eye(2), SquaredLoss([[1.0, 2.0]]), [0.0, 1.0])
    >>> np.round(tr.outputs()[-1], 6)    # f = y (1 − e^{−t})
    array([[0.632121, 1.264241]])
    """
    # === check arguments
    if not callable(getattr(rule, "velocity", None)):
        raise fail("rule", "a learning rule with a velocity(grads, geo, ops) method", rule)
    try:
        W0 = tuple(np.array(w, dtype=float) for w in W0)
    except (TypeError, ValueError):
        raise fail("W0", "a non-empty sequence of real 2-d weight matrices", W0) from None
    if not W0 or any(w.ndim != 2 for w in W0):
        raise fail("W0", "a non-empty sequence of 2-d weight matrices", W0)
    for i, w in enumerate(W0):
        if not np.all(np.isfinite(w)):
            raise fail(f"W0[{i}]", "finite (no NaN or inf)", f"array with {int(np.sum(~np.isfinite(w)))} "
                                                            "non-finite entries")
    for i in range(1, len(W0)):
        if W0[i].shape[1] != W0[i - 1].shape[0]:
            raise fail(f"W0[{i}]", f"a matrix with {W0[i - 1].shape[0]} columns", f"shape {W0[i].shape}")
    X = _matrix(X, "X")
    if X.shape[0] != W0[0].shape[1]:
        raise fail("X", f"a data matrix with {W0[0].shape[1]} rows", f"shape {X.shape}")
    times = np.asarray(check_times(np.ravel(t), "t"), dtype=float)
    tau = check_real(tau, "tau", positive=True)
    check_real(rtol, "rtol", positive=True)
    check_real(atol, "atol", positive=True)
    ops = ops if ops is not None else NumpyOps()
    name = getattr(rule, "name", "user")

    shapes = [w.shape for w in W0]
    nfev = [0]

    def velocity(theta: np.ndarray) -> np.ndarray:
        nfev[0] += 1
        geo = LossGeometry(unvec_layers(theta, shapes), X, loss, ops)
        return vec_layers(rule.velocity(geo.grads, geo, ops)) / tau

    theta0 = vec_layers(W0)
    if event is None and max_step == np.inf:
        # The shared full-matrix integrator: same solver, dense output and failure path as `lindyn.integrate`.
        theta = solve_flow(velocity, theta0, times, rtol=rtol, atol=atol, solver=method)
        return LossTrajectory(times, tuple(unvec_layers(th, shapes) for th in theta), X, loss, name, nfev[0])

    # A terminal event or a step limit: `solve_flow` has neither, so call solve_ivp here, with the
    # same message format and error type (IntegrationFailed) as `solve_flow`.
    def ev(_: float, theta: np.ndarray) -> float:
        return float(event(_, unvec_layers(theta, shapes)))  # type: ignore[misc]

    ev.terminal = True  # type: ignore[attr-defined]
    if times[-1] == 0:
        return LossTrajectory(times, tuple(W0 for _ in times), X, loss, name, 0)
    sol = solve_ivp(lambda _, theta: velocity(theta), (0.0, float(times[-1])), theta0, method=method, t_eval=times,
                    rtol=rtol, atol=atol, max_step=max_step, events=[ev] if event is not None else None)
    if sol.status == -1:
        reached = float(sol.t[-1]) if sol.t.size else 0.0
        raise fail("t", f"<= {reached:.6g}, where {method} stopped: {sol.message}", float(times[-1]), IntegrationFailed)
    Ws = [unvec_layers(sol.y[:, k], shapes) for k in range(sol.y.shape[1])]
    ts = list(np.asarray(sol.t))
    if event is not None and sol.status == 1 and sol.t_events[0].size and (not ts or sol.t_events[0][0] > ts[-1]):
        # stopped by the event between output times: keep the state where it fired
        ts.append(float(sol.t_events[0][0]))
        Ws.append(unvec_layers(sol.y_events[0][0], shapes))
    return LossTrajectory(np.asarray(ts), tuple(Ws), X, loss, name, int(sol.nfev))


def resolve_rule(rule: Any, named: dict[str, Callable[[], Any]], argument: str = "rule") -> Any:
    """Return a learning rule: `rule` itself if it has `velocity`, else the rule named by the string.

    The experiments take either a rule object (any object with `velocity(grads, geo, ops)`, such
    as `GD()`, `NGD(q)`, `BlockNGD(q)` or `lindyn.rule(fn)`) or one of their named strings; the
    strings are resolved here, at the public boundary, and nothing downstream branches on them.

    Args:
        rule: a learning rule object or a key of `named`.
        named: name -> factory of the rule it stands for.
        argument: argument name used in the error message.

    Returns:
        The rule object.

    >>> from lindyn.rules import GD, NGD
    >>> resolve_rule("ngf", {"gd": GD, "ngf": NGD}).name, resolve_rule(GD(), {}).name
    ('ngd', 'gd')
    """
    # === check arguments
    if isinstance(rule, str):
        if rule not in named:
            raise fail(argument, "one of " + ", ".join(repr(k) for k in named)
                       + " or a learning rule with velocity(grads, geo, ops)", rule)
        return named[rule]()
    if not callable(getattr(rule, "velocity", None)):
        raise fail(argument, "one of " + ", ".join(repr(k) for k in named)
                   + " or a learning rule with velocity(grads, geo, ops)", rule)
    return rule
