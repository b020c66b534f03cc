"""The Gauss map and the circle rotation (the ResDMD paper's examples), and the systems table."""

import numpy as np
import pytest

from explorer.koopman import (DICTIONARIES, SYSTEMS, build_dictionary, circle_rotation, edmd,
                              fourier, gauss_map, legendre, phase_portrait, simulate)
from explorer.koopman.catalog import PENDULUM_MAX_ENERGY


def test_gauss_map_images_and_legendre_quadrature():
    data = gauss_map(points=30)
    x, image = data.states[:, 0, 0], data.states[:, 0, 1]
    np.testing.assert_allclose(image, np.exp(-2 * x**2) - 1 - np.exp(-2), rtol=1e-15)
    assert np.all((x > -1) & (x < 0)) and data.weights.sum() == pytest.approx(1.0)
    # Gauss-Legendre with 30 nodes integrates x^k on [-1, 0] exactly for k < 60
    for k in (0, 5, 40, 59):
        assert data.weights @ x**k == pytest.approx((-1) ** k / (k + 1), rel=1e-12)
    assert np.all(image >= -1) and np.all(image <= -np.exp(-2) + 1e-15)  # [-1, 0] into itself


def test_legendre_polynomials_are_orthonormal_on_their_interval():
    data = gauss_map(points=50)
    values = legendre(20)(data.X)
    np.testing.assert_allclose((values * data.weights) @ values.T, np.eye(20), atol=1e-12)
    shifted = legendre(4, (2.0, 5.0))(np.array([[2.0, 3.5, 5.0]]))
    # at the midpoint t = 0: P0..P3 = 1, 0, -1/2, 0, times sqrt(2 j + 1)
    np.testing.assert_allclose(shifted[:, 1], [1.0, 0.0, -np.sqrt(5) / 2, 0.0], atol=1e-15)
    with pytest.raises(ValueError, match="X"):
        legendre(3)(np.array([[5.0]]))


def test_other_samplings_of_the_gauss_map():
    uniform = gauss_map(points=10, sampling="uniform")
    np.testing.assert_allclose(uniform.X[0], np.arange(10) / 10 - 0.95)
    random = gauss_map(points=10, sampling="random", seed=3)
    np.testing.assert_array_equal(random.X, gauss_map(points=10, sampling="random", seed=3).X)


def test_circle_rotation_and_its_fourier_eigenfunctions():
    data = circle_rotation(0.4, points=16)
    np.testing.assert_allclose(data.Y - data.X, 0.4)
    result = edmd(data.X, data.Y, fourier(5), data.weights)
    np.testing.assert_allclose(result.G, np.eye(11), atol=1e-13)
    np.testing.assert_allclose(np.sort(np.angle(result.eigs)), 0.4 * np.arange(-5, 6), atol=1e-12)
    np.testing.assert_allclose(result.residuals, 0.0, atol=1e-12)
    orbit = circle_rotation(1.0, points=50, sampling="trajectory", seed=1)
    assert orbit.X.shape == (1, 50) and np.all(np.abs(orbit.states) <= np.pi)
    np.testing.assert_allclose(np.exp(1j * (orbit.Y - orbit.X)), np.exp(1j), atol=1e-12)


def test_every_system_of_the_table_simulates_with_its_defaults():
    for name, spec in SYSTEMS.items():
        data = simulate(name, steps=10, trajectories=2)
        assert data.X.shape[1] >= 2 and not data.diverged, name
        assert spec.low <= spec.value <= spec.high
        for kind in spec.dictionaries:
            size = DICTIONARIES[kind].value
            result = edmd(data.X, data.Y, build_dictionary(kind, size, data.X), data.weights)
            assert np.all(np.isfinite(result.eigs)), (name, kind)
        x, y, *labels = phase_portrait(data)
        assert x.shape == y.shape and x.shape[0] == data.states.shape[0] and len(labels) == 2


def test_the_pendulum_is_the_same_for_view_and_command_line():
    spec = SYSTEMS["pendulum"]
    assert spec.options == {"max_energy": PENDULUM_MAX_ENERGY, "cylinder": True}
    data = simulate("pendulum", steps=2, trajectories=50, seed=1)
    cosine, _, velocity = data.states[:, 0], data.states[:, 1], data.states[:, 2]
    assert np.max(velocity**2 / 2 + 1 - cosine) <= PENDULUM_MAX_ENERGY + 1e-6


@pytest.mark.parametrize("call, name", [
    (lambda: gauss_map(points=0), "points"),
    (lambda: gauss_map(sampling="sobol"), "sampling"),
    (lambda: gauss_map(alpha=1e9), "alpha"),
    (lambda: circle_rotation(omega=np.inf), "omega"),
    (lambda: circle_rotation(points=10**7), "points"),
    (lambda: simulate("pendulum", parameter=5.0), "parameter"),
    (lambda: simulate("spring"), "name"),
    (lambda: build_dictionary("monomials", 50, np.ones((2, 3))), "size"),
    (lambda: fourier(-1), "modes"),
    (lambda: legendre(0), "count"),
])
def test_bad_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
