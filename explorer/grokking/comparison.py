"""Grokfast reproduced and judged fairly: the paper's protocol beside a fair one.

The paper (Lee et al. 2024; reference code ironjr/grokfast) trains on ``x * y mod 97`` with
y in 1..96, half of the pairs for training, minibatches of 512, Adam (L2 weight decay, not
AdamW) with lr 1e-3, betas (0.9, 0.98) and 10 warm-up steps. Its baseline has weight decay 0;
Grokfast-MA (window 100, lambda 5) runs with weight decay 0.01 and Grokfast-EMA (alpha 0.98,
lambda 2) with 0.005. It reports 95% validation accuracy after 39,890 / 790 / 910 steps on a
2-layer transformer (width 128, 4 heads, with LayerNorm; ours has none, as in Nanda et al.).

That headline mixes two changes: the filter, and weight decay switched on. The fair protocol
changes one thing at a time: baselines with the filters' own weight decay, baselines with the
learning rate multiplied by ``1 + lambda`` (the filter adds ``lambda`` times the slow part of
the gradient to the gradient, so a slowly varying gradient is scaled ``1 + lambda``; users of
the reference code raised both points), and baselines with the weight decay divided by
``1 + lambda``: Adam ignores the scale of its gradient, and the reference adds the L2 decay
after the filter, so for a slowly varying gradient the filter's only effect is to weaken the
decay that many times. The "batch" protocol asks whether the fast-varying part the filter
suppresses is mostly minibatch noise: the filters' runs and their baselines again, trained
full batch.

:func:`grokfast_configs` lists the runs; :func:`grokfast_comparison` trains them (each stops
once it reaches the threshold) and reports the steps each took.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_callable, check_choice, check_instance, check_range
from explorer.grokking.grokfast import GrokfastEMA, GrokfastMA
from explorer.grokking.history import History
from explorer.grokking.training import TrainConfig, train_from_config

PROTOCOLS = ("paper", "fair", "batch")
#: The Grokfast paper's training settings (the reference main.py's defaults and README).
PAPER_SETTINGS = {"model": "transformer", "p": 97, "op": "multiply", "nonzero_b": True,
                  "train_fraction": 0.5, "width": 128, "heads": 4, "layers": 2,
                  "optimizer": "adam", "lr": 1e-3, "betas": (0.9, 0.98), "warmup_steps": 10,
                  "batch_size": 512}
PAPER_MA, PAPER_EMA = GrokfastMA(window=100, lamb=5.0), GrokfastEMA(alpha=0.98, lamb=2.0)
FILTERS = {"ma": PAPER_MA, "ema": PAPER_EMA}
PAPER_DECAY = {"none": 0.0, "ma": 0.01, "ema": 0.005}
#: Steps to 95% validation accuracy that the paper reports (README of ironjr/grokfast).
PAPER_STEPS = {"baseline": 39_890, "ma": 790, "ema": 910}


def grokfast_configs(protocols=PROTOCOLS, **settings) -> dict[str, TrainConfig]:
    """The labelled runs of each protocol, as validated :class:`TrainConfig` objects.

    Parameters
    ----------
    protocols : sequence of {"paper", "fair", "batch"}, default all three
        "paper": baseline (wd 0), Grokfast-MA (wd 0.01), Grokfast-EMA (wd 0.005).
        "fair": baselines with the filters' weight decays, with the learning rate times
        ``1 + lambda`` at those decays, and with the decays divided by ``1 + lambda`` (one
        run: both give 0.00167). "batch": the filters and those baselines but the lr-scaled
        ones, full batch.
    **settings
        :class:`TrainConfig` fields that replace :data:`PAPER_SETTINGS` (``steps``, ``seed``,
        ``model``, ``p``, ``width``, ``batch_size``, ``eval_every``, ...); not
        ``weight_decay`` or ``grokfast``, which the protocols set.

    Returns
    -------
    dict of str to TrainConfig
        In protocol order; labels say protocol, filter, weight decay and learning rate.
    """
    if isinstance(protocols, str) or not hasattr(protocols, "__iter__"):
        raise TypeError(f"protocols must be a sequence of {PROTOCOLS}, got {protocols!r}")
    protocols = [check_choice("protocols", name, PROTOCOLS) for name in protocols]
    if not protocols:
        raise ValueError(f"protocols must name at least one of {PROTOCOLS}")
    for name in ("weight_decay", "grokfast"):
        if name in settings:
            raise ValueError(f"{name} is set by the protocols; leave it out of the settings")
    unknown = set(settings) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown training setting(s) {sorted(unknown)}")
    base = {**PAPER_SETTINGS, **settings}
    lr = base["lr"]
    runs = {}
    for protocol in protocols:
        if protocol == "paper":
            runs["paper: baseline, wd 0"] = dict(base, weight_decay=0.0)
            for kind, grokfast in FILTERS.items():
                runs[f"paper: {_name(kind)}, wd {PAPER_DECAY[kind]}"] = dict(
                    base, weight_decay=PAPER_DECAY[kind], grokfast=grokfast)
        elif protocol == "fair":
            for kind, grokfast in FILTERS.items():
                decay, scale = PAPER_DECAY[kind], 1 + grokfast.lamb
                runs[f"fair: baseline, wd {decay}"] = dict(base, weight_decay=decay)
                runs[f"fair: baseline, wd {decay}, lr x{scale:g}"] = dict(
                    base, weight_decay=decay, lr=lr * scale)
            runs.update(_decay_matched("fair", base))
        else:
            full = dict(base, batch_size=None)
            for kind, grokfast in FILTERS.items():
                decay = PAPER_DECAY[kind]
                runs[f"full batch: baseline, wd {decay}"] = dict(full, weight_decay=decay)
                runs[f"full batch: {_name(kind)}, wd {decay}"] = dict(
                    full, weight_decay=decay, grokfast=grokfast)
            runs.update(_decay_matched("full batch", full))
    return {label: TrainConfig(**config) for label, config in runs.items()}


def _name(kind: str) -> str:
    return f"Grokfast-{kind.upper()}"


def _decay_matched(protocol: str, base: dict) -> dict:
    """Baselines whose L2 weight decay is the filter's divided by ``1 + lambda``.

    Adam's step does not change when its gradient is scaled, so a filter that multiplies a
    slowly varying gradient by ``1 + lambda`` acts on it like Adam with the L2 decay
    (added after the filter) divided by ``1 + lambda``. The paper's two filters give the
    same decay (0.005 / 3 = 0.01 / 6), so they share one run.
    """
    matched: dict[float, list[str]] = {}
    for kind, grokfast in FILTERS.items():
        decay = PAPER_DECAY[kind] / (1 + grokfast.lamb)
        matched.setdefault(round(decay, 12), []).append(
            f"{PAPER_DECAY[kind]} / {1 + grokfast.lamb:g}")
    return {f"{protocol}: baseline, wd {decay:.3g} (= {' = '.join(origins)})": dict(
        base, weight_decay=decay) for decay, origins in matched.items()}


@dataclass(frozen=True, eq=False)
class ComparisonRun:
    """One run of a comparison.

    Attributes
    ----------
    label : str
    config : TrainConfig
    steps_to_generalise : int or None
        First recorded step with test accuracy >= the threshold; None if never (within
        ``config.steps``, or before diverging or a stop).
    steps_to_memorise : int or None
        First recorded step with train accuracy >= the threshold; None if never.
    final_test_acc : float
    diverged, finished : bool
        ``finished``: the run reached the threshold or its step budget (False if stopped).
    seconds : float
    history : History
    """

    label: str
    config: TrainConfig
    steps_to_generalise: int | None
    steps_to_memorise: int | None
    final_test_acc: float
    diverged: bool
    finished: bool
    seconds: float
    history: History


@dataclass(frozen=True, eq=False)
class GrokfastComparison:
    """Runs of :func:`grokfast_comparison`, in protocol order.

    Attributes
    ----------
    runs : tuple of ComparisonRun
    threshold : float
    stopped_early : bool
        The callback stopped the comparison (the last run may be unfinished; later ones
        are missing).
    """

    runs: tuple
    threshold: float
    stopped_early: bool

    def steps(self) -> dict:
        """Label -> steps to the threshold (None: never), for the runs done."""
        return {run.label: run.steps_to_generalise for run in self.runs}

    def table(self) -> list[dict]:
        """One plain dict per run (label, steps to memorise and generalise, final test
        accuracy, steps taken, seconds), for printing or JSON."""
        return [{"label": run.label, "steps_to_memorise": run.steps_to_memorise,
                 "steps_to_generalise": run.steps_to_generalise,
                 "final_test_acc": round(run.final_test_acc, 4),
                 "steps_done": int(run.history.step[-1]), "diverged": run.diverged,
                 "finished": run.finished, "seconds": round(run.seconds, 1)}
                for run in self.runs]

    def speedup(self, label: str, baseline: str) -> float | None:
        """``baseline``'s steps to the threshold over ``label``'s (None if either never got
        there)."""
        steps = self.steps()
        check_choice("label", label, steps)
        check_choice("baseline", baseline, steps)
        if steps[label] is None or steps[baseline] is None:
            return None
        return steps[baseline] / max(steps[label], 1)


def comparison_run(label: str, config: TrainConfig, threshold: float = 0.95,
                   callback=None) -> ComparisonRun:
    """Train one labelled config until its test accuracy reaches ``threshold``.

    ``callback(history)`` as for :func:`~explorer.grokking.train`; True stops the run.
    """
    check_instance("label", label, str)
    threshold = check_range("threshold", threshold, lo=0, hi=1, lo_open=True)
    check_callable("callback", callback)
    asked = []

    def until_threshold(history):
        if callback is not None and callback(history):
            asked.append(True)
            return True
        return bool(history.test_acc[-1] >= threshold)

    run = train_from_config(config, until_threshold)
    return ComparisonRun(label, config, run.steps_to("test_acc", threshold),
                         run.steps_to("train_acc", threshold), float(run.history.test_acc[-1]),
                         run.diverged, not asked, run.seconds, run.history)


def grokfast_comparison(protocols=PROTOCOLS, threshold: float = 0.95, callback=None,
                        **settings) -> GrokfastComparison:
    """Train the runs of :func:`grokfast_configs` one after another; steps to ``threshold``.

    Parameters
    ----------
    protocols : sequence of {"paper", "fair", "batch"}, default all three
        See :func:`grokfast_configs`.
    threshold : float, default 0.95
        Test accuracy that counts as generalised, in (0, 1]; each run stops there.
    callback : callable, optional
        ``callback(partial)`` with the :class:`GrokfastComparison` so far, whose last run is
        the one in progress (``finished=False``), at every record of it and at least every
        half second; True stops the comparison (``stopped_early``).
    **settings
        Training settings that replace :data:`PAPER_SETTINGS`, e.g. ``steps=3000``,
        ``model="mlp"``, ``p=31``, ``seed=1``, ``eval_every=50``.

    Returns
    -------
    GrokfastComparison
        ``steps()`` maps each label to its steps to the threshold (None: never).

    Examples
    --------
    >>> result = grokfast_comparison(["paper"], model="mlp", p=11, width=16, steps=20,
    ...                              eval_every=10, batch_size=32)
    >>> list(result.steps())
    ['paper: baseline, wd 0', 'paper: Grokfast-MA, wd 0.01', 'paper: Grokfast-EMA, wd 0.005']
    """
    threshold = check_range("threshold", threshold, lo=0, hi=1, lo_open=True)
    check_callable("callback", callback)
    configs = grokfast_configs(protocols, **settings)
    done: list[ComparisonRun] = []
    for label, config in configs.items():
        def progress(history, label=label, config=config):
            partial = ComparisonRun(label, config, history.steps_to("test_acc", threshold),
                                    history.steps_to("train_acc", threshold),
                                    float(history.test_acc[-1]), False, False, np.nan, history)
            return bool(callback(GrokfastComparison((*done, partial), threshold, False)))

        run = comparison_run(label, config, threshold, None if callback is None else progress)
        done.append(run)
        if not run.finished:
            return GrokfastComparison(tuple(done), threshold, True)
    return GrokfastComparison(tuple(done), threshold, False)
