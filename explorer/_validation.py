"""Argument checks shared by every public function.

Each check raises ``ValueError`` naming the parameter, the value and the allowed range, and
runs in Python before any compiled code is reached (scikit-learn's "validate at the door").
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Iterable

import numpy as np


def _describe(lo, hi, lo_open, hi_open) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return "finite"


def check_range(name: str, value, lo=None, hi=None, *, lo_open: bool = False,
                hi_open: bool = False, integer: bool = False):
    """Return ``value`` (as int or float) if it is a finite number within the bounds.

    Examples
    --------
    >>> check_range("steps", 100, lo=21, integer=True)
    100
    >>> check_range("steps", 3, lo=21, integer=True)
    Traceback (most recent call last):
    ...
    ValueError: steps must be an integer >= 21, got 3
    """
    kind = "an integer" if integer else "a number"
    allowed = _describe(lo, hi, lo_open, hi_open)
    message = f"{name} must be {kind} {allowed}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (Integral, Real)):
        raise ValueError(message)
    if integer and not isinstance(value, Integral):
        if not (isinstance(value, Real) and math.isfinite(value) and float(value).is_integer()):
            raise ValueError(message)
    if not math.isfinite(value):
        raise ValueError(message)
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ValueError(message)
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise ValueError(message)
    return int(value) if integer else float(value)


def check_choice(name: str, value, choices: Iterable):
    """Return ``value`` if it is one of ``choices``; otherwise say which ones are allowed."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_interval(name: str, bounds) -> tuple[float, float]:
    """Return ``(lo, hi)`` as floats if both are finite and ``lo < hi``."""
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi) of finite numbers, got {bounds!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be a pair of finite numbers, got {bounds!r}")
    if not lo < hi:
        raise ValueError(f"{name} must satisfy lo < hi, got {bounds!r}")
    return lo, hi


def check_array(name: str, array, *, ndim: int | None = None, shape: tuple | None = None,
                dtype=np.float64, finite: bool = True, min_rows: int = 1) -> np.ndarray:
    """Return ``array`` as a contiguous numpy array of ``dtype`` after checking its form.

    ``shape`` may hold ``None`` for a free axis, e.g. ``(None, 2)`` for a set of 2D points.
    Complex input is accepted when ``dtype`` is complex.
    """
    try:
        result = np.ascontiguousarray(array, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of {np.dtype(dtype).name}, got {type(array).__name__}") from None
    if ndim is not None and result.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {result.shape}")
    if shape is not None:
        expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        if result.ndim != len(shape) or any(s is not None and s != r for s, r in zip(shape, result.shape)):
            raise ValueError(f"{name} must have shape {expected}, got {result.shape}")
    if result.ndim and result.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s), got shape {result.shape}")
    if finite and result.size and not np.all(np.isfinite(result)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return result


def make_rng(seed) -> np.random.Generator:
    """A numpy ``Generator`` from an integer seed (or an existing Generator, used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))
