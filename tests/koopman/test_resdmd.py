"""Residual DMD: zero residuals for exact pairs, large for spurious ones, pseudospectra."""

import numpy as np
import pytest

from explorer.koopman import (duffing, edmd, monomials, pendulum, pick_centers, pseudospectrum,
                              radial_basis, spectral_measure, verified_eigs)
from explorer.koopman._kernels import pseudospectrum_points
from tests.koopman import naive


def normal_matrix_result(seed, n=6):
    """EDMD of an exactly sampled normal map with G = I (orthonormal snapshots)."""
    rng = np.random.default_rng(seed)
    eigs = rng.uniform(-1, 1, n) + 1j * rng.uniform(-1, 1, n)
    unitary, _ = np.linalg.qr(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
    matrix = unitary @ np.diag(eigs) @ unitary.conj().T
    X = np.sqrt(n) * np.eye(n, dtype=complex)  # weights 1/n: G = I
    return edmd(X, matrix @ X, lambda x: x), eigs


def test_pseudospectrum_of_a_normal_matrix_is_the_distance_to_its_spectrum():
    result, eigs = normal_matrix_result(seed=0)
    axis = np.linspace(-1.3, 1.3, 27)
    grid = axis[None, :] + 1j * axis[:, None]
    distance = np.abs(grid[..., None] - eigs).min(axis=-1)
    np.testing.assert_allclose(pseudospectrum(result, grid), distance, rtol=1e-10, atol=1e-13)


def test_pseudospectrum_vanishes_at_exact_eigenvalues():
    result, eigs = normal_matrix_result(seed=1)
    assert pseudospectrum(result, eigs).max() < 1e-13


def test_pseudospectrum_matches_the_full_size_svd_per_point():
    # reference: sigma_min(C1 - z Q) with the m x N matrices (naive.pseudospectrum_full)
    data = duffing(trajectories=30, steps=10, seed=2)
    dictionary = radial_basis(pick_centers(data.X, 25, seed=3), 1.0, "thin_plate")
    result = edmd(data.X, data.Y, dictionary)
    points = np.array([0.0, 0.5 + 0.5j, -0.9, 1.0, 0.95 - 0.2j, 1.4j, 0.3 - 1.1j])
    expected = naive.pseudospectrum_full(dictionary(data.X), dictionary(data.Y),
                                         result.weights, points)
    np.testing.assert_allclose(pseudospectrum(result, points), expected, rtol=1e-9)


def test_the_dense_fallback_of_the_kernel_gives_the_same_values():
    # with one Lanczos step allowed nothing converges and every point takes the dense SVD
    data = duffing(trajectories=10, steps=10, seed=7)
    result = edmd(data.X, data.Y, monomials(3))
    reduced = result.reduced_operator.astype(complex)
    factor = result.residual_factor.astype(complex)
    gram = factor.conj().T @ factor + reduced.conj().T @ reduced
    points = np.array([0.1, 0.5 + 0.5j, -1.2j])
    start = np.ones(reduced.shape[0], dtype=complex)
    lanczos, fallback = pseudospectrum_points(points, reduced, factor, gram, start, 80, 1e-10)
    dense, all_fallback = pseudospectrum_points(points, reduced, factor, gram, start, 1, 1e-10)
    assert not fallback.any() and all_fallback.all()
    np.testing.assert_allclose(lanczos, dense, rtol=1e-9)


def test_pseudospectrum_keeps_the_grid_shape_and_bounds_the_eigenpair_residuals():
    data = duffing(trajectories=20, steps=10, seed=4)
    result = edmd(data.X, data.Y, monomials(4))
    grid = np.linspace(-1, 1, 12).reshape(3, 4) + 0.1j
    assert pseudospectrum(result, grid).shape == (3, 4)
    # tau(lambda) is the minimum over the span, so it is at most the eigenpair's residual
    assert np.all(pseudospectrum(result, result.eigs) <= result.residuals * (1 + 1e-9) + 1e-14)


def test_spurious_eigenvalues_have_large_residuals():
    # the pendulum is measure preserving: its spectrum is on the unit circle, so EDMD's
    # eigenvalues deep inside the disc are spurious, and the residual must say so
    data = pendulum(steps=1, trajectories=3000, dt=0.5, cylinder=True, max_energy=2.0, seed=5)
    result = edmd(data.X, data.Y, radial_basis(pick_centers(data.X, 60, seed=6), 0.7))
    inside = np.abs(result.eigs) < 0.5
    assert inside.sum() >= 5
    # residual >= distance to the unit circle (up to the sampling error of the measure)
    assert np.all(result.residuals[inside] > 0.4)
    assert verified_eigs(result, 0.1).size < result.eigs.size / 2


def test_spectral_measure_of_a_circle_rotation_is_its_fourier_weights():
    angle, count, shift = np.linspace(0, 2 * np.pi, 64, endpoint=False), 5, 0.3
    X, Y = angle[None, :], (angle + shift)[None, :]
    fourier = lambda x: np.exp(1j * np.arange(-count, count + 1)[:, None] * x)
    result = edmd(X, Y, fourier)
    coefficients = np.arange(1.0, 2 * count + 2)
    measure = spectral_measure(result, coefficients)
    np.testing.assert_allclose(np.abs(measure.eigs), 1.0, rtol=1e-12)
    for k, coefficient in zip(range(-count, count + 1), coefficients):
        nearest = np.argmin(np.abs(measure.eigs - np.exp(1j * k * shift)))
        assert abs(measure.eigs[nearest] - np.exp(1j * k * shift)) < 1e-10
        assert measure.weights[nearest] == pytest.approx(coefficient**2, rel=1e-10)
    total = np.trapezoid(measure.smoothed(np.linspace(-np.pi, np.pi, 4001), 0.05),
                         dx=2 * np.pi / 4000)
    assert total == pytest.approx(measure.weights.sum(), rel=1e-4)


@pytest.mark.parametrize("grid, name", [
    (np.array([], dtype=complex), "grid"),
    (np.array([0.5, np.nan]), "grid"),
    ("not a grid", "grid"),
])
def test_bad_grids_name_the_parameter(grid, name):
    result, _ = normal_matrix_result(seed=2)
    with pytest.raises(ValueError, match=name):
        pseudospectrum(result, grid)


def test_pseudospectrum_needs_an_edmd_result():
    with pytest.raises(ValueError, match="result"):
        pseudospectrum(np.eye(2), np.zeros(1))
