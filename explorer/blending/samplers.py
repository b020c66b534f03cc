"""Deterministic samplers for any deblender: Euler (the paper's), midpoint and Heun.

The deterministic IADB path solves ``dx/dalpha = D(x, alpha)`` from ``alpha = 0`` (a source
sample) to ``alpha = 1``. With levels ``a_0 < ... < a_T`` and ``h = a_{t+1} - a_t``:

- Euler: ``x += h D(x, a_t)`` (T evaluations, first order);
- midpoint: ``x += h D(x + h/2 D(x, a_t), a_t + h/2)`` (2T evaluations, second order);
- Heun: ``x += h/2 (D(x, a_t) + D(x + h D(x, a_t), a_{t+1}))`` (second order). D is never
  evaluated at alpha = 1 (the exact deblender of a finite set is undefined there), so a last
  step that ends at 1 is an Euler step: 2T - 1 evaluations, still second order overall.

A deblender is anything with ``__call__(x, alpha) -> D`` on arrays of shape (n, d) and (n,)
(and ``__call__(x, alpha, labels)`` for class-conditional sampling). A trained network is
integrated by the fused compiled kernel ``_inference_kernels.integrate`` (every step of a block
of points at once), any other deblender one Python step at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import (check_array, check_callable, check_choice, check_interval,
                                  check_range)
from explorer.blending import _inference_kernels
from explorer.blending._checks import check_points, check_steps
from explorer.blending.network import ACTIVATIONS, MLP
from explorer.blending.training import TrainedDeblender

METHODS = ("euler", "midpoint", "heun")
SCHEDULES = ("uniform", "cosine")
#: Most numbers (steps x points x dimension) a trajectory may hold: 8 bytes * 1e8 = 800 MB.
MAX_STORED_NUMBERS = 100_000_000
_METHOD_CODES = {"euler": _inference_kernels.EULER, "midpoint": _inference_kernels.MIDPOINT,
                 "heun": _inference_kernels.HEUN}
# points per parallel task of the fused sampler: long inner loops amortise each product
# block's setup (measured on the 2D and digits networks: 512 beat 128 and 256 by 10-25%)
_SAMPLING_BLOCK = 512
# Work (points x parameters x evaluations) of one call of the fused sampler, between two
# checkpoints: about 0.1 s on one core (digits and 2D networks). Every call allocates its
# blocks' buffers afresh, and their first touch (page faults) cost ~5% of a digits run at an
# eighth of this size.
_SAMPLING_CHUNK_WORK = 4 * 10**9


class PathArray:
    """Mixin: a result whose ``points`` (T+1, n, d) also act as the result itself.

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
        """The points at the last level, shape (n, d)."""
        return self.points[-1]


@dataclass(frozen=True, eq=False)
class Trajectory(PathArray):
    """The deterministic path of every start point.

    Attributes
    ----------
    points : ndarray, shape (T+1, n, d)
        ``points[t]`` is at level ``alphas[t]``; ``points[0]`` are the start points. After a
        divergence, the remaining steps are NaN. A partial trajectory (given to a callback,
        or stopped early) holds the levels reached so far.
    alphas : ndarray, shape (T+1,)
    method : str
        "euler", "midpoint" or "heun".
    evaluations : int
        Calls of the deblender (each on all n points).
    diverged : bool
        A velocity or a point became NaN or infinite; the path stopped there.
    stopped_early : bool
        The callback asked to stop; ``points`` end at the last level reached.
    """

    points: np.ndarray
    alphas: np.ndarray
    method: str
    evaluations: int
    diverged: bool
    stopped_early: bool = False


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
    diverged : ndarray of bool, shape (ny, nx)
        Where the velocity is NaN or infinite (a network whose weights diverged).
    """

    x: np.ndarray
    y: np.ndarray
    velocity: np.ndarray
    alpha: float
    diverged: np.ndarray

    @property
    def any_diverged(self) -> bool:
        """Whether any grid point has a non-finite velocity."""
        return bool(self.diverged.any())


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


def _evaluate(deblender, x: np.ndarray, alpha: float, labels) -> np.ndarray:
    """D(x, alpha[, labels]) at one level for every point, as float64 of the shape of x."""
    levels = np.full(x.shape[0], alpha)
    velocity = deblender(x, levels) if labels is None else deblender(x, levels, labels)
    velocity = np.asarray(velocity, dtype=np.float64)
    if velocity.shape != x.shape:
        raise ValueError(f"deblender must return an array of shape {x.shape}, got {velocity.shape}")
    return velocity


def _velocity(deblender, x: np.ndarray, alpha: float, labels) -> np.ndarray | None:
    """D(x, alpha); None if it is not finite (a divergence)."""
    velocity = _evaluate(deblender, x, alpha, labels)
    return velocity if np.all(np.isfinite(velocity)) else None


def _step(deblender, method: str, x: np.ndarray, alpha: float, following: float, labels):
    """One step from level alpha to level following: (new points or None, evaluations)."""
    h = following - alpha
    first = _velocity(deblender, x, alpha, labels)
    if first is None or method == "euler" or (method == "heun" and following == 1.0):
        return (None if first is None else x + h * first), 1
    if method == "midpoint":
        second = _velocity(deblender, x + 0.5 * h * first, alpha + 0.5 * h, labels)
        return (None if second is None else x + h * second), 2
    second = _velocity(deblender, x + h * first, following, labels)
    return (None if second is None else x + 0.5 * h * (first + second)), 2


def _step_evaluations(method: str, alphas: np.ndarray, steps: int) -> int:
    """Deblender calls of the first ``steps`` steps."""
    if method == "euler":
        return steps
    if method == "midpoint":
        return 2 * steps
    return 2 * steps - int(np.count_nonzero(alphas[1:steps + 1] == 1.0))


def _network_of(deblender) -> MLP | None:
    if isinstance(deblender, TrainedDeblender):
        return deblender.network
    return deblender if isinstance(deblender, MLP) else None


class _Integration:
    """The state of one call of :func:`sample`: the trajectory filled so far."""

    def __init__(self, deblender, x, alphas, method, labels, callback):
        self.deblender, self.alphas, self.method = deblender, alphas, method
        self.labels, self.callback = labels, callback
        self.points = np.full((alphas.size, *x.shape), np.nan)
        self.points[0] = x
        self.reached, self.evaluations, self.diverged, self.stopped = 0, 0, False, False

    def result(self) -> Trajectory:
        end = self.points.shape[0] if not self.stopped else self.reached + 1
        return Trajectory(self.points[:end], self.alphas[:end], self.method, self.evaluations,
                          self.diverged, self.stopped)

    def checkpoint(self) -> None:
        if self.callback is not None and not self.diverged and self.reached < self.alphas.size - 1:
            self.stopped = bool(self.callback(Trajectory(
                self.points[:self.reached + 1], self.alphas[:self.reached + 1], self.method,
                self.evaluations, self.diverged)))

    def python_steps(self) -> None:
        x = self.points[0]
        for t in range(self.alphas.size - 1):
            x, used = _step(self.deblender, self.method, x, self.alphas[t], self.alphas[t + 1],
                            self.labels)
            self.evaluations += used
            if x is None or not np.all(np.isfinite(x)):
                self.diverged = True
                return
            self.points[t + 1] = x
            self.reached = t + 1
            self.checkpoint()
            if self.stopped:
                return

    def fused_steps(self, network: MLP) -> None:
        slots = network.slots(self.labels, self.points.shape[1])
        network._check_work(self.points.shape[1])
        per_step = 1 if self.method == "euler" else 2
        work = self.points.shape[1] * network.params.size * per_step
        chunk = int(max(1, _SAMPLING_CHUNK_WORK // work))
        steps = self.alphas.size - 1
        for first in range(0, steps, chunk):
            last = min(steps, first + chunk)
            failures = _inference_kernels.integrate(
                network.params, network.n_inputs, network.width, network.depth,
                ACTIVATIONS[network.activation], self.points[first:last + 1], slots,
                self.alphas[first:last + 1], _METHOD_CODES[self.method], _SAMPLING_BLOCK)
            failed = failures[failures >= 0]
            if failed.size:
                step, stage = divmod(int(failed.min()), 3)
                self._fail(first + step, stage)
                return
            self.reached = last
            self.evaluations = _step_evaluations(self.method, self.alphas, last)
            self.checkpoint()
            if self.stopped:
                return

    def _fail(self, step: int, stage: int) -> None:
        done = _step_evaluations(self.method, self.alphas, step)
        whole_step = _step_evaluations(self.method, self.alphas, step + 1) - done
        self.evaluations = done + (whole_step if stage == _inference_kernels.UPDATE else stage + 1)
        self.points[step + 1:] = np.nan
        self.reached, self.diverged = step, True


def sample(deblender, x0, T: int, method: str = "euler", schedule="uniform", labels=None,
           callback=None) -> Trajectory:
    """Carry source points x0 to the target along ``dx/dalpha = D(x, alpha)``.

    A trained network (:class:`TrainedDeblender` or :class:`MLP`) runs in the fused parallel
    kernel ``integrate`` (all steps of a block of points at once, the same bits for any
    number of threads); any other deblender is called once per evaluation.

    Parameters
    ----------
    deblender : callable
        ``deblender(x, alpha) -> D`` with x (n, d), alpha (n,) and D (n, d): an
        :class:`~explorer.blending.ExactDeblender`, a trained network, or any function.
    x0 : array-like, shape (n, d)
        Start points (source samples), finite, n >= 1.
    T : int
        Steps, in [1, 100000]; (T+1) n d at most 1e8 (the trajectory is kept).
    method : {"euler", "midpoint", "heun"}, default "euler"
    schedule : "uniform", "cosine" or array-like of shape (T+1,), default "uniform"
        The levels, see :func:`alpha_schedule`.
    labels : int or array-like of int, shape (n,), optional
        Classes to draw, for a class-conditional deblender (called as
        ``deblender(x, alpha, labels)``).
    callback : callable, optional
        ``callback(partial)`` with the :class:`Trajectory` so far, after every step (a
        network: after every chunk of steps worth about a tenth of a second); a true return
        value stops there (``stopped_early``).

    Returns
    -------
    Trajectory
        Every intermediate point, ``points`` of shape (T+1, n, d) (the result also acts as
        that array). A non-finite velocity stops the path: ``diverged`` is then True and the
        remaining steps are NaN.

    Examples
    --------
    >>> from explorer.blending import GaussianDeblender
    >>> path = sample(GaussianDeblender(target_mean=(1.0, 1.0)), [[0.0, 0.0]], T=4)
    >>> path.shape, path.final.round(6).tolist()
    ((5, 1, 2), [[1.0, 1.0]])
    """
    check_callable("deblender", deblender, allow_none=False)
    check_callable("callback", callback)
    network = _network_of(deblender)
    dim = getattr(deblender, "dim", None)
    x = check_points("x0", x0, dim=dim if isinstance(dim, int) else None)
    method = check_choice("method", method, METHODS)
    alphas = alpha_schedule(T, schedule)
    T = alphas.size - 1
    if (T + 1) * x.size > MAX_STORED_NUMBERS:
        raise ValueError(f"T must be at most {MAX_STORED_NUMBERS // x.size - 1} for "
                         f"{x.shape[0]} points of dimension {x.shape[1]} (the trajectory would "
                         f"not fit in memory), got {T}")
    integration = _Integration(deblender, x, alphas, method, labels, callback)
    if network is not None:
        integration.fused_steps(network)
    else:
        integration.python_steps()
    return integration.result()


def vector_field(deblender, alpha: float, x_range=(-3.0, 3.0), y_range=(-3.0, 3.0),
                 resolution: int = 21, labels=None) -> VectorField:
    """D(x, alpha) on a ``resolution`` x ``resolution`` grid over the given window (2D only).

    Parameters
    ----------
    deblender : callable
        A deblender of 2D points.
    alpha : float
        The level, in [0, 1) (a trained network also accepts 1).
    x_range, y_range : pair of float, default (-3, 3)
    resolution : int, default 21
        Grid points per axis, in [2, 1000].
    labels : int, optional
        The class, for a class-conditional deblender.

    Returns
    -------
    VectorField
        ``diverged`` flags grid points whose velocity is not finite (for example a network
        whose training diverged): never an unflagged NaN.
    """
    check_callable("deblender", deblender, allow_none=False)
    if getattr(deblender, "dim", 2) != 2:
        raise ValueError(f"deblender must work on 2D points for a vector field, got dimension "
                         f"{deblender.dim}")
    alpha = check_range("alpha", alpha, lo=0, hi=1)
    (x_low, x_high), (y_low, y_high) = check_interval("x_range", x_range), check_interval("y_range", y_range)
    resolution = check_range("resolution", resolution, lo=2, hi=1000, integer=True)
    x, y = np.linspace(x_low, x_high, resolution), np.linspace(y_low, y_high, resolution)
    grid = np.stack(np.meshgrid(x, y), axis=-1).reshape(-1, 2)
    velocity = _evaluate(deblender, grid, alpha, labels).reshape(resolution, resolution, 2)
    return VectorField(x, y, velocity, alpha, ~np.isfinite(velocity).all(axis=2))
