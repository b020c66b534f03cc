"""The two-layer MLP ``h = act(U[a] + V[b])``, ``logits = W h``, and what both models share.

Everything numerical runs in the kernels of :mod:`explorer.grokking._kernels`; this module
validates inputs, holds the weights in a small frozen :class:`Params` and keeps the per-batch
work buffers in one place. :func:`logits`, :func:`loss_and_gradients` and :func:`accuracy`
take the weights of either model (:class:`Params` or
:class:`~explorer.grokking.TransformerParams`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from explorer._validation import (check_array, check_choice, check_instance, check_range,
                                  make_rng)
from explorer.grokking import _kernels
from explorer.grokking.tasks import MAX_MODULUS, SPLITS, Task

ACTIVATIONS = {"quadratic": _kernels.QUADRATIC, "relu": _kernels.RELU}
LOSSES = {"cross_entropy": _kernels.CROSS_ENTROPY, "mse": _kernels.MEAN_SQUARED_ERROR}
DTYPES = ("float32", "float64")
MAX_WIDTH = 4096
#: Work-buffer memory of one lane; larger batches are processed in blocks of rows.
BLOCK_BYTES = 32 * 2**20
#: Multiply-adds of a pass below which its lanes run on one thread: starting a parallel
#: region costs tens of microseconds, and a busy machine makes the threads wait for each other.
PARALLEL_MIN_WORK = 20_000_000
#: Neurons of the analytic solution that share a frequency and cancel each other's
#: phase-dependent terms exactly (see :func:`analytic_solution`).
PHASE_GROUP = 6


def check_dtype(dtype) -> np.dtype:
    """``dtype`` as a numpy dtype if it is float32 or float64; ValueError naming it otherwise."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = repr(dtype)
    return np.dtype(check_choice("dtype", name, DTYPES))


class ModelParams:
    """What the weights of every model provide (a base class; see :class:`Params` and
    :class:`~explorer.grokking.TransformerParams`)."""

    @property
    def p(self) -> int:
        """The number of tokens a, b and of answer classes (the modulus or group order)."""
        raise NotImplementedError

    @property
    def dtype(self) -> np.dtype:
        raise NotImplementedError

    def stacked(self) -> np.ndarray:
        """A fresh copy of all weights in the layout the kernels train."""
        raise NotImplementedError

    def model(self):
        """The private description of the architecture the kernels run."""
        raise NotImplementedError

    @property
    def weight_norm(self) -> float:
        """Total sum of squared weights."""
        return float(_kernels._sum_of_squares(self.stacked()))

    @property
    def diverged(self) -> bool:
        """Whether any weight is NaN or infinite (the weights of a training run that diverged)."""
        return not bool(np.isfinite(self.stacked()).all())


@dataclass(frozen=True, eq=False)
class Params(ModelParams):
    """Weights of the MLP: ``logits[q] = sum_n W[q, n] act(U[a, n] + V[b, n])``.

    Attributes
    ----------
    U, V : ndarray, shape (p, N)
        Input weights of the first and second token (row = token, column = neuron).
    W : ndarray, shape (p, N)
        Output weights (row = output class, column = neuron).
    activation : {"quadratic", "relu"}
        The activation ``act``: ``x**2`` or ``max(x, 0)``.
    """

    U: np.ndarray
    V: np.ndarray
    W: np.ndarray
    activation: str = "quadratic"

    def __post_init__(self):
        check_choice("activation", self.activation, ACTIVATIONS)
        dtype = weights_dtype(self.U)
        U = check_array("U", self.U, ndim=2, dtype=dtype, finite=False)
        for name in ("U", "V", "W"):
            array = check_array(name, getattr(self, name), ndim=2, shape=U.shape, dtype=dtype,
                                finite=False)
            object.__setattr__(self, name, array)
        check_range("p (rows of U)", U.shape[0], lo=3, hi=MAX_MODULUS, integer=True)

    @property
    def p(self) -> int:
        """The modulus (number of tokens and of classes)."""
        return self.U.shape[0]

    @property
    def width(self) -> int:
        """The number of hidden neurons N."""
        return self.U.shape[1]

    @property
    def dtype(self) -> np.dtype:
        return self.U.dtype

    def model(self) -> MLPModel:
        return MLPModel(self.p, self.width, self.activation, self.dtype)

    def __iter__(self):
        """``U, V, W = params`` unpacks the three weight matrices."""
        return iter((self.U, self.V, self.W))

    def stacked(self) -> np.ndarray:
        """A fresh (3, p, N) array ``[U, V, W]``, the kernels' layout."""
        return np.stack([self.U, self.V, self.W])

    @classmethod
    def from_stacked(cls, theta: np.ndarray, activation: str = "quadratic") -> Params:
        """Params from a (3, p, N) array ``[U, V, W]`` (copied)."""
        theta = check_array("theta", theta, dtype=weights_dtype(theta), finite=False)
        if theta.ndim != 3 or theta.shape[0] != 3:
            raise ValueError(f"theta must have shape (3, p, N), got {theta.shape}")
        return cls(theta[0].copy(), theta[1].copy(), theta[2].copy(), activation)


def weights_dtype(weights) -> np.dtype:
    """The dtype weights keep (float32 or float64; float64 for anything else, ragged lists
    included: those are refused by the array check that follows)."""
    dtype = getattr(weights, "dtype", None)
    return dtype if dtype is not None and np.dtype(dtype).name in DTYPES else np.dtype(np.float64)


def as_params(params) -> ModelParams:
    """``params`` itself (Params or TransformerParams), or Params from a sequence
    ``(U, V, W)`` of (p, N) arrays (quadratic).

    Lets every probe and score take hand-built weights directly. A ``TypeError`` names
    ``params`` when it is neither; a ``ValueError`` when the sequence has the wrong length.
    """
    if isinstance(params, ModelParams):
        return params
    if isinstance(params, (str, bytes)) or not hasattr(params, "__len__"):
        raise TypeError(f"params must be Params, TransformerParams or a sequence (U, V, W) of "
                        f"(p, N) arrays, got {type(params).__name__}")
    if len(params) != 3:
        raise ValueError(f"params must be a sequence (U, V, W) of three (p, N) arrays, got "
                         f"{len(params)} item(s)")
    U, V, W = params
    return Params(U, V, W)


def init_params(p: int = 97, width: int = 256, seed=0, dtype="float32",
                activation: str = "quadratic") -> Params:
    """Random initial weights: entries normal with standard deviation ``1 / sqrt(fan_in)``.

    The first layer sees the one-hot pair (fan-in 2p), the second the hidden layer (fan-in N).

    Parameters
    ----------
    p : int, default 97
        Modulus in [3, 512].
    width : int, default 256
        Hidden neurons N in [1, 4096].
    seed : int or numpy.random.Generator, default 0
    dtype : {"float32", "float64"}, default "float32"
    activation : {"quadratic", "relu"}, default "quadratic"

    Returns
    -------
    Params
    """
    p = check_range("p", p, lo=3, hi=MAX_MODULUS, integer=True)
    width = check_range("width", width, lo=1, hi=MAX_WIDTH, integer=True)
    dtype = check_dtype(dtype)
    check_choice("activation", activation, ACTIVATIONS)
    rng = make_rng(seed)
    embedding = rng.standard_normal((2, p, width)) / math.sqrt(2 * p)
    output = rng.standard_normal((p, width)) / math.sqrt(width)
    return Params(*embedding.astype(dtype), output.astype(dtype), activation)


def analytic_solution(p: int = 97, width: int = 256, seed=0, dtype="float64") -> Params:
    """Gromov's hand-built solution of modular addition (quadratic activation).

    ``U[a, n] = cos(2 pi s_n a / p + phi_n)``, ``V[b, n] = cos(2 pi s_n b / p + psi_n)``,
    ``W[q, n] = cos(2 pi s_n q / p + phi_n + psi_n)``. The cross term of ``(U[a] + V[b])^2``
    holds ``cos(2 pi s (a + b) / p + phi + psi)``; summed against W over neurons it peaks at
    ``q = (a + b) mod p``. Every other term carries a phase factor ``exp(i (m phi + l psi))``
    with (m, l) among (1, 1), (2, 2), (2, 0), (0, 2), (1, -1), (3, 1), (1, 3). Gromov draws the
    phases at random so that these terms average out over many neurons. Here neurons come in
    groups of six sharing one frequency, with random phases ``(phi, psi)`` for the group and
    ``(phi + 2 pi k / 6, psi + 2 pi 4 k / 6)`` for member k = 0..5: ``m + 4 l`` is never a
    multiple of 6 for those (m, l), so the six phase factors sum to exactly zero and every
    complete group contributes only the peak. Groups cycle over the frequencies
    ``1..(p - 1) / 2``. Any width of at least six is then exact (one frequency already peaks
    only at the answer because p is prime); the last ``width mod 6`` neurons keep random,
    uncancelled phases.

    Parameters
    ----------
    p : int, default 97
        Modulus in [3, 512].
    width : int, default 256
        Neurons N in [1, 4096].
    seed : int or numpy.random.Generator, default 0
        Seed of the phases.
    dtype : {"float32", "float64"}, default "float64"

    Returns
    -------
    Params
        Weights for ``activation="quadratic"``.

    Examples
    --------
    >>> from explorer.grokking import accuracy, make_task
    >>> accuracy(analytic_solution(p=31, width=128), make_task(p=31))
    1.0
    """
    p = check_range("p", p, lo=3, hi=MAX_MODULUS, integer=True)
    width = check_range("width", width, lo=1, hi=MAX_WIDTH, integer=True)
    dtype = check_dtype(dtype)
    rng = make_rng(seed)
    phi, psi = rng.uniform(0.0, 2.0 * math.pi, size=(2, width))
    group, member = np.divmod(np.arange(width), PHASE_GROUP)
    complete = group < width // PHASE_GROUP
    first = group * PHASE_GROUP  # a complete group turns its first member's phases
    phi = np.where(complete, phi[first] + 2.0 * math.pi * member / PHASE_GROUP, phi)
    psi = np.where(complete, psi[first] + 2.0 * math.pi * 4 * member / PHASE_GROUP, psi)
    frequency = 1 + group % ((p - 1) // 2)
    angle = 2.0 * math.pi * np.outer(np.arange(p), frequency) / p
    return Params(np.cos(angle + phi).astype(dtype), np.cos(angle + psi).astype(dtype),
                  np.cos(angle + phi + psi).astype(dtype), "quadratic")


def threads_pay(model, rows: int) -> bool:
    """Whether a pass over ``rows`` rows is big enough to put its lanes on two threads."""
    return rows * model.work_per_row() >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1


def block_rows(rows: int, floats_per_row: int, itemsize: int) -> int:
    """Rows per block of one lane: all of the lane's rows, unless their work buffers would
    pass BLOCK_BYTES. A function of the sizes alone (never of the thread count), so the
    order of every sum, and with it every bit, is fixed by the settings."""
    per_lane = -(-rows // _kernels.LANES)
    return max(1, min(per_lane, BLOCK_BYTES // (floats_per_row * itemsize)))


class Workspace:
    """Work buffers for passes over up to ``rows`` rows (not public API).

    Attributes: ``block`` (rows per block), ``row_loss`` and ``row_correct`` (one entry per
    row), ``lane_grad`` (one gradient per lane, or an empty array without gradients) and
    ``buffers`` (the model's per-lane arrays, in the order its kernel takes them).
    """

    def __init__(self, rows: int, block: int, lane_grad: np.ndarray, buffers: tuple):
        self.rows, self.block, self.lane_grad, self.buffers = rows, block, lane_grad, buffers
        self.row_loss = np.empty(rows, np.float64)
        self.row_correct = np.empty(rows, np.int64)


class MLPModel:
    """What the trainer needs of the MLP: its weight layout, buffers and kernels (private)."""

    name = "mlp"

    def __init__(self, p: int, width: int, activation: str, dtype):
        self.p, self.width, self.activation = p, width, activation
        self.dtype = np.dtype(dtype)
        self.theta_shape = (3, p, width)

    def workspace(self, rows: int, with_gradient: bool) -> Workspace:
        lanes, p, width = _kernels.LANES, self.p, self.width
        block = block_rows(rows, 3 * width + p, self.dtype.itemsize)
        grad_shape = (lanes, *self.theta_shape) if with_gradient else (lanes, 3, 0, 0)
        lane_grad = np.empty(grad_shape, self.dtype)
        buffers = (np.empty(grad_shape, self.dtype), np.empty((lanes, block, width), self.dtype),
                   np.empty((lanes, block, width), self.dtype),
                   np.empty((lanes, block, p), self.dtype),
                   np.empty((lanes, block if with_gradient else 0, width), self.dtype))
        return Workspace(rows, block, lane_grad, buffers)

    def work_per_row(self) -> int:
        """Multiply-adds of one row's forward and backward pass (for the choice of threads)."""
        return 3 * self.width * self.p

    def run_pass(self, theta, work: Workspace, a, b, y, loss_kind: int, with_gradient: bool,
                 parallel: bool | None = None):
        """Mean loss and accuracy over the rows; the gradient's lane sums in ``work.lane_grad``.

        ``parallel``: lanes on threads (None: when :func:`threads_pay`); the same bits.
        """
        parallel = threads_pay(self, len(a)) if parallel is None else parallel
        kernel = _kernels._mlp_pass if parallel else _kernels._mlp_pass_serial
        return kernel(theta, a, b, y, ACTIVATIONS[self.activation], loss_kind, with_gradient,
                      work.block, work.lane_grad, *work.buffers, work.row_loss, work.row_correct)

    def train_steps(self, theta, state, work: Workspace, a, b, y, starts, stops, settings,
                    parallel: bool):
        """``len(starts)`` optimiser steps (see ``_kernels._train_steps_mlp``)."""
        return _kernels._train_steps_mlp(theta, *state, a, b, y, starts, stops, parallel,
                                         ACTIVATIONS[self.activation], *settings, work.block,
                                         work.lane_grad, *work.buffers, work.row_loss,
                                         work.row_correct)

    def logits(self, theta, a, b) -> np.ndarray:
        """(n, p) logits of the pairs, computed a block of rows at a time."""
        theta = theta.reshape(self.theta_shape)
        out = np.empty((len(a), self.p), self.dtype)
        block = max(1, BLOCK_BYTES // (2 * self.width * self.dtype.itemsize))
        pre = np.empty((min(block, len(a)), self.width), self.dtype)
        hidden = np.empty_like(pre)
        for lo in range(0, len(a), block):
            rows = slice(lo, lo + block)
            n = len(a[rows])
            _kernels._hidden(theta, a[rows], b[rows], ACTIVATIONS[self.activation], pre[:n],
                             hidden[:n])
            np.dot(hidden[:n], theta[2].T, out[rows])
        return out

    def params(self, theta) -> Params:
        """Params holding a copy of ``theta``."""
        return Params.from_stacked(theta.reshape(self.theta_shape), self.activation)


def _checked_pairs(params: ModelParams, a, b, labels=None):
    a = check_array("a", a, ndim=1, dtype=np.int64)
    b = check_array("b", b, ndim=1, shape=a.shape, dtype=np.int64)
    arrays = [a, b] if labels is None else [a, b, check_array("labels", labels, ndim=1,
                                                              shape=a.shape, dtype=np.int64)]
    for name, array in zip(("a", "b", "labels"), arrays):
        if array.size and (array.min() < 0 or array.max() >= params.p):
            raise ValueError(f"{name} must hold integers in [0, {params.p - 1}] (p = {params.p})")
    return arrays


def logits(params: ModelParams, a, b) -> np.ndarray:
    """The logits of each pair: ndarray of shape (n, p), in ``params.dtype``.

    For the MLP ``W act(U[a] + V[b])``; for the transformer its output at the "=" token.
    Thin wrapper around the models' forward kernels (``_mlp_pass`` or ``_transformer_pass``).
    """
    params = as_params(params)
    a, b = _checked_pairs(params, a, b)
    return params.model().logits(params.stacked(), a, b)


def loss_and_gradients(params: ModelParams, a, b, labels, loss: str = "cross_entropy"):
    """Mean loss over the pairs and its gradient with respect to every weight.

    Thin wrapper around the forward and backward kernels training uses.

    Parameters
    ----------
    params : Params or TransformerParams
    a, b, labels : array_like of int, shape (n,)
        Pairs and their target classes, all in [0, p).
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        Cross-entropy of the softmax, or the mean over classes of ``(logit - onehot)^2``;
        either is averaged over the pairs.

    Returns
    -------
    loss : float
    gradients : Params or TransformerParams
        The gradient, with the same shapes and dtype as the weights.
    """
    check_choice("loss", loss, LOSSES)
    params = as_params(params)
    if labels is None:
        raise TypeError("labels must be an array of int (the answers to a op b), got None")
    a, b, labels = _checked_pairs(params, a, b, labels)
    model = params.model()
    work = model.workspace(len(a), with_gradient=True)
    value, _ = model.run_pass(params.stacked(), work, a, b, labels, LOSSES[loss], True)
    grad = np.empty(work.lane_grad[0].size, params.dtype)
    _kernels._sum_lanes(work.lane_grad.reshape(_kernels.LANES, -1), grad)
    return value, model.params(grad)


def accuracy(params: ModelParams, task: Task, split: str = "all") -> float:
    """Fraction of pairs of ``task`` whose largest logit is the right answer.

    Parameters
    ----------
    params : Params, TransformerParams or (U, V, W)
        Weights with ``p == task.p``; a plain triple of arrays means a quadratic MLP.
    task : Task
    split : {"all", "train", "test"}, default "all"
        Which pairs to score; ``"all"`` checks the whole table (a hand-built network).

    Returns
    -------
    float in [0, 1]
    """
    params = as_params(params)
    check_instance("task", task, Task)
    if params.p != task.p:
        raise ValueError(f"params must be for p = {task.p} (the task's modulus), got p = {params.p}")
    a, b, labels = task.split(check_choice("split", split, SPLITS))
    model = params.model()
    work = model.workspace(len(a), with_gradient=False)
    _, correct = model.run_pass(params.stacked(), work, a, b, labels, _kernels.CROSS_ENTROPY, False)
    return float(correct)
