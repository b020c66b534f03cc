"""Grokking view: one run streamed live with its Fourier probes, and a snapshot scrubber.

"Train" starts a run with the settings above it in the background; the settings apply on the
next Train (a changed one is marked until then), and the figure's title names the settings it
was made with. The partial history streams into the curves at most every
``REDRAW_SECONDS``; the "snapshot" slider scrubs through the stored weights without
recomputing (it follows the newest snapshot only while it sits at its end). The Grokfast
comparison view lives in :mod:`explorer.apps.grokfast`.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.apps._base import App, Choice, Control, Float, Int, IntBox, Log
from explorer.apps.grokfast import COMPARISONS, build_comparison_app  # noqa: F401 (re-exported)
from explorer.grokking import (DEFAULT_STEPS, OPERATIONS, GrokfastEMA, GrokfastMA,
                               ProgressMeasures, SweepResult, TrainConfig, detect_phases,
                               neuron_spectra, probe, progress_measures, train_from_config)

__all__ = ["GrokkingApp", "build_grokking_app", "config_from", "plot_sweep", "run_summary"]

REDRAW_SECONDS = 0.3  # the figure follows training at most this often
RECORDS_PER_RUN = 200  # metric records per run, whatever its length
SNAPSHOTS_PER_RUN = 60  # weights kept per run, for the scrubber and the probe curves
PHASE_COLOURS = {"memorisation": "rgba(255, 160, 0, 0.15)",
                 "circuit formation": "rgba(30, 120, 255, 0.12)",
                 "cleanup": "rgba(40, 160, 80, 0.15)"}
CURVES = {"train acc": ("#1f77b4", "dash"), "test acc": ("#d62728", None),
          "train loss": ("#1f77b4", "dash"), "test loss": ("#d62728", None),
          "weight norm": ("#555", None), "restricted loss": ("#2ca02c", None),
          "excluded loss": ("#9467bd", None), "mean IPR": ("#ff7f0e", None)}
SETTINGS = ("model", "op", "p", "width", "train_fraction", "weight_decay", "lr", "steps",
            "batch_size", "grokfast", "alpha", "lamb", "window", "seed")


def config_from(values: dict, **changes) -> TrainConfig:
    """A validated :class:`TrainConfig` from the view's settings, with ``changes`` on top.

    ``grokfast`` is "off", "ema" or "ma" (the filter then takes ``alpha``, ``lamb`` and
    ``window``); ``batch_size`` 0 means full batch. About RECORDS_PER_RUN records and
    SNAPSHOTS_PER_RUN snapshots are kept per run.
    """
    values = {**values, **changes}
    grokfast = {"off": None, "ema": GrokfastEMA(values["alpha"], values["lamb"]),
                "ma": GrokfastMA(values["window"], values["lamb"])}[values["grokfast"]]
    steps = values["steps"]
    eval_every = max(1, steps // RECORDS_PER_RUN)
    snapshot_every = eval_every * max(1, steps // (eval_every * SNAPSHOTS_PER_RUN))
    return TrainConfig(model=values["model"], op=values["op"], p=values["p"],
                       width=values["width"], train_fraction=values["train_fraction"],
                       weight_decay=values["weight_decay"], lr=values["lr"], steps=steps,
                       batch_size=values["batch_size"] or None, grokfast=grokfast,
                       seed=values["seed"], eval_every=eval_every, snapshot_every=snapshot_every)


def _when(step) -> str:
    return "never" if step is None else f"step {step:,}"


def run_summary(run) -> str:
    """One line about a finished run: speed, and when it memorised and generalised."""
    if run.diverged:
        return f"diverged at step {run.steps_done:,} (loss not finite): lower lr"
    memorised, generalised = run.steps_to("train_acc", 0.99), run.steps_to("test_acc", 0.95)
    return (f"{run.steps_done:,} steps in {run.seconds:.1f} s ({run.steps_per_second:.0f}/s); "
            f"99% train: {_when(memorised)}; 95% test: {_when(generalised)}"
            + (" (stopped)" if run.stopped_early else f" (within {run.config.steps:,} steps)"
               if generalised is None else ""))


def _settings_title(config: TrainConfig) -> str:
    grokfast = config.grokfast
    filter_text = ("off" if grokfast is None else f"EMA a={grokfast.alpha:g} l={grokfast.lamb:g}"
                   if isinstance(grokfast, GrokfastEMA) else f"MA w={grokfast.window} l={grokfast.lamb:g}")
    return (f"{config.model}, ({config.op}) mod {config.p}, width {config.width}, train "
            f"fraction {config.train_fraction:g}, weight decay {config.weight_decay:g}, lr "
            f"{config.lr:.0e}, batch {config.batch_size or 'full'}, Grokfast {filter_text}, "
            f"seed {config.seed}")


class GrokkingApp(App):
    """See :func:`build_grokking_app`."""

    CONTROLS: ClassVar[dict[str, Control]] = {
        "model": Choice(("mlp", "transformer"), applies="run"),
        "op": Choice(tuple(OPERATIONS), applies="run"),
        "p": Int(5, 127, 97, applies="run"),
        "width": Int(8, 512, 256, step=8, applies="run", label="width (d_model)"),
        "train_fraction": Float(0.05, 0.95, 0.3, step=0.05, applies="run"),
        "weight_decay": Float(0.0, 3.0, 1.0, step=0.1, applies="run"),
        "lr": Log(1e-4, 1e-1, 1e-3, applies="run"),
        "steps": IntBox(10, 200_000, DEFAULT_STEPS, step=500, applies="run"),
        "batch_size": IntBox(0, 100_000, 0, step=64, applies="run", label="batch (0: full)"),
        "grokfast": Choice(("off", "ema", "ma"), applies="run", label="Grokfast"),
        "alpha": Float(0.5, 0.995, 0.98, step=0.005, applies="run", readout=".3f",
                       label="EMA alpha"),
        "lamb": Float(0.0, 10.0, 2.0, step=0.5, applies="run", label="Grokfast lambda"),
        "window": Int(5, 300, 100, step=5, applies="run", label="MA window"),
        "seed": IntBox(0, 2**31 - 1, 0, applies="run"),
        "snapshot": Int(0, 0, 0, live=True, width="460px"),
    }
    PRIMARY = "snapshot"
    RUN_LABEL = "Train"

    def __init__(self, autostart: bool = True, **defaults):
        self.result = None  # the last finished Run
        self.measures: ProgressMeasures | None = None
        self._snapshots: tuple = (np.zeros(0, np.int64), ())
        self._probes: list = []
        self._order = None  # neuron order of the heatmap: by the newest snapshot's frequency
        super().__init__(**defaults)
        if autostart:
            self.toggle_run()

    @property
    def run_result(self):
        """The last finished :class:`~explorer.grokking.Run` (None before one finished)."""
        return self.result

    def build_figure(self):
        figure = make_subplots(rows=2, cols=2, horizontal_spacing=0.16, vertical_spacing=0.16,
                               specs=[[{}, {"secondary_y": True}], [{}, {"secondary_y": True}]],
                               subplot_titles=("accuracy", "loss (left) and weight norm (right)",
                                               "embedding spectrum (neurons by final frequency)",
                                               "Fourier progress measures"))
        places = {"train acc": (1, 1, False), "test acc": (1, 1, False),
                  "train loss": (1, 2, False), "test loss": (1, 2, False),
                  "weight norm": (1, 2, True), "restricted loss": (2, 2, False),
                  "excluded loss": (2, 2, False), "mean IPR": (2, 2, True)}
        for name, (row, col, secondary) in places.items():
            colour, dash = CURVES[name]
            figure.add_trace(go.Scatter(name=name, x=[], y=[], mode="lines",
                                        line={"color": colour, "dash": dash}),
                             row, col, secondary_y=secondary)
        figure.add_trace(go.Heatmap(z=[[0.0]], colorscale="Viridis", showscale=False,
                                    name="spectrum"), 2, 1)
        figure.add_trace(go.Scatter(name="snapshot", mode="lines", x=[1, 1], y=[0, 1],
                                    line={"color": "black", "width": 1}, showlegend=False), 1, 1)
        log_steps = {"type": "log", "title_text": "step", "dtick": 1, "tickformat": "~s"}
        figure.update_xaxes(**log_steps, row=1)
        figure.update_xaxes(**log_steps, row=2, col=2)
        figure.update_xaxes(title_text="neuron (sorted by frequency at the newest snapshot)",
                            row=2, col=1)
        figure.update_yaxes(title_text="frequency k", row=2, col=1)
        figure.update_yaxes(range=[0, 1.02], dtick=0.2, row=1, col=1)
        powers = {"type": "log", "dtick": 1, "exponentformat": "power"}
        figure.update_yaxes(**powers, row=1, col=2, secondary_y=False)
        figure.update_yaxes(**powers, row=2, col=2, secondary_y=False)
        # a norm is never negative; a few round ticks ("2k", "4k") that do not crowd. plotly.js 3
        # gives an overlaying axis tickmode "sync" (ticks at the primary's gridlines, so values
        # like 3.13113k), which also ignores rangemode: ask for "auto" by name
        figure.update_yaxes(tickmode="auto", rangemode="tozero", nticks=5, tickformat="~s",
                            showgrid=False, row=1, col=2, secondary_y=True)
        figure.update_yaxes(range=[0, 1], tickvals=[0, 0.25, 0.5, 0.75, 1], showgrid=False,
                            title_text="mean IPR", row=2, col=2, secondary_y=True)
        figure.update_layout(height=740, width=1000, margin={"l": 60, "r": 40, "t": 80, "b": 50},
                             title={"text": "press Train", "font": {"size": 12}},
                             legend={"orientation": "h", "y": -0.12})
        return go.FigureWidget(figure)

    def layout(self) -> list:
        import ipywidgets as widgets

        c = self.controls
        rows = [SETTINGS[i:i + 4] for i in range(0, len(SETTINGS), 4)]
        return [*(widgets.HBox([c[name] for name in row]) for row in rows),
                widgets.HBox([*self.buttons(), c["snapshot"]]), self.figure]

    # -- training -------------------------------------------------------------------------
    def run(self):
        config = config_from(self.values())  # validates before anything starts
        self.mark_applied(list(SETTINGS))
        task = config.make_task()

        def work(run):
            self.result, self.measures, self._probes, self._order = None, None, [], None
            self._start_figure(config)
            self.show_message(f"training {config.steps:,} steps ...")
            callback = run.callback(lambda history: self._draw_live(history, task),
                                    total=config.steps, position=lambda h: h.steps_done,
                                    every=REDRAW_SECONDS)
            self.result = train_from_config(config, callback)
            self.measures = progress_measures(self.result.history, task)
            self._draw(self.result.history, self.measures)
            self.show_message(run_summary(self.result))

        return work

    def _start_figure(self, config: TrainConfig) -> None:
        """Fixed step axes for the whole run (no rescaling while it streams), and the title."""
        decades = [0, math.log10(max(config.steps, 10)) + 0.02]
        with self.figure.batch_update():
            self.figure.layout.title.text = _settings_title(config)
            for axis in (self.trace("train acc").xaxis, self.trace("test loss").xaxis,
                         self.trace("restricted loss").xaxis):
                self.figure.layout[axis.replace("x", "xaxis")].range = decades

    def _draw_live(self, history, task):
        """Probe the new snapshots (each with its own key frequencies), then redraw."""
        self._probes += [probe(params, task) for params in history.snapshots[len(self._probes):]]
        if self._probes:
            measures = ProgressMeasures.from_probes(history.snapshot_step, self._probes,
                                                    self._probes[-1].key_frequencies)
            self._draw(history, measures)

    # -- drawing --------------------------------------------------------------------------
    def _draw(self, history, measures: ProgressMeasures):
        """Curves, probe curves and phase shading; the scrubber follows the newest snapshot
        only while it sits at its end."""
        phases = detect_phases(history, measures)
        panels = [(self.trace(name).xaxis, self.trace(name).yaxis)
                  for name in ("train acc", "restricted loss")]
        shapes = [dict(type="rect", xref=x_axis, yref=f"{y_axis} domain", x0=max(interval[0], 1),
                       x1=max(interval[1], 1), y0=0, y1=1, line_width=0,
                       fillcolor=PHASE_COLOURS[name], layer="below")
                  for name, interval in phases.as_dict().items() if interval is not None
                  for x_axis, y_axis in panels]
        step = np.maximum(history.step, 1)  # step 0 sits at the log axis' left end
        with self.figure.batch_update():
            for name, values in (("train acc", history.train_acc), ("test acc", history.test_acc),
                                 ("train loss", history.train_loss),
                                 ("test loss", history.test_loss),
                                 ("weight norm", history.weight_norm)):
                self.trace(name).update(x=step, y=values)
            for name, values in (("restricted loss", measures.restricted_loss),
                                 ("excluded loss", measures.excluded_loss),
                                 ("mean IPR", measures.mean_ipr)):
                self.trace(name).update(x=np.maximum(measures.step, 1), y=values)
            self.figure.layout.shapes = shapes
        self._snapshots = (history.snapshot_step, history.snapshots)
        self._order = neuron_spectra(history.snapshots[-1]).order
        slider = self.controls["snapshot"]
        following = slider.value == slider.max
        with self.quiet():
            slider.max = len(history.snapshots) - 1
            if following:
                slider.value = slider.max
        self.show_snapshot(slider.value)

    def preview(self):
        """The snapshot slider moved: show that snapshot."""
        if self._snapshots[1]:
            self.show_snapshot(self.controls["snapshot"].value)

    def show_snapshot(self, index: int) -> None:
        """The embedding spectrum of snapshot ``index`` and a marker at its step.

        Neurons keep one order for every snapshot (by their frequency at the newest one), so
        the staircase of a trained network is not drawn into the random weights at step 0.
        """
        steps, snapshots = self._snapshots
        index = min(max(int(index), 0), len(snapshots) - 1)
        spectra = neuron_spectra(snapshots[index])
        order = self._order if self._order is not None else np.arange(len(spectra.ipr[0]))
        power = (spectra.U_power + spectra.V_power)[order, 1:]
        power /= np.maximum(power.sum(axis=1, keepdims=True), np.finfo(float).tiny)
        with self.figure.batch_update():
            self.trace("spectrum").update(z=power.T, y=spectra.frequencies[1:],
                                          x=np.arange(power.shape[0]))
            self.trace("snapshot").update(x=[max(int(steps[index]), 1)] * 2, y=[0, 1])
        self.controls["snapshot"].description = f"snapshot (step {int(steps[index]):,})"


def build_grokking_app(autostart: bool = True, **defaults) -> GrokkingApp:
    """Train the MLP (or the transformer) live and watch memorisation turn into a circuit.

    Parameters
    ----------
    autostart : bool, default True
        Start training with the given settings at once (the Train button restarts it).
    **defaults
        Initial settings: ``model`` ("mlp" or "transformer"), ``op``, ``p`` (5..127),
        ``width`` (8..512; the transformer's d_model), ``train_fraction``, ``weight_decay``,
        ``lr``, ``steps`` (10..200,000), ``batch_size`` (0: full batch), ``grokfast`` ("off",
        "ema" or "ma"), ``alpha``, ``lamb``, ``window``, ``seed``. A value out of range
        raises ``ValueError`` naming it.

    Returns
    -------
    GrokkingApp
        Its ``snapshot`` slider (the primary control) scrubs through the stored weights;
        ``app.result`` is the finished :class:`~explorer.grokking.Run` and
        ``app.measures`` its :class:`~explorer.grokking.ProgressMeasures`.
    """
    return GrokkingApp(autostart=autostart, **defaults)


def plot_sweep(result: SweepResult) -> go.Figure:
    """Steps to generalise over a one- or two-parameter sweep (grey cells: never)."""
    if not isinstance(result, SweepResult):
        raise TypeError(f"result must be a SweepResult, got {type(result).__name__}")
    if len(result.names) == 1:
        steps = result.steps_to_generalise
        figure = go.Figure(go.Scatter(x=result.values[0], y=steps, mode="lines+markers",
                                      name="steps to generalise"))
        figure.update_layout(xaxis_title=result.names[0], width=560, height=380,
                             yaxis={"title": f"steps to {result.threshold:.0%} test",
                                    "rangemode": "tozero"},
                             title="steps to generalise (gaps: never, within the budget)")
        return figure
    if len(result.names) != 2:
        raise ValueError(f"result must come from a one- or two-parameter sweep, got names {result.names}")
    first, second = result.names
    figure = go.Figure(go.Heatmap(
        z=result.steps_to_generalise, x=[str(v) for v in result.values[1]],
        y=[str(v) for v in result.values[0]], colorscale="Viridis",
        colorbar={"title": f"steps to {result.threshold:.0%} test"}, hoverongaps=False))
    figure.update_layout(xaxis_title=second, yaxis_title=first, plot_bgcolor="#ccc", width=560,
                         height=440, title="steps to generalise (grey: never, within the budget)")
    return figure
