"""Blending view: the exact and a trained deblender side by side, the stochastic chain, samplers.

``build_blending_app(**defaults)`` returns an :class:`App` whose one ``FigureWidget`` (2 x 3
panels) is built once. Changing the data (source, target, points, seed, the drawing)
recomputes the exact deblender's paths, the stochastic chain and its endpoint spread within a
preview budget set by a cost model; the network's settings apply on the next Train (they are
marked as pending until then). Train runs in the background, streaming the loss and the
network's samples into the figure, then compares the samplers. The alpha slider (the primary
control) only indexes precomputed trajectories; the T control reruns the chain for a handful
of start points.

A source that is not Gaussian is smoothed into a mixture of Gaussians
(:meth:`~explorer.blending.GaussianMixture.smoothing`), for which the exact deblender is still
closed form: every panel has something to show.
"""

from __future__ import annotations

import io
import time
from typing import ClassVar

import ipywidgets as widgets
import matplotlib.image
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer._validation import check_bool
from explorer.apps._base import App, Choice, Control, Float, Int, IntBox, Log, Text
from explorer.blending import (DENSITIES, METHODS, ExactDeblender, GaussianMixture,
                               compare_samplers, distance_to_nearest, drawing_density,
                               endpoint_spread, image_density, make_density, sample,
                               stochastic_paths, train_deblender, vector_field)

DISPLAY_STEPS = 64  # Euler steps of the displayed trajectories: the alpha slider's resolution
CHAIN_STEPS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CHAIN_STARTS, CHAIN_PATHS = 6, 8
SAMPLER_STEPS = (2, 4, 8, 16, 32, 64)
TRACKS = 25  # trajectories drawn per panel
ARROWS = 13  # vector-field grid points per axis
WINDOW = (-3.0, 3.0)
MIXTURE_COMPONENTS, MIXTURE_BANDWIDTH = 16, 0.15  # a non-Gaussian source, smoothed
PREVIEW_SECONDS = 0.2  # budget of the synchronous redraw after a data change
PRIOR_PAIR_SECONDS = 2e-9  # cost model: seconds per (query, target, component, step) pair
DEFAULT_DRAWING = "\n".join([
    "..........", ".##....##.", ".##....##.", "..........", "....##....",
    "..........", "#........#", ".#......#.", "..######..", ".........."])
SOURCES = ("gaussian", *[name for name in DENSITIES if name != "gaussian"])
TARGETS = (*DENSITIES, "drawing", "upload")


def _lines(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of many polylines (steps, count, 2) in one trace, NaN between them."""
    gap = np.full((1, paths.shape[1], 2), np.nan)
    flat = np.concatenate([paths, gap]).transpose(1, 0, 2).reshape(-1, 2)
    return flat[:, 0], flat[:, 1]


def _arrows(field) -> tuple[np.ndarray, np.ndarray]:
    """Arrow shafts of a vector field (flagged points left out), the longest one cell long."""
    start = np.stack(np.meshgrid(field.x, field.y), axis=-1).reshape(-1, 2)
    finite = ~field.diverged.reshape(-1)
    velocity = np.where(finite[:, None], field.velocity.reshape(-1, 2), 0.0)
    longest = np.abs(velocity).max()
    cell = field.x[1] - field.x[0]
    end = start + velocity * (0.9 * cell / longest if longest > 0 else 0.0)
    return _lines(np.stack([start[finite], end[finite]]))


class BlendingApp(App):
    """See :func:`build_blending_app`."""

    CONTROLS: ClassVar[dict[str, Control]] = {
        "source": Choice(SOURCES),
        "target": Choice(TARGETS, "two_moons"),
        "points": Int(50, 3000, 500, step=50, label="training points"),
        "seed": IntBox(0, 2**31 - 1, 0, width="140px"),
        "width": Int(8, 256, 64, step=8, applies="run"),
        "depth": Int(1, 8, 4, applies="run"),
        "activation": Choice(("relu", "silu"), applies="run"),
        "steps": IntBox(100, 500_000, 3000, step=1000, label="train steps", applies="run"),
        "lr": Log(1e-4, 1e-1, 1e-3, applies="run"),
        "alpha": Float(0.0, 1.0, 1.0, step=1 / DISPLAY_STEPS, live=True, applies="manual",
                       readout=".3f", width="420px"),
        "T": Choice(CHAIN_STEPS, 16, label="chain steps T", applies="manual"),
        "drawing": Text(DEFAULT_DRAWING, width="260px", applies="manual"),
    }
    PRIMARY = "alpha"
    RUN_LABEL = "Train"

    def __init__(self, autostart: bool = True, shown: int = 800, **defaults):
        autostart = check_bool("autostart", autostart)
        self.shown = Int(50, 5000, 800).check("shown", shown)
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="image")
        self.uploaded = None
        self.trained = self.trained_path = None
        self.data_ready = False
        self.pair_seconds = PRIOR_PAIR_SECONDS
        super().__init__(**defaults)
        self.controls["alpha"].observe(self.guarded(lambda change: self.show_alpha()), names="value")
        self.controls["T"].observe(self.guarded(lambda change: self.show_chain()), names="value")
        self.controls["drawing"].observe(self.guarded(lambda change: self._own_target("drawing")),
                                         names="value")
        self.upload.observe(self.guarded(lambda change: self.load_image(change["new"])), names="value")
        self.guarded(self.preview)()
        if autostart and self.data_ready:
            self.toggle_run()

    # -- figure and layout ------------------------------------------------------------------
    def build_figure(self) -> go.FigureWidget:
        figure = make_subplots(rows=2, cols=3, horizontal_spacing=0.07, vertical_spacing=0.12,
                               subplot_titles=("exact deblender", "trained network", "training loss",
                                               "random paths vs deterministic",
                                               "endpoint spread of random paths",
                                               "samplers: distance vs evaluations"))

        def add(name, row, col, **style):
            figure.add_trace(go.Scatter(x=[], y=[], name=name, **{"showlegend": False, **style}), row, col)

        def dots(colour, size):
            return dict(mode="markers", marker=dict(color=colour, size=size))

        for panel, col in (("exact", 1), ("trained", 2)):
            add(f"{panel} tracks", 1, col, mode="lines", line=dict(color="rgba(255,127,14,0.5)", width=1))
            add(f"{panel} arrows", 1, col, mode="lines", line=dict(color="rgba(44,160,44,0.7)", width=1))
            add(f"{panel} points", 1, col, **dots("rgba(31,119,180,0.6)", 3))
            # drawn last, so that samples never hide the training set
            add(f"{panel} training points", 1, col, **dots("rgba(60,60,60,0.75)", 3))
        add("loss", 1, 3, mode="lines", line=dict(color="rgba(31,119,180,0.3)", width=1))
        add("smoothed loss", 1, 3, mode="lines", line=dict(color="#1f77b4", width=2))
        add("chain targets", 2, 1, **dots("rgba(150,150,150,0.5)", 3))
        add("random paths", 2, 1, mode="lines", line=dict(color="rgba(214,39,40,0.35)", width=1))
        add("deterministic paths", 2, 1, mode="lines", line=dict(color="black", width=2))
        add("random endpoints", 2, 1, **dots("#d62728", 6))
        add("spread", 2, 2, mode="lines+markers", line=dict(color="#d62728"))
        add("chosen T", 2, 2, **dots("black", 12))
        for method, colour in zip(METHODS, ("#1f77b4", "#ff7f0e", "#2ca02c")):
            add(method, 2, 3, mode="lines+markers", line=dict(color=colour), showlegend=True)
        add("floor", 2, 3, mode="lines", line=dict(color="grey", dash="dash"), showlegend=True)
        for row, col in ((1, 1), (1, 2), (2, 1)):
            axis = 3 * (row - 1) + col
            figure.update_xaxes(range=WINDOW, row=row, col=col)
            figure.update_yaxes(range=WINDOW, scaleanchor="x" if axis == 1 else f"x{axis}", row=row, col=col)
        figure.update_xaxes(type="log", title_text="step", row=1, col=3)
        figure.update_yaxes(type="log", title_text="IADB loss", row=1, col=3)
        figure.update_xaxes(type="log", title_text="T", row=2, col=2)
        figure.update_yaxes(type="log", title_text="RMS spread", row=2, col=2)
        figure.update_xaxes(type="log", title_text="network evaluations", row=2, col=3)
        figure.update_yaxes(type="log", title_text="sliced Wasserstein", row=2, col=3)
        figure.update_annotations(font_size=13)
        for index, annotation in enumerate(figure.layout.annotations):
            annotation.name = ("exact", "trained", "loss", "chain", "spread", "samplers")[index]
        figure.update_layout(height=660, width=960, margin=dict(l=40, r=10, t=40, b=40),
                             legend=dict(x=0.995, y=0.44, xanchor="right", yanchor="top",
                                         bgcolor="rgba(255,255,255,0.6)"))
        return go.FigureWidget(figure)

    def layout(self) -> list:
        c = self.controls
        own_target = widgets.Accordion(
            [widgets.HBox([c["drawing"], self.upload])],
            titles=("your own target: draw it ('#' is ink) or upload an image",))
        return [widgets.HBox([c["source"], c["target"], c["points"], c["seed"]]),
                widgets.HBox([c["width"], c["depth"], c["activation"], c["steps"], c["lr"]]),
                widgets.HBox([*self.buttons(), c["alpha"], c["T"]]),
                own_target, self.figure]

    def _set(self, name: str, x, y) -> None:
        trace = self.trace(name)
        trace.x, trace.y = x, y

    def _title(self, name: str, text: str) -> None:
        self.annotation(name).text = text

    # -- data -------------------------------------------------------------------------------
    def target_density(self):
        """The density chosen as target: a named one, the text drawing or the uploaded image."""
        choice = self.controls["target"].value
        if choice == "drawing":
            return drawing_density(self.controls["drawing"].value)
        if choice == "upload":
            if self.uploaded is None:
                raise ValueError("upload an image first (the 'image' button)")
            return self.uploaded
        return make_density(choice)

    def load_image(self, files) -> None:
        """Decode an uploaded image (PNG, JPEG via Pillow) into the target density."""
        if not files:
            return
        self.clear_message()
        image = matplotlib.image.imread(io.BytesIO(bytes(files[0]["content"])))
        step = max(1, max(image.shape[:2]) // 128)  # a 128-cell grid is plenty for a few thousand points
        self.uploaded = image_density(image[::step, ::step])
        self._own_target("upload")

    def _own_target(self, choice: str) -> None:
        """The drawing or the upload changed: show it (selecting it as the target if needed)."""
        self.clear_message()  # a fixed drawing clears the error of a broken one
        if self.controls["target"].value == choice:
            self.preview()
        else:
            self.controls["target"].value = choice  # its observer redraws

    def preview(self) -> None:
        """New data: the exact panels, the chain and its spread; the trained panels are cleared.

        The exact deblender's cost grows with points x targets x source components; the cost
        model keeps the redraw near PREVIEW_SECONDS by showing fewer paths when needed.
        """
        if self.busy:
            self.stop()
            self.wait()
        self.data_ready = False
        seed = self.controls["seed"].value
        self.density = self.target_density()
        self.training_points = self.density.sample(self.controls["points"].value, seed=seed)
        name = self.controls["source"].value
        if name == "gaussian":
            self.source, mean, cov, source_title = make_density(name), None, None, "N(0, I)"
        else:
            self.source = GaussianMixture.smoothing(make_density(name), MIXTURE_COMPONENTS,
                                                    MIXTURE_BANDWIDTH, seed=seed)
            mean, cov = self.source.means, self.source.cov
            source_title = f"{name} as {MIXTURE_COMPONENTS} Gaussians"
        self.exact = ExactDeblender(self.training_points, mean, cov)
        self.start_points = self.source.sample(self.shown, seed=seed + 1)
        components = 1 if mean is None else MIXTURE_COMPONENTS
        pairs_per_point = DISPLAY_STEPS * self.training_points.shape[0] * components
        affordable = int(PREVIEW_SECONDS / (self.pair_seconds * pairs_per_point))
        self.exact_count = int(np.clip(affordable, min(50, self.shown), self.shown))
        started = time.perf_counter()
        self.exact_path = sample(self.exact, self.start_points[:self.exact_count], DISPLAY_STEPS)
        self.pair_seconds = (time.perf_counter() - started) / (self.exact_count * pairs_per_point)
        self.trained = self.trained_path = None
        with self.figure.batch_update():
            for panel in ("exact", "trained"):
                self._set(f"{panel} training points", *self.training_points.T)
                for part in ("tracks", "arrows", "points"):
                    self._set(f"{panel} {part}", [], [])
            for name in ("loss", "smoothed loss", *METHODS, "floor"):
                self._set(name, [], [])
            self._set("exact tracks", *_lines(self.exact_path.points[:, :TRACKS]))
            self._title("exact", f"exact ({source_title}): {self._memorisation(self.exact_path.final)}")
            self._title("trained", "trained network: press Train")
            self._show_spread()
        self.show_chain()
        self.show_alpha()
        self.data_ready = True
        if self.exact_count < self.shown:
            self.show_message(f"preview: the exact panel shows {self.exact_count} of {self.shown} "
                              f"paths to stay within {PREVIEW_SECONDS * 1000:.0f} ms")

    def _memorisation(self, samples: np.ndarray) -> str:
        distance = np.median(distance_to_nearest(samples, self.training_points))
        return f"median gap to training set {distance:.3f}"

    # -- alpha scrubbing --------------------------------------------------------------------
    def show_alpha(self) -> None:
        """Points of both panels at level alpha, and each deblender's arrows there."""
        index = int(round(self.controls["alpha"].value * DISPLAY_STEPS))
        level = min(index, DISPLAY_STEPS - 1) / DISPLAY_STEPS  # the last step's velocity at 1
        with self.figure.batch_update():
            for panel, deblender, path in (("exact", self.exact, self.exact_path),
                                           ("trained", self.trained, self.trained_path)):
                if path is None:
                    continue
                self._set(f"{panel} points", *path.points[index].T)
                self._set(f"{panel} arrows", *_arrows(vector_field(deblender, level, WINDOW, WINDOW, ARROWS)))

    # -- stochastic chain -------------------------------------------------------------------
    def _show_spread(self) -> None:
        self.spread = endpoint_spread(self.exact, self.start_points[:CHAIN_STARTS], CHAIN_STEPS,
                                      CHAIN_PATHS, seed=self.controls["seed"].value)
        self._set("spread", self.spread.T, np.maximum(self.spread.spread, 1e-3))

    def show_chain(self) -> None:
        """Random paths (CHAIN_PATHS per start) next to the deterministic path, for T steps."""
        T = self.controls["T"].value
        starts = self.start_points[:CHAIN_STARTS]
        paths = stochastic_paths(self.exact, np.repeat(starts, CHAIN_PATHS, axis=0), T,
                                 seed=self.controls["seed"].value)
        deterministic = sample(self.exact, starts, max(T, DISPLAY_STEPS))
        with self.figure.batch_update():
            self._set("chain targets", *self.training_points.T)
            self._set("random paths", *_lines(paths.points))
            self._set("deterministic paths", *_lines(deterministic.points))
            self._set("random endpoints", *paths.final.T)
            self._set("chosen T", [T], [max(self.spread.spread[CHAIN_STEPS.index(T)], 1e-3)])
            self._title("chain", f"random paths (T = {T}) vs deterministic")

    # -- training ---------------------------------------------------------------------------
    def run(self):
        """Train with the current settings (validated now), then compare the samplers."""
        if not self.data_ready:
            raise ValueError("the data could not be made (see the message above); fix it first")
        values = self.values()
        settings = {name: values[name] for name in ("width", "depth", "activation", "lr")}
        steps, seed = values["steps"], values["seed"]
        training_points, source, density = self.training_points, self.source, self.density

        def work(run):
            self.mark_applied()
            callback = run.callback(self._show_trained, total=steps,
                                    position=lambda partial: partial.steps_done)
            trained = train_deblender(training_points, source, steps, seed=seed, callback=callback,
                                      **settings)
            self._show_trained(trained)
            state = ("diverged (lower lr)" if trained.diverged
                     else "stopped" if trained.stopped_early else "done")
            summary = (f"{trained.steps_done} steps in {trained.seconds:.1f} s "
                       f"({trained.steps_per_second:.0f}/s), {state}")
            if not (trained.diverged or run.stopped):
                comparison = compare_samplers(trained, self.start_points, density, SAMPLER_STEPS,
                                              seed=seed + 2, callback=lambda partial: run.stopped)
                self._show_comparison(comparison)
            self.show_message(summary)

        return work

    def _show_trained(self, trained) -> None:
        """Loss curves and the network's trajectories (and points at the current alpha)."""
        self.trained = trained
        path = sample(trained, self.start_points, DISPLAY_STEPS)
        self.trained_path = None if path.diverged else path
        step, smoothed = trained.smoothed_loss()
        finite = np.isfinite(trained.loss_history)
        with self.figure.batch_update():
            self._set("loss", np.arange(1, trained.steps_done + 1)[finite], trained.loss_history[finite])
            self._set("smoothed loss", step, smoothed)
            if self.trained_path is None:
                for part in ("tracks", "arrows", "points"):
                    self._set(f"trained {part}", [], [])
                self._title("trained", "trained network: diverged (lower lr)")
                return
            self._set("trained tracks", *_lines(self.trained_path.points[:, :TRACKS]))
            self._title("trained", f"trained: {self._memorisation(self.trained_path.final)}")
        self.show_alpha()

    def _show_comparison(self, comparison) -> None:
        with self.figure.batch_update():
            for method in METHODS:
                self._set(method, *comparison.curve(method))
            self._set("floor", [1, 2 * SAMPLER_STEPS[-1]], [comparison.floor] * 2)


def build_blending_app(autostart: bool = True, shown: int = 800, **defaults) -> BlendingApp:
    """IADB on 2D densities: exact vs trained deblender, the stochastic chain, samplers.

    Parameters
    ----------
    autostart : bool, default True
        Train the network at once.
    shown : int, default 800
        Points drawn per panel, in [50, 5000].
    **defaults
        Initial values of the controls: ``source`` ("gaussian" or another density name,
        smoothed into a Gaussian mixture), ``target`` (a density name, "drawing" or "upload"),
        ``points`` (training points, 50-3000), ``seed``, ``width`` (8-256), ``depth`` (1-8),
        ``activation``, ``steps`` (100-500000), ``lr`` (1e-4 to 0.1), ``alpha``, ``T`` (one
        of CHAIN_STEPS), ``drawing`` (text: '#' is ink). A bad value raises ValueError naming
        the control.

    Returns
    -------
    BlendingApp
        Its ``alpha`` slider (the primary control) scrubs the precomputed trajectories.
    """
    return BlendingApp(autostart=autostart, shown=shown, **defaults)
