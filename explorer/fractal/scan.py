"""Scan two hyperparameters: train one network per pixel and measure how it converged."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from explorer._validation import check_array, check_choice, check_interval, check_range
from explorer.fractal import _kernels
from explorer.fractal.problem import Problem

PHASE_SPACES = ("lr_vs_lr", "paraminit_vs_lr")
OFFSET_MODES = ("every_step", "initial")
MAX_RESOLUTION = 8192  # per side; a float64 measure of 8192 x 8192 is 512 MiB
MIN_STEPS = 21  # the measure averages the last 20 losses
_MIN_RELATIVE_SPACING = 64 * np.finfo(np.float64).eps  # pixels must be distinct in float64

_NONLINEARITY_CODES = {"tanh": _kernels.TANH, "relu": _kernels.RELU, "identity": _kernels.IDENTITY}
_AXIS_NAMES = {
    "lr_vs_lr": ("input-layer learning rate", "output-layer learning rate"),
    "paraminit_vs_lr": ("input-weight offset", "learning rate"),
}


class Window(NamedTuple):
    """A scan window in log10 units: unpack it into :func:`scan` as ``*window``."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]


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
        inverses (near 0 = fast divergence). Always finite.
    diverged : ndarray, bool, shape (ny, nx)
        ``measure > 0``.
    x_range, y_range : (float, float)
        The window in log10 units.
    steps : int
        Training steps per pixel.
    phase_space : str
        "lr_vs_lr" or "paraminit_vs_lr".
    seconds : float
        Wall time of the compiled scan.
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

    @classmethod
    def from_measure(cls, x, y, measure, *, steps, phase_space, seconds=0.0, x_range=None,
                     y_range=None) -> "Scan":
        """Wrap a measure computed on the axes ``x``, ``y`` (e.g. assembled from tiles).

        The log10 window defaults to the log10 of the first and last axis values.
        """
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        x_range = x_range or (float(np.log10(x[0])), float(np.log10(x[-1])))
        y_range = y_range or (float(np.log10(y[0])), float(np.log10(y[-1])))
        return cls(x=x, y=y, measure=measure, diverged=measure > 0, x_range=tuple(x_range),
                   y_range=tuple(y_range), steps=int(steps), phase_space=phase_space,
                   seconds=float(seconds))

    @property
    def x_label(self) -> str:
        return _AXIS_NAMES[self.phase_space][0]

    @property
    def y_label(self) -> str:
        return _AXIS_NAMES[self.phase_space][1]

    @property
    def diverged_fraction(self) -> float:
        return float(self.diverged.mean())

    @property
    def pixels_per_second(self) -> float:
        return self.measure.size / max(self.seconds, 1e-12)

    def boundary_points(self) -> np.ndarray:
        """Centres of the 2x2 blocks where the measure changes sign, in log10 units, shape (k, 2).

        Handy zoom targets: ``scan.zoom(scan.boundary_points()[i], 10)``.
        """
        from explorer.fractal.analysis import boundary

        rows, cols = np.nonzero(boundary(self.measure))
        log_x, log_y = np.log10(self.x), np.log10(self.y)
        return np.column_stack((0.5 * (log_x[cols] + log_x[cols + 1]),
                                0.5 * (log_y[rows] + log_y[rows + 1])))

    def zoom(self, center, factor: float) -> Window:
        """The window ``factor`` times smaller around ``center`` (log10 x, log10 y).

        Raises ValueError when the new window's pixels would no longer be distinct float64
        numbers (roughly 13 decades of zoom below a window of width 1).
        """
        return zoom_window(Window(self.x_range, self.y_range), center, factor, self.measure.shape)


def zoom_window(window: Window, center, factor: float, shape=(2, 2)) -> Window:
    """Shrink ``window`` by ``factor`` (> 1 zooms in, < 1 out) around ``center`` (log10 units)."""
    factor = check_range("factor", factor, lo=0, lo_open=True)
    cx, cy = (check_range(name, value) for name, value in zip(("center[0]", "center[1]"), center))
    half_x = 0.5 * (window.x_range[1] - window.x_range[0]) / factor
    half_y = 0.5 * (window.y_range[1] - window.y_range[0]) / factor
    new = Window((cx - half_x, cx + half_x), (cy - half_y, cy + half_y))
    ny, nx = shape
    _check_resolvable("x_range", new.x_range, nx)
    _check_resolvable("y_range", new.y_range, ny)
    return new


def _check_resolvable(name, bounds, pixels):
    lo, hi = bounds
    spacing = (hi - lo) / max(pixels - 1, 1)
    if spacing <= _MIN_RELATIVE_SPACING * max(abs(lo), abs(hi), 1.0):
        raise ValueError(f"{name} {bounds} is too narrow for {pixels} distinct float64 pixels; "
                         "zoom out (deep zooms are limited to ~13 decades below unit width)")


def _check_resolution(resolution) -> tuple[int, int]:
    if np.ndim(resolution) == 0:
        resolution = (resolution, resolution)
    if len(resolution) != 2:
        raise ValueError(f"resolution must be an int or a pair (nx, ny), got {resolution!r}")
    return tuple(check_range("resolution", r, lo=2, hi=MAX_RESOLUTION, integer=True) for r in resolution)


def _prepare(problem, steps, phase_space, offset_mode):
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be an explorer.fractal.Problem, got {type(problem).__name__}")
    steps = check_range("steps", steps, lo=MIN_STEPS, hi=1_000_000, integer=True)
    check_choice("phase_space", phase_space, PHASE_SPACES)
    check_choice("offset_mode", offset_mode, OFFSET_MODES)
    scaled_X = np.ascontiguousarray(problem.X.T) / np.sqrt(problem.X.shape[1])
    return steps, scaled_X, _NONLINEARITY_CODES[problem.nonlinearity]


def grid_axes(x_range, y_range, resolution=64) -> tuple[np.ndarray, np.ndarray]:
    """The log-spaced pixel values of a window: ``x = 10**linspace(*x_range, nx)``, same for y.

    Validates the window as :func:`scan` does; returns ``(x, y)`` of shapes (nx,), (ny,).
    """
    x_range = check_interval("x_range", x_range)
    y_range = check_interval("y_range", y_range)
    nx, ny = _check_resolution(resolution)
    for name, bounds, pixels in (("x_range", x_range, nx), ("y_range", y_range, ny)):
        check_range(f"{name} upper bound", bounds[1], hi=300.0)  # 10**300 stays finite
        _check_resolvable(name, bounds, pixels)
    return 10.0 ** np.linspace(*x_range, nx), 10.0 ** np.linspace(*y_range, ny)


def measure_pixels(problem: Problem, x, y, steps: int = 100, phase_space: str = "lr_vs_lr",
                   offset_mode: str = "every_step") -> np.ndarray:
    """Convergence measure at every (y[row], x[col]): the compiled core of :func:`scan`.

    Each pixel depends only on its own (x, y) value, so any sub-grid (a tile of rows and
    columns of a larger scan's axes) gives bit-identical values to the full scan; views and
    :mod:`explorer.distributed` rely on that to render tiles.

    Parameters
    ----------
    problem : Problem
    x, y : array_like, shapes (nx,), (ny,)
        Positive, finite hyperparameter values (not log10) with the meaning of :func:`scan`.
    steps, phase_space, offset_mode
        As in :func:`scan`.

    Returns
    -------
    ndarray, float64, shape (ny, nx)
    """
    steps, scaled_X, nonlinearity = _prepare(problem, steps, phase_space, offset_mode)
    x = check_array("x", x, ndim=1)
    y = check_array("y", y, ndim=1)
    for name, values in (("x", x), ("y", y)):
        if values.size and values.min() < 0:
            raise ValueError(f"{name} must hold values >= 0, got min {values.min()}")
    return _kernels._scan_kernel(scaled_X, problem.Y, problem.W1, problem.W2, x, y, steps,
                                 nonlinearity, PHASE_SPACES.index(phase_space),
                                 offset_mode == "every_step")


def scan(problem: Problem, x_range=(-3.0, 6.0), y_range=(-3.0, 6.0), resolution=64,
         steps: int = 100, phase_space: str = "lr_vs_lr", offset_mode: str = "every_step") -> Scan:
    """Train one network per pixel of a log-spaced 2D hyperparameter grid.

    Thin wrapper around the parallel ``_scan_kernel`` (numba, one pixel per iteration).

    Parameters
    ----------
    problem : Problem
        Data, initial weights and nonlinearity shared by every pixel.
    x_range, y_range : (float, float)
        log10 bounds of the columns and rows, finite with lo < hi and hi <= 300. Default
        (-3, 6), the paper notebook's starting window.
    resolution : int or (int, int)
        Pixels per side, or (nx, ny); each in [2, 8192].
    steps : int, >= 21
        Full-batch gradient-descent steps per pixel.
    phase_space : {"lr_vs_lr", "paraminit_vs_lr"}
        "lr_vs_lr": x = input-layer learning rate, y = output-layer learning rate.
        "paraminit_vs_lr": x = offset added to the input weights, y = shared learning rate.
    offset_mode : {"every_step", "initial"}
        Only for "paraminit_vs_lr". "every_step" re-adds the offset before every step (a
        drift), exactly as the paper's public notebook does; it reproduces the paper's
        images. "initial" adds it once to the initial weights, as the paper's text describes.

    Returns
    -------
    Scan
        ``measure`` and ``diverged`` of shape (ny, nx); rows follow ``y``, columns ``x``.
        A pixel whose training overflowed is a diverged pixel, never NaN.

    Examples
    --------
    >>> from explorer.fractal import make_problem, scan
    >>> result = scan(make_problem(width=4), (-2, 2), (-2, 2), resolution=8, steps=30)
    >>> result.measure.shape, result.diverged.dtype
    ((8, 8), dtype('bool'))
    """
    _prepare(problem, steps, phase_space, offset_mode)
    x, y = grid_axes(x_range, y_range, resolution)
    start = time.perf_counter()
    measure = measure_pixels(problem, x, y, steps, phase_space, offset_mode)
    return Scan.from_measure(x, y, measure, steps=steps, phase_space=phase_space,
                             seconds=time.perf_counter() - start,
                             x_range=check_interval("x_range", x_range),
                             y_range=check_interval("y_range", y_range))


def loss_trajectory(problem: Problem, x: float, y: float, steps: int = 100,
                    phase_space: str = "lr_vs_lr", offset_mode: str = "every_step") -> np.ndarray:
    """The training loss before each step at one point (x, y) of the phase space.

    ``x`` and ``y`` are hyperparameter values (not log10), with the meaning of
    :func:`scan`. Non-finite losses are reported as 1e6, as the measure treats them.

    Returns
    -------
    ndarray, shape (steps,)
    """
    steps, scaled_X, nonlinearity = _prepare(problem, steps, phase_space, offset_mode)
    x = check_range("x", x, lo=0)
    y = check_range("y", y, lo=0)
    if phase_space == "lr_vs_lr":
        lr_input, lr_output, offset = x, y, 0.0
    else:
        lr_input, lr_output, offset = y, y, x
    return _kernels._loss_trajectory(scaled_X, problem.Y, problem.W1, problem.W2, lr_input,
                                     lr_output, offset, offset_mode == "every_step", steps,
                                     nonlinearity)
