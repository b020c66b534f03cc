"""The mutable state of one training run and the loop that advances it (private).

The loop runs the compiled training kernel in chunks: a chunk ends at the next record or
snapshot, and never holds more than about ``CHUNK_SECONDS`` of steps (sized from the speed of
the previous chunk), so a callback sees the run at least every ``CHECKPOINT_SECONDS`` and a
request to stop takes effect within about a second at any setting.
"""

from __future__ import annotations

import math
import time

import numpy as np

from explorer.grokking import _kernels
from explorer.grokking.grokfast import GrokfastEMA, GrokfastMA
from explorer.grokking.history import history_from_records
from explorer.grokking.model import LOSSES, threads_pay

OPTIMIZERS = {"adamw": _kernels.ADAMW, "adam": _kernels.ADAM, "sgd": _kernels.SGD}
CHUNK_SECONDS = 0.2
CHECKPOINT_SECONDS = 0.5
# a separate random stream for the batch order, so minibatches leave split and weights alone
_BATCH_STREAM = 1


def batch_rng(seed) -> np.random.Generator:
    """The generator of the minibatch order: a stream of its own for an integer seed."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_BATCH_STREAM,)))


class BatchSchedule:
    """The training rows of every step: all of them, or minibatches of shuffled epochs.

    Each epoch visits every training pair once, in a fresh random order; its last batch
    holds the remainder (as ``torch.split`` does in the Grokfast reference). The sequence
    depends only on the seed, not on how the run is cut into chunks.
    """

    def __init__(self, rows: int, batch_size: int | None, rng: np.random.Generator):
        self.rows = rows
        self.batch = rows if batch_size is None else min(batch_size, rows)
        self.full_batch = self.batch == rows
        self.rng = rng
        self.order = np.arange(rows)
        self.position = rows  # the first call shuffles

    def next(self, steps: int):
        """(row indices or None for all rows, starts, stops) of the next ``steps`` steps."""
        if self.full_batch:
            return None, np.zeros(steps, np.int64), np.full(steps, self.rows, np.int64)
        pieces, starts, stops, taken = [], np.empty(steps, np.int64), np.empty(steps, np.int64), 0
        for k in range(steps):
            if self.position == self.rows:
                self.order, self.position = self.rng.permutation(self.rows), 0
            size = min(self.batch, self.rows - self.position)
            pieces.append(self.order[self.position:self.position + size])
            starts[k], stops[k] = taken, taken + size
            self.position += size
            taken += size
        return np.concatenate(pieces), starts, stops


class ThreadChoice:
    """Whether the lanes of each chunk run on threads: the faster way, measured as it goes.

    Both ways give the same bits, so the choice only changes the speed. A second thread pays
    on a quiet machine and big steps; on a busy one its threads wait for each other. Each
    way is timed on a chunk, the faster is used, and the other is timed again every
    ``RETRY`` chunks because the machine's load changes.
    """

    RETRY = 20

    def __init__(self, possible: bool):
        self.possible = possible
        self.seconds = {True: None, False: None}
        self.chunks = 0

    def best(self) -> bool:
        known = {mode: s for mode, s in self.seconds.items() if s is not None}
        return self.possible and (not known or min(known, key=known.get))

    def choose(self) -> bool:
        """The way to run the next chunk."""
        if not self.possible:
            return False
        self.chunks += 1
        untried = [mode for mode, seconds in self.seconds.items() if seconds is None]
        if untried:
            return untried[0]
        return not self.best() if self.chunks % self.RETRY == 0 else self.best()

    def record(self, parallel: bool, seconds_per_step: float) -> None:
        """The speed of the chunk just run (the latest counts: the load changes)."""
        self.seconds[parallel] = seconds_per_step


class Trainer:
    """Weights, optimiser and filter state, batch order and work buffers of one run."""

    def __init__(self, config, task, params):
        self.model = params.model()
        self.theta = params.stacked()
        flat = self.theta.reshape(-1)
        dtype = self.theta.dtype
        self.grad, self.m, self.v = (np.zeros_like(flat) for _ in range(3))
        grokfast = config.grokfast
        ema = isinstance(grokfast, GrokfastEMA)
        ma = isinstance(grokfast, GrokfastMA)
        filter_mean = np.zeros(flat.size if ema else 1, dtype)
        window = np.zeros((grokfast.window, flat.size) if ma else (1, 1), dtype)
        window_sum = np.zeros(window.shape[1], np.float64)
        counters = np.zeros(2, np.int64)  # optimiser steps, gradients seen by the MA filter
        self.state = (self.grad, self.m, self.v, filter_mean, window, window_sum, counters)
        kind = _kernels.EMA_FILTER if ema else _kernels.MA_FILTER if ma else _kernels.NO_FILTER
        self.loss_kind = LOSSES[config.loss]
        self.settings = (self.loss_kind, OPTIMIZERS[config.optimizer], kind, float(config.lr),
                         float(config.weight_decay), float(config.betas[0]),
                         float(config.betas[1]), float(config.eps),
                         float(grokfast.alpha) if ema else 0.0,
                         float(grokfast.lamb) if grokfast is not None else 0.0,
                         int(config.warmup_steps))
        self.train_split, self.test_split = task.split("train"), task.split("test")
        rows = len(self.train_split[2])
        self.schedule = BatchSchedule(rows, config.batch_size, batch_rng(config.seed))
        self.train_work = self.model.workspace(self.schedule.batch, with_gradient=True)
        self.eval_work = self.model.workspace(max(rows, len(self.test_split[2])), False)
        self.threads = ThreadChoice(threads_pay(self.model, self.schedule.batch))

    def advance(self, steps: int) -> int:
        """Take up to ``steps`` steps; fewer only if the loss stopped being finite."""
        rows, starts, stops = self.schedule.next(steps)
        a, b, y = self.train_split if rows is None else (part[rows] for part in self.train_split)
        parallel = self.threads.choose()
        started = time.perf_counter()
        done, _ = self.model.train_steps(self.theta, self.state, self.train_work, a, b, y,
                                         starts, stops, self.settings, parallel)
        self.threads.record(parallel, (time.perf_counter() - started) / max(done, 1))
        return done

    def measure(self) -> tuple[float, float, float, float, float]:
        """(train loss, test loss, train accuracy, test accuracy, weight norm) right now."""
        parallel = (self.threads.best() if self.threads.possible
                    else threads_pay(self.model, len(self.test_split[2])))
        train_loss, train_acc = self.model.run_pass(self.theta, self.eval_work, *self.train_split,
                                                    self.loss_kind, False, parallel)
        test_loss, test_acc = self.model.run_pass(self.theta, self.eval_work, *self.test_split,
                                                  self.loss_kind, False, parallel)
        return train_loss, test_loss, train_acc, test_acc, _kernels._sum_of_squares(self.theta)

    def params(self):
        """A copy of the current weights as Params or TransformerParams."""
        return self.model.params(self.theta)


def training_loop(config, trainer: Trainer, callback):
    """Record, snapshot, call back and advance until done (see the module docstring).

    Returns (records, snapshot steps, snapshots, steps taken, diverged, stopped early).
    """
    records, snapshot_steps, snapshots = [], [], []
    step, diverged, stopped = 0, False, False
    every = [config.eval_every] + ([config.snapshot_every] if config.snapshot_every else [])
    step_seconds, last_callback = None, time.perf_counter()
    while True:
        finished = step >= config.steps or diverged
        recorded = finished or step % config.eval_every == 0
        if recorded:
            records.append((step, *trainer.measure()))
            diverged = diverged or not math.isfinite(records[-1][1])
            finished = finished or diverged
        if config.snapshot_every and (finished or step % config.snapshot_every == 0):
            snapshot_steps.append(step)
            snapshots.append(trainer.params())
        due = callback is not None and (
            recorded or time.perf_counter() - last_callback >= CHECKPOINT_SECONDS)
        stop = due and bool(callback(history_from_records(records, snapshot_steps, snapshots, step)))
        if due:
            last_callback = time.perf_counter()
        if finished or stop:
            stopped = stop and not finished
            if not recorded:  # stopped between records: the history ends with the weights
                records.append((step, *trainer.measure()))
            break
        chunk = min(config.steps, min((step // n + 1) * n for n in every)) - step
        chunk = min(chunk, 1 if step_seconds is None else max(1, int(CHUNK_SECONDS / step_seconds)))
        started = time.perf_counter()
        done = trainer.advance(chunk)
        step_seconds = (time.perf_counter() - started) / max(done, 1)
        diverged = done < chunk
        step += done
    if config.snapshot_every and snapshot_steps[-1] != step:
        snapshot_steps.append(step)
        snapshots.append(trainer.params())
    return records, snapshot_steps, snapshots, step, diverged, stopped
