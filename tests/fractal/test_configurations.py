"""The paper's configurations against the numpy reference (tests/fractal/naive.py)."""

import time

import numpy as np
import pytest

from explorer.fractal import (CONFIGURATIONS, PAPER_CONFIGURATIONS, loss_trajectory, make_problem,
                              measure_pixels, minibatch_indices, samples_for_ratio, scan)
from tests.fractal import naive


def test_minibatch_contract_matches_the_numpy_reference():
    """Batch of step t = row t of default_rng(seed).integers(0, n, (steps, m)), every pixel."""
    problem = make_problem(width=4, seed=2)
    result = scan(problem, (-1.5, 2), (-1.5, 2), resolution=(5, 4), steps=30, minibatch=16,
                  minibatch_seed=7)
    reference = naive.scan(problem, result.x, result.y, 30, minibatch=16, minibatch_seed=7)
    np.testing.assert_allclose(result.measure, reference, rtol=1e-8)
    np.testing.assert_array_equal(result.diverged, reference > 0)
    assert 0 < result.diverged.mean() < 1
    assert (result.minibatch, result.minibatch_seed) == (16, 7)


def test_minibatch_indices_are_the_contract_rows():
    expected = np.random.default_rng(3).integers(0, 272, size=(40, 16))
    np.testing.assert_array_equal(minibatch_indices(272, 40, 16, 3), expected)
    assert minibatch_indices(272, 40).shape == (40, 0)


def test_minibatch_seed_changes_the_scan_and_full_batch_ignores_it():
    problem = make_problem(width=3, seed=1)
    kwargs = dict(x_range=(0, 2), y_range=(0, 2), resolution=6, steps=25)
    a = scan(problem, **kwargs, minibatch=4, minibatch_seed=0).measure
    b = scan(problem, **kwargs, minibatch=4, minibatch_seed=1).measure
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(scan(problem, **kwargs, minibatch_seed=5).measure,
                                  scan(problem, **kwargs).measure)


def test_minibatch_trajectory_records_the_full_batch_loss():
    problem = make_problem(width=4, seed=3)
    losses = loss_trajectory(problem, 0.3, 0.3, steps=30, minibatch=16, minibatch_seed=2)
    reference = naive.loss_trajectory(problem, 0.3, 0.3, 30, minibatch=16, minibatch_seed=2)
    np.testing.assert_allclose(losses, reference, rtol=1e-9)


@pytest.mark.parametrize("ratio, points", [("single_datapoint", 1), (0.5, 136), (1.0, 272),
                                           (10.0, 2720)])
def test_dataset_sizes_follow_the_notebook(ratio, points):
    """int(ratio * (w*w + w)) points for tanh (w = 16), one for single_datapoint."""
    assert make_problem(width=16, dataset_param_ratio=ratio).X.shape == (points, 16)
    assert samples_for_ratio(16, "tanh", ratio) == points


def test_identity_uses_width_times_ratio_points():
    """The notebook's batch_size = int(width * dataset_param_multiple) for identity: 16."""
    assert make_problem(width=16, nonlinearity="identity").X.shape == (16, 16)
    assert samples_for_ratio(16, "identity", 0.5) == 8


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_every_configuration_matches_the_reference(name):
    configuration = CONFIGURATIONS[name]
    problem = configuration.problem(width=3, seed=4)
    options = configuration.scan_options()
    result = scan(problem, (-1.5, 2.5), (-1.5, 2.5), resolution=4, steps=25, **options)
    reference = naive.scan(problem, result.x, result.y, 25, options["phase_space"],
                           options["offset_mode"] == "every_step", options["minibatch"])
    # near the boundary training is chaotic: rounding differences grow to ~1e-8 in 25 steps
    np.testing.assert_allclose(result.measure, reference, rtol=1e-6)
    np.testing.assert_array_equal(result.diverged, reference > 0)


def test_the_paper_has_six_configurations_with_plain_names():
    assert len(PAPER_CONFIGURATIONS) == 6
    assert {"tanh_paraminit_drift", "tanh_paraminit_shifted"} <= set(CONFIGURATIONS)
    assert CONFIGURATIONS["tanh_paraminit_drift"].offset_mode == "every_step"
    assert CONFIGURATIONS["tanh_paraminit_shifted"].offset_mode == "initial"


def test_a_pixel_is_the_same_bits_in_any_tile_lane_or_trajectory():
    """Pixels train eight to a group; a pixel's value must not depend on its neighbours."""
    problem = make_problem(width=5, seed=6)
    full = scan(problem, (-1, 2), (-1, 2), resolution=(11, 5), steps=30)
    for cols in (slice(3, 10), slice(1, 2), slice(0, 11, 3)):
        tile = measure_pixels(problem, full.x[cols], full.y[1:4], 30)
        np.testing.assert_array_equal(tile, full.measure[1:4, cols])
    from explorer.fractal._kernels import _convergence_measure
    losses = loss_trajectory(problem, full.x[7], full.y[2], 30)
    assert _convergence_measure(losses) == full.measure[2, 7]


def test_a_callback_sees_partial_scans_and_can_stop_within_a_second():
    problem = make_problem(width=16, seed=0)
    calls = []

    def stop_after_first(partial):
        calls.append((time.perf_counter(), np.isnan(partial.measure).mean()))
        return True

    start = time.perf_counter()
    result = scan(problem, (-3, -2), (-3, -2), resolution=256, steps=5000,
                  callback=stop_after_first)  # minutes of converging pixels
    stopped_after = time.perf_counter() - calls[0][0]
    assert result.stopped_early and len(calls) == 1
    assert np.isnan(result.measure).any() and not np.isinf(result.measure).any()
    assert not result.diverged[np.isnan(result.measure)].any()
    assert stopped_after < 1.0 and calls[0][0] - start < 2.0


def test_a_callback_that_never_stops_changes_nothing():
    problem = make_problem(width=4, seed=1)
    seen = []
    with_callback = scan(problem, (-1, 2), (-1, 2), resolution=24, steps=300,
                         callback=lambda partial: seen.append(partial.finished.mean()) and False)
    plain = scan(problem, (-1, 2), (-1, 2), resolution=24, steps=300)
    np.testing.assert_array_equal(with_callback.measure, plain.measure)
    assert not with_callback.stopped_early


def test_a_callback_error_stops_the_scan_and_is_raised():
    def broken(partial):
        raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError, match="drawing failed"):
        scan(make_problem(width=16), (-3, -2), (-3, -2), resolution=128, steps=3000,
             callback=broken)


def test_minibatches_of_one_step_the_input_layer_at_once_like_the_reference():
    problem = make_problem(width=4, seed=5)
    result = scan(problem, (-1.5, 2), (-1.5, 2), resolution=5, steps=40, minibatch=1,
                  minibatch_seed=2)
    reference = naive.scan(problem, result.x, result.y, 40, minibatch=1, minibatch_seed=2)
    np.testing.assert_allclose(result.measure, reference, rtol=1e-6)
    np.testing.assert_array_equal(result.diverged, reference > 0)
