"""A decoder-only transformer on ``a b =`` (Nanda et al. 2023): weights and initialisation.

Token embedding (p + 1 tokens: 0..p-1 and "=" = p) plus a learned position embedding, then
``layers`` blocks of causal multi-head attention followed by an MLP (ReLU), each added to the
residual stream, and an unembedding to the p answers read at the "=" position. No LayerNorm
and no attention biases, as in Nanda et al. The kernels live in
:mod:`explorer.grokking._transformer_kernels`; :func:`~explorer.grokking.logits`,
:func:`~explorer.grokking.loss_and_gradients`, :func:`~explorer.grokking.accuracy` and
:func:`~explorer.grokking.train` (``model="transformer"``) take these weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_choice, check_range, make_rng
from explorer.grokking import _kernels, _transformer_kernels
from explorer.grokking.model import (ACTIVATIONS, DTYPES, ModelParams, Workspace, block_rows,
                                     check_dtype, threads_pay, weights_dtype)
from explorer.grokking.tasks import MAX_MODULUS

MAX_D_MODEL = 1024
MAX_D_MLP = 4096
MAX_HEADS = 64
MAX_LAYERS = 4
_LAYER_FIELDS = ("qkv", "out", "w_in", "b_in", "w_out", "b_out")
_EMPTY_LOGITS = {dtype: np.zeros((0, 1), dtype) for dtype in DTYPES}


def _offsets(p: int, d: int, d_mlp: int, layers: int) -> np.ndarray:
    """Start of each matrix in the flat weights, then the total (see the kernels' module)."""
    sizes = [(p + 1) * d, 3 * d]
    for _ in range(layers):
        sizes += [d * 3 * d, d * d, d * d_mlp, d_mlp, d_mlp * d, d]
    sizes.append(d * p)
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _check_sizes(p, d_model, heads, d_mlp, layers) -> tuple[int, int, int, int, int]:
    """The architecture's sizes, each checked against its bound (see :func:`init_transformer`)."""
    p = check_range("p", p, lo=3, hi=MAX_MODULUS, integer=True)
    d_model = check_range("d_model", d_model, lo=1, hi=MAX_D_MODEL, integer=True)
    heads = check_range("heads", heads, lo=1, hi=MAX_HEADS, integer=True)
    if d_model % heads:
        raise ValueError(f"heads must divide d_model = {d_model}, got heads = {heads}")
    d_mlp = check_range("d_mlp", d_mlp, lo=1, hi=MAX_D_MLP, integer=True)
    layers = check_range("layers", layers, lo=1, hi=MAX_LAYERS, integer=True)
    return p, d_model, heads, d_mlp, layers


@dataclass(frozen=True, eq=False)
class TransformerParams(ModelParams):
    """Weights of the transformer (rows are vectors: ``q = x @ qkv[l][:, :d]``).

    Attributes
    ----------
    embed : ndarray, shape (p + 1, d)
        Token embedding; row p is the "=" token.
    pos : ndarray, shape (3, d)
        Position embedding of ``a``, ``b`` and ``=``.
    qkv : ndarray, shape (layers, d, 3 d)
        Query, key and value projections side by side, each head-major.
    out : ndarray, shape (layers, d, d)
        Attention output projection (heads' values concatenated -> residual).
    w_in, b_in : ndarray, shapes (layers, d, m), (layers, m)
        MLP input weights and biases.
    w_out, b_out : ndarray, shapes (layers, m, d), (layers, d)
        MLP output weights and biases.
    unembed : ndarray, shape (d, p)
        Residual stream at "=" -> logits of the p answers.
    heads : int
        Attention heads; d must be a multiple of it (head width d / heads).
    activation : {"relu", "quadratic"}
        The MLP's activation.
    """

    embed: np.ndarray
    pos: np.ndarray
    qkv: np.ndarray
    out: np.ndarray
    w_in: np.ndarray
    b_in: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    unembed: np.ndarray
    heads: int = 4
    activation: str = "relu"

    def __post_init__(self):
        check_choice("activation", self.activation, ACTIVATIONS)
        dtype = weights_dtype(self.embed)
        embed = check_array("embed", self.embed, ndim=2, dtype=dtype, finite=False)
        vocabulary, d = embed.shape
        check_range("p (rows of embed - 1)", vocabulary - 1, lo=3, hi=MAX_MODULUS, integer=True)
        check_range("d_model (columns of embed)", d, lo=1, hi=MAX_D_MODEL, integer=True)
        qkv = check_array("qkv", self.qkv, ndim=3, dtype=dtype, finite=False)
        layers = qkv.shape[0]
        check_range("layers (first axis of qkv)", layers, lo=1, hi=MAX_LAYERS, integer=True)
        d_mlp = check_array("w_in", self.w_in, ndim=3, dtype=dtype, finite=False).shape[-1]
        check_range("d_mlp (last axis of w_in)", d_mlp, lo=1, hi=MAX_D_MLP, integer=True)
        shapes = {"embed": (vocabulary, d), "pos": (3, d), "qkv": (layers, d, 3 * d),
                  "out": (layers, d, d), "w_in": (layers, d, d_mlp), "b_in": (layers, d_mlp),
                  "w_out": (layers, d_mlp, d), "b_out": (layers, d),
                  "unembed": (d, vocabulary - 1)}
        for name, shape in shapes.items():
            object.__setattr__(self, name, check_array(name, getattr(self, name), shape=shape,
                                                       dtype=dtype, finite=False))
        heads = check_range("heads", self.heads, lo=1, hi=MAX_HEADS, integer=True)
        if d % heads:
            raise ValueError(f"heads must divide d_model = {d}, got heads = {heads}")
        object.__setattr__(self, "heads", heads)

    @property
    def p(self) -> int:
        """Number of answer classes (tokens a and b lie in [0, p))."""
        return self.unembed.shape[1]

    @property
    def d_model(self) -> int:
        """Width of the residual stream."""
        return self.embed.shape[1]

    width = d_model

    @property
    def d_mlp(self) -> int:
        return self.w_in.shape[2]

    @property
    def layers(self) -> int:
        return self.qkv.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.embed.dtype

    def model(self) -> TransformerModel:
        return TransformerModel(self.p, self.d_model, self.heads, self.d_mlp, self.layers,
                                self.activation, self.dtype)

    def stacked(self) -> np.ndarray:
        """A fresh flat array of all weights in the kernels' order."""
        parts = [self.embed, self.pos]
        for layer in range(self.layers):
            parts += [getattr(self, name)[layer] for name in _LAYER_FIELDS]
        parts.append(self.unembed)
        return np.concatenate([part.ravel() for part in parts])

    @classmethod
    def from_stacked(cls, theta: np.ndarray, p: int, d_model: int, heads: int, d_mlp: int,
                     layers: int, activation: str = "relu") -> TransformerParams:
        """TransformerParams from the flat weights (copied)."""
        p, d_model, heads, d_mlp, layers = _check_sizes(p, d_model, heads, d_mlp, layers)
        offsets = _offsets(p, d_model, d_mlp, layers)
        theta = check_array("theta", theta, ndim=1, dtype=weights_dtype(theta), finite=False)
        if theta.shape != (int(offsets[-1]),):  # name the sizes too: either side may be wrong
            raise ValueError(f"theta must have shape ({int(offsets[-1])},) for p={p}, "
                             f"d_model={d_model}, d_mlp={d_mlp}, layers={layers}, got {theta.shape}")

        def piece(index, shape):
            return theta[offsets[index]:offsets[index + 1]].reshape(shape).copy()

        shapes = ((d_model, 3 * d_model), (d_model, d_model), (d_model, d_mlp), (d_mlp,),
                  (d_mlp, d_model), (d_model,))
        per_layer = [np.stack([piece(2 + 6 * layer + k, shapes[k]) for layer in range(layers)])
                     for k in range(6)]
        return cls(piece(0, (p + 1, d_model)), piece(1, (3, d_model)), *per_layer,
                   piece(2 + 6 * layers, (d_model, p)), heads, activation)


def init_transformer(p: int = 113, d_model: int = 128, heads: int = 4, d_mlp: int = 512,
                     layers: int = 1, seed=0, dtype="float32",
                     activation: str = "relu") -> TransformerParams:
    """Random initial weights as Nanda et al. draw them.

    Every matrix is normal with standard deviation ``1 / sqrt(d_model)``, except the
    unembedding (``1 / sqrt(p)``); biases start at zero.

    Parameters
    ----------
    p : int, default 113
        Answer classes (modulus or group order), in [3, 512]; the vocabulary adds "=".
    d_model : int, default 128
        Residual width, in [1, 1024], a multiple of ``heads``.
    heads : int, default 4
        Attention heads, in [1, 64].
    d_mlp : int, default 512
        MLP width, in [1, 4096].
    layers : int, default 1
        Blocks (attention then MLP), in [1, 4].
    seed : int or numpy.random.Generator, default 0
    dtype : {"float32", "float64"}, default "float32"
    activation : {"relu", "quadratic"}, default "relu"

    Returns
    -------
    TransformerParams

    Examples
    --------
    >>> params = init_transformer(p=7, d_model=8, heads=2, d_mlp=16)
    >>> params.embed.shape, params.qkv.shape, params.unembed.shape
    ((8, 8), (1, 8, 24), (8, 7))
    """
    p, d_model, heads, d_mlp, layers = _check_sizes(p, d_model, heads, d_mlp, layers)
    dtype = check_dtype(dtype)
    check_choice("activation", activation, ACTIVATIONS)
    rng = make_rng(seed)
    scale = 1.0 / math.sqrt(d_model)

    def normal(*shape, std=scale):
        return (rng.standard_normal(shape) * std).astype(dtype)

    return TransformerParams(
        normal(p + 1, d_model), normal(3, d_model), normal(layers, d_model, 3 * d_model),
        normal(layers, d_model, d_model), normal(layers, d_model, d_mlp),
        np.zeros((layers, d_mlp), dtype), normal(layers, d_mlp, d_model),
        np.zeros((layers, d_model), dtype), normal(d_model, p, std=1.0 / math.sqrt(p)),
        heads, activation)


class TransformerModel:
    """What the trainer needs of the transformer: layout, buffers and kernels (private)."""

    name = "transformer"

    def __init__(self, p, d_model, heads, d_mlp, layers, activation, dtype):
        self.p, self.d, self.heads, self.d_mlp, self.layers = p, d_model, heads, d_mlp, layers
        self.activation, self.dtype = activation, np.dtype(dtype)
        self.offsets = _offsets(p, d_model, d_mlp, layers)
        self.theta_shape = (int(self.offsets[-1]),)
        self.table_rows = 2 * p + 1

    def _floats_per_row(self, with_gradient: bool) -> int:
        d, m, layers = self.d, self.d_mlp, self.layers
        forward = 3 * d * (layers + 1) + layers * 3 * (5 * d + 3 * self.heads + 2 * m) + self.p
        return forward + (15 * d + m if with_gradient else 0)

    def workspace(self, rows: int, with_gradient: bool) -> Workspace:
        lanes, d, m, layers = _kernels.LANES, self.d, self.d_mlp, self.layers
        block = block_rows(rows, self._floats_per_row(with_gradient), self.dtype.itemsize)
        back = block if with_gradient else 0
        size = self.theta_shape[0] if with_gradient else 0
        tmp = max(3 * d * d, d * m, d * self.p, self.table_rows * d) if with_gradient else 0
        table = self.table_rows if with_gradient else 0

        def empty(*shape):
            return np.empty(shape, self.dtype)

        buffers = (empty(self.table_rows, d), empty(self.table_rows, 3 * d),
                   empty(lanes, size), empty(lanes, tmp), empty(lanes, layers + 1, 3, block, d),
                   empty(lanes, layers, 3, block, d), empty(lanes, layers, 3, block, 3 * d),
                   empty(lanes, layers, 3, block, d),
                   empty(lanes, layers, 3, block, self.heads, 3),
                   empty(lanes, layers, 3, block, m), empty(lanes, layers, 3, block, m),
                   empty(lanes, block, self.p), empty(lanes, 3, back, d), empty(lanes, back, d),
                   empty(lanes, 3, back, 3 * d), empty(lanes, back, d), empty(lanes, back, m),
                   empty(lanes, table, 3 * d), empty(lanes, table, d))
        return Workspace(rows, block, empty(lanes, size), buffers)

    def _shape(self) -> tuple:
        return (self.offsets, self.p, self.heads, self.d_mlp, self.layers,
                ACTIVATIONS[self.activation])

    def work_per_row(self) -> int:
        """Multiply-adds of one row's forward and backward pass (for the choice of threads)."""
        d, m = self.d, self.d_mlp
        return 3 * (3 * self.layers * (2 * d * m + 4 * d * d) + d * self.p)

    def run_pass(self, theta, work: Workspace, a, b, y, loss_kind: int, with_gradient: bool,
                 parallel: bool | None = None, logits_out=None):
        """Mean loss and accuracy over the rows; the gradient's lane sums in ``work.lane_grad``.

        ``parallel``: lanes on threads (None: when :func:`threads_pay`); the same bits.
        """
        parallel = threads_pay(self, len(a)) if parallel is None else parallel
        x_tab, qkv_tab, block_grad, *rest = work.buffers
        kernel = (_transformer_kernels._transformer_pass if parallel
                  else _transformer_kernels._transformer_pass_serial)
        return kernel(theta, *self._shape(), loss_kind, a, b, y, with_gradient, work.block, x_tab,
                      qkv_tab, work.lane_grad, block_grad, *rest, work.row_loss, work.row_correct,
                      _EMPTY_LOGITS[self.dtype.name] if logits_out is None else logits_out)

    def train_steps(self, theta, state, work: Workspace, a, b, y, starts, stops, settings,
                    parallel: bool):
        """``len(starts)`` optimiser steps (see ``_train_steps_transformer``)."""
        x_tab, qkv_tab, block_grad, *rest = work.buffers
        return _transformer_kernels._train_steps_transformer(
            theta, *state, a, b, y, starts, stops, parallel, *self._shape(), *settings,
            work.block, x_tab, qkv_tab, work.lane_grad, block_grad, *rest, work.row_loss,
            work.row_correct, _EMPTY_LOGITS[self.dtype.name])

    def logits(self, theta, a, b) -> np.ndarray:
        """(n, p) logits of the pairs at the "=" position."""
        out = np.empty((len(a), self.p), self.dtype)
        work = self.workspace(len(a), with_gradient=False)
        self.run_pass(theta, work, a, b, np.zeros_like(a), _kernels.CROSS_ENTROPY, False,
                      logits_out=out)
        return out

    def params(self, theta) -> TransformerParams:
        """TransformerParams holding a copy of ``theta``."""
        return TransformerParams.from_stacked(theta, self.p, self.d, self.heads, self.d_mlp,
                                              self.layers, self.activation)

