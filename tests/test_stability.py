"""Stable evaluation: no overflow, NaN or loss of monotonicity over extreme parameters, and
machine-precision agreement with the 40-digit evaluator of the same derived form."""
import json
import subprocess
import sys
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy

from conftest import EVALUATE_RTOL
from lindyn import GD, NGD, BlockNGD, derive, kfac

T = np.concatenate([[0.0], np.logspace(-8, 6, 400)])
S = [1e-6, 1e-3, 1.0, 1e3, 1e6]
Q = sympy.Symbol("q", positive=True)
RULES = [(GD(), 2), (GD(), 3), (GD(), 10), (NGD(), 4), (kfac(), 3), (BlockNGD(q=Fraction(1, 2)), 2),
         (NGD(q=Fraction(1, 2)), 5), (BlockNGD(q=Fraction(3, 4)), 7)]


def _check(u, u0, s, converged=True):
    assert np.all(np.isfinite(u))
    for m in range(len(s)):
        d = np.diff(u[m])
        if u0[m] < s[m]:
            assert np.all(d >= 0) and np.all(u[m] <= s[m] * (1 + 1e-15))
        else:
            assert np.all(d <= 0) and np.all(u[m] >= s[m] * (1 - 1e-15))
        if converged:    # slow modes (rate c s^g tiny) need not reach s by t = 1e6
            assert abs(u[m][-1] - s[m]) <= 1e-12 * s[m]


@pytest.mark.parametrize("u0", [1e-12, 1e-3, "above"])
@pytest.mark.parametrize("r,L", RULES, ids=lambda x: getattr(x, "name", str(x)))
def test_no_overflow_nan_or_wiggle(r, L, u0):
    traj = derive(r, L)
    u0s = [3.0 * s for s in S] if u0 == "above" else [u0 * s for s in S]
    u = traj.evaluate(T, s=S, u0=u0s)
    _check(u, u0s, S, converged=traj.g == 0)


def test_symbolic_q_and_quadrature_are_stable():
    traj = derive(BlockNGD(q=Q), 3)
    u = traj.evaluate(T, s=[1e-3, 1.0, 1e3], u0=[1e-12, 1e-6, 5e3], q=0.5)
    _check(u, [1e-12, 1e-6, 5e3], [1e-3, 1.0, 1e3])
    quad = derive(GD(), 4, gains="unbalanced")
    u = quad.evaluate(T[:200], s=[1.0, 2.0], gains=[0.01, 0.02, 0.05, 0.1])
    assert np.all(np.isfinite(u)) and np.all(np.diff(u, axis=-1) >= 0)


@pytest.mark.parametrize("s", [1e-6, 1.0, 1e3, 1e6])
def test_unbalanced_quadrature_is_stable_to_t_1e6(s):
    """The reduced ODE stops at its fixed point (no crawling through stiff steps up to t = 1e6)."""
    traj = derive(GD(), 3, gains="unbalanced")
    for gains in ([0.01, 0.02, 0.05], [3 * s ** (1 / 3), 2 * s ** (1 / 3), s ** (1 / 3)]):
        u = traj.evaluate(T, s=s, gains=gains)
        u0 = float(np.prod(gains))
        assert np.all(np.isfinite(u))
        assert np.all(np.diff(u) >= 0) if u0 < s else np.all(np.diff(u) <= 0)
        if s >= 1.0:
            assert abs(u[-1] / s - 1) < 1e-11


@pytest.mark.parametrize("r,L,u0", [(GD(), 3, 1e-3), (GD(), 3, 1e-12), (GD(), 5, 4.0), (NGD(q=Fraction(1, 2)), 4, 1e-2),
                                    (BlockNGD(q=Fraction(1, 2)), 2, 1e-6), (GD(), 2, 0.3)],
                         ids=lambda x: getattr(x, "name", str(x)))
def test_double_precision_matches_40_digits(r, L, u0):
    traj = derive(r, L)
    t = np.array([0.0, 1e-6, 0.3, 2.0, 7.5, 40.0])
    u = traj.evaluate(t, s=1.0, u0=u0)
    f = traj.lambdify("mpmath")
    with mpmath.workdps(40):
        ref = [f(mpmath.mpf(x), s=1, u0=mpmath.mpf(u0), dps=40) for x in t]
        err = max(float(abs(mpmath.mpf(a) - b) / b) for a, b in zip(u, ref))
    assert err <= EVALUATE_RTOL


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "lindyn", *args], capture_output=True, text=True, timeout=300)


def test_cli_trajectory_contract():
    r = _cli("trajectory", "--rule", "gd", "--depth", "2", "--s", "2", "--u0", "0.01", "--t", "0.5,1,2", "--json")
    obj = json.loads(r.stdout)
    assert {"rule", "q", "depth", "form", "t", "u", "ode", "solution"} <= set(obj)
    assert max(abs(a - b) for a, b in zip(obj["u"][0], [0.0716031774029, 0.4305879205034, 1.874841113744])) < 1e-10


def test_cli_learning_time_and_errors():
    r = _cli("learning-time", "--rule", "gd", "--depth", "2", "--s", "1", "--u0", "1e-4", "--until", "0.9999", "--json")
    assert abs(json.loads(r.stdout)["t"] - 9.210240366975849) <= 1e-9 * 9.21
    bad = _cli("trajectory", "--rule", "gd", "--depth", "0", "--s", "2", "--u0", "0.01", "--t", "1", "--json")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "depth" in bad.stderr
