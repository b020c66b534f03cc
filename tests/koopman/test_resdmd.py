"""Residual DMD: zero residuals for exact pairs, large for spurious ones, pseudospectra."""

import numpy as np
import pytest

from explorer._jit import set_num_threads
from explorer.koopman import (complex_grid, duffing, edmd, monomials, pendulum, pick_centers,
                              pseudoeigenfunctions, pseudospectrum, radial_basis, verified_eigs)
from explorer.koopman._residual_kernels import pseudospectrum_chunks
from tests.koopman import naive


def normal_matrix_result(seed, n=6):
    """EDMD of an exactly sampled normal map with G = I (orthonormal snapshots)."""
    rng = np.random.default_rng(seed)
    eigs = rng.uniform(-1, 1, n) + 1j * rng.uniform(-1, 1, n)
    unitary, _ = np.linalg.qr(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
    matrix = unitary @ np.diag(eigs) @ unitary.conj().T
    X = np.sqrt(n) * np.eye(n, dtype=complex)  # weights 1/n: G = I
    return edmd(X, matrix @ X, lambda x: x), eigs


@pytest.fixture(scope="module")
def duffing_result():
    data = duffing(trajectories=30, steps=10, seed=2)
    dictionary = radial_basis(pick_centers(data.X, 25, seed=3), 1.0, "thin_plate")
    return data, dictionary, edmd(data.X, data.Y, dictionary)


def test_pseudospectrum_of_a_normal_matrix_is_the_distance_to_its_spectrum():
    result, eigs = normal_matrix_result(seed=0)
    grid = complex_grid(27, (-1.3, 1.3))
    distance = np.abs(grid[..., None] - eigs).min(axis=-1)
    np.testing.assert_allclose(pseudospectrum(result, grid), distance, rtol=1e-10, atol=1e-13)


def test_pseudospectrum_vanishes_at_exact_eigenvalues():
    result, eigs = normal_matrix_result(seed=1)
    assert pseudospectrum(result, eigs).max() < 1e-13


def test_pseudospectrum_matches_the_full_size_svd_per_point(duffing_result):
    # reference: sigma_min(C1 - z Q) with the m x N matrices (naive.pseudospectrum_full)
    data, dictionary, result = duffing_result
    points = np.array([0.0, 0.5 + 0.5j, -0.9, 1.0, 0.95 - 0.2j, 1.4j, 0.3 - 1.1j])
    expected = naive.pseudospectrum_full(dictionary(data.X), dictionary(data.Y),
                                         result.weights, points)
    np.testing.assert_allclose(pseudospectrum(result, points), expected, rtol=1e-9)


def test_a_grid_matches_a_dense_svd_at_every_point_and_uses_its_mirror_symmetry(duffing_result):
    # real data: tau(conj z) = tau(z); the symmetric grid is computed half, checked in full
    _, _, result = duffing_result
    grid = complex_grid(24, (-1.2, 1.2))
    assert np.array_equal(grid[::-1].imag, -grid.imag)
    expected = naive.pseudospectrum_reduced(result.reduced_operator, result.residual_factor, grid)
    np.testing.assert_allclose(pseudospectrum(result, grid), expected, rtol=1e-10)


def test_the_dense_fallback_of_the_kernel_gives_the_same_values():
    # with one Lanczos step allowed nothing converges and every point takes the dense SVD
    data = duffing(trajectories=10, steps=10, seed=7)
    result = edmd(data.X, data.Y, monomials(3))
    reduced = result.reduced_operator.astype(complex)
    factor = result.residual_factor.astype(complex)
    gram = factor.conj().T @ factor + reduced.conj().T @ reduced
    points = np.array([0.1, 0.5 + 0.5j, -1.2j])
    start = np.ones(reduced.shape[0], dtype=complex)
    chunks = np.array([0, 3])

    def run(steps):
        tau, dense = np.empty(3), np.zeros(3, dtype=bool)
        pseudospectrum_chunks(points, chunks, reduced, factor, gram, start, steps, 1e-10, tau,
                              dense, np.empty((0, reduced.shape[0]), dtype=complex))
        return tau, dense

    (lanczos, fallback), (dense, all_fallback) = run(80), run(1)
    assert not fallback.any() and all_fallback.all()
    np.testing.assert_allclose(lanczos, dense, rtol=1e-9)


def test_pseudospectrum_keeps_the_grid_shape_and_bounds_the_eigenpair_residuals():
    data = duffing(trajectories=20, steps=10, seed=4)
    result = edmd(data.X, data.Y, monomials(4))
    grid = np.linspace(-1, 1, 12).reshape(3, 4) + 0.1j
    assert pseudospectrum(result, grid).shape == (3, 4)
    # tau(lambda) is the minimum over the span, so it is at most the eigenpair's residual
    assert np.all(pseudospectrum(result, result.eigs) <= result.residuals * (1 + 1e-9) + 1e-14)


def test_same_bits_for_one_or_two_threads_and_with_or_without_checkpoints(duffing_result):
    _, _, result = duffing_result
    grid = complex_grid(20, (-1.2, 1.2), (-0.3, 1.0))  # no mirror pairs: every point computed
    previous = set_num_threads(1)
    try:
        single = pseudospectrum(result, grid)
    finally:
        set_num_threads(previous)
    seen = []
    checkpointed = pseudospectrum(result, grid, callback=lambda p: seen.append(p.done) or False)
    assert np.array_equal(single, pseudospectrum(result, grid))
    assert np.array_equal(single, checkpointed) and seen[-1] == grid.size


def test_a_callback_stops_the_run_and_the_missing_points_are_masked(duffing_result, monkeypatch):
    from explorer.koopman import resdmd

    _, _, result = duffing_result
    monkeypatch.setattr(resdmd, "_WORK_PER_CALL", 1.0)  # one chunk of 32 points per call
    grid = complex_grid(20, (-1.2, 1.2), (0.1, 1.0))
    progress = []
    tau = pseudospectrum(result, grid, callback=lambda p: progress.append(p) or True)
    assert np.ma.is_masked(tau) and tau.shape == grid.shape
    assert int(np.count_nonzero(~np.ma.getmaskarray(tau))) == 32 == progress[0].done
    assert progress[0].total == grid.size and progress[0].tau.shape == grid.shape
    np.testing.assert_array_equal(tau.compressed(), pseudospectrum(result, grid).ravel()[:32])


def test_pseudoeigenfunctions_attain_tau_on_the_data(duffing_result):
    # reference: the residual of Psi g evaluated directly on the snapshots (naive formula)
    data, dictionary, result = duffing_result
    points = np.array([0.3 + 0.2j, -0.5, 0.9j])
    found = pseudoeigenfunctions(result, points)
    np.testing.assert_allclose(found.residuals, pseudospectrum(result, points), rtol=1e-9)
    psi_x, psi_y = dictionary(data.X), dictionary(data.Y)
    for z, g, tau in zip(points, found.coefficients.T, found.residuals):
        direct = naive.function_residual(psi_x, psi_y, result.weights, z, g)
        assert direct == pytest.approx(tau, rel=1e-7)
        assert naive.weighted_norm(psi_x.T @ g, result.weights) == pytest.approx(1.0, rel=1e-9)
    np.testing.assert_allclose(found.evaluate(data.X[:, :4]), found.coefficients.T @ psi_x[:, :4])


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


def test_read_only_inputs_are_accepted(duffing_result):
    _, _, result = duffing_result
    grid = complex_grid(5)
    grid.setflags(write=False)
    np.testing.assert_array_equal(pseudospectrum(result, grid), pseudospectrum(result, grid.copy()))


@pytest.mark.parametrize("grid, error", [
    (np.array([], dtype=complex), ValueError),
    (np.array([0.5, np.nan]), ValueError),
    (np.array([1e150 + 0j]), ValueError),
    (np.array([1e100j]), ValueError),
    ("not a grid", TypeError),
    (None, TypeError),
])
def test_bad_grids_name_the_parameter(grid, error):
    result, _ = normal_matrix_result(seed=2)
    with pytest.raises(error, match="grid"):
        pseudospectrum(result, grid)


def test_pseudospectrum_needs_an_edmd_result_and_a_callable_callback():
    with pytest.raises(TypeError, match="result"):
        pseudospectrum(np.eye(2), np.zeros(1))
    result, _ = normal_matrix_result(seed=2)
    with pytest.raises(TypeError, match="callback"):
        pseudospectrum(result, np.zeros(1), callback=5)
    with pytest.raises(ValueError, match="resolution"):
        complex_grid(1)
    with pytest.raises(ValueError, match="real"):
        complex_grid(5, (1.0, -1.0))
