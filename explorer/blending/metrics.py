"""Distances between 2D point sets, and the floor they cannot go below with finite samples.

Two independent samples of one density are not at distance 0: any metric computed from n
points has a *floor* set by sampling noise. :func:`sample_quality` reports a generated set's
distances to a fresh target sample beside the distances between two independent target samples
of the same size, so "as good as the data" has a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_range, make_rng
from explorer.blending import _kernels
from explorer.blending._checks import check_points


def sliced_wasserstein(a, b, n_directions: int = 128, seed=0) -> float:
    """Sliced 2-Wasserstein distance between the empirical laws of two point sets.

    ``sqrt(mean_k W2(a . u_k, b . u_k)^2)`` over ``n_directions`` random unit directions
    ``u_k`` (uniform on the circle), where W2 of two 1D samples compares their sorted
    projections. Thin wrapper around the parallel ``projected_wasserstein2`` kernel (parallel
    over directions).

    Parameters
    ----------
    a : array-like, shape (n, 2)
    b : array-like, shape (m, 2)
        Finite, n, m >= 1. Sets of unequal size are compared through their quantile
        functions, integrated exactly (for n = m this is the mean squared difference of the
        sorted projections).
    n_directions : int, default 128
        In [1, 100000].
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
    a, b = check_points("a", a), check_points("b", b)
    n_directions = check_range("n_directions", n_directions, lo=1, hi=100_000, integer=True)
    directions = make_rng(seed).standard_normal((n_directions, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return float(np.sqrt(_kernels.projected_wasserstein2(a, b, directions).mean()))


def energy_distance(a, b) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` between two point sets.

    The V-statistic (means over all pairs, i = j included), as ``dcor.energy_distance``
    computes it: non-negative, 0 for identical sets, the square of a metric between laws
    (``scipy.stats.energy_distance``, for 1D samples, reports the square root). Thin wrapper
    around the parallel ``mean_distance`` kernel: O(n m) time, O(n) memory.

    Parameters
    ----------
    a : array-like, shape (n, 2)
    b : array-like, shape (m, 2)
        Finite, n, m >= 1.

    Returns
    -------
    float
        In the units of the points, >= 0.
    """
    a, b = check_points("a", a), check_points("b", b)
    value = (2 * _kernels.mean_distance(a, b) - _kernels.mean_distance(a, a)
             - _kernels.mean_distance(b, b))
    return max(value, 0.0)  # rounding may leave -1e-17 for identical sets


def distance_to_nearest(points, reference) -> np.ndarray:
    """Distance from each point to its nearest reference point, shape (n,).

    Measures memorisation: samples of the exact deblender sit on training points (distance
    0); a network that generalises puts them in between. Thin wrapper around the parallel
    ``nearest_distances`` kernel.
    """
    return _kernels.nearest_distances(check_points("points", points),
                                      check_points("reference", reference))


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


def _draw(target, n: int, rng) -> np.ndarray:
    if hasattr(target, "sample"):
        return check_points("target", target.sample(n, seed=rng))
    points = check_points("target", target)
    return points[rng.integers(0, points.shape[0], n)]


def sample_quality(samples, target, n_directions: int = 128, repeats: int = 4,
                   seed=0) -> SampleQuality:
    """Sliced Wasserstein and energy distance of ``samples`` to the target, with the floor.

    Parameters
    ----------
    samples : array-like, shape (n, 2)
        The generated points, finite.
    target : density or array-like of shape (m, 2)
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
        reference, independent = _draw(target, n, rng), _draw(target, n, rng)
        distances += [sliced_wasserstein(samples, reference, n_directions, direction_seed),
                      energy_distance(samples, reference),
                      sliced_wasserstein(independent, reference, n_directions, direction_seed),
                      energy_distance(independent, reference)]
    return SampleQuality(*(distances / repeats).tolist(), n)
