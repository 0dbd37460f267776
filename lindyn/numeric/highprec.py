"""High-precision full-matrix flow with mpmath (small networks only).

The same rule code runs on numpy object arrays of `mpmath.mpf` with `MpmathOps` (the Fisher is
formed densely and inverted with `mpmath.eigsy`). The ODE is solved by Gragg–Bulirsch–Stoer
extrapolation (modified midpoint rule extrapolated in h²; Hairer, Nørsett & Wanner, Solving
Ordinary Differential Equations I, §II.9), with adaptive macro steps and local tolerance
10^−(dps−3) relative. It is used instead of `mpmath.odefun`, whose Taylor coefficients come from
numerical differentiation of the velocity and lose about half the digits when the velocity
contains an eigendecomposition (a Fisher power): measured 9e-18 instead of 1e-30 on exact NGD.
Cost grows quickly with the number of parameters P (the dense Fisher power is O(P³) software
operations per velocity), so keep P <= ~10.
"""
from __future__ import annotations

from typing import Any, Sequence

import mpmath
import numpy as np

from .._checks import IntegrationFailed, fail
from ._ops import MatrixGeometry, MpmathOps, unvec_layers, vec_layers

__all__ = ["to_mpf_array", "solve_flow_mpmath"]


def to_mpf_array(x: Any) -> np.ndarray:
    """Exact conversion of a float array to an object array of `mpmath.mpf` (binary floats are exact)."""
    arr = np.asarray(x, dtype=float)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(arr.shape):
        out[idx] = mpmath.mpf(arr[idx])
    return out


def solve_flow_mpmath(rule: Any, W0: Sequence[np.ndarray], Sigma: np.ndarray, Sigma_yx: np.ndarray, tau: float,
                      t: Sequence[float], dps: int) -> list[tuple[np.ndarray, ...]]:
    """Integrate τ dW_i/dt = rule.velocity at `dps` digits; return the layers (object arrays) at each t.

    The float64 data (W(0), Σ, Σ_yx, τ, t) are converted exactly to mpf, so a comparison with an
    analytic oracle must evaluate the oracle at those exact binary values.
    Raises `IntegrationFailed` when the solver cannot proceed (step-size underflow, non-finite state).
    """
    ops = MpmathOps(dps=dps)
    shapes = [np.shape(w) for w in W0]
    with mpmath.workdps(dps):
        S = to_mpf_array(Sigma)
        Syx = to_mpf_array(Sigma_yx)
        tau_mp = mpmath.mpf(float(tau))

        def F(_time: Any, theta: np.ndarray) -> np.ndarray:
            geo = MatrixGeometry(unvec_layers(theta, shapes), S, Syx, ops, "explicit")
            vel = rule.velocity(geo.grads, geo, ops)
            return vec_layers([np.asarray(v, dtype=object) for v in vel]) / tau_mp

        try:
            y = vec_layers([to_mpf_array(w) for w in W0])
            tol = mpmath.mpf(10) ** (-(dps - 3))
            tiny = mpmath.mpf(10) ** (-12)
            result, now, H = [], mpmath.mpf(0), mpmath.mpf("0.1") * tau_mp
            for time in t:
                target = mpmath.mpf(float(time))
                while now < target:
                    step = min(H, target - now)
                    y_new, ok, H_next = _gbs_step(F, now, y, step, tol)
                    if ok:
                        now, y = now + step, y_new
                        if not all(mpmath.isfinite(x) for x in y):
                            raise ValueError(f"non-finite state at t = {mpmath.nstr(now, 8)}")
                        H = max(H, H_next) if step < H else H_next
                    else:
                        if step < tiny * max(target, mpmath.mpf(1)):
                            raise ValueError(f"step size underflow at t = {mpmath.nstr(now, 8)}")
                        H = H_next
                result.append(unvec_layers(y.copy(), shapes))
        except (ZeroDivisionError, ValueError, OverflowError) as err:
            raise fail("t", f"within the range the high-precision solver can reach ({err})",
                       float(t[-1]), IntegrationFailed) from None
    return result


def _gbs_step(F: Any, x: Any, y: np.ndarray, H: Any, tol: Any, k_max: int = 14) -> tuple[np.ndarray, bool, Any]:
    """One Gragg–Bulirsch–Stoer macro step of size H; returns (y(x + H), accepted, next H).

    Modified midpoint rule with n_k = 2k sub-steps, Aitken–Neville extrapolation in h² (the
    midpoint rule's error expansion is even in h, Gragg 1965).
    """
    f0 = F(x, y)
    rows: list[list[np.ndarray]] = []
    for k in range(1, k_max + 1):
        n = 2 * k
        h = H / n
        z0, z1 = y, y + h * f0
        for m in range(1, n):
            z0, z1 = z1, z0 + 2 * h * F(x + m * h, z1)
        row = [(z0 + z1 + h * F(x + H, z1)) / 2]
        for j in range(1, k):
            ratio = mpmath.mpf(n) ** 2 / mpmath.mpf(2 * (k - j)) ** 2
            row.append(row[j - 1] + (row[j - 1] - rows[-1][j - 1]) / (ratio - 1))
        rows.append(row)
        if k >= 3:
            err = max(abs(a - b) for a, b in zip(row[-1], row[-2]))
            scale = 1 + max(abs(a) for a in row[-1])
            if err <= tol * scale:
                grow = 2 if k <= 7 else (1 if k <= 10 else mpmath.mpf("0.7"))
                return row[-1], True, H * grow
    return y, False, H / 4
