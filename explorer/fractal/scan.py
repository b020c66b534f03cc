"""Scan two hyperparameters: train one network per pixel and measure how it converged."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from explorer._validation import (check_array, check_bool, check_callable, check_choice,
                                  check_range, make_rng)
from explorer.fractal import _kernels
from explorer.fractal._driver import lane_hyperparameters, run_groups
from explorer.fractal._lanes import INPUT_SCALE
from explorer.fractal.problem import MAX_SAMPLES, Problem
from explorer.fractal.window import (MAX_RESOLUTION, Window, check_window_range,
                                     grid_axes, zoom_window)

PHASE_SPACES = ("lr_vs_lr", "paraminit_vs_lr")
OFFSET_MODES = ("every_step", "initial")
MIN_STEPS = 21  # the measure averages the last 20 losses
MAX_STEPS = 1_000_000
MAX_MINIBATCH = 1024
MAX_BATCH_ENTRIES = 2**24  # steps x minibatch sample indices held at once (128 MiB)

_NONLINEARITY_CODES = {"tanh": _kernels.TANH, "relu": _kernels.RELU, "identity": _kernels.IDENTITY}
_AXIS_NAMES = {
    "lr_vs_lr": ("input-layer learning rate", "output-layer learning rate"),
    "paraminit_vs_lr": ("input-weight offset", "learning rate"),
}


@dataclass(frozen=True, eq=False)
class Scan:
    """The result of :func:`scan`.

    Attributes
    ----------
    x, y : ndarray, shapes (nx,), (ny,)
        Hyperparameter values of the pixel columns and rows (log-spaced, not log10).
    measure : ndarray, float64, shape (ny, nx)
        The paper's convergence measure: where training converged, minus the sum of the
        normalised losses (near 0 = fast convergence); where it diverged, the sum of their
        inverses (near 0 = fast divergence). Finite wherever computed; NaN marks pixels not
        computed (only in a scan that was stopped, or a partial one given to a callback).
    diverged : ndarray, bool, shape (ny, nx)
        ``measure > 0`` (False where not computed).
    x_range, y_range : (float, float)
        The window in log10 units.
    steps : int
        Training steps per pixel.
    phase_space : str
        "lr_vs_lr" or "paraminit_vs_lr".
    seconds : float
        Wall time of the compiled scan.
    minibatch : int or None
        Samples per gradient step (None: full batch).
    minibatch_seed : int or None
        Seed of the minibatch sample indices (None: full batch, or a Generator was given).
    stopped_early : bool
        True when a callback stopped the scan; then ``measure`` is NaN where not computed.
    """

    x: np.ndarray
    y: np.ndarray
    measure: np.ndarray
    diverged: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    steps: int
    phase_space: str
    seconds: float
    minibatch: int | None = None
    minibatch_seed: int | None = None
    stopped_early: bool = False

    @classmethod
    def from_measure(cls, x, y, measure, *, steps, phase_space, seconds=0.0, x_range=None,
                     y_range=None, minibatch=None, minibatch_seed=None,
                     stopped_early=False) -> Scan:
        """Wrap a measure computed on the axes ``x``, ``y`` (e.g. assembled from tiles).

        Parameters
        ----------
        x, y : array_like, shapes (nx,), (ny,), nx, ny in [1, 8192]
            Positive, increasing hyperparameter values (not log10).
        measure : array_like, shape (ny, nx)
            Finite values, or NaN where not computed.
        steps, phase_space, minibatch, minibatch_seed, stopped_early
            As in :func:`scan` (``steps`` in [21, 1e6]).
        seconds : float, >= 0
        x_range, y_range : (float, float), optional
            log10 windows; by default the log10 of the first and last axis values.

        Returns
        -------
        Scan
        """
        x = _check_axis("x", x)
        y = _check_axis("y", y)
        measure = check_array("measure", measure, shape=(y.size, x.size), finite=False,
                              max_abs=None)
        if np.isinf(measure).any():
            raise ValueError("measure must be finite, or NaN where not computed")
        steps = check_range("steps", steps, lo=MIN_STEPS, hi=MAX_STEPS, integer=True)
        check_choice("phase_space", phase_space, PHASE_SPACES)
        seconds = check_range("seconds", seconds, lo=0)
        x_range = check_window_range("x_range", x_range if x_range is not None
                                     else np.log10([x[0], x[-1] if x.size > 1 else 10 * x[0]]))
        y_range = check_window_range("y_range", y_range if y_range is not None
                                     else np.log10([y[0], y[-1] if y.size > 1 else 10 * y[0]]))
        if minibatch is not None:
            minibatch = check_range("minibatch", minibatch, lo=1, hi=MAX_MINIBATCH, integer=True)
        if minibatch_seed is not None:
            minibatch_seed = check_range("minibatch_seed", minibatch_seed, lo=0, integer=True)
        with np.errstate(invalid="ignore"):
            diverged = measure > 0
        return cls(x=x, y=y, measure=measure, diverged=diverged, x_range=x_range,
                   y_range=y_range, steps=steps, phase_space=phase_space, seconds=seconds,
                   minibatch=minibatch, minibatch_seed=minibatch_seed,
                   stopped_early=check_bool("stopped_early", stopped_early))

    @property
    def x_label(self) -> str:
        return _AXIS_NAMES[self.phase_space][0]

    @property
    def y_label(self) -> str:
        return _AXIS_NAMES[self.phase_space][1]

    @property
    def window(self) -> Window:
        return Window(self.x_range, self.y_range)

    @property
    def finished(self) -> np.ndarray:
        """bool (ny, nx): where the measure was computed (everywhere unless stopped)."""
        return np.isfinite(self.measure)

    @property
    def diverged_fraction(self) -> float:
        """Fraction of the computed pixels that diverged (NaN if none was computed)."""
        done = self.finished
        return float(self.diverged[done].mean()) if done.any() else float("nan")

    @property
    def pixels_per_second(self) -> float:
        return float(self.finished.sum()) / max(self.seconds, 1e-12)

    def boundary_points(self) -> np.ndarray:
        """Centres of the 2x2 blocks where the measure changes sign, in log10 units, shape (k, 2).

        Handy zoom targets: ``scan.zoom(scan.boundary_points()[i], 10)``; see also
        :func:`~explorer.fractal.boundary_target`.
        """
        from explorer.fractal.analysis import boundary

        rows, cols = np.nonzero(boundary(self.measure))
        log_x, log_y = np.log10(self.x), np.log10(self.y)
        return np.column_stack((0.5 * (log_x[cols] + log_x[cols + 1]),
                                0.5 * (log_y[rows] + log_y[rows + 1])))

    def zoom(self, center, factor: float) -> Window:
        """The window ``factor`` (in (0, 1e15]) times smaller around ``center`` (log10 x, y).

        Raises ValueError when the new window's pixels would no longer be distinct float64
        numbers (roughly 13 decades of zoom below a window of width 1).
        """
        return zoom_window(self.window, center, factor, self.measure.shape)


def _check_axis(name, values):
    values = check_array(name, values, ndim=1, max_abs=None, max_size=MAX_RESOLUTION)
    if not values.size or values.min() <= 0 or np.any(np.diff(values) <= 0):
        raise ValueError(f"{name} must be a non-empty, increasing array of positive values")
    return values


def _prepare(problem, steps, phase_space, offset_mode):
    """Validate the scan options; the kernel's inputs: (steps, scaled X, nonlinearity code)."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an explorer.fractal.Problem, got {type(problem).__name__}")
    steps = check_range("steps", steps, lo=MIN_STEPS, hi=MAX_STEPS, integer=True)
    check_choice("phase_space", phase_space, PHASE_SPACES)
    check_choice("offset_mode", offset_mode, OFFSET_MODES)
    nonlinearity = _NONLINEARITY_CODES[problem.nonlinearity]
    scale = INPUT_SCALE[nonlinearity] / np.sqrt(problem.X.shape[1])
    return steps, np.ascontiguousarray(problem.X * scale), nonlinearity


def minibatch_indices(n_data: int, steps: int, minibatch=None, minibatch_seed=0) -> np.ndarray:
    """The sample indices of every step's gradient, shape (steps, minibatch).

    Row t is the batch of step t: ``np.random.default_rng(minibatch_seed).integers(0, n_data,
    size=(steps, minibatch))``, drawn with replacement, the same for every pixel. With
    ``minibatch=None`` (full batch) the result has no columns.

    Parameters
    ----------
    n_data : int, in [1, 100000]
    steps : int, in [21, 1e6]
    minibatch : int in [1, 1024], or None
        With ``steps * minibatch`` at most 2**24.
    minibatch_seed : int >= 0 or numpy Generator

    Examples
    --------
    >>> minibatch_indices(272, 21, 16, 0).shape
    (21, 16)
    """
    n_data = check_range("n_data", n_data, lo=1, hi=MAX_SAMPLES, integer=True)
    steps = check_range("steps", steps, lo=MIN_STEPS, hi=MAX_STEPS, integer=True)
    if minibatch is None:
        return np.zeros((steps, 0), np.int64)
    minibatch = check_range("minibatch", minibatch, lo=1, hi=MAX_MINIBATCH, integer=True)
    if steps * minibatch > MAX_BATCH_ENTRIES:
        raise ValueError(f"steps x minibatch must be at most {MAX_BATCH_ENTRIES}, got "
                         f"{steps} x {minibatch}")
    rng = make_rng(_check_seed(minibatch_seed))
    return rng.integers(0, n_data, size=(steps, minibatch)).astype(np.int64)


def _check_seed(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return check_range("minibatch_seed", seed, lo=0, integer=True)


def _measure_grid(problem, x, y, steps, phase_space, offset_mode, minibatch, minibatch_seed,
                  callback, to_partial):
    """Shared core of measure_pixels and scan: (measure (ny, nx), stopped)."""
    steps, scaled_X, nonlinearity = _prepare(problem, steps, phase_space, offset_mode)
    batches = minibatch_indices(problem.X.shape[0], steps, minibatch, minibatch_seed)
    callback = check_callable("callback", callback)
    hyper = lane_hyperparameters(x, y, phase_space, nonlinearity)
    pixels = x.size * y.size

    def grid(measure):
        return measure.ravel()[:pixels].reshape(y.size, x.size)

    kernel_args = (scaled_X, problem.Y[:, 0].copy(), problem.W1, problem.W2[:, 0].copy(), hyper,
                   offset_mode == "every_step", steps, nonlinearity, batches)
    measure, _, stopped = run_groups(kernel_args, hyper.shape[0], callback,
                                     lambda partial: to_partial(grid(partial)))
    return grid(measure), stopped


def measure_pixels(problem: Problem, x, y, steps: int = 100, phase_space: str = "lr_vs_lr",
                   offset_mode: str = "every_step", *, minibatch: int | None = None,
                   minibatch_seed=0, callback: Callable | None = None) -> np.ndarray:
    """Convergence measure at every (y[row], x[col]): the compiled core of :func:`scan`.

    Each pixel depends only on its own (x, y) value, so any sub-grid (a tile of rows and
    columns of a larger scan's axes) gives bit-identical values to the full scan; views and
    :mod:`explorer.distributed` rely on that to render tiles.

    Parameters
    ----------
    problem : Problem
    x, y : array_like, shapes (nx,), (ny,)
        Finite hyperparameter values >= 0 (not log10) with the meaning of :func:`scan`;
        at most 8192 each.
    steps, phase_space, offset_mode, minibatch, minibatch_seed
        As in :func:`scan`.
    callback : callable, optional
        ``callback(partial)`` about every 0.25 s while the pixels train, with the (ny, nx)
        measure so far (NaN where not computed); a truthy return stops the work.

    Returns
    -------
    ndarray, float64, shape (ny, nx)
        Finite; NaN only where a callback stopped the work before the pixel was done.

    See Also
    --------
    scan : the same on a log-spaced window, wrapped in a :class:`Scan`.
    explorer.distributed.scan : tiles of measure_pixels on a Dask cluster.

    Examples
    --------
    >>> from explorer.fractal import make_problem
    >>> measure_pixels(make_problem(width=2), [0.01, 100.0], [0.01], steps=21).shape
    (1, 2)
    """
    x = check_array("x", x, ndim=1, max_abs=None, max_size=MAX_RESOLUTION)
    y = check_array("y", y, ndim=1, max_abs=None, max_size=MAX_RESOLUTION)
    for name, values in (("x", x), ("y", y)):
        if values.size and values.min() < 0:
            raise ValueError(f"{name} must hold values >= 0, got min {values.min()}")
    if x.size == 0 or y.size == 0:
        _prepare(problem, steps, phase_space, offset_mode)
        return np.empty((y.size, x.size))
    measure, _ = _measure_grid(problem, x, y, steps, phase_space, offset_mode, minibatch,
                               minibatch_seed, callback, lambda partial: partial)
    return measure


def scan(problem: Problem, x_range=(-3.0, 6.0), y_range=(-3.0, 6.0), resolution=64,
         steps: int = 100, phase_space: str = "lr_vs_lr", offset_mode: str = "every_step", *,
         minibatch: int | None = None, minibatch_seed=0,
         callback: Callable | None = None) -> Scan:
    """Train one network per pixel of a log-spaced 2D hyperparameter grid.

    Thin wrapper around the parallel ``_scan_kernel`` (numba): pixels train eight at a time
    side by side, and each pixel's value is the same bits whatever the thread count, the
    tiling or the memory layout (see :mod:`explorer.fractal._lanes`).

    Parameters
    ----------
    problem : Problem
        Data, initial weights and nonlinearity shared by every pixel.
    x_range, y_range : (float, float)
        log10 bounds of the columns and rows, finite with lo < hi, each within [-300, 300].
        Default (-3, 6), the paper notebook's starting window.
    resolution : int or (int, int)
        Pixels per side, or (nx, ny); each in [2, 8192].
    steps : int, in [21, 1e6]
        Gradient-descent steps per pixel (the measure averages the last 20 losses).
    phase_space : {"lr_vs_lr", "paraminit_vs_lr"}
        "lr_vs_lr": x = input-layer learning rate, y = output-layer learning rate.
        "paraminit_vs_lr": x = offset added to the input weights, y = shared learning rate.
    offset_mode : {"every_step", "initial"}
        Only for "paraminit_vs_lr". "every_step" re-adds the offset before every step (a
        drift), exactly as the paper's public notebook does; it reproduces the paper's
        images. "initial" adds it once to the initial weights, as the paper's text describes.
    minibatch : int in [1, 1024], optional
        Samples per gradient step, drawn with replacement (the paper uses 16); None (the
        default) trains on the full batch. The loss recorded at every step, and so the
        measure, is the full-batch loss, as in the paper's notebook.
    minibatch_seed : int >= 0 or numpy Generator
        The batch of step t is row t of ``np.random.default_rng(minibatch_seed).integers(0,
        n_data, size=(steps, minibatch))``, the same for every pixel. ``steps * minibatch``
        is at most 2**24.
    callback : callable, optional
        ``callback(partial)`` about every 0.25 s while the pixels train, with a partial
        :class:`Scan` (NaN where not computed). A truthy return stops the scan within
        milliseconds; the result then has ``stopped_early=True``.

    Returns
    -------
    Scan
        ``measure`` and ``diverged`` of shape (ny, nx); rows follow ``y``, columns ``x``.
        A pixel whose training overflowed is a diverged pixel, never NaN.

    See Also
    --------
    explorer.distributed.scan : the same scan as tiles on a Dask cluster, bit-identical.
    scan_cost : useful flops and estimated seconds of a scan, before running it.
    boundary_target : a zoom target on the boundary of a scan.

    Examples
    --------
    >>> from explorer.fractal import make_problem, scan
    >>> result = scan(make_problem(width=4), (-2, 2), (-2, 2), resolution=8, steps=30)
    >>> result.measure.shape, result.diverged.dtype, result.stopped_early
    ((8, 8), dtype('bool'), False)
    """
    _prepare(problem, steps, phase_space, offset_mode)
    x, y = grid_axes(x_range, y_range, resolution)
    windows = {"x_range": check_window_range("x_range", x_range, x.size),
               "y_range": check_window_range("y_range", y_range, y.size)}
    seed = minibatch_seed if minibatch is not None and not isinstance(
        minibatch_seed, np.random.Generator) else None
    start = time.perf_counter()

    def wrap(measure, stopped=False):
        return Scan.from_measure(x, y, measure, steps=steps, phase_space=phase_space,
                                 seconds=time.perf_counter() - start, minibatch=minibatch,
                                 minibatch_seed=seed, stopped_early=stopped, **windows)

    measure, stopped = _measure_grid(problem, x, y, steps, phase_space, offset_mode, minibatch,
                                     minibatch_seed, callback, wrap)
    return wrap(measure, stopped)


def loss_trajectory(problem: Problem, x: float, y: float, steps: int = 100,
                    phase_space: str = "lr_vs_lr", offset_mode: str = "every_step", *,
                    minibatch: int | None = None, minibatch_seed=0) -> np.ndarray:
    """The full-batch training loss before each step at one point (x, y) of the phase space.

    ``x`` and ``y`` are finite hyperparameter values >= 0 (not log10), with the meaning of
    :func:`scan`; the other arguments are those of :func:`scan`. Non-finite losses are
    reported as 1e6, as the measure treats them. The same arithmetic as the scan's pixel at
    (x, y), so its convergence measure is the scan's value, bit for bit.

    Returns
    -------
    ndarray, shape (steps,)

    Examples
    --------
    >>> from explorer.fractal import make_problem
    >>> losses = loss_trajectory(make_problem(width=4), 0.1, 0.1, steps=25)
    >>> losses.shape, bool(losses[-1] < losses[0])
    ((25,), True)
    """
    steps, scaled_X, nonlinearity = _prepare(problem, steps, phase_space, offset_mode)
    x = check_range("x", x, lo=0)
    y = check_range("y", y, lo=0)
    batches = minibatch_indices(problem.X.shape[0], steps, minibatch, minibatch_seed)
    hyper = lane_hyperparameters(np.array([x]), np.array([y]), phase_space, nonlinearity)[0]
    losses, _ = _kernels._loss_trajectory(scaled_X, problem.Y[:, 0].copy(), problem.W1,
                                          problem.W2[:, 0].copy(), hyper,
                                          offset_mode == "every_step", steps, nonlinearity,
                                          batches)
    return losses[:, 0].copy()
