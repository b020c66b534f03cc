"""Fourier probes on synthetic weights with known spectra, against tests/grokking/naive.py."""

import numpy as np
import pytest

from explorer.grokking import (Params, analytic_solution, dominant_frequencies, excluded_loss,
                               fourier_ablation_losses, fourier_gini, frequency_histogram, gini,
                               init_params, ipr, key_frequencies, make_task, neuron_spectra, probe,
                               restricted_loss)
from tests.grokking import naive


def waves(p, frequencies, amplitudes=None, seed=0):
    """Columns cos(2 pi k t / p + random phase), one per entry of ``frequencies``."""
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(frequencies))
    amplitudes = np.ones(len(frequencies)) if amplitudes is None else np.asarray(amplitudes)
    t = np.arange(p)[:, None]
    return amplitudes * np.cos(2 * np.pi * np.asarray(frequencies) * t / p + phases)


def test_pure_waves_have_their_frequency_full_share_and_ipr_one():
    frequencies = [3, 1, 5, 3, 2]
    params = Params(waves(13, frequencies, seed=1), waves(13, frequencies, seed=2),
                    waves(13, frequencies, seed=3))
    spectra = neuron_spectra(params)
    assert spectra.frequencies.tolist() == list(range(7))
    assert spectra.dominant_frequency.tolist() == frequencies
    np.testing.assert_allclose(spectra.dominant_share, 1.0)
    np.testing.assert_allclose(spectra.ipr, 1.0)
    assert spectra.frequency_histogram.tolist() == [0, 1, 1, 2, 0, 1, 0]
    assert spectra.dominant_frequency[spectra.order].tolist() == [1, 2, 3, 3, 5]
    # the same probes as plain functions of the weights (a triple of arrays is enough)
    frequency, share = dominant_frequencies((params.U, params.V, params.W))
    assert frequency.tolist() == frequencies and np.allclose(share, 1.0)
    assert np.allclose(ipr(params), 1.0)
    assert frequency_histogram(params).tolist() == [0, 1, 1, 2, 0, 1, 0]


def test_two_wave_neuron_share_is_its_power_fraction():
    p = 17
    U = waves(p, [2], [2.0]) + waves(p, [5], [1.0], seed=9)
    zero = np.zeros((p, 1))
    spectra = neuron_spectra(Params(U, zero, zero))
    assert spectra.dominant_frequency.tolist() == [2]
    assert spectra.dominant_share[0] == pytest.approx(4 / 5)
    assert spectra.ipr[0, 0] == pytest.approx(naive.ipr(U[:, 0]))
    assert spectra.ipr[0, 0] == pytest.approx((16 + 1) / 25)


def test_spectra_match_the_dft_definition():
    params = init_params(p=12, width=3, seed=5, dtype="float64")
    spectra = neuron_spectra(params)
    for n in range(3):
        np.testing.assert_allclose(spectra.W_power[n], naive.dft_power(params.W[:, n]), rtol=1e-10)
        assert spectra.ipr[1, n] == pytest.approx(naive.ipr(params.V[:, n]))


def test_random_weights_have_low_ipr_and_no_key_frequencies():
    params = init_params(p=97, width=256, seed=0)
    spectra = neuron_spectra(params)
    assert 0.03 < spectra.ipr.mean() < 0.06
    assert key_frequencies(params).size == 0
    assert fourier_gini(params) < 0.05


def test_gini_against_the_mean_absolute_difference():
    values = np.random.default_rng(0).exponential(size=40)
    assert gini(values) == pytest.approx(naive.gini(values))
    assert gini(np.ones(5)) == 0.0
    assert gini([0, 0, 0, 0, 3.0]) == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="non-negative"):
        gini([1.0, -1.0])


def test_key_frequencies_are_those_of_tuned_neurons_most_used_first():
    p = 23
    rng = np.random.default_rng(3)
    tuned = waves(p, [4, 7, 4, 4, 7, 9])
    untuned = rng.standard_normal((p, 6))
    U = np.hstack([tuned, untuned])
    params = Params(U, U, U)
    assert key_frequencies(params).tolist() == [4, 7, 9]
    assert key_frequencies(params, min_neurons=2).tolist() == [4, 7]


@pytest.mark.parametrize("op, sign", [("add", 1), ("subtract", -1)])
@pytest.mark.parametrize("activation", ["quadratic", "relu"])
def test_restricted_and_excluded_loss_match_a_least_squares_projection(op, sign, activation):
    p = 11
    params = init_params(p, 9, seed=2, dtype="float64", activation=activation)
    params = Params(params.U * 3, params.V * 3, params.W * 3, activation)
    task = make_task(p, op, 0.5, seed=1)
    a, b, labels = task.split("train")
    frequencies = [1, 4, 5]
    ours = fourier_ablation_losses(params, task, frequencies)
    reference = naive.fourier_ablation_losses(params.U, params.V, params.W, a, b, labels,
                                              frequencies, sign, activation)
    np.testing.assert_allclose(ours, reference, rtol=1e-9)


def test_the_analytic_solution_lives_in_its_key_frequencies():
    params, task = analytic_solution(p=31, width=128, seed=0), make_task(p=31)
    keys = key_frequencies(params)
    assert sorted(keys.tolist()) == list(range(1, 16))
    restricted, excluded = fourier_ablation_losses(params, task, keys)
    assert restricted < 1e-3 and excluded > np.log(31)  # without its key frequencies: below chance
    assert restricted_loss(params, task) == restricted and excluded_loss(params, task) == excluded
    summary = probe(params, task)
    assert summary.mean_ipr == pytest.approx(1.0)
    assert summary.restricted_loss == restricted


def test_probe_of_an_operation_without_a_sum_circuit_has_nan_losses():
    summary = probe(init_params(7, 4), make_task(7, "multiply"))
    assert np.isnan(summary.restricted_loss) and np.isnan(summary.excluded_loss)
    assert summary.frequency_histogram.shape == (4,)


@pytest.mark.parametrize("task, frequencies, name", [(make_task(7, "multiply"), [1], "op"),
                                                     (make_task(7), [0], "frequencies"),
                                                     (make_task(7), [4], "frequencies"),
                                                     (make_task(11), [1], "params")])
def test_ablation_bad_input_names_the_parameter(task, frequencies, name):
    with pytest.raises(ValueError, match=name):
        fourier_ablation_losses(init_params(7, 4), task, frequencies)
