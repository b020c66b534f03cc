"""The Koopman view, driven from Python as a notebook user would drive it."""

import numpy as np
import pytest

from explorer.apps.koopman import KoopmanApp, build_koopman_app
from explorer.koopman import DICTIONARIES, SYSTEMS


@pytest.fixture(scope="module")
def app():
    return build_koopman_app(steps=60, trajectories=4, field_grid=32, field_steps=80)


def trace_arrays(app):
    return [np.asarray(getattr(trace, key), dtype=float).copy()
            for trace in app.figure.data for key in ("x", "y", "z")
            if getattr(trace, key, None) is not None]


def changed(before, after):
    return len(before) != len(after) or any(
        a.shape != b.shape or not np.array_equal(a, b, equal_nan=True) for a, b in zip(before, after))


def healthy(app):
    return "Traceback" not in app.status.value and "Error" not in app.status.value


def test_every_panel_is_filled_by_name_and_the_status_says_what_it_shows(app):
    assert app.primary_control == "system"
    for name in ("trajectories", "log10 tau", "residual", "data", "DMD", "field",
                 "reconstruction", "error vs pieces"):
        trace = app.trace(name)
        assert any(getattr(trace, key, None) is not None for key in ("x", "z")), name
    assert "EDMD eigenvalues" in app.status.value and "preview grid" in app.status.value


def test_a_complex_dictionary_gets_a_coarser_preview_grid_than_a_real_one_of_its_size():
    # a point of the circle rotation's complex pseudospectrum (21 Fourier functions) costs about
    # ten times that of the logistic map's few monomials: the cost model must shrink its grid
    sides = {}
    for system in ("logistic map", "circle rotation"):
        view = build_koopman_app(system=system, steps=60, trajectories=4, field_grid=16,
                                 field_steps=40)
        sides[system] = np.asarray(view.trace("log10 tau").z).shape[0]
    assert sides["logistic map"] == 61 and 11 <= sides["circle rotation"] < 45


@pytest.mark.parametrize("name, value", [
    ("system", "duffing"), ("parameter", 0.3), ("noise", 0.02), ("dictionary", "gaussian rbf"),
    ("size", 12), ("rank", 4), ("pieces", 7), ("tolerance", 1e-6), ("epsilon", 0.05),
])
def test_each_control_rewrites_the_existing_traces(app, name, value):
    traces, before = list(app.figure.data), trace_arrays(app)
    app.controls[name].value = value
    app.wait()
    assert list(app.figure.data) == traces  # same trace objects: updated in place
    assert healthy(app), app.status.value
    if name == "tolerance":  # recolours verified / spurious eigenvalues only
        assert tuple(app.trace("tolerance").y) == (1e-6, 1e-6)
    else:
        assert changed(before, trace_arrays(app))


def test_every_system_runs_and_its_ranges_follow(app):
    for system, spec in SYSTEMS.items():
        app.controls["system"].value = system
        assert healthy(app), (system, app.status.value)
        parameter = app.controls["parameter"]
        assert (parameter.min, parameter.max, parameter.value) == (spec.low, spec.high, spec.value)
        assert tuple(app.controls["dictionary"].options) == spec.dictionaries
        kind = spec.dictionaries[0]
        assert app.controls["size"].min == DICTIONARIES[kind].low


def test_the_size_slider_follows_the_dictionary_and_caps_monomials(app):
    app.controls["system"].value = "lorenz63"
    app.controls["dictionary"].value = "monomials"
    assert app.controls["size"].max == 8  # C(3 + 8, 8) = 165 functions
    app.controls["dictionary"].value = "gaussian rbf"
    assert app.controls["size"].max == DICTIONARIES["gaussian rbf"].high
    app.controls["system"].value = "van der pol"


def test_colours_survive_every_update(app):
    for value in (1e-9, 1e-2, 1.0):
        app.controls["tolerance"].value = value
        assert app.trace("spurious").marker.symbol == "x"
        assert app.trace("spurious").marker.color == "#d62728"
        assert app.trace("crossed out").marker.color == "#d62728"
        assert app.trace("verified").marker.colorscale is not None


def test_colour_bars_sit_beside_their_own_panels(app):
    eigen_bar = app.trace("verified").marker.colorbar.x
    tau_bar = app.trace("log10 tau").colorbar.x
    assert app.figure.layout.xaxis2.domain[1] <= eigen_bar < app.figure.layout.xaxis3.domain[0]
    assert tau_bar >= app.figure.layout.xaxis3.domain[1]


def test_too_few_snapshots_for_the_dictionary_are_said_so():
    overfit = build_koopman_app(system="duffing", steps=20, trajectories=1, noise=0.02,
                                dictionary="monomials", size=8, field_grid=16, field_steps=40)
    assert "overfitted" in overfit.status.value
    honest = build_koopman_app(system="duffing", steps=400, trajectories=10,
                               dictionary="monomials", size=3, field_grid=16, field_steps=40)
    assert "held-out residual" in honest.status.value


def test_a_costly_setting_previews_within_budget_and_says_so():
    app = build_koopman_app(system="lorenz63", steps=1000, trajectories=50, dictionary="monomials",
                            size=8, field_grid=16, field_steps=40)
    # 50,000 snapshots and 165 monomials (73 s before the cost model): the preview fits a
    # subsample and says so; its time is measured in benchmarks/koopman.py
    assert "preview fits" in app.status.value and "ms]" in app.status.value


def test_render_draws_a_finer_pseudospectrum_with_verified_points(app):
    app.controls["system"].value = "pendulum"
    coarse = np.asarray(app.trace("log10 tau").z).shape
    app.set_values(resolution=61)
    app.toggle_run()
    assert app.wait(timeout=600)
    assert np.asarray(app.trace("log10 tau").z).shape == (61, 61) != coarse
    assert "pseudospectrum on 61x61" in app.status.value and app.pending() == []


def test_stop_ends_a_render_quickly():
    app = build_koopman_app(system="pendulum", dictionary="gaussian rbf", size=120, steps=200,
                            trajectories=20, resolution=201, field_grid=16, field_steps=40)
    app.toggle_run()
    app.wait(timeout=1.0)
    app.stop()
    assert app.wait(timeout=10)
    assert app.progress.description in ("stopped", "done")


def test_piecewise_panel_improves_with_pieces_and_never_explodes(app):
    errors = None
    for pieces in (1, 4, 12):
        app.controls["pieces"].value = pieces
        errors = np.asarray(app.trace("error vs pieces").y, dtype=float)
        assert np.all(errors < 1.0), errors  # a relative error above 1 means a blown-up fit
    assert errors[-1] < errors[0]


@pytest.mark.parametrize("defaults, name, error", [
    ({"system": "spring"}, "system", ValueError),
    ({"parameter": 39.0}, "parameter", ValueError),  # outside van der pol's range
    ({"dictionary": "fourier"}, "dictionary", ValueError),  # not offered for van der pol
    ({"size": 9, "dictionary": "monomials"}, "size", ValueError),
    ({"field_grid": 2}, "field_grid", ValueError),
    ({"colour": "red"}, "colour", TypeError),
])
def test_bad_defaults_name_the_control(defaults, name, error):
    with pytest.raises(error, match=name):
        KoopmanApp(**defaults)
