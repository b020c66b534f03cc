"""Every notebook runs top to bottom headless (EXPLORER_QUICK=1), then its views are driven.

After the last cell, ``tests/exercise_app.py`` runs in the same kernel: for each view the
notebook created, it moves the view's main control and checks the figure's data changed.
"""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_views_respond(path, monkeypatch):
    monkeypatch.setenv("EXPLORER_QUICK", "1")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell((ROOT / "tests" / "exercise_app.py").read_text()))
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    last_output = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    assert "exercised" in last_output


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: run `make strip`"


def test_every_lesson_is_linked_from_the_tour():
    tour = (ROOT / "notebooks" / "00_tour.ipynb").read_text()
    for path in NOTEBOOKS:
        if path.name != "00_tour.ipynb":
            assert path.name in tour, f"00_tour.ipynb does not link {path.name}"
