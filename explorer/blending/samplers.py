"""Deterministic samplers for any deblender: Euler (the paper's), midpoint and Heun.

The deterministic IADB path solves ``dx/dalpha = D(x, alpha)`` from ``alpha = 0`` (a source
sample) to ``alpha = 1``. With levels ``a_0 < ... < a_T`` and ``h = a_{t+1} - a_t``:

- Euler: ``x += h D(x, a_t)`` (T evaluations, first order);
- midpoint: ``x += h D(x + h/2 D(x, a_t), a_t + h/2)`` (2T evaluations, second order);
- Heun: ``x += h/2 (D(x, a_t) + D(x + h D(x, a_t), a_{t+1}))`` (second order). D is never
  evaluated at alpha = 1 (the exact deblender of a finite set is undefined there), so a last
  step that ends at 1 is an Euler step: 2T - 1 evaluations, still second order overall.

A deblender is anything with ``__call__(x, alpha) -> D`` on arrays of shape (n, 2) and (n,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_choice, check_interval, check_range
from explorer.blending._checks import check_points, check_steps

METHODS = ("euler", "midpoint", "heun")
SCHEDULES = ("uniform", "cosine")
#: Most points (summed over every stored step) a trajectory may hold: 8 bytes * 2 * 5e7 = 800 MB.
MAX_STORED_POINTS = 50_000_000


class PathArray:
    """Mixin: a result whose ``points`` (T+1, n, 2) also act as the result itself.

    ``np.asarray(result)``, ``result[-1]``, ``len(result)`` and ``result.shape`` read the
    points, so a result can be used wherever the trajectory array is expected.
    """

    points: np.ndarray

    def __array__(self, dtype=None, copy=None):
        return self.points if dtype is None else self.points.astype(dtype)

    def __getitem__(self, index):
        return self.points[index]

    def __len__(self) -> int:
        return self.points.shape[0]

    @property
    def shape(self) -> tuple:
        return self.points.shape

    @property
    def final(self) -> np.ndarray:
        """The points at the last level, shape (n, 2)."""
        return self.points[-1]


@dataclass(frozen=True, eq=False)
class Trajectory(PathArray):
    """The deterministic path of every start point.

    Attributes
    ----------
    points : ndarray, shape (T+1, n, 2)
        ``points[t]`` is at level ``alphas[t]``; ``points[0]`` are the start points. After a
        divergence, the remaining steps are NaN.
    alphas : ndarray, shape (T+1,)
    method : str
        "euler", "midpoint" or "heun".
    evaluations : int
        Calls of the deblender (each on all n points).
    diverged : bool
        A velocity or a point became NaN or infinite; the path stopped there.
    """

    points: np.ndarray
    alphas: np.ndarray
    method: str
    evaluations: int
    diverged: bool


@dataclass(frozen=True, eq=False)
class VectorField:
    """D(x, alpha) on a regular grid, for plotting arrows.

    Attributes
    ----------
    x : ndarray, shape (nx,)
    y : ndarray, shape (ny,)
    velocity : ndarray, shape (ny, nx, 2)
        ``velocity[i, j]`` is D at the point (x[j], y[i]).
    alpha : float
    """

    x: np.ndarray
    y: np.ndarray
    velocity: np.ndarray
    alpha: float


def alpha_schedule(T: int, schedule="uniform") -> np.ndarray:
    """Blend levels a_0 < ... < a_T, shape (T+1,).

    Parameters
    ----------
    T : int
        Steps, in [1, 100000].
    schedule : "uniform", "cosine" or array-like of shape (T+1,)
        "uniform": ``t / T`` (the paper's); "cosine": ``(1 - cos(pi t / T)) / 2``, finer
        steps near both ends; an array: any strictly increasing levels in [0, 1].
    """
    T = check_steps(T)
    if isinstance(schedule, str):
        check_choice("schedule", schedule, SCHEDULES)
        fraction = np.arange(T + 1) / T
        return fraction if schedule == "uniform" else (1 - np.cos(np.pi * fraction)) / 2
    levels = check_array("schedule", schedule, ndim=1)
    if levels.shape != (T + 1,):
        raise ValueError(f"schedule must have T + 1 = {T + 1} levels, got {levels.shape[0]}")
    if levels[0] < 0 or levels[-1] > 1 or np.any(np.diff(levels) <= 0):
        raise ValueError("schedule must increase strictly within [0, 1]")
    return levels


def _evaluate(deblender, x: np.ndarray, alpha: float) -> np.ndarray:
    """D(x, alpha) at one level for every point, as float64 of the shape of x."""
    velocity = np.asarray(deblender(x, np.full(x.shape[0], alpha)), dtype=np.float64)
    if velocity.shape != x.shape:
        raise ValueError(f"deblender must return an array of shape {x.shape}, got {velocity.shape}")
    return velocity


def _velocity(deblender, x: np.ndarray, alpha: float) -> np.ndarray | None:
    """D(x, alpha); None if it is not finite (a divergence)."""
    velocity = _evaluate(deblender, x, alpha)
    return velocity if np.all(np.isfinite(velocity)) else None


def _step(deblender, method: str, x: np.ndarray, alpha: float, following: float):
    """One step from level alpha to level following: (new points or None, evaluations)."""
    h = following - alpha
    first = _velocity(deblender, x, alpha)
    if first is None or method == "euler" or (method == "heun" and following == 1.0):
        return (None if first is None else x + h * first), 1
    if method == "midpoint":
        second = _velocity(deblender, x + 0.5 * h * first, alpha + 0.5 * h)
        return (None if second is None else x + h * second), 2
    second = _velocity(deblender, x + h * first, following)
    return (None if second is None else x + 0.5 * h * (first + second)), 2


def sample(deblender, x0, T: int, method: str = "euler", schedule="uniform") -> Trajectory:
    """Carry source points x0 to the target along ``dx/dalpha = D(x, alpha)``.

    Parameters
    ----------
    deblender : callable
        ``deblender(x, alpha) -> D`` with x (n, 2), alpha (n,) and D (n, 2): an
        :class:`~explorer.blending.ExactDeblender`, a trained network, or any function.
    x0 : array-like, shape (n, 2)
        Start points (source samples), finite, n >= 1.
    T : int
        Steps, in [1, 100000].
    method : {"euler", "midpoint", "heun"}, default "euler"
    schedule : "uniform", "cosine" or array-like of shape (T+1,), default "uniform"
        The levels, see :func:`alpha_schedule`.

    Returns
    -------
    Trajectory
        Every intermediate point, ``points`` of shape (T+1, n, 2) (the result also acts as
        that array). A non-finite velocity stops the path: ``diverged`` is then True and the
        remaining steps are NaN.

    Examples
    --------
    >>> from explorer.blending import GaussianDeblender
    >>> path = sample(GaussianDeblender(target_mean=(1.0, 1.0)), [[0.0, 0.0]], T=4)
    >>> path.shape, path.final.round(6).tolist()
    ((5, 1, 2), [[1.0, 1.0]])
    """
    if not callable(deblender):
        raise ValueError(f"deblender must be callable as deblender(x, alpha), got {type(deblender).__name__}")
    x = check_points("x0", x0)
    method = check_choice("method", method, METHODS)
    alphas = alpha_schedule(T, schedule)
    T = alphas.size - 1
    if (T + 1) * x.shape[0] > MAX_STORED_POINTS:
        raise ValueError(f"T must be at most {MAX_STORED_POINTS // x.shape[0] - 1} for "
                         f"{x.shape[0]} points (the trajectory would not fit in memory), got {T}")
    points = np.full((T + 1, *x.shape), np.nan)
    points[0] = x
    evaluations, diverged = 0, False
    for t in range(T):
        x, used = _step(deblender, method, x, alphas[t], alphas[t + 1])
        evaluations += used
        if x is None or not np.all(np.isfinite(x)):
            diverged = True
            break
        points[t + 1] = x
    return Trajectory(points, alphas, method, evaluations, diverged)


def vector_field(deblender, alpha: float, x_range=(-3.0, 3.0), y_range=(-3.0, 3.0),
                 resolution: int = 21) -> VectorField:
    """D(x, alpha) on a ``resolution`` x ``resolution`` grid over the given window.

    Parameters
    ----------
    deblender : callable
    alpha : float
        The level, in [0, 1) (a trained network also accepts 1).
    x_range, y_range : pair of float, default (-3, 3)
    resolution : int, default 21
        Grid points per axis, in [2, 1000].
    """
    alpha = check_range("alpha", alpha, lo=0, hi=1)
    (x_low, x_high), (y_low, y_high) = check_interval("x_range", x_range), check_interval("y_range", y_range)
    resolution = check_range("resolution", resolution, lo=2, hi=1000, integer=True)
    x, y = np.linspace(x_low, x_high, resolution), np.linspace(y_low, y_high, resolution)
    grid = np.stack(np.meshgrid(x, y), axis=-1).reshape(-1, 2)
    velocity = _evaluate(deblender, grid, alpha)
    return VectorField(x, y, velocity.reshape(resolution, resolution, 2), alpha)
