"""Randomized range finder: the QB factorisation ``X ~ Q B`` with power iterations.

Halko, Martinsson and Tropp, "Finding structure with randomness" (SIAM Review 53, 2011),
algorithms 4.3/4.4: multiply ``X`` by a Gaussian test matrix, orthonormalise, and sharpen
the captured range with ``q`` power iterations (re-orthonormalised at every half-step so
that small singular directions are not lost to rounding). Alla, Monti and Sgura's
piecewise DMD uses it with ``q = 2`` and no oversampling to compress each piece.
"""

from __future__ import annotations

import numpy as np

from explorer._validation import check_array, check_range, make_rng

__all__ = ["randomized_qb"]

#: Largest number of entries accepted in a snapshot matrix (400 MB of float64).
MAX_VALUES = 50_000_000


def snapshot_dtype(X):
    """complex128 for complex input, else float64 (``check_array`` then judges the input)."""
    try:
        return np.complex128 if np.iscomplexobj(X) else np.float64
    except (TypeError, ValueError):  # ragged or otherwise not an array: check_array says so
        return np.float64


def qb(X, size: int, power_iterations: int, rng: np.random.Generator):
    """``Q`` (n, size) with orthonormal columns and ``B = Q^H X`` (size, m); no checks."""
    test_matrix = rng.standard_normal((X.shape[1], size))
    image = X @ test_matrix
    for _ in range(power_iterations):
        basis, _ = np.linalg.qr(image)
        coimage, _ = np.linalg.qr(X.conj().T @ basis)
        image = X @ coimage
    basis, _ = np.linalg.qr(image)
    return basis, basis.conj().T @ X


def randomized_qb(X, rank, *, oversampling=0, power_iterations=2, seed=0):
    """A randomized QB factorisation ``X ~ Q B`` of rank ``rank + oversampling``.

    Parameters
    ----------
    X : array (n, m)
        Real or complex, finite, entries of magnitude at most 1e150, at most 5e7 entries.
    rank : int in [1, min(n, m)]
        Target rank.
    oversampling : int in [0, 1000]
        Extra test vectors (Halko et al. suggest 5-10); the sketch has
        ``min(rank + oversampling, n, m)`` columns.
    power_iterations : int in [0, 20]
        Passes of ``X X^H`` that sharpen the range when singular values decay slowly.
    seed : int or numpy Generator
        Draws the Gaussian test matrix: the same seed gives the same bits.

    Returns
    -------
    Q : ndarray (n, k)
        Orthonormal columns spanning the captured range.
    B : ndarray (k, m)
        ``Q^H X``; ``|X - Q B|`` is within a small factor of the best rank-``k`` error.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.outer(np.arange(1.0, 6.0), np.ones(4)) + np.outer(np.ones(5), np.arange(4.0))
    >>> Q, B = randomized_qb(X, 2)
    >>> bool(np.allclose(Q @ B, X))
    True
    """
    X = check_array("X", X, ndim=2, dtype=snapshot_dtype(X), max_size=MAX_VALUES)
    if X.size == 0:
        raise ValueError(f"X must not be empty, got shape {X.shape}")
    rank = check_range("rank", rank, lo=1, hi=min(X.shape), integer=True)
    oversampling = check_range("oversampling", oversampling, lo=0, hi=1000, integer=True)
    power_iterations = check_range("power_iterations", power_iterations, lo=0, hi=20,
                                   integer=True)
    rng = make_rng(seed)
    return qb(X, min(rank + oversampling, min(X.shape)), power_iterations, rng)
