"""The R factor of the tall weighted dictionary matrix, without Householder's cost.

EDMD needs the R factor of ``Z = sqrt(W) [Psi_X^T, Psi_Y^T]`` (``m x 2N``, ``m`` snapshots).
A Householder QR of it costs ``2 m (2N)^2`` flops at LAPACK's modest rate for tall matrices;
the textbook Gram route (``Z* Z``, one BLAS pass) is fast but squares the condition number, so
residuals below ~1e-8 drown in its rounding. Here a randomised preconditioner keeps both:

1. sketch: ``S = Omega Z`` with a sparse sign embedding (each snapshot added with random signs
   to 4 of ``4 * 2N`` rows; a cheap pass of additions), and ``R_s`` = the R factor of
   ``[S; mu I]`` (a small Householder QR; ``mu`` = a few ulps of ``|S|`` keeps it invertible
   when ``Z`` is rank deficient, e.g. when the dictionary spans an invariant subspace);
2. ``V = Z R_s^-1`` is well conditioned (the embedding preserves norms within a small factor),
   so one Cholesky QR of it is accurate: ``R_c = chol(V* V + nu I)``, row blocks of ``V``
   formed and consumed in cache by BLAS ``trsm`` and ``syrk``/``herk``;
3. ``R = R_c R_s``. Then ``|R v| = |Z v| (1 + O(eps))`` for every vector ``v`` (plus an
   absolute floor of order ``eps^1.5 |Z| |v|``): relative accuracy in every direction, which
   is what residuals near 0 need.

Cost: two BLAS-3 passes (``trsm`` + ``syrk``), about twice the Gram route's flops. The sketch
uses a fixed seed: ``R`` is unique, and the fixed sketch makes its rounding reproducible.
Blocks are summed in a fixed order.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas

from explorer.koopman import _residual_kernels

#: Below this many rows per column a direct Householder QR is as cheap and simpler.
_DIRECT_ROWS_PER_COLUMN = 16
_SKETCH_ROWS_PER_COLUMN = 4
_SKETCH_NONZEROS = 4
_BLOCK_ROWS = 8192
_SKETCH_SEED = 20240531


def _direct(psi_x, psi_y, root_weights):
    stacked = np.concatenate([psi_x, psi_y]).T * root_weights[:, None]
    n = stacked.shape[1]
    triangle = np.zeros((n, n), dtype=stacked.dtype)
    triangle[:min(stacked.shape)] = np.linalg.qr(stacked, mode="r")  # zero rows if m < 2N
    return triangle


def _preconditioner(psi_x, psi_y, root_weights):
    """``R_s``: the R factor of the sketch ``Omega Z`` stacked on ``mu I`` (invertible)."""
    m = psi_x.shape[1]
    n = 2 * psi_x.shape[0]
    rows = _SKETCH_ROWS_PER_COLUMN * n
    rng = np.random.default_rng(_SKETCH_SEED)
    targets = rng.integers(0, rows, size=(m, _SKETCH_NONZEROS))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(m, _SKETCH_NONZEROS)) / np.sqrt(_SKETCH_NONZEROS)
    sketch = _residual_kernels.sparse_sign_sketch(psi_x, psi_y, root_weights, targets, signs, rows).T
    scale = np.linalg.norm(sketch)
    regulariser = np.eye(n, dtype=sketch.dtype) * (4 * n * np.finfo(float).eps * max(scale, 1e-300))
    return np.linalg.qr(np.concatenate([sketch, regulariser]), mode="r")


def _whitened_gram(psi_x, psi_y, root_weights, factor):
    """``V* V`` for ``V = Z R_s^-1``, formed block by block (``trsm``, then ``syrk``/``herk``).

    A triangular solve, not a product with an explicit inverse: ``R_s`` is as ill conditioned
    as ``Z`` (near-invariant dictionaries make it singular to working precision), and only
    the solve keeps ``V R_s = Z`` to rounding (backward stability).
    """
    n_functions, m = psi_x.shape
    n = 2 * n_functions
    complex_data = np.iscomplexobj(psi_x)
    trsm = blas.ztrsm if complex_data else blas.dtrsm
    gram = np.zeros((n, n), dtype=psi_x.dtype)
    block = np.empty((n, _BLOCK_ROWS), dtype=psi_x.dtype)
    for first in range(0, m, _BLOCK_ROWS):
        last = min(first + _BLOCK_ROWS, m)
        width = last - first
        rows = block[:, :width]
        np.multiply(psi_x[:, first:last], root_weights[first:last], out=rows[:n_functions])
        np.multiply(psi_y[:, first:last], root_weights[first:last], out=rows[n_functions:])
        # rows.T is the Fortran-ordered (width x 2N) block of Z: BLAS works on it in place
        whitened = trsm(1.0, factor, np.asfortranarray(rows.T), side=1)
        if complex_data:
            gram += blas.zherk(1.0, whitened, trans=2)
        else:
            gram += blas.dsyrk(1.0, whitened, trans=1)
    upper = np.triu(gram)
    return upper + np.triu(upper, 1).conj().T


def triangular_factor(psi_x, psi_y, root_weights) -> np.ndarray:
    """An R factor of ``sqrt(W) [Psi_X^T, Psi_Y^T]``: upper triangular ``(2N, 2N)``.

    ``R* R = Z* Z`` with relative accuracy in every direction (see the module docstring);
    rows of ``R`` may differ from Householder's by signs, which no caller depends on.
    """
    m, n = psi_x.shape[1], 2 * psi_x.shape[0]
    if m <= _DIRECT_ROWS_PER_COLUMN * n:
        return _direct(psi_x, psi_y, root_weights)
    sketch_factor = _preconditioner(psi_x, psi_y, root_weights)
    gram = _whitened_gram(psi_x, psi_y, root_weights, np.asfortranarray(np.triu(sketch_factor)))
    # V is well conditioned except along directions where Z itself is (numerically) zero;
    # a shift of a few ulps of its scale keeps the Cholesky factor of V* V defined there
    shift = n * np.finfo(float).eps * np.trace(gram).real / n
    while True:
        try:
            lower = np.linalg.cholesky(gram + shift * np.eye(n))
            return np.triu(lower.conj().T @ sketch_factor)
        except np.linalg.LinAlgError:
            if not shift < 1.0:  # V* V has trace ~ n: a shift of 1 always works
                return _direct(psi_x, psi_y, root_weights)
            shift *= 100
