"""What the browser tests do inside the page: find views, drive them, time what the reader sees.

Shared by ``test_lab.py`` (JupyterLab), ``test_dashboards.py`` (Voila) and ``test_reopen.py``.
Every snippet takes ``path``: a notebook path in JupyterLab, or None for a page that is the
notebook (Voila), whose views are anywhere in the document.

Timing is measured in the page with one clock (``performance.now()``; event time stamps use
it too) and polled once per animation frame (``requestAnimationFrame``), so a time is the
frame in which the reader can first see the change:

- preview: from the key press (or click) on a view's main control to the first frame that
  shows a figure whose trace arrays were replaced, checked then to hold different data;
- first figure: from "Run all" (Lab) or from the start of the page load (Voila) to the first
  frame that shows a drawn explorer figure.

Results are collected in :data:`LATENCY` and written to ``tests/artifacts/browser/latency.json``
at the end of the session (see ``conftest.py``).
"""

from __future__ import annotations

import os
import re
import statistics
import time

#: preview moves per view; the median must stay under PREVIEW_LIMIT_MS
MOVES = 5
PREVIEW_LIMIT_MS = 1000.0
#: rounds of moves a view gets when a round's median is over the limit (see time_moves)
ROUNDS = 2
STABLE_MS = 800  # the figure must not change this long before a move is timed
CHANGE_SECONDS = 60
IDLE_SECONDS = 300  # a view's background run may finish before its previews are timed

#: filled by the tests, saved by conftest.py: {"lab": {...}, "dashboards": {...}}
LATENCY: dict[str, dict] = {"lab": {}, "dashboards": {}}

FIND_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const widget of Array.from(app.shell.widgets('main'))) {
    if (widget.context && widget.context.path === path && widget.content && widget.sessionContext)
      return widget;
  }
  return null;
}
"""

ROOT = f"""(path) => {{
  if (path === null) return document.body;
  const panel = ({FIND_PANEL})(path);
  return panel ? panel.node : null;
}}"""

VIEW_PLOT = f"""([path, index]) => {{
  const root = ({ROOT})(path);
  const view = root && root.querySelectorAll('.explorer-app')[index];
  return view ? view.querySelector('.js-plotly-plot') : null;
}}"""

# a digest of a figure's data: every trace's arrays as plotly.js holds them (typed arrays, or
# base64 typed-array specs as in a figure drawn from plotly's JSON, decoded alike)
DATA_FINGERPRINT = """(data) => {
  const TYPES = {f8: Float64Array, f4: Float32Array, i4: Int32Array, u4: Uint32Array, i2: Int16Array,
                 u2: Uint16Array, i1: Int8Array, u1: Uint8Array, u1c: Uint8ClampedArray};
  const decode = (spec) => {
    const bytes = Uint8Array.from(atob(spec.bdata), (c) => c.charCodeAt(0));
    const flat = Array.from(new TYPES[spec.dtype](bytes.buffer));
    const [rows, columns] = String(spec.shape || flat.length).split(',').map(Number);
    return columns ? Array.from({length: rows}, (_, r) => flat.slice(r * columns, (r + 1) * columns)) : flat;
  };
  const plain = (value) => (value && typeof value.bdata === 'string' ? decode(value)
                            : ArrayBuffer.isView(value) ? Array.from(value)
                            : Array.isArray(value) ? value.map(plain) : value);
  // a heatmap's missing x (y) draws as 0, 1, 2, ...: the same picture as those values given (the
  // kernel's copy of the groups view lost an x = arange(n) that the live view still holds)
  const axis = (trace, name, length) => {
    const values = plain(trace[name]);
    const start = trace[name + '0'] === undefined ? 0 : trace[name + '0'];
    const step = trace['d' + name] === undefined ? 1 : trace['d' + name];
    return values !== undefined || length === undefined ? values
      : Array.from({length}, (_, i) => start + i * step);
  };
  const text = JSON.stringify(data.map((trace) => {
    const z = plain(trace.z);
    const grid = Array.isArray(z) && Array.isArray(z[0]);
    return [trace.type || 'scatter', axis(trace, 'x', grid ? z[0].length : undefined),
            axis(trace, 'y', grid ? z.length : undefined), z, plain(trace.text)];
  }));
  let hash = 2166136261;  // FNV-1a
  for (let i = 0; i < text.length; i++) { hash ^= text.charCodeAt(i); hash = Math.imul(hash, 16777619); }
  return `${data.length}:${text.length}:${(hash >>> 0).toString(16)}`;
}"""

# the same digest of what a plotly figure element drew (null until it has drawn)
FINGERPRINT = f"""(plot) => (!plot || !Array.isArray(plot.data) || !plot.querySelector('.main-svg'))
  ? null : ({DATA_FINGERPRINT})(plot.data)"""

FIGURE_FINGERPRINT = f"(args) => ({FINGERPRINT})(({VIEW_PLOT})(args))"

FIGURE_CHANGED = f"""([path, index, before]) => {{
  const now = ({FIGURE_FINGERPRINT})([path, index]);
  return now !== null && now !== before;
}}"""

# the drawn figure has a visible, non-empty plot area
DRAWN = """(plot) => {
  if (!plot || !plot._fullData || plot._fullData.length === 0) return false;
  const svg = plot.querySelector('.main-svg');
  const box = svg && svg.getBoundingClientRect();
  return !!box && box.width > 50 && box.height > 50;
}"""

FIGURE_DRAWN = f"(args) => ({DRAWN})(({VIEW_PLOT})(args))"

# the time of the first frame showing any drawn explorer figure (null until then)
FIRST_FIGURE_TIME = f"""(path) => {{
  const root = ({ROOT})(path);
  if (!root) return null;
  for (const plot of root.querySelectorAll('.explorer-app .js-plotly-plot'))
    if (({DRAWN})(plot)) return performance.now();
  return null;
}}"""

# identities of the arrays plotly.js draws: a redraw with new data replaces them
ARRAYS = """(plot) => (plot && Array.isArray(plot.data))
  ? [plot.data.length, ...plot.data.flatMap((t) => [t.x, t.y, t.z, t.text, t.marker && t.marker.color])]
  : []"""

# start timing one move: remember the arrays and the data, note the first input event
ARM = f"""([path, index]) => {{
  const plot = ({VIEW_PLOT})([path, index]);
  const state = {{path, index, arrays: ({ARRAYS})(plot), before: ({FINGERPRINT})(plot), input: null}};
  state.onInput = (event) => {{ if (state.input === null) state.input = event.timeStamp; }};
  for (const kind of ['keydown', 'click', 'change']) document.addEventListener(kind, state.onInput, true);
  window.__explorerMove = state;
  return state.before;
}}"""

# polled every frame: the frame time once the figure shows new data, else null
MOVE_DRAWN = f"""() => {{
  const state = window.__explorerMove;
  if (!state || state.input === null) return null;
  const plot = ({VIEW_PLOT})([state.path, state.index]);  // looked up again: a view may re-render
  const arrays = ({ARRAYS})(plot);
  if (arrays.length === state.arrays.length && arrays.every((a, i) => a === state.arrays[i])) return null;
  const now = performance.now();
  state.arrays = arrays;
  if (({FINGERPRINT})(plot) === state.before) return null;  // redrawn with the same data
  for (const kind of ['keydown', 'click', 'change']) document.removeEventListener(kind, state.onInput, true);
  return {{input: state.input, drawn: now}};
}}"""

# polled: the identities of the arrays, to wait until a view stops redrawing
ARRAY_STAMP = f"""(args) => {{
  const arrays = ({ARRAYS})(({VIEW_PLOT})(args));
  window.__explorerStamps = window.__explorerStamps || new WeakMap();
  return arrays.map((a) => {{
    if (a === null || typeof a !== 'object') return String(a);
    if (!window.__explorerStamps.has(a)) window.__explorerStamps.set(a, Math.random().toString(36).slice(2));
    return window.__explorerStamps.get(a);
  }}).join(',');
}}"""


def move_primary_control(view) -> str:
    """Move the view's ``.explorer-primary`` control one step with the keyboard; returns how."""
    control = view.locator(".explorer-primary").first
    handle = control.locator(".noUi-handle")
    if handle.count():  # IntSlider, FloatSlider, FloatLogSlider, SelectionSlider
        handle = handle.first
        now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        try:
            at_max = float(now) >= float(top)
        except (TypeError, ValueError):
            at_max = False
        key = "ArrowLeft" if at_max else "ArrowRight"
        handle.focus()
        handle.press(key)
        return f"slider {key}"
    select = control.locator("select")
    if select.count():  # Dropdown
        select = select.first
        before = select.input_value()
        options = select.locator("option").evaluate_all("(nodes) => nodes.map((n) => n.value)")
        select.focus()
        select.press("ArrowUp" if before == options[-1] else "ArrowDown")
        if select.input_value() == before:  # headless builds may ignore keys on a closed select
            select.select_option(options[(options.index(before) + 1) % len(options)])
        return "dropdown"
    checkbox = control.locator("input[type=checkbox]")
    if checkbox.count():
        checkbox.first.focus()
        checkbox.first.press("Space")
        return "checkbox"
    buttons = control.locator("button:not(.mod-active)")
    if buttons.count():  # ToggleButtons
        buttons.first.click()
        return "toggle buttons"
    raise AssertionError(f"do not know how to move the primary control: {control.get_attribute('class')}")


def screenshot_whole(page, element, path) -> None:
    """Screenshot ``element`` whole: a view taller than the window would be cut by Lab's chrome."""
    viewport = page.viewport_size
    height = element.bounding_box()["height"]
    if height + 250 > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": int(height) + 300})
    try:
        element.scroll_into_view_if_needed()
        page.evaluate("() => document.activeElement && document.activeElement.blur()")  # no focus ring
        page.wait_for_timeout(300)  # let plotly finish drawing (it redraws on resize)
        element.screenshot(path=path)
    finally:
        page.set_viewport_size(viewport)


def wait_until_stable(page, path, index: int, quiet_ms: int = STABLE_MS, limit_s: float = 60) -> None:
    """Wait until the view's figure has not been redrawn for ``quiet_ms`` (background refinement)."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        stamp = page.evaluate(ARRAY_STAMP, [path, index])
        if stamp != last:
            last, since = stamp, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= quiet_ms:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"view {index}: the figure kept redrawing for {limit_s:.0f} s")


def wait_until_idle(view, limit_s: float = IDLE_SECONDS) -> bool:
    """Wait until the view's background run (its button reads "Stop") ends; press Stop after
    ``limit_s``. Returns whether a run had to be stopped. A run that streams into the figure
    would otherwise be timed as if it were the preview."""
    stop = view.locator("button", has_text=re.compile(r"^\s*Stop\s*$"))
    deadline = time.monotonic() + limit_s
    while stop.count() and time.monotonic() < deadline:
        view.page.wait_for_timeout(500)
    if not stop.count():
        return False
    stop.first.click()
    view.page.wait_for_function("(node) => !/^\\s*Stop\\s*$/.test(node.innerText)",
                                arg=stop.first.element_handle(), timeout=CHANGE_SECONDS * 1000)
    return True


def time_moves(page, view, path, index: int, move, moves: int = MOVES, rounds: int = ROUNDS) -> dict:
    """Move the view's main control ``moves`` times with ``move(view)``; preview times in ms.

    The view's background run (if any) is let finish first (or stopped, see
    :func:`wait_until_idle`); the machine's load average is recorded with the times. A round
    whose median is above PREVIEW_LIMIT_MS is timed again, up to ``rounds`` rounds, and the
    last one is judged: on a shared host a burst of load can slow a few moves by a second, and
    a view that is slow in every round still fails. Earlier rounds are kept ("slow_rounds_ms").
    """
    stopped = wait_until_idle(view)
    slow_rounds, samples, how = [], [], ""
    for _ in range(rounds):
        if samples:
            slow_rounds.append(samples)
        samples = []
        for _ in range(moves):
            wait_until_stable(page, path, index)
            page.evaluate(ARM, [path, index])
            how = move(view)
            try:
                result = page.wait_for_function(MOVE_DRAWN, polling="raf", timeout=CHANGE_SECONDS * 1000)
            except Exception as error:
                raise AssertionError(f"view {index}: the figure did not change within {CHANGE_SECONDS} s "
                                     f"of moving its main control ({how})") from error
            times = result.json_value()
            samples.append(round(times["drawn"] - times["input"], 1))
        if statistics.median(samples) <= PREVIEW_LIMIT_MS:
            break
    return {"control": how, "preview_ms": samples, "median_ms": statistics.median(samples),
            "max_ms": max(samples), "slow_rounds_ms": slow_rounds, "stopped_a_run_first": stopped,
            "load_average": round(os.getloadavg()[0], 1)}


def check_previews(where: str, views: list[dict]) -> None:
    """Fail if a view's median preview exceeds PREVIEW_LIMIT_MS (``screenshots.py``, which only
    wants pictures, sets ``EXPLORER_BROWSER_CHECK_PREVIEWS=0``)."""
    if os.environ.get("EXPLORER_BROWSER_CHECK_PREVIEWS") == "0":
        return
    slow = [f"view {number}: median {view['median_ms']:.0f} ms {view['preview_ms']}"
            + "".join(f", after {earlier}" for earlier in view.get("slow_rounds_ms", []))
            for number, view in enumerate(views) if view["median_ms"] > PREVIEW_LIMIT_MS]
    assert not slow, f"{where}: previews slower than {PREVIEW_LIMIT_MS:.0f} ms: " + "; ".join(slow)
