"""The compiled scan against the plain-numpy reference (tests/fractal/naive.py) and exact facts."""

import numpy as np
import pytest

from explorer.fractal import Problem, loss_trajectory, make_problem, scan
from explorer.fractal._lanes import (IDENTITY, RELU, TANH, activate, activate_products,
                                     tanh_half)
from tests.fractal import naive


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "identity"])
@pytest.mark.parametrize("phase_space", ["lr_vs_lr", "paraminit_vs_lr"])
def test_scan_matches_numpy_reference(nonlinearity, phase_space):
    problem = make_problem(width=4, nonlinearity=nonlinearity, seed=1)
    result = scan(problem, (-2, 2.5), (-2, 2.5), resolution=(7, 6), steps=40, phase_space=phase_space)
    reference = naive.scan(problem, result.x, result.y, 40, phase_space=phase_space)
    assert result.measure.shape == (6, 7)
    np.testing.assert_allclose(result.measure, reference, rtol=1e-8)
    np.testing.assert_array_equal(result.diverged, reference > 0)
    assert 0 < result.diverged.mean() < 1  # the window straddles the boundary


def test_initial_offset_mode_matches_reference():
    problem = make_problem(width=3, seed=2)
    result = scan(problem, (-1, 1), (-1, 1), resolution=4, steps=30,
                  phase_space="paraminit_vs_lr", offset_mode="initial")
    reference = naive.scan(problem, result.x, result.y, 30, "paraminit_vs_lr", offset_every_step=False)
    np.testing.assert_allclose(result.measure, reference, rtol=1e-8)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "identity"])
@pytest.mark.parametrize("phase_space, offset_mode", [("lr_vs_lr", "every_step"),
                                                      ("paraminit_vs_lr", "every_step"),
                                                      ("paraminit_vs_lr", "initial")])
def test_single_data_point_matches_reference(nonlinearity, phase_space, offset_mode):
    """One point trains through its pre-activations alone (O(w) a step): the same losses as
    the full weight matrices of the reference, also with a minibatch (of that one point)."""
    problem = make_problem(width=5, nonlinearity=nonlinearity, seed=3,
                           dataset_param_ratio="single_datapoint")
    result = scan(problem, (-2, 2.5), (-2, 2.5), resolution=(7, 6), steps=40,
                  phase_space=phase_space, offset_mode=offset_mode)
    reference = naive.scan(problem, result.x, result.y, 40, phase_space=phase_space,
                           offset_every_step=offset_mode == "every_step")
    np.testing.assert_allclose(result.measure, reference, rtol=1e-8)
    np.testing.assert_array_equal(result.diverged, reference > 0)
    assert 0 < result.diverged.mean() < 1
    batched = scan(problem, (-2, 2.5), (-2, 2.5), resolution=(7, 6), steps=40,
                   phase_space=phase_space, offset_mode=offset_mode, minibatch=3)
    np.testing.assert_allclose(batched.measure, reference, rtol=1e-8)
    x, y = result.x[3], result.y[2]
    offset = {"offset": x, "offset_every_step": offset_mode == "every_step"}
    steps = (naive.loss_trajectory(problem, x, y, 40) if phase_space == "lr_vs_lr"
             else naive.loss_trajectory(problem, y, y, 40, **offset))
    expected = np.where(np.isfinite(steps), steps, 1e6)
    # a converging loss falls to round-off: compare it relative to where it started
    np.testing.assert_allclose(loss_trajectory(problem, x, y, 40, phase_space, offset_mode),
                               expected, rtol=1e-9, atol=1e-12 * expected[0])


def test_axes_are_log_spaced_and_oriented():
    result = scan(make_problem(width=2), (-1, 1), (0, 2), resolution=(3, 5), steps=21)
    np.testing.assert_allclose(result.x, [0.1, 1, 10])
    np.testing.assert_allclose(result.y, np.logspace(0, 2, 5))
    assert result.measure.shape == (5, 3)  # rows follow y, columns follow x


def test_arbitrary_user_arrays():
    rng = np.random.default_rng(5)
    problem = Problem(X=rng.normal(size=(10, 3)), Y=rng.normal(size=10), W1=rng.normal(size=(3, 5)),
                      W2=rng.normal(size=5), nonlinearity="tanh")
    result = scan(problem, (-2, 1), (-2, 1), resolution=4, steps=25)
    np.testing.assert_allclose(result.measure, naive.scan(problem, result.x, result.y, 25), rtol=1e-8)


def test_overflow_is_a_diverged_pixel_not_nan():
    result = scan(make_problem(width=4), (250, 300), (250, 300), resolution=3, steps=21)
    assert np.isfinite(result.measure).all()
    assert result.diverged.all()


def test_tiny_learning_rates_converge_slowly_but_surely():
    """At vanishing rates the loss barely moves: v/v0 ~ 1, so the measure is ~ -steps or ~ +steps."""
    result = scan(make_problem(width=4), (-12, -11), (-12, -11), resolution=2, steps=30)
    np.testing.assert_allclose(np.abs(result.measure), 30, rtol=1e-6)


def test_loss_trajectory_matches_reference_and_starts_at_initial_loss():
    problem = make_problem(width=5, seed=3)
    losses = loss_trajectory(problem, 0.5, 2.0, steps=50)
    reference = naive.loss_trajectory(problem, 0.5, 2.0, 50)
    np.testing.assert_allclose(losses, reference, rtol=1e-9)
    assert losses[0] == pytest.approx(naive.loss(problem.W1, problem.W2, problem.X, problem.Y, "tanh"))


def test_analytic_gradient_reference_against_finite_differences():
    """Guards the reference itself, so the kernel is not checked against a wrong formula."""
    problem = make_problem(width=3, seed=4)
    grad_W1, grad_W2 = naive.gradients(problem.W1, problem.W2, problem.X, problem.Y, "tanh")
    eps = 1e-6
    for (k, j) in [(0, 0), (2, 1)]:
        bumped = problem.W1.copy()
        bumped[k, j] += eps
        numeric = (naive.loss(bumped, problem.W2, problem.X, problem.Y, "tanh")
                   - naive.loss(problem.W1, problem.W2, problem.X, problem.Y, "tanh")) / eps
        assert grad_W1[k, j] == pytest.approx(numeric, rel=1e-4)
    bumped = problem.W2.copy()
    bumped[1, 0] += eps
    numeric = (naive.loss(problem.W1, bumped, problem.X, problem.Y, "tanh")
               - naive.loss(problem.W1, problem.W2, problem.X, problem.Y, "tanh")) / eps
    assert grad_W2[1, 0] == pytest.approx(numeric, rel=1e-4)


def test_fast_tanh_is_accurate_to_a_few_ulp_and_propagates_nan():
    z = np.concatenate([np.linspace(-30, 30, 20001), np.logspace(-300, 1.5, 500),
                        -np.logspace(-300, 1.5, 500), [0.0, np.inf, -np.inf, np.nan]])
    w2 = np.random.default_rng(0).uniform(0.5, 2.0, z.size)
    h, products, slope = np.empty(z.size), np.empty(z.size), np.empty(z.size)
    tanh_half(2.0 * np.sqrt(2.0) * z, z.size, w2, h, products, slope)  # tanh(sqrt(2) z)
    reference = np.tanh(np.sqrt(2.0) * z)
    finite = np.isfinite(z)
    np.testing.assert_allclose(h[finite], reference[finite], rtol=4e-16 * 4, atol=0)
    np.testing.assert_allclose(products[finite], w2[finite] * reference[finite], rtol=2e-15)
    # from a rounded h, 1 - h**2 is only accurate to a few ulp of 1 where h is near +-1
    np.testing.assert_allclose(slope[finite] / w2[finite], 1.0 - reference[finite] ** 2,
                               rtol=1e-12, atol=8 * np.finfo(float).eps)
    last = np.flatnonzero(np.isnan(z))[0]
    assert h[last - 2] == 1.0 and h[last - 1] == -1.0 and np.isnan(h[last]) and np.isnan(slope[last])


@pytest.mark.parametrize("nonlinearity", [TANH, RELU, IDENTITY])
def test_loss_only_activation_gives_the_products_bit_for_bit(nonlinearity):
    # the loss pass of a minibatch scan stores only W2 act; it must be the full pass's value
    u = np.concatenate([np.linspace(-50, 50, 1001), [0.0, -0.0, 1e-310, np.inf, -np.inf, np.nan,
                                                     1.0]])
    w2 = np.random.default_rng(1).normal(size=u.size)
    h, products, slope, alone = (np.full(u.size, 7.0) for _ in range(4))
    activate(u, u.size - 1, w2, h, products, slope, nonlinearity)
    activate_products(u, u.size - 1, w2, alone, nonlinearity)
    np.testing.assert_array_equal(alone, products)
    assert np.isnan(alone[-2]) and alone[-1] == 7.0  # NaN flows on; nothing beyond count


def test_same_seed_same_problem_and_scan():
    a, b = make_problem(width=4, seed=7), make_problem(width=4, seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(scan(a, resolution=4, steps=21).measure,
                                  scan(b, resolution=4, steps=21).measure)
    assert not np.array_equal(make_problem(width=4, seed=8).X, a.X)


def test_default_problem_has_the_papers_shapes():
    tanh = make_problem(width=16)
    assert tanh.X.shape == (272, 16) and tanh.Y.shape == (272, 1)
    assert tanh.W1.shape == (16, 16) and tanh.W2.shape == (16, 1)
    assert make_problem(width=16, nonlinearity="identity").X.shape == (16, 16)
