"""Compiled building blocks of the trainability scan: eight pixels trained side by side.

Why lanes
---------
Every pixel trains the same small network on the same data with its own hyperparameters.
Eight pixels ("lanes") are stored interleaved: a *row* holds one hidden unit of all eight
lanes, so a (w * LANES)-long row is the whole hidden layer of eight networks. Then

- the input-layer products take one data value (a scalar) times a row of weights, and the
  gradient of the input layer takes one data value times a row of errors: every inner loop
  is elementwise over a long contiguous row, which LLVM vectorises without reordering any
  floating-point sum (the package builds without ``reassoc``, so results are the same bits
  whatever the buffer addresses or the thread count);
- a sum over samples or hidden units is an ordinary loop over rows, in a fixed order that
  depends only on the problem's shape, never on the lane, the group or the thread;
- a single data point or a minibatch of sixteen keeps the vectors as full as the full batch.

numba builds without LLVM's SLP vectoriser, so only loops over a contiguous index vectorise:
the loops below index 2D arrays as ``A[row, q]`` with ``q`` running over a whole row. Short
per-lane work (eight values per sample) is written out and stays scalar; it is cheap.

The products (``forward_rows``, ``backward_rows``, ``output_gradients``) are compiled
``noalias`` (see :mod:`explorer._jit`): their callers never pass arrays that share memory,
and without the promise every pass over a row starts with run-time overlap checks for each
pair of rows it touches. Same bits, 8-15% faster scans (same-process comparison).
"""

import math

import numpy as np

from explorer._jit import njit_cached, njit_noalias

LANES = 8
TANH, RELU, IDENTITY = 0, 1, 2

_SQRT2 = math.sqrt(2.0)
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # Cody-Waite split of ln 2: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_ROUNDING_SHIFT = 6755399441055744.0  # 1.5 * 2**52: x + it rounds x to an integer in the low bits
_TANH_SATURATION = 40.0  # |u| beyond which tanh(u / 2) rounds to +-1 in float64

# exp(r) = P(r) / P(-r), the [6/6] Pade approximant, relative error below 1e-18 on |r| <= ln2/2
_PADE = (1.0 / 2.0, 5.0 / 44.0, 1.0 / 66.0, 1.0 / 792.0, 1.0 / 15840.0, 1.0 / 665280.0)

#: Factor folded into the inputs so that the pre-activation arrives ready for each activation:
#: tanh needs u = 2 sqrt(2) z (tanh(sqrt(2) z) = tanh(u / 2)); relu is positively homogeneous,
#: so sqrt(2) relu(z) = relu(sqrt(2) z); identity needs z itself.
INPUT_SCALE = (2.0 * _SQRT2, _SQRT2, 1.0)
#: d act / dz divided by INPUT_SCALE and by the "raw" slope the activation rows store
#: (1 - h**2 for tanh, the step for relu, 1 for identity). The gradient of the input layer,
#: summed over the scaled inputs, is too large by exactly 1 / this factor: a power of two,
#: so folding it into the input layer's learning rate is exact.
GRADIENT_FACTOR = (0.5, 1.0, 1.0)


# Only "contract" (fused multiply-add): the Cody-Waite reduction and the rounding shift need
# the written order, and NaN/inf must keep their meaning.
@njit_cached(fastmath={"contract"}, inline="always")
def _tanh_half_one(x):
    """tanh(x / 2) within a few ulp; NaN propagates, +-inf saturates to +-1.

    With x = k ln2 + r (|r| <= ln2/2) and exp(r) = A/B, A = E(r) = even + odd and
    B = E(-r) = even - odd: tanh(x/2) = (2^k A - B) / (2^k A + B), one division. For k = 0
    that is odd/even, used as such (no cancellation near 0); for k != 0 |tanh| > 0.17, so the
    subtraction cannot cancel. 2**k is built from its bits: adding 1.5 * 2**52 leaves k in
    the low mantissa bits.
    """
    c1, c2, c3, c4, c5, c6 = _PADE
    if x > _TANH_SATURATION:
        x = _TANH_SATURATION
    elif x < -_TANH_SATURATION:
        x = -_TANH_SATURATION
    shifted = x * _INV_LN2 + _ROUNDING_SHIFT
    k = shifted - _ROUNDING_SHIFT
    r = (x - k * _LN2_HI) - k * _LN2_LO
    s = r * r
    even = ((c6 * s + c4) * s + c2) * s + 1.0
    odd = ((c5 * s + c3) * s + c1) * r
    pow2 = np.int64((np.float64(shifted).view(np.int64) + 1023) << 52).view(np.float64)
    a, b = even + odd, even - odd
    numerator = odd if k == 0.0 else pow2 * a - b
    denominator = even if k == 0.0 else pow2 * a + b
    return numerator / denominator


@njit_cached(fastmath={"contract"})
def tanh_half(U, count, W2, H, P, S):
    """h = tanh(u / 2), P = W2 h and slope = W2 (1 - h**2) on U[:count] (flat, W2 tiled)."""
    for q in range(count):
        t = _tanh_half_one(U[q])
        H[q] = t
        P[q] = W2[q] * t
        S[q] = W2[q] - P[q] * t


@njit_cached(fastmath={"contract"})
def tanh_half_products(U, count, W2, P):
    """P = W2 tanh(u / 2) on U[:count], the same bits as :func:`tanh_half`'s P, and nothing
    else: all that a loss needs (a third of the stores)."""
    for q in range(count):
        P[q] = W2[q] * _tanh_half_one(U[q])


@njit_cached
def activate(U, count, W2, H, P, S, nonlinearity):
    """On U[:count]: H = act, P = W2 act, S = W2 times the raw slope of act (flat arrays).

    ``U`` holds pre-activations already multiplied by INPUT_SCALE[nonlinearity]; ``W2`` is
    tiled like ``U`` (one copy per sample row), so one long loop covers a whole block.
    """
    if nonlinearity == TANH:
        tanh_half(U, count, W2, H, P, S)
    elif nonlinearity == RELU:
        for q in range(count):
            positive_or_nan = not (U[q] <= 0.0)  # keep NaN flowing, as jax.nn.relu does
            H[q] = U[q] if positive_or_nan else 0.0
            P[q] = W2[q] * H[q]
            S[q] = W2[q] if positive_or_nan else 0.0
    else:
        for q in range(count):
            H[q] = U[q]
            P[q] = W2[q] * U[q]
            S[q] = W2[q]


@njit_cached
def activate_products(U, count, W2, P, nonlinearity):
    """:func:`activate`'s P alone (the same bits): W2 act on U[:count], for a loss."""
    if nonlinearity == TANH:
        tanh_half_products(U, count, W2, P)
    elif nonlinearity == RELU:
        for q in range(count):
            P[q] = W2[q] * (U[q] if not (U[q] <= 0.0) else 0.0)
    else:
        for q in range(count):
            P[q] = W2[q] * U[q]


@njit_cached(inline="always")
def _add_two(out, r, src, s, a, c):
    """out[r] += sum_i a[i] src[s + i] and out[r + 1] += sum_i c[i] src[s + i], i < 8.

    The matrix work of both layers: each row of ``src`` loaded from memory feeds sixteen
    fused multiply-adds; ``a`` and ``c`` are tuples of eight coefficients.
    """
    a0, a1, a2, a3, a4, a5, a6, a7 = a
    c0, c1, c2, c3, c4, c5, c6, c7 = c
    for q in range(out.shape[1]):
        v0, v1, v2, v3 = src[s, q], src[s + 1, q], src[s + 2, q], src[s + 3, q]
        v4, v5, v6, v7 = src[s + 4, q], src[s + 5, q], src[s + 6, q], src[s + 7, q]
        out[r, q] += (a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
                      + a4 * v4 + a5 * v5 + a6 * v6 + a7 * v7)
        out[r + 1, q] += (c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3
                          + c4 * v4 + c5 * v5 + c6 * v6 + c7 * v7)


@njit_cached(inline="always")
def _add_one(out, r, src, s, a):
    """out[r] += sum_i a[i] src[s + i], i < 8."""
    a0, a1, a2, a3, a4, a5, a6, a7 = a
    for q in range(out.shape[1]):
        out[r, q] += (a0 * src[s, q] + a1 * src[s + 1, q] + a2 * src[s + 2, q]
                      + a3 * src[s + 3, q] + a4 * src[s + 4, q] + a5 * src[s + 5, q]
                      + a6 * src[s + 6, q] + a7 * src[s + 7, q])


@njit_cached(inline="always")
def _add_scaled(out, r, src, s, a):
    """out[r] += a src[s]: the leftovers of the blocks of eight."""
    for q in range(out.shape[1]):
        out[r, q] += a * src[s, q]


@njit_cached(inline="always")
def _eight_inputs(X, i, k):
    return (X[i, k], X[i, k + 1], X[i, k + 2], X[i, k + 3],
            X[i, k + 4], X[i, k + 5], X[i, k + 6], X[i, k + 7])


@njit_cached(inline="always")
def _eight_samples(X, rows, b, k):
    return (X[rows[b], k], X[rows[b + 1], k], X[rows[b + 2], k], X[rows[b + 3], k],
            X[rows[b + 4], k], X[rows[b + 5], k], X[rows[b + 6], k], X[rows[b + 7], k])


@njit_noalias
def forward_rows(X, rows, count, W1, Z):
    """Z[b] = sum_k X[rows[b], k] W1[k] for b < count.

    Eight inputs and two samples per pass; the sum over k runs in blocks of eight, in order.
    """
    d, m = W1.shape
    for b in range(count):
        for q in range(m):
            Z[b, q] = 0.0
    full = d - d % 8
    for k in range(0, full, 8):
        b = 0
        while b + 2 <= count:
            _add_two(Z, b, W1, k, _eight_inputs(X, rows[b], k), _eight_inputs(X, rows[b + 1], k))
            b += 2
        if b < count:
            _add_one(Z, b, W1, k, _eight_inputs(X, rows[b], k))
    for k in range(full, d):
        for b in range(count):
            _add_scaled(Z, b, W1, k, X[rows[b], k])


@njit_noalias
def backward_rows(X, rows, count, D, G):
    """G[k] += sum_b X[rows[b], k] D[b] for b < count.

    Samples in blocks of eight (summed in order, then added), two input rows per pass.
    """
    d = G.shape[0]
    full = count - count % 8
    for b in range(0, full, 8):
        k = 0
        while k + 2 <= d:
            _add_two(G, k, D, b, _eight_samples(X, rows, b, k), _eight_samples(X, rows, b, k + 1))
            k += 2
        if k < d:
            _add_one(G, k, D, b, _eight_samples(X, rows, b, k))
    for b in range(full, count):
        for k in range(d):
            _add_scaled(G, k, D, b, X[rows[b], k])


@njit_cached
def step_rank_one(W1, step, X, i, D):
    """W1[k] -= X[i, k] (step D[0]): a one-sample gradient step of the input layer at once.

    No gradient array to clear, fill and apply: minibatches of one keep most of the full
    batch's speed per useful flop (a data set of one point has a path of its own,
    ``_kernels._train_single_point``). ``D[0]`` is overwritten with ``step D[0]``.
    """
    d, m = W1.shape
    for q in range(m):
        D[0, q] *= step[q]
    k = 0
    while k + 2 <= d:
        a, c = X[i, k], X[i, k + 1]
        for q in range(m):
            e = D[0, q]
            W1[k, q] -= a * e
            W1[k + 1, q] -= c * e
        k += 2
    if k < d:
        _add_scaled(W1, k, D, 0, -X[i, k])


@njit_cached
def sum_hidden_units(P, b):
    """P[b, :LANES] = the sum of row b's blocks of LANES (one per hidden unit).

    Pairwise halving, in an order that depends only on the number of hidden units, so each
    lane's sum is the same whatever shares its group. Unsigned offsets keep numba from adding
    a negative-index check to every access, which would stop the loop from vectorising.
    """
    rows = P.shape[1] // LANES
    while rows > 1:
        half = rows // 2
        count = np.uint64(half * LANES)
        start = np.uint64((rows - half) * LANES)
        for q in range(count):
            P[b, q] += P[b, start + q]
        rows -= half


@njit_cached
def spread_lanes(E, b):
    """Copy E[b, :LANES] into every hidden unit's block of row b, by doubling."""
    rows = E.shape[1] // LANES
    filled = 1
    while filled < rows:
        count = np.uint64(min(filled, rows - filled) * LANES)
        start = np.uint64(filled * LANES)
        for q in range(count):
            E[b, start + q] = E[b, q]
        filled *= 2


@njit_noalias
def output_gradients(H, E, count, G2, S):
    """G2 += sum_b E[b] H[b] (eight samples per pass, summed in order); S[b] *= E[b].

    ``E`` holds each sample's per-lane output error tiled over the hidden units, so ``S``
    turns from W2 act' into the error of the pre-activations (up to GRADIENT_FACTOR).
    """
    m = H.shape[1]
    b = 0
    while b + 8 <= count:
        for q in range(m):
            G2[q] += (E[b, q] * H[b, q] + E[b + 1, q] * H[b + 1, q]
                      + E[b + 2, q] * H[b + 2, q] + E[b + 3, q] * H[b + 3, q]
                      + E[b + 4, q] * H[b + 4, q] + E[b + 5, q] * H[b + 5, q]
                      + E[b + 6, q] * H[b + 6, q] + E[b + 7, q] * H[b + 7, q])
        b += 8
    while b < count:
        for q in range(m):
            G2[q] += E[b, q] * H[b, q]
        b += 1
    for b in range(count):
        for q in range(m):
            S[b, q] *= E[b, q]
