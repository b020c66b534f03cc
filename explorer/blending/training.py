"""Training a deblender network with the IADB loss (Adam, minibatches), in bounded chunks.

``train_deblender`` draws each chunk's minibatches with numpy (source points, target points
and their classes, blend levels), then runs the compiled ``train_steps`` kernel on them. A
chunk is at most ``report_every`` steps and small enough by a cost model to finish in a few
tenths of a second, so that ``callback`` (checked between chunks) can stop training within
about a second at any setting.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from explorer._validation import check_callable, check_instance, check_range, make_rng
from explorer.blending import _network_kernels
from explorer.blending._checks import check_labels, check_points
from explorer.blending.network import (ACTIVATIONS, MLP, Adam, Workspace, check_step_work,
                                       chunk_steps, init_mlp)

#: Steps of a default training run, and of a quick one (``EXPLORER_QUICK=1``, tests, previews).
DEFAULT_STEPS = 10_000
QUICK_STEPS = 1_500


@dataclass(frozen=True, eq=False)
class TrainedDeblender:
    """A trained network, callable as a deblender, with its training record.

    Attributes
    ----------
    network : MLP
    loss_history : ndarray, shape (steps_done,)
        The minibatch loss of every step (before that step's update).
    diverged : bool
        The loss became NaN or infinite; training stopped there (its last entry shows it).
    stopped_early : bool
        The callback asked to stop.
    seconds : float
        Wall time of the training.
    """

    network: MLP
    loss_history: np.ndarray
    diverged: bool
    stopped_early: bool
    seconds: float

    def __call__(self, x, alpha, labels=None) -> np.ndarray:
        """D(x, alpha[, labels]) of the trained network (see :meth:`MLP.__call__`)."""
        return self.network(x, alpha, labels)

    @property
    def dim(self) -> int:
        return self.network.dim

    @property
    def classes(self) -> int:
        """Number of classes (0: unconditional)."""
        return self.network.classes

    @property
    def steps_done(self) -> int:
        return int(self.loss_history.shape[0])

    @property
    def steps_per_second(self) -> float:
        return self.steps_done / self.seconds if self.seconds > 0 else math.inf

    def smoothed_loss(self, points: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """The loss averaged over windows of ``steps_done / points`` steps: (step, mean loss).

        Parameters
        ----------
        points : int, default 50
            About how many windows, in [1, 10^6]; the step is the window's last (from 1).
        """
        points = check_range("points", points, lo=1, hi=10**6, integer=True)
        losses = self.loss_history[np.isfinite(self.loss_history)]
        window = max(1, losses.size // points)
        if losses.size < window:
            return np.zeros(0), np.zeros(0)
        means = np.convolve(losses, np.ones(window) / window, mode="valid")
        return np.arange(window, losses.size + 1, dtype=np.float64), means


def _dimension(target) -> int:
    if hasattr(target, "sample"):
        return check_points("target", target.sample(1, seed=0)).shape[1]
    return check_points("target", target).shape[1]


def _sampler(name: str, distribution, dim: int):
    """A function (count, rng, dtype) -> (count, d) points from a density or a point set."""
    if distribution is None:  # the standard Gaussian, drawn directly in the network's precision
        return lambda count, rng, dtype: rng.standard_normal((count, dim), dtype=dtype)
    if hasattr(distribution, "sample"):
        return lambda count, rng, dtype: check_points(
            name, distribution.sample(count, seed=rng), dim=dim).astype(dtype)
    points = check_points(name, distribution, dim=dim)
    return lambda count, rng, dtype: points[rng.integers(0, points.shape[0], count)].astype(dtype)


def _network(network, dim, classes, rng, width, depth, activation, dtype) -> MLP:
    if network is None:
        return init_mlp(width, depth, activation, rng, dtype, dim=dim, classes=classes)
    check_instance("network", network, MLP)
    if network.dim != dim or network.classes != classes:
        raise ValueError(f"network must have dim {dim} and {classes} classes for this target, "
                         f"got dim {network.dim} and {network.classes} classes")
    return network


def train_deblender(target, source=None, steps: int = DEFAULT_STEPS, batch: int = 256,
                    lr: float = 1e-3, seed=0, callback=None, *, labels=None,
                    label_dropout: float = 0.1, width: int = 64, depth: int = 4,
                    activation: str = "relu", dtype: str = "float32", network: MLP | None = None,
                    report_every: int = 100, betas=(0.9, 0.999), eps: float = 1e-8) -> TrainedDeblender:
    """Train an MLP deblender with the IADB loss (Adam, minibatches), all in numba.

    Thin wrapper around the compiled ``train_steps`` kernel, called in chunks (at most
    ``report_every`` steps, and about 3 GFLOP of work) with minibatches drawn beforehand from
    a numpy Generator. The same seed and settings give the same bits on every machine.

    Parameters
    ----------
    target : density or array-like of shape (m, d)
        Points x1: a density (anything with ``sample(n, seed)``, fresh points every step) or
        a finite point set (drawn from with replacement: the training set), d in [1, 4096].
    source : density or array-like of shape (k, d), optional
        Points x0; default the standard Gaussian N(0, I) of dimension d.
    steps : int, default DEFAULT_STEPS
        Adam steps, in [1, 10^7].
    batch : int, default 256
        Minibatch size, in [1, 65536]; batch x parameters at most 5e8 (one step stays well
        under a second).
    lr : float, default 1e-3
        Adam learning rate, in (0, 1].
    seed : int or numpy.random.Generator, default 0
        Seeds the initial weights and every minibatch; the same seed gives the same network.
    callback : callable, optional
        ``callback(progress)`` with a partial :class:`TrainedDeblender` after every chunk
        (every ``report_every`` steps, or more often for big networks) and at the end; a
        true return value stops training (``stopped_early``).
    labels : array-like of int, shape (m,), optional
        The class of each target point (``target`` must then be a point set), in [0, 999]:
        trains the conditional deblender ``D(x_alpha, alpha, class)``.
    label_dropout : float, default 0.1
        With ``labels``: the share of minibatch points shown with "no class" instead of
        theirs, in [0, 1], so that the network also samples without a class.
    width, depth, activation, dtype
        The network, see :func:`init_mlp` (ignored when ``network`` is given).
    network : MLP, optional
        Continue from these weights (with a fresh Adam state) instead of a new network.
    report_every : int, default 100
        Most steps between callbacks, in [1, 10^7].
    betas : pair of float, default (0.9, 0.999)
    eps : float, default 1e-8

    Returns
    -------
    TrainedDeblender
        Callable as a deblender; ``diverged`` is True if the loss stopped being finite.

    Examples
    --------
    >>> from explorer.blending import EightGaussians
    >>> trained = train_deblender(EightGaussians(), steps=20, batch=32, width=16, depth=2)
    >>> trained.loss_history.shape, trained(np.zeros((3, 2)), 0.5).shape
    ((20,), (3, 2))
    """
    dim = _dimension(target)
    draw_target = _sampler("target", target, dim)
    draw_source = _sampler("source", source, dim)
    steps = check_range("steps", steps, lo=1, hi=10**7, integer=True)
    batch = check_range("batch", batch, lo=1, hi=65536, integer=True)
    report_every = check_range("report_every", report_every, lo=1, hi=10**7, integer=True)
    label_dropout = check_range("label_dropout", label_dropout, lo=0, hi=1)
    check_callable("callback", callback)
    classes, target_labels = 0, None
    if labels is not None:
        if hasattr(target, "sample"):
            raise ValueError("labels need target to be a point set (one label per point), not a density")
        points = check_points("target", target)
        target_labels = check_labels(labels, points.shape[0])
        classes = int(target_labels.max()) + 1
        draw_target = None
    rng = make_rng(seed)
    network = _network(network, dim, classes, rng, width, depth, activation, dtype)
    optimiser = Adam(network.params, lr, betas, eps)
    check_step_work(batch, network.params.size)
    work = Workspace(network, batch)
    tile_gradients = np.empty((work.tiles, network.params.size), network.dtype)
    tile_losses = np.empty(work.tiles)
    chunk_size = chunk_steps(report_every, batch * network.params.size, batch * (2 * dim + 2))
    losses = np.empty(steps)
    start, done, diverged, stopped = time.perf_counter(), 0, False, False

    def progress() -> TrainedDeblender:
        return TrainedDeblender(replace(network, params=optimiser.theta.copy()), losses[:done].copy(),
                                diverged, stopped, time.perf_counter() - start)

    while done < steps and not (diverged or stopped):
        chunk = min(chunk_size, steps - done)
        count = chunk * batch
        x0 = draw_source(count, rng, network.dtype).reshape(chunk, batch, dim)
        if target_labels is None:
            x1 = draw_target(count, rng, network.dtype)
            alpha = rng.random(count, dtype=network.dtype)
            slots = np.zeros((chunk, 0), np.int64)
        else:
            picked = rng.integers(0, points.shape[0], count)
            x1 = points[picked].astype(network.dtype)
            alpha = rng.random(count, dtype=network.dtype)
            dropped = rng.random(count) < label_dropout
            slots = np.where(dropped, classes, target_labels[picked]).reshape(chunk, batch)
        completed = _network_kernels.train_steps(
            optimiser.theta, optimiser.m, optimiser.v, optimiser.step_counter, network.n_inputs,
            network.width, network.depth, ACTIVATIONS[network.activation], *optimiser.settings,
            x0, x1.reshape(chunk, batch, dim), alpha.reshape(chunk, batch), slots,
            losses[done:done + chunk], optimiser.gradient, tile_gradients, tile_losses,
            work.inputs, work.velocity, work.pre, work.post, work.out, work.delta, work.scratch,
            work.zeros)
        diverged = completed < chunk
        done += completed + diverged  # keep the non-finite loss in the history
        stopped = callback is not None and bool(callback(progress())) and done < steps
    return progress()

