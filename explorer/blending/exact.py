"""Deblenders known in closed form: a finite target set, and Gaussian to Gaussian.

A *deblender* is anything with ``__call__(x, alpha) -> D``: points ``x`` of shape (n, d), blend
levels ``alpha`` of shape (n,) (a scalar is broadcast), and the velocity ``D`` of shape (n, d),
the posterior mean of ``x1 - x0`` given the blend ``x_alpha = (1 - alpha) x0 + alpha x1``. A
class-conditional deblender also takes ``labels`` (n,).

:class:`ExactDeblender` is the optimum of the IADB loss when the target is a finite point set
and the source is a Gaussian (or a mixture of Gaussians with one covariance): a
softmax-weighted average of the targets. Sampling with it reproduces training points (it
memorises). Given the class of each target it is also the exact *conditional* deblender.
:class:`GaussianDeblender` is the optimum between two Gaussians with diagonal covariances,
with the deterministic map known exactly, which is what the sampler tests measure their error
against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer._validation import check_array, make_rng
from explorer.blending import _kernels, _posterior_kernels
from explorer.blending._checks import (MAX_CLASSES, check_alpha, check_labels, check_pair_work,
                                       check_points)
from explorer.blending.densities import covariance_matrix

#: Largest entry allowed in the source's whitened coordinates (``W x`` with ``W`` the inverse
#: Cholesky factor of the source covariance): squared distances of such points stay finite.
MAX_WHITENED = 1e100
#: Most mixture components of a source, and most (components x targets) of one deblender.
MAX_COMPONENTS, MAX_COMPONENT_PAIRS = 1024, 10_000_000


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class PosteriorMeans:
    """Posterior means of the blend's endpoints given x_alpha.

    Attributes
    ----------
    x0 : ndarray, shape (n, d)
        E[x0 | x_alpha] = (x_alpha - alpha E[x1 | x_alpha]) / (1 - alpha).
    x1 : ndarray, shape (n, d)
        E[x1 | x_alpha], a convex combination of the target points.
    """

    x0: np.ndarray
    x1: np.ndarray


@dataclass(frozen=True, eq=False)
class PosteriorSample:
    """One draw of (x0, x1) from the posterior given x_alpha, per query.

    Attributes
    ----------
    x0 : ndarray, shape (n, d)
        ``(x_alpha - alpha y_i) / (1 - alpha)``: the source point that blends with y_i into x_alpha.
    x1 : ndarray, shape (n, d)
        The drawn target point ``y_i``.
    target_index : ndarray of int64, shape (n,)
        The drawn i, an index into ``target_points``.
    """

    x0: np.ndarray
    x1: np.ndarray
    target_index: np.ndarray


@dataclass(frozen=True, eq=False)
class ExactDeblender:
    """The closed-form posterior-mean deblender of a finite target set, Gaussian source.

    With ``p0 = N(mu, Sigma)`` and the target law uniform on ``{y_i}``:
    ``w_i = softmax_i(-0.5 r_i^T Sigma^-1 r_i / (1-alpha)^2)``, ``r_i = x - (1-alpha) mu -
    alpha y_i``; ``xbar1 = sum_i w_i y_i``, ``xbar0 = (x - alpha xbar1) / (1 - alpha)`` and
    ``D = xbar1 - xbar0 = (xbar1 - x) / (1 - alpha)``. With a mixture source (``source_mean``
    of shape (K, d), equal weights, one covariance) ``w_i`` sums that term over the K means.
    Given ``labels`` (the class of each target), a query of class c sees only the targets of
    class c: the exact *conditional* deblender ``D(x, alpha, c)``.

    Thin wrapper around the parallel kernels ``_kernels.posterior_target_means`` (the 2D
    fast path: one Gaussian, no class) and ``_posterior_kernels.posterior_means`` (any d,
    mixtures, classes), with their ``posterior_*_indices`` twins for sampling. Results are
    the same bits for any number of threads.

    At alpha = 1 the posterior collapses onto the nearest target and D is undefined (it
    divides by 1 - alpha = 0): every method here takes alpha in [0, 1) and raises a
    ValueError naming ``alpha`` at 1. The samplers never evaluate a deblender at alpha = 1.

    Parameters
    ----------
    target_points : array-like, shape (m, d)
        The finite target set, m >= 1, d in [1, 4096], finite, entries at most 1e150.
    source_mean : array-like, shape (d,) or (K, d), default zeros
        The source's mean, or the K <= 1024 means of an equal-weight mixture.
    source_cov : array-like of shape (d, d), or float, default identity
        Symmetric positive definite; a number is the variance of an isotropic source
        (``source_cov * I``). In the source's whitened coordinates every target and query
        must stay below 1e100 (a ValueError says so otherwise).
    labels : array-like of int, shape (m,), optional
        Class of each target, in [0, 999]. Enables ``labels=`` in the calls.

    Examples
    --------
    >>> deblender = ExactDeblender([[1.0, 0.0], [-1.0, 0.0]])
    >>> deblender([[0.0, 0.0]], 0.0).tolist()  # at alpha = 0: the targets' mean minus x
    [[0.0, 0.0]]
    >>> digits = ExactDeblender(np.eye(3), source_cov=0.5, labels=[0, 1, 1])
    >>> digits(np.zeros((1, 3)), 0.0, labels=[0]).tolist()  # class 0 has one target
    [[1.0, 0.0, 0.0]]
    """

    target_points: np.ndarray
    source_mean: np.ndarray | None = None
    source_cov: np.ndarray | float | None = None
    labels: np.ndarray | None = None
    _whitening: np.ndarray = field(init=False, repr=False)
    _whitening_gain: float = field(init=False, repr=False)
    _means_w: np.ndarray = field(init=False, repr=False)
    _order: np.ndarray = field(init=False, repr=False)
    _sorted: np.ndarray = field(init=False, repr=False)
    _sorted_t: np.ndarray = field(init=False, repr=False)
    _sorted_wt: np.ndarray = field(init=False, repr=False)
    _class_ranges: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        targets = check_points("target_points", self.target_points)
        m, d = targets.shape
        mean = np.zeros(d) if self.source_mean is None else self.source_mean
        means = check_array("source_mean", mean, min_rows=1)
        if means.ndim not in (1, 2) or means.shape[-1] != d:
            raise ValueError(f"source_mean must have shape ({d},) or (K, {d}) for targets of "
                             f"dimension {d}, got {means.shape}")
        components = 1 if means.ndim == 1 else means.shape[0]
        if components > MAX_COMPONENTS or components * m > MAX_COMPONENT_PAIRS:
            raise ValueError(f"source_mean must have at most {MAX_COMPONENTS} components and "
                             f"components x targets at most {MAX_COMPONENT_PAIRS}, got "
                             f"{components} x {m}")
        cov = covariance_matrix("source_cov", 1.0 if self.source_cov is None else self.source_cov, d)
        whitening = np.linalg.inv(np.linalg.cholesky(cov))
        whitening = np.tril(whitening)  # exactly lower triangular for the kernels
        gain = float(np.abs(whitening).sum(axis=1).max())  # bounds |W x| by gain * max |x|
        for name, values in (("target_points", targets), ("source_mean", means)):
            if gain * np.abs(values).max() > MAX_WHITENED:
                raise ValueError(f"{name} is too large for source_cov: in the source's whitened "
                                 f"coordinates entries must stay below {MAX_WHITENED:g}")
        labels = None
        order = np.arange(m)
        if self.labels is not None:
            labels = check_labels(self.labels, m)
            order = np.argsort(labels, kind="stable")
        ranges = np.zeros((MAX_CLASSES if labels is not None else 1, 2), np.int64)
        if labels is None:
            ranges[0] = 0, m
        else:
            counts = np.bincount(labels, minlength=MAX_CLASSES)
            ranges[:, 1] = np.cumsum(counts)
            ranges[:, 0] = ranges[:, 1] - counts
        put("target_points", _frozen(targets))
        put("source_mean", _frozen(means))
        put("source_cov", _frozen(cov))
        put("labels", None if labels is None else _frozen(labels).astype(np.int64))
        put("_whitening", whitening)
        put("_whitening_gain", gain)
        put("_means_w", _kernels.whiten(np.atleast_2d(means), whitening))
        put("_order", order)
        put("_sorted", np.ascontiguousarray(targets[order]))
        put("_sorted_t", np.ascontiguousarray(targets[order].T))
        put("_sorted_wt", np.ascontiguousarray(_kernels.whiten(targets[order], whitening).T))
        put("_class_ranges", ranges)

    @property
    def dim(self) -> int:
        """The dimension d of the points."""
        return int(self.target_points.shape[1])

    @property
    def classes(self) -> np.ndarray:
        """The class labels that have targets (empty without ``labels``)."""
        return np.array([]) if self.labels is None else np.unique(self.labels)

    def for_class(self, label: int) -> ExactDeblender:
        """The exact deblender of the targets of one class: the exact conditional deblender.

        Equal to calling this deblender with ``labels=label`` for every query.
        """
        if self.labels is None:
            raise ValueError("labels were not given to this ExactDeblender, so it has no classes")
        label = int(check_labels(label, 1)[0])
        chosen = self.labels == label
        if not chosen.any():
            raise ValueError(f"label must be a class with targets ({self.classes.tolist()}), got {label}")
        return ExactDeblender(self.target_points[chosen], self.source_mean, self.source_cov)

    # -- queries --------------------------------------------------------------------------
    def _queries(self, x, alpha, labels, name="x"):
        x = check_points(name, x, min_rows=0, dim=self.dim)
        if x.size and self._whitening_gain * np.abs(x).max() > MAX_WHITENED:
            raise ValueError(f"{name} is too large for source_cov: in the source's whitened "
                             f"coordinates entries must stay below {MAX_WHITENED:g}")
        alpha = check_alpha(alpha, x.shape[0])
        if labels is None:
            starts = np.zeros(x.shape[0], np.int64)
            stops = np.full(x.shape[0], self.target_points.shape[0], np.int64)
        else:
            if self.labels is None:
                raise ValueError("labels can only be given to an ExactDeblender built with "
                                 "labels (the class of each target)")
            labels = check_labels(labels, x.shape[0])
            starts, stops = self._class_ranges[labels, 0], self._class_ranges[labels, 1]
            empty = starts == stops
            if empty.any():
                raise ValueError(f"labels must be classes with targets ({self.classes.tolist()}), "
                                 f"got {int(labels[empty][0])}")
        widest = int((stops - starts).max()) if x.shape[0] else 0
        check_pair_work(name, x.shape[0] * float(widest) * self.dim * self._means_w.shape[0])
        return x, alpha, labels, starts, stops, widest

    def _fast(self, labels) -> bool:
        return self.dim == 2 and self._means_w.shape[0] == 1 and labels is None

    def _target_means(self, x, alpha, labels, starts, stops, widest) -> np.ndarray:
        if self._fast(labels):
            return _kernels.posterior_target_means(
                x, alpha, self._sorted_t, self._sorted_wt, self._whitening, self._means_w[0])
        return _posterior_kernels.posterior_means(x, alpha, self._whitening, self._sorted,
                                                  self._sorted_wt, self._means_w, starts, stops,
                                                  widest)

    def posterior_mean(self, x, alpha, labels=None) -> PosteriorMeans:
        """E[x0 | x_alpha] and E[x1 | x_alpha] for points x (n, d), alpha (n,) in [0, 1).

        ``labels`` (n,) (or one int) restricts each query to the targets of its class.
        """
        x, alpha, *query = self._queries(x, alpha, labels)
        x1 = self._target_means(x, alpha, *query)
        keep = (1.0 - alpha)[:, None]
        return PosteriorMeans((x - alpha[:, None] * x1) / keep, x1)

    def __call__(self, x, alpha, labels=None) -> np.ndarray:
        """D(x, alpha) = E[x1 - x0 | x_alpha]: shape (n, d); alpha (n,) or scalar in [0, 1).

        ``labels`` (n,) (or one int): D(x, alpha, class), the conditional deblender.
        """
        x, alpha, *query = self._queries(x, alpha, labels)
        x1 = self._target_means(x, alpha, *query)
        return (x1 - x) / (1.0 - alpha)[:, None]

    def posterior_sample(self, x, alpha, seed=0, labels=None) -> PosteriorSample:
        """Draw (x0, x1) given x_alpha: i ~ Cat(w), x1 = y_i, x0 = (x_alpha - alpha y_i)/(1-alpha)."""
        x, alpha, labels, starts, stops, widest = self._queries(x, alpha, labels)
        uniforms = make_rng(seed).random(x.shape[0])
        if self._fast(labels):
            index = _kernels.posterior_target_indices(x, alpha, self._sorted_wt, self._whitening,
                                                      self._means_w[0], uniforms)
        else:
            index = _posterior_kernels.posterior_indices(x, alpha, self._whitening, self._sorted_wt,
                                                         self._means_w, starts, stops, widest,
                                                         uniforms)
        index = self._order[index]
        x1 = self.target_points[index]
        return PosteriorSample((x - alpha[:, None] * x1) / (1.0 - alpha)[:, None], x1, index)


@dataclass(frozen=True, eq=False)
class GaussianDeblender:
    """The exact deblender between two Gaussians with diagonal covariances, in any dimension.

    Source ``N(source_mean, diag(source_std^2))``, target ``N(target_mean,
    diag(target_std^2))``, independent. Per axis, with ``C(alpha) = (1-alpha)^2 s0^2 +
    alpha^2 s1^2``: ``D(x, alpha) = (m1 - m0) + (alpha s1^2 - (1-alpha) s0^2) / C(alpha) *
    (x - (1-alpha) m0 - alpha m1)``. It is defined for alpha in [0, 1] (C > 0 throughout).

    The deterministic IADB path from x0 is known exactly: :meth:`exact_map`.

    Parameters
    ----------
    source_mean, target_mean : array-like of shape (d,), optional
        Default zeros. The dimension d comes from the longest of the four parameters given
        as arrays (2 if all are omitted or scalars).
    source_std, target_std : float or array-like of shape (d,), default 1
        Per-axis standard deviations, in [1e-50, 1e50] (so that no velocity of points up to
        1e150 overflows).

    Examples
    --------
    >>> blend = GaussianDeblender(target_mean=(3.0, 0.0), target_std=0.5)
    >>> blend.exact_map([[2.0, -2.0]]).tolist()  # x -> m + s x
    [[4.0, -1.0]]
    """

    source_mean: np.ndarray | None = None
    source_std: np.ndarray | float = 1.0
    target_mean: np.ndarray | None = None
    target_std: np.ndarray | float = 1.0

    def __post_init__(self):
        names = ("source_mean", "source_std", "target_mean", "target_std")
        given = {name: check_array(name, getattr(self, name))
                 for name in names if getattr(self, name) is not None}
        vectors = [getattr(self, name) for name in given if np.ndim(getattr(self, name)) == 1]
        dim = max([len(v) for v in vectors], default=2)
        for name in names:
            value = given.get(name, np.zeros(dim))
            if np.ndim(getattr(self, name)) == 0 and name in given:
                value = np.full(dim, value[0])
            if value.shape != (dim,):
                raise ValueError(f"{name} must be a number or have shape ({dim},), got {value.shape}")
            if name.endswith("std") and np.any((value < 1e-50) | (value > 1e50)):
                raise ValueError(f"{name} must lie in [1e-50, 1e50], got {value.tolist()}")
            object.__setattr__(self, name, _frozen(value))

    @property
    def dim(self) -> int:
        """The dimension d of the points."""
        return int(self.source_mean.shape[0])

    def _spread(self, alpha: np.ndarray) -> np.ndarray:
        """sqrt(C(alpha)) per axis: the standard deviation of x_alpha, shape (n, d)."""
        keep, a = (1.0 - alpha)[:, None], alpha[:, None]
        return np.sqrt((keep * self.source_std) ** 2 + (a * self.target_std) ** 2)

    def _blended_mean(self, alpha: np.ndarray) -> np.ndarray:
        return (1.0 - alpha)[:, None] * self.source_mean + alpha[:, None] * self.target_mean

    def __call__(self, x, alpha) -> np.ndarray:
        """D(x, alpha), shape (n, d); alpha (n,) or scalar in [0, 1]."""
        x = check_points("x", x, min_rows=0, dim=self.dim)
        alpha = check_alpha(alpha, x.shape[0], allow_one=True)
        a, keep = alpha[:, None], (1.0 - alpha)[:, None]
        gain = (a * self.target_std**2 - keep * self.source_std**2) / self._spread(alpha) ** 2
        return self.target_mean - self.source_mean + gain * (x - self._blended_mean(alpha))

    def exact_map(self, x0, alpha=1.0) -> np.ndarray:
        """Where the deterministic path from x0 is at level alpha: shape (n, d).

        ``x(alpha) = (1-alpha) m0 + alpha m1 + sqrt(C(alpha)) / s0 * (x0 - m0)``; at alpha = 1
        this is the monotone transport map ``m1 + s1 / s0 * (x0 - m0)``.
        """
        x0 = check_points("x0", x0, min_rows=0, dim=self.dim)
        alpha = check_alpha(alpha, x0.shape[0], allow_one=True)
        return (self._blended_mean(alpha)
                + self._spread(alpha) / self.source_std * (x0 - self.source_mean))
