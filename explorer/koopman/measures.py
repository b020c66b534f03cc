"""Spectral measures of measure-preserving systems: mpEDMD atoms and high-order smoothing.

For a measure-preserving invertible system the Koopman operator ``K`` is unitary, and an
observable ``g`` has a spectral measure ``mu_g`` on the circle: ``<K^n g, g> = int e^{i n
theta} d mu_g(theta)``. Two discretisations:

- :func:`spectral_measure`: measure-preserving EDMD (mpEDMD, Colbrook 2023, SIAM J. Numer.
  Anal., arXiv:2209.02244) replaces EDMD's matrix by the nearest isometry of the data's inner
  product and returns atoms on the circle;
- :func:`smoothed_spectral_measure`: the measure convolved with a rational kernel of order
  ``m`` through the resolvent (Colbrook and Townsend 2024, arXiv:2111.14889, section 4;
  Colbrook's ``IsomMeas.m``). An order-``m`` kernel has vanishing moments up to ``m - 1``,
  so where ``mu_g`` is smooth the error of the smoothed density falls like ``epsilon^m``
  (``m = 1`` is the Poisson kernel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from explorer._validation import check_array, check_range
from explorer.koopman import _residual_kernels
from explorer.koopman.resdmd import _check_result

__all__ = ["SpectralMeasure", "spectral_measure", "RationalKernel", "rational_kernel",
           "smoothed_spectral_measure", "MAX_ORDER"]

#: Highest kernel order offered (the Vandermonde systems for the residues stay well posed).
MAX_ORDER = 6
_MAX_ANGLES = 1_000_000


@dataclass(frozen=True, eq=False)
class SpectralMeasure:
    """A discrete approximation ``sum_j weights[j] delta(eigs[j])`` of a spectral measure.

    Attributes
    ----------
    eigs : ndarray (r,) complex
        Eigenvalues of the unitary mpEDMD matrix, on the unit circle.
    angles : ndarray (r,)
        ``angle(eigs)`` in (-pi, pi] (radians per step).
    weights : ndarray (r,)
        Non-negative masses; they sum to ``|g|^2_W``, the squared norm of the observable.
    """

    eigs: np.ndarray
    angles: np.ndarray
    weights: np.ndarray

    def smoothed(self, angles, smoothing: float = 0.05) -> np.ndarray:
        """The measure convolved with the Poisson kernel of radius ``exp(-smoothing)``.

        Parameters
        ----------
        angles : array, any shape
            Angles (radians) at which to evaluate the density (at most 1,000,000).
        smoothing : float in (0, 100]
            Width of the kernel (radians, roughly).

        Returns
        -------
        ndarray, the shape of ``angles``
            A density on the circle integrating to ``sum(weights)``.
        """
        angles = check_array("angles", angles, max_size=_MAX_ANGLES)
        smoothing = check_range("smoothing", smoothing, lo=0.0, hi=100.0, lo_open=True)
        radius = np.exp(-smoothing)
        difference = angles[..., None] - self.angles
        poisson = (1 - radius**2) / (2 * np.pi * (1 - 2 * radius * np.cos(difference) + radius**2))
        return poisson @ self.weights


def _observable_coordinates(result, observable) -> np.ndarray:
    """``u = R c``: the observable's coordinates in the orthonormal basis of the span."""
    coefficients = check_array("observable", observable, dtype=np.complex128,
                               shape=(result.K.shape[0],))
    return result.gram_factor @ coefficients


def spectral_measure(result, observable) -> SpectralMeasure:
    """Spectral measure of an observable under a measure-preserving system (mpEDMD).

    mpEDMD replaces EDMD's matrix by the closest one that is an isometry of the data's inner
    product: the unitary polar factor ``U`` of ``A~`` (in the orthonormal coordinates). Its
    eigenvalues lie on the unit circle and ``|v_j* R c|^2`` is the mass at ``eig_j`` of the
    observable ``g = Psi c``. Only meaningful when the snapshots sample an invariant measure
    (e.g. long trajectories of a Hamiltonian or an ergodic system).

    Parameters
    ----------
    result : EDMDResult
    observable : array (N,)
        Coefficients ``c`` of the observable in the dictionary.

    Returns
    -------
    SpectralMeasure

    See Also
    --------
    smoothed_spectral_measure : the same measure smoothed by a kernel of order 1 to 6.
    """
    result = _check_result(result)
    coordinates = _observable_coordinates(result, observable)
    left, _, right_h = np.linalg.svd(result.reduced_operator)
    unitary = left @ right_h
    # a unitary matrix is normal: its eigenvectors from the complex Schur form are orthonormal
    triangular, vectors = scipy.linalg.schur(unitary.astype(np.complex128), output="complex")
    eigs = np.diag(triangular) / np.abs(np.diag(triangular))
    weights = np.abs(vectors.conj().T @ coordinates) ** 2
    return SpectralMeasure(eigs=eigs, angles=np.angle(eigs), weights=weights)


@dataclass(frozen=True, eq=False)
class RationalKernel:
    """A rational smoothing kernel of order ``m`` on the circle.

    ``K_eps(theta) = -(1 / 2 pi) sum_j Re[c_j conj(l_j / (1 - l_j)) + d_j / (1 - l_j)]`` with
    ``l_j = e^{i theta} (1 + eps delta_j)``: the smoothed measure of a unit atom at angle 0.
    It integrates to 1 over the circle and, for ``m >= 2``, its moments of order 1 to
    ``m - 1`` vanish (up to ``O(eps^m)``).

    Attributes
    ----------
    order : int
        ``m``, in [1, 6].
    epsilon : float
        Smoothing parameter (the poles sit at distance ``~ epsilon`` from the circle).
    poles : ndarray (m,) complex
        ``delta_j = 1 + i (2 j / (m + 1) - 1)``, ``j = 1..m``.
    c, d : ndarray (m,) complex
        Residues: ``sum_j c_j sigma_j^k = [k = 0]`` with ``sigma_j = -conj(delta_j) / (1 +
        eps conj(delta_j))``, and ``sum_j d_j delta_j^k = [k = 0]``, ``k = 0..m-1``.
    """

    order: int
    epsilon: float
    poles: np.ndarray
    c: np.ndarray
    d: np.ndarray

    def __call__(self, angles) -> np.ndarray:
        """The kernel at ``angles`` (radians, any shape, at most 1,000,000 values)."""
        angles = check_array("angles", angles, max_size=_MAX_ANGLES)
        shifts = np.exp(1j * angles)[..., None] * (1 + self.epsilon * self.poles)
        terms = self.c * np.conj(shifts / (1 - shifts)) + self.d / (1 - shifts)
        return -np.sum(terms.real, axis=-1) / (2 * np.pi)


def rational_kernel(order: int = 2, epsilon: float = 0.1) -> RationalKernel:
    """The order-``m`` rational kernel of Colbrook and Townsend (poles and residues).

    Parameters
    ----------
    order : int in [1, 6]
    epsilon : float in [1e-6, 1]
        Smoothing parameter; the kernel's width is about ``epsilon`` radians.

    Returns
    -------
    RationalKernel

    Examples
    --------
    >>> kernel = rational_kernel(1, 0.1)
    >>> theta = np.linspace(-np.pi, np.pi, 20001)
    >>> round(float(np.trapezoid(kernel(theta), theta)), 6)
    1.0
    """
    order = check_range("order", order, lo=1, hi=MAX_ORDER, integer=True)
    epsilon = check_range("epsilon", epsilon, lo=1e-6, hi=1.0)
    j = np.arange(1, order + 1)
    poles = 1 + 1j * (2 * j / (order + 1) - 1)
    sigma = -np.conj(poles) / (1 + epsilon * np.conj(poles))
    first = np.zeros(order, dtype=complex)
    first[0] = 1
    powers = np.arange(order)[:, None]
    c = np.linalg.solve(sigma[None, :] ** powers, first)
    d = np.linalg.solve(poles[None, :] ** powers, first)
    return RationalKernel(order=order, epsilon=epsilon, poles=poles, c=c, d=d)


def smoothed_spectral_measure(result, observable, angles, epsilon: float = 0.1,
                              order: int = 2) -> np.ndarray:
    """The spectral measure of an observable smoothed by the order-``m`` rational kernel.

    ``nu_eps(theta) = -(1 / 2 pi) sum_j Re[c_j conj(l_j) conj(<R(l_j) g, g>) + d_j <K R(l_j)
    g, g>]`` with the resolvent ``R(l) = (K - l)^-1`` at ``l_j = e^{i theta} (1 + eps
    delta_j)``, computed from the data in the orthonormal coordinates of the span (``K ~
    A~``); equal to ``int K_eps(theta - phi) d mu_g(phi)`` (:class:`RationalKernel`) when the
    span is invariant. One complex Schur factorisation of ``A~``, then per angle and pole a
    triangular solve (the parallel ``resolvent_forms`` kernel).

    Parameters
    ----------
    result : EDMDResult
        EDMD of a measure-preserving system (snapshots sampling an invariant measure).
    observable : array (N,)
        Coefficients of the observable in the dictionary.
    angles : array, any shape
        Angles (radians) at which to evaluate the density (at most 1,000,000).
    epsilon : float in [1e-6, 1]
        Smoothing parameter.
    order : int in [1, 6]
        Kernel order ``m``: the smoothing error falls like ``epsilon^m`` where ``mu_g`` is
        smooth (and away from its atoms).

    Returns
    -------
    ndarray, the shape of ``angles``
        The smoothed density (real; it integrates to ``|g|^2`` over a period, up to
        ``O(epsilon^m)``).

    See Also
    --------
    spectral_measure : mpEDMD's atoms.
    """
    result = _check_result(result)
    coordinates = _observable_coordinates(result, observable)
    angles = check_array("angles", angles, max_size=_MAX_ANGLES)
    kernel = rational_kernel(order, epsilon)
    triangular, vectors = scipy.linalg.schur(result.reduced_operator.astype(np.complex128),
                                             output="complex")
    rotated = np.ascontiguousarray(vectors.conj().T @ coordinates)
    shifts = (np.exp(1j * angles.ravel())[:, None] * (1 + kernel.epsilon * kernel.poles)).ravel()
    plain, mapped = _residual_kernels.resolvent_forms(np.ascontiguousarray(triangular), rotated,
                                                      shifts)
    plain = plain.reshape(-1, kernel.order)
    mapped = mapped.reshape(-1, kernel.order)
    shifts = shifts.reshape(-1, kernel.order)
    terms = kernel.c * np.conj(shifts) * np.conj(plain) + kernel.d * mapped
    density = -np.sum(terms.real, axis=1) / (2 * np.pi)
    return density.reshape(angles.shape)
