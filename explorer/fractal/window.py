"""Scan windows: log10 bounds of the two hyperparameter axes, their pixels, and zooms."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from explorer._validation import check_interval, check_range

MAX_RESOLUTION = 8192  # per side; a float64 measure of 8192 x 8192 is 512 MiB
LOG10_BOUND = 300.0  # |log10 of a hyperparameter| (10**300 and 10**-300 are normal floats)
MAX_ZOOM = 1e15  # one zoom step; beyond ~1e13 below unit width pixels merge in float64
_MIN_RELATIVE_SPACING = 64 * np.finfo(np.float64).eps  # pixels must be distinct in float64


class Window(NamedTuple):
    """A scan window in log10 units: unpack it into :func:`~explorer.fractal.scan` as ``*window``.

    Attributes
    ----------
    x_range, y_range : (float, float)
        log10 bounds (lo < hi) of the columns and the rows.
    """

    x_range: tuple[float, float]
    y_range: tuple[float, float]


def check_resolution(resolution) -> tuple[int, int]:
    """``(nx, ny)`` from an int or a pair, each in [2, MAX_RESOLUTION]."""
    if isinstance(resolution, (str, bytes)) or resolution is None:
        raise TypeError(f"resolution must be an int or a pair (nx, ny), got {resolution!r}")
    if np.ndim(resolution) == 0:
        resolution = (resolution, resolution)
    if np.ndim(resolution) != 1 or len(resolution) != 2:
        raise ValueError(f"resolution must be an int or a pair (nx, ny), got {resolution!r}")
    return tuple(check_range("resolution", r, lo=2, hi=MAX_RESOLUTION, integer=True)
                 for r in resolution)


def check_window_range(name: str, bounds, pixels: int = 2) -> tuple[float, float]:
    """A log10 interval within +-LOG10_BOUND whose ``pixels`` grid points are distinct floats."""
    bounds = check_interval(name, bounds)
    for bound in bounds:
        check_range(f"{name} bound", bound, lo=-LOG10_BOUND, hi=LOG10_BOUND)
    lo, hi = bounds
    spacing = (hi - lo) / max(pixels - 1, 1)
    if spacing <= _MIN_RELATIVE_SPACING * max(abs(lo), abs(hi), 1.0):
        raise ValueError(f"{name} {bounds} is too narrow for {pixels} distinct float64 pixels; "
                         "zoom out (deep zooms are limited to ~13 decades below unit width)")
    return bounds


def check_window(window, name: str = "window") -> Window:
    """A :class:`Window` (or any pair of log10 intervals) checked and converted."""
    if isinstance(window, (str, bytes)) or not hasattr(window, "__len__") or len(window) != 2:
        raise TypeError(f"{name} must be a Window or a pair (x_range, y_range), got {window!r}")
    return Window(check_window_range(f"{name}.x_range", window[0]),
                  check_window_range(f"{name}.y_range", window[1]))


def grid_axes(x_range, y_range, resolution=64) -> tuple[np.ndarray, np.ndarray]:
    """The log-spaced pixel values of a window: ``x = 10**linspace(*x_range, nx)``, same for y.

    Parameters
    ----------
    x_range, y_range : (float, float)
        log10 bounds, lo < hi, each within [-300, 300].
    resolution : int or (int, int)
        Pixels per side, or (nx, ny); each in [2, 8192].

    Returns
    -------
    x, y : ndarray, shapes (nx,), (ny,)

    Examples
    --------
    >>> x, y = grid_axes((-1, 1), (0, 2), (3, 2))
    >>> x.tolist(), y.tolist()
    ([0.1, 1.0, 10.0], [1.0, 100.0])
    """
    nx, ny = check_resolution(resolution)
    x_range = check_window_range("x_range", x_range, nx)
    y_range = check_window_range("y_range", y_range, ny)
    return 10.0 ** np.linspace(*x_range, nx), 10.0 ** np.linspace(*y_range, ny)


def zoom_window(window, center, factor: float, shape=(2, 2)) -> Window:
    """Shrink ``window`` by ``factor`` (> 1 zooms in, < 1 out) around ``center`` (log10 units).

    Parameters
    ----------
    window : Window or ((float, float), (float, float))
        The current window.
    center : (float, float)
        log10 x and log10 y of the new window's centre, each in [-300, 300] (it may lie
        outside ``window``).
    factor : float, in (0, 1e15]
        Ratio of the old width to the new one, on both axes.
    shape : (int, int), optional
        (rows, columns) of the scan that will use the window, each in [2, 8192]: the new
        window must still hold that many distinct float64 values per axis.

    Returns
    -------
    Window

    Raises
    ------
    ValueError
        When the new window falls outside +-300 decades or is too narrow for ``shape``
        (roughly 13 decades of zoom below a window of width 1).

    Examples
    --------
    >>> zoom_window(Window((-2.0, 2.0), (0.0, 4.0)), (1.0, 2.0), 10)
    Window(x_range=(0.8, 1.2), y_range=(1.8, 2.2))
    """
    window = check_window(window)
    factor = check_range("factor", factor, lo=0, lo_open=True, hi=MAX_ZOOM)
    if not _is_pair(center):
        raise TypeError(f"center must be a pair (log10 x, log10 y), got {center!r}")
    cx = check_range("center[0]", center[0], lo=-LOG10_BOUND, hi=LOG10_BOUND)
    cy = check_range("center[1]", center[1], lo=-LOG10_BOUND, hi=LOG10_BOUND)
    if not _is_pair(shape):
        raise TypeError(f"shape must be a pair (rows, columns), got {shape!r}")
    ny, nx = (check_range("shape", s, lo=2, hi=MAX_RESOLUTION, integer=True) for s in shape)
    half_x = 0.5 * (window.x_range[1] - window.x_range[0]) / factor
    half_y = 0.5 * (window.y_range[1] - window.y_range[0]) / factor
    x_range = check_window_range("x_range", (cx - half_x, cx + half_x), nx)
    y_range = check_window_range("y_range", (cy - half_y, cy + half_y), ny)
    return Window(x_range, y_range)


def _is_pair(value) -> bool:
    """Whether ``value`` is a flat sequence of two items (a ragged list is not)."""
    if isinstance(value, (str, bytes)):
        return False
    try:
        return np.ndim(value) == 1 and len(value) == 2
    except (TypeError, ValueError):  # ragged nested lists
        return False
