"""Metrics against tests/blending/naive.py and exact answers; the sampling floor."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer._jit import set_num_threads
from explorer._validation import make_rng
from explorer.blending import (EightGaussians, Gaussian, distance_to_nearest, energy_distance,
                               nearest_points, TwoMoons, sample_quality, sliced_wasserstein)
from tests.blending import naive


def directions(n_directions, seed, dim=2):
    """The directions sliced_wasserstein draws for this seed (normalised Gaussians)."""
    d = make_rng(seed).standard_normal((n_directions, dim))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


@pytest.mark.parametrize("n, m", [(50, 50), (30, 45), (7, 1), (64, 48)])
def test_sliced_wasserstein_matches_the_naive_version(n, m):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) * 2 + 1
    expected = naive.sliced_wasserstein(a, b, directions(17, 4))
    assert sliced_wasserstein(a, b, n_directions=17, seed=4) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dim", [1, 3, 64])
def test_metrics_in_any_dimension_match_the_naive_versions(dim):
    rng = np.random.default_rng(dim)
    a, b = rng.normal(size=(40, dim)), rng.normal(size=(33, dim)) + 0.3
    expected = naive.sliced_wasserstein(a, b, directions(9, 2, dim))
    assert sliced_wasserstein(a, b, n_directions=9, seed=2) == pytest.approx(expected, rel=1e-12)
    assert energy_distance(a, b) == pytest.approx(naive.energy_distance(a, b), rel=1e-12)
    distances, index = nearest_points(a, b)
    np.testing.assert_allclose(distances, naive.nearest_distances(a, b), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(a - b[index], axis=1), distances, rtol=1e-12)
    assert nearest_points(b[[4, 7]], b)[0].tolist() == [0.0, 0.0]  # a copy is at distance 0


def test_metrics_give_the_same_bits_for_one_or_two_threads():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(301, 7)), rng.normal(size=(207, 7))
    results = []
    for threads in (1, 2):
        previous = set_num_threads(threads)
        try:
            results.append((sliced_wasserstein(a, b), energy_distance(a, b), nearest_points(a, b)[0]))
        finally:
            set_num_threads(previous)
    assert results[0][:2] == results[1][:2]
    np.testing.assert_array_equal(results[0][2], results[1][2])


def test_sliced_wasserstein_exact_answers():
    a = np.random.default_rng(0).normal(size=(300, 2))
    assert sliced_wasserstein(a, a) == 0.0
    assert sliced_wasserstein(a, a[::-1]) == 0.0  # order does not matter
    shift = np.array([3.0, -4.0])
    # a translation by v moves every projection by v.u: SW^2 = mean (v.u)^2 -> |v|^2 / 2
    u = directions(64, 1)
    assert sliced_wasserstein(a, a + shift, 64, seed=1) == pytest.approx(np.sqrt(np.mean((u @ shift) ** 2)), rel=1e-10)
    assert sliced_wasserstein(a, a + shift, 20000, seed=1) == pytest.approx(5 / np.sqrt(2), rel=1e-2)
    # the same points listed twice are the same law
    assert sliced_wasserstein(a, np.concatenate([a, a])) == pytest.approx(0.0, abs=1e-12)


def test_energy_distance_matches_the_naive_version_and_exact_answers():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(80, 2)), rng.normal(size=(50, 2)) + [0.5, 0.0]
    assert energy_distance(a, b) == pytest.approx(naive.energy_distance(a, b), rel=1e-12)
    assert energy_distance(a, a) == 0.0
    # two single points: 2 |x - y|
    assert energy_distance([[0.0, 0.0]], [[3.0, 4.0]]) == pytest.approx(10.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_metrics_are_symmetric_and_non_negative(n, m, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    assert sliced_wasserstein(a, b, 8, seed) == pytest.approx(sliced_wasserstein(b, a, 8, seed), rel=1e-12, abs=1e-15)
    assert energy_distance(a, b) == pytest.approx(energy_distance(b, a), rel=1e-12, abs=1e-15)
    assert energy_distance(a, b) >= 0.0


def test_sample_quality_reports_the_floor():
    target = EightGaussians()
    good = sample_quality(target.sample(2000, seed=11), target, seed=0)
    bad = sample_quality(Gaussian().sample(2000, seed=11), target, seed=0)
    assert good.n == 2000 and good.sliced_wasserstein_floor == bad.sliced_wasserstein_floor
    assert good.sliced_wasserstein_ratio < 2.0 and bad.sliced_wasserstein_ratio > 5.0
    assert bad.energy_distance > 10 * bad.energy_distance_floor
    points = target.sample(500, seed=1)
    from_points = sample_quality(points, points, seed=2)  # resampled with replacement
    assert from_points.sliced_wasserstein > 0 and from_points.sliced_wasserstein_floor > 0


def test_averaged_floor_ranks_a_perfect_sampler_near_one_at_small_sizes():
    # with 200 points one reference draw is noisy; the mean over repeats is what makes a
    # perfect sampler score about its floor, for every seed
    target = TwoMoons()
    ratios = [sample_quality(target.sample(200, seed=100 + seed), target, repeats=16, seed=seed)
              .sliced_wasserstein_ratio for seed in range(12)]
    assert 0.6 < min(ratios) and max(ratios) < 1.6, ratios
    with pytest.raises(ValueError, match=r"repeats must be an integer in \[1, 1000\]"):
        sample_quality(target.sample(10, seed=0), target, repeats=0)


def test_distance_to_nearest():
    reference = np.array([[0.0, 0.0], [10.0, 0.0]])
    np.testing.assert_allclose(distance_to_nearest([[3.0, 4.0], [9.0, 0.0], [10.0, 0.0]], reference),
                               [5.0, 1.0, 0.0])


@pytest.mark.parametrize("call, name", [
    (lambda: sliced_wasserstein(np.zeros((0, 2)), np.zeros((3, 2))), "a"),
    (lambda: sliced_wasserstein(np.zeros((3, 2)), [[np.nan, 0.0]]), "b"),
    (lambda: sliced_wasserstein(np.zeros((3, 2)), np.zeros((3, 2)), n_directions=0), "n_directions"),
    (lambda: sliced_wasserstein(np.zeros((3, 2)), np.zeros((3, 2)), seed=1.5), "seed"),
    (lambda: energy_distance(np.zeros((3, 2)), np.zeros(3)), "b"),
    (lambda: energy_distance([[np.inf, 0.0]], np.zeros((3, 2))), "a"),
    (lambda: sample_quality(np.zeros((0, 2)), EightGaussians()), "samples"),
    (lambda: sample_quality(np.zeros((3, 2)), np.zeros((0, 2))), "target"),
    (lambda: distance_to_nearest(np.zeros((3, 2)), np.zeros((0, 2))), "reference"),
    (lambda: distance_to_nearest(np.zeros((3, 2)), np.zeros((3, 4))), "reference"),
    (lambda: energy_distance(np.zeros((3, 2)), np.zeros((3, 3))), "b"),
    (lambda: energy_distance(np.zeros((3, 2)), [[1e308, 0.0]]), "b"),
    (lambda: sliced_wasserstein([[1e200, 0.0]], np.zeros((3, 2))), "a"),
    (lambda: sample_quality([[1e300, 0.0]], EightGaussians()), "samples"),
    (lambda: distance_to_nearest(np.zeros((200_000, 2)), np.zeros((200_000, 2))), "reference"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()
