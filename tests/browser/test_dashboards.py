"""Every dashboard as a student opens it: a Voila page showing one view and no code.

Per dashboard (``dashboards/<view>.ipynb``, served by ``voila`` on loopback with a token):
open the page, wait for the view's figure, check no cell failed and no code shows, move the
main control a few times (timed as in ``test_lab.py``), and screenshot the view to
``tests/artifacts/browser/dashboard-<view>.png``. The time from the start of the page load
to the first drawn figure (kernel start and the notebook's run included) goes to
``latency.json`` with the previews.
"""

from __future__ import annotations

import nbformat
import pytest

from tests.browser.conftest import ARTIFACTS, DASHBOARD_DIR
from tests.browser.measure import (
    FIRST_FIGURE_TIME,
    LATENCY,
    check_previews,
    move_primary_control,
    screenshot_whole,
    time_moves,
)

DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.ipynb"))
OPEN_SECONDS = 300  # the kernel starts and runs the notebook before the page is sent

pytestmark = pytest.mark.browser

# what a student would see go wrong: Voila's error notes, tracebacks, widgets that did not load
PAGE_PROBLEMS = """() => {
  const problems = [];
  const text = document.body.innerText || '';
  for (const pattern of [/There was an error when executing cell/, /Traceback/, /Error displaying widget/,
                         /Failed to load model class/])
    if (pattern.test(text)) problems.push(pattern.source);
  for (const node of document.querySelectorAll('.explorer-app span[style*="b00020"]'))
    problems.push('view status: ' + node.textContent);
  return problems;
}"""

# source code on the page (Voila strips inputs by default; a template change must not bring them back)
CODE_SHOWN = """(source) => document.querySelectorAll('.jp-CodeCell .jp-InputArea, .cm-editor').length > 0
                             || (document.body.innerText || '').includes(source)"""


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_in_voila(page, voila_server, path):
    try:
        page.goto(voila_server.url(f"voila/render/{path.name}"), wait_until="commit",
                  timeout=OPEN_SECONDS * 1000)
        # milliseconds since the navigation started (the page's time origin)
        first = page.wait_for_function(f"() => ({FIRST_FIGURE_TIME})(null)", polling="raf",
                                       timeout=OPEN_SECONDS * 1000).json_value()
        problems = page.evaluate(PAGE_PROBLEMS)
        assert not problems, f"{path.name}: {problems}"
        code = next(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
        assert not page.evaluate(CODE_SHOWN, code.splitlines()[0]), f"{path.name}: the dashboard shows code"
        view = page.locator(".explorer-app").first
        timing = time_moves(page, view, None, 0, move_primary_control)
        assert not page.evaluate(PAGE_PROBLEMS), f"{path.name} after moving its control"
        LATENCY["dashboards"][path.stem] = {"open_to_first_figure_s": round(first / 1000, 2),
                                            "views": [timing]}
        screenshot_whole(page, view, ARTIFACTS / f"dashboard-{path.stem}.png")
        check_previews(f"dashboards/{path.name}", [timing])
    except BaseException:
        try:
            page.screenshot(path=ARTIFACTS / f"dashboard-{path.stem}-failure.png", full_page=True,
                            timeout=10_000)
        finally:
            (ARTIFACTS / f"dashboard-{path.stem}-console.log").write_text("\n".join(page.console_messages))
        raise
