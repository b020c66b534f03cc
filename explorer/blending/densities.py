"""Densities to blend between, each with ``sample(n, seed) -> (n, d)``.

The named ones are two-dimensional; :class:`Gaussian` and :class:`GaussianMixture` work in
any dimension (a 64-dimensional Gaussian is the source of 8 x 8 images). All 2D densities
live roughly in the square [-2.5, 2.5]^2, the scale of the standard Gaussian source, so that
one plot window and one network input scale fit every pair. A density made
from a 2D array (an image, or a drawing) is a :class:`GridDensity`: the array's entries are
cell weights, and a sample is a uniformly random point in a cell drawn with those weights.

Examples
--------
>>> from explorer.blending.densities import make_density
>>> make_density("two_moons").sample(3, seed=0).shape
(3, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from explorer._validation import check_array, check_bool, check_interval, check_range, make_rng

#: Most numbers (points x dimension) one call to ``sample`` may draw.
MAX_SAMPLES = 10_000_000


def _count(n, dim: int = 2) -> int:
    """The sample size n, with n * dim at most MAX_SAMPLES numbers."""
    return check_range("n", n, lo=1, hi=MAX_SAMPLES // dim, integer=True)


def _noisy(points: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    return points + noise * rng.standard_normal(points.shape)


@dataclass(frozen=True)
class Gaussian:
    """The normal law N(mean, cov) in any dimension; the default is the standard 2D Gaussian.

    Parameters
    ----------
    mean : array-like of float, shape (d,), default (0, 0)
        d in [1, 4096].
    cov : array-like of float of shape (d, d), or float, default identity
        Symmetric positive definite; a number is a variance (``cov * I``).
    """

    mean: tuple = (0.0, 0.0)
    cov: tuple | float | None = None
    _cholesky: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        mean = check_array("mean", self.mean, ndim=1)
        if mean.shape[0] > 4096:
            raise ValueError(f"mean must have at most 4096 entries (the dimension), got {mean.shape[0]}")
        cov = covariance_matrix("cov", 1.0 if self.cov is None else self.cov, mean.shape[0])
        object.__setattr__(self, "mean", tuple(mean.tolist()))
        object.__setattr__(self, "cov", tuple(map(tuple, cov.tolist())))
        object.__setattr__(self, "_cholesky", np.linalg.cholesky(cov))

    @property
    def dim(self) -> int:
        """The dimension d of the points."""
        return len(self.mean)

    def sample(self, n: int, seed=0) -> np.ndarray:
        """n independent draws, shape (n, d) float64."""
        n, rng = _count(n, self.dim), make_rng(seed)
        return np.asarray(self.mean) + rng.standard_normal((n, self.dim)) @ self._cholesky.T


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """An equal-weight mixture of Gaussians with one shared covariance, in any dimension.

    A source that is not Gaussian (a checkerboard, a drawing) smoothed into K bumps: the
    exact deblender handles such a source in closed form
    (``ExactDeblender(targets, source_mean=mixture.means, source_cov=mixture.cov)``).

    Parameters
    ----------
    means : array-like of float, shape (K, d)
        K in [1, 1024] component means.
    cov : array-like of float of shape (d, d), or float, default 1
        The shared covariance; a number is a variance (``cov * I``).
    """

    means: np.ndarray
    cov: np.ndarray | float = 1.0

    def __post_init__(self):
        means = check_array("means", self.means, ndim=2)
        if means.shape[0] > 1024 or means.shape[1] > 4096:
            raise ValueError(f"means must have at most 1024 rows and 4096 columns, got {means.shape}")
        cov = covariance_matrix("cov", self.cov, means.shape[1])
        means.flags.writeable = False
        cov.flags.writeable = False
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "cov", cov)

    @property
    def dim(self) -> int:
        """The dimension d of the points."""
        return int(self.means.shape[1])

    @classmethod
    def smoothing(cls, density, components: int = 64, bandwidth: float = 0.15,
                  seed=0) -> GaussianMixture:
        """``components`` points of ``density`` as means, each a Gaussian of std ``bandwidth``.

        Parameters
        ----------
        density : object with ``sample(n, seed)``
        components : int, default 64
            In [1, 1024].
        bandwidth : float, default 0.15
            In (0, 10].
        seed : int or numpy.random.Generator, default 0
        """
        if not hasattr(density, "sample"):
            raise TypeError(f"density must have a sample(n, seed) method, got {type(density).__name__}")
        components = check_range("components", components, lo=1, hi=1024, integer=True)
        bandwidth = check_range("bandwidth", bandwidth, lo=0, hi=10, lo_open=True)
        return cls(density.sample(components, seed=seed), bandwidth**2)

    def sample(self, n: int, seed=0) -> np.ndarray:
        """n independent draws, shape (n, d) float64."""
        n, rng = _count(n, self.dim), make_rng(seed)
        component = rng.integers(0, self.means.shape[0], n)
        noise = rng.standard_normal((n, self.dim)) @ np.linalg.cholesky(self.cov).T
        return self.means[component] + noise


def covariance_matrix(name: str, cov, dim: int) -> np.ndarray:
    """A (dim, dim) symmetric positive definite matrix from a matrix or a variance, else ValueError.

    A number ``v`` in [1e-100, 1e100] means ``v * I``.
    """
    if isinstance(cov, (Real, np.ndarray)) and not isinstance(cov, bool) and np.ndim(cov) == 0:
        variance = check_range(name, float(check_array(name, cov)[0]), lo=1e-100, hi=1e100)
        return np.eye(dim) * variance
    matrix = check_array(name, cov)
    if matrix.shape != (dim, dim):
        raise ValueError(f"{name} must be a number or have shape ({dim}, {dim}), got {matrix.shape}")
    cholesky_factor(name, matrix)
    return matrix


def cholesky_factor(name: str, cov: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a symmetric positive definite matrix, else ValueError."""
    if not np.allclose(cov, cov.T, rtol=1e-12, atol=1e-14):
        raise ValueError(f"{name} must be symmetric, got {cov.tolist()}")
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite, got {cov.tolist()}") from None


@dataclass(frozen=True)
class TwoMoons:
    """Two interleaved half circles (scikit-learn's moons), centred and scaled by 1.5."""

    noise: float = 0.05

    def __post_init__(self):
        check_range("noise", self.noise, lo=0, hi=1)

    def sample(self, n: int, seed=0) -> np.ndarray:
        n, rng = _count(n), make_rng(seed)
        angle = np.pi * rng.random(n)
        upper = rng.random(n) < 0.5
        x = np.where(upper, np.cos(angle), 1.0 - np.cos(angle))
        y = np.where(upper, np.sin(angle), 0.5 - np.sin(angle))
        return _noisy(1.5 * np.column_stack([x - 0.5, y - 0.25]), self.noise, rng)


@dataclass(frozen=True)
class Spiral:
    """One Archimedean spiral arm of radius 2.2, uniform along its length."""

    turns: float = 2.0
    noise: float = 0.05

    def __post_init__(self):
        check_range("turns", self.turns, lo=0.25, hi=10)
        check_range("noise", self.noise, lo=0, hi=1)

    def sample(self, n: int, seed=0) -> np.ndarray:
        n, rng = _count(n), make_rng(seed)
        # arc length of r ~ theta grows like theta^2, so sqrt(u) gives a uniform density along it
        fraction = np.sqrt(rng.random(n))
        angle = 2 * np.pi * self.turns * fraction
        radius = 2.2 * fraction
        return _noisy(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]),
                      self.noise, rng)


@dataclass(frozen=True)
class Checkerboard:
    """Uniform on the dark squares of a ``cells`` x ``cells`` board covering [-2, 2]^2."""

    cells: int = 4

    def __post_init__(self):
        object.__setattr__(self, "cells", check_range("cells", self.cells, lo=2, hi=64, integer=True))

    def sample(self, n: int, seed=0) -> np.ndarray:
        n, rng = _count(n), make_rng(seed)
        row, column = np.divmod(np.arange(self.cells**2), self.cells)
        dark = np.flatnonzero((row + column) % 2 == 0)
        chosen = dark[rng.integers(0, dark.size, n)]
        corner = np.column_stack([chosen % self.cells, chosen // self.cells])
        return (corner + rng.random((n, 2))) * (4.0 / self.cells) - 2.0


@dataclass(frozen=True)
class ConcentricRings:
    """Noisy circles of the given radii, each point uniform along the total circumference."""

    radii: tuple = (0.7, 1.4, 2.1)
    noise: float = 0.05

    def __post_init__(self):
        radii = check_array("radii", self.radii, ndim=1)
        if np.any(radii <= 0):
            raise ValueError(f"radii must all be > 0, got {radii.tolist()}")
        object.__setattr__(self, "radii", tuple(radii))
        check_range("noise", self.noise, lo=0, hi=1)

    def sample(self, n: int, seed=0) -> np.ndarray:
        n, rng = _count(n), make_rng(seed)
        radii = np.asarray(self.radii)
        radius = radii[rng.choice(radii.size, n, p=radii / radii.sum())]
        angle = 2 * np.pi * rng.random(n)
        return _noisy(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]),
                      self.noise, rng)


@dataclass(frozen=True)
class EightGaussians:
    """Eight equal Gaussian blobs of standard deviation ``std`` on a circle of ``radius``."""

    radius: float = 2.0
    std: float = 0.15

    def __post_init__(self):
        check_range("radius", self.radius, lo=0, hi=10, lo_open=True)
        check_range("std", self.std, lo=0, hi=5, lo_open=True)

    def sample(self, n: int, seed=0) -> np.ndarray:
        n, rng = _count(n), make_rng(seed)
        angle = np.pi / 4 * rng.integers(0, 8, n)
        centres = self.radius * np.column_stack([np.cos(angle), np.sin(angle)])
        return _noisy(centres, self.std, rng)


@dataclass(frozen=True, eq=False)
class GridDensity:
    """A piecewise-constant density from a 2D array of non-negative cell weights.

    Parameters
    ----------
    weights : array-like of float, shape (rows, columns)
        Non-negative, finite, not all zero. Image convention: row 0 is the *top* row.
    x_range, y_range : pair of float, default (-2, 2)
        The rectangle the array covers.
    """

    weights: np.ndarray
    x_range: tuple = (-2.0, 2.0)
    y_range: tuple = (-2.0, 2.0)
    _probabilities: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        weights = check_array("weights", self.weights, ndim=2)
        if weights.size == 0 or np.any(weights < 0) or not weights.sum() > 0:
            raise ValueError("weights must be a non-empty 2D array of non-negative numbers, "
                             "not all zero")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "x_range", check_interval("x_range", self.x_range))
        object.__setattr__(self, "y_range", check_interval("y_range", self.y_range))
        object.__setattr__(self, "_probabilities", (weights / weights.sum()).ravel())

    def sample(self, n: int, seed=0) -> np.ndarray:
        n, rng = _count(n), make_rng(seed)
        rows, columns = self.weights.shape
        cell = rng.choice(self._probabilities.size, n, p=self._probabilities)
        row, column = np.divmod(cell, columns)
        (x_low, x_high), (y_low, y_high) = self.x_range, self.y_range
        offset = rng.random((n, 2))
        x = x_low + (column + offset[:, 0]) * (x_high - x_low) / columns
        y = y_high - (row + offset[:, 1]) * (y_high - y_low) / rows
        return np.column_stack([x, y])


def image_density(image, *, invert: bool = True, x_range=(-2.0, 2.0), y_range=None) -> GridDensity:
    """A :class:`GridDensity` from an image array (grey, RGB or RGBA).

    Parameters
    ----------
    image : array-like, shape (rows, columns) or (rows, columns, 3 | 4)
        Integers are read as 0..255, floats as 0..1 (``matplotlib.image.imread`` gives either).
    invert : bool, default True
        Dark pixels carry the mass (ink on paper); False: bright pixels do. A transparent
        pixel (alpha channel) carries none.
    x_range : pair of float, default (-2, 2)
    y_range : pair of float, optional
        Default: centred on 0 with the image's aspect ratio.
    """
    invert = check_bool("invert", invert)
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"image must be an array of pixels, got {type(image).__name__}")
    try:
        array = np.asarray(image)
    except ValueError:  # a ragged nested list
        raise TypeError("image must be a rectangular array of pixels") from None
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"image must have shape (rows, columns) or (rows, columns, 3 or 4), "
                         f"got {array.shape}")
    values = check_array("image", array / 255.0 if np.issubdtype(array.dtype, np.integer) else array,
                         ndim=array.ndim)
    opacity = values[..., 3] if values.ndim == 3 and values.shape[2] == 4 else 1.0
    grey = values if values.ndim == 2 else values[..., :3] @ np.array([0.299, 0.587, 0.114])
    mass = (1.0 - grey if invert else grey) * opacity
    if not (mass > 0).any():
        raise ValueError(f"image has no pixel that carries mass ({'dark' if invert else 'bright'} "
                         f"and not transparent) with invert={invert}")
    x_range = check_interval("x_range", x_range)
    if y_range is None:
        half = (x_range[1] - x_range[0]) * array.shape[0] / array.shape[1] / 2
        y_range = (-half, half)
    return GridDensity(np.clip(mass, 0.0, None), x_range, y_range)


def drawing_density(drawing: str, *, x_range=(-2.0, 2.0), y_range=(-2.0, 2.0)) -> GridDensity:
    """A :class:`GridDensity` from a text drawing: one line per row, ink is any character but
    a space or a dot; short lines are padded with blank cells.

    Examples
    --------
    >>> drawing_density("#.#\\n.#.").weights.tolist()
    [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    if not isinstance(drawing, str):
        raise ValueError(f"drawing must be a string, got {type(drawing).__name__}")
    lines = [line.rstrip() for line in drawing.strip("\n").splitlines()]
    columns = max((len(line) for line in lines), default=0)
    grid = np.zeros((len(lines), columns))
    for row, line in enumerate(lines):
        grid[row, :len(line)] = [character not in " ." for character in line]
    if not grid.any():
        raise ValueError("drawing must contain at least one ink character (anything but ' ' or '.')")
    return GridDensity(grid, x_range, y_range)


#: The named densities, by the name ``make_density`` accepts.
DENSITIES = {
    "gaussian": Gaussian,
    "two_moons": TwoMoons,
    "spiral": Spiral,
    "checkerboard": Checkerboard,
    "rings": ConcentricRings,
    "eight_gaussians": EightGaussians,
}


def make_density(name: str, **parameters):
    """The density called ``name`` (a key of :data:`DENSITIES`) with its ``parameters``."""
    if not isinstance(name, str) or name not in DENSITIES:
        raise ValueError(f"name must be one of {', '.join(map(repr, DENSITIES))}; got {name!r}")
    return DENSITIES[name](**parameters)
