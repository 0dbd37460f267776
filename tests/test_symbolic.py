"""The symbolic engine: mode ODEs, forms and solutions derived from the rule definitions.

Exact checks are `simplify(derived − oracle) == 0` (sympy test_lagrange.py style); the closed
forms are checked one fact two ways: d t(u)/du must equal τ/f(u) of the derived ODE.
"""
from fractions import Fraction

import pytest
import sympy

from lindyn import GD, NGD, BlockNGD, LindynError, NoModeDecomposition, bernacchia, derive, kfac, rule
from lindyn.symbolic.modes import mode_symbols
from oracles import table_c_g

Q = sympy.Symbol("q", positive=True)
QS = [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), 1]


def _rules(q):
    return [("ngd", NGD(q=q)), ("block", BlockNGD(q=q))]


@pytest.mark.parametrize("L", range(1, 11))
def test_gd_and_per_layer_rules_match_table(L):
    for name, r in [("gd", GD()), ("bernacchia", bernacchia()), ("kfac", kfac())]:
        traj = derive(r, L)
        c, g = table_c_g(name, L)
        assert sympy.simplify(traj.c - c) == 0 and sympy.simplify(traj.g - g) == 0, name


@pytest.mark.parametrize("q", QS + [Q], ids=str)
@pytest.mark.parametrize("L", [1, 2, 3, 5, 10])
def test_power_q_rules_match_table(L, q):
    for name, r in _rules(q):
        traj = derive(r, L)
        c, g = table_c_g(name, L, q)
        assert sympy.simplify(traj.c - c) == 0 and sympy.simplify(traj.g - g) == 0, (name, traj.c, traj.g)


def test_non_white_input_enters_as_s_minus_lambda_u():
    lam = sympy.Symbol("lambda", positive=True)
    sym = mode_symbols(3)
    gd = derive(GD(), 3, lam=lam)
    assert sympy.simplify(gd.ode.rhs - 3 * sym.u ** sympy.Rational(4, 3) * (sym.s - lam * sym.u)) == 0
    ngd = derive(NGD(), 3, lam=lam)           # NGD is invariant to input scaling: u̇ = s/λ − u
    assert sympy.simplify(ngd.ode.rhs - (sym.s / lam - sym.u)) == 0


@pytest.mark.parametrize("L", range(2, 11))
@pytest.mark.parametrize("r", [GD(), NGD(), BlockNGD(), kfac(), bernacchia(), NGD(q=Fraction(1, 2)),
                               BlockNGD(q=Fraction(1, 2)), NGD(q=Q), BlockNGD(q=Q)], ids=lambda r: r.name)
def test_every_builtin_rule_gets_a_closed_or_implicit_form(r, L):
    traj = derive(r, L)
    assert traj.form in ("explicit", "implicit")
    assert traj.t_of_u is not None and not traj.t_of_u.has(sympy.Integral)


@pytest.mark.parametrize("r,L", [(GD(), 3), (GD(), 4), (GD(), 7), (NGD(q=Fraction(1, 2)), 3),
                                 (BlockNGD(q=Fraction(1, 4)), 5), (NGD(q=Fraction(3, 4)), 7)],
                         ids=lambda x: getattr(x, "name", str(x)))
def test_implicit_time_differentiates_back_to_the_ode(r, L):
    traj = derive(r, L)
    sym = traj.symbols
    dt_du = sympy.diff(traj.t_of_u, sym.u)
    point = {sym.u: sympy.Rational(3, 10), sym.u0: sympy.Rational(1, 100), sym.s: sympy.Rational(3, 2),
             sym.tau: sympy.Rational(7, 5)}
    lhs = dt_du.subs(point)
    rhs = (sym.tau / traj.ode.rhs).subs(point)
    assert abs(sympy.N(lhs - rhs, 40)) < 1e-35
    assert traj.t_of_u.subs(sym.u, sym.u0) == 0 or sympy.simplify(traj.t_of_u.subs(sym.u, sym.u0)) == 0


@pytest.mark.parametrize("r,L", [(GD(), 1), (GD(), 2), (NGD(), 3), (kfac(), 4), (bernacchia(), 6),
                                 (BlockNGD(q=Fraction(1, 2)), 2)], ids=lambda x: getattr(x, "name", str(x)))
def test_explicit_solutions_solve_the_ode_exactly(r, L):
    traj = derive(r, L)
    assert traj.form == "explicit"
    sym = traj.symbols
    residual = sym.tau * sympy.diff(traj.u, sym.t) - traj.ode.rhs.subs(sym.u, traj.u)
    assert _is_zero(residual, sym)
    assert _is_zero(traj.u.subs(sym.t, 0) - sym.u0, sym)


def _is_zero(expr, sym):
    """Exact when sympy can simplify it; otherwise (√u² = |u| branches) 50-digit values at 3 points."""
    if sympy.simplify(expr) == 0:
        return True
    points = [(sympy.Rational(7, 10), sympy.Rational(13, 10), 2, sympy.Rational(1, 10)),
              (sympy.Rational(3, 1), 1, sympy.Rational(1, 2), sympy.Rational(1, 1000)),
              (sympy.Rational(1, 5), 2, 5, 7)]
    return all(abs(sympy.N(expr.subs({sym.t: a, sym.tau: b, sym.s: c, sym.u0: d}), 50)) < 1e-40
               for a, b, c, d in points)


def test_gd_two_layer_is_saxe_logistic_exactly():
    traj = derive(GD(), 2)
    sym = traj.symbols
    saxe = sym.s / (1 + (sym.s / sym.u0 - 1) * sympy.exp(-2 * sym.s * sym.t / sym.tau))  # Saxe Eq. 12
    assert sympy.simplify(traj.u - saxe) == 0


def test_symbolic_q_gives_the_hypergeometric_form():
    traj = derive(BlockNGD(q=Q), 4)
    assert traj.form == "implicit" and traj.t_of_u.has(sympy.hyper)


def test_unbalanced_two_layer_gd_is_closed_and_deeper_is_quadrature():
    two = derive(GD(), 2, gains="unbalanced")
    assert two.form == "implicit" and not two.t_of_u.has(sympy.Integral)
    three = derive(GD(), 3, gains="unbalanced")
    assert three.form == "quadrature" and three.t_of_u.has(sympy.Integral)


def test_unbalanced_ngd_keeps_the_balanced_exponential():
    traj = derive(NGD(), 4, gains="unbalanced")
    assert traj.form == "explicit"


def test_user_rule_that_cannot_reduce_raises_no_mode_decomposition():
    def mixing(grads, geo, ops):          # couples layer 1 to layer 2's gradient only at depth >= 2
        return tuple(-grads[(i + 1) % len(grads)] * ops.scalar(i + 1) for i in range(len(grads)))

    with pytest.raises(NoModeDecomposition, match="integrate"):
        derive(rule(mixing, name="mixing"), 3)


def test_user_rule_that_reduces_is_derived():
    half = rule(lambda grads, geo, ops: tuple(-g * ops.scalar(Fraction(1, 2)) for g in grads), name="half-gd")
    traj = derive(half, 3)
    assert traj.c == sympy.Rational(3, 2) and traj.g == sympy.Rational(4, 3)


def test_bad_arguments_are_lindyn_errors():
    with pytest.raises(LindynError, match="depth"):
        derive(GD(), 0)
    with pytest.raises(LindynError, match="gains"):
        derive(GD(), 2, gains="half")
    with pytest.raises(LindynError, match="lam"):
        derive(GD(), 2, lam=0.5)
    with pytest.raises(LindynError, match="rule"):
        derive(object(), 2)


def test_latex_compiles_to_equation_environments():
    text = derive(GD(), 3).latex()
    assert text.count(r"\begin{equation}") == 2 + 2


def test_latex_fragment_compiles(tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    body = "".join(derive(r, L, gains=g).latex() for r, L, g in
                   [(GD(), 3, "balanced"), (GD(), 2, "unbalanced"), (BlockNGD(q=Q), 4, "balanced"),
                    (GD(), 3, "unbalanced")])
    doc = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\\end{document}\n"
    (tmp_path / "t.tex").write_text(doc)
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]


def test_trajectory_renders_as_math_in_jupyter():
    """`_repr_latex_` gives display-math blocks holding the derived ODE (same LaTeX as `latex()`)."""
    import sympy
    from lindyn import GD, derive
    tr = derive(GD(), 3)
    rendered = tr._repr_latex_()
    assert rendered.count("$$") >= 4 and rendered.count("$$") % 2 == 0
    assert sympy.latex(tr.ode.rhs) in rendered
    assert "%" not in rendered.splitlines()[0]


@pytest.mark.parametrize("g", [0, 1, sympy.Rational(1, 2), sympy.Rational(5, 4)])
def test_2f1_antiderivative_derivative_is_the_integrand(g):
    """The symbolic-g (₂F₁ + Box–Cox) G, at rational g incl. the limits g = 0, 1: G' = 1/(w^g (1 − w))."""
    from lindyn.symbolic.solve import W, universal_antiderivative
    gs = sympy.Symbol("g", positive=True)
    G = universal_antiderivative(gs).G().subs(gs, g)
    for branch, _cond in G.args:        # w < 1 and w > 1 (decay from above)
        assert sympy.simplify(sympy.hyperexpand(sympy.diff(branch, W) - 1 / (W ** g * (1 - W)))) == 0
