"""Compiled kernels of the trainability scan: arrays in, arrays out, no Python objects.

One pixel = one gradient-descent run of the two-layer mean-field network
``f = act(X W1 / sqrt(d)) W2 / w`` on the mean squared error, from the same initial weights.
Pixels train in groups of LANES side by side (see ``_lanes``); groups run in parallel
(``prange``). A pixel's value depends only on its own hyperparameters: never on its lane,
its group, the thread count or where the buffers lie, so tiles of a scan are bit-identical
to the whole scan.

The lane count is read from the shapes of the arrays, never from ``_lanes.LANES`` as a
constant: numba's cache does not notice a change in another module, so a constant frozen in
here from there could silently disagree with the building blocks.
"""

import math

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel
from explorer.fractal._lanes import (IDENTITY, LANES, RELU, TANH, activate,  # noqa: F401
                                     activate_products,
                                     backward_rows, forward_rows, output_gradients, spread_lanes,
                                     step_rank_one, sum_hidden_units)

LR_VS_LR, PARAMINIT_VS_LR = 0, 1
LOSS_ONLY, ACCUMULATE, STEP_AT_ONCE = 0, 1, 2  # what a pass over samples does with gradients
NONFINITE_LOSS = 1e6  # the paper's stand-in for a non-finite loss, and its clip value
SAMPLE_BLOCK = 8  # samples whose hidden rows are kept together between the two layers
_TAIL = 20  # the measure averages the last 20 normalised losses
_FLOAT64_MAX = 1.7976931348623157e308
# rows of the per-lane measure state
_FIRST, _TOTAL, _INVERSE, _TAIL_SUM = 0, 1, 2, 3


@njit_cached
def _measure_step(state, p, t, steps, loss):
    """Fold step t's loss (non-finite already replaced) into lane p's running measure."""
    if t == 0:
        state[_FIRST, p] = loss
    first = state[_FIRST, p]
    if first > 0.0:
        v = min(loss / first, NONFINITE_LOSS)
    else:
        v = 0.0 if loss == 0.0 else NONFINITE_LOSS
    state[_TOTAL, p] += v
    state[_INVERSE, p] += 1.0 / v
    if t >= steps - _TAIL:
        state[_TAIL_SUM, p] += v


@njit_cached
def _measure_value(state, p):
    """The paper's pixel value: -sum(v) if mean(v[-20:]) < 1 (converged), else sum(1/v)."""
    if state[_TAIL_SUM, p] / _TAIL < 1.0:
        return -state[_TOTAL, p]
    return min(state[_INVERSE, p], _FLOAT64_MAX)


@njit_cached
def _convergence_measure(losses):
    """The paper's pixel value from a loss trajectory (non-finite entries already replaced).

    v /= v[0]; clip at 1e6; converged if mean(v[-20:]) < 1; then -sum(v) if converged else
    sum(1/v). A zero initial loss (a perfect fit from the start) counts as converged. The
    same arithmetic as the scan's running measure, so both give the same bits.
    """
    state = np.zeros((4, 1))
    for t in range(losses.size):
        _measure_step(state, 0, t, losses.size, losses[t])
    return _measure_value(state, 0)


@njit_cached
def _fold_losses(lane_loss, n, alive, state, t, steps, losses):
    """Fold step t's summed squared residuals into every lane's measure (and ``losses``).

    A lane whose loss turned non-finite is diverged for good and counts 1e6 from then on.
    Returns False when no lane is left alive: the later steps are then folded in too (each
    adds the same 1e6), so the caller can stop training.
    """
    record = losses.shape[0] == steps
    living = 0
    for p in range(lane_loss.size):
        value = lane_loss[p] / n
        if not (alive[p] and math.isfinite(value)):
            alive[p] = False
            value = NONFINITE_LOSS
        living += alive[p]
        _measure_step(state, p, t, steps, value)
        if record:
            losses[t, p] = value
    if living > 0:
        return True
    for later in range(t + 1, steps):
        for p in range(lane_loss.size):
            _measure_step(state, p, later, steps, NONFINITE_LOSS)
            if record:
                losses[later, p] = NONFINITE_LOSS
    return False


@njit_cached
def _samples_pass(X, Y, rows, W1, W2_rows, block, flat, lane_loss, nonlinearity, grad_scale, G1,
                  G2, mode, step_input, control):
    """Forward the samples ``rows`` in blocks; add each lane's squared residuals to lane_loss.

    ``block`` holds five (SAMPLE_BLOCK, m) buffers: pre-activations, activations, W2 times
    activations (then the lane sums), slopes (then errors) and the tiled output errors;
    ``flat`` is the same memory as (5, SAMPLE_BLOCK * m), and ``W2_rows`` W2 once per row of
    a block, flat, so that one loop activates a whole block. ``mode`` LOSS_ONLY (the full-batch
    loss of a minibatch step) computes the products W2 act alone, since the loss needs nothing
    else (a third of the stores; 8% faster minibatch scans). ACCUMULATE also adds the
    gradients of the loss (the input layer's up to the GRADIENT_FACTOR folded into its step)
    to G1 and G2; STEP_AT_ONCE (one sample) adds to G2 and steps W1 right away. Returns False
    when ``control[0]`` asks to stop.
    """
    lanes = lane_loss.size
    _, block_size, m = block.shape
    inverse_width = lanes / m
    total = rows.size
    for start in range(0, total, block_size):
        if control[0] != 0:
            return False
        count = min(block_size, total - start)
        samples = rows[start:start + count]
        forward_rows(X, samples, count, W1, block[0])
        if mode == LOSS_ONLY:
            activate_products(flat[0], count * m, W2_rows, flat[2], nonlinearity)
        else:
            activate(flat[0], count * m, W2_rows, flat[1], flat[2], flat[3], nonlinearity)
        for b in range(count):
            sum_hidden_units(block[2], b)
            y = Y[samples[b]]
            for p in range(lanes):
                residual = block[2, b, p] * inverse_width - y
                lane_loss[p] += residual * residual
                block[4, b, p] = grad_scale * residual
            if mode != LOSS_ONLY:
                spread_lanes(block[4], b)
        if mode != LOSS_ONLY:
            output_gradients(block[1], block[4], count, G2, block[3])
            if mode == STEP_AT_ONCE:
                step_rank_one(W1, step_input, X, samples[0], block[3])
            else:
                backward_rows(X, samples, count, block[3], G1)
    return True


@njit_cached
def _lane_start(W1_init, W2_init, hyper):
    """The lanes' starting state, unit-major (entry j * lanes + p is unit j of lane p).

    Returns W1 (d, w * lanes) and W2, input-layer step, output-layer step and input-weight
    offset, each (w * lanes,): the shared weights copied per lane, the hyperparameters per unit.
    """
    d, w = W1_init.shape
    lanes = hyper.shape[1]
    m = w * lanes
    W1 = np.empty((d, m))
    W2 = np.empty(m)
    step_input = np.empty(m)
    step_output = np.empty(m)
    offset = np.empty(m)
    for j in range(w):
        for p in range(lanes):
            q = j * lanes + p
            for k in range(d):
                W1[k, q] = W1_init[k, j]
            W2[q] = W2_init[j]
            step_input[q] = hyper[0, p]
            step_output[q] = hyper[1, p]
            offset[q] = hyper[2, p]
    return W1, W2, step_input, step_output, offset


@njit_cached
def _train_single_point(x, y, W1_init, W2_init, hyper, offset_every_step, steps, nonlinearity,
                        control, losses, measure):
    """``_train_group`` for a data set of one point ``x`` (d,): w numbers per lane, not d w.

    Every gradient of the input layer is x times a vector (x^T delta), so the input weights
    stay W1(0) + x c^T for some c and the network only ever sees its pre-activations
    u = x W1, which one step changes by -step |x|^2 delta (and the drifting offset by
    +offset sum(x)). Training follows u directly: O(w) work per step and lane instead of
    O(d w), the same arithmetic otherwise (activations, lane sums, measure). Minibatches of
    one point are that point every time, and their mean gradient is its gradient.
    """
    d, w = W1_init.shape
    lanes = hyper.shape[1]
    W1, W2, step_input, step_output, offset = _lane_start(W1_init, W2_init, hyper)
    m = W2.size
    x_sum = 0.0
    x_norm2 = 0.0
    for k in range(d):
        x_sum += x[k]
        x_norm2 += x[k] * x[k]
    block = np.empty((5, 1, m))  # pre-activations, activations, W2 act, slopes, output errors
    U, H, P, S, E = block[0], block[1], block[2], block[3], block[4]
    drift = np.zeros(m)
    for q in range(m):
        u = 0.0
        for k in range(d):
            u += x[k] * W1[k, q]
        shift = offset[q] * x_sum
        U[0, q] = u if offset_every_step else u + shift
        if offset_every_step:
            drift[q] = shift
        step_input[q] *= x_norm2
    lane_loss = np.empty(lanes)
    alive = np.ones(lanes, np.bool_)
    state = np.zeros((4, lanes))
    grad_scale = 2.0 / w
    inverse_width = 1.0 / w
    for t in range(steps):
        if control[0] != 0:
            return False
        for q in range(m):
            U[0, q] += drift[q]
        activate(U[0], m, W2, H[0], P[0], S[0], nonlinearity)
        sum_hidden_units(P, 0)
        for p in range(lanes):
            residual = P[0, p] * inverse_width - y
            lane_loss[p] = residual * residual
            E[0, p] = grad_scale * residual
        if not _fold_losses(lane_loss, 1, alive, state, t, steps, losses):
            break
        spread_lanes(E, 0)
        for q in range(m):
            U[0, q] -= step_input[q] * (S[0, q] * E[0, q])
            W2[q] -= step_output[q] * (E[0, q] * H[0, q])
    for p in range(lanes):
        measure[p] = _measure_value(state, p)
    return True


@njit_cached
def _train_group(X, Y, W1_init, W2_init, hyper, offset_every_step, steps, nonlinearity, batches,
                 control, losses, measure):
    """Gradient descent of ``lanes`` networks that differ only in their hyperparameters.

    X (n, d) holds the inputs times INPUT_SCALE[nonlinearity] / sqrt(d); hyper (3, lanes) the
    input-layer step (learning rate times GRADIENT_FACTOR[nonlinearity]), output-layer
    learning rate and input-weight offset of each lane; batches (steps, minibatch) the sample
    indices of each step's gradient (minibatch 0: full batch). Writes each lane's measure into
    ``measure`` and, when ``losses`` has ``steps`` rows, the loss before every step. Returns
    False if ``control[0]`` became nonzero (a stop request) before the end. A lane whose loss
    turned non-finite is diverged for good (its weights are then non-finite): its later
    losses count as 1e6.
    """
    n, d = X.shape
    if n == 1:  # every batch is the one point, whatever the minibatch size
        return _train_single_point(X[0], Y[0], W1_init, W2_init, hyper, offset_every_step,
                                   steps, nonlinearity, control, losses, measure)
    w = W1_init.shape[1]
    lanes = hyper.shape[1]
    W1, W2, step_input, step_output, offset = _lane_start(W1_init, W2_init, hyper)
    m = W2.size
    if not offset_every_step:
        for k in range(d):
            for q in range(m):
                W1[k, q] += offset[q]
    G1 = np.empty((d, m))
    G2 = np.empty(m)
    block = np.empty((5, SAMPLE_BLOCK, m))
    flat = block.reshape((5, SAMPLE_BLOCK * m))
    W2_rows = np.empty(SAMPLE_BLOCK * m)
    lane_loss = np.empty(lanes)
    batch_loss = np.empty(lanes)
    alive = np.ones(lanes, np.bool_)
    state = np.zeros((4, lanes))
    all_rows = np.arange(n)
    minibatch = batches.shape[1]
    gradient_samples = minibatch if minibatch > 0 else n
    grad_scale = 2.0 / (w * gradient_samples)
    mode = STEP_AT_ONCE if gradient_samples == 1 else ACCUMULATE
    used_rows = min(SAMPLE_BLOCK, max(n, minibatch))
    for t in range(steps):
        if offset_every_step:
            for k in range(d):
                for q in range(m):
                    W1[k, q] += offset[q]
        if mode == ACCUMULATE:
            G1[:] = 0.0
        G2[:] = 0.0
        lane_loss[:] = 0.0
        for b in range(used_rows):
            W2_rows[b * m:(b + 1) * m] = W2
        if not _samples_pass(X, Y, all_rows, W1, W2_rows, block, flat, lane_loss, nonlinearity,
                             grad_scale, G1, G2, mode if minibatch == 0 else LOSS_ONLY,
                             step_input, control):
            return False
        if minibatch > 0 and not _samples_pass(X, Y, batches[t], W1, W2_rows, block, flat,
                                               batch_loss, nonlinearity, grad_scale, G1, G2,
                                               mode, step_input, control):
            return False
        if not _fold_losses(lane_loss, n, alive, state, t, steps, losses):
            break
        if mode == ACCUMULATE:
            for k in range(d):
                for q in range(m):
                    W1[k, q] -= step_input[q] * G1[k, q]
        for q in range(m):
            W2[q] -= step_output[q] * G2[q]
    for p in range(lanes):
        measure[p] = _measure_value(state, p)
    return True


@njit_parallel
def _scan_kernel(X, Y, W1, W2, hyper, offset_every_step, steps, nonlinearity, batches, order,
                 control, measure, finished):
    """Train every group of pixels: hyper (groups, 3, lanes) -> measure (groups, lanes).

    Groups run in the given ``order`` (prange hands each thread a contiguous run of it, so a
    spread-out order balances quick divergent groups against slow convergent ones).
    ``finished[g]`` becomes 1 when group g is done; ``control[0] != 0`` stops every group
    within one block of samples.
    """
    no_losses = np.empty((0, hyper.shape[2]))
    for index in prange(order.size):
        g = order[index]
        if _train_group(X, Y, W1, W2, hyper[g], offset_every_step, steps, nonlinearity,
                        batches, control, no_losses, measure[g]):
            finished[g] = 1


@njit_cached
def _loss_trajectory(X, Y, W1, W2, hyper, offset_every_step, steps, nonlinearity, batches):
    """Losses before every step of one group, shape (steps, lanes), and its measures."""
    losses = np.empty((steps, hyper.shape[1]))
    measure = np.empty(hyper.shape[1])
    _train_group(X, Y, W1, W2, hyper, offset_every_step, steps, nonlinearity, batches,
                 np.zeros(1, np.int64), losses, measure)
    return losses, measure
