"""Verified spectra: known spectra recovered with certified bounds, and the recipe's promises."""

import numpy as np
import pytest

from explorer.koopman import (circle_rotation, complex_grid, edmd, fourier, gauss_map, legendre,
                              pendulum, pick_centers, pseudospectrum, radial_basis,
                              verified_spectrum)


def normal_map_result(eigs, seed=0):
    """EDMD of a normal matrix with known eigenvalues, sampled so that G = I."""
    n = len(eigs)
    rng = np.random.default_rng(seed)
    unitary, _ = np.linalg.qr(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
    matrix = unitary @ np.diag(eigs) @ unitary.conj().T
    X = np.sqrt(n) * np.eye(n, dtype=complex)
    return edmd(X, matrix @ X, lambda x: x)


def test_a_normal_linear_map_gives_its_eigenvalues_with_rounding_level_errors():
    eigs = np.array([0.9, -0.5 + 0.3j, 0.2 - 0.7j, 0.6j, -0.8 - 0.1j])
    found = verified_spectrum(normal_map_result(eigs), complex_grid(61, (-1.2, 1.2)), 0.2)
    assert len(found) == eigs.size
    distance = np.abs(found.eigs[:, None] - eigs[None, :]).min(axis=1)
    assert distance.max() < 1e-10 and found.errors.max() < 1e-10
    # tau of a normal operator is the distance to its spectrum: the bound is certified
    assert np.all(distance <= found.errors + 1e-13)


def test_the_circle_rotation_gives_its_eigenvalues_exp_i_k_omega():
    omega, modes = 1.0, 4
    data = circle_rotation(omega, points=64)
    result = edmd(data.X, data.Y, fourier(modes), data.weights)
    found = verified_spectrum(result, complex_grid(81, (-1.2, 1.2)), 0.1)
    expected = np.exp(1j * omega * np.arange(-modes, modes + 1))
    assert len(found) == expected.size
    assert np.abs(found.eigs[:, None] - expected[None, :]).min(axis=1).max() < 1e-10
    assert found.errors.max() < 1e-10


def test_the_gauss_map_certifies_one_and_zero_and_its_pseudospectrum_shrinks_with_n():
    # ResDMD paper, first example: 100 Gauss-Legendre points, normalised Legendre polynomials
    data = gauss_map(points=100)
    result = edmd(data.X, data.Y, legendre(40), data.weights)
    np.testing.assert_allclose(result.G, np.eye(40), atol=1e-12)  # orthonormal on the nodes
    found = verified_spectrum(result, complex_grid(61), 0.1)
    np.testing.assert_allclose(np.sort(found.eigs.real), [0.0, 1.0], atol=1e-8)
    assert found.errors.max() < 1e-8  # 1: constants; 0: functions vanishing on F([-1, 0])
    # nested dictionaries: tau can only fall as the dictionary grows (towards the spectrum
    # that fills the inside of the interval; the EDMD eigenvalues there are approximations)
    points = np.array([0.3, 0.5413411329464508, 0.8, 0.2j]) + 0j
    taus = [pseudospectrum(edmd(data.X, data.Y, legendre(n), data.weights), points)
            for n in (10, 20, 40)]
    assert np.all(np.diff(taus, axis=0) <= 1e-12)


def test_pendulum_spectral_points_lie_within_their_error_of_the_unit_circle():
    # measure preserving: K is unitary, its spectrum is on the circle, so each certified
    # point is within its error of the circle (up to the quadrature error of 4000 samples)
    data = pendulum(steps=1, trajectories=4000, dt=0.5, cylinder=True, max_energy=3.0, seed=1)
    result = edmd(data.X, data.Y, radial_basis(pick_centers(data.X, 80, seed=2), 0.7))
    found = verified_spectrum(result, complex_grid(41), 0.3)
    assert len(found) >= 3
    assert np.all(np.abs(np.abs(found.eigs) - 1) <= found.errors + 0.02)
    inside = result.eigs[np.abs(result.eigs) < 0.5]  # EDMD's spurious eigenvalues
    assert inside.size and not np.any(np.abs(found.eigs[:, None] - inside).min(axis=0) < 0.05)


def test_the_recipe_local_minima_then_refinement():
    data = circle_rotation(0.7, points=40)
    result = edmd(data.X, data.Y, fourier(3), data.weights)
    grid = complex_grid(31, (-1.2, 1.2))
    found = verified_spectrum(result, grid, 0.5, neighbourhood=2.0)
    tau = found.tau.ravel()
    flat = grid.ravel()
    for point in found.grid_points:
        index = np.flatnonzero(flat == point)[0]
        assert tau[index] < 0.5
        spacing = np.sort(np.abs(flat - point))[1]
        ball = np.abs(flat - point) <= max(2.0 * tau[index], 1.5 * spacing)
        assert tau[index] <= tau[ball].min()
    # refinement never raises tau, and the errors are tau at the refined points
    start = tau[[np.flatnonzero(flat == p)[0] for p in found.grid_points]]
    assert np.all(found.errors <= start)
    np.testing.assert_allclose(found.errors, pseudospectrum(result, found.eigs), rtol=1e-6,
                               atol=1e-14)
    # the coefficients are the pseudoeigenfunctions: |Psi_X g|_W = 1
    values = data.weights @ np.abs(fourier(3)(data.X).T @ found.coefficients) ** 2
    np.testing.assert_allclose(values, 1.0, rtol=1e-9)


def test_without_refinement_the_grid_points_are_kept():
    result = normal_map_result(np.array([0.52 + 0.01j]))
    grid = complex_grid(11)  # spacing 0.3: the eigenvalue is off the grid
    coarse = verified_spectrum(result, grid, 0.5, refine_steps=0)
    fine = verified_spectrum(result, grid, 0.5)
    assert np.isin(coarse.eigs, grid).all() and coarse.errors[0] > 0.01
    assert abs(fine.eigs[0] - (0.52 + 0.01j)) < 1e-10 and fine.errors[0] < 1e-10


def test_a_stopped_run_keeps_what_it_computed(monkeypatch):
    from explorer.koopman import resdmd

    monkeypatch.setattr(resdmd, "_WORK_PER_CALL", 1.0)
    result = normal_map_result(np.array([0.5, -0.5j]))
    found = verified_spectrum(result, complex_grid(21), 0.2, callback=lambda progress: True)
    assert found.stopped_early and np.ma.is_masked(found.tau)
    assert found.tau.count() < found.grid.size


@pytest.mark.parametrize("kwargs, name, error", [
    ({"epsilon": 0.0}, "epsilon", ValueError),
    ({"epsilon": np.nan}, "epsilon", ValueError),
    ({"neighbourhood": -1.0}, "neighbourhood", ValueError),
    ({"refine_steps": 1.5}, "refine_steps", ValueError),
    ({"callback": "yes"}, "callback", TypeError),
])
def test_bad_arguments_name_the_parameter(kwargs, name, error):
    result = normal_map_result(np.array([0.5]))
    with pytest.raises(error, match=name):
        verified_spectrum(result, complex_grid(5), **kwargs)
