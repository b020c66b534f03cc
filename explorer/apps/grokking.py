"""Grokking views: one run streamed live with its Fourier probes, and two runs compared.

Training runs in the background (:meth:`App.start`); its callback hands over the partial
history, which is written into the existing traces at most every ``REDRAW_SECONDS``. The
"snapshot" scrubber then moves through the stored weights without recomputing anything.
"""

from __future__ import annotations

import time

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.apps._base import App
from explorer.grokking import (DEFAULT_STEPS, OPERATIONS, GrokfastEMA, GrokfastMA, ProgressMeasures,
                               SweepResult, TrainConfig, detect_phases, neuron_spectra, probe,
                               progress_measures, train_from_config)

REDRAW_SECONDS = 0.3  # the figure follows training at most this often
RECORDS_PER_RUN = 200  # metric records per run, whatever its length
SNAPSHOTS_PER_RUN = 60  # weights kept per run, for the scrubber and the probe curves
PHASE_COLOURS = {"memorisation": "rgba(255, 160, 0, 0.15)",
                 "circuit formation": "rgba(30, 120, 255, 0.12)",
                 "cleanup": "rgba(40, 160, 80, 0.15)"}
_SLIDER = dict(continuous_update=False, style={"description_width": "initial"})


def setting_controls(p=97, width=256, train_fraction=0.3, weight_decay=1.0, lr=1e-3,
                     op="add", steps=DEFAULT_STEPS, grokfast="off", alpha=0.98, lamb=2.0, window=100,
                     seed=0) -> dict:
    """The training-setting widgets shared by both views, by :class:`TrainConfig` name."""
    return {
        "p": widgets.IntSlider(value=p, min=5, max=127, description="p", **_SLIDER),
        "width": widgets.IntSlider(value=width, min=8, max=512, step=8, description="width", **_SLIDER),
        "train_fraction": widgets.FloatSlider(value=train_fraction, min=0.05, max=0.95, step=0.05,
                                              description="train fraction", **_SLIDER),
        "weight_decay": widgets.FloatSlider(value=weight_decay, min=0.0, max=3.0, step=0.1,
                                            description="weight decay", **_SLIDER),
        "lr": widgets.FloatLogSlider(value=lr, min=-4, max=-1, step=0.25, description="lr",
                                     readout_format=".1e", **_SLIDER),
        "op": widgets.Dropdown(options=list(OPERATIONS), value=op, description="op"),
        "steps": widgets.BoundedIntText(value=steps, min=10, max=200_000, step=500,
                                        description="steps"),
        "grokfast": widgets.Dropdown(options=["off", "ema", "ma"], value=grokfast,
                                     description="Grokfast"),
        "alpha": widgets.FloatSlider(value=alpha, min=0.5, max=0.995, step=0.005,
                                     description="EMA alpha", readout_format=".3f", **_SLIDER),
        "lamb": widgets.FloatSlider(value=lamb, min=0.0, max=10.0, step=0.5,
                                    description="Grokfast lambda", **_SLIDER),
        "window": widgets.IntSlider(value=window, min=5, max=300, step=5, description="MA window",
                                    **_SLIDER),
        "seed": widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed"),
    }


def config_from(controls: dict, **changes) -> TrainConfig:
    """A validated :class:`TrainConfig` from the setting widgets, with ``changes`` on top.

    ``grokfast`` is "off", "ema" or "ma" (the filter then takes the sliders' parameters).
    About RECORDS_PER_RUN records and SNAPSHOTS_PER_RUN snapshots are kept per run.
    """
    values = {name: controls[name].value for name in
              ("p", "width", "train_fraction", "weight_decay", "lr", "op", "steps", "seed")}
    grokfast = changes.pop("grokfast", controls["grokfast"].value)
    values["grokfast"] = {"off": None,
                          "ema": GrokfastEMA(controls["alpha"].value, controls["lamb"].value),
                          "ma": GrokfastMA(controls["window"].value, controls["lamb"].value)}[grokfast]
    values.update(changes)
    eval_every = max(1, values["steps"] // RECORDS_PER_RUN)
    snapshot_every = eval_every * max(1, values["steps"] // (eval_every * SNAPSHOTS_PER_RUN))
    return TrainConfig(**values, eval_every=eval_every, snapshot_every=snapshot_every)


def _layout_rows(controls: dict, extra: list) -> list:
    names = list(controls)
    return [widgets.HBox([controls[n] for n in names[i:i + 4]]) for i in range(0, len(names), 4)] + extra


class _StreamingApp(App):
    """An App whose worker trains and whose Train button doubles as Stop."""

    def _make_train_button(self) -> widgets.Button:
        self.train_button = widgets.Button(description="Train", icon="play", button_style="primary")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress")
        self.train_button.on_click(self.guarded(lambda _button: self.toggle_training()))
        return self.train_button

    def toggle_training(self) -> None:
        """Start training with the current settings, or ask a running one to stop."""
        if self.busy:
            self.stop()
            return
        work = self.training_work()  # builds (and so validates) the configs before starting
        self.train_button.description, self.train_button.icon = "Stop", "stop"

        def work_then_reset_button():
            try:
                work()
            finally:
                self.train_button.description, self.train_button.icon = "Train", "play"

        self.start(work_then_reset_button)

    def streamer(self, draw, total_steps: int):
        """A training callback: calls ``draw(history)`` at most every REDRAW_SECONDS."""
        last_draw = 0.0

        def callback(history):
            nonlocal last_draw
            self.progress.max, self.progress.value = total_steps, int(history.step[-1])
            if time.perf_counter() - last_draw >= REDRAW_SECONDS:
                draw(history)
                last_draw = time.perf_counter()
            return self.stop_requested

        return callback


class GrokkingApp(_StreamingApp):
    """See :func:`build_grokking_app`."""

    def __init__(self, autostart: bool = True, **defaults):
        self.settings = setting_controls(**defaults)
        self._snapshots = (np.zeros(0, np.int64), ())
        self.snapshot = widgets.IntSlider(value=0, min=0, max=0, description="snapshot",
                                          style={"description_width": "initial"})
        self.snapshot.layout.width = "420px"
        self.run = None
        self.measures: ProgressMeasures | None = None
        self._probes: list = []
        figure = self._build_figure()
        controls = {**self.settings, "snapshot": self.snapshot}
        rows = _layout_rows(self.settings, [widgets.HBox([self._make_train_button(), self.progress,
                                                          self.snapshot]), figure])
        super().__init__(rows, figure=figure, controls=controls, primary_control="snapshot")
        self.snapshot.observe(self.guarded(lambda change: self.show_snapshot(change["new"])),
                              names="value")
        if autostart:
            self.toggle_training()

    @staticmethod
    def _build_figure() -> go.FigureWidget:
        figure = make_subplots(rows=2, cols=2, horizontal_spacing=0.12, vertical_spacing=0.14,
                               specs=[[{}, {"secondary_y": True}], [{}, {"secondary_y": True}]],
                               subplot_titles=("accuracy", "loss and weight norm",
                                               "embedding spectrum (neurons by frequency)",
                                               "Fourier progress measures"))
        line = dict(mode="lines", x=[], y=[])
        for name, colour, dash in (("train acc", "#1f77b4", "dash"), ("test acc", "#d62728", None)):
            figure.add_trace(go.Scatter(name=name, line=dict(color=colour, dash=dash), **line), 1, 1)
        for name, colour, dash in (("train loss", "#1f77b4", "dash"), ("test loss", "#d62728", None)):
            figure.add_trace(go.Scatter(name=name, line=dict(color=colour, dash=dash), **line), 1, 2)
        figure.add_trace(go.Scatter(name="weight norm", line=dict(color="#555"), **line), 1, 2,
                         secondary_y=True)
        figure.add_trace(go.Heatmap(z=[[0.0]], colorscale="Viridis", showscale=False,
                                    name="spectrum"), 2, 1)
        for name, colour in (("restricted loss", "#2ca02c"), ("excluded loss", "#9467bd")):
            figure.add_trace(go.Scatter(name=name, line=dict(color=colour), **line), 2, 2)
        figure.add_trace(go.Scatter(name="mean IPR", line=dict(color="#ff7f0e"), **line), 2, 2,
                         secondary_y=True)
        figure.add_trace(go.Scatter(name="snapshot", mode="lines", x=[1, 1], y=[0, 1],
                                    line=dict(color="black", width=1)), 1, 1)
        figure.update_xaxes(type="log", title_text="step", row=1)
        figure.update_xaxes(type="log", title_text="step", row=2, col=2)
        figure.update_xaxes(title_text="neuron (sorted by dominant frequency)", row=2, col=1)
        figure.update_yaxes(title_text="frequency k", row=2, col=1)
        figure.update_yaxes(range=[0, 1.02], row=1, col=1)
        figure.update_yaxes(type="log", row=1, col=2, secondary_y=False)
        figure.update_yaxes(type="log", row=2, col=2, secondary_y=False)
        figure.update_yaxes(range=[0, 1], title_text="IPR", row=2, col=2, secondary_y=True)
        figure.update_layout(height=720, width=980, margin=dict(l=50, r=20, t=40, b=40))
        return go.FigureWidget(figure)

    # -- training -----------------------------------------------------------------------
    def training_work(self):
        config = config_from(self.settings)
        task = config.make_task()

        def work():
            self._probes, self.measures, self.run = [], None, None
            self.show_message(f"training {config.steps} steps ...")
            draw = self.streamer(lambda history: self._draw_live(history, task), config.steps)
            self.run = train_from_config(config, draw)
            self.measures = progress_measures(self.run.history, task)
            self._draw(self.run.history, self.measures)
            self.show_message(run_summary(self.run))

        return work

    def _draw_live(self, history, task):
        """Probe the new snapshots (each with its own key frequencies), then redraw."""
        self._probes += [probe(params, task) for params in history.snapshots[len(self._probes):]]
        measures = ProgressMeasures.from_probes(history.snapshot_step, self._probes,
                                                self._probes[-1].key_frequencies)
        self._draw(history, measures)

    # -- drawing ------------------------------------------------------------------------
    def _draw(self, history, measures: ProgressMeasures):
        """Curves, probe curves and phase shading; the scrubber follows the newest snapshot."""
        phases = detect_phases(history, measures)
        data = self.figure.data
        shaded_panels = [(data[i].xaxis, data[i].yaxis) for i in (0, 6)]  # accuracy, probes
        shapes = [dict(type="rect", xref=x_axis, yref=f"{y_axis} domain", x0=max(interval[0], 1),
                       x1=max(interval[1], 1), y0=0, y1=1, line_width=0,
                       fillcolor=PHASE_COLOURS[name], layer="below")
                  for name, interval in phases.as_dict().items() if interval is not None
                  for x_axis, y_axis in shaded_panels]
        with self.figure.batch_update():
            for trace, values in zip(data[:5], (history.train_acc, history.test_acc,
                                                 history.train_loss, history.test_loss,
                                                 history.weight_norm)):
                trace.x, trace.y = history.step, values
            for trace, values in zip(data[6:9], (measures.restricted_loss, measures.excluded_loss,
                                                 measures.mean_ipr)):
                trace.x, trace.y = measures.step, values
            self.figure.layout.shapes = shapes
        self._snapshots = (history.snapshot_step, history.snapshots)
        self.snapshot.max = len(history.snapshots) - 1
        if self.snapshot.value == self.snapshot.max:
            self.show_snapshot(self.snapshot.max)
        else:
            self.snapshot.value = self.snapshot.max

    def show_snapshot(self, index: int) -> None:
        """The embedding spectrum of snapshot ``index`` and a marker at its step."""
        steps, snapshots = self._snapshots
        spectra = neuron_spectra(snapshots[index])
        power = (spectra.U_power + spectra.V_power)[spectra.order, 1:]
        power /= np.maximum(power.sum(axis=1, keepdims=True), np.finfo(float).tiny)
        with self.figure.batch_update():
            heatmap = self.figure.data[5]
            heatmap.z, heatmap.y = power.T, spectra.frequencies[1:]
            self.figure.data[9].x = [max(int(steps[index]), 1)] * 2
        self.snapshot.description = f"snapshot (step {int(steps[index])})"


def run_summary(run) -> str:
    """One line about a finished run: speed, and when it memorised and generalised."""
    if run.diverged:
        return f"diverged at step {run.steps_done} (loss not finite): lower lr"
    memorised, generalised = run.steps_to("train_acc", 0.99), run.steps_to("test_acc", 0.95)
    return (f"{run.steps_done} steps in {run.seconds:.1f} s ({run.steps_per_second:.0f}/s); "
            f"99% train at step {memorised}, 95% test at step {generalised}"
            + (" (stopped)" if run.stopped_early else ""))


def build_grokking_app(autostart: bool = True, **defaults) -> GrokkingApp:
    """Train the modular-arithmetic MLP live and watch memorisation turn into a Fourier circuit.

    Parameters
    ----------
    autostart : bool, default True
        Start training with the given settings at once (the Train button restarts it).
    **defaults
        Initial settings: ``p``, ``width``, ``train_fraction``, ``weight_decay``, ``lr``,
        ``op``, ``steps``, ``seed``, ``grokfast`` ("off", "ema" or "ma"), ``alpha``,
        ``lamb``, ``window``.

    Returns
    -------
    GrokkingApp
        Its ``snapshot`` slider (the primary control) scrubs through the stored weights.
    """
    return GrokkingApp(autostart=autostart, **defaults)


#: Comparisons: label -> ((name of run A, its changes), (name of run B, its changes)).
COMPARISONS = {
    "Grokfast-EMA vs none, same weight decay": (("Grokfast-EMA", {"grokfast": "ema"}),
                                               ("no filter", {"grokfast": "off"})),
    "weight decay as set vs none": (("weight decay", {}), ("no weight decay", {"weight_decay": 0.0})),
    "Grokfast-EMA vs none, both without weight decay (the paper's headline)": (
        ("Grokfast-EMA, no decay", {"grokfast": "ema", "weight_decay": 0.0}),
        ("no filter, no decay", {"grokfast": "off", "weight_decay": 0.0})),
}
_RUN_COLOURS = ("#d62728", "#1f77b4")


class ComparisonApp(_StreamingApp):
    """See :func:`build_comparison_app`."""

    def __init__(self, comparison: str = next(iter(COMPARISONS)), autostart: bool = True,
                 **defaults):
        self.settings = setting_controls(**defaults)
        self.comparison = widgets.Dropdown(options=list(COMPARISONS), value=comparison,
                                           description="compare", layout={"width": "520px"})
        self.metric = widgets.ToggleButtons(options=["accuracy", "loss"], value="accuracy",
                                            description="show")
        self.histories: list = [None, None]
        figure = make_subplots(rows=1, cols=2, subplot_titles=("train (dashed) and test", "weight norm"))
        for colour in _RUN_COLOURS:
            for dash in ("dash", None):
                figure.add_trace(go.Scatter(x=[], y=[], mode="lines", line=dict(color=colour, dash=dash)), 1, 1)
            figure.add_trace(go.Scatter(x=[], y=[], mode="lines", line=dict(color=colour),
                                        showlegend=False), 1, 2)
        figure.update_xaxes(type="log", title_text="step")
        figure.update_layout(height=420, width=980, margin=dict(l=50, r=20, t=40, b=40))
        figure = go.FigureWidget(figure)
        controls = {**self.settings, "comparison": self.comparison, "metric": self.metric}
        rows = _layout_rows(self.settings, [widgets.HBox([self.comparison, self._make_train_button(),
                                                          self.progress]), self.metric, figure])
        super().__init__(rows, figure=figure, controls=controls, primary_control="metric")
        self.metric.observe(self.guarded(lambda _change: self._draw_all()), names="value")
        if autostart:
            self.toggle_training()

    def training_work(self):
        runs = COMPARISONS[self.comparison.value]
        configs = [config_from(self.settings, **changes) for _, changes in runs]

        def work():
            self.histories = [None, None]
            summaries = []
            for index, ((name, _), config) in enumerate(zip(runs, configs)):
                self.figure.data[3 * index].name = f"{name}, train"
                self.figure.data[3 * index + 1].name = f"{name}, test"
                self.show_message(f"training {name} ...")
                run = train_from_config(config, self.streamer(
                    lambda history, index=index: self._draw_run(index, history), config.steps))
                self._draw_run(index, run.history)
                summaries.append(f"{name}: {run_summary(run)}")
            self.show_message(" | ".join(summaries))

        return work

    def _draw_run(self, index: int, history) -> None:
        self.histories[index] = history
        first = "train_acc" if self.metric.value == "accuracy" else "train_loss"
        second = first.replace("train", "test")
        train_trace, test_trace, norm_trace = self.figure.data[3 * index:3 * index + 3]
        with self.figure.batch_update():
            train_trace.x, train_trace.y = history.step, getattr(history, first)
            test_trace.x, test_trace.y = history.step, getattr(history, second)
            norm_trace.x, norm_trace.y = history.step, history.weight_norm
            self.figure.layout.yaxis.type = "linear" if self.metric.value == "accuracy" else "log"

    def _draw_all(self) -> None:
        for index, history in enumerate(self.histories):
            if history is not None:
                self._draw_run(index, history)


def build_comparison_app(comparison: str = next(iter(COMPARISONS)), autostart: bool = True,
                         **defaults) -> ComparisonApp:
    """Two runs that differ in one setting, trained one after the other, on one plot.

    Parameters
    ----------
    comparison : str
        A key of :data:`COMPARISONS`: Grokfast vs none at equal weight decay (the fair
        comparison), weight decay vs none, or Grokfast vs none without weight decay (the
        paper's headline set-up).
    autostart : bool, default True
    **defaults
        Shared settings, as for :func:`build_grokking_app`.

    Returns
    -------
    ComparisonApp
        Its ``metric`` toggle (primary control) switches between accuracy and loss.
    """
    return ComparisonApp(comparison=comparison, autostart=autostart, **defaults)


def plot_sweep(result: SweepResult) -> go.Figure:
    """Heatmap of steps to generalise over a two-parameter sweep (grey: never generalised)."""
    if len(result.names) != 2:
        raise ValueError(f"result must come from a two-parameter sweep, got names {result.names}")
    first, second = result.names
    figure = go.Figure(go.Heatmap(
        z=result.steps_to_generalise, x=[str(v) for v in result.values[1]],
        y=[str(v) for v in result.values[0]], colorscale="Viridis",
        colorbar={"title": f"steps to {result.threshold:.0%} test"}, hoverongaps=False))
    figure.update_layout(xaxis_title=second, yaxis_title=first, plot_bgcolor="#ccc", width=560,
                         height=440, title="steps to generalise (grey: never, within the budget)")
    return figure
