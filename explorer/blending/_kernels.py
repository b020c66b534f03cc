"""Compiled kernels of the blending topic: arrays in, arrays out, no Python objects.

The public modules (``exact``, ``chain``, ``metrics``) validate their inputs and call these
functions; nothing here checks arguments or raises. The network's kernels are in
``_network_kernels``.

Contents
--------
- the exact (posterior-mean) deblender of a finite target set under a Gaussian source: log
  weights, a stable softmax, posterior means and posterior sampling, the stochastic chain;
- metrics between point sets: projected 1D Wasserstein distances, mean pairwise distances.

Why it is fast
--------------
- Softmax weights use :func:`_exp_nonpositive`, a branch-free ``exp`` for arguments <= 0
  that LLVM vectorises (numba's ``math.exp`` is a scalar libm call); the running maximum is
  kept in four independent lanes for the same reason (a single-lane float max cannot be
  vectorised without assuming there are no NaNs).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel

_LN2_HIGH = 6.93147180369123816490e-01  # ln 2 split in two (Cody-Waite range reduction)
_LN2_LOW = 1.90821492927058770002e-10
_LOG2_E = 1.44269504088896338700e+00
_EXP_FLOOR = -700.0  # exp(-700) ~ 1e-304: smaller weights are negligible and set to zero


# ---------------------------------------------------------------------------------------
# vectorisable helpers
# ---------------------------------------------------------------------------------------
@njit_cached(inline="always")
def _exp_nonpositive(x):
    """exp(x) for x <= 0 (relative error ~1e-14), 0 below -700; branch-free."""
    clamped = max(x, _EXP_FLOOR)
    k = math.floor(clamped * _LOG2_E + 0.5)
    r = (clamped - k * _LN2_HIGH) - k * _LN2_LOW
    p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (
            1 / 3628800 + r * (1 / 39916800 + r * (1 / 479001600))))))))))))
    # times 2**k, k in [-1010, 0], one exact power of two per bit of -k
    m = np.int64(-k)
    p *= 0.5 if m & 1 else 1.0
    p *= 0.25 if m & 2 else 1.0
    p *= 0.0625 if m & 4 else 1.0
    p *= 2.0 ** -8 if m & 8 else 1.0
    p *= 2.0 ** -16 if m & 16 else 1.0
    p *= 2.0 ** -32 if m & 32 else 1.0
    p *= 2.0 ** -64 if m & 64 else 1.0
    p *= 2.0 ** -128 if m & 128 else 1.0
    p *= 2.0 ** -256 if m & 256 else 1.0
    p *= 2.0 ** -512 if m & 512 else 1.0
    return p if x > _EXP_FLOOR else 0.0


@njit_cached(inline="always")
def _maximum(values):
    """Largest entry of a non-empty 1D array, in four lanes so that the loop vectorises."""
    n = values.shape[0]
    lane0 = lane1 = lane2 = lane3 = values[0]
    body = n - n % 4
    for j in range(0, body, 4):
        lane0 = max(lane0, values[j])
        lane1 = max(lane1, values[j + 1])
        lane2 = max(lane2, values[j + 2])
        lane3 = max(lane3, values[j + 3])
    best = max(max(lane0, lane1), max(lane2, lane3))
    for j in range(body, n):
        best = max(best, values[j])
    return best


# ---------------------------------------------------------------------------------------
# the exact deblender of a finite target set, source N(mean, covariance)
# ---------------------------------------------------------------------------------------
@njit_cached(inline="always")
def _softmax_weights(x0, x1, alpha, targets_t, mean, precision, weights):
    """Unnormalised posterior weights of every target for one query; returns their sum.

    ``w_i = exp(l_i - max l)`` with ``l_i = -0.5 r_i^T P r_i / (1-alpha)^2`` and
    ``r_i = x - (1-alpha) mean - alpha y_i``; ``targets_t`` is (2, m), ``weights`` (m,).
    """
    keep = 1.0 - alpha
    c0 = x0 - keep * mean[0]
    c1 = x1 - keep * mean[1]
    scale = -0.5 / (keep * keep)
    p00, p01, p11 = precision[0, 0], 2.0 * precision[0, 1], precision[1, 1]
    y0, y1 = targets_t[0], targets_t[1]
    m = y0.shape[0]
    for j in range(m):
        r0 = c0 - alpha * y0[j]
        r1 = c1 - alpha * y1[j]
        weights[j] = scale * (p00 * r0 * r0 + p01 * r0 * r1 + p11 * r1 * r1)
    peak = _maximum(weights)
    total = 0.0
    for j in range(m):
        w = _exp_nonpositive(weights[j] - peak)
        weights[j] = w
        total += w
    return total


@njit_parallel
def posterior_target_means(x, alpha, targets_t, mean, precision):
    """E[x1 | x_alpha] for every query, parallel over queries: (n, 2) float64."""
    n = x.shape[0]
    m = targets_t.shape[1]
    y0, y1 = targets_t[0], targets_t[1]
    result = np.empty((n, 2))
    for i in prange(n):
        weights = np.empty(m)
        total = _softmax_weights(x[i, 0], x[i, 1], alpha[i], targets_t, mean, precision, weights)
        s0 = 0.0
        s1 = 0.0
        for j in range(m):
            s0 += weights[j] * y0[j]
            s1 += weights[j] * y1[j]
        result[i, 0] = s0 / total
        result[i, 1] = s1 / total
    return result


@njit_cached(inline="always")
def _pick(weights, total, uniform):
    """Index i with probability weights[i] / total, by inverse CDF at ``uniform`` in [0, 1)."""
    threshold = uniform * total
    running = 0.0
    last = 0
    for j in range(weights.shape[0]):
        if weights[j] > 0.0:
            last = j
            running += weights[j]
            if running > threshold:
                return j
    return last  # rounding left the threshold just above the running sum


@njit_parallel
def posterior_target_indices(x, alpha, targets_t, mean, precision, uniforms):
    """Draw i ~ Cat(w(x, alpha)) for every query, parallel over queries: (n,) int64."""
    n = x.shape[0]
    m = targets_t.shape[1]
    indices = np.empty(n, np.int64)
    for i in prange(n):
        weights = np.empty(m)
        total = _softmax_weights(x[i, 0], x[i, 1], alpha[i], targets_t, mean, precision, weights)
        indices[i] = _pick(weights, total, uniforms[i])
    return indices


@njit_parallel
def stochastic_chain(start, alphas, targets_t, mean, precision, uniforms, keep_every_step):
    """The stochastic blend/deblend chain from every start point, parallel over paths.

    At step t: draw i ~ Cat(w(x, alphas[t])), set ``x1 = y_i``,
    ``x0 = (x - alphas[t] y_i) / (1 - alphas[t])``, then
    ``x = (1 - alphas[t+1]) x0 + alphas[t+1] x1``. ``uniforms`` is (T, n).

    Returns the points, (T+1, n, 2) if ``keep_every_step`` else (1, n, 2) (the endpoints),
    and the target index drawn at the last step, (n,) int64.
    """
    steps = alphas.shape[0] - 1
    n = start.shape[0]
    m = targets_t.shape[1]
    points = np.empty((steps + 1 if keep_every_step else 1, n, 2))
    last_index = np.empty(n, np.int64)
    for p in prange(n):
        weights = np.empty(m)
        x0, x1 = start[p, 0], start[p, 1]
        if keep_every_step:
            points[0, p, 0], points[0, p, 1] = x0, x1
        index = 0
        for t in range(steps):
            alpha, following = alphas[t], alphas[t + 1]
            total = _softmax_weights(x0, x1, alpha, targets_t, mean, precision, weights)
            index = _pick(weights, total, uniforms[t, p])
            y0, y1 = targets_t[0, index], targets_t[1, index]
            source0 = (x0 - alpha * y0) / (1.0 - alpha)
            source1 = (x1 - alpha * y1) / (1.0 - alpha)
            if following == 1.0:  # land exactly on the target point
                x0, x1 = y0, y1
            else:
                x0 = (1.0 - following) * source0 + following * y0
                x1 = (1.0 - following) * source1 + following * y1
            if keep_every_step:
                points[t + 1, p, 0], points[t + 1, p, 1] = x0, x1
        if not keep_every_step:
            points[0, p, 0], points[0, p, 1] = x0, x1
        last_index[p] = index
    return points, last_index


# ---------------------------------------------------------------------------------------
# metrics between point sets
# ---------------------------------------------------------------------------------------
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


@njit_parallel
def projected_wasserstein2(a, b, directions):
    """Squared 1D 2-Wasserstein distance of the projections on each direction: (k,) float64."""
    k = directions.shape[0]
    result = np.empty(k)
    for d in prange(k):
        u, v = directions[d, 0], directions[d, 1]
        projected_a = np.sort(a[:, 0] * u + a[:, 1] * v)
        projected_b = np.sort(b[:, 0] * u + b[:, 1] * v)
        result[d] = _wasserstein2_sorted(projected_a, projected_b)
    return result


@njit_parallel
def mean_distance(a, b):
    """Mean Euclidean distance over all pairs (a_i, b_j); row sums in parallel, total serial."""
    n, m = a.shape[0], b.shape[0]
    row_sums = np.empty(n)
    for i in prange(n):
        total = 0.0
        for j in range(m):
            d0 = a[i, 0] - b[j, 0]
            d1 = a[i, 1] - b[j, 1]
            total += math.sqrt(d0 * d0 + d1 * d1)
        row_sums[i] = total
    total = 0.0
    for i in range(n):
        total += row_sums[i]
    return total / (n * m)


@njit_parallel
def nearest_distances(points, reference):
    """Distance from every point to its nearest reference point: (n,) float64."""
    n, m = points.shape[0], reference.shape[0]
    result = np.empty(n)
    for i in prange(n):
        best = np.inf
        for j in range(m):
            d0 = points[i, 0] - reference[j, 0]
            d1 = points[i, 1] - reference[j, 1]
            best = min(best, d0 * d0 + d1 * d1)
        result[i] = math.sqrt(best)
    return result
