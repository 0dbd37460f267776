"""Where a straight path between two square matrices first meets a singular matrix.

NGD-type flows move the end-to-end map on a straight segment (exact NGD and block NGD q = 1 in
`lindyn.integrate`; function-space NGD in matrix completion, `lindyn.numeric.completion`). The
segment W(s) = W_start + s(W_target − W_start) is singular where det W(s) = 0, i.e. at the real
generalized eigenvalues s of the pencil (W_start, W_start − W_target): det(W_start − s(W_start −
W_target)) = 0. The QZ algorithm finds them whether or not either end is invertible.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla

from .._checks import fail

__all__ = ["first_singular_point"]

#: A generalized eigenvalue z counts as real when |Im z| <= this · |z|. LAPACK returns a simple
#: real eigenvalue of a real pencil with imaginary part exactly 0; a double real root (two modes
#: reaching det = 0 at the same s) can come back as a conjugate pair split by rounding, by about
#: 1e-16 · (condition number) relative. Genuinely complex pairs have |Im z| of the order of |z|.
SINGULAR_POINT_IMAG_RTOL = 1e-9


def first_singular_point(W_start: Any, W_target: Any) -> float | None:
    """The first s ∈ (0, 1) with det(W_start + s(W_target − W_start)) = 0, or None.

    For a flow W(t) = W_target + e^{−rt}(W_start − W_target) the path parameter is s = 1 − e^{−rt},
    so the crossing time is t = −ln(1 − s)/r.

    Args:
        W_start: the matrix at s = 0 (square).
        W_target: the matrix at s = 1 (same shape). If the whole segment is singular (the two
            share a null vector) no isolated point exists and None is returned.

    Returns:
        The smallest real root s strictly between 0 and 1, or None when the segment has none.

    >>> first_singular_point(np.eye(2), np.diag([-1.0, 1.0]))
    0.5
    >>> first_singular_point(np.eye(2), 2 * np.eye(2)) is None
    True
    """
    # === check arguments
    W_start = np.asarray(W_start, dtype=float)
    W_target = np.asarray(W_target, dtype=float)
    if W_start.ndim != 2 or W_start.shape[0] != W_start.shape[1]:
        raise fail("W_start", "a square matrix", f"shape {W_start.shape}")
    if W_target.shape != W_start.shape:
        raise fail("W_target", f"a matrix of the shape of W_start {W_start.shape}", f"shape {W_target.shape}")
    z = sla.eigvals(W_start, W_start - W_target)  # inf where the pencil has infinite eigenvalues
    roots = [float(x.real) for x in z
             if np.isfinite(x) and abs(x.imag) <= SINGULAR_POINT_IMAG_RTOL * abs(x) and 0.0 < x.real < 1.0]
    return min(roots) if roots else None
