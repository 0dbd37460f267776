"""The example notebook in derivations/ runs from top to bottom headlessly (nbclient)."""
import pathlib

import nbclient  # from the `test` extra: a missing package is a failure, not a skip
import nbformat

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "derivations" / "example.ipynb"


def test_example_notebook_runs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the claim result displays as LaTeX, the derivations as LaTeX, the plot as an image
    assert any("text/latex" in o.get("data", {}) for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs)
    text = "".join(o.get("text", "") for o in outputs)
    assert "ngd-exponential: all" in text
    assert "same ODE as BlockNGD(q=1/4): True" in text


def test_example_notebook_is_stored_with_its_outputs():
    """The notebook on disk shows its results without running (a reader on GitHub sees them)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("outputs") for c in code[1:]), "every cell after the imports has stored outputs"
    text = "".join(o.get("text", "") for c in code for o in c.get("outputs", []))
    # the user rule written from its definition derives the built-in rule's ODE; the closed form meets the matrices
    assert "same ODE as BlockNGD(q=1/4): True" in text
    assert any("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
