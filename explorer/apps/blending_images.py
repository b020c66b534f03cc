"""Blending on images: 8 x 8 digits from noise, exact (memorising) vs trained (generalising).

``build_blending_images_app(**defaults)`` returns an :class:`App` with one figure of six
panels: a grid of samples of the exact deblender and of a trained network at the level alpha
(the primary control; the grids fill in from noise as alpha moves from 0 to 1), beside each
sample's nearest training image; the training loss; and the stochastic chain on one noise
image for the chosen T. The digit buttons pick the class of conditional sampling ("0-9": one
of each, in order). Train runs in the background (Stop within about a second) and streams
the loss and the network's samples into the figure.
"""

from __future__ import annotations

import time
from typing import ClassVar

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer._validation import check_bool, check_instance
from explorer.apps._base import App, Choice, Control, Float, Int, IntBox, Log, Toggle
from explorer.blending import (ExactDeblender, TrainedDeblender, image_dataset, nearest_points,
                               sample, stochastic_paths, train_deblender)

GRID_COLUMNS = 10
CHAIN_STEPS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CHAIN_RUNS = 4  # random runs of the chain from the one noise image
CHAIN_COLUMNS = 9  # levels shown per run, alpha = 0 ... 1
DIGITS = ("0-9", *map(str, range(10)))
PREVIEW_SECONDS = 0.2
PRIOR_PAIR_SECONDS = 1e-9  # cost model: seconds per (sample, training image, pixel, step)
SAMPLE_STEPS = (8, 16, 32)  # display steps the cost model chooses from (the alpha resolution)
GAP = 1  # pixels between the tiles of a mosaic


def mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """Tiles (n, h, w) side by side, ``columns`` per row, NaN in the gaps; row 0 at the top."""
    n, h, w = images.shape
    rows = -(-n // columns)
    canvas = np.full((rows * (h + GAP) - GAP, columns * (w + GAP) - GAP), np.nan)
    for index, image in enumerate(images):
        r, c = divmod(index, columns)
        canvas[r * (h + GAP):r * (h + GAP) + h, c * (w + GAP):c * (w + GAP) + w] = image
    return canvas[::-1]  # heatmaps draw row 0 at the bottom


class BlendingImagesApp(App):
    """See :func:`build_blending_images_app`."""

    CONTROLS: ClassVar[dict[str, Control]] = {
        "alpha": Float(0.0, 1.0, 1.0, step=1 / 32, live=True, applies="manual", readout=".3f",
                       width="420px"),
        "digit": Toggle(DIGITS, label="class"),
        "samples": Int(10, 40, 20, step=10),
        "seed": IntBox(0, 2**31 - 1, 0, width="140px"),
        "T": Choice(CHAIN_STEPS, 8, label="chain steps T", applies="manual"),
        "width": Choice((64, 128, 256), 256, applies="run"),
        "depth": Int(1, 4, 3, applies="run"),
        "steps": IntBox(100, 200_000, 3000, step=500, label="train steps", applies="run"),
        "lr": Log(1e-4, 1e-2, 1e-3, applies="run"),
    }
    PRIMARY = "alpha"
    RUN_LABEL = "Train"

    def __init__(self, autostart: bool = False, train_fraction: float = 0.5, trained=None,
                 **defaults):
        autostart = check_bool("autostart", autostart)
        self.dataset = image_dataset("digits")
        self.train, self.held_out = self.dataset.split(train_fraction, seed=0)
        self.exact = ExactDeblender(self.train.points, labels=self.train.labels)
        if trained is not None:
            check_instance("trained", trained, TrainedDeblender)
            if trained.dim != 64 or trained.classes != 10:
                raise ValueError(f"trained must be a class-conditional deblender of the 64-pixel "
                                 f"digits (10 classes), got dimension {trained.dim} and "
                                 f"{trained.classes} classes")
        self.trained = trained
        self.trained_path = self.exact_path = None
        self.pair_seconds = PRIOR_PAIR_SECONDS
        super().__init__(**defaults)
        self.controls["alpha"].observe(self.guarded(lambda change: self.show_alpha()), names="value")
        self.controls["T"].observe(self.guarded(lambda change: self.show_chain()), names="value")
        self.guarded(self.preview)()
        if trained is not None:
            self._show_trained(trained)
        if autostart:
            self.toggle_run()

    # -- figure and layout ------------------------------------------------------------------
    def build_figure(self) -> go.FigureWidget:
        figure = make_subplots(
            rows=2, cols=3, horizontal_spacing=0.05, vertical_spacing=0.12,
            column_widths=[0.36, 0.36, 0.28],
            subplot_titles=("exact deblender", "its nearest training images", "training loss",
                            "trained network", "its nearest training images",
                            "stochastic chain on one noise image"))
        grey = dict(colorscale="Greys", zmin=0.0, zmax=1.0, showscale=False, hoverinfo="skip")
        for name, row, col in (("exact samples", 1, 1), ("exact nearest", 1, 2),
                               ("trained samples", 2, 1), ("trained nearest", 2, 2),
                               ("chain", 2, 3)):
            figure.add_trace(go.Heatmap(z=[[None]], name=name, **grey), row, col)
        figure.add_trace(go.Scatter(x=[], y=[], name="loss", mode="lines", showlegend=False,
                                    line=dict(color="rgba(31,119,180,0.3)", width=1)), 1, 3)
        figure.add_trace(go.Scatter(x=[], y=[], name="smoothed loss", mode="lines",
                                    showlegend=False, line=dict(color="#1f77b4", width=2)), 1, 3)
        for row, col in ((1, 1), (1, 2), (2, 1), (2, 2), (2, 3)):
            figure.update_xaxes(visible=False, row=row, col=col)
            figure.update_yaxes(visible=False, scaleanchor=f"x{3 * (row - 1) + col}", row=row, col=col)
        figure.update_xaxes(type="log", title_text="step", row=1, col=3)
        figure.update_yaxes(type="log", title_text="IADB loss", row=1, col=3)
        for index, annotation in enumerate(figure.layout.annotations):
            annotation.name = ("exact", "exact nearest", "loss", "trained", "trained nearest",
                               "chain")[index]
        figure.update_annotations(font_size=13)
        # 960 px: a notebook's output area in JupyterLab is 968 px wide at a 1400 px window
        figure.update_layout(height=620, width=960, margin=dict(l=20, r=10, t=40, b=40))
        return go.FigureWidget(figure)

    def layout(self) -> list:
        c = self.controls
        return [widgets.HBox([c["alpha"], c["T"]]), c["digit"],
                widgets.HBox([c["samples"], c["seed"]]),
                widgets.HBox([c["width"], c["depth"], c["steps"], c["lr"]]),
                widgets.HBox(self.buttons()), self.figure]

    def _heatmap(self, name: str, points: np.ndarray | None, columns: int = GRID_COLUMNS) -> None:
        canvas = np.full((1, 1), np.nan) if points is None else mosaic(self.dataset.to_images(points), columns)
        # None, not NaN, marks the gaps: NaN is not valid JSON on its way to the browser
        self.trace(name).z = np.where(np.isnan(canvas), None, canvas).tolist()

    # -- samples ----------------------------------------------------------------------------
    def labels(self) -> np.ndarray:
        """The class of every grid sample: one of each digit in turn, or the chosen digit."""
        count, digit = self.controls["samples"].value, self.controls["digit"].value
        return np.arange(count) % 10 if digit == "0-9" else np.full(count, int(digit))

    def preview(self) -> None:
        """New noise or classes: the exact deblender's grid and the chain (within budget)."""
        if self.busy:
            self.stop()
            self.wait()
        seed = self.controls["seed"].value
        labels = self.labels()
        self.noise = np.random.default_rng(seed).standard_normal((labels.size, self.dataset.points.shape[1]))
        per_class = len(self.train) / 10
        per_step = labels.size * per_class * self.noise.shape[1]
        affordable = [T for T in SAMPLE_STEPS if T * per_step * self.pair_seconds <= PREVIEW_SECONDS]
        self.display_steps = max(affordable, default=SAMPLE_STEPS[0])
        started = time.perf_counter()
        self.exact_path = sample(self.exact, self.noise, self.display_steps, labels=labels)
        self.pair_seconds = (time.perf_counter() - started) / (self.display_steps * per_step)
        self.controls["alpha"].step = 1 / self.display_steps
        self.trained_path = None
        if self.trained is not None:
            self.trained_path = sample(self.trained, self.noise, self.display_steps, labels=labels)
        with self.figure.batch_update():
            self._nearest("exact", self.exact_path.final)
            self._nearest("trained", None if self.trained_path is None else self.trained_path.final)
            self.show_alpha()
        self.show_chain()
        if self.display_steps < SAMPLE_STEPS[-1]:
            self.show_message(f"preview: {self.display_steps} sampling steps (alpha in steps of "
                              f"1/{self.display_steps}) to stay within {PREVIEW_SECONDS * 1000:.0f} ms")

    def _nearest(self, panel: str, final: np.ndarray | None) -> None:
        if final is None:
            self._heatmap(f"{panel} nearest", None)
            self.annotation(panel).text = "trained network: press Train"
            return
        distance, index = nearest_points(final, self.train.points)
        self._heatmap(f"{panel} nearest", self.train.points[index])
        copies = int(np.sum(distance < 1e-3))
        title = "exact deblender" if panel == "exact" else "trained network"
        self.annotation(panel).text = (f"{title}: {copies} of {final.shape[0]} are copies, "
                                       f"median gap {np.median(distance):.2f}")

    def show_alpha(self) -> None:
        """The grids at the level alpha (noise at 0, samples at 1)."""
        index = int(round(self.controls["alpha"].value * self.display_steps))
        with self.figure.batch_update():
            self._heatmap("exact samples", self.exact_path.points[index])
            self._heatmap("trained samples", None if self.trained_path is None
                          else self.trained_path.points[index])

    def show_chain(self) -> None:
        """CHAIN_RUNS random runs of the chain from the first noise image, and the deterministic path."""
        T = self.controls["T"].value
        label = int(self.labels()[0])
        start = np.repeat(self.noise[:1], CHAIN_RUNS, axis=0)
        paths = stochastic_paths(self.exact, start, T, seed=self.controls["seed"].value, labels=label)
        deterministic = sample(self.exact, self.noise[:1], max(T, CHAIN_COLUMNS - 1), labels=label)
        rows = []
        for path in (paths, deterministic):
            levels = np.round(np.linspace(0, len(path) - 1, CHAIN_COLUMNS)).astype(int)
            rows.append(path.points[levels].transpose(1, 0, 2).reshape(-1, path.points.shape[2]))
        self._heatmap("chain", np.concatenate(rows), CHAIN_COLUMNS)
        # short enough to stay inside the figure over the last column, even at T = 256
        self.annotation("chain").text = f"chain, T = {T}: {CHAIN_RUNS} random, then deterministic"

    # -- training ---------------------------------------------------------------------------
    def run(self):
        """Train a conditional deblender on the training half with the current settings."""
        values = self.values()
        settings = dict(width=values["width"], depth=values["depth"], lr=values["lr"])
        steps, seed = values["steps"], values["seed"]

        def work(run):
            self.mark_applied()
            callback = run.callback(self._show_trained, total=steps, every=1.0,
                                    position=lambda partial: partial.steps_done)
            trained = train_deblender(self.train.points, steps=steps, seed=seed,
                                      labels=self.train.labels, callback=callback, **settings)
            self._show_trained(trained)
            state = ("diverged (lower lr)" if trained.diverged
                     else "stopped" if trained.stopped_early else "done")
            self.show_message(f"{trained.steps_done} steps in {trained.seconds:.1f} s "
                              f"({trained.steps_per_second:.0f}/s), {state}")

        return work

    def _show_trained(self, trained) -> None:
        self.trained = trained
        path = sample(trained, self.noise, self.display_steps, labels=self.labels())
        self.trained_path = None if path.diverged else path
        step, smoothed = trained.smoothed_loss()
        finite = np.isfinite(trained.loss_history)
        with self.figure.batch_update():
            loss = self.trace("loss")
            loss.x = np.arange(1, trained.steps_done + 1)[finite]
            loss.y = trained.loss_history[finite]
            curve = self.trace("smoothed loss")
            curve.x, curve.y = step, smoothed
            self._nearest("trained", None if self.trained_path is None else self.trained_path.final)
            self.show_alpha()


def build_blending_images_app(autostart: bool = False, train_fraction: float = 0.5, trained=None,
                              **defaults) -> BlendingImagesApp:
    """IADB on 8 x 8 digits: exact (it copies training images) vs a trained network.

    Parameters
    ----------
    autostart : bool, default False
        Start training at once.
    train_fraction : float, default 0.5
        Share of each digit class the deblenders learn from (the rest is held out); the split
        uses seed 0, as ``image_dataset("digits").split(train_fraction, seed=0)`` does.
    trained : TrainedDeblender, optional
        A conditional deblender of the digits to show at once (for example one a lesson
        trained on that split); Train replaces it.
    **defaults
        Initial values of the controls: ``alpha``, ``digit`` ("0-9" or "0" ... "9"),
        ``samples`` (10-40), ``seed``, ``T`` (one of CHAIN_STEPS), ``width`` (64, 128 or
        256), ``depth`` (1-4), ``steps`` (100-200000), ``lr`` (1e-4 to 1e-2).

    Returns
    -------
    BlendingImagesApp
        Its ``alpha`` slider (the primary control) scrubs the precomputed sample paths.
    """
    return BlendingImagesApp(autostart=autostart, train_fraction=train_fraction, trained=trained,
                             **defaults)
