"""Samplers compared at equal cost: sample quality against deblender evaluations.

One analysis shared by the view, the command line and the lessons: for each method (Euler,
midpoint, Heun) and step count T, sample from the same source points, measure the sliced
Wasserstein distance to fresh target samples (averaged over a few reference draws), and set
it beside the floor (two independent target samples of the same size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_callable, check_choice, check_range, make_rng
from explorer.blending._checks import check_points, check_steps
from explorer.blending.metrics import sliced_wasserstein
from explorer.blending.samplers import METHODS, sample


@dataclass(frozen=True, eq=False)
class SamplerComparison:
    """Sliced Wasserstein distance of each sampler's output, by method and step count.

    Attributes
    ----------
    methods : tuple of str
    T : ndarray of int64, shape (k,)
    evaluations : ndarray of int64, shape (len(methods), k)
        Deblender calls of each run.
    sliced_wasserstein : ndarray, shape (len(methods), k)
        Mean over the reference draws; NaN exactly where ``diverged`` (or not run yet, when
        ``stopped_early``: see ``done``).
    diverged : ndarray of bool, shape (len(methods), k)
    done : ndarray of bool, shape (len(methods), k)
        Which runs were made.
    floor : float
        Two independent target samples of the same size (mean over the draws).
    stopped_early : bool
    """

    methods: tuple
    T: np.ndarray
    evaluations: np.ndarray
    sliced_wasserstein: np.ndarray
    diverged: np.ndarray
    done: np.ndarray
    floor: float
    stopped_early: bool

    def curve(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        """(evaluations, sliced Wasserstein) of one method's finished, finite runs."""
        row = self.methods.index(check_choice("method", method, self.methods))
        keep = self.done[row] & ~self.diverged[row]
        return self.evaluations[row, keep], self.sliced_wasserstein[row, keep]


def _references(target, n: int, dim: int, count: int, rng) -> list[np.ndarray]:
    if hasattr(target, "sample"):
        return [check_points("target", target.sample(n, seed=rng), dim=dim) for _ in range(count)]
    points = check_points("target", target, dim=dim)
    return [points[rng.integers(0, points.shape[0], n)] for _ in range(count)]


def compare_samplers(deblender, x0, target, T=(2, 4, 8, 16, 32, 64), methods=METHODS,
                     repeats: int = 2, n_directions: int = 128, seed=0, labels=None,
                     callback=None) -> SamplerComparison:
    """Quality against cost for every sampler: the data of a "distance vs evaluations" plot.

    Parameters
    ----------
    deblender : callable
        See :func:`~explorer.blending.sample`.
    x0 : array-like, shape (n, d)
        Source points, shared by every run.
    target : density or array-like of shape (m, d)
        Fresh reference samples are drawn from it (with replacement from a point set: pass
        held-out points, not the training set, to measure generalisation).
    T : sequence of int, default (2, 4, 8, 16, 32, 64)
        Step counts, each in [1, 100000], at most 64 of them.
    methods : sequence of {"euler", "midpoint", "heun"}, default all three
    repeats : int, default 2
        Reference draws averaged over, in [1, 100].
    n_directions : int, default 128
        Of the sliced Wasserstein distance, in [1, 100000].
    seed : int or numpy.random.Generator, default 0
        Reference draws and directions.
    labels : int or array-like of int, optional
        Classes, for a conditional deblender.
    callback : callable, optional
        ``callback(partial SamplerComparison)`` after every run; a true value stops.

    Returns
    -------
    SamplerComparison
    """
    x = check_points("x0", x0)
    steps = np.array([check_steps(t) for t in np.atleast_1d(np.asarray(T, dtype=object)).tolist()],
                     dtype=np.int64)
    if not 1 <= steps.size <= 64:
        raise ValueError(f"T must hold between 1 and 64 step counts, got {steps.size}")
    if isinstance(methods, str):
        methods = (methods,)
    if not isinstance(methods, (list, tuple)):
        raise ValueError(f"methods must be a sequence of {', '.join(METHODS)}; got {methods!r}")
    methods = tuple(check_choice("methods", m, METHODS) for m in methods)
    if not methods:
        raise ValueError("methods must name at least one of " + ", ".join(METHODS))
    repeats = check_range("repeats", repeats, lo=1, hi=100, integer=True)
    n_directions = check_range("n_directions", n_directions, lo=1, hi=100_000, integer=True)
    check_callable("callback", callback)
    rng = make_rng(seed)
    direction_seed = int(rng.integers(2**63))
    references = _references(target, x.shape[0], x.shape[1], repeats, rng)
    independent = _references(target, x.shape[0], x.shape[1], repeats, rng)

    def distance(points: np.ndarray) -> float:
        return float(np.mean([sliced_wasserstein(points, reference, n_directions, direction_seed)
                              for reference in references]))

    floor = float(np.mean([sliced_wasserstein(draw, reference, n_directions, direction_seed)
                           for draw, reference in zip(independent, references)]))
    shape = (len(methods), steps.size)
    evaluations = np.zeros(shape, np.int64)
    distances = np.full(shape, np.nan)
    diverged, done = np.zeros(shape, bool), np.zeros(shape, bool)
    stopped = False

    def result() -> SamplerComparison:
        return SamplerComparison(methods, steps, evaluations.copy(), distances.copy(),
                                 diverged.copy(), done.copy(), floor, stopped)

    for row, method in enumerate(methods):
        for column, count in enumerate(steps):
            path = sample(deblender, x, int(count), method=method, labels=labels)
            evaluations[row, column] = path.evaluations
            diverged[row, column] = path.diverged
            if not path.diverged:
                distances[row, column] = distance(path.final)
            done[row, column] = True
            if callback is not None and not done.all() and callback(result()):
                stopped = True
                return result()
    return result()
