"""Separable logistic classification with deep linear networks: GD versus natural gradient flow.

Kerekes, Mészáros & Huszár 2021 (THEORY §4). NGF here is `NGD(q=1)` of `lindyn.rules`: full
parameter-space Fisher F = J_fᵀ D J_f with the Bernoulli output Fisher D = diag(p(1 − p)),
inverted by Moore–Penrose (`LossGeometry`). When the output Jacobian J_f (n x P) has full row
rank (n ≤ d and X of rank n) its margins follow ṁ_i = 1 + e^{−m_i} at every depth, so they
equalise and the classifier turns to the equal-margin interpolant X⁺ᵀy. GD's direction tends to
the max-margin (hard SVM) direction (Soudry et al. 2018; Ji & Telgarsky 2019 for deep linear
networks), at a logarithmic rate.

>>> import numpy as np
>>> X = np.array([[1.0, 0.0], [0.0, 2.0]]); y = np.array([1.0, 1.0])
>>> np.round(max_margin_direction(X, y).w, 6)
array([0.894427, 0.447214])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.optimize import minimize

from .._checks import check_int, check_real, fail
from ..rules import GD, NGD
from .losses import LogisticLoss, integrate_loss, resolve_rule

__all__ = [
    "MaxMargin", "max_margin_direction", "equal_margin_direction", "separable_data",
    "layer_init", "ClassifierRun", "run_classifier",
]


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


def layer_init(widths: Sequence[int], scale: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    """W_i = scale · (random semi-orthogonal n_i x n_{i−1} matrix): balanced when widths are equal.

    Args:
        widths: (n_0, …, n_L).
        scale: per-layer scale > 0 (singular values of W_i, so ‖W‖ ≈ scale^L).
        seed: random seed.

    Returns:
        (W_1, …, W_L), W_i of shape (n_i, n_{i−1}).

    >>> W = layer_init([3, 2, 1], 0.5, seed=0)
    >>> [w.shape for w in W], np.allclose(W[0] @ W[0].T, 0.25 * np.eye(2))
    ([(2, 3), (1, 2)], True)
    """
    # === check arguments
    widths = [check_int(w, "widths", minimum=1) for w in widths]
    if len(widths) < 2:
        raise fail("widths", "at least two widths (depth >= 1)", widths)
    scale = check_real(scale, "scale", positive=True)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    out = []
    for i in range(len(widths) - 1):
        rows, cols = widths[i + 1], widths[i]
        Q, R = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
        Q = Q * np.sign(np.diag(R))
        out.append(scale * (Q if rows >= cols else Q.T))
    return tuple(out)


@dataclass(frozen=True)
class ClassifierRun:
    """One trained deep linear classifier, measured at every output time.

    Attributes:
        rule: the rule's string ("gd", "ngf") if given as one, else the rule object's `name`.
        depth: L.
        t: times (T,).
        w: end-to-end classifier w(t)ᵀ = W_L⋯W_1, shape (T, d).
        margins: y_i w(t)ᵀx_i, shape (T, n).
        cos_svm: cosine between w(t) and the max-margin direction.
        cos_pinv: cosine between w(t) and X⁺ᵀy.
        normalised_margin: min_i y_i w(t)ᵀx_i / ‖w(t)‖.
        outside_span: ‖(I − P_X) w(t)‖ / ‖w(t)‖, P_X the projector on the span of the data.
    """

    rule: str
    depth: int
    t: np.ndarray
    w: np.ndarray
    margins: np.ndarray
    cos_svm: np.ndarray
    cos_pinv: np.ndarray
    normalised_margin: np.ndarray
    outside_span: np.ndarray


def run_classifier(X: Any, y: Any, depth: int, rule: Any, t: Any, *, init_scale: float = 0.5,
                   width: int | None = None, seed: int = 0, rtol: float = 1e-9, atol: float = 1e-12) -> ClassifierRun:
    """Train a deep linear classifier (widths d, h, …, h, 1) on logistic loss and measure its direction.

    ℓ = Σ_i ln(1 + e^{−y_i wᵀx_i}) with wᵀ = W_L⋯W_1, τ dW_i/dt = rule.velocity(∂ℓ/∂W, geo);
    cos(w, SVM) and cos(w, X⁺ᵀy) measure which implicit bias the rule has (THEORY §4).

    Args:
        X: data (d x n); y: labels ±1.
        depth: L in 1..6.
        rule: a learning rule object (any object with `velocity(grads, geo, ops)`, e.g. `GD()`,
            `NGD(q)`, `lindyn.rule(fn)`), or "gd" (GD()) or "ngf" (NGD(q=1) with the Bernoulli
            output Fisher).
        t: increasing output times (> 0 allowed from 0).
        init_scale: per-layer scale of `layer_init` (> 0).
        width: hidden width h (default d).
        seed: seed of the initial weights.
        rtol, atol: integrator tolerances.

    Returns:
        A `ClassifierRun`.

    >>> X, y = separable_data(2, 3, seed=0)
    >>> run = run_classifier(X, y, 2, "ngf", [0.0, 10.0])
    >>> round(float(run.cos_pinv[-1]), 3)
    1.0
    """
    # === check arguments
    X, y = _check_data(X, y)
    depth = check_int(depth, "depth", minimum=1, maximum=6)
    chosen = resolve_rule(rule, {"gd": GD, "ngf": NGD})
    d = X.shape[0]
    h = d if width is None else check_int(width, "width", minimum=1)
    W0 = layer_init([d] + [h] * (depth - 1) + [1], init_scale, seed)
    tr = integrate_loss(chosen, W0, X, LogisticLoss(y), t, rtol=rtol, atol=atol)
    w = tr.end_to_end()[:, 0, :]
    svm = max_margin_direction(X, y).w
    pinv = equal_margin_direction(X, y)
    norms = np.linalg.norm(w, axis=1)
    margins = (w @ X) * y
    Uspan = np.linalg.svd(X, full_matrices=False)[0]
    Uspan = Uspan[:, : np.linalg.matrix_rank(X)]
    outside = w - (w @ Uspan) @ Uspan.T
    label = rule if isinstance(rule, str) else tr.rule_name
    return ClassifierRun(label, depth, tr.t, w, margins, (w @ svm) / norms, (w @ pinv) / norms,
                         margins.min(axis=1) / norms, np.linalg.norm(outside, axis=1) / norms)
