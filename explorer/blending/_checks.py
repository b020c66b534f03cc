"""Argument checks shared by the blending modules: point sets, blend levels, step counts, labels.

Built on :mod:`explorer._validation`; each raises ``ValueError`` (or ``TypeError`` for a wrong
kind of object) naming the parameter and the allowed range before any compiled code runs.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from explorer._validation import check_array, check_int_array, check_range

#: Largest step count of a sampler or chain (keeps the returned trajectories in memory).
MAX_STEPS = 100_000
#: Largest dimension of a point (a 64 x 64 grey image is 4096).
MAX_DIM = 4096
#: Largest number of classes of a labelled set.
MAX_CLASSES = 1000
#: Most pairwise work (queries x targets x dimension x mixture components) one call of a
#: pairwise kernel may do: about 10 s on one core, so nothing looks like a hang.
MAX_PAIR_WORK = 2 * 10**10


def check_points(name: str, points, min_rows: int = 1, dim: int | None = None) -> np.ndarray:
    """``points`` as a contiguous float64 array of shape (n, d), finite, n >= ``min_rows``.

    ``dim`` fixes d (for example the dimension of a deblender's targets); otherwise any d in
    [1, MAX_DIM]. Entries are bounded by :data:`explorer._validation.MAX_MAGNITUDE` (1e150),
    so squared distances stay finite.
    """
    array = check_array(name, points, shape=(None, dim), min_rows=min_rows)
    if not 1 <= array.shape[1] <= MAX_DIM:
        raise ValueError(f"{name} must have between 1 and {MAX_DIM} columns (the dimension), "
                         f"got shape {array.shape}")
    return array


#: Largest |entry| of points fed to a (float32) network: its sums and squared errors stay far
#: inside float32 (data, images and noise are of order 1).
MAX_NETWORK_INPUT = 1e6


def check_network_input(name: str, points: np.ndarray) -> np.ndarray:
    """Checked ``points`` (see :func:`check_points`) with entries of magnitude at most 1e6."""
    if points.size and np.abs(points).max() > MAX_NETWORK_INPUT:
        raise ValueError(f"{name} must have entries of magnitude at most {MAX_NETWORK_INPUT:g} "
                         f"(a network's input), got {np.abs(points).max():g}")
    return points


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


def check_labels(labels, n: int, classes: int | None = None, name: str = "labels") -> np.ndarray:
    """Class labels as int64 of shape (n,), each in [0, classes - 1] (or [0, MAX_CLASSES - 1]).

    A single integer is broadcast to all n rows. Non-integer values are refused, never
    truncated.
    """
    high = (MAX_CLASSES if classes is None else classes) - 1
    if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
        check_range(name, labels, lo=0, hi=high, integer=True)
        return np.full(n, int(labels), np.int64)
    return check_int_array(name, labels, lo=0, hi=high, shape=(n,), min_rows=0)


def check_pair_work(name: str, work: float) -> None:
    """Refuse a pairwise computation bigger than :data:`MAX_PAIR_WORK`."""
    if work > MAX_PAIR_WORK:
        raise ValueError(f"{name} is too large: {work:.3g} pairwise operations (queries x "
                         f"targets x dimension), at most {MAX_PAIR_WORK:.0e}; use fewer points")
