"""Every learning rule, a user rule included, runs through every route without branching on its type.

Numeric half (foundation): each rule goes through `integrate` with `Flow` (both Fisher routes),
`Discrete` and `HighPrecision`, and returns a well-formed, finite `NumericTrajectory` whose loss
decreases. The symbolic half (derive, verify) is added by the symbolic engine below.
"""
from fractions import Fraction

import numpy as np
import pytest
from conftest import LEAKAGE_TOL, SAXE_TOL

from lindyn import (GD, NGD, BlockNGD, Discrete, Flow, HighPrecision, NumericTrajectory, aligned_problem, bernacchia,
                    integrate, kfac, rule)

HALF = Fraction(1, 2)
half_gd = rule(lambda grads, geo, ops: tuple(-g * ops.scalar(HALF) for g in grads), name="half-gd")

RULES = [GD(), NGD(), NGD(q=HALF), BlockNGD(), BlockNGD(q=HALF), BlockNGD(damping=Fraction(1, 100)), kfac(),
         bernacchia(), half_gd]
IDS = [r.name for r in RULES]


@pytest.mark.parametrize("method", [Flow(), Flow(fisher_route="explicit"), Discrete(lr=0.01)],
                         ids=["flow", "flow-explicit", "discrete"])
@pytest.mark.parametrize("rule_", RULES, ids=IDS)
def test_every_rule_integrates(rule_, method):
    p = aligned_problem(s=[2.0, 1.0], depth=3, u0=0.1, width=3)
    traj = integrate(p, rule_, [0.0, 0.5, 1.0], method=method)
    assert isinstance(traj, NumericTrajectory) and traj.rule is rule_ and traj.method is method
    assert np.all(np.isfinite(traj.W_end)) and np.all(np.diff(traj.loss) < 0)
    assert traj.leakage.max() <= LEAKAGE_TOL
    assert traj.gains is not None and traj.u.shape == (2, 3)


def test_user_rule_is_gd_on_half_the_clock():
    p = aligned_problem(s=[2.0], depth=2, u0=0.01)
    a = integrate(p, half_gd, [1.0, 2.0, 4.0])
    b = integrate(p, GD(), [0.5, 1.0, 2.0])
    assert np.max(np.abs(a.u - b.u)) <= SAXE_TOL
    assert "C_1" in a.conserved          # a multiple of GD conserves the balance too


@pytest.mark.slow
@pytest.mark.parametrize("rule_", RULES, ids=IDS)
def test_every_rule_high_precision(rule_):
    p = aligned_problem(s=[2.0], depth=2, u0=0.1)
    hp = integrate(p, rule_, [0.0, 0.5], method=HighPrecision(dps=20))
    fl = integrate(p, rule_, [0.0, 0.5])
    assert abs(float(hp.u[0, -1]) - fl.u[0, -1]) <= SAXE_TOL
