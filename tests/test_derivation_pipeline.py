"""The one derivation pipeline: built once, passed down, solution as a typed variant.

`derive` runs rule → velocities → mode ODE → separation → solution once per (rule, depth, gains, λ)
(`lindyn.symbolic.solve.derive_mode`); the solvers receive what was derived and never re-enter from
the rule; the `Trajectory` keeps the `Derivation` and hands evaluation to `lindyn.numeric.evaluate`.
"""
import ast
import pathlib
from fractions import Fraction

import numpy as np
import pytest
import sympy

import lindyn
import lindyn.trajectory
from lindyn import GD, NGD, BlockNGD, derive, kfac, rule
from lindyn.symbolic.solve import Derivation, Explicit, Implicit, Quadrature, Reduction

ROOT = pathlib.Path(lindyn.__file__).parent

CASES = [(GD(), 2, "balanced", Explicit), (GD(), 3, "balanced", Implicit), (GD(), 2, "unbalanced", Implicit),
         (GD(), 3, "unbalanced", Quadrature), (NGD(), 3, "unbalanced", Explicit),
         (NGD(q=Fraction(1, 2)), 2, "unbalanced", Quadrature), (kfac(1), 2, "balanced", Implicit)]


@pytest.mark.parametrize("r,L,gains,kind", CASES, ids=lambda x: getattr(x, "name", str(x)))
def test_solution_is_a_typed_variant(r, L, gains, kind):
    traj = derive(r, L, gains=gains)
    assert isinstance(traj.derivation, Derivation) and isinstance(traj.solution, kind)
    assert traj.form == kind.form and traj.solution.form == traj.form
    red = traj.solution.reduction
    if gains == "unbalanced":
        assert isinstance(red, Reduction) and red.u0 == sympy.Mul(*traj.symbols.gains0)
    else:
        assert red is None


def test_reduction_routes_are_typed_fields():
    assert derive(NGD(), 3, gains="unbalanced").solution.reduction.route == "balanced"
    closed = derive(GD(), 2, gains="unbalanced").solution.reduction
    a10, a20 = derive(GD(), 2).symbols.gains0
    assert closed.route == "closed" and sympy.simplify(closed.conserved_value - (a10 ** 2 - a20 ** 2)) == 0
    quad = derive(GD(), 3, gains="unbalanced").solution
    assert quad.reduction.route == "quadrature" and len(quad.plans) == 3
    assert [p.layer for p in quad.plans] == [0, 1, 2] and len(quad.reduction.gains_on_curve) == 3


@pytest.mark.parametrize("gains", ["balanced", "unbalanced"])
def test_rule_velocity_runs_once_per_derivation(gains):
    calls = []

    def counted(grads, geo, ops):
        calls.append(1)
        return tuple(-g for g in grads)

    derive(rule(counted, name="counted-" + gains), 3, gains=gains)
    assert len(calls) == 1


def test_solvers_take_the_derived_objects_not_the_rule():
    """No private lru-cached re-entry from the rule below `derive` (issue 9 item 3)."""
    for name in ("modes.py", "solve.py", "invariants.py"):
        tree = ast.parse((ROOT / "symbolic" / name).read_text())
        cached = [f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                  for d in f.decorator_list if "lru_cache" in ast.unparse(d)]
        assert set(cached) <= {"mode_symbols", "universal_antiderivative", "_explicit"}, (name, cached)
        for f in ast.walk(tree):
            if isinstance(f, ast.FunctionDef) and f.name.startswith(("solve_", "separate_", "balanced_")):
                assert "rule" not in [a.arg for a in f.args.args], (name, f.name)


def test_symbolic_lambda_is_public():
    traj = derive(GD(), 3, lam="symbolic")
    assert traj.problem.lam == traj.symbols.lam == lindyn.trajectory.mode_symbols(3).lam
    assert traj.ode.rhs.has(traj.symbols.lam)
    assert np.allclose(traj.evaluate([1.0], s=1.5, u0=0.1, lam=1.0), derive(GD(), 3).evaluate([1.0], s=1.5, u0=0.1),
                       rtol=1e-14, atol=0)


def test_commands_use_only_the_public_api():
    for name in ("trajectory.py", "learning_time.py"):
        tree = ast.parse((ROOT / "commands" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert "symbolic" not in module and "numeric" not in module, (name, module)
                assert not any(a.name.startswith("_") and module.lstrip(".") not in ("_checks",)
                               for a in node.names), (name, module)


def test_mpmath_evaluators_live_on_the_trajectory():
    """No global evaluator table that grows without bound: the mpmath callables are cached per trajectory."""
    assert not hasattr(lindyn.trajectory, "_MP_CACHE")
    traj = derive(BlockNGD(q=Fraction(1, 3)), 2)
    f = traj.lambdify("mpmath")
    f(0.5, s=1, u0="0.1")
    first = traj.__dict__["_mpmath"]
    f(0.7, s=2, u0="0.2")
    assert traj.__dict__["_mpmath"] is first


def test_latex_names_the_variable_of_the_ode():
    """τ da_1/dt for the unbalanced quadrature (the 'u' in '\\tau' used to turn it into du/dt)."""
    assert r"\frac{d a_{1}}{d t}" in derive(GD(), 3, gains="unbalanced").latex("ode")
    assert r"\frac{d u}{d t}" in derive(GD(), 2, gains="unbalanced").latex("ode")
    assert derive(GD(), 3, gains="unbalanced").latex("solution").startswith("t(a_{1})")


def test_numeric_and_symbolic_layers_stay_apart():
    def imports(path):
        tree = ast.parse(path.read_text())
        out = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.add(node.module.split(".")[0])
        return out

    assert "sympy" not in imports(ROOT / "numeric" / "evaluate.py")
    for path in (ROOT / "symbolic").glob("*.py"):
        assert not imports(path) & {"numpy", "scipy", "mpmath"}, path.name
