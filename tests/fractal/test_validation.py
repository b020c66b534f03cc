"""Bad input gets a ValueError naming the parameter, before any compiled code runs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.fractal import Problem, Scan, Window, make_problem, scan, zoom_window

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
        result.zoom((1.0, 2.0), 1e14)  # 4e-14 wide: 8 pixels no longer distinct
    for factor in (0, 1e16, np.nan):
        with pytest.raises(ValueError, match="factor"):
            result.zoom((1.0, 2.0), factor)


@pytest.mark.parametrize("kwargs, name, error", [
    ({"minibatch": 0}, "minibatch", ValueError),
    ({"minibatch": 2000}, "minibatch", ValueError),
    ({"minibatch": 2.5}, "minibatch", ValueError),
    ({"minibatch": 16, "minibatch_seed": -1}, "minibatch_seed", ValueError),
    ({"minibatch": 1024, "steps": 100_000}, "steps x minibatch", ValueError),
    ({"steps": 2_000_000}, "steps", ValueError),
    ({"x_range": (-400, 1)}, "x_range", ValueError),
    ({"resolution": "64"}, "resolution", TypeError),
    ({"resolution": (4, 4, 4)}, "resolution", ValueError),
    ({"callback": 5}, "callback", TypeError),
])
def test_scan_options_are_bounded_and_named(kwargs, name, error):
    with pytest.raises(error, match=name):
        scan(PROBLEM, **{"resolution": 4, "steps": 21, **kwargs})


def test_wrong_problem_type_is_a_type_error():
    with pytest.raises(TypeError, match="problem"):
        scan("tanh")


@pytest.mark.parametrize("kwargs, name", [
    ({"dataset_param_ratio": "two_datapoints"}, "dataset_param_ratio"),
    ({"dataset_param_ratio": 0}, "dataset_param_ratio"),
    ({"dataset_param_ratio": 5000}, "dataset_param_ratio"),
    ({"width": 257}, "width"),
    ({"n_samples": 100_001}, "n_samples"),
])
def test_make_problem_bounds(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_problem(**kwargs)


def test_from_measure_validates_its_arrays():
    x, y = np.logspace(-1, 1, 4), np.logspace(0, 2, 3)
    ok = Scan.from_measure(x, y, np.ones((3, 4)), steps=21, phase_space="lr_vs_lr")
    assert ok.x_range == pytest.approx((-1, 1)) and ok.diverged.all()
    partial = Scan.from_measure(x, y, np.full((3, 4), np.nan), steps=21, phase_space="lr_vs_lr")
    assert not partial.diverged.any() and np.isnan(partial.diverged_fraction)
    for kwargs, name, error in [
        ({"measure": np.ones((4, 3))}, "measure", ValueError),
        ({"measure": np.full((3, 4), np.inf)}, "measure", ValueError),
        ({"x": -x}, "x", ValueError),
        ({"x": x[::-1]}, "x", ValueError),
        ({"x": "abc"}, "x", TypeError),
        ({"steps": 5}, "steps", ValueError),
        ({"phase_space": "other"}, "phase_space", ValueError),
        ({"seconds": -1}, "seconds", ValueError),
        ({"x_range": (1, 0)}, "x_range", ValueError),
    ]:
        arguments = {"x": x, "y": y, "measure": np.ones((3, 4)), "steps": 21,
                     "phase_space": "lr_vs_lr", **kwargs}
        with pytest.raises(error, match=name):
            Scan.from_measure(arguments.pop("x"), arguments.pop("y"), arguments.pop("measure"),
                              **arguments)


@pytest.mark.parametrize("kwargs, name, error", [
    ({"shape": (1, 8)}, "shape", ValueError),
    ({"shape": (8, 8, 8)}, "shape", TypeError),
    ({"shape": "8x8"}, "shape", TypeError),
    ({"center": (1.0, 2.0, 3.0)}, "center", TypeError),
    ({"center": (np.nan, 2.0)}, r"center\[0\]", ValueError),
    ({"window": ((0, 1),)}, "window", TypeError),
    ({"window": ((1, 0), (0, 1))}, "window.x_range", ValueError),
])
def test_zoom_window_validates_shape_and_coordinates(kwargs, name, error):
    arguments = {"window": Window((0.0, 4.0), (0.0, 4.0)), "center": (1.0, 2.0), "factor": 2.0,
                 "shape": (8, 8), **kwargs}
    with pytest.raises(error, match=name):
        zoom_window(**arguments)
