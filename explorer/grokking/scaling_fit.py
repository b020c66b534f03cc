"""Fitting Li2's law ``n_crit = c * M log M``, and its rivals, to critical training-set sizes.

Fits run on ``log n``: the scatter of critical sizes over seeds is multiplicative (a size
is known to within the ratio of neighbouring candidates), so a 10% miss at M = 17 weighs
as much as one at M = 71.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_choice
from explorer.grokking.analysis import power_law_fit

#: The constant of the authors' code: ``n = 2.7482 * M * ln(M)``.
LI2_CONSTANT = 2.7482
#: The laws :func:`fit_scaling_law` fits, ``n_crit = c * f(M)``.
LAWS = {"M log M": lambda m: m * np.log(m), "M": lambda m: m * 1.0, "M^2": lambda m: m * m}


@dataclass(frozen=True, eq=False)
class ScalingFit:
    """``n_crit = constant * f(M)`` fitted by least squares on ``log n_crit``.

    Attributes
    ----------
    law : str
        ``"M log M"`` (natural log), ``"M"`` or ``"M^2"``.
    constant : float
        ``exp(mean(log(n / f(M))))``, the geometric-mean constant.
    stderr : float
        Its standard error (delta method: ``constant * std(log residuals) / sqrt(points)``).
    log_rms : float
        Root-mean-square of the residuals of ``log n`` (0.1 is a 10% scatter); the law with
        the smallest value fits best.
    points : int
    """

    law: str
    constant: float
    stderr: float
    log_rms: float
    points: int


@dataclass(frozen=True, eq=False)
class PowerLawFit:
    """``n_crit = prefactor * M^exponent`` by ordinary least squares on the logs.

    ``M ln M`` over the orders M1..M2 looks like an exponent of about
    ``1 + 1 / ln(sqrt(M1 M2))`` (1.27 for 17..71).
    """

    exponent: float
    exponent_stderr: float
    prefactor: float
    log_rms: float
    points: int


def _checked_points(orders, sizes) -> tuple[np.ndarray, np.ndarray]:
    orders = check_array("orders", orders, ndim=1, min_rows=2)
    sizes = check_array("critical_sizes", sizes, ndim=1, shape=orders.shape, finite=False,
                        max_abs=None)
    keep = ~np.isnan(sizes)
    if (orders < 2).any() or not ((sizes[keep] > 0) & (sizes[keep] <= 1e150)).all():
        raise ValueError("orders must be >= 2 and critical_sizes in (0, 1e150] (NaN entries "
                         "are skipped)")
    if keep.sum() < 2 or len(np.unique(orders[keep])) < 2:
        raise ValueError("critical_sizes must have finite values at two or more orders to fit")
    return orders[keep], sizes[keep]


def fit_scaling_law(orders, critical_sizes, law: str = "M log M") -> ScalingFit:
    """Fit ``n_crit = c * f(M)`` to measured critical sizes (NaN entries are skipped).

    Parameters
    ----------
    orders : array_like of float, shape (k,)
        Group orders M >= 2, one per measurement (repeat M for several seeds).
    critical_sizes : array_like of float, shape (k,)
        Critical training-set sizes (pairs), > 0; NaN for censored measurements.
    law : {"M log M", "M", "M^2"}, default "M log M"

    Returns
    -------
    ScalingFit

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([17.0, 31.0, 53.0])
    >>> fit = fit_scaling_law(M, 2.7482 * M * np.log(M))
    >>> round(fit.constant, 4), round(fit.log_rms, 6)
    (2.7482, 0.0)
    """
    check_choice("law", law, LAWS)
    orders, sizes = _checked_points(orders, critical_sizes)
    log_ratio = np.log(sizes / LAWS[law](orders))
    constant = float(np.exp(log_ratio.mean()))
    spread = float(log_ratio.std(ddof=1)) if len(log_ratio) > 1 else 0.0
    return ScalingFit(law, constant, constant * spread / math.sqrt(len(log_ratio)),
                      float(np.sqrt(np.mean((log_ratio - log_ratio.mean()) ** 2))), len(sizes))


def fit_power_law(orders, critical_sizes) -> PowerLawFit:
    """Fit ``n_crit = a * M^beta`` by least squares on ``log n`` against ``log M``.

    :func:`~explorer.grokking.power_law_fit` with the exponent's standard error added;
    parameters and NaN handling as in :func:`fit_scaling_law`.

    Examples
    --------
    >>> fit = fit_power_law([10, 20, 40], [300.0, 1200.0, 4800.0])
    >>> round(fit.exponent, 6), round(fit.prefactor, 6)
    (2.0, 3.0)
    """
    orders, sizes = _checked_points(orders, critical_sizes)
    fit = power_law_fit(orders, sizes)
    # the slope's standard error from the residual variance (n - 2 degrees of freedom)
    spread_of_orders = float(((np.log(orders) - np.log(orders).mean()) ** 2).sum())
    dof = fit.points - 2
    variance = fit.spread**2 * fit.points / dof if dof > 0 else 0.0
    return PowerLawFit(fit.exponent, math.sqrt(variance / spread_of_orders), fit.prefactor,
                       fit.spread, fit.points)
