"""Deblenders known in closed form: a finite target set, and Gaussian to Gaussian.

A *deblender* is anything with ``__call__(x, alpha) -> D``: points ``x`` of shape (n, 2), blend
levels ``alpha`` of shape (n,) (a scalar is broadcast), and the velocity ``D`` of shape (n, 2),
the posterior mean of ``x1 - x0`` given the blend ``x_alpha = (1 - alpha) x0 + alpha x1``.

:class:`ExactDeblender` is the optimum of the IADB loss when the target is a finite point set
and the source is Gaussian: a softmax-weighted average of the targets. Sampling with it
reproduces training points (it memorises). :class:`GaussianDeblender` is the optimum between
two Gaussians with diagonal covariances, with the deterministic map known exactly, which is
what the sampler tests measure their error against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer._validation import check_array, make_rng
from explorer.blending import _kernels
from explorer.blending._checks import check_alpha, check_points
from explorer.blending.densities import cholesky_factor


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class PosteriorMeans:
    """Posterior means of the blend's endpoints given x_alpha.

    Attributes
    ----------
    x0 : ndarray, shape (n, 2)
        E[x0 | x_alpha] = (x_alpha - alpha E[x1 | x_alpha]) / (1 - alpha).
    x1 : ndarray, shape (n, 2)
        E[x1 | x_alpha], a convex combination of the target points.
    """

    x0: np.ndarray
    x1: np.ndarray


@dataclass(frozen=True, eq=False)
class PosteriorSample:
    """One draw of (x0, x1) from the posterior given x_alpha, per query.

    Attributes
    ----------
    x0 : ndarray, shape (n, 2)
        ``(x_alpha - alpha y_i) / (1 - alpha)``: the source point that blends with y_i into x_alpha.
    x1 : ndarray, shape (n, 2)
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
    ``D = xbar1 - xbar0 = (xbar1 - x) / (1 - alpha)``. Thin wrapper around the parallel
    ``posterior_target_means`` and ``posterior_target_indices`` kernels (stable softmax,
    parallel over queries).

    At alpha = 1 the posterior collapses onto the nearest target and D is undefined (it
    divides by 1 - alpha = 0): every method here takes alpha in [0, 1) and raises a
    ValueError naming ``alpha`` at 1. The samplers never evaluate a deblender at alpha = 1.

    Parameters
    ----------
    target_points : array-like, shape (m, 2)
        The finite target set, m >= 1, finite.
    source_mean : array-like, shape (2,), default (0, 0)
    source_cov : array-like, shape (2, 2), default identity
        Symmetric positive definite.

    Examples
    --------
    >>> deblender = ExactDeblender([[1.0, 0.0], [-1.0, 0.0]])
    >>> deblender([[0.0, 0.0]], 0.0).tolist()  # at alpha = 0: the targets' mean minus x
    [[0.0, 0.0]]
    """

    target_points: np.ndarray
    source_mean: np.ndarray = (0.0, 0.0)
    source_cov: np.ndarray = ((1.0, 0.0), (0.0, 1.0))
    _precision: np.ndarray = field(init=False, repr=False)
    _targets_t: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("target_points", _frozen(check_points("target_points", self.target_points)))
        put("source_mean", _frozen(check_array("source_mean", self.source_mean, shape=(2,))))
        cov = check_array("source_cov", self.source_cov, shape=(2, 2))
        cholesky_factor("source_cov", cov)
        put("source_cov", _frozen(cov))
        put("_precision", np.linalg.inv(cov))
        put("_targets_t", np.ascontiguousarray(self.target_points.T))

    def _queries(self, x, alpha):
        x = check_points("x", x, min_rows=0)
        return x, check_alpha(alpha, x.shape[0])

    def posterior_mean(self, x, alpha) -> PosteriorMeans:
        """E[x0 | x_alpha] and E[x1 | x_alpha] for points x (n, 2), alpha (n,) in [0, 1)."""
        x, alpha = self._queries(x, alpha)
        x1 = _kernels.posterior_target_means(x, alpha, self._targets_t, self.source_mean,
                                             self._precision)
        keep = (1.0 - alpha)[:, None]
        return PosteriorMeans((x - alpha[:, None] * x1) / keep, x1)

    def __call__(self, x, alpha) -> np.ndarray:
        """D(x, alpha) = E[x1 - x0 | x_alpha]: shape (n, 2); alpha (n,) or scalar in [0, 1)."""
        x, alpha = self._queries(x, alpha)
        x1 = _kernels.posterior_target_means(x, alpha, self._targets_t, self.source_mean,
                                             self._precision)
        return (x1 - x) / (1.0 - alpha)[:, None]

    def posterior_sample(self, x, alpha, seed=0) -> PosteriorSample:
        """Draw (x0, x1) given x_alpha: i ~ Cat(w), x1 = y_i, x0 = (x_alpha - alpha y_i)/(1-alpha)."""
        x, alpha = self._queries(x, alpha)
        uniforms = make_rng(seed).random(x.shape[0])
        index = _kernels.posterior_target_indices(x, alpha, self._targets_t, self.source_mean,
                                                  self._precision, uniforms)
        x1 = self.target_points[index]
        return PosteriorSample((x - alpha[:, None] * x1) / (1.0 - alpha)[:, None], x1, index)


@dataclass(frozen=True, eq=False)
class GaussianDeblender:
    """The exact deblender between two Gaussians with diagonal covariances.

    Source ``N(source_mean, diag(source_std^2))``, target ``N(target_mean,
    diag(target_std^2))``, independent. Per axis, with ``C(alpha) = (1-alpha)^2 s0^2 +
    alpha^2 s1^2``: ``D(x, alpha) = (m1 - m0) + (alpha s1^2 - (1-alpha) s0^2) / C(alpha) *
    (x - (1-alpha) m0 - alpha m1)``. It is defined for alpha in [0, 1] (C > 0 throughout).

    The deterministic IADB path from x0 is known exactly: :meth:`exact_map`.

    Parameters
    ----------
    source_mean, target_mean : array-like, shape (2,), default (0, 0)
    source_std, target_std : float or array-like of shape (2,), default 1
        Per-axis standard deviations, > 0.

    Examples
    --------
    >>> blend = GaussianDeblender(target_mean=(3.0, 0.0), target_std=0.5)
    >>> blend.exact_map([[2.0, -2.0]]).tolist()  # x -> m + s x
    [[4.0, -1.0]]
    """

    source_mean: np.ndarray = (0.0, 0.0)
    source_std: np.ndarray = 1.0
    target_mean: np.ndarray = (0.0, 0.0)
    target_std: np.ndarray = 1.0

    def __post_init__(self):
        for name in ("source_mean", "target_mean"):
            object.__setattr__(self, name, _frozen(check_array(name, getattr(self, name), shape=(2,))))
        for name in ("source_std", "target_std"):
            std = check_array(name, np.broadcast_to(getattr(self, name), (2,)), shape=(2,))
            if np.any(std <= 0):
                raise ValueError(f"{name} must be > 0, got {std.tolist()}")
            object.__setattr__(self, name, _frozen(std))

    def _spread(self, alpha: np.ndarray) -> np.ndarray:
        """sqrt(C(alpha)) per axis: the standard deviation of x_alpha, shape (n, 2)."""
        keep, a = (1.0 - alpha)[:, None], alpha[:, None]
        return np.sqrt((keep * self.source_std) ** 2 + (a * self.target_std) ** 2)

    def _blended_mean(self, alpha: np.ndarray) -> np.ndarray:
        return (1.0 - alpha)[:, None] * self.source_mean + alpha[:, None] * self.target_mean

    def __call__(self, x, alpha) -> np.ndarray:
        """D(x, alpha), shape (n, 2); alpha (n,) or scalar in [0, 1]."""
        x = check_points("x", x, min_rows=0)
        alpha = check_alpha(alpha, x.shape[0], allow_one=True)
        a, keep = alpha[:, None], (1.0 - alpha)[:, None]
        gain = (a * self.target_std**2 - keep * self.source_std**2) / self._spread(alpha) ** 2
        return self.target_mean - self.source_mean + gain * (x - self._blended_mean(alpha))

    def exact_map(self, x0, alpha=1.0) -> np.ndarray:
        """Where the deterministic path from x0 is at level alpha: shape (n, 2).

        ``x(alpha) = (1-alpha) m0 + alpha m1 + sqrt(C(alpha)) / s0 * (x0 - m0)``; at alpha = 1
        this is the monotone transport map ``m1 + s1 / s0 * (x0 - m0)``.
        """
        x0 = check_points("x0", x0, min_rows=0)
        alpha = check_alpha(alpha, x0.shape[0], allow_one=True)
        return (self._blended_mean(alpha)
                + self._spread(alpha) / self.source_std * (x0 - self.source_mean))
