"""The 2D densities: shapes, seeds, supports, densities from arrays and drawings, validation."""

import numpy as np
import pytest

from explorer.blending import (DENSITIES, Checkerboard, ConcentricRings, EightGaussians, Gaussian,
                               GaussianMixture, GridDensity, Spiral, TwoMoons, drawing_density,
                               image_density, make_density)


@pytest.mark.parametrize("name", list(DENSITIES))
def test_every_density_samples_reproducibly(name):
    density = make_density(name)
    points = density.sample(500, seed=3)
    assert points.shape == (500, 2) and points.dtype == np.float64 and np.all(np.isfinite(points))
    np.testing.assert_array_equal(points, density.sample(500, seed=3))
    assert not np.array_equal(points, density.sample(500, seed=4))
    assert np.abs(points).max() < 4.0  # one plot window fits every density
    assert density.sample(1, seed=np.random.default_rng(0)).shape == (1, 2)


def test_gaussian_moments():
    points = Gaussian(mean=(1.0, -2.0), cov=[[2.0, 0.6], [0.6, 0.5]]).sample(200_000, seed=0)
    np.testing.assert_allclose(points.mean(axis=0), [1.0, -2.0], atol=0.01)
    np.testing.assert_allclose(np.cov(points.T), [[2.0, 0.6], [0.6, 0.5]], atol=0.02)


def test_gaussians_and_mixtures_in_any_dimension():
    standard = Gaussian(mean=np.zeros(64))
    assert standard.dim == 64 and standard.sample(3, seed=0).shape == (3, 64)
    np.testing.assert_array_equal(Gaussian(cov=2.0).cov, [[2.0, 0.0], [0.0, 2.0]])
    assert Gaussian() == Gaussian(cov=np.eye(2))  # still a value (hashable, comparable)
    means = np.array([[-3.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    points = GaussianMixture(means, 0.01).sample(4000, seed=1)
    assert points.shape == (4000, 3) and np.all(np.abs(np.abs(points[:, 0]) - 3) < 0.5)
    assert 0.45 < np.mean(points[:, 0] > 0) < 0.55
    smooth = GaussianMixture.smoothing(Checkerboard(), components=16, bandwidth=0.1, seed=2)
    np.testing.assert_array_equal(smooth.means, Checkerboard().sample(16, seed=2))
    np.testing.assert_allclose(smooth.cov, 0.01 * np.eye(2))


def test_supports():
    cells = Checkerboard(cells=4).sample(4000, seed=0)
    column, row = np.floor((cells + 2.0) / 1.0).astype(int).T
    assert np.all((column + row) % 2 == 0)
    assert len(set(zip(column.tolist(), row.tolist()))) == 8  # every dark square is used
    rings = ConcentricRings(radii=(1.0, 2.0), noise=0.0).sample(1000, seed=0)
    radius = np.linalg.norm(rings, axis=1)
    assert np.all(np.isclose(radius, 1.0) | np.isclose(radius, 2.0))
    assert 0.6 < np.mean(np.isclose(radius, 2.0)) < 0.73  # twice the circumference
    blobs = EightGaussians(radius=2.0, std=1e-6).sample(400, seed=0)
    angles = np.round(np.arctan2(blobs[:, 1], blobs[:, 0]) / (np.pi / 4)) % 8
    assert len(np.unique(angles)) == 8
    spiral = Spiral(noise=0.0).sample(100, seed=0)
    assert np.linalg.norm(spiral, axis=1).max() <= 2.2 + 1e-12
    moons = TwoMoons(noise=0.0).sample(1000, seed=0)
    assert np.abs(moons).max() < 2.3


def test_grid_density_puts_mass_on_weighted_cells_top_row_first():
    density = GridDensity(np.array([[0.0, 1.0], [3.0, 0.0]]), x_range=(0, 2), y_range=(0, 2))
    points = density.sample(4000, seed=0)
    top_right = (points[:, 0] > 1) & (points[:, 1] > 1)
    bottom_left = (points[:, 0] < 1) & (points[:, 1] < 1)
    assert np.all(top_right | bottom_left)
    assert np.mean(top_right) == pytest.approx(0.25, abs=0.03)


def test_drawing_and_image_densities():
    drawing = drawing_density("#..\n.#.\n..#")  # a diagonal from top left
    points = drawing.sample(600, seed=0)
    np.testing.assert_array_equal(drawing.weights, np.eye(3))
    assert np.corrcoef(points.T)[0, 1] < -0.8
    image = np.ones((4, 8, 3))
    image[:, :2] = 0.0  # a dark band on the left
    left = image_density(image).sample(300, seed=0)
    assert np.all(left[:, 0] < -1.0) and np.abs(left[:, 1]).max() <= 1.0  # aspect kept
    bright = image_density((image * 255).astype(np.uint8), invert=False).sample(300, seed=0)
    assert np.all(bright[:, 0] > -1.0)


@pytest.mark.parametrize("call, name", [
    (lambda: TwoMoons().sample(0), "n"),
    (lambda: TwoMoons().sample(2.5), "n"),
    (lambda: TwoMoons().sample(10, seed=-1), "seed"),
    (lambda: TwoMoons(noise=-1.0), "noise"),
    (lambda: Checkerboard(cells=1), "cells"),
    (lambda: ConcentricRings(radii=(1.0, -1.0)), "radii"),
    (lambda: EightGaussians(std=0.0), "std"),
    (lambda: Gaussian(cov=[[1.0, 0.0], [0.0, -1.0]]), "cov"),
    (lambda: Gaussian(mean=(np.nan, 0.0)), "mean"),
    (lambda: Gaussian(cov=np.eye(3)), "cov"),
    (lambda: Gaussian(cov=-1.0), "cov"),
    (lambda: GaussianMixture(np.zeros(3)), "means"),
    (lambda: GaussianMixture(np.zeros((2, 2)), cov=np.eye(3)), "cov"),
    (lambda: GaussianMixture.smoothing(TwoMoons(), components=0), "components"),
    (lambda: GaussianMixture.smoothing(TwoMoons(), bandwidth=0.0), "bandwidth"),
    (lambda: Gaussian(mean=np.zeros(64)).sample(10**6), "n"),
    (lambda: GridDensity(np.zeros((3, 3))), "weights"),
    (lambda: GridDensity(-np.ones((3, 3))), "weights"),
    (lambda: GridDensity(np.ones(3)), "weights"),
    (lambda: GridDensity(np.ones((2, 2)), x_range=(1, 1)), "x_range"),
    (lambda: drawing_density("...\n   "), "drawing"),
    (lambda: image_density(np.ones((3, 3, 2))), "image"),
    (lambda: make_density("moons"), "name"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()
