"""Argument checks shared by every public function.

Each check raises ``ValueError`` naming the parameter, the value and the allowed range, and
runs in Python before any compiled code is reached (scikit-learn's "validate at the door").
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from collections.abc import Iterable

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
    try:
        known = value in choices
    except (TypeError, ValueError):  # an array (no truth value) or an object without ==
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_interval(name: str, bounds) -> tuple[float, float]:
    """Return ``(lo, hi)`` as floats if both are finite and ``lo < hi``."""
    try:
        if any(np.iscomplexobj(b) for b in bounds):  # float() would drop the imaginary part
            raise TypeError(f"{name} must be a pair of real numbers, got {bounds!r}")
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi) of finite numbers, got {bounds!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be a pair of finite numbers, got {bounds!r}")
    if not lo < hi:
        raise ValueError(f"{name} must satisfy lo < hi, got {bounds!r}")
    return lo, hi


#: Largest magnitude accepted in user arrays by default. Squares and products of pairs of
#: such numbers stay finite in float64 (1e150 ** 2 = 1e300 < 1.8e308), so distances, Gram
#: matrices and losses computed from accepted data cannot overflow into an unflagged inf.
MAX_MAGNITUDE = 1e150


def _kind_of(array) -> str:
    return type(array).__name__ if not isinstance(array, np.ndarray) else f"{array.dtype} array"


def check_array(name: str, array, *, ndim: int | None = None, shape: tuple | None = None,
                dtype=np.float64, finite: bool = True, min_rows: int = 1,
                max_abs: float | None = MAX_MAGNITUDE, max_size: int | None = None) -> np.ndarray:
    """Return ``array`` as a contiguous, writeable numpy array of ``dtype`` after checking it.

    Parameters
    ----------
    name : str
        The public parameter's name, used in every message.
    array : array_like
        What the user passed.
    ndim, shape : int, tuple, optional
        Required number of axes, or shape with ``None`` for a free axis (``(None, 2)`` is a
        set of 2D points).
    dtype : numpy dtype, default float64
        Target type. Complex input is refused (``TypeError``) unless ``dtype`` is complex, so
        that an imaginary part is never silently cut off; booleans, strings and objects are
        refused where numbers are meant.
    finite : bool, default True
        Refuse NaN and inf.
    min_rows : int, default 1
        Least length of the first axis.
    max_abs : float or None, default :data:`MAX_MAGNITUDE`
        Largest accepted absolute value (None: no bound beyond ``finite``).
    max_size : int, optional
        Largest accepted number of elements.

    Notes
    -----
    The result is always a fresh or owned, writeable, C-contiguous array, so a read-only or
    strided input never makes numba compile a separate specialisation.
    """
    target = np.dtype(dtype)
    if isinstance(array, (str, bytes)) or array is None:
        raise TypeError(f"{name} must be an array of numbers, got {_kind_of(array)}")
    try:
        raw = np.asarray(array)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a rectangular array of numbers, got {_kind_of(array)}") from None
    if raw.dtype == object or raw.dtype.kind in "USVMm":
        raise TypeError(f"{name} must be a rectangular array of numbers, got {_kind_of(array)}")
    if raw.dtype.kind == "b" and target.kind != "b":
        raise TypeError(f"{name} must hold numbers, not booleans")
    if raw.dtype.kind == "c" and target.kind != "c":
        raise TypeError(f"{name} must be real; got complex values (pass the real part explicitly "
                        f"if that is what you mean)")
    if target.kind in "iu" and raw.dtype.kind == "f":
        if raw.size and not np.all(np.isfinite(raw) & (raw == np.round(raw))):
            raise ValueError(f"{name} must hold integers, got non-integer values")
    if target.kind in "iu" and raw.dtype.kind in "iuf" and raw.size:
        limits = np.iinfo(target)
        if raw.max() > limits.max or raw.min() < limits.min:
            raise ValueError(f"{name} has values that do not fit {target.name}")
    if max_size is not None and raw.size > max_size:
        raise ValueError(f"{name} must have at most {max_size} elements, got {raw.size}")
    # the axes as given: the conversion below turns a scalar into shape (1,), which must not
    # pass for a 1-D array (the next check would then blame a different parameter)
    wanted_ndim = len(shape) if shape is not None else ndim
    if wanted_ndim is not None and raw.ndim != wanted_ndim:
        raise ValueError(f"{name} must be {wanted_ndim}-dimensional, got shape {raw.shape}")
    try:
        with np.errstate(over="raise", invalid="raise"):
            result = np.ascontiguousarray(raw, dtype=target)
    except (OverflowError, FloatingPointError, ValueError):
        raise ValueError(f"{name} has values that do not fit {target.name}") from None
    if not result.flags.writeable:
        result = result.copy()
    if ndim is not None and result.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {result.shape}")
    if shape is not None:
        expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        if result.ndim != len(shape) or any(s is not None and s != r for s, r in zip(shape, result.shape)):
            raise ValueError(f"{name} must have shape {expected}, got {result.shape}")
    if result.ndim and result.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s), got shape {result.shape}")
    if target.kind in "fc" and result.size:
        if finite and not np.all(np.isfinite(result)):
            raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
        if max_abs is not None and float(np.nanmax(np.abs(result))) > max_abs:
            raise ValueError(f"{name} must have entries of magnitude at most {max_abs:g}, got "
                             f"{np.nanmax(np.abs(result)):g}")
    return result


def check_int_array(name: str, array, *, lo=None, hi=None, ndim: int | None = None,
                    shape: tuple | None = None, min_rows: int = 1) -> np.ndarray:
    """Return ``array`` as a contiguous int64 array whose entries lie in [``lo``, ``hi``].

    Non-integer floats (``2.5``) are refused, never truncated.
    """
    result = check_array(name, array, ndim=ndim, shape=shape, dtype=np.int64, min_rows=min_rows,
                         max_abs=None)
    outside = np.zeros(result.shape, bool)
    if lo is not None:
        outside |= result < lo
    if hi is not None:
        outside |= result > hi
    if outside.any():
        raise ValueError(f"{name} must have integer entries {_describe(lo, hi, False, False)}, "
                         f"got {result[outside].flat[0]}")
    return result


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is a bool (or numpy bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_callable(name: str, value, *, allow_none: bool = True):
    """Return ``value`` if it is callable (or None, where allowed), before any work starts."""
    if value is None and allow_none:
        return None
    if not callable(value):
        raise TypeError(f"{name} must be callable{' or None' if allow_none else ''}, got {value!r}")
    return value


def check_instance(name: str, value, types, *, allow_none: bool = False):
    """Return ``value`` if it is an instance of ``types``; a ``TypeError`` names the expected type."""
    if value is None and allow_none:
        return None
    if not isinstance(value, types):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise TypeError(f"{name} must be a {names}{' or None' if allow_none else ''}, "
                        f"got {type(value).__name__}")
    return value


def make_rng(seed) -> np.random.Generator:
    """A numpy ``Generator`` from an integer seed (or an existing Generator, used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))
