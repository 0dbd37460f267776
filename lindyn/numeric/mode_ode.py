"""Independent scalar routes for one aligned mode: scipy and mpmath integration (never sympy).

These integrate the per-layer gain system τ ȧ_i = V_i(a) (or the mode ODE τ u̇ = f(u)) as plain
ODEs, from callables lambdified off the rule's own velocities. They use neither the closed forms
nor the conserved quantities, so they check the engine's solutions independently:

* `integrate_scipy`: DOP853 with dense output (double precision; rtol 1e-12 by default);
* `integrate_mp`: mpmath's Taylor-series integrator `mpmath.odefun` at any number of digits.

>>> import numpy as np
>>> u = integrate_scipy(lambda y: [1.0 - y[0]], [0.0], [1.0])
>>> bool(abs(u[0, 0] - (1 - np.exp(-1))) < 1e-11)
True
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import mpmath
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import solve_ivp

from .._checks import IntegrationFailed, check_int, check_real

__all__ = ["integrate_scipy", "integrate_mp", "integrate_mode_mp", "time_by_quadrature_mp"]


def integrate_scipy(rhs: Callable[[NDArray], Sequence[float]], y0: ArrayLike, t: ArrayLike, tau: float = 1.0,
                    rtol: float = 1e-12, atol: float = 1e-14) -> NDArray:
    """Integrate τ ẏ = rhs(y) from y(0) = y0 with DOP853; returns y at the times t, shape (dim, T).

    Args:
        rhs: right-hand side τ ẏ as a function of the state (list or array).
        y0: initial state.
        t: increasing times >= 0.
        tau: time constant τ > 0.
        rtol, atol: DOP853 tolerances.
    """
    # === check arguments
    tau = check_real(tau, "tau", positive=True)
    y0 = np.atleast_1d(np.asarray(y0, dtype=float))
    t = np.asarray(t, dtype=float)
    if t.size == 0 or t[-1] == 0:
        return np.repeat(y0[:, None], t.size, axis=1)
    sol = solve_ivp(lambda _t, y: np.asarray(rhs(y), dtype=float) / tau, (0.0, float(t[-1])), y0,
                    method="DOP853", rtol=rtol, atol=atol, t_eval=t)
    if not sol.success:
        raise IntegrationFailed(f"Argument `t` must be reachable by the integrator: {sol.message}")
    return sol.y


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
