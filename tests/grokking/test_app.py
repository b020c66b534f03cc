"""The views, driven without a browser: train, scrub, stop, compare."""

import numpy as np
import pytest

from explorer.apps import App
from explorer.apps.grokfast import build_comparison_app
from explorer.apps.grokking import build_grokking_app, plot_sweep, run_summary
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
    assert "Error" not in app.status.value and "400 steps" in app.status.value
    assert app.trace("test acc").x[-1] == 400 and app.trace("train acc").y[-1] == 1.0
    slider = app.controls["snapshot"]
    assert slider.max == len(app.result.history.snapshots) - 1 > 10 and slider.value == slider.max
    assert np.asarray(app.trace("spectrum").z).shape == (QUICK_SETTINGS["p"] // 2, QUICK_SETTINGS["width"])
    assert {shape.fillcolor for shape in app.figure.layout.shapes} and app.measures is not None
    assert "mlp, (add) mod 41, width 128" in app.figure.layout.title.text  # the applied settings


def test_scrubbing_shows_an_earlier_snapshot_in_the_final_neuron_order(app):
    before = trace_data(app.figure)
    app.controls["snapshot"].value = 0
    assert trace_data(app.figure) != before
    assert app.trace("snapshot").x[0] == 1  # the step-0 marker sits at the log axis' left end
    assert "step 0" in app.controls["snapshot"].description
    # at step 0 the weights are random: in the trained network's neuron order, no staircase
    first = np.asarray(app.trace("spectrum").z)
    assert np.mean(np.argmax(first, axis=0) == np.sort(np.argmax(first, axis=0))) < 0.5


def test_axes_stay_readable(app):
    layout = app.figure.layout
    norm_axis = layout[app.trace("weight norm").yaxis.replace("y", "yaxis")]
    assert norm_axis.rangemode == "tozero" and norm_axis.tickformat == "~s"
    # an overlaying axis defaults to tickmode "sync" in plotly.js 3: ticks like 3.13113k
    assert norm_axis.tickmode == "auto"
    ipr_axis = layout[app.trace("mean IPR").yaxis.replace("y", "yaxis")]
    assert list(ipr_axis.tickvals) == [0, 0.25, 0.5, 0.75, 1]
    step_axis = layout[app.trace("test acc").xaxis.replace("x", "xaxis")]
    assert step_axis.dtick == 1 and step_axis.range[1] == pytest.approx(np.log10(400) + 0.02)


def test_changed_settings_are_pending_until_train(app):
    app.controls["weight_decay"].value = 0.5
    assert app.pending() == ["weight_decay"] and "press Train" in app.status.value
    app.set_values(weight_decay=SMALL_RUN.get("weight_decay", 1.0))
    assert app.pending() == []


def test_the_scrubber_stays_where_the_user_put_it_while_training():
    view = build_grokking_app(**SMALL_RUN, autostart=False)
    view.toggle_run()
    view.wait()
    # replay a run's growing history: the user holds snapshot 2 while new snapshots arrive
    from explorer.grokking import train
    run = train(**SMALL_RUN, eval_every=10, snapshot_every=40)
    slider = view.controls["snapshot"]
    view._draw(_prefix(run.history, 5), view.measures)
    slider.value = 2
    view._draw(_prefix(run.history, 8), view.measures)
    assert slider.value == 2 and slider.max == 7
    slider.value = slider.max  # End key: back to following the newest
    view._draw(run.history, view.measures)
    assert slider.value == slider.max == len(run.history.snapshots) - 1


def _prefix(history, snapshots):
    from explorer.grokking import History
    last = history.snapshot_step[snapshots - 1]
    keep = history.step <= last
    return History(history.step[keep], history.train_loss[keep], history.test_loss[keep],
                   history.train_acc[keep], history.test_acc[keep], history.weight_norm[keep],
                   history.snapshot_step[:snapshots], history.snapshots[:snapshots])


def test_train_button_stops_a_long_run_promptly():
    view = build_grokking_app(**{**SMALL_RUN, "p": 127, "width": 512, "steps": 200_000},
                              autostart=False)
    view.toggle_run()
    assert view.run_button.description == "Stop"
    while view.result is None and view.progress.value == 0:
        view.wait(0.2)
    view.toggle_run()
    view.wait()
    assert view.result.stopped_early and "stopped" in view.status.value
    assert view.run_button.description == "Train"


def test_status_says_never_instead_of_step_none():
    from explorer.grokking import train
    run = train(**{**SMALL_RUN, "weight_decay": 0.0, "steps": 50})
    assert "95% test: never (within 50 steps)" in run_summary(run) and "None" not in run_summary(run)


def test_bad_defaults_name_the_control():
    with pytest.raises(ValueError, match="p must be"):
        build_grokking_app(p=1000, autostart=False)
    with pytest.raises(TypeError, match="unknown setting"):
        build_grokking_app(modulus=7, autostart=False)


def test_comparison_puts_every_run_in_its_protocol_panel():
    view = build_comparison_app(model="mlp", p=11, width=16, steps=60, batch_size=32)
    view.wait()
    assert "Error" not in view.status.value and len(view.result.runs) == 8
    assert len(view.trace("fair: baseline, wd 0.005, lr x3").x) > 0
    assert "steps to 95% test" in view.table.value and "39,890" in view.table.value
    before = trace_data(view.figure)
    view.controls["metric"].value = "test loss"
    assert trace_data(view.figure) != before
    run = view.result.runs[0]
    assert np.allclose(view.trace(run.label).y, run.history.test_loss)


def test_the_comparison_fits_a_notebooks_output_area():
    # JupyterLab's output area is 968 px wide in a 1400 px window; a wider figure is cut
    view = build_comparison_app(autostart=False)
    assert view.figure.layout.width <= 960


def test_plot_sweep_draws_one_or_two_parameters():
    steps = np.array([[np.nan, 300.0], [500.0, 200.0]])
    result = SweepResult(("weight_decay", "train_fraction"), (np.array([0.0, 1.0]), np.array([0.3, 0.5])),
                         steps, steps, steps, np.zeros((2, 2), bool), 0.95, {})
    assert np.array_equal(np.asarray(plot_sweep(result).data[0].z), steps, equal_nan=True)
    line = SweepResult(("lr",), (np.array([0.1, 0.2]),), steps[0], steps[0], steps[0],
                       np.zeros(2, bool), 0.95, {})
    assert np.array_equal(np.asarray(plot_sweep(line).data[0].y), steps[0], equal_nan=True)
    with pytest.raises(TypeError, match="result"):
        plot_sweep({"steps": 1})
