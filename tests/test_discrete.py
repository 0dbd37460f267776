"""Discrete steps (issue 12, item 1): the derived balanced-mode map against hand recursions, the flow's
c and g, the full matrices and the command line."""
import json
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy

from lindyn import GD, NGD, BlockNGD, LindynError, NoModeDecomposition, bernacchia, derive, kfac
from lindyn.cli import main
from lindyn.discrete import derive_discrete, fitted_order, matrix_iterates

HALF = Fraction(1, 2)
RULES = [GD(), NGD(), BlockNGD(), NGD(q=HALF), BlockNGD(q=HALF), bernacchia()]


def test_gd_two_layer_map_is_the_hand_recursion():
    # oracle: a <- a + η (s − a²) a on the balanced two-layer mode (each layer's GD step)
    a, want = math.sqrt(0.01), []
    for _ in range(6):
        want.append(a * a)
        a = a + 0.1 * (2.0 - a * a) * a
    got = derive_discrete(GD(), 2).iterate([2.0], [0.01], 0.1, 5)[0]
    assert np.max(np.abs(got - want)) < 1e-15


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_eta_max_is_two_over_c_s_to_the_g(rule, L):
    # THEORY §2: τu̇ = c u^g (s − u) linearises at u = s to rate c s^g, so η_max = 2/(c s^g)
    q = getattr(rule, "q", 0) if rule.name != "gd" else 0
    table = {"gd": (L, 2 - 2 / L), "ngd": (1, 0), "blockdiag": (L, 0), "bernacchia": (1, 0),
             "ngd(q=1/2)": (L ** 0.5, 0.5 * (2 - 2 / L)), "blockdiag(q=1/2)": (L, 0.5 * (2 - 2 / L))}
    c, g = table[rule.name]
    s = np.array([0.3, 1.0, 7.0])
    assert np.allclose(derive_discrete(rule, L).eta_max(s), 2 / (c * s ** g), rtol=1e-13), q


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_derived_map_equals_full_matrices(rule):
    s, u0 = np.array([0.5, 1.0, 2.0]), np.array([0.02, 0.05, 0.1])
    lr = 0.5 * float(derive_discrete(rule, 3).eta_max(s).min())
    derived = derive_discrete(rule, 3).iterate(s, u0, lr, 40)
    matrices = matrix_iterates(rule, 3, s, u0, lr, 40, width=4, seed=3)
    assert np.max(np.abs(derived - matrices) / s[:, None]) < 1e-11


def test_above_the_threshold_the_iterates_leave_and_are_nan_not_garbage():
    m = derive_discrete(GD(), 2)
    u = m.iterate([1.0], [0.5], 4.0, 60)[0]           # η = 4 η_max
    first_bad = int(np.flatnonzero(~np.isfinite(u))[0])
    assert 0 < first_bad < 60 and np.all(np.isnan(u[first_bad:]))
    um = matrix_iterates(GD(), 2, [1.0], [0.5], 4.0, 60)[0]
    assert np.all(np.isnan(um[first_bad + 1:]))
    assert np.allclose(u[:first_bad], um[:first_bad], rtol=1e-12)


def test_settling_below_and_not_above_eta_max():
    m = derive_discrete(GD(), 3)
    eta = float(m.eta_max([1.0])[0])
    assert isinstance(m.steps_to_settle(1e-3, 1.0, 0.5, 0.9 * eta, max_steps=20000), int)
    assert m.steps_to_settle(1e-3, 1.0, 0.5, 1.1 * eta, max_steps=20000) is None


def test_gd_modified_equation_is_barrett_dherin():
    # oracle: −∇(ℓ + η/4 ‖∇ℓ‖²) on the balanced manifold, ℓ = ½(s − a²)², ‖∇ℓ‖² = 2 a²(s − a²)²
    d = derive_discrete(GD(), 2).derivation
    a, s, eta, u = d.symbols.a, d.symbols.s, d.symbols.eta, d.symbols.u
    g2 = 2 * a ** 2 * (s - a ** 2) ** 2
    a_dot = -sympy.diff((s - a ** 2) ** 2 / 2 + eta / 4 * g2, a) / 2
    want = (2 * a * a_dot).subs(a, sympy.sqrt(u))
    assert sympy.simplify(d.mode_rhs + eta * d.correction - want) == 0
    assert sympy.simplify(d.regulariser - (eta / 4 * g2).subs(a, sympy.sqrt(u))) == 0
    assert d.regulariser_metric_term == 0


def test_mode_rhs_is_the_flow_of_derive():
    for rule in RULES:
        d = derive_discrete(rule, 3).derivation
        flow = derive(rule, 3).ode.rhs
        sym = derive(rule, 3).symbols
        diff = d.mode_rhs.subs(d.symbols.s, sym.s).subs(d.symbols.u, sym.u) - flow
        assert sympy.simplify(diff) == 0, rule.name


def test_iterates_follow_the_modified_flow_to_second_order():
    m = derive_discrete(NGD(q=HALF), 3)
    lrs = np.array([0.04, 0.02, 0.01])
    errs = []
    for lr in lrs:
        K = int(round(2.0 / lr))
        t = np.arange(K + 1) * lr
        errs.append(float(np.max(np.abs(m.iterate([1.0], [0.05], lr, K) - m.modified_flow(t, [1.0], [0.05], lr)))))
    assert fitted_order(lrs, errs) > 1.8


def test_damped_block_rule_at_depth_three_has_no_balanced_map():
    with pytest.raises(NoModeDecomposition):
        derive_discrete(kfac(damping=1), 3)


@pytest.mark.parametrize("bad", [dict(lr=0.0), dict(lr=float("nan")), dict(steps=-1), dict(s=[]),
                                 dict(u0=[1.0, 2.0, 3.0])])
def test_bad_arguments_name_the_parameter(bad):
    kw = dict(s=[1.0, 2.0], u0=[0.1], lr=0.1, steps=3) | bad
    with pytest.raises(LindynError, match=next(iter(bad))):
        derive_discrete(GD(), 2).iterate(**kw)


def test_fitted_order_refuses_nonpositive_errors():
    with pytest.raises(LindynError):
        fitted_order([0.1, 0.2], [0.0, 1.0])


def test_cli_contract_keys_and_values(capsys):
    assert main(["discrete", "--rule", "gd", "--depth", "2", "--s", "1,2", "--u0", "0.01", "--lr", "0.1",
                 "--steps", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"rule", "q", "depth", "lr", "k", "u", "u_matrix", "eta_max"} <= set(out)
    assert out["k"] == list(range(6)) and len(out["u"]) == 2 and len(out["u"][1]) == 6
    assert out["eta_max"] == pytest.approx([1.0, 0.5], rel=1e-14)
    assert np.allclose(out["u"], out["u_matrix"], rtol=1e-12)


def test_cli_diverging_run_prints_null_not_nan(capsys):
    assert main(["discrete", "--rule", "gd", "--depth", "2", "--s", "1", "--u0", "0.5", "--lr", "4",
                 "--steps", "60", "--json"]) == 0
    text = capsys.readouterr().out
    out = json.loads(text)          # strict JSON: NaN would not parse with parse_constant below
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert out["u"][0][-1] is None and out["diverged"]["u"][0] is not None


@pytest.mark.parametrize("args", [["--lr", "0"], ["--steps", "-1"], ["--steps", "x"], ["--depth", "0"],
                                  ["--u0", "1,2"], ["--q", "2"]])
def test_cli_bad_input_exits_2_with_one_line(args, capsys):
    base = {"--rule": "ngd", "--depth": "2", "--s": "1", "--u0": "0.1", "--lr": "0.1", "--steps": "3"}
    base.update(dict(zip(args[::2], args[1::2])))
    argv = ["discrete"] + [x for kv in base.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
