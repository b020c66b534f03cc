"""Compiled kernels shared by both models, and those of the MLP: arrays in, arrays out.

Shared: the per-row loss, the Grokfast filters, the optimisers (AdamW, Adam with coupled L2
decay, SGD) with linear warm-up, and the fixed-order sum of the lanes' gradients.

The MLP is ``h = act(U[a] + V[b])``, ``logits = h @ W.T``. Its weights live in one contiguous
buffer ``theta`` of shape (3, p, N) (``theta[0] = U``, ``theta[1] = V``, ``theta[2] = W``), so
that the optimiser and the filters run over one flat array.

Why it is fast, and the same bits on 1 or 2 threads: a batch is cut into ``LANES`` contiguous
parts, and each lane (one ``prange`` iteration) runs forward and backward over its part in
blocks of at most ``block`` rows, summing its own gradient in block order. The lanes' gradients
are then added in lane order. The lane count is a constant, not the thread count, so numba's
threads only decide *who* computes a lane, never the order of any sum. BLAS is held to one
thread by the caller (``blas_threads``): each lane calls single-threaded products (the
(rows, N) x (N, p) forward, dW and dh products dominate the cost), and BLAS workers spinning
beside numba's made each step several times slower. Blocks bound the work buffers' memory at
any batch size.
"""

import math

import numpy as np
# numba's np.dot calls scipy's BLAS, a different library from numpy's. Load it now, so that
# ``blas_threads`` (threadpoolctl only limits the libraries already loaded) holds it to one
# thread: otherwise its spinning workers made a step 10x slower on a busy machine.
import scipy.linalg.cython_blas  # noqa: F401
from numba import prange

from explorer._jit import njit_cached, njit_parallel

QUADRATIC, RELU = 0, 1
CROSS_ENTROPY, MEAN_SQUARED_ERROR = 0, 1
ADAMW, SGD, ADAM = 0, 1, 2
NO_FILTER, EMA_FILTER, MA_FILTER = 0, 1, 2
#: Independent partial sums of a batch's gradient (and the widest parallelism used).
LANES = 2

# Softmax probabilities below exp(-50) ~ 2e-22 enter the gradient as exactly zero. Once the
# training set is memorised they would otherwise decay into float32 subnormals, which many
# CPUs (not the AMD Zen we measured on) multiply far more slowly; a gradient entry that small
# is invisible next to AdamW's eps = 1e-8.
_NEGLIGIBLE_PROBABILITY = math.exp(-50.0)


@njit_cached(inline="always")
def _activate(x, activation):
    if activation == QUADRATIC:
        return x * x
    return x if x > 0 else 0.0 * x  # 0 * x keeps a NaN flowing


@njit_cached(inline="always")
def _lane_rows(rows, lane):
    """First and one-past-last row of ``lane`` among ``rows`` rows."""
    return rows * lane // LANES, rows * (lane + 1) // LANES


@njit_cached(inline="always")
def _exp_nonpositive(x):
    """exp(x) for x <= 0 without a call into libm, so that a loop over it vectorises.

    ``exp(x / 1024)`` by its Taylor polynomial (|x / 1024| < 0.05 where it matters), squared
    ten times. Computed in float64: relative error below 2e-13 for x >= -50; below that the
    result (< 2e-22) only enters sums next to exp(0) = 1 and is cut from gradients. x is
    clamped at -700 (exp = 1e-304): far below, the truncated polynomial exceeds 1 and ten
    squarings overflow to inf (a logit gap of a few thousand made the loss inf).
    """
    y = max(x, -700.0) * (1.0 / 1024.0)
    e = 1.0 + y * (1.0 + y * (1.0 / 2 + y * (1.0 / 6 + y * (1.0 / 24 + y * (
        1.0 / 120 + y * (1.0 / 720 + y * (1.0 / 5040 + y * (1.0 / 40320))))))))
    for _ in range(10):
        e = e * e
    return e


@njit_cached(inline="always")
def _sum_in_four_lanes(values):
    """Sum of a 1-D array as four interleaved partial sums added in a fixed order: four
    independent chains run about four times faster than one, and the order never changes."""
    n = values.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    q = 0
    while q + 4 <= n:
        s0 += values[q]
        s1 += values[q + 1]
        s2 += values[q + 2]
        s3 += values[q + 3]
        q += 4
    while q < n:
        s0 += values[q]
        q += 1
    return (s0 + s1) + (s2 + s3)


@njit_cached
def _row_losses(logits, y, loss_kind, write_gradient, scale, row_loss, row_correct):
    """Per-row loss and correctness; logits are overwritten (with ``scale`` * dloss/dlogits if
    ``write_gradient``; ``scale`` = 1 / rows of the whole batch makes it the mean's gradient).

    Cross-entropy: ``logsumexp(z) - z[y]``. Mean squared error: ``mean_q (z_q - onehot_q)^2``.
    """
    n, classes = logits.shape
    for i in range(n):
        row = logits[i]
        target = y[i]
        best = 0
        for q in range(1, classes):
            if row[q] > row[best]:
                best = q
        row_correct[i] = best == target and row[best] == row[best]
        if loss_kind == CROSS_ENTROPY:
            peak, picked = row[best], row[target]
            for q in range(classes):
                row[q] = _exp_nonpositive(row[q] - peak)
            total = _sum_in_four_lanes(row)
            row_loss[i] = peak + math.log(total) - picked
            if write_gradient:
                factor = scale / total
                for q in range(classes):
                    row[q] = row[q] * factor if row[q] > _NEGLIGIBLE_PROBABILITY else 0.0
                row[target] -= scale
        else:
            total = 0.0
            for q in range(classes):
                residual = row[q] - (1.0 if q == target else 0.0)
                total += residual * residual
                if write_gradient:
                    row[q] = 2.0 * scale * residual / classes
            row_loss[i] = total / classes


@njit_cached
def _mean_loss_and_accuracy(row_loss, row_correct):
    """Serial (thread-count independent) means of the per-row loss and correctness."""
    n = row_loss.shape[0]
    loss = 0.0
    correct = 0
    for i in range(n):
        loss += row_loss[i]
        correct += row_correct[i]
    return loss / n, correct / n


@njit_cached
def _sum_lanes(lane_grad, grad):
    """grad = lane_grad[0] + lane_grad[1] + ..., always in lane order."""
    for k in range(grad.size):
        total = lane_grad[0, k]
        for lane in range(1, lane_grad.shape[0]):
            total += lane_grad[lane, k]
        grad[k] = total


# -- the MLP ------------------------------------------------------------------------------
@njit_cached
def _hidden(theta, a, b, activation, pre, h):
    """pre = U[a] + V[b] and h = act(pre), both (n, N)."""
    U, V = theta[0], theta[1]
    width = U.shape[1]
    for i in range(a.shape[0]):
        u, v = U[a[i]], V[b[i]]
        for j in range(width):
            x = u[j] + v[j]
            pre[i, j] = x
            h[i, j] = _activate(x, activation)


@njit_cached
def _fibre_mean_hidden(theta, activation, sign):
    """Mean hidden activation over each fibre ``(a + sign * b) mod p = s``: (p, N) float64.

    Row s averages ``act(U[a] + V[b])`` over the p pairs with that residue; with
    ``sign = 1`` these are the pairs whose sum is s, with ``sign = -1`` whose difference is.
    """
    U, V = theta[0], theta[1]
    p, width = U.shape
    mean = np.zeros((p, width))
    for a in range(p):
        for b in range(p):
            row = mean[(a + sign * b) % p]
            for j in range(width):
                row[j] += _activate(U[a, j] + V[b, j], activation)
    return mean / p


@njit_cached
def _scatter_embedding_gradient(dh, pre, a, b, activation, grad):
    """grad[0] = dloss/dU and grad[1] = dloss/dV from dloss/dh (n, N); dh is overwritten.

    Row ``a[i]`` of U and row ``b[i]`` of V both receive dloss/dpre of pair i.
    """
    n, width = dh.shape
    grad[0] = 0.0
    grad[1] = 0.0
    for i in range(n):
        dpre, du, dv = dh[i], grad[0, a[i]], grad[1, b[i]]
        for j in range(width):
            if activation == QUADRATIC:
                dpre[j] *= 2.0 * pre[i, j]
            elif not pre[i, j] > 0:
                dpre[j] = 0.0
            du[j] += dpre[j]
            dv[j] += dpre[j]


@njit_cached
def _mlp_block(theta, a, b, y, activation, loss_kind, scale, with_gradient, block_grad, pre, h,
               logits, dh, row_loss, row_correct):
    """Forward (and backward into ``block_grad`` (3, p, N)) over one block of rows."""
    n = a.shape[0]
    pre, h, logits = pre[:n], h[:n], logits[:n]
    _hidden(theta, a, b, activation, pre, h)
    np.dot(h, theta[2].T, logits)
    _row_losses(logits, y, loss_kind, with_gradient, scale, row_loss, row_correct)
    if with_gradient:
        dh = dh[:n]
        np.dot(logits.T, h, block_grad[2])
        np.dot(logits, theta[2], dh)
        _scatter_embedding_gradient(dh, pre, a, b, activation, block_grad)


@njit_cached
def _mlp_lane(lane, theta, a, b, y, activation, loss_kind, with_gradient, block, lane_grad,
              block_grad, pre, h, logits, dh, row_loss, row_correct):
    """One lane of :func:`_mlp_pass`: its rows block by block, its gradient summed in order."""
    start, stop = _lane_rows(a.shape[0], lane)
    scale = 1.0 / a.shape[0]
    if with_gradient:
        lane_grad[lane] = 0.0
    for lo in range(start, stop, block):
        hi = min(lo + block, stop)
        _mlp_block(theta, a[lo:hi], b[lo:hi], y[lo:hi], activation, loss_kind, scale,
                   with_gradient, block_grad[lane], pre[lane], h[lane], logits[lane], dh[lane],
                   row_loss[lo:hi], row_correct[lo:hi])
        if with_gradient:
            lane_grad[lane] += block_grad[lane]


@njit_parallel
def _mlp_pass(theta, a, b, y, activation, loss_kind, with_gradient, block, lane_grad,
              block_grad, pre, h, logits, dh, row_loss, row_correct):
    """Loss and accuracy over the rows (a, b, y), and (``with_gradient``) the gradient of the
    mean loss summed per lane into ``lane_grad`` (LANES, 3, p, N), the lanes on threads.
    Work buffers have a leading lane axis and ``block`` rows."""
    for lane in prange(LANES):
        _mlp_lane(lane, theta, a, b, y, activation, loss_kind, with_gradient, block, lane_grad,
                  block_grad, pre, h, logits, dh, row_loss, row_correct)
    return _mean_loss_and_accuracy(row_loss[:a.shape[0]], row_correct[:a.shape[0]])


@njit_cached
def _mlp_pass_serial(theta, a, b, y, activation, loss_kind, with_gradient, block, lane_grad,
                     block_grad, pre, h, logits, dh, row_loss, row_correct):
    """:func:`_mlp_pass` with the lanes one after the other: the same bits, no threads (for
    steps too small to gain from a second thread, or a machine too busy to give one)."""
    for lane in range(LANES):
        _mlp_lane(lane, theta, a, b, y, activation, loss_kind, with_gradient, block, lane_grad,
                  block_grad, pre, h, logits, dh, row_loss, row_correct)
    return _mean_loss_and_accuracy(row_loss[:a.shape[0]], row_correct[:a.shape[0]])


# -- filters and optimisers -----------------------------------------------------------------
@njit_cached
def _ema_filter(g, mean, first, alpha, lamb):
    """Grokfast-EMA: mean <- alpha mean + (1 - alpha) g (mean = g at the first step);
    g <- g + lamb mean."""
    for k in range(g.size):
        if first:
            mean[k] = g[k]
        else:
            mean[k] = alpha * mean[k] + (1.0 - alpha) * g[k]
        g[k] += lamb * mean[k]


@njit_cached
def _ma_filter(g, window, window_sum, seen, lamb):
    """Grokfast-MA: once ``window`` (size w, flat) holds the last w gradients, g <- g + lamb * mean.

    ``window_sum`` is a float64 running sum, so the mean costs O(1) per weight per step;
    ``seen`` is the number of gradients pushed before this one. Returns ``seen + 1``.
    """
    size = window.shape[0]
    slot = seen % size
    full = seen + 1 >= size
    for k in range(g.size):
        if seen >= size:
            window_sum[k] -= window[slot, k]
        window[slot, k] = g[k]
        window_sum[k] += g[k]
        if full:
            g[k] += lamb * (window_sum[k] / size)
    return seen + 1


@njit_cached
def _adam_update(theta, g, m, v, step, lr, weight_decay, beta1, beta2, eps, decoupled):
    """One Adam step as PyTorch writes it, ``step`` counted from 1.

    ``decoupled``: AdamW, the weights shrink by ``lr * weight_decay`` beside the adaptive
    step. Otherwise Adam with L2 decay: ``weight_decay * theta`` joins the gradient (after
    any Grokfast filter, as in the Grokfast reference) and is normalised with it.
    """
    correction1 = 1.0 - beta1 ** step
    root_correction2 = math.sqrt(1.0 - beta2 ** step)
    step_size = lr / correction1
    shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    coupled = 0.0 if decoupled else weight_decay
    for k in range(theta.size):
        gk = g[k] + coupled * theta[k]
        m[k] = beta1 * m[k] + (1.0 - beta1) * gk
        v[k] = beta2 * v[k] + (1.0 - beta2) * gk * gk
        theta[k] = theta[k] * shrink - step_size * m[k] / (math.sqrt(v[k]) / root_correction2 + eps)


@njit_cached
def _sgd_update(theta, g, lr, weight_decay):
    """One plain gradient-descent step with decoupled weight decay."""
    shrink = 1.0 - lr * weight_decay
    for k in range(theta.size):
        theta[k] = theta[k] * shrink - lr * g[k]


@njit_cached
def _update(theta, grad, m, v, filter_mean, window, window_sum, counters, optimizer,
            filter_kind, lr, weight_decay, beta1, beta2, eps, alpha, lamb, warmup_steps):
    """Filter the gradient and take one optimiser step; all arrays flat but ``window``.

    ``counters`` (int64, 2): optimiser steps so far and gradients seen by the MA filter. The
    learning rate ramps up linearly over ``warmup_steps`` as PyTorch's
    ``LambdaLR(lambda u: min(u / warmup_steps, 1))`` does: step t (from 1) uses
    ``lr * min((t - 1) / warmup_steps, 1)``, so the first step has rate 0.
    """
    counters[0] += 1
    step = counters[0]
    if warmup_steps > 0:
        lr = lr * min((step - 1) / warmup_steps, 1.0)
    if filter_kind == EMA_FILTER:
        _ema_filter(grad, filter_mean, step == 1, alpha, lamb)
    elif filter_kind == MA_FILTER:
        counters[1] = _ma_filter(grad, window, window_sum, counters[1], lamb)
    if optimizer == SGD:
        _sgd_update(theta, grad, lr, weight_decay)
    else:
        _adam_update(theta, grad, m, v, step, lr, weight_decay, beta1, beta2, eps,
                     optimizer == ADAMW)


@njit_cached
def _train_steps_mlp(theta, grad, m, v, filter_mean, window, window_sum, counters, a, b, y,
                     starts, stops, parallel, activation, loss_kind, optimizer, filter_kind, lr,
                     weight_decay, beta1, beta2, eps, alpha, lamb, warmup_steps, block,
                     lane_grad, block_grad, pre, h, logits, dh, row_loss, row_correct):
    """Run ``len(starts)`` training steps in place; step k uses rows starts[k]:stops[k].

    ``parallel`` puts the lanes on threads (same bits either way). Stops before updating if
    the loss is not finite. Returns the number of completed steps and the last (pre-update)
    training loss.
    """
    flat_theta, flat_grad = theta.reshape(-1), grad.reshape(-1)
    flat_m, flat_v, flat_mean = m.reshape(-1), v.reshape(-1), filter_mean.reshape(-1)
    loss = 0.0
    for done in range(starts.shape[0]):
        lo, hi = starts[done], stops[done]
        if parallel:
            loss, _ = _mlp_pass(theta, a[lo:hi], b[lo:hi], y[lo:hi], activation, loss_kind, True,
                                block, lane_grad, block_grad, pre, h, logits, dh, row_loss,
                                row_correct)
        else:
            loss, _ = _mlp_pass_serial(theta, a[lo:hi], b[lo:hi], y[lo:hi], activation,
                                       loss_kind, True, block, lane_grad, block_grad, pre, h,
                                       logits, dh, row_loss, row_correct)
        if not math.isfinite(loss):
            return done, loss
        _sum_lanes(lane_grad.reshape(LANES, -1), flat_grad)
        _update(flat_theta, flat_grad, flat_m, flat_v, flat_mean, window, window_sum, counters,
                optimizer, filter_kind, lr, weight_decay, beta1, beta2, eps, alpha, lamb,
                warmup_steps)
    return starts.shape[0], loss


@njit_cached
def _sum_of_squares(theta):
    """Sum of squared entries, accumulated in float64."""
    flat = theta.reshape(-1)
    total = 0.0
    for k in range(flat.size):
        total += np.float64(flat[k]) * flat[k]
    return total
