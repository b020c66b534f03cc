"""Training: the numba loop against a numpy reference, AdamW, Adam, warm-up, minibatches,
Grokfast, history and callbacks, the same bits on one thread or two."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.grokking import (QUICK_SETTINGS, GrokfastEMA, GrokfastMA, TrainConfig, init_params,
                               make_task, train, train_from_config)
from explorer.grokking._trainer import BatchSchedule, batch_rng
from tests.grokking import naive

SMALL = dict(p=7, width=6, train_fraction=0.5, seed=3, lr=1e-2, weight_decay=0.5)


def reference_run(steps, grad_filter=None, **settings_):
    """naive.train from the same initial weights, split and batches as train(**SMALL, **settings_)."""
    options = {**SMALL, **settings_}
    optimizer, activation = options.pop("optimizer", "adamw"), options.pop("activation", "quadratic")
    loss = options.pop("loss", "cross_entropy")
    params = init_params(options["p"], options["width"], options["seed"], "float64", activation)
    a, b, labels = make_task(options["p"], "add", options["train_fraction"], options["seed"]).split("train")
    batches = None
    if options.get("batch_size"):
        schedule = BatchSchedule(len(labels), options["batch_size"], batch_rng(options["seed"]))
        rows, starts, stops = schedule.next(steps)
        batches = [rows[start:stop] for start, stop in zip(starts, stops)]
    return naive.train(params.U, params.V, params.W, a, b, labels, steps, options["lr"],
                       options["weight_decay"], optimizer=optimizer, grad_filter=grad_filter,
                       activation=activation, loss=loss, batches=batches,
                       warmup_steps=options.get("warmup_steps", 0))


@pytest.mark.parametrize("settings_, grad_filter, grokfast", [
    ({}, None, None),
    ({"optimizer": "sgd", "lr": 0.5}, None, None),
    ({"activation": "relu", "loss": "mse"}, None, None),
    ({}, naive.EMAFilter(0.9, 2.0), GrokfastEMA(alpha=0.9, lamb=2.0)),
    ({}, naive.MAFilter(4, 5.0), GrokfastMA(window=4, lamb=5.0)),
    ({"optimizer": "sgd", "lr": 0.2}, naive.MAFilter(3, 1.5), GrokfastMA(window=3, lamb=1.5)),
    ({"optimizer": "adam", "warmup_steps": 4}, None, None),
    ({"optimizer": "adam", "warmup_steps": 3}, naive.EMAFilter(0.8, 2.0), GrokfastEMA(alpha=0.8, lamb=2.0)),
    ({"batch_size": 5}, None, None),
    ({"batch_size": 7, "optimizer": "adam", "warmup_steps": 2}, naive.MAFilter(3, 5.0),
     GrokfastMA(window=3, lamb=5.0)),
])
def test_numba_training_matches_the_numpy_reference(settings_, grad_filter, grokfast):
    steps = 12
    run = train(**{**SMALL, **settings_}, steps=steps, eval_every=1, grokfast=grokfast, dtype="float64")
    theta, losses = reference_run(steps, grad_filter, **settings_)
    if "batch_size" not in settings_:  # minibatch records measure the whole training set
        np.testing.assert_allclose(run.history.train_loss[:-1], losses, rtol=1e-10)
    np.testing.assert_allclose(run.params.stacked(), theta, rtol=1e-9, atol=1e-12)


def test_adam_adds_weight_decay_to_the_gradient_and_warm_up_starts_at_rate_zero():
    settings_ = {**SMALL, "dtype": "float64", "optimizer": "adam", "weight_decay": 0.7}
    theta0 = init_params(SMALL["p"], SMALL["width"], SMALL["seed"], "float64").stacked()
    assert np.array_equal(train(**settings_, steps=1, warmup_steps=5).params.stacked(), theta0)
    with_decay = train(**settings_, steps=1).params.stacked()
    without = train(**{**settings_, "weight_decay": 0.0}, steps=1).params.stacked()
    # coupled L2 changes the normalised step itself, not by -lr * wd * theta as AdamW does
    assert not np.allclose(with_decay - without, -SMALL["lr"] * 0.7 * theta0)


def test_minibatches_visit_every_pair_once_per_epoch_in_a_seeded_order():
    schedule = BatchSchedule(23, 5, batch_rng(4))
    rows, starts, stops = schedule.next(10)  # two epochs of 5 + 5 + 5 + 5 + 3
    assert (stops - starts).tolist() == [5, 5, 5, 5, 3] * 2
    for epoch in (rows[:23], rows[23:]):
        assert sorted(epoch.tolist()) == list(range(23))
    assert not np.array_equal(rows[:23], rows[23:])
    again = BatchSchedule(23, 5, batch_rng(4))
    pieces = [again.next(3)[0], again.next(7)[0]]  # cut into other chunks: the same order
    assert np.array_equal(np.concatenate(pieces), rows)
    assert not np.array_equal(BatchSchedule(23, 5, batch_rng(5)).next(10)[0], rows)


@pytest.mark.parametrize("model", ["mlp", "transformer"])
def test_one_or_two_threads_give_the_same_bits(model):
    settings_ = dict(p=23, width=32, train_fraction=0.5, lr=3e-3, steps=30, eval_every=10,
                     model=model, grokfast="ema", batch_size=100, snapshot_every=30)
    previous = numba.get_num_threads()
    runs = []
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            runs.append(train(**settings_))
    finally:
        numba.set_num_threads(previous)
    assert np.array_equal(runs[0].params.stacked(), runs[1].params.stacked())
    assert np.array_equal(runs[0].history.test_loss, runs[1].history.test_loss)


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
        if history.steps_done == history.step[-1]:  # a record, not a checkpoint between two
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
    ({"optimizer": "adagrad"}, "optimizer"), ({"loss": "hinge"}, "loss"), ({"dtype": "int8"}, "dtype"),
    ({"activation": "gelu"}, "activation"), ({"snapshot_every": 0}, "snapshot_every"),
    ({"learning_rate": 0.1}, "learning_rate"), ({"betas": (0.9,)}, "betas"),
    ({"steps": 10**8}, "steps"), ({"batch_size": 0}, "batch_size"), ({"warmup_steps": -1}, "warmup_steps"),
    ({"model": "rnn"}, "model"), ({"model": "transformer", "width": 30, "heads": 4}, "heads"),
    ({"model": "transformer", "layers": 5}, "layers"), ({"d_mlp": 0}, "d_mlp"),
    ({"width": 8, "d_model": 8}, "d_model"),
])
def test_bad_input_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        train(**{"steps": 1, **kwargs})


@pytest.mark.parametrize("kwargs, name", [
    ({"callback": 5}, "callback"), ({"op": ["add"]}, "op"), ({"grokfast": 5}, "grokfast"),
    ({"nonzero_b": 1}, "nonzero_b"),
])
def test_wrong_types_are_type_errors_naming_the_parameter(kwargs, name):
    with pytest.raises(TypeError, match=name):
        train(**{"steps": 1, **kwargs})
    with pytest.raises(TypeError, match="config"):
        train_from_config({"p": 5})


def test_filter_settings_are_stored_as_python_numbers():
    # a numpy scalar would make numba compile the training kernels again
    ema = GrokfastEMA(alpha=np.float32(0.9), lamb=np.float64(2))
    assert type(ema.alpha) is float and type(ema.lamb) is float
    assert GrokfastMA(window=2.0).window == 2 and type(GrokfastMA(window=2.0).window) is int


def test_results_compare_by_identity_and_hash():
    run = train(**SMALL, steps=2, eval_every=1)
    assert run == run and run != train(**SMALL, steps=2, eval_every=1)
    assert isinstance(hash(run), int) and isinstance(hash(run.history), int)


def test_nonzero_b_leaves_out_the_pairs_with_b_zero():
    task = TrainConfig(p=13, op="multiply", train_fraction=0.5, nonzero_b=True).make_task()
    assert task.n_train + task.n_test == 13 * 12
    assert (task.train_pairs[:, 1] > 0).all() and (task.test_pairs[:, 1] > 0).all()
    assert abs(task.n_train - 13 * 12 / 2) < 20


def test_callback_is_also_called_between_records_so_a_stop_is_prompt():
    calls = []

    def callback(history):
        calls.append(history.steps_done)
        return len(calls) == 2  # stop at the first checkpoint after the start

    run = train(p=97, width=256, steps=200_000, eval_every=200_000, callback=callback)
    assert run.stopped_early and 0 < run.history.steps_done < 200_000
    assert calls[0] == 0 and calls[1] > 0  # the second call came between records
    assert run.history.step[-1] == run.history.steps_done


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
