"""A copy of a view's figure that a saved notebook keeps: it shows without a kernel.

A live view is a widget; a notebook saved and reopened later (or a handout) has no kernel,
and JupyterLab shows "Error displaying widget: model not found" where the view was. So
displaying an :class:`~explorer.apps._base.App` also writes, below the live view, the figure
in plotly's own format (``application/vnd.plotly.v1+json``), which JupyterLab and Voila draw
with the plotly extension that plotly installs, no kernel needed. Once drawn, that extension
adds a PNG of the figure to the same output (``image/png``), so a notebook saved after
reopening also shows the picture where only images render (nbconvert, GitHub).

While the view is live, a ``<style>`` inside the view hides the copy (it follows the live
view in the same output area); the copy is rewritten once the figure has stopped changing for
:data:`QUIET_SECONDS`, so saving shows the figure as it was last drawn. Heatmaps larger than
:data:`MAX_CELLS` are thinned (every k-th row and column) and stored as float32: the copy is a
picture, and a 2048-pixel render must not put 40 MB into the notebook. Voila dashboards get
no copy (they are never saved).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time

import numpy as np
from _plotly_utils.utils import to_typed_array_spec

log = logging.getLogger("explorer.apps")

MIME = "application/vnd.plotly.v1+json"
QUIET_SECONDS = 1.0
MAX_CELLS = 512 * 512
#: Copies bigger than this (bytes of JSON) are not written: the notebook would become unwieldy.
MAX_BYTES = 16_000_000
# the messages plotly's FigureWidget sends its browser side when the figure changes
_CHANGES = ("_py2js_addTraces", "_py2js_restyle", "_py2js_relayout", "_py2js_update",
            "_py2js_animate", "_py2js_deleteTraces", "_py2js_moveTraces",
            "_py2js_removeLayoutProps", "_py2js_removeTraceProps")
#: Put inside the live view: hides the copies that follow it in its output area. A reopened
#: notebook has no live view, hence no such style, and shows the copy.
HIDE_COPY_STYLE = ("<style>.jp-OutputArea-child:has(.explorer-app) ~ "
                   ".jp-OutputArea-child:has(.jp-RenderedPlotly) {display: none;}</style>")


def wanted() -> bool:
    """Whether a copy can serve anyone: not in a Voila dashboard, which is never saved."""
    return not any(name in os.environ for name in ("VOILA_KERNEL_ID", "VOILA_BASE_URL"))


def _thin(trace: dict, source) -> None:
    """Thin a large heatmap-like ``z`` (and its axes) in the copy ``trace`` of ``source``."""
    z = getattr(source, "z", None) if "z" in source else None
    if z is None:
        return
    z = np.asarray(z)
    if z.ndim != 2 or z.dtype.kind not in "fiu" or z.size <= MAX_CELLS:
        return
    stride = math.ceil(math.sqrt(z.size / MAX_CELLS))
    trace["z"] = to_typed_array_spec(np.ascontiguousarray(z[::stride, ::stride], dtype=np.float32))
    for axis, length in (("x", z.shape[1]), ("y", z.shape[0])):
        values = getattr(source, axis, None)
        if values is not None and len(values) == length:
            trace[axis] = to_typed_array_spec(np.ascontiguousarray(np.asarray(values)[::stride]))
        elif f"d{axis}" in trace:
            trace[f"d{axis}"] = trace[f"d{axis}"] * stride


def figure_bundle(figure) -> dict | None:
    """The display bundle of a static copy of ``figure``; None if it would be too big."""
    import plotly.io as pio

    spec = figure.to_dict()
    for trace, source in zip(spec["data"], figure.data):
        _thin(trace, source)
    spec["config"] = {"displaylogo": False}
    text = pio.to_json(spec, validate=False, remove_uids=False)
    if len(text) > MAX_BYTES:
        log.info("static copy of the figure skipped: %d bytes of JSON", len(text))
        return None
    return {MIME: json.loads(text), "text/plain": "(the figure; run the notebook for the live view)"}


class StaticCopy:
    """Displays a static copy of ``figure`` and keeps it up to date, one handle per display."""

    def __init__(self, figure):
        self.figure = figure
        self.handles = []
        self._lock = threading.Lock()
        self._changed_at: float | None = None
        figure.observe(self._changed, names=list(_CHANGES))

    def display(self) -> None:
        """Write a copy into the current output (below the live view displayed just before)."""
        from IPython.display import display

        bundle = figure_bundle(self.figure) or {"text/plain": "(figure too large to save)"}
        self.handles.append(display(bundle, raw=True, display_id=True))

    def _changed(self, change) -> None:
        if change["new"] is None:  # plotly clears each message right after sending it
            return
        with self._lock:
            settling = self._changed_at is not None
            self._changed_at = time.monotonic()
        if not settling:
            threading.Thread(target=self._settle, daemon=True, name="explorer-static-copy").start()

    def _settle(self) -> None:
        while True:
            with self._lock:
                wait = self._changed_at + QUIET_SECONDS - time.monotonic()
                if wait <= 0:
                    self._changed_at = None  # a change from now on starts a new wait
                    break
            time.sleep(wait)
        try:
            bundle = figure_bundle(self.figure)
        except Exception:  # the figure changed while being copied: the next change retries
            log.debug("static copy failed", exc_info=True)
            return
        if bundle is not None:
            for handle in self.handles:
                handle.update(bundle, raw=True)
