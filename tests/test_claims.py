"""Every registered claim passes by both routes (or as an outcome); a wrong claim fails readably.

The claims live with their paper (lindyn/papers/<paper>.py, tolerances and their reasons beside
them) and compare lindyn's derivations and full-matrix integrations with the papers' formulas;
here we check the machinery (lindyn/claims.py), the registry, the verb `verify`, and the command
line contract of `lindyn verify` / `python -m lindyn`.
"""
import ast
import json
import math
import pathlib
import subprocess
import sys

import pytest
from conftest import WRONG_CLAIM_MIN_ERROR

import lindyn
from lindyn import GD, LindynError, NGD, all_claims, get_claim, verify
from lindyn.claims import Claim, Evidence, Measurement
from lindyn.papers import PAPERS, SECTIONS, collect_claims, paper_claims, paper_module
from lindyn.papers.bernacchia2018 import exponential_claim

PAPERS_DIR = pathlib.Path(lindyn.__file__).parent / "papers"

REQUIRED = {"saxe-sigmoid", "deep-mode-eq15-eq17", "gd-conservation", "learning-time-scaling", "ngd-exponential",
            "block-ngd-rate-L", "bottleneck-ginverse", "ngd-gd-path", "parameter-speed-small-init",
            "ngd-same-time-constant", "ngd-singular-crossing"}


def test_registry_holds_the_issue_claims_with_sources_and_tolerances():
    names = [c.name for c in all_claims()]
    assert REQUIRED <= set(names)
    assert len(names) == len(set(names))
    for c in all_claims():
        assert c.statement and c.source and c.reason and c.tolerance > 0
        assert c.kind in ("two-routes", "outcome")
        if c.kind == "two-routes":
            assert c.symbolic is not None and c.numeric is not None, f"{c.name} needs two routes"
        else:
            assert c.symbolic is None


def test_every_paper_module_is_present_and_registers_its_claims():
    for paper in PAPERS:
        module = paper_module(paper)
        assert isinstance(module.CLAIMS, tuple) and module.CLAIMS and all(isinstance(c, Claim) for c in module.CLAIMS)
    assert [c.name for c in paper_module("saxe2014").CLAIMS][:2] == ["saxe-sigmoid", "deep-mode-eq15-eq17"]


def test_sections_add_their_claims_to_their_paper():
    import importlib
    for paper, sections in SECTIONS.items():
        assert paper in PAPERS
        names = [c.name for c in paper_claims(paper)]
        for section in sections:
            module = importlib.import_module(f"lindyn.papers.{section}")
            assert module.CLAIMS and all(c.name in names for c in module.CLAIMS)
    assert "discrete-eta-max" in [c.name for c in collect_claims()]


def test_registry_never_drops_a_paper(monkeypatch):
    import importlib

    import lindyn.papers as papers
    real = importlib.import_module

    def absent(name, *args):
        if name == "lindyn.papers.kerekes2021":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *args)

    monkeypatch.setattr(papers.importlib, "import_module", absent)
    with pytest.raises(ModuleNotFoundError):
        collect_claims()


def test_paper_modules_use_only_the_public_api():
    """lindyn/papers/*.py import lindyn's public names, lindyn.claims and other paper modules; no private names."""
    allowed = ({"lindyn", "lindyn.claims", "lindyn.function_space", "lindyn.discrete", "lindyn.depth", "lindyn.papers"}
               | {f"lindyn.papers.{p}" for p in PAPERS} | {f"lindyn.papers.{m}" for ms in SECTIONS.values() for m in ms})
    for path in sorted(PAPERS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("lindyn")):
                module = node.module or ""
                if path.name == "__init__.py" and node.level == 0 and module == "__future__":
                    continue
                assert node.level == 0 and module in allowed, f"{path.name} imports {module!r} (level {node.level})"
                for alias in node.names:
                    assert not alias.name.startswith("_"), f"{path.name} imports private {module}.{alias.name}"
                    if module == "lindyn":
                        assert alias.name in lindyn.__all__, f"{path.name}: {alias.name} is not in lindyn.__all__"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("lindyn."), f"{path.name} imports {alias.name}"


def test_saxe_eq17_counts_layers_of_neurons():
    from oracles import BALANCED_GD_TIMES, SAXE_EQ17_L3, SAXE_EQ17_RATIO_L3, saxe_eq17_time

    from lindyn.papers.saxe2014 import eq17_time
    assert round(eq17_time(3, 1.0, 1e-3, 0.5), 4) == SAXE_EQ17_L3 == round(saxe_eq17_time(3, 1.0, 1e-3, 0.5), 4)
    assert round(eq17_time(3, 1.0, 1e-3, 0.5) / BALANCED_GD_TIMES[3], 2) == SAXE_EQ17_RATIO_L3
    assert "27-fold" in get_claim("deep-mode-eq15-eq17").statement


def test_claim_kinds_are_enforced():
    def route(thorough):
        return Evidence("fine", (Measurement("x", 0.0),))

    with pytest.raises(LindynError, match="symbolic"):
        Claim("a", "s", "", "src", None, route, 1e-8, "r")                       # two-routes needs both
    with pytest.raises(LindynError, match="symbolic"):
        Claim("a", "s", "", "src", route, route, 1e-8, "r", kind="outcome")      # an outcome has one route
    with pytest.raises(LindynError, match="kind"):
        Claim("a", "s", "", "src", route, route, 1e-8, "r", kind="both")
    # an outcome measuring an "error" instead of a threshold fails
    result = Claim("a", "s", "", "src", None, route, 1e-8, "r", kind="outcome").check()
    assert not result.passed and "not errors" in result.reason


def test_outcome_claim_reports_measured_vs_threshold():
    def experiment(thorough):
        return Evidence("recovery of the unobserved entries",
                        (Measurement("relative recovery error", 3.7e-2, 0.05, "at_most"),
                         Measurement("GD beats NGD by", 12.0, 2.0, "at_least")))

    claim = Claim("toy-outcome", "GD recovers the matrix.", "", "toy", None, experiment, 0.05, "threshold",
                  kind="outcome")
    result = claim.check()
    assert result.passed
    assert result.outcome_text() == "measured 0.037 vs threshold <= 0.05 (+1 more)"
    from lindyn.verify import Verification
    v = Verification((result,), False, 0.1)
    table = v.table()
    row = table.splitlines()[2]
    assert row.startswith("toy-outcome") and "outcome:" in row and "measured 0.037 vs threshold <= 0.05" in row
    assert "digits" not in row
    assert v.to_dict()["claims"][0]["kind"] == "outcome"


@pytest.mark.parametrize("name", [c.name for c in all_claims()])
def test_claim_passes(name):
    result = get_claim(name).check()
    assert result.passed, result.reason
    assert result.measurements, "a claim must measure something"
    assert math.isfinite(result.agreement)
    # both routes contributed measurements of their own (external checks have only a numeric route)
    if result.symbolic is not None:
        assert result.symbolic.measurements and result.numeric.measurements


def test_wrong_claim_gd_converges_exponentially_fails_readably():
    wrong = exponential_claim("gd-converges-exponentially", [(GD(), lambda L: 1, "1")],
                              statement="GD converges exponentially, W(t) = W* + e^{-t}(W(0) - W*).",
                              latex=r"W(t) = W^* + e^{-t}(W(0) - W^*)", source="deliberately wrong")
    result = wrong.check()
    assert not result.passed
    assert result.agreement > WRONG_CLAIM_MIN_ERROR
    reason = result.reason
    assert reason.startswith("gd-converges-exponentially fails")
    assert "gd, L = 3: derived τu̇ − (s/λ − u)" in reason      # the symbolic route names what differs
    assert "straight line" in reason and "FAILED" in reason and "must be <=" in reason
    # both routes disagree on their own
    assert not all(m.passed for m in result.symbolic.measurements)
    assert not all(m.passed for m in result.numeric.measurements)


def test_right_claim_from_the_same_factory_passes():
    result = exponential_claim("ngd", [(NGD(), lambda L: 1, "1")], statement="s", latex="", source="x").check()
    assert result.passed, result.reason


def test_a_route_that_raises_fails_with_its_error():
    def boom(thorough):
        raise ZeroDivisionError("division by zero in the oracle")

    def ok(thorough):
        return Evidence("fine", (Measurement("x", 0.0),))

    result = Claim("broken", "s", "", "none", boom, ok, 1e-8, "r").check()
    assert not result.passed
    assert "ZeroDivisionError: division by zero in the oracle" in result.reason


def test_measurement_kinds():
    assert Measurement("e", 1e-9, 1e-8).passed
    assert not Measurement("e", 1e-7, 1e-8).passed
    assert Measurement("gap", 0.3, 0.1, "at_least").passed
    assert not Measurement("gap", 0.01, 0.1, "at_least").passed
    assert not Measurement("nan", float("nan"), 1.0).passed


def test_claim_result_renders_as_latex():
    result = get_claim("parameter-speed-small-init").check()
    tex = result._repr_latex_()
    assert tex.startswith("$") and tex.endswith("$") and "passed" in tex


def test_verify_selects_and_rejects_names():
    v = verify(["ngd-singular-crossing", "bottleneck-ginverse"])
    assert [r.claim.name for r in v.results] == ["ngd-singular-crossing", "bottleneck-ginverse"]
    table = v.table()
    assert v.passed and "2 of 2 claims passed" in table
    assert "symbolic route" in table and "numeric route" in table and "digits" in table
    with pytest.raises(LindynError, match="names"):
        verify(["no-such-claim"])
    with pytest.raises(LindynError, match="names"):
        verify("saxe-sigmoid")


def test_verify_reports_progress():
    seen = []
    verify(["parameter-speed-small-init"], progress=lambda k, n, c, r: seen.append((k, n, c.name, r is None)))
    assert seen == [(0, 1, "parameter-speed-small-init", True), (0, 1, "parameter-speed-small-init", False)]


def test_verify_in_worker_processes_gives_the_same_results():
    names = ["parameter-speed-small-init", "ngd-gd-path", "ngd-singular-crossing"]
    seen = []
    parallel = verify(names, jobs=2, progress=lambda k, n, c, r: seen.append((k, c.name, r is None)))
    serial = verify(names)
    assert [r.claim.name for r in parallel.results] == names
    assert [r.passed for r in parallel.results] == [r.passed for r in serial.results] == [True] * 3
    for a, b in zip(parallel.results, serial.results):
        assert [m.value for m in a.measurements] == pytest.approx([m.value for m in b.measurements], rel=1e-6, abs=1e-14)
    assert sorted(seen) == sorted([(k, n, flag) for k, n in enumerate(names) for flag in (True, False)])
    with pytest.raises(LindynError, match="jobs"):
        verify(names, jobs=0)


def test_cli_json_contract():
    proc = subprocess.run([sys.executable, "-m", "lindyn", "--json", "parameter-speed-small-init", "ngd-gd-path"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"passed", "claims"} and out["passed"] is True
    assert [c["name"] for c in out["claims"]] == ["parameter-speed-small-init", "ngd-gd-path"]
    for c in out["claims"]:
        assert set(c) == {"name", "source", "statement", "kind", "passed", "agreement"}
        assert c["kind"] == "two-routes"
        assert isinstance(c["agreement"], float) and c["agreement"] < 1e-8
    assert "[1/2] parameter-speed-small-init" in proc.stderr     # progress goes to stderr


def test_cli_exit_status_on_failure_and_bad_name(monkeypatch, capsys):
    import importlib

    from lindyn import cli
    verify_module = importlib.import_module("lindyn.verify")   # the attribute lindyn.verify is the function

    wrong = exponential_claim("gd-exp", [(GD(), lambda L: 1, "1")], statement="wrong", latex="", source="none")
    monkeypatch.setattr(verify_module, "all_claims", lambda: (wrong,))
    assert cli.main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "gd-exp fails" in out
    monkeypatch.undo()
    assert cli.main(["verify", "not-a-claim"]) == 2
    assert "Argument `names`" in capsys.readouterr().err


def test_main_job_runs_every_claim_and_prints_the_table():
    # run time is a benchmark matter (bench/), never a timed test
    proc = subprocess.run([sys.executable, "-m", "lindyn"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in REQUIRED | {c.name for c in all_claims()}:
        assert name in proc.stdout


def test_public_names_exported():
    for name in ("verify", "Verification", "Claim", "ClaimResult", "all_claims", "get_claim", "write_report"):
        assert name in lindyn.__all__
