"""Derived trajectories against the published and THEORY.md §2 formulas (tests/oracles.py)."""
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy

from conftest import MP30_ATOL, PUBLISHED_RTOL, SYMBOLIC_Q_RTOL
from lindyn import GD, NGD, BlockNGD, LindynError, derive, kfac, rule
from lindyn.numeric.mode_ode import integrate_mp, time_by_quadrature_mp
import oracles
from lindyn.symbolic.modes import layer_velocities as lindyn_layer_velocities


def test_saxe_eq12_published_values():
    u = derive(GD(), 2).evaluate(oracles.SAXE_T, s=2.0, u0=0.01)
    assert np.max(np.abs(u - oracles.SAXE_U)) <= 1e-12


def test_saxe_eq11_learning_time():
    t = derive(GD(), 2).learning_time(1 - 1e-4, s=1.0, u0=1e-4)
    assert abs(t - oracles.LN9999) <= 1e-13 * oracles.LN9999
    assert abs(t - oracles.saxe_eq11_time(1.0, 1e-4, 1 - 1e-4)) <= 1e-13 * t


@pytest.mark.parametrize("L", [3, 4])
def test_balanced_gd_published_times(L):
    t = derive(GD(), L).learning_time(0.5, s=1.0, u0=1e-3)
    assert abs(t - oracles.BALANCED_GD_TIMES[L]) <= PUBLISHED_RTOL * t


@pytest.mark.parametrize("r,L", [(GD(), 3), (GD(), 7), (NGD(q=Fraction(1, 2)), 4), (BlockNGD(q=Fraction(1, 4)), 5),
                                 (NGD(q=Fraction(3, 4)), 3)], ids=lambda x: getattr(x, "name", str(x)))
def test_implicit_time_equals_the_2f1_formula(r, L):
    traj = derive(r, L)
    c, g = float(traj.c), traj.g
    with mpmath.workdps(30):
        want = oracles.implicit_time_2f1(mpmath.mpf(g.p) / g.q, 1.7, mpmath.mpf("0.01"), mpmath.mpf("1.2"), c, 1.3)
    got = traj.learning_time(1.2, s=1.7, u0=0.01, tau=1.3)
    assert abs(got - float(want)) <= 1e-12 * abs(got)


def test_symbolic_q_2f1_form_matches_rational_q():
    q = sympy.Symbol("q", positive=True)
    sym_traj = derive(BlockNGD(q=q), 4)
    rat = derive(BlockNGD(q=Fraction(1, 4)), 4)
    t = [0.1, 0.7, 3.0]
    u_sym = sym_traj.evaluate(t, s=1.3, u0=[0.02, 2.0], q=0.25)
    u_rat = rat.evaluate(t, s=1.3, u0=[0.02, 2.0])
    assert np.max(np.abs(u_sym - u_rat)) <= 1e-10


def test_two_layer_unbalanced_gd_matches_derived_oracle():
    traj = derive(GD(), 2, gains="unbalanced")
    a, b, s = 0.9, 0.2, 1.5
    c = a * a - b * b
    got = traj.learning_time(1.2, s=s, gains=[a, b])
    want = oracles.two_layer_unbalanced_time(c, s, a * b, 1.2)
    assert abs(got - want) <= 1e-12 * want
    sym = traj.symbols
    u = sym.u
    cc = sym.gains0[0] ** 2 - sym.gains0[1] ** 2
    assert sympy.simplify(traj.ode.rhs - sympy.sqrt(cc ** 2 + 4 * u ** 2) * (sym.s - u)) == 0


@pytest.mark.parametrize("r,rate", [(NGD(), 1), (kfac(), 3)], ids=["ngd", "kfac"])
def test_exponential_rules_for_any_balance(r, rate):
    traj = derive(r, 3, gains="unbalanced")
    gains = [0.2, 0.5, 1.1]
    u0 = float(np.prod(gains))
    t = [0.3, 1.0, 4.0]
    got = traj.evaluate(t, s=1.4, gains=gains)
    assert np.max(np.abs(got - [oracles.exponential_u(x, 1.4, u0, rate) for x in t])) <= 1e-14


@pytest.mark.slow
@pytest.mark.parametrize("r,L,u0", [(GD(), 3, "0.001"), (GD(), 5, "1.7"), (NGD(q=Fraction(1, 2)), 4, "0.01"),
                                    (BlockNGD(q=Fraction(1, 2)), 2, "0.05"), (BlockNGD(q=Fraction(3, 4)), 6, "0.02")],
                         ids=lambda x: getattr(x, "name", str(x)))
def test_mpmath_30_digits_against_independent_quadrature(r, L, u0):
    """Closed form at 30 digits vs tanh-sinh quadrature of τ/f(u) at 30 digits (independent of the closed form)."""
    traj = derive(r, L)
    f_mp = traj.lambdify("mpmath")
    sym = traj.symbols
    rhs = sympy.lambdify(sym.u, traj.ode.rhs.subs({sym.s: 1}), "mpmath")
    with mpmath.workdps(40):
        for t in ("0.3", "2.5"):
            u = f_mp(mpmath.mpf(t), s=1, u0=mpmath.mpf(u0), dps=30)
            t_back = time_by_quadrature_mp(rhs, mpmath.mpf(u0), u, dps=30)
            # a time error δt moves u by f(u) δt
            assert abs(t_back - mpmath.mpf(t)) * abs(rhs(u)) < MP30_ATOL


ALL_RULES = ([GD(), kfac()] + [NGD(q=q) for q in (Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), 1)]
             + [BlockNGD(q=q) for q in (Fraction(1, 4), Fraction(1, 2), Fraction(3, 4))])


@pytest.mark.slow
@pytest.mark.parametrize("L", [1, 2, 3, 6])
@pytest.mark.parametrize("r", ALL_RULES, ids=lambda r: r.name)
def test_mpmath_30_digits_grid(r, L):
    """Every rule, growth and decay: closed form at 30 digits vs 30-digit quadrature of τ/f(u)."""
    traj = derive(r, L)
    f_mp = traj.lambdify("mpmath")
    sym = traj.symbols
    rhs = sympy.lambdify(sym.u, traj.ode.rhs.subs({sym.s: sympy.Rational(3, 2)}), "mpmath")
    with mpmath.workdps(40):
        for u0 in ("0.02", "2.5"):
            u = f_mp(mpmath.mpf("0.7"), s=mpmath.mpf("1.5"), u0=mpmath.mpf(u0), dps=30)
            t_back = time_by_quadrature_mp(rhs, mpmath.mpf(u0), u, dps=30)
            assert abs(t_back - mpmath.mpf("0.7")) * abs(rhs(u)) < MP30_ATOL


@pytest.mark.slow
@pytest.mark.parametrize("r", [GD(), BlockNGD(q=Fraction(1, 2))], ids=lambda r: r.name)
def test_mpmath_unbalanced_two_layer_closed_form(r):
    """Two-layer unbalanced closed t(u) at 30 digits vs mpmath Taylor integration of (a_1, a_2)."""
    traj = derive(r, 2, gains="unbalanced")
    assert traj.form == "implicit"
    sym = traj.symbols
    vel = [sympy.lambdify(sym.gains, v.subs({sym.s: 1, sym.lam: 1}), "mpmath")
           for v in lindyn_layer_velocities(r, sym)]
    f_mp = traj.lambdify("mpmath")
    with mpmath.workdps(40):
        gains = [mpmath.mpf("0.3"), mpmath.mpf("0.7")]
        u_closed = f_mp(mpmath.mpf(1), s=1, gains=gains, dps=30)
        y = integrate_mp(lambda a: [v(*a) for v in vel], gains, [1], dps=30)[0]
        assert abs(u_closed - y[0] * y[1]) < MP30_ATOL


@pytest.mark.slow
def test_mpmath_unbalanced_against_taylor_integration_of_the_gains():
    """Unbalanced L = 3 GD quadrature at 30 digits vs mpmath's Taylor integrator on the 3 gains."""
    traj = derive(GD(), 3, gains="unbalanced")
    gains = ["0.3", "0.5", "0.8"]
    f_mp = traj.lambdify("mpmath")

    def rhs(a):
        u = a[0] * a[1] * a[2]
        return [(1 - u) * u / a[i] for i in range(3)]

    with mpmath.workdps(40):
        u_closed = f_mp(mpmath.mpf(1), s=1, gains=[mpmath.mpf(g) for g in gains], dps=30)
        y = integrate_mp(rhs, gains, [1], dps=30)[0]
        assert abs(u_closed - y[0] * y[1] * y[2]) < MP30_ATOL


@pytest.mark.parametrize("family", [NGD, BlockNGD], ids=["ngd", "block"])
@pytest.mark.parametrize("L", [2, 3])
def test_symbolic_q_unbalanced_matches_rational_q(family, L):
    """One fact two ways: the symbolic-q unbalanced mode at q = 1/2 equals the q = 1/2 derivation."""
    q = sympy.Symbol("q", positive=True)
    gains = [0.3, 0.5, 0.7][:L]
    a = derive(family(q=q), L, gains="unbalanced")
    b = derive(family(q=Fraction(1, 2)), L, gains="unbalanced")
    t = [0.3, 1.0, 4.0]
    assert np.max(np.abs(a.evaluate(t, s=[1.2, 0.1], gains=gains, q=0.5)
                         - b.evaluate(t, s=[1.2, 0.1], gains=gains))) <= 1e-12


def _q_grid():
    """(L, q): q in {1/4, 1/2, 3/4} plus the limits g = 0 (q = 1) and g = 1 (q = (L − 2)/(2L − 2))."""
    out = []
    for L in (2, 3, 5):
        qs = {Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), Fraction(1), Fraction(L - 2, 2 * L - 2)}
        out += [(L, q) for q in sorted(qs)]
    return out


@pytest.mark.parametrize("family", [BlockNGD, NGD], ids=["block", "ngd"])
@pytest.mark.parametrize("L,q", _q_grid(), ids=str)
def test_symbolic_q_matches_rational_q_growth_and_decay(family, L, q):
    """One fact two ways: the ₂F₁ (symbolic q) form at a float q vs the rational-q derivation, close to u*.

    Before the fix, ₂F₁(1, g; 1 + g; z) got separately rounded float parameters (c − a − b ≈ 3e-16) and
    scipy's hyp2f1 was 2.7 % wrong near z = 1 (learning time 1.525 instead of 1.750 at L = 3, q = 1/2);
    at g ∈ {0, 1} the form was singular.
    """
    sym_traj = derive(family(q=sympy.Symbol("q")), L)
    rat = derive(family(q=q), L)
    s, t = 1.3, [0.05, 0.4, 2.0, 9.0]
    for u0, targets in ((0.02, (0.5, 1.2, 1.299)), (2.0, (1.6, 1.31, 1.301))):
        u_sym = sym_traj.evaluate(t, s=s, u0=u0, q=float(q))
        assert np.max(np.abs(u_sym / rat.evaluate(t, s=s, u0=u0) - 1)) <= SYMBOLIC_Q_RTOL
        for u_to in targets:
            want = rat.learning_time(u_to, s=s, u0=u0)
            assert abs(sym_traj.learning_time(u_to, s=s, u0=u0, q=float(q)) - want) <= SYMBOLIC_Q_RTOL * want


def test_user_rule_with_a_symbolic_power():
    """The free parameter is read off the derivation, not the rule's attributes: a user rule works too."""
    q = sympy.Symbol("q")
    mine = rule(lambda grads, geo, ops: BlockNGD(q=q).velocity(grads, geo, ops), name="mine")
    traj, rat = derive(mine, 3), derive(BlockNGD(q=Fraction(1, 2)), 3)
    assert traj.q == q
    t = [0.1, 1.0, 4.0]
    assert np.max(np.abs(traj.evaluate(t, s=1.3, u0=[0.02, 2.0], q=0.5) / rat.evaluate(t, s=1.3, u0=[0.02, 2.0])
                         - 1)) <= SYMBOLIC_Q_RTOL
    assert abs(traj.learning_time(1.301, s=1.3, u0=2.0, q=0.5) / rat.learning_time(1.301, s=1.3, u0=2.0) - 1) \
        <= SYMBOLIC_Q_RTOL
    with pytest.raises(LindynError, match="`q`"):
        traj.evaluate(t, s=1.3, u0=0.02)
