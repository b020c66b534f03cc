"""A displayed view leaves a static copy of its figure in the notebook (issue 13, item 8).

The copy (plotly's JSON, which JupyterLab draws without a kernel) follows the live view and
is rewritten after the figure changes, so a notebook saved and reopened without a kernel shows
the figure. The browser test ``tests/browser/test_reopen.py`` reopens such a notebook in
JupyterLab; these tests check the kernel side, headless.
"""

from __future__ import annotations

import base64
import textwrap

import nbformat
import numpy as np
import plotly.graph_objects as go
import pytest
from nbclient import NotebookClient

from explorer.apps import _static

VIEW = textwrap.dedent("""
    import numpy as np
    import plotly.graph_objects as go
    from explorer.apps._base import App, Int

    class Squares(App):
        CONTROLS = {"n": Int(2, 50, 4)}
        PRIMARY = "n"
        STATIC_COPY = {static}

        def build_figure(self):
            return go.FigureWidget(go.Heatmap(name="grid", z=np.zeros((4, 4))))

        def preview(self):
            n = self.controls["n"].value
            with self.figure.batch_update():
                self.trace("grid").z = np.arange(n * n, dtype=float).reshape(n, n)

    app = Squares()
    app
""")
MOVE = f"app.controls['n'].value = 7\nimport time\ntime.sleep({_static.QUIET_SECONDS + 2.0})"


def decode(array) -> np.ndarray:
    """A plotly typed-array spec (or a plain list) as a numpy array."""
    if isinstance(array, dict):
        shape = [int(side) for side in str(array.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).reshape(shape)
    return np.asarray(array)


def run_cells(*sources) -> list:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    return notebook.cells


@pytest.mark.notebook
def test_the_copy_follows_the_view_and_its_changes():
    cells = run_cells(VIEW.replace("{static}", "True"), MOVE)
    outputs = cells[0].outputs
    assert "application/vnd.jupyter.widget-view+json" in outputs[0]["data"]
    assert len(outputs) == 2 and _static.MIME in outputs[1]["data"], [o.get("data", {}).keys() for o in outputs]
    figure = outputs[1]["data"][_static.MIME]
    assert figure["data"][0]["type"] == "heatmap" and figure["data"][0]["name"] == "grid"
    z = decode(figure["data"][0]["z"])
    assert z.shape == (7, 7) and z[6, 6] == 48, "the copy was not rewritten after the figure changed"


@pytest.mark.notebook
def test_a_view_can_leave_the_copy_out():
    cells = run_cells(VIEW.replace("{static}", "False"))
    assert len(cells[0].outputs) == 1
    assert "application/vnd.jupyter.widget-view+json" in cells[0].outputs[0]["data"]


def test_large_heatmaps_are_thinned_in_the_copy():
    side = 1100
    z = np.add.outer(np.arange(side), np.arange(side)).astype(float)
    axis = np.linspace(-3, 6, side)
    figure = go.Figure(go.Heatmap(z=z, x=axis, y=axis, name="big"))
    bundle = _static.figure_bundle(figure)
    trace = bundle[_static.MIME]["data"][0]
    thinned = decode(trace["z"])
    stride = 3  # ceil(sqrt(1100**2 / 512**2))
    assert thinned.dtype == np.float32 and thinned.size <= _static.MAX_CELLS
    np.testing.assert_array_equal(thinned, z[::stride, ::stride].astype(np.float32))
    np.testing.assert_array_equal(decode(trace["x"]), axis[::stride])
    assert "text/plain" in bundle


def test_a_small_figure_is_copied_unchanged():
    z = np.arange(12.0).reshape(3, 4)
    bundle = _static.figure_bundle(go.Figure(go.Heatmap(z=z, name="small")))
    np.testing.assert_array_equal(decode(bundle[_static.MIME]["data"][0]["z"]), z)


def test_the_live_view_carries_the_style_that_hides_the_copy():
    from explorer.apps._base import App, Int

    class Empty(App):
        CONTROLS = {"n": Int(1, 3, 1)}
        PRIMARY = "n"

        def build_figure(self):
            return go.FigureWidget(go.Scatter(name="line", y=[1, 2]))

    app = Empty()
    styles = [child for child in app.children if getattr(child, "value", None) == _static.HIDE_COPY_STYLE]
    assert len(styles) == 1 and styles[0].layout.display == "none"
