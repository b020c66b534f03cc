"""A deblender network ``D(x_alpha, alpha)`` and its training with the IADB loss, in numba.

The network is an MLP ``3 -> width x depth -> 2`` (inputs: the blended point and alpha) with
ReLU or SiLU; the official 2D tutorial's is width 64, depth 4, ReLU, trained with Adam (lr
1e-3) on minibatches of 256. Training draws ``x0`` from the source, ``x1`` from the target and
``alpha ~ U[0, 1)``, and minimises ``mean ||D((1-alpha) x0 + alpha x1, alpha) - (x1 - x0)||^2``
(the squared norm, averaged over the minibatch). Forward pass, backward pass and Adam all run
in the compiled ``train_steps`` kernel; random numbers are drawn with numpy beforehand.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from explorer._validation import check_choice, check_range, make_rng
from explorer.blending import _network_kernels
from explorer.blending._checks import check_alpha, check_points
from explorer.blending.densities import Gaussian

ACTIVATIONS = {"relu": _network_kernels.RELU, "silu": _network_kernels.SILU}
DTYPES = ("float32", "float64")
#: Steps of a default training run, and of a quick one (``EXPLORER_QUICK=1``, tests, previews).
DEFAULT_STEPS = 10_000
QUICK_STEPS = 1_500
MAX_WIDTH, MAX_DEPTH = 1024, 32
_INFERENCE_BLOCK = 128  # points per parallel chunk of the forward pass (fits in L2)


def parameter_count(width: int, depth: int) -> int:
    """Weights and biases of the MLP ``3 -> width x depth -> 2``."""
    return 4 * width + (depth - 1) * (width + 1) * width + 2 * width + 2


@dataclass(frozen=True, eq=False)
class MLP:
    """The network ``D(x_alpha, alpha) = W_out h_depth + b_out``, ``h_1 = act(W_in [x, alpha] +
    b_in)``, ``h_{l+1} = act(W_l h_l + b_l)``; all weights in one flat array.

    Parameters
    ----------
    width : int
        Hidden units per layer, in [1, 1024].
    depth : int
        Hidden layers, in [1, 32].
    activation : {"relu", "silu"}
    params : ndarray of float32 or float64, shape (parameter_count(width, depth),)
        Layout: W_in (3, width), b_in, W_hidden (depth-1, width, width), b_hidden
        (depth-1, width), W_out (width, 2), b_out (2,); a layer computes ``h @ W + b``.
    """

    width: int
    depth: int
    activation: str
    params: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "width", check_range("width", self.width, lo=1, hi=MAX_WIDTH, integer=True))
        object.__setattr__(self, "depth", check_range("depth", self.depth, lo=1, hi=MAX_DEPTH, integer=True))
        check_choice("activation", self.activation, ACTIVATIONS)
        params = np.asarray(self.params)
        check_choice("params dtype", params.dtype.name, DTYPES)
        expected = parameter_count(self.width, self.depth)
        if params.shape != (expected,):
            raise ValueError(f"params must have shape ({expected},) for width {self.width} and "
                             f"depth {self.depth}, got {params.shape}")
        params = np.array(params)
        params.flags.writeable = False
        object.__setattr__(self, "params", params)

    @property
    def dtype(self) -> np.dtype:
        return self.params.dtype

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W, b) per layer, input to output, with W of shape (fan_in, fan_out) (views)."""
        w_in, b_in, w_hidden, b_hidden, w_out, b_out = _network_kernels._layers(self.params, self.width,
                                                                       self.depth)
        return [(w_in, b_in), *zip(w_hidden, b_hidden), (w_out, b_out)]

    def __call__(self, x, alpha) -> np.ndarray:
        """D(x, alpha): x (n, 2), alpha (n,) or scalar in [0, 1]; returns (n, 2) float64.

        Thin wrapper around the parallel ``network_velocity`` kernel (blocks of points).
        """
        x = check_points("x", x, min_rows=0)
        alpha = check_alpha(alpha, x.shape[0], allow_one=True)
        return _network_kernels.network_velocity(self.params, self.width, self.depth,
                                         ACTIVATIONS[self.activation], x, alpha, _INFERENCE_BLOCK)

    def loss_and_gradient(self, x_alpha, alpha, velocity) -> tuple[float, np.ndarray]:
        """The IADB loss ``mean_b ||D(x_alpha_b, alpha_b) - velocity_b||^2`` and its gradient.

        Parameters
        ----------
        x_alpha : array-like, shape (n, 2)
        alpha : array-like, shape (n,), or scalar, in [0, 1]
        velocity : array-like, shape (n, 2)
            The regression targets ``x1 - x0``.

        Returns
        -------
        (float, ndarray of shape (parameter_count,), in the network's dtype)
        """
        x_alpha = check_points("x_alpha", x_alpha)
        alpha = check_alpha(alpha, x_alpha.shape[0], allow_one=True)
        velocity = check_points("velocity", velocity)
        if velocity.shape != x_alpha.shape:
            raise ValueError(f"velocity must have shape {x_alpha.shape}, got {velocity.shape}")
        work = _Workspace(self, x_alpha.shape[0])
        work.inputs[:2], work.inputs[2] = x_alpha.T, alpha
        gradient = np.zeros_like(self.params)
        loss = _network_kernels.loss_and_gradient(
            self.params, self.width, self.depth, ACTIVATIONS[self.activation], work.inputs,
            np.ascontiguousarray(velocity.T, dtype=self.dtype), gradient, work.pre, work.post,
            work.out, work.delta, work.zeros)
        return loss, gradient


def init_mlp(width: int = 64, depth: int = 4, activation: str = "relu", seed=0,
             dtype: str = "float32") -> MLP:
    """An MLP with PyTorch's default initialisation: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Parameters
    ----------
    width : int, default 64
    depth : int, default 4
    activation : {"relu", "silu"}, default "relu"
    seed : int or numpy.random.Generator, default 0
    dtype : {"float32", "float64"}, default "float32"
        float32 trains about twice as fast; float64 for gradient checks.
    """
    check_choice("dtype", dtype, DTYPES)
    check_choice("activation", activation, ACTIVATIONS)
    width = check_range("width", width, lo=1, hi=MAX_WIDTH, integer=True)
    depth = check_range("depth", depth, lo=1, hi=MAX_DEPTH, integer=True)
    rng = make_rng(seed)
    params = np.empty(parameter_count(width, depth))
    w_in, b_in, w_hidden, b_hidden, w_out, b_out = _network_kernels._layers(params, width, depth)  # views
    for weights, bias in [(w_in, b_in), *zip(w_hidden, b_hidden), (w_out, b_out)]:
        bound = 1.0 / math.sqrt(weights.shape[0])
        weights[...] = rng.uniform(-bound, bound, weights.shape)
        bias[...] = rng.uniform(-bound, bound, bias.shape)
    return MLP(width, depth, activation, params.astype(dtype))


class _Workspace:
    """Buffers of one forward/backward pass over ``batch`` points (feature-major)."""

    def __init__(self, network: MLP, batch: int):
        dtype, width, depth = network.dtype, network.width, network.depth
        self.inputs = np.empty((3, batch), dtype)
        self.velocity = np.empty((2, batch), dtype)
        self.pre, self.post, self.delta = (np.empty((depth, width, batch), dtype) for _ in range(3))
        self.out = np.empty((2, batch), dtype)
        self.zeros = np.zeros(width, dtype)


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

    def __call__(self, x, alpha) -> np.ndarray:
        """D(x, alpha) of the trained network (see :meth:`MLP.__call__`)."""
        return self.network(x, alpha)

    @property
    def steps_done(self) -> int:
        return int(self.loss_history.shape[0])

    @property
    def steps_per_second(self) -> float:
        return self.steps_done / self.seconds if self.seconds > 0 else math.inf


def _sampler(name: str, distribution):
    """A function (count, rng) -> (count, 2) points from a density or a point set."""
    if hasattr(distribution, "sample"):
        return lambda count, rng: check_points(name, distribution.sample(count, seed=rng))
    points = check_points(name, distribution)
    return lambda count, rng: points[rng.integers(0, points.shape[0], count)]


def train_deblender(target, source=None, steps: int = DEFAULT_STEPS, batch: int = 256,
                    lr: float = 1e-3, seed=0, callback=None, *, width: int = 64, depth: int = 4,
                    activation: str = "relu", dtype: str = "float32", network: MLP | None = None,
                    report_every: int = 100, betas=(0.9, 0.999), eps: float = 1e-8) -> TrainedDeblender:
    """Train an MLP deblender with the IADB loss (Adam, minibatches), all in numba.

    Thin wrapper around the compiled ``train_steps`` kernel, called in chunks of
    ``report_every`` steps with minibatches drawn beforehand from a numpy Generator.

    Parameters
    ----------
    target : density or array-like of shape (m, 2)
        Points x1: a density (anything with ``sample(n, seed)``, fresh points every step) or
        a finite point set (drawn from with replacement: the training set).
    source : density or array-like of shape (k, 2), optional
        Points x0; default the standard Gaussian.
    steps : int, default DEFAULT_STEPS
        Adam steps, in [1, 10^7].
    batch : int, default 256
        Minibatch size, in [1, 65536].
    lr : float, default 1e-3
        Adam learning rate, in (0, 1].
    seed : int or numpy.random.Generator, default 0
        Seeds the initial weights and every minibatch; the same seed gives the same network.
    callback : callable, optional
        ``callback(progress)`` with a partial :class:`TrainedDeblender` every ``report_every``
        steps and at the end; a true return value stops training (``stopped_early``).
    width, depth, activation, dtype
        The network, see :func:`init_mlp` (ignored when ``network`` is given).
    network : MLP, optional
        Continue from these weights (with a fresh Adam state) instead of a new network.
    report_every : int, default 100
        Steps between callbacks, >= 1.
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
    draw_target = _sampler("target", target)
    draw_source = _sampler("source", Gaussian() if source is None else source)
    steps = check_range("steps", steps, lo=1, hi=10**7, integer=True)
    batch = check_range("batch", batch, lo=1, hi=65536, integer=True)
    lr = check_range("lr", lr, lo=0, hi=1, lo_open=True)
    report_every = check_range("report_every", report_every, lo=1, integer=True)
    try:
        beta1, beta2 = (check_range(f"betas[{i}]", b, lo=0, hi=1, hi_open=True) for i, b in enumerate(betas))
    except TypeError:
        raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}") from None
    eps = check_range("eps", eps, lo=0, hi=1, lo_open=True)
    rng = make_rng(seed)
    if network is None:
        network = init_mlp(width, depth, activation, rng, dtype)
    elif not isinstance(network, MLP):
        raise ValueError(f"network must be an MLP, got {type(network).__name__}")
    theta = np.array(network.params)
    m, v, gradient = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    step_counter = np.zeros(1, np.int64)
    work = _Workspace(network, batch)
    losses = np.empty(steps)
    start, done, diverged, stopped = time.perf_counter(), 0, False, False

    def progress() -> TrainedDeblender:
        return TrainedDeblender(replace(network, params=theta), losses[:done].copy(), diverged,
                                stopped, time.perf_counter() - start)

    while done < steps and not (diverged or stopped):
        chunk = min(report_every, steps - done)
        x0 = draw_source(chunk * batch, rng).reshape(chunk, batch, 2).astype(network.dtype)
        x1 = draw_target(chunk * batch, rng).reshape(chunk, batch, 2).astype(network.dtype)
        alpha = rng.random((chunk, batch)).astype(network.dtype)
        completed = _network_kernels.train_steps(
            theta, m, v, step_counter, network.width, network.depth,
            ACTIVATIONS[network.activation], lr, beta1, beta2, eps, x0, x1, alpha,
            losses[done:done + chunk], gradient, work.inputs, work.velocity, work.pre, work.post,
            work.out, work.delta, work.zeros)
        diverged = completed < chunk
        done += completed + diverged  # keep the non-finite loss in the history
        stopped = callback is not None and bool(callback(progress())) and done < steps
    return progress()
