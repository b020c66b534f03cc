"""Blending view: the exact and a trained deblender side by side, the stochastic chain, samplers.

``build_blending_app(**defaults)`` returns an :class:`App` whose one ``FigureWidget`` (2 x 3
subplots) is built once. Changing the densities recomputes the exact deblender's paths, the
stochastic chain and its endpoint spread (a fraction of a second), then trains the network in
the background, streaming its loss and its samples into the figure. The alpha slider (the
primary control) only indexes the precomputed trajectories; the T slider reruns the chain
for a handful of start points.
"""

from __future__ import annotations

import io
import time

import ipywidgets as widgets
import matplotlib.image
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.apps._base import App
from explorer.blending import (DENSITIES, METHODS, ExactDeblender, distance_to_nearest,
                               drawing_density, endpoint_spread, image_density, make_density,
                               sample, sample_quality, stochastic_paths, train_deblender,
                               vector_field)

DISPLAY_STEPS = 64  # Euler steps of the displayed trajectories: the alpha slider's resolution
CHAIN_STEPS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CHAIN_STARTS, CHAIN_PATHS = 6, 8
SAMPLER_STEPS = (2, 4, 8, 16, 32, 64)
TRACKS = 25  # trajectories drawn per panel
ARROWS = 13  # vector-field grid points per axis
WINDOW = (-3.0, 3.0)
REDRAW_SECONDS = 0.5  # the figure follows training at most this often
DEFAULT_DRAWING = "\n".join([
    "..........", ".##....##.", ".##....##.", "..........", "....##....",
    "..........", "#........#", ".#......#.", "..######..", ".........."])
_TARGETS = [*DENSITIES, "drawing", "upload"]
_SLIDER = dict(continuous_update=False, style={"description_width": "initial"})


def _lines(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of many polylines (steps, count, 2) in one trace, NaN between them."""
    gap = np.full((1, paths.shape[1], 2), np.nan)
    flat = np.concatenate([paths, gap]).transpose(1, 0, 2).reshape(-1, 2)
    return flat[:, 0], flat[:, 1]


def _arrows(field) -> tuple[np.ndarray, np.ndarray]:
    """Arrow shafts of a vector field, scaled so that the longest spans one grid cell."""
    start = np.stack(np.meshgrid(field.x, field.y), axis=-1).reshape(-1, 2)
    velocity = field.velocity.reshape(-1, 2)
    longest = np.abs(velocity).max()
    cell = field.x[1] - field.x[0]
    end = start + velocity * (0.9 * cell / longest if longest > 0 else 0.0)
    return _lines(np.stack([start, end]))


class BlendingApp(App):
    """See :func:`build_blending_app`."""

    def __init__(self, autostart: bool = True, source="gaussian", target="two_moons", points=500,
                 shown=800, width=64, depth=4, activation="relu", steps=3000, lr=1e-3, seed=0,
                 alpha=1.0, T=16, drawing=DEFAULT_DRAWING):
        self.shown = int(shown)
        self.settings = {
            "source": widgets.Dropdown(options=["gaussian", *[d for d in DENSITIES if d != "gaussian"]],
                                       value=source, description="source"),
            "target": widgets.Dropdown(options=_TARGETS, value=target, description="target"),
            "points": widgets.IntSlider(value=points, min=50, max=3000, step=50,
                                        description="training points", **_SLIDER),
            "seed": widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed"),
            "width": widgets.IntSlider(value=width, min=8, max=256, step=8, description="width", **_SLIDER),
            "depth": widgets.IntSlider(value=depth, min=1, max=8, description="depth", **_SLIDER),
            "activation": widgets.Dropdown(options=["relu", "silu"], value=activation,
                                           description="activation"),
            "steps": widgets.BoundedIntText(value=steps, min=100, max=500_000, step=1000,
                                            description="train steps"),
            "lr": widgets.FloatLogSlider(value=lr, min=-4, max=-1, step=0.25, description="lr",
                                         readout_format=".1e", **_SLIDER),
        }
        self.drawing = widgets.Textarea(value=drawing, description="drawing", continuous_update=False,
                                        layout={"width": "260px", "height": "170px"})
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="image")
        self.alpha = widgets.FloatSlider(value=alpha, min=0.0, max=1.0, step=1 / DISPLAY_STEPS,
                                         description="alpha", readout_format=".3f",
                                         style={"description_width": "initial"}, layout={"width": "420px"})
        self.chain_steps = widgets.SelectionSlider(options=list(CHAIN_STEPS), value=T,
                                                   description="chain steps T", **_SLIDER)
        self.train_button = widgets.Button(description="Train", icon="play", button_style="primary")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="training")
        self.uploaded = None
        self.trained = None
        figure = self._build_figure()
        controls = {**self.settings, "drawing": self.drawing, "upload": self.upload,
                    "alpha": self.alpha, "T": self.chain_steps}
        names = list(self.settings)
        rows = [widgets.HBox([self.settings[n] for n in names[:4]]),
                widgets.HBox([self.settings[n] for n in names[4:]]),
                widgets.HBox([self.train_button, self.progress, self.alpha, self.chain_steps]),
                widgets.Accordion([widgets.HBox([self.drawing, self.upload])],
                                  titles=("your own target: draw it ('#' is ink) or upload an image",)),
                figure]
        super().__init__(rows, figure=figure, controls=controls, primary_control="alpha")
        for name in ("source", "target", "points", "seed"):
            self.settings[name].observe(self.guarded(lambda _change: self.restart(autostart)), names="value")
        self.drawing.observe(self.guarded(lambda _change: self._redraw_target("drawing", autostart)),
                             names="value")
        self.upload.observe(self.guarded(lambda change: self.load_image(change["new"], autostart)),
                            names="value")
        self.alpha.observe(self.guarded(lambda change: self.show_alpha(change["new"])), names="value")
        self.chain_steps.observe(self.guarded(lambda change: self.show_chain(change["new"])), names="value")
        self.train_button.on_click(self.guarded(lambda _button: self.toggle_training()))
        self.restart(autostart)

    # -- figure -------------------------------------------------------------------------
    def _build_figure(self) -> go.FigureWidget:
        figure = make_subplots(rows=2, cols=3, horizontal_spacing=0.07, vertical_spacing=0.12,
                               subplot_titles=("exact deblender", "trained network", "training loss",
                                               "random paths vs deterministic",
                                               "endpoint spread of random paths",
                                               "samplers: distance vs evaluations"))
        self.traces = {}

        def add(name, row, col, **style):
            figure.add_trace(go.Scatter(x=[], y=[], name=name, **{"showlegend": False, **style}), row, col)
            self.traces[name] = len(figure.data) - 1

        dots = lambda colour, size: dict(mode="markers", marker=dict(color=colour, size=size))  # noqa: E731
        for panel, col in (("exact", 1), ("trained", 2)):
            add(f"{panel} training points", 1, col, **dots("rgba(150,150,150,0.5)", 3))
            add(f"{panel} tracks", 1, col, mode="lines", line=dict(color="rgba(255,127,14,0.5)", width=1))
            add(f"{panel} arrows", 1, col, mode="lines", line=dict(color="rgba(44,160,44,0.7)", width=1))
            add(f"{panel} points", 1, col, **dots("rgba(31,119,180,0.7)", 3))
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
        figure.update_yaxes(type="log", row=1, col=3)
        figure.update_xaxes(type="log", title_text="T", row=2, col=2)
        figure.update_yaxes(type="log", title_text="RMS spread", row=2, col=2)
        figure.update_xaxes(type="log", title_text="network evaluations", row=2, col=3)
        figure.update_yaxes(type="log", title_text="sliced Wasserstein", row=2, col=3)
        figure.update_annotations(font_size=13)
        figure.update_layout(height=660, width=960, margin=dict(l=40, r=10, t=40, b=40),
                             legend=dict(x=0.995, y=0.44, xanchor="right", yanchor="top",
                                         bgcolor="rgba(255,255,255,0.6)"))
        return go.FigureWidget(figure)

    def _set(self, name: str, x, y) -> None:
        trace = self.figure.data[self.traces[name]]
        trace.x, trace.y = x, y

    def _title(self, index: int, text: str) -> None:
        self.figure.layout.annotations[index].text = text

    # -- target and source --------------------------------------------------------------
    def target_density(self):
        """The density chosen as target: a named one, the text drawing or the uploaded image."""
        choice = self.settings["target"].value
        if choice == "drawing":
            return drawing_density(self.drawing.value)
        if choice == "upload":
            if self.uploaded is None:
                raise ValueError("upload an image first (the 'image' button)")
            return self.uploaded
        return make_density(choice)

    def load_image(self, files, autostart: bool) -> None:
        """Decode an uploaded image (PNG, JPEG via Pillow) into the target density."""
        if not files:
            return
        content = bytes(files[0]["content"])
        image = matplotlib.image.imread(io.BytesIO(content))
        step = max(1, max(image.shape[:2]) // 128)  # a 128-cell grid is plenty for a few thousand points
        self.uploaded = image_density(image[::step, ::step])
        self._redraw_target("upload", autostart)

    def _redraw_target(self, choice: str, autostart: bool) -> None:
        if self.settings["target"].value == choice:
            self.restart(autostart)
        else:
            self.settings["target"].value = choice  # its observer restarts

    def restart(self, autostart: bool) -> None:
        """New training set and source: recompute the exact panels and the chain, retrain."""
        if self.busy:
            self.stop()
            self.wait()
        seed = self.settings["seed"].value
        self.density = self.target_density()
        self.training_points = self.density.sample(self.settings["points"].value, seed=seed)
        self.source = make_density(self.settings["source"].value)
        self.start_points = self.source.sample(self.shown, seed=seed + 1)
        gaussian = self.settings["source"].value == "gaussian"
        self.exact = ExactDeblender(self.training_points) if gaussian else None
        self.exact_path = sample(self.exact, self.start_points, DISPLAY_STEPS) if gaussian else None
        self.trained, self.trained_path = None, None
        with self.figure.batch_update():
            for panel in ("exact", "trained"):
                self._set(f"{panel} training points", *self.training_points.T)
                for part in ("tracks", "arrows", "points"):
                    self._set(f"{panel} {part}", [], [])
            for name in ("loss", "smoothed loss", *METHODS, "floor"):
                self._set(name, [], [])
            if gaussian:
                self._draw_paths("exact", self.exact_path)
                self._title(0, f"exact: {self._memorisation(self.exact_path.final)}")
            else:
                self._title(0, "exact: needs a Gaussian source")
            self._title(1, "trained: press Train")
        self._show_spread()
        self.show_chain(self.chain_steps.value)
        self.show_alpha(self.alpha.value)
        if autostart:
            self.toggle_training()

    def _memorisation(self, samples: np.ndarray) -> str:
        distance = np.median(distance_to_nearest(samples, self.training_points))
        return f"median gap to training set {distance:.3f}"

    # -- alpha scrubbing ----------------------------------------------------------------
    def _draw_paths(self, panel: str, path) -> None:
        self._set(f"{panel} tracks", *_lines(path.points[:, :TRACKS]))

    def show_alpha(self, alpha: float) -> None:
        """Points of both panels at level alpha, and each deblender's arrows there."""
        index = int(round(alpha * DISPLAY_STEPS))
        level = min(index, DISPLAY_STEPS - 1) / DISPLAY_STEPS  # the last step's velocity at 1
        with self.figure.batch_update():
            for panel, deblender, path in (("exact", self.exact, self.exact_path),
                                           ("trained", self.trained, self.trained_path)):
                if path is None:
                    continue
                self._set(f"{panel} points", *path.points[index].T)
                field = vector_field(deblender, level, WINDOW, WINDOW, ARROWS)
                self._set(f"{panel} arrows", *_arrows(field))

    # -- stochastic chain ---------------------------------------------------------------
    def _chain_starts(self) -> np.ndarray:
        return self.start_points[:CHAIN_STARTS]

    def _show_spread(self) -> None:
        if self.exact is None:
            self._set("spread", [], [])
            return
        spread = endpoint_spread(self.exact, self._chain_starts(), CHAIN_STEPS, CHAIN_PATHS,
                                 seed=self.settings["seed"].value)
        self.spread = spread
        self._set("spread", spread.T, np.maximum(spread.spread, 1e-3))

    def show_chain(self, T: int) -> None:
        """Random paths (CHAIN_PATHS per start) next to the deterministic path, for T steps."""
        with self.figure.batch_update():
            if self.exact is None:
                for name in ("chain targets", "random paths", "deterministic paths", "random endpoints", "chosen T"):
                    self._set(name, [], [])
                return
            starts = np.repeat(self._chain_starts(), CHAIN_PATHS, axis=0)
            paths = stochastic_paths(self.exact, starts, T, seed=self.settings["seed"].value)
            deterministic = sample(self.exact, self._chain_starts(), max(T, DISPLAY_STEPS))
            self._set("chain targets", *self.training_points.T)
            self._set("random paths", *_lines(paths.points))
            self._set("deterministic paths", *_lines(deterministic.points))
            self._set("random endpoints", *paths.final.T)
            index = CHAIN_STEPS.index(T)
            self._set("chosen T", [T], [max(self.spread.spread[index], 1e-3)])
            self._title(3, f"random paths (T = {T}) vs deterministic")

    # -- training -----------------------------------------------------------------------
    def toggle_training(self) -> None:
        """Start training with the current settings, or ask a running one to stop."""
        if self.busy:
            self.stop()
            return
        settings = {name: self.settings[name].value for name in ("width", "depth", "activation", "steps", "lr", "seed")}
        steps = settings.pop("steps")
        self.progress.max, self.progress.value = steps, 0
        self.train_button.description, self.train_button.icon = "Stop", "stop"
        last_draw = [0.0]

        def callback(progress):
            self.progress.value = progress.steps_done
            if time.perf_counter() - last_draw[0] >= REDRAW_SECONDS:
                self._show_trained(progress)
                last_draw[0] = time.perf_counter()
            return self.stop_requested

        def work():
            try:
                self.show_message(f"training {steps} steps ...")
                run = train_deblender(self.training_points, self.source, steps, seed=settings.pop("seed"),
                                      callback=callback, report_every=100, **settings)
                self._show_trained(run)
                self._compare_samplers(run)
                state = "diverged (lower lr)" if run.diverged else ("stopped" if run.stopped_early else "done")
                self.show_message(f"{run.steps_done} steps in {run.seconds:.1f} s "
                                  f"({run.steps_per_second:.0f}/s), {state}")
            finally:
                self.train_button.description, self.train_button.icon = "Train", "play"

        self.start(work)

    def _show_trained(self, run) -> None:
        """Loss curves and the network's trajectories (and points at the current alpha)."""
        self.trained = run
        self.trained_path = sample(run, self.start_points, DISPLAY_STEPS)
        losses = run.loss_history
        step = np.arange(1, losses.size + 1)
        window = max(1, losses.size // 50)
        smoothed = np.convolve(losses, np.ones(window) / window, mode="valid")
        with self.figure.batch_update():
            self._set("loss", step, losses)
            self._set("smoothed loss", step[window - 1:], smoothed)
            self._draw_paths("trained", self.trained_path)
            self._title(1, f"trained: {self._memorisation(self.trained_path.final)}")
        self.show_alpha(self.alpha.value)

    def _compare_samplers(self, run) -> None:
        """Sliced Wasserstein of each sampler's output vs evaluations, with the sampling floor."""
        seed = self.settings["seed"].value
        floor = None
        with self.figure.batch_update():
            for method in METHODS:
                evaluations, distances = [], []
                for T in SAMPLER_STEPS:
                    path = sample(run, self.start_points, T, method=method)
                    if path.diverged:
                        continue
                    # seed + 2: fresh target draws, none of them a training point (seed)
                    quality = sample_quality(path.final, self.density, seed=seed + 2)
                    evaluations.append(path.evaluations)
                    distances.append(quality.sliced_wasserstein)
                    floor = quality.sliced_wasserstein_floor
                self._set(method, evaluations, distances)
            if floor is not None:
                self._set("floor", [1, 2 * SAMPLER_STEPS[-1]], [floor, floor])


def build_blending_app(autostart: bool = True, **defaults) -> BlendingApp:
    """IADB on 2D densities: exact vs trained deblender, the stochastic chain, samplers.

    Parameters
    ----------
    autostart : bool, default True
        Train the network at once (and again after every change of the densities).
    **defaults
        Initial settings: ``source`` ("gaussian" or another density name), ``target`` (a
        density name, "drawing" or "upload"), ``points`` (training points), ``shown``
        (points drawn per panel), ``width``, ``depth``, ``activation``, ``steps``, ``lr``,
        ``seed``, ``alpha``, ``T`` (one of CHAIN_STEPS), ``drawing`` (text: '#' is ink).

    Returns
    -------
    BlendingApp
        Its ``alpha`` slider (the primary control) scrubs the precomputed trajectories.
    """
    return BlendingApp(autostart=autostart, **defaults)
