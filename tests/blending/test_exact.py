"""The exact deblenders against tests/blending/naive.py and closed forms; their validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer._jit import set_num_threads
from explorer.blending import ExactDeblender, GaussianDeblender, sample
from tests.blending import naive

MEAN = np.array([0.3, -0.2])
COV = np.array([[1.5, 0.4], [0.4, 0.7]])


def problem(n=200, m=57, seed=0):
    rng = np.random.default_rng(seed)
    targets = rng.normal(size=(m, 2)) * [2.0, 1.0] + [1.0, 0.0]
    x = rng.normal(size=(n, 2)) * 1.5
    alpha = np.concatenate([[0.0, 0.5, 0.99, 0.999999], rng.random(n - 4)])
    return targets, x, alpha


@pytest.mark.parametrize("mean, cov", [(np.zeros(2), np.eye(2)), (MEAN, COV)])
def test_velocity_matches_the_direct_formula(mean, cov):
    targets, x, alpha = problem()
    deblender = ExactDeblender(targets, mean, cov)
    expected = naive.exact_velocity(x, alpha, targets, mean, cov)
    np.testing.assert_allclose(deblender(x, alpha), expected, rtol=1e-10, atol=1e-10)


def test_posterior_means_are_consistent_with_the_velocity():
    targets, x, alpha = problem()
    deblender = ExactDeblender(targets, MEAN, COV)
    means = deblender.posterior_mean(x, alpha)
    weights = naive.posterior_weights(x, alpha, targets, MEAN, COV)
    np.testing.assert_allclose(means.x1, weights @ targets, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(means.x1 - means.x0, deblender(x, alpha), rtol=1e-9, atol=1e-9)
    # the blend of the posterior means is the query itself
    np.testing.assert_allclose((1 - alpha[:, None]) * means.x0 + alpha[:, None] * means.x1, x,
                               atol=1e-9)


def test_alpha_zero_averages_all_targets_and_a_scalar_alpha_broadcasts():
    targets, x, _ = problem(n=5)
    deblender = ExactDeblender(targets)
    np.testing.assert_allclose(deblender(x, 0.0), targets.mean(axis=0) - x, atol=1e-12)
    np.testing.assert_array_equal(deblender(x, 0.3), deblender(x, np.full(5, 0.3)))


def test_far_queries_near_alpha_one_stay_finite():
    targets = np.array([[0.0, 0.0], [1.0, 0.0]])
    x = np.array([[1e3, -1e3], [0.4999, 0.0]])
    velocity = ExactDeblender(targets)(x, 1 - 1e-12)
    assert np.all(np.isfinite(velocity))
    np.testing.assert_allclose(ExactDeblender(targets).posterior_mean(x, 1 - 1e-12).x1,
                               [[1.0, 0.0], [0.0, 0.0]])


def test_posterior_sample_draws_with_the_posterior_weights():
    targets = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    deblender = ExactDeblender(targets)
    x = np.tile([[0.2, 0.3]], (20000, 1))
    draw = deblender.posterior_sample(x, 0.4, seed=3)
    weights = naive.posterior_weights(x[:1], [0.4], targets, np.zeros(2), np.eye(2))[0]
    frequencies = np.bincount(draw.target_index, minlength=3) / len(x)
    np.testing.assert_allclose(frequencies, weights, atol=0.015)
    np.testing.assert_array_equal(draw.x1, targets[draw.target_index])
    np.testing.assert_allclose(0.6 * draw.x0 + 0.4 * draw.x1, x, atol=1e-12)
    again = deblender.posterior_sample(x, 0.4, seed=3)
    np.testing.assert_array_equal(again.target_index, draw.target_index)


def test_gaussian_deblender_velocity_is_the_derivative_of_its_exact_map():
    blend = GaussianDeblender((0.5, -1.0), (1.0, 2.0), (3.0, 1.0), (0.5, 0.25))
    x0 = np.random.default_rng(0).normal(size=(50, 2))
    for alpha in (0.0, 0.3, 0.9, 1.0):
        step = 1e-6
        low, high = max(alpha - step, 0.0), min(alpha + step, 1.0)
        derivative = (blend.exact_map(x0, high) - blend.exact_map(x0, low)) / (high - low)
        np.testing.assert_allclose(blend(blend.exact_map(x0, alpha), alpha), derivative,
                                   rtol=1e-4, atol=1e-6)  # one-sided differences at 0 and 1
    np.testing.assert_allclose(blend.exact_map(x0, 0.0), x0, atol=1e-14)


def test_gaussian_map_is_the_affine_transport():
    blend = GaussianDeblender(target_mean=(2.0, -1.0), target_std=0.5)
    x0 = np.array([[1.0, 2.0], [-3.0, 0.0]])
    np.testing.assert_allclose(blend.exact_map(x0), [[2.5, 0.0], [0.5, -1.0]])


def problem_nd(d=6, n=40, m=30, seed=0):
    rng = np.random.default_rng(seed)
    targets = rng.normal(size=(m, d)) + 0.5
    x = rng.normal(size=(n, d)) * 1.3
    alpha = np.concatenate([[0.0, 0.5, 0.99], rng.random(n - 3)])
    root = rng.normal(size=(d, d)) * 0.3 + np.eye(d)
    return targets, x, alpha, root @ root.T


def test_any_dimension_and_any_covariance_match_the_direct_formula():
    targets, x, alpha, cov = problem_nd()
    for source_cov, expected_cov in ((cov, cov), (0.7, 0.7 * np.eye(6)), (None, np.eye(6))):
        mean = np.linspace(-0.3, 0.3, 6)
        deblender = ExactDeblender(targets, mean, source_cov)
        expected = naive.exact_velocity(x, alpha, targets, mean, expected_cov)
        np.testing.assert_allclose(deblender(x, alpha), expected, rtol=1e-9, atol=1e-9)
        assert deblender.dim == 6


def test_a_mixture_source_matches_the_direct_formula():
    targets, x, alpha, cov = problem_nd(d=3)
    means = np.random.default_rng(5).normal(size=(4, 3)) * 2
    deblender = ExactDeblender(targets, means, cov)
    expected = naive.exact_velocity(x, alpha, targets, means, cov)
    np.testing.assert_allclose(deblender(x, alpha), expected, rtol=1e-9, atol=1e-9)
    # one component is the plain Gaussian (the 2D fast path against the general kernel too)
    targets2, x2, alpha2 = problem(n=50)
    plain = ExactDeblender(targets2, MEAN, COV)
    one_component = ExactDeblender(targets2, MEAN[None], COV)
    np.testing.assert_allclose(one_component(x2, alpha2), plain(x2, alpha2), rtol=1e-11, atol=1e-11)


def test_restricted_to_a_class_it_is_the_exact_conditional_deblender():
    targets, x, alpha, cov = problem_nd(d=4, m=45)
    labels = np.arange(45) % 3
    deblender = ExactDeblender(targets, None, cov, labels=labels)
    asked = np.arange(len(x)) % 3
    conditional = deblender(x, alpha, labels=asked)
    for label in range(3):
        rows = asked == label
        alone = ExactDeblender(targets[labels == label], None, cov)
        np.testing.assert_array_equal(conditional[rows], alone(x[rows], alpha[rows]))
        np.testing.assert_array_equal(conditional[rows],
                                      deblender.for_class(label)(x[rows], alpha[rows]))
        expected = naive.exact_velocity(x[rows], alpha[rows], targets[labels == label], np.zeros(4), cov)
        np.testing.assert_allclose(conditional[rows], expected, rtol=1e-9, atol=1e-9)
    # without labels in the call it is the unconditional deblender of every target (summed
    # in another order: the targets are kept sorted by class)
    np.testing.assert_allclose(deblender(x, alpha), ExactDeblender(targets, None, cov)(x, alpha),
                               rtol=1e-12, atol=1e-12)
    # conditional samples land on targets of the asked class
    path = sample(deblender, x[:12], 128, labels=2)
    nearest = np.argmin(np.linalg.norm(path.final[:, None] - targets[None], axis=-1), axis=1)
    assert np.all(labels[nearest] == 2)
    draw = deblender.posterior_sample(x, alpha, seed=1, labels=asked)
    np.testing.assert_array_equal(labels[draw.target_index], asked)


def test_same_bits_for_one_or_two_threads_and_any_buffer_alignment():
    targets, x, alpha, cov = problem_nd(d=8, n=37, m=50)
    deblenders = [ExactDeblender(targets, None, cov), ExactDeblender(targets[:, :2]),
                  ExactDeblender(targets, None, cov, labels=np.arange(50) % 2)]
    for deblender in deblenders:
        queries = np.ascontiguousarray(x[:, :deblender.dim])
        previous = set_num_threads(1)
        try:
            one = deblender(queries, alpha)
            set_num_threads(2)
            two = deblender(queries, alpha)
        finally:
            set_num_threads(previous)
        shifted = np.empty(queries.size + 1)[1:].reshape(queries.shape)  # 8-byte offset
        shifted[...] = queries
        np.testing.assert_array_equal(one, two)
        np.testing.assert_array_equal(one, deblender(shifted, alpha))


def test_huge_but_accepted_inputs_stay_finite_and_too_huge_ones_are_refused():
    deblender = ExactDeblender([[0.0, 0.0], [1e90, -1e90]])
    velocity = deblender([[1e95, 3.0], [-1e99, 1e99]], [0.5, 1 - 1e-15])
    assert np.all(np.isfinite(velocity))
    with pytest.raises(ValueError, match="^x is too large for source_cov"):
        deblender([[1e120, 0.0]], 0.5)
    with pytest.raises(ValueError, match="^target_points is too large"):
        ExactDeblender([[1e90, 0.0]], source_cov=1e-40)
    with pytest.raises(ValueError, match="^target_points must have entries of magnitude"):
        ExactDeblender([[1e308, 0.0]])


BAD_INPUTS = [
    (lambda: ExactDeblender(np.zeros((0, 2))), "target_points"),
    (lambda: ExactDeblender([[np.nan, 0.0]]), "target_points"),
    (lambda: ExactDeblender(np.zeros(3)), "target_points"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_mean=(0, 0, 0)), "source_mean"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_cov=[[1, 2], [2, 1]]), "source_cov"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_cov=[[1, 0.5], [0, 1]]), "source_cov"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 2)), 1.0), "alpha"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 2)), [0.1, 1.0]), "alpha"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 2)), [0.1, 0.2, 0.3]), "alpha"),
    (lambda: ExactDeblender(np.zeros((3, 2)))([[np.inf, 0.0]], 0.5), "x"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 3)), 0.5), "x"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_cov=0.0), "source_cov"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_cov=np.eye(3)), "source_cov"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_mean=np.zeros((2, 3))), "source_mean"),
    (lambda: ExactDeblender(np.zeros((3, 2)), labels=[0, 1]), "labels"),
    (lambda: ExactDeblender(np.zeros((3, 2)), labels=[0, 1, 1.5]), "labels"),
    (lambda: ExactDeblender(np.zeros((3, 2)), labels=[0, 1, -1]), "labels"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 2)), 0.5, labels=[0, 0]), "labels"),
    (lambda: ExactDeblender(np.zeros((3, 2)), labels=[0, 0, 2])(np.zeros((1, 2)), 0.5, labels=[1]), "labels"),
    (lambda: ExactDeblender(np.zeros((3, 2)), labels=[0, 0, 2]).for_class(1), "label"),
    (lambda: GaussianDeblender(target_std=0.0), "target_std"),
    (lambda: GaussianDeblender(source_mean=np.zeros(3), target_mean=np.zeros(2)), "target_mean"),
    (lambda: GaussianDeblender()(np.zeros((1, 2)), 1.5), "alpha"),
]


@pytest.mark.parametrize("make, name", BAD_INPUTS)
def test_bad_input_names_the_parameter(make, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        make()


def test_wrong_kinds_of_object_are_type_errors_naming_the_parameter():
    with pytest.raises(TypeError, match="^source_std"):
        GaussianDeblender(source_std="1.0")
    with pytest.raises(TypeError, match="^target_points"):
        ExactDeblender("points")


def test_gaussian_deblender_in_any_dimension():
    blend = GaussianDeblender(target_mean=np.arange(5.0), target_std=0.5)
    assert blend.dim == 5
    x0 = np.random.default_rng(0).normal(size=(7, 5))
    np.testing.assert_allclose(blend.exact_map(x0), np.arange(5.0) + 0.5 * x0)


@settings(max_examples=40, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda a: not 0 <= a < 1))
def test_any_alpha_outside_zero_one_is_refused(alpha):
    deblender = ExactDeblender([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="^alpha"):
        deblender(np.zeros((2, 2)), alpha)
    with pytest.raises(ValueError, match="^alpha"):
        deblender(np.zeros((2, 2)), np.array([0.5, alpha]))
