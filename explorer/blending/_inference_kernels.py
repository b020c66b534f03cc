"""Compiled inference of the MLPs: the deblender's velocity, the fused samplers, classifier outputs.

Points are processed in independent blocks (``prange`` over blocks). Inside a block the
forward pass keeps only two feature-major buffers (ping-pong, activation in place) and uses
the blocked products of ``_network_kernels``; the fused sampler runs *every* step of a block
of points before moving on, so the block's activations stay in cache and Python is not
entered once per step. A point's result depends on nothing else in its block: the same bits
for any block size and any number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel
from explorer.blending._network_kernels import (LINEAR, RELU, RELU_FORWARD, SILU_FORWARD, _dense,
                                                 _layers, class_rows)

EULER, MIDPOINT, HEUN = 0, 1, 2
# stage of a step at which a sampler's block failed: first evaluation, second, the update
FIRST, SECOND, UPDATE = 0, 1, 2


@njit_cached
def _infer(theta, n_in, width, depth, n_out, activation, inputs, first, second, out):
    """Forward pass keeping nothing: ``out`` (n_out, n) from ``inputs`` (n_in, n).

    Returns the buffer holding the last hidden layer (the classifier's features).
    """
    w_in, b_in, w_hidden, b_hidden, w_out, b_out = _layers(theta, n_in, width, depth, n_out)
    mode = RELU_FORWARD if activation == RELU else SILU_FORWARD
    n = inputs.shape[1]
    _dense(w_in, b_in, inputs, first, first, mode, n_in, n)
    current, other = first, second
    for layer in range(1, depth):
        _dense(w_hidden[layer - 1], b_hidden[layer - 1], current, other, other, mode, width, n)
        current, other = other, current
    _dense(w_out, b_out, current, out, out, LINEAR, width, n)
    return current


@njit_cached
def _block(theta, x, alpha, slots, chunk, block, n_in, width, n_out):
    """Block ``chunk`` of the points: (first, size, inputs, two hidden buffers, outputs).

    The inputs are feature-major in the dtype of ``theta``: x, then alpha (if any), then the
    one-hot class rows (if any).
    """
    n, d = x.shape
    first = chunk * block
    size = min(n, first + block) - first
    inputs = np.empty((n_in, size), theta.dtype)
    for b in range(size):
        for k in range(d):
            inputs[k, b] = x[first + b, k]
    if alpha.shape[0]:
        for b in range(size):
            inputs[d, b] = alpha[first + b]
    class_rows(slots, first, size, d, inputs)
    return first, size, inputs, np.empty((2, width, size), theta.dtype), np.empty((n_out, size), theta.dtype)


@njit_parallel
def network_velocity(theta, n_in, width, depth, activation, x, alpha, slots, block):
    """D(x, alpha[, class]) for every point, parallel over blocks of points: (n, d) float64."""
    n, d = x.shape
    result = np.empty((n, d))
    for chunk in prange((n + block - 1) // block):
        first, size, inputs, buffers, out = _block(theta, x, alpha, slots, chunk, block, n_in, width, d)
        _infer(theta, n_in, width, depth, d, activation, inputs, buffers[0], buffers[1], out)
        for b in range(size):
            for k in range(d):
                result[first + b, k] = out[k, b]
    return result


@njit_cached
def _velocity(theta, n_in, width, depth, activation, state, alpha, inputs, buffers, out, velocity):
    """velocity = D(state, alpha) for a block (feature-major, float64); False if not finite."""
    d, size = state.shape
    for k in range(d):
        for b in range(size):
            inputs[k, b] = state[k, b]
    for b in range(size):
        inputs[d, b] = alpha
    _infer(theta, n_in, width, depth, d, activation, inputs, buffers[0], buffers[1], out)
    finite = True
    for k in range(d):
        for b in range(size):
            velocity[k, b] = out[k, b]
            finite &= math.isfinite(velocity[k, b])
    return finite


@njit_parallel
def integrate(theta, n_in, width, depth, activation, points, slots, alphas, method, block):
    """Sample with the network: carry ``points[0]`` through the levels ``alphas`` (L+1,).

    Fills ``points[1:]`` (L+1, n, d) by Euler, midpoint or Heun steps (the rules of
    ``samplers``; Heun's step onto alpha = 1 is an Euler step), every step of a block of
    points before the next block. A block whose velocity or points stop being finite stops
    there. Returns, per block, ``3 t + stage`` of its failure (stage FIRST, SECOND or UPDATE
    of step t), or -1.
    """
    steps = alphas.shape[0] - 1
    n, d = points.shape[1], points.shape[2]
    blocks = (n + block - 1) // block
    failures = np.full(blocks, -1, np.int64)
    for chunk in prange(blocks):
        first = chunk * block
        size = min(n, first + block) - first
        inputs = np.empty((n_in, size), theta.dtype)
        class_rows(slots, first, size, d, inputs)
        buffers = np.empty((2, width, size), theta.dtype)
        out = np.empty((d, size), theta.dtype)
        state, probe = np.empty((d, size)), np.empty((d, size))
        velocity, second = np.empty((d, size)), np.empty((d, size))
        for b in range(size):
            for k in range(d):
                state[k, b] = points[0, first + b, k]
        for t in range(steps):
            alpha, following = alphas[t], alphas[t + 1]
            h = following - alpha
            if not _velocity(theta, n_in, width, depth, activation, state, alpha, inputs, buffers,
                             out, velocity):
                failures[chunk] = 3 * t + FIRST
                break
            if method == EULER or (method == HEUN and following == 1.0):
                for k in range(d):
                    for b in range(size):
                        state[k, b] = state[k, b] + h * velocity[k, b]
            else:
                if method == MIDPOINT:
                    shift, level = 0.5 * h, alpha + 0.5 * h
                else:
                    shift, level = h, following
                for k in range(d):
                    for b in range(size):
                        probe[k, b] = state[k, b] + shift * velocity[k, b]
                if not _velocity(theta, n_in, width, depth, activation, probe, level, inputs,
                                 buffers, out, second):
                    failures[chunk] = 3 * t + SECOND
                    break
                half = 0.5 * h
                for k in range(d):
                    for b in range(size):
                        if method == MIDPOINT:
                            state[k, b] = state[k, b] + h * second[k, b]
                        else:
                            state[k, b] = state[k, b] + half * (velocity[k, b] + second[k, b])
            finite = True
            for k in range(d):
                for b in range(size):
                    finite &= math.isfinite(state[k, b])
            if not finite:
                failures[chunk] = 3 * t + UPDATE
                break
            for b in range(size):
                for k in range(d):
                    points[t + 1, first + b, k] = state[k, b]
    return failures


@njit_parallel
def classifier_outputs(theta, width, depth, classes, activation, x, block):
    """Logits (n, classes) and penultimate-layer features (n, width) of a classifier MLP."""
    n, n_in = x.shape
    logits = np.empty((n, classes))
    features = np.empty((n, width))
    no_alpha, no_slots = np.empty(0), np.empty(0, np.int64)
    for chunk in prange((n + block - 1) // block):
        first, size, inputs, buffers, out = _block(theta, x, no_alpha, no_slots, chunk, block, n_in,
                                                   width, classes)
        hidden = _infer(theta, n_in, width, depth, classes, activation, inputs, buffers[0],
                        buffers[1], out)
        for b in range(size):
            for j in range(width):
                features[first + b, j] = hidden[j, b]
            for c in range(classes):
                logits[first + b, c] = out[c, b]
    return logits, features
