"""A deblender network ``D(x_alpha, alpha[, class])`` and its training with the IADB loss, in numba.

The network is an MLP ``(d + 1 [+ classes + 1]) -> width x depth -> d`` with ReLU or SiLU:
inputs are the blended point and alpha, and for a class-conditional deblender a one-hot class
slot, whose first-layer weights are a learned class embedding added to the first layer's
pre-activation (the last slot means "no class": with ``label_dropout`` the same network also
samples unconditionally). The official 2D tutorial's network is width 64, depth 4, ReLU,
trained with Adam (lr 1e-3) on minibatches of 256. Training draws ``x0`` from the source, ``x1``
from the target and ``alpha ~ U[0, 1)``, and minimises ``mean ||D((1-alpha) x0 + alpha x1,
alpha) - (x1 - x0)||^2`` (the squared norm, averaged over the minibatch). Forward pass,
backward pass and Adam all run in the compiled ``train_steps`` kernel; random numbers are
drawn with numpy beforehand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from explorer._validation import check_choice, check_range, make_rng
from explorer.blending import _inference_kernels, _network_kernels
from explorer.blending._checks import (MAX_CLASSES, MAX_DIM, check_alpha, check_labels,
                                       check_network_input, check_pair_work, check_points)

ACTIVATIONS = {"relu": _network_kernels.RELU, "silu": _network_kernels.SILU}
DTYPES = ("float32", "float64")
MAX_WIDTH, MAX_DEPTH = 1024, 32
#: Most multiply-adds per point of one step (batch x parameters): one step stays well under
#: a second, so a stop request is honoured within about one.
MAX_STEP_WORK = 5 * 10**8
#: Work (batch x parameters, summed over steps) between two checkpoints of the training loop.
CHUNK_WORK = 5 * 10**8
_CHUNK_NUMBERS = 2 * 10**7  # most random numbers drawn per chunk (memory)
_INFERENCE_BLOCK = 128  # points per parallel chunk of the forward pass (fits in L2)


def parameter_count(width: int, depth: int, dim: int = 2, classes: int = 0) -> int:
    """Weights and biases of the MLP ``(dim + 1 [+ classes + 1]) -> width x depth -> dim``.

    Examples
    --------
    >>> parameter_count(64, 4)
    12866
    """
    width = check_range("width", width, lo=1, hi=MAX_WIDTH, integer=True)
    depth = check_range("depth", depth, lo=1, hi=MAX_DEPTH, integer=True)
    dim = check_range("dim", dim, lo=1, hi=MAX_DIM, integer=True)
    classes = check_range("classes", classes, lo=0, hi=MAX_CLASSES, integer=True)
    n_in = dim + 1 + (classes + 1 if classes else 0)
    return (n_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * dim


@dataclass(frozen=True, eq=False)
class MLP:
    """The network ``D(x_alpha, alpha[, class]) = W_out h_depth + b_out``,
    ``h_1 = act(W_in [x, alpha, onehot(class)] + b_in)``, ``h_{l+1} = act(W_l h_l + b_l)``.

    Parameters
    ----------
    width : int
        Hidden units per layer, in [1, 1024].
    depth : int
        Hidden layers, in [1, 32].
    activation : {"relu", "silu"}
    params : ndarray of float32 or float64, shape (parameter_count(width, depth, dim, classes),)
        Layout: W_in (n_in, width), b_in, W_hidden (depth-1, width, width), b_hidden
        (depth-1, width), W_out (width, dim), b_out (dim,); a layer computes ``h @ W + b``.
        The last ``classes + 1`` rows of W_in are the class embedding (the very last one:
        "no class").
    dim : int, default 2
        The dimension d of the points, in [1, 4096].
    classes : int, default 0
        Number of classes of a conditional deblender (0: unconditional), in [0, 1000].
    """

    width: int
    depth: int
    activation: str
    params: np.ndarray
    dim: int = 2
    classes: int = 0

    def __post_init__(self):
        expected = parameter_count(self.width, self.depth, self.dim, self.classes)
        for name in ("width", "depth", "dim", "classes"):
            object.__setattr__(self, name, int(getattr(self, name)))
        check_choice("activation", self.activation, ACTIVATIONS)
        if not isinstance(self.params, np.ndarray):
            raise TypeError(f"params must be a numpy array, got {type(self.params).__name__}")
        check_choice("params dtype", self.params.dtype.name, DTYPES)
        if self.params.shape != (expected,):
            raise ValueError(f"params must have shape ({expected},) for width {self.width}, depth "
                             f"{self.depth}, dim {self.dim} and {self.classes} classes, got "
                             f"{self.params.shape}")
        params = np.array(self.params)
        params.flags.writeable = False
        object.__setattr__(self, "params", params)

    @property
    def dtype(self) -> np.dtype:
        return self.params.dtype

    @property
    def diverged(self) -> bool:
        """Whether any weight is NaN or infinite (the network of a training run that diverged)."""
        return not bool(np.isfinite(self.params).all())

    @property
    def n_inputs(self) -> int:
        """Input rows: d coordinates, alpha, and classes + 1 one-hot slots if conditional."""
        return self.dim + 1 + (self.classes + 1 if self.classes else 0)

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W, b) per layer, input to output, with W of shape (fan_in, fan_out) (views)."""
        w_in, b_in, w_hidden, b_hidden, w_out, b_out = _network_kernels._layers(
            self.params, self.n_inputs, self.width, self.depth, self.dim)
        return [(w_in, b_in), *zip(w_hidden, b_hidden), (w_out, b_out)]

    def slots(self, labels, n: int) -> np.ndarray:
        """The one-hot slot of each of n points: (n,) int64, or (0,) for an unconditional net.

        ``labels`` None means "no class" (the last slot) for a conditional network.
        """
        if not self.classes:
            if labels is not None:
                raise ValueError("labels can only be given to a network trained with labels "
                                 "(a class-conditional deblender)")
            return np.zeros(0, np.int64)
        if labels is None:
            return np.full(n, self.classes, np.int64)
        return check_labels(labels, n, self.classes)

    def _check_work(self, points: int) -> None:
        check_pair_work("x", float(points) * self.params.size)

    def __call__(self, x, alpha, labels=None) -> np.ndarray:
        """D(x, alpha[, labels]): x (n, d), alpha (n,) or scalar in [0, 1]; returns (n, d) float64.

        Thin wrapper around the parallel ``network_velocity`` kernel (blocks of points).
        """
        x = check_points("x", x, min_rows=0, dim=self.dim)
        alpha = check_alpha(alpha, x.shape[0], allow_one=True)
        slots = self.slots(labels, x.shape[0])
        self._check_work(x.shape[0])
        return _inference_kernels.network_velocity(
            self.params, self.n_inputs, self.width, self.depth, ACTIVATIONS[self.activation], x,
            alpha, slots, _INFERENCE_BLOCK)

    def loss_and_gradient(self, x_alpha, alpha, velocity, labels=None) -> tuple[float, np.ndarray]:
        """The IADB loss ``mean_b ||D(x_alpha_b, alpha_b) - velocity_b||^2`` and its gradient.

        Parameters
        ----------
        x_alpha : array-like, shape (n, d)
            Entries of magnitude at most 1e6.
        alpha : array-like, shape (n,), or scalar, in [0, 1]
        velocity : array-like, shape (n, d)
            The regression targets ``x1 - x0``, entries of magnitude at most 1e6.
        labels : array-like of int, shape (n,), optional
            Classes, for a conditional network.

        Returns
        -------
        (float, ndarray of shape (parameter_count,), in the network's dtype)
        """
        x_alpha = check_points("x_alpha", x_alpha, dim=self.dim)
        n = x_alpha.shape[0]
        alpha = check_alpha(alpha, n, allow_one=True)
        velocity = check_points("velocity", velocity, dim=self.dim)
        if velocity.shape != x_alpha.shape:
            raise ValueError(f"velocity must have shape {x_alpha.shape}, got {velocity.shape}")
        check_network_input("x_alpha", x_alpha)
        check_network_input("velocity", velocity)
        slots = self.slots(labels, n)
        self._check_work(n)
        work = Workspace(self, n, tile=n)
        work.set_inputs(x_alpha, alpha, slots)
        gradient = np.zeros_like(self.params)
        work.forward(self.params, n)
        loss = _network_kernels.iadb_loss_gradient(
            work.out[0], np.ascontiguousarray(velocity.T, dtype=self.dtype), n, n) / n
        work.backward(self.params, gradient, n)
        return loss, gradient


def init_mlp(width: int = 64, depth: int = 4, activation: str = "relu", seed=0,
             dtype: str = "float32", *, dim: int = 2, classes: int = 0) -> MLP:
    """An MLP with PyTorch's default initialisation: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Parameters
    ----------
    width : int, default 64
    depth : int, default 4
    activation : {"relu", "silu"}, default "relu"
    seed : int or numpy.random.Generator, default 0
    dtype : {"float32", "float64"}, default "float32"
        float32 trains about twice as fast; float64 for gradient checks.
    dim : int, default 2
        Dimension of the points, in [1, 4096].
    classes : int, default 0
        Classes of a conditional deblender, in [0, 1000].
    """
    check_choice("dtype", dtype, DTYPES)
    check_choice("activation", activation, ACTIVATIONS)
    params = np.empty(parameter_count(width, depth, dim, classes))
    shell = MLP(width, depth, activation, params, dim, classes)
    default_initialisation(params, shell.n_inputs, width, depth, dim, make_rng(seed))
    return replace(shell, params=params.astype(dtype))


def default_initialisation(params: np.ndarray, n_in: int, width: int, depth: int, n_out: int,
                           rng: np.random.Generator) -> None:
    """Fill flat float64 ``params`` layer by layer: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    w_in, b_in, w_hidden, b_hidden, w_out, b_out = _network_kernels._layers(params, n_in, width,
                                                                           depth, n_out)
    for weights, bias in [(w_in, b_in), *zip(w_hidden, b_hidden), (w_out, b_out)]:
        bound = 1.0 / math.sqrt(weights.shape[0])
        weights[...] = rng.uniform(-bound, bound, weights.shape)
        bias[...] = rng.uniform(-bound, bound, bias.shape)


class Workspace:
    """Buffers of one forward/backward pass over ``batch`` points, feature-major, in tiles.

    The batch is cut into ``tiles`` tiles of at most ``tile`` columns (the last may be
    shorter); every buffer has a leading tile axis.
    """

    def __init__(self, network, batch: int, n_inputs: int | None = None,
                 n_outputs: int | None = None, tile: int = _network_kernels.TILE):
        dtype, width, depth = network.dtype, network.width, network.depth
        self.network = network
        self.n_in = network.n_inputs if n_inputs is None else n_inputs
        self.n_out = network.dim if n_outputs is None else n_outputs
        self.tiles = -(-batch // tile)
        self.tile = -(-batch // self.tiles)
        shape = (self.tiles,)
        self.inputs = np.zeros((*shape, self.n_in, self.tile), dtype)
        self.velocity = np.empty((*shape, self.n_out, self.tile), dtype)
        self.post, self.delta = (np.empty((*shape, depth, width, self.tile), dtype) for _ in range(2))
        # ReLU applies in place and reads its derivative from its output; SiLU keeps its input
        self.pre = self.post if network.activation == "relu" else np.empty_like(self.post)
        self.out = np.empty((*shape, self.n_out, self.tile), dtype)
        self.scratch = np.empty((*shape, self.tile * max(width, self.n_out)), dtype)
        self.zeros = np.zeros(max(width, self.n_in), dtype)
        self.activation = ACTIVATIONS[network.activation]

    def set_inputs(self, x: np.ndarray, alpha: np.ndarray, slots: np.ndarray) -> None:
        """Inputs (x, alpha, one-hot slot) of n <= tile points into the first tile."""
        d, n = x.shape[1], x.shape[0]
        inputs = self.inputs[0]
        inputs[:d, :n] = x.T
        inputs[d, :n] = alpha
        if slots.size:
            inputs[d + 1:, :n] = 0.0
            inputs[d + 1 + slots, np.arange(n)] = 1.0

    def forward(self, theta, n: int) -> None:
        """Forward pass of the first tile's n columns."""
        _network_kernels.forward(theta, self.n_in, self.network.width, self.network.depth,
                                 self.n_out, self.activation, self.inputs[0], self.pre[0],
                                 self.post[0], self.out[0], n)

    def backward(self, theta, gradient, n: int) -> None:
        """Backward pass of the first tile's n columns (dloss/dout in ``out[0]``)."""
        _network_kernels.backward(theta, gradient, self.n_in, self.network.width,
                                  self.network.depth, self.n_out, self.activation, self.inputs[0],
                                  self.pre[0], self.post[0], self.out[0], self.delta[0],
                                  self.scratch[0], self.zeros, n)


class Adam:
    """Adam's state for one flat parameter vector (PyTorch's formulation, no weight decay)."""

    def __init__(self, params: np.ndarray, lr: float, betas, eps: float):
        self.lr = check_range("lr", lr, lo=0, hi=1, lo_open=True)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
        self.beta1, self.beta2 = (check_range(f"betas[{i}]", b, lo=0, hi=1, hi_open=True)
                                  for i, b in enumerate(betas))
        self.eps = check_range("eps", eps, lo=0, hi=1, lo_open=True)
        self.theta = np.array(params)
        self.m, self.v, self.gradient = (np.zeros_like(self.theta) for _ in range(3))
        self.step_counter = np.zeros(1, np.int64)

    @property
    def settings(self) -> tuple:
        return self.lr, self.beta1, self.beta2, self.eps


def chunk_steps(report_every: int, work_per_step: float, numbers_per_step: float) -> int:
    """Steps per compiled call: at most ``report_every``, and little enough work to checkpoint
    about every few tenths of a second (a cost model, so the chunks are the same on every
    machine and the random draws, made per chunk, do not depend on timing)."""
    return int(max(1, min(report_every, CHUNK_WORK // max(work_per_step, 1),
                          _CHUNK_NUMBERS // max(numbers_per_step, 1))))


def check_step_work(batch: int, parameters: int) -> None:
    """Refuse a network and batch whose single step would take more than about a second."""
    if batch * parameters > MAX_STEP_WORK:
        raise ValueError(f"batch must be at most {MAX_STEP_WORK // parameters} for a network of "
                         f"{parameters} parameters (batch x parameters at most {MAX_STEP_WORK:.0e}), "
                         f"got {batch}")

