"""Compiled kernels of the deblender network: arrays in, arrays out, no Python objects.

The MLP ``D(x_alpha, alpha)``: 3 inputs (the blended point and alpha), ``depth`` hidden
layers of ``width`` units (ReLU or SiLU), 2 outputs; all weights in one flat buffer. Forward
pass, backward pass, Adam and the training loop, plus a parallel forward pass for sampling.

Why it is fast: activations are kept feature-major, shape (features, batch), so every inner
loop runs over the batch (contiguous, long) and vectorises; products are blocked four outputs
by four inputs so that each loaded vector feeds sixteen multiply-adds. Networks this small at
batch 256 are too small for BLAS to pay off, and a threaded BLAS slows down on a shared
machine. The SiLU's sigmoid goes through the vectorisable ``_exp_nonpositive``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel
from explorer.blending._kernels import _exp_nonpositive

RELU, SILU = 0, 1


@njit_cached(inline="always")
def _sigmoid(z):
    """1 / (1 + exp(-z)) through :func:`_exp_nonpositive` (no overflow, vectorises)."""
    decay = _exp_nonpositive(-abs(z))
    return 1.0 / (1.0 + decay) if z >= 0 else decay / (1.0 + decay)


@njit_cached
def _layers(theta, width, depth):
    """Views of the flat parameters: W_in (3, w), b_in (w,), W_hidden (depth-1, w, w),
    b_hidden (depth-1, w), W_out (w, 2), b_out (2,); a layer computes ``h @ W + b``."""
    w = width
    end_in = 3 * w
    end_hidden = end_in + w + (depth - 1) * w * w
    end_bias = end_hidden + (depth - 1) * w
    end_out = end_bias + 2 * w
    return (theta[:end_in].reshape((3, w)), theta[end_in:end_in + w],
            theta[end_in + w:end_hidden].reshape((depth - 1, w, w)),
            theta[end_hidden:end_bias].reshape((depth - 1, w)),
            theta[end_bias:end_out].reshape((w, 2)), theta[end_out:end_out + 2])


@njit_cached(inline="always")
def _mix_four(coefficients, start, rows, out, j):
    """Outputs j..j+3 of :func:`_mix`: each loaded vector of inputs feeds sixteen multiply-adds."""
    k_in = coefficients.shape[0]
    n = rows.shape[1]
    out0, out1, out2, out3 = out[j], out[j + 1], out[j + 2], out[j + 3]
    for b in range(n):
        out0[b] = start[j]
        out1[b] = start[j + 1]
        out2[b] = start[j + 2]
        out3[b] = start[j + 3]
    k = 0
    while k + 4 <= k_in:
        in0, in1, in2, in3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        a0, a1 = coefficients[k, j], coefficients[k + 1, j]
        a2, a3 = coefficients[k + 2, j], coefficients[k + 3, j]
        b0, b1 = coefficients[k, j + 1], coefficients[k + 1, j + 1]
        b2, b3 = coefficients[k + 2, j + 1], coefficients[k + 3, j + 1]
        c0, c1 = coefficients[k, j + 2], coefficients[k + 1, j + 2]
        c2, c3 = coefficients[k + 2, j + 2], coefficients[k + 3, j + 2]
        d0, d1 = coefficients[k, j + 3], coefficients[k + 1, j + 3]
        d2, d3 = coefficients[k + 2, j + 3], coefficients[k + 3, j + 3]
        for b in range(n):
            v0, v1, v2, v3 = in0[b], in1[b], in2[b], in3[b]
            out0[b] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
            out1[b] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3
            out2[b] += c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3
            out3[b] += d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3
        k += 4
    for k in range(k, k_in):
        row = rows[k]
        a0, b0 = coefficients[k, j], coefficients[k, j + 1]
        c0, d0 = coefficients[k, j + 2], coefficients[k, j + 3]
        for b in range(n):
            v0 = row[b]
            out0[b] += a0 * v0
            out1[b] += b0 * v0
            out2[b] += c0 * v0
            out3[b] += d0 * v0


@njit_cached(inline="always")
def _mix_one(coefficients, start, rows, out, j):
    """Output j of :func:`_mix`."""
    k_in = coefficients.shape[0]
    n = rows.shape[1]
    out0 = out[j]
    for b in range(n):
        out0[b] = start[j]
    k = 0
    while k + 4 <= k_in:
        in0, in1, in2, in3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        a0, a1 = coefficients[k, j], coefficients[k + 1, j]
        a2, a3 = coefficients[k + 2, j], coefficients[k + 3, j]
        for b in range(n):
            out0[b] += a0 * in0[b] + a1 * in1[b] + a2 * in2[b] + a3 * in3[b]
        k += 4
    for k in range(k, k_in):
        row, a0 = rows[k], coefficients[k, j]
        for b in range(n):
            out0[b] += a0 * row[b]


@njit_cached(inline="always")
def _mix(coefficients, start, rows, out):
    """out[j, :] = start[j] + sum_k coefficients[k, j] rows[k, :] (rows and out feature-major).

    Blocked four outputs by four inputs, so that each vector of loaded inputs feeds sixteen
    multiply-adds; leftover outputs go one at a time.
    """
    k_out = coefficients.shape[1]
    j = 0
    while j + 4 <= k_out:
        _mix_four(coefficients, start, rows, out, j)
        j += 4
    for j in range(j, k_out):
        _mix_one(coefficients, start, rows, out, j)


@njit_cached(inline="always")
def _outer(rows, delta, weight_gradient, bias_gradient, zero):
    """weight_gradient[k, j] = sum_b rows[k, b] delta[j, b]; bias_gradient[j] = sum_b delta[j, b].

    Blocked four by four: sixteen running sums per pass over the batch (a block at an edge
    repeats its last row or column and keeps only the valid sums). ``zero`` is a zero of the
    arrays' dtype, so that float32 sums stay float32 (and vectorise twice as wide).
    """
    k_in, n = rows.shape
    k_out = delta.shape[0]
    for j in range(k_out):
        total = zero
        for b in range(n):
            total += delta[j, b]
        bias_gradient[j] = total
    for k in range(0, k_in, 4):
        u0, u1 = rows[k], rows[min(k + 1, k_in - 1)]
        u2, u3 = rows[min(k + 2, k_in - 1)], rows[min(k + 3, k_in - 1)]
        for j in range(0, k_out, 4):
            v0, v1 = delta[j], delta[min(j + 1, k_out - 1)]
            v2, v3 = delta[min(j + 2, k_out - 1)], delta[min(j + 3, k_out - 1)]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
            for b in range(n):
                x0, x1, x2, x3 = u0[b], u1[b], u2[b], u3[b]
                y0, y1, y2, y3 = v0[b], v1[b], v2[b], v3[b]
                s00 += x0 * y0
                s01 += x0 * y1
                s02 += x0 * y2
                s03 += x0 * y3
                s10 += x1 * y0
                s11 += x1 * y1
                s12 += x1 * y2
                s13 += x1 * y3
                s20 += x2 * y0
                s21 += x2 * y1
                s22 += x2 * y2
                s23 += x2 * y3
                s30 += x3 * y0
                s31 += x3 * y1
                s32 += x3 * y2
                s33 += x3 * y3
            sums = ((s00, s01, s02, s03), (s10, s11, s12, s13), (s20, s21, s22, s23),
                    (s30, s31, s32, s33))
            for dk in range(min(4, k_in - k)):
                for dj in range(min(4, k_out - j)):
                    weight_gradient[k + dk, j + dj] = sums[dk][dj]


@njit_cached(inline="always")
def _activate(pre, post, activation):
    """post = act(pre): ReLU, or SiLU z * sigmoid(z)."""
    width, n = pre.shape
    for j in range(width):
        z, h = pre[j], post[j]
        if activation == RELU:
            for b in range(n):
                h[b] = z[b] if z[b] > 0.0 else z[b] - z[b]  # z - z: 0, or NaN for a NaN
        else:
            for b in range(n):
                h[b] = z[b] * _sigmoid(z[b])


@njit_cached(inline="always")
def _times_derivative(pre, gradient, activation):
    """gradient *= act'(pre) in place."""
    width, n = pre.shape
    for j in range(width):
        z, g = pre[j], gradient[j]
        if activation == RELU:
            for b in range(n):
                if not z[b] > 0.0:
                    g[b] = 0.0
        else:
            for b in range(n):
                sigmoid = _sigmoid(z[b])
                g[b] *= sigmoid * (1.0 + z[b] * (1.0 - sigmoid))


@njit_cached
def _forward(theta, width, depth, activation, inputs, pre, post, out):
    """Forward pass on feature-major inputs (3, n): fills pre, post (depth, w, n), out (2, n)."""
    w_in, b_in, w_hidden, b_hidden, w_out, b_out = _layers(theta, width, depth)
    _mix(w_in, b_in, inputs, pre[0])
    _activate(pre[0], post[0], activation)
    for layer in range(1, depth):
        _mix(w_hidden[layer - 1], b_hidden[layer - 1], post[layer - 1], pre[layer])
        _activate(pre[layer], post[layer], activation)
    _mix(w_out, b_out, post[depth - 1], out)


@njit_cached
def loss_and_gradient(theta, width, depth, activation, inputs, velocity, gradient, pre, post,
                      out, delta, zeros):
    """IADB loss ``mean_b ||D(x_b, alpha_b) - v_b||^2`` and its gradient (into ``gradient``).

    ``inputs`` (3, n) holds (x, y, alpha) per column, ``velocity`` (2, n) the targets
    ``x1 - x0``; ``out`` is overwritten with dloss/dD, ``delta`` with dloss/dpre; ``zeros``
    is a zero vector of length ``width``. Returns the loss (float64).
    """
    _forward(theta, width, depth, activation, inputs, pre, post, out)
    n = inputs.shape[1]
    loss = 0.0
    for c in range(2):
        for b in range(n):
            residual = out[c, b] - velocity[c, b]
            loss += residual * residual
            out[c, b] = 2.0 * residual / n
    _, _, w_hidden, _, w_out, _ = _layers(theta, width, depth)
    g_in, gb_in, g_hidden, gb_hidden, g_out, gb_out = _layers(gradient, width, depth)
    zero = zeros[0]
    _outer(post[depth - 1], out, g_out, gb_out, zero)
    _mix(w_out.T, zeros, out, delta[depth - 1])
    _times_derivative(pre[depth - 1], delta[depth - 1], activation)
    for layer in range(depth - 1, 0, -1):
        _outer(post[layer - 1], delta[layer], g_hidden[layer - 1], gb_hidden[layer - 1], zero)
        _mix(w_hidden[layer - 1].T, zeros, delta[layer], delta[layer - 1])
        _times_derivative(pre[layer - 1], delta[layer - 1], activation)
    _outer(inputs, delta[0], g_in, gb_in, zero)
    return loss / n


@njit_cached
def _adam_update(theta, gradient, m, v, step, lr, beta1, beta2, eps):
    """One Adam step (PyTorch's formulation, no weight decay), ``step`` counted from 1."""
    correction1 = 1.0 - beta1 ** step
    root_correction2 = math.sqrt(1.0 - beta2 ** step)
    step_size = lr / correction1
    for k in range(theta.size):
        g = gradient[k]
        m[k] = beta1 * m[k] + (1.0 - beta1) * g
        v[k] = beta2 * v[k] + (1.0 - beta2) * g * g
        theta[k] -= step_size * m[k] / (math.sqrt(v[k]) / root_correction2 + eps)


@njit_cached
def train_steps(theta, m, v, step_counter, width, depth, activation, lr, beta1, beta2, eps,
                source, target, alpha, losses, gradient, inputs, velocity, pre, post, out,
                delta, zeros):
    """Adam steps on minibatches ``x_alpha = (1-alpha) x0 + alpha x1``, target ``x1 - x0``.

    ``source`` and ``target`` are (steps, batch, 2), ``alpha`` (steps, batch): one minibatch
    per step, drawn by the caller. ``losses[t]`` receives step t's (pre-update) loss.
    ``step_counter`` (int64, 1) counts Adam steps across calls. Stops before updating if the
    loss is not finite; returns the number of completed steps.
    """
    steps, batch = alpha.shape
    for t in range(steps):
        for b in range(batch):
            a = alpha[t, b]
            for c in range(2):
                inputs[c, b] = (1.0 - a) * source[t, b, c] + a * target[t, b, c]
                velocity[c, b] = target[t, b, c] - source[t, b, c]
            inputs[2, b] = a
        loss = loss_and_gradient(theta, width, depth, activation, inputs, velocity, gradient,
                                 pre, post, out, delta, zeros)
        losses[t] = loss
        if not math.isfinite(loss):
            return t
        step_counter[0] += 1
        _adam_update(theta, gradient, m, v, step_counter[0], lr, beta1, beta2, eps)
    return steps


@njit_parallel
def network_velocity(theta, width, depth, activation, x, alpha, block):
    """D(x, alpha) for every point, parallel over blocks of ``block`` points: (n, 2) float64."""
    n = x.shape[0]
    result = np.empty((n, 2))
    for chunk in prange((n + block - 1) // block):
        first = chunk * block
        size = min(n, first + block) - first
        inputs = np.empty((3, size), theta.dtype)
        for b in range(size):
            inputs[0, b] = x[first + b, 0]
            inputs[1, b] = x[first + b, 1]
            inputs[2, b] = alpha[first + b]
        pre = np.empty((depth, width, size), theta.dtype)
        post = np.empty((depth, width, size), theta.dtype)
        out = np.empty((2, size), theta.dtype)
        _forward(theta, width, depth, activation, inputs, pre, post, out)
        for b in range(size):
            result[first + b, 0] = out[0, b]
            result[first + b, 1] = out[1, b]
    return result
