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

from conftest import EVALUATE_RTOL, EVALUATE_VS_QUADRATURE_RTOL
from lindyn import GD, NGD, BlockNGD, IntegrationFailed, LindynError, derive, kfac
from lindyn.numeric.mode_ode import time_by_quadrature_mp
from lindyn.numeric.stable import integrate_reduced, invert_time, monotone, newton_refine_mp, reduced_time

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


@pytest.mark.parametrize("r,L", RULES + [(BlockNGD(q=Q), 3)], ids=lambda x: getattr(x, "name", str(x)))
def test_values_match_independent_quadrature(r, L):
    """Values, not only monotonicity: each u(t) from `evaluate`, put back into 30-digit tanh-sinh
    quadrature of the derived ODE, t_back = τ∫du/f(u), must give t back; δu = |t_back − t|·|f(u)|/τ."""
    traj = derive(r, L)
    sym = traj.symbols
    fix = {traj.q: sympy.Rational(1, 2)} if traj.q is not None else {}
    qv = {"q": 0.5} if fix else {}
    worst = 0.0
    for s in (1e-3, 1.0, 1e3):
        sub = {**fix, sym.s: sympy.nsimplify(s), sym.lam: 1, sym.tau: 1}
        rhs = sympy.lambdify(sym.u, traj.ode.rhs.subs(sub), "mpmath")
        t = np.array([0.01, 0.3, 2.0, 6.0]) / float(traj.solution.plan.rate.subs(sub))   # rate·t <= 6: away from u*
        for u0 in (1e-3 * s, 3.0 * s):
            u = traj.evaluate(t, s=s, u0=u0, **qv)
            with mpmath.workdps(30):
                for tk, uk in zip(t, u):
                    t_back = time_by_quadrature_mp(rhs, mpmath.mpf(u0), mpmath.mpf(uk), dps=20)
                    worst = max(worst, float(abs(t_back - tk) * abs(rhs(mpmath.mpf(uk))) / uk))
    assert worst <= EVALUATE_VS_QUADRATURE_RTOL


def test_monotone_is_only_a_rounding_guard():
    assert monotone(np.array([1.0, 2.0, 2.0 * (1 - 1e-15)]), increasing=True).tolist() == [1.0, 2.0, 2.0]
    with pytest.raises(IntegrationFailed, match="failed at the time with index 2: u\\(t\\) is not monotonic"):
        monotone(np.array([1.0, 2.0, 2.0 * (1 - 1e-11)]), increasing=True)


def test_invert_time_refuses_non_finite_nodes():
    """A G that is not finite somewhere on the path is an error, not a node to drop and extrapolate over."""
    G = lambda w: np.where(w > 0.9, np.nan, np.log(w / (1 - w)))      # noqa: E731
    with pytest.raises(IntegrationFailed, match="inverting t\\(u\\) failed at w = "):
        invert_time(G, lambda w: w * (1 - w), 0.01, np.array([0.0, 1.0, 10.0]))


def test_g_limits_of_the_symbolic_form_are_finite():
    """q = 1 (g = 0) and q = (L − 2)/(2L − 2) (g = 1) on the symbolic-q form: the exponential and
    logistic rows exactly (before: ZeroDivisionError, resp. non-finite nodes dropped)."""
    traj = derive(BlockNGD(q=Q), 3)
    t = np.array([0.2, 1.0, 3.0])
    # g = 0, c = 3: u = s − (s − u0) e^{−3t}
    assert np.allclose(traj.evaluate(t, s=1.5, u0=0.1, q=1.0), 1.5 - 1.4 * np.exp(-3 * t), rtol=1e-14, atol=0)
    assert abs(traj.learning_time(1.0, s=1.5, u0=0.1, q=1.0) - np.log(1.4 / 0.5) / 3) <= 1e-14
    # g = 1 (q = 1/4 at L = 3), c = 3: logistic u = s/(1 + (s/u0 − 1) e^{−3st})
    want = 1.5 / (1 + 14 * np.exp(-4.5 * t))
    assert np.allclose(traj.evaluate(t, s=1.5, u0=0.1, q=0.25), want, rtol=1e-14, atol=0)


def test_mp_refinement_raises_instead_of_returning_unconverged():
    T = lambda u: mpmath.log(u / (1 - u)) - mpmath.log(mpmath.mpf(1) / 9)     # noqa: E731
    wrong_slope = lambda u: 1e3 / (u * (1 - u))                              # 1000x too steep: steps too short
    with pytest.raises(IntegrationFailed, match="converge"):
        newton_refine_mp(T, wrong_slope, 1, mpmath.mpf("0.3"), fixed=1, start=mpmath.mpf("0.1"))


def test_reduced_ode_failures_are_lindyn_errors():
    with pytest.raises(IntegrationFailed, match="DOP853 failed at t ≈ "):   # ẋ = x²: blows up at t = 1
        integrate_reduced(lambda x: x * x, 1.0, [2.0])
    with pytest.raises(LindynError, match="`u_to`"):             # u = x → 1, never reaches 2
        reduced_time(lambda x: 1 - x, lambda x: x, 0.5, 2.0)


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
