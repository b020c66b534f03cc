"""What a training run records: its metrics over steps (:class:`History`) and the finished
:class:`Run`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from explorer._validation import check_choice, check_range

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm")


@dataclass(frozen=True, eq=False)
class History:
    """Metrics at the recorded steps (every ``eval_every`` steps, the first and the last).

    Attributes
    ----------
    step : ndarray of int64, shape (k,)
        Optimiser steps taken before the record (0 = initial weights).
    train_loss, test_loss : ndarray of float64, shape (k,)
        Mean loss on each split (NaN or inf once diverged).
    train_acc, test_acc : ndarray of float64, shape (k,)
        Accuracy on each split, in [0, 1].
    weight_norm : ndarray of float64, shape (k,)
        Total sum of squared weights.
    snapshot_step : ndarray of int64, shape (s,)
        Steps at which weights were kept (every ``snapshot_every`` steps, and the last).
    snapshots : tuple of Params or TransformerParams, length s
    steps_done : int
        Optimiser steps taken when this (possibly partial) history was handed over; a
        callback between two records sees ``steps_done > step[-1]``.
    """

    step: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    weight_norm: np.ndarray
    snapshot_step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    snapshots: tuple = ()
    steps_done: int = -1

    def __post_init__(self):
        if self.steps_done < 0 and len(self.step):
            object.__setattr__(self, "steps_done", int(self.step[-1]))

    def steps_to(self, metric: str, threshold: float) -> int | None:
        """First recorded step where ``metric`` reaches ``threshold``; None if it never does.

        Accuracies must rise to ``>= threshold``; losses and the weight norm must fall to
        ``<= threshold``.
        """
        check_choice("metric", metric, METRICS)
        threshold = check_range("threshold", threshold)
        values = getattr(self, metric)
        reached = values >= threshold if metric.endswith("_acc") else values <= threshold
        index = np.flatnonzero(reached)
        return int(self.step[index[0]]) if index.size else None


def history_from_records(records: list, snapshot_steps: list, snapshots: list,
                         steps_done: int) -> History:
    """A History from rows ``(step, train loss, test loss, train acc, test acc, norm)``."""
    columns = np.array(records, dtype=np.float64).reshape(-1, 6).T
    return History(columns[0].astype(np.int64), *columns[1:],
                   snapshot_step=np.array(snapshot_steps, dtype=np.int64),
                   snapshots=tuple(snapshots), steps_done=steps_done)


@dataclass(frozen=True, eq=False)
class Run:
    """A finished (or stopped, or diverged) training run.

    Attributes
    ----------
    config : TrainConfig
    task : Task
    params : Params or TransformerParams
        The weights at the last recorded step.
    history : History
    diverged : bool
        The loss became NaN or infinite; training stopped there (the last record shows it).
    stopped_early : bool
        The callback asked to stop before ``config.steps``.
    seconds : float
        Wall time of the whole run, evaluations included.
    """

    config: object
    task: object
    params: object
    history: History
    diverged: bool
    stopped_early: bool
    seconds: float

    @property
    def steps_done(self) -> int:
        return int(self.history.step[-1])

    @property
    def steps_per_second(self) -> float:
        return self.steps_done / self.seconds if self.seconds > 0 else math.inf

    def steps_to(self, metric: str, threshold: float) -> int | None:
        """First recorded step where ``metric`` reaches ``threshold`` (see :meth:`History.steps_to`)."""
        return self.history.steps_to(metric, threshold)
