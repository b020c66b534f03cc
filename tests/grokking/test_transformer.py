"""The transformer: forward and backward against tests/grokking/naive.py, finite differences,
training against the numpy reference and PyTorch, probes of its embedding and logits."""

import numpy as np
import pytest

from explorer.grokking import (TransformerParams, accuracy, fourier_ablation_losses,
                               init_transformer, key_frequencies, logits, loss_and_gradients,
                               make_task, neuron_spectra, probe, train)
from explorer.grokking._trainer import BatchSchedule, batch_rng
from tests.grokking import naive

FIELDS = ("embed", "pos", "qkv", "out", "w_in", "b_in", "w_out", "b_out", "unembed")


def perturbed(p=7, layers=1, activation="relu", dtype="float64", seed=1, scale=0.3):
    """Weights larger than at initialisation and non-zero biases, so every term matters."""
    params = init_transformer(p, 8, 2, 12, layers, seed, dtype, activation)
    rng = np.random.default_rng(seed + 10)
    weights = {name: (getattr(params, name) + scale * rng.standard_normal(getattr(params, name).shape))
               .astype(dtype) for name in FIELDS}
    return TransformerParams(**weights, heads=2, activation=activation), weights


def pairs(p, n=40, seed=3):
    return np.random.default_rng(seed).integers(0, p, size=(3, n))


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("activation", ["relu", "quadratic"])
def test_forward_and_backward_match_the_naive_full_sequence(layers, activation):
    params, weights = perturbed(layers=layers, activation=activation)
    a, b, labels = pairs(7)
    expected = naive.transformer_forward(weights, a, b, 2, activation)[0]
    np.testing.assert_allclose(logits(params, a, b), expected, rtol=1e-10, atol=1e-12)
    value, grads = loss_and_gradients(params, a, b, labels)
    reference_value, reference = naive.transformer_loss_and_gradients(weights, a, b, labels, 2,
                                                                      activation)
    assert value == pytest.approx(reference_value, rel=1e-10)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(grads, name), reference[name], rtol=1e-8,
                                   atol=1e-10 * np.abs(reference[name]).max(), err_msg=name)


def test_float32_gradients_follow_the_float64_ones():
    params64, _ = perturbed(layers=2)
    params32 = TransformerParams(**{name: getattr(params64, name).astype(np.float32) for name in FIELDS},
                                 heads=2)
    a, b, labels = pairs(7)
    value64, grads64 = loss_and_gradients(params64, a, b, labels)
    value32, grads32 = loss_and_gradients(params32, a, b, labels)
    assert grads32.dtype == np.float32 and value32 == pytest.approx(value64, rel=1e-5)
    np.testing.assert_allclose(grads32.stacked(), grads64.stacked(), rtol=2e-3,
                               atol=2e-4 * np.abs(grads64.stacked()).max())


@pytest.mark.parametrize("layers", [1, 2])
def test_gradients_match_central_finite_differences(layers):
    params, _ = perturbed(layers=layers, seed=4)
    a, b, labels = pairs(7, seed=5)
    theta = params.stacked()
    analytic = loss_and_gradients(params, a, b, labels)[1].stacked()
    model = params.model()
    step = 1e-6
    for index in np.random.default_rng(0).integers(0, theta.size, size=40):
        shifted = []
        for sign in (1, -1):
            moved = theta.copy()
            moved[index] += sign * step
            shifted.append(loss_and_gradients(model.params(moved), a, b, labels)[0])
        assert (shifted[0] - shifted[1]) / (2 * step) == pytest.approx(analytic[index], rel=1e-5,
                                                                        abs=1e-8)


def test_the_flat_layout_round_trips():
    params = init_transformer(p=11, d_model=16, heads=4, d_mlp=24, layers=2, seed=3)
    again = params.model().params(params.stacked())
    for name in FIELDS:
        assert np.array_equal(getattr(again, name), getattr(params, name))
    assert (again.p, again.d_model, again.heads, again.d_mlp, again.layers) == (11, 16, 4, 24, 2)


SMALL = dict(model="transformer", p=7, width=8, heads=2, d_mlp=12, train_fraction=0.6, seed=2,
             lr=1e-2, dtype="float64")


@pytest.mark.parametrize("options, grad_filter", [
    ({}, None),
    ({"layers": 2, "optimizer": "adam", "warmup_steps": 3, "weight_decay": 0.01,
      "grokfast": "ema"}, naive.EMAFilter(0.98, 2.0)),
    ({"batch_size": 6, "grokfast": "ma"}, naive.MAFilter(100, 5.0)),
])
def test_training_matches_the_numpy_reference(options, grad_filter):
    settings = {**SMALL, "weight_decay": 0.5, **options}
    steps = 10
    run = train(**settings, steps=steps, eval_every=1)
    task = make_task(7, "add", settings["train_fraction"], settings["seed"])
    a, b, labels = task.split("train")
    start = init_transformer(7, 8, 2, 12, settings.get("layers", 1), settings["seed"], "float64")
    model = start.model()

    def gradient(theta, rows):
        value, grads = naive.transformer_loss_and_gradients(
            {name: getattr(model.params(theta), name) for name in FIELDS}, a[rows], b[rows],
            labels[rows], 2)
        return value, flatten(grads, model)

    batches = None
    if settings.get("batch_size"):
        rows, starts, stops = BatchSchedule(len(labels), settings["batch_size"],
                                            batch_rng(settings["seed"])).next(steps)
        batches = [rows[start:stop] for start, stop in zip(starts, stops)]
    theta, _ = naive.optimise(start.stacked(), gradient, len(labels), steps, settings["lr"],
                              settings["weight_decay"], optimizer=settings.get("optimizer", "adamw"),
                              grad_filter=grad_filter, batches=batches,
                              warmup_steps=settings.get("warmup_steps", 0))
    np.testing.assert_allclose(run.params.stacked(), theta, rtol=1e-8, atol=1e-11)


def flatten(grads, model):
    """The naive gradient dict in the kernels' flat order."""
    return TransformerParams(**grads, heads=model.heads).stacked()


def test_a_few_steps_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    params = init_transformer(p=11, d_model=16, heads=4, d_mlp=32, layers=2, seed=0)
    task = make_task(11, "add", 0.5, seed=0)
    a, b, labels = task.split("train")
    run = train(model="transformer", p=11, width=16, heads=4, d_mlp=32, layers=2, lr=3e-3,
                weight_decay=1.0, train_fraction=0.5, steps=5, eval_every=1, seed=0)
    weights = {name: torch.nn.Parameter(torch.from_numpy(getattr(params, name).copy()))
               for name in FIELDS}
    optimiser = torch.optim.AdamW(list(weights.values()), lr=3e-3, betas=(0.9, 0.98), eps=1e-8,
                                  weight_decay=1.0)
    tokens = torch.from_numpy(np.stack([a, b, np.full_like(a, 11)], axis=1))
    target = torch.from_numpy(labels)
    losses = []
    for _ in range(5):
        optimiser.zero_grad()
        x = weights["embed"][tokens] + weights["pos"]
        for layer in range(2):
            q, k, v = (part.reshape(len(a), 3, 4, 4).transpose(1, 2)
                       for part in (x @ weights["qkv"][layer]).split(16, dim=-1))
            mixed = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + mixed.transpose(1, 2).reshape(len(a), 3, 16) @ weights["out"][layer]
            hidden = torch.relu(x @ weights["w_in"][layer] + weights["b_in"][layer])
            x = x + hidden @ weights["w_out"][layer] + weights["b_out"][layer]
        loss = torch.nn.functional.cross_entropy(x[:, -1] @ weights["unembed"], target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    np.testing.assert_allclose(run.history.train_loss[:5], losses, rtol=2e-5)
    final = TransformerParams(**{n: w.detach().numpy() for n, w in weights.items()}, heads=4)
    np.testing.assert_allclose(run.params.stacked(), final.stacked(), rtol=1e-3, atol=1e-5)


def test_group_tasks_train_with_the_group_order_as_vocabulary():
    run = train(model="transformer", group="dihedral:5", width=8, heads=2, steps=3, eval_every=3)
    assert run.task.p == 10 and run.params.p == 10 and run.params.embed.shape == (11, 8)
    assert 0 <= accuracy(run.params, run.task) <= 1


def test_key_frequencies_and_losses_read_the_embedding_and_the_logits():
    p = 13
    params = init_transformer(p=p, d_model=16, heads=2, d_mlp=16, seed=1, dtype="float64")
    t = np.arange(p)[:, None]
    embed = params.embed.copy()
    embed[:p] = 0.01 * embed[:p] + np.hstack([np.cos(2 * np.pi * 3 * t / p + np.arange(8)),
                                              np.sin(2 * np.pi * 5 * t / p + np.arange(8))])
    tuned = TransformerParams(**{**{n: getattr(params, n) for n in FIELDS}, "embed": embed},
                              heads=2)
    assert sorted(key_frequencies(tuned).tolist()) == [3, 5]
    assert key_frequencies(params).size == 0  # random embedding: no frequency stands out
    spectra = neuron_spectra(tuned)
    assert spectra.U_power.shape == (16, p // 2 + 1) and spectra.W_power.shape == (16, p // 2 + 1)
    task = make_task(p, "add", 0.5, seed=0)
    a, b, labels = task.split("train")
    every = np.divmod(np.arange(p * p), p)
    expected = naive.ablation_losses_of_logits(logits(tuned, *every).astype(float), a, b, labels,
                                               [3, 5])
    np.testing.assert_allclose(fourier_ablation_losses(tuned, task, [3, 5]), expected, rtol=1e-9)
    summary = probe(tuned, task)
    assert summary.key_frequencies.tolist() == key_frequencies(tuned).tolist()


@pytest.mark.parametrize("call, name", [
    (lambda: init_transformer(d_model=30, heads=4), "heads"),
    (lambda: init_transformer(layers=0), "layers"),
    (lambda: init_transformer(p=2), "p"),
    (lambda: init_transformer(d_mlp=10**5), "d_mlp"),
    (lambda: TransformerParams(*(np.zeros((1, 1)),) * 9), "p"),
    (lambda: logits(init_transformer(p=5, d_model=4, heads=2, d_mlp=4), [0, 5], [0, 0]), "a"),
    # flat weights of d_mlp 4 read with d_mlp 1: the sizes may be what is wrong, so both named
    (lambda: TransformerParams.from_stacked(init_transformer(p=5, d_model=4, heads=2, d_mlp=4)
                                            .stacked(), 5, 4, 2, 1, 1), "theta.*d_mlp=1"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_cross_entropy_stays_finite_for_logit_gaps_of_thousands():
    # the kernels' exp(x <= 0) once overflowed below x = -5000 (truncated series, squared ten times)
    from explorer.grokking._kernels import _exp_nonpositive

    x = np.array([0.0, -1.0, -50.0, -700.0, -800.0, -5000.0, -1e6, -1e300])
    values = np.array([_exp_nonpositive(v) for v in x])
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    np.testing.assert_allclose(values[:3], np.exp(x[:3]), rtol=1e-12)
    assert values[3:].max() < 1e-300
