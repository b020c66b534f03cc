"""What a scan costs before it runs: useful flops, and seconds on this machine."""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from explorer._validation import check_instance, check_range
from explorer.fractal.problem import Problem
from explorer.fractal.scan import MAX_MINIBATCH, MAX_STEPS, measure_pixels
from explorer.fractal.window import check_resolution

_CALIBRATION_SAMPLES = 64  # data rows of the timing probe (cost is linear in them)
_CALIBRATION_STEPS = 21
_rates: dict = {}  # (width, inputs, nonlinearity, threads) -> useful flops per second


class ScanCost(NamedTuple):
    """Result of :func:`scan_cost`.

    Attributes
    ----------
    flops : float
        Useful floating-point operations if every pixel trains every step (:func:`useful_flops`).
    seconds : float
        Estimated wall time with numba's current thread count, from the rate measured on this
        machine for this problem's shape. An upper bound: diverging pixels stop early.
    """

    flops: float
    seconds: float


def useful_flops(problem: Problem, steps: int, pixels: int = 1, minibatch: int | None = None
                 ) -> float:
    """Floating-point operations the training of ``pixels`` pixels needs, counted as matrix work.

    Per step and sample: the input layer's forward product 2dw, its gradient 2dw, and 6w for
    the output layer (forward 2w, its gradient 2w, the error of the hidden units 2w): 4ndw +
    6nw for the full batch of n samples. With a minibatch of m samples the loss still needs a
    forward pass over all n samples (2ndw + 2nw) and the gradient a pass over the m samples
    (4mdw + 6mw), as in the paper's notebook. Activations and the update are not counted.

    Parameters
    ----------
    problem : Problem
    steps : int, in [1, 1e6]
    pixels : int, in [1, 8192**2]
    minibatch : int in [1, 1024], optional

    Examples
    --------
    >>> from explorer.fractal import make_problem
    >>> useful_flops(make_problem(width=16), steps=1)
    304640.0
    """
    check_instance("problem", problem, Problem)
    steps = check_range("steps", steps, lo=1, hi=MAX_STEPS, integer=True)
    pixels = check_range("pixels", pixels, lo=1, hi=8192**2, integer=True)
    n, d = problem.X.shape
    w = problem.width
    if minibatch is None:
        per_step = 4.0 * n * d * w + 6.0 * n * w
    else:
        m = check_range("minibatch", minibatch, lo=1, hi=MAX_MINIBATCH, integer=True)
        per_step = 2.0 * n * d * w + 2.0 * n * w + 4.0 * m * d * w + 6.0 * m * w
    return float(per_step) * steps * pixels


def scan_cost(problem: Problem, resolution=64, steps: int = 100, *,
              minibatch: int | None = None) -> ScanCost:
    """Useful flops and estimated seconds of a :func:`~explorer.fractal.scan`, before running it.

    The rate (useful flops per second) is measured once per problem shape and thread count
    by timing a tiny scan on 64 of the problem's data rows (milliseconds at width 16), then
    kept; views use it to keep previews within their time budget.

    Parameters
    ----------
    problem : Problem
    resolution : int or (int, int)
        Pixels per side, or (nx, ny); each in [2, 8192].
    steps : int, in [21, 1e6]
    minibatch : int in [1, 1024], optional

    Returns
    -------
    ScanCost

    See Also
    --------
    explorer.fractal.scan

    Examples
    --------
    >>> from explorer.fractal import make_problem
    >>> cost = scan_cost(make_problem(width=8), resolution=32, steps=100)
    >>> cost.flops, cost.seconds > 0
    (2241331200.0, True)
    """
    nx, ny = check_resolution(resolution)
    flops = useful_flops(problem, steps, nx * ny, minibatch)
    return ScanCost(flops, flops / _rate(problem))


def _rate(problem: Problem) -> float:
    import numba

    threads = numba.get_num_threads()
    key = (problem.width, problem.X.shape[1], problem.nonlinearity, threads)
    if key not in _rates:
        rows = min(problem.X.shape[0], _CALIBRATION_SAMPLES)
        probe = Problem(problem.X[:rows], problem.Y[:rows], problem.W1, problem.W2,
                        problem.nonlinearity)
        learning_rates = np.full(8 * threads, 1e-3)  # one group of lanes per thread, converging
        low = np.array([1e-3])
        measure_pixels(probe, learning_rates[:1], low, _CALIBRATION_STEPS)  # load the kernel
        start = time.perf_counter()
        measure_pixels(probe, learning_rates, low, _CALIBRATION_STEPS)
        elapsed = max(time.perf_counter() - start, 1e-6)
        _rates[key] = useful_flops(probe, _CALIBRATION_STEPS, learning_rates.size) / elapsed
    return _rates[key]
