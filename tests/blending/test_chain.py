"""The stochastic chain against the naive chain, its endpoints, and its collapse as T grows."""

import numpy as np
import pytest

from explorer._validation import make_rng
from explorer.blending import (ExactDeblender, TwoMoons, endpoint_spread, sample,
                               stochastic_paths)
from tests.blending import naive


@pytest.fixture(scope="module")
def deblender():
    return ExactDeblender(TwoMoons().sample(40, seed=0), source_mean=(0.2, 0.0),
                          source_cov=[[1.0, 0.3], [0.3, 0.8]])


def start_points(n=6, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 2))


def test_matches_the_naive_chain_with_the_same_random_numbers(deblender):
    x0, T = start_points(), 12
    paths = stochastic_paths(deblender, x0, T, seed=5)
    uniforms = make_rng(5).random((T, len(x0)))
    expected = naive.stochastic_chain(x0, T, deblender.target_points, deblender.source_mean,
                                      deblender.source_cov, uniforms)
    np.testing.assert_allclose(paths.points, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(paths.alphas, np.arange(T + 1) / T)


@pytest.mark.parametrize("T", [1, 3, 64])
def test_endpoints_are_target_points_exactly(deblender, T):
    paths = stochastic_paths(deblender, start_points(50), T, seed=2)
    assert paths.shape == (T + 1, 50, 2) and np.asarray(paths).shape == (T + 1, 50, 2)
    np.testing.assert_array_equal(paths[0], start_points(50))
    np.testing.assert_array_equal(paths[-1], deblender.target_points[paths.target_index])


def test_same_seed_same_paths_other_seed_other_paths(deblender):
    first = stochastic_paths(deblender, start_points(), 16, seed=7)
    np.testing.assert_array_equal(first.points, stochastic_paths(deblender, start_points(), 16, seed=7).points)
    assert not np.array_equal(first.points, stochastic_paths(deblender, start_points(), 16, seed=8).points)


def test_one_step_picks_a_target_uniformly():
    targets = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    paths = stochastic_paths(ExactDeblender(targets), np.zeros((8000, 2)) + 5.0, T=1, seed=0)
    frequencies = np.bincount(paths.target_index, minlength=4) / 8000
    np.testing.assert_allclose(frequencies, 0.25, atol=0.02)


def test_random_paths_collapse_onto_the_deterministic_map(deblender):
    x0 = start_points(8)
    spread = endpoint_spread(deblender, x0, T=[1, 4, 256], n_paths=24, seed=3)
    assert spread.endpoints.shape == (3, 8, 24, 2) and spread.spread_per_start.shape == (3, 8)
    assert spread.spread[0] > spread.spread[1] > spread.spread[2]
    assert spread.spread[2] < 0.2 * spread.spread[0]
    # with many steps most random endpoints agree with the deterministic (Euler) endpoint
    deterministic = sample(deblender, x0, 1024).final
    distance = np.linalg.norm(spread.endpoints[2] - deterministic[:, None, :], axis=-1)
    assert np.median(distance) < 0.1


def test_any_dimension_a_mixture_source_and_classes_match_the_naive_chain():
    rng = np.random.default_rng(3)
    targets = rng.normal(size=(25, 5)) + 1.0
    means = rng.normal(size=(3, 5))
    cov = np.diag(np.linspace(0.5, 1.5, 5))
    deblender = ExactDeblender(targets, means, cov)
    x0, T = rng.normal(size=(7, 5)), 9
    paths = stochastic_paths(deblender, x0, T, seed=4)
    uniforms = make_rng(4).random((T, len(x0)))
    expected = naive.stochastic_chain(x0, T, targets, means, cov, uniforms)
    np.testing.assert_allclose(paths.points, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(paths[-1], targets[paths.target_index])
    labels = np.arange(25) % 4
    labelled = ExactDeblender(targets, means, cov, labels=labels)
    asked = np.arange(7) % 4
    ends = stochastic_paths(labelled, x0, 16, seed=1, labels=asked)
    np.testing.assert_array_equal(labels[ends.target_index], asked)
    spread = endpoint_spread(labelled, x0[:2], T=(2, 8), n_paths=3, seed=0, labels=[1, 3])
    assert spread.endpoints.shape == (2, 2, 3, 5)


def test_a_single_target_has_no_spread():
    spread = endpoint_spread(ExactDeblender([[1.0, 2.0]]), start_points(3), T=5, n_paths=4)
    np.testing.assert_array_equal(spread.spread, [0.0])
    np.testing.assert_array_equal(spread.T, [5])


@pytest.mark.parametrize("call, name", [
    (lambda d: stochastic_paths(d, start_points(), 0), "T"),
    (lambda d: stochastic_paths(d, start_points(), 2.5), "T"),
    (lambda d: stochastic_paths(d, np.zeros((0, 2)), 4), "x0"),
    (lambda d: stochastic_paths(d, [[np.nan, 1.0]], 4), "x0"),
    (lambda d: stochastic_paths(d, np.zeros((3, 5)), 4), "x0"),
    (lambda d: stochastic_paths(d, start_points(), 4, seed=-1), "seed"),
    (lambda d: stochastic_paths(d, start_points(), 4, labels=[0] * 6), "labels"),
    (lambda d: endpoint_spread(d, start_points(), T=[4, 0]), "T"),
    (lambda d: endpoint_spread(d, start_points(), n_paths=1), "n_paths"),
])
def test_bad_input_names_the_parameter(deblender, call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call(deblender)


def test_a_deblender_without_targets_is_a_type_error():
    with pytest.raises(TypeError, match="^exact_deblender must be a ExactDeblender"):
        stochastic_paths(lambda x, a: x, start_points(), 4)
