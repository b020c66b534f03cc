"""The MLP deblender: forward and gradients against naive.py and finite differences, Adam,
reproducibility, stopping, divergence, and the quality of a short training run."""

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer._jit import set_num_threads
from explorer.blending import (MLP, EightGaussians, ExactDeblender, _network_kernels,
                               distance_to_nearest, init_mlp, parameter_count, sample,
                               sample_quality, train_deblender)
from tests.blending import naive

ROOT = Path(__file__).resolve().parents[2]


def batch(n=37, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) * 1.5, rng.random(n), rng.normal(size=(n, 2))


def float64_layers(network):
    return [(W.astype(np.float64), b.astype(np.float64)) for W, b in network.layers()]


SHAPES = [(64, 4), (5, 3), (8, 1), (1, 2)]


@pytest.mark.parametrize("width, depth", SHAPES)
@pytest.mark.parametrize("activation", ["relu", "silu"])
def test_forward_matches_the_naive_network(width, depth, activation):
    network = init_mlp(width, depth, activation, seed=1, dtype="float64")
    x, alpha, _ = batch(300)
    expected = naive.mlp_forward(network.layers(), x, alpha, activation)[2]
    np.testing.assert_allclose(network(x, alpha), expected, rtol=1e-12, atol=1e-12)
    assert len(network.params) == parameter_count(width, depth)


@pytest.mark.parametrize("mode, expected", [
    (_network_kernels.RELU_FORWARD, lambda z: np.where(z > 0, z, z - z)),
    (_network_kernels.SILU_FORWARD, lambda z: z / (1 + np.exp(-z))),
])
def test_an_activation_in_place_equals_one_written_elsewhere(mode, expected):
    # in place and out of place are separate loops (the in-place one vectorises); both must
    # give the activation, NaN and infinities included, in the same bits
    z = np.random.default_rng(0).normal(size=(6, 37)) * 3
    z[1, 4], z[2, 5], z[3, 6] = np.nan, np.inf, -np.inf
    elsewhere, in_place = np.full_like(z, 7.0), z.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        want = expected(z)
    _network_kernels._finish(z, elsewhere, 0, 6, mode, 37)
    _network_kernels._finish(in_place, in_place, 0, 6, mode, 37)
    np.testing.assert_array_equal(in_place, elsewhere)
    finite = np.isfinite(want)
    np.testing.assert_allclose(elsewhere[finite], want[finite], rtol=1e-14)
    assert np.array_equal(np.isnan(elsewhere), np.isnan(want))


@pytest.mark.parametrize("width, depth", SHAPES)
@pytest.mark.parametrize("activation", ["relu", "silu"])
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-4)])
def test_loss_and_gradient_match_the_naive_chain_rule(width, depth, activation, dtype, rtol):
    network = init_mlp(width, depth, activation, seed=2, dtype=dtype)
    x, alpha, velocity = batch()
    loss, gradient = network.loss_and_gradient(x, alpha, velocity)
    expected_loss, expected = naive.mlp_loss_and_gradients(float64_layers(network), x, alpha,
                                                           velocity, activation)
    assert gradient.dtype == np.dtype(dtype) and loss == pytest.approx(expected_loss, rel=rtol)
    ours = MLP(width, depth, activation, gradient).layers()
    for (dW, db), (eW, eb) in zip(ours, expected):
        np.testing.assert_allclose(dW, eW, rtol=rtol, atol=rtol * np.abs(eW).max())
        np.testing.assert_allclose(db, eb, rtol=rtol, atol=rtol * np.abs(eb).max())


@pytest.mark.parametrize("activation", ["relu", "silu"])
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-4)])
def test_any_dimension_and_class_conditional_networks_match_the_naive_network(activation, dtype, rtol):
    network = init_mlp(12, 3, activation, seed=4, dtype=dtype, dim=5, classes=3)
    assert network.n_inputs == 5 + 1 + 4 and len(network.params) == parameter_count(12, 3, 5, 3)
    rng = np.random.default_rng(1)
    x, alpha, velocity = rng.normal(size=(29, 5)), rng.random(29), rng.normal(size=(29, 5))
    labels = rng.integers(0, 3, 29)
    layers = float64_layers(network)
    _, _, expected = naive.mlp_forward(layers, x, alpha, activation, labels, 4)
    np.testing.assert_allclose(network(x, alpha, labels), expected, rtol=rtol, atol=rtol)
    _, _, no_class = naive.mlp_forward(layers, x, alpha, activation, np.full(29, 3), 4)
    np.testing.assert_allclose(network(x, alpha), no_class, rtol=rtol, atol=rtol)
    loss, gradient = network.loss_and_gradient(x, alpha, velocity, labels)
    expected_loss, expected_gradients = naive.mlp_loss_and_gradients(layers, x, alpha, velocity,
                                                                     activation, labels, 4)
    assert loss == pytest.approx(expected_loss, rel=rtol)
    ours = MLP(12, 3, activation, gradient, dim=5, classes=3).layers()
    for (dW, db), (eW, eb) in zip(ours, expected_gradients):
        np.testing.assert_allclose(dW, eW, rtol=rtol, atol=rtol * np.abs(eW).max())
        np.testing.assert_allclose(db, eb, rtol=rtol, atol=rtol * np.abs(eb).max())


@pytest.mark.parametrize("activation", ["relu", "silu"])
def test_gradient_matches_central_finite_differences(activation):
    network = init_mlp(6, 3, activation, seed=3, dtype="float64")
    x, alpha, velocity = batch(25, seed=4)
    _, gradient = network.loss_and_gradient(x, alpha, velocity)
    rng = np.random.default_rng(0)
    step = 1e-6
    for index in rng.choice(len(network.params), 40, replace=False):
        losses = []
        for sign in (1, -1):
            moved = network.params.copy()
            moved[index] += sign * step
            losses.append(MLP(6, 3, activation, moved).loss_and_gradient(x, alpha, velocity)[0])
        numeric = (losses[0] - losses[1]) / (2 * step)
        assert numeric == pytest.approx(gradient[index], rel=1e-5, abs=1e-8)


# 255 columns: one full tile of TILE = 128 and one of 127, the two compiled paths of a step
@pytest.mark.parametrize("size", [16, 255])
def test_training_steps_match_naive_adam_on_the_same_minibatches(size):
    targets = EightGaussians().sample(50, seed=0)
    steps, lr = 3, 1e-2
    trained = train_deblender(targets, steps=steps, batch=size, lr=lr, seed=9, width=8, depth=2,
                              dtype="float64")
    rng = np.random.default_rng(9)  # replay the draws of train_deblender
    network = init_mlp(8, 2, "relu", rng, "float64")
    x0 = rng.standard_normal((steps * size, 2)).reshape(steps, size, 2)
    x1 = targets[rng.integers(0, 50, steps * size)].reshape(steps, size, 2)
    alpha = rng.random((steps, size))
    theta, m, v = network.params.copy(), 0.0, 0.0
    for t in range(steps):
        layers = MLP(8, 2, "relu", theta).layers()
        x_alpha = (1 - alpha[t, :, None]) * x0[t] + alpha[t, :, None] * x1[t]
        loss, grads = naive.mlp_loss_and_gradients(layers, x_alpha, alpha[t], x1[t] - x0[t])
        assert trained.loss_history[t] == pytest.approx(loss, rel=1e-10)
        flat = np.concatenate([g.ravel() for pair in _in_flat_order(grads) for g in pair])
        theta, m, v = naive.adam_step(theta, flat, m, v, t + 1, lr)
    np.testing.assert_allclose(trained.network.params, theta, rtol=1e-9, atol=1e-12)


def _in_flat_order(grads):
    """Per-layer (dW, db) pairs in the flat layout: W_in, b_in, all hidden W, all hidden b, W_out, b_out."""
    hidden = grads[1:-1]
    return [grads[0], tuple(dW for dW, _ in hidden), tuple(db for _, db in hidden), grads[-1]]


def test_same_seed_same_network_and_callback_can_stop():
    kwargs = dict(steps=300, batch=64, width=16, depth=2, report_every=100)
    first = train_deblender(EightGaussians(), seed=5, **kwargs)
    second = train_deblender(EightGaussians(), seed=5, **kwargs)
    np.testing.assert_array_equal(first.network.params, second.network.params)
    np.testing.assert_array_equal(first.loss_history, second.loss_history)
    other = train_deblender(EightGaussians(), seed=6, **kwargs)
    assert not np.array_equal(first.network.params, other.network.params)
    seen = []
    stopped = train_deblender(EightGaussians(), seed=5, **kwargs,
                              callback=lambda p: seen.append(p.steps_done) or p.steps_done >= 200)
    assert seen == [100, 200] and stopped.stopped_early and stopped.steps_done == 200
    np.testing.assert_array_equal(stopped.loss_history, first.loss_history[:200])
    assert not first.stopped_early and first.steps_done == 300 and first.steps_per_second > 0


def test_a_diverging_run_is_flagged_not_raised():
    huge = np.full((4, 2), 1e30)  # float32 squares overflow to inf
    run = train_deblender(huge, steps=50, batch=8, width=4, depth=1, report_every=10)
    assert run.diverged and run.steps_done == 1 and not np.isfinite(run.loss_history[-1])
    assert np.all(np.isfinite(run.network.params))


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun"])
def test_the_fused_sampler_follows_the_python_steps(method):
    network = init_mlp(16, 3, "silu", seed=2, dim=3, classes=2)
    x0 = np.random.default_rng(0).normal(size=(300, 3))
    labels = np.arange(300) % 2
    fused = sample(network, x0, 12, method=method, labels=labels)
    stepwise = sample(lambda x, a, c: network(x, a, c), x0, 12, method=method, labels=labels)
    assert fused.evaluations == stepwise.evaluations and not fused.diverged
    np.testing.assert_allclose(fused.points, stepwise.points, rtol=1e-12, atol=1e-12)


def test_the_fused_sampler_gives_the_same_bits_for_one_or_two_threads():
    network = init_mlp(32, 3, seed=0)
    x0 = np.random.default_rng(1).normal(size=(1000, 2))
    results = []
    for threads in (1, 2):
        previous = set_num_threads(threads)
        try:
            results.append(sample(network, x0, 16, method="heun").points)
        finally:
            set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])


def test_a_diverging_network_is_flagged_the_same_way_by_both_samplers():
    network = init_mlp(8, 2, seed=0)
    params = network.params.copy()
    params[-18:] = 3e38  # the output layer: its sums overflow float32 to inf
    exploding = MLP(8, 2, "relu", params)
    for method in ("euler", "heun"):
        fused = sample(exploding, np.zeros((5, 2)), 8, method=method)
        stepwise = sample(lambda x, a: exploding(x, a), np.zeros((5, 2)), 8, method=method)
        assert fused.diverged and stepwise.diverged
        assert fused.evaluations == stepwise.evaluations
        np.testing.assert_array_equal(np.isnan(fused.points), np.isnan(stepwise.points))


def test_sampling_stops_when_the_callback_asks():
    network = init_mlp(8, 2, seed=0)
    seen = []
    path = sample(lambda x, a: network(x, a), np.zeros((4, 2)), 10,
                  callback=lambda partial: seen.append(len(partial)) or len(partial) >= 4)
    assert path.stopped_early and seen == [2, 3, 4] and path.shape == (4, 4, 2)
    assert np.all(np.isfinite(path.points))


def test_conditional_training_draws_the_asked_class():
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal([-2.0, 0.0], 0.2, (200, 2)), rng.normal([2.0, 0.0], 0.2, (200, 2))])
    labels = np.repeat([0, 1], 200)
    trained = train_deblender(blobs, labels=labels, steps=1500, batch=128, width=32, depth=2, seed=1)
    assert trained.classes == 2 and trained.network.n_inputs == 2 + 1 + 3
    x0 = rng.normal(size=(200, 2))
    for label, side in ((0, -1), (1, 1)):
        final = sample(trained, x0, 32, labels=label).final
        assert np.mean(np.sign(final[:, 0]) == side) > 0.95
    unconditional = sample(trained, x0, 32).final  # label dropout: "no class" gives both blobs
    assert 0.25 < np.mean(unconditional[:, 0] > 0) < 0.75


def test_training_checkpoints_come_in_bounded_chunks():
    seen = []
    big = dict(steps=40, batch=512, width=512, depth=3, report_every=1000)
    run = train_deblender(EightGaussians(), callback=lambda p: seen.append(p.steps_done) or len(seen) == 2,
                          **big)
    # 512 x 530k parameters of work per step: a few steps per chunk, not report_every
    assert run.stopped_early and seen[0] < 40 and run.steps_done == seen[1] < 40
    with pytest.raises(ValueError, match="^batch must be at most"):
        train_deblender(EightGaussians(), steps=1, batch=65536, width=1024, depth=8)


def test_same_bits_in_a_fresh_process():
    code = ("import hashlib, numpy as np; from explorer.blending import TwoMoons, train_deblender, sample; "
            "net = train_deblender(TwoMoons().sample(300, seed=0), steps=300, batch=64, width=16, depth=2, seed=3); "
            "print(hashlib.sha256(sample(net, np.ones((50, 2)), 8).points.tobytes()"
            " + net.network.params.tobytes()).hexdigest())")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=ROOT).stdout.strip()
    from explorer.blending import TwoMoons

    net = train_deblender(TwoMoons().sample(300, seed=0), steps=300, batch=64, width=16, depth=2, seed=3)
    here = hashlib.sha256(sample(net, np.ones((50, 2)), 8).points.tobytes()
                          + net.network.params.tobytes()).hexdigest()
    assert fresh == here


def test_continuing_from_a_network_keeps_its_shape():
    start = init_mlp(12, 2, "silu", seed=0)
    more = train_deblender(EightGaussians(), steps=20, batch=32, network=start)
    assert (more.network.width, more.network.depth, more.network.activation) == (12, 2, "silu")
    assert not np.array_equal(more.network.params, start.params)


def test_a_short_run_learns_and_generalises_while_the_exact_deblender_memorises():
    density = EightGaussians()
    training_set = density.sample(512, seed=1)
    trained = train_deblender(training_set, steps=2000, batch=256, seed=1)
    x0 = np.random.default_rng(1).standard_normal((2000, 2))
    generated = sample(trained, x0, 64).final
    quality = sample_quality(generated, density, seed=2)
    untrained = sample_quality(sample(init_mlp(), x0, 64).final, density, seed=2)
    # measured over seeds: trained 0.9-3x the floor (SW), untrained 5.4x; energy 2-18x vs 92x
    assert quality.sliced_wasserstein < 4 * quality.sliced_wasserstein_floor
    assert quality.energy_distance < 0.25 * untrained.energy_distance
    assert untrained.sliced_wasserstein > 5 * untrained.sliced_wasserstein_floor
    memorised = sample(ExactDeblender(training_set), x0[:300], 256, method="heun").final
    assert np.median(distance_to_nearest(memorised, training_set)) < 1e-3
    assert np.median(distance_to_nearest(generated[:300], training_set)) > 1e-2


@pytest.mark.parametrize("call, name", [
    (lambda: train_deblender(np.zeros((0, 2)), steps=1), "target"),
    (lambda: train_deblender([[np.nan, 0.0]], steps=1), "target"),
    (lambda: train_deblender(EightGaussians(), source=np.zeros((3, 3)), steps=1), "source"),
    (lambda: train_deblender(EightGaussians(), steps=0), "steps"),
    (lambda: train_deblender(EightGaussians(), batch=0), "batch"),
    (lambda: train_deblender(EightGaussians(), lr=0.0), "lr"),
    (lambda: train_deblender(EightGaussians(), seed="a"), "seed"),
    (lambda: train_deblender(EightGaussians(), betas=(0.9, 1.0)), "betas"),
    (lambda: train_deblender(EightGaussians(), betas=(0.9,)), "betas"),
    (lambda: train_deblender(EightGaussians(), network=init_mlp(dim=3)), "network"),
    (lambda: train_deblender(EightGaussians(), labels=[0, 1]), "labels"),
    (lambda: train_deblender(np.zeros((3, 2)), labels=[0, 1, 0.5]), "labels"),
    (lambda: train_deblender(np.zeros((3, 2)), labels=[0, 1]), "labels"),
    (lambda: train_deblender(np.zeros((3, 2)), label_dropout=2.0), "label_dropout"),
    (lambda: init_mlp(4, 1)(np.zeros((2, 2)), 0.5, labels=[0, 0]), "labels"),
    (lambda: init_mlp(4, 1, classes=2)(np.zeros((2, 2)), 0.5, labels=[0, 2]), "labels"),
    (lambda: init_mlp(4, 1, dim=0), "dim"),
    (lambda: train_deblender(EightGaussians(), width=0), "width"),
    (lambda: train_deblender(EightGaussians(), activation="tanh"), "activation"),
    (lambda: init_mlp(dtype="float16"), "dtype"),
    (lambda: MLP(4, 1, "relu", np.zeros(5)), "params"),
    (lambda: init_mlp(4, 1)(np.zeros((2, 2)), 1.5), "alpha"),
    (lambda: init_mlp(4, 1)(np.zeros((2, 2)), [0.5]), "alpha"),
    (lambda: init_mlp(4, 1)(np.zeros((2, 1)), 0.5), "x"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()


@pytest.mark.parametrize("call, name", [
    (lambda: train_deblender(EightGaussians(), network="net"), "network"),
    (lambda: train_deblender(EightGaussians(), steps=2, callback=5), "callback"),
    (lambda: MLP(4, 1, "relu", [0.0] * 22), "params"),
])
def test_wrong_kinds_of_object_are_type_errors(call, name):
    with pytest.raises(TypeError, match=rf"^{name}\b"):
        call()
