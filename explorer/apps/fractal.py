"""Trainability fractal view: a heatmap of the convergence measure you can zoom into."""

from __future__ import annotations

import time

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from explorer.apps._base import App
from explorer.fractal import (NONLINEARITIES, PHASE_SPACES, Scan, Window, boundary,
                              box_counting_dimension, grid_axes, make_problem, measure_pixels,
                              rank_stretch, zoom_window)

HOME = Window((-3.0, 6.0), (-3.0, 6.0))  # the paper notebook's starting window
CLICK_ZOOM = 4.0
PREVIEW_SECONDS = 0.2  # target latency of a slider move
# blue = converged (-1), red = diverged (+1), with the rank stretch's gap around zero
COLOURS = [[0.0, "#08306b"], [0.375, "#9ecae1"], [0.5, "#ffffff"], [0.625, "#fcae91"],
           [1.0, "#67000d"]]


class FractalApp(App):
    """See :func:`build_fractal_app`."""

    def __init__(self, *, width=8, steps=100, nonlinearity="tanh", phase_space="lr_vs_lr",
                 preview_resolution=48, render_resolution=256, seed=0, window=HOME, client=None):
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.width = widgets.IntSlider(value=width, min=2, max=32, description="width", **slider)
        self.steps = widgets.IntSlider(value=steps, min=21, max=1000, step=1, description="steps", **slider)
        self.nonlinearity = widgets.Dropdown(options=NONLINEARITIES, value=nonlinearity,
                                             description="nonlinearity")
        self.phase_space = widgets.Dropdown(options=PHASE_SPACES, value=phase_space, description="axes")
        self.preview_resolution = widgets.IntSlider(value=preview_resolution, min=16, max=160, step=8,
                                                    description="max preview pixels", **slider)
        self.render_resolution = widgets.Dropdown(options=[128, 256, 512, 1024, 2048],
                                                  value=render_resolution, description="render pixels")
        self.render_button = widgets.Button(description="Render", icon="image", button_style="primary")
        self.stop_button = widgets.Button(description="Stop", icon="stop")
        self.back_button = widgets.Button(description="Back", icon="arrow-left")
        self.reset_button = widgets.Button(description="Reset", icon="home")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="render")
        self.info = widgets.HTML()
        self.seed = seed
        self.client = client
        self.window = window
        self.history: list[Window] = []
        self.scan: Scan | None = None
        self._programmatic_relayout = False
        self._seconds_per_work: float | None = None  # measured cost, for the preview size

        figure = go.FigureWidget(
            data=[go.Heatmap(z=[[0.0]], x=[0.0], y=[0.0], zmin=-1, zmax=1, colorscale=COLOURS,
                             colorbar={"title": "rank", "tickvals": [-1, 0, 1],
                                       "ticktext": ["converges", "boundary", "diverges"]})],
            layout=go.Layout(width=620, height=560, margin=dict(l=60, r=20, t=40, b=50),
                             dragmode="zoom", xaxis_title="log10 x", yaxis_title="log10 y"))
        controls = {"width": self.width, "steps": self.steps, "nonlinearity": self.nonlinearity,
                    "phase_space": self.phase_space, "preview_resolution": self.preview_resolution,
                    "render_resolution": self.render_resolution}
        rows = [widgets.HBox([self.width, self.steps, self.nonlinearity]),
                widgets.HBox([self.phase_space, self.preview_resolution, self.render_resolution]),
                widgets.HBox([self.render_button, self.stop_button, self.back_button,
                              self.reset_button, self.progress]),
                figure, self.info]
        super().__init__(rows, figure=figure, controls=controls, primary_control="steps")

        for control in controls.values():
            if control is not self.render_resolution:
                control.observe(self.guarded(lambda _change: self.preview()), names="value")
        self.render_button.on_click(self.guarded(lambda _button: self.render()))
        self.stop_button.on_click(self.guarded(lambda _button: self.stop()))
        self.back_button.on_click(self.guarded(lambda _button: self.back()))
        self.reset_button.on_click(self.guarded(lambda _button: self.go_to(HOME)))
        figure.data[0].on_click(self.guarded(self._on_click))
        figure.layout.on_change(self.guarded(self._on_box_zoom), "xaxis.range", "yaxis.range")
        self.preview()

    # -- the computation ----------------------------------------------------------------
    def problem(self):
        return make_problem(width=self.width.value, nonlinearity=self.nonlinearity.value, seed=self.seed)

    def _compute(self, resolution, rows=None):
        """Measure the current window at ``resolution``; ``rows`` = slice of rows to compute."""
        x, y = grid_axes(*self.window, resolution)
        y_part = y if rows is None else y[rows]
        problem = self.problem()
        start = time.perf_counter()
        measure = measure_pixels(problem, x, y_part, self.steps.value, self.phase_space.value)
        work = measure.size * self.steps.value * problem.n_parameters * problem.X.shape[0]
        self._seconds_per_work = (time.perf_counter() - start) / work
        return x, y, measure

    def preview_pixels(self) -> int:
        """Pixels per side for a preview of about PREVIEW_SECONDS, capped by the slider."""
        if self._seconds_per_work is None:
            return self.preview_resolution.value
        problem = self.problem()
        work_per_pixel = self.steps.value * problem.n_parameters * problem.X.shape[0]
        affordable = int(np.sqrt(PREVIEW_SECONDS / (self._seconds_per_work * work_per_pixel)))
        return int(np.clip(affordable, 12, self.preview_resolution.value))

    def preview(self):
        """Fast, low-resolution scan of the current window (the default on every control move)."""
        if self.busy:
            self.stop()
            self.wait()
        self._draw_preview()

    def _draw_preview(self):
        x, y, measure = self._compute(self.preview_pixels())
        self._show(Scan.from_measure(x, y, measure, steps=self.steps.value,
                                     phase_space=self.phase_space.value, x_range=self.window.x_range,
                                     y_range=self.window.y_range), note="preview")

    def render(self):
        """Full-resolution scan in the background, painted as bands (or Dask tiles) arrive.

        With a Dask ``client`` the tiles run on the cluster (:func:`explorer.distributed.scan`);
        otherwise bands of rows run here. Stop restores the preview, so the figure never
        shows a half-finished render as if it were complete.
        """
        resolution = self.render_resolution.value
        x, y = grid_axes(*self.window, resolution)

        def paint(rows, _cols, measure):
            self.progress.value = np.isfinite(measure).mean()
            self._paint(x, y, measure)

        def work():
            self.progress.value = 0.0
            measure = self._render_measure(x, y, paint)
            if measure is None:
                self._draw_preview()
                self.show_message("render stopped; showing the preview again")
                return
            self._show(Scan.from_measure(x, y, measure, steps=self.steps.value,
                                         phase_space=self.phase_space.value,
                                         x_range=self.window.x_range, y_range=self.window.y_range),
                       note="render")

        self.start(work)

    def _render_measure(self, x, y, paint):
        """The full measure, painting as parts arrive; None if stopped."""
        problem, steps, phase_space = self.problem(), self.steps.value, self.phase_space.value
        if self.client is not None:
            from explorer import distributed

            try:
                return distributed.scan(problem, *self.window, (x.size, y.size), steps, phase_space,
                                        client=self.client, on_tile=paint,
                                        should_stop=lambda: self.stop_requested).measure
            except distributed.Cancelled:
                return None
        measure = np.full((y.size, x.size), np.nan)
        band = max(1, y.size // 32)
        for start in range(0, y.size, band):
            if self.stop_requested:
                return None
            rows = slice(start, min(start + band, y.size))
            measure[rows] = measure_pixels(problem, x, y[rows], steps, phase_space)
            paint(rows, slice(None), measure)
        return measure

    # -- navigation ---------------------------------------------------------------------
    def go_to(self, window: Window, remember: bool = True):
        grid_axes(*window, self.preview_resolution.value)  # refuse an unresolvable window first
        if remember:
            self.history.append(self.window)
        self.window = window
        self.preview()

    def back(self):
        if self.history:
            self.go_to(self.history.pop(), remember=False)

    def zoom_at(self, center, factor=CLICK_ZOOM):
        self.go_to(zoom_window(self.window, center, factor, (self.preview_resolution.value,) * 2))

    def _on_click(self, _trace, points, _state):
        if points.xs:
            self.zoom_at((points.xs[0], points.ys[0]))

    def _on_box_zoom(self, _layout, x_range, y_range):
        if self._programmatic_relayout or x_range is None or y_range is None:
            return
        self.go_to(Window(tuple(sorted(x_range)), tuple(sorted(y_range))))

    # -- drawing ------------------------------------------------------------------------
    def _paint(self, x, y, measure):
        """Write a (possibly partial, NaN = not yet computed) measure into the heatmap."""
        stretched = np.full_like(measure, np.nan)
        finite = np.isfinite(measure)
        stretched[finite] = rank_stretch(measure[finite])
        with self.figure.batch_update():
            self.figure.data[0].z = stretched
            self.figure.data[0].x = np.log10(x)
            self.figure.data[0].y = np.log10(y)

    def _show(self, scan: Scan, note: str):
        self.scan = scan
        dimension = box_counting_dimension(boundary(scan.measure)).dimension
        self._programmatic_relayout = True
        try:
            with self.figure.batch_update():
                self._paint(scan.x, scan.y, scan.measure)
                self.figure.layout.xaxis.range = scan.x_range
                self.figure.layout.yaxis.range = scan.y_range
                self.figure.layout.xaxis.title.text = f"log10 {scan.x_label}"
                self.figure.layout.yaxis.title.text = f"log10 {scan.y_label}"
                self.figure.layout.title.text = (f"{self.nonlinearity.value}, width {self.width.value}, "
                                                 f"{scan.steps} steps")
        finally:
            self._programmatic_relayout = False
        ny, nx = scan.measure.shape
        self.info.value = (f"<b>{note} {nx}x{ny}</b> &nbsp; x: [{scan.x_range[0]:.6g}, {scan.x_range[1]:.6g}]"
                           f" &nbsp; y: [{scan.y_range[0]:.6g}, {scan.y_range[1]:.6g}] &nbsp; "
                           f"diverged {scan.diverged_fraction:.0%} &nbsp; boundary dimension ≈ "
                           f"{dimension:.2f} &nbsp; zoom depth {len(self.history)}")
        self.show_message("click to zoom x4, drag a box to zoom to it; Render for full resolution")


def build_fractal_app(**defaults) -> FractalApp:
    """The trainability fractal explorer.

    A heatmap of the convergence measure over two hyperparameters (blue: training converges,
    red: it diverges; colours rank-stretched as in the paper). Click to zoom in around a
    point, drag a box to zoom to it, Back/Reset to navigate; sliders for steps, width,
    nonlinearity and the preview resolution update a fast preview; Render computes the
    full resolution in the background with a progress bar. The box-counting dimension of
    the boundary in the current window is shown below the figure.

    Parameters
    ----------
    **defaults
        ``width`` (8), ``steps`` (100), ``nonlinearity`` ("tanh"), ``phase_space``
        ("lr_vs_lr"), ``preview_resolution`` (48), ``render_resolution`` (256), ``seed`` (0),
        ``window`` (:data:`HOME`, log10 [-3, 6] on both axes), ``client`` (None: render
        with local threads; a ``dask.distributed.Client``: render tiles on that cluster).

    Returns
    -------
    FractalApp
        An ``ipywidgets.VBox``; display it in a notebook.
    """
    return FractalApp(**defaults)
