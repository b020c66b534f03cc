"""EDMD and its dictionaries against the Gram-matrix formulas and the slow-manifold answer."""

import numpy as np
import pytest

from explorer.koopman import (duffing, edmd, monomials, pick_centers, radial_basis,
                              slow_manifold)
from tests.koopman import naive

MU, LAM = -0.05, -1.0


@pytest.fixture(scope="module")
def slow():
    data = slow_manifold(MU, LAM, dt=0.1, steps=60, trajectories=10, seed=0)
    return data, edmd(data.X, data.Y, monomials(2), dt=data.dt)


def test_monomials_match_the_plain_products_in_graded_order():
    X = np.random.default_rng(0).uniform(-2, 2, (3, 7))
    np.testing.assert_allclose(monomials(4)(X), naive.monomials(X, 4), rtol=1e-13)
    assert monomials(2).labels(2) == ["1", "x1", "x2", "x1^2", "x1 x2", "x2^2"]
    assert monomials(3).size(3) == 20


@pytest.mark.parametrize("kind", ["gaussian", "thin_plate"])
def test_radial_basis_matches_the_plain_loop(kind):
    rng = np.random.default_rng(1)
    X, centers = rng.standard_normal((2, 9)), rng.standard_normal((2, 4))
    centers[:, 0] = X[:, 3]  # a zero distance, where r^2 log r -> 0
    np.testing.assert_allclose(radial_basis(centers, 0.7, kind)(X),
                               naive.radial_basis(X, centers, 0.7, kind), rtol=1e-12, atol=1e-15)


def test_slow_manifold_eigenvalues_are_mu_lambda_and_two_mu(slow):
    _, result = slow
    exact = result.continuous_eigs[result.residuals < 1e-8]
    np.testing.assert_allclose(np.sort(exact.real), [LAM, 2 * MU, MU, 0.0], atol=1e-10)
    np.testing.assert_allclose(exact.imag, 0.0, atol=1e-10)


def test_slow_manifold_eigenfunctions_live_in_span_x1_x2_x1_squared(slow):
    _, result = slow
    labels = monomials(2).labels(2)
    outside = [labels.index("x1 x2"), labels.index("x2^2")]
    exact = result.residuals < 1e-8
    coefficients = result.eigenvectors[:, exact]
    assert np.abs(coefficients[outside]).max() < 1e-8 * np.abs(coefficients).max()
    # and the other two eigenpairs are not exact: x1 x2 and x2^2 leave the span
    assert np.all(result.residuals[~exact] > 1e-3)


def test_matrices_match_the_gram_formulas():
    data = duffing(trajectories=8, steps=20, seed=2)
    weights = np.random.default_rng(3).uniform(0.5, 1.5, data.X.shape[1])
    dictionary = monomials(3)
    result = edmd(data.X, data.Y, dictionary, weights)
    G, A, L, K = naive.edmd_matrices(dictionary(data.X), dictionary(data.Y), weights)
    for ours, reference in ((result.G, G), (result.A, A), (result.L, L), (result.K, K)):
        np.testing.assert_allclose(ours, reference, rtol=1e-8, atol=1e-10 * np.abs(reference).max())
    np.testing.assert_allclose(np.sort_complex(result.eigs), np.sort_complex(np.linalg.eigvals(K)),
                               atol=1e-8)
    np.testing.assert_allclose(result.K @ result.eigenvectors,
                               result.eigenvectors * result.eigs, atol=1e-9)


def test_residuals_match_the_gram_form_where_it_is_accurate():
    data = duffing(trajectories=20, steps=10, seed=4)
    result = edmd(data.X, data.Y, radial_basis(pick_centers(data.X, 15, seed=5), 1.0))
    expected = [naive.gram_residual(result.G, result.A, result.L, eig, vector)
                for eig, vector in zip(result.eigs, result.eigenvectors.T)]
    np.testing.assert_allclose(result.residuals, expected, rtol=1e-5)


def test_eigenfunctions_are_the_dictionary_combinations_on_the_data(slow):
    data, result = slow
    np.testing.assert_allclose(result.eigenfunctions,
                               result.eigenvectors.T @ monomials(2)(data.X), atol=1e-12)
    np.testing.assert_allclose(result.evaluate_eigenfunctions(data.X[:, :5]),
                               result.eigenfunctions[:, :5], atol=1e-12)
    # unit norm in L2(W): |sqrt(W) Psi_X g| = 1
    norms = np.sqrt((np.abs(result.eigenfunctions) ** 2) @ result.weights)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-10)


def test_a_callable_dictionary_and_dependent_functions():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((2, 50))
    A = np.array([[0.9, 0.1], [0.0, 0.5]])
    result = edmd(X, A @ X, lambda x: np.vstack([x, 2 * x[:1]]))  # third = 2 x first
    assert result.rank == 2 and result.eigs.shape == (2,)
    np.testing.assert_allclose(np.sort(result.eigs.real), [0.5, 0.9], atol=1e-12)
    np.testing.assert_allclose(result.residuals, 0.0, atol=1e-12)


def test_verified_eigs_keeps_the_small_residuals(slow):
    _, result = slow
    assert result.verified_eigs(1e-8).size == 4
    assert result.verified_eigs(10.0).size == result.eigs.size
    with pytest.raises(ValueError, match="tol"):
        result.verified_eigs(-1.0)


@pytest.mark.parametrize("dictionary, weights, name", [
    (lambda x: x[:, :3], None, "dictionary"),
    (lambda x: np.full(x.shape, np.inf), None, "dictionary"),
    ("monomials", None, "dictionary"),
    (monomials(1), -np.ones(10), "weights"),
    (monomials(1), np.ones(3), "weights"),
    (monomials(1), np.zeros(10), "weights"),
])
def test_bad_dictionaries_and_weights_name_the_parameter(dictionary, weights, name):
    X = np.random.default_rng(0).standard_normal((2, 10))
    with pytest.raises(ValueError, match=name):
        edmd(X, X, dictionary, weights)


@pytest.mark.parametrize("call, name", [
    (lambda: monomials(-1), "degree"),
    (lambda: radial_basis(np.ones((2, 0))), "centers"),
    (lambda: radial_basis(np.ones((2, 3)), width=0.0), "width"),
    (lambda: radial_basis(np.ones((2, 3)), kind="cubic"), "kind"),
    (lambda: pick_centers(np.ones((2, 3)), 4), "count"),
    (lambda: edmd(np.ones((2, 4)), np.ones((2, 5)), monomials(1)), "Y"),
])
def test_bad_dictionary_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
