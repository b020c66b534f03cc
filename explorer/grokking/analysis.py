"""Small analyses of grokking results that views and lessons share: summaries over seeds, a
power-law fit, and smoothing of curves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_range


@dataclass(frozen=True, eq=False)
class PowerLaw:
    """``y = prefactor * x ** exponent``, fitted by least squares on ``log y`` against ``log x``.

    Attributes
    ----------
    exponent, prefactor : float
    points : int
        Finite, positive (x, y) pairs used.
    spread : float
        Standard deviation of the residuals of ``log y`` (0: on the line).
    """

    exponent: float
    prefactor: float
    points: int
    spread: float

    def __call__(self, x):
        return self.prefactor * np.asarray(x, float) ** self.exponent


def power_law_fit(x, y) -> PowerLaw:
    """Fit ``y = c x^k`` to the pairs whose x and y are finite and positive.

    Parameters
    ----------
    x, y : array_like, same shape
        E.g. weight decays and the steps each run took to generalise (NaN where it never
        did: those pairs are left out).

    Returns
    -------
    PowerLaw
        ``exponent = -1`` would mean "double x, halve y".

    Examples
    --------
    >>> fit = power_law_fit([1, 2, 4], [8.0, 4.0, 2.0])
    >>> round(fit.exponent, 6), round(fit.prefactor, 6)
    (-1.0, 8.0)
    """
    x = check_array("x", x, ndim=1, finite=False)
    y = check_array("y", y, ndim=1, shape=x.shape, finite=False)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2 or np.unique(x[keep]).size < 2:
        raise ValueError("x and y must hold at least two finite, positive pairs with different x")
    slope, intercept = np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)
    residuals = np.log(y[keep]) - (slope * np.log(x[keep]) + intercept)
    return PowerLaw(float(slope), float(np.exp(intercept)), int(keep.sum()),
                    float(residuals.std()))


def smooth(values, window: int = 5) -> np.ndarray:
    """Centred moving average over ``window`` points (shrinking at the ends; NaN ignored, and
    NaN where a window holds no finite value).

    Parameters
    ----------
    values : array_like, 1-D
    window : int in [1, 10001], default 5
        Odd or even; the average covers ``window // 2`` points on each side.

    Returns
    -------
    ndarray of float64, same length

    Examples
    --------
    >>> smooth([0.0, 3.0, 0.0, 3.0], window=3).tolist()
    [1.5, 1.0, 2.0, 1.5]
    """
    values = check_array("values", values, ndim=1, finite=False, min_rows=0)
    window = check_range("window", window, lo=1, hi=10_001, integer=True)
    half = window // 2
    finite = np.isfinite(values)
    total = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    count = np.concatenate([[0], np.cumsum(finite)])
    index = np.arange(values.size)
    lo, hi = np.maximum(index - half, 0), np.minimum(index + half + 1, values.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total[hi] - total[lo]) / (count[hi] - count[lo])


def summarise_over_seeds(steps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, minimum and maximum over the last axis (seeds) of steps to generalise, with
    NaN (never) counted as larger than any step: a median is NaN once half the seeds never
    generalised.

    Parameters
    ----------
    steps : array_like, shape (..., seeds)

    Returns
    -------
    median, low, high : ndarray of float64, shape (...)
    """
    steps = check_array("steps", steps, finite=False)
    if steps.ndim < 1 or steps.shape[-1] < 1:
        raise ValueError(f"steps must have a last axis of seeds, got shape {steps.shape}")
    ordered = np.sort(np.where(np.isnan(steps), np.inf, steps), axis=-1)
    median = np.median(ordered, axis=-1)
    def never_as_nan(values):
        return np.where(np.isinf(values), np.nan, values)

    return never_as_nan(median), never_as_nan(ordered[..., 0]), never_as_nan(ordered[..., -1])
