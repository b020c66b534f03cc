"""The Mandelbrot set with the same convergence measure, for the analogy the lesson draws."""

from __future__ import annotations

import numpy as np

from explorer._validation import check_interval, check_range

ESCAPE_RADIUS = 2.0


def mandelbrot(x_range=(-2.0, 0.6), y_range=(-1.2, 1.2), resolution=256, iterations=100) -> np.ndarray:
    """Iterate ``z <- z**2 + c`` from ``z = 0`` for every ``c = x + i y`` of a grid.

    Like a pixel of the trainability scan, each ``c`` either stays bounded ("trains") or
    escapes ("diverges"); the boundary between the two is fractal.

    Parameters
    ----------
    x_range, y_range : (float, float)
        Bounds of the real and imaginary parts (linear, not log10).
    resolution : int, in [2, 4096]
        Pixels per side.
    iterations : int, in [1, 10000]

    Returns
    -------
    ndarray, shape (resolution, resolution)
        Negative (-1) where the orbit stayed bounded, otherwise the escape speed
        ``1 / (iteration of escape)`` in (0, 1] -- the same sign convention as ``Scan.measure``.
    """
    x_range, y_range = check_interval("x_range", x_range), check_interval("y_range", y_range)
    resolution = check_range("resolution", resolution, lo=2, hi=4096, integer=True)
    iterations = check_range("iterations", iterations, lo=1, hi=10_000, integer=True)
    c = np.linspace(*x_range, resolution)[None, :] + 1j * np.linspace(*y_range, resolution)[:, None]
    z = np.zeros_like(c)
    escaped_at = np.zeros(c.shape, dtype=np.int64)
    for iteration in range(1, iterations + 1):
        active = escaped_at == 0
        z[active] = z[active] ** 2 + c[active]
        escaped_at[active & (np.abs(z) > ESCAPE_RADIUS)] = iteration
    return np.where(escaped_at == 0, -1.0, 1.0 / np.maximum(escaped_at, 1))
