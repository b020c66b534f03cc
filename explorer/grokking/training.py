"""Full-batch training of the modular-arithmetic MLP, with a history that streams to a callback.

:func:`train` validates its settings into a :class:`TrainConfig`, then runs the compiled
``_train_steps`` kernel in chunks of ``eval_every`` steps. Between chunks it records the
losses and accuracies on both splits (with the weights of that step), optionally keeps a
snapshot of the weights, and hands the partial :class:`History` to ``callback``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from explorer._jit import blas_threads
from explorer._validation import check_choice, check_range, make_rng
from explorer.grokking import _kernels
from explorer.grokking.grokfast import GrokfastEMA, GrokfastMA, as_filter
from explorer.grokking.model import (ACTIVATIONS, LOSSES, MAX_WIDTH, Batch, Params, check_dtype,
                                     init_params)
from explorer.grokking.tasks import MAX_MODULUS, Task, canonical_operation, make_task

#: Steps of the default run. At p = 97, width 256, train fraction 0.3, weight decay 1 the
#: training accuracy passes 99% at step ~300 and the test accuracy passes 95% at ~2600 and
#: 99% at ~3000 (seed 0; seed 1: 2550 and 2950), so 4000 steps grok with room to spare.
DEFAULT_STEPS = 4000
# one BLAS thread: the step's products are small (2823 x 256 x 97), so threads gain little
# and, when anything else wants the cores, make each step several times slower
TRAINING_BLAS_THREADS = 1
#: A small run that still groks (test accuracy 95% near step 600) in about a second: for
#: quick mode (``EXPLORER_QUICK=1``), tests and previews.
QUICK_SETTINGS = {"p": 41, "width": 128, "train_fraction": 0.4, "lr": 1e-2, "steps": 1000}
OPTIMIZERS = {"adamw": _kernels.ADAMW, "sgd": _kernels.SGD}
METRICS = ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run, validated on construction (see :func:`train`)."""

    p: int = 97
    width: int = 256
    op: str = "add"
    train_fraction: float = 0.3
    lr: float = 1e-3
    weight_decay: float = 1.0
    steps: int = DEFAULT_STEPS
    seed: int = 0
    grokfast: GrokfastEMA | GrokfastMA | None = None
    eval_every: int = 10
    betas: tuple = (0.9, 0.98)
    eps: float = 1e-8
    optimizer: str = "adamw"
    loss: str = "cross_entropy"
    activation: str = "quadratic"
    dtype: str = "float32"
    snapshot_every: int | None = None

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("p", check_range("p", self.p, lo=3, hi=MAX_MODULUS, integer=True))
        put("width", check_range("width", self.width, lo=1, hi=MAX_WIDTH, integer=True))
        put("op", canonical_operation(self.op))
        put("train_fraction", check_range("train_fraction", self.train_fraction, lo=0, hi=1,
                                          lo_open=True, hi_open=True))
        put("lr", check_range("lr", self.lr, lo=0, hi=10, lo_open=True))
        # decoupled decay multiplies the weights by 1 - lr * weight_decay each step
        put("weight_decay", check_range("weight_decay", self.weight_decay, lo=0, hi=1 / self.lr))
        put("steps", check_range("steps", self.steps, lo=1, hi=10**7, integer=True))
        make_rng(self.seed)
        put("grokfast", as_filter(self.grokfast))
        put("eval_every", check_range("eval_every", self.eval_every, lo=1, integer=True))
        try:
            beta1, beta2 = self.betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {self.betas!r}") from None
        put("betas", (check_range("betas[0]", beta1, lo=0, hi=1, hi_open=True),
                      check_range("betas[1]", beta2, lo=0, hi=1, hi_open=True)))
        put("eps", check_range("eps", self.eps, lo=0, hi=1, lo_open=True))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("activation", self.activation, ACTIVATIONS)
        put("dtype", check_dtype(self.dtype).name)
        if self.snapshot_every is not None:
            put("snapshot_every", check_range("snapshot_every", self.snapshot_every, lo=1,
                                              integer=True))

    def make_task(self) -> Task:
        """The run's task (the same split as the run's, for an integer seed)."""
        return make_task(self.p, self.op, self.train_fraction, self.seed)


@dataclass(frozen=True)
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
        Total sum of squared weights of U, V and W.
    snapshot_step : ndarray of int64, shape (s,)
        Steps at which weights were kept (every ``snapshot_every`` steps, and the last).
    snapshots : tuple of Params, length s
    """

    step: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    weight_norm: np.ndarray
    snapshot_step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    snapshots: tuple = ()

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


@dataclass(frozen=True)
class Run:
    """A finished (or stopped, or diverged) training run.

    Attributes
    ----------
    config : TrainConfig
    task : Task
    params : Params
        The weights at the last recorded step.
    history : History
    diverged : bool
        The loss became NaN or infinite; training stopped there (the last record shows it).
    stopped_early : bool
        The callback asked to stop before ``config.steps``.
    seconds : float
        Wall time of the whole run, evaluations included.
    """

    config: TrainConfig
    task: Task
    params: Params
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


class _Trainer:
    """The mutable state of one run: weights, optimiser and filter state, work buffers."""

    def __init__(self, config: TrainConfig, task: Task, params: Params):
        self.config = config
        self.theta = params.stacked()
        dtype = self.theta.dtype
        self.grad = np.zeros_like(self.theta)
        self.m = np.zeros_like(self.theta)
        self.v = np.zeros_like(self.theta)
        self.counters = np.zeros(2, np.int64)  # optimiser steps, gradients seen by the MA filter
        grokfast = config.grokfast
        self.filter_mean = np.zeros_like(self.theta if isinstance(grokfast, GrokfastEMA)
                                         else self.theta[:1, :1, :1])
        window_shape = ((grokfast.window, self.theta.size) if isinstance(grokfast, GrokfastMA)
                        else (1, 1))
        self.window = np.zeros(window_shape, dtype)
        self.window_sum = np.zeros(window_shape[1], np.float64)
        self.filter_kind, self.lamb, self.alpha = _kernels.NO_FILTER, 0.0, 0.0
        if isinstance(grokfast, GrokfastEMA):
            self.filter_kind, self.lamb, self.alpha = _kernels.EMA_FILTER, grokfast.lamb, grokfast.alpha
        elif isinstance(grokfast, GrokfastMA):
            self.filter_kind, self.lamb = _kernels.MA_FILTER, grokfast.lamb
        self.activation = ACTIVATIONS[config.activation]
        self.loss_kind = LOSSES[config.loss]
        self.train = Batch(*task.split("train"), task.p, config.width, dtype, True)
        self.test = Batch(*task.split("test"), task.p, config.width, dtype, False)

    def advance(self, steps: int) -> int:
        """Take up to ``steps`` steps; fewer only if the loss stopped being finite."""
        c = self.config
        done, _ = _kernels._train_steps(
            self.theta, self.grad, self.m, self.v, self.filter_mean, self.window,
            self.window_sum, self.counters, self.train.a, self.train.b, self.train.labels,
            self.activation, self.loss_kind, OPTIMIZERS[c.optimizer], self.filter_kind, c.lr,
            c.weight_decay, c.betas[0], c.betas[1], c.eps, self.alpha, self.lamb, steps,
            self.train.pre, self.train.h, self.train.logits, self.train.dh, self.train.row_loss,
            self.train.row_correct)
        return done

    def measure(self) -> tuple[float, float, float, float, float]:
        """(train loss, test loss, train accuracy, test accuracy, weight norm) right now."""
        train_loss, train_acc = self.train.evaluate(self.theta, self.activation, self.loss_kind)
        test_loss, test_acc = self.test.evaluate(self.theta, self.activation, self.loss_kind)
        return train_loss, test_loss, train_acc, test_acc, _kernels._sum_of_squares(self.theta)


def _history(records: list, snapshot_steps: list, snapshots: list) -> History:
    columns = np.array(records, dtype=np.float64).reshape(-1, 6).T
    return History(columns[0].astype(np.int64), *columns[1:],
                   snapshot_step=np.array(snapshot_steps, dtype=np.int64),
                   snapshots=tuple(snapshots))


def _training_loop(config, trainer, callback, every):
    """Evaluate, snapshot, call back and advance until done; returns what was recorded."""
    records, snapshot_steps, snapshots = [], [], []
    step, diverged, stopped = 0, False, False
    while True:
        finished = step >= config.steps or diverged
        recorded = finished or step % config.eval_every == 0
        if recorded:
            records.append((step, *trainer.measure()))
            diverged = diverged or not math.isfinite(records[-1][1])
            finished = finished or diverged
        if config.snapshot_every and (finished or step % config.snapshot_every == 0):
            snapshot_steps.append(step)
            snapshots.append(Params.from_stacked(trainer.theta, config.activation))
        stop = (recorded and callback is not None
                and bool(callback(_history(records, snapshot_steps, snapshots))))
        if finished or stop:
            stopped = stop and not finished
            break
        target = min(config.steps, min((step // n + 1) * n for n in every))
        done = trainer.advance(target - step)
        diverged = done < target - step
        step += done
    return records, snapshot_steps, snapshots, step, diverged, stopped


def train_from_config(config: TrainConfig, callback=None) -> Run:
    """Run the training described by ``config`` (see :func:`train` for the callback)."""
    start = time.perf_counter()
    task = config.make_task()
    trainer = _Trainer(config, task, init_params(config.p, config.width, config.seed,
                                                 config.dtype, config.activation))
    every = [config.eval_every] + ([config.snapshot_every] if config.snapshot_every else [])
    with blas_threads(TRAINING_BLAS_THREADS):
        records, snapshot_steps, snapshots, step, diverged, stopped = _training_loop(
            config, trainer, callback, every)
    if config.snapshot_every and snapshot_steps[-1] != step:
        snapshot_steps.append(step)
        snapshots.append(Params.from_stacked(trainer.theta, config.activation))
    return Run(config, task, Params.from_stacked(trainer.theta, config.activation),
               _history(records, snapshot_steps, snapshots), diverged, stopped,
               time.perf_counter() - start)


def train(p: int = 97, width: int = 256, op: str = "add", train_fraction: float = 0.3,
          lr: float = 1e-3, weight_decay: float = 1.0, steps: int = DEFAULT_STEPS, seed=0,
          grokfast=None, eval_every: int = 10, callback=None, **options) -> Run:
    """Train the MLP ``logits = W act(U[a] + V[b])`` full-batch on ``(a op b) mod p``.

    Thin wrapper around the compiled ``_train_steps`` kernel (forward, backward, Grokfast
    filter and optimiser step all run in numba; the big products go to BLAS).

    Parameters
    ----------
    p : int, default 97
        Modulus in [3, 512].
    width : int, default 256
        Hidden neurons N in [1, 4096].
    op : {"add", "subtract", "multiply", "sum_of_squares"}, default "add"
        The operation; ``"x^2 + y^2"`` is accepted for ``"sum_of_squares"``.
    train_fraction : float, default 0.3
        Fraction of the p^2 pairs to train on, in (0, 1).
    lr : float, default 1e-3
        Learning rate, in (0, 10].
    weight_decay : float, default 1.0
        Decoupled weight decay (each step multiplies the weights by ``1 - lr *
        weight_decay``), in [0, 1 / lr].
    steps : int, default DEFAULT_STEPS
        Optimiser steps, in [1, 10^7].
    seed : int or numpy.random.Generator, default 0
        Seeds the train/test split and the initial weights; the same seed gives the same run.
    grokfast : GrokfastEMA, GrokfastMA, "ema", "ma" or None, default None
        Gradient filter between the gradient and the optimiser step.
    eval_every : int, default 10
        Steps between records of the metrics (>= 1); the callback is called at each record.
    callback : callable, optional
        ``callback(history)`` with the partial :class:`History` after each record (the
        first at step 0, the last at the end); a true return value stops training there
        (``Run.stopped_early``).
    **options
        Further :class:`TrainConfig` fields: ``betas`` (default (0.9, 0.98)), ``eps``
        (1e-8), ``optimizer`` ("adamw" or "sgd"), ``loss`` ("cross_entropy" or "mse"),
        ``activation`` ("quadratic" or "relu"), ``dtype`` ("float32" or "float64"),
        ``snapshot_every`` (keep the weights every that many steps; default None: none).

    Returns
    -------
    Run
        Diverging runs (NaN or inf loss) stop and come back with ``diverged=True``.

    Examples
    --------
    >>> run = train(p=11, width=32, steps=50, eval_every=25)
    >>> run.history.step.tolist()
    [0, 25, 50]
    """
    unknown = set(options) - {f for f in TrainConfig.__dataclass_fields__}
    if unknown:
        raise ValueError(f"unknown training option(s) {sorted(unknown)}; allowed: "
                         f"{sorted(TrainConfig.__dataclass_fields__)}")
    config = TrainConfig(p=p, width=width, op=op, train_fraction=train_fraction, lr=lr,
                         weight_decay=weight_decay, steps=steps, seed=seed, grokfast=grokfast,
                         eval_every=eval_every, **options)
    return train_from_config(config, callback)

