"""Conserved quantities: derived from the rule (ratio of layer velocities), matched to THEORY §2,
exactly conserved by the derived per-layer velocities, and held along full-matrix integrations."""
from fractions import Fraction

import numpy as np
import pytest
import sympy

import lindyn
from lindyn import GD, NGD, BlockNGD, bernacchia, conserved_quantities, kfac
from lindyn.symbolic.modes import layer_velocities, mode_symbols
from oracles import table_conserved_power

Q = sympy.Symbol("q", positive=True)
CASES = ([("gd", GD(), 1), ("bernacchia", bernacchia(), 1), ("kfac", kfac(), 1)]
         + [("ngd", NGD(q=q), q) for q in (Fraction(1, 4), Fraction(1, 2), 1, Q)]
         + [("block", BlockNGD(q=q), q) for q in (Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), 1, Q)])


@pytest.mark.parametrize("L", [2, 3, 6])
@pytest.mark.parametrize("name,r,q", CASES, ids=[f"{n}-{q}" for n, _, q in CASES])
def test_conserved_quantities_match_the_table(name, r, q, L):
    a = mode_symbols(L).gains
    n = table_conserved_power(name, q)
    want = [a[i] / a[i + 1] if n == 0 else a[i] ** n - a[i + 1] ** n for i in range(L - 1)]
    got = conserved_quantities(r, L)
    assert len(got) == L - 1
    assert all(sympy.simplify(g - w) == 0 for g, w in zip(got, want)), got


@pytest.mark.parametrize("L", [2, 4])
@pytest.mark.parametrize("name,r,q", CASES, ids=[f"{n}-{q}" for n, _, q in CASES])
def test_derived_quantities_have_zero_time_derivative(name, r, q, L):
    sym = mode_symbols(L)
    vel = layer_velocities(r, sym)
    for C in conserved_quantities(r, L):
        dC = sum(sympy.diff(C, a) * v for a, v in zip(sym.gains, vel))
        point = {a: sympy.Rational(2 + i, 5 + 2 * i) for i, a in enumerate(sym.gains)}
        point.update({sym.s: sympy.Rational(3, 2), sym.lam: sympy.Rational(4, 3), Q: sympy.Rational(1, 3)})
        assert abs(sympy.N(dC.subs(point), 40)) < 1e-35


@pytest.mark.parametrize("name,r", [("gd", GD()), ("ngd", NGD(q=Fraction(1, 2))), ("block", BlockNGD(q=Fraction(1, 2))),
                                    ("bernacchia", bernacchia())])
def test_conserved_along_full_matrix_integration(name, r):
    L = 3
    gains = [0.3, 0.5, 0.8]
    prob = lindyn.aligned_problem(s=[1.5], depth=L, gains=gains)
    num = lindyn.integrate(prob, r, [0.5, 2.0, 6.0], method=lindyn.Flow(rtol=1e-12, atol=1e-14))
    a = mode_symbols(L).gains
    fns = [sympy.lambdify(a, C) for C in conserved_quantities(r, L)]
    g = np.asarray(num.gains)[0]                     # (L, T)
    for f in fns:
        start = f(*gains)
        assert np.max(np.abs(np.array([f(*g[:, k]) for k in range(g.shape[1])]) - start)) < 1e-10
