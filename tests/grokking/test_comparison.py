"""The Grokfast comparison: the protocols' runs, and what a comparison returns."""

import numpy as np
import pytest

from explorer.grokking import (PAPER_SETTINGS, GrokfastEMA, GrokfastMA, comparison_run,
                               grokfast_comparison, grokfast_configs)

TINY = dict(model="mlp", p=11, width=16, steps=40, eval_every=10, batch_size=32)


def test_the_paper_protocol_is_the_reference_code_s():
    configs = grokfast_configs(["paper"])
    baseline, ma, ema = configs.values()
    for config in configs.values():
        assert (config.model, config.p, config.op, config.nonzero_b) == ("transformer", 97, "multiply", True)
        assert (config.layers, config.width, config.heads, config.batch_size) == (2, 128, 4, 512)
        assert (config.optimizer, config.lr, config.betas, config.warmup_steps) == ("adam", 1e-3, (0.9, 0.98), 10)
        assert config.train_fraction == 0.5
    assert baseline.weight_decay == 0 and baseline.grokfast is None
    assert ma.weight_decay == 0.01 and ma.grokfast == GrokfastMA(window=100, lamb=5.0)
    assert ema.weight_decay == 0.005 and ema.grokfast == GrokfastEMA(alpha=0.98, lamb=2.0)


def test_the_fair_protocol_matches_weight_decay_learning_rate_and_decay_ratio():
    fair = grokfast_configs(["fair"], lr=2e-3)
    assert all(config.grokfast is None for config in fair.values())
    decays_and_rates = sorted((c.weight_decay, c.lr) for c in fair.values())
    # equal decay; equal decay with lr x (1 + lambda); decay / (1 + lambda), one run for both
    expected = [(0.005 / 3, 2e-3), (0.005, 2e-3), (0.005, 6e-3), (0.01, 2e-3), (0.01, 1.2e-2)]
    assert np.allclose(decays_and_rates, expected)


def test_the_batch_protocol_trains_full_batch():
    batch = grokfast_configs(["batch"], model="mlp", p=13)
    assert {c.batch_size for c in batch.values()} == {None}
    assert sorted(c.grokfast is not None for c in batch.values()) == [False, False, False, True, True]
    assert len(grokfast_configs()) == 3 + 5 + 5


@pytest.mark.parametrize("call, error, name", [
    (lambda: grokfast_configs(["paper", "best"]), ValueError, "protocols"),
    (lambda: grokfast_configs("paper"), TypeError, "protocols"),
    (lambda: grokfast_configs([]), ValueError, "protocols"),
    (lambda: grokfast_configs(weight_decay=1.0), ValueError, "weight_decay"),
    (lambda: grokfast_configs(speed=2), ValueError, "speed"),
    (lambda: grokfast_configs(p=2), ValueError, "p"),
    (lambda: grokfast_comparison(threshold=0), ValueError, "threshold"),
    (lambda: grokfast_comparison(callback="stop"), TypeError, "callback"),
])
def test_bad_input_names_the_parameter(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_a_comparison_reports_steps_per_run_and_a_callback_can_stop_it():
    result = grokfast_comparison(["paper"], **TINY)
    assert list(result.steps()) == list(grokfast_configs(["paper"], **TINY))
    assert not result.stopped_early and all(run.finished for run in result.runs)
    for row, run in zip(result.table(), result.runs):
        assert row["steps_done"] == run.history.step[-1] <= TINY["steps"]
        assert row["steps_to_generalise"] is None or row["steps_to_generalise"] == row["steps_done"]
    seen = []
    stopped = grokfast_comparison(["paper", "fair"], **TINY,
                                  callback=lambda partial: seen.append(partial) or len(seen) > 6)
    assert stopped.stopped_early and len(stopped.runs) < 8 and not stopped.runs[-1].finished
    assert seen[-1].runs[-1].label == stopped.runs[-1].label


def test_a_run_stops_at_the_threshold_and_speedups_divide_steps():
    config = grokfast_configs(["paper"], **{**TINY, "steps": 400, "lr": 1e-2})["paper: baseline, wd 0"]
    run = comparison_run("easy", config, threshold=0.05)
    assert run.finished and run.steps_to_generalise == run.history.step[-1] < 400
    result = grokfast_comparison(["paper"], threshold=0.05, **{**TINY, "steps": 400, "lr": 1e-2})
    labels = list(result.steps())
    expected = result.steps()[labels[0]] / max(result.steps()[labels[2]], 1)
    assert result.speedup(labels[2], labels[0]) == pytest.approx(expected)
    with pytest.raises(ValueError, match="label"):
        result.speedup("nothing", labels[0])


def test_the_paper_settings_are_a_plain_copyable_dict():
    assert PAPER_SETTINGS["batch_size"] == 512 and np.isclose(PAPER_SETTINGS["lr"], 1e-3)
