"""Systems: the RK4 kernel against a plain RK4, exact solutions, seeds, noise, divergence."""

import numpy as np
import pytest
import scipy.linalg

from explorer.koopman import (duffing, fitzhugh_nagumo, linear_flow, linear_map, logistic_map,
                              lorenz63, pendulum, slow_manifold, van_der_pol)
from tests.koopman import naive

START = np.array([0.7, -0.4])


@pytest.mark.parametrize("system, field", [
    (lambda **kw: van_der_pol(1.5, **kw), lambda x: naive.van_der_pol_field(x, 1.5)),
    (lambda **kw: duffing(0.3, -1.0, 1.0, **kw), lambda x: naive.duffing_field(x, 0.3, -1.0, 1.0)),
    (lambda **kw: pendulum(1.2, 0.1, **kw), lambda x: naive.pendulum_field(x, 1.2, 0.1)),
])
def test_planar_flows_match_a_plain_rk4(system, field):
    # reference: tests/koopman/naive.py rk4_samples with the same step (dt / substeps)
    result = system(initial=START, dt=0.2, steps=30, max_step=0.05)
    expected = naive.rk4_samples(field, START, 0.2, 30, 4)
    np.testing.assert_allclose(result.states[0], expected, rtol=1e-12, atol=1e-12)


def test_lorenz_matches_a_plain_rk4():
    start = np.array([1.0, 2.0, 20.0])
    result = lorenz63(initial=start, dt=0.01, steps=50, transient=0.0, max_step=0.005)
    expected = naive.rk4_samples(lambda x: naive.lorenz_field(x, 10.0, 28.0, 8 / 3), start,
                                 0.01, 50, 2)
    np.testing.assert_allclose(result.states[0], expected, rtol=1e-11, atol=1e-11)


def test_fitzhugh_nagumo_matches_a_plain_rk4_on_its_grid():
    rng = np.random.default_rng(3)
    start = np.concatenate([rng.uniform(-1, 1, 16), np.zeros(16)])
    result = fitzhugh_nagumo(16, 20.0, current=0.5, initial=start, dt=0.5, steps=10,
                             max_step=0.25)
    def field(x):
        return naive.fitzhugh_nagumo_field(x, 1.0, 0.7, 0.8, 0.08, 0.5, 20.0 / 16)

    np.testing.assert_allclose(result.states[0], naive.rk4_samples(field, start, 0.5, 10, 2),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.grid, np.arange(16) * 20.0 / 16)


def test_slow_manifold_follows_its_closed_form():
    result = slow_manifold(-0.1, -2.0, initial=START, dt=0.1, steps=100)
    expected = naive.slow_manifold_exact(START, -0.1, -2.0, result.times)
    np.testing.assert_allclose(result.states[0], expected, rtol=1e-10, atol=1e-12)


def test_linear_flow_is_the_exact_propagator():
    A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    result = linear_flow(A, dt=0.3, steps=20, initial=START)
    expected = np.array([scipy.linalg.expm(A * t) @ START for t in result.times]).T
    np.testing.assert_allclose(result.states[0], expected, rtol=1e-12, atol=1e-13)


def test_logistic_map_matches_the_plain_orbit():
    result = logistic_map(3.7, steps=40, initial=[0.2, 0.9])
    for trajectory, start in enumerate([0.2, 0.9]):
        np.testing.assert_allclose(result.states[trajectory, 0],
                                   naive.logistic_orbit(start, 3.7, 40), rtol=1e-12)


def test_snapshot_pairs_are_one_step_apart_per_trajectory():
    result = duffing(trajectories=3, steps=5, seed=1)
    X, Y = result
    assert X.shape == Y.shape == (2, 15)
    np.testing.assert_array_equal(X[:, 1:5], Y[:, 0:4])  # inside trajectory 0
    np.testing.assert_array_equal(X[:, 5], result.states[1, :, 0])  # trajectory 1 starts anew
    assert result.times.shape == (6,) and result.dt == 0.25


def test_the_same_seed_gives_the_same_snapshots_and_another_seed_does_not():
    first = van_der_pol(trajectories=4, steps=20, noise=0.01, seed=7)
    again = van_der_pol(trajectories=4, steps=20, noise=0.01, seed=7)
    other = van_der_pol(trajectories=4, steps=20, noise=0.01, seed=8)
    np.testing.assert_array_equal(first.states, again.states)
    assert not np.array_equal(first.states, other.states)


def test_noise_is_added_to_every_recorded_state():
    clean = linear_map(np.eye(3) * 0.5, steps=2000, seed=2)
    noisy = linear_map(np.eye(3) * 0.5, steps=2000, noise=0.1, seed=2)
    assert np.std(noisy.states - clean.states) == pytest.approx(0.1, rel=0.05)


def test_a_diverging_trajectory_is_flagged_not_raised():
    result = linear_map(np.diag([1e30, 0.5]), steps=40, trajectories=2, seed=0)
    assert result.diverged
    first = result.diverged_at[0]
    assert 0 < first <= 40 and np.isnan(result.states[0, :, first:]).all()
    assert np.isfinite(result.states[0, :, :first]).all()


def test_an_unstable_time_step_is_flagged_in_the_field():
    result = fitzhugh_nagumo(64, 10.0, diffusion=5.0, steps=20, max_step=0.5)
    assert result.diverged and np.isnan(result.states[0, :, -1]).all()


def test_pendulum_on_the_cylinder_and_in_an_energy_set():
    result = pendulum(trajectories=500, steps=3, cylinder=True, max_energy=1.0, seed=4)
    cosine, sine, velocity = result.states[:, 0], result.states[:, 1], result.states[:, 2]
    np.testing.assert_allclose(cosine**2 + sine**2, 1.0, rtol=1e-12)
    energy = velocity**2 / 2 + 1 - cosine
    assert energy.max() <= 1.0 + 1e-6  # the undamped flow keeps the energy set
    np.testing.assert_allclose(energy[:, -1], energy[:, 0], rtol=1e-6)


@pytest.mark.parametrize("call, name", [
    (lambda: linear_map(np.ones((2, 3))), "matrix"),
    (lambda: linear_map(np.eye(2), steps=0), "steps"),
    (lambda: linear_flow(np.eye(2), dt=-1.0), "dt"),
    (lambda: van_der_pol(mu=-1.0), "mu"),
    (lambda: duffing(noise=-0.1), "noise"),
    (lambda: pendulum(trajectories=0), "trajectories"),
    (lambda: lorenz63(initial=[1.0, 2.0]), "initial"),
    (lambda: logistic_map(growth_rate=4.5), "growth_rate"),
    (lambda: slow_manifold(initial=[np.nan, 0.0]), "initial"),
    (lambda: fitzhugh_nagumo(n_grid=4), "n_grid"),
    (lambda: van_der_pol(seed=-3), "seed"),
])
def test_bad_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
