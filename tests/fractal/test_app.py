"""The fractal view, driven from Python as a notebook user (and the browser) would drive it.

:class:`Browser` stands for plotly.js: it keeps the axis ranges the kernel told it about, and
sends the kernel what a real browser sends for a click, a box drag and a double-click
(issue 13 #1: after click-zoom + double-click the axes stayed zoomed while the data and the
info line were back at the start, and nothing brought them back).
"""

import re

import numpy as np
import pytest

from explorer.apps.fractal import CONFIGURATION_LABELS, HOME, MIN_PREVIEW, Window, build_fractal_app
from explorer.fractal import CONFIGURATIONS, boundary, make_problem, scan


class Browser:
    """What plotly.js holds and sends, simulated on the kernel side of the widget."""

    VIEW = "browser"

    def __init__(self, figure):
        self.figure = figure
        self.ranges = {"xaxis": list(figure.layout.xaxis.range), "yaxis": list(figure.layout.yaxis.range)}
        figure.observe(self._receive, names=["_py2js_relayout", "_py2js_update"])

    def _receive(self, change):
        message = change["new"]
        if not message or message.get("source_view_id") == self.VIEW:
            return
        layout = message.get("relayout_data") or message.get("layout_data") or {}
        for key, value in layout.items():
            axis, _, prop = key.partition(".")
            if axis in self.ranges and prop == "range":
                self.ranges[axis] = list(value)
            elif axis in self.ranges and prop.startswith("range["):
                self.ranges[axis][int(prop[6])] = value

    def _send(self, relayout):
        self.figure._js2py_relayout = {"relayout_data": relayout, "source_view_id": self.VIEW}

    def click(self, x, y):
        self.figure._js2py_pointsCallback = {
            "event_type": "plotly_click", "selector": None, "device_state": None,
            "points": {"xs": [x], "ys": [y], "point_indexes": [[0, 0]], "trace_indexes": [0]}}

    def double_click(self):
        """plotly.js autoscales to the heatmap's cells, tells the kernel, then sends the ranges."""
        heatmap = self.figure.data[0]
        for axis, values in (("xaxis", np.asarray(heatmap.x)), ("yaxis", np.asarray(heatmap.y))):
            half = 0.5 * (values[1] - values[0])
            self.ranges[axis] = [values[0] - half, values[-1] + half]
        self._send({"xaxis.autorange": True, "yaxis.autorange": True})
        self.figure._js2py_layoutDelta = {
            "layout_delta": {"xaxis": {"range": self.ranges["xaxis"]}, "yaxis": {"range": self.ranges["yaxis"]}},
            "layout_edit_id": self.figure._last_layout_edit_id}

    def drag_box(self, x_range, y_range):
        self.ranges = {"xaxis": list(x_range), "yaxis": list(y_range)}
        self._send({"xaxis.range[0]": x_range[0], "xaxis.range[1]": x_range[1],
                    "yaxis.range[0]": y_range[0], "yaxis.range[1]": y_range[1]})


@pytest.fixture
def app():
    return build_fractal_app(width=3, steps=25, preview_resolution=16, render_resolution=128)


def heatmap(app):
    return np.array(app.trace("measure").z, dtype=float)


def assert_in_sync(app, browser, window, error_shown=False):
    """The view's window, the browser's axes, the data and the info line all agree."""
    assert app.window == window
    for axis, bounds in zip(("xaxis", "yaxis"), window):
        assert browser.ranges[axis] == pytest.approx(bounds, abs=1e-9)
        assert getattr(app.figure.layout, axis).autorange is False
    data = app.trace("measure")
    assert (data.x[0], data.x[-1]) == pytest.approx(window.x_range)
    assert (data.y[0], data.y[-1]) == pytest.approx(window.y_range)
    assert f"x: [{window.x_range[0]:.6g}, {window.x_range[1]:.6g}]" in app.info.value
    assert "Traceback" not in app.status.value
    assert ("Error" in app.status.value) == error_shown, app.status.value


def zoom_depth(app) -> int:
    return int(re.search(r"zoom depth (\d+)", app.info.value).group(1))


def test_moving_steps_rewrites_the_same_named_trace(app):
    trace, before = app.trace("measure"), heatmap(app)
    app.controls["steps"].value = 60
    assert app.trace("measure") is trace and app.figure.data[0] is trace  # in place, not rebuilt
    assert not np.array_equal(before, heatmap(app), equal_nan=True)


def test_bad_defaults_are_refused_by_name():
    with pytest.raises(ValueError, match="steps must be an integer in"):
        build_fractal_app(steps=5)
    with pytest.raises(ValueError, match="configuration must be one of"):
        build_fractal_app(configuration="sigmoid")
    with pytest.raises(TypeError, match="unknown setting"):
        build_fractal_app(nonsense=1)
    with pytest.raises(TypeError, match="client must be a Client"):
        build_fractal_app(client="tcp://nowhere:8786")
    with pytest.raises(ValueError, match="x_range"):
        build_fractal_app(window=Window((1.0, 1.0), (0.0, 1.0)))


def test_a_click_zooms_x4_onto_the_nearest_boundary_pixel(app):
    browser = Browser(app.figure)
    before = app.scan
    browser.click(4.5, 4.5)  # deep in the diverged corner: the target snaps to the boundary
    width = (HOME.x_range[1] - HOME.x_range[0]) / 4
    assert app.window.x_range[1] - app.window.x_range[0] == pytest.approx(width)
    centre = np.array([np.mean(app.window.x_range), np.mean(app.window.y_range)])
    distances = np.abs(before.boundary_points() - centre).sum(axis=1)
    assert distances.min() < 1e-9  # the new centre is a boundary point of the previous image
    assert boundary(app.scan.measure).any()  # and the zoomed image still holds boundary
    assert_in_sync(app, browser, app.window)
    assert zoom_depth(app) == 1


def test_clicks_then_double_click_return_to_the_start_in_sync(app):
    """Issue 13 #1 reproduced: click, then double-click (and clicks four times a second)."""
    browser = Browser(app.figure)
    browser.click(1.5, 1.5)
    browser.click(1.5, 1.5)  # a double-click starts with two clicks ...
    browser.double_click()   # ... then plotly autoscales
    assert_in_sync(app, browser, HOME)
    assert zoom_depth(app) == 0 and app.history == []
    for _ in range(4):
        browser.click(1.5, 1.5)
    browser.double_click()
    browser.click(1.5, 1.5)
    assert_in_sync(app, browser, app.window)
    assert zoom_depth(app) == 1


def test_reset_restores_axes_the_browser_changed_without_telling_the_kernel(app):
    browser = Browser(app.figure)
    browser.ranges = {"xaxis": [1.29, 1.85], "yaxis": [1.29, 1.85]}  # the reported stuck state
    app.reset_button.click()
    assert_in_sync(app, browser, HOME)
    browser.ranges = {"xaxis": [1.29, 1.85], "yaxis": [1.29, 1.85]}
    app.controls["width"].value = 4  # any redraw re-sends the ranges
    assert_in_sync(app, browser, HOME)


def test_box_drag_zooms_to_the_box_and_back_returns(app):
    browser = Browser(app.figure)
    browser.drag_box((2.0, 3.0), (-1.0, 0.5))
    assert_in_sync(app, browser, Window((2.0, 3.0), (-1.0, 0.5)))
    assert zoom_depth(app) == 1
    app.back_button.click()
    assert_in_sync(app, browser, HOME)
    assert zoom_depth(app) == 0


def test_an_impossible_zoom_is_a_message_and_the_axes_stay(app):
    browser = Browser(app.figure)
    browser.drag_box((1.0, 1.0 + 1e-17), (1.0, 2.0))
    assert "x_range" in app.status.value
    assert_in_sync(app, browser, HOME, error_shown=True)


def test_the_preview_shrinks_to_the_cost_budget_and_says_so(app):
    app.cost = lambda problem, options: (0.0, 0.2 / 14**2)  # 14 x 14 pixels fit in 0.2 s
    app.controls["steps"].value = 30
    assert heatmap(app).shape == (14, 14) and not app.busy
    assert "shrunk to 14x14" in app.status.value


def test_a_preview_too_costly_even_when_small_runs_in_the_background(app):
    app.cost = lambda problem, options: (0.0, 0.2 / (MIN_PREVIEW - 1) ** 2)
    app.controls["steps"].value = 30
    assert "background" in app.status.value
    app.wait()
    assert heatmap(app).shape == (16, 16) and np.isfinite(heatmap(app)).all()


def test_render_fills_the_full_resolution_and_marks_settings_applied(app):
    app.render()
    app.wait()
    assert heatmap(app).shape == (128, 128) and np.isfinite(heatmap(app)).all()
    assert app.progress.value == 1.0
    assert "render 128x128 with local threads" in app.info.value and "dimension" in app.info.value
    local = scan(make_problem(width=3), *HOME, resolution=128, steps=25)
    np.testing.assert_array_equal(app.scan.measure, local.measure)
    app.controls["render_resolution"].value = 256
    assert app.pending() == ["render_resolution"] and "Render" in app.status.value


def test_a_large_render_reaches_the_browser_subsampled_and_says_so():
    app = build_fractal_app(width=2, steps=21, preview_resolution=16, render_resolution=1024)
    app.render()
    app.wait()
    assert app.scan.measure.shape == (1024, 1024)  # the analysis uses every pixel
    assert heatmap(app).shape == (512, 512) and "render 1024x1024" in app.info.value
    assert "shown at 512x512" in app.info.value
    np.testing.assert_array_equal(app.trace("measure").x, np.log10(app.scan.x[::2]))


def test_stopping_a_render_shows_the_previous_complete_image(app):
    app.set_values(steps=400, render_resolution=2048)
    shown = app.scan
    app.render()
    app.stop()
    app.wait()
    assert "stopped" in app.status.value
    assert app.scan is shown and heatmap(app).shape == shown.measure.shape
    assert np.isfinite(heatmap(app)).all()


def test_a_render_reports_progress_from_the_start(app):
    """The library scan calls back every ~0.25 s, so progress (and Stop) never wait for the end."""
    seen = []
    app.progress.observe(lambda change: seen.append(change["new"]), names="value")
    app.set_values(steps=300, render_resolution=256)
    app.render()
    app.wait()
    assert any(0 < value < 1 for value in seen) and seen[-1] == 1.0


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_every_configuration_previews_what_the_library_scans(name):
    configuration = CONFIGURATIONS[name]
    app = build_fractal_app(width=3, steps=25, preview_resolution=16, configuration=name)
    assert app.controls["configuration"].value == configuration.label
    assert CONFIGURATION_LABELS[configuration.label] is configuration
    assert "Error" not in app.status.value, app.status.value
    assert configuration.label in app.figure.layout.title.text
    resolution = heatmap(app).shape[0]
    options = configuration.scan_options()
    if options["minibatch"] is not None:
        options["minibatch_seed"] = 0
    expected = scan(configuration.problem(width=3, seed=0), *HOME, resolution, 25, **options)
    np.testing.assert_array_equal(app.scan.measure, expected.measure)


@pytest.fixture
def closable_client():
    distributed = pytest.importorskip("dask.distributed")
    client = distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                                dashboard_address=None)
    yield client
    client.close()


def test_a_render_on_a_client_equals_the_local_render(closable_client):
    app = build_fractal_app(width=4, steps=25, preview_resolution=16, render_resolution=128,
                            client=closable_client)
    app.render()
    app.wait()
    assert "on the Dask cluster" in app.info.value
    local = scan(make_problem(width=4), *HOME, resolution=128, steps=25)
    np.testing.assert_array_equal(app.scan.measure, local.measure)


def test_a_view_survives_its_client_going_away(closable_client):
    """Issue 13 #7: the scale-out lesson closes its cluster; Render must still work."""
    app = build_fractal_app(width=4, steps=25, preview_resolution=16, render_resolution=128,
                            client=closable_client)
    closable_client.close()
    app.render()
    app.wait()
    assert "client is closed" in app.status.value and "local threads" in app.status.value
    assert "render 128x128 with local threads" in app.info.value
    assert np.isfinite(heatmap(app)).all() and heatmap(app).shape == (128, 128)
    app.controls["steps"].value = 30  # and the view keeps working
    assert "Traceback" not in app.status.value and heatmap(app).shape == (16, 16)


def test_the_hover_text_carries_the_measure_so_every_change_shows(app):
    """Rank-stretched colours can survive a small change of a setting (the order of the pixels
    stays); the measure in the hover text cannot (a dashboard once saw no change at all)."""
    trace = app.trace("measure")
    before = np.array(trace.text, float)
    app.controls["steps"].value = 26
    np.testing.assert_array_equal(np.array(trace.text, float), app.scan.measure.round(3))
    assert not np.array_equal(before, np.array(trace.text, float))
