"""Compiled kernels of the trainability scan: arrays in, arrays out, no Python objects.

One pixel = one full-batch gradient-descent run of the two-layer mean-field network
``f = act(X W1 / sqrt(d)) W2 / w`` on the mean squared error, from the same initial weights.
Every pixel runs entirely in small per-thread arrays; pixels run in parallel (``prange``).
"""

import math

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel

TANH, RELU, IDENTITY = 0, 1, 2
LR_VS_LR, PARAMINIT_VS_LR = 0, 1
NONFINITE_LOSS = 1e6  # the paper's stand-in for a non-finite loss, and its clip value

_SQRT2 = math.sqrt(2.0)
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # Cody-Waite split of ln 2: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_TANH_SATURATION = 40.0  # |2x| beyond which tanh(x) rounds to +-1 in float64
_FLOAT64_MAX = 1.7976931348623157e308


# exp(r) = P(r) / P(-r), the [6/6] Pade approximant, relative error below 1e-18 on |r| <= ln2/2
_PADE = (1.0 / 2.0, 5.0 / 44.0, 1.0 / 66.0, 1.0 / 792.0, 1.0 / 15840.0, 1.0 / 665280.0)


# Only "contract" (fused multiply-add): the Cody-Waite reduction needs the written order, and
# NaN/inf must keep their meaning. The loops have no reductions, so they vectorise; this beats
# libm's scalar tanh several-fold.
@njit_cached(fastmath={"contract"})
def _tanh_sqrt2(z, h, slope, pow2_bits):
    """h = tanh(sqrt(2) z) and slope = sqrt(2) (1 - h**2), elementwise, within a few ulp.

    With u = 2 sqrt(2) z = k ln2 + r (|r| <= ln2/2) and exp(r) = P(r)/P(-r), P = even + odd:
    tanh(u/2) = (e^u - 1)/(e^u + 1) = ((2^k - 1) even + (2^k + 1) odd) / ((2^k + 1) even +
    (2^k - 1) odd). One division, and no cancellation near 0 (k = 0 gives odd/even).
    2**k is built from its bits. NaN propagates; +-inf saturates to +-1. ``h`` and ``slope``
    hold the even and odd parts in between; ``pow2_bits`` is int64 scratch of the same size.
    """
    c1, c2, c3, c4, c5, c6 = _PADE
    for i in range(z.size):
        u = 2.0 * _SQRT2 * z[i]
        if u > _TANH_SATURATION:
            u = _TANH_SATURATION
        elif u < -_TANH_SATURATION:
            u = -_TANH_SATURATION
        k = math.floor(u * _INV_LN2 + 0.5)
        r = (u - k * _LN2_HI) - k * _LN2_LO
        s = r * r
        h[i] = ((c6 * s + c4) * s + c2) * s + 1.0
        slope[i] = ((c5 * s + c3) * s + c1) * r
        # a NaN u gives a meaningless k; r (and so the result) is NaN anyway
        pow2_bits[i] = (np.int64(k) + 1023) << 52 if u == u else np.int64(1023) << 52
    pow2 = pow2_bits.view(np.float64)
    for i in range(z.size):
        even, odd = h[i], slope[i]
        below, above = pow2[i] - 1.0, pow2[i] + 1.0
        t = (below * even + above * odd) / (above * even + below * odd)
        h[i] = t
        slope[i] = _SQRT2 * (1.0 - t * t)


@njit_cached
def _activate(z, h, slope, nonlinearity, pow2_bits):
    """h = act(z) and slope = act'(z) for the paper's scaled nonlinearities (flat arrays)."""
    if nonlinearity == TANH:
        _tanh_sqrt2(z, h, slope, pow2_bits)
    elif nonlinearity == RELU:
        for i in range(z.size):
            positive_or_nan = not (z[i] <= 0.0)  # keep NaN flowing, as jax.nn.relu does
            h[i] = _SQRT2 * z[i] if positive_or_nan else 0.0
            slope[i] = _SQRT2 if positive_or_nan else 0.0
    else:
        for i in range(z.size):
            h[i] = z[i]
            slope[i] = 1.0


@njit_cached
def _convergence_measure(losses):
    """The paper's pixel value from a loss trajectory (non-finite entries already replaced).

    v /= v[0]; clip at 1e6; converged if mean(v[-20:]) < 1; then -sum(v) if converged else
    sum(1/v). A zero initial loss (a perfect fit from the start) counts as converged.
    """
    steps = losses.size
    first = losses[0]
    total = 0.0
    inverse_total = 0.0
    tail = 0.0
    for t in range(steps):
        if first > 0.0:
            v = min(losses[t] / first, NONFINITE_LOSS)
        else:
            v = 0.0 if losses[t] == 0.0 else NONFINITE_LOSS
        total += v
        inverse_total += 1.0 / v
        if t >= steps - 20:
            tail += v
    if tail / 20.0 < 1.0:
        return -total
    return min(inverse_total, _FLOAT64_MAX)


# The two products below carry almost all the flops. Both are blocked by four so that each
# load and store of a long row feeds four fused multiply-adds instead of one.
@njit_cached
def _forward_input_layer(XT, W1, ZT):
    """ZT = W1^T XT for XT (d, n), W1 (d, w), ZT (w, n)."""
    d, n = XT.shape
    for j in range(W1.shape[1]):
        ZT[j, :] = 0.0
        k = 0
        while k + 4 <= d:
            a0, a1, a2, a3 = W1[k, j], W1[k + 1, j], W1[k + 2, j], W1[k + 3, j]
            for i in range(n):
                ZT[j, i] += a0 * XT[k, i] + a1 * XT[k + 1, i] + a2 * XT[k + 2, i] + a3 * XT[k + 3, i]
            k += 4
        for k in range(k, d):
            a = W1[k, j]
            for i in range(n):
                ZT[j, i] += a * XT[k, i]


@njit_cached
def _input_layer_gradient(XT, deltaT, grad):
    """grad = XT deltaT^T for XT (d, n), deltaT (w, n), grad (d, w)."""
    d, n = XT.shape
    w = deltaT.shape[0]
    for k in range(d):
        j = 0
        while j + 4 <= w:
            t0 = t1 = t2 = t3 = 0.0
            for i in range(n):
                x = XT[k, i]
                t0 += x * deltaT[j, i]
                t1 += x * deltaT[j + 1, i]
                t2 += x * deltaT[j + 2, i]
                t3 += x * deltaT[j + 3, i]
            grad[k, j], grad[k, j + 1], grad[k, j + 2], grad[k, j + 3] = t0, t1, t2, t3
            j += 4
        for j in range(j, w):
            total = 0.0
            for i in range(n):
                total += XT[k, i] * deltaT[j, i]
            grad[k, j] = total


@njit_cached
def _train_losses(XT, Y, W1_init, W2_init, lr_input, lr_output, offset, offset_every_step,
                  steps, nonlinearity, losses):
    """Full-batch GD of one network; writes the loss before each step into ``losses``.

    ``XT`` is the transposed input, shape (d, n), already divided by sqrt(d). Activations
    are kept transposed, (w, n), so every inner loop runs over the n samples: long,
    contiguous and vectorised. A non-finite loss is absorbing (the weights are then
    non-finite), so the remaining entries are set to the stand-in value at once.
    """
    d, n = XT.shape
    w = W1_init.shape[1]
    inverse_width = 1.0 / w
    W1 = W1_init.copy()
    W2 = W2_init[:, 0].copy()
    if not offset_every_step:
        W1 += offset
    ZT = np.empty((w, n))  # pre-activations (a separate buffer: in-place would not vectorise)
    HT = np.empty((w, n))
    slopeT = np.empty((w, n))  # act'(Z), then dL/dZ, in place
    pow2_bits = np.empty(w * n, dtype=np.int64)
    output = np.empty(n)
    scaled_residual = np.empty(n)
    grad_W1 = np.empty((d, w))
    grad_W2 = np.empty(w)
    Zf, Hf, slopef = ZT.reshape(w * n), HT.reshape(w * n), slopeT.reshape(w * n)
    for t in range(steps):
        if offset_every_step:
            W1 += offset
        _forward_input_layer(XT, W1, ZT)
        _activate(Zf, Hf, slopef, nonlinearity, pow2_bits)
        output[:] = 0.0
        for j in range(w):
            weight = W2[j]
            for i in range(n):
                output[i] += weight * HT[j, i]
        loss = 0.0
        for i in range(n):
            residual = output[i] * inverse_width - Y[i, 0]
            loss += residual * residual
            scaled_residual[i] = 2.0 * residual * inverse_width / n  # dL/d(sum_j H_ij W2_j)
        loss /= n
        if not math.isfinite(loss):
            losses[t:] = NONFINITE_LOSS
            return
        losses[t] = loss
        for j in range(w):
            weight = W2[j]
            total = 0.0
            for i in range(n):
                total += scaled_residual[i] * HT[j, i]
                slopeT[j, i] *= scaled_residual[i] * weight  # now dL/dZ_ji
            grad_W2[j] = total
        _input_layer_gradient(XT, slopeT, grad_W1)
        W1 -= lr_input * grad_W1
        W2 -= lr_output * grad_W2


@njit_parallel
def _scan_kernel(X, Y, W1, W2, x_values, y_values, steps, nonlinearity, phase_space,
                 offset_every_step):
    """Convergence measure of every pixel, shape (len(y_values), len(x_values)).

    lr_vs_lr: x = input-layer learning rate, y = output-layer learning rate.
    paraminit_vs_lr: x = offset added to the input weights, y = the shared learning rate.
    """
    ny, nx = y_values.size, x_values.size
    measure = np.empty((ny, nx))
    for pixel in prange(ny * nx):
        row, col = pixel // nx, pixel % nx
        losses = np.empty(steps)
        if phase_space == LR_VS_LR:
            _train_losses(X, Y, W1, W2, x_values[col], y_values[row], 0.0, False, steps,
                          nonlinearity, losses)
        else:
            _train_losses(X, Y, W1, W2, y_values[row], y_values[row], x_values[col],
                          offset_every_step, steps, nonlinearity, losses)
        measure[row, col] = _convergence_measure(losses)
    return measure


@njit_cached
def _loss_trajectory(X, Y, W1, W2, lr_input, lr_output, offset, offset_every_step, steps,
                     nonlinearity):
    """The raw loss trajectory of one pixel (non-finite losses shown as 1e6)."""
    losses = np.empty(steps)
    _train_losses(X, Y, W1, W2, lr_input, lr_output, offset, offset_every_step, steps,
                  nonlinearity, losses)
    return losses
