"""Issue 14, items 1-6 (and the `evaluate` keyword checks of item 8): bounded derivation for large
denominators, accuracy near u = 0 and near the fixed point, the mpmath route, ill-conditioned
transitions.

Oracle (written here, never the code under test): t(u0 → u) = ∫ du/(c u^g (s − u)) (τ = λ = 1),
with c, g from THEORY.md §2 (`oracles.table_c_g`), by tanh-sinh quadrature at 40+ digits in the
variable y = ln(u/(s − u)) (growth, dt/dy = u^{1−g}/(c s)) or y = −ln(u/s − 1) (decay,
dt/dy = 1/(c u^g)), in which the integrand is smooth up to both ends. The error of a computed u(t)
is measured as |t(u) − t| · |u̇|/u: the relative change of u that the time error amounts to.
"""
import json
import math
import signal
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy

from lindyn import GD, NGD, BlockNGD, LindynError, derive
from oracles import table_c_g

EPS = float(np.finfo(float).eps)
#: Relative accuracy asked of a well-conditioned u(t) or learning time (issue 14 item 3: ~1e-14).
WELL_RTOL = 1e-14
#: The double-precision error of an ill-conditioned u(t) relative to its condition number:
#: |δu/u| <= ILL_FACTOR · κ · ε (κ = |t u̇/u|; the input t alone is uncertain by ε·t; the rounding of
#: w0 = λu0/s and of κt adds a few ε to t̃): measured <= 10.1 at s = 1e6, u0 = 1e-12, L = 10, 20.
ILL_FACTOR = 16.0
#: 30-digit mpmath route vs the 50-digit oracle, relative on u.
MP30_RTOL = 1e-25


def c_g(name, L, q=1):
    """(c, g) of THEORY.md §2 (`oracles.table_c_g`) at an exact q (its nsimplify rounds q = 1e-400 to 0)."""
    qs = sympy.Symbol("q")
    c, g = table_c_g(name, L, qs)
    exact = sympy.Rational(getattr(q, "numerator", q), getattr(q, "denominator", 1))
    return sympy.sympify(c).subs(qs, exact), sympy.sympify(g).subs(qs, exact)


def _mp(x):
    return x if isinstance(x, mpmath.mpf) else mpmath.mpf(x) if not hasattr(x, "p") else \
        mpmath.mpf(int(x.p)) / int(x.q)


def t_oracle(c, g, s, u0, u, dps=40):
    """t(u0 → u) = ∫_{u0}^{u} du'/(c u'^g (s − u')) by tanh-sinh quadrature (see module docstring)."""
    with mpmath.workdps(dps):
        c = mpmath.mpf(str(c.evalf(dps + 10))) if hasattr(c, "evalf") else _mp(c)
        g = mpmath.mpf(str(g.evalf(dps + 10))) if hasattr(g, "evalf") else _mp(g)
        s, u0, u = _mp(s), _mp(u0), _mp(u)
        if u0 < s:
            y = lambda x: mpmath.log(x / (s - x))                                    # noqa: E731
            dt = lambda yy: (s / (1 + mpmath.exp(-yy))) ** (1 - g) / (c * s)         # noqa: E731
        else:
            y = lambda x: -mpmath.log(x / s - 1)                                     # noqa: E731
            dt = lambda yy: 1 / (c * (s * (1 + mpmath.exp(-yy))) ** g)               # noqa: E731
        y0, y1 = y(u0), y(u)
        n = int(min(200, 2 + abs(y1 - y0) / 6))     # pieces of length <= 6 in y: 50 digits at dps 60
        return mpmath.quad(dt, mpmath.linspace(y0, y1, n))


def u_error(c, g, s, u0, u, t, dps=40):
    """|t_oracle(u) − t| · |u̇|/u: the relative error of a computed u(t).

    A u at (or rounded past) the fixed point s: |u/s − 1| plus a bound δ on the true gap |1 − u(t)/s|,
    the smallest δ of a ladder with t >= t_oracle(s(1 ∓ δ)) (else the error is reported as 1)."""
    with mpmath.workdps(dps):
        cm = mpmath.mpf(str(c.evalf(dps + 10))) if hasattr(c, "evalf") else _mp(c)
        gm = mpmath.mpf(str(g.evalf(dps + 10))) if hasattr(g, "evalf") else _mp(g)
        um, sm, u0m = _mp(u), _mp(s), _mp(u0)
        if (u0m < sm) == (um >= sm):                            # at or past s
            for gap in [mpmath.mpf(10) ** (-(dps - 10)), mpmath.mpf("1e-30"), mpmath.mpf("1e-20"),
                        mpmath.mpf(EPS) / 4, mpmath.mpf(EPS), mpmath.mpf("1e-14"), mpmath.mpf("1e-8")]:
                near = sm * (1 - gap) if u0m < sm else sm * (1 + gap)
                if _mp(t) >= t_oracle(c, g, s, u0, near, dps):
                    return float(abs(um / sm - 1) + gap)
            return 1.0
        rate = abs(cm * um ** gm * (sm - um)) / um
        return float(abs(t_oracle(c, g, s, u0, u, dps) - _mp(t)) * rate)


@contextmanager
def deadline(seconds):
    """Fail (instead of hanging) when the block runs longer than `seconds`."""
    def on_alarm(*_):
        raise TimeoutError(f"took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def cli(*args, timeout=60, memory_gb=4):
    """Run `python -m lindyn ...` with a time and address-space limit; (returncode, stdout, stderr)."""
    limit = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory_gb << 30}, {memory_gb << 30})); "
             "import sys, runpy; sys.argv = ['lindyn'] + sys.argv[1:]; runpy.run_module('lindyn', run_name='__main__')")
    try:
        p = subprocess.run([sys.executable, "-c", limit, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"lindyn {' '.join(args)} ran past {timeout} s")
    return p.returncode, p.stdout, p.stderr


# ------------------------------------------------------------------ item 1: large denominators

@pytest.mark.parametrize("rule,L,name", [(NGD(q=Fraction(3333, 10000)), 3, "ngd"),     # --q 0.3333: k = 7500
                                         (NGD(q=Fraction(1, 10 ** 400)), 3, "ngd"),   # --q 1e-400
                                         (BlockNGD(q=Fraction(123, 1000)), 2, "block")],   # --q 0.123
                         ids=["ngd-0.3333", "ngd-1e-400", "block-0.123"])
def test_large_denominators_answer_in_seconds(rule, L, name):
    start = time.perf_counter()
    with deadline(30):
        traj = derive(rule, L)
        u = traj.evaluate([1.0, 2.0], s=1.0, u0=1e-3)
        t_half = traj.learning_time(0.5, s=1.0, u0=1e-3)
    elapsed = time.perf_counter() - start
    c, g = c_g(name, L, rule.q)
    assert g.q > 24 and traj.g == g                                    # large k, exact g kept
    assert max(u_error(c, g, 1, 1e-3, ui, ti) for ui, ti in zip(u, [1.0, 2.0])) <= WELL_RTOL
    assert abs(t_half / float(t_oracle(c, g, 1, 1e-3, 0.5)) - 1) <= WELL_RTOL
    assert elapsed < 15, elapsed


def test_large_denominator_cli_bounded_memory():
    """derive(NGD(q=1/100), 50) grew to 24 GB; now within 2 GB of address space and a minute."""
    start = time.perf_counter()
    rc, out, err = cli("trajectory", "--rule", "ngd", "--q", "1/100", "--depth", "50", "--s", "1", "--u0", "1e-3",
                       "--t", "1,2", "--json", memory_gb=2)
    assert rc == 0, err[-400:]
    u = json.loads(out)["u"][0]
    c, g = c_g("ngd", 50, Fraction(1, 100))
    assert max(u_error(c, g, 1, 1e-3, ui, ti) for ui, ti in zip(u, [1.0, 2.0])) <= WELL_RTOL
    assert time.perf_counter() - start < 30


# ------------------------------------------------------------------ item 2: valid decay refused

def test_decay_with_large_denominator():
    """`--rule ngd --q 1/100 --depth 20 --u0 2 --t 0.1,1` exited 2 naming an internal `w`."""
    with deadline(30):
        traj = derive(NGD(q=Fraction(1, 100)), 20)
        t = [0.1, 1.0, 30.0]
        u = traj.evaluate(t, s=1.0, u0=2.0)
    c, g = c_g("ngd", 20, Fraction(1, 100))
    assert max(u_error(c, g, 1, 2, ui, ti) for ui, ti in zip(u, t)) <= WELL_RTOL


# ------------------------------------------------------------------ item 3: accuracy near u = 0

@pytest.mark.parametrize("rule,L,name", [(NGD(q=Fraction(3, 4)), 2, "ngd"), (BlockNGD(q=Fraction(3, 4)), 5, "block"),
                                         (NGD(q=Fraction(1, 2)), 5, "ngd")],
                         ids=["ngd-3/4-L2", "block-3/4-L5", "ngd-1/2-L5"])
def test_accuracy_near_zero_for_g_below_one(rule, L, name):
    c, g = c_g(name, L, rule.q)
    assert 0 < g < 1
    traj = derive(rule, L)
    worst = 0.0
    for u0 in (1e-9, 1e-12, 1e-15):
        t = [1e-12, 1e-9, 1e-6, 1.0]
        u = traj.evaluate(t, s=1.0, u0=u0)
        worst = max(worst, max(u_error(c, g, 1, u0, ui, ti) for ui, ti in zip(u, t)))
        for until in (2 * u0, 0.5):
            lt = traj.learning_time(until, s=1.0, u0=u0)
            worst = max(worst, abs(lt / float(t_oracle(c, g, 1, u0, until)) - 1))
    assert worst <= WELL_RTOL


# ------------------------------------------------------------------ item 4: near the fixed point

@pytest.mark.parametrize("rule,L,name,u0,until", [
    (GD(), 3, "gd", 1e-3, 0.9999999999999999), (GD(), 3, "gd", 1e-3, 1 - 1e-13),
    (GD(), 3, "gd", 3.0, 1.0000000000000002), (GD(), 3, "gd", 3.0, 1 + 1e-13),
    (NGD(q=Fraction(1, 2)), 2, "ngd", 1e-3, 1 - 1e-15),          # g = 1/2: explicit Möbius form
    (GD(), 7, "gd", 1e-6, 1 - 3e-16), (NGD(q=Fraction(1, 100)), 20, "ngd", 2.0, 1 + 1e-14)],
    ids=["gd3-1-eps", "gd3-1-1e13", "gd3-1+eps", "gd3-1+1e13", "ngd1/2-1-1e15", "gd7", "ngd1/100-decay"])
def test_learning_time_near_fixed_point(rule, L, name, u0, until):
    c, g = c_g(name, L, rule.q if hasattr(rule, "q") else 1)
    lt = derive(rule, L).learning_time(until, s=1.0, u0=u0)
    want = t_oracle(c, g, 1, u0, until)
    assert math.isfinite(lt) and abs(lt / float(want) - 1) <= WELL_RTOL


@pytest.mark.parametrize("s,u0,until", [(1e3, 1.0, 1e3 * (1 - 1e-15)), (1e-3, 5e-3, 1e-3 * (1 + 1e-15))])
def test_learning_time_near_fixed_point_at_other_s(s, u0, until):
    """|s − u|/s enters the ₂F₁ exactly (u/s would round 1 − u/s ~ 1e-15 by 10 %)."""
    c, g = c_g("gd", 4)
    lt = derive(GD(), 4).learning_time(until, s=s, u0=u0)
    assert abs(lt / float(t_oracle(c, g, s, u0, until)) - 1) <= WELL_RTOL


def test_learning_time_cli_near_fixed_point():
    rc, out, err = cli("learning-time", "--rule", "gd", "--depth", "3", "--s", "1", "--u0", "1e-3", "--until",
                       "0.9999999999999999", "--json")
    assert rc == 0, err
    assert abs(json.loads(out)["t"] - 21.4876044389365) <= 1e-12


# ------------------------------------------------------------------ item 5: the mpmath route

@pytest.mark.parametrize("L,s,u0,t", [(3, 1, "1e-15", "1e-3"), (3, 1, "1e-18", "5"), (10, 1, "1e-15", "1e5"),
                                      (50, "1e6", "1e-12", "1000")])
def test_mpmath_route_stays_in_the_domain(L, s, u0, t):
    f = derive(GD(), L).lambdify("mpmath")
    with deadline(60):
        u = f(t, s=s, u0=u0, dps=30)
    assert isinstance(u, mpmath.mpf)
    c, g = c_g("gd", L)
    assert u_error(c, g, s, u0, u, t, dps=60) <= MP30_RTOL


@pytest.mark.slow
@pytest.mark.parametrize("ratio", ["1e-15", "1e-18"])
@pytest.mark.parametrize("L", [3, 10, 50])
def test_mpmath_route_grid(L, ratio):
    """A slice of the issue's 288-point grid (176 failed): u0/s in {1e-15, 1e-18}, s in {1e-6, 1e6}."""
    f = derive(GD(), L).lambdify("mpmath")
    c, g = c_g("gd", L)
    for s in ("1e-6", "1e6"):
        u0 = mpmath.mpf(ratio) * mpmath.mpf(s)
        with mpmath.workdps(50):
            t_half = t_oracle(c, g, s, u0, mpmath.mpf(s) / 2, dps=50)
        for t in (t_half * mpmath.mpf("1e-3"), t_half, t_half * 3):
            t_text = mpmath.nstr(t, 40)                 # the exact input, read at 60 digits by u_error
            u = f(t_text, s=s, u0=mpmath.nstr(u0, 40), dps=30)
            assert u_error(c, g, s, mpmath.nstr(u0, 40), u, t_text, dps=60) <= MP30_RTOL


# ------------------------------------------------------------------ item 6: ill-conditioned transitions

@pytest.mark.parametrize("L", [10, 20, 50])
def test_ill_conditioned_transition_is_reported_and_resolved(L):
    s, u0 = 1e6, 1e-12
    c, g = c_g("gd", L)
    traj = derive(GD(), L)
    with mpmath.workdps(50):
        t_half = float(t_oracle(c, g, s, u0, s / 2, dps=50))
    with mpmath.workdps(50):
        t_99 = float(t_oracle(c, g, s, u0, 0.99 * s, dps=50))
    t = np.array([t_half * (1 - 2 * EPS), t_half, t_half * (1 + 2 * EPS), t_99])
    kappa = traj.condition(t, s=s, u0=u0)
    assert kappa.shape == t.shape and kappa[1] > 1e13          # a transition a few ulps of t wide
    with pytest.warns(UserWarning, match="condition"):
        u = traj.evaluate(t, s=s, u0=u0)
    for ui, ti, ki in zip(u, t, kappa):
        # double precision: within its condition number, or flagged as not resolved at all (κε > 1e-3:
        # the transition is narrower than the evaluation's time error, κ is then a lower bound)
        err = u_error(c, g, s, u0, ui, ti, dps=60)
        assert err <= max(WELL_RTOL, ILL_FACTOR * ki * EPS) or ki * EPS > 1e-3, (ti, err, ki)
    exact = traj.evaluate(t, s=s, u0=u0, dps=30)                # the exact float t, at 30 digits
    for ui, ti in zip(exact, t):
        assert u_error(c, g, s, u0, ui, ti, dps=60) <= 4 * EPS   # correctly rounded to double


def test_well_conditioned_evaluate_does_not_warn():
    traj = derive(GD(), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        u = traj.evaluate([0.1, 9.0, 1e3], s=1.0, u0=1e-3)
    kappa = traj.condition([0.1, 9.0, 1e3], s=1.0, u0=1e-3)
    assert np.all(kappa * EPS < 1e-8) and u[-1] == 1.0


# ------------------------------------------------------------------ item 8 (evaluate keywords)

def test_evaluate_refuses_unknown_q_and_empty_s():
    traj = derive(GD(), 3)
    with pytest.raises(LindynError, match="`q`"):
        traj.evaluate([1.0], s=1.0, u0=1e-3, q=0.5)
    with pytest.raises(LindynError, match="`q`"):
        traj.learning_time(0.5, s=1.0, u0=1e-3, q=0.5)
    with pytest.raises(LindynError, match="`s`"):
        traj.evaluate([1.0], s=[], u0=1e-3)
