"""Progress measures over snapshots and the detection of the three phases."""

import numpy as np
import pytest

from explorer.grokking import (QUICK_SETTINGS, History, Phases, ProgressMeasures, detect_phases,
                               probe, progress_measures, train)


@pytest.fixture(scope="module")
def quick_run():
    return train(**QUICK_SETTINGS, eval_every=10, snapshot_every=50)


def synthetic_history(train_acc, test_acc, step):
    zeros = np.zeros(len(step))
    return History(np.asarray(step), zeros, zeros, np.asarray(train_acc, float),
                   np.asarray(test_acc, float), zeros)


def synthetic_measures(step, excluded):
    nan = np.full(len(step), np.nan)
    return ProgressMeasures(np.asarray(step), np.array([1]), nan, nan, nan, nan,
                            np.asarray(excluded, float), np.zeros((len(step), 2), np.int64))


STEP = np.arange(0, 110, 10)
TRAIN = [0.1, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
TEST = [0.0, 0.0, 0.0, 0.05, 0.1, 0.3, 0.6, 0.9, 0.995, 1.0, 1.0]
EXCLUDED = [4.0, 2.0, 0.5, 0.3, 0.2, 0.3, 0.7, 1.5, 2.0, 2.5, 3.0]


def test_phases_from_accuracy_and_the_excluded_loss_turning_point():
    phases = detect_phases(synthetic_history(TRAIN, TEST, STEP), synthetic_measures(STEP, EXCLUDED))
    assert phases == Phases((0, 20), (20, 40), (40, 80))


def test_without_probes_cleanup_starts_at_half_the_generalisation_threshold():
    phases = detect_phases(synthetic_history(TRAIN, TEST, STEP))
    assert phases == Phases((0, 20), (20, 60), (60, 80))


def test_phases_not_reached_stay_open_or_absent():
    never_memorised = detect_phases(synthetic_history(np.full(11, 0.5), TEST, STEP))
    assert never_memorised == Phases((0, 100), None, None)
    flat = synthetic_measures(STEP, np.linspace(4, 1, 11))
    still_forming = detect_phases(synthetic_history(TRAIN, np.zeros(11), STEP), flat)
    assert still_forming == Phases((0, 20), (20, 100), None)
    cleaning = detect_phases(synthetic_history(TRAIN, np.minimum(TEST, 0.9), STEP),
                             synthetic_measures(STEP, EXCLUDED))
    assert cleaning.cleanup == (40, 100)


def test_progress_measures_of_a_real_run(quick_run):
    history = quick_run.history
    measures = progress_measures(history, quick_run.task)
    s = len(history.snapshots)
    assert measures.step.tolist() == history.snapshot_step.tolist()
    assert measures.mean_ipr.shape == measures.restricted_loss.shape == (s,)
    assert measures.frequency_histogram.shape == (s, QUICK_SETTINGS["p"] // 2 + 1)
    last = probe(history.snapshots[-1], quick_run.task)
    assert np.array_equal(measures.key_frequencies, last.key_frequencies)
    assert measures.restricted_loss[-1] == pytest.approx(last.restricted_loss)
    # the Fourier circuit: sparser neurons, a falling restricted and a rising excluded loss
    assert measures.mean_ipr[-1] > 5 * measures.mean_ipr[0]
    assert measures.restricted_loss[-1] < 0.01 * measures.restricted_loss[0]
    assert measures.excluded_loss[-1] > 2 * measures.excluded_loss.min()
    phases = detect_phases(history, measures)
    assert phases.memorisation == (0, quick_run.steps_to("train_acc", 0.99))
    assert phases.memorisation[1] <= phases.cleanup[0] < phases.cleanup[1]
    assert phases.cleanup[1] == quick_run.steps_to("test_acc", 0.99)


def test_progress_measures_need_snapshots():
    run = train(p=7, width=4, steps=5)
    with pytest.raises(ValueError, match="snapshot_every"):
        progress_measures(run.history, run.task)


@pytest.mark.parametrize("kwargs, name", [({"memorised": 0}, "memorised"),
                                          ({"generalised": 1.5}, "generalised"),
                                          ({"excluded_rise": 1.0}, "excluded_rise")])
def test_bad_thresholds_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        detect_phases(synthetic_history(TRAIN, TEST, STEP), **kwargs)


def test_a_diverged_run_still_has_progress_measures():
    run = train(p=11, width=8, lr=10.0, weight_decay=0.0, optimizer="sgd", steps=200,
                eval_every=5, snapshot_every=5)
    measures = progress_measures(run.history, run.task)
    assert run.diverged and measures.step[-1] == run.steps_done
    assert detect_phases(run.history, measures).cleanup is None
