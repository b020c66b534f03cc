"""The image blending view, driven without a browser."""

import numpy as np
import pytest

from explorer.apps._base import PENDING_MARK
from explorer.apps.blending_images import GAP, build_blending_images_app, mosaic


def grid(app, name):
    """The heatmap's values, NaN in the gaps (the view sends None there)."""
    return np.array(app.trace(name).z, dtype=float)


@pytest.fixture(scope="module")
def app():
    view = build_blending_images_app(steps=200, width=64, depth=2, samples=10)
    view.toggle_run()
    assert view.wait(timeout=600)
    return view


def test_mosaic_tiles_images_top_row_first():
    images = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)
    canvas = mosaic(images, 2)
    assert canvas.shape == (2 * 2 + GAP, 2 * 2 + GAP)
    np.testing.assert_array_equal(canvas[::-1][:2, :2], images[0])
    np.testing.assert_array_equal(canvas[::-1][3:, :2], images[2])
    assert np.isnan(canvas[::-1][3:, 3:]).all()


def test_the_grid_fills_in_as_alpha_moves(app):
    app.controls["alpha"].value = 0.0
    noise = grid(app, "exact samples")
    app.controls["alpha"].value = 1.0
    final = grid(app, "exact samples")
    assert not np.array_equal(noise, final)
    # at alpha = 1 the exact deblender's samples are training images: equal to their nearest
    np.testing.assert_allclose(final, grid(app, "exact nearest"), atol=1e-6)
    assert "10 of 10 are copies" in app.annotation("exact").text


def test_training_streams_a_loss_curve_and_trained_samples(app):
    assert len(app.trace("loss").y) == 200 and "200 steps" in app.status.value
    assert np.isfinite(grid(app, "trained samples")).sum() == 10 * 64
    assert "copies" in app.annotation("trained").text


def test_class_buttons_and_the_chain(app):
    app.controls["digit"].value = "3"
    assert np.all(app.labels() == 3)
    nearest = app.exact_path.final
    labels = app.train.labels[np.argmin(((nearest[:, None] - app.train.points[None]) ** 2).sum(-1), axis=1)]
    assert np.all(labels == 3)
    before = grid(app, "chain")
    app.controls["T"].value = 64
    assert not np.array_equal(before, grid(app, "chain")) and "T = 64" in app.annotation("chain").text
    app.controls["width"].value = 128
    assert app.pending() == ["width"] and app.controls["width"].description.endswith(PENDING_MARK)
    app.controls["width"].value = 64


def test_bad_defaults_are_refused_by_name():
    with pytest.raises(ValueError, match="^digit must be one of"):
        build_blending_images_app(digit="12")
    with pytest.raises(ValueError, match="^train_fraction"):
        build_blending_images_app(train_fraction=1.5)
