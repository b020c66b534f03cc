"""A small fixed image classifier trained by the library: class accuracy and a feature space.

``train_classifier`` fits an MLP ``d -> width x depth -> classes`` (ReLU, softmax
cross-entropy, Adam) with the compiled kernels of the deblender network; the same seed gives
the same bits. Its last hidden layer is the fixed feature space of the Frechet distance in
:mod:`~explorer.blending.image_metrics`, and its predictions judge whether class-conditional
samples show the asked class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_callable, check_choice, check_range, make_rng
from explorer.blending import _inference_kernels, _network_kernels
from explorer.blending._checks import (check_labels, check_network_input, check_pair_work,
                                       check_points)
from explorer.blending.network import (ACTIVATIONS, Adam, Workspace, check_step_work,
                                       chunk_steps, default_initialisation)

_BLOCK = 128


@dataclass(frozen=True, eq=False)
class ImageClassifier:
    """A trained classifier of points (flattened images).

    Attributes
    ----------
    params : ndarray of float32
        Flat weights: W_in (dim, width), b_in, W_hidden (depth-1, width, width), b_hidden,
        W_out (width, classes), b_out.
    dim, width, depth, classes : int
    activation : str
    loss_history : ndarray, shape (steps_done,)
        Minibatch cross-entropy of every step.
    diverged, stopped_early : bool
    """

    params: np.ndarray
    dim: int
    width: int
    depth: int
    classes: int
    activation: str
    loss_history: np.ndarray
    diverged: bool
    stopped_early: bool

    @property
    def dtype(self) -> np.dtype:
        return self.params.dtype

    @property
    def n_inputs(self) -> int:
        return self.dim

    def outputs(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Logits (n, classes) and penultimate-layer features (n, width) of ``points`` (n, dim),
        entries of magnitude at most 1e6.

        Thin wrapper around the parallel ``classifier_outputs`` kernel.
        """
        points = check_network_input("points", check_points("points", points, dim=self.dim))
        check_pair_work("points", float(points.shape[0]) * self.params.size)
        return _inference_kernels.classifier_outputs(self.params, self.width, self.depth,
                                                     self.classes, ACTIVATIONS[self.activation],
                                                     points, _BLOCK)

    def features(self, points) -> np.ndarray:
        """The fixed feature space of the Frechet distance: the last hidden layer, (n, width)."""
        return self.outputs(points)[1]

    def predict(self, points) -> np.ndarray:
        """Most likely class of each point, (n,) int64."""
        return np.argmax(self.outputs(points)[0], axis=1)

    def accuracy(self, points, labels) -> float:
        """Share of ``points`` classified as their ``labels`` (n,), in [0, 1]."""
        predicted = self.predict(points)
        return float(np.mean(predicted == check_labels(labels, predicted.shape[0], self.classes)))


def train_classifier(points, labels, steps: int = 3000, batch: int = 128, lr: float = 2e-3,
                     seed=0, callback=None, *, width: int = 64, depth: int = 2,
                     activation: str = "relu", report_every: int = 500) -> ImageClassifier:
    """Train a small MLP classifier with softmax cross-entropy and Adam (float32, in numba).

    Thin wrapper around the compiled ``classifier_steps`` kernel.

    Parameters
    ----------
    points : array-like, shape (n, d)
        Training inputs (flattened images), d in [1, 4096].
    labels : array-like of int, shape (n,)
        Their classes, in [0, 999]; the classifier has ``max(labels) + 1`` outputs.
    steps : int, default 3000
        Adam steps, in [1, 10^6].
    batch : int, default 128
        In [1, 65536] (drawn with replacement).
    lr : float, default 2e-3
        In (0, 1].
    seed : int or numpy.random.Generator, default 0
        Initial weights and minibatches: the same seed gives the same classifier.
    callback : callable, optional
        ``callback(partial ImageClassifier)`` between chunks; a true value stops.
    width : int, default 64
        In [1, 1024]: also the dimension of the feature space.
    depth : int, default 2
        Hidden layers, in [1, 32].
    activation : {"relu", "silu"}, default "relu"
    report_every : int, default 500
        Most steps between callbacks, in [1, 10^6].

    Returns
    -------
    ImageClassifier

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> points = np.concatenate([rng.normal(-2, 1, (50, 3)), rng.normal(2, 1, (50, 3))])
    >>> classifier = train_classifier(points, [0] * 50 + [1] * 50, steps=200, width=8)
    >>> classifier.accuracy(points, [0] * 50 + [1] * 50) > 0.95
    True
    """
    points = check_points("points", points)
    labels = check_labels(labels, points.shape[0])
    steps = check_range("steps", steps, lo=1, hi=10**6, integer=True)
    batch = check_range("batch", batch, lo=1, hi=65536, integer=True)
    width = check_range("width", width, lo=1, hi=1024, integer=True)
    depth = check_range("depth", depth, lo=1, hi=32, integer=True)
    check_choice("activation", activation, ACTIVATIONS)
    report_every = check_range("report_every", report_every, lo=1, hi=10**6, integer=True)
    check_callable("callback", callback)
    dim, classes = points.shape[1], int(labels.max()) + 1
    rng = make_rng(seed)
    layout = _Layout(dim, width, depth, classes, activation)
    params = layout.initial(rng)
    optimiser = Adam(params, lr, (0.9, 0.999), 1e-8)
    check_step_work(batch, params.size)
    work = Workspace(layout, batch, n_inputs=dim, n_outputs=classes, tile=batch)
    inputs = points.astype(np.float32)
    chunk_size = chunk_steps(report_every, batch * params.size, batch)
    losses = np.empty(steps)
    done, diverged, stopped = 0, False, False

    def progress() -> ImageClassifier:
        return ImageClassifier(optimiser.theta.copy(), dim, width, depth, classes, activation,
                               losses[:done].copy(), diverged, stopped)

    while done < steps and not (diverged or stopped):
        chunk = min(chunk_size, steps - done)
        picks = rng.integers(0, points.shape[0], (chunk, batch))
        completed = _network_kernels.classifier_steps(
            optimiser.theta, optimiser.m, optimiser.v, optimiser.step_counter, width, depth,
            ACTIVATIONS[activation], *optimiser.settings, inputs, labels, picks,
            losses[done:done + chunk], optimiser.gradient, work.inputs[0], work.pre[0],
            work.post[0], work.out[0], work.delta[0], work.scratch[0], work.zeros)
        diverged = completed < chunk
        done += completed + diverged
        stopped = callback is not None and bool(callback(progress())) and done < steps
    return progress()


@dataclass(frozen=True)
class _Layout:
    """The shape of a classifier network, as :class:`Workspace` reads it."""

    dim: int
    width: int
    depth: int
    classes: int
    activation: str
    dtype = np.dtype(np.float32)

    @property
    def n_inputs(self) -> int:
        return self.dim

    def initial(self, rng) -> np.ndarray:
        """PyTorch's default initialisation, W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float32."""
        size = ((self.dim + 1) * self.width + (self.depth - 1) * (self.width + 1) * self.width
                + (self.width + 1) * self.classes)
        params = np.empty(size)
        default_initialisation(params, self.dim, self.width, self.depth, self.classes, rng)
        return params.astype(np.float32)

