"""Li2's scaling law: the training-set size a group of order M needs to generalise.

Tian (arXiv 2509.21519) proves that the features that generalise on a group of order M
become stable once the training set holds about ``M log M`` of the ``M^2`` pairs; the
authors' code sets the training set to ``n = 2.7482 * M * ln(M)`` pairs (its "critical
ratio"). :func:`scaling_sweep` measures that size with our MLP: for every group and seed it
bisects, over a geometric grid of candidate sizes ``n = c M ln M``, for the smallest
training set whose run reaches the test-accuracy threshold within the step budget.
:func:`fit_scaling_law` then fits ``n_crit = c * f(M)`` for ``f = M ln M`` and, to judge the
law, for ``M`` and ``M^2``; :func:`fit_power_law` fits the exponent of ``n_crit ~ M^beta``.

Why bisection works here: for one integer seed, :func:`~explorer.grokking.make_task` draws
the training set as the start of one shuffle of all pairs and the initial weights from the
same seed, so larger candidate sizes only add pairs to the same run; success is then
(empirically) monotone in n. Each run is a pure function of its settings, so the sweep gives
the same numbers serially, on a process pool or on Dask (``executor=client.get_executor()``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_callable, check_instance, check_range
from explorer.grokking.groups import canonical_group, group_order
from explorer.grokking.scaling_fit import PowerLawFit, ScalingFit, fit_power_law, fit_scaling_law
from explorer.grokking.sweep import GridPointResult, run_grid_point
from explorer.grokking.training import TrainConfig

#: Candidate sizes ``c * M ln M``: c from 0.5 to 16 in steps of 2^(1/4) (+-9% resolution).
DEFAULT_MULTIPLIERS = 0.5 * 2.0 ** (np.arange(21) / 4)
#: Orders 17 .. 71 (a factor 4, over which ln M grows by 1.5): small enough for two cores.
DEFAULT_GROUPS = ("cyclic:17", "cyclic:23", "cyclic:31", "cyclic:41", "cyclic:53", "cyclic:71")
#: Li2's setting (2-layer MLP, squared activation, hidden 512) with our AdamW; see the README
#: of this topic for the measurements behind lr, weight decay and the budget.
DEFAULT_TRAINING = {"width": 512, "activation": "quadratic", "lr": 3e-3, "weight_decay": 1.0,
                    "eval_every": 50}
#: The largest training fraction tried: the test set must keep enough pairs to measure.
MAX_FRACTION = 0.9
_RESERVED = ("group", "p", "op", "train_fraction", "seed", "steps", "callback", "snapshot_every")


@dataclass(frozen=True, eq=False)
class ScalingResult:
    """Critical training-set sizes of several groups and seeds, with every run behind them.

    Attributes
    ----------
    groups : tuple of str, length G
    orders : ndarray of int64, shape (G,)
    seeds : ndarray of int64, shape (S,)
    candidates : tuple of G ndarrays of int64
        The candidate training-set sizes (pairs) of each group, increasing.
    lower, upper : ndarray of float64, shape (G, S)
        The bisection's bracket: the largest size that did not generalise and the smallest
        that did. NaN where no such size was found (``lower`` NaN: even the smallest
        candidate generalised; ``upper`` NaN: not even the largest did).
    done : ndarray of bool, shape (G, S)
        The bisection closed its bracket (False only for a stopped sweep).
    run_group, run_seed : ndarray of int64, shape (R,)
        Index into ``groups`` and ``seeds`` of every training run, in the order run.
    run_size : ndarray of int64, shape (R,)
        Its training-set size (pairs).
    run_steps : ndarray of float64, shape (R,)
        Steps to reach ``threshold`` test accuracy; NaN if it did not within ``steps``.
    run_test_acc : ndarray of float64, shape (R,)
        Test accuracy at its last record.
    threshold : float
    steps : int
        The step budget of every run.
    settings : dict
        The training settings shared by every run.
    stopped_early : bool
        The callback stopped the sweep (brackets may still be open).
    seconds : float
    """

    groups: tuple
    orders: np.ndarray
    seeds: np.ndarray
    candidates: tuple
    lower: np.ndarray
    upper: np.ndarray
    done: np.ndarray
    run_group: np.ndarray
    run_seed: np.ndarray
    run_size: np.ndarray
    run_steps: np.ndarray
    run_test_acc: np.ndarray
    threshold: float
    steps: int
    settings: dict
    stopped_early: bool
    seconds: float

    @property
    def censored(self) -> np.ndarray:
        """Finished bisections whose critical size lies outside the candidates, (G, S)."""
        return self.done & ~(np.isfinite(self.lower) & np.isfinite(self.upper))

    @property
    def critical_size(self) -> np.ndarray:
        """``sqrt(lower * upper)``, the geometric middle of the bracket, (G, S) float64.

        NaN where the bisection is unfinished or censored.
        """
        with np.errstate(invalid="ignore"):
            middle = np.sqrt(self.lower * self.upper)
        return np.where(self.done & ~self.censored, middle, np.nan)

    @property
    def critical_fraction(self) -> np.ndarray:
        """:attr:`critical_size` over the ``M^2`` pairs, (G, S)."""
        return self.critical_size / (self.orders[:, None].astype(float) ** 2)

    def _points(self):
        return np.repeat(self.orders.astype(float), len(self.seeds)), self.critical_size.ravel()

    def fit(self, law: str = "M log M") -> ScalingFit:
        """:func:`fit_scaling_law` over every uncensored (group, seed)."""
        return fit_scaling_law(*self._points(), law=law)

    @property
    def power_law(self) -> PowerLawFit:
        """:func:`fit_power_law` over every uncensored (group, seed)."""
        return fit_power_law(*self._points())


class _Bisection:
    """The open bracket (lo, hi) of candidate indices of one (group, seed): lo failed,
    hi generalised; -1 and len(candidates) stand for "below" and "above" the grid."""

    def __init__(self, candidates: np.ndarray):
        self.candidates, self.lo, self.hi = candidates, -1, len(candidates)

    @property
    def done(self) -> bool:
        return self.hi - self.lo <= 1

    @property
    def next_size(self) -> int:
        return int(self.candidates[(self.lo + self.hi) // 2])

    def record(self, generalised: bool):
        middle = (self.lo + self.hi) // 2
        self.lo, self.hi = (self.lo, middle) if generalised else (middle, self.hi)

    def bracket(self) -> tuple[float, float]:
        last = len(self.candidates)
        return (float(self.candidates[self.lo]) if self.lo >= 0 else np.nan,
                float(self.candidates[self.hi]) if self.hi < last else np.nan)


def candidate_sizes(group: str, multipliers=DEFAULT_MULTIPLIERS) -> np.ndarray:
    """Training-set sizes ``round(c M ln M)`` for the multipliers c, clipped to
    [1, 0.9 M^2] and deduplicated: int64, increasing.

    ``multipliers``: 2 to 64 increasing values in (0, 1000].
    """
    order = group_order(group)
    sizes = np.round(_check_multipliers(multipliers) * order * math.log(order))
    return np.unique(np.clip(sizes, 1, math.floor(MAX_FRACTION * order * order))).astype(np.int64)


def _check_multipliers(multipliers) -> np.ndarray:
    multipliers = check_array("multipliers", multipliers, ndim=1, min_rows=2, max_size=64)
    if (multipliers <= 0).any() or (multipliers > 1000).any() or (np.diff(multipliers) <= 0).any():
        raise ValueError(f"multipliers must increase, within (0, 1000], got {multipliers}")
    return multipliers


def _check_seeds(seeds) -> np.ndarray:
    seeds = check_array("seeds", seeds, ndim=1, dtype=np.int64)
    if seeds.size > 64 or (seeds < 0).any() or len(np.unique(seeds)) != seeds.size:
        raise ValueError(f"seeds must be 1 to 64 distinct non-negative integers, got {seeds}")
    return seeds


def scaling_sweep(groups=DEFAULT_GROUPS, seeds=(0, 1, 2), steps: int = 8000,
                  threshold: float = 0.95, multipliers=DEFAULT_MULTIPLIERS, executor=None,
                  callback=None, **training) -> ScalingResult:
    """The critical training-set size of each group and seed, by bisection, for Li2's law.

    For each (group, seed) the candidate sizes ``round(c M ln M)`` (see
    :func:`candidate_sizes`) are bisected: a size counts as enough when the run's test
    accuracy reaches ``threshold`` within ``steps``. About ``log2(len(multipliers))`` runs
    per (group, seed); all bisections advance together, one round at a time.

    Parameters
    ----------
    groups : list or tuple of str, default :data:`DEFAULT_GROUPS`
        1 to 32 group names (see :func:`~explorer.grokking.group_table`).
    seeds : sequence of int, default (0, 1, 2)
        1 to 64 distinct seeds; each seeds the split and the initial weights of its runs.
    steps : int, default 8000
        The step budget of each run, in [1, 10^6]. The critical size is that of this
        budget: a longer budget can only lower it.
    threshold : float, default 0.95
        Test accuracy that counts as generalised, in (0, 1].
    multipliers : array_like of float, default :data:`DEFAULT_MULTIPLIERS`
        The c of the candidates, increasing, 2 to 64 values in (0, 1000].
    executor : concurrent.futures.Executor, optional
        Runs each round's points with ``executor.submit`` (a ``ProcessPoolExecutor``, or
        ``client.get_executor()`` of a Dask client); default: one after another, here.
    callback : callable, optional
        ``callback(partial_result) -> bool``, after every run and about every 0.5 s during
        one; a true return stops the sweep (``stopped_early``; with an executor, pending
        runs are cancelled and running ones finish unseen).
    **training
        Settings of every run (:class:`~explorer.grokking.TrainConfig` fields other than
        group, p, op, train_fraction, seed, steps, snapshot_every); defaults
        :data:`DEFAULT_TRAINING`.

    Returns
    -------
    ScalingResult

    Examples
    --------
    >>> result = scaling_sweep(["cyclic:5", "cyclic:7"], seeds=[0], steps=20,
    ...                        multipliers=[1.0, 4.0], width=8)
    >>> result.done.tolist(), result.run_size.tolist()  # 20 steps are too few to generalise
    ([[True], [True]], [8, 14, 22, 44])
    """
    if not isinstance(groups, (list, tuple)):
        raise TypeError(f"groups must be a list of group names, got {type(groups).__name__}")
    if not 1 <= len(groups) <= 32:
        raise ValueError(f"groups must hold 1 to 32 group names, got {len(groups)}")
    groups = tuple(_group_entry(i, g) for i, g in enumerate(groups))
    seeds = _check_seeds(seeds)
    steps = check_range("steps", steps, lo=1, hi=10**6, integer=True)
    threshold = check_range("threshold", threshold, lo=0, hi=1, lo_open=True)
    multipliers = _check_multipliers(multipliers)
    check_callable("callback", callback)
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must have a submit method (concurrent.futures.Executor), "
                        f"got {type(executor).__name__}")
    reserved = sorted(set(training) & set(_RESERVED))
    if reserved:
        raise ValueError(f"{reserved} are set by the sweep itself, not by **training")
    unknown = sorted(set(training) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown training setting(s) {unknown}; allowed: "
                         f"{sorted(set(TrainConfig.__dataclass_fields__) - set(_RESERVED))}")
    settings = {**DEFAULT_TRAINING, **training}
    TrainConfig(steps=steps, group=groups[0], **settings)  # validates the settings at the door
    return _Sweep(groups, seeds, steps, threshold, multipliers, settings, callback).run(executor)


class _Sweep:
    """The bisections of one scaling sweep and the runs done so far."""

    def __init__(self, groups, seeds, steps, threshold, multipliers, settings, callback):
        self.groups, self.seeds, self.steps, self.threshold = groups, seeds, steps, threshold
        self.settings, self.callback = settings, callback
        self.candidates = tuple(candidate_sizes(g, multipliers) for g in groups)
        self.bisections = [[_Bisection(c) for _ in seeds] for c in self.candidates]
        self.runs, self.stopped, self.start = [], False, time.perf_counter()
        self.last_report = self.start

    def config(self, g: int, s: int) -> TrainConfig:
        order = group_order(self.groups[g])
        fraction = self.bisections[g][s].next_size / order**2
        return TrainConfig(group=self.groups[g], train_fraction=fraction, seed=int(self.seeds[s]),
                           steps=self.steps, **self.settings)

    def should_stop(self, now: bool = False) -> bool:
        """Ask the callback (``now``, or at most every 0.5 s); remember a stop."""
        due = now or time.perf_counter() - self.last_report >= 0.5
        if self.callback is not None and not self.stopped and due:
            self.last_report = time.perf_counter()
            self.stopped = bool(self.callback(self.result()))
        return self.stopped

    def record(self, g: int, s: int, outcome: GridPointResult):
        if outcome.stopped_early:
            return
        size = self.bisections[g][s].next_size
        generalised = bool(np.isfinite(outcome.steps_to_generalise))
        self.runs.append((g, s, size, outcome.steps_to_generalise, outcome.final_test_acc))
        self.bisections[g][s].record(generalised)
        self.should_stop(now=True)

    def run(self, executor) -> ScalingResult:
        while not self.stopped:
            open_points = [(g, s) for g, row in enumerate(self.bisections)
                           for s, bisection in enumerate(row) if not bisection.done]
            if not open_points:
                break
            configs = [self.config(g, s) for g, s in open_points]
            if executor is None:
                for (g, s), config in zip(open_points, configs):
                    self.record(g, s, run_grid_point(config, self.threshold, self.should_stop))
                    if self.stopped:
                        break
            else:
                self._run_on(executor, open_points, configs)
        return self.result()

    def _run_on(self, executor, points, configs):
        from concurrent.futures import FIRST_COMPLETED, wait

        futures = {executor.submit(run_grid_point, config, self.threshold): point
                   for point, config in zip(points, configs)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                self.record(*futures[future], future.result())
            if self.should_stop():
                for future in pending:
                    future.cancel()
                return

    def result(self) -> ScalingResult:
        shape = (len(self.groups), len(self.seeds))
        brackets = np.array([[b.bracket() for b in row] for row in self.bisections]).reshape(*shape, 2)
        done = np.array([[b.done for b in row] for row in self.bisections]).reshape(shape)
        runs = np.array(self.runs, dtype=np.float64).reshape(-1, 5).T
        return ScalingResult(
            self.groups, np.array([group_order(g) for g in self.groups], dtype=np.int64),
            self.seeds.copy(), self.candidates, brackets[..., 0], brackets[..., 1], done,
            runs[0].astype(np.int64), runs[1].astype(np.int64), runs[2].astype(np.int64),
            runs[3], runs[4], self.threshold, self.steps, dict(self.settings), self.stopped,
            time.perf_counter() - self.start)


def _group_entry(index: int, group) -> str:
    """``canonical_group(group)`` with the refusal naming ``groups[index]``."""
    try:
        return canonical_group(group)
    except (TypeError, ValueError) as error:
        raise type(error)(f"groups[{index}]: {error}") from None


def combine_scaling_results(results) -> ScalingResult:
    """One :class:`ScalingResult` from sweeps over different groups with the same settings.

    For adding orders to a finished sweep: the seeds, step budget, threshold and training
    settings must agree, and no group may appear twice. Groups are sorted by order.

    Parameters
    ----------
    results : list or tuple of ScalingResult

    Returns
    -------
    ScalingResult
        ``seconds`` is the sum; ``stopped_early`` if any part stopped.
    """
    if not isinstance(results, (list, tuple)) or not results:
        raise TypeError("results must be a non-empty list of ScalingResult")
    for result in results:
        check_instance("results[i]", result, ScalingResult)
    first = results[0]
    for result in results[1:]:
        same = (np.array_equal(result.seeds, first.seeds) and result.steps == first.steps
                and result.threshold == first.threshold and result.settings == first.settings)
        if not same:
            raise ValueError("results must share seeds, steps, threshold and training settings")
    groups = [g for r in results for g in r.groups]
    if len(set(groups)) != len(groups):
        raise ValueError(f"results must cover different groups, got {groups}")
    offsets = np.cumsum([0] + [len(r.groups) for r in results[:-1]])
    order = np.argsort(np.concatenate([r.orders for r in results]), kind="stable")
    rank = np.argsort(order)  # new index of each old group

    def stacked(name):
        return np.concatenate([getattr(r, name) for r in results])[order]

    def runs(name):
        return np.concatenate([getattr(r, name) for r in results])

    run_group = rank[np.concatenate([r.run_group + o for r, o in zip(results, offsets)])]
    candidates = [c for r in results for c in r.candidates]
    return ScalingResult(
        tuple(groups[i] for i in order), stacked("orders"), first.seeds.copy(),
        tuple(candidates[i] for i in order), stacked("lower"), stacked("upper"),
        stacked("done"), run_group.astype(np.int64),
        runs("run_seed"), runs("run_size"), runs("run_steps"), runs("run_test_acc"),
        first.threshold, first.steps, dict(first.settings),
        any(r.stopped_early for r in results), float(sum(r.seconds for r in results)))
