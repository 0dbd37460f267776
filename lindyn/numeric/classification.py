"""Directions of a linear classifier on separable data: max margin (SVM) and equal margins (X⁺ᵀy).

The two implicit biases compared by Kerekes, Mészáros & Huszár 2021 (THEORY §4): gradient descent
on the logistic loss turns a (deep) linear classifier towards the max-margin direction (Soudry et
al. 2018; Ji & Telgarsky 2019 for deep linear networks), natural gradient flow, whose margins all
grow at unit rate when n ≤ d, towards the equal-margin interpolant X⁺ᵀy. The experiments that
train the classifiers live in `lindyn.papers.kerekes2021`; this module only computes the reference
directions and the data (numpy/scipy).

>>> import numpy as np
>>> X = np.array([[1.0, 0.0], [0.0, 2.0]]); y = np.array([1.0, 1.0])
>>> np.round(max_margin_direction(X, y).w, 6)
array([0.894427, 0.447214])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from .._checks import check_int, check_real, fail

__all__ = ["MaxMargin", "max_margin_direction", "equal_margin_direction", "separable_data", "outside_span"]


def _check_data(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.array(X, dtype=float)
    y = np.array(y, dtype=float).reshape(-1)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise fail("X", "a finite 2-d data matrix (d x n, one column per example)", X)
    if y.shape != (X.shape[1],) or not np.all(np.abs(y) == 1):
        raise fail("y", f"{X.shape[1]} labels in {{-1, +1}}", y)
    return X, y


@dataclass(frozen=True)
class MaxMargin:
    """Hard-margin SVM without bias: w = argmin ½‖v‖² s.t. y_i vᵀx_i ≥ 1, returned normalised.

    Attributes:
        w: unit max-margin direction (d,).
        margin: min_i y_i wᵀx_i of the unit direction (= 1/‖v*‖).
        alpha: dual variables α_i ≥ 0 (v* = Σ α_i y_i x_i).
        support: indices with α_i > 0.
        kkt: worst violation of the KKT conditions (primal, dual feasibility, complementarity,
            stationarity), relative to 1.
    """

    w: np.ndarray
    margin: float
    alpha: np.ndarray
    support: np.ndarray
    kkt: float


def max_margin_direction(X: Any, y: Any, *, tol: float = 1e-9) -> MaxMargin:
    """Exact max-margin direction of separable data, verified by its KKT conditions.

    Solves the dual max_α Σα_i − ½αᵀQα, α ≥ 0, Q_ij = y_i y_j x_iᵀx_j with L-BFGS-B, then polishes
    on the support set S by solving Q_SS α_S = 1 exactly (the margin constraints active there);
    if the KKT check fails, retries with SLSQP on the primal.

    Args:
        X: data (d x n), one column per example.
        y: labels ±1 (n,).
        tol: accepted KKT violation (> 0).

    Returns:
        A `MaxMargin`.

    Raises:
        LindynError: if the data are not linearly separable through the origin.

    >>> mm = max_margin_direction(np.array([[1.0, 0.0], [0.0, 2.0]]), [1.0, 1.0])
    >>> np.round(mm.w, 6), round(mm.margin, 6), mm.support.tolist()      # both points support it
    (array([0.894427, 0.447214]), 0.894427, [0, 1])
    """
    # === check arguments
    X, y = _check_data(X, y)
    tol = check_real(tol, "tol", positive=True)
    Z = X * y                                   # columns y_i x_i
    Q = Z.T @ Z
    n = Q.shape[0]

    def kkt(alpha: np.ndarray) -> tuple[float, np.ndarray]:
        v = Z @ alpha
        g = Z.T @ v                             # y_i vᵀx_i
        viol = max(float(np.max(1 - g, initial=0.0)), float(np.max(-alpha, initial=0.0)),
                   float(np.max(np.abs(alpha * (g - 1)), initial=0.0)))
        return viol, v

    res = minimize(lambda a: 0.5 * a @ Q @ a - a.sum(), np.zeros(n), jac=lambda a: Q @ a - 1.0,
                   method="L-BFGS-B", bounds=[(0, None)] * n, options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
    alpha = np.maximum(res.x, 0.0)
    if not np.all(np.isfinite(alpha)) or alpha.max(initial=0.0) > 1e12:
        raise fail("X", "linearly separable through the origin with labels y", "data without a separating direction")
    S = alpha > 1e-8 * max(alpha.max(initial=0.0), 1e-300)
    polished = np.zeros(n)
    polished[S] = np.linalg.lstsq(Q[np.ix_(S, S)], np.ones(int(S.sum())), rcond=None)[0]
    viol, v = kkt(polished)
    if viol > tol or np.any(polished < 0):
        cons = {"type": "ineq", "fun": lambda w: Z.T @ w - 1.0, "jac": lambda w: Z.T}
        pr = minimize(lambda w: 0.5 * w @ w, Z @ alpha, jac=lambda w: w, constraints=[cons], method="SLSQP",
                      options={"ftol": 1e-16, "maxiter": 1000})
        g = Z.T @ pr.x
        S = g < 1 + 1e-6
        polished = np.zeros(n)
        polished[S] = np.linalg.lstsq(Q[np.ix_(S, S)], np.ones(int(S.sum())), rcond=None)[0]
        viol, v = kkt(polished)
        if viol > tol or np.any(polished < -tol):
            raise fail("X", f"separable data whose max-margin problem solves to KKT violation <= {tol:g}",
                       f"data giving KKT violation {viol:.3g}")
    norm = float(np.linalg.norm(v))
    return MaxMargin(v / norm, 1.0 / norm, polished, np.flatnonzero(S), viol)


def equal_margin_direction(X: Any, y: Any) -> np.ndarray:
    """Unit direction of X⁺ᵀy: the minimum-norm w with Xᵀw = y (least squares when n > d).

    Every training point gets the same margin wᵀx_i y_i when n ≤ d and X has rank n.

    Args:
        X: data (d x n).
        y: labels ±1 (n,).

    Returns:
        The unit vector X⁺ᵀy/‖X⁺ᵀy‖, shape (d,).

    >>> np.round(equal_margin_direction(np.array([[1.0, 0.0], [0.0, 2.0]]), [1.0, 1.0]), 6)
    array([0.894427, 0.447214])
    """
    # === check arguments
    X, y = _check_data(X, y)
    w = np.linalg.pinv(X.T) @ y
    return w / np.linalg.norm(w)


def separable_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian points x_i ~ N(0, I_d/d) labelled by a random teacher: y_i = sign(w*ᵀx_i).

    Separable through the origin by construction (for n ≤ d any labels would be).

    Args:
        n: number of examples >= 1.
        d: input dimension >= 1.
        seed: random seed.

    Returns:
        (X, y), X of shape (d, n).

    >>> X, y = separable_data(5, 3, seed=1); X.shape, sorted(set(y.tolist()))
    ((3, 5), [-1.0, 1.0])
    """
    # === check arguments
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(d, n)) / np.sqrt(d)
    teacher = rng.normal(size=d)
    y = np.sign(teacher @ X)
    y[y == 0] = 1.0
    return X, y


def outside_span(w: Any, X: Any) -> np.ndarray:
    """‖(I − P_X)w‖/‖w‖: the part of each classifier w outside the span of the data columns.

    Args:
        w: classifiers, shape (d,) or (T, d).
        X: data (d x n).

    Returns:
        The fractions, shape () or (T,).

    >>> float(outside_span(np.array([3.0, 4.0]), np.array([[1.0], [0.0]])))
    0.8
    """
    # === check arguments
    w = np.asarray(w, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or w.shape[-1] != X.shape[0] or w.ndim > 2:
        raise fail("w", f"classifiers of length d = {X.shape[0] if X.ndim == 2 else '?'} (shape (d,) or (T, d))",
                   f"shape {w.shape}")
    U, sig, _ = np.linalg.svd(X, full_matrices=False)
    U = U[:, sig > sig.max(initial=0.0) * max(X.shape) * np.finfo(float).eps]
    rest = w - (w @ U) @ U.T
    return np.linalg.norm(rest, axis=-1) / np.linalg.norm(w, axis=-1)
