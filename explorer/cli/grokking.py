"""``python -m explorer grokking``: the default grokking run headless (curves PNG + JSON summary)."""

from __future__ import annotations

import argparse

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from explorer.grokking import (DEFAULT_STEPS, OPERATIONS, QUICK_SETTINGS, GrokfastEMA,
                               GrokfastMA, detect_phases, loss_and_gradients, neuron_spectra,
                               progress_measures, train)

PHASE_COLOURS = {"memorisation": "orange", "circuit formation": "royalblue", "cleanup": "seagreen"}
SNAPSHOTS = 60


QUICK_HELP = ", ".join(f"{k}={v}" for k, v in QUICK_SETTINGS.items())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", type=int, default=97, help="modulus (default 97)")
    parser.add_argument("--width", type=int, default=256, help="hidden neurons (default 256)")
    parser.add_argument("--op", choices=list(OPERATIONS), default="add")
    parser.add_argument("--train-fraction", type=float, default=0.3, help="default 0.3")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    parser.add_argument("--weight-decay", type=float, default=1.0, help="decoupled (default 1.0)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"optimiser steps (default {DEFAULT_STEPS})")
    parser.add_argument("--eval-every", type=int, default=10, help="steps between records (default 10)")
    parser.add_argument("--grokfast", choices=["off", "ema", "ma"], default="off",
                        help="gradient filter with the paper's defaults (default off)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--seed", type=int, default=0)


def plot_run(run, measures, phases):
    """Accuracy, loss and weight norm, the final embedding spectrum and the progress measures."""
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
    power = (spectra.U_power + spectra.V_power)[spectra.order, 1:]
    power /= np.maximum(power.sum(axis=1, keepdims=True), np.finfo(float).tiny)
    spectrum_axes.imshow(power.T, origin="lower", aspect="auto", cmap="viridis",
                         extent=[0, power.shape[0], 0.5, power.shape[1] + 0.5])
    spectrum_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    spectrum_axes.set(xlabel="neuron (sorted by dominant frequency)", ylabel="frequency k",
                      title=f"final embedding spectrum (mean IPR {spectra.ipr.mean():.2f})")
    probe_steps = np.maximum(measures.step, 1)
    probe_axes.loglog(probe_steps, measures.restricted_loss, label="restricted loss")
    probe_axes.loglog(probe_steps, measures.excluded_loss, label="excluded loss")
    probe_axes.set(xlabel="step", ylabel="cross-entropy (train pairs)",
                   title=f"progress measures ({len(measures.key_frequencies)} key frequencies)")
    ipr_axes = probe_axes.twinx()
    ipr_axes.semilogx(probe_steps, measures.mean_ipr, color="black", lw=1, label="mean IPR")
    ipr_axes.set(ylabel="mean IPR", ylim=(0, 1))
    for panel in (accuracy_axes, probe_axes):
        for name, interval in phases.as_dict().items():
            if interval is not None:
                panel.axvspan(max(interval[0], 1), max(interval[1], 1), color=PHASE_COLOURS[name],
                              alpha=0.12, label=name if panel is accuracy_axes else None)
    for panel in (accuracy_axes, loss_axes, probe_axes):
        panel.legend(loc="best", fontsize=8)
    figure.suptitle(f"grokking (a {run.config.op} b) mod {run.config.p}, width {run.config.width}, "
                    f"train fraction {run.config.train_fraction}, weight decay {run.config.weight_decay}")
    figure.tight_layout()
    return figure


def run(args):
    settings = dict(p=args.p, width=args.width, op=args.op, train_fraction=args.train_fraction,
                    lr=args.lr, weight_decay=args.weight_decay, steps=args.steps)
    if args.quick:
        settings.update(QUICK_SETTINGS)
    grokfast = {"off": None, "ema": GrokfastEMA(), "ma": GrokfastMA()}[args.grokfast]
    eval_every = min(args.eval_every, settings["steps"])
    snapshot_every = eval_every * max(1, settings["steps"] // (eval_every * SNAPSHOTS))
    result = train(**settings, seed=args.seed, grokfast=grokfast, eval_every=eval_every,
                   dtype=args.dtype, snapshot_every=snapshot_every)
    measures = progress_measures(result.history, result.task)
    phases = detect_phases(result.history, measures)
    summary = {
        **settings, "seed": args.seed, "grokfast": args.grokfast, "dtype": args.dtype,
        "steps_to_99_train": result.steps_to("train_acc", 0.99),
        "steps_to_95_test": result.steps_to("test_acc", 0.95),
        "steps_to_99_test": result.steps_to("test_acc", 0.99),
        "final_train_acc": float(result.history.train_acc[-1]),
        "final_test_acc": float(result.history.test_acc[-1]),
        "final_weight_norm": float(result.history.weight_norm[-1]),
        "diverged": result.diverged,
        "key_frequencies": measures.key_frequencies.tolist(),
        "phases": phases.as_dict(),
        "training_seconds": round(result.seconds, 3),
        "steps_per_second": round(result.steps_per_second, 1),
    }
    return plot_run(result, measures, phases), summary


def warm() -> None:
    """Compile every grokking kernel, in float32 and float64 (tiny inputs)."""
    for dtype in ("float32", "float64"):
        result = train(p=5, width=4, steps=2, eval_every=1, snapshot_every=1, dtype=dtype)
        progress_measures(result.history, result.task)
        a = np.arange(5)
        loss_and_gradients(result.params, a, a, a)
