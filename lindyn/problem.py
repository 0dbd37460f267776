"""Problem definition: model x loss x data, initialisation and τ (validated at construction).

A `Problem` is everything the dynamics depend on: the `Network` (widths n_0..n_L, depth L =
number of weight matrices; deep linear by default, optionally tanh and biases), the data (moments
`Task`: Σ_yx = E[yxᵀ], Σ_xx = E[xxᵀ], W* = Σ_yx Σ_xx⁻¹; or `Samples` X, Y), the loss (squared by
default; logistic or masked squared on samples), the initial weights and the time constant τ = 1/η.

>>> p = aligned_problem(s=[3.0, 1.0], depth=3, u0=1e-3)
>>> p.network.widths, round(float(p.mode_strengths(p.initial_weights())[0]), 6)
((2, 2, 2, 2), 0.001)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np

from ._chain import end_to_end
from ._checks import MAX_DEPTH, MAX_WIDTH, check_int, check_real, fail

__all__ = [
    "Network", "DiagonalNetwork", "Task", "Samples", "Init", "Aligned", "LambdaBalanced", "SmallRandom",
    "RandomOrthogonal", "GivenWeights", "DiagonalInit", "Problem", "aligned_problem", "random_orthogonal",
]




def _finite_array(x: Any, name: str, ndim: int) -> np.ndarray:
    try:
        if np.iscomplexobj(x):
            raise fail(name, f"a real {ndim}-d array", "a complex array")
        arr = np.array(x, dtype=float)
    except (TypeError, ValueError):
        raise fail(name, f"a real {ndim}-d array", x) from None
    if arr.ndim != ndim:
        raise fail(name, f"a {ndim}-d array", f"array of shape {arr.shape}")
    if arr.size == 0:
        raise fail(name, "a non-empty array", f"array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise fail(name, "finite (no NaN or inf)", f"array with {int(np.sum(~np.isfinite(arr)))} non-finite entries")
    return arr


def _per_mode(x: Any, name: str, m: int) -> np.ndarray:
    """One finite value, or one per mode (m), as a float array of shape (m,)."""
    arr = _finite_array(np.ravel(x) if np.ndim(x) == 0 else x, name, 1) if not isinstance(x, str) else None
    if arr is None:
        raise fail(name, f"a number or {m} numbers (one per mode)", x)
    if arr.shape[0] not in (1, m):
        raise fail(name, f"one value or one per mode ({m})", f"{arr.shape[0]} values")
    return np.broadcast_to(arr, (m,)).copy()


def _check_seed(seed: Any, name: str = "seed") -> int:
    return check_int(int(seed) if isinstance(seed, np.integer) else seed, name, minimum=0)


def random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random n x n orthogonal matrix (QR of a Gaussian matrix with sign fix)."""
    Q, R = np.linalg.qr(rng.normal(size=(n, n)))
    return Q * np.sign(np.diag(R))


@dataclass(frozen=True)
class Network:
    """A network x ↦ f(x) with widths (n_0, n_1, …, n_L): deep linear by default.

    Layer i computes z_i = W_i a_{i−1} (+ b_i), a_i = φ(z_i) for hidden layers (φ = identity for
    a deep linear network, tanh otherwise) and f = z_L. With `bias`, W_i is stored as the matrix
    [W_i  b_i] acting on [a_{i−1}; 1] (Bernacchia et al. 2018), so rules see one matrix per layer.

    Args:
        widths: layer widths, input first; depth L = len(widths) − 1 >= 1.
        activation: 'linear' (default: x ↦ W_L⋯W_1 x) or 'tanh' (hidden layers).
        bias: whether every layer has a bias.

    >>> Network((3, 4, 1), activation="tanh", bias=True).shapes
    ((4, 4), (1, 5))
    """

    widths: tuple[int, ...]
    activation: str = "linear"
    bias: bool = False

    def __post_init__(self) -> None:
        widths = tuple(self.widths) if isinstance(self.widths, (list, tuple)) else self.widths
        if not isinstance(widths, tuple) or len(widths) < 2:
            raise fail("widths", "a sequence of >= 2 layer widths (depth >= 1)", self.widths)
        for k, n in enumerate(widths):
            check_int(n, f"widths[{k}]", minimum=1)
        if self.activation not in ACTIVATIONS:
            raise fail("activation", "one of " + ", ".join(map(repr, ACTIVATIONS)), self.activation)
        if not isinstance(self.bias, bool):
            raise fail("bias", "True or False", self.bias)
        object.__setattr__(self, "widths", widths)

    @property
    def depth(self) -> int:
        """Number of weight matrices L."""
        return len(self.widths) - 1

    @property
    def linear(self) -> bool:
        """True for a deep linear network without biases (the chain W_L⋯W_1 of the theory)."""
        return self.activation == "linear" and not self.bias

    @property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        """Shape (n_i, n_{i-1}) of each W_i ((n_i, n_{i−1} + 1) with a bias)."""
        extra = 1 if self.bias else 0
        return tuple((self.widths[i + 1], self.widths[i] + extra) for i in range(self.depth))

    @property
    def kind(self) -> str:
        """'chain': the layers compose, f = W_L φ(⋯φ(W_1 x)) (see `DiagonalNetwork` for 'diagonal')."""
        return "chain"

    def end_to_end(self, layers: Sequence[Any]) -> Any:
        """W = W_L⋯W_1 (the end-to-end map of a linear chain; stacked layers give a stack of maps)."""
        return end_to_end(layers)

    def geometry_options(self) -> dict[str, Any]:
        """The keywords of `lindyn.numeric.geometry.MatrixGeometry` that describe this forward map."""
        return {"activation": self.activation, "bias": self.bias}


#: Largest input dimension of a `DiagonalNetwork` (its Fisher is formed as a 2d x 2d operator).
MAX_DIAGONAL_WIDTH = 100_000


@dataclass(frozen=True)
class DiagonalNetwork:
    """Diagonal linear network x ↦ ⟨w, x⟩ with w = u^{⊙L} − v^{⊙L} (Woodworth et al. 2020).

    The parameters are two vectors u, v ∈ R^d, raised elementwise to the power L = `depth` (one
    weight shared by the L layers of each coordinate's path; L = 1 is the plain linear model w = u − v,
    redundant in its parameters). The rules see them as two 1 x d "layers" (W_1 = uᵀ, W_2 = vᵀ), so
    every rule runs unchanged on the geometry of this forward map (`MatrixGeometry(diagonal_depth=L)`):

        f_n = Σ_j w_j X_jn,  ∂ℓ/∂u = L u^{⊙(L−1)} ⊙ ∇_wℓ,  ∂ℓ/∂v = −L v^{⊙(L−1)} ⊙ ∇_wℓ,
        ∇_wℓ = X ∇_fℓᵀ,  J_f = [Xᵀ diag(L u^{L−1}),  −Xᵀ diag(L v^{L−1})].

    With a balanced untied parameterisation (L layers u_1 = … = u_L) GD is the same flow on w with
    time scaled by 1/L and Moore–Penrose NGD the same flow (its velocity in w does not see a
    constant factor on the Jacobian).

    Args:
        d: input dimension (>= 1).
        depth: the power L (1 <= L <= 100).

    >>> net = DiagonalNetwork(3, depth=2)
    >>> net.widths, net.shapes
    ((3, 1), ((1, 3), (1, 3)))
    >>> net.end_to_end((np.array([[2.0, 1.0, 0.0]]), np.array([[1.0, 1.0, 3.0]]))).tolist()
    [[3.0, 0.0, -9.0]]
    """

    d: int
    depth: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "d", check_int(self.d, "d", minimum=1, maximum=MAX_DIAGONAL_WIDTH))
        object.__setattr__(self, "depth", check_int(self.depth, "depth", minimum=1, maximum=MAX_DEPTH))

    @property
    def widths(self) -> tuple[int, int]:
        """(d, 1): d inputs, one output."""
        return (self.d, 1)

    @property
    def kind(self) -> str:
        """'diagonal'."""
        return "diagonal"

    @property
    def activation(self) -> str:
        """'linear' (the model is linear in x)."""
        return "linear"

    @property
    def bias(self) -> bool:
        """False."""
        return False

    @property
    def linear(self) -> bool:
        """False: not a chain W_L⋯W_1 (there are no products A_i, B_i); read `end_to_end` for w."""
        return False

    @property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        """((1, d), (1, d)): the layers uᵀ and vᵀ."""
        return ((1, self.d), (1, self.d))

    def end_to_end(self, layers: Sequence[Any]) -> Any:
        """wᵀ = (u^{⊙L} − v^{⊙L})ᵀ, shape (..., 1, d) for layers of shape (..., 1, d)."""
        U, V = layers
        return np.asarray(U) ** self.depth - np.asarray(V) ** self.depth

    def geometry_options(self) -> dict[str, Any]:
        """The keywords of `lindyn.numeric.geometry.MatrixGeometry` that describe this forward map."""
        return {"diagonal_depth": self.depth}


#: Hidden activations of `Network`.
ACTIVATIONS = ("linear", "tanh")


@dataclass(frozen=True)
class Task:
    """Squared-error regression task: ℓ = ½ tr[(W − W*)Σ_xx(W − W*)ᵀ] + const.

    Args:
        Sigma_yx: E[yxᵀ], shape (n_L, n_0).
        Sigma_xx: E[xxᵀ], shape (n_0, n_0), symmetric positive definite (default: identity).
    """

    Sigma_yx: np.ndarray
    Sigma_xx: np.ndarray | None = None

    def __post_init__(self) -> None:
        Syx = _finite_array(self.Sigma_yx, "Sigma_yx", 2)
        Sxx = np.eye(Syx.shape[1]) if self.Sigma_xx is None else _finite_array(self.Sigma_xx, "Sigma_xx", 2)
        if Sxx.shape != (Syx.shape[1], Syx.shape[1]):
            raise fail("Sigma_xx", f"of shape ({Syx.shape[1]}, {Syx.shape[1]}) to match Sigma_yx", f"shape {Sxx.shape}")
        if not np.allclose(Sxx, Sxx.T, rtol=1e-12, atol=1e-12 * max(1.0, float(np.abs(Sxx).max()))):
            raise fail("Sigma_xx", "symmetric positive definite", "a non-symmetric matrix")
        try:
            np.linalg.cholesky(Sxx)
        except np.linalg.LinAlgError:
            raise fail("Sigma_xx", "symmetric positive definite", "a matrix with a non-positive eigenvalue") from None
        object.__setattr__(self, "Sigma_yx", Syx)
        object.__setattr__(self, "Sigma_xx", Sxx)

    @classmethod
    def from_data(cls, X: Any, Y: Any) -> "Task":
        """Estimate Σ_xx = XXᵀ/P and Σ_yx = YXᵀ/P from data X (n_0 x P) and Y (n_L x P)."""
        X = _finite_array(X, "X", 2)
        Y = _finite_array(Y, "Y", 2)
        if X.shape[1] != Y.shape[1]:
            raise fail("Y", f"with {X.shape[1]} columns (one per sample, as X)", f"shape {Y.shape}")
        P = X.shape[1]
        return cls(Sigma_yx=Y @ X.T / P, Sigma_xx=X @ X.T / P)

    @property
    def W_star(self) -> np.ndarray:
        """W* = Σ_yx Σ_xx⁻¹, the loss minimiser."""
        return np.linalg.solve(self.Sigma_xx.T, self.Sigma_yx.T).T

    def loss(self, W_end: np.ndarray) -> float:
        """Excess loss ½ tr[(W − W*)Σ_xx(W − W*)ᵀ] (zero at the optimum)."""
        E = W_end - self.W_star
        return 0.5 * float(np.trace(E @ self.Sigma_xx @ E.T))


@dataclass(frozen=True)
class Samples:
    """Training data as samples: inputs X (n_0 x n) and targets Y (n_L x n), one column per example.

    With `SquaredLoss(reduction="mean")` on a deep linear net this is the same problem as
    `Task.from_data(X, Y)`; other losses (`LogisticLoss`, `MaskedSquaredLoss`) and nonlinear
    networks need samples.

    Args:
        X: inputs, a finite 2-d array (a 1-d array is one input row).
        Y: targets, a finite 2-d array with as many columns as X (a 1-d array is one output row).

    >>> Samples([[1.0, 2.0]], [1.0, -1.0]).Y.shape
    (1, 2)
    """

    X: np.ndarray
    Y: np.ndarray

    def __post_init__(self) -> None:
        X = _finite_array(np.atleast_2d(self.X) if np.ndim(self.X) == 1 else self.X, "X", 2)
        Y = _finite_array(np.atleast_2d(self.Y) if np.ndim(self.Y) == 1 else self.Y, "Y", 2)
        if X.shape[1] != Y.shape[1]:
            raise fail("Y", f"with {X.shape[1]} columns (one per example, as X)", f"shape {Y.shape}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)

    @property
    def n(self) -> int:
        """Number of examples."""
        return self.X.shape[1]

    @property
    def Sigma_xx(self) -> np.ndarray:
        """Input second moment XXᵀ/n."""
        return self.X @ self.X.T / self.n

    @property
    def Sigma_yx(self) -> np.ndarray:
        """Input-output moment YXᵀ/n (its SVD gives the mode bases)."""
        return self.Y @ self.X.T / self.n


def _chain_only(network: Any, init: str) -> None:
    """Refuse a `DiagonalNetwork` in an init built for chains of matrices."""
    if not isinstance(network, Network):
        raise fail("network", f"a Network (a chain of weight matrices) for {init}; a DiagonalNetwork takes "
                              "DiagonalInit, SmallRandom, RandomOrthogonal or GivenWeights", network)


class Init(Protocol):
    """An initialisation: makes the initial weights for a network and task."""

    def weights(self, network: Network, task: Task) -> tuple[np.ndarray, ...]:
        """Initial W_1..W_L."""
        ...


@dataclass(frozen=True)
class Aligned:
    """Aligned initialisation W_i = R_{i+1} diag(a_i) R_iᵀ (Saxe et al. 2014).

    R_1 = V and R_{L+1} = U come from the SVD Σ_yx = U diag(s) Vᵀ (or are given as `U`, `V`);
    hidden bases R_2..R_L are random orthogonal (fixed `seed`). Mode α has per-layer gains
    `gains[α]` = (a_1, …, a_L) and strength u_α = ∏_i a_i; modes beyond len(gains) start at 0.

    Args:
        gains: array (modes x L) of layer gains.
        seed: seed of the hidden orthogonal bases.
        U, V: output and input mode bases (default: from the SVD of Σ_yx).
    """

    gains: Any
    seed: int = 0
    U: Any = None
    V: Any = None

    @classmethod
    def balanced(cls, u0: Sequence[float], depth: int, seed: int = 0, U: Any = None, V: Any = None) -> "Aligned":
        """Balanced aligned init: every layer gain of mode α is u0_α^{1/L} (sign on the first layer)."""
        depth = check_int(depth, "depth", minimum=1)
        u0 = _finite_array(u0, "u0", 1)
        mag = np.abs(u0) ** (1.0 / depth)
        gains = np.tile(mag[:, None], (1, depth))
        gains[:, 0] *= np.where(u0 < 0, -1.0, 1.0)
        return cls(gains=gains, seed=seed, U=U, V=V)

    def bases(self, network: Network, task: Task) -> tuple[np.ndarray, ...]:
        """The bases (R_1, …, R_{L+1}): R_1 = V, R_{L+1} = U, hidden R_i random orthogonal (seeded).

        The per-layer mode gains of any weights are then a_{i,α} = (R_{i+1}ᵀ W_i R_i)_αα.
        """
        U, _, Vt = np.linalg.svd(task.Sigma_yx)
        U = U if self.U is None else _finite_array(self.U, "U", 2)
        V = Vt.T if self.V is None else _finite_array(self.V, "V", 2)
        n0, nL = network.widths[0], network.widths[-1]
        if U.shape != (nL, nL):
            raise fail("U", f"an orthogonal matrix of shape ({nL}, {nL}) (output width)", f"shape {U.shape}")
        if V.shape != (n0, n0):
            raise fail("V", f"an orthogonal matrix of shape ({n0}, {n0}) (input width)", f"shape {V.shape}")
        rng = np.random.default_rng(_check_seed(self.seed))
        return tuple([V] + [random_orthogonal(n, rng) for n in network.widths[1:-1]] + [U])

    def weights(self, network: Network, task: Task) -> tuple[np.ndarray, ...]:
        """W_i = R_{i+1} diag(a_i) R_iᵀ."""
        _chain_only(network, "Aligned")
        gains = _finite_array(self.gains, "gains", 2)
        L, widths = network.depth, network.widths
        if gains.shape[1] != L:
            raise fail("gains", f"an array with one column per layer ({L})", f"shape {gains.shape}")
        if gains.shape[0] > min(widths):
            raise fail("gains", f"at most min(widths) = {min(widths)} modes", f"{gains.shape[0]} modes")
        R = self.bases(network, task)
        out = []
        for i in range(L):
            D = np.zeros((widths[i + 1], widths[i]))
            D[np.arange(gains.shape[0]), np.arange(gains.shape[0])] = gains[:, i]
            out.append(R[i + 1] @ D @ R[i].T)
        return tuple(out)


@dataclass(frozen=True)
class LambdaBalanced:
    """Two-layer λ-balanced init: W₂ᵀW₂ − W₁W₁ᵀ = λI (Braun, Dominé, Fitzgerald & Saxe 2022).

    The smaller factor is drawn and the other one completes the balance:

    * λ >= 0: W₁ = scale · G, W₂ = O (W₁W₁ᵀ + λI)^{1/2} with O (n₂ x h) of orthonormal columns
      (exists iff n₂ >= h, or λ = 0 with W₁ of rank <= n₂ — this init asks n₂ >= h);
    * λ < 0: W₂ = scale · G, W₁ = (W₂ᵀW₂ + |λ|I)^{1/2} Oᵀ with O (n₀ x h) of orthonormal columns
      (exists iff n₀ >= h).

    `kind` picks G: 'random' (i.i.d. standard Gaussian; no alignment with the task), 'orthogonal'
    (orthonormal rows or columns, so the drawn factor's Gram matrix is scale² I), or 'aligned'
    (W₁ = a R V_hᵀ, W₂ = b U_h Rᵀ with the task's singular vectors U, V, R orthogonal and
    b² − a² = λ: every mode starts aligned, the setting of the scalar mode formulas).

    Args:
        lam: balance λ (any real; the sign decides which width must be >= the hidden width).
        scale: size of the drawn factor (standard deviation for 'random', a or b for the others).
        seed: random seed.
        kind: 'random' (default), 'orthogonal' or 'aligned'.

    >>> import numpy as np
    >>> W1, W2 = LambdaBalanced(lam=-1.0, scale=0.3).weights(Network((4, 3, 5)), Task(np.ones((5, 4))))
    >>> bool(np.allclose(W2.T @ W2 - W1 @ W1.T, -np.eye(3)))
    True
    """

    lam: float = 0.0
    scale: float = 0.1
    seed: int = 0
    kind: str = "random"

    def weights(self, network: Network, task: Task) -> tuple[np.ndarray, ...]:
        """(W₁, W₂) with W₂ᵀW₂ − W₁W₁ᵀ = λI."""
        _chain_only(network, "LambdaBalanced")
        if network.depth != 2:
            raise fail("network", "a two-layer network for LambdaBalanced", f"depth {network.depth}")
        lam = check_real(self.lam, "lam")
        scale = check_real(self.scale, "scale", nonnegative=True)
        if self.kind not in ("random", "orthogonal", "aligned"):
            raise fail("kind", "'random', 'orthogonal' or 'aligned'", self.kind)
        n0, h, n2 = network.widths
        if lam >= 0 and n2 < h:
            raise fail("lam", f"< 0 for widths {network.widths}: a λ >= 0 init needs output width >= hidden "
                              f"width (W₂ᵀW₂ = W₁W₁ᵀ + λI has rank h)", lam)
        if lam < 0 and n0 < h:
            raise fail("lam", f">= 0 for widths {network.widths}: a λ < 0 init needs input width >= hidden "
                              f"width (W₁W₁ᵀ = W₂ᵀW₂ + |λ|I has rank h)", lam)
        rng = np.random.default_rng(_check_seed(self.seed))
        if self.kind == "aligned":
            if h > min(n0, n2):
                raise fail("kind", f"'random' or 'orthogonal' for widths {network.widths}: an aligned init needs "
                                   "hidden width <= input and output widths", self.kind)
            U, _, Vt = np.linalg.svd(task.Sigma_yx)
            R = random_orthogonal(h, rng)
            a, b = (scale, np.sqrt(scale ** 2 + lam)) if lam >= 0 else (np.sqrt(scale ** 2 - lam), scale)
            return (a * R @ Vt[:h], b * U[:, :h] @ R.T)
        small_rows, big_rows = (n0, n2) if lam >= 0 else (n2, n0)
        if self.kind == "random":
            G = scale * rng.normal(size=(h, small_rows))
        else:
            G = scale * random_orthogonal(max(h, small_rows), rng)[:h, :small_rows]   # orthonormal rows or columns
        M = G @ G.T + abs(lam) * np.eye(h)
        ev, E = np.linalg.eigh(M)
        root = (E * np.sqrt(np.clip(ev, 0, None))) @ E.T
        O = np.linalg.qr(rng.normal(size=(big_rows, h)))[0]
        if lam >= 0:
            return (G, O @ root)                # W₁ = G (h x n₀), W₂ = O root
        return (root @ O.T, G.T)                # W₂ = Gᵀ (n₂ x h), W₁ = root Oᵀ


@dataclass(frozen=True)
class SmallRandom:
    """I.i.d. Gaussian weights with standard deviation `scale` (seeded)."""

    scale: float = 1e-3
    seed: int = 0

    def weights(self, network: Network, task: Task) -> tuple[np.ndarray, ...]:
        """W_i ~ scale · N(0, 1) entrywise."""
        scale = check_real(self.scale, "scale", nonnegative=True)
        rng = np.random.default_rng(_check_seed(self.seed))
        return tuple(scale * rng.normal(size=s) for s in network.shapes)


@dataclass(frozen=True)
class RandomOrthogonal:
    """Scaled random (semi-)orthogonal weights W_i = scale · Q_i (seeded)."""

    scale: float = 1.0
    seed: int = 0

    def weights(self, network: Network, task: Task) -> tuple[np.ndarray, ...]:
        """W_i = scale · (first columns/rows of a Haar orthogonal matrix)."""
        scale = check_real(self.scale, "scale", nonnegative=True)
        rng = np.random.default_rng(_check_seed(self.seed))
        out = []
        for m, n in network.shapes:
            Q = random_orthogonal(max(m, n), rng)
            out.append(scale * Q[:m, :n])
        return tuple(out)


@dataclass(frozen=True)
class GivenWeights:
    """User-supplied initial weights W_1..W_L."""

    W: tuple[Any, ...]

    def weights(self, network: Network, task: Task) -> tuple[np.ndarray, ...]:
        """The given arrays, checked against the network's shapes."""
        count = len(network.shapes)
        if isinstance(self.W, (str, bytes)) or not hasattr(self.W, "__len__"):
            raise fail("W", f"a sequence of {count} weight matrices (one per layer)", self.W)
        if len(self.W) != count:
            raise fail("W", f"{count} weight matrices (one per layer)", f"{len(self.W)} matrices")
        out = []
        for i, (w, shape) in enumerate(zip(self.W, network.shapes)):
            arr = _finite_array(w, f"W[{i}]", 2)
            if arr.shape != shape:
                raise fail(f"W[{i}]", f"of shape {shape}", f"shape {arr.shape}")
            out.append(arr)
        return tuple(out)


@dataclass(frozen=True)
class DiagonalInit:
    """Init of a `DiagonalNetwork` at scale α: u(0) = v(0) = α·1, so w_± = u^{⊙L}, v^{⊙L} start at α^L and w(0) = 0.

    Woodworth et al. 2020's initialisation of their depth-D diagonal model: gradient descent's limit
    depends on α through their potential Q^L_α (the smaller α, the closer to the minimum-ℓ1 interpolant).

    Args:
        scale: α > 0.

    >>> [w.tolist() for w in DiagonalInit(0.1).weights(DiagonalNetwork(2, depth=3), None)]
    [[[0.1, 0.1]], [[0.1, 0.1]]]
    """

    scale: float = 1e-2

    def weights(self, network: Any, task: Any) -> tuple[np.ndarray, ...]:
        """(uᵀ, vᵀ) = (α·1ᵀ, α·1ᵀ)."""
        if not isinstance(network, DiagonalNetwork):
            raise fail("network", "a DiagonalNetwork for DiagonalInit (use SmallRandom, GivenWeights, … otherwise)",
                       network)
        alpha = check_real(self.scale, "scale", positive=True)
        row = np.full((1, network.d), alpha)
        return (row, row.copy())


@dataclass(frozen=True)
class Problem:
    """One problem: a model (`Network` or `DiagonalNetwork`) x a loss x data, with an initialisation and τ = 1/η.

    Data are moments (`Task`: Σ_xx, Σ_yx; the squared loss ½ tr[(W − W*)Σ(W − W*)ᵀ], deep linear
    nets) or samples (`Samples`: X, Y, with any loss of `lindyn.numeric.losses`: `SquaredLoss`
    (default), `LogisticLoss`, `MaskedSquaredLoss`; any `Network`). The problem builds the geometry
    the learning rules read (`lindyn.numeric.geometry.MatrixGeometry`).

    Args:
        network: the `Network` (widths, activation, bias) or a `DiagonalNetwork` (w = u^{⊙L} − v^{⊙L}; samples only).
        task: the data, `Task` or `Samples` (shapes must match the network's input and output widths).
        init: an `Init` (e.g. `Aligned`, `SmallRandom`, `GivenWeights`).
        tau: time constant τ > 0 (t counts iterations × η).
        loss: the loss of sample data (default `SquaredLoss()`); moments take only the squared loss.
        mode_bases: (U, V) to read mode strengths diag(Uᵀ W V) (default: from the SVD of Σ_yx).

    >>> import numpy as np
    >>> from lindyn.numeric.losses import LogisticLoss
    >>> p = Problem(Network((2, 1)), Samples(np.eye(2), [1.0, -1.0]), GivenWeights((np.zeros((1, 2)),)),
    ...             loss=LogisticLoss())
    >>> p.loss.name
    'logistic'
    """

    network: Network | DiagonalNetwork
    task: Task | Samples
    init: Any
    tau: float = 1.0
    loss: Any = None
    mode_bases: tuple[Any, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.network, (Network, DiagonalNetwork)):
            raise fail("network", "a lindyn.Network or lindyn.DiagonalNetwork", self.network)
        if not isinstance(self.task, (Task, Samples)):
            raise fail("task", "a lindyn.Task (moments) or lindyn.Samples (X, Y)", self.task)
        if not callable(getattr(self.init, "weights", None)):
            raise fail("init", "an initialisation with weights(network, task) (e.g. Aligned, SmallRandom, "
                               "GivenWeights)", self.init)
        check_real(self.tau, "tau", positive=True)
        n0, nL = self.network.widths[0], self.network.widths[-1]
        if self.task.Sigma_yx.shape != (nL, n0) if isinstance(self.task, Task) else \
                (self.task.X.shape[0], self.task.Y.shape[0]) != (n0, nL):
            got = self.task.Sigma_yx.shape if isinstance(self.task, Task) else \
                f"X of shape {self.task.X.shape}, Y of shape {self.task.Y.shape}"
            raise fail("task", f"data with {n0} inputs and {nL} outputs to match widths {self.network.widths}", got)
        from .numeric.losses import SquaredLoss
        if isinstance(self.task, Task):
            if self.loss is not None and self.loss != SquaredLoss():
                raise fail("loss", "SquaredLoss() (or None) with moment data; give Samples(X, Y) for other losses",
                           self.loss)
            if isinstance(self.network, DiagonalNetwork):
                raise fail("task", "Samples(X, Y) for a DiagonalNetwork (its geometry is built on samples)",
                           "Task (moments)")
            if not self.network.linear:
                raise fail("network", "a deep linear network without biases with moment data (Task); give "
                                      "Samples(X, Y) for nonlinear networks or biases", self.network)
            object.__setattr__(self, "loss", SquaredLoss())
        else:
            loss = SquaredLoss() if self.loss is None else self.loss
            for method in ("value", "grad", "curvature", "kfac_weights", "check_targets"):
                if not callable(getattr(loss, method, None)):
                    raise fail("loss", "a loss with value, grad, curvature, kfac_weights and check_targets (e.g. "
                                       "SquaredLoss(), LogisticLoss(), MaskedSquaredLoss(mask))", loss)
            loss.check_targets(self.task.Y)
            object.__setattr__(self, "loss", loss)

    @property
    def moments(self) -> bool:
        """True for moment data (`Task`), False for samples."""
        return isinstance(self.task, Task)

    def initial_weights(self) -> tuple[np.ndarray, ...]:
        """W_1(0)..W_L(0), checked against the network's shapes."""
        W = tuple(np.asarray(w, dtype=float) for w in self.init.weights(self.network, self.task))
        if len(W) != len(self.network.shapes) or any(w.shape != s for w, s in zip(W, self.network.shapes)):
            raise fail("init", f"weights of shapes {list(self.network.shapes)}", [w.shape for w in W])
        return W

    def data(self) -> Any:
        """The geometry's data: `Moments(Σ, Σ_yx)` or `SampleData(X, Y)` (`lindyn.numeric.geometry`)."""
        from .numeric.geometry import Moments, SampleData
        if isinstance(self.task, Task):
            return Moments(self.task.Sigma_xx, self.task.Sigma_yx)
        return SampleData(self.task.X, self.task.Y)

    def bases(self) -> tuple[np.ndarray, np.ndarray]:
        """(U, V): the output/input mode bases used to read mode strengths diag(Uᵀ W V)."""
        if self.mode_bases is not None:
            return self.mode_bases
        U, _, Vt = np.linalg.svd(self.task.Sigma_yx)
        return U, Vt.T

    def mode_strengths(self, W: Sequence[np.ndarray]) -> np.ndarray:
        """u_α = (Uᵀ W V)_αα for each mode α, W = W_L⋯W_1 (deep linear networks) or wᵀ (diagonal networks)."""
        U, V = self.bases()
        return np.diag(U.T @ self.network.end_to_end(W) @ V).copy()


def aligned_problem(s: Sequence[float], depth: int, *, u0: Any = None, gains: Any = None,
                    lam: Any = 1.0, width: int | None = None, tau: float = 1.0, seed: int = 0) -> Problem:
    """The aligned problem of the command line: modes with singular values s and input variances λ.

    Σ_yx = U diag(s) Vᵀ and Σ_xx = V diag(λ) Vᵀ with random orthogonal U, V (fixed seed), so mode α
    converges to s_α/λ_α. Every layer has width `width` (default: the number of modes).

    Args:
        s: singular values of Σ_yx, each finite and >= 0 (> 0 for a learnable mode).
        depth: 1 <= L <= 100 (`lindyn._checks.MAX_DEPTH`).
        u0: initial strength per mode (scalar or one per mode; balanced: each gain u0^{1/L}).
        gains: per-layer gains a_1..a_L, shared by all modes (or an array modes x L).
        lam: input variance per mode (scalar or one per mode, > 0).
        width: hidden width N, number of modes <= N <= 2048 (`MAX_WIDTH`).
        tau: time constant τ > 0.
        seed: seed of the random bases (integer >= 0).
    """
    # === check arguments
    depth = check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH)
    if s is None or isinstance(s, str):
        raise fail("s", "a non-empty list of singular values", s)
    s = _finite_array(np.ravel(s) if np.ndim(s) == 0 else s, "s", 1)
    m = len(s)
    if np.any(s < 0):
        raise fail("s", "singular values >= 0", s.tolist())
    lam_arr = _per_mode(lam, "lam", m)
    if np.any(lam_arr <= 0):
        raise fail("lam", "> 0 (input variance along each mode)", lam)
    width = m if width is None else check_int(width, "width", minimum=m, maximum=max(m, MAX_WIDTH))
    if (u0 is None) == (gains is None):
        raise fail("u0", "given, or gains given instead (exactly one of u0 and gains)", u0)
    seed = _check_seed(seed)
    u0_arr = _per_mode(u0, "u0", m) if u0 is not None else None
    if gains is not None:
        if isinstance(gains, str):
            raise fail("gains", f"{depth} gains, one per layer (or an array modes x {depth})", gains)
        g = _finite_array(np.atleast_2d(gains) if np.ndim(gains) <= 1 else gains, "gains", 2)
        if g.shape[1] != depth:
            raise fail("gains", f"{depth} gains, one per layer", f"{g.shape[1]} gains")
        if g.shape[0] not in (1, m):
            raise fail("gains", f"one row of gains or one per mode ({m})", f"{g.shape[0]} rows")
    rng = np.random.default_rng(seed + 1000)
    U, V = random_orthogonal(m, rng), random_orthogonal(m, rng)
    task = Task(Sigma_yx=U @ np.diag(s) @ V.T, Sigma_xx=V @ np.diag(lam_arr) @ V.T)
    if u0_arr is not None:
        init = Aligned.balanced(u0_arr, depth, seed=seed, U=U, V=V)
    else:
        init = Aligned(gains=np.broadcast_to(g, (m, depth)).copy(), seed=seed, U=U, V=V)
    network = Network((m,) + (width,) * (depth - 1) + (m,))
    return Problem(network, task, init, tau=check_real(tau, "tau", positive=True), mode_bases=(U, V))
