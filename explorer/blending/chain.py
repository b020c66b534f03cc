"""The paper's stochastic blend/deblend chain, and how its paths collapse as T grows.

With levels ``a_t = t / T``, each step draws ``(x0, x1)`` from the posterior given the current
point ``x_{a_t}`` (with the exact deblender of a finite target set: a target ``y_i`` with
probability ``w_i``, and the source point that blends with it into ``x``), then re-blends at
the next level: ``x_{a_{t+1}} = (1 - a_{t+1}) x0 + a_{t+1} x1``. The last step lands exactly
on a target point. For small T the path is random (T = 1 picks a target uniformly); as T grows
the random paths from one start point converge to the deterministic path of
``dx/dalpha = D(x, alpha)``, and their endpoint spread shrinks to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_instance, check_range, make_rng
from explorer.blending import _kernels, _posterior_kernels
from explorer.blending._checks import check_pair_work, check_points, check_steps
from explorer.blending.exact import ExactDeblender
from explorer.blending.samplers import MAX_STORED_NUMBERS, PathArray, alpha_schedule


@dataclass(frozen=True, eq=False)
class StochasticPaths(PathArray):
    """Random IADB paths, one per start point.

    Attributes
    ----------
    points : ndarray, shape (T+1, n, d)
        ``points[t]`` is at level ``alphas[t]``; ``points[0]`` are the start points and
        ``points[-1]`` are target points, exactly (the result also acts as this array).
    alphas : ndarray, shape (T+1,)
        ``t / T``.
    target_index : ndarray of int64, shape (n,)
        The target point each path ends on: ``points[-1] == target_points[target_index]``.
    """

    points: np.ndarray
    alphas: np.ndarray
    target_index: np.ndarray


@dataclass(frozen=True, eq=False)
class EndpointSpread:
    """Where ``n_paths`` random paths from each start point end, for several T.

    Attributes
    ----------
    T : ndarray of int64, shape (k,)
    spread : ndarray, shape (k,)
        Root-mean-square distance of the endpoints to their mean, averaged over start points:
        0 once every path from a start point ends on the same target.
    spread_per_start : ndarray, shape (k, n)
    endpoints : ndarray, shape (k, n, n_paths, d)
    """

    T: np.ndarray
    spread: np.ndarray
    spread_per_start: np.ndarray
    endpoints: np.ndarray


def _check_exact(exact_deblender) -> ExactDeblender:
    return check_instance("exact_deblender", exact_deblender, ExactDeblender)


class _Chain:
    """The validated start points (and their target ranges) of one deblender's chains."""

    def __init__(self, deblender: ExactDeblender, x0, labels):
        check_points("x0", x0, dim=deblender.dim)
        # the deblender's own checks: magnitude, labels, work per step
        self.start, _, self.labels, self.starts, self.stops, self.widest = deblender._queries(
            x0, 0.0, labels, name="x0")
        self.deblender = deblender

    def check_work(self, steps: int, name: str) -> None:
        """Refuse chains whose total pairwise work (over ``steps`` steps) is too large."""
        n, d = self.start.shape
        check_pair_work(name, float(steps) * n * self.widest * d * self.deblender._means_w.shape[0])

    def repeat(self, count: int) -> _Chain:
        """The same chain with every start point repeated ``count`` times."""
        repeated = object.__new__(_Chain)
        repeated.deblender, repeated.labels, repeated.widest = self.deblender, self.labels, self.widest
        repeated.start = np.repeat(self.start, count, axis=0)
        repeated.starts, repeated.stops = (np.repeat(a, count) for a in (self.starts, self.stops))
        return repeated

    def run(self, T: int, rng, keep_every_step: bool):
        deblender, start = self.deblender, self.start
        uniforms = rng.random((T, start.shape[0]))
        if deblender._fast(self.labels):
            points, index = _kernels.stochastic_chain(
                start, alpha_schedule(T), deblender._sorted_t, deblender._sorted_wt,
                deblender._whitening, deblender._means_w[0], uniforms, keep_every_step)
        else:
            points, index = _posterior_kernels.stochastic_chain(
                start, alpha_schedule(T), deblender._whitening, deblender._sorted,
                deblender._sorted_wt, deblender._means_w, self.starts, self.stops, self.widest,
                uniforms, keep_every_step)
        return points, deblender._order[index]


def stochastic_paths(exact_deblender: ExactDeblender, x0, T: int, seed=0,
                     labels=None) -> StochasticPaths:
    """Run the stochastic chain (posterior sampling at every step) from each start point.

    Thin wrapper around the parallel ``stochastic_chain`` kernels (``_kernels`` for the 2D
    fast path, ``_posterior_kernels`` otherwise; parallel over paths, the same bits for any
    thread count).

    Parameters
    ----------
    exact_deblender : ExactDeblender
        Supplies the target points and the Gaussian (or mixture) source of the posterior.
    x0 : array-like, shape (n, d)
        Start points (source samples), finite, n >= 1.
    T : int
        Steps, in [1, 100000]; (T+1) n d must stay below 1e8.
    seed : int or numpy.random.Generator, default 0
    labels : int or array-like of int, shape (n,), optional
        With a labelled deblender: each path draws only targets of its class.

    Returns
    -------
    StochasticPaths
        Every intermediate point, shape (T+1, n, d); endpoints are target points.

    Examples
    --------
    >>> deblender = ExactDeblender([[1.0, 1.0], [-1.0, 1.0]])
    >>> paths = stochastic_paths(deblender, [[0.0, 0.0], [0.5, 0.0]], T=8, seed=1)
    >>> paths.shape, bool(abs(paths[-1][:, 1] - 1.0).max() == 0)
    ((9, 2, 2), True)
    """
    chain = _Chain(_check_exact(exact_deblender), x0, labels)
    T = check_steps(T)
    numbers = chain.start.size
    if (T + 1) * numbers > MAX_STORED_NUMBERS:
        raise ValueError(f"T must be at most {MAX_STORED_NUMBERS // numbers - 1} for "
                         f"{chain.start.shape[0]} start points (the paths would not fit in memory), got {T}")
    chain.check_work(T, "T")
    points, index = chain.run(T, make_rng(seed), keep_every_step=True)
    return StochasticPaths(points, alpha_schedule(T), index)


def endpoint_spread(exact_deblender: ExactDeblender, x0, T=(1, 2, 4, 8, 16, 32, 64, 128),
                    n_paths: int = 32, seed=0, labels=None) -> EndpointSpread:
    """How far apart the endpoints of independent random paths from one start point land.

    Parameters
    ----------
    exact_deblender : ExactDeblender
    x0 : array-like, shape (n, d)
        Start points, finite, n >= 1.
    T : int or sequence of int, default (1, 2, 4, ..., 128)
        Step counts to compare, each in [1, 100000].
    n_paths : int, default 32
        Independent paths per start point and per T, in [2, 100000].
    seed : int or numpy.random.Generator, default 0
    labels : int or array-like of int, shape (n,), optional
        With a labelled deblender: the class of each start point's paths.

    Returns
    -------
    EndpointSpread
        ``spread`` shrinks towards 0 as T grows: the random paths collapse onto one
        deterministic path.
    """
    chain = _Chain(_check_exact(exact_deblender), x0, labels)
    steps = np.array([check_steps(t) for t in _step_counts(T)], dtype=np.int64)
    n_paths = check_range("n_paths", n_paths, lo=2, hi=100_000, integer=True)
    n, d = chain.start.shape
    if n * n_paths * d * steps.size > MAX_STORED_NUMBERS:
        raise ValueError(f"n_paths must be at most {MAX_STORED_NUMBERS // (n * d * steps.size)} "
                         f"for {n} start points and {steps.size} values of T, got {n_paths}")
    rng = make_rng(seed)
    repeated = chain.repeat(n_paths)
    repeated.check_work(int(steps.sum()), "T")
    endpoints = np.stack([repeated.run(int(t), rng, keep_every_step=False)[0][0]
                          for t in steps]).reshape(steps.size, n, n_paths, d)
    deviation = endpoints - endpoints.mean(axis=2, keepdims=True)
    per_start = np.sqrt((deviation**2).sum(axis=3).mean(axis=2))
    return EndpointSpread(steps, per_start.mean(axis=1), per_start, endpoints)


def _step_counts(T) -> list:
    try:
        values = np.atleast_1d(np.asarray(T, dtype=object)).tolist()
    except (TypeError, ValueError):
        raise ValueError(f"T must be an integer or a sequence of integers, got {T!r}") from None
    if not values or np.ndim(T) > 1:
        raise ValueError(f"T must be an integer or a non-empty flat sequence of integers, got {T!r}")
    return values
