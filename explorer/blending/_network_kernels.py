"""Compiled kernels of the MLPs (the deblender, the image classifier): arrays in, arrays out.

An MLP ``n_in -> width x depth -> n_out`` with ReLU or SiLU keeps all its weights in one flat
buffer (see :func:`_layers`). Here: the blocked products, the fused activations, the forward
and backward passes, Adam, and the training loops of the IADB loss (``train_steps``) and of a
cross-entropy classifier (``classifier_steps``); the parallel inference is in
``_inference_kernels``.

Why it is fast
--------------
- Activations are feature-major, shape (features, columns), so every inner loop runs over the
  columns (contiguous, long) and vectorises without reordering any sum (the fast-math flags
  have no ``reassoc``: every sum here has one fixed order, the same bits everywhere).
- A training minibatch is cut into tiles of at most TILE columns: a tile's activations stay
  in L2 through the whole forward and backward pass, and the tiles run in parallel (one
  gradient buffer each, summed in tile order afterwards: the same bits for 1 or 2 threads).
- Products are blocked four outputs by eight inputs (:func:`_mix_four`), so that each loaded
  input vector feeds four multiply-adds and each output vector is stored once per 32 of
  them (with four inputs, stores limited the 256-wide layers to ~63 GF/s on one core; eight
  reach ~78, PyTorch's sgemm ~83), and the activation (or, going back, its derivative) is
  applied to each block of four rows while they are still in L1 (:func:`_dense`).
- The blocks are compiled with ``noalias`` (:func:`_mix`): otherwise each block's loop starts
  with run-time overlap checks between its twelve rows, as long as the loop itself at 128
  columns (256-wide products: ~57 -> ~68 GF/s on one core).
- Two things keep a loop from vectorising without a word: a row written in place (LLVM's
  run-time overlap check fails, so :func:`_finish` has in-place loops of its own), and an
  index numba cannot prove non-negative (``range(start, stop)``: a wraparound test on every
  access, so :func:`_sum_tiles_and_adam` loops over views from 0).
- A full training tile runs a copy of the step compiled with TILE as a constant
  (:func:`_tile_pass`): the passes' loops then have a known length (7-21% more steps/s,
  for ~30 s more compilation when the cache is warmed).
- The weight gradient ``G = R delta^T`` is the same blocked product with delta transposed
  (batch, outputs): its inner loop runs over outputs, elementwise, instead of a reduction
  over the batch that would not vectorise in a fixed order.
- Compiled functions call each other per layer (not inlined: a call per layer costs
  nothing next to its product, and keeps compilation short); only the product's inner
  blocks are inlined into the one function that loops over them.
- Networks this small at batch 256 are too small for BLAS to pay off, and a threaded BLAS
  slows down on a shared machine; the SiLU's sigmoid goes through the vectorisable
  ``_exp_nonpositive``.
"""

from __future__ import annotations

import math

import numpy as np

from numba import prange

from explorer._jit import njit_cached, njit_noalias, njit_parallel
from explorer.blending._kernels import _exp_nonpositive

RELU, SILU = 0, 1
# what _dense does to each finished block of rows
LINEAR, RELU_FORWARD, SILU_FORWARD, RELU_BACKWARD, SILU_BACKWARD = 0, 1, 2, 3, 4
TRANSPOSE_TILE = 16
TILE = 128  # most minibatch columns per tile of the training step
ADAM_BLOCK = 16384  # parameters per thread task of the tile sum and Adam update


@njit_cached(inline="always")
def _sigmoid(z):
    """1 / (1 + exp(-z)) through :func:`_exp_nonpositive` (no overflow, vectorises)."""
    decay = _exp_nonpositive(-abs(z))
    return 1.0 / (1.0 + decay) if z >= 0 else decay / (1.0 + decay)


@njit_cached
def _layers(theta, n_in, width, depth, n_out):
    """Views of the flat parameters: W_in (n_in, w), b_in (w,), W_hidden (depth-1, w, w),
    b_hidden (depth-1, w), W_out (w, n_out), b_out (n_out,); a layer computes ``h @ W + b``."""
    w = width
    end_in = n_in * w
    end_hidden = end_in + w + (depth - 1) * w * w
    end_bias = end_hidden + (depth - 1) * w
    end_out = end_bias + n_out * w
    return (theta[:end_in].reshape((n_in, w)), theta[end_in:end_in + w],
            theta[end_in + w:end_hidden].reshape((depth - 1, w, w)),
            theta[end_hidden:end_bias].reshape((depth - 1, w)),
            theta[end_bias:end_out].reshape((w, n_out)), theta[end_out:end_out + n_out])


@njit_cached(inline="always")
def _eight_rows(rows, k):
    return (rows[k], rows[k + 1], rows[k + 2], rows[k + 3],
            rows[k + 4], rows[k + 5], rows[k + 6], rows[k + 7])


@njit_cached(inline="always")
def _eight_coefficients(coefficients, k, j):
    return (coefficients[k, j], coefficients[k + 1, j], coefficients[k + 2, j],
            coefficients[k + 3, j], coefficients[k + 4, j], coefficients[k + 5, j],
            coefficients[k + 6, j], coefficients[k + 7, j])


@njit_cached(inline="always")
def _mix_four(coefficients, start, rows, out, j, k_in, n):
    """Outputs j..j+3 of :func:`_dense` (first n columns, first k_in inputs).

    Inputs go eight at a time: each output vector is loaded and stored once per 32
    multiply-adds (the store port, not the arithmetic, limited the blocks of four), and each
    loaded input vector feeds four of them.
    """
    out0, out1, out2, out3 = out[j], out[j + 1], out[j + 2], out[j + 3]
    for b in range(n):
        out0[b] = start[j]
        out1[b] = start[j + 1]
        out2[b] = start[j + 2]
        out3[b] = start[j + 3]
    k = 0
    while k + 8 <= k_in:
        in0, in1, in2, in3, in4, in5, in6, in7 = _eight_rows(rows, k)
        a0, a1, a2, a3, a4, a5, a6, a7 = _eight_coefficients(coefficients, k, j)
        b0, b1, b2, b3, b4, b5, b6, b7 = _eight_coefficients(coefficients, k, j + 1)
        c0, c1, c2, c3, c4, c5, c6, c7 = _eight_coefficients(coefficients, k, j + 2)
        d0, d1, d2, d3, d4, d5, d6, d7 = _eight_coefficients(coefficients, k, j + 3)
        for b in range(n):
            v0, v1, v2, v3 = in0[b], in1[b], in2[b], in3[b]
            v4, v5, v6, v7 = in4[b], in5[b], in6[b], in7[b]
            out0[b] += ((a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3)
                        + (a4 * v4 + a5 * v5 + a6 * v6 + a7 * v7))
            out1[b] += ((b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3)
                        + (b4 * v4 + b5 * v5 + b6 * v6 + b7 * v7))
            out2[b] += ((c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3)
                        + (c4 * v4 + c5 * v5 + c6 * v6 + c7 * v7))
            out3[b] += ((d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3)
                        + (d4 * v4 + d5 * v5 + d6 * v6 + d7 * v7))
        k += 8
    # The last 1-7 inputs: three per pass where they can be, in the order of single-row passes
    # (the same bits), so that a 3-input first layer (x, y, alpha) stores its outputs once,
    # not three times.
    while k + 3 <= k_in:
        in0, in1, in2 = rows[k], rows[k + 1], rows[k + 2]
        a0, a1, a2 = coefficients[k, j], coefficients[k + 1, j], coefficients[k + 2, j]
        b0, b1, b2 = coefficients[k, j + 1], coefficients[k + 1, j + 1], coefficients[k + 2, j + 1]
        c0, c1, c2 = coefficients[k, j + 2], coefficients[k + 1, j + 2], coefficients[k + 2, j + 2]
        d0, d1, d2 = coefficients[k, j + 3], coefficients[k + 1, j + 3], coefficients[k + 2, j + 3]
        for b in range(n):
            v0, v1, v2 = in0[b], in1[b], in2[b]
            out0[b] = ((out0[b] + a0 * v0) + a1 * v1) + a2 * v2
            out1[b] = ((out1[b] + b0 * v0) + b1 * v1) + b2 * v2
            out2[b] = ((out2[b] + c0 * v0) + c1 * v1) + c2 * v2
            out3[b] = ((out3[b] + d0 * v0) + d1 * v1) + d2 * v2
        k += 3
    for rest in range(k, k_in):
        row = rows[rest]
        a0, b0 = coefficients[rest, j], coefficients[rest, j + 1]
        c0, d0 = coefficients[rest, j + 2], coefficients[rest, j + 3]
        for b in range(n):
            v0 = row[b]
            out0[b] += a0 * v0
            out1[b] += b0 * v0
            out2[b] += c0 * v0
            out3[b] += d0 * v0


@njit_cached(inline="always")
def _mix_one(coefficients, start, rows, out, j, k_in, n):
    """Output j of :func:`_dense`, in the same order of sums as :func:`_mix_four`."""
    out0 = out[j]
    for b in range(n):
        out0[b] = start[j]
    k = 0
    while k + 8 <= k_in:
        in0, in1, in2, in3, in4, in5, in6, in7 = _eight_rows(rows, k)
        a0, a1, a2, a3, a4, a5, a6, a7 = _eight_coefficients(coefficients, k, j)
        for b in range(n):
            out0[b] += ((a0 * in0[b] + a1 * in1[b] + a2 * in2[b] + a3 * in3[b])
                        + (a4 * in4[b] + a5 * in5[b] + a6 * in6[b] + a7 * in7[b]))
        k += 8
    for rest in range(k, k_in):
        row, a0 = rows[rest], coefficients[rest, j]
        for b in range(n):
            out0[b] += a0 * row[b]


@njit_noalias
def _mix(coefficients, start, rows, out, first, stop, k_in, n):
    """Outputs first..stop-1 of :func:`_dense` (blocks of four, then one at a time), without
    the activation.

    ``noalias``: ``out`` shares no memory with ``coefficients``, ``start`` or ``rows`` (no
    caller passes a layer's input as its output, or a weight as a gradient; the tests
    against the naive network would catch one that did).
    """
    j = first
    while j + 4 <= stop:
        _mix_four(coefficients, start, rows, out, j, k_in, n)
        j += 4
    for rest in range(j, stop):
        _mix_one(coefficients, start, rows, out, rest, k_in, n)


@njit_cached(inline="always")
def _relu(z):
    return z if z > 0.0 else z - z  # z - z: 0, or NaN for a NaN


@njit_cached
def _finish(out, aux, first, stop, mode, n):
    """Apply ``mode`` to the first n columns of the finished rows first..stop-1 of ``out``.

    RELU_FORWARD / SILU_FORWARD: ``aux = act(out)`` (``aux`` may be ``out`` itself);
    RELU_BACKWARD / SILU_BACKWARD: ``out *= act'(z)`` where ``aux`` holds the forward pass's
    ReLU output (positive exactly where z > 0) or SiLU input z; LINEAR: nothing.
    """
    # A loop that reads one row and writes another vectorises behind a run-time check that
    # the two do not overlap; a row written in place fails that check and runs one value at
    # a time (ReLU of 64 x 512 values: 12 us instead of 1-3; SiLU: 411 instead of 72). So
    # the activation in place has loops of its own.
    in_place = out.ctypes.data == aux.ctypes.data
    for j in range(first, stop):
        z, h = out[j], aux[j]
        if mode == RELU_FORWARD and in_place:
            for b in range(n):
                z[b] = _relu(z[b])
        elif mode == RELU_FORWARD:
            for b in range(n):
                h[b] = _relu(z[b])
        elif mode == SILU_FORWARD and in_place:
            for b in range(n):
                z[b] = z[b] * _sigmoid(z[b])
        elif mode == SILU_FORWARD:
            for b in range(n):
                h[b] = z[b] * _sigmoid(z[b])
        elif mode == RELU_BACKWARD:
            for b in range(n):
                if not h[b] > 0.0:
                    z[b] = 0.0
        elif mode == SILU_BACKWARD:
            for b in range(n):
                sigmoid = _sigmoid(h[b])
                z[b] *= sigmoid * (1.0 + h[b] * (1.0 - sigmoid))


@njit_cached
def _dense(coefficients, start, rows, out, aux, mode, k_in, n):
    """out[j, :n] = start[j] + sum_{k < k_in} coefficients[k, j] rows[k, :n], then ``mode``.

    rows and out are feature-major. Blocked four outputs by eight inputs; each block of four
    finished rows gets its activation (or derivative, see :func:`_finish`) while it is hot.
    """
    k_out = coefficients.shape[1]
    j = 0
    while j + 4 <= k_out:
        _mix(coefficients, start, rows, out, j, j + 4, k_in, n)
        _finish(out, aux, j, j + 4, mode, n)
        j += 4
    if j < k_out:
        _mix(coefficients, start, rows, out, j, k_out, k_in, n)
        _finish(out, aux, j, k_out, mode, n)


@njit_cached(inline="always")
def _forward_mode(activation):
    return RELU_FORWARD if activation == RELU else SILU_FORWARD


@njit_cached
def forward(theta, n_in, width, depth, n_out, activation, inputs, pre, post, out, n):
    """Forward pass on the first n columns of inputs (n_in, >= n): fills post (depth, w, >= n)
    and out (n_out, >= n).

    ``pre`` receives the pre-activations for SiLU; for ReLU pass ``post`` as ``pre`` (the
    activation is applied in place and its derivative read from the output).
    """
    w_in, b_in, w_hidden, b_hidden, w_out, b_out = _layers(theta, n_in, width, depth, n_out)
    mode = _forward_mode(activation)
    _dense(w_in, b_in, inputs, pre[0], post[0], mode, n_in, n)
    for layer in range(1, depth):
        _dense(w_hidden[layer - 1], b_hidden[layer - 1], post[layer - 1], pre[layer], post[layer],
               mode, width, n)
    _dense(w_out, b_out, post[depth - 1], out, out, LINEAR, width, n)


@njit_cached
def _transpose(source, target, n):
    """target[:n] = source[:, :n].T, (k, >= n) -> (n, k), in tiles that stay in cache."""
    k = source.shape[0]
    for row in range(0, k, TRANSPOSE_TILE):
        for column in range(0, n, TRANSPOSE_TILE):
            for r in range(row, min(row + TRANSPOSE_TILE, k)):
                for c in range(column, min(column + TRANSPOSE_TILE, n)):
                    target[c, r] = source[r, c]


@njit_cached
def _weight_gradient(rows, delta, scratch, weight_gradient, bias_gradient, zeros, n):
    """weight_gradient[k, j] = sum_{b < n} rows[k, b] delta[j, b]; bias_gradient[j] = sum_b delta[j, b].

    Both sums run over the columns in increasing order. ``scratch`` is a flat buffer of at
    least n * k_out entries (it receives delta transposed, so that the product's inner loop
    runs over outputs); ``zeros`` a zero vector at least as long as ``rows``.
    """
    k_out = delta.shape[0]
    transposed = scratch[:n * k_out].reshape((n, k_out))
    _transpose(delta, transposed, n)
    _dense(rows.T, zeros, transposed, weight_gradient, weight_gradient, LINEAR, n, k_out)
    for j in range(k_out):
        bias_gradient[j] = zeros[0]
    for b in range(n):
        row = transposed[b]
        for j in range(k_out):
            bias_gradient[j] += row[j]


@njit_cached
def backward(theta, gradient, n_in, width, depth, n_out, activation, inputs, pre, post, out,
             delta, scratch, zeros, n):
    """Gradient of a loss w.r.t. the parameters (into ``gradient``), given dloss/dout in ``out``.

    ``pre`` and ``post`` are what :func:`forward` filled (the same array for ReLU); ``delta``
    (depth, w, >= n) is overwritten; only the first n columns count.
    """
    _, _, w_hidden, _, w_out, _ = _layers(theta, n_in, width, depth, n_out)
    g_in, gb_in, g_hidden, gb_hidden, g_out, gb_out = _layers(gradient, n_in, width, depth, n_out)
    back = RELU_BACKWARD if activation == RELU else SILU_BACKWARD
    _weight_gradient(post[depth - 1], out, scratch, g_out, gb_out, zeros, n)
    _dense(w_out.T, zeros, out, delta[depth - 1], pre[depth - 1], back, n_out, n)
    for layer in range(depth - 1, 0, -1):
        _weight_gradient(post[layer - 1], delta[layer], scratch, g_hidden[layer - 1],
                         gb_hidden[layer - 1], zeros, n)
        _dense(w_hidden[layer - 1].T, zeros, delta[layer], delta[layer - 1], pre[layer - 1], back,
               width, n)
    _weight_gradient(inputs, delta[0], scratch, g_in, gb_in, zeros, n)


@njit_cached
def iadb_loss_gradient(out, velocity, n, total):
    """Sum over the first n columns of ``||out_b - velocity_b||^2``; overwrites ``out`` with
    the gradient of the mean over ``total`` columns."""
    loss = 0.0
    for c in range(out.shape[0]):
        for b in range(n):
            residual = out[c, b] - velocity[c, b]
            loss += residual * residual
            out[c, b] = 2.0 * residual / total
    return loss


@njit_cached
def cross_entropy_gradient(out, labels, n, total):
    """Sum of the cross-entropies of softmax(out[:, b]) against ``labels`` (n columns);
    overwrites ``out`` with the gradient of the mean over ``total`` columns."""
    classes = out.shape[0]
    loss = 0.0
    for b in range(n):
        peak = out[0, b]
        for c in range(1, classes):
            peak = max(peak, out[c, b])
        total_weight = 0.0
        for c in range(classes):
            out[c, b] = _exp_nonpositive(out[c, b] - peak)
            total_weight += out[c, b]
        loss -= math.log(max(out[labels[b], b] / total_weight, 1e-300))
        for c in range(classes):
            out[c, b] = (out[c, b] / total_weight - (1.0 if c == labels[b] else 0.0)) / total
    return loss


@njit_cached
def adam_update(theta, gradient, m, v, step, lr, beta1, beta2, eps):
    """One Adam step (PyTorch's formulation, no weight decay), ``step`` counted from 1."""
    correction1 = 1.0 - beta1 ** step
    root_correction2 = math.sqrt(1.0 - beta2 ** step)
    step_size = lr / correction1
    for k in range(theta.size):
        _adam_element(theta, m, v, k, gradient[k], step_size, root_correction2, beta1, beta2, eps)


@njit_cached(inline="always")
def _adam_element(theta, m, v, k, g, step_size, root_correction2, beta1, beta2, eps):
    """Adam's update of parameter ``k`` with gradient ``g`` (the bias corrections folded into
    ``step_size`` and ``root_correction2``)."""
    m[k] = beta1 * m[k] + (1.0 - beta1) * g
    v[k] = beta2 * v[k] + (1.0 - beta2) * g * g
    theta[k] -= step_size * m[k] / (math.sqrt(v[k]) / root_correction2 + eps)


@njit_cached
def blend_inputs(source, target, alpha, slots, first, n, inputs, velocity):
    """Feature-major network inputs of minibatch columns first..first+n-1 (into columns 0..n-1):
    the blend x_alpha, alpha, then the one-hot class slot (no rows when ``slots`` is empty);
    ``velocity`` (d, >= n) receives ``x1 - x0``."""
    d = source.shape[1]
    for b in range(n):
        a = alpha[first + b]
        for c in range(d):
            inputs[c, b] = (1.0 - a) * source[first + b, c] + a * target[first + b, c]
            velocity[c, b] = target[first + b, c] - source[first + b, c]
        inputs[d, b] = a
    class_rows(slots, first, n, d, inputs)


@njit_cached
def class_rows(slots, first, n, d, inputs):
    """The one-hot class rows (after the d coordinates and alpha) of columns first..first+n-1,
    into columns 0..n-1; nothing when ``slots`` is empty (an unconditional network)."""
    if slots.shape[0] == 0:
        return
    for row in range(d + 1, inputs.shape[0]):
        for b in range(n):
            inputs[row, b] = 0.0
    for b in range(n):
        inputs[d + 1 + slots[first + b], b] = 1.0


@njit_cached(inline="always")
def _tile_pass(theta, gradient, n_in, width, depth, activation, source, target, alpha, slots,
               first, n, batch, inputs, velocity, pre, post, out, delta, scratch, zeros):
    """One tile of a training step: minibatch columns first..first+n-1 blended, forward, the
    IADB loss, backward into ``gradient``; returns the tile's summed loss."""
    n_out = source.shape[1]
    blend_inputs(source, target, alpha, slots, first, n, inputs, velocity)
    forward(theta, n_in, width, depth, n_out, activation, inputs, pre, post, out, n)
    loss = iadb_loss_gradient(out, velocity, n, batch)
    backward(theta, gradient, n_in, width, depth, n_out, activation, inputs, pre, post, out,
             delta, scratch, zeros, n)
    return loss


@njit_parallel
def train_steps(theta, m, v, step_counter, n_in, width, depth, activation, lr, beta1, beta2,
                eps, source, target, alpha, slots, losses, gradient, gradients, tile_losses,
                inputs, velocity, pre, post, out, delta, scratch, zeros):
    """Adam steps of the IADB loss on minibatches ``x_alpha = (1-alpha) x0 + alpha x1``.

    ``source`` and ``target`` are (steps, batch, d), ``alpha`` (steps, batch), ``slots``
    (steps, batch) class slots or (steps, 0): one minibatch per step, drawn by the caller.
    The minibatch is cut into ``inputs.shape[0]`` tiles of at most ``inputs.shape[2]``
    columns, computed in parallel, each into its own row of ``gradients``; the tiles' losses
    and gradients are then summed in tile order. ``losses[t]`` receives step t's
    (pre-update) loss; ``step_counter`` (int64, 1) counts Adam steps across calls. Stops
    before updating if the loss is not finite; returns the number of completed steps.
    """
    steps, batch = alpha.shape
    tiles, tile = inputs.shape[0], inputs.shape[2]
    for t in range(steps):
        for index in prange(tiles):
            first = index * tile
            n = min(batch, first + tile) - first
            if n == TILE:
                # a full tile compiled with its width as a constant: the passes' loops then
                # have a known length (7-17% faster on one core, 9-21% on two)
                tile_losses[index] = _tile_pass(theta, gradients[index], n_in, width, depth,
                                                activation, source[t], target[t], alpha[t],
                                                slots[t], first, TILE, batch, inputs[index],
                                                velocity[index], pre[index], post[index],
                                                out[index], delta[index], scratch[index], zeros)
            else:
                tile_losses[index] = _tile_pass(theta, gradients[index], n_in, width, depth,
                                                activation, source[t], target[t], alpha[t],
                                                slots[t], first, n, batch, inputs[index],
                                                velocity[index], pre[index], post[index],
                                                out[index], delta[index], scratch[index], zeros)
        loss = 0.0
        for index in range(tiles):
            loss += tile_losses[index]
        losses[t] = loss / batch
        if not math.isfinite(losses[t]):
            return t
        step_counter[0] += 1
        correction1 = 1.0 - beta1 ** step_counter[0]
        root_correction2 = math.sqrt(1.0 - beta2 ** step_counter[0])
        # the tile sum and Adam are elementwise: split over threads by parameter blocks, each
        # element computed in the same order whatever the thread count (same bits)
        for block in prange((theta.size + ADAM_BLOCK - 1) // ADAM_BLOCK):
            a, z = block * ADAM_BLOCK, min(theta.size, (block + 1) * ADAM_BLOCK)
            _sum_tiles_and_adam(theta[a:z], gradients[:, a:z], gradient[a:z], m[a:z], v[a:z],
                                lr / correction1, root_correction2, beta1, beta2, eps)
    return steps


@njit_cached(inline="always")
def _sum_tiles_and_adam(theta, gradients, gradient, m, v, step_size, root_correction2, beta1,
                        beta2, eps):
    """``gradient = sum of the tiles' gradients`` (in tile order), then :func:`adam_update`'s
    step, on one block of parameters (views: the caller slices every array).

    One pass per tile, then one for Adam: every loop is innermost and elementwise, so it
    vectorises (a loop over tiles inside the loop over parameters kept the whole update
    scalar, about 1 ms a step for the digits network); the order of each sum is unchanged.
    The loops run over ``range(size)`` of views, not ``range(start, stop)`` of the whole
    arrays: an index that numba cannot prove non-negative gets a wraparound test on every
    access, and the loop no longer vectorises (this update took 0.8 ms a step instead of
    0.25 on one core).
    """
    size = theta.size
    for k in range(size):
        gradient[k] = gradients[0, k]
    for tile in range(1, gradients.shape[0]):
        for k in range(size):
            gradient[k] += gradients[tile, k]
    for k in range(size):
        _adam_element(theta, m, v, k, gradient[k], step_size, root_correction2, beta1, beta2,
                      eps)


@njit_cached
def classifier_steps(theta, m, v, step_counter, width, depth, activation, lr, beta1, beta2, eps,
                     points, labels, picks, losses, gradient, inputs, pre, post, out, delta,
                     scratch, zeros):
    """Adam steps of the cross-entropy loss; minibatch t is ``points[picks[t]]`` (one tile)."""
    steps, batch = picks.shape
    n_in = points.shape[1]
    n_out = out.shape[0]
    chosen = np.empty(batch, np.int64)
    for t in range(steps):
        for b in range(batch):
            row = picks[t, b]
            chosen[b] = labels[row]
            for c in range(n_in):
                inputs[c, b] = points[row, c]
        forward(theta, n_in, width, depth, n_out, activation, inputs, pre, post, out, batch)
        losses[t] = cross_entropy_gradient(out, chosen, batch, batch) / batch
        if not math.isfinite(losses[t]):
            return t
        backward(theta, gradient, n_in, width, depth, n_out, activation, inputs, pre, post, out,
                 delta, scratch, zeros, batch)
        step_counter[0] += 1
        adam_update(theta, gradient, m, v, step_counter[0], lr, beta1, beta2, eps)
    return steps
