"""Grokking on modular arithmetic: tasks, a numba-trained MLP and transformer, Fourier
probes, Grokfast reproduced and compared fairly.

A two-layer MLP ``logits = W act(U[a] + V[b])`` (or the one- or two-layer transformer of
Nanda et al., ``train(model="transformer")``) trained with AdamW on ``(a op b) mod p`` first
memorises its training pairs and, thousands of steps later and only with weight decay,
generalises. The Fourier probes show the circuit that forms in between;
:func:`grokfast_comparison` runs the Grokfast paper's protocol beside a fair one.

Examples
--------
>>> from explorer.grokking import train
>>> run = train(p=23, width=64, steps=200, eval_every=100)
>>> run.history.step.tolist()
[0, 100, 200]
"""

from explorer.grokking.analysis import PowerLaw, power_law_fit, smooth, summarise_over_seeds
from explorer.grokking.comparison import (PAPER_SETTINGS, PAPER_STEPS, ComparisonRun,
                                          GrokfastComparison, comparison_run,
                                          grokfast_comparison, grokfast_configs)
from explorer.grokking.fourier import (FourierProbe, NeuronSpectra, dominant_frequencies,
                                       excluded_loss, fourier_ablation_losses, fourier_gini,
                                       frequency_histogram, gini, ipr, key_frequencies,
                                       neuron_spectra, probe, restricted_loss)
from explorer.grokking.grokfast import GrokfastEMA, GrokfastMA
from explorer.grokking.groups import (canonical_group, conjugacy_classes, element_names,
                                      group_inverses, group_order, group_table, is_abelian)
from explorer.grokking.irreps import Irreps, irreps
from explorer.grokking.model import (Params, accuracy, analytic_solution, as_params, init_params,
                                     logits, loss_and_gradients)
from explorer.grokking.progress import Phases, ProgressMeasures, detect_phases, progress_measures
from explorer.grokking.representations import (GroupFourier, NeuronIrreps, group_fourier,
                                               neuron_irreps)
from explorer.grokking.scaling import (ScalingResult, candidate_sizes, combine_scaling_results,
                                      scaling_sweep)
from explorer.grokking.scaling_fit import (LI2_CONSTANT, PowerLawFit, ScalingFit, fit_power_law,
                                           fit_scaling_law)
from explorer.grokking.sweep import (GridPointResult, SweepResult, grid_configs, run_grid_point,
                                     sweep)
from explorer.grokking.tasks import OPERATIONS, Task, make_task
from explorer.grokking.training import (DEFAULT_STEPS, NANDA_SETTINGS, QUICK_SETTINGS,
                                        TRANSFORMER_SETTINGS, History, Run, TrainConfig, train,
                                        train_from_config)
from explorer.grokking.transformer import TransformerParams, init_transformer

__all__ = [
    "DEFAULT_STEPS", "OPERATIONS", "QUICK_SETTINGS", "FourierProbe", "GridPointResult",
    "GrokfastEMA", "GrokfastMA", "History", "NeuronSpectra", "Params", "Phases",
    "ProgressMeasures", "Run", "SweepResult", "Task", "TrainConfig", "accuracy",
    "analytic_solution", "as_params", "detect_phases", "dominant_frequencies", "excluded_loss",
    "fourier_ablation_losses", "fourier_gini", "frequency_histogram", "gini", "grid_configs",
    "init_params", "ipr", "key_frequencies", "logits", "loss_and_gradients", "make_task",
    "neuron_spectra", "probe", "progress_measures", "restricted_loss", "run_grid_point",
    "sweep", "train", "train_from_config",
    # finite groups
    "GroupFourier", "Irreps", "NeuronIrreps", "canonical_group", "conjugacy_classes",
    "element_names", "group_fourier", "group_inverses", "group_order", "group_table", "irreps",
    "is_abelian", "neuron_irreps",
    # Li2's scaling law
    "LI2_CONSTANT", "PowerLawFit", "ScalingFit", "ScalingResult", "candidate_sizes",
    "combine_scaling_results", "fit_power_law", "fit_scaling_law", "scaling_sweep",
    # the transformer
    "NANDA_SETTINGS", "TRANSFORMER_SETTINGS", "TransformerParams", "init_transformer",
    # Grokfast, reproduced and compared fairly
    "PAPER_SETTINGS", "PAPER_STEPS", "ComparisonRun", "GrokfastComparison", "comparison_run",
    "grokfast_comparison", "grokfast_configs",
    # small analyses shared by views and lessons
    "PowerLaw", "power_law_fit", "smooth", "summarise_over_seeds",
]
