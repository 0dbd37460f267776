"""Saxe et al. 2014, Fig. 3 from a small *random* initialisation: how far full GD lags Eq. 12.

Setup (Saxe, McClelland & Ganguli 2014, Fig. 3): P = 32 orthogonal inputs (one-hot scaled by √P,
so Σ_xx = I), 1000 output features made by a hierarchical diffusion down a binary tree with
five levels of branching (flip probability 0.1; `diffusion_tree_data`), a 32-32-1000 network
(L = 2 weight matrices), learning rate λ = 0.5e-3 (τ = 1/λ) and initial mode strength u0 = 1e-6.

From a small random init the mode strengths u_α(t) = u_αᵀ E[f xᵀ] v_α (in the task's SVD basis
Σ_yx = U diag(s) Vᵀ; for a linear net E[f xᵀ] = W Σ_xx = W) do not start on the decoupled,
balanced manifold where Eq. 12 is exact: each mode starts as two random vectors in the hidden
space, and the modes must share (and orthogonalise in) 32 hidden units. Saxe et al. measured the
resulting delay of the half-learning time relative to Eq. 12 over 100 inits; we measure it per
mode, mean ± std over a fixed list of seeds, for the linear network and a tanh network.

Exact output reduction (why 1000 features cost as little as 32). Under GD the component of W_2
outside the span of Σ_yx's left singular vectors evolves as Ẇ_2⊥ = −W_2⊥ E[hhᵀ] (its targets are
zero), so W_2⊥(t) = W_2⊥(0) M(t) keeps the column space of W_2⊥(0). The 1000-output network is
therefore *exactly* the network with m = r + N_2 outputs in the orthonormal basis Q = [U_r, Q_⊥]
(`output_reduction`), W_2 = Q W_2', Y' = QᵀY: same W_1(t), same outputs along Q, same mode
strengths. This holds for any hidden activation (the argument uses only the output layer), and
for gradient flow and discrete GD alike; `tests/test_saxe_random.py` checks it against the
unreduced 1000-output run. The experiments below simulate Saxe's full 1000 features this way.

>>> [c.name for c in CLAIMS]
['saxe-random-init-delay']
>>> X, Y = diffusion_tree_data(levels=2, features=3, seed=0)
>>> X.shape, Y.shape, sorted(set(Y.ravel().tolist()))
((4, 4), (3, 4), [-1.0, 1.0])
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from lindyn import (GD, Discrete, Flow, GivenWeights, LindynError, Network, Problem, Samples, SmallRandom, Task, derive,
                    integrate)
from lindyn.claims import Claim, Evidence, Measurement, Plot
from lindyn.papers import curve
from lindyn.papers.saxe2014 import FIG3_HIDDEN, FIG3_LEARNING_RATE, FIG3_U0

__all__ = ["CLAIMS", "diffusion_tree_data", "init_scale", "output_reduction", "fig3_random_problem",
           "mode_strengths", "half_time", "DelayStudy", "random_init_delays", "fig3_random_plots",
           "FIG3_LEVELS", "FIG3_FEATURES", "FIG3_FLIP", "FIG3_PLOTTED_MODES", "DEFAULT_SEEDS", "THOROUGH_SEEDS",
           "RANDOM_FLOW", "DATA_SEED"]

#: Saxe et al.'s Fig. 3 data: a binary tree with five levels of branching (32 leaves = items),
#: 1000 features, flip probability 0.1.
FIG3_LEVELS, FIG3_FEATURES, FIG3_FLIP = 5, 1000, 0.1
#: The modes Saxe et al. plot in Fig. 3 (1-based, by decreasing s).
FIG3_PLOTTED_MODES = (1, 2, 3, 5, 12, 18, 31)
#: One fixed data set for every run (the data are Saxe's fixed training set; the seeds vary the init).
DATA_SEED = 0
#: Seed policy: the init seeds 0..19 (default claim) and 0..99 (thorough, Saxe's 100 inits); the same
#: seeds for the linear and the tanh network; every seed is reported (mean ± std, min, max).
DEFAULT_SEEDS, THOROUGH_SEEDS = tuple(range(20)), tuple(range(100))
#: Gradient flow, not Discrete(lr=1): Eq. 12 is the flow's solution, so the flow isolates the effect of the
#: random init. Discrete GD at λ = 0.5e-3 (Saxe's algorithm, one step = one iteration) differs from the flow by
#: Euler's O(λs) per step: it shifts the half time by ≈ λs/2 relative (<= 0.35 % for s <= 14; the thorough
#: claim measures 0.31 % on seeds 0-2), far below the delays measured here, and costs ~10x more steps.
#: rtol 1e-6: the half times agree with rtol 1e-10 runs to 3e-6 relative (measured on seeds 0-1, both nets).
RANDOM_FLOW = Flow(rtol=1e-6, atol=1e-14)
#: Grid points per run on [0, horizon · max t_half(Eq. 12)]: spacing <= 14 iterations against a rise time
#: τ/s >= 140 iterations; u is interpolated linearly (error < 1e-3 s at the half point, an inflection).
GRID_POINTS = 1501
#: Default horizon in units of the slowest mode's Eq. 12 half time: the linear net's weakest mode reaches
#: s/2 by 1.96 times it (largest delay 0.96, seeds 0-99), the tanh net's modes 1-16 by ~1.6 times; the tanh
#: net's weakest modes need up to ~3.6 times (delays up to ~2.6), so only its modes 1-16 enter the claim.
HORIZON = 2.5


def _check_int(x: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    bad = isinstance(x, bool) or not isinstance(x, (int, np.integer))
    if bad or x < minimum or (maximum is not None and x > maximum):
        allowed = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        raise LindynError(f"Argument `{name}` must be {allowed}, got {name}={x!r}.")
    return int(x)


def _check_real(x: Any, name: str, allowed: str, lo: float, hi: float, lo_open: bool = False,
                hi_open: bool = False) -> float:
    ok = isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(float(x))
    if ok:
        v = float(x)
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        raise LindynError(f"Argument `{name}` must be {allowed}, got {name}={x!r}.")
    return float(x)


# --- the data ------------------------------------------------------------------------------------

def diffusion_tree_data(levels: int = FIG3_LEVELS, features: int = FIG3_FEATURES, flip: float = FIG3_FLIP,
                        seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Items at the 2^levels leaves of a binary tree; features by a hierarchical diffusion down the tree.

    Each output feature k is drawn independently: the root takes a sign ±1 with probability ½ each;
    every child copies its parent's value and flips it with probability `flip`; feature k of item i
    is the value at leaf i. Two items whose lowest common ancestor lies d levels above them are
    separated by 2d edges, so E[y_ki y_kj] = (1 − 2·flip)^{2d} (Saxe et al. 2014, Fig. 3; Kemp &
    Tenenbaum's diffusion process). Inputs are one-hot scaled by √P (P = 2^levels items), so
    Σ_xx = XXᵀ/P = I as in `lindyn.papers.saxe2014.hierarchical_tree_data` (there `levels` counts
    levels of nodes, P = 2^(levels−1); here `levels` counts levels of branching: 5 gives Saxe's 32 items).

    Args:
        levels: levels of branching, 1 <= levels <= 12 (P = 2^levels items).
        features: number of output features, >= 1 (Saxe: 1000).
        flip: flip probability per edge, 0 <= flip <= 0.5 (Saxe: 0.1).
        seed: data seed (integer >= 0).

    Returns:
        X (P x P) = √P·I and Y (features x P) with entries ±1; one column per item, leaves in tree order.

    >>> X, Y = diffusion_tree_data(levels=1, features=2, flip=0.0, seed=3)
    >>> bool(np.all(Y[:, 0] == Y[:, 1])), round(float(X[0, 0] ** 2), 12)
    (True, 2.0)
    """
    # === check arguments
    levels = _check_int(levels, "levels", 1, 12)
    features = _check_int(features, "features", 1)
    flip = _check_real(flip, "flip", "a probability in [0, 0.5]", 0.0, 0.5)
    seed = _check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    values = rng.choice([-1.0, 1.0], size=(features, 1))                 # the root, one value per feature
    for _ in range(levels):
        children = np.repeat(values, 2, axis=1)                          # each node has two children ...
        values = np.where(rng.random(children.shape) < flip, -children, children)   # ... each flips w.p. `flip`
    P = 2 ** levels
    return math.sqrt(P) * np.eye(P), values


# --- the problem: init scale, exact output reduction, mode readout --------------------------------

def init_scale(u0: float = FIG3_U0, hidden: int = FIG3_HIDDEN) -> float:
    """Entry std σ of a two-layer Gaussian init whose modes start with effective strength u0: σ = √(2u0/N_2).

    Why this scale: Eq. 12's u0 is the strength of a balanced aligned mode, W_2ᵀu_α = W_1v_α = √u0·r.
    From a random init mode α has two vectors a = W_2ᵀu_α, b = W_1v_α in the N_2-dim hidden space; at
    small weights τȧ = s b, τḃ = s a, so (a + b)/2 grows as e^{st/τ}, (a − b)/2 decays, and
    u = a·b → |(a + b)/2|² e^{2st/τ}: the strength that plays Eq. 12's u0 is |(a + b)/2|², whose mean
    is N_2σ²/2 for i.i.d. N(0, σ²) entries. σ = √(2u0/N_2) sets it to u0. (The raw readout u_α(0) = a·b
    then has rms σ²√N_2 = 2u0/√N_2 ≈ 0.35 u0 and a random sign; matching *that* rms to u0 instead, as
    `saxe2014.fig3_modes` does, starts the growing part √N_2/2 ≈ 2.8 times larger, which advances every
    mode by τ ln(√N_2/2)/(2s), 6-8 % of its half time, before any competition between modes.)

    Args:
        u0: target effective initial strength, > 0.
        hidden: hidden width N_2 >= 1.

    >>> round(init_scale(1e-6, 32), 12)
    0.00025
    """
    # === check arguments
    u0 = _check_real(u0, "u0", "a number > 0", 0.0, math.inf, lo_open=True, hi_open=True)
    hidden = _check_int(hidden, "hidden", 1)
    return math.sqrt(2.0 * u0 / hidden)


def output_reduction(Sigma_yx: Any, W_out: Any, tol: float = 1e-10) -> np.ndarray:
    """Orthonormal output basis Q = [U_r, Q_⊥] in which GD on a two-layer net is exact with m = r + rank outputs.

    U_r: left singular vectors of Σ_yx with s > tol·s_max (r of them); Q_⊥: an orthonormal basis of
    the column space of (I − U_rU_rᵀ)W_out, the part of the output layer with zero target. Under GD,
    Ẇ_2⊥ = −W_2⊥ E[hhᵀ] (h the hidden activity), so W_2⊥(t) = W_2⊥(0)M(t) never leaves that column space:
    W_2(t) = Q W_2'(t) with W_2' = QᵀW_2 trained on targets QᵀY (module docstring).

    Args:
        Sigma_yx: E[yxᵀ], shape (n_out, n_in).
        W_out: the initial output layer, shape (n_out, N_2).
        tol: relative threshold for a non-zero singular value, in (0, 1).

    Returns:
        Q, shape (n_out, m) with orthonormal columns, m = r + rank((I − U_rU_rᵀ)W_out) <= n_out.

    >>> Q = output_reduction(np.eye(5)[:, :2], np.arange(15.0).reshape(5, 3))
    >>> Q.shape, bool(np.allclose(Q.T @ Q, np.eye(Q.shape[1])))
    ((5, 4), True)
    """
    # === check arguments
    S = np.asarray(Sigma_yx, dtype=float)
    W = np.asarray(W_out, dtype=float)
    if S.ndim != 2 or not np.all(np.isfinite(S)):
        raise LindynError(f"Argument `Sigma_yx` must be a finite 2-d array, got Sigma_yx of shape {S.shape}.")
    if W.ndim != 2 or W.shape[0] != S.shape[0] or not np.all(np.isfinite(W)):
        raise LindynError(f"Argument `W_out` must be a finite array with {S.shape[0]} rows (outputs), got shape "
                          f"{W.shape}.")
    tol = _check_real(tol, "tol", "a number in (0, 1)", 0.0, 1.0, lo_open=True, hi_open=True)
    U, s, _ = _svd(S)
    r = int(np.sum(s > tol * max(float(s[0]), 1e-300))) if s.size else 0
    Ur = U[:, :r]
    rest = W - Ur @ (Ur.T @ W)
    rest = rest - Ur @ (Ur.T @ rest)        # projected twice: orthogonal to U_r to rounding (Gram–Schmidt twice)
    Qp, R = np.linalg.qr(rest)
    keep = np.abs(np.diag(R)) > 1e-12 * max(float(np.max(np.abs(W))), 1e-300) * max(W.shape)
    return np.hstack([Ur, Qp[:, keep]])


_SVD_CACHE: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _svd(S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD of Σ_yx, cached by content (every seed of a study shares the data; one LAPACK call per data set)."""
    key = (S.shape, hash(S.tobytes()))
    if key not in _SVD_CACHE:
        if len(_SVD_CACHE) > 16:
            _SVD_CACHE.clear()
        _SVD_CACHE[key] = np.linalg.svd(S, full_matrices=False)
    return _SVD_CACHE[key]


def fig3_random_problem(X: Any, Y: Any, *, seed: int, hidden: int = FIG3_HIDDEN, activation: str = "linear",
                        u0: float = FIG3_U0, lr: float = FIG3_LEARNING_RATE, reduce: bool = True) -> Problem:
    """The two-layer problem of Fig. 3 from a small random init, exactly reduced to r + N_2 outputs.

    The init is `SmallRandom(init_scale(u0, hidden), seed)` drawn for the full network
    (n_in, hidden, n_out); with `reduce` the output layer is written in the basis Q of
    `output_reduction` (W_2' = QᵀW_2, targets QᵀY), which leaves the GD dynamics unchanged. The
    problem's `mode_bases` are (QᵀU, V) for the task's SVD Σ_yx = U diag(s) Vᵀ (QᵀU = I on the
    first r columns), so `mode_strengths` reads u_α = u_αᵀ E[f xᵀ] v_α of the full network.

    Args:
        X: inputs (n_in x P); Y: targets (n_out x P).
        seed: init seed (integer >= 0).
        hidden: hidden width N_2 >= 1.
        activation: 'linear' (moments, `Task`) or 'tanh' (samples, squared loss averaged over items).
        u0: effective initial mode strength > 0 (`init_scale`).
        lr: learning rate λ > 0; τ = 1/λ.
        reduce: use the exact output reduction (default) or the full output layer.

    >>> X, Y = diffusion_tree_data(levels=2, features=50)
    >>> fig3_random_problem(X, Y, seed=0, hidden=4).network.widths
    (4, 4, 8)
    """
    # === check arguments
    seed = _check_int(seed, "seed", 0)
    hidden = _check_int(hidden, "hidden", 1)
    if activation not in ("linear", "tanh"):
        raise LindynError(f"Argument `activation` must be 'linear' or 'tanh', got activation={activation!r}.")
    lr = _check_real(lr, "lr", "a learning rate > 0", 0.0, math.inf, lo_open=True, hi_open=True)
    if not isinstance(reduce, bool):
        raise LindynError(f"Argument `reduce` must be True or False, got reduce={reduce!r}.")
    data = Samples(X, Y)                                     # validates X, Y (finite, matching columns)
    task = Task.from_data(data.X, data.Y)
    n_in, n_out = data.X.shape[0], data.Y.shape[0]
    full = Network((n_in, hidden, n_out))
    W1, W2 = SmallRandom(scale=init_scale(u0, hidden), seed=seed).weights(full, task)
    U, s, Vt = _svd(task.Sigma_yx)
    r = int(np.sum(s > 1e-10 * max(float(s[0]), 1e-300)))
    Q = output_reduction(task.Sigma_yx, W2) if reduce else np.eye(n_out)
    Ub = _complete_basis(Q.T @ U[:, :r])
    network = Network((n_in, hidden, Q.shape[1]), activation=activation)
    init = GivenWeights((W1, Q.T @ W2))
    tau = 1.0 / lr
    if activation == "linear":
        return Problem(network, Task(Sigma_yx=Q.T @ task.Sigma_yx, Sigma_xx=task.Sigma_xx), init, tau=tau,
                       mode_bases=(Ub, Vt.T))
    return Problem(network, Samples(data.X, Q.T @ data.Y), init, tau=tau, mode_bases=(Ub, Vt.T))


def _complete_basis(B: np.ndarray) -> np.ndarray:
    """A square orthogonal matrix whose first columns are B (orthonormal columns), the rest any completion."""
    m, r = B.shape
    Qf = np.linalg.qr(np.hstack([B, np.eye(m)]))[0]
    Qf[:, :r] = B
    return Qf


def mode_strengths(traj: Any) -> np.ndarray:
    """u_α(t) = u_αᵀ E[f xᵀ] v_α for every mode α, for a linear or a nonlinear network.

    E[f xᵀ] is the network's input-output correlation (Saxe et al. 2014, Fig. 3: "the diagonal
    elements of Uᵀ Σ_tanh V"): W Σ_xx for a deep linear net on moments, F Xᵀ/n on samples (F the
    outputs). (U, V) = `problem.bases()`.

    Args:
        traj: a `NumericTrajectory`.

    Returns:
        (modes, T), modes = min(n_in, n_out).

    >>> from lindyn import aligned_problem
    >>> traj = integrate(aligned_problem([2.0, 1.0], depth=2, u0=0.01), GD(), [0.0])
    >>> mode_strengths(traj).round(12).tolist()
    [[0.01], [0.01]]
    """
    # === check arguments
    problem = getattr(traj, "problem", None)
    if not isinstance(problem, Problem):
        raise LindynError(f"Argument `traj` must be a lindyn.NumericTrajectory, got traj={traj!r}.")
    U, V = problem.bases()
    if problem.moments:
        M = traj.W_end @ problem.task.Sigma_xx
    else:
        X = problem.task.X
        M = traj.outputs @ X.T / X.shape[1]
    m = min(M.shape[1:])
    # diag(Uᵀ M V)_α = Σ_ij U_iα M_ij V_jα: contract M with V first, then the α-th column of U
    return np.einsum("kia,ia->ak", M @ V[:, :m], U[:, :m])


def half_time(t: Any, u: Any, target: Any) -> np.ndarray:
    """First time u(t) reaches `target`, by linear interpolation on the grid (inf if never).

    Args:
        t: increasing times (T,).
        u: values (..., T).
        target: level(s), broadcast against u[..., 0].

    >>> float(half_time([0.0, 1.0, 2.0], [0.0, 1.0, 3.0], 2.0))
    1.5
    """
    # === check arguments
    t = np.asarray(t, dtype=float)
    u = np.asarray(u, dtype=float)
    if t.ndim != 1 or t.size < 2 or not np.all(np.diff(t) > 0):
        raise LindynError(f"Argument `t` must be >= 2 increasing times, got t of shape {t.shape}.")
    if u.shape[-1:] != t.shape:
        raise LindynError(f"Argument `u` must have {t.size} values along its last axis (one per time), got shape "
                          f"{u.shape}.")
    target = np.broadcast_to(np.asarray(target, dtype=float), u.shape[:-1])
    flat_u, flat_c = u.reshape(-1, u.shape[-1]), target.reshape(-1)
    out = np.full(flat_c.shape, np.inf)
    for n, (row, c) in enumerate(zip(flat_u, flat_c)):
        above = np.nonzero(row >= c)[0]
        if above.size == 0:
            continue
        k = int(above[0])
        out[n] = t[0] if k == 0 else t[k - 1] + (c - row[k - 1]) * (t[k] - t[k - 1]) / (row[k] - row[k - 1])
    return out.reshape(target.shape)


# --- the experiment ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DelayStudy:
    """Half-learning delays of full GD from random inits against Eq. 12, per seed and mode.

    Attributes:
        activation: 'linear' or 'tanh'.
        seeds: the init seeds (same data for all).
        s: singular values of Σ_yx, decreasing (modes,).
        t: time grid (T,) in units of iterations (τ = 1/λ).
        u: simulated mode strengths (seeds, modes, T).
        u_eq12: Eq. 12 (derived from GD at L = 2) with u0, (modes, T).
        t_half: simulated half time (u = s/2), (seeds, modes); inf when not reached.
        t_half_eq12: Eq. 12's half time (modes,).
        rel_delay: (t_half − t_half_eq12)/t_half_eq12, (seeds, modes).
        shape_error: max_t |u(t + Δ) − u_eq12(t)|/s after removing each run's delay Δ, (seeds, modes).
        u_start: raw readout u_α(0), (seeds, modes).
        seconds: wall time of the runs.
    """

    activation: str
    seeds: tuple[int, ...]
    s: np.ndarray
    t: np.ndarray
    u: np.ndarray
    u_eq12: np.ndarray
    t_half: np.ndarray
    t_half_eq12: np.ndarray
    rel_delay: np.ndarray
    shape_error: np.ndarray
    u_start: np.ndarray
    seconds: float


def _shape_error(t: np.ndarray, u: np.ndarray, u_ref: np.ndarray, shift: float, s: float) -> float:
    """max over t in the grid of |u(t + shift) − u_ref(t)|/s, where t + shift lies inside the grid."""
    if not math.isfinite(shift):
        return math.inf
    keep = (t + shift >= t[0]) & (t + shift <= t[-1])
    return float(np.max(np.abs(np.interp(t[keep] + shift, t, u) - u_ref[keep])) / s)


def random_init_delays(seeds: Sequence[int] = DEFAULT_SEEDS, *, activation: str = "linear",
                       features: int = FIG3_FEATURES, levels: int = FIG3_LEVELS, flip: float = FIG3_FLIP,
                       hidden: int = FIG3_HIDDEN, u0: float = FIG3_U0, lr: float = FIG3_LEARNING_RATE,
                       method: Any = RANDOM_FLOW, horizon: float = HORIZON) -> DelayStudy:
    """Saxe Fig. 3 right: delay of each mode's half-learning time from random inits, relative to Eq. 12.

    For each seed: the problem `fig3_random_problem` (exact output reduction), gradient flow
    (`method`) on a grid to HORIZON·max t_half, the mode strengths u_α(t) = u_αᵀ E[f xᵀ] v_α, the
    first time u_α = s_α/2 (t_half), the relative delay (t_half − t_Eq12)/t_Eq12 with t_Eq12 =
    `derive(GD(), 2).learning_time(s/2, s=s, u0=u0, tau=1/λ)` = (τ/2s) ln(s/u0 − 1) (Eq. 11), and
    the shape error after removing the delay, max_t |u(t + Δ) − u_Eq12(t)|/s.

    Args:
        seeds: init seeds (a non-empty sequence of integers >= 0).
        activation: 'linear' or 'tanh' (hidden layer).
        features, levels, flip: the data (`diffusion_tree_data`, seed `DATA_SEED`).
        hidden: N_2 >= 1.
        u0: effective initial strength > 0 and Eq. 12's u0.
        lr: learning rate λ > 0 (τ = 1/λ).
        method: `Flow(...)` or `Discrete(lr=1.0)` (one step = one iteration at rate λ).
        horizon: run to horizon · max t_half(Eq. 12), a number >= 1.

    Returns:
        A `DelayStudy`.
    """
    # === check arguments
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) == 0:
        raise LindynError(f"Argument `seeds` must be a non-empty sequence of integers >= 0, got seeds={seeds!r}.")
    seeds = tuple(_check_int(x, "seeds", 0) for x in seeds)
    horizon = _check_real(horizon, "horizon", "a number >= 1 (in units of the slowest Eq. 12 half time)", 1.0, 1e3)
    start = time.perf_counter()
    X, Y = diffusion_tree_data(levels, features, flip, DATA_SEED)
    s_all = _svd(Task.from_data(X, Y).Sigma_yx)[1]
    modes = int(np.sum(s_all > 1e-10 * s_all[0]))
    s = s_all[:modes]
    tau = 1.0 / _check_real(lr, "lr", "a learning rate > 0", 0.0, math.inf, lo_open=True, hi_open=True)
    closed = derive(GD(), 2)
    th12 = np.array([closed.learning_time(sa / 2, s=sa, u0=u0, tau=tau) for sa in s])
    t = np.linspace(0.0, horizon * float(th12.max()), GRID_POINTS)
    u12 = np.atleast_2d(closed.evaluate(t, s=s, u0=u0, tau=tau))
    us, starts = [], []
    for seed in seeds:
        problem = fig3_random_problem(X, Y, seed=seed, hidden=hidden, activation=activation, u0=u0, lr=lr)
        traj = integrate(problem, GD(), t, method=method)
        u = mode_strengths(traj)[:modes]
        # Discrete serves the iterates nearest to the grid (t_k = k·lr): put them back on the common grid
        us.append(np.stack([np.interp(t, traj.t, row) for row in u]))
        starts.append(u[:, 0])
    u_all = np.stack(us)
    t_half = half_time(t, u_all, np.broadcast_to(s / 2, u_all.shape[:-1]))
    rel = (t_half - th12) / th12
    shape = np.array([[_shape_error(t, u_all[k, a], u12[a], float(t_half[k, a] - th12[a]), float(s[a]))
                       for a in range(modes)] for k in range(len(seeds))])
    return DelayStudy(activation, seeds, s, t, u_all, u12, t_half, th12, rel, shape, np.stack(starts),
                      time.perf_counter() - start)


# --- the claim and the figure --------------------------------------------------------------------

#: Modes 1-16: the overall mean and the splits at the top four levels of internal nodes (1 + 1 + 2 + 4 + 8);
#: modes 17-32: the 16 splits of sibling leaves, the weakest. The tanh network is measured on modes 1-16,
#: which every seed learns within the horizon.
TOP = 16


@lru_cache(maxsize=4)
def _study(seeds: tuple[int, ...], activation: str) -> DelayStudy:
    """`random_init_delays` at Saxe's settings, cached so that the claim and the figure share the runs."""
    return random_init_delays(seeds, activation=activation)


def _mean_band(study: DelayStudy, stride: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time grid (every `stride`-th point) and the mean and std of u over seeds, (modes, T')."""
    u = study.u[:, :, ::stride]
    return study.t[::stride], u.mean(axis=0), u.std(axis=0)


def _modes_plot(lin: DelayStudy, tanh: DelayStudy) -> Plot:
    t, mean, std = _mean_band(lin)
    _, tmean, _ = _mean_band(tanh)
    u12 = lin.u_eq12[:, ::5]
    curves = []
    for color, k in enumerate(FIG3_PLOTTED_MODES):
        a = k - 1
        first = color == 0
        label = f"mode {k}, s = {lin.s[a]:.3g}" + (": Eq. 12 (u0 = 1e-6)" if first else "")
        curves += [curve(label, t, u12[a], "-", color),
                   curve("linear net, mean over seeds" if first else "", t, mean[a], "--", color),
                   curve("linear net, mean ± std" if first else "", t, mean[a] + std[a], ":", color),
                   curve("", t, mean[a] - std[a], ":", color),
                   curve("tanh net, mean over seeds" if first else "", t, tmean[a], "-.", color)]
    return Plot("saxe2014_fig3_random_modes",
                f"Random inits lag Eq. 12, weak modes most (Fig. 3)\n{len(lin.seeds)} random inits (seeds "
                f"{lin.seeds[0]}–{lin.seeds[-1]}), 32-32-1000 network; mode strength u_α = u_αᵀ E[f xᵀ] v_α; "
                "Eq. 12 solid",
                "t (iterations at learning rate 0.5e-3)", "mode strength u", tuple(curves))


def _delay_plot(lin: DelayStudy, tanh: DelayStudy) -> Plot:
    idx = np.arange(1, len(lin.s) + 1)
    curves = [curve("zero delay", [0.5, len(lin.s) + 0.5], [0.0, 0.0], ":", 7)]
    for color, (name, st, modes) in enumerate((("linear", lin, len(lin.s)), ("tanh", tanh, TOP))):
        r = st.rel_delay[:, :modes]
        m, sd = r.mean(axis=0), r.std(axis=0)
        curves += [curve(f"{name} net: mean over seeds", idx[:modes], m, "o", color),
                   curve(f"{name} net: mean ± std", idx[:modes], m + sd, "_", color),
                   curve("", idx[:modes], m - sd, "_", color)]
    return Plot("saxe2014_fig3_random_delay",
                f"Delay of the half-learning time grows for weaker modes\nrelative delay of t(u = s/2) against "
                f"Eq. 12, mean ± std over {len(lin.seeds)} inits (seeds {lin.seeds[0]}–{lin.seeds[-1]}; tanh: "
                f"modes 1–{TOP})",
                "mode index α (decreasing s)", "relative delay of t_1/2", tuple(curves))


def fig3_random_plots(seeds: Sequence[int] = THOROUGH_SEEDS) -> tuple[Plot, ...]:
    """The two panels of Saxe et al.'s Fig. 3 from random inits: modes vs time, and the relative delay per mode.

    Panel 1: Eq. 12 (derived from GD at L = 2, u0 = 1e-6) for modes 1, 2, 3, 5, 12, 18, 31, the
    linear network's mean over seeds with mean ± std, and the tanh network's mean. Panel 2: the
    relative delay (t_half − t_Eq12)/t_Eq12 per mode, mean and mean ± std over seeds (error bars as
    markers), linear (all modes) and tanh (modes 1-16).

    Args:
        seeds: init seeds (non-empty sequence of integers >= 0; default 0..99 as Saxe's 100 inits).
    """
    # === check arguments
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) == 0:
        raise LindynError(f"Argument `seeds` must be a non-empty sequence of integers >= 0, got seeds={seeds!r}.")
    seeds = tuple(_check_int(x, "seeds", 0) for x in seeds)
    lin, tanh = _study(seeds, "linear"), _study(seeds, "tanh")
    return _modes_plot(lin, tanh), _delay_plot(lin, tanh)


#: Thresholds of the claim (set from seeds 0-19 and 0-99 with margin; values seen are in REASON).
# seen: (seeds 0-19 | seeds 0-99)
DELAY_BAND = (0.03, 0.15)         # linear: mean relative delay over seeds and modes (0.070 | 0.067)
SEED_MEAN_MIN = 0.02              # linear: every seed's mean delay over the 32 modes (>= 0.062 | >= 0.054)
WEAK_MINUS_STRONG_MIN = 0.03      # linear: modes 17-32 minus modes 1-16, every seed (>= 0.072 | >= 0.064)
TOP_MODE_DELAY_MAX = 0.02         # linear: |mean delay| of mode 1 (0.003 | 0.001; std over seeds 0.014)
TOP_MODE_SHAPE_MAX = 0.01         # linear: shape error of mode 1 after the shift, every seed (0.0007 | 0.0014)
SHAPE_TOP8_MAX = 0.08             # linear: shape error, modes 1-8, every seed (0.022 | 0.037)
SHAPE_MEDIAN_MAX = 0.06           # linear: median shape error over seeds and modes (0.032 | 0.030)
TANH_DELAY_MIN = 0.3              # tanh: mean delay over modes 1-16 (0.673 | 0.670)
TANH_EXCESS_MIN = 0.2             # tanh − linear mean delay over modes 1-16, every seed (>= 0.618 | >= 0.582)
TANH_SHAPE_RATIO_MIN = 3.0        # tanh / linear median shape error on modes 1-16 (30.6 | 31.9)
INIT_RMS_TOL = 0.1                # |rms u_α(0) / (2u0/√N_2) − 1| (0.003 | 0.009; sampling spread ~0.02)
DISCRETE_FLOW_MAX = 0.01          # thorough: |delay(Discrete lr = 1) − delay(flow)|, seeds 0-2 (0.0031 ≈ λs_1/2)

REASON = ("Thresholds chosen from what was measured on seeds 0-19 and 0-99 (values in each constant's comment, "
          "lindyn/papers/saxe2014_random.py) with a factor >= 2 of margin on the measured effect. The init scale "
          "σ = √(2u0/N_2) gives each mode's growing component |(a + b)/2|² mean u0, Eq. 12's u0 (`init_scale`); "
          "gradient flow (DOP853, rtol 1e-6: half times within 3e-6 relative of rtol 1e-10) isolates the random "
          "init from Euler's λs/2 shift, which the thorough run measures against Discrete(lr = 1).")


def _random_numeric(thorough: bool) -> Evidence:
    seeds = THOROUGH_SEEDS if thorough else DEFAULT_SEEDS
    lin, tanh = _study(seeds, "linear"), _study(seeds, "tanh")
    r, rt = lin.rel_delay, tanh.rel_delay
    n = len(lin.s)
    shape_lin_top = float(np.median(lin.shape_error[:, :TOP]))
    ms = [Measurement("linear: every (seed, mode) reaches u = s/2 within the horizon (fraction)",
                      float(np.mean(np.isfinite(r))), 1.0, "at_least"),
          Measurement("linear: mean relative delay over seeds and modes", float(np.mean(r)), DELAY_BAND[0], "at_least"),
          Measurement("linear: mean relative delay over seeds and modes", float(np.mean(r)), DELAY_BAND[1], "at_most"),
          Measurement("linear: min over seeds of the seed's mean delay over the 32 modes",
                      float(np.min(r.mean(axis=1))), SEED_MEAN_MIN, "at_least"),
          Measurement("linear: min over seeds of [mean delay of modes 17-32 − mean delay of modes 1-16]",
                      float(np.min(r[:, TOP:].mean(axis=1) - r[:, :TOP].mean(axis=1))), WEAK_MINUS_STRONG_MIN,
                      "at_least"),
          Measurement("linear: |mean delay of mode 1| (Eq. 12 holds for the strongest mode)",
                      float(abs(np.mean(r[:, 0]))), TOP_MODE_DELAY_MAX, "at_most"),
          Measurement("linear: shape error of mode 1 after removing the delay, max over seeds",
                      float(np.max(lin.shape_error[:, 0])), TOP_MODE_SHAPE_MAX, "at_most"),
          Measurement("linear: shape error after removing the delay, modes 1-8, max over seeds",
                      float(np.max(lin.shape_error[:, :8])), SHAPE_TOP8_MAX, "at_most"),
          Measurement("linear: shape error after removing the delay, median over seeds and modes",
                      float(np.median(lin.shape_error)), SHAPE_MEDIAN_MAX, "at_most"),
          Measurement("init: |rms of u_α(0) / (2u0/√N_2) − 1| (the scale gives effective strength u0)",
                      float(abs(np.sqrt(np.mean(lin.u_start ** 2)) / (2 * FIG3_U0 / math.sqrt(FIG3_HIDDEN)) - 1)),
                      INIT_RMS_TOL, "at_most"),
          Measurement(f"tanh: every (seed, mode 1-{TOP}) reaches u = s/2 within the horizon (fraction)",
                      float(np.mean(np.isfinite(rt[:, :TOP]))), 1.0, "at_least"),
          Measurement(f"tanh: mean relative delay over seeds and modes 1-{TOP}", float(np.mean(rt[:, :TOP])),
                      TANH_DELAY_MIN, "at_least"),
          Measurement(f"tanh − linear: min over seeds of the difference of mean delays over modes 1-{TOP}",
                      float(np.min(rt[:, :TOP].mean(axis=1) - r[:, :TOP].mean(axis=1))), TANH_EXCESS_MIN, "at_least"),
          Measurement(f"tanh / linear: median shape error after removing the delay, modes 1-{TOP}",
                      float(np.median(tanh.shape_error[:, :TOP]) / shape_lin_top), TANH_SHAPE_RATIO_MIN, "at_least")]
    extra = ""
    if thorough:
        # Saxe ran the discrete algorithm, one step = one iteration at rate λ: Discrete(lr=1) at τ = 1/λ
        disc = random_init_delays((0, 1, 2), activation="linear", method=Discrete(lr=1.0))
        gap = float(np.max(np.abs(disc.rel_delay - r[:3])))
        ms.append(Measurement("thorough: |relative delay of discrete GD (lr = 1 iteration) − flow|, seeds 0-2, "
                              "all modes", gap, DISCRETE_FLOW_MAX, "at_most"))
        extra = f"; discrete GD (lr = 1) vs flow: delays within {gap:.2g}"
    mean_mode = r.mean(axis=0)
    summary = (f"{len(seeds)} random inits (seeds {seeds[0]}-{seeds[-1]}), 32-32-1000 net, exact output reduction to "
               f"{n + FIG3_HIDDEN} outputs: linear relative delay {np.mean(r):.3f} mean (mode 1: "
               f"{mean_mode[0]:+.3f} ± {r[:, 0].std():.3f}, mode {n}: {mean_mode[-1]:+.3f} ± {r[:, -1].std():.3f}; "
               f"min {np.min(r):+.3f}, max {np.max(r):.3f}; {100 * np.mean(r > 0):.0f} % of (seed, mode) > 0), "
               f"shape error median "
               f"{np.median(lin.shape_error):.3f}; tanh modes 1-{TOP}: delay {np.mean(rt[:, :TOP]):.3f} mean (mode 1: "
               f"{rt[:, 0].mean():+.3f}), shape error median {np.median(tanh.shape_error[:, :TOP]):.3f}; tanh modes "
               f"{TOP + 1}-{n} reach s/2 in {100 * np.mean(np.isfinite(rt[:, TOP:])):.0f} % of runs{extra}; "
               f"runs {lin.seconds + tanh.seconds:.1f} s")
    return Evidence(summary, tuple(ms), plots=(_modes_plot(lin, tanh), _delay_plot(lin, tanh)))


CLAIMS: tuple[Claim, ...] = (
    Claim("saxe-random-init-delay",
          "From a small random initialisation (effective mode strength u0 = 1e-6) on Saxe's hierarchical data, "
          "full-matrix gradient descent of the 32-32-1000 linear network learns the modes later than Eq. 12 "
          "predicts: the relative delay of the half-learning time is positive on average for every seed, near zero "
          "for the strongest mode and largest for the weakest (the modes compete for the hidden units), and the "
          "trajectories keep Eq. 12's sigmoidal shape once the delay is removed; a tanh network lags much more and "
          "tracks the sigmoid less closely.",
          r"\frac{t_{1/2}^{\mathrm{sim}} - t_{1/2}^{\mathrm{Eq.12}}}{t_{1/2}^{\mathrm{Eq.12}}} > 0,\quad "
          r"t_{1/2}^{\mathrm{Eq.12}} = \frac{\tau}{2s}\ln\left(\frac{s}{u_0} - 1\right)",
          "Saxe et al. 2014, Fig. 3; thresholds [chosen example]", None, _random_numeric, 1.0, REASON,
          kind="outcome"),
)
