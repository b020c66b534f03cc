"""The training problem behind every pixel: data, initial weights and nonlinearity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_choice, check_range, make_rng

NONLINEARITIES = ("tanh", "relu", "identity")
MAX_WIDTH = 256  # hidden units (and input dimension)
MAX_SAMPLES = 100_000  # training points
MAX_DATASET_RATIO = 1000.0  # training points per parameter
SINGLE_DATAPOINT = "single_datapoint"


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

    All arrays are converted to float64 and must be finite with magnitudes up to 1e150;
    any shapes that fit together work, not only those of :func:`make_problem`, with at
    most 100000 points (n), 256 inputs (d) and 256 hidden units (w).
    """

    X: np.ndarray
    Y: np.ndarray
    W1: np.ndarray
    W2: np.ndarray
    nonlinearity: str = "tanh"

    def __post_init__(self):
        X = check_array("X", self.X, ndim=2)
        n, d = X.shape
        if not 1 <= n <= MAX_SAMPLES or not 1 <= d <= MAX_WIDTH:
            raise ValueError(f"X must have shape (n, d) with 1 <= n <= {MAX_SAMPLES} and "
                             f"1 <= d <= {MAX_WIDTH}, got {X.shape}")
        Y = _column("Y", self.Y, n)
        W1 = check_array("W1", self.W1, shape=(d, None))
        w = W1.shape[1]
        if not 1 <= w <= MAX_WIDTH:
            raise ValueError(f"W1 must have between 1 and {MAX_WIDTH} columns (hidden units), "
                             f"got shape {W1.shape}")
        W2 = _column("W2", self.W2, w)
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

    def with_nonlinearity(self, nonlinearity: str) -> Problem:
        """The same data and weights with another activation."""
        return Problem(self.X, self.Y, self.W1, self.W2, nonlinearity)


def make_problem(width: int = 16, nonlinearity: str = "tanh", seed=0, *,
                 n_samples: int | None = None, dataset_param_ratio=1.0) -> Problem:
    """The paper's default problem: random Gaussian data and weights, input dimension = width.

    Parameters
    ----------
    width : int, in [1, 256]
        Hidden units ``w``; the input dimension ``d`` equals ``w`` (as in the paper).
    nonlinearity : {"tanh", "relu", "identity"}
        Hidden-layer activation.
    seed : int >= 0 or numpy Generator
        Seed of the numpy Generator that draws W1, W2, X and Y (all standard normal, in
        that order).
    n_samples : int in [1, 100000], optional
        Number of training points; overrides ``dataset_param_ratio``.
    dataset_param_ratio : float in (0, 1000], or "single_datapoint"
        Training points per parameter, as the public notebook's ``dataset_param_multiple``:
        ``int(ratio * (w*w + w))`` points for tanh and relu (1.0 gives as many points as
        parameters; the notebook also uses 0.5, and 10, "still a fractal, but a boring
        one"), but ``int(ratio * w)`` for identity (16 points at width 16: a deep linear
        network needs far fewer); "single_datapoint" gives one point. At least one point.

    Returns
    -------
    Problem

    Examples
    --------
    >>> problem = make_problem(width=8, seed=0)
    >>> problem.X.shape, problem.W1.shape, problem.W2.shape
    ((72, 8), (8, 8), (8, 1))
    >>> make_problem(width=16, nonlinearity="identity").X.shape
    (16, 16)
    >>> make_problem(width=16, dataset_param_ratio="single_datapoint").X.shape
    (1, 16)
    """
    width = check_range("width", width, lo=1, hi=MAX_WIDTH, integer=True)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    rng = make_rng(seed)
    if n_samples is None:
        n_samples = samples_for_ratio(width, nonlinearity, dataset_param_ratio)
    n_samples = check_range("n_samples", n_samples, lo=1, hi=MAX_SAMPLES, integer=True)
    W1 = rng.standard_normal((width, width))
    W2 = rng.standard_normal((width, 1))
    X = rng.standard_normal((n_samples, width))
    Y = rng.standard_normal((n_samples, 1))
    return Problem(X=X, Y=Y, W1=W1, W2=W2, nonlinearity=nonlinearity)


def _column(name: str, value, rows: int) -> np.ndarray:
    """``value`` (a vector or a column) checked as a (rows, 1) column."""
    try:
        vector = np.ndim(value) == 1
    except ValueError:  # a ragged nested list
        raise TypeError(f"{name} must be a rectangular array of numbers") from None
    return check_array(name, np.reshape(value, (-1, 1)) if vector else value, shape=(rows, 1))


def samples_for_ratio(width: int, nonlinearity: str, dataset_param_ratio) -> int:
    """Training points for a ``dataset_param_ratio`` (see :func:`make_problem`), at least 1.

    Examples
    --------
    >>> samples_for_ratio(16, "tanh", 1.0), samples_for_ratio(16, "tanh", 0.5)
    (272, 136)
    >>> samples_for_ratio(16, "identity", 1.0), samples_for_ratio(16, "tanh", "single_datapoint")
    (16, 1)
    """
    width = check_range("width", width, lo=1, hi=MAX_WIDTH, integer=True)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if isinstance(dataset_param_ratio, str):
        check_choice("dataset_param_ratio", dataset_param_ratio, (SINGLE_DATAPOINT,))
        return 1
    ratio = check_range("dataset_param_ratio", dataset_param_ratio, lo=0, lo_open=True,
                        hi=MAX_DATASET_RATIO)
    base = width if nonlinearity == "identity" else width * width + width
    samples = max(1, int(base * ratio))
    if samples > MAX_SAMPLES:
        raise ValueError(f"dataset_param_ratio {ratio:g} gives {samples} training points at "
                         f"width {width}; at most {MAX_SAMPLES} are allowed")
    return samples
