"""Issue 15, Build item 2: evaluation on any grid, all modes in one vectorised pass.

What is checked (each against an independent route or an invariant, never against itself):
* accuracy of u(t) against lindyn's mpmath route (`evaluate(..., dps=30)`: the derived t(u) solved by
  bracketed Newton at 30 digits, at the exact binary t) at every depth 2..50, on both branches
  (growth and decay) and for exponents g < 1, g = 1, g > 1: <= 1e-14 relative (the issue's row 5);
* the explicit (Möbius) forms against the same route, including the cancelling end near t = 0;
* unbalanced quadrature modes against an oracle written here from THEORY.md (GD conserves
  a_i² − a_j², so t(a_1) = τ ∫ da/ȧ with ȧ_1 = (u/a_1)(s − u), u = a_1 ∏ √(a_1² + c_j)), by tanh-sinh
  quadrature at 30 digits: <= 1e-14 (row 6);
* an unsorted grid gives the sorted grid's values bit for bit (packed-key sort, `np.argsort`, and
  duplicate times);
* all modes in one call give the per-mode calls' values bit for bit (growth, decay, the fixed
  point and several exponents in one call);
* the κ bound that lets `evaluate` skip the per-value condition number is an upper bound of the
  κ that `condition` computes;
* a flow table rebuilt lower (a mode starting closer to 0) gives bit-identical values elsewhere.
"""
import warnings
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from lindyn import GD, NGD, BlockNGD, IllConditioned, derive
from lindyn.numeric.stable import LONG_IS_EXTENDED

WELL_RTOL = 1e-14


def _t_half(traj, s, u0):
    """A time in the middle of the mode's transition (half-way to s, from below or above)."""
    return traj.learning_time(0.5 * s if u0 < s else s + 0.5 * (u0 - s), s=s, u0=u0)


def _rel(u, ref):
    return float(np.max(np.abs(np.asarray(u) / np.asarray(ref) - 1)))


def _excess_error(traj, t, s, u0):
    """max over t of |δu/u| / (WELL_RTOL + 64 ε_long κ): <= 1 passes. κ = |t u̇/u| (`condition`):
    the per-mode start Γ and rate κ are long double, so a time error of a few ε_long relative to t̃ is
    left, which an ill-conditioned value (κ ~ 1e4: s = 3, u0 = 1e-6, L = 7) shows as κ·ε_long; a
    double-precision evaluation cannot do better than κ·2.2e-16 there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IllConditioned)      # κ up to 1e8 is part of the point
        u = traj.evaluate(t, s=s, u0=u0)
    ref = traj.evaluate(t, s=s, u0=u0, dps=30)
    kappa = traj.condition(t, s=s, u0=u0)
    eps_long = float(np.finfo(np.longdouble).eps) if LONG_IS_EXTENDED else 2.2e-16
    return float(np.max(np.abs(u / ref - 1) / (WELL_RTOL + 64 * eps_long * kappa)))


# ------------------------------------------------------------------ accuracy (power-law forms)

@pytest.mark.parametrize("L", [2, 3, 4, 5, 7, 8, 10, 15, 20, 30, 40, 50])
def test_gd_accuracy_at_every_depth_against_mpmath(L):
    traj = derive(GD(), L)
    th = _t_half(traj, 1.0, 1e-3)                                     # the setting: κ <= 201
    t = th * np.array([0.05, 0.5, 0.9, 1.0, 1.1, 1.5, 3.0])
    assert _rel(traj.evaluate(t, s=1.0, u0=1e-3), traj.evaluate(t, s=1.0, u0=1e-3, dps=30)) <= WELL_RTOL
    worst = 0.0
    for s, u0 in ((3.0, 1e-6), (1.0, 2.5), (1e-3, 1e-12)):           # small start, decay, small s
        th = _t_half(traj, s, u0)
        worst = max(worst, _excess_error(traj, th * np.array([0.05, 0.5, 0.9, 1.0, 1.1, 1.5, 3.0]), s, u0))
    assert worst <= 1.0, worst


@pytest.mark.parametrize("rule,L", [(NGD(q=Fraction(1, 2)), 3), (BlockNGD(q=Fraction(3, 4)), 4),
                                    (NGD(q=Fraction(1, 4)), 4), (NGD(q=Fraction(1, 4)), 8)],
                         ids=["ngd1/2-L3-g2/3", "block3/4-L4-g3/8", "ngd1/4-L4-g9/8", "ngd1/4-L8-g21/16"])
def test_fractional_rules_accuracy_both_branches(rule, L):
    traj = derive(rule, L)
    assert traj.form == "implicit"
    worst = 0.0
    for s, u0 in ((1.0, 1e-4), (2.0, 7.0)):
        th = _t_half(traj, s, u0)
        worst = max(worst, _excess_error(traj, th * np.array([1e-3, 0.3, 1.0, 2.0, 6.0]), s, u0))
    assert worst <= 1.0, worst


@pytest.mark.parametrize("rule,L", [(GD(), 2), (NGD(), 3), (BlockNGD(q=Fraction(1, 2)), 2)],
                         ids=["logistic", "exponential", "k=2"])
def test_explicit_forms_against_mpmath(rule, L):
    traj = derive(rule, L)
    assert traj.form == "explicit"
    worst = 0.0
    for s, u0 in ((1.0, 1e-3), (2.0, 1e-9), (1.0, 3.0)):
        th = _t_half(traj, s, u0)
        # 1e-9·t_half: E = e^{−rate·t} within 1e-9 of 1, where c0 + c1 E cancels (the expm1 branch)
        t = th * np.array([1e-9, 1e-3, 0.4, 1.0, 2.5, 10.0])
        worst = max(worst, _rel(traj.evaluate(t, s=s, u0=u0), traj.evaluate(t, s=s, u0=u0, dps=30)))
    assert worst <= 2 * WELL_RTOL, worst       # rate·t in double: κ·2.2e-16 with κ <= |ln w0|/2 + 1 <= 11


# ------------------------------------------------------------------ quadrature forms (oracle)

def _gd_unbalanced_error(gains, s, t, u):
    """The relative error of a computed u(t) for unbalanced GD, τ = λ = 1 (see the module docstring):
    |t_oracle(u) − t| · |d ln u/dt|, or, within 1e-12 of s (where a double u no longer resolves the
    gap s − u), |u − u_true|/u_true with u_true from t_oracle(s(1 ∓ δ)) = t solved for δ."""
    with mpmath.workdps(30):
        a = [mpmath.mpf(g) for g in gains]
        r = min(range(len(a)), key=lambda i: a[i])
        c = [a[j] ** 2 - a[r] ** 2 for j in range(len(a)) if j != r]
        sm, um, tm = mpmath.mpf(s), mpmath.mpf(u), mpmath.mpf(t)
        below = u_of(a[r], c) < sm

        def x_at(uu):
            return mpmath.findroot(lambda x: u_of(x, c) - uu, a[r] * (uu / u_of(a[r], c)) ** (mpmath.mpf(1) / len(a)))

        def t_at(uu):                                   # t = ∫ dx x/(u (s − u)) from a_r(0)
            return mpmath.quad(lambda x: x / (u_of(x, c) * (sm - u_of(x, c))), [a[r], x_at(uu)])

        if abs(um / sm - 1) < 1e-12:
            lo, hi = mpmath.log(mpmath.mpf("1e-40")), mpmath.log(mpmath.mpf("1e-11"))
            for _ in range(60):                         # bisection on ln δ: t decreases with δ
                mid = (lo + hi) / 2
                gap = mpmath.exp(mid)
                if t_at(sm * (1 - gap) if below else sm * (1 + gap)) > tm:
                    lo = mid
                else:
                    hi = mid
            gap = mpmath.exp((lo + hi) / 2)
            true = sm * (1 - gap) if below else sm * (1 + gap)
            return float(abs(um / true - 1))
        x = x_at(um)
        gains_at = [x] + [mpmath.sqrt(x ** 2 + cj) for cj in c]
        rate = abs((sm - um) * sum(um / g ** 2 for g in gains_at))      # d ln u/dt = (s − u) Σ u/a_i²
        return float(abs(t_at(um) - tm) * rate)


def u_of(x, c):
    """u = a_1 ∏_j √(a_1² + c_j) on the conserved curves of GD."""
    return x * mpmath.fprod(mpmath.sqrt(x ** 2 + cj) for cj in c)


@pytest.mark.parametrize("gains", [(0.1, 0.2, 0.3), (2.0, 1.5, 2.0), (0.05, 0.1, 0.2, 0.15), (0.01, 0.1, 1.0)],
                         ids=["L3-growth", "L3-decay", "L4-growth", "L3-spread"])
def test_quadrature_forms_against_oracle(gains):
    traj = derive(GD(), len(gains), gains="unbalanced")
    assert traj.form == "quadrature"
    u0 = float(np.prod(gains))
    th = traj.learning_time(0.5 if u0 < 1 else 1 + 0.5 * (u0 - 1), s=1.0, gains=gains)
    t = th * np.array([0.1, 0.7, 1.0, 1.3, 2.5, 4.0])
    u = traj.evaluate(t, s=1.0, gains=gains)
    worst = max(_gd_unbalanced_error(gains, 1.0, ti, ui) for ti, ui in zip(t, u))
    assert worst <= WELL_RTOL, worst


# ------------------------------------------------------------------ any grid, any order

@pytest.mark.parametrize("n", [300, 50_000], ids=["argsort", "packed-sort"])
@pytest.mark.parametrize("rule,L", [(GD(), 3), (GD(), 2), (GD(), 4)], ids=["flow", "mobius", "flow-L4"])
def test_unsorted_grid_equals_sorted_bit_for_bit(n, rule, L):
    traj = derive(rule, L)
    rng = np.random.default_rng(0)
    t = np.sort(np.concatenate([[0.0], rng.uniform(0, 40, n - 1)]))
    perm = rng.permutation(n)
    s, u0 = np.array([1.0, 2.0, 0.7]), np.array([1e-3, 5.0, 0.7])      # growth, decay, at rest
    sorted_u = traj.evaluate(t, s=s, u0=u0)
    shuffled = traj.evaluate(t[perm], s=s, u0=u0)
    assert np.array_equal(shuffled, sorted_u[:, perm])
    assert np.all(sorted_u[2] == 0.7) and np.all(sorted_u[:, 0] == u0)  # fixed point; exact at t = 0


def test_duplicate_times_take_the_exact_order():
    """Equal times collide in the packed keys: the grid goes to np.argsort, same values."""
    traj = derive(GD(), 3)
    rng = np.random.default_rng(1)
    t = np.repeat(rng.uniform(0, 30, 20_000), 2)
    perm = rng.permutation(t.size)
    u = traj.evaluate(t, s=1.0, u0=1e-3)
    assert np.array_equal(traj.evaluate(t[perm], s=1.0, u0=1e-3), u[perm])
    assert np.array_equal(u[0::2], u[1::2])


# ------------------------------------------------------------------ all modes in one pass

@pytest.mark.parametrize("rule,L", [(GD(), 3), (GD(), 2), (NGD(q=Fraction(1, 2)), 3), (GD(), 20)],
                         ids=["gd3", "gd2-mobius", "ngd1/2", "gd20"])
def test_vectorised_equals_per_mode_bit_for_bit(rule, L):
    traj = derive(rule, L)
    rng = np.random.default_rng(2)
    s = np.concatenate([rng.uniform(0.5, 3.0, 20), [1.0, 1.0, 2.0]])
    u0 = np.concatenate([10 ** rng.uniform(-8, -1, 20), [3.0, 1.0, 1e-12]])   # decay, fixed point, tiny
    t = np.concatenate([[0.0], np.geomspace(1e-3, 1e3, 150)])
    together = traj.evaluate(t, s=s, u0=u0)
    each = np.stack([traj.evaluate(t, s=si, u0=ui) for si, ui in zip(s, u0)])
    assert together.shape == (s.size, t.size)
    assert np.array_equal(together, each)


# ------------------------------------------------------------------ the κ bound, the table

@pytest.mark.parametrize("rule,L,s,u0", [(GD(), 3, 1.0, 1e-3), (GD(), 10, 2.0, 1e-6), (GD(), 3, 1.0, 4.0),
                                         (NGD(q=Fraction(1, 2)), 3, 1.0, 1e-5), (GD(), 2, 1.0, 1e-9)],
                         ids=["gd3", "gd10", "gd3-decay", "ngd1/2", "logistic"])
def test_kappa_bound_is_an_upper_bound(rule, L, s, u0):
    """`evaluate` skips the per-value κ where the bound says no value exceeds CONDITION_WARN: the
    bound must exceed the κ = |t u̇/u| that `condition` computes anywhere on the path."""
    import sympy
    from lindyn.numeric.stable import LONG, power_flow
    traj = derive(rule, L)
    th = _t_half(traj, s, u0)
    t = th * np.linspace(0, 8, 4001)
    kappa = traj.condition(t, s=s, u0=u0)
    w0 = LONG(u0) / LONG(s)
    flow = power_flow(LONG(str(sympy.N(traj.g, 30))), bool(w0 < 1))
    gamma = flow.time(w0, abs(1 - w0)).astype(float)          # the mode's start on the universal orbit
    bound = flow.kappa_bound(gamma)[0]
    assert bound >= kappa.max() > 0
    assert bound <= 10 * kappa.max() + 10                      # and not vacuous


def test_table_rebuilt_lower_gives_identical_values():
    rule = NGD(q=Fraction(2, 7))                                # an exponent no other test uses
    traj = derive(rule, 6)
    t = np.linspace(0, 50, 301)
    first = traj.evaluate(t, s=1.0, u0=1e-2)
    traj.evaluate(t, s=1.0, u0=1e-200)                          # needs the table down to η ≈ −460
    assert np.array_equal(traj.evaluate(t, s=1.0, u0=1e-2), first)


def test_monotone_and_finite_on_extreme_grids():
    traj = derive(GD(), 5)
    t = np.concatenate([[0.0, 5e-324], np.geomspace(1e-300, 1e300, 2000)])
    u = traj.evaluate(t, s=[1.0, 1e-6, 1e6], u0=[1e-3, 2e-6, 1e5])
    assert np.all(np.isfinite(u))
    assert np.all(np.diff(u[0]) >= 0) and np.all(np.diff(u[1]) <= 0) and np.all(np.diff(u[2]) >= 0)
    assert u[0, -1] == 1.0 and u[1, -1] == 1e-6 and u[2, -1] == 1e6
