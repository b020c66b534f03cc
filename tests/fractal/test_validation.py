"""Bad input gets a ValueError naming the parameter, before any compiled code runs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.fractal import Problem, make_problem, scan

PROBLEM = make_problem(width=2)


@pytest.mark.parametrize("kwargs, name", [
    ({"x_range": (1, 0)}, "x_range"),
    ({"y_range": (0, np.inf)}, "y_range"),
    ({"x_range": (np.nan, 1)}, "x_range"),
    ({"resolution": 1}, "resolution"),
    ({"resolution": 100_000}, "resolution"),
    ({"resolution": 2.5}, "resolution"),
    ({"steps": 20}, "steps"),
    ({"phase_space": "lr_vs_momentum"}, "phase_space"),
    ({"offset_mode": "sometimes"}, "offset_mode"),
    ({"x_range": (0, 1e-17)}, "x_range"),
    ({"y_range": (0, 400)}, "y_range"),
])
def test_scan_rejects_bad_arguments_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        scan(PROBLEM, **{"resolution": 4, "steps": 21, **kwargs})


@pytest.mark.parametrize("kwargs, name", [
    ({"X": np.ones((3, 2)), "Y": np.ones((4, 1))}, "Y"),
    ({"W1": np.ones((3, 2))}, "W1"),
    ({"W2": np.ones((3, 1))}, "W2"),
    ({"X": np.full((4, 2), np.nan)}, "X"),
    ({"nonlinearity": "sigmoid"}, "nonlinearity"),
])
def test_problem_rejects_mismatched_or_non_finite_arrays(kwargs, name):
    arrays = {"X": np.ones((4, 2)), "Y": np.ones((4, 1)), "W1": np.ones((2, 2)), "W2": np.ones((2, 1))}
    with pytest.raises(ValueError, match=name):
        Problem(**{**arrays, **kwargs})


@pytest.mark.parametrize("kwargs, name", [({"width": 0}, "width"), ({"nonlinearity": "gelu"}, "nonlinearity"),
                                          ({"seed": -1}, "seed"), ({"n_samples": 0}, "n_samples")])
def test_make_problem_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_problem(**kwargs)


@settings(max_examples=60, deadline=None)
@given(lo=st.floats(allow_nan=True, allow_infinity=True), hi=st.floats(allow_nan=True, allow_infinity=True))
def test_any_range_is_either_scanned_or_rejected_by_name(lo, hi):
    try:
        result = scan(PROBLEM, (lo, hi), (0, 1), resolution=2, steps=21)
    except ValueError as error:
        assert "x_range" in str(error)
    else:
        assert np.isfinite(result.measure).all()


def test_zoom_shrinks_the_window_and_refuses_beyond_float64():
    result = scan(PROBLEM, (-2, 2), (0, 4), resolution=8, steps=21)
    window = result.zoom((1.0, 2.0), 10)
    assert window.x_range == pytest.approx((0.8, 1.2)) and window.y_range == pytest.approx((1.8, 2.2))
    deep = result.zoom((1.0, 2.0), 1e12)  # 12 decades: still distinct pixels
    assert scan(PROBLEM, *deep, resolution=8, steps=21).x.size == 8
    with pytest.raises(ValueError, match="x_range"):
        result.zoom((1.0, 2.0), 1e16)
    with pytest.raises(ValueError, match="factor"):
        result.zoom((1.0, 2.0), 0)
