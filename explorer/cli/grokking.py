"""``python -m explorer grokking``: a grokking run, a Grokfast comparison or a sweep, headless.

- default: train (the MLP, or ``--model transformer``; ``--preset nanda`` is Nanda et al.'s
  p = 113 transformer) and plot the curves, the Fourier spectrum and the progress measures;
- ``--compare paper,fair,batch``: :func:`~explorer.grokking.grokfast_comparison` (the
  Grokfast paper's protocol and the fair one) with the other options as its settings;
- ``--sweep weight_decay=0.3,1,3``: steps to generalise over a grid, locally or with
  ``--dask N`` on a local Dask cluster of N workers (:func:`explorer.distributed.sweep`).
"""

from __future__ import annotations

import argparse

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from explorer.grokking import (DEFAULT_STEPS, NANDA_SETTINGS, OPERATIONS, QUICK_SETTINGS,
                               TRANSFORMER_SETTINGS, GrokfastEMA, GrokfastMA, Params,
                               detect_phases, grokfast_comparison, init_transformer,
                               loss_and_gradients, neuron_spectra, progress_measures, sweep,
                               train)

PHASE_COLOURS = {"memorisation": "orange", "circuit formation": "royalblue", "cleanup": "seagreen"}
SNAPSHOTS = 60
PRESETS = {"default": {}, "quick": QUICK_SETTINGS, "transformer": TRANSFORMER_SETTINGS,
           "nanda": NANDA_SETTINGS}
QUICK_HELP = ", ".join(f"{k}={v}" for k, v in QUICK_SETTINGS.items())
# command-line names of the TrainConfig fields they set (None: not given, keep the preset's)
_FIELDS = ("p", "width", "op", "train_fraction", "lr", "weight_decay", "steps", "model",
           "layers", "heads", "d_mlp", "batch_size", "optimizer", "warmup_steps", "dtype")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=list(PRESETS), default="default",
                        help="starting settings: default (MLP p=97), transformer (small, groks in "
                             "minutes), nanda (p=113, d_model 128, 40k steps), quick; other "
                             "options override them")
    parser.add_argument("--model", choices=["mlp", "transformer"], default=None)
    parser.add_argument("--p", type=int, default=None, help="modulus (default 97)")
    parser.add_argument("--width", type=int, default=None,
                        help="MLP neurons (default 256) or transformer d_model (default 128)")
    parser.add_argument("--layers", type=int, default=None, help="transformer blocks (default 1)")
    parser.add_argument("--heads", type=int, default=None, help="attention heads (default 4)")
    parser.add_argument("--d-mlp", type=int, default=None, help="transformer MLP width (4 x width)")
    parser.add_argument("--op", choices=list(OPERATIONS), default=None)
    parser.add_argument("--train-fraction", type=float, default=None, help="default 0.3")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-3)")
    parser.add_argument("--weight-decay", type=float, default=None, help="default 1.0")
    parser.add_argument("--optimizer", choices=["adamw", "adam", "sgd"], default=None)
    parser.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up (default 0)")
    parser.add_argument("--batch-size", type=int, default=None, help="minibatch (default: full batch)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"optimiser steps (default {DEFAULT_STEPS})")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="steps between records (default: about 400 records per run)")
    parser.add_argument("--grokfast", choices=["off", "ema", "ma"], default="off",
                        help="gradient filter with the paper's defaults (default off)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", default=None, metavar="PROTOCOLS",
                        help="run the Grokfast comparison instead: protocols among "
                             "paper,fair,batch (the other options replace the paper's settings)")
    parser.add_argument("--sweep", default=None, metavar="NAME=V1,V2,...",
                        help="steps to 95%% test over one setting's values instead")
    parser.add_argument("--dask", type=int, default=0, metavar="WORKERS",
                        help="run --sweep on a local Dask cluster of that many workers")


def settings_from(args) -> dict:
    """The training settings the options ask for: the preset, then every option given."""
    settings = dict(QUICK_SETTINGS if args.quick else PRESETS[args.preset])
    for name in _FIELDS:
        value = getattr(args, name)
        if value is not None and not (args.quick and name in QUICK_SETTINGS):
            settings[name] = value
    settings.setdefault("steps", DEFAULT_STEPS)
    return settings


def _eval_every(args, steps: int) -> int:
    return args.eval_every or max(1, steps // 400)


def plot_run(run, measures, phases):
    """Accuracy, loss and weight norm, the final Fourier spectrum and the progress measures."""
    history = run.history
    figure, axes = plt.subplots(2, 2, figsize=(13, 9))
    accuracy_axes, loss_axes, spectrum_axes, probe_axes = axes.ravel()
    steps = np.maximum(history.step, 1)
    accuracy_axes.semilogx(steps, history.train_acc, "--", label="train")
    accuracy_axes.semilogx(steps, history.test_acc, label="test")
    accuracy_axes.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.02), title="accuracy")
    loss_axes.loglog(steps, history.train_loss, "--", label="train loss")
    loss_axes.loglog(steps, history.test_loss, label="test loss")
    loss_axes.set(xlabel="step", ylabel="cross-entropy", title="loss and weight norm (grey)")
    norm_axes = loss_axes.twinx()
    norm_axes.semilogx(steps, history.weight_norm, color="grey", label="weight norm")
    norm_axes.set_ylabel("sum of squared weights")
    spectra = neuron_spectra(run.params)
    if isinstance(run.params, Params):
        power = (spectra.U_power + spectra.V_power)[spectra.order, 1:]
        power /= np.maximum(power.sum(axis=1, keepdims=True), np.finfo(float).tiny)
        spectrum_axes.imshow(power.T, origin="lower", aspect="auto", cmap="viridis",
                             extent=[0, power.shape[0], 0.5, power.shape[1] + 0.5])
        spectrum_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        spectrum_axes.set(xlabel="neuron (sorted by dominant frequency)", ylabel="frequency k",
                          title=f"final embedding spectrum (mean IPR {spectra.ipr.mean():.2f})")
    else:
        start = init_transformer(run.task.p, run.config.width, run.config.heads,
                                 run.config.d_mlp, run.config.layers, run.config.seed)
        for params, label, colour in ((start, "initial", "lightgrey"), (run.params, "final", "C0")):
            power = neuron_spectra(params).U_power[:, 1:].sum(axis=0)
            spectrum_axes.bar(np.arange(1, power.size + 1), power / power.sum(), color=colour,
                              label=label, alpha=0.9)
        spectrum_axes.set(xlabel="frequency k", ylabel="share of the embedding's power",
                          title="token embedding in the Fourier basis")
        spectrum_axes.legend(fontsize=8)
    probe_steps = np.maximum(measures.step, 1)
    probe_axes.loglog(probe_steps, measures.restricted_loss, label="restricted loss")
    probe_axes.loglog(probe_steps, measures.excluded_loss, label="excluded loss")
    probe_axes.set(xlabel="step", ylabel="cross-entropy (train pairs)",
                   title=f"progress measures (key frequencies {measures.key_frequencies.tolist()})")
    gini_axes = probe_axes.twinx()
    gini_axes.semilogx(probe_steps, measures.gini, color="black", lw=1, label="Gini of frequency norms")
    gini_axes.set(ylabel="Gini", ylim=(0, 1))
    for panel in (accuracy_axes, probe_axes):
        for name, interval in phases.as_dict().items():
            if interval is not None:
                panel.axvspan(max(interval[0], 1), max(interval[1], 1), color=PHASE_COLOURS[name],
                              alpha=0.12, label=name if panel is accuracy_axes else None)
    for panel in (accuracy_axes, loss_axes, probe_axes):
        panel.legend(loc="best", fontsize=8)
    config = run.config
    figure.suptitle(f"grokking ({config.op}) mod {run.task.p}: {config.model}, width "
                    f"{config.width}, train fraction {config.train_fraction}, weight decay "
                    f"{config.weight_decay}")
    figure.tight_layout()
    return figure


def _run_training(args, settings):
    grokfast = {"off": None, "ema": GrokfastEMA(), "ma": GrokfastMA()}[args.grokfast]
    steps = settings["steps"]
    eval_every = _eval_every(args, steps)
    snapshot_every = eval_every * max(1, steps // (eval_every * SNAPSHOTS))
    result = train(**settings, seed=args.seed, grokfast=grokfast, eval_every=eval_every,
                   snapshot_every=snapshot_every)
    measures = progress_measures(result.history, result.task)
    phases = detect_phases(result.history, measures)
    summary = {
        **settings, "seed": args.seed, "grokfast": args.grokfast,
        "steps_to_99_train": result.steps_to("train_acc", 0.99),
        "steps_to_95_test": result.steps_to("test_acc", 0.95),
        "steps_to_99_test": result.steps_to("test_acc", 0.99),
        "final_train_acc": float(result.history.train_acc[-1]),
        "final_test_acc": float(result.history.test_acc[-1]),
        "final_weight_norm": float(result.history.weight_norm[-1]),
        "diverged": result.diverged,
        "key_frequencies": measures.key_frequencies.tolist(),
        "final_restricted_loss": float(measures.restricted_loss[-1]),
        "final_excluded_loss": float(measures.excluded_loss[-1]),
        "phases": phases.as_dict(),
        "training_seconds": round(result.seconds, 3),
        "steps_per_second": round(result.steps_per_second, 1),
    }
    return plot_run(result, measures, phases), summary


def plot_comparison(result):
    """Test accuracy of every run of a Grokfast comparison, one panel per protocol."""
    protocols = list(dict.fromkeys(run.label.split(":")[0] for run in result.runs))
    figure, axes = plt.subplots(1, len(protocols), figsize=(6 * len(protocols), 4.5), squeeze=False)
    for panel, protocol in zip(axes[0], protocols):
        for run in result.runs:
            if run.label.split(":")[0] == protocol:
                when = run.steps_to_generalise
                panel.semilogx(np.maximum(run.history.step, 1), run.history.test_acc,
                               label=f"{run.label.split(': ')[1]} ({'never' if when is None else when})")
        panel.axhline(result.threshold, color="grey", lw=0.8, ls=":")
        panel.set(xlabel="step", ylabel="test accuracy", ylim=(0, 1.02), title=protocol)
        panel.legend(fontsize=8, title="steps to 95% test")
    figure.tight_layout()
    return figure


def _run_comparison(args, settings):
    protocols = [name.strip() for name in args.compare.split(",") if name.strip()]
    settings.pop("weight_decay", None)
    settings["eval_every"] = _eval_every(args, settings["steps"])
    result = grokfast_comparison(protocols, seed=args.seed, **settings)
    summary = {**settings, "protocols": protocols, "seed": args.seed, "runs": result.table()}
    return plot_comparison(result), summary


def _run_sweep(args, settings):
    name, _, values = args.sweep.partition("=")
    if not values:
        raise ValueError(f"sweep must look like NAME=V1,V2,..., got {args.sweep!r}")
    grid = {name.strip(): [float(v) if "." in v or "e" in v else int(v) for v in values.split(",")]}
    fixed = {k: v for k, v in settings.items() if k not in grid}
    fixed["eval_every"] = _eval_every(args, fixed["steps"])
    if args.dask:
        from explorer import distributed

        result = distributed.sweep(grid, n_workers=args.dask, seed=args.seed, **fixed)
    else:
        result = sweep(grid, seed=args.seed, **fixed)
    figure, axes = plt.subplots(figsize=(6, 4))
    steps = result.steps_to_generalise
    axes.plot(result.values[0], np.where(np.isnan(steps), np.nan, steps), "o-")
    axes.set(xlabel=result.names[0], ylabel="steps to 95% test (missing: never)",
             title=f"{fixed.get('model', 'mlp')}, p = {fixed.get('p', 97)}")
    summary = {**fixed, "seed": args.seed, "sweep": result.names[0],
               "values": result.values[0].tolist(), "dask_workers": args.dask,
               "steps_to_generalise": [None if np.isnan(s) else int(s) for s in steps],
               "final_test_acc": result.final_test_acc.tolist()}
    return figure, summary


def run(args):
    settings = settings_from(args)
    if args.compare:
        return _run_comparison(args, settings)
    if args.sweep:
        return _run_sweep(args, settings)
    return _run_training(args, settings)


def warm() -> None:
    """Compile the grokking kernels a session uses: both models in float32 (tiny inputs).

    float64 networks (gradient checks, tests) compile on first use: warming them too doubled
    the first start (219 s of the 220 s wall time on two cores went to this topic).
    """
    for model in ("mlp", "transformer"):
        result = train(p=5, width=4, heads=2, steps=2, eval_every=1, snapshot_every=1,
                       model=model)
        progress_measures(result.history, result.task)
        a = np.arange(5)
        loss_and_gradients(result.params, a, a, a)
