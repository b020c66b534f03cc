"""What every view shares: a status line that never shows a traceback, and a stoppable worker."""

from __future__ import annotations

import functools
import html
import logging
import threading
from typing import Callable

import ipywidgets as widgets

log = logging.getLogger("explorer.apps")


class App(widgets.VBox):
    """A view: one figure, named controls, a status line and at most one background worker.

    Parameters
    ----------
    children : list of widgets
        The layout (controls, figure, status), top to bottom.
    figure : plotly.graph_objects.FigureWidget
        The figure the view updates in place.
    controls : dict of str to widget
        The user-facing controls by name, so code (and tests) can drive the view.
    primary_control : str
        The control whose change most visibly changes the figure (the one tests move).
    """

    def __init__(self, children, *, figure, controls: dict, primary_control: str, **kwargs):
        self.status = widgets.HTML(value="")
        super().__init__(children=[*children, self.status], **kwargs)
        self.add_class("explorer-app")
        self.figure = figure
        self.controls = controls
        self.primary_control = primary_control
        # lets browser tests find the control to move (tests/browser)
        controls[primary_control].add_class("explorer-primary")
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # -- messages -----------------------------------------------------------------------
    def show_message(self, text: str, kind: str = "info") -> None:
        """Write one short line into the status area (``kind``: info, error)."""
        colour = {"error": "#b00020", "info": "#444"}.get(kind, "#444")
        self.status.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

    def guarded(self, callback: Callable) -> Callable:
        """Wrap a widget callback so an exception becomes a one-line message, not a traceback."""

        @functools.wraps(callback)
        def wrapper(*args, **kwargs):
            try:
                return callback(*args, **kwargs)
            except Exception as error:  # a view must never dump a traceback into the page
                log.debug("callback %s failed", callback.__name__, exc_info=True)
                self.show_message(f"{type(error).__name__}: {error}", kind="error")
                return None

        return wrapper

    # -- background work ----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    @property
    def stop_requested(self) -> bool:
        """True once :meth:`stop` was called; long loops poll it between chunks."""
        return self._stop.is_set()

    def start(self, work: Callable[[], None]) -> bool:
        """Run ``work`` in a daemon thread unless one is already running; returns whether it started."""
        if self.busy:
            return False
        self._stop.clear()
        self._worker = threading.Thread(target=self.guarded(work), daemon=True)
        self._worker.start()
        return True

    def stop(self) -> None:
        """Ask the running worker to finish at its next checkpoint."""
        self._stop.set()

    def wait(self, timeout: float | None = 120.0) -> None:
        """Block until the background worker (if any) has finished."""
        if self._worker is not None:
            self._worker.join(timeout)
