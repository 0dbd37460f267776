"""Low-rank matrix completion: problems, and the measurements its experiments report (numpy only).

Completion of an n x n matrix M from its entries on the observed set Ω is, in lindyn, the problem
`Problem(Network((n,)*(L+1)), Samples(np.eye(n), M), init, loss=MaskedSquaredLoss(mask, fisher=...))`:
with X = I the outputs are f = W = W_L⋯W_1 and ℓ = ω ½‖P_Ω(W − M)‖² (Kerekes, Mészáros & Huszár
2021; Arora, Cohen, Hu & Luo 2019; THEORY §3-4). The experiments that train it live in
`lindyn.papers.kerekes2021`; here are the generic pieces: a random low-rank target with a mask
(`low_rank_problem`), the errors on the unobserved and observed entries (`completion_errors`),
the effective rank, and where the function-space flow Ẇ = −P_Ω(W − M) meets a singular matrix
(`singular_crossing`).

>>> M, mask = low_rank_problem(6, 1, 0.6, seed=0)
>>> M.shape, int(mask.sum()) > 6
((6, 6), True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_int, check_real, fail
from .singular import first_singular_point

__all__ = ["low_rank_problem", "effective_rank", "completion_errors", "singular_crossing"]


def _target_and_mask(M: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    M = np.asarray(M, dtype=float)
    mask = np.asarray(mask, dtype=float)
    if M.ndim != 2 or not np.all(np.isfinite(M)):
        raise fail("M", "a finite 2-d matrix", f"shape {M.shape}")
    if mask.shape != M.shape or not np.all((mask == 0) | (mask == 1)):
        raise fail("mask", f"a 0/1 array of the shape of M {M.shape}", f"shape {mask.shape}")
    return M, mask


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


def completion_errors(W: Any, M: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Relative errors on the unobserved and the observed entries of W (one matrix or a stack).

    recovery = ‖P_Ωᶜ(W − M)‖_F / ‖P_Ωᶜ M‖_F (1 when the unobserved entries stay at 0),
    observed = ‖P_Ω(W − M)‖_F / ‖P_Ω M‖_F.

    Args:
        W: matrix (n x m) or stack (T, n, m); M: target (n x m); mask: 0/1, 1 on Ω.

    Returns:
        (recovery, observed), each of shape () or (T,).

    >>> [float(e) for e in completion_errors(np.zeros((2, 2)), np.ones((2, 2)), np.eye(2))]
    [1.0, 1.0]
    """
    # === check arguments
    M, mask = _target_and_mask(M, mask)
    W = np.asarray(W, dtype=float)
    if W.shape[-2:] != M.shape:
        raise fail("W", f"matrices of the shape of M {M.shape}", f"shape {W.shape}")
    un = 1 - mask
    rec = np.linalg.norm(un * (W - M), axis=(-2, -1)) / np.linalg.norm(un * M)
    obs = np.linalg.norm(mask * (W - M), axis=(-2, -1)) / np.linalg.norm(mask * M)
    return rec, obs


def singular_crossing(M: Any, mask: Any, W0: Any) -> float | None:
    """Where the function-space flow from W0 first meets a singular matrix, or None.

    The flow Ẇ = −P_Ω(W − M) runs along the segment W0 + s P_Ω(M − W0), s = 1 − e^{−t} ∈ [0, 1);
    its first singular point is `first_singular_point(W0, W0 + P_Ω(M − W0))` (the shared QZ root
    finder of `lindyn.numeric.singular`). A balanced deep factorisation reaches such a point with
    every layer singular at once (NGD keeps balance, THEORY §3): J_f stops being surjective and
    parameter-space NGD cannot follow the function-space flow through it.

    Args:
        M: target; mask: 0/1 observed set; W0: initial end-to-end matrix (square, shape of M).

    Returns:
        The first s in (0, 1) with det = 0, or None (the crossing time is t = −ln(1 − s)).

    >>> singular_crossing(np.diag([-1.0, 1.0]), np.eye(2), np.eye(2))
    0.5
    """
    # === check arguments
    M, mask = _target_and_mask(M, mask)
    W0 = np.asarray(W0, dtype=float)
    if W0.shape != M.shape or W0.shape[0] != W0.shape[1]:
        raise fail("W0", f"a square matrix of shape {M.shape}", f"shape {W0.shape}")
    return first_singular_point(W0, W0 + mask * (M - W0))
