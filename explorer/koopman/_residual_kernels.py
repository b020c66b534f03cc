"""Compiled kernels of residual DMD: arrays in, arrays out.

The public modules (``edmd``, ``resdmd``, ``verified``, ``measures``) validate their inputs
and call these functions; nothing here checks arguments or raises.

Contents
--------
- the residual of candidate pairs ``(z, h)`` in the orthonormal coordinates of a dictionary;
- the pseudospectrum ``tau(z) = sigma_min([B; A~ - z I])`` over many points: per point a
  Cholesky factor of ``H(z) = [B; A~ - z I]* [B; A~ - z I]`` stored as separate real and
  imaginary arrays (every inner loop is elementwise, so it vectorises without reassociation)
  and Lanczos on ``H(z)^-1`` started from the previous point's minimiser;
- a sparse sign sketch of the weighted dictionary values (the preconditioner of the QR in
  :mod:`explorer.koopman._qr`);
- resolvent quadratic forms ``u* (T - lambda)^-1 u`` and ``u* T (T - lambda)^-1 u`` on a
  triangular Schur factor ``T`` (the high-order spectral measures).

Every ``prange`` loop writes disjoint outputs and carries no reduction, so results are the
same bits for any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel

_EPS = np.finfo(np.float64).eps
#: Weight of the fixed generic vector added to the previous point's minimiser to start Lanczos.
_GENERIC_SHARE = 0.3


# ---------------------------------------------------------------------------------------
# residuals of candidate pairs
# ---------------------------------------------------------------------------------------
@njit_cached
def stacked_residual(a_tilde, residual_factor, z, vector):
    """``|[B; A~ - z I] h| / |h|``: the residual of the candidate pair (z, h), unsquared."""
    n = a_tilde.shape[0]
    total = 0.0
    norm_squared = 0.0
    for i in range(n):
        projected = -z * vector[i]
        outside = 0.0j
        for j in range(n):
            projected += a_tilde[i, j] * vector[j]
            outside += residual_factor[i, j] * vector[j]
        total += projected.real ** 2 + projected.imag ** 2 + outside.real ** 2 + outside.imag ** 2
        norm_squared += vector[i].real ** 2 + vector[i].imag ** 2
    return np.sqrt(total / norm_squared)


@njit_parallel
def eigenpair_residuals(a_tilde, residual_factor, eigs, vectors):
    """Residual of every pair ``(eigs[j], vectors[:, j])``, parallel over pairs.

    All arrays complex: ``a_tilde``, ``residual_factor`` (r, r), ``eigs`` (k,), ``vectors``
    (r, k) in the orthonormal coordinates of the dictionary span. Returns (k,) floats.
    """
    count = eigs.shape[0]
    residuals = np.empty(count)
    for j in prange(count):
        residuals[j] = stacked_residual(a_tilde, residual_factor, eigs[j],
                                        np.ascontiguousarray(vectors[:, j]))
    return residuals


# ---------------------------------------------------------------------------------------
# Hermitian factorisation with split real / imaginary storage
# ---------------------------------------------------------------------------------------
@njit_cached
def _shifted_hermitian(gram, a_tilde, z, h_re, h_im):
    """Upper triangle of ``H(z) = C*C - conj(z) A~ - z A~* + |z|^2 I`` plus a tiny shift.

    The shift (``16 n eps`` times the trace) makes a Cholesky factor exist at exact
    eigenvalues, where ``H`` is singular; it moves ``tau^2`` by far less than the Lanczos
    tolerance, and the residual is re-evaluated unsquared afterwards anyway.
    """
    n = gram.shape[0]
    conj_z = np.conj(z)
    modulus = z.real * z.real + z.imag * z.imag
    trace = 0.0
    for i in range(n):
        for j in range(i, n):
            value = gram[i, j] - conj_z * a_tilde[i, j] - z * np.conj(a_tilde[j, i])
            h_re[i, j] = value.real
            h_im[i, j] = value.imag
        h_re[i, i] += modulus
        h_im[i, i] = 0.0
        trace += h_re[i, i]
    shift = 16.0 * n * _EPS * trace
    for i in range(n):
        h_re[i, i] += shift


@njit_cached
def _eliminate_row(h_re, h_im, k, i):
    """Row ``i`` of the trailing matrix minus ``conj(U[k, i]) U[k, i:]`` (one pivot row)."""
    a_re = h_re[k, i]
    a_im = -h_im[k, i]
    source_re = h_re[k, i:]
    source_im = h_im[k, i:]
    target_re = h_re[i, i:]
    target_im = h_im[i, i:]
    for j in range(target_re.shape[0]):
        target_re[j] -= a_re * source_re[j] - a_im * source_im[j]
        target_im[j] -= a_re * source_im[j] + a_im * source_re[j]


@njit_cached
def _cholesky_upper(h_re, h_im):
    """In place: ``H = U* U`` with ``U`` upper triangular (row ``k`` of ``U`` in row ``k``).

    Right-looking by blocks of four pivot rows: the four rows are factored among
    themselves, then every trailing row receives all four updates in one elementwise pass
    (a quarter of the loads and stores of one pass per pivot). Inner loops run over slices
    from 0, which LLVM vectorises (a loop from a variable start keeps a negative-index check
    that stops it). Returns False if a pivot is not positive (then ``h`` holds garbage).
    """
    n = h_re.shape[0]
    for first in range(0, n, 4):
        size = min(4, n - first)
        for k in range(first, first + size):
            pivot = h_re[k, k]
            if not pivot > 0.0:
                return False
            root = np.sqrt(pivot)
            h_re[k, k] = root
            h_im[k, k] = 0.0
            inverse = 1.0 / root
            row_re = h_re[k, k + 1:]
            row_im = h_im[k, k + 1:]
            for j in range(row_re.shape[0]):
                row_re[j] *= inverse
                row_im[j] *= inverse
            for i in range(k + 1, first + size):
                _eliminate_row(h_re, h_im, k, i)
        if size < 4:
            continue
        for i in range(first + 4, n):
            a0r, a0i = h_re[first, i], -h_im[first, i]
            a1r, a1i = h_re[first + 1, i], -h_im[first + 1, i]
            a2r, a2i = h_re[first + 2, i], -h_im[first + 2, i]
            a3r, a3i = h_re[first + 3, i], -h_im[first + 3, i]
            s0r, s0i = h_re[first, i:], h_im[first, i:]
            s1r, s1i = h_re[first + 1, i:], h_im[first + 1, i:]
            s2r, s2i = h_re[first + 2, i:], h_im[first + 2, i:]
            s3r, s3i = h_re[first + 3, i:], h_im[first + 3, i:]
            target_re = h_re[i, i:]
            target_im = h_im[i, i:]
            for j in range(target_re.shape[0]):
                target_re[j] -= (((a0r * s0r[j] - a0i * s0i[j]) + (a1r * s1r[j] - a1i * s1i[j]))
                                 + ((a2r * s2r[j] - a2i * s2i[j]) + (a3r * s3r[j] - a3i * s3i[j])))
                target_im[j] -= (((a0r * s0i[j] + a0i * s0r[j]) + (a1r * s1i[j] + a1i * s1r[j]))
                                 + ((a2r * s2i[j] + a2i * s2r[j]) + (a3r * s3i[j] + a3i * s3r[j])))
    return True


@njit_cached
def _solve_factored(u_re, u_im, rhs_re, rhs_im, out_re, out_im):
    """``out = (U* U)^-1 rhs``; ``rhs`` is overwritten.

    Forward ``U* y = rhs`` as column axpys (elementwise); backward ``U x = y`` with dot
    products summed in four fixed lanes (vectorisable without reassociation).
    """
    n = u_re.shape[0]
    for k in range(n):
        y_re = rhs_re[k] / u_re[k, k]
        y_im = rhs_im[k] / u_re[k, k]
        out_re[k] = y_re
        out_im[k] = y_im
        row_re = u_re[k, k + 1:]
        row_im = u_im[k, k + 1:]
        tail_re = rhs_re[k + 1:]
        tail_im = rhs_im[k + 1:]
        for j in range(row_re.shape[0]):  # rhs_j -= conj(U[k, j]) y_k
            tail_re[j] -= row_re[j] * y_re + row_im[j] * y_im
            tail_im[j] -= row_re[j] * y_im - row_im[j] * y_re
    lanes_re = np.empty(4)
    lanes_im = np.empty(4)
    for k in range(n - 1, -1, -1):
        row_re = u_re[k, k + 1:]
        row_im = u_im[k, k + 1:]
        x_re = out_re[k + 1:]
        x_im = out_im[k + 1:]
        length = row_re.shape[0]
        for lane in range(4):
            lanes_re[lane] = 0.0
            lanes_im[lane] = 0.0
        blocks = length // 4
        for block in range(blocks):
            for lane in range(4):
                j = 4 * block + lane
                lanes_re[lane] += row_re[j] * x_re[j] - row_im[j] * x_im[j]
                lanes_im[lane] += row_re[j] * x_im[j] + row_im[j] * x_re[j]
        total_re = (lanes_re[0] + lanes_re[1]) + (lanes_re[2] + lanes_re[3])
        total_im = (lanes_im[0] + lanes_im[1]) + (lanes_im[2] + lanes_im[3])
        for j in range(4 * blocks, length):
            total_re += row_re[j] * x_re[j] - row_im[j] * x_im[j]
            total_im += row_re[j] * x_im[j] + row_im[j] * x_re[j]
        out_re[k] = (out_re[k] - total_re) / u_re[k, k]
        out_im[k] = (out_im[k] - total_im) / u_re[k, k]


@njit_cached
def _inner(a_re, a_im, b_re, b_im):
    """``(re, im)`` of ``vdot(a, b) = sum conj(a) b``, summed in four fixed lanes."""
    lanes = np.zeros(8)
    n = a_re.shape[0]
    blocks = n // 4
    for block in range(blocks):
        for lane in range(4):
            i = 4 * block + lane
            lanes[lane] += a_re[i] * b_re[i] + a_im[i] * b_im[i]
            lanes[4 + lane] += a_re[i] * b_im[i] - a_im[i] * b_re[i]
    re = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
    im = (lanes[4] + lanes[5]) + (lanes[6] + lanes[7])
    for i in range(4 * blocks, n):
        re += a_re[i] * b_re[i] + a_im[i] * b_im[i]
        im += a_re[i] * b_im[i] - a_im[i] * b_re[i]
    return re, im


@njit_cached
def _top_ritz_pair(tridiagonal, size):
    """Largest eigenvalue of the leading ``size x size`` tridiagonal and its unit eigenvector.

    The eigenvalue from LAPACK (values only); the vector by one step of inverse iteration
    with a shift just above it, where ``T - shift`` is negative definite, so the tridiagonal
    elimination needs no pivoting.
    """
    top = np.linalg.eigvalsh(tridiagonal[:size, :size])[size - 1]
    shift = top + 1e-13 * max(abs(top), 1e-300)
    vector = np.ones(size)
    diagonal = np.empty(size)
    diagonal[0] = tridiagonal[0, 0] - shift
    for i in range(1, size):
        factor = tridiagonal[i, i - 1] / diagonal[i - 1]
        diagonal[i] = tridiagonal[i, i] - shift - factor * tridiagonal[i - 1, i]
        vector[i] -= factor * vector[i - 1]
    vector[size - 1] /= diagonal[size - 1]
    for i in range(size - 2, -1, -1):
        vector[i] = (vector[i] - tridiagonal[i, i + 1] * vector[i + 1]) / diagonal[i]
    return top, vector / np.sqrt(np.sum(vector ** 2))


@njit_cached
def _smallest_eigenvector(u_re, u_im, start, max_iterations, tolerance, vector_out):
    """Lanczos on ``(U* U)^-1`` from ``start``: write its top eigenvector into ``vector_out``.

    That is the eigenvector of the smallest eigenvalue of ``H = U* U``. Each new Lanczos
    vector is orthogonalised twice more against all earlier ones (full reorthogonalisation);
    the small tridiagonal problem is solved every third step, and the iteration stops when
    the Ritz residual ``beta |s_k|`` is at most ``tolerance`` times the Ritz value (or the
    Krylov space is invariant). One step of inverse iteration then refines the Ritz vector.
    Returns False if it did not converge.
    """
    n = u_re.shape[0]
    steps = min(max_iterations, n)
    basis_re = np.zeros((steps, n))
    basis_im = np.zeros((steps, n))
    tridiagonal = np.zeros((steps, steps))
    image_re = np.empty(n)
    image_im = np.empty(n)
    work_re = np.empty(n)
    work_im = np.empty(n)
    norm = np.sqrt(np.sum(start.real ** 2 + start.imag ** 2))
    for i in range(n):
        basis_re[0, i] = start[i].real / norm
        basis_im[0, i] = start[i].imag / norm
    for k in range(steps):
        current_re = basis_re[k]
        current_im = basis_im[k]
        for i in range(n):
            work_re[i] = current_re[i]
            work_im[i] = current_im[i]
        _solve_factored(u_re, u_im, work_re, work_im, image_re, image_im)
        tridiagonal[k, k] = _inner(current_re, current_im, image_re, image_im)[0]
        for _ in range(2):  # H^-1 v lies mostly in the span already: twice is enough
            for j in range(k + 1):
                earlier_re = basis_re[j]
                earlier_im = basis_im[j]
                c_re, c_im = _inner(earlier_re, earlier_im, image_re, image_im)
                for i in range(n):
                    image_re[i] -= c_re * earlier_re[i] - c_im * earlier_im[i]
                    image_im[i] -= c_re * earlier_im[i] + c_im * earlier_re[i]
        beta = np.sqrt(_inner(image_re, image_im, image_re, image_im)[0])
        last = k == steps - 1 or k == n - 1
        # the small eigen-solve costs more than a Lanczos step: test every third step only
        # (and whenever the Krylov space became invariant, beta = 0)
        if k % 3 == 2 or last or not beta > 0.0:
            top, weights = _top_ritz_pair(tridiagonal, k + 1)
            if beta * abs(weights[k]) <= tolerance * top or k == n - 1 or not beta > 0.0:
                for i in range(n):
                    work_re[i] = 0.0
                    work_im[i] = 0.0
                for j in range(k + 1):
                    weight = weights[j]
                    earlier_re = basis_re[j]
                    earlier_im = basis_im[j]
                    for i in range(n):
                        work_re[i] += weight * earlier_re[i]
                        work_im[i] += weight * earlier_im[i]
                # one step of inverse iteration multiplies what is left along each other
                # eigenvector by lambda_1 / lambda_i: tiny where tau is small
                _solve_factored(u_re, u_im, work_re, work_im, image_re, image_im)
                norm = np.sqrt(_inner(image_re, image_im, image_re, image_im)[0])
                for i in range(n):
                    vector_out[i] = complex(image_re[i] / norm, image_im[i] / norm)
                return True
        if k + 1 < steps:
            tridiagonal[k, k + 1] = beta
            tridiagonal[k + 1, k] = beta
            for i in range(n):
                basis_re[k + 1, i] = image_re[i] / beta
                basis_im[k + 1, i] = image_im[i] / beta
    return False


@njit_cached
def _dense_minimiser(a_tilde, residual_factor, z, vector_out):
    """sigma_min of the stacked ``2r x r`` matrix by a dense SVD, and its right singular vector."""
    n = a_tilde.shape[0]
    stacked = np.zeros((2 * n, n), dtype=np.complex128)
    stacked[:n] = residual_factor
    stacked[n:] = a_tilde
    for i in range(n):
        stacked[n + i, i] -= z
    _, singular_values, right_h = np.linalg.svd(stacked, full_matrices=False)
    for i in range(n):
        vector_out[i] = np.conj(right_h[n - 1, i])
    return singular_values[n - 1]


@njit_cached
def _minimise_at(z, a_tilde, residual_factor, gram, start, max_iterations, tolerance,
                 h_re, h_im, vector_out):
    """``tau(z)`` and its minimiser (into ``vector_out``); True if the dense SVD was needed."""
    _shifted_hermitian(gram, a_tilde, z, h_re, h_im)
    if _cholesky_upper(h_re, h_im):
        if _smallest_eigenvector(h_re, h_im, start, max_iterations, tolerance, vector_out):
            return stacked_residual(a_tilde, residual_factor, z, vector_out), False
    return _dense_minimiser(a_tilde, residual_factor, z, vector_out), True


@njit_parallel
def pseudospectrum_chunks(points, chunk_starts, a_tilde, residual_factor, gram, start,
                          max_iterations, tolerance, tau, used_svd, vectors):
    """``tau(z) = sigma_min([B; A~ - z I])`` at ``points[chunk_starts[0]:chunk_starts[-1]]``.

    Chunk ``c`` is the run ``chunk_starts[c] <= p < chunk_starts[c + 1]``; chunks run in
    parallel, points within a chunk in order, each Lanczos started from the previous point's
    minimiser (neighbouring grid points have nearby minimisers) plus a share of the generic
    ``start``, and the chunk's first point from ``start``. Writes ``tau[p]``, ``used_svd[p]``
    (points that fell back to a dense SVD of the stacked ``2r x r`` matrix) and, if
    ``vectors`` has rows, ``vectors[p]`` (the minimising coordinates ``h``, unit norm).
    """
    n = a_tilde.shape[0]
    store = vectors.shape[0] > 0
    generic = start / np.sqrt(np.sum(np.abs(start) ** 2))
    for c in prange(chunk_starts.shape[0] - 1):
        h_re = np.empty((n, n))
        h_im = np.empty((n, n))
        current = generic.copy()
        found = np.empty(n, dtype=np.complex128)
        for p in range(chunk_starts[c], chunk_starts[c + 1]):
            value, dense = _minimise_at(points[p], a_tilde, residual_factor, gram, current,
                                        max_iterations, tolerance, h_re, h_im, found)
            tau[p] = value
            used_svd[p] = dense
            # the previous minimiser plus a generic part: where eigenvectors do not move with
            # z (a normal operator) the previous one alone would span an invariant Krylov
            # space and hide a different smallest eigenvector
            for i in range(n):
                current[i] = found[i] + _GENERIC_SHARE * generic[i]
            if store:
                vectors[p] = found


# ---------------------------------------------------------------------------------------
# sketch of the weighted dictionary values (preconditioner of the QR)
# ---------------------------------------------------------------------------------------
@njit_parallel
def sparse_sign_sketch(psi_x, psi_y, root_weights, targets, signs, rows):
    """``(Omega Z)^T`` for ``Z = sqrt(W) [Psi_X^T, Psi_Y^T]`` and a sparse sign embedding.

    Snapshot ``j`` adds ``signs[j, t] * Z[j]`` to sketch row ``targets[j, t]`` for each of
    its ``targets.shape[1]`` nonzeros. ``psi_x``, ``psi_y`` (N, m) -> (2N, rows); parallel
    over dictionary functions, each summed in snapshot order.
    """
    n_functions, m = psi_x.shape
    nonzeros = targets.shape[1]
    sketch = np.zeros((2 * n_functions, rows), dtype=psi_x.dtype)
    for f in prange(2 * n_functions):
        source = psi_x[f] if f < n_functions else psi_y[f - n_functions]
        for j in range(m):
            value = root_weights[j] * source[j]
            for t in range(nonzeros):
                sketch[f, targets[j, t]] += signs[j, t] * value
    return sketch


# ---------------------------------------------------------------------------------------
# resolvent quadratic forms on a Schur factor (spectral measures)
# ---------------------------------------------------------------------------------------
@njit_cached
def _solve_shifted_upper(triangular, shift, rhs, out):
    """``out = (T - shift I)^-1 rhs`` for upper triangular ``T`` (back substitution)."""
    n = triangular.shape[0]
    for i in range(n - 1, -1, -1):
        total = rhs[i]
        for j in range(i + 1, n):
            total -= triangular[i, j] * out[j]
        out[i] = total / (triangular[i, i] - shift)


@njit_parallel
def resolvent_forms(triangular, coordinates, shifts):
    """For every shift ``lambda``: ``u* (T - lambda)^-1 u`` and ``u* T (T - lambda)^-1 u``.

    ``triangular`` (r, r) upper triangular complex (a Schur factor), ``coordinates`` ``u``
    (r,), ``shifts`` (k,) -> two (k,) complex arrays; parallel over shifts.
    """
    n = triangular.shape[0]
    count = shifts.shape[0]
    plain = np.empty(count, dtype=np.complex128)
    mapped = np.empty(count, dtype=np.complex128)
    image = np.conj(triangular.T) @ coordinates  # T* u, so u* T x = (T* u)* x
    for k in prange(count):
        solution = np.empty(n, dtype=np.complex128)
        _solve_shifted_upper(triangular, shifts[k], coordinates, solution)
        plain[k] = np.vdot(coordinates, solution)
        mapped[k] = np.vdot(image, solution)
    return plain, mapped
