"""Every notebook in JupyterLab, in headless Chromium, as a reader would use it.

Per notebook: open it, run all cells (``runmenu:run-all``), wait until every code cell has
run, check no cell raised and no view reports an error, then for every explorer view
(``.explorer-app``) check its plotly figure drew, move its main control (``.explorer-primary``)
with the keyboard a few times and wait each time until the drawn figure's data changes.
Screenshots go to ``tests/artifacts/browser/<notebook>.png`` (the page) and
``<notebook>-view.png`` (the first view). Notebooks without a view (the tour) are only checked
to run cleanly.

Timed (see ``measure.py``; saved to ``tests/artifacts/browser/latency.json``): "Run all" to the
first drawn figure, and each preview, from the key press to the frame showing the new figure.
A view whose median preview takes longer than 1 s fails.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.browser.conftest import ARTIFACTS, NOTEBOOK_DIR, QUICK
from tests.browser.measure import (
    FIGURE_CHANGED,
    FIGURE_DRAWN,
    FIGURE_FINGERPRINT,
    FIND_PANEL,
    FIRST_FIGURE_TIME,
    LATENCY,
    check_previews,
    move_primary_control,
    screenshot_whole,
    time_moves,
)

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
OPEN_SECONDS = 60
RUN_SECONDS = 240 if QUICK else 1800  # all cells of one notebook
CHANGE_SECONDS = 60  # until a view's figure is drawn
RENDER_SECONDS = 600  # EXPLORER_BROWSER_RENDER=1: a full-quality render for docs/

pytestmark = pytest.mark.browser

# -- JavaScript run in the page (window.jupyterapp exists: --LabApp.expose_app_in_browser) --

NOTEBOOK_READY = f"""
(path) => {{
  const panel = ({FIND_PANEL})(path);
  if (!panel || !panel.context.isReady) return false;
  const session = panel.sessionContext;
  return !!(session.session && session.session.kernel && session.session.kernel.status === 'idle');
}}
"""

RUN_ALL = f"""
async (path) => {{
  const app = window.jupyterapp;
  const panel = ({FIND_PANEL})(path);
  app.shell.activateById(panel.id);
  await panel.sessionContext.ready;
  // do not await: the command resolves only when every cell has run; we poll instead
  app.commands.execute('runmenu:run-all').catch((error) => {{ window.__runAllError = String(error); }});
  return performance.now();
}}
"""

# code cells still to run; null once all ran (or one failed) and the kernel is idle
CELLS_PENDING = f"""
(path) => {{
  const panel = ({FIND_PANEL})(path);
  if (!panel) return -1;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  let pending = 0, failed = false;
  for (const cell of panel.content.widgets) {{
    const model = cell.model;
    if (model.type !== 'code' || !model.sharedModel.getSource().trim()) continue;
    if (model.executionCount === null || model.executionCount === undefined) pending += 1;
    failed = failed || model.outputs.toJSON().some((output) => output.output_type === 'error');
  }}
  // after an error the kernel aborts the queued cells: stop waiting, report the error
  return ((pending === 0 || failed) && kernel && kernel.status === 'idle') ? null : pending;
}}
"""

# problems a reader would see: tracebacks, stderr tracebacks, widgets that failed to render
CELL_PROBLEMS = f"""
(path) => {{
  const panel = ({FIND_PANEL})(path);
  const problems = [];
  panel.content.widgets.forEach((cell, index) => {{
    if (cell.model.type !== 'code') return;
    for (const output of cell.model.outputs.toJSON()) {{
      if (output.output_type === 'error')
        problems.push(`cell ${{index}}: ${{output.ename}}: ${{output.evalue}}`);
      const text = Array.isArray(output.text) ? output.text.join('') : (output.text || '');
      if (output.output_type === 'stream' && output.name === 'stderr' && /Traceback|Error:/.test(text))
        problems.push(`cell ${{index}} stderr: ${{text.slice(0, 400)}}`);
    }}
  }});
  for (const node of panel.node.querySelectorAll('.jp-OutputArea-output')) {{
    const text = node.textContent || '';
    if (/Error displaying widget|Failed to load model class|Model class .* not found/.test(text))
      problems.push('widget: ' + text.slice(0, 300));
  }}
  for (const node of panel.node.querySelectorAll('.explorer-app span[style*="b00020"]'))
    problems.push('view status: ' + node.textContent);  // App.show_message(kind="error")
  return problems;
}}
"""

COUNT_VIEWS = f"""(path) => ({FIND_PANEL})(path).node.querySelectorAll('.explorer-app').length"""

SHUTDOWN = f"""
async (path) => {{
  const panel = ({FIND_PANEL})(path);
  if (panel) await panel.sessionContext.shutdown();
  return true;
}}
"""


def dismiss_dialogs(page) -> None:
    """Accept a kernel-selection (or any) dialog and close any toast that covers the page."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        accept = dialog.locator("button.jp-mod-accept")
        (accept.first if accept.count() else dialog.locator("button").last).click()
    for close in page.locator(".jp-toast-button, .Toastify__close-button").all():
        if close.is_visible():
            close.click()


def open_notebook(page, lab_server, name: str, workspace: str) -> None:
    """Open ``name`` in its own workspace and wait until its kernel is idle."""
    # a workspace of its own, so the page does not reopen (and restart kernels for) earlier notebooks
    page.goto(lab_server.url(f"lab/workspaces/{workspace}/tree/{name}"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=OPEN_SECONDS * 1000)
    page.evaluate("() => window.jupyterapp.restored")
    deadline_ms = OPEN_SECONDS * 1000
    waited = 0
    while not page.evaluate(NOTEBOOK_READY, name):
        dismiss_dialogs(page)
        page.wait_for_timeout(250)
        waited += 250
        assert waited < deadline_ms, f"{name}: notebook or kernel not ready after {OPEN_SECONDS} s"
    dismiss_dialogs(page)


def open_and_run(page, lab_server, name: str, workspace: str) -> dict:
    """Open ``name``, run all cells, check none failed; returns how long it took (seconds)."""
    open_notebook(page, lab_server, name, workspace)
    started = page.evaluate(RUN_ALL, name)
    # the first frame with a drawn view, or -1 if every cell ran without one
    first = page.wait_for_function(
        f"(path) => ({FIRST_FIGURE_TIME})(path) || (({CELLS_PENDING})(path) === null ? -1 : null)",
        arg=name, timeout=RUN_SECONDS * 1000, polling="raf").json_value()
    page.wait_for_function(f"(path) => ({CELLS_PENDING})(path) === null", arg=name,
                           timeout=RUN_SECONDS * 1000, polling=250)
    finished = page.evaluate("() => performance.now()")
    assert page.evaluate("() => window.__runAllError || null") is None
    problems = page.evaluate(CELL_PROBLEMS, name)
    assert not problems, f"{name}:\n" + "\n".join(problems)
    return {"run_all_to_first_figure_s": None if first < 0 else round((first - started) / 1000, 2),
            "run_all_seconds": round((finished - started) / 1000, 1)}


def render_full_quality(page, view, name: str, index: int) -> None:
    """Click the view's "Render" button (if any) and wait until the drawn figure settles."""
    button = view.locator("button", has_text=re.compile(r"^\s*Render\s*$"))
    if not button.count():
        return
    before = page.evaluate(FIGURE_FINGERPRINT, [name, index])
    button.first.click()
    page.wait_for_function(FIGURE_CHANGED, arg=[name, index, before], timeout=RENDER_SECONDS * 1000)
    last, stable_since = None, time.monotonic()
    deadline = time.monotonic() + RENDER_SECONDS
    while time.monotonic() < deadline:  # a background render repaints band by band
        now = page.evaluate(FIGURE_FINGERPRINT, [name, index])
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since > 3:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"{name} view {index}: the render did not settle in {RENDER_SECONDS} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_in_jupyterlab(page, lab_server, path):
    name = path.relative_to(NOTEBOOK_DIR).as_posix()
    views_in_page = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .explorer-app")
    try:
        timing = open_and_run(page, lab_server, name, workspace=f"test-{path.stem}")
        views = page.evaluate(COUNT_VIEWS, name)
        timing["views"] = []
        for index in range(views):
            view = views_in_page.nth(index)
            view.scroll_into_view_if_needed()
            try:
                page.wait_for_function(FIGURE_DRAWN, arg=[name, index], timeout=CHANGE_SECONDS * 1000)
            except Exception as error:
                raise AssertionError(f"{name} view {index}: no plotly figure drew in {CHANGE_SECONDS} s "
                                     "(is anywidget's lab extension installed in this env?)") from error
            timing["views"].append(time_moves(page, view, name, index, move_primary_control))
            problems = page.evaluate(CELL_PROBLEMS, name)
            assert not problems, f"{name} after moving view {index}:\n" + "\n".join(problems)
        LATENCY["lab"][path.stem] = {"quick": QUICK, **timing}
        if views:
            first = views_in_page.first
            if os.environ.get("EXPLORER_BROWSER_RENDER") == "1":  # pictures for docs/
                render_full_quality(page, first, name, 0)
            screenshot_whole(page, first, ARTIFACTS / f"{path.stem}-view.png")
        page.screenshot(path=ARTIFACTS / f"{path.stem}.png", full_page=True)
        check_previews(name, timing["views"])
    except BaseException:
        try:
            page.screenshot(path=ARTIFACTS / f"{path.stem}-failure.png", full_page=True, timeout=10_000)
        finally:
            (ARTIFACTS / f"{path.stem}-console.log").write_text("\n".join(page.console_messages))
        raise
    finally:
        try:  # free the kernel's memory and cores for the next notebook
            page.evaluate(SHUTDOWN, name)
        except Exception:  # noqa: BLE001  (the server's teardown shuts every kernel down anyway)
            pass
