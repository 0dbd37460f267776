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
