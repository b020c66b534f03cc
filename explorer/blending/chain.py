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

from explorer._validation import check_range, make_rng
from explorer.blending import _kernels
from explorer.blending._checks import check_points, check_steps
from explorer.blending.exact import ExactDeblender
from explorer.blending.samplers import MAX_STORED_POINTS, PathArray, alpha_schedule


@dataclass(frozen=True, eq=False)
class StochasticPaths(PathArray):
    """Random IADB paths, one per start point.

    Attributes
    ----------
    points : ndarray, shape (T+1, n, 2)
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
    endpoints : ndarray, shape (k, n, n_paths, 2)
    """

    T: np.ndarray
    spread: np.ndarray
    spread_per_start: np.ndarray
    endpoints: np.ndarray


def _check_exact(exact_deblender) -> ExactDeblender:
    if not isinstance(exact_deblender, ExactDeblender):
        raise ValueError("exact_deblender must be an ExactDeblender (posterior sampling needs the "
                         f"finite target set), got {type(exact_deblender).__name__}")
    return exact_deblender


def _run_chain(deblender: ExactDeblender, start: np.ndarray, T: int, rng, keep_every_step: bool):
    uniforms = rng.random((T, start.shape[0]))
    return _kernels.stochastic_chain(start, alpha_schedule(T), deblender._targets_t,
                                     deblender.source_mean, deblender._precision, uniforms,
                                     keep_every_step)


def stochastic_paths(exact_deblender: ExactDeblender, x0, T: int, seed=0) -> StochasticPaths:
    """Run the stochastic chain (posterior sampling at every step) from each start point.

    Thin wrapper around the parallel ``stochastic_chain`` kernel (parallel over paths).

    Parameters
    ----------
    exact_deblender : ExactDeblender
        Supplies the target points and the Gaussian source of the posterior.
    x0 : array-like, shape (n, 2)
        Start points (source samples), finite, n >= 1.
    T : int
        Steps, in [1, 100000]; (T+1) n must stay below 5e7.
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    StochasticPaths
        Every intermediate point, shape (T+1, n, 2); endpoints are target points.

    Examples
    --------
    >>> deblender = ExactDeblender([[1.0, 1.0], [-1.0, 1.0]])
    >>> paths = stochastic_paths(deblender, [[0.0, 0.0], [0.5, 0.0]], T=8, seed=1)
    >>> paths.shape, bool(abs(paths[-1][:, 1] - 1.0).max() == 0)
    ((9, 2, 2), True)
    """
    deblender = _check_exact(exact_deblender)
    start = check_points("x0", x0)
    T = check_steps(T)
    if (T + 1) * start.shape[0] > MAX_STORED_POINTS:
        raise ValueError(f"T must be at most {MAX_STORED_POINTS // start.shape[0] - 1} for "
                         f"{start.shape[0]} start points (the paths would not fit in memory), got {T}")
    points, index = _run_chain(deblender, start, T, make_rng(seed), keep_every_step=True)
    return StochasticPaths(points, alpha_schedule(T), index)


def endpoint_spread(exact_deblender: ExactDeblender, x0, T=(1, 2, 4, 8, 16, 32, 64, 128),
                    n_paths: int = 32, seed=0) -> EndpointSpread:
    """How far apart the endpoints of independent random paths from one start point land.

    Parameters
    ----------
    exact_deblender : ExactDeblender
    x0 : array-like, shape (n, 2)
        Start points, finite, n >= 1.
    T : int or sequence of int, default (1, 2, 4, ..., 128)
        Step counts to compare, each in [1, 100000].
    n_paths : int, default 32
        Independent paths per start point and per T, in [2, 100000].
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    EndpointSpread
        ``spread`` shrinks towards 0 as T grows: the random paths collapse onto one
        deterministic path.
    """
    deblender = _check_exact(exact_deblender)
    start = check_points("x0", x0)
    steps = np.array([check_steps(t) for t in np.atleast_1d(T).tolist()], dtype=np.int64)
    n_paths = check_range("n_paths", n_paths, lo=2, hi=100_000, integer=True)
    rng = make_rng(seed)
    repeated = np.repeat(start, n_paths, axis=0)
    endpoints = np.stack([_run_chain(deblender, repeated, int(t), rng, keep_every_step=False)[0][0]
                          for t in steps]).reshape(steps.size, start.shape[0], n_paths, 2)
    deviation = endpoints - endpoints.mean(axis=2, keepdims=True)
    per_start = np.sqrt((deviation**2).sum(axis=3).mean(axis=2))
    return EndpointSpread(steps, per_start.mean(axis=1), per_start, endpoints)
