"""The bad and extreme values every public parameter is fed, and how an outcome is judged.

Values are built from a key inside the worker process (some cannot be pickled: a lambda, an
object()), and some depend on the parameter's valid baseline value (an array of the same
shape with a NaN in it, a read-only copy, a strided copy).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from numbers import Number

import numpy as np

#: every key of the battery; ``value_for`` builds each one
BATTERY = (
    "none", "string", "unknown_option", "bool_true", "object", "callable", "nan", "inf",
    "minus_inf", "zero", "minus_one", "huge_float", "huge_int", "half", "complex", "empty_list",
    "empty_array", "cube", "generator", "like_complex", "like_nan", "like_huge", "like_readonly",
    "like_strided", "like_float_of_int", "like_ragged", "dict",
)


def value_for(key: str, baseline):
    """The bad value called ``key``, shaped after the parameter's valid ``baseline`` value."""
    simple = {
        "none": None, "string": "abc", "unknown_option": "no-such-option", "bool_true": True,
        "nan": math.nan, "inf": math.inf, "minus_inf": -math.inf, "zero": 0, "minus_one": -1,
        "huge_float": 1e308, "huge_int": 2**63, "half": 2.5, "complex": 1j, "empty_list": [],
        "dict": {"a": 1},
    }
    if key in simple:
        return simple[key]
    if key == "object":
        return object()
    if key == "callable":
        return lambda *args, **kwargs: None
    if key == "empty_array":
        return np.zeros((0,))
    if key == "cube":
        return np.zeros((2, 2, 2))
    if key == "generator":
        return np.random.default_rng(0)
    array = _as_numeric_array(baseline)
    if array is None:
        return None  # not applicable: the caller skips the case
    if key == "like_complex":
        return array.astype(np.complex128) + 1j
    if key == "like_nan":
        bad = array.astype(np.float64)
        bad.flat[0] = np.nan
        return bad
    if key == "like_huge":
        return np.full(array.shape, 1e308)
    if key == "like_readonly":
        frozen = array.copy()
        frozen.flags.writeable = False
        return frozen
    if key == "like_strided":
        wide = np.repeat(array[..., None], 2, axis=-1)
        return wide[..., 0]
    if key == "like_float_of_int":
        return array.astype(np.float64) + (0.5 if array.dtype.kind in "iu" else 0.0)
    if key == "like_ragged":
        return [list(np.atleast_1d(array).ravel()[:2]), [1.0]]
    raise KeyError(key)


def _as_numeric_array(value):
    if isinstance(value, np.ndarray) and value.dtype.kind in "iufc" and value.size:
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Number) for v in value):
        return np.asarray(value)
    return None


def names_parameter(message: str, parameter: str) -> bool:
    """Whether an error message names the public parameter (``betas[0]`` names ``betas``)."""
    return parameter in message


#: fields that may hold NaN by documented meaning ("never reached"), by result type
DOCUMENTED_NAN = {
    "GridPointResult": {"steps_to_generalise", "steps_to_memorise"},
    "SweepResult": {"steps_to_generalise", "steps_to_memorise"},
    # NaN = no such size found / never generalised within the budget; ``done`` and
    # ``censored`` say which (ScalingResult docstring)
    "ScalingResult": {"lower", "upper", "run_steps"},
    # NaN where a box count is zero: a local slope is undefined there (BoxCounting docstring)
    "BoxCounting": {"slopes"},
    "ZoomDimension": {"slopes"},
}
_FLAGS = ("diverged", "diverged_at", "flagged", "stopped_early")

#: callables whose documented meaning of NaN input is "missing" (or "never") and that keep it
#: NaN in their output: rank_stretch ("NaN stays NaN"), smooth (a window without a finite
#: value), summarise_over_seeds (NaN = never generalised; the median is NaN once half the
#: seeds never did). Their output may hold NaN only when the value fed holds NaN: finite
#: input must still give finite output.
NAN_PASSES_THROUGH = {"fractal.rank_stretch", "grokking.smooth", "grokking.summarise_over_seeds"}


def nan_passes_through(key: str, value) -> bool:
    """Whether NaN in the result of ``key`` is the documented echo of NaN in ``value``."""
    if key not in NAN_PASSES_THROUGH:
        return False
    try:
        return bool(np.isnan(np.asarray(value, dtype=np.float64)).any())
    except (TypeError, ValueError):
        return False


def unflagged_nonfinite(result, path: str = "result", depth: int = 0) -> str | None:
    """The path of a non-finite number in ``result`` that no divergence flag accounts for.

    Walks dataclasses, named tuples, tuples, lists, dicts and arrays. A non-finite value is
    accounted for when the object holding it has a true ``diverged`` (or ``diverged_at`` >= 0)
    flag, or when its field is listed in :data:`DOCUMENTED_NAN`.
    """
    if depth > 6:
        return None
    if isinstance(result, (float, complex, np.floating, np.complexfloating)):
        return None if np.isfinite(result) else path
    if isinstance(result, np.ndarray):
        if result.dtype.kind in "fc" and result.size and not np.all(np.isfinite(result)):
            return path
        return None
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        if _flagged(result):
            return None
        allowed = DOCUMENTED_NAN.get(type(result).__name__, set())
        for field in dataclasses.fields(result):
            if field.name in allowed:
                continue
            found = unflagged_nonfinite(getattr(result, field.name), f"{path}.{field.name}", depth + 1)
            if found:
                return found
        return None
    if isinstance(result, dict):
        items = result.items()
    elif isinstance(result, (tuple, list)):
        items = enumerate(result)
    else:
        return None
    for key, value in list(items)[:1000]:
        found = unflagged_nonfinite(value, f"{path}[{key!r}]", depth + 1)
        if found:
            return found
    return None


def _flagged(result) -> bool:
    for name in _FLAGS:
        flag = getattr(result, name, None)
        if flag is None:
            continue
        flag = np.asarray(flag)
        if name == "diverged_at" and flag.size and np.any(flag >= 0):
            return True
        if name != "diverged_at" and flag.dtype.kind == "b" and flag.any():
            return True
    return False


def equality_problem(result) -> str | None:
    """Whether ``result == result`` or ``hash(result)`` raises (dataclasses holding arrays)."""
    if not (dataclasses.is_dataclass(result) and not isinstance(result, type)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bool(result == copy.deepcopy(result))  # a distinct copy: no identity shortcut
    except Exception as error:  # noqa: BLE001 - the point is to see any failure
        return f"{type(result).__name__} == raises {type(error).__name__}"
    try:
        hash(result)
    except TypeError as error:
        if result.__hash__ is not None:
            return f"hash({type(result).__name__}) raises TypeError: {error}"
    return None
