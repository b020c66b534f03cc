"""Argument checks shared by the blending modules: point sets, blend levels, step counts.

Built on :mod:`explorer._validation`; each raises ``ValueError`` naming the parameter and the
allowed range before any compiled code runs.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from explorer._validation import check_array, check_range

#: Largest step count of a sampler or chain (keeps the returned trajectories in memory).
MAX_STEPS = 100_000


def check_points(name: str, points, min_rows: int = 1) -> np.ndarray:
    """``points`` as a contiguous float64 array of shape (n, 2), finite, n >= ``min_rows``."""
    return check_array(name, points, shape=(None, 2), min_rows=min_rows)


def check_alpha(alpha, n: int, *, allow_one: bool = False) -> np.ndarray:
    """Blend levels as a float64 array of shape (n,): a scalar is broadcast.

    Every level must lie in [0, 1) (or [0, 1] with ``allow_one``).
    """
    if isinstance(alpha, Real) and not isinstance(alpha, bool):
        check_range("alpha", alpha, lo=0, hi=1, hi_open=not allow_one)
        return np.full(n, float(alpha))
    levels = check_array("alpha", alpha, shape=(n,), min_rows=0)
    interval = "[0, 1]" if allow_one else "[0, 1)"
    outside = (levels < 0) | (levels > 1 if allow_one else levels >= 1)
    if outside.any():
        raise ValueError(f"alpha must lie in {interval}, got {levels[outside][0]!r}")
    return levels


def check_steps(T) -> int:
    """The number of blending steps T, an integer in [1, MAX_STEPS]."""
    return check_range("T", T, lo=1, hi=MAX_STEPS, integer=True)
