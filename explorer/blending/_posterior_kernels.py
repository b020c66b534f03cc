"""Compiled kernels of the exact deblender in any dimension d.

The general case of the 2D fast path in ``_kernels``: targets of any dimension, a source that
is a mixture of Gaussians with one shared covariance (one component: the plain Gaussian), and
per-query target ranges (targets sorted by class; a query of class c sees only the targets of
class c, which makes the exact deblender *conditional*). Arrays in, arrays out; the public
module ``exact`` validates.

Posterior of the target index j given x_alpha, with K source components of means mu_c:
``w_j = sum_c exp(-0.5 |c_c - alpha y_j|^2 / (1-alpha)^2)``, ``c_c = W x - (1-alpha) W mu_c``,
in whitened coordinates; the smallest squared distance over all (c, j) is subtracted first
(see ``_kernels``), so the largest term is exactly 1.

Why it is fast without ``reassoc``: every inner loop is elementwise over targets (targets are
stored transposed, (d, m), and the squared distances of one query to all targets accumulate
one coordinate at a time), so LLVM vectorises them with no reordering of any sum; the
weighted mean accumulates whole target rows (elementwise over coordinates) and skips targets
whose weight underflowed to 0. Queries run in parallel blocks, one query's sums in one thread
in a fixed order: the same bits for any thread count.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel
from explorer.blending._kernels import _exp_nonpositive, _minimum, _pick

QUERY_BLOCK = 8  # queries per parallel task (buffers are allocated once per block)


@njit_cached(inline="always")
def _whiten_one(x, whitening, out):
    """out = W x for a lower-triangular W (d, d)."""
    d = x.shape[0]
    for r in range(d):
        out[r] = 0.0
    for k in range(d):
        value = x[k]
        for r in range(k, d):
            out[r] += whitening[r, k] * value


@njit_cached(inline="always")
def _weights(xw, alpha, targets_wt, means_w, start, stop, distances, weights):
    """Unnormalised weights of targets start..stop-1 (into ``weights[:stop-start]``); their sum.

    ``distances`` is a (K, >= stop-start) buffer.
    """
    components, d = means_w.shape
    size = stop - start
    keep = 1.0 - alpha
    for c in range(components):
        row = distances[c]
        for j in range(size):
            row[j] = 0.0
        for k in range(d):
            ck = xw[k] - keep * means_w[c, k]
            targets = targets_wt[k]
            for j in range(size):
                difference = ck - alpha * targets[start + j]
                row[j] += difference * difference
    low = _minimum(distances[0], size)
    for c in range(1, components):
        low = min(low, _minimum(distances[c], size))
    scale = -0.5 / (keep * keep)
    for j in range(size):
        weights[j] = _exp_nonpositive(scale * (distances[0, j] - low))
    for c in range(1, components):
        row = distances[c]
        for j in range(size):
            weights[j] += _exp_nonpositive(scale * (row[j] - low))
    total = 0.0
    for j in range(size):
        total += weights[j]
    return total


@njit_parallel
def posterior_means(x, alpha, whitening, targets, targets_wt, means_w, starts, stops, widest):
    """E[x1 | x_alpha] for every query, parallel over blocks of queries: (n, d) float64.

    ``targets`` (m, d), ``targets_wt`` (d, m) whitened; query i sees targets
    ``starts[i]:stops[i]`` (at most ``widest`` of them).
    """
    n, d = x.shape
    components = means_w.shape[0]
    result = np.zeros((n, d))
    for block in prange((n + QUERY_BLOCK - 1) // QUERY_BLOCK):
        xw = np.empty(d)
        distances, weights = np.empty((components, widest)), np.empty(widest)
        for i in range(block * QUERY_BLOCK, min(n, (block + 1) * QUERY_BLOCK)):
            _whiten_one(x[i], whitening, xw)
            total = _weights(xw, alpha[i], targets_wt, means_w, starts[i], stops[i], distances,
                             weights)
            mean = result[i]
            for j in range(stops[i] - starts[i]):
                w = weights[j]
                if w > 0.0:
                    row = targets[starts[i] + j]
                    for k in range(d):
                        mean[k] += w * row[k]
            for k in range(d):
                mean[k] /= total
    return result


@njit_parallel
def posterior_indices(x, alpha, whitening, targets_wt, means_w, starts, stops, widest, uniforms):
    """Draw j ~ Cat(w(x, alpha)) for every query (a global target index): (n,) int64."""
    n, d = x.shape
    components = means_w.shape[0]
    indices = np.empty(n, np.int64)
    for block in prange((n + QUERY_BLOCK - 1) // QUERY_BLOCK):
        xw = np.empty(d)
        distances, weights = np.empty((components, widest)), np.empty(widest)
        for i in range(block * QUERY_BLOCK, min(n, (block + 1) * QUERY_BLOCK)):
            _whiten_one(x[i], whitening, xw)
            size = stops[i] - starts[i]
            total = _weights(xw, alpha[i], targets_wt, means_w, starts[i], stops[i], distances,
                             weights)
            indices[i] = starts[i] + _pick(weights, size, total, uniforms[i])
    return indices


@njit_parallel
def stochastic_chain(start, alphas, whitening, targets, targets_wt, means_w, starts, stops,
                     widest, uniforms, keep_every_step):
    """The stochastic chain from every start point in any dimension, parallel over paths.

    As ``_kernels.stochastic_chain``; path p draws only among targets ``starts[p]:stops[p]``.
    Returns the points, (T+1, n, d) or (1, n, d), and the last drawn target index (n,).
    """
    steps = alphas.shape[0] - 1
    n, d = start.shape
    components = means_w.shape[0]
    points = np.empty((steps + 1 if keep_every_step else 1, n, d))
    last_index = np.empty(n, np.int64)
    for p in prange(n):
        x, xw = start[p].copy(), np.empty(d)
        distances, weights = np.empty((components, widest)), np.empty(widest)
        if keep_every_step:
            points[0, p] = x
        index = starts[p]
        size = stops[p] - starts[p]
        for t in range(steps):
            alpha, following = alphas[t], alphas[t + 1]
            _whiten_one(x, whitening, xw)
            total = _weights(xw, alpha, targets_wt, means_w, starts[p], stops[p], distances,
                             weights)
            index = starts[p] + _pick(weights, size, total, uniforms[t, p])
            target = targets[index]
            for k in range(d):
                if following == 1.0:  # land exactly on the target point
                    x[k] = target[k]
                else:
                    source = (x[k] - alpha * target[k]) / (1.0 - alpha)
                    x[k] = (1.0 - following) * source + following * target[k]
            if keep_every_step:
                points[t + 1, p] = x
        if not keep_every_step:
            points[0, p] = x
        last_index[p] = index
    return points, last_index
