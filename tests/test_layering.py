"""Symbolic and numeric sides are kept apart: checked by reading each module's imports."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "lindyn"


def imported_modules(path: pathlib.Path) -> set[str]:
    """Top-level names of every module imported by the file at `path`."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "symbolic").glob("*.py")), ids=lambda p: p.name)
def test_symbolic_never_imports_numpy(path):
    assert not imported_modules(path) & {"numpy", "scipy", "mpmath"}


@pytest.mark.parametrize("path", sorted((ROOT / "numeric").glob("*.py")), ids=lambda p: p.name)
def test_numeric_never_imports_sympy(path):
    assert "sympy" not in imported_modules(path)


@pytest.mark.parametrize("name", ["rules.py", "_checks.py", "_chain.py", "_types.py"])
def test_rules_import_neither(name):
    assert not imported_modules(ROOT / name) & {"numpy", "scipy", "mpmath", "sympy"}
