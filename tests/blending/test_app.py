"""The blending view, driven without a browser: train, scrub alpha, move T, change densities."""

import datetime
import io

import matplotlib.image
import numpy as np
import pytest

from explorer.apps import App
from explorer.apps.blending import CHAIN_STEPS, DISPLAY_STEPS, build_blending_app

SMALL = dict(steps=300, points=150, shown=200)


def trace(app, name):
    return app.figure.data[app.traces[name]]


def fingerprint(app):
    return [np.asarray(values, dtype=float).tobytes() for item in app.figure.data
            for values in (item.x, item.y) if values is not None]


@pytest.fixture(scope="module")
def app():
    view = build_blending_app(**SMALL)
    view.wait()
    return view


def test_training_streams_into_the_figure(app):
    assert isinstance(app, App) and app.primary_control == "alpha"
    assert "300 steps" in app.status.value and "done" in app.status.value
    assert len(trace(app, "loss").y) == 300 and app.train_button.description == "Train"
    assert len(trace(app, "trained points").x) == 200
    for method in ("euler", "midpoint", "heun"):
        assert len(trace(app, method).x) > 0
    assert "median gap to training set" in app.figure.layout.annotations[1].text


def test_alpha_scrubs_precomputed_trajectories(app):
    app.alpha.value = 0.0
    np.testing.assert_allclose(trace(app, "exact points").x, app.start_points[:, 0])
    before = fingerprint(app)
    app.alpha.value = 0.5
    assert fingerprint(app) != before
    np.testing.assert_allclose(trace(app, "trained points").y,
                               app.trained_path.points[DISPLAY_STEPS // 2][:, 1])
    app.alpha.value = 1.0
    exact_final = np.column_stack([trace(app, "exact points").x, trace(app, "exact points").y])
    assert np.median(np.min(np.linalg.norm(exact_final[:, None] - app.training_points[None], axis=-1), axis=1)) < 0.05


def test_chain_steps_slider_redraws_the_random_paths(app):
    before = np.asarray(trace(app, "random paths").x, dtype=float)
    app.chain_steps.value = CHAIN_STEPS[-1]
    after = np.asarray(trace(app, "random paths").x, dtype=float)
    assert after.size > before.size and "T = 256" in app.figure.layout.annotations[3].text
    assert trace(app, "chosen T").x == (CHAIN_STEPS[-1],)
    assert len(trace(app, "spread").x) == len(CHAIN_STEPS)


def test_train_button_stops_and_densities_can_be_drawn_or_uploaded():
    view = build_blending_app(autostart=False, **SMALL)
    assert len(trace(view, "exact points").x) == 200 and len(trace(view, "trained points").x) == 0
    view.settings["steps"].value = 200_000
    view.toggle_training()
    assert view.train_button.description == "Stop"
    view.toggle_training()
    view.wait()
    assert "stopped" in view.status.value and view.train_button.description == "Train"
    view.drawing.value = "#....\n.....\n....#"
    assert view.settings["target"].value == "drawing"
    corners = np.abs(view.training_points)  # only the two corner cells (of 5 x 3) carry ink
    assert np.all(corners[:, 0] >= 1.2) and np.all(corners[:, 1] >= 2 / 3)
    image = np.ones((20, 20, 3))
    image[5:8, 5:8] = 0.0
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, image, format="png")
    view.upload.value = ({"name": "dot.png", "type": "image/png", "size": buffer.tell(),
                          "content": memoryview(buffer.getvalue()),
                          "last_modified": datetime.datetime(2024, 1, 1)},)
    assert view.settings["target"].value == "upload"
    assert np.all(view.training_points[:, 0] < 0) and np.all(view.training_points[:, 1] > 0)


def test_a_non_gaussian_source_trains_but_has_no_exact_panel():
    view = build_blending_app(source="checkerboard", target="eight_gaussians", **SMALL)
    view.wait()
    assert "needs a Gaussian source" in view.figure.layout.annotations[0].text
    assert len(trace(view, "exact points").x) == 0 and len(trace(view, "trained points").x) == 200
    assert "error" not in view.status.value


def test_errors_become_a_status_line():
    view = build_blending_app(autostart=False, **SMALL)
    view.settings["target"].value = "upload"  # nothing uploaded yet
    assert "upload an image first" in view.status.value and "Traceback" not in view.status.value
