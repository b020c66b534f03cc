"""The exact deblenders against tests/blending/naive.py and closed forms; their validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.blending import ExactDeblender, GaussianDeblender
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


BAD_INPUTS = [
    (lambda: ExactDeblender(np.zeros((0, 2))), "target_points"),
    (lambda: ExactDeblender([[np.nan, 0.0]]), "target_points"),
    (lambda: ExactDeblender(np.zeros((3, 3))), "target_points"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_mean=(0, 0, 0)), "source_mean"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_cov=[[1, 2], [2, 1]]), "source_cov"),
    (lambda: ExactDeblender(np.zeros((3, 2)), source_cov=[[1, 0.5], [0, 1]]), "source_cov"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 2)), 1.0), "alpha"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 2)), [0.1, 1.0]), "alpha"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 2)), [0.1, 0.2, 0.3]), "alpha"),
    (lambda: ExactDeblender(np.zeros((3, 2)))([[np.inf, 0.0]], 0.5), "x"),
    (lambda: ExactDeblender(np.zeros((3, 2)))(np.zeros((2, 3)), 0.5), "x"),
    (lambda: GaussianDeblender(target_std=0.0), "target_std"),
    (lambda: GaussianDeblender()(np.zeros((1, 2)), 1.5), "alpha"),
]


@pytest.mark.parametrize("make, name", BAD_INPUTS)
def test_bad_input_names_the_parameter(make, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        make()


@settings(max_examples=40, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda a: not 0 <= a < 1))
def test_any_alpha_outside_zero_one_is_refused(alpha):
    deblender = ExactDeblender([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="^alpha"):
        deblender(np.zeros((2, 2)), alpha)
    with pytest.raises(ValueError, match="^alpha"):
        deblender(np.zeros((2, 2)), np.array([0.5, alpha]))
