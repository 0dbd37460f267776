"""Every docstring example in the package runs and prints what it says."""
import doctest
import importlib
import pkgutil

import pytest

import lindyn

MODULES = sorted(m.name for m in pkgutil.walk_packages(lindyn.__path__, "lindyn.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             extraglobs={"Fraction": __import__("fractions").Fraction})
    assert result.failed == 0
