"""Extended DMD (Williams, Kevrekidis and Rowley 2015) computed the stable way.

With the dictionary ``Psi`` evaluated on the snapshots (rows = snapshots here, as in the
papers) and quadrature weights ``W``, EDMD's matrices are ``G = Psi_X* W Psi_X``,
``A = Psi_X* W Psi_Y``, ``L = Psi_Y* W Psi_Y`` and ``K = G^+ A``. Instead of inverting ``G``,
:func:`edmd` factors ``sqrt(W) Psi_X = Q R`` (QR, then an SVD of ``R`` that reveals and
drops numerically dependent functions) and works in the orthonormal coordinates ``h = R g``:
``A~ = Q* C`` with ``C = sqrt(W) Psi_Y R^+`` and ``B`` the R-factor of ``C - Q A~``. Then
the residual of a candidate eigenpair is ``|[B; A~ - lambda I] h| / |h|`` (Colbrook and
Townsend's ResDMD, without the cancellation of the G/A/L form). A single R-only QR of the
``m x 2N`` matrix ``sqrt(W) [Psi_X, Psi_Y]`` yields all of these; ``Q`` is never formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from explorer._validation import check_array, check_range
from explorer.koopman import _kernels
from explorer.koopman.dictionaries import evaluate_dictionary
from explorer.koopman.dmd import check_snapshot_pair, numerical_rank

__all__ = ["EDMDResult", "edmd"]


@dataclass(frozen=True)
class EDMDResult:
    """EDMD of a snapshot pair with a dictionary, and the residual of every eigenpair.

    ``N`` is the dictionary size, ``m`` the number of snapshots and ``r <= N`` the numerical
    rank of ``sqrt(W) Psi_X`` (``r = N`` unless dictionary functions are dependent on the
    data). Eigenvalues are sorted by decreasing modulus.

    Attributes
    ----------
    K : ndarray (N, N)
        The EDMD matrix ``G^+ A``: ``Psi(F(x)) ~ Psi(x) K`` in the least-squares sense.
    eigs : ndarray (r,) complex
        Eigenvalues of ``K`` (discrete time); its remaining ``N - r`` are 0 and not listed.
    eigenvectors : ndarray (N, r) complex
        Coefficients ``g`` of the eigenfunctions ``phi = Psi g``, each of unit norm
        ``|sqrt(W) Psi_X g| = 1``.
    residuals : ndarray (r,)
        ResDMD residual of each eigenpair: ``|Psi_Y g - lambda Psi_X g|_W / |Psi_X g|_W``.
        0 for exact eigenpairs; large for spurious ones.
    G, A, L : ndarray (N, N)
        ``Psi_X* W Psi_X``, ``Psi_X* W Psi_Y``, ``Psi_Y* W Psi_Y``.
    psi_x : ndarray (N, m)
        The dictionary evaluated on ``X``.
    reduced_operator : ndarray (r, r)
        ``A~ = Q* C``: ``K`` in the orthonormal coordinates ``h = R g``.
    residual_factor : ndarray (r, r)
        ``B``, the part of ``Psi_Y`` outside the span of ``Psi_X``: ``|B h|`` is the residual
        of the projection.
    gram_factor : ndarray (r, N)
        ``R`` with ``sqrt(W) Psi_X = Q R`` (``G = R* R`` on the kept directions).
    weights : ndarray (m,)
        Quadrature weights (default ``1 / m``).
    dictionary : callable
        The dictionary, to evaluate eigenfunctions elsewhere.
    dt : float
        Time between snapshots, for :attr:`continuous_eigs`.
    """

    K: np.ndarray
    eigs: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    G: np.ndarray
    A: np.ndarray
    L: np.ndarray
    psi_x: np.ndarray
    reduced_operator: np.ndarray
    residual_factor: np.ndarray
    gram_factor: np.ndarray
    weights: np.ndarray
    dictionary: Callable
    dt: float

    @property
    def rank(self) -> int:
        return self.reduced_operator.shape[0]

    @property
    def continuous_eigs(self) -> np.ndarray:
        """``log(eigs) / dt`` (r,); a zero eigenvalue gives -inf."""
        with np.errstate(divide="ignore"):
            return np.log(self.eigs.astype(complex)) / self.dt

    @cached_property
    def eigenfunctions(self) -> np.ndarray:
        """Eigenfunctions on the data, ``phi_j(x_i) = (Psi_X g_j)_i``: (r, m), one per row."""
        return self.eigenvectors.T @ self.psi_x

    def evaluate_eigenfunctions(self, points) -> np.ndarray:
        """Eigenfunctions at new states ``points`` (n_state, p) -> (r, p)."""
        points = check_array("points", points, ndim=2)
        return self.eigenvectors.T @ evaluate_dictionary(self.dictionary, points)

    def verified_eigs(self, tol: float) -> np.ndarray:
        """Eigenvalues whose residual is at most ``tol`` (>= 0): the ones the data certify."""
        tol = check_range("tol", tol, lo=0.0)
        return self.eigs[self.residuals <= tol]


def _check_weights(weights, m: int) -> np.ndarray:
    if weights is None:
        return np.full(m, 1.0 / m)
    weights = check_array("weights", weights, shape=(m,))
    if np.any(weights < 0) or not np.any(weights > 0):
        raise ValueError("weights must be non-negative with a positive sum")
    return weights


def edmd(X, Y, dictionary, weights=None, *, dt=1.0) -> EDMDResult:
    """Extended DMD of ``(X, Y)`` in a dictionary, with ResDMD residuals of every eigenpair.

    Parameters
    ----------
    X, Y : array (n_state, m)
        Snapshots, one per column; ``Y[:, j]`` is one step after ``X[:, j]``. Finite.
    dictionary : callable
        Maps snapshots (n_state, m) to (N, m): :func:`monomials`, :func:`radial_basis`, or any
        function. Its values must be finite.
    weights : array (m,), optional
        Non-negative quadrature weights ``W`` (default uniform ``1 / m``). ``K``, the
        eigenpairs and the residuals do not depend on a common scale of the weights.
    dt : float > 0
        Time between snapshots; only used for :attr:`EDMDResult.continuous_eigs`.

    Returns
    -------
    EDMDResult

    Notes
    -----
    The residuals are quadrature approximations of ``|(K - lambda) phi| / |phi|``: they certify
    eigenpairs only when the snapshots are many more than the functions (``m >> N``); with
    ``m <= N`` the data are fitted exactly and every residual is 0.

    Cost ``O(m N^2)``: one R-only QR of the ``m x 2N`` matrix ``sqrt(W) [Psi_X, Psi_Y]``;
    everything else (``G``, ``A``, ``L``, ``K``, the eigenpairs and their residuals) is
    ``O(N^3)`` work on its triangular factor.

    Examples
    --------
    >>> from explorer.koopman import slow_manifold, monomials
    >>> data = slow_manifold(mu=-0.1, lam=-1.0, dt=0.1)
    >>> result = edmd(data.X, data.Y, monomials(2), dt=0.1)
    >>> np.sort(result.continuous_eigs[result.residuals < 1e-8].real).round(6)
    array([-1. , -0.2, -0.1, -0. ])
    """
    X, Y = check_snapshot_pair(X, Y)
    check_range("dt", dt, lo=0.0, lo_open=True)
    m = X.shape[1]
    weights = _check_weights(weights, m)
    psi_x = evaluate_dictionary(dictionary, X)
    psi_y = evaluate_dictionary(dictionary, Y)
    if psi_y.shape != psi_x.shape:
        raise ValueError(f"dictionary must give the same number of functions on X and Y, got "
                         f"{psi_x.shape[0]} and {psi_y.shape[0]}")
    n_functions = psi_x.shape[0]
    # One R-only QR of [sqrt(W) Psi_X, sqrt(W) Psi_Y] = [Q1 Q2] [[R11, R12], [0, R22]] gives
    # everything without forming Q: G = R11* R11, A = R11* R12, L = R12* R12 + R22* R22.
    stacked = np.concatenate([psi_x, psi_y]).T * np.sqrt(weights)[:, None]
    triangle = np.zeros((2 * n_functions, 2 * n_functions), dtype=stacked.dtype)
    triangle[:min(stacked.shape)] = np.linalg.qr(stacked, mode="r")  # zero rows if m < 2N
    r11 = triangle[:n_functions, :n_functions]
    r12 = triangle[:n_functions, n_functions:]
    r22 = triangle[n_functions:, n_functions:]
    left, singular_values, right_h = np.linalg.svd(r11)
    rank = numerical_rank(singular_values, (X.shape[1], n_functions))
    if rank == 0:
        raise ValueError("dictionary is zero on every weighted snapshot")
    # orthonormal coordinates h = R g with R = S V* (the kept part of R11 = U S V*)
    gram_factor = singular_values[:rank, None] * right_h[:rank]           # (r, N)
    whitening = right_h[:rank].conj().T / singular_values[:rank]          # R^+, (N, r)
    projected_y = left[:, :rank].conj().T @ r12                           # Q* sqrt(W) Psi_Y
    reduced_operator = projected_y @ whitening                            # A~, (r, r)
    # sqrt(W) Psi_Y R^+ - Q A~ in the basis [Q1 Q2]: the part of Y outside span(Psi_X)
    outside = np.concatenate([r12 @ whitening - left[:, :rank] @ reduced_operator,
                              r22 @ whitening])
    residual_factor = np.linalg.qr(outside, mode="r")

    eigs, coordinates = np.linalg.eig(reduced_operator)
    order = np.argsort(-np.abs(eigs), kind="stable")
    eigs, coordinates = eigs[order], coordinates[:, order]
    residuals = _kernels.eigenpair_residuals(
        reduced_operator.astype(np.complex128), residual_factor.astype(np.complex128),
        eigs.astype(np.complex128), coordinates.astype(np.complex128))

    gram_x = r11.conj().T @ r11
    return EDMDResult(
        K=whitening @ projected_y, eigs=eigs, eigenvectors=whitening @ coordinates,
        residuals=residuals, G=(gram_x + gram_x.conj().T) / 2, A=r11.conj().T @ r12,
        L=r12.conj().T @ r12 + r22.conj().T @ r22, psi_x=psi_x,
        reduced_operator=reduced_operator, residual_factor=residual_factor,
        gram_factor=gram_factor, weights=weights, dictionary=dictionary, dt=float(dt))
