"""Groups view: a group's Cayley table and characters, and the irreps a trained MLP picks.

Picking a group redraws at once (its table, its character table, and the irrep power of the
*initial* weights, cheap at these orders); "Train" trains the MLP on the group in the
background, streams the accuracy curves, and ends with the irrep power of the trained
weights. :func:`plot_scaling` and :func:`plot_scaling_laws` draw a
:class:`~explorer.grokking.ScalingResult` with matplotlib (the Li2 scaling figure).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.apps._base import App, Choice, Float, Int, IntBox
from explorer.grokking import (LI2_CONSTANT, TrainConfig, element_names, group_table,
                               init_params, irreps, neuron_irreps, train_from_config)

__all__ = ["VIEW_GROUPS", "GroupsApp", "build_groups_app", "plot_scaling", "plot_scaling_laws"]

#: Groups of the picker: orders 12 to 60, each trains in seconds to a minute here.
VIEW_GROUPS = ("dihedral:6", "dihedral:12", "cyclic:23", "product:2,3,4", "alternating:4",
               "symmetric:4", "dihedral:20", "alternating:5")
#: Training settings of the view besides its controls (grok fast at these small orders).
VIEW_TRAINING = {"lr": 1e-2, "weight_decay": 1.0, "eval_every": 25}
REDRAW_SECONDS = 0.3


class GroupsApp(App):
    """See :func:`build_groups_app`."""

    CONTROLS = {
        "group": Choice(VIEW_GROUPS, "dihedral:12"),
        "train_fraction": Float(0.05, 0.9, 0.5, 0.05, applies="run", label="train fraction"),
        "width": Int(16, 512, 128, 16, applies="run"),
        "steps": IntBox(100, 50_000, 2000, 100, applies="run"),
        "seed": IntBox(0, 2**31 - 1, 0, applies="run"),
    }
    PRIMARY = "group"
    RUN_LABEL = "Train"

    def __init__(self, **defaults):
        super().__init__(**defaults)
        self.run_result = None
        self.preview()

    def build_figure(self):
        figure = go.FigureWidget(make_subplots(
            rows=2, cols=2, vertical_spacing=0.16, horizontal_spacing=0.14,
            subplot_titles=("Cayley table a * b", "characters (real part)", "accuracy",
                            "irrep power share per neuron")))
        figure.add_trace(go.Heatmap(colorscale="Turbo", showscale=False, name="cayley",
                                    hovertemplate="%{y} * %{x} = %{z}<extra></extra>"), 1, 1)
        figure.add_trace(go.Heatmap(colorscale="RdBu", zmid=0, showscale=False, name="characters",
                                    hovertemplate="chi_%{y}(%{x}) = %{z:.3f}<extra></extra>"), 1, 2)
        figure.add_trace(go.Scatter(mode="lines", name="train", line={"dash": "dash"}), 2, 1)
        figure.add_trace(go.Scatter(mode="lines", name="test"), 2, 1)
        figure.add_trace(go.Heatmap(colorscale="Viridis", zmin=0, zmax=1, name="neuron power",
                                    colorbar={"title": "share", "len": 0.4, "y": 0.2}), 2, 2)
        figure.update_yaxes(range=[0, 1.02], title_text="accuracy", row=2, col=1)
        figure.update_xaxes(title_text="step", row=2, col=1)
        figure.update_xaxes(title_text="neuron (sorted by dominant irrep)", row=2, col=2)
        figure.update_yaxes(autorange="reversed", row=1, col=1)
        figure.update_layout(width=940, height=820, margin={"l": 60, "r": 20, "t": 50, "b": 40})
        return figure

    def preview(self):
        """Draw the picked group, and the irrep power of freshly initialised weights."""
        values = self.values()
        group = values["group"]
        table, names, reps = group_table(group), element_names(group), irreps(group)
        classes = [names[c[0]] for c in reps.classes]
        start = init_params(table.shape[0], values["width"], values["seed"])
        with self.figure.batch_update():
            cayley = self.trace("cayley")
            cayley.z, cayley.x, cayley.y = table, list(names), list(names)
            characters = self.trace("characters")
            characters.z = np.round(reps.character_table.real, 6)
            characters.x, characters.y = classes, list(reps.names)
            for name in ("train", "test"):
                self.trace(name).x, self.trace(name).y = [], []
            self._draw_power(start, reps)
        self.show_message(f"{group}: order {table.shape[0]}, {len(reps.names)} irreps of "
                          f"dimensions {reps.dims.tolist()}; the power panel shows the initial "
                          f"weights (press Train)")

    def _draw_power(self, params, reps):
        probe = neuron_irreps(params, reps)
        order = np.lexsort((-probe.dominant_share, probe.dominant_irrep))
        share = probe.total_power / np.maximum(probe.total_power.sum(axis=1, keepdims=True),
                                               np.finfo(float).tiny)
        power = self.trace("neuron power")
        power.z = share[order].T
        power.y = list(probe.names)
        power.x = np.arange(len(order))
        return probe

    def run(self):
        values = self.values()
        config = TrainConfig(group=values["group"], width=values["width"],
                             train_fraction=values["train_fraction"], steps=values["steps"],
                             seed=values["seed"], **VIEW_TRAINING)
        reps = irreps(config.group)

        def draw(history):
            with self.figure.batch_update():
                self.trace("train").x, self.trace("train").y = history.step, history.train_acc
                self.trace("test").x, self.trace("test").y = history.step, history.test_acc

        def work(run):
            result = train_from_config(config, callback=run.callback(
                draw, total=config.steps, position=lambda h: h.step[-1], every=REDRAW_SECONDS))
            self.run_result = result
            draw(result.history)
            with self.figure.batch_update():
                probe = self._draw_power(result.params, reps)
            self.mark_applied()
            generalised = result.steps_to("test_acc", 0.95)
            when = "not reached" if generalised is None else f"reached at step {generalised}"
            self.show_message(
                f"{config.group}: test accuracy {result.history.test_acc[-1]:.1%} after "
                f"{result.steps_done} steps (95% {when}); mean share of the dominant irrep "
                f"{probe.dominant_share.mean():.2f}" + (" (stopped)" if result.stopped_early else ""))

        return work


def build_groups_app(**defaults) -> GroupsApp:
    """The groups view: pick a group, see its table and characters, train and probe.

    Parameters
    ----------
    **defaults
        Initial control values: ``group`` (one of :data:`VIEW_GROUPS`), ``train_fraction``
        in [0.05, 0.9], ``width`` in [16, 512], ``steps`` in [100, 50000], ``seed``.

    Returns
    -------
    GroupsApp
    """
    return GroupsApp(**defaults)


def plot_scaling(result, ax=None):
    """Critical training-set size against ``M ln M`` with the fitted line (matplotlib).

    Each seed is a dot, the bracket of its bisection a vertical bar; the solid line is the
    fit ``n = c M ln M``, the dotted one the authors' ``c = 2.7482``; censored points are
    left out. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    x = result.orders * np.log(result.orders)
    for s in range(len(result.seeds)):
        sizes = result.critical_size[:, s]
        shown = np.isfinite(sizes)
        ax.errorbar(x[shown] * (1 + 0.01 * (s - 1)), sizes[shown],
                    yerr=[sizes[shown] - result.lower[shown, s], result.upper[shown, s] - sizes[shown]],
                    fmt="o", ms=4, capsize=2, label=f"seed {result.seeds[s]}")
    fit = result.fit("M log M")
    line = np.linspace(0, x.max() * 1.05, 50)
    ax.plot(line, fit.constant * line, "k-",
            label=f"fit n = ({fit.constant:.2f} +- {fit.stderr:.2f}) M ln M")
    ax.plot(line, LI2_CONSTANT * line, "k:", label=f"Li2 code: {LI2_CONSTANT} M ln M")
    for order, xi in zip(result.orders, x):
        ax.annotate(f"M={order}", (xi, 0), textcoords="offset points", xytext=(0, 4),
                    ha="center", va="bottom", rotation=90, fontsize=7, color="#666")
    ax.set_xlabel("M ln M")
    ax.set_ylabel(f"critical training pairs (test acc >= {result.threshold:.0%} "
                  f"within {result.steps} steps)")
    ax.legend(fontsize=8)
    return ax


def plot_scaling_laws(result, ax=None):
    """``n_crit / M`` against M with the three fitted laws (matplotlib), to tell them apart.

    Divided by M, the laws become ``c ln M`` (Li2), a constant (``n ~ M``) and ``c M``
    (``n ~ M^2``); each curve's legend gives its log-RMS residual. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    orders = result.orders.astype(float)
    per_order = result.critical_size / orders[:, None]
    for s in range(len(result.seeds)):
        ax.plot(orders, per_order[:, s], "o", ms=4, alpha=0.7, label=f"seed {result.seeds[s]}")
    line = np.geomspace(orders.min() * 0.9, orders.max() * 1.1, 100)
    for law, style in (("M log M", "k-"), ("M", "b--"), ("M^2", "r:")):
        fit = result.fit(law)
        curve = {"M log M": np.log(line), "M": np.ones_like(line), "M^2": line}[law]
        ax.plot(line, fit.constant * curve, style,
                label=f"n = {fit.constant:.3g} {law}  (log-RMS {fit.log_rms:.3f})")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.5 * np.nanmax(per_order))
    ax.set_xlabel("group order M")
    ax.set_ylabel("critical training pairs / M")
    ax.legend(fontsize=8)
    return ax
