"""Every lesson and every dashboard runs top to bottom headless, then its views are driven.

After the last cell, ``tests/exercise_app.py`` runs in the same kernel: for each view the
notebook created, it moves the view's main control and checks the figure's data changed.

Lessons run in quick mode (``EXPLORER_QUICK=1``) unless ``EXPLORER_FULL_NOTEBOOKS=1``, which
runs them at the settings a class sees and fails a lesson that takes longer than
``EXPLORER_NOTEBOOK_BUDGET`` seconds (default 90)::

    EXPLORER_FULL_NOTEBOOKS=1 .venv/bin/python -m pytest tests/test_notebooks.py -k runs -q

Either way each notebook's time (from its first cell to its last, without the kernel's start
and the appended exercise cell) and its slowest cells are printed at the end and merged into
``tests/artifacts/notebooks/timings-quick.json`` (or ``timings-full.json``), beside the executed
notebooks. Dashboards always run at full settings (students get no quick mode).
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.ipynb"))
FULL = os.environ.get("EXPLORER_FULL_NOTEBOOKS") == "1"
BUDGET_SECONDS = float(os.environ.get("EXPLORER_NOTEBOOK_BUDGET", "90"))
ARTIFACTS = ROOT / "tests" / "artifacts" / "notebooks"
SLOWEST_CELLS = 3

_timings: dict[str, dict] = {}


def _moment(cell, key: str) -> datetime:
    """When nbclient saw ``key`` ("iopub.execute_input", "shell.execute_reply") for ``cell``."""
    return datetime.fromisoformat(cell.metadata["execution"][key].replace("Z", "+00:00"))


def notebook_timing(notebook, lesson_cells: int) -> dict:
    """Wall time from the first lesson cell's start to the last one's reply, and the slowest cells."""
    code = [(index, cell) for index, cell in enumerate(notebook.cells[:lesson_cells])
            if cell.cell_type == "code"]
    total = _moment(code[-1][1], "shell.execute_reply") - _moment(code[0][1], "iopub.execute_input")
    cells = sorted((((_moment(cell, "shell.execute_reply") - _moment(cell, "iopub.execute_input"))
                     .total_seconds(), index) for index, cell in code), reverse=True)
    return {"seconds": round(total.total_seconds(), 2),
            "slowest_cells": [{"cell": index, "seconds": round(seconds, 2),
                               "source": cell_source_head(notebook.cells[index])}
                              for seconds, index in cells[:SLOWEST_CELLS]]}


def cell_source_head(cell) -> str:
    lines = [line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
    return (lines[0][:70] if lines else "")


def execute_and_exercise(path: Path, quick: bool) -> dict:
    """Run ``path`` and the exercise cell in a fresh kernel; returns its timing."""
    notebook = nbformat.read(path, as_version=4)
    lesson_cells = len(notebook.cells)
    notebook.cells.append(nbformat.v4.new_code_cell((ROOT / "tests" / "exercise_app.py").read_text()))
    client = NotebookClient(notebook, timeout=1800 if not quick else 900, kernel_name="python3",
                            record_timing=True, resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    # the executed copy, outputs and all, so the numbers a lesson quotes can be checked
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, ARTIFACTS / f"{path.parent.name}-{path.stem}-{'quick' if quick else 'full'}.ipynb")
    last_output = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    assert "exercised" in last_output
    timing = notebook_timing(notebook, lesson_cells)
    timing["with_kernel_start_and_exercise_seconds"] = round(time.perf_counter() - started, 2)
    return timing


@pytest.fixture(scope="module")
def timings(request):
    """Collects each notebook's time; prints and saves them when the module's tests are done."""
    yield _timings
    if not _timings:
        return
    mode = "full" if FULL else "quick"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"timings-{mode}.json"
    try:  # keep the entries of notebooks this session did not run
        saved = json.loads(path.read_text())["notebooks"]
    except (OSError, ValueError, KeyError):
        saved = {}
    load = [round(value, 2) for value in os.getloadavg()]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    saved.update({name: {**timing, "measured": stamp, "load_average": load} for name, timing in _timings.items()})
    report = {"mode": mode, "budget_seconds": BUDGET_SECONDS if FULL else None,
              "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "notebooks": dict(sorted(saved.items()))}
    path.write_text(json.dumps(report, indent=2) + "\n")
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if terminal is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # the table goes to the terminal, not the capture
        terminal.write_line(f"\nnotebook times ({mode} settings, load {load[0]}), "
                            f"written to {path.relative_to(ROOT)}:")
        for name, timing in sorted(_timings.items()):
            slowest = ", ".join(f"cell {cell['cell']} {cell['seconds']:.1f} s"
                                for cell in timing["slowest_cells"])
            terminal.write_line(f"  {name:<34} {timing['seconds']:7.1f} s   slowest: {slowest}")


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_views_respond(path, monkeypatch, timings):
    monkeypatch.setenv("EXPLORER_QUICK", "0" if FULL else "1")
    timing = execute_and_exercise(path, quick=not FULL)
    timings[path.name] = timing
    if FULL:
        assert timing["seconds"] <= BUDGET_SECONDS, (
            f"{path.name} took {timing['seconds']:.0f} s at full settings (budget {BUDGET_SECONDS:.0f} s); "
            f"slowest cells: {timing['slowest_cells']}")


@pytest.mark.notebook
@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_runs_and_view_responds(path, monkeypatch, timings):
    monkeypatch.setenv("EXPLORER_QUICK", "0")  # a dashboard has no quick mode: what students get
    timings[f"dashboards/{path.name}"] = execute_and_exercise(path, quick=False)


@pytest.mark.parametrize("path", NOTEBOOKS + DASHBOARDS,
                         ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS + DASHBOARDS])
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
