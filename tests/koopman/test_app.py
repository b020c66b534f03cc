"""The Koopman view, driven from Python as a notebook user would drive it."""

import numpy as np
import pytest

from explorer.apps.koopman import SYSTEMS, build_koopman_app


@pytest.fixture(scope="module")
def app():
    return build_koopman_app(steps=60, trajectories=4, field_grid=32, field_steps=80)


def trace_arrays(app):
    return [np.asarray(getattr(trace, key), dtype=float).copy()
            for trace in app.figure.data for key in ("x", "y", "z")
            if getattr(trace, key, None) is not None]


def changed(before, after):
    return any(a.shape != b.shape or not np.array_equal(a, b, equal_nan=True)
               for a, b in zip(before, after))


def test_the_figure_is_built_once_and_every_panel_is_filled(app):
    assert app.primary_control == "system" and len(app.figure.data) == 14
    for index in (0, 2, 4, 6, 8, 9, 11, 12, 13):
        trace = app.figure.data[index]
        assert any(getattr(trace, key, None) is not None for key in ("x", "z")), index
    assert "EDMD eigenvalues" in app.status.value


@pytest.mark.parametrize("name, value", [
    ("system", "duffing"), ("parameter", 0.3), ("noise", 0.02), ("dictionary", "gaussian rbf"),
    ("size", 12), ("rank", 4), ("pieces", 7), ("tolerance", 1e-6),
])
def test_each_control_rewrites_the_existing_traces(app, name, value):
    traces, before = list(app.figure.data), trace_arrays(app)
    app.controls[name].value = value
    app.wait()
    assert list(app.figure.data) == traces  # same trace objects: updated in place
    assert "Traceback" not in app.status.value and "Error" not in app.status.value
    if name == "tolerance":  # recolours verified / spurious eigenvalues only
        assert app.figure.data[7].y == (1e-6, 1e-6)
    else:
        assert changed(before, trace_arrays(app))


def test_every_system_runs_in_the_view(app):
    for system in SYSTEMS:
        app.controls["system"].value = system
        assert app.controls["parameter"].description == SYSTEMS[system].parameter
        assert "Error" not in app.status.value, (system, app.status.value)


def test_render_button_draws_a_finer_pseudospectrum(app):
    coarse = np.asarray(app.figure.data[4].z).shape
    button = next(child for row in app.children[:3] for child in getattr(row, "children", ())
                  if getattr(child, "description", "") == "render pseudospectrum")
    button.click()
    app.wait()
    assert np.asarray(app.figure.data[4].z).shape[0] > coarse[0]
    assert "pseudospectrum on" in app.status.value


def test_piecewise_panel_improves_with_pieces_and_never_explodes(app):
    for pieces in (1, 4, 12):
        app.controls["pieces"].value = pieces
        errors = np.asarray(app.figure.data[13].y, dtype=float)
        assert np.all(errors < 1.0), errors  # a relative error above 1 means a blown-up fit
    assert errors[-1] < errors[0]
