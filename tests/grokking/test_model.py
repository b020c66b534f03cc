"""The MLP: logits and gradients against tests/grokking/naive.py and finite differences."""

import numpy as np
import pytest

from explorer.grokking import (Params, accuracy, analytic_solution, as_params, init_params,
                               logits, loss_and_gradients, make_task)
from tests.grokking import naive


def small_problem(dtype="float64", activation="quadratic", p=7, width=5, n=30, seed=0):
    params = init_params(p, width, seed=seed, dtype=dtype, activation=activation)
    # larger weights than at initialisation, so that every term of the gradient matters
    params = Params(params.U * 4, params.V * 4, params.W * 4, activation)
    rng = np.random.default_rng(seed + 1)
    a, b, labels = rng.integers(0, p, size=(3, n))
    return params, a, b, labels


@pytest.mark.parametrize("activation", ["quadratic", "relu"])
def test_logits_match_the_naive_forward(activation):
    params, a, b, _ = small_problem(activation=activation)
    expected = naive.forward(params.U, params.V, params.W, a, b, activation)[2]
    np.testing.assert_allclose(logits(params, a, b), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-4)])
@pytest.mark.parametrize("activation", ["quadratic", "relu"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_loss_and_gradients_match_the_naive_chain_rule(dtype, rtol, activation, loss):
    params, a, b, labels = small_problem(dtype, activation)
    value, grads = loss_and_gradients(params, a, b, labels, loss=loss)
    reference = naive.loss_and_gradients(*(x.astype(np.float64) for x in (params.U, params.V, params.W)),
                                         a, b, labels, activation, loss)
    assert value == pytest.approx(reference[0], rel=rtol)
    for ours, theirs in zip((grads.U, grads.V, grads.W), reference[1:]):
        assert ours.dtype == np.dtype(dtype)
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * np.abs(theirs).max())


@pytest.mark.parametrize("activation", ["quadratic", "relu"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_gradients_match_central_finite_differences(activation, loss):
    params, a, b, labels = small_problem("float64", activation, seed=2)
    _, grads = loss_and_gradients(params, a, b, labels, loss=loss)
    theta = params.stacked()
    analytic = grads.stacked()
    rng = np.random.default_rng(0)
    step = 1e-6
    for index in map(tuple, rng.integers(0, theta.shape, size=(25, 3))):
        shifted = []
        for sign in (1, -1):
            moved = theta.copy()
            moved[index] += sign * step
            shifted.append(loss_and_gradients(Params(*moved, activation), a, b, labels, loss=loss)[0])
        numeric = (shifted[0] - shifted[1]) / (2 * step)
        assert numeric == pytest.approx(analytic[index], rel=1e-5, abs=1e-8)


def test_analytic_solution_is_perfect_at_the_default_size():
    task = make_task(p=97, train_fraction=0.3, seed=0)
    assert accuracy(analytic_solution(97, 256, seed=0), task) == 1.0


def test_hand_built_weights_can_be_plain_arrays():
    U, V, W = analytic_solution(p=23, width=128, seed=1)
    assert accuracy((U, V, W), make_task(p=23)) == 1.0
    assert np.array_equal(logits([U, V, W], [1, 2], [3, 4]), logits(as_params((U, V, W)), [1, 2], [3, 4]))
    with pytest.raises(ValueError, match="params"):
        as_params(U)


@pytest.mark.parametrize("p, width", [(97, 6), (31, 12), (23, 48), (97, 96)])
def test_complete_phase_groups_leave_exactly_the_peak(p, width):
    # six neurons per frequency with turned phases cancel every phase-dependent term, so the
    # logits are 3 sum_groups cos(2 pi s_g (a + b - q) / p) exactly: perfect at any such width
    params = analytic_solution(p, width, seed=3)
    a, b = np.divmod(np.arange(p * p), p)
    frequencies = 1 + np.arange(width // 6) % ((p - 1) // 2)
    offset = (a + b)[:, None] - np.arange(p)[None, :]
    expected = 3 * np.cos(2 * np.pi * offset[..., None] * frequencies / p).sum(axis=-1)
    np.testing.assert_allclose(logits(params, a, b), expected, atol=1e-9 * width)
    assert accuracy(params, make_task(p=p)) == 1.0


def test_analytic_solution_weights_are_pure_waves():
    params = analytic_solution(p=11, width=10, seed=4)
    spectrum = np.abs(np.fft.rfft(params.U, axis=0))
    frequency = 1 + (np.arange(10) // 6) % 5  # groups of six neurons share a frequency
    assert np.array_equal(np.argmax(spectrum, axis=0), frequency)
    assert np.allclose(spectrum.sum(axis=0), spectrum.max(axis=0))  # one frequency each


def test_init_is_seeded_and_scaled():
    first, again = init_params(97, 256, seed=1), init_params(97, 256, seed=1)
    assert np.array_equal(first.stacked(), again.stacked())
    assert first.dtype == np.float32
    assert np.std(first.U) == pytest.approx(1 / np.sqrt(2 * 97), rel=0.02)
    assert np.std(first.W) == pytest.approx(1 / np.sqrt(256), rel=0.02)
    assert first.weight_norm == pytest.approx(np.sum(first.stacked().astype(float) ** 2))


@pytest.mark.parametrize("call, name", [
    (lambda: init_params(p=2), "p"), (lambda: init_params(width=0), "width"),
    (lambda: init_params(dtype="float16"), "dtype"), (lambda: init_params(activation="tanh"), "activation"),
    (lambda: analytic_solution(p=1), "p"), (lambda: analytic_solution(width=-3), "width"),
    (lambda: logits(init_params(5, 3), [0, 5], [0, 1]), "a"),
    (lambda: loss_and_gradients(init_params(5, 3), [0], [0], [0], loss="hinge"), "loss"),
    (lambda: accuracy(init_params(5, 3), make_task(p=7)), "params"),
    (lambda: Params(np.zeros((5, 3)), np.zeros((5, 4)), np.zeros((5, 3))), "V"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
