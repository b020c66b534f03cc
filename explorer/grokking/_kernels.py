"""Compiled kernels of the modular-arithmetic MLP: arrays in, arrays out, no Python objects.

The model is ``h = act(U[a] + V[b])``, ``logits = h @ W.T``. All weights live in one
contiguous buffer ``theta`` of shape (3, p, N) (``theta[0] = U``, ``theta[1] = V``,
``theta[2] = W``) so that the optimiser and the Grokfast filters run over one flat array.

Why it is fast: the three (n, N) x (N, p) products (forward, dW, dh) go to BLAS through
``np.dot`` and dominate the cost; the elementwise work (gather, activation, softmax,
scatter-add) is a few vectorised passes over the same arrays. Those passes are serial on
purpose: BLAS already runs its own threads, and numba's ``prange`` workers competing with
BLAS's spinning workers made each step several times slower (measured on 2 cores). Every
reduction is summed in a fixed order, and OpenBLAS's products do not depend on its thread
count, so a run is bit-identical with 1 or 2 BLAS threads.
"""

import math

import numpy as np

from explorer._jit import njit_cached

QUADRATIC, RELU = 0, 1
CROSS_ENTROPY, MEAN_SQUARED_ERROR = 0, 1
ADAMW, SGD = 0, 1
NO_FILTER, EMA_FILTER, MA_FILTER = 0, 1, 2

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
def _row_losses(logits, y, loss_kind, write_gradient, row_loss, row_correct):
    """Per-row loss and correctness; logits are overwritten (with dloss/dlogits if
    ``write_gradient``).

    Cross-entropy: ``logsumexp(z) - z[y]``. Mean squared error: ``mean_q (z_q - onehot_q)^2``.
    The gradient is of the mean over rows, so it carries the factor ``1 / n``.
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
            total = 0.0
            for q in range(classes):
                row[q] = math.exp(row[q] - peak)
                total += row[q]
            row_loss[i] = peak + math.log(total) - picked
            if write_gradient:
                scale = 1.0 / (total * n)
                for q in range(classes):
                    row[q] = row[q] * scale if row[q] > _NEGLIGIBLE_PROBABILITY else 0.0
                row[target] -= 1.0 / n
        else:
            total = 0.0
            for q in range(classes):
                residual = row[q] - (1.0 if q == target else 0.0)
                total += residual * residual
                if write_gradient:
                    row[q] = 2.0 * residual / (n * classes)
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
def _evaluate(theta, a, b, y, activation, loss_kind, pre, h, logits, row_loss, row_correct):
    """Mean loss and accuracy of the current weights on the pairs (a, b) with labels y."""
    _hidden(theta, a, b, activation, pre, h)
    np.dot(h, theta[2].T, logits)
    _row_losses(logits, y, loss_kind, False, row_loss, row_correct)
    return _mean_loss_and_accuracy(row_loss, row_correct)


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
def _loss_and_gradient(theta, a, b, y, activation, loss_kind, grad, pre, h, logits, dh,
                       row_loss, row_correct):
    """Forward and backward pass: fills grad (3, p, N); returns (mean loss, accuracy)."""
    _hidden(theta, a, b, activation, pre, h)
    np.dot(h, theta[2].T, logits)
    _row_losses(logits, y, loss_kind, True, row_loss, row_correct)
    np.dot(logits.T, h, grad[2])
    np.dot(logits, theta[2], dh)
    _scatter_embedding_gradient(dh, pre, a, b, activation, grad)
    return _mean_loss_and_accuracy(row_loss, row_correct)


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
def _adamw_update(theta, g, m, v, step, lr, weight_decay, beta1, beta2, eps):
    """One AdamW step (PyTorch's formulation, decoupled decay), ``step`` counted from 1."""
    correction1 = 1.0 - beta1 ** step
    root_correction2 = math.sqrt(1.0 - beta2 ** step)
    step_size = lr / correction1
    shrink = 1.0 - lr * weight_decay
    for k in range(theta.size):
        m[k] = beta1 * m[k] + (1.0 - beta1) * g[k]
        v[k] = beta2 * v[k] + (1.0 - beta2) * g[k] * g[k]
        theta[k] = theta[k] * shrink - step_size * m[k] / (math.sqrt(v[k]) / root_correction2 + eps)


@njit_cached
def _sgd_update(theta, g, lr, weight_decay):
    """One plain gradient-descent step with decoupled weight decay."""
    shrink = 1.0 - lr * weight_decay
    for k in range(theta.size):
        theta[k] = theta[k] * shrink - lr * g[k]


@njit_cached
def _train_steps(theta, grad, m, v, filter_mean, window, window_sum, counters, a, b, y,
                 activation, loss_kind, optimizer, filter_kind, lr, weight_decay, beta1, beta2,
                 eps, alpha, lamb, steps, pre, h, logits, dh, row_loss, row_correct):
    """Run up to ``steps`` full-batch training steps in place.

    ``counters`` (int64, 2) holds the optimiser step count and the number of gradients the
    MA filter has seen; both advance here. Stops before updating if the loss is not finite.
    Returns the number of completed steps and the last (pre-update) training loss.
    """
    flat_theta = theta.reshape(-1)
    flat_grad = grad.reshape(-1)
    flat_m, flat_v, flat_mean = m.reshape(-1), v.reshape(-1), filter_mean.reshape(-1)
    loss = 0.0
    for done in range(steps):
        loss, _ = _loss_and_gradient(theta, a, b, y, activation, loss_kind, grad, pre, h,
                                     logits, dh, row_loss, row_correct)
        if not math.isfinite(loss):
            return done, loss
        counters[0] += 1
        if filter_kind == EMA_FILTER:
            _ema_filter(flat_grad, flat_mean, counters[0] == 1, alpha, lamb)
        elif filter_kind == MA_FILTER:
            counters[1] = _ma_filter(flat_grad, window, window_sum, counters[1], lamb)
        if optimizer == ADAMW:
            _adamw_update(flat_theta, flat_grad, flat_m, flat_v, counters[0], lr, weight_decay,
                          beta1, beta2, eps)
        else:
            _sgd_update(flat_theta, flat_grad, lr, weight_decay)
    return steps, loss


@njit_cached
def _sum_of_squares(theta):
    """Sum of squared entries, accumulated in float64."""
    flat = theta.reshape(-1)
    total = 0.0
    for k in range(flat.size):
        total += np.float64(flat[k]) * flat[k]
    return total
