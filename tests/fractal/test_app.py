"""The fractal view, driven from Python as a notebook user would drive it."""

import numpy as np
import pytest

from explorer.apps.fractal import HOME, build_fractal_app


@pytest.fixture
def app():
    return build_fractal_app(width=3, steps=25, preview_resolution=16, render_resolution=128)


def heatmap(app):
    return np.array(app.figure.data[0].z, dtype=float)


def test_moving_steps_rewrites_the_same_trace(app):
    trace, before = app.figure.data[0], heatmap(app)
    app.steps.value = 60
    assert app.figure.data[0] is trace  # updated in place, not rebuilt
    assert not np.array_equal(before, heatmap(app), equal_nan=True)


def test_click_zooms_and_back_and_reset_navigate(app):
    app.zoom_at((1.0, 2.0))
    assert app.window.x_range == pytest.approx((1.0 - 9 / 8, 1.0 + 9 / 8))
    assert app.figure.layout.xaxis.range == pytest.approx(app.window.x_range)
    app.back()
    assert app.window == HOME
    app.zoom_at((0.0, 0.0))
    app.reset_button.click()
    assert app.window == HOME


def test_box_drag_zooms_to_the_box(app):
    app.figure.layout.xaxis.range = (2.0, 3.0)
    app.figure.layout.yaxis.range = (-1.0, 0.5)
    assert app.window.x_range == (2.0, 3.0) and app.window.y_range == (-1.0, 0.5)


def test_an_impossible_zoom_is_a_message_not_a_traceback(app):
    app.figure.layout.xaxis.range = (1.0, 1.0 + 1e-17)
    app.figure.layout.yaxis.range = (1.0, 2.0)
    assert "x_range" in app.status.value and "Traceback" not in app.status.value
    assert app.window == HOME  # the view stayed where it was


def test_render_fills_the_full_resolution_and_reports_dimension(app):
    app.render()
    app.wait()
    assert heatmap(app).shape == (128, 128) and np.isfinite(heatmap(app)).all()
    assert app.progress.value == 1.0
    assert "render 128x128" in app.info.value and "dimension" in app.info.value


def test_stopping_a_render_restores_a_complete_preview(app):
    app.steps.value = 400
    app.render_resolution.value = 2048
    app.render()
    app.stop()
    app.wait()
    assert "stopped" in app.status.value
    assert np.isfinite(heatmap(app)).all() and heatmap(app).shape[0] < 2048
