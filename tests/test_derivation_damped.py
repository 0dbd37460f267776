"""Damped block rules (K-FAC factors + √γ·I each): where the mode reduces, and where it does not.

Per mode, layer i of a depth-L chain moves as τ ȧ_i = (s − λu) A_i B_i / [(B_i² + δ)(λA_i² + δ)]^q,
δ = √γ, A_i = ∏_{k<i} a_k, B_i = ∏_{k>i} a_k. At equal gains a the layers agree iff the Kronecker
factors (B_i² + δ)(λA_i² + δ) agree for every i:

* L = 2: (a² + δ)(λ + δ) = (1 + δ)(λa² + δ) ⇔ δ(1 − λ)(a² − 1) = 0, i.e. λ = 1 (whitened input).
  Then τ u̇ = 2u(s − u)/[(1 + δ)(u + δ)]^q, and (a_1² + δ)^{1−q} − (a_2² + δ)^{1−q} (q = 1: the ratio
  (a_1² + δ)/(a_2² + δ)) is conserved;
* L = 3: the middle layer's (a² + δ)(λa² + δ) differs from the outer (a⁴ + δ)(λ + δ): no reduction.

Both outcomes are checked against full-matrix integration (DOP853 at MATRIX_RTOL/ATOL): the derived
u(t) to DERIVED_VS_MATRIX_ATOL where it reduces; a balanced start that visibly unbalances (gains
apart by more than UNBALANCES_MIN) where it does not.
"""
from fractions import Fraction

import numpy as np
import pytest
import sympy

from conftest import DERIVED_VS_MATRIX_ATOL, MATRIX_ATOL, MATRIX_RTOL
from lindyn import BlockNGD, Flow, NoModeDecomposition, aligned_problem, bernacchia, derive, integrate, kfac

T = [0.25, 1.0, 3.0]
S = [1.5, 0.6]
GAMMA = sympy.Symbol("gamma", positive=True)
#: A balanced start under a rule that does not keep balance: |a_i − a_j| after t = 3 (measured 0.05
#: at L = 3 and 0.016 at L = 2, λ = 1.3); rounding-level drift would be ~1e-13.
UNBALANCES_MIN = 1e-3

DAMPED = [("kfac-1", kfac(1)), ("kfac-1/4", kfac(Fraction(1, 4))), ("bernacchia-1", bernacchia(1)),
          ("block-1/2-1", BlockNGD(q=Fraction(1, 2), damping=1))]


def _numeric(rule, depth, **init):
    prob = aligned_problem(s=init.pop("s", S), depth=depth, **init)
    return integrate(prob, rule, T, method=Flow(rtol=MATRIX_RTOL, atol=MATRIX_ATOL))


@pytest.mark.parametrize("balanced", [True, False], ids=["balanced", "unbalanced"])
@pytest.mark.parametrize("name,rule", DAMPED, ids=[n for n, _ in DAMPED])
def test_two_layer_damped_rules_match_full_matrix(name, rule, balanced):
    kw = {"u0": [0.05, 1.2]} if balanced else {"gains": [0.35, 0.47]}
    traj = derive(rule, 2, gains="balanced" if balanced else "unbalanced")
    num = _numeric(rule, 2, **kw)
    assert np.max(np.abs(traj.evaluate(T, s=S, **kw) - np.asarray(num.u))) <= DERIVED_VS_MATRIX_ATOL


def test_two_layer_kfac_ode_and_conserved_quantity_are_derived():
    """τ u̇ = 2u(s − u)/[(1 + δ)(u + δ)], δ = √γ; (a_1² + δ)/(a_2² + δ) conserved; t(u) closed."""
    traj = derive(kfac(GAMMA), 2)
    sym = traj.symbols
    u, s, d = sym.u, sym.s, sympy.sqrt(GAMMA)
    assert sympy.simplify(traj.ode.rhs - 2 * u * (s - u) / ((1 + d) * (u + d))) == 0
    a1, a2 = sym.gains
    assert sympy.simplify(traj.conserved[0] - (a1 ** 2 + d) / (a2 ** 2 + d)) == 0
    assert traj.form == "implicit" and not traj.t_of_u.has(sympy.Integral)
    # the closed t(u) differentiates back to τ/f(u)
    point = {u: sympy.Rational(3, 10), sym.u0: sympy.Rational(1, 100), s: sympy.Rational(3, 2),
             sym.tau: sympy.Rational(7, 5), GAMMA: sympy.Rational(1, 3)}
    assert abs(sympy.N((sympy.diff(traj.t_of_u, u) - sym.tau / traj.ode.rhs).subs(point), 40)) < 1e-35


@pytest.mark.parametrize("balanced", [True, False], ids=["balanced", "unbalanced"])
def test_symbolic_damping_is_bound_by_name_and_matches_full_matrix(balanced):
    kw = {"u0": [0.05, 1.2]} if balanced else {"gains": [0.35, 0.47]}
    traj = derive(kfac(GAMMA), 2, gains="balanced" if balanced else "unbalanced")
    assert traj.parameters == (GAMMA,)
    got = traj.evaluate(T, s=S, gamma=0.25, **kw)
    num = _numeric(kfac(Fraction(1, 4)), 2, **kw)
    assert np.max(np.abs(got - np.asarray(num.u))) <= DERIVED_VS_MATRIX_ATOL
    one = {k: (v[0] if k == "u0" else v) for k, v in kw.items()}
    t_star = traj.learning_time(1.0, s=1.5, gamma=0.25, **one)
    assert abs(float(integrate(aligned_problem(s=[1.5], depth=2, **one), kfac(Fraction(1, 4)), [t_star],
                               method=Flow(rtol=MATRIX_RTOL, atol=MATRIX_ATOL)).u[0][0]) - 1.0) \
        <= DERIVED_VS_MATRIX_ATOL
    f = traj.lambdify("mpmath")
    assert abs(float(f(1.0, s=1.5, gamma="0.25", **one)) - float(traj.evaluate(1.0, s=1.5, gamma=0.25, **one))) \
        <= DERIVED_VS_MATRIX_ATOL


@pytest.mark.parametrize("gains", ["balanced", "unbalanced"])
def test_three_layer_damped_kfac_does_not_reduce(gains):
    with pytest.raises(NoModeDecomposition) as info:
        derive(kfac(1), 3, gains=gains)
    text = str(info.value)
    assert "lindyn.integrate" in text and "gains='unbalanced'" not in text and "lam=" not in text
    # full-matrix route: a balanced start does not stay balanced (the middle layer moves differently)
    a = np.asarray(_numeric(kfac(1), 3, s=[1.5], u0=[0.05]).gains)[0]    # (L, T)
    assert np.max(np.abs(a[1] - a[0])) > UNBALANCES_MIN
    assert np.max(np.abs(a[2] - a[0])) <= 1e-10          # the outer layers mirror each other


def test_two_layer_damped_kfac_needs_white_input_and_says_so():
    with pytest.raises(NoModeDecomposition, match="lam=1") as info:
        derive(kfac(1), 2, lam="symbolic")
    assert "gains='unbalanced'" not in str(info.value)
    with pytest.raises(NoModeDecomposition, match="lam=1"):
        derive(kfac(1), 2, gains="unbalanced", lam=Fraction(13, 10))
    assert derive(kfac(1), 2, lam=1).form == "implicit"          # the suggested option works
    a = np.asarray(_numeric(kfac(1), 2, s=[1.5], u0=[0.05], lam=[1.3]).gains)[0]
    assert np.max(np.abs(a[1] - a[0])) > UNBALANCES_MIN


def test_unbalanced_failure_points_to_the_balanced_mode_only_when_it_works():
    """Symmetric at equal gains but not separable: the unbalanced message offers gains='balanced',
    which derives; a rule that fails both ways offers neither."""
    from lindyn import rule

    def crossed(grads, geo, ops):    # τ ȧ_1 ∝ a_2(a_1 + 2a_2), τ ȧ_2 ∝ a_1(a_2 + 2a_1): no h·k(a_i)
        return tuple(-(g @ (geo.W[i] + geo.W[1 - i] * ops.scalar(2))) for i, g in enumerate(grads))

    r = rule(crossed, name="crossed")
    with pytest.raises(NoModeDecomposition, match="gains='balanced' derives") as info:
        derive(r, 2, gains="unbalanced")
    assert "gains='unbalanced'" not in str(info.value)
    assert derive(r, 2).form in ("implicit", "quadrature")

    def tilted(grads, geo, ops):     # layer-dependent rates: equal gains move apart
        return tuple(-g * ops.scalar(i + 1) for i, g in enumerate(grads))

    with pytest.raises(NoModeDecomposition) as info:
        derive(rule(tilted, name="tilted"), 2, gains="unbalanced")
    assert "gains=" not in str(info.value) and "lindyn.integrate" in str(info.value)
