"""Layering, checked by reading each module's imports (issue "one problem, one integrator").

1. `lindyn/symbolic/` never imports numpy, scipy or mpmath; `lindyn/numeric/` never imports sympy.
2. `rules.py` and the shared helpers import neither side's library (a rule runs on both).
3. Only the joining modules import sympy and numpy together.
4. The command line (`lindyn/commands/`) and the papers (`lindyn/papers/`) use only the public
   API: top-level `lindyn` names, or public names of the public modules listed below; never
   `lindyn.symbolic`, `lindyn.numeric` or a private module.
5. No private name (`_x`) is imported from another module anywhere in the package.
6. There is one integrator: only `lindyn/numeric/solvers.py` drives scipy's ODE solvers.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "lindyn"
ALL_FILES = sorted(ROOT.rglob("*.py"))

#: Modules that join the symbolic and the numeric side (sympy and numpy in one file).
JOINING = {"trajectory.py", "verify.py", "function_space.py", "discrete.py", "depth.py", "matrix.py"}

#: Public modules the command line and the papers may import names from (besides `lindyn` itself).
PUBLIC_MODULES = {"lindyn", "lindyn.cli", "lindyn.claims", "lindyn.rules", "lindyn.problem", "lindyn.integrate",
                  "lindyn.trajectory", "lindyn.discrete", "lindyn.depth", "lindyn.matrix", "lindyn.sweep", "lindyn.verify", "lindyn.report", "lindyn.latex", "lindyn.function_space",
                  "lindyn.datasets", "lindyn.papers"}


def rel(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT.parent))


def imports(path: pathlib.Path) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) for every import in the file; relative imports resolved."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((module, [a.name for a in node.names]))
    return out


def libraries(path: pathlib.Path) -> set[str]:
    return {m.split(".")[0] for m, _ in imports(path)}


@pytest.mark.parametrize("path", sorted((ROOT / "symbolic").glob("*.py")), ids=lambda p: p.name)
def test_symbolic_never_imports_numpy(path):
    assert not libraries(path) & {"numpy", "scipy", "mpmath"}


@pytest.mark.parametrize("path", sorted((ROOT / "numeric").glob("*.py")), ids=lambda p: p.name)
def test_numeric_never_imports_sympy(path):
    assert "sympy" not in libraries(path)
    assert not any(m.startswith("lindyn.symbolic") for m, _ in imports(path))


@pytest.mark.parametrize("path", sorted((ROOT / "symbolic").glob("*.py")), ids=lambda p: p.name)
def test_symbolic_never_imports_numeric(path):
    assert not any(m.startswith("lindyn.numeric") for m, _ in imports(path))


@pytest.mark.parametrize("name", ["rules.py", "_checks.py", "_chain.py", "_types.py", "_version.py"])
def test_rules_import_neither(name):
    assert not libraries(ROOT / name) & {"numpy", "scipy", "mpmath", "sympy"}


def test_only_joining_modules_use_both_sides():
    both = [rel(p) for p in ALL_FILES
            if p.parent == ROOT and "sympy" in libraries(p) and libraries(p) & {"numpy", "scipy", "mpmath"}]
    assert set(p.split("/")[-1] for p in both) <= JOINING, both


@pytest.mark.parametrize("path", sorted((ROOT / "commands").glob("*.py")) + sorted((ROOT / "papers").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_command_line_and_papers_use_the_public_api(path):
    bad = []
    for module, names in imports(path):
        if not module.startswith("lindyn"):
            continue
        if module.startswith("lindyn.commands") or module.startswith("lindyn.papers"):
            continue          # siblings in the same layer
        if module not in PUBLIC_MODULES or any(n.startswith("_") for n in names):
            bad.append(f"{module}: {names}")
    assert not bad, f"{rel(path)} imports outside the public API: {bad}"


@pytest.mark.parametrize("path", ALL_FILES, ids=rel)
def test_no_private_name_crosses_a_module(path):
    bad = [f"{module}.{n}" for module, names in imports(path) for n in names
           if n.startswith("_") and n != "__version__" and module.startswith("lindyn")]
    assert not bad, f"{rel(path)} imports private names {bad}"


def test_one_integrator():
    drivers = [rel(p) for p in ALL_FILES
               if any(m.startswith("scipy.integrate") for m, _ in imports(p)) and p.name != "solvers.py"]
    # quad/odeint-free: the evaluator of closed forms may use scipy.integrate for quadrature of t(u), not ODEs
    ode_drivers = [p for p in drivers
                   if any(n in {"solve_ivp", "DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA", "odeint", "ode"}
                          for m, names in imports(ROOT.parent / p) if m.startswith("scipy.integrate") for n in names)]
    assert not ode_drivers, f"ODE solvers driven outside lindyn/numeric/solvers.py: {ode_drivers}"
