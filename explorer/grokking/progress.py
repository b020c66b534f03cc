"""Progress measures over training and the three phases of grokking (Nanda et al. 2023).

:func:`progress_measures` evaluates the Fourier probes at every snapshot of a run's history
with one fixed set of key frequencies (by default the final network's, as in the paper), so
the curves show how the final circuit forms. :func:`detect_phases` reads the phases off them:

- memorisation: from the start until the training accuracy reaches ``memorised``;
- circuit formation: until the excluded loss (the loss without the key frequencies) turns
  upwards, i.e. the network starts to depend on its Fourier circuit;
- cleanup: until the test accuracy reaches ``generalised``, while weight decay removes the
  memorising components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_instance, check_int_array, check_range
from explorer.grokking.fourier import FourierProbe, key_frequencies, probe
from explorer.grokking.tasks import Task
from explorer.grokking.history import History


@dataclass(frozen=True, eq=False)
class ProgressMeasures:
    """Fourier probes at each snapshot of a history.

    Attributes
    ----------
    step : ndarray of int64, shape (s,)
        Snapshot steps.
    key_frequencies : ndarray of int64
        The frequencies kept / removed by the restricted / excluded loss at every step.
    mean_ipr, mean_dominant_share, gini : ndarray of float64, shape (s,)
    restricted_loss, excluded_loss : ndarray of float64, shape (s,)
        NaN for operations other than add and subtract.
    frequency_histogram : ndarray of int64, shape (s, p // 2 + 1)
    """

    step: np.ndarray
    key_frequencies: np.ndarray
    mean_ipr: np.ndarray
    mean_dominant_share: np.ndarray
    gini: np.ndarray
    restricted_loss: np.ndarray
    excluded_loss: np.ndarray
    frequency_histogram: np.ndarray

    @classmethod
    def from_probes(cls, steps, probes: list[FourierProbe], frequencies) -> ProgressMeasures:
        """Stack one :class:`FourierProbe` per step (all made with ``frequencies``).

        ``steps`` are integers >= 0, one per probe; ``frequencies`` integers >= 1.
        """
        if not isinstance(probes, (list, tuple)):
            raise TypeError(f"probes must be a list of FourierProbe, got {type(probes).__name__}")
        for one in probes:
            check_instance("probes[i]", one, FourierProbe)
        steps = check_int_array("steps", steps, lo=0, ndim=1, min_rows=0)
        if steps.size != len(probes):
            raise ValueError(f"steps and probes must have the same length (one step per probe), "
                             f"got {steps.size} steps and {len(probes)} probes")
        frequencies = check_int_array("frequencies", frequencies, lo=1, ndim=1, min_rows=0)

        def column(name):
            return np.array([getattr(one, name) for one in probes], dtype=np.float64)

        histogram = np.array([one.frequency_histogram for one in probes], dtype=np.int64)
        return cls(steps, frequencies,
                   column("mean_ipr"), column("mean_dominant_share"), column("gini"),
                   column("restricted_loss"), column("excluded_loss"), histogram)


def progress_measures(history: History, task: Task, frequencies=None) -> ProgressMeasures:
    """Fourier probes at every snapshot of ``history`` (train with ``snapshot_every``).

    Parameters
    ----------
    history : History
        With at least one snapshot.
    task : Task
        The run's task (``run.task``).
    frequencies : array_like of int, optional
        Key frequencies for restricted / excluded loss; default: those of the last snapshot.

    Returns
    -------
    ProgressMeasures
    """
    check_instance("history", history, History)
    check_instance("task", task, Task)
    if not history.snapshots:
        raise ValueError("history must hold snapshots: train with snapshot_every set")
    keys = (key_frequencies(history.snapshots[-1]) if frequencies is None
            else check_int_array("frequencies", frequencies, lo=1, ndim=1, min_rows=0))
    probes = [probe(params, task, keys) for params in history.snapshots]
    return ProgressMeasures.from_probes(history.snapshot_step, probes, keys)


@dataclass(frozen=True)
class Phases:
    """Step intervals ``(start, end)`` of the three phases; None where not (yet) detected."""

    memorisation: tuple[int, int] | None
    circuit_formation: tuple[int, int] | None
    cleanup: tuple[int, int] | None

    def as_dict(self) -> dict:
        return {"memorisation": self.memorisation, "circuit formation": self.circuit_formation,
                "cleanup": self.cleanup}


def _excluded_loss_turning_point(measures: ProgressMeasures, start: int, rise: float):
    """Step of the smallest excluded loss after ``start``, if it has since grown ``rise``-fold."""
    keep = (measures.step >= start) & np.isfinite(measures.excluded_loss)
    if not keep.any():
        return None
    steps, loss = measures.step[keep], measures.excluded_loss[keep]
    lowest = int(np.argmin(loss))
    return int(steps[lowest]) if loss[lowest:].max() >= rise * loss[lowest] else None


def detect_phases(history: History, measures: ProgressMeasures | None = None,
                  memorised: float = 0.99, generalised: float = 0.99,
                  excluded_rise: float = 2.0) -> Phases:
    """Memorisation, circuit formation and cleanup, from the metrics and the probes.

    Parameters
    ----------
    history : History
    measures : ProgressMeasures, optional
        Needed for the boundary between circuit formation and cleanup: the step where the
        excluded loss is smallest, once it has since risen ``excluded_rise`` times above
        that minimum. Without it (or with NaN losses) the boundary is where the test
        accuracy passes half of ``generalised``.
    memorised, generalised : float, default 0.99
        Train / test accuracy that ends memorisation / cleanup, in (0, 1].
    excluded_rise : float, default 2.0
        How far the excluded loss must climb for its minimum to count, > 1.

    Returns
    -------
    Phases
        A phase whose end is not reached yet runs to the last recorded step; later phases
        are None.
    """
    check_instance("history", history, History)
    check_instance("measures", measures, ProgressMeasures, allow_none=True)
    memorised = check_range("memorised", memorised, lo=0, hi=1, lo_open=True)
    generalised = check_range("generalised", generalised, lo=0, hi=1, lo_open=True)
    excluded_rise = check_range("excluded_rise", excluded_rise, lo=1, lo_open=True)
    last = int(history.step[-1])
    end_of_memorisation = history.steps_to("train_acc", memorised)
    if end_of_memorisation is None:
        return Phases((0, last), None, None)
    if measures is not None and np.isfinite(measures.excluded_loss).any():
        start_of_cleanup = _excluded_loss_turning_point(measures, end_of_memorisation,
                                                        excluded_rise)
    else:
        start_of_cleanup = history.steps_to("test_acc", generalised / 2)
    if start_of_cleanup is None:
        return Phases((0, end_of_memorisation), (end_of_memorisation, last), None)
    start_of_cleanup = max(start_of_cleanup, end_of_memorisation)
    end_of_cleanup = history.steps_to("test_acc", generalised)
    return Phases((0, end_of_memorisation), (end_of_memorisation, start_of_cleanup),
                  (start_of_cleanup, last if end_of_cleanup is None else max(end_of_cleanup,
                                                                             start_of_cleanup)))
