"""Independent scalar routes for one aligned mode: mpmath integration and quadrature (never sympy).

These integrate the per-layer gain system τ ȧ_i = V_i(a) (or the mode ODE τ u̇ = f(u)) as plain
ODEs, from callables lambdified off the rule's own velocities. They use neither the closed forms
nor the conserved quantities, so they check the engine's solutions independently:

* `integrate_mp`: mpmath's Taylor-series integrator `mpmath.odefun` at any number of digits;
* `time_by_quadrature_mp`: t(u) = τ ∫ du/f(u) by tanh-sinh quadrature.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import mpmath

from .._checks import check_int

__all__ = ["integrate_mp", "integrate_mode_mp", "time_by_quadrature_mp"]


def integrate_mp(rhs: Callable[[list[Any]], list[Any]], y0: Sequence[Any], t: Sequence[Any], tau: Any = 1,
                 dps: int = 30) -> list[list[Any]]:
    """Integrate τ ẏ = rhs(y) with mpmath's Taylor method at `dps` digits; returns [y(t_k)] per time.

    Args:
        rhs: right-hand side τ ẏ on lists of mpf.
        y0: initial state (numbers or decimal strings).
        t: increasing times >= 0.
        tau: time constant.
        dps: working decimal digits (the integrator's tolerance is 10^−dps).

    >>> with mpmath.workdps(40):
    ...     y = integrate_mp(lambda y: [1 - y[0]], [0], [1], dps=30)
    ...     bool(abs(y[0][0] - (1 - mpmath.exp(-1))) < 1e-28)
    True
    """
    # === check arguments
    dps = check_int(dps, "dps", minimum=15)
    with mpmath.workdps(dps + 10):
        tau_m = mpmath.mpf(tau)
        y0m = [mpmath.mpf(x) for x in y0]
        if len(y0m) > 1:
            f = mpmath.odefun(lambda _t, y: [v / tau_m for v in rhs(list(y))], 0, y0m)
        else:
            f = mpmath.odefun(lambda _t, y: rhs([y])[0] / tau_m, 0, y0m[0])
        out = []
        for tk in t:
            val = f(mpmath.mpf(tk))
            out.append([+v for v in val] if len(y0m) > 1 else [+val])
        return out


def integrate_mode_mp(rhs: Callable[[Any], Any], x0: Any, t: Sequence[Any], tau: Any = 1, dps: int = 30) -> list[Any]:
    """Scalar version of `integrate_mp`: x(t_k) for τ ẋ = rhs(x)."""
    # === check arguments
    return [y[0] for y in integrate_mp(lambda y: [rhs(y[0])], [x0], t, tau=tau, dps=dps)]


def time_by_quadrature_mp(rhs: Callable[[Any], Any], u0: Any, u: Any, tau: Any = 1, dps: int = 30) -> Any:
    """t(u0 → u) = τ ∫_{u0}^{u} du'/f(u') by tanh-sinh quadrature at `dps` digits (τ u̇ = f(u)).

    Independent of any closed form: it only needs the mode ODE's right-hand side.

    >>> with mpmath.workdps(40):
    ...     t = time_by_quadrature_mp(lambda u: 1 - u, 0, mpmath.mpf("0.5"), dps=30)
    ...     bool(abs(t - mpmath.log(2)) < 1e-28)
    True
    """
    # === check arguments
    dps = check_int(dps, "dps", minimum=15)
    with mpmath.workdps(dps + 10):
        a, b = mpmath.mpf(u0), mpmath.mpf(u)
        # split at geometric points so the integrand's growth near the ends is resolved
        pts = [a, b] if a == 0 or b == 0 else [a * (b / a) ** (mpmath.mpf(k) / 8) for k in range(9)]
        return +(mpmath.mpf(tau) * mpmath.quad(lambda x: 1 / rhs(x), pts))
