"""Extended DMD (Williams, Kevrekidis and Rowley 2015) computed the stable way.

With the dictionary ``Psi`` evaluated on the snapshots (rows = snapshots here, as in the
papers) and quadrature weights ``W``, EDMD's matrices are ``G = Psi_X* W Psi_X``,
``A = Psi_X* W Psi_Y``, ``L = Psi_Y* W Psi_Y`` and ``K = G^+ A``. Instead of inverting ``G``,
:func:`edmd` factors ``sqrt(W) Psi_X = Q R`` (QR, then an SVD of ``R`` that reveals and
drops numerically dependent functions) and works in the orthonormal coordinates ``h = R g``:
``A~ = Q* C`` with ``C = sqrt(W) Psi_Y R^+`` and ``B`` the R-factor of ``C - Q A~``. Then
the residual of a candidate eigenpair is ``|[B; A~ - lambda I] h| / |h|`` (Colbrook and
Townsend's ResDMD, without the cancellation of the G/A/L form). A single R factor of the
``m x 2N`` matrix ``sqrt(W) [Psi_X, Psi_Y]`` yields all of these; ``Q`` is never formed (see
:mod:`explorer.koopman._qr` for how that factor is computed at BLAS-3 speed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from collections.abc import Callable

import numpy as np

from explorer._validation import check_array, check_range, make_rng
from explorer.koopman import _qr, _residual_kernels
from explorer.koopman.dictionaries import evaluate_dictionary
from explorer.koopman.dmd import check_snapshot_pair, numerical_rank

__all__ = ["EDMDResult", "edmd", "heldout_residuals", "split_snapshots"]

#: Below this many snapshots per dictionary function, in-sample residuals are biased low
#: (at one or fewer, the data are interpolated and every residual is 0).
MIN_SNAPSHOTS_PER_FUNCTION = 4


@dataclass(frozen=True, eq=False)
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
        Quadrature weights, normalised to sum to 1 (default ``1 / m`` each).
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

    @property
    def n_snapshots(self) -> int:
        """``m``, the number of snapshot pairs."""
        return self.psi_x.shape[1]

    @property
    def snapshots_per_function(self) -> float:
        """``m / N``; below :data:`MIN_SNAPSHOTS_PER_FUNCTION` the residuals are overfitted.

        Residuals measured on the data that fitted ``K`` are biased low when the dictionary
        is nearly as large as the data (with ``m <= N`` every residual is 0); check them on
        held-out snapshots with :func:`heldout_residuals` (or use :func:`kernel_resdmd`).
        """
        return self.n_snapshots / self.K.shape[0]

    @cached_property
    def whitening(self) -> np.ndarray:
        """``R^+`` (N, r): coefficients ``g = R^+ h`` of orthonormal coordinates ``h``."""
        return np.linalg.pinv(self.gram_factor)

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
    # scale by the largest first: the sum of weights up to 1e150 each cannot overflow
    weights = weights / weights.max()
    return weights / weights.sum()


def _lift_pair(dictionary, X, Y):
    """``dictionary(X)``, ``dictionary(Y)``; once per distinct snapshot for trajectory data.

    When ``Y[:, j] == X[:, j + 1]`` (consecutive samples of one trajectory, as
    :attr:`Snapshots.X` / ``.Y`` lay them out) and the dictionary acts snapshot by snapshot
    (``dictionary.pointwise``), ``Psi_Y[:, j]`` is ``Psi_X[:, j + 1]``: only the other
    columns of ``Y`` are evaluated.
    """
    psi_x = evaluate_dictionary(dictionary, X)
    shared = np.zeros(X.shape[1], dtype=bool)
    if getattr(dictionary, "pointwise", False) and X.shape[1] > 1:
        shared[:-1] = np.all(Y[:, :-1] == X[:, 1:], axis=0)
    if not shared.any():
        return psi_x, evaluate_dictionary(dictionary, Y)
    psi_y = np.empty_like(psi_x)
    psi_y[:, shared] = psi_x[:, 1:][:, shared[:-1]]
    if not shared.all():
        rest = evaluate_dictionary(dictionary, np.ascontiguousarray(Y[:, ~shared]))
        if rest.shape[0] != psi_x.shape[0]:
            raise ValueError(f"dictionary must give the same number of functions on X and Y, "
                             f"got {psi_x.shape[0]} and {rest.shape[0]}")
        psi_y = psi_y.astype(np.result_type(psi_y, rest))
        psi_y[:, ~shared] = rest
    return psi_x, psi_y


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
        Non-negative quadrature weights ``W``, each at most 1e150 (default uniform). They
        are normalised to sum to 1: ``K``, the eigenpairs and the residuals do not depend on
        a common scale, and ``G``, ``A``, ``L`` are integrals against a probability measure.
    dt : float > 0
        Time between snapshots; only used for :attr:`EDMDResult.continuous_eigs`.

    Returns
    -------
    EDMDResult

    Notes
    -----
    The residuals are quadrature approximations of ``|(K - lambda) phi| / |phi|``: they certify
    eigenpairs only when the snapshots are many more than the functions (``m >> N``); with
    ``m <= N`` the data are fitted exactly and every residual is 0
    (:attr:`EDMDResult.snapshots_per_function`; :func:`heldout_residuals` checks them on
    other data).

    Cost ``O(m N^2)``: one R factor of the ``m x 2N`` matrix ``sqrt(W) [Psi_X, Psi_Y]``
    (a sketch-preconditioned Cholesky QR, two BLAS-3 passes, accurate in every direction);
    everything else (``G``, ``A``, ``L``, ``K``, the eigenpairs and their residuals) is
    ``O(N^3)`` work on its triangular factor. For trajectory data the dictionary is
    evaluated once per distinct snapshot.

    Examples
    --------
    >>> from explorer.koopman import slow_manifold, monomials
    >>> data = slow_manifold(mu=-0.1, lam=-1.0, dt=0.1)
    >>> result = edmd(data.X, data.Y, monomials(2), dt=0.1)
    >>> np.sort(result.continuous_eigs[result.residuals < 1e-8].real).round(6).tolist()
    [-1.0, -0.2, -0.1, 0.0]
    """
    X, Y = check_snapshot_pair(X, Y)
    check_range("dt", dt, lo=0.0, lo_open=True)
    m = X.shape[1]
    weights = _check_weights(weights, m)
    psi_x, psi_y = _lift_pair(dictionary, X, Y)
    if psi_y.shape != psi_x.shape:
        raise ValueError(f"dictionary must give the same number of functions on X and Y, got "
                         f"{psi_x.shape[0]} and {psi_y.shape[0]}")
    if np.iscomplexobj(psi_x) or np.iscomplexobj(psi_y):
        psi_x, psi_y = psi_x.astype(np.complex128), psi_y.astype(np.complex128)
    n_functions = psi_x.shape[0]
    # One R factor of [sqrt(W) Psi_X, sqrt(W) Psi_Y] = [Q1 Q2] [[R11, R12], [0, R22]] gives
    # everything without forming Q: G = R11* R11, A = R11* R12, L = R12* R12 + R22* R22.
    triangle = _qr.triangular_factor(psi_x, psi_y, np.sqrt(weights))
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
    residuals = _residual_kernels.eigenpair_residuals(
        reduced_operator.astype(np.complex128), residual_factor.astype(np.complex128),
        eigs.astype(np.complex128), coordinates.astype(np.complex128))

    gram_x = r11.conj().T @ r11
    return EDMDResult(
        K=whitening @ projected_y, eigs=eigs, eigenvectors=whitening @ coordinates,
        residuals=residuals, G=(gram_x + gram_x.conj().T) / 2, A=r11.conj().T @ r12,
        L=r12.conj().T @ r12 + r22.conj().T @ r22, psi_x=psi_x,
        reduced_operator=reduced_operator, residual_factor=residual_factor,
        gram_factor=gram_factor, weights=weights, dictionary=dictionary, dt=float(dt))


def heldout_residuals(result, X, Y, weights=None) -> np.ndarray:
    """Residuals of the eigenpairs of ``result`` measured on other snapshots.

    ``|Psi_Y g - lambda Psi_X g|_W / |Psi_X g|_W`` for each eigenpair ``(lambda, g)`` of
    ``result``, with the dictionary evaluated on the held-out pairs ``(X, Y)``: an honest
    estimate where in-sample residuals are overfitted (the dictionary nearly as large as the
    data, :attr:`EDMDResult.snapshots_per_function`). Evaluated directly, ``O(m N r)``.

    Parameters
    ----------
    result : EDMDResult
    X, Y : array (n_state, m)
        Held-out snapshot pairs (finite, at least one).
    weights : array (m,), optional
        Quadrature weights of the held-out pairs (default uniform).

    Returns
    -------
    ndarray (r,)
        One residual per eigenvalue of ``result``, in its order; ``inf`` where an
        eigenfunction vanishes on every held-out snapshot.

    Examples
    --------
    >>> from explorer.koopman import slow_manifold, monomials
    >>> fit, test = slow_manifold(seed=0), slow_manifold(seed=1)
    >>> result = edmd(fit.X, fit.Y, monomials(2))
    >>> bool(np.all(heldout_residuals(result, test.X, test.Y)[:4] < 1e-8))
    True
    """
    if not isinstance(result, EDMDResult):
        raise TypeError(f"result must be an EDMDResult from edmd(), got {type(result).__name__}")
    X, Y = check_snapshot_pair(X, Y)
    root = np.sqrt(_check_weights(weights, X.shape[1]))
    psi_x, psi_y = _lift_pair(result.dictionary, X, Y)
    if psi_x.shape[0] != result.K.shape[0]:
        raise ValueError(f"X gives {psi_x.shape[0]} dictionary functions, the result has "
                         f"{result.K.shape[0]}")
    values_x = (psi_x.T @ result.eigenvectors) * root[:, None]
    values_y = (psi_y.T @ result.eigenvectors) * root[:, None]
    outside = np.linalg.norm(values_y - values_x * result.eigs, axis=0)
    norms = np.linalg.norm(values_x, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norms > 0, outside / np.where(norms > 0, norms, 1.0), np.inf)


def split_snapshots(X, Y, fraction: float = 0.5, seed=0):
    """Split snapshot pairs at random into two disjoint sets.

    Parameters
    ----------
    X, Y : array (n_state, m)
        Snapshot pairs, ``m >= 2``.
    fraction : float in (0, 1)
        Share of the pairs in the first set (at least one pair in each).
    seed : int or numpy Generator

    Returns
    -------
    (X_first, Y_first, X_second, Y_second)
        Each pair keeps its columns in their original order.
    """
    X, Y = check_snapshot_pair(X, Y)
    fraction = check_range("fraction", fraction, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    m = X.shape[1]
    if m < 2:
        raise ValueError(f"X must hold at least 2 snapshot pairs to split, got {m}")
    count = min(max(int(round(fraction * m)), 1), m - 1)
    chosen = np.zeros(m, dtype=bool)
    chosen[make_rng(seed).permutation(m)[:count]] = True
    return X[:, chosen], Y[:, chosen], X[:, ~chosen], Y[:, ~chosen]
