"""Kernel ResDMD: residual DMD for large state dimension, with residuals not overfitted.

When the state has hundreds of coordinates (a discretised field), no fixed dictionary fits;
kernel EDMD (Williams, Rowley and Kevrekidis 2015) builds one from the data through a kernel
``k(x, y)``, at a cost that grows with the number of snapshots, not the state dimension. But
residuals computed on the snapshots that built the dictionary are overfitted (a dictionary as
large as the data interpolates it). Colbrook and Townsend's kernel ResDMD (arXiv:2111.14889,
section 5; ``kernel_ResDMD.m``) splits the data:

1. with one half ``(X_a, Y_a)``, kernel EDMD: ``G_ij = k(x_i, x_j)``, ``A_ij = k(y_i, x_j)``,
   ``G = Q S^2 Q*``, ``K^ = S^+ Q* A Q S^+``; the dictionary spans the eigenfunctions of the
   ``N`` eigenvalues of ``K^`` of largest modulus: ``psi(x) = P* k(X_a, x)``;
2. with the other half ``(X_b, Y_b)``, ordinary EDMD and ResDMD in that dictionary, so the
   residuals, pseudospectra and verified spectra are measured on data the dictionary never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_choice, check_range
from explorer.koopman.dmd import check_snapshot_pair
from explorer.koopman.edmd import MIN_SNAPSHOTS_PER_FUNCTION, EDMDResult, edmd, split_snapshots

__all__ = ["KernelDictionary", "kernel_dictionary", "kernel_resdmd", "KERNELS"]

KERNELS = ("gaussian", "laplacian", "polynomial")
#: Largest number of snapshots building a kernel dictionary (its kernel matrix is M x M).
MAX_KERNEL_SNAPSHOTS = 2000
#: Eigenvalues of the kernel matrix (relative to the largest) treated as zero.
_CUT_OFF = 1e-12


def _kernel_matrix(kind, scale, degree, points, centers):
    """``k(points_j, centers_i)``: (n_centers, n_points), through BLAS inner products."""
    inner = centers.T @ points
    if kind == "polynomial":
        return (1.0 + inner / scale**2) ** degree
    squared = ((centers**2).sum(axis=0)[:, None] + (points**2).sum(axis=0)[None, :] - 2 * inner)
    squared = np.maximum(squared, 0.0)  # rounding can make a zero distance slightly negative
    if kind == "gaussian":
        return np.exp(-squared / scale**2)
    return np.exp(-np.sqrt(squared) / scale)


@dataclass(frozen=True, eq=False)
class KernelDictionary:
    """``N`` real functions ``psi(x) = P^T k(centers, x)`` built by kernel EDMD.

    Attributes
    ----------
    centers : ndarray (n_state, M)
        The snapshots ``X_a`` that built it.
    projection : ndarray (M, N)
        ``P``: each column combines kernel sections into one (real) function.
    eigs : ndarray (N,) complex
        The kernel-EDMD eigenvalues whose eigenfunctions the dictionary spans.
    kind : str
        "gaussian" ``exp(-|x - y|^2 / scale^2)``, "laplacian" ``exp(-|x - y| / scale)`` or
        "polynomial" ``(1 + x . y / scale^2)^degree``.
    scale : float
    degree : int
    """

    centers: np.ndarray
    projection: np.ndarray
    eigs: np.ndarray
    kind: str
    scale: float
    degree: int
    pointwise = True

    def size(self, n_state: int | None = None) -> int:
        return self.projection.shape[1]

    def __call__(self, X) -> np.ndarray:
        """Evaluate on snapshots ``X`` (n_state, m) -> (N, m)."""
        from explorer.koopman.dictionaries import _check_snapshots

        X = _check_snapshots(X, self.centers.shape[0])
        sections = _kernel_matrix(self.kind, self.scale, self.degree, X, self.centers)
        return self.projection.T @ sections


def _real_pair(X, Y):
    X, Y = check_snapshot_pair(X, Y)
    for name, values in (("X", X), ("Y", Y)):
        if np.iscomplexobj(values) and np.any(values.imag):
            raise TypeError(f"{name} must be real for a kernel dictionary; got complex values")
    return X.real.copy(), Y.real.copy()


def _check_kernel(kind, scale, degree, X):
    kind = check_choice("kernel", kind, KERNELS)
    degree = check_range("degree", degree, lo=1, hi=20, integer=True)
    if scale is None:
        # Colbrook's default: the mean distance of the snapshots from their mean
        scale = float(np.mean(np.linalg.norm(X - X.mean(axis=1, keepdims=True), axis=0)))
        scale = scale if scale > 0 else 1.0
    scale = check_range("scale", scale, lo=1e-150, hi=1e150)
    return kind, scale, degree


def kernel_dictionary(X, Y, size=None, *, kernel: str = "gaussian", scale=None,
                      degree: int = 2) -> KernelDictionary:
    """A data-driven dictionary from kernel EDMD on the pairs ``(X, Y)``.

    Parameters
    ----------
    X, Y : array (n_state, M)
        Snapshot pairs building the dictionary, ``2 <= M <= 2000``; any state dimension.
    size : int in [1, M], optional
        ``N``, the number of kernel-EDMD eigenfunctions spanned (default: all with eigenvalues
        above the cut-off). Complex conjugate pairs are kept whole, so the span is real and
        its dimension may differ from ``size`` by one.
    kernel : {"gaussian", "laplacian", "polynomial"}
    scale : float in [1e-150, 1e150], optional
        Length scale (state units); default the mean distance of ``X`` from its mean.
    degree : int in [1, 20]
        Degree of the polynomial kernel.

    Returns
    -------
    KernelDictionary
    """
    X, Y = _real_pair(X, Y)
    M = X.shape[1]
    if not 2 <= M <= MAX_KERNEL_SNAPSHOTS:
        raise ValueError(f"X must hold 2 to {MAX_KERNEL_SNAPSHOTS} snapshots to build a kernel "
                         f"dictionary, got {M}")
    if size is not None:
        size = check_range("size", size, lo=1, hi=M, integer=True)
    kind, scale, degree = _check_kernel(kernel, scale, degree, X)
    gram = _kernel_matrix(kind, scale, degree, X, X)
    image = _kernel_matrix(kind, scale, degree, Y, X)  # image[i, j] = k(y_j, x_i): A^T
    values, vectors = np.linalg.eigh((gram + gram.T) / 2)
    keep = values > _CUT_OFF * max(values.max(), 1e-300)
    inverse_root = vectors[:, keep] / np.sqrt(values[keep])  # Q S^+
    koopman = inverse_root.T @ image.T @ inverse_root
    eigs, eigenvectors = np.linalg.eig(koopman)
    order = np.argsort(-np.abs(eigs), kind="stable")
    order = order[np.abs(eigs[order]) > _CUT_OFF * max(np.abs(eigs).max(), 1e-300)]
    count = order.size if size is None else min(size, order.size)
    chosen = order[:count]
    # keep conjugate pairs whole: drop a last eigenvalue whose partner was cut off
    if 0 < count < order.size and abs(eigs[chosen[-1]].imag) > 0:
        partner = eigs[order[count]]
        if abs(partner - np.conj(eigs[chosen[-1]])) <= 1e-10 * abs(partner):
            chosen = chosen[:-1]
    if chosen.size == 0:
        raise ValueError(f"no kernel EDMD eigenvalue is above the cut-off: the kernel matrices "
                         f"of X and of Y against X are numerically zero at scale {scale:g}; "
                         f"check scale, and whether Y lies far from X")
    selected = eigenvectors[:, chosen]
    real_span = np.concatenate([selected.real, selected.imag], axis=1)
    left, singular_values, _ = np.linalg.svd(real_span, full_matrices=False)
    rank = int(np.count_nonzero(singular_values > 1e-10 * singular_values[0]))
    projection = inverse_root @ left[:, :rank]
    return KernelDictionary(centers=X.copy(), projection=projection, eigs=eigs[chosen],
                            kind=kind, scale=scale, degree=degree)


def kernel_resdmd(X, Y, size=None, *, kernel: str = "gaussian", scale=None, degree: int = 2,
                  fraction: float = 0.5, seed=0, dt: float = 1.0) -> EDMDResult:
    """Kernel ResDMD: dictionary from one part of the snapshots, residuals from the other.

    Parameters
    ----------
    X, Y : array (n_state, m)
        Snapshot pairs, one per column (real, finite, ``m >= 4``); the state dimension may be
        large (hundreds or thousands of grid values).
    size : int, optional
        Dictionary size ``N`` (see :func:`kernel_dictionary`); default the largest with at
        least 4 held-out snapshots per function (:data:`MIN_SNAPSHOTS_PER_FUNCTION`), capped
        by the kernel EDMD's numerical rank.
    kernel, scale, degree
        The kernel, as in :func:`kernel_dictionary`.
    fraction : float in (0, 1)
        Share of the pairs that build the dictionary (at most 2000 of them); the rest give
        the EDMD and residual matrices. Chosen at random (``seed``).
    seed : int or numpy Generator
    dt : float > 0
        Time between snapshots (for ``continuous_eigs``).

    Returns
    -------
    EDMDResult
        EDMD of the held-out pairs in the kernel dictionary (``result.dictionary``): its
        ``residuals``, :func:`pseudospectrum` and :func:`verified_spectrum` are measured on
        snapshots the dictionary was not built from.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(401) * 0.3
    >>> field = np.outer(np.cos(np.arange(50)), np.cos(t)) + np.outer(np.sin(np.arange(50)), np.sin(t))
    >>> result = kernel_resdmd(field[:, :-1], field[:, 1:], 6, kernel="polynomial", degree=1)
    >>> bool(np.min(np.abs(result.eigs - np.exp(0.3j))) < 1e-6)
    True
    """
    X, Y = _real_pair(X, Y)
    check_range("dt", dt, lo=0.0, lo_open=True)
    if X.shape[1] < 4:
        raise ValueError(f"X must hold at least 4 snapshot pairs to split, got {X.shape[1]}")
    fraction = check_range("fraction", fraction, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    fraction = min(fraction, MAX_KERNEL_SNAPSHOTS / X.shape[1])
    X_a, Y_a, X_b, Y_b = split_snapshots(X, Y, fraction, seed)
    if size is None:
        size = max(1, min(X_a.shape[1], X_b.shape[1] // MIN_SNAPSHOTS_PER_FUNCTION))
    dictionary = kernel_dictionary(X_a, Y_a, size, kernel=kernel, scale=scale, degree=degree)
    return edmd(X_b, Y_b, dictionary, dt=dt)
