"""Training: the numba loop against a numpy reference, AdamW, Grokfast, history and callbacks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.grokking import (QUICK_SETTINGS, GrokfastEMA, GrokfastMA, init_params, make_task,
                               train)
from tests.grokking import naive

SMALL = dict(p=7, width=6, train_fraction=0.5, seed=3, lr=1e-2, weight_decay=0.5)


def reference_run(steps, grad_filter=None, **settings_):
    """naive.train from the same initial weights and split as train(**SMALL, **settings_)."""
    options = {**SMALL, **settings_}
    optimizer, activation = options.pop("optimizer", "adamw"), options.pop("activation", "quadratic")
    loss = options.pop("loss", "cross_entropy")
    params = init_params(options["p"], options["width"], options["seed"], "float64", activation)
    a, b, labels = make_task(options["p"], "add", options["train_fraction"], options["seed"]).split("train")
    return naive.train(params.U, params.V, params.W, a, b, labels, steps, options["lr"],
                       options["weight_decay"], optimizer=optimizer, grad_filter=grad_filter,
                       activation=activation, loss=loss)


@pytest.mark.parametrize("settings_, grad_filter, grokfast", [
    ({}, None, None),
    ({"optimizer": "sgd", "lr": 0.5}, None, None),
    ({"activation": "relu", "loss": "mse"}, None, None),
    ({}, naive.EMAFilter(0.9, 2.0), GrokfastEMA(alpha=0.9, lamb=2.0)),
    ({}, naive.MAFilter(4, 5.0), GrokfastMA(window=4, lamb=5.0)),
    ({"optimizer": "sgd", "lr": 0.2}, naive.MAFilter(3, 1.5), GrokfastMA(window=3, lamb=1.5)),
])
def test_numba_training_matches_the_numpy_reference(settings_, grad_filter, grokfast):
    steps = 12
    run = train(**{**SMALL, **settings_}, steps=steps, eval_every=1, grokfast=grokfast, dtype="float64")
    theta, losses = reference_run(steps, grad_filter, **settings_)
    np.testing.assert_allclose(run.history.train_loss[:-1], losses, rtol=1e-10)
    np.testing.assert_allclose(run.params.stacked(), theta, rtol=1e-9, atol=1e-12)


def test_float32_training_follows_the_float64_reference():
    run = train(**SMALL, steps=12, eval_every=1)
    theta, losses = reference_run(12)
    assert run.params.dtype == np.float32
    np.testing.assert_allclose(run.history.train_loss[:-1], losses, rtol=1e-4)
    np.testing.assert_allclose(run.params.stacked(), theta, rtol=1e-3, atol=1e-5)


def test_adamw_weight_decay_is_decoupled_from_the_adaptive_step():
    """One step: decay only adds -lr * wd * theta; coupled L2 would be rescaled by Adam."""
    settings_ = {**SMALL, "steps": 1, "dtype": "float64"}
    without = train(**{**settings_, "weight_decay": 0.0}).params.stacked()
    with_decay = train(**{**settings_, "weight_decay": 0.7}).params.stacked()
    theta0 = init_params(SMALL["p"], SMALL["width"], SMALL["seed"], "float64").stacked()
    np.testing.assert_allclose(with_decay - without, -SMALL["lr"] * 0.7 * theta0, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("grokfast", [GrokfastEMA(lamb=0.0), GrokfastMA(window=5, lamb=0.0)])
def test_grokfast_with_lambda_zero_reproduces_the_baseline_exactly(grokfast):
    baseline = train(**SMALL, steps=60, eval_every=10)
    filtered = train(**SMALL, steps=60, eval_every=10, grokfast=grokfast)
    assert np.array_equal(baseline.params.stacked(), filtered.params.stacked())
    assert np.array_equal(baseline.history.test_loss, filtered.history.test_loss)


def test_grokfast_changes_training_when_lambda_is_positive():
    baseline = train(**SMALL, steps=30, eval_every=10)
    assert not np.array_equal(baseline.params.stacked(),
                              train(**SMALL, steps=30, eval_every=10, grokfast="ema").params.stacked())


def test_same_seed_same_run_other_seed_other_run():
    first, again = (train(**SMALL, steps=40, eval_every=10) for _ in range(2))
    other = train(**{**SMALL, "seed": 4}, steps=40, eval_every=10)
    for name in ("train_loss", "test_loss", "test_acc", "weight_norm"):
        assert np.array_equal(getattr(first.history, name), getattr(again.history, name))
    assert np.array_equal(first.params.stacked(), again.params.stacked())
    assert not np.array_equal(first.history.train_loss, other.history.train_loss)


def test_history_records_and_snapshots():
    run = train(**SMALL, steps=55, eval_every=10, snapshot_every=20)
    history = run.history
    assert history.step.tolist() == [0, 10, 20, 30, 40, 50, 55]
    assert history.snapshot_step.tolist() == [0, 20, 40, 55]
    assert np.array_equal(history.snapshots[-1].stacked(), run.params.stacked())
    assert history.weight_norm[-1] == pytest.approx(run.params.weight_norm)
    assert not run.diverged and not run.stopped_early and run.steps_done == 55
    assert run.steps_per_second > 0


def test_callback_streams_partial_history_and_can_stop():
    seen = []

    def callback(history):
        seen.append(history.step.copy())
        return history.step[-1] >= 30

    run = train(**SMALL, steps=100, eval_every=10, callback=callback)
    assert [s.tolist() for s in seen] == [[0], [0, 10], [0, 10, 20], [0, 10, 20, 30]]
    assert run.stopped_early and run.steps_done == 30 and run.history.step[-1] == 30


def test_divergence_is_a_flagged_result():
    run = train(p=11, width=8, lr=10.0, weight_decay=0.0, optimizer="sgd", steps=200, eval_every=50)
    assert run.diverged and not np.isfinite(run.history.train_loss[-1])
    assert run.steps_done < 200


def test_steps_to_reads_the_first_crossing():
    run = train(**SMALL, steps=100, eval_every=10)
    assert run.steps_to("train_acc", 0.0) == 0
    assert run.steps_to("train_loss", 1e9) == 0
    assert run.steps_to("test_acc", 1.5) is None
    with pytest.raises(ValueError, match="metric"):
        run.steps_to("accuracy", 0.5)


def test_a_short_real_run_memorises_then_generalises():
    run = train(**QUICK_SETTINGS, eval_every=10)
    memorised = run.steps_to("train_acc", 0.99)
    assert memorised is not None and memorised <= 200
    test_at_memorisation = run.history.test_acc[run.history.step == memorised][0]
    assert test_at_memorisation < 0.1  # memorised, but no better than chance on the test pairs
    assert run.steps_to("test_acc", 0.5) > 2 * memorised
    assert run.history.test_acc[-1] >= 0.95


def test_without_weight_decay_the_short_run_does_not_generalise():
    run = train(**{**QUICK_SETTINGS, "weight_decay": 0.0}, eval_every=100)
    assert run.history.train_acc[-1] == 1.0 and run.history.test_acc[-1] < 0.2


@pytest.mark.parametrize("kwargs, name", [
    ({"p": 2}, "p"), ({"width": 0}, "width"), ({"train_fraction": 1.2}, "train_fraction"),
    ({"train_fraction": 0}, "train_fraction"), ({"lr": -1e-3}, "lr"), ({"lr": 0}, "lr"),
    ({"weight_decay": -0.1}, "weight_decay"), ({"op": "divide"}, "op"), ({"steps": 0}, "steps"),
    ({"eval_every": 0}, "eval_every"), ({"seed": -2}, "seed"), ({"grokfast": "fast"}, "grokfast"),
    ({"betas": (0.9, 1.0)}, "betas"), ({"betas": 0.9}, "betas"), ({"eps": 0}, "eps"),
    ({"optimizer": "adam"}, "optimizer"), ({"loss": "hinge"}, "loss"), ({"dtype": "int8"}, "dtype"),
    ({"activation": "gelu"}, "activation"), ({"snapshot_every": 0}, "snapshot_every"),
    ({"learning_rate": 0.1}, "learning_rate"),
])
def test_bad_input_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        train(**{"steps": 1, **kwargs})


@pytest.mark.parametrize("make, name", [(lambda: GrokfastEMA(alpha=1.0), "alpha"),
                                        (lambda: GrokfastEMA(lamb=-1), "lamb"),
                                        (lambda: GrokfastMA(window=0), "window"),
                                        (lambda: GrokfastMA(lamb=float("nan")), "lamb")])
def test_bad_grokfast_settings_name_the_parameter(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@settings(max_examples=30, deadline=None)
@given(lr=st.floats(max_value=0, allow_nan=False), weight_decay=st.floats(max_value=-1e-12))
def test_non_positive_rates_are_refused(lr, weight_decay):
    with pytest.raises(ValueError, match="lr"):
        train(lr=lr, steps=1)
    with pytest.raises(ValueError, match="weight_decay"):
        train(weight_decay=weight_decay, steps=1)
