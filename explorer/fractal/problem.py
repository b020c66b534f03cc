"""The training problem behind every pixel: data, initial weights and nonlinearity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_choice, check_range, make_rng

NONLINEARITIES = ("tanh", "relu", "identity")


@dataclass(frozen=True, eq=False)
class Problem:
    """A full-batch regression problem for a one-hidden-layer network.

    The network is the paper's mean-field parameterisation
    ``f(X) = act(X W1 / sqrt(d)) W2 / w`` with ``act(z) = tanh(sqrt(2) z)``,
    ``sqrt(2) relu(z)`` or ``z``, trained on the mean squared error ``mean((f - Y)**2)``.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Training inputs.
    Y : ndarray, shape (n, 1)
        Regression targets.
    W1 : ndarray, shape (d, w)
        Initial input-layer weights.
    W2 : ndarray, shape (w, 1)
        Initial output-layer weights.
    nonlinearity : {"tanh", "relu", "identity"}
        Hidden-layer activation.

    All arrays are converted to float64 and must be finite; any shapes that fit together
    work, not only those of :func:`make_problem`.
    """

    X: np.ndarray
    Y: np.ndarray
    W1: np.ndarray
    W2: np.ndarray
    nonlinearity: str = "tanh"

    def __post_init__(self):
        X = check_array("X", self.X, ndim=2)
        n, d = X.shape
        Y = check_array("Y", np.reshape(self.Y, (-1, 1)) if np.ndim(self.Y) == 1 else self.Y,
                        shape=(n, 1))
        W1 = check_array("W1", self.W1, shape=(d, None))
        w = W1.shape[1]
        if w < 1:
            raise ValueError(f"W1 must have at least one column (hidden unit), got shape {W1.shape}")
        W2 = check_array("W2", np.reshape(self.W2, (-1, 1)) if np.ndim(self.W2) == 1 else self.W2,
                         shape=(w, 1))
        check_choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        for name, value in (("X", X), ("Y", Y), ("W1", W1), ("W2", W2)):
            object.__setattr__(self, name, value)

    @property
    def width(self) -> int:
        """Number of hidden units ``w``."""
        return self.W1.shape[1]

    @property
    def n_parameters(self) -> int:
        """Number of trainable weights, ``d w + w``."""
        return self.W1.size + self.W2.size

    def with_nonlinearity(self, nonlinearity: str) -> "Problem":
        """The same data and weights with another activation."""
        return Problem(self.X, self.Y, self.W1, self.W2, nonlinearity)


def make_problem(width: int = 16, nonlinearity: str = "tanh", seed: int = 0, *,
                 n_samples: int | None = None, dataset_param_ratio: float = 1.0) -> Problem:
    """The paper's default problem: random Gaussian data and weights, input dimension = width.

    Parameters
    ----------
    width : int, 1 <= width <= 256
        Hidden units ``w``; the input dimension ``d`` equals ``w`` (as in the paper).
    nonlinearity : {"tanh", "relu", "identity"}
        Hidden-layer activation.
    seed : int
        Seed of the numpy Generator that draws X, Y, W1 and W2 (all standard normal).
    n_samples : int, optional
        Number of training points. By default ``dataset_param_ratio`` times the number of
        parameters ``w*w + w`` (tanh, relu), or times ``w`` for identity, as in the paper's
        public notebook.
    dataset_param_ratio : float, > 0
        Ratio of training points to parameters when ``n_samples`` is not given.

    Returns
    -------
    Problem

    Examples
    --------
    >>> problem = make_problem(width=8, seed=0)
    >>> problem.X.shape, problem.W1.shape, problem.W2.shape
    ((72, 8), (8, 8), (8, 1))
    """
    width = check_range("width", width, lo=1, hi=256, integer=True)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    rng = make_rng(seed)
    if n_samples is None:
        ratio = check_range("dataset_param_ratio", dataset_param_ratio, lo=0, lo_open=True)
        base = width if nonlinearity == "identity" else width * width + width
        n_samples = max(1, int(base * ratio))
    n_samples = check_range("n_samples", n_samples, lo=1, hi=100_000, integer=True)
    W1 = rng.standard_normal((width, width))
    W2 = rng.standard_normal((width, 1))
    X = rng.standard_normal((n_samples, width))
    Y = rng.standard_normal((n_samples, 1))
    return Problem(X=X, Y=Y, W1=W1, W2=W2, nonlinearity=nonlinearity)
