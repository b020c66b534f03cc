"""EDMD and its dictionaries against the Gram-matrix formulas and the slow-manifold answer."""

import numpy as np
import pytest

from threadpoolctl import threadpool_limits

from explorer._jit import set_num_threads
from explorer.koopman import (duffing, edmd, heldout_residuals, monomials, pick_centers,
                              radial_basis, slow_manifold, split_snapshots)
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
    # edmd normalises the weights to sum to 1 (a probability measure)
    G, A, L, K = naive.edmd_matrices(dictionary(data.X), dictionary(data.Y),
                                     weights / weights.sum())
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


@pytest.mark.parametrize("dictionary, weights, name, error", [
    (lambda x: x[:, :3], None, "dictionary", ValueError),
    (lambda x: np.full(x.shape, np.inf), None, "dictionary", ValueError),
    (lambda x: np.full(x.shape, 1e200), None, "dictionary", ValueError),
    ("monomials", None, "dictionary", TypeError),
    (monomials(1), -np.ones(10), "weights", ValueError),
    (monomials(1), np.ones(3), "weights", ValueError),
    (monomials(1), np.zeros(10), "weights", ValueError),
    (monomials(1), np.full(10, 1e308), "weights", ValueError),
])
def test_bad_dictionaries_and_weights_name_the_parameter(dictionary, weights, name, error):
    X = np.random.default_rng(0).standard_normal((2, 10))
    with pytest.raises(error, match=name):
        edmd(X, X, dictionary, weights)


def test_huge_but_accepted_weights_and_entries_give_finite_results():
    data = duffing(trajectories=5, steps=10, seed=1)
    weights = np.full(data.X.shape[1], 1e150)
    weights[0] = 1.0
    result = edmd(data.X, data.Y, monomials(2), weights)
    assert all(np.all(np.isfinite(a)) for a in (result.G, result.A, result.L, result.K,
                                                 result.eigs, result.residuals))
    scaled = edmd(1e74 * data.X, 1e74 * data.Y, monomials(2))
    assert np.all(np.isfinite(scaled.G)) and np.all(np.isfinite(scaled.residuals))
    with pytest.raises(ValueError, match="X"):
        edmd(1e140 * data.X, 1e140 * data.Y, monomials(2))


def test_exact_residuals_stay_at_rounding_level_on_many_snapshots():
    # 24,000 pairs: the sketch-preconditioned Cholesky QR path (not the direct Householder)
    data = slow_manifold(MU, LAM, dt=0.1, steps=400, trajectories=60, seed=3)
    result = edmd(data.X, data.Y, monomials(2), dt=data.dt)
    exact = np.sort(result.residuals)[:4]
    assert exact.max() < 1e-12
    assert np.sort(result.residuals)[4] > 1e-3
    # the same matrices as the textbook formulas, and residuals as the full-size SVD gives
    G, A, L, K = naive.edmd_matrices(monomials(2)(data.X), monomials(2)(data.Y), result.weights)
    np.testing.assert_allclose(result.G, G, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(result.L, L, rtol=1e-10, atol=1e-14)
    for eig, vector, residual in zip(result.eigs, result.eigenvectors.T, result.residuals):
        direct = naive.function_residual(monomials(2)(data.X), monomials(2)(data.Y),
                                         result.weights, eig, vector)
        assert residual == pytest.approx(direct, rel=1e-6, abs=1e-14)


def test_trajectory_data_evaluate_the_dictionary_once_per_snapshot():
    data = duffing(trajectories=3, steps=50, seed=5)
    calls = []

    class Counting:
        pointwise = True

        def __call__(self, X):
            calls.append(X.shape[1])
            return monomials(3)(X)

    result = edmd(data.X, data.Y, Counting())
    assert sum(calls) == data.X.shape[1] + 3  # X, then each trajectory's last state
    reference = edmd(data.X, data.Y, lambda X: monomials(3)(X))  # not marked pointwise
    np.testing.assert_allclose(result.G, reference.G, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.sort_complex(result.eigs), np.sort_complex(reference.eigs),
                               atol=1e-10)


def test_complex_snapshots_are_handled_in_complex_arithmetic():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((2, 40)) + 1j * rng.standard_normal((2, 40))
    A = np.array([[0.9, 0.2j], [0.0, 0.5 - 0.1j]])
    result = edmd(X, A @ X, monomials(1))  # 1, x1, x2: the constant has eigenvalue 1
    np.testing.assert_allclose(np.sort_complex(result.eigs[result.residuals < 1e-10]),
                               np.sort_complex([*np.linalg.eigvals(A), 1.0]), atol=1e-10)
    G, _, _, K = naive.edmd_matrices(monomials(1)(X), monomials(1)(A @ X), result.weights)
    np.testing.assert_allclose(result.G, G, rtol=1e-10, atol=1e-14)
    shifted = edmd(X.real + 1j, A.real @ X.real + 1j, monomials(2))
    assert np.iscomplexobj(shifted.K) and np.all(np.isfinite(shifted.residuals))


def test_same_bits_for_any_thread_count():
    data = duffing(trajectories=200, steps=40, seed=9)  # 8000 pairs: the sketched path
    dictionary = radial_basis(pick_centers(data.X, 30, seed=1), 1.0)
    runs = []
    for numba_threads, blas in ((1, 1), (2, 2), (1, 2)):
        previous = set_num_threads(numba_threads)
        try:
            with threadpool_limits(blas):
                runs.append(edmd(data.X, data.Y, dictionary))
        finally:
            set_num_threads(previous)
    for other in runs[1:]:
        assert np.array_equal(runs[0].residual_factor, other.residual_factor)
        assert np.array_equal(runs[0].eigs, other.eigs)


def test_overfitted_residuals_are_exposed_by_held_out_snapshots():
    # 20 noisy snapshots, 45 degree-8 monomials: the data are interpolated, every in-sample
    # residual is 0 ("20 of 20 verified"); on other snapshots the truth shows
    fit = duffing(trajectories=2, steps=10, noise=0.01, seed=2)
    test = duffing(trajectories=40, steps=10, noise=0.01, seed=3)
    result = edmd(fit.X, fit.Y, monomials(8))
    assert result.snapshots_per_function < 1
    assert np.all(result.residuals < 1e-6)
    assert np.median(heldout_residuals(result, test.X, test.Y)) > 0.1
    # where the dictionary fits, held-out residuals of exact pairs stay at rounding level
    slow_fit, slow_test = slow_manifold(MU, LAM, seed=0), slow_manifold(MU, LAM, seed=1)
    exact = edmd(slow_fit.X, slow_fit.Y, monomials(2))
    assert np.sort(heldout_residuals(exact, slow_test.X, slow_test.Y))[3] < 1e-10


def test_split_snapshots_is_a_seeded_partition():
    X = np.arange(20.0).reshape(2, 10)
    first_x, first_y, second_x, second_y = split_snapshots(X, X + 1, 0.3, seed=4)
    assert first_x.shape == (2, 3) and second_x.shape == (2, 7)
    assert sorted(np.concatenate([first_x[0], second_x[0]])) == list(X[0])
    np.testing.assert_array_equal(first_y, first_x + 1)
    np.testing.assert_array_equal(split_snapshots(X, X + 1, 0.3, seed=4)[0], first_x)
    with pytest.raises(ValueError, match="fraction"):
        split_snapshots(X, X, 1.0)


@pytest.mark.parametrize("call, name", [
    (lambda: monomials(-1), "degree"),
    (lambda: monomials(2).size(99), "n_state=99"),  # 5,050 monomials: too many
    (lambda: radial_basis(np.ones((2, 0))), "centers"),
    (lambda: radial_basis(np.ones((2, 3)), width=0.0), "width"),
    (lambda: radial_basis(np.ones((2, 3)), kind="cubic"), "kind"),
    (lambda: pick_centers(np.ones((2, 3)), 4), "count"),
    (lambda: edmd(np.ones((2, 4)), np.ones((2, 5)), monomials(1)), "Y"),
])
def test_bad_dictionary_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
