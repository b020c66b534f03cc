"""Power-law fits, smoothing and summaries over seeds, against exact answers."""

import numpy as np
import pytest

from explorer.grokking import power_law_fit, smooth, summarise_over_seeds


def test_a_power_law_is_recovered_exactly_and_nan_pairs_are_left_out():
    x = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0])
    y = 300 * x ** -0.7
    y_with_never = np.append(y, np.nan)
    fit = power_law_fit(np.append(x, 16.0), y_with_never)
    assert fit.exponent == pytest.approx(-0.7) and fit.prefactor == pytest.approx(300)
    assert fit.points == 6 and fit.spread == pytest.approx(0, abs=1e-12)
    np.testing.assert_allclose(fit(x), y)


def test_a_fit_needs_two_usable_points():
    with pytest.raises(ValueError, match="two"):
        power_law_fit([1.0, 1.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="y"):
        power_law_fit([1.0, 2.0], [1.0])


def test_smooth_is_a_centred_mean_that_skips_nan():
    values = np.array([1.0, np.nan, 3.0, 5.0, 7.0])
    expected = [1.0, 2.0, 4.0, 5.0, 6.0]  # means of the finite neighbours within one step
    np.testing.assert_allclose(smooth(values, window=3), expected)
    np.testing.assert_array_equal(smooth(values, window=1)[[0, 2, 3, 4]], values[[0, 2, 3, 4]])
    with pytest.raises(ValueError, match="window"):
        smooth(values, window=0)


def test_summaries_count_never_as_the_slowest():
    steps = np.array([[100.0, 300.0, 200.0], [100.0, np.nan, np.nan], [np.nan] * 3])
    median, low, high = summarise_over_seeds(steps)
    np.testing.assert_array_equal(median, [200.0, np.nan, np.nan])
    np.testing.assert_array_equal(low, [100.0, 100.0, np.nan])
    np.testing.assert_array_equal(high, [300.0, np.nan, np.nan])
