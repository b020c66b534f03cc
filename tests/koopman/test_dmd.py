"""Exact DMD: exact eigenvalues of linear systems, parity with PyDMD, a limit-cycle frequency."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.koopman import delay_embedding, dmd, linear_flow, linear_map, van_der_pol

OMEGA0 = 0.9429558474  # Van der Pol, mu = 1: angular frequency of the limit cycle


def rotation_decay(n_pairs, seed):
    """A block-diagonal matrix with known eigenvalues r exp(+-i theta), randomly rotated."""
    rng = np.random.default_rng(seed)
    radii, angles = rng.uniform(0.5, 1.0, n_pairs), rng.uniform(0.1, 3.0, n_pairs)
    blocks = np.zeros((2 * n_pairs, 2 * n_pairs))
    for k, (r, theta) in enumerate(zip(radii, angles)):
        blocks[2 * k:2 * k + 2, 2 * k:2 * k + 2] = r * np.array([[np.cos(theta), -np.sin(theta)],
                                                                 [np.sin(theta), np.cos(theta)]])
    basis = rng.standard_normal((2 * n_pairs, 2 * n_pairs))
    eigs = np.concatenate([radii * np.exp(1j * angles), radii * np.exp(-1j * angles)])
    return basis @ blocks @ np.linalg.inv(basis), eigs


def assert_same_spectrum(actual, expected, rtol):
    np.testing.assert_allclose(np.sort_complex(actual), np.sort_complex(expected), rtol=rtol)


def test_eigenvalues_of_a_linear_map_are_exact():
    A, eigs = rotation_decay(3, seed=0)
    X, Y = linear_map(A, steps=30, trajectories=2, seed=1)
    assert_same_spectrum(dmd(X, Y).eigs, eigs, rtol=1e-9)


def test_continuous_eigenvalues_of_a_linear_flow_are_its_matrix_eigenvalues():
    A = np.array([[-0.2, 1.5, 0.0], [-1.5, -0.2, 0.0], [0.0, 0.0, -0.7]])
    data = linear_flow(A, dt=0.1, steps=50, seed=0)
    result = dmd(data.X, data.Y, dt=data.dt)
    assert_same_spectrum(result.continuous_eigs, np.linalg.eigvals(A), rtol=1e-9)


def test_reconstruction_reproduces_linear_data():
    A, _ = rotation_decay(2, seed=3)
    data = linear_map(A, steps=25, seed=4)
    result = dmd(data.X, data.Y)
    np.testing.assert_allclose(result.reconstruct(26), data.states[0], atol=1e-10)
    assert result.modes.shape == (4, 4) and result.amplitudes.shape == (4,)


@pytest.mark.parametrize("rank", [1, 3, 8, 20])
def test_integer_rank_matches_pydmd_exact_dmd(rank):
    from pydmd import DMD

    rng = np.random.default_rng(rank)
    X = rng.standard_normal((30, 20)) @ np.diag(0.8 ** np.arange(20))
    Y = 0.9 * np.roll(X, 1, axis=0) + 0.01 * rng.standard_normal(X.shape)
    ours = dmd(X, Y, rank)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyDMD warns about the condition number
        reference = DMD(svd_rank=rank, exact=True).fit(X, Y)
    assert_same_spectrum(ours.eigs, reference.eigs, rtol=1e-10)
    np.testing.assert_allclose(ours.reconstruct(20), reference.reconstructed_data, atol=1e-9)
    order, reference_order = np.argsort(ours.eigs), np.argsort(reference.eigs)
    np.testing.assert_allclose(ours.modes[:, order] * ours.amplitudes[order],
                               reference.modes[:, reference_order]
                               * reference.amplitudes[reference_order], atol=1e-9)


def test_default_rank_is_the_numerical_rank():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((10, 3)) @ rng.standard_normal((3, 40))  # rank 3
    result = dmd(X, 0.5 * X)
    assert result.rank == 3
    np.testing.assert_allclose(result.eigs, 0.5, rtol=1e-10)


def test_van_der_pol_limit_cycle_harmonics_sit_at_odd_multiples_of_omega0():
    data = van_der_pol(1.0, dt=0.05, steps=4000, transient=60.0, initial=[2.0, 0.0])
    hankel = delay_embedding(data.states[0, :1], 60)
    result = dmd(hankel[:, :-1], hankel[:, 1:], 10, dt=data.dt)
    frequencies = np.sort(np.abs(result.continuous_eigs.imag))
    # x(t) is odd-symmetric, so only odd harmonics appear: +-omega0, +-3 omega0, ...
    np.testing.assert_allclose(frequencies[:2], OMEGA0, rtol=1e-5)
    np.testing.assert_allclose(frequencies[2:4], 3 * OMEGA0, rtol=1e-4)
    fundamental = np.argsort(np.abs(result.continuous_eigs.imag))[:2]
    np.testing.assert_allclose(result.continuous_eigs.real[fundamental], 0.0, atol=1e-5)


def test_delay_embedding_stacks_shifted_copies():
    series = np.arange(10.0)[None, :]
    np.testing.assert_array_equal(delay_embedding(series, 3),
                                  [np.arange(8.0), np.arange(1.0, 9.0), np.arange(2.0, 10.0)])


@pytest.mark.parametrize("X, Y, rank, name", [
    (np.ones((3, 5)), np.ones((3, 4)), None, "Y"),
    (np.ones((3, 5)), np.ones((2, 5)), None, "Y"),
    (np.ones(5), np.ones(5), None, "X"),
    (np.full((3, 5), np.nan), np.ones((3, 5)), None, "X"),
    (np.ones((3, 5)), np.full((3, 5), np.inf), None, "Y"),
    (np.ones((3, 5)), np.ones((3, 5)), 0, "rank"),
    (np.ones((3, 5)), np.ones((3, 5)), 4, "rank"),
    (np.ones((3, 5)), np.ones((3, 5)), 2.5, "rank"),
    (np.zeros((3, 5)), np.ones((3, 5)), None, "X"),
])
def test_bad_input_names_the_parameter(X, Y, rank, name):
    with pytest.raises(ValueError, match=name):
        dmd(X, Y, rank)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), rank=st.integers(-3, 10))
def test_rank_outside_one_to_min_shape_is_rejected_by_name(n, m, rank):
    X = np.random.default_rng(0).standard_normal((n, m))
    if 1 <= rank <= min(n, m):
        assert dmd(X, X, rank).eigs.shape == (rank,)
    else:
        with pytest.raises(ValueError, match="rank"):
            dmd(X, X, rank)
