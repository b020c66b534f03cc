"""Trainability fractal view: a heatmap of the convergence measure you can zoom into."""

from __future__ import annotations

import math
import time
from typing import ClassVar

import ipywidgets as widgets
import numba
import numpy as np
import plotly.graph_objects as go

from explorer.apps._base import App, Choice, Control, Int, IntBox
from explorer.fractal import (
    CONFIGURATIONS,
    MIN_STEPS,
    Scan,
    Window,
    boundary,
    boundary_target,
    box_counting_dimension,
    grid_axes,
    make_problem,
    measure_pixels,
    rank_stretch,
    scan,
    useful_flops,
    zoom_window,
)
from explorer.fractal._lanes import LANES
from explorer.fractal.paper import HOME  # the paper notebook's starting window
from explorer.fractal.scan import _AXIS_NAMES

CLICK_ZOOM = 4.0
PREVIEW_SECONDS = 0.2  # budget of a preview drawn while the control moves
MIN_PREVIEW = 12  # pixels per side below which a preview is not worth drawing synchronously
BACKGROUND_PREVIEW = 16  # pixels per side of a preview too costly to draw synchronously
TILE_SECONDS = 2.0  # compiled work per Dask task (a running task cannot be stopped)
COST_REFRESH_SECONDS = 30.0  # how long a measured rate of the cost model is trusted
PROBE_FLOPS = 2e8  # useful work of the probe that measures the rate (~20 ms when idle)
RENDER_RESOLUTIONS = (128, 256, 512, 1024, 2048)
LIVE_PIXELS = 256  # per side, of the partial image painted while a render runs
SHOWN_PIXELS = 512  # per side, of a finished image sent to the browser
# blue = converged (-1), red = diverged (+1), with the rank stretch's gap around zero
COLOURS = [[0.0, "#08306b"], [0.375, "#9ecae1"], [0.5, "#ffffff"], [0.625, "#fcae91"],
           [1.0, "#67000d"]]
_TINY = make_problem(width=1, n_samples=1)  # times the per-call overhead of the cost model
#: The configurations menu: each :data:`explorer.fractal.CONFIGURATIONS` entry by its label
#: (the paper's six first, then the public notebook's data sizes).
CONFIGURATION_LABELS = {configuration.label: configuration
                        for configuration in CONFIGURATIONS.values()}


class FractalApp(App):
    """See :func:`build_fractal_app`."""

    CONTROLS: ClassVar[dict[str, Control]] = {
        "configuration": Choice(tuple(CONFIGURATION_LABELS), width="460px"),
        "width": Int(2, 32, 8, label="network width"),
        "steps": Int(21, 1000, 100, label="training steps"),
        "seed": IntBox(0, 2**31 - 1, 0, width="140px"),
        "preview_resolution": Int(16, 160, 64, step=8, label="max preview pixels"),
        "render_resolution": Choice(RENDER_RESOLUTIONS, 256, label="render pixels", applies="run"),
    }
    PRIMARY = "steps"
    RUN_LABEL = "Render"

    def __init__(self, *, client=None, window: Window = HOME, **defaults):
        if defaults.get("configuration") in CONFIGURATIONS:  # a name such as "tanh_minibatch"
            defaults["configuration"] = CONFIGURATIONS[defaults["configuration"]].label
        if client is not None:
            from explorer.distributed import _check_client

            _check_client(client)
        grid_axes(*window, 2)  # refuse an impossible window before building anything
        self.client = client
        self.window = Window(*window)
        self.history: list[Window] = []
        self.scan: Scan | None = None  # the last complete image shown
        self._rates: dict[tuple, tuple[float, float, float]] = {}  # overhead, flops/s, when
        self._range_bit = False
        self._axes_window = self.window  # what the axes were last told to show
        self.back_button = widgets.Button(description="Back", icon="arrow-left")
        self.reset_button = widgets.Button(description="Reset", icon="home")
        self.info = widgets.HTML()
        super().__init__(**defaults)
        self.back_button.on_click(self.guarded(lambda _button: self.back()))
        self.reset_button.on_click(self.guarded(lambda _button: self.reset()))
        self.trace("measure").on_click(self.guarded(self._on_click))
        self.figure.layout.on_change(self.guarded(self._on_axes), "xaxis.range", "yaxis.range",
                                     "xaxis.autorange", "yaxis.autorange")
        self.guarded(self.preview)()

    # -- figure and layout ------------------------------------------------------------------
    def build_figure(self):
        heatmap = go.Heatmap(name="measure", z=[[0.0]], x=[0.0], y=[0.0], zmin=-1, zmax=1,
                             colorscale=COLOURS,
                             hovertemplate="x %{x:.5g}<br>y %{y:.5g}<br>measure %{text}<extra></extra>",
                             colorbar={"title": {"text": "rank"}, "tickvals": [-1, 0, 1],
                                       "ticktext": ["converges", "boundary", "diverges"]})
        target = go.Scatter(name="zoom target", x=[], y=[], mode="markers", hoverinfo="skip",
                            marker={"symbol": "x-thin", "size": 14, "color": "#111",
                                    "line": {"width": 2, "color": "#111"}}, showlegend=False)
        return go.FigureWidget(data=[heatmap, target], layout=go.Layout(
            width=640, height=560, margin={"l": 70, "r": 20, "t": 40, "b": 55}, dragmode="zoom",
            xaxis={"range": list(self.window.x_range), "autorange": False},
            yaxis={"range": list(self.window.y_range), "autorange": False}))

    def layout(self) -> list:
        c = self.controls
        return [widgets.HBox([c["configuration"], c["seed"]]),
                widgets.HBox([c["width"], c["steps"]]),
                widgets.HBox([c["preview_resolution"], c["render_resolution"]]),
                widgets.HBox([*self.buttons(), self.back_button, self.reset_button]),
                self.figure, self.info]

    # -- the computation --------------------------------------------------------------------
    def problem_and_options(self):
        """The :class:`~explorer.fractal.Problem` and the scan options of the current controls."""
        values = self.values()
        configuration = CONFIGURATION_LABELS[values["configuration"]]
        problem = configuration.problem(width=values["width"], seed=values["seed"])
        options = {"steps": values["steps"], **configuration.scan_options()}
        if options.get("minibatch") is not None:
            options["minibatch_seed"] = values["seed"]
        return problem, options

    def cost(self, problem, options) -> tuple[float, float]:
        """The cost model of the previews: (seconds per call, seconds per pixel).

        A scan of ``n`` pixels that all train every step takes about ``overhead + n *
        per_pixel``. The overhead is timed on a one-unit network; a pixel's useful flops
        (:func:`explorer.fractal.useful_flops`) are divided by a rate measured here, for this
        problem's shape, on pixels of the always-converging corner (about 0.2 GFLOP, enough to
        dwarf the overhead; at least one group of lanes per thread, ~0.15 s at width 32). Both
        are measured again after 30 s: the load of the machine changes.
        """
        minibatch = options.get("minibatch")
        key = (problem.width, problem.X.shape[0], problem.nonlinearity, minibatch)
        overhead, rate, measured_at = self._rates.get(key, (0.0, 0.0, -math.inf))
        if time.perf_counter() - measured_at > COST_REFRESH_SECONDS:
            probe = {**options, "steps": MIN_STEPS}
            lanes = LANES * numba.get_num_threads()  # one group of lanes per thread at least
            pixels = PROBE_FLOPS / useful_flops(problem, MIN_STEPS, 1, minibatch)
            rows = int(np.clip(pixels // lanes, 1, 1024))
            low, columns, lows = np.array([1e-3]), np.full(lanes, 1e-3), np.full(rows, 1e-3)
            if not self._rates:  # the first call in a process may load the compiled kernel
                measure_pixels(problem, low, low, **probe)
            overhead = _seconds(lambda: measure_pixels(_TINY, low, low, MIN_STEPS))
            elapsed = _seconds(lambda: measure_pixels(problem, columns, lows, **probe))
            flops = useful_flops(problem, MIN_STEPS, lanes * rows, minibatch)
            rate = flops / max(elapsed - overhead, 0.5 * elapsed)
            self._rates[key] = (overhead, rate, time.perf_counter())
        return overhead, useful_flops(problem, options["steps"], 1, minibatch) / rate

    def _scan(self, problem, options, window, resolution, run=None, paint=None) -> Scan:
        """Scan ``window``; with ``run``, report progress and honour Stop (within ~0.25 s).

        ``paint(partial)`` gets the partial :class:`Scan` (NaN where not computed) at most
        every 0.3 s. A stopped scan comes back with ``stopped_early``.
        """
        callback = None
        if run is not None:
            callback = run.callback(paint, total=resolution**2,
                                    position=lambda partial: int(partial.finished.sum()))
        return scan(problem, *window, resolution, callback=callback, **options)

    # -- preview ----------------------------------------------------------------------------
    def preview(self):
        """Redraw the current window as fast as the cost model allows (every control move).

        Within :data:`PREVIEW_SECONDS` the preview is drawn at once, shrunk below "max preview
        pixels" when needed; when even :data:`MIN_PREVIEW` pixels per side would take longer,
        a small preview runs in the background with a progress bar and Stop.
        """
        self._halt()
        problem, options = self.problem_and_options()
        window = self.window
        self._assert_axes(window)  # the axes follow at once, even before the new image
        overhead, per_pixel = self.cost(problem, options)
        limit = self.controls["preview_resolution"].value
        resolution = min(limit, int(math.sqrt(max(PREVIEW_SECONDS - overhead, 0) / per_pixel)))
        if resolution >= MIN_PREVIEW:
            note = "" if resolution == limit else (
                f"preview shrunk to {resolution}x{resolution} to stay within "
                f"{PREVIEW_SECONDS * 1e3:.0f} ms; press Render for full resolution")
            self._show(self._scan(problem, options, window, resolution),
                       f"preview {resolution}x{resolution}", note)
            return
        resolution = min(limit, BACKGROUND_PREVIEW)
        seconds = overhead + per_pixel * resolution**2
        about = f"a {resolution}x{resolution} preview takes up to {seconds:.0f} s"

        def work(run):
            result = self._scan(problem, options, window, resolution, run, self._paint_partial)
            if not result.stopped_early:
                run.progress(resolution**2, resolution**2)
                self._show(result, f"preview {resolution}x{resolution}",
                           f"{about} at these settings, so it ran in the background")

        self.start(work, label="preview")
        self.show_message(f"{about} at these settings: computing it in the background "
                          "(Stop cancels)")

    def _halt(self):
        """Stop a running preview or render (it stops within ~0.25 s) and wait for it."""
        if self.busy:
            self.stop()
            self.wait()

    # -- render -----------------------------------------------------------------------------
    def run(self):
        """The Render button: the current window at "render pixels", in the background.

        With a Dask ``client`` the tiles run on the cluster (:func:`explorer.distributed.scan`);
        if the client has gone away, local threads take over and the status line says so.
        Stop shows the last complete image again, so a half-finished render never passes for
        a finished one.
        """
        problem, options = self.problem_and_options()
        window, resolution = self.window, self.controls["render_resolution"].value
        grid_axes(*window, resolution)  # refuse a window too narrow for the render at once
        previous = self.scan

        def work(run):
            result, note = self._render_on_cluster(problem, options, window, resolution, run)
            where = "with local threads" if result is None else "on the Dask cluster"
            if result is None:
                result = self._scan(problem, options, window, resolution, run, self._paint_partial)
            if result.stopped_early:
                if previous is not None:
                    self._show(previous, "preview", "render stopped; showing the previous image")
                return
            run.progress(resolution**2, resolution**2)  # a quick scan may end before a callback
            self._show(result, f"render {resolution}x{resolution} {where}", note)
            self.mark_applied()

        return work

    def render(self) -> bool:
        """Start a render (as the Render button does); return whether it started."""
        self._halt()
        return self.start(self.run(), label="render")

    def _render_on_cluster(self, problem, options, window, resolution, run):
        """(Scan from Dask tiles, "") or (None, why not): no client, or it has gone away."""
        if self.client is None:
            return None, ""
        from explorer import distributed

        if not distributed.client_usable(self.client):
            self.client = None
            return None, "the Dask client is closed: rendered with local threads instead"
        # the cost model's pixel is on all local threads; a task runs on one
        threads = numba.get_num_threads()
        per_pixel = threads * self.cost(problem, options)[1]
        tile = int(np.clip(math.sqrt(TILE_SECONDS / per_pixel), 8, 256))
        draw = run.callback(self._paint_partial, total=resolution**2,
                            position=lambda partial: int(partial.finished.sum()))
        try:
            return distributed.scan(problem, *window, resolution, client=self.client, tile=tile,
                                    callback=draw, **options), ""
        except (ValueError, TypeError):
            raise
        except Exception as error:  # noqa: BLE001 -- whatever broke the cluster, finish locally
            self.client = None
            return None, (f"the Dask cluster failed ({type(error).__name__}): rendered with "
                          "local threads instead")

    # -- navigation -------------------------------------------------------------------------
    def go_to(self, window: Window, remember: bool = True):
        """Show ``window`` (log10 ranges); ``remember`` it in the Back history."""
        grid_axes(*window, self.controls["preview_resolution"].value)  # refuse it before moving
        if remember:
            self.history.append(self.window)
        self.window = Window(*window)
        self.preview()

    def back(self):
        """Return to the window before the last zoom."""
        if self.history:
            self.go_to(self.history.pop(), remember=False)
        else:
            self._assert_axes(self.window)

    def reset(self):
        """Back to the starting window at zoom depth 0, with the axes restored."""
        self.history.clear()
        self.go_to(HOME, remember=False)

    def zoom_at(self, center, factor: float = CLICK_ZOOM, snap: bool = True):
        """Zoom in ``factor`` times around ``center`` (log10 units), on the boundary if ``snap``.

        With ``snap`` the centre moves to the boundary pixel nearest ``center``, so repeated
        clicks keep the boundary in view instead of drifting into a uniform region.
        """
        if snap and self.scan is not None and self.scan_window() == self.window:
            center = boundary_target(self.scan, near=center) or center
        shape = (self.controls["preview_resolution"].value,) * 2
        self.go_to(zoom_window(self.window, center, factor, shape))
        with self.figure.batch_update():
            target = self.trace("zoom target")
            target.x, target.y = [center[0]], [center[1]]

    def scan_window(self) -> Window | None:
        """The window of the last complete image."""
        return None if self.scan is None else Window(self.scan.x_range, self.scan.y_range)

    def _on_click(self, _trace, points, _state):
        if points.xs:
            self.zoom_at((points.xs[0], points.ys[0]))

    def _on_axes(self, layout, x_range, y_range, x_auto, y_auto):
        """Whatever plotly did to the axes, they end up showing :attr:`window`.

        A double-click autoscales in the browser: here it means Reset. A box drag zooms to
        the box. A range within a pixel of the current window (the browser's autorange of
        the heatmap adds half a pixel, and our own updates echo back) is not a zoom.
        """
        if x_auto or y_auto:
            self.reset()
            return
        if x_range is None or y_range is None:
            self._assert_axes(self.window)
            return
        new = Window(tuple(sorted(map(float, x_range))), tuple(sorted(map(float, y_range))))
        if self._same_window(new, self._axes_window):  # an echo of our own update
            return
        try:
            self.go_to(new)
        finally:
            self._assert_axes(self.window)  # a refused window leaves the axes where they were

    def _same_window(self, other: Window, mine: Window) -> bool:
        pixels = self.controls["preview_resolution"].value
        return all(abs(a - b) <= 0.5 * (lo_hi[1] - lo_hi[0]) / pixels + 1e-12
                   for lo_hi, theirs in zip(mine, other) for a, b in zip(lo_hi, theirs))

    def _assert_axes(self, window: Window) -> None:
        """Send the axis ranges of ``window`` to the browser, even when the kernel thinks it has them.

        plotly sends only values that changed in the kernel's copy of the layout, but the
        browser may show other ranges (after its own autoscale) that the kernel never heard
        about. So every redraw sends a range that differs from the previous one in the last
        bit, with autorange off: the browser's axes always follow the view.
        """
        self._range_bit = not self._range_bit
        self._axes_window = window
        nudge = (lambda value: np.nextafter(value, math.inf)) if self._range_bit else float
        with self.figure.batch_update():
            for axis, (lo, hi) in zip((self.figure.layout.xaxis, self.figure.layout.yaxis), window):
                axis.autorange = False
                axis.range = [float(lo), float(nudge(hi))]

    # -- drawing ----------------------------------------------------------------------------
    def _paint_partial(self, partial: Scan) -> None:
        self._paint(partial.x, partial.y, partial.measure, partial.window)

    def _paint(self, x, y, measure, window: Window, limit: int = LIVE_PIXELS):
        """Write a (possibly partial, NaN = not computed yet) measure and own the axes.

        At most ``limit`` pixels per side go to the browser (every k-th row and column):
        plotly sends a 2D array as a JSON list, and a 2048^2 one (about 80 MB of text per
        redraw) stalls both the kernel and the page.
        """
        step = -(-max(measure.shape) // limit)
        x, y, measure = x[::step], y[::step], measure[::step, ::step]
        finite = np.isfinite(measure)
        if finite.all():
            stretched, values = rank_stretch(measure), measure.round(3)
        else:  # pixels not computed yet are gaps: None (JSON null), since JSON has no NaN
            stretched = np.full(measure.shape, None, dtype=object)
            values = stretched.copy()
            if finite.any():
                stretched[finite] = rank_stretch(measure[finite])
                values[finite] = measure[finite].round(3)
        with self.figure.batch_update():
            heatmap = self.trace("measure")
            # the colours are ranks, which a small change of a setting can leave unchanged;
            # the hover text shows the measure itself
            heatmap.z, heatmap.text = stretched, values
            heatmap.x, heatmap.y = np.log10(x), np.log10(y)
            self._assert_axes(window)

    def _show(self, result: Scan, what: str, note: str = ""):
        self.scan = result
        dimension = box_counting_dimension(boundary(result.measure)).dimension
        x_label, y_label = _AXIS_NAMES[result.phase_space]
        values = self.values()
        with self.figure.batch_update():
            self._paint(result.x, result.y, result.measure, result.window, limit=SHOWN_PIXELS)
            self.figure.layout.xaxis.title.text = f"log10 {x_label}"
            self.figure.layout.yaxis.title.text = f"log10 {y_label}"
            self.figure.layout.title.text = (f"{values['configuration']}, width {values['width']}, "
                                             f"{result.steps} steps")
            if not self.history:
                self.trace("zoom target").x, self.trace("zoom target").y = [], []
        if max(result.measure.shape) > SHOWN_PIXELS:
            shown = np.asarray(self.trace("measure").z).shape
            what += f" (shown at {shown[1]}x{shown[0]})"
        magnification = (HOME.x_range[1] - HOME.x_range[0]) / (result.x_range[1] - result.x_range[0])
        self.info.value = (f"<b>{what}</b> &nbsp; x: [{result.x_range[0]:.6g}, {result.x_range[1]:.6g}]"
                           f" &nbsp; y: [{result.y_range[0]:.6g}, {result.y_range[1]:.6g}] &nbsp; "
                           f"diverged {result.diverged_fraction:.0%} &nbsp; boundary dimension ≈ "
                           f"{dimension:.2f} &nbsp; zoom depth {len(self.history)} "
                           f"(x{magnification:.3g})")
        self.show_message(note or "click to zoom x4 onto the nearest boundary, drag a box to "
                                  "zoom to it, double-click to reset; Render for full resolution")


def _seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def build_fractal_app(**defaults) -> FractalApp:
    """The trainability fractal explorer.

    A heatmap of the convergence measure over two hyperparameters (blue: training converges,
    red: it diverges; colours rank-stretched as in the paper). Click to zoom x4 onto the
    boundary nearest the click, drag a box to zoom to it, double-click or Reset to go back
    to the start, Back to undo a zoom. Every control redraws a preview within ~0.2 s (shrunk
    by a cost model, or computed in the background when even a small one costs more);
    Render computes "render pixels" in the background with progress, the time left and Stop.

    Parameters
    ----------
    **defaults
        Controls: ``configuration`` (a label of the menu, or a name of
        :data:`explorer.fractal.CONFIGURATIONS` such as "tanh_minibatch": the paper's six
        configurations and two data sizes; default "tanh, full batch"), ``width`` (8, in [2, 32]), ``steps`` (100, in
        [21, 1000]), ``seed`` (0), ``preview_resolution`` (64, in [16, 160]),
        ``render_resolution`` (256, one of 128 ... 2048). Also ``window`` (:data:`HOME`,
        log10 [-3, 6] on both axes) and ``client`` (None: render with local threads; a
        ``dask.distributed.Client``: render tiles on that cluster, with a fall-back to local
        threads if it goes away).

    Returns
    -------
    FractalApp
        An ``ipywidgets.VBox``; display it in a notebook.
    """
    return FractalApp(**defaults)
