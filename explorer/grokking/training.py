"""Training the MLP or the transformer, with a history that streams to a callback.

:func:`train` validates its settings into a :class:`TrainConfig`, then runs the compiled
training kernel in bounded chunks (see :mod:`explorer.grokking._trainer`). At every record it
measures the losses and accuracies on both splits (with the weights of that step), optionally
keeps a snapshot of the weights, and hands the partial :class:`History` to ``callback``; long
chunks between records are cut so that the callback also sees the run at least every half
second (``History.steps_done`` then runs ahead of the last record).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from explorer._jit import blas_threads
from explorer._validation import (check_callable, check_choice, check_instance, check_range,
                                  make_rng)
from explorer.grokking._trainer import OPTIMIZERS, Trainer, training_loop
from explorer.grokking.grokfast import GrokfastEMA, GrokfastMA, as_filter
from explorer.grokking.groups import canonical_group, group_order
from explorer.grokking.history import METRICS, History, Run, history_from_records
from explorer.grokking.model import ACTIVATIONS, LOSSES, MAX_WIDTH, check_dtype, init_params
from explorer.grokking.tasks import MAX_MODULUS, Task, canonical_operation, make_task
from explorer.grokking.transformer import (MAX_D_MLP, MAX_D_MODEL, MAX_HEADS, MAX_LAYERS,
                                           init_transformer)

__all__ = ["DEFAULT_STEPS", "METRICS", "NANDA_SETTINGS", "QUICK_SETTINGS", "TRANSFORMER_SETTINGS",
           "History", "Run", "TrainConfig", "train", "train_from_config"]

#: Steps of the default run. At p = 97, width 256, train fraction 0.3, weight decay 1 the
#: training accuracy passes 99% at step ~300 and the test accuracy passes 95% at ~2600 and
#: 99% at ~3000 (seed 0; seed 1: 2550 and 2950), so 4000 steps grok with room to spare.
DEFAULT_STEPS = 4000
# one BLAS thread per lane: the step's products are small (1400 x 256 x 97), and BLAS
# threads beside numba's lanes, or beside anything else that wants the cores, make each step
# several times slower
TRAINING_BLAS_THREADS = 1
#: A small run that still groks (test accuracy 95% near step 600) in about a second: for
#: quick mode (``EXPLORER_QUICK=1``), tests and previews.
QUICK_SETTINGS = {"p": 41, "width": 128, "train_fraction": 0.4, "lr": 1e-2, "steps": 1000}
#: A small transformer that groks on a laptop in a minute or two (1 layer, d_model 64).
TRANSFORMER_SETTINGS = {"model": "transformer", "p": 59, "width": 64, "heads": 4, "d_mlp": 256,
                        "train_fraction": 0.35, "lr": 3e-3, "weight_decay": 1.0,
                        "steps": 10_000}
#: Nanda et al.'s configuration: (a + b) mod 113, 30% of the pairs, a 1-layer transformer
#: (d_model 128, 4 heads, MLP 512, ReLU, no LayerNorm), full batch, AdamW lr 1e-3, wd 1.
NANDA_SETTINGS = {"model": "transformer", "p": 113, "width": 128, "heads": 4, "d_mlp": 512,
                  "layers": 1, "train_fraction": 0.3, "lr": 1e-3, "weight_decay": 1.0,
                  "steps": 40_000}
MODELS = ("mlp", "transformer")
DEFAULT_WIDTH = {"mlp": 256, "transformer": 128}
DEFAULT_ACTIVATION = {"mlp": "quadratic", "transformer": "relu"}
MAX_STEPS = 10**7
MAX_BATCH = 10**6


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run, validated on construction (see :func:`train`)."""

    p: int = 97
    width: int | None = None
    op: str = "add"
    train_fraction: float = 0.3
    lr: float = 1e-3
    weight_decay: float = 1.0
    steps: int = DEFAULT_STEPS
    seed: int = 0
    grokfast: GrokfastEMA | GrokfastMA | None = None
    eval_every: int = 10
    betas: tuple = (0.9, 0.98)
    eps: float = 1e-8
    optimizer: str = "adamw"
    loss: str = "cross_entropy"
    activation: str | None = None
    dtype: str = "float32"
    snapshot_every: int | None = None
    group: str | None = None
    model: str = "mlp"
    layers: int = 1
    heads: int = 4
    d_mlp: int | None = None
    batch_size: int | None = None
    warmup_steps: int = 0
    nonzero_b: bool = False

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        model = check_choice("model", self.model, MODELS)
        put("p", check_range("p", self.p, lo=3, hi=MAX_MODULUS, integer=True))
        put("width", check_range("width", DEFAULT_WIDTH[model] if self.width is None else self.width,
                                 lo=1, hi=MAX_WIDTH if model == "mlp" else MAX_D_MODEL,
                                 integer=True))
        if not isinstance(self.op, str):
            raise TypeError(f"op must be a string such as 'add', got {type(self.op).__name__}")
        put("op", canonical_operation(self.op))
        put("train_fraction", check_range("train_fraction", self.train_fraction, lo=0, hi=1,
                                          lo_open=True, hi_open=True))
        put("lr", check_range("lr", self.lr, lo=0, hi=10, lo_open=True))
        # decoupled decay multiplies the weights by 1 - lr * weight_decay each step
        put("weight_decay", check_range(f"weight_decay (at lr = {self.lr:g}: lr x weight_decay "
                                        f"<= 1)", self.weight_decay, lo=0, hi=1 / self.lr))
        put("steps", check_range("steps", self.steps, lo=1, hi=MAX_STEPS, integer=True))
        make_rng(self.seed)
        put("grokfast", as_filter(self.grokfast))
        put("eval_every", check_range("eval_every", self.eval_every, lo=1, hi=MAX_STEPS,
                                      integer=True))
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") \
                or len(self.betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got "
                             f"{self.betas!r}")
        put("betas", (check_range("betas[0]", self.betas[0], lo=0, hi=1, hi_open=True),
                      check_range("betas[1]", self.betas[1], lo=0, hi=1, hi_open=True)))
        put("eps", check_range("eps", self.eps, lo=0, hi=1, lo_open=True))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("loss", self.loss, LOSSES)
        put("activation", check_choice("activation", DEFAULT_ACTIVATION[model]
                                       if self.activation is None else self.activation,
                                       ACTIVATIONS))
        put("dtype", check_dtype(self.dtype).name)
        if self.snapshot_every is not None:
            put("snapshot_every", check_range("snapshot_every", self.snapshot_every, lo=1,
                                              hi=MAX_STEPS, integer=True))
        if self.group is not None:
            # the group's order is the vocabulary, so p follows it
            put("group", canonical_group(self.group))
            put("p", group_order(self.group))
        put("layers", check_range("layers", self.layers, lo=1, hi=MAX_LAYERS, integer=True))
        put("heads", check_range("heads", self.heads, lo=1, hi=MAX_HEADS, integer=True))
        if model == "transformer" and self.width % self.heads:
            raise ValueError(f"heads must divide width (d_model) = {self.width}, got {self.heads}")
        put("d_mlp", check_range("d_mlp", 4 * self.width if self.d_mlp is None else self.d_mlp,
                                 lo=1, hi=MAX_D_MLP, integer=True))
        if self.batch_size is not None:
            put("batch_size", check_range("batch_size", self.batch_size, lo=1, hi=MAX_BATCH,
                                          integer=True))
        put("warmup_steps", check_range("warmup_steps", self.warmup_steps, lo=0, hi=MAX_STEPS,
                                        integer=True))
        if not isinstance(self.nonzero_b, bool):
            raise TypeError(f"nonzero_b must be True or False, got {self.nonzero_b!r}")

    def make_task(self) -> Task:
        """The run's task (the same split as the run's, for an integer seed).

        With ``nonzero_b`` the pairs with ``b = 0`` leave both splits (the Grokfast task
        ``x * y mod p`` with y in 1..p-1), so each split keeps about its share of the rest.
        """
        task = make_task(self.p, self.op, self.train_fraction, self.seed, self.group)
        if not self.nonzero_b:
            return task
        keep_train, keep_test = task.train_pairs[:, 1] != 0, task.test_pairs[:, 1] != 0
        return dataclasses.replace(task, train_pairs=task.train_pairs[keep_train],
                                   train_labels=task.train_labels[keep_train],
                                   test_pairs=task.test_pairs[keep_test],
                                   test_labels=task.test_labels[keep_test])

    def init_params(self, p: int | None = None):
        """The run's initial weights (Params or TransformerParams) for ``p`` tokens."""
        p = self.p if p is None else p
        if self.model == "mlp":
            return init_params(p, self.width, self.seed, self.dtype, self.activation)
        return init_transformer(p, self.width, self.heads, self.d_mlp, self.layers, self.seed,
                                self.dtype, self.activation)


def train_from_config(config: TrainConfig, callback=None) -> Run:
    """Run the training described by ``config`` (see :func:`train` for the callback)."""
    check_instance("config", config, TrainConfig)
    check_callable("callback", callback)
    start = time.perf_counter()
    task = config.make_task()
    trainer = Trainer(config, task, config.init_params(task.p))
    with blas_threads(TRAINING_BLAS_THREADS):
        records, snapshot_steps, snapshots, step, diverged, stopped = training_loop(
            config, trainer, callback)
    return Run(config, task, trainer.params(),
               history_from_records(records, snapshot_steps, snapshots, step), diverged,
               stopped, time.perf_counter() - start)


def train(p: int = 97, width: int | None = None, op: str = "add", train_fraction: float = 0.3,
          lr: float = 1e-3, weight_decay: float = 1.0, steps: int = DEFAULT_STEPS, seed=0,
          grokfast=None, eval_every: int = 10, callback=None, group: str | None = None,
          model: str = "mlp", **options) -> Run:
    """Train the MLP (or the transformer) on ``(a op b) mod p`` or a group's product.

    Thin wrapper around the compiled training kernels ``_train_steps_mlp`` and
    ``_train_steps_transformer``: forward, backward, Grokfast filter and optimiser step all
    run in numba, each batch split over two fixed lanes (two threads when numba has them,
    the same bits with one), the products going to single-threaded BLAS.

    Parameters
    ----------
    p : int, default 97
        Modulus in [3, 512].
    width : int, optional
        MLP: hidden neurons N in [1, 4096] (default 256). Transformer: d_model in
        [1, 1024] (default 128); ``d_model=`` is accepted as another name for it.
    op : {"add", "subtract", "multiply", "sum_of_squares"}, default "add"
        The operation; ``"x^2 + y^2"`` is accepted for ``"sum_of_squares"``.
    train_fraction : float, default 0.3
        Fraction of the p^2 pairs to train on, in (0, 1).
    lr : float, default 1e-3
        Learning rate, in (0, 10].
    weight_decay : float, default 1.0
        In [0, 1 / lr]. Decoupled for "adamw" and "sgd" (each step multiplies the weights
        by ``1 - lr * weight_decay``); an L2 term added to the gradient for "adam".
    steps : int, default DEFAULT_STEPS
        Optimiser steps, in [1, 10^7].
    seed : int or numpy.random.Generator, default 0
        Seeds the split, the initial weights and the minibatch order; the same seed gives
        the same bits, on one thread or two.
    grokfast : GrokfastEMA, GrokfastMA, "ema", "ma" or None, default None
        Gradient filter between the gradient and the optimiser step.
    eval_every : int, default 10
        Steps between records of the metrics, in [1, 10^7]; the callback is called at each.
    callback : callable, optional
        ``callback(history)`` with the partial :class:`History` after each record (the
        first at step 0, the last at the end) and at least every half second between
        records; a true return value stops training there (``Run.stopped_early``).
    group : str, optional
        Learn ``a * b`` in a finite group instead of ``(a op b) mod p``: ``"cyclic:n"``,
        ``"dihedral:n"``, ``"symmetric:n"``, ``"alternating:n"`` or ``"product:n1,n2,..."``
        (see :func:`~explorer.grokking.make_task`); ``p`` becomes the group's order.
    model : {"mlp", "transformer"}, default "mlp"
        The MLP ``W act(U[a] + V[b])``, or the decoder-only transformer on ``a b =`` of
        Nanda et al. (see :class:`~explorer.grokking.TransformerParams`).
    **options
        Further :class:`TrainConfig` fields: ``betas`` (default (0.9, 0.98)), ``eps``
        (1e-8), ``optimizer`` ("adamw", "adam" or "sgd"), ``loss`` ("cross_entropy" or
        "mse"), ``activation`` ("quadratic" or "relu"; default quadratic for the MLP, ReLU
        for the transformer), ``dtype`` ("float32" or "float64"), ``snapshot_every`` (keep
        the weights every that many steps; default None: none), ``batch_size`` (default
        None: full batch; else shuffled minibatches, a fresh order every epoch, in
        [1, 10^6]), ``warmup_steps`` (linear learning-rate warm-up as in the Grokfast
        reference, default 0), ``nonzero_b`` (leave out the pairs with b = 0), and for the
        transformer ``layers`` (1..4, default 1), ``heads`` (default 4) and ``d_mlp``
        (default 4 * width).

    Returns
    -------
    Run
        Diverging runs (NaN or inf loss) stop and come back with ``diverged=True``.

    Examples
    --------
    >>> run = train(p=11, width=32, steps=50, eval_every=25)
    >>> run.history.step.tolist()
    [0, 25, 50]
    >>> train(p=7, model="transformer", width=8, heads=2, steps=4, eval_every=2).params.layers
    1
    """
    if "d_model" in options:
        if width is not None:
            raise ValueError("give the transformer's width as width or as d_model, not both")
        width = options.pop("d_model")
    unknown = set(options) - {f for f in TrainConfig.__dataclass_fields__}
    if unknown:
        raise ValueError(f"unknown training option(s) {sorted(unknown)}; allowed: "
                         f"{sorted(TrainConfig.__dataclass_fields__)}")
    check_callable("callback", callback)
    config = TrainConfig(p=p, width=width, op=op, train_fraction=train_fraction, lr=lr,
                         weight_decay=weight_decay, steps=steps, seed=seed, grokfast=grokfast,
                         eval_every=eval_every, group=group, model=model, **options)
    return train_from_config(config, callback)
