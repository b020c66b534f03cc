"""The toolkit every view is built on: declared controls, named traces, one background run.

A view is a subclass of :class:`App` that declares its controls as data and implements a few
hooks; the toolkit builds the widgets, validates the defaults it is handed, wires every
callback through :meth:`App.guarded` (an error becomes a one-line message, never a
traceback), tracks which settings the figure was made with, and runs long work in one
stoppable background thread with a progress bar::

    class MyApp(App):
        CONTROLS = {"steps": Int(21, 2000, 100), "nonlinearity": Choice(("tanh", "relu"))}
        PRIMARY = "steps"

        def build_figure(self):            # once; traces carry names
            return go.FigureWidget(go.Heatmap(name="measure"))

        def preview(self):                 # a control that applies "now" changed
            with self.figure.batch_update():
                self.trace("measure").z = compute(**self.values())

Controls that apply ``"now"`` call :meth:`App.preview` when they change; controls that apply
on the next ``"run"`` only mark themselves as pending (a dot after the label and a status
line) until :meth:`App.mark_applied` records the settings the figure now shows.
"""

from __future__ import annotations

import functools
import html
import logging
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar
from collections.abc import Callable

import ipywidgets as widgets

from explorer.apps import _static

log = logging.getLogger("explorer.apps")

PENDING_MARK = " \u2022"  # appended to the label of a changed setting the figure does not show yet
_STYLE = {"description_width": "initial"}
PROGRESS_SECONDS = 0.1  # most often a run updates its progress bar (each update is a message)


# -- declared controls --------------------------------------------------------------------
@dataclass(frozen=True)
class Control:
    """Declaration of one control: its kind, range and default, and when it takes effect.

    Build instances with :func:`Int`, :func:`Float`, :func:`Log`, :func:`Choice`,
    :func:`Toggle`, :func:`Check`, :func:`IntBox` or :func:`Text`.

    Attributes
    ----------
    kind : str
        "int", "float", "log", "choice", "toggle", "check", "int_box" or "text".
    value : object
        The default.
    low, high : float, optional
        Inclusive bounds (for "log": of the value itself, not of its exponent).
    step : float, optional
        Slider step (for "log": of the base-10 exponent).
    options : tuple
        Allowed values of "choice" and "toggle".
    label : str, optional
        Text beside the widget (defaults to the name with underscores as spaces).
    live : bool
        Send changes while the handle moves (``continuous_update``); off for costly controls.
    applies : str
        "now": a change calls :meth:`App.preview`; "run": a change waits for the next run and
        is marked as pending until then; "manual": the view observes it itself.
    readout : str, optional
        Number format of the slider's readout.
    """

    kind: str
    value: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    options: tuple = ()
    label: str | None = None
    live: bool = False
    applies: str = "now"
    readout: str | None = None
    width: str | None = None

    def check(self, name: str, value):
        """Return ``value`` converted for this control, or raise naming ``name`` and the range."""
        if self.kind in ("choice", "toggle"):
            if value not in self.options:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, self.options))}; "
                                 f"got {value!r}")
            return value
        if self.kind == "check":
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
            return value
        if self.kind == "text":
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {type(value).__name__}")
            return value
        integer = self.kind in ("int", "int_box")
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value) and (not integer or float(value).is_integer())
              and self.low <= value <= self.high)
        if not ok:
            kind = "an integer" if integer else "a number"
            raise ValueError(f"{name} must be {kind} in [{self.low:g}, {self.high:g}], got {value!r}")
        return int(value) if integer else float(value)

    def build(self, name: str, value) -> widgets.Widget:
        """A new widget showing ``value`` (already checked)."""
        label = self.label or name.replace("_", " ")
        common = {"description": label, "style": dict(_STYLE)}
        if self.width:
            common["layout"] = {"width": self.width}
        slider = {**common, "continuous_update": self.live}
        if self.readout:
            slider["readout_format"] = self.readout
        if self.kind == "int":
            return widgets.IntSlider(value=value, min=self.low, max=self.high, step=self.step or 1, **slider)
        if self.kind == "float":
            return widgets.FloatSlider(value=value, min=self.low, max=self.high,
                                       step=self.step or (self.high - self.low) / 100, **slider)
        if self.kind == "log":
            return widgets.FloatLogSlider(value=value, min=math.log10(self.low), max=math.log10(self.high),
                                          step=self.step or 0.25, **slider)
        if self.kind == "choice":
            return widgets.Dropdown(options=list(self.options), value=value, **common)
        if self.kind == "toggle":
            return widgets.ToggleButtons(options=list(self.options), value=value, **common)
        if self.kind == "check":
            return widgets.Checkbox(value=value, indent=False, **common)
        if self.kind == "int_box":
            return widgets.BoundedIntText(value=value, min=self.low, max=self.high,
                                          step=self.step or 1, **common)
        if self.kind == "text":
            return widgets.Textarea(value=value, continuous_update=False, **common)
        raise ValueError(f"unknown control kind {self.kind!r}")


def Int(low: int, high: int, value: int, step: int = 1, **options) -> Control:  # noqa: N802
    """An integer slider over [low, high]."""
    return Control("int", value, low, high, step, **options)


def Float(low: float, high: float, value: float, step: float | None = None, **options) -> Control:  # noqa: N802
    """A float slider over [low, high]."""
    return Control("float", value, low, high, step, **options)


def Log(low: float, high: float, value: float, step: float = 0.25, **options) -> Control:  # noqa: N802
    """A log-scale slider over [low, high] (values, not exponents); ``step`` in decades."""
    return Control("log", value, low, high, step, **{"readout": ".1e", **options})


def Choice(options, value=None, **extra) -> Control:  # noqa: N802
    """A dropdown over ``options`` (default: the first)."""
    options = tuple(options)
    return Control("choice", options[0] if value is None else value, options=options, **extra)


def Toggle(options, value=None, **extra) -> Control:  # noqa: N802
    """Toggle buttons over ``options`` (default: the first)."""
    options = tuple(options)
    return Control("toggle", options[0] if value is None else value, options=options, **extra)


def Check(value: bool = False, **extra) -> Control:  # noqa: N802
    """A checkbox."""
    return Control("check", bool(value), **extra)


def IntBox(low: int, high: int, value: int, step: int = 1, **extra) -> Control:  # noqa: N802
    """A bounded integer text box (for counts too wide for a slider, such as training steps)."""
    return Control("int_box", value, low, high, step, **extra)


def Text(value: str = "", **extra) -> Control:  # noqa: N802
    """A multi-line text area."""
    return Control("text", value, **extra)


# -- background runs ----------------------------------------------------------------------
class Run:
    """What a background job sees: whether Stop was pressed, and a way to report progress.

    Passed to the ``work`` function given to :meth:`App.start`.
    """

    def __init__(self, app: App, label: str):
        self._app = app
        self.label = label
        self.started = time.perf_counter()
        self._last_draw = -math.inf
        self._last_progress = -math.inf
        self._unshown = None  # the latest progress not yet on the bar (throttled)

    @property
    def stopped(self) -> bool:
        """True once the user pressed Stop (or code called :meth:`App.stop`)."""
        return self._app.stop_requested

    def progress(self, done: float, total: float, text: str | None = None) -> None:
        """Show ``done`` of ``total`` on the progress bar, with the time left when it is known.

        At most every PROGRESS_SECONDS (and always at the end): each change is a message to
        the browser, and a library callback every few milliseconds sent thousands a run.
        """
        now = time.perf_counter()
        if done < total and now - self._last_progress < PROGRESS_SECONDS:
            self._unshown = (done, total, text)
            return
        self._last_progress, self._unshown = now, None
        bar = self._app.progress
        fraction = 0.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
        bar.value = fraction
        elapsed = time.perf_counter() - self.started
        remaining = elapsed * (1 - fraction) / fraction if fraction > 0.02 else None
        bar.description = f"{self.label} {100 * fraction:.0f}%"
        detail = text or f"{self.label}: {done:g} of {total:g}"
        if remaining is not None and fraction < 1:
            detail += f", about {_duration(remaining)} left"
        self._app.show_message(detail)

    def flush(self) -> None:
        """Show the latest progress that throttling held back (the run is ending)."""
        if self._unshown is not None:
            self._last_progress = -math.inf
            self.progress(*self._unshown)

    def due(self, seconds: float) -> bool:
        """True at most once every ``seconds``: throttles redraws of a streaming run."""
        now = time.perf_counter()
        if now - self._last_draw >= seconds:
            self._last_draw = now
            return True
        return False

    def callback(self, draw: Callable | None = None, *, total: float | None = None,
                 every: float = 0.3, position: Callable[[Any], float] | None = None) -> Callable:
        """A library callback (``callback(partial) -> bool``) that streams into the view.

        Every library function that runs long takes ``callback(partial)`` and stops at its
        next checkpoint when the callback returns True; this one reports progress
        (``position(partial)`` of ``total``), calls ``draw(partial)`` at most every
        ``every`` seconds, and returns True once Stop was pressed.
        """

        def callback(partial):
            if total is not None and position is not None:
                self.progress(position(partial), total)
            if draw is not None and self.due(every):
                draw(partial)
            return self.stopped

        return callback


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


# -- the view -----------------------------------------------------------------------------
class App(widgets.VBox):
    """A view: one figure built once, declared controls, a status line, one background run.

    Subclasses set :attr:`CONTROLS` and :attr:`PRIMARY` and implement :meth:`build_figure`;
    they override :meth:`preview` (redraw after a control that applies "now"),
    :meth:`run` (return the work of the Run button, if :attr:`RUN_LABEL` is set) and
    :meth:`layout` (arrange the widgets) as they need.

    Parameters
    ----------
    **defaults
        Initial values of the declared controls, by name. Unknown names raise ``TypeError``;
        values outside a control's range or options raise ``ValueError`` naming the control.

    Attributes
    ----------
    figure : plotly.graph_objects.FigureWidget
        The one figure; traces are addressed by name with :meth:`trace`.
    controls : dict of str to ipywidgets.Widget
        The declared controls by name (tests move ``controls[primary_control]``).
    primary_control : str
        The control whose change most visibly changes the figure.
    status : ipywidgets.HTML
        One short line: what the figure shows, or what went wrong.
    progress : ipywidgets.FloatProgress
        Progress of the background run, in [0, 1].
    """

    CONTROLS: ClassVar[dict[str, Control]] = {}
    PRIMARY: ClassVar[str] = ""
    #: Label of the button that starts :meth:`run` (it turns into Stop while running); None:
    #: the view has no run button.
    RUN_LABEL: ClassVar[str | None] = None
    #: Whether displaying the view also writes a static copy of its figure below it, which a
    #: saved notebook shows without a kernel (see :mod:`explorer.apps._static`).
    STATIC_COPY: ClassVar[bool] = True

    def __init__(self, **defaults):
        unknown = sorted(set(defaults) - set(self.CONTROLS))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown setting(s) {', '.join(unknown)}; "
                            f"known: {', '.join(self.CONTROLS)}")
        values = {name: spec.check(name, defaults.get(name, spec.value))
                  for name, spec in self.CONTROLS.items()}
        self.controls = {name: spec.build(name, values[name]) for name, spec in self.CONTROLS.items()}
        self.primary_control = self.PRIMARY
        self.status = widgets.HTML(value="")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="idle",
                                              style=dict(_STYLE))
        self.run_button = None
        if self.RUN_LABEL is not None:
            self.run_button = widgets.Button(description=self.RUN_LABEL, icon="play",
                                             button_style="primary")
            self.run_button.on_click(self.guarded(lambda _button: self.toggle_run()))
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._quiet = 0
        self._applied: dict[str, Any] = {}
        self._traces: dict[str, int] = {}
        self.figure = self.build_figure()
        self._index_traces()
        self._static_copy: _static.StaticCopy | None = None
        hide_copy = widgets.HTML(_static.HIDE_COPY_STYLE, layout={"display": "none"})
        super().__init__(children=[*self.layout(), self.status, hide_copy])
        self.add_class("explorer-app")
        self.controls[self.primary_control].add_class("explorer-primary")  # browser tests find it
        for name, spec in self.CONTROLS.items():
            if spec.applies != "manual":
                self.controls[name].observe(self.guarded(functools.partial(self._changed, name)),
                                            names="value")

    # -- hooks for subclasses -------------------------------------------------------------
    def build_figure(self):
        """Build the figure once, with a ``name`` on every trace the view updates."""
        raise NotImplementedError

    def layout(self) -> list:
        """The rows above the status line: controls four to a row, buttons, then the figure."""
        names = list(self.controls)
        rows = [widgets.HBox([self.controls[n] for n in names[i:i + 4]])
                for i in range(0, len(names), 4)]
        return [*rows, widgets.HBox(self.buttons()), self.figure]

    def buttons(self) -> list:
        """The run button (if any) and the progress bar."""
        return [self.run_button, self.progress] if self.run_button is not None else [self.progress]

    def preview(self) -> None:
        """Redraw after a control that applies "now" changed (default: nothing)."""

    def run(self) -> Callable[[Run], None]:
        """Validate the settings and return the work of the run button: ``work(run)``."""
        raise NotImplementedError(f"{type(self).__name__} has no run")

    def _ipython_display_(self) -> None:
        """Display the live view and, below it, the static copy of its figure."""
        from IPython.display import display

        # plotly sends a FigureWidget's current data to the browser only when the figure itself
        # is displayed; inside a view it is not, and changes made before display would be lost
        # wherever the browser connects later (Voila, a reloaded page)
        self.figure._repr_mimebundle_()
        display(self._repr_mimebundle_(), raw=True)
        if self.STATIC_COPY and _static.wanted():
            if self._static_copy is None:
                self._static_copy = _static.StaticCopy(self.figure)
            self._static_copy.display()

    # -- controls -------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The current value of every declared control."""
        return {name: control.value for name, control in self.controls.items()}

    def set_values(self, **values) -> None:
        """Set controls from code without triggering their callbacks."""
        with self.quiet():
            for name, value in values.items():
                self.controls[name].value = self.CONTROLS[name].check(name, value)
        self._mark_pending()

    @contextmanager
    def quiet(self):
        """Suppress control callbacks while code (not the user) changes widgets."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _changed(self, name: str, _change) -> None:
        if self._quiet:
            return
        self.clear_message()
        if self.CONTROLS[name].applies == "run":
            self._mark_pending()
        else:
            self.preview()

    def mark_applied(self, names=None) -> None:
        """Record that the figure now shows the current values of ``names`` (default: all)."""
        current = self.values()
        for name in (current if names is None else names):
            self._applied[name] = current[name]
        self._mark_pending()

    def applied_settings(self) -> dict[str, Any]:
        """The settings the figure was made with (only those recorded by :meth:`mark_applied`)."""
        return dict(self._applied)

    def pending(self) -> list[str]:
        """Names of "run" controls changed since the figure was made."""
        return [name for name, spec in self.CONTROLS.items()
                if spec.applies == "run" and name in self._applied
                and self.controls[name].value != self._applied[name]]

    def _mark_pending(self) -> None:
        pending = set(self.pending())
        for name, spec in self.CONTROLS.items():
            label = spec.label or name.replace("_", " ")
            widget = self.controls[name]
            widget.description = label + (PENDING_MARK if name in pending else "")
            if name in pending:
                widget.add_class("explorer-pending")
            else:
                widget.remove_class("explorer-pending")
        if pending and not self.busy:
            self.show_message(f"changed: {', '.join(sorted(pending))}; press {self.RUN_LABEL} "
                              f"to apply (the figure shows the earlier settings)")

    # -- figure ---------------------------------------------------------------------------
    def _index_traces(self) -> None:
        self._traces = {trace.name: index for index, trace in enumerate(self.figure.data)
                        if trace.name}

    def trace(self, name: str):
        """The trace called ``name``."""
        try:
            return self.figure.data[self._traces[name]]
        except KeyError:
            raise KeyError(f"no trace named {name!r}; traces: {', '.join(self._traces)}") from None

    def annotation(self, name: str):
        """The layout annotation called ``name``."""
        for annotation in self.figure.layout.annotations:
            if annotation.name == name:
                return annotation
        raise KeyError(f"no annotation named {name!r}")

    # -- messages -------------------------------------------------------------------------
    def show_message(self, text: str, kind: str = "info") -> None:
        """Write one short line into the status area (``kind``: "info" or "error")."""
        colour = {"error": "#b00020", "info": "#444"}.get(kind, "#444")
        self.status.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

    def clear_message(self) -> None:
        """Empty the status line (a fixed input clears an old error)."""
        self.status.value = ""

    def guarded(self, callback: Callable) -> Callable:
        """Wrap a callback so an exception becomes a one-line message, not a traceback."""

        @functools.wraps(callback)
        def wrapper(*args, **kwargs):
            try:
                return callback(*args, **kwargs)
            except Exception as error:  # a view must never dump a traceback into the page
                log.debug("callback %r failed", callback, exc_info=True)
                self.show_message(f"{type(error).__name__}: {error}", kind="error")
                return None

        return wrapper

    # -- background work ------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Whether a background run is going on."""
        return self._worker is not None and self._worker.is_alive()

    @property
    def stop_requested(self) -> bool:
        """True once :meth:`stop` was called; long loops poll it between chunks."""
        return self._stop.is_set()

    def start(self, work: Callable[[Run], None], label: str = "run") -> bool:
        """Run ``work(run)`` in a background thread unless one is running; return whether it started.

        The run button (if any) reads Stop meanwhile; an exception in ``work`` becomes a
        one-line status message.
        """
        if self.busy:
            return False
        self._stop.clear()
        run = Run(self, label)
        self.progress.value, self.progress.description = 0.0, label

        def body():
            try:
                work(run)
            finally:
                run.flush()
                if self.run_button is not None:
                    self.run_button.description, self.run_button.icon = self.RUN_LABEL, "play"
                self.progress.description = "stopped" if self.stop_requested else "done"

        if self.run_button is not None:
            self.run_button.description, self.run_button.icon = "Stop", "stop"
        self._worker = threading.Thread(target=self.guarded(body), daemon=True, name=f"explorer-{label}")
        self._worker.start()
        return True

    def toggle_run(self) -> None:
        """The run button: stop a running job, or validate the settings and start :meth:`run`."""
        if self.busy:
            self.stop()
            return
        self.start(self.run(), label=(self.RUN_LABEL or "run").lower())

    def stop(self) -> None:
        """Ask the running job to finish at its next checkpoint."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background run (if any) has finished; return whether it has.

        Without ``timeout`` this waits as long as the run takes (the progress bar shows how
        long that is).
        """
        if self._worker is not None:
            self._worker.join(timeout)
        return not self.busy
