"""Compiled kernels of the blending topic: shared helpers and the 2D fast path.

The public modules (``exact``, ``chain``) validate their inputs and call these functions;
nothing here checks arguments or raises. The d-dimensional posterior (any dimension, mixture
sources, class-restricted targets) is in ``_posterior_kernels``, the metrics in
``_metric_kernels``, the network in ``_network_kernels``.

Contents
--------
- vectorisable helpers: ``exp`` for non-positive arguments, minimum in fixed lanes;
- the exact (posterior-mean) deblender of a finite 2D target set under a Gaussian source:
  weights, posterior means, posterior sampling and the stochastic chain, one query per
  thread.

Numerics
--------
Every kernel works in the source's *whitened* coordinates (``W x`` with ``W`` the inverse
Cholesky factor of the source covariance), where the log weight of target ``y_j`` is
``-0.5 |c - alpha y_j|^2 / (1-alpha)^2`` with ``c = W x - (1-alpha) W mu``. The squared
distances are computed first and the smallest is subtracted *before* the division by
``(1-alpha)^2``: the largest weight is exactly 1, so the sum of weights never underflows to 0
and no weight is ever NaN, however close alpha is to 1 or far the query is.

Why it is fast
--------------
- Weights use :func:`_exp_nonpositive`, a branch-free ``exp`` for arguments <= 0 that LLVM
  vectorises (numba's ``math.exp`` is a scalar libm call); the running minimum is kept in
  four independent lanes for the same reason (a single-lane float min cannot be vectorised
  without assuming there are no NaNs).
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
def _minimum(values, n):
    """Smallest of the first n (>= 1) entries of a 1D array, in four lanes (vectorises)."""
    lane0 = lane1 = lane2 = lane3 = values[0]
    body = n - n % 4
    for j in range(0, body, 4):
        lane0 = min(lane0, values[j])
        lane1 = min(lane1, values[j + 1])
        lane2 = min(lane2, values[j + 2])
        lane3 = min(lane3, values[j + 3])
    best = min(min(lane0, lane1), min(lane2, lane3))
    for j in range(body, n):
        best = min(best, values[j])
    return best


@njit_cached(inline="always")
def _pick(weights, n, total, uniform):
    """Index j < n with probability weights[j] / total, by inverse CDF at ``uniform`` in [0, 1)."""
    threshold = uniform * total
    running = 0.0
    last = 0
    for j in range(n):
        if weights[j] > 0.0:
            last = j
            running += weights[j]
            if running > threshold:
                return j
    return last  # rounding left the threshold just above the running sum


@njit_cached
def whiten(points, whitening):
    """``points @ whitening.T`` for a lower-triangular ``whitening`` (d, d), in a fixed order.

    Row by row, summing over columns in increasing order (numpy's matmul may change its
    summation order with the BLAS thread count). Returns (n, d) float64.
    """
    n, d = points.shape
    result = np.zeros((n, d))
    for i in range(n):
        row = points[i]
        out = result[i]
        for k in range(d):
            value = row[k]
            for r in range(k, d):  # column k of W touches rows k..d-1 (lower triangular)
                out[r] += whitening[r, k] * value
    return result


# ---------------------------------------------------------------------------------------
# the 2D fast path: one target set, one Gaussian source, whitened coordinates
# ---------------------------------------------------------------------------------------
@njit_cached(inline="always")
def _weights_2d(c0, c1, alpha, targets_wt, weights):
    """Unnormalised posterior weights of every target for one whitened query; returns their sum.

    ``w_j = exp(-0.5 (q_j - min q) / (1-alpha)^2)`` with ``q_j = |c - alpha y_j|^2`` and
    ``c = W x - (1-alpha) W mu``; ``targets_wt`` is (2, m) whitened, ``weights`` (m,).
    """
    keep = 1.0 - alpha
    y0, y1 = targets_wt[0], targets_wt[1]
    m = y0.shape[0]
    for j in range(m):
        r0 = c0 - alpha * y0[j]
        r1 = c1 - alpha * y1[j]
        weights[j] = r0 * r0 + r1 * r1
    low = _minimum(weights, m)
    scale = -0.5 / (keep * keep)
    total = 0.0
    for j in range(m):
        w = _exp_nonpositive(scale * (weights[j] - low))
        weights[j] = w
        total += w
    return total


@njit_cached(inline="always")
def _centre_2d(x0, x1, alpha, whitening, mean_w):
    """Whitened query minus (1-alpha) times the whitened source mean."""
    keep = 1.0 - alpha
    c0 = whitening[0, 0] * x0 - keep * mean_w[0]
    c1 = whitening[1, 0] * x0 + whitening[1, 1] * x1 - keep * mean_w[1]
    return c0, c1


@njit_parallel
def posterior_target_means(x, alpha, targets_t, targets_wt, whitening, mean_w):
    """E[x1 | x_alpha] for every 2D query, parallel over queries: (n, 2) float64.

    ``targets_t`` (2, m) are the targets, ``targets_wt`` (2, m) the same whitened.
    """
    n = x.shape[0]
    m = targets_t.shape[1]
    y0, y1 = targets_t[0], targets_t[1]
    result = np.empty((n, 2))
    for i in prange(n):
        weights = np.empty(m)
        c0, c1 = _centre_2d(x[i, 0], x[i, 1], alpha[i], whitening, mean_w)
        total = _weights_2d(c0, c1, alpha[i], targets_wt, weights)
        s0 = 0.0
        s1 = 0.0
        for j in range(m):
            s0 += weights[j] * y0[j]
            s1 += weights[j] * y1[j]
        result[i, 0] = s0 / total
        result[i, 1] = s1 / total
    return result


@njit_parallel
def posterior_target_indices(x, alpha, targets_wt, whitening, mean_w, uniforms):
    """Draw j ~ Cat(w(x, alpha)) for every 2D query, parallel over queries: (n,) int64."""
    n = x.shape[0]
    m = targets_wt.shape[1]
    indices = np.empty(n, np.int64)
    for i in prange(n):
        weights = np.empty(m)
        c0, c1 = _centre_2d(x[i, 0], x[i, 1], alpha[i], whitening, mean_w)
        total = _weights_2d(c0, c1, alpha[i], targets_wt, weights)
        indices[i] = _pick(weights, m, total, uniforms[i])
    return indices


@njit_parallel
def stochastic_chain(start, alphas, targets_t, targets_wt, whitening, mean_w, uniforms,
                     keep_every_step):
    """The stochastic blend/deblend chain from every 2D start point, parallel over paths.

    At step t: draw j ~ Cat(w(x, alphas[t])), set ``x1 = y_j``,
    ``x0 = (x - alphas[t] y_j) / (1 - alphas[t])``, then
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
            c0, c1 = _centre_2d(x0, x1, alpha, whitening, mean_w)
            total = _weights_2d(c0, c1, alpha, targets_wt, weights)
            index = _pick(weights, m, total, uniforms[t, p])
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
