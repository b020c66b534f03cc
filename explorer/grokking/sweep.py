"""Steps to generalise over a grid of training settings (e.g. weight decay x train fraction).

Each grid point is an independent, pure function of its settings and seed
(:func:`run_grid_point`), so a distributed version can send each point to its own task and
get bit-identical numbers; :func:`sweep` runs them one after another, here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from explorer._validation import check_callable, check_instance, check_range
from explorer.grokking.training import TrainConfig, train_from_config

#: Most grid points one sweep accepts (each is a full training run).
MAX_GRID_POINTS = 10_000


@dataclass(frozen=True)
class GridPointResult:
    """The outcome of one grid point.

    Attributes
    ----------
    steps_to_generalise : float
        First recorded step with test accuracy >= the threshold; NaN if never reached
        within ``steps`` (or if the run diverged first).
    steps_to_memorise : float
        First recorded step with train accuracy >= the threshold; NaN if never.
    final_test_acc : float
        Test accuracy at the last recorded step.
    diverged : bool
    stopped_early : bool
        ``should_stop`` ended the run before it generalised or used its budget (the other
        fields then describe the unfinished run).
    """

    steps_to_generalise: float
    steps_to_memorise: float
    final_test_acc: float
    diverged: bool
    stopped_early: bool = False


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Steps to generalise on a grid; array axes follow ``names`` in order.

    Attributes
    ----------
    names : tuple of str
        The swept :func:`~explorer.grokking.train` arguments, e.g. ``("weight_decay",
        "train_fraction")``.
    values : tuple of ndarray
        The grid values of each name; ``values[i]`` has length ``shape[i]``.
    steps_to_generalise, steps_to_memorise : ndarray of float64, shape (len(values[0]), ...)
        NaN where the threshold was never reached within ``steps`` (never generalised).
    final_test_acc : ndarray of float64, same shape
    diverged : ndarray of bool, same shape
    threshold : float
        The accuracy that counts as generalised (and memorised).
    fixed : dict
        The settings shared by every grid point.
    """

    names: tuple
    values: tuple
    steps_to_generalise: np.ndarray
    steps_to_memorise: np.ndarray
    final_test_acc: np.ndarray
    diverged: np.ndarray
    threshold: float
    fixed: dict


def grid_configs(param_grid: dict, **fixed) -> list[TrainConfig]:
    """One validated :class:`TrainConfig` per grid point, in row-major (C) order.

    Every point is validated before anything runs, so a bad value fails at once, naming the
    parameter. At most :data:`MAX_GRID_POINTS` points; seeds must be integers (a numpy
    ``Generator`` would make each point depend on the ones drawn before it).
    """
    check_instance("param_grid", param_grid, dict)
    if not param_grid:
        raise ValueError("param_grid must be a non-empty dict of name -> list of values, got {}")
    allowed = set(TrainConfig.__dataclass_fields__)
    for name, values in param_grid.items():
        if name not in allowed:
            raise ValueError(f"param_grid keys must be training settings {sorted(allowed)}; "
                             f"got {name!r}")
        if name in fixed:
            raise ValueError(f"{name!r} is both swept (param_grid) and fixed")
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
            raise TypeError(f"param_grid[{name!r}] must be a list of values, got "
                            f"{type(values).__name__}")
        if not len(values):
            raise ValueError(f"param_grid[{name!r}] must be a non-empty list of values")
    unknown = set(fixed) - allowed
    if unknown:
        raise ValueError(f"unknown training setting(s) {sorted(unknown)}")
    seeds = list(param_grid.get("seed", [fixed.get("seed", 0)]))
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, Integral):
            raise ValueError(f"seed must be a non-negative integer in a sweep, so that every "
                             f"point is reproducible on its own; got {seed!r}")
    points = math.prod(len(values) for values in param_grid.values())
    if points > MAX_GRID_POINTS:
        raise ValueError(f"param_grid must have at most {MAX_GRID_POINTS} points, got {points}")
    return [TrainConfig(**fixed, **dict(zip(param_grid, point)))
            for point in itertools.product(*param_grid.values())]


def run_grid_point(config: TrainConfig, threshold: float = 0.95,
                   should_stop=None) -> GridPointResult:
    """Train one grid point until its test accuracy reaches ``threshold`` (or ``steps``).

    A pure function of ``config`` (which holds the seed): the same config gives the same
    result on any machine with the same numba and BLAS builds.

    Parameters
    ----------
    config : TrainConfig
    threshold : float, default 0.95
        Test accuracy that counts as generalised, in (0, 1]; the run stops there.
    should_stop : callable, optional
        ``should_stop() -> bool``, polled whenever training reports (at least every
        ``eval_every`` steps); True ends the run with ``stopped_early=True``.
    """
    check_instance("config", config, TrainConfig)
    threshold = check_range("threshold", threshold, lo=0, hi=1, lo_open=True)
    check_callable("should_stop", should_stop)
    stop_asked = []

    def watch(history):
        if history.test_acc[-1] >= threshold:
            return True
        if should_stop is not None and should_stop():
            stop_asked.append(True)
        return bool(stop_asked)

    run = train_from_config(config, callback=watch)
    generalised = run.steps_to("test_acc", threshold)
    memorised = run.steps_to("train_acc", threshold)
    return GridPointResult(np.nan if generalised is None else float(generalised),
                           np.nan if memorised is None else float(memorised),
                           float(run.history.test_acc[-1]), run.diverged,
                           bool(stop_asked) and run.stopped_early)


def sweep(param_grid: dict, threshold: float = 0.95, progress=None, **fixed) -> SweepResult:
    """Steps to generalise at every point of ``param_grid`` (a local, serial sweep).

    Parameters
    ----------
    param_grid : dict of str to list
        Training settings to vary and their values, e.g.
        ``{"weight_decay": [0.0, 0.3, 1.0], "train_fraction": [0.2, 0.3, 0.5]}``.
    threshold : float, default 0.95
        Test accuracy that counts as generalised, in (0, 1]; each run stops there.
    progress : callable, optional
        ``progress(done, total)`` after each grid point (for a progress bar); checked
        callable before anything runs.
    **fixed
        Settings shared by all points (any :func:`~explorer.grokking.train` argument but
        ``callback``), e.g. ``p=59, steps=3000, seed=0``. Seeds must be integers.

    At most :data:`MAX_GRID_POINTS` grid points; every one is validated before the first
    runs.

    Returns
    -------
    SweepResult
        ``steps_to_generalise`` is NaN where the test accuracy never reached ``threshold``.

    Examples
    --------
    >>> result = sweep({"weight_decay": [0.0, 1.0]}, p=11, width=32, steps=20, eval_every=10)
    >>> result.steps_to_generalise.shape
    (2,)
    """
    threshold = check_range("threshold", threshold, lo=0, hi=1, lo_open=True)
    check_callable("progress", progress)
    configs = grid_configs(param_grid, **fixed)
    outcomes = []
    for config in configs:
        outcomes.append(run_grid_point(config, threshold))
        if progress is not None:
            progress(len(outcomes), len(configs))
    return sweep_result(param_grid, outcomes, threshold, fixed)


def sweep_result(param_grid: dict, outcomes, threshold: float, fixed: dict) -> SweepResult:
    """Arrange per-point outcomes (row-major, as :func:`grid_configs`) into a SweepResult.

    Shared by this serial sweep and :func:`explorer.distributed.sweep`.
    """
    shape = tuple(len(values) for values in param_grid.values())

    def grid(name, dtype=np.float64):
        return np.array([getattr(o, name) for o in outcomes], dtype=dtype).reshape(shape)

    return SweepResult(tuple(param_grid), tuple(np.asarray(v) for v in param_grid.values()),
                       grid("steps_to_generalise"), grid("steps_to_memorise"),
                       grid("final_test_acc"), grid("diverged", bool), threshold, dict(fixed))
