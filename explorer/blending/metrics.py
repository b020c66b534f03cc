"""Distances between point sets of any dimension, and the floor they cannot go below.

Two independent samples of one density are not at distance 0: any metric computed from n
points has a *floor* set by sampling noise. :func:`sample_quality` reports a generated set's
distances to a fresh target sample beside the distances between two independent target samples
of the same size, so "as good as the data" has a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_range, make_rng
from explorer.blending import _metric_kernels
from explorer.blending._checks import check_pair_work, check_points


def _pair(a, b, name_a: str = "a", name_b: str = "b"):
    """Two point sets of one dimension."""
    a = check_points(name_a, a)
    return a, check_points(name_b, b, dim=a.shape[1])


def sliced_wasserstein(a, b, n_directions: int = 128, seed=0) -> float:
    """Sliced 2-Wasserstein distance between the empirical laws of two point sets.

    ``sqrt(mean_k W2(a . u_k, b . u_k)^2)`` over ``n_directions`` random unit directions
    ``u_k`` (uniform on the sphere), where W2 of two 1D samples compares their sorted
    projections. Thin wrapper around the parallel ``projected_wasserstein2`` kernel (parallel
    over directions).

    Parameters
    ----------
    a : array-like, shape (n, d)
    b : array-like, shape (m, d)
        Finite, entries at most 1e150, n, m >= 1. Sets of unequal size are compared through
        their quantile functions, integrated exactly (for n = m this is the mean squared
        difference of the sorted projections).
    n_directions : int, default 128
        In [1, 100000]; ``n_directions * (n + m) * d`` at most 2e10.
    seed : int or numpy.random.Generator, default 0
        Draws the directions.

    Returns
    -------
    float
        In the units of the points; 0 for identical sets.

    Examples
    --------
    >>> points = [[0.0, 0.0], [1.0, 2.0]]
    >>> sliced_wasserstein(points, points)
    0.0
    """
    a, b = _pair(a, b)
    n_directions = check_range("n_directions", n_directions, lo=1, hi=100_000, integer=True)
    check_pair_work("n_directions", float(n_directions) * (a.shape[0] + b.shape[0]) * a.shape[1])
    directions = make_rng(seed).standard_normal((n_directions, a.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return float(np.sqrt(_metric_kernels.projected_wasserstein2(a, b, directions).mean()))


def energy_distance(a, b) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` between two point sets.

    The V-statistic (means over all pairs, i = j included), as ``dcor.energy_distance``
    computes it: non-negative, 0 for identical sets, the square of a metric between laws
    (``scipy.stats.energy_distance``, for 1D samples, reports the square root). Thin wrapper
    around the parallel ``mean_distance`` kernel: O((n + m)^2 d) time, O(n + m) memory.

    Parameters
    ----------
    a : array-like, shape (n, d)
    b : array-like, shape (m, d)
        Finite, entries at most 1e150, n, m >= 1, ``(n + m)^2 d`` at most 2e10.

    Returns
    -------
    float
        In the units of the points, >= 0.
    """
    a, b = _pair(a, b)
    check_pair_work("b", float(a.shape[0] + b.shape[0]) ** 2 * a.shape[1])
    a_t, b_t = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    value = (2 * _metric_kernels.mean_distance(a, b_t) - _metric_kernels.mean_distance(a, a_t)
             - _metric_kernels.mean_distance(b, b_t))
    return max(value, 0.0)  # rounding may leave -1e-17 for identical sets


def nearest_points(points, reference) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to its nearest reference point, and that point's index.

    Thin wrapper around the parallel ``nearest`` kernel (exact squared differences, no
    expansion of the square, so a copy of a reference point is at distance exactly 0).

    Parameters
    ----------
    points : array-like, shape (n, d)
    reference : array-like, shape (m, d)
        Finite, entries at most 1e150, n, m >= 1, ``n m d`` at most 2e10.

    Returns
    -------
    (ndarray of shape (n,), ndarray of int64 of shape (n,))

    Examples
    --------
    >>> nearest_points([[0.0, 1.0]], [[5.0, 5.0], [0.0, 2.0]])
    (array([1.]), array([1]))
    """
    return nearest_to(points, reference, "points", "reference")


def nearest_to(points, reference, points_name: str, reference_name: str):
    """:func:`nearest_points` with the parameters named as the caller names them."""
    points, reference = _pair(points, reference, points_name, reference_name)
    check_pair_work(reference_name, float(points.shape[0]) * reference.shape[0] * points.shape[1])
    return _metric_kernels.nearest(points, np.ascontiguousarray(reference.T))


def distance_to_nearest(points, reference) -> np.ndarray:
    """Distance from each point to its nearest reference point, shape (n,).

    Measures memorisation: samples of the exact deblender sit on training points (distance
    0); a network that generalises puts them in between. Points of any dimension d (an 8 x 8
    image is a point of d = 64): see :func:`nearest_points`, which also gives the index.
    """
    return nearest_points(points, reference)[0]


@dataclass(frozen=True)
class SampleQuality:
    """A generated set's distances to a fresh target sample, beside the sampling floor.

    Attributes
    ----------
    sliced_wasserstein, energy_distance : float
        Generated set vs a fresh target sample of the same size (mean over the repeats).
    sliced_wasserstein_floor, energy_distance_floor : float
        Two independent target samples of that size: what a perfect sampler scores (mean
        over the repeats).
    n : int
        The sample size.
    """

    sliced_wasserstein: float
    energy_distance: float
    sliced_wasserstein_floor: float
    energy_distance_floor: float
    n: int

    @property
    def sliced_wasserstein_ratio(self) -> float:
        """sliced_wasserstein / floor: about 1 is as good as the data allows."""
        return self.sliced_wasserstein / self.sliced_wasserstein_floor


def _draw(target, n: int, rng, dim: int) -> np.ndarray:
    if hasattr(target, "sample"):
        return check_points("target", target.sample(n, seed=rng), dim=dim)
    points = check_points("target", target, dim=dim)
    return points[rng.integers(0, points.shape[0], n)]


def sample_quality(samples, target, n_directions: int = 128, repeats: int = 4,
                   seed=0) -> SampleQuality:
    """Sliced Wasserstein and energy distance of ``samples`` to the target, with the floor.

    Parameters
    ----------
    samples : array-like, shape (n, d)
        The generated points, finite.
    target : density or array-like of shape (m, d)
        A density (anything with ``sample(n, seed)``), or a point set that fresh samples are
        drawn from with replacement.
    n_directions : int, default 128
        Directions of the sliced Wasserstein distance (the same ones for every comparison).
    repeats : int, default 4
        Fresh reference samples the distances (and the floor) are averaged over, in
        [1, 1000]: one draw of a few hundred points is too noisy to compare samplers by.
    seed : int or numpy.random.Generator, default 0
        Draws the target samples and the directions.

    Returns
    -------
    SampleQuality
    """
    samples = check_points("samples", samples)
    n_directions = check_range("n_directions", n_directions, lo=1, hi=100_000, integer=True)
    repeats = check_range("repeats", repeats, lo=1, hi=1000, integer=True)
    rng = make_rng(seed)
    n = samples.shape[0]
    direction_seed = int(rng.integers(2**63))
    distances = np.zeros(4)  # sliced Wasserstein, energy; then the floor's two
    for _ in range(repeats):
        reference, independent = (_draw(target, n, rng, samples.shape[1]) for _ in range(2))
        distances += [sliced_wasserstein(samples, reference, n_directions, direction_seed),
                      energy_distance(samples, reference),
                      sliced_wasserstein(independent, reference, n_directions, direction_seed),
                      energy_distance(independent, reference)]
    return SampleQuality(*(distances / repeats).tolist(), n)
