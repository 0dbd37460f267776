"""The public API: every name in `lindyn.__all__` resolves and is documented."""
import inspect

import pytest

import lindyn


@pytest.mark.parametrize("name", sorted(lindyn.__all__))
def test_public_name_resolves_and_is_documented(name):
    obj = getattr(lindyn, name)
    if name == "__version__":
        assert isinstance(obj, str) and obj.count(".") == 2
        return
    doc = inspect.getdoc(obj)
    assert doc and len(doc.split()) >= 4, f"{name} needs a docstring that says what it is"


def test_public_callables_are_annotated():
    missing = []
    for name in lindyn.__all__:
        obj = getattr(lindyn, name)
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            if sig.return_annotation is inspect.Signature.empty:
                missing.append(name)
    assert not missing, f"public functions without a return annotation: {missing}"


def test_all_has_no_duplicates():
    assert len(lindyn.__all__) == len(set(lindyn.__all__))
