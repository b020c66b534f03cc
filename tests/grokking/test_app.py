"""The views, driven without a browser: train, scrub, compare, stop."""

import numpy as np
import pytest

from explorer.apps import App
from explorer.apps.grokking import (COMPARISONS, build_comparison_app, build_grokking_app,
                                    config_from, plot_sweep, setting_controls)
from explorer.grokking import QUICK_SETTINGS, SweepResult

SMALL_RUN = {**QUICK_SETTINGS, "steps": 400}


def trace_data(figure):
    return [np.asarray(values).tobytes() for trace in figure.data
            for values in (trace.x, trace.y, getattr(trace, "z", None)) if values is not None]


@pytest.fixture(scope="module")
def app():
    view = build_grokking_app(**SMALL_RUN)
    view.wait()
    return view


def test_training_streams_into_the_figure(app):
    assert isinstance(app, App) and app.primary_control == "snapshot"
    assert "error" not in app.status.value and "400 steps" in app.status.value
    accuracy_train, accuracy_test = app.figure.data[:2]
    assert accuracy_test.x[-1] == 400 and accuracy_train.y[-1] == 1.0
    assert app.snapshot.max == len(app.run.history.snapshots) - 1 > 10
    assert app.snapshot.value == app.snapshot.max
    heatmap = app.figure.data[5]
    assert np.asarray(heatmap.z).shape == (QUICK_SETTINGS["p"] // 2, QUICK_SETTINGS["width"])
    assert {shape.fillcolor for shape in app.figure.layout.shapes} and app.measures is not None


def test_scrubbing_shows_an_earlier_snapshot(app):
    before = trace_data(app.figure)
    app.snapshot.value = 0
    app.wait()
    assert trace_data(app.figure) != before
    assert app.figure.data[9].x[0] == 1  # the step-0 marker sits at the log axis' left end
    assert "step 0" in app.snapshot.description


def test_train_button_stops_a_running_run():
    view = build_grokking_app(**{**SMALL_RUN, "steps": 200_000}, autostart=False)
    view.toggle_training()
    assert view.train_button.description == "Stop"
    view.toggle_training()
    view.wait()
    assert view.run.stopped_early and "stopped" in view.status.value
    assert view.train_button.description == "Train"


def test_comparison_puts_both_runs_on_one_plot():
    view = build_comparison_app(comparison="weight decay as set vs none", **SMALL_RUN)
    view.wait()
    assert "error" not in view.status.value and "no weight decay" in view.status.value
    decayed, undecayed = view.histories
    assert decayed.test_acc[-1] > undecayed.test_acc[-1]
    before = trace_data(view.figure)
    view.metric.value = "loss"
    assert trace_data(view.figure) != before
    assert np.allclose(view.figure.data[1].y, decayed.test_loss)


def test_every_comparison_differs_in_its_settings():
    controls = setting_controls(**SMALL_RUN)
    for (_, first), (_, second) in COMPARISONS.values():
        assert config_from(controls, **first) != config_from(controls, **second)


def test_plot_sweep_draws_the_grid():
    steps = np.array([[np.nan, 300.0], [500.0, 200.0]])
    result = SweepResult(("weight_decay", "train_fraction"), (np.array([0.0, 1.0]), np.array([0.3, 0.5])),
                         steps, steps, steps, np.zeros((2, 2), bool), 0.95, {})
    figure = plot_sweep(result)
    assert np.array_equal(np.asarray(figure.data[0].z), steps, equal_nan=True)
    with pytest.raises(ValueError, match="two-parameter"):
        plot_sweep(SweepResult(("lr",), (np.array([0.1]),), steps[0], steps[0], steps[0],
                               np.zeros(2, bool), 0.95, {}))
