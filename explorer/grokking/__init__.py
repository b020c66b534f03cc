"""Grokking on modular arithmetic: tasks, a numba-trained MLP, Fourier probes, Grokfast.

A two-layer MLP ``logits = W act(U[a] + V[b])`` trained full-batch with AdamW on
``(a op b) mod p`` first memorises its training pairs and, thousands of steps later and only
with weight decay, generalises. The Fourier probes show the circuit that forms in between.

Examples
--------
>>> from explorer.grokking import train
>>> run = train(p=23, width=64, steps=200, eval_every=100)
>>> run.history.step.tolist()
[0, 100, 200]
"""

from explorer.grokking.fourier import (FourierProbe, NeuronSpectra, dominant_frequencies,
                                       excluded_loss, fourier_ablation_losses, fourier_gini,
                                       frequency_histogram, gini, ipr, key_frequencies,
                                       neuron_spectra, probe, restricted_loss)
from explorer.grokking.grokfast import GrokfastEMA, GrokfastMA
from explorer.grokking.model import (Params, accuracy, analytic_solution, as_params, init_params,
                                     logits, loss_and_gradients)
from explorer.grokking.progress import Phases, ProgressMeasures, detect_phases, progress_measures
from explorer.grokking.sweep import (GridPointResult, SweepResult, grid_configs, run_grid_point,
                                     sweep)
from explorer.grokking.tasks import OPERATIONS, Task, make_task
from explorer.grokking.training import (DEFAULT_STEPS, QUICK_SETTINGS, History, Run, TrainConfig,
                                        train, train_from_config)

__all__ = [
    "DEFAULT_STEPS", "OPERATIONS", "QUICK_SETTINGS", "FourierProbe", "GridPointResult",
    "GrokfastEMA", "GrokfastMA", "History", "NeuronSpectra", "Params", "Phases",
    "ProgressMeasures", "Run", "SweepResult", "Task", "TrainConfig", "accuracy",
    "analytic_solution", "as_params", "detect_phases", "dominant_frequencies", "excluded_loss",
    "fourier_ablation_losses", "fourier_gini", "frequency_histogram", "gini", "grid_configs",
    "init_params", "ipr", "key_frequencies", "logits", "loss_and_gradients", "make_task",
    "neuron_spectra", "probe", "progress_measures", "restricted_loss", "run_grid_point",
    "sweep", "train", "train_from_config",
]
