"""The shared helpers: validation messages and the numba options."""

import math

import numba
import numpy as np
import pytest

from explorer import _jit
from explorer._validation import check_array, check_choice, check_interval, check_range, make_rng


def test_check_range_names_parameter_value_and_range():
    with pytest.raises(ValueError, match=r"steps must be an integer >= 21, got 3"):
        check_range("steps", 3, lo=21, integer=True)
    with pytest.raises(ValueError, match=r"lr must be a number in \(0, 1\]"):
        check_range("lr", 0.0, lo=0, hi=1, lo_open=True)
    for bad in (math.nan, math.inf, "3", None, True):
        with pytest.raises(ValueError, match="x must be"):
            check_range("x", bad)
    assert check_range("n", 4.0, lo=1, integer=True) == 4


def test_check_choice_interval_array_and_rng():
    with pytest.raises(ValueError, match="op must be one of 'add', 'mul'"):
        check_choice("op", "div", ("add", "mul"))
    with pytest.raises(ValueError, match="window must satisfy lo < hi"):
        check_interval("window", (2, 1))
    with pytest.raises(ValueError, match=r"points must have shape \(any, 2\)"):
        check_array("points", np.zeros((3, 3)), shape=(None, 2))
    with pytest.raises(ValueError, match="points must contain only finite"):
        check_array("points", [[np.nan, 0.0]], shape=(None, 2))
    with pytest.raises(ValueError, match="points must have at least 1 row"):
        check_array("points", np.zeros((0, 2)), shape=(None, 2))
    with pytest.raises(ValueError, match="seed"):
        make_rng(-1)
    assert make_rng(3).integers(1000) == np.random.default_rng(3).integers(1000)


def test_safe_fastmath_keeps_nan_and_inf_semantics():
    assert not {"nnan", "ninf", "fast"} & _jit.SAFE_FASTMATH

    @_jit.njit_cached(cache=False)
    def is_nan(x):
        return x != x

    assert is_nan(np.nan) and not is_nan(1.0)


def test_set_num_threads_restores():
    previous = _jit.set_num_threads(1)
    assert numba.get_num_threads() == 1
    _jit.set_num_threads(previous)
    assert numba.get_num_threads() == previous
