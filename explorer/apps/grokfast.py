"""Grokfast comparison view: the paper's protocol beside the fair one (and full batch).

"Train" runs :func:`~explorer.grokking.grokfast_comparison` in the background with the chosen
protocols and settings; each run's test curve streams into the panel of its protocol, and the
table below the figure lists the steps each run took to 95% test accuracy next to the
paper's. The Grokfast runs appear in the fair panel too (dotted), beside the baselines that
share their weight decay and learning rate.
"""

from __future__ import annotations

from typing import ClassVar

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.apps._base import App, Choice, Control, Int, IntBox, Toggle
from explorer.grokking import PAPER_STEPS, grokfast_comparison, grokfast_configs

__all__ = ["COMPARISONS", "ComparisonApp", "build_comparison_app", "comparison_table"]

#: Choices of the view: label -> protocols run.
COMPARISONS = {
    "Grokfast: the paper's protocol and the fair one": ("paper", "fair"),
    "Grokfast: the paper's protocol, full batch (is the fast part minibatch noise?)": ("paper", "batch"),
    "Grokfast: all three protocols": ("paper", "fair", "batch"),
}
PANELS = {"paper": "the paper's protocol", "fair": "fair: equal weight decay and lr",
          "full batch": "full batch"}
REDRAW_SECONDS = 0.5
_PALETTE = ("#444", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _panel(label: str) -> str:
    return label.split(":")[0]


def _filter_kind(label: str) -> str | None:
    return "ema" if "Grokfast-EMA" in label else "ma" if "Grokfast-MA" in label else None


def comparison_table(result) -> str:
    """HTML table: each run's steps to the threshold, with the paper's figure where it has one."""
    rows = []
    for row in result.table():
        kind = _filter_kind(row["label"])
        paper = (PAPER_STEPS[kind] if kind and row["label"].startswith("paper")
                 else PAPER_STEPS["baseline"] if row["label"] == "paper: baseline, wd 0" else None)
        when = row["steps_to_generalise"]
        rows.append(f"<tr><td>{row['label']}</td><td>{'never' if when is None else f'{when:,}'}"
                    f"{'' if row['finished'] else ' (stopped)'}</td><td>{row['steps_done']:,}</td>"
                    f"<td>{'' if paper is None else f'{paper:,}'}</td></tr>")
    return ("<table><tr><th>run</th><th>steps to 95% test</th><th>steps run</th>"
            "<th>paper (2-layer transformer with LayerNorm)</th></tr>" + "".join(rows) + "</table>")


class ComparisonApp(App):
    """See :func:`build_comparison_app`."""

    CONTROLS: ClassVar[dict[str, Control]] = {
        "comparison": Choice(tuple(COMPARISONS), applies="run", width="560px"),
        "model": Choice(("mlp", "transformer"), applies="run"),
        "p": Int(5, 127, 97, applies="run"),
        "width": Int(8, 512, 128, step=8, applies="run", label="width (d_model)"),
        "layers": Int(1, 2, 2, applies="run", label="transformer layers"),
        "steps": IntBox(10, 200_000, 5000, step=500, applies="run"),
        "batch_size": IntBox(1, 100_000, 512, step=64, applies="run", label="batch"),
        "seed": IntBox(0, 2**31 - 1, 0, applies="run"),
        "metric": Toggle(("test accuracy", "test loss")),
    }
    PRIMARY = "metric"
    RUN_LABEL = "Train"

    def __init__(self, autostart: bool = True, **defaults):
        self.result = None
        self.table = widgets.HTML()
        super().__init__(**defaults)
        if autostart:
            self.toggle_run()

    def build_figure(self):
        labels = list(grokfast_configs())
        figure = make_subplots(rows=1, cols=3, subplot_titles=list(PANELS.values()),
                               horizontal_spacing=0.07)
        for label in labels:
            column = list(PANELS).index(_panel(label)) + 1
            colour = _PALETTE[labels.index(label) % len(_PALETTE)]
            figure.add_trace(go.Scatter(name=label, x=[], y=[], mode="lines",
                                        line={"color": colour}), 1, column)
        for label in labels:  # the filter runs again, dotted, beside their fair baselines
            if _panel(label) == "paper" and _filter_kind(label):
                figure.add_trace(go.Scatter(name=f"{label} (again)", x=[], y=[], mode="lines",
                                            line={"color": "#000", "dash": "dot"}), 1, 2)
        figure.update_xaxes(type="log", title_text="step", dtick=1, tickformat="~s")
        figure.update_yaxes(range=[0, 1.02], dtick=0.2)
        figure.add_hline(y=0.95, line={"color": "#999", "width": 1, "dash": "dot"})
        figure.update_layout(height=460, width=960, margin={"l": 50, "r": 20, "t": 60, "b": 40},
                             legend={"orientation": "h", "y": -0.2, "font": {"size": 10}})
        return go.FigureWidget(figure)

    def layout(self) -> list:
        c = self.controls
        return [widgets.HBox([c["comparison"], c["model"]]),
                widgets.HBox([c["p"], c["width"], c["layers"]]),
                widgets.HBox([c["steps"], c["batch_size"], c["seed"]]),
                widgets.HBox([*self.buttons(), c["metric"]]), self.figure, self.table]

    def settings(self) -> dict:
        """The training settings the controls ask for (the protocols set the rest)."""
        values = self.values()
        settings = {name: values[name] for name in ("model", "p", "width", "steps", "batch_size",
                                                    "seed")}
        settings["eval_every"] = max(1, values["steps"] // 200)
        if values["model"] == "transformer":
            settings["layers"] = values["layers"]
        return settings

    def run(self):
        protocols = COMPARISONS[self.controls["comparison"].value]
        settings = self.settings()
        configs = grokfast_configs(protocols, **settings)  # validates before anything starts
        self.mark_applied()

        def work(run):
            self.result = None
            self._clear()

            def draw(partial):
                self._draw(partial)

            steps = settings["steps"]
            callback = run.callback(draw, every=REDRAW_SECONDS, total=len(configs),
                                    position=lambda partial: len(partial.runs) - 1 + min(
                                        partial.runs[-1].history.steps_done / steps, 1))
            self.result = grokfast_comparison(protocols, callback=callback, **settings)
            self._draw(self.result)
            done = "stopped" if self.result.stopped_early else "done"
            self.show_message(f"{done}: {len(self.result.runs)} runs; see the table below")

        return work

    def _clear(self) -> None:
        with self.figure.batch_update():
            for trace in self.figure.data:
                trace.update(x=[], y=[])
        self.table.value = ""

    def _draw(self, result) -> None:
        accuracy = self.controls["metric"].value == "test accuracy"
        with self.figure.batch_update():
            for run in result.runs:
                values = run.history.test_acc if accuracy else run.history.test_loss
                step = np.maximum(run.history.step, 1)
                self.trace(run.label).update(x=step, y=values)
                if _panel(run.label) == "paper" and _filter_kind(run.label):
                    self.trace(f"{run.label} (again)").update(x=step, y=values)
            self.figure.update_yaxes(type="linear" if accuracy else "log",
                                     range=[0, 1.02] if accuracy else None,
                                     dtick=0.2 if accuracy else 1)
        self.table.value = comparison_table(result)

    def preview(self) -> None:
        """The metric toggle moved: redraw the runs so far."""
        if self.result is not None:
            self._draw(self.result)


def build_comparison_app(autostart: bool = True, **defaults) -> ComparisonApp:
    """Grokfast against baselines, the paper's way and the fair way, on one figure.

    Parameters
    ----------
    autostart : bool, default True
        Start the comparison with the given settings at once.
    **defaults
        Initial settings: ``comparison`` (a key of :data:`COMPARISONS`), ``model`` ("mlp"
        or "transformer"; the paper's is a 2-layer transformer, width 128), ``p``,
        ``width``, ``layers``, ``steps`` (per run), ``batch_size`` (512 in the paper),
        ``seed``, ``metric`` ("test accuracy" or "test loss").

    Returns
    -------
    ComparisonApp
        Its ``metric`` toggle (primary control) switches between accuracy and loss;
        ``app.result`` is the :class:`~explorer.grokking.GrokfastComparison`.
    """
    return ComparisonApp(autostart=autostart, **defaults)
