"""Every depth at once (issue 13, part 1): the generic-layer derivation against concrete depths, THEORY's
table, Saxe's deep limit and mpmath quadrature."""
from fractions import Fraction

import mpmath
import pytest
import sympy

from lindyn import GD, NGD, BlockNGD, NoModeDecomposition, derive, derive_any_depth, kfac
from lindyn.depth import learning_time_mp

HALF = Fraction(1, 2)


@pytest.mark.parametrize("rule", [GD(), NGD(), BlockNGD(), NGD(q=HALF), BlockNGD(q=HALF)], ids=lambda r: r.name)
def test_substituting_a_depth_gives_the_concrete_derivation(rule):
    fam = derive_any_depth(rule)
    sym = fam.family.symbols
    for n in (2, 3, 4, 6, 9):
        c = derive(rule, n)
        other = c.ode.rhs.subs({c.symbols.s: sym.s, c.symbols.u: sym.u, c.symbols.lam: 1})
        assert sympy.simplify(fam.at(n) - other) == 0, n


def test_symbolic_power_family_matches_the_table():
    # THEORY §2: full MP power q: c = L^{1−q}, g = (1 − q)(2 − 2/L); block power q: c = L, same g
    q = sympy.Symbol("q", positive=True)
    full, block = derive_any_depth(NGD(q=q)), derive_any_depth(BlockNGD(q=q))
    L = full.L
    g = (1 - q) * (2 - 2 / L)
    assert sympy.simplify(full.c - L ** (1 - q)) == 0 and sympy.simplify(full.g - g) == 0
    assert sympy.simplify(block.c - L) == 0 and sympy.simplify(block.g - g) == 0


def test_gd_deep_limit_is_saxe_eq16():
    fam = derive_any_depth(GD())
    u, s = fam.family.symbols.u, fam.family.symbols.s
    assert sympy.simplify(fam.limit_ode() - u ** 2 * (s - u)) == 0


@pytest.mark.parametrize("n", [4, 30])
def test_hypergeometric_time_against_quadrature(n):
    fam = derive_any_depth(GD())
    sym = fam.family.symbols
    closed = sympy.N(fam.t_of_u.subs({fam.L: n, sym.s: 2, sym.tau: 1, sym.u: 1, sym.u0: sympy.Rational(1, 100)}), 30)
    quad = learning_time_mp(fam.rhs.subs({fam.L: n, sym.s: 2}), sym.u, "0.01", "1")
    with mpmath.workdps(30):
        assert abs(mpmath.mpf(str(closed)) - quad) / quad < mpmath.mpf(10) ** -25


def test_large_depth_expansion_error_falls_with_its_order():
    fam = derive_any_depth(GD())
    sym = fam.family.symbols
    T = fam.time_expansion_value(1.0, 1e-2, 0.5, order=3)
    errs = []
    for n in (200, 2000):
        exact = learning_time_mp(fam.rhs.subs({fam.L: n, sym.s: 1}), sym.u, "0.01", "0.5")
        errs.append(abs(exact - (T[1] / n + T[2] / n ** 2)) / exact)
    assert 50 < errs[0] / errs[1] < 200          # O(1/L²): a factor 100 per decade


def test_small_u0_leading_term():
    fam = derive_any_depth(GD())
    sym = fam.family.symbols
    lead = fam.small_u0().subs({fam.L: 4, sym.s: 1})
    exact = learning_time_mp(fam.rhs.subs({fam.L: 4, sym.s: 1}), sym.u, "1e-8", "0.5")
    assert abs(float(exact) - float(lead.subs(sym.u0, sympy.Rational(1, 10**8)))) / float(exact) < 1e-3


def test_a_rule_that_unbalances_the_layers_has_no_family():
    with pytest.raises(NoModeDecomposition):
        derive_any_depth(kfac(damping=1))


def test_cli_symbolic_depth(capsys):
    import json

    from lindyn.cli import main
    assert main(["trajectory", "--rule", "gd", "--depth", "L", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    L = sympy.Symbol("L", integer=True, positive=True)
    assert sympy.simplify(sympy.sympify(out["c"], locals={"L": L}) - L) == 0
    assert sympy.simplify(sympy.sympify(out["g"], locals={"L": L}) - (2 - 2 / L)) == 0
    assert main(["trajectory", "--rule", "gd", "--depth", "L", "--s", "1"]) == 2
    assert "--s" in capsys.readouterr().err
