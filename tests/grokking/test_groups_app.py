"""The groups view, driven without a browser: pick, train, stop, refuse bad defaults;
and the scaling plot."""

import matplotlib
import numpy as np
import pytest

from explorer.apps import App
from explorer.apps.groups import VIEW_GROUPS, build_groups_app, plot_scaling, plot_scaling_laws
from explorer.grokking import group_table, irreps, scaling_sweep
from tests.grokking.test_scaling import ThresholdExecutor

matplotlib.use("Agg")


def as_array(values):
    return np.asarray(values, dtype=float)


@pytest.fixture(scope="module")
def app():
    return build_groups_app(group="dihedral:6", steps=300, width=32)


def test_picking_a_group_redraws_table_characters_and_power(app):
    assert isinstance(app, App) and app.primary_control == "group"
    app.controls["group"].value = "alternating:4"
    app.wait()
    assert np.array_equal(as_array(app.trace("cayley").z), group_table("alternating:4"))
    assert tuple(app.trace("characters").y) == irreps("alternating:4").names
    power = as_array(app.trace("neuron power").z)
    assert power.shape == (3, 32)  # real irreps of A4 (the complex pair merged) x neurons
    assert np.allclose(power.sum(axis=0), 1.0)
    assert "Traceback" not in app.status.value and "order 12" in app.status.value


def test_training_streams_curves_and_probes_the_trained_weights(app):
    app.set_values(group="dihedral:6", train_fraction=0.6)
    app.preview()
    app.toggle_run()
    app.wait()
    assert app.run_result.task.group == "dihedral:6"
    assert app.trace("test").x[-1] == app.run_result.steps_done
    assert "test accuracy" in app.status.value and not app.pending()
    app.controls["width"].value = 48
    assert app.pending() == ["width"]


def test_stop_ends_training_early():
    view = build_groups_app(group="dihedral:6", steps=50_000, width=16)
    view.toggle_run()
    view.toggle_run()  # the button reads Stop while training
    view.wait()
    assert view.run_result.stopped_early and view.run_result.steps_done < 50_000


@pytest.mark.parametrize("defaults, error", [({"group": "cyclic:5"}, ValueError),
                                             ({"width": 4}, ValueError), ({"colour": 1}, TypeError)])
def test_bad_defaults_are_refused_naming_the_control(defaults, error):
    with pytest.raises(error, match=next(iter(defaults))):
        build_groups_app(**defaults)


def test_every_picker_group_has_irreps():
    for group in VIEW_GROUPS:
        assert (irreps(group).dims ** 2).sum() == group_table(group).shape[0]


def test_scaling_plot_draws_every_uncensored_point():
    needed = {"cyclic:17": 150, "cyclic:31": 400, "cyclic:53": 10**6}  # the last is censored
    result = scaling_sweep(list(needed), seeds=[0, 1], executor=ThresholdExecutor(needed))
    ax = plot_scaling(result)
    assert "M ln M" in ax.get_xlabel()
    points = sum(len(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "o")
    assert points == np.isfinite(result.critical_size).sum() == 4
    assert any(f"{result.fit().constant:.2f}" in text.get_text()
               for text in ax.get_legend().get_texts())


def test_law_plot_labels_every_law_with_its_residual():
    needed = {"cyclic:17": 150, "cyclic:31": 400, "cyclic:53": 700}
    result = scaling_sweep(list(needed), seeds=[0], executor=ThresholdExecutor(needed))
    labels = [text.get_text() for text in plot_scaling_laws(result).get_legend().get_texts()]
    for law in ("M log M", "M", "M^2"):
        assert any(f"{result.fit(law).log_rms:.3f}" in label and law in label for label in labels)
