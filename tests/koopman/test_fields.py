"""Reaction-diffusion fields: lambda-omega against a plain RK4 and its known limit cycle, and
the bounds, noise and divergence rules of both fields."""

import math

import numpy as np
import pytest

from explorer.koopman import fitzhugh_nagumo, lambda_omega, lambda_omega_stable_step
from explorer.koopman.fields import _resting_state
from tests.koopman import naive, naive_fields


def test_lambda_omega_matches_a_plain_rk4_on_its_grid():
    resolution, length, diffusion, beta = 8, 6.0, 0.3, 0.7
    start = np.random.default_rng(3).uniform(-1, 1, 2 * resolution**2)
    result = lambda_omega(resolution, length, diffusion=diffusion, beta=beta, initial=start,
                          dt=0.2, steps=6, max_step=0.05)
    def field(x):
        return naive_fields.lambda_omega_field(x, diffusion, beta, length / resolution)
    expected = naive.rk4_samples(field, start, 0.2, 6, 4)
    np.testing.assert_allclose(result.states[0], expected, rtol=1e-12, atol=1e-13)
    assert result.grid.shape == (resolution,) and result.grid[0] == pytest.approx(-3 + 0.375)


@pytest.mark.parametrize("radius, phase, beta", [(0.2, 0.5, 1.0), (1.6, -2.0, 2.5), (1.0, 0.0, -1.0)])
def test_a_uniform_state_follows_the_homogeneous_limit_cycle(radius, phase, beta):
    """No gradients, no diffusion: every point runs r' = r (1 - r^2), theta' = -beta r^2."""
    resolution = 8
    start = np.concatenate([np.full(resolution**2, radius * np.cos(phase)),
                            np.full(resolution**2, radius * np.sin(phase))])
    result = lambda_omega(resolution, diffusion=1.0, beta=beta, initial=start, dt=0.25,
                          steps=60, max_step=0.0025)
    u_exact, v_exact = naive_fields.homogeneous_lambda_omega(radius, phase, beta, result.times)
    u, v = result.states[0, 0], result.states[0, resolution**2]
    np.testing.assert_allclose(u, u_exact, atol=1e-6)
    np.testing.assert_allclose(v, v_exact, atol=1e-6)
    assert np.ptp(result.states[0, :resolution**2], axis=0).max() < 1e-12  # stays uniform
    # the limit cycle: radius 1, angular frequency -beta
    assert np.hypot(u[-1], v[-1]) == pytest.approx(1.0, abs=1e-6)
    turn = np.angle((u[-1] + 1j * v[-1]) / (u[-2] + 1j * v[-2])) / 0.25
    assert turn == pytest.approx(-beta, abs=1e-5)


@pytest.mark.parametrize("arms", [1, 2])
def test_the_default_spiral_keeps_its_arms_and_its_amplitude(arms):
    spiral = lambda_omega(32, 20.0, arms=arms, steps=40, dt=0.5, seed=2)
    assert not spiral.diverged
    cells = 32**2
    u = spiral.states[0, :cells].reshape(32, 32, -1)
    v = spiral.states[0, cells:].reshape(32, 32, -1)
    assert np.hypot(u, v).max() < 1.1  # |z| <= max(1, |z0|) up to the 0.01 initial noise
    for sample in (0, 40):
        assert naive_fields.winding_number(u[..., sample], v[..., sample]) == pytest.approx(arms)
    # it turns: the field at the end is not the field at the start
    assert np.abs(u[..., -1] - u[..., 0]).max() > 0.5


def test_the_seed_places_the_spiral_and_repeats_bit_for_bit():
    first, again = lambda_omega(16, steps=3, seed=5), lambda_omega(16, steps=3, seed=5)
    other = lambda_omega(16, steps=3, seed=np.random.default_rng(6))
    assert first.states.tobytes() == again.states.tobytes()
    assert not np.allclose(first.states, other.states)


def test_the_stable_step_is_stated_and_enforced():
    dx = 20.0 / 64
    assert lambda_omega_stable_step(64, 20.0, diffusion=0.1, beta=1.0) == pytest.approx(
        2.5 / (8 * 0.1 / dx**2 + 1 + 3 * math.sqrt(2)))
    with pytest.raises(ValueError, match=r"max_step must be at most 0\.18"):
        lambda_omega(64, 20.0, max_step=0.2, steps=2)
    start = lambda_omega(64, 20.0, steps=1).states[0, :, 0]
    amplitude = np.hypot(*np.split(start, 2)).max()
    bound = lambda_omega_stable_step(64, 20.0, amplitude=amplitude)
    assert not lambda_omega(64, 20.0, max_step=bound, dt=bound, steps=40).diverged
    # the bound is not loose by orders of magnitude: 3x over it, RK4 blows up
    def field(x):
        return naive_fields.lambda_omega_field(x, 0.1, 1.0, dx)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(naive.rk4_samples(field, start, 3 * bound, 400, 1)).all()


@pytest.mark.parametrize("make", [
    lambda noise: lambda_omega(16, steps=3, noise=noise),
    lambda noise: fitzhugh_nagumo(16, steps=3, noise=noise),
])
def test_noise_is_bounded_and_seeded_after_the_initial_state(make):
    with pytest.raises(ValueError, match="noise"):
        make(1e308)
    clean, noisy, loudest = make(0.0), make(0.1), make(1e100)
    assert not noisy.diverged and not loudest.diverged and np.isfinite(loudest.states).all()
    assert np.std(noisy.states - clean.states) == pytest.approx(0.1, rel=0.2)
    # the same initial state with and without noise: the noise is drawn after it
    assert np.abs(noisy.states[..., 0] - clean.states[..., 0]).max() < 1.0


def test_an_unstable_field_is_flagged_not_raised():
    blown = fitzhugh_nagumo(64, 10.0, diffusion=5.0, steps=20, max_step=0.5, noise=0.01)
    assert blown.diverged and np.isnan(blown.states[0, :, blown.diverged_at[0]:]).all()
    assert np.isfinite(blown.states[0, :, :blown.diverged_at[0]]).all()
    spiral = lambda_omega(8, 6.0, initial=np.full(128, 1e3), dt=1e-5, steps=3)
    assert not spiral.diverged  # the stated step bound holds even at the largest amplitude


@pytest.mark.parametrize("a, b, current", [(0.7, 0.8, 0.0), (0.7, 0.0, 0.3), (0.7, 1e-300, 0.0),
                                           (-0.3, 2.0, 0.5)])
def test_the_resting_state_is_an_equilibrium(a, b, current):
    u, v = _resting_state(a, b, current)
    assert u - u**3 / 3 - v + current == pytest.approx(0.0, abs=1e-9)
    assert u + a - b * v == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(b * v)))


def test_fitzhugh_nagumo_keeps_its_pulse_and_its_defaults():
    field = fitzhugh_nagumo(64, 100.0, steps=50, seed=1)
    assert not field.diverged and field.states.shape == (1, 128, 51)
    u = field.states[0, :64]
    assert u.max() > 1.0  # an excited pulse travels
    assert np.argmax(u[:, -1]) != np.argmax(u[:, 0])


@pytest.mark.parametrize("call, name", [
    (lambda: lambda_omega(resolution=513), "resolution"),
    (lambda: lambda_omega(resolution=8.5), "resolution"),
    (lambda: lambda_omega(16, length=1e308), "length"),
    (lambda: lambda_omega(16, diffusion=-1.0), "diffusion"),
    (lambda: lambda_omega(16, beta=np.nan), "beta"),
    (lambda: lambda_omega(16, arms=11), "arms"),
    (lambda: lambda_omega(16, steps=10**12), "steps"),
    (lambda: lambda_omega(16, dt=1e308), "dt"),
    (lambda: lambda_omega(16, dt=1e3, max_step=1e-3), "dt / max_step"),
    (lambda: lambda_omega(16, dt=1e3, steps=5 * 10**4), "grid-point RK4 steps"),
    (lambda: lambda_omega(16, transient=1e308), "transient"),
    (lambda: lambda_omega(16, noise=-1.0), "noise"),
    (lambda: lambda_omega(16, noise=math.inf), "noise"),
    (lambda: lambda_omega(16, noise=1e101), "noise"),
    (lambda: lambda_omega(16, initial=np.zeros(10)), "initial"),
    (lambda: lambda_omega(16, initial=np.zeros((2, 512))), "initial"),
    (lambda: lambda_omega(16, initial=np.full(512, 1e4)), "initial"),
    (lambda: lambda_omega(16, max_step=-0.1), "max_step"),
    (lambda: lambda_omega(16, seed=-1), "seed"),
    (lambda: lambda_omega(512, steps=200), "recorded values"),
    (lambda: lambda_omega_stable_step(16, amplitude=1e308), "amplitude"),
    (lambda: fitzhugh_nagumo(n_grid=10**9), "n_grid"),
    (lambda: fitzhugh_nagumo(16, steps=10**12), "steps"),
    (lambda: fitzhugh_nagumo(16, dt=1e308), "dt"),
    (lambda: fitzhugh_nagumo(16, max_step=1e-12), "max_step"),
    (lambda: fitzhugh_nagumo(16, transient=1e308), "transient"),
    (lambda: fitzhugh_nagumo(16, trajectories=10**6), "trajectories"),
    (lambda: fitzhugh_nagumo(16, a=1e308), "^a must"),
    (lambda: fitzhugh_nagumo(16, initial=[[1.0, 2.0], [3.0]]), "initial"),
    (lambda: fitzhugh_nagumo(16, initial=np.zeros(31)), "initial"),
    (lambda: fitzhugh_nagumo(4096, steps=100_000), "recorded values"),
])
def test_bad_arguments_name_the_parameter(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()
