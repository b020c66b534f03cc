"""Compiled kernels of the metrics between point sets of any dimension.

Arrays in, arrays out; ``metrics`` and ``image_metrics`` validate. Pairwise loops keep the
reference set transposed, (d, m), so that the innermost loop runs elementwise over reference
points (it vectorises with no reordering of any sum); sums over many terms use eight
fixed-order lanes. Rows run in parallel, each row's sums in one thread, and the totals are
added serially: the same bits for any thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel

ROW_BLOCK = 8  # rows per parallel task (buffers are allocated once per block)


@njit_cached(inline="always")
def _lane_sum(values, n):
    """Sum of the first n entries in eight fixed lanes combined in a fixed order."""
    lanes = np.zeros(8)
    body = n - n % 8
    for j in range(0, body, 8):
        for lane in range(8):
            lanes[lane] += values[j + lane]
    total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    for j in range(body, n):
        total += values[j]
    return total


@njit_cached(inline="always")
def _squared_distances(point, reference_t, out):
    """out[j] = |point - reference_j|^2, one coordinate at a time (reference_t is (d, m))."""
    d, m = reference_t.shape
    for j in range(m):
        out[j] = 0.0
    for k in range(d):
        value = point[k]
        row = reference_t[k]
        for j in range(m):
            difference = value - row[j]
            out[j] += difference * difference


@njit_parallel
def mean_distance(a, b_t):
    """Mean Euclidean distance over all pairs (a_i, b_j); ``b_t`` is b transposed, (d, m)."""
    n = a.shape[0]
    m = b_t.shape[1]
    row_sums = np.empty(n)
    for block in prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        squares = np.empty(m)
        for i in range(block * ROW_BLOCK, min(n, (block + 1) * ROW_BLOCK)):
            _squared_distances(a[i], b_t, squares)
            for j in range(m):
                squares[j] = math.sqrt(squares[j])
            row_sums[i] = _lane_sum(squares, m)
    total = 0.0
    for i in range(n):
        total += row_sums[i]
    return total / (n * m)


@njit_parallel
def nearest(points, reference_t):
    """Distance from every point to its nearest reference point, and that point's index."""
    n = points.shape[0]
    m = reference_t.shape[1]
    distances = np.empty(n)
    indices = np.empty(n, np.int64)
    for block in prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        squares = np.empty(m)
        for i in range(block * ROW_BLOCK, min(n, (block + 1) * ROW_BLOCK)):
            _squared_distances(points[i], reference_t, squares)
            best, where = squares[0], 0
            for j in range(1, m):
                if squares[j] < best:
                    best, where = squares[j], j
            distances[i] = math.sqrt(best)
            indices[i] = where
    return distances, indices


@njit_cached(inline="always")
def _wasserstein2_sorted(a, b):
    """Squared 2-Wasserstein distance between the empirical laws of sorted samples a and b.

    Integrates the squared difference of the two quantile functions exactly: they are step
    functions with steps at i/n and j/m (for n = m, the mean squared difference of sorted
    pairs).
    """
    n, m = a.shape[0], b.shape[0]
    i = j = 0
    level = 0.0
    total = 0.0
    while i < n and j < m:
        next_a, next_b = (i + 1) * m, (j + 1) * n  # (i+1)/n vs (j+1)/m, in integers
        following = min(next_a, next_b) / (n * m)
        difference = a[i] - b[j]
        total += (following - level) * difference * difference
        level = following
        if next_a <= next_b:
            i += 1
        if next_b <= next_a:
            j += 1
    return total


@njit_cached(inline="always")
def _project(points, direction, out):
    """out[i] = points[i] . direction, summed over coordinates in order."""
    n, d = points.shape
    for i in range(n):
        total = 0.0
        for k in range(d):
            total += points[i, k] * direction[k]
        out[i] = total


@njit_parallel
def projected_wasserstein2(a, b, directions):
    """Squared 1D 2-Wasserstein distance of the projections on each direction: (k,) float64."""
    k = directions.shape[0]
    result = np.empty(k)
    for direction in prange(k):
        projected_a, projected_b = np.empty(a.shape[0]), np.empty(b.shape[0])
        _project(a, directions[direction], projected_a)
        _project(b, directions[direction], projected_b)
        result[direction] = _wasserstein2_sorted(np.sort(projected_a), np.sort(projected_b))
    return result
