"""Route 1 vs route 2: every derived mode trajectory against full-matrix integration.

The derived u(t) (closed form, stably evaluated) must match `lindyn.integrate` on an aligned
network (random hidden bases, two modes, whitened or not) for every rule, depth 1-6 and
q in {1/4, 1/2, 3/4, 1}, balanced and unbalanced, to DERIVED_VS_MATRIX_ATOL. The integrator runs
at MATRIX_RTOL/MATRIX_ATOL, a hundred times tighter than the acceptance.
"""
from fractions import Fraction

import numpy as np
import pytest

from conftest import DERIVED_VS_MATRIX_ATOL, MATRIX_ATOL, MATRIX_RTOL

import lindyn
from lindyn import GD, NGD, BlockNGD, Flow, aligned_problem, bernacchia, derive, integrate, kfac

QS = [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), 1]
RULES = ([("gd", GD())] + [(f"ngd-{q}", NGD(q=q)) for q in QS] + [(f"block-{q}", BlockNGD(q=q)) for q in QS]
         + [("kfac", kfac()), ("bernacchia", bernacchia())])
T = [0.25, 1.0, 3.0]
S = [1.5, 0.6]


def _case(name, rule, depth, balanced, white):
    lam = [1.0, 1.0] if white else [1.3, 0.7]
    if balanced:
        u0 = [0.05, 1.2]                       # one mode grows, one decays from above (u0 > s/λ)
        prob = aligned_problem(s=S, depth=depth, u0=u0, lam=lam)
        kw = {"u0": u0}
    else:
        gains = [0.35 + 0.12 * i for i in range(depth)]
        prob = aligned_problem(s=S, depth=depth, gains=gains, lam=lam)
        kw = {"gains": gains}
    num = integrate(prob, rule, T, method=Flow(rtol=MATRIX_RTOL, atol=MATRIX_ATOL))
    traj = derive(rule, depth, gains="balanced" if balanced else "unbalanced",
                  lam=1 if white else lindyn.trajectory.mode_symbols(depth).lam)
    if not white:
        kw["lam"] = lam
    return traj.evaluate(T, s=S, **kw), np.asarray(num.u)


@pytest.mark.parametrize("white", [True, False], ids=["white", "lam"])
@pytest.mark.parametrize("balanced", [True, False], ids=["balanced", "unbalanced"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("name,rule", RULES, ids=[n for n, _ in RULES])
def test_derived_matches_full_matrix(name, rule, depth, balanced, white):
    derived, numeric = _case(name, rule, depth, balanced, white)
    assert np.max(np.abs(derived - numeric)) <= DERIVED_VS_MATRIX_ATOL


CUBE = lindyn.rule(lambda grads, geo, ops: tuple(-(g @ g.T @ g) for g in grads), name="cube")


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_user_rule_quadrature_matches_full_matrix(depth):
    """A user rule whose mode ODE is not c u^g (s − λu): the exact quadrature form still agrees."""
    traj = derive(CUBE, depth)
    assert traj.form == "quadrature"
    num = integrate(aligned_problem(s=S, depth=depth, u0=[0.3, 0.9]), CUBE, T,
                    method=Flow(rtol=MATRIX_RTOL, atol=MATRIX_ATOL))
    assert np.max(np.abs(traj.evaluate(T, s=S, u0=[0.3, 0.9]) - np.asarray(num.u))) <= DERIVED_VS_MATRIX_ATOL


@pytest.mark.parametrize("r,depth,gains", [(GD(), 2, "unbalanced"), (GD(), 4, "unbalanced"), (GD(), 3, "balanced"),
                                          (CUBE, 2, "balanced")], ids=["gd2u", "gd4u", "gd3", "cube2"])
def test_learning_time_is_the_time_the_integrator_needs(r, depth, gains):
    kw = {"gains": [0.3, 0.5, 0.8, 0.6][:depth]} if gains == "unbalanced" else {"u0": 0.05}
    traj = derive(r, depth, gains=gains)
    t_star = traj.learning_time(1.0, s=1.5, **kw)
    prob = aligned_problem(s=[1.5], depth=depth, **kw)
    num = integrate(prob, r, [t_star], method=Flow(rtol=MATRIX_RTOL, atol=MATRIX_ATOL))
    assert abs(float(np.asarray(num.u)[0, 0]) - 1.0) <= DERIVED_VS_MATRIX_ATOL
