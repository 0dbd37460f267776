"""Deep matrix factorisation for low-rank matrix completion: GD versus two natural gradients.

Kerekes, Mészáros & Huszár 2021; Arora, Cohen, Hu & Luo 2019 (THEORY §3-4). The end-to-end
matrix W = W_L⋯W_1 (square, n x n layers) is fitted to the entries of M on the observed set Ω,
ℓ = ½‖P_Ω(W − M)‖². Rules, all from `lindyn.rules`, on `LossGeometry` with `CompletionLoss`:

- "gd": GD(). From a small balanced init, W's singular values follow
  σ̇_r = −L(σ_r²)^{1−1/L}⟨∇ℓ(W), u_r v_rᵀ⟩ (Arora et al. 2019), which speeds up large and slows
  small singular values: a low-rank bias that completes the matrix when depth L ≥ 2. At L = 1,
  Ẇ = −P_Ω(W − M): unobserved entries never move.
- "ngf": NGD() with the model Fisher (Gaussian on every entry, `fisher="model"`). When J_f is
  surjective this is the reparameterisation-invariant function-space flow Ẇ = −P_Ω(W − M)
  whatever the depth: unobserved entries never move, no completion.
- "ngd-data": NGD() with the data Fisher (observed entries only, `fisher="data"`), inverted by
  Moore–Penrose in parameter space: θ̇ = −J_Ω⁺ r_Ω, the minimum-norm parameter velocity that
  fits the observed residual. Unobserved entries move, by an amount that depends on depth and
  parameterisation.

>>> M, mask = low_rank_problem(6, 1, 0.6, seed=0)
>>> M.shape, int(mask.sum()) > 6
((6, 6), True)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._chain import chain_products
from .._checks import check_int, check_real, fail
from ..rules import GD, NGD
from .classification import layer_init
from .losses import CompletionLoss, LossGeometry, LossTrajectory, integrate_loss, resolve_rule
from .singular import first_singular_point

__all__ = ["COMPLETION_VARIANTS", "low_rank_problem", "effective_rank", "CompletionRun", "run_completion",
           "arora_singular_value_check", "singular_crossing"]

COMPLETION_VARIANTS = ("gd", "ngf", "ngd-data")


def low_rank_problem(n: int, rank: int, observed: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random n x n matrix of the given rank (singular values 1, ½, …, spectral norm 1) and a mask Ω.

    Each entry is observed with probability `observed`; the draw is repeated until every row and
    every column has at least `rank` observed entries (needed for completion to be possible).

    Args:
        n: size >= 2.
        rank: 1 <= rank <= n.
        observed: fraction in (0, 1].
        seed: random seed.

    Returns:
        (M, mask), mask a 0/1 float array.

    >>> M, mask = low_rank_problem(4, 1, 0.75, seed=0)
    >>> int(np.linalg.matrix_rank(M)), round(float(np.linalg.norm(M, 2)), 12), bool(mask.sum(axis=0).min() >= 1)
    (1, 1.0, True)
    """
    # === check arguments
    n = check_int(n, "n", minimum=2)
    rank = check_int(rank, "rank", minimum=1, maximum=n)
    observed = check_real(observed, "observed", positive=True)
    if observed > 1:
        raise fail("observed", "a fraction in (0, 1]", observed)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    U = np.linalg.qr(rng.normal(size=(n, rank)))[0]
    V = np.linalg.qr(rng.normal(size=(n, rank)))[0]
    M = (U * (0.5 ** np.arange(rank))) @ V.T
    for _ in range(1000):
        mask = (rng.random((n, n)) < observed).astype(float)
        if mask.sum(axis=0).min() >= rank and mask.sum(axis=1).min() >= rank:
            return M, mask
    raise fail("observed", f"large enough that every row and column has {rank} observed entries", observed)


def effective_rank(W: Any) -> float:
    """Effective rank exp(H(p)), p_r = σ_r/Σσ (Roy & Vetterli 2007): 1 for rank one, n for I_n.

    >>> round(effective_rank(np.diag([1.0, 1.0, 0.0])), 6)
    2.0
    """
    # === check arguments
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or not np.all(np.isfinite(W)):
        raise fail("W", "a finite 2-d matrix", W)
    sig = np.linalg.svd(W, compute_uv=False)
    if sig.sum() == 0:
        return 0.0
    p = sig / sig.sum()
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def singular_crossing(M: Any, mask: Any, W0: Any) -> float | None:
    """Where the function-space flow from W0 first meets a singular matrix, or None.

    The flow Ẇ = −P_Ω(W − M) runs along the segment W0 + s P_Ω(M − W0), s = 1 − e^{−t} ∈ [0, 1);
    its first singular point is `first_singular_point(W0, W0 + P_Ω(M − W0))` (the shared QZ
    root finder of `lindyn.numeric.singular`). A balanced deep factorisation reaches such a point with every layer singular at
    once (NGD keeps balance, THEORY §3), J_f stops being surjective and parameter-space NGD
    leaves the function-space flow there (THEORY §3, "singular crossing").

    Args:
        M: target; mask: 0/1 observed set; W0: initial end-to-end matrix (square).

    Returns:
        The first s in (0, 1) with det = 0, or None.

    >>> singular_crossing(np.diag([-1.0, 1.0]), np.eye(2), np.eye(2))
    0.5
    """
    # === check arguments
    W0 = np.asarray(W0, dtype=float)
    loss = CompletionLoss(M, mask)
    if W0.shape != loss.M.shape or W0.shape[0] != W0.shape[1]:
        raise fail("W0", f"a square matrix of shape {loss.M.shape}", f"shape {W0.shape}")
    return first_singular_point(W0, W0 + loss.mask * (loss.M - W0))


@dataclass(frozen=True)
class CompletionRun:
    """One completion run, measured at every output time.

    Attributes:
        variant: "gd", "ngf" or "ngd-data", or the rule's `name` when a rule object was given.
        depth: L; init_scale: per-layer scale α (‖W(0)‖₂ = α^L).
        t: times; W: end-to-end W(t), shape (T, n, n).
        recovery_error: ‖P_Ωᶜ(W − M)‖_F / ‖P_Ωᶜ M‖_F (error on the unobserved entries).
        observed_error: ‖P_Ω(W − M)‖_F / ‖P_Ω M‖_F.
        effective_rank: `effective_rank(W(t))`.
        unobserved_change: max |W_ij(t) − W_ij(0)| over unobserved (i, j).
        trajectory: the underlying `LossTrajectory` (layer weights).
        crossing: for variant "ngf" at depth >= 2, `singular_crossing` of the function-space
            segment from W(0) (None: no crossing, or not applicable: at depth 1 J_f = I never loses
            rank, and for other variants or rule objects the segment is not the path).
    """

    variant: str
    depth: int
    init_scale: float
    t: np.ndarray
    W: np.ndarray
    recovery_error: np.ndarray
    observed_error: np.ndarray
    effective_rank: np.ndarray
    unobserved_change: np.ndarray
    trajectory: LossTrajectory
    crossing: float | None = None


def run_completion(M: Any, mask: Any, variant: Any, depth: int, t: Any, *,
                   init_scale: float = 0.1, seed: int = 0, rtol: float = 1e-8, atol: float = 1e-12,
                   stop_at: float | None = None, fisher: Literal["data", "model"] | None = None) -> CompletionRun:
    """Fit M on Ω with a depth-L factorisation W_L⋯W_1 from W_i = α·(random orthogonal).

    ℓ = ½‖P_Ω(W − M)‖², τ dW_i/dt = rule.velocity(∂ℓ/∂W, geo) with the output Fisher `fisher`
    (Kerekes et al. 2021; THEORY §4); recovery is measured on the unobserved entries Ωᶜ.

    Args:
        M: target (n x n); mask: 0/1 array, 1 on Ω.
        variant: one of `COMPLETION_VARIANTS` (see the module docstring), or a learning rule
            object (any object with `velocity(grads, geo, ops)`, e.g. `NGD(q)` or `lindyn.rule(fn)`).
        depth: L in 1..6.
        t: increasing output times.
        init_scale: α > 0 (balanced init, ‖W(0)‖₂ = α^L).
        seed: seed of the initial layers.
        rtol, atol: integrator tolerances.
        stop_at: optional: stop once the observed relative error falls below this value.
        fisher: output Fisher of `CompletionLoss` ("data" or "model"); a string variant fixes it
            ("ngf": "model", others: "data"), for a rule object it defaults to "data".

    Returns:
        A `CompletionRun` at the times reached.

    >>> M, mask = low_rank_problem(4, 1, 0.75, seed=0)
    >>> run = run_completion(M, mask, "gd", 1, [0.0, 5.0], init_scale=0.5)
    >>> float(run.unobserved_change[-1]), bool(run.observed_error[-1] < 1e-2)   # L = 1: Ẇ = −P_Ω(W − M)
    (0.0, True)
    """
    # === check arguments
    rule = resolve_rule(variant, {"gd": GD, "ngf": NGD, "ngd-data": NGD}, "variant")
    implied = ("model" if variant == "ngf" else "data") if isinstance(variant, str) else "data"
    if fisher is not None and fisher not in ("data", "model"):
        raise fail("fisher", "'data' or 'model'", fisher)
    if fisher is not None and isinstance(variant, str) and fisher != implied:
        raise fail("fisher", f"{implied!r} (or omitted) for variant {variant!r}", fisher)
    depth = check_int(depth, "depth", minimum=1, maximum=6)
    init_scale = check_real(init_scale, "init_scale", positive=True)
    loss = CompletionLoss(M, mask, fisher=fisher or implied)
    M, mask = loss.M, loss.mask
    if M.shape[0] != M.shape[1]:
        raise fail("M", "a square matrix", f"shape {M.shape}")
    n = M.shape[0]
    W0 = layer_init([n] * (depth + 1), init_scale, seed)
    event = None
    if stop_at is not None:
        stop_at = check_real(stop_at, "stop_at", positive=True)
        norm_obs = np.linalg.norm(mask * M)

        def event(_: float, Ws: tuple[np.ndarray, ...]) -> float:
            W = chain_products(Ws, np.eye)[2]
            return float(np.linalg.norm(mask * (W - M)) / norm_obs - stop_at)
    tr = integrate_loss(rule, W0, np.eye(n), loss, t, rtol=rtol, atol=atol, event=event)
    W = tr.end_to_end()
    un = 1 - mask
    rec = np.linalg.norm(un * (W - M), axis=(1, 2)) / np.linalg.norm(un * M)
    obs = np.linalg.norm(mask * (W - M), axis=(1, 2)) / np.linalg.norm(mask * M)
    change = np.max(np.abs(un * (W - W[0])), axis=(1, 2))
    label = variant if isinstance(variant, str) else tr.rule_name
    return CompletionRun(label, depth, init_scale, tr.t, W, rec, obs, np.array([effective_rank(w) for w in W]),
                         change, tr, singular_crossing(M, mask, W[0]) if variant == "ngf" and depth > 1 else None)


def arora_singular_value_check(run: CompletionRun) -> float:
    """Worst relative error of σ̇_r = −L(σ_r²)^{1−1/L}⟨∇ℓ(W), u_r v_rᵀ⟩ along a GD run.

    At each stored time, σ̇_r = u_rᵀẆv_r with Ẇ = Σ_i B_i Ẇ_i A_i from the GD layer velocities
    (exact for the integrated flow) is compared with Arora et al. 2019's formula, which assumes
    balanced layers (W_{i+1}ᵀW_{i+1} = W_iW_iᵀ: kept by GD from the scaled-orthogonal init).
    Errors are relative to max_r |σ̇_r| at that time.

    Args:
        run: a `CompletionRun` with variant "gd" and distinct singular values.

    Returns:
        The worst relative error over times and singular values.

    >>> M, mask = low_rank_problem(4, 2, 0.75, seed=0)
    >>> run = run_completion(M, mask, "gd", 2, [0.0, 1.0, 10.0], init_scale=0.3, rtol=1e-10)
    >>> arora_singular_value_check(run) < 1e-6
    True
    """
    # === check arguments
    if not isinstance(run, CompletionRun) or run.variant != "gd":
        raise fail("run", "a CompletionRun of variant 'gd'", getattr(run, "variant", run))
    loss = run.trajectory.loss
    L = run.depth
    worst = 0.0
    for Ws in run.trajectory.W:
        geo = LossGeometry(Ws, run.trajectory.X, loss)
        vel = GD().velocity(geo.grads, geo, geo.ops)
        W_dot = sum(geo.B_chain[i] @ vel[i] @ geo.A[i] for i in range(L))
        U, sig, Vt = np.linalg.svd(geo.W_end)
        grad = loss.grad(geo.W_end)
        measured = np.einsum("ir,ij,rj->r", U, W_dot, Vt)
        formula = -L * (sig ** 2) ** (1 - 1 / L) * np.einsum("ir,ij,rj->r", U, grad, Vt)
        worst = max(worst, float(np.max(np.abs(measured - formula)) / max(np.max(np.abs(measured)), 1e-300)))
    return worst
