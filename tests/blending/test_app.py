"""The blending view, driven without a browser: train, scrub alpha, move T, change the data."""

import datetime
import io

import matplotlib.image
import numpy as np
import pytest

from explorer.apps import App
from explorer.apps._base import PENDING_MARK
from explorer.apps.blending import CHAIN_STEPS, DISPLAY_STEPS, build_blending_app

SMALL = dict(steps=300, points=150, shown=200)


def xy(app, name):
    trace = app.trace(name)
    return np.column_stack([np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)])


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
    assert len(app.trace("loss").y) == 300 and app.run_button.description == "Train"
    assert len(app.trace("trained points").x) == 200
    for method in ("euler", "midpoint", "heun"):
        assert len(app.trace(method).x) > 0
    assert len(app.trace("floor").y) == 2
    assert "median gap to training set" in app.annotation("trained").text
    assert app.pending() == [] and app.applied_settings()["steps"] == 300


def test_alpha_scrubs_precomputed_trajectories(app):
    app.controls["alpha"].value = 0.0
    np.testing.assert_allclose(xy(app, "exact points"), app.start_points[:app.exact_count])
    before = fingerprint(app)
    app.controls["alpha"].value = 0.5
    assert fingerprint(app) != before
    np.testing.assert_allclose(xy(app, "trained points"), app.trained_path.points[DISPLAY_STEPS // 2])
    app.controls["alpha"].value = 1.0
    gaps = np.min(np.linalg.norm(xy(app, "exact points")[:, None] - app.training_points[None], axis=-1), axis=1)
    assert np.median(gaps) < 0.05


def test_training_points_are_drawn_above_the_samples(app):
    names = [trace.name for trace in app.figure.data]
    assert names.index("exact training points") > names.index("exact points")
    assert names.index("trained training points") > names.index("trained points")


def test_chain_control_redraws_the_random_paths(app):
    before = np.asarray(app.trace("random paths").x, dtype=float)
    app.controls["T"].value = CHAIN_STEPS[-1]
    after = np.asarray(app.trace("random paths").x, dtype=float)
    assert after.size > before.size and "T = 256" in app.annotation("chain").text
    assert app.trace("chosen T").x == (CHAIN_STEPS[-1],)
    assert len(app.trace("spread").x) == len(CHAIN_STEPS)


def test_network_settings_are_pending_until_train(app):
    app.controls["width"].value = 32
    assert app.pending() == ["width"] and app.controls["width"].description.endswith(PENDING_MARK)
    assert "press Train" in app.status.value
    app.controls["width"].value = 64
    assert app.pending() == []


def test_stop_and_own_targets():
    view = build_blending_app(autostart=False, **SMALL)
    assert len(view.trace("exact points").x) == 200 and len(view.trace("trained points").x) == 0
    view.controls["steps"].value = 200_000
    view.toggle_run()
    assert view.run_button.description == "Stop"
    view.toggle_run()
    assert view.wait(timeout=30)
    assert "stopped" in view.status.value and view.run_button.description == "Train"
    view.controls["drawing"].value = "#....\n.....\n....#"
    assert view.controls["target"].value == "drawing"
    corners = np.abs(view.training_points)  # only the two corner cells (of 5 x 3) carry ink
    assert np.all(corners[:, 0] >= 1.2) and np.all(corners[:, 1] >= 2 / 3)
    image = np.ones((20, 20, 3))
    image[5:8, 5:8] = 0.0
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, image, format="png")
    view.upload.value = ({"name": "dot.png", "type": "image/png", "size": buffer.tell(),
                          "content": memoryview(buffer.getvalue()),
                          "last_modified": datetime.datetime(2024, 1, 1)},)
    assert view.controls["target"].value == "upload"
    assert np.all(view.training_points[:, 0] < 0) and np.all(view.training_points[:, 1] > 0)


def test_a_non_gaussian_source_fills_every_panel():
    view = build_blending_app(source="checkerboard", target="eight_gaussians", **SMALL)
    view.wait()
    assert "checkerboard as 16 Gaussians" in view.annotation("exact").text
    for name in ("exact points", "trained points", "random paths", "deterministic paths",
                 "spread", "euler", "loss"):
        assert len(view.trace(name).x) > 0, name
    assert "Error" not in view.status.value


def test_a_fixed_input_clears_the_old_error():
    view = build_blending_app(autostart=False, **SMALL)
    view.controls["target"].value = "upload"  # nothing uploaded yet
    assert "upload an image first" in view.status.value and "Traceback" not in view.status.value
    view.controls["target"].value = "spiral"
    assert "upload" not in view.status.value and "Error" not in view.status.value
    view.controls["drawing"].value = "...\n..."  # no ink: an error
    assert "drawing must contain at least one ink character" in view.status.value
    view.controls["drawing"].value = "#.\n.#"
    assert "Error" not in view.status.value and view.data_ready


def test_bad_defaults_are_refused_by_name():
    with pytest.raises(ValueError, match="^points must be an integer in"):
        build_blending_app(points=10)
    with pytest.raises(ValueError, match="^T must be one of"):
        build_blending_app(T=3)
    with pytest.raises(TypeError, match="unknown setting"):
        build_blending_app(colour="red")
    with pytest.raises(ValueError, match="^shown must be an integer"):
        build_blending_app(shown=10**6)
