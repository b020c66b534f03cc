"""Compiled kernels of the decoder-only transformer on the three tokens ``a b =``.

The model of Nanda et al. (2023), without LayerNorm: token and position embeddings, ``layers``
blocks of causal multi-head attention then an MLP (each added to the residual stream), and an
unembedding read at the last position ("="). Rows are vectors: ``q = x @ W_Q``.

All weights live in one flat buffer ``theta``; ``offsets`` (int64) says where each matrix
starts: ``[embed (p+1, d), pos (3, d)]``, then per layer ``[qkv (d, 3d), out (d, d),
w_in (d, m), b_in (m,), w_out (m, d), b_out (d,)]``, then ``unembed (d, p)`` and the end.
The columns of ``qkv`` are the queries, keys and values, each head-major (head h owns columns
``h * dh : (h + 1) * dh`` of its third).

Two shortcuts that change no number a plain implementation would compute (up to rounding):

- Layer 0's input at position t is ``embed[token] + pos[t]``, so its queries, keys and values
  are rows of a small table ``(embed + pos) @ W_qkv`` over the 2p + 1 (position, token) pairs
  that occur, gathered per example; the table's gradient is scattered back the same way.
- Only the last position feeds the logits, so the last block computes its query, attention
  and MLP at that position alone (keys and values still come from all three).

Parallelism and bit-identity follow :mod:`explorer.grokking._kernels`: ``LANES`` fixed parts
of a batch, each summed in block order, then added in lane order.
"""

import math

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel
from explorer.grokking._kernels import (LANES, QUADRATIC, _activate, _lane_rows,
                                        _mean_loss_and_accuracy, _row_losses, _sum_lanes,
                                        _update)

POSITIONS = 3  # a, b, "="


@njit_cached(inline="always")
def _matrix(theta, offset, rows, cols):
    return theta[offset:offset + rows * cols].reshape((rows, cols))


@njit_cached(inline="always")
def _layer_offsets(offsets, layer):
    """(qkv, out, w_in, b_in, w_out, b_out) offsets of one block."""
    base = 2 + 6 * layer
    return (offsets[base], offsets[base + 1], offsets[base + 2], offsets[base + 3],
            offsets[base + 4], offsets[base + 5])


@njit_cached
def _gemm_add(left, right, out, tmp):
    """out += left @ right, through the flat scratch buffer ``tmp``."""
    product = tmp[:out.size].reshape(out.shape)
    np.dot(left, right, product)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] += product[i, j]


@njit_cached
def _column_sums_add(rows, out):
    """out += rows.sum(axis=0), summed in row order."""
    for i in range(rows.shape[0]):
        for c in range(rows.shape[1]):
            out[c] += rows[i, c]


@njit_cached
def _embedding_tables(theta, offsets, p, d, x_tab, qkv_tab):
    """Layer 0's inputs ``embed[token] + pos[t]`` for rows a (0..p-1), p + b and 2p ("="),
    and their queries, keys and values ``x_tab @ W_qkv``."""
    embed = _matrix(theta, offsets[0], p + 1, d)
    pos = _matrix(theta, offsets[1], POSITIONS, d)
    for r in range(p):
        for c in range(d):
            x_tab[r, c] = embed[r, c] + pos[0, c]
            x_tab[p + r, c] = embed[r, c] + pos[1, c]
    for c in range(d):
        x_tab[2 * p, c] = embed[p, c] + pos[2, c]
    np.dot(x_tab, _matrix(theta, _layer_offsets(offsets, 0)[0], d, 3 * d), qkv_tab)


@njit_cached(inline="always")
def _table_row(a, b, i, t, p):
    if t == 0:
        return a[i]
    if t == 1:
        return p + b[i]
    return 2 * p


@njit_cached
def _attend(qkv, t, n, heads, probs, z):
    """Causal attention of query position t over keys 0..t, per head: probs (n, heads, 3)
    and the mixed values z (n, d)."""
    d = z.shape[1]
    width = d // heads
    scale = 1.0 / math.sqrt(width)
    for i in range(n):
        for h in range(heads):
            lo = h * width
            peak = -math.inf
            for j in range(t + 1):
                score = 0.0
                for c in range(lo, lo + width):
                    score += qkv[t, i, c] * qkv[j, i, d + c]
                probs[i, h, j] = score * scale
                peak = max(peak, probs[i, h, j])
            total = 0.0
            for j in range(t + 1):
                probs[i, h, j] = math.exp(probs[i, h, j] - peak)
                total += probs[i, h, j]
            for j in range(t + 1):
                probs[i, h, j] /= total
            for c in range(lo, lo + width):
                mixed = 0.0
                for j in range(t + 1):
                    mixed += probs[i, h, j] * qkv[j, i, 2 * d + c]
                z[i, c] = mixed


@njit_cached
def _attend_backward(qkv, probs, dz, t, n, heads, dqkv):
    """Adds the gradients of the query (position t), keys and values (0..t) to dqkv."""
    d = dz.shape[1]
    width = d // heads
    scale = 1.0 / math.sqrt(width)
    dscore = np.empty(POSITIONS)
    for i in range(n):
        for h in range(heads):
            lo = h * width
            weighted = 0.0
            for j in range(t + 1):
                dprob = 0.0
                for c in range(lo, lo + width):
                    dprob += dz[i, c] * qkv[j, i, 2 * d + c]
                    dqkv[j, i, 2 * d + c] += probs[i, h, j] * dz[i, c]
                dscore[j] = dprob
                weighted += probs[i, h, j] * dprob
            for j in range(t + 1):
                dscore[j] = probs[i, h, j] * (dscore[j] - weighted) * scale
                for c in range(lo, lo + width):
                    dqkv[t, i, c] += dscore[j] * qkv[j, i, d + c]
                    dqkv[j, i, d + c] += dscore[j] * qkv[t, i, c]


@njit_cached
def _forward(theta, offsets, p, heads, d_mlp, layers, activation, a, b, x_tab, qkv_tab, resid,
             mid, qkv, z, probs, pre, act, logits):
    """Forward pass of one block of rows; ``logits[:n]`` (n, p) holds the result."""
    n, d = a.shape[0], x_tab.shape[1]
    for i in range(n):
        for t in range(POSITIONS):
            row = _table_row(a, b, i, t, p)
            resid[0, t, i] = x_tab[row]
            qkv[0, t, i] = qkv_tab[row]
    for layer in range(layers):
        at_qkv, at_out, at_in, at_bias_in, at_w_out, at_bias_out = _layer_offsets(offsets, layer)
        if layer > 0:
            for t in range(POSITIONS):
                np.dot(resid[layer, t, :n], _matrix(theta, at_qkv, d, 3 * d), qkv[layer, t, :n])
        bias_in = theta[at_bias_in:at_bias_in + d_mlp]
        bias_out = theta[at_bias_out:at_bias_out + d]
        for t in range(2 if layer == layers - 1 else 0, POSITIONS):
            _attend(qkv[layer], t, n, heads, probs[layer, t], z[layer, t])
            after_attention, hidden = mid[layer, t, :n], pre[layer, t, :n]
            np.dot(z[layer, t, :n], _matrix(theta, at_out, d, d), after_attention)
            after_attention += resid[layer, t, :n]
            np.dot(after_attention, _matrix(theta, at_in, d, d_mlp), hidden)
            for i in range(n):
                for c in range(d_mlp):
                    hidden[i, c] += bias_in[c]
                    act[layer, t, i, c] = _activate(hidden[i, c], activation)
            out = resid[layer + 1, t, :n]
            np.dot(act[layer, t, :n], _matrix(theta, at_w_out, d_mlp, d), out)
            for i in range(n):
                for c in range(d):
                    out[i, c] += bias_out[c] + after_attention[i, c]
    np.dot(resid[layers, 2, :n], _matrix(theta, offsets[2 + 6 * layers], d, p), logits[:n])


@njit_cached
def _backward(theta, offsets, p, heads, d_mlp, layers, activation, a, b, resid, mid, qkv, z,
              probs, pre, act, dlogits, grad, tmp, dres, dmid, dqkv, dz, dhid, dqkv_tab, dx_tab):
    """Gradient of one block (``dlogits`` (n, p) given) into the flat ``grad`` (overwritten),
    except layer 0's table, whose gradients are added to ``dqkv_tab`` and ``dx_tab``."""
    n, d = a.shape[0], dres.shape[2]
    grad[:] = 0.0
    at_unembed = offsets[2 + 6 * layers]
    _gemm_add(resid[layers, 2, :n].T, dlogits, _matrix(grad, at_unembed, d, p), tmp)
    dres[:, :n] = 0.0
    np.dot(dlogits, _matrix(theta, at_unembed, d, p).T, dres[2, :n])
    for layer in range(layers - 1, -1, -1):
        at_qkv, at_out, at_in, at_bias_in, at_w_out, at_bias_out = _layer_offsets(offsets, layer)
        w_in, w_out = _matrix(theta, at_in, d, d_mlp), _matrix(theta, at_w_out, d_mlp, d)
        dqkv[:, :n] = 0.0
        for t in range(2 if layer == layers - 1 else 0, POSITIONS):
            dout, dhidden, dafter = dres[t, :n], dhid[:n], dmid[:n]
            _gemm_add(act[layer, t, :n].T, dout, _matrix(grad, at_w_out, d_mlp, d), tmp)
            _column_sums_add(dout, grad[at_bias_out:at_bias_out + d])
            np.dot(dout, w_out.T, dhidden)
            for i in range(n):
                for c in range(d_mlp):
                    x = pre[layer, t, i, c]
                    if activation == QUADRATIC:
                        dhidden[i, c] *= 2.0 * x
                    elif not x > 0:
                        dhidden[i, c] = 0.0
            _gemm_add(mid[layer, t, :n].T, dhidden, _matrix(grad, at_in, d, d_mlp), tmp)
            _column_sums_add(dhidden, grad[at_bias_in:at_bias_in + d_mlp])
            np.dot(dhidden, w_in.T, dafter)
            dafter += dout
            _gemm_add(z[layer, t, :n].T, dafter, _matrix(grad, at_out, d, d), tmp)
            np.dot(dafter, _matrix(theta, at_out, d, d).T, dz[:n])
            _attend_backward(qkv[layer], probs[layer, t], dz[:n], t, n, heads, dqkv)
            dout[:] = dafter  # from here on dres[t] is the gradient of this block's input
        if layer > 0:
            w_qkv = _matrix(theta, at_qkv, d, 3 * d)
            for t in range(POSITIONS):
                _gemm_add(resid[layer, t, :n].T, dqkv[t, :n], _matrix(grad, at_qkv, d, 3 * d), tmp)
                np.dot(dqkv[t, :n], w_qkv.T, dmid[:n])
                dres[t, :n] += dmid[:n]
        else:
            for i in range(n):
                for t in range(POSITIONS):
                    row = _table_row(a, b, i, t, p)
                    dqkv_tab[row] += dqkv[t, i]
                    dx_tab[row] += dres[t, i]


@njit_cached
def _table_gradient(theta, offsets, p, x_tab, dqkv_tab, dx_tab, grad, tmp):
    """Adds to ``grad`` what layer 0's table gradients give for embed, pos and W_qkv."""
    d = x_tab.shape[1]
    at_qkv = _layer_offsets(offsets, 0)[0]
    _gemm_add(x_tab.T, dqkv_tab, _matrix(grad, at_qkv, d, 3 * d), tmp)
    _gemm_add(dqkv_tab, _matrix(theta, at_qkv, d, 3 * d).T, dx_tab, tmp)
    dembed = _matrix(grad, offsets[0], p + 1, d)
    dpos = _matrix(grad, offsets[1], POSITIONS, d)
    for r in range(p):
        for c in range(d):
            dembed[r, c] += dx_tab[r, c] + dx_tab[p + r, c]
            dpos[0, c] += dx_tab[r, c]
            dpos[1, c] += dx_tab[p + r, c]
    for c in range(d):
        dembed[p, c] += dx_tab[2 * p, c]
        dpos[2, c] += dx_tab[2 * p, c]


@njit_cached
def _transformer_lane(lane, theta, offsets, p, heads, d_mlp, layers, activation, loss_kind, a, b,
                      y, with_gradient, block, x_tab, qkv_tab, lane_grad, block_grad, tmp, resid,
                      mid, qkv, z, probs, pre, act, logits, dres, dmid, dqkv, dz, dhid, dqkv_tab,
                      dx_tab, row_loss, row_correct, logits_out):
    """One lane of :func:`_transformer_pass`: its rows block by block, its gradient in order."""
    start, stop = _lane_rows(a.shape[0], lane)
    scale = 1.0 / a.shape[0]
    if with_gradient:
        lane_grad[lane] = 0.0
        dqkv_tab[lane] = 0.0
        dx_tab[lane] = 0.0
    for lo in range(start, stop, block):
        hi = min(lo + block, stop)
        n = hi - lo
        _forward(theta, offsets, p, heads, d_mlp, layers, activation, a[lo:hi], b[lo:hi], x_tab,
                 qkv_tab, resid[lane], mid[lane], qkv[lane], z[lane], probs[lane], pre[lane],
                 act[lane], logits[lane])
        if logits_out.shape[0] > 0:
            logits_out[lo:hi] = logits[lane, :n]
        _row_losses(logits[lane, :n], y[lo:hi], loss_kind, with_gradient, scale, row_loss[lo:hi],
                    row_correct[lo:hi])
        if with_gradient:
            _backward(theta, offsets, p, heads, d_mlp, layers, activation, a[lo:hi], b[lo:hi],
                      resid[lane], mid[lane], qkv[lane], z[lane], probs[lane], pre[lane],
                      act[lane], logits[lane, :n], block_grad[lane], tmp[lane], dres[lane],
                      dmid[lane], dqkv[lane], dz[lane], dhid[lane], dqkv_tab[lane], dx_tab[lane])
            lane_grad[lane] += block_grad[lane]
    if with_gradient and stop > start:
        _table_gradient(theta, offsets, p, x_tab, dqkv_tab[lane], dx_tab[lane], lane_grad[lane],
                        tmp[lane])


@njit_parallel
def _transformer_pass(theta, offsets, p, heads, d_mlp, layers, activation, loss_kind, a, b, y,
                      with_gradient, block, x_tab, qkv_tab, lane_grad, block_grad, tmp, resid,
                      mid, qkv, z, probs, pre, act, logits, dres, dmid, dqkv, dz, dhid, dqkv_tab,
                      dx_tab, row_loss, row_correct, logits_out):
    """Loss and accuracy over the rows (a, b, y); with ``with_gradient`` also the gradient of
    the mean loss, one partial sum per lane in ``lane_grad`` (LANES, size), the lanes on
    threads. Work buffers have a leading lane axis and ``block`` rows; ``logits_out``
    (rows or 0, p) receives the logits when it has rows."""
    _embedding_tables(theta, offsets, p, x_tab.shape[1], x_tab, qkv_tab)
    for lane in prange(LANES):
        _transformer_lane(lane, theta, offsets, p, heads, d_mlp, layers, activation, loss_kind,
                          a, b, y, with_gradient, block, x_tab, qkv_tab, lane_grad, block_grad,
                          tmp, resid, mid, qkv, z, probs, pre, act, logits, dres, dmid, dqkv, dz,
                          dhid, dqkv_tab, dx_tab, row_loss, row_correct, logits_out)
    return _mean_loss_and_accuracy(row_loss[:a.shape[0]], row_correct[:a.shape[0]])


@njit_cached
def _transformer_pass_serial(theta, offsets, p, heads, d_mlp, layers, activation, loss_kind, a,
                             b, y, with_gradient, block, x_tab, qkv_tab, lane_grad, block_grad,
                             tmp, resid, mid, qkv, z, probs, pre, act, logits, dres, dmid, dqkv,
                             dz, dhid, dqkv_tab, dx_tab, row_loss, row_correct, logits_out):
    """:func:`_transformer_pass` with the lanes one after the other: the same bits, no
    threads."""
    _embedding_tables(theta, offsets, p, x_tab.shape[1], x_tab, qkv_tab)
    for lane in range(LANES):
        _transformer_lane(lane, theta, offsets, p, heads, d_mlp, layers, activation, loss_kind,
                          a, b, y, with_gradient, block, x_tab, qkv_tab, lane_grad, block_grad,
                          tmp, resid, mid, qkv, z, probs, pre, act, logits, dres, dmid, dqkv, dz,
                          dhid, dqkv_tab, dx_tab, row_loss, row_correct, logits_out)
    return _mean_loss_and_accuracy(row_loss[:a.shape[0]], row_correct[:a.shape[0]])


@njit_cached
def _train_steps_transformer(theta, grad, m, v, filter_mean, window, window_sum, counters, a, b,
                             y, starts, stops, parallel, offsets, p, heads, d_mlp, layers,
                             activation,
                             loss_kind, optimizer, filter_kind, lr, weight_decay, beta1, beta2,
                             eps, alpha, lamb, warmup_steps, block, x_tab, qkv_tab, lane_grad,
                             block_grad, tmp, resid, mid, qkv, z, probs, pre, act, logits, dres,
                             dmid, dqkv, dz, dhid, dqkv_tab, dx_tab, row_loss, row_correct,
                             logits_out):
    """Run ``len(starts)`` training steps in place; step k uses rows starts[k]:stops[k].

    As ``_kernels._train_steps_mlp``: ``parallel`` puts the lanes on threads (same bits);
    stops before updating if the loss is not finite and returns the number of completed
    steps and the last (pre-update) training loss.
    """
    loss = 0.0
    for done in range(starts.shape[0]):
        lo, hi = starts[done], stops[done]
        if parallel:
            loss, _ = _transformer_pass(
                theta, offsets, p, heads, d_mlp, layers, activation, loss_kind, a[lo:hi],
                b[lo:hi], y[lo:hi], True, block, x_tab, qkv_tab, lane_grad, block_grad, tmp,
                resid, mid, qkv, z, probs, pre, act, logits, dres, dmid, dqkv, dz, dhid,
                dqkv_tab, dx_tab, row_loss, row_correct, logits_out)
        else:
            loss, _ = _transformer_pass_serial(
                theta, offsets, p, heads, d_mlp, layers, activation, loss_kind, a[lo:hi],
                b[lo:hi], y[lo:hi], True, block, x_tab, qkv_tab, lane_grad, block_grad, tmp,
                resid, mid, qkv, z, probs, pre, act, logits, dres, dmid, dqkv, dz, dhid,
                dqkv_tab, dx_tab, row_loss, row_correct, logits_out)
        if not math.isfinite(loss):
            return done, loss
        _sum_lanes(lane_grad, grad)
        _update(theta, grad, m, v, filter_mean, window, window_sum, counters, optimizer,
                filter_kind, lr, weight_decay, beta1, beta2, eps, alpha, lamb, warmup_steps)
    return starts.shape[0], loss
