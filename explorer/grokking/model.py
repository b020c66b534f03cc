"""The two-layer MLP ``h = act(U[a] + V[b])``, ``logits = W h``: weights, evaluation, gradients.

Everything numerical runs in the kernels of :mod:`explorer.grokking._kernels`; this module
validates inputs, holds the weights in a small frozen :class:`Params` and keeps the per-batch
work buffers in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_choice, check_range, make_rng
from explorer.grokking import _kernels
from explorer.grokking.tasks import MAX_MODULUS, Task

ACTIVATIONS = {"quadratic": _kernels.QUADRATIC, "relu": _kernels.RELU}
LOSSES = {"cross_entropy": _kernels.CROSS_ENTROPY, "mse": _kernels.MEAN_SQUARED_ERROR}
DTYPES = ("float32", "float64")
MAX_WIDTH = 4096
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


@dataclass(frozen=True)
class Params:
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
        dtype = np.asarray(self.U).dtype
        dtype = dtype if dtype.name in DTYPES else np.dtype(np.float64)
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

    @property
    def weight_norm(self) -> float:
        """Total sum of squared weights of U, V and W."""
        return float(_kernels._sum_of_squares(self.stacked()))

    def __iter__(self):
        """``U, V, W = params`` unpacks the three weight matrices."""
        return iter((self.U, self.V, self.W))

    def stacked(self) -> np.ndarray:
        """A fresh (3, p, N) array ``[U, V, W]``, the kernels' layout."""
        return np.stack([self.U, self.V, self.W])

    @classmethod
    def from_stacked(cls, theta: np.ndarray, activation: str = "quadratic") -> "Params":
        """Params from a (3, p, N) array ``[U, V, W]`` (copied)."""
        return cls(theta[0].copy(), theta[1].copy(), theta[2].copy(), activation)


def as_params(params) -> Params:
    """``params`` itself, or Params from a sequence ``(U, V, W)`` of (p, N) arrays (quadratic).

    Lets every probe and score take hand-built weights directly.
    """
    if isinstance(params, Params):
        return params
    try:
        U, V, W = params
    except (TypeError, ValueError):
        raise ValueError(f"params must be Params or a sequence (U, V, W) of (p, N) arrays, "
                         f"got {type(params).__name__}") from None
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


class Batch:
    """Pairs with labels plus the work buffers the kernels need for them (not public API).

    ``pre``, ``h`` and ``dh`` are (n, N); ``logits`` is (n, p) and doubles as dloss/dlogits.
    """

    def __init__(self, a, b, labels, p: int, width: int, dtype, with_gradient: bool):
        self.a, self.b, self.labels = a, b, labels
        n = len(labels)
        self.pre = np.empty((n, width), dtype)
        self.h = np.empty((n, width), dtype)
        self.logits = np.empty((n, p), dtype)
        self.dh = np.empty((n, width), dtype) if with_gradient else None
        self.row_loss = np.empty(n, np.float64)
        self.row_correct = np.empty(n, np.int64)

    def evaluate(self, theta, activation: int, loss_kind: int) -> tuple[float, float]:
        """Mean loss and accuracy of the weights ``theta`` (3, p, N) on these pairs."""
        return _kernels._evaluate(theta, self.a, self.b, self.labels, activation, loss_kind,
                                  self.pre, self.h, self.logits, self.row_loss, self.row_correct)


def _checked_pairs(params: Params, a, b, labels=None):
    a = check_array("a", a, ndim=1, dtype=np.int64)
    b = check_array("b", b, ndim=1, shape=a.shape, dtype=np.int64)
    arrays = [a, b] if labels is None else [a, b, check_array("labels", labels, ndim=1,
                                                              shape=a.shape, dtype=np.int64)]
    for name, array in zip(("a", "b", "labels"), arrays):
        if array.size and (array.min() < 0 or array.max() >= params.p):
            raise ValueError(f"{name} must hold integers in [0, {params.p - 1}] (p = {params.p})")
    return arrays


def logits(params: Params, a, b) -> np.ndarray:
    """``W act(U[a] + V[b])`` for each pair: ndarray of shape (n, p), in ``params.dtype``.

    Thin wrapper around the kernels ``_hidden`` and BLAS.
    """
    params = as_params(params)
    a, b = _checked_pairs(params, a, b)
    batch = Batch(a, b, np.zeros_like(a), params.p, params.width, params.dtype, False)
    _kernels._hidden(params.stacked(), a, b, ACTIVATIONS[params.activation], batch.pre, batch.h)
    return batch.h @ params.W.T


def loss_and_gradients(params: Params, a, b, labels, loss: str = "cross_entropy"):
    """Mean loss over the pairs and its gradient with respect to U, V and W.

    Thin wrapper around the kernel ``_loss_and_gradient`` used by training.

    Parameters
    ----------
    params : Params
    a, b, labels : array_like of int, shape (n,)
        Pairs and their target classes, all in [0, p).
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        Cross-entropy of the softmax, or the mean over classes of ``(logit - onehot)^2``;
        either is averaged over the pairs.

    Returns
    -------
    loss : float
    gradients : Params
        dloss/dU, dloss/dV, dloss/dW (same shapes and dtype as the weights).
    """
    check_choice("loss", loss, LOSSES)
    params = as_params(params)
    a, b, labels = _checked_pairs(params, a, b, labels)
    batch = Batch(a, b, labels, params.p, params.width, params.dtype, True)
    theta = params.stacked()
    grad = np.empty_like(theta)
    value, _ = _kernels._loss_and_gradient(
        theta, a, b, labels, ACTIVATIONS[params.activation], LOSSES[loss], grad, batch.pre,
        batch.h, batch.logits, batch.dh, batch.row_loss, batch.row_correct)
    return value, Params.from_stacked(grad, params.activation)


def accuracy(params: Params, task: Task, split: str = "all") -> float:
    """Fraction of pairs of ``task`` whose largest logit is the right answer.

    Parameters
    ----------
    params : Params or (U, V, W)
        Weights with ``p == task.p``; a plain triple of arrays means a quadratic network.
    task : Task
    split : {"all", "train", "test"}, default "all"
        Which pairs to score; ``"all"`` checks the whole table (a hand-built network).

    Returns
    -------
    float in [0, 1]
    """
    params = as_params(params)
    if params.p != task.p:
        raise ValueError(f"params must be for p = {task.p} (the task's modulus), got p = {params.p}")
    a, b, labels = task.split(split)
    batch = Batch(a, b, labels, params.p, params.width, params.dtype, False)
    _, correct = batch.evaluate(params.stacked(), ACTIVATIONS[params.activation],
                                _kernels.CROSS_ENTROPY)
    return float(correct)
