"""Compiled kernels of the Koopman topic: arrays in, arrays out.

The public modules (``systems``, ``dictionaries``) validate their inputs and call these
functions; nothing here checks arguments or raises. The kernels of residual DMD live in
:mod:`explorer.koopman._residual_kernels`.

Contents
--------
- vector fields of the flows (selected by an integer code) and one RK4 integrator that runs
  many trajectories in parallel, plus the logistic map;
- evaluation of monomial and radial-basis dictionaries, parallel over snapshots.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from explorer._jit import njit_cached, njit_parallel

# Codes of the flows understood by ``_vector_field`` (see ``explorer.koopman.systems``).
VAN_DER_POL = 0
DUFFING = 1
PENDULUM = 2
LORENZ = 3
SLOW_MANIFOLD = 4
FITZHUGH_NAGUMO = 5

# Codes of the radial functions understood by ``evaluate_radial_basis``.
GAUSSIAN = 0
THIN_PLATE = 1

# ---------------------------------------------------------------------------------------
# dynamical systems
# ---------------------------------------------------------------------------------------
@njit_cached
def _vector_field(system, state, parameters, out):
    """Write dx/dt at ``state`` into ``out`` for the flow with code ``system``."""
    if system == VAN_DER_POL:
        mu = parameters[0]
        out[0] = state[1]
        out[1] = mu * (1.0 - state[0] * state[0]) * state[1] - state[0]
    elif system == DUFFING:
        delta, alpha, beta = parameters[0], parameters[1], parameters[2]
        out[0] = state[1]
        out[1] = -delta * state[1] - alpha * state[0] - beta * state[0] ** 3
    elif system == PENDULUM:
        frequency_squared, damping = parameters[0] ** 2, parameters[1]
        out[0] = state[1]
        out[1] = -damping * state[1] - frequency_squared * np.sin(state[0])
    elif system == LORENZ:
        sigma, rho, beta = parameters[0], parameters[1], parameters[2]
        out[0] = sigma * (state[1] - state[0])
        out[1] = state[0] * (rho - state[2]) - state[1]
        out[2] = state[0] * state[1] - beta * state[2]
    elif system == SLOW_MANIFOLD:
        mu, lam = parameters[0], parameters[1]
        out[0] = mu * state[0]
        out[1] = lam * (state[1] - state[0] * state[0])
    else:  # FITZHUGH_NAGUMO on a periodic 1D grid: state = [u (n), v (n)]
        diffusion, a, b, epsilon, current, dx = (parameters[0], parameters[1], parameters[2],
                                                 parameters[3], parameters[4], parameters[5])
        n = state.shape[0] // 2
        coupling = diffusion / (dx * dx)
        for i in range(n):
            u = state[i]
            v = state[n + i]
            laplacian = state[(i - 1) % n] - 2.0 * u + state[(i + 1) % n]
            out[i] = coupling * laplacian + u - u * u * u / 3.0 - v + current
            out[n + i] = epsilon * (u + a - b * v)


@njit_parallel
def integrate_flow(system, initial, parameters, dt, steps, substeps, transient_steps):
    """RK4 integration of many trajectories of one flow, parallel over trajectories.

    Parameters
    ----------
    system : int
        Code of the vector field (module constants).
    initial : ndarray (n_trajectories, n_state)
    parameters : ndarray (n_parameters,)
    dt : float
        Time between recorded samples; each sample takes ``substeps`` RK4 steps.
    steps : int
        Recorded transitions: ``steps + 1`` samples per trajectory.
    substeps, transient_steps : int
        RK4 steps per sample; samples integrated and discarded before the first record.

    Returns
    -------
    states : ndarray (n_trajectories, n_state, steps + 1)
        NaN after a trajectory left the finite numbers.
    diverged_at : ndarray (n_trajectories,) of int
        Index of the first sample that was not finite (-1 if none; 0 if it happened during
        the transient).
    """
    n_trajectories, n_state = initial.shape
    states = np.full((n_trajectories, n_state, steps + 1), np.nan)
    diverged_at = np.full(n_trajectories, -1, dtype=np.int64)
    h = dt / substeps
    for trajectory in prange(n_trajectories):
        x = initial[trajectory].copy()
        k1 = np.empty(n_state)
        k2 = np.empty(n_state)
        k3 = np.empty(n_state)
        k4 = np.empty(n_state)
        stage = np.empty(n_state)
        for sample in range(transient_steps + steps + 1):
            if sample > 0:
                for _ in range(substeps):
                    _vector_field(system, x, parameters, k1)
                    for i in range(n_state):
                        stage[i] = x[i] + 0.5 * h * k1[i]
                    _vector_field(system, stage, parameters, k2)
                    for i in range(n_state):
                        stage[i] = x[i] + 0.5 * h * k2[i]
                    _vector_field(system, stage, parameters, k3)
                    for i in range(n_state):
                        stage[i] = x[i] + h * k3[i]
                    _vector_field(system, stage, parameters, k4)
                    for i in range(n_state):
                        x[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
            if not np.all(np.isfinite(x)):
                diverged_at[trajectory] = max(sample - transient_steps, 0)
                break
            if sample >= transient_steps:
                states[trajectory, :, sample - transient_steps] = x
    return states, diverged_at


@njit_parallel
def iterate_logistic(initial, growth_rate, steps):
    """Orbits of ``x -> r x (1 - x)``; ``initial`` (n_trajectories,) -> (n_trajectories, steps + 1)."""
    n_trajectories = initial.shape[0]
    states = np.empty((n_trajectories, steps + 1))
    for trajectory in prange(n_trajectories):
        x = initial[trajectory]
        states[trajectory, 0] = x
        for step in range(1, steps + 1):
            x = growth_rate * x * (1.0 - x)
            states[trajectory, step] = x
    return states


# ---------------------------------------------------------------------------------------
# dictionaries of observables
# ---------------------------------------------------------------------------------------
@njit_parallel
def evaluate_monomials(snapshots, exponents):
    """Monomials ``prod_i x_i ** exponents[k, i]`` at every snapshot, parallel over snapshots.

    ``snapshots`` (n_state, m), real or complex, ``exponents`` (n_functions, n_state) ->
    (n_functions, m) in the snapshots' dtype.
    """
    n_state, m = snapshots.shape
    n_functions = exponents.shape[0]
    degree = 0
    for k in range(n_functions):
        for i in range(n_state):
            degree = max(degree, exponents[k, i])
    values = np.empty((n_functions, m), dtype=snapshots.dtype)
    for j in prange(m):
        powers = np.empty((n_state, degree + 1), dtype=snapshots.dtype)
        for i in range(n_state):
            powers[i, 0] = 1.0
            for p in range(1, degree + 1):
                powers[i, p] = powers[i, p - 1] * snapshots[i, j]
        for k in range(n_functions):
            value = powers[0, exponents[k, 0]]
            for i in range(1, n_state):
                value *= powers[i, exponents[k, i]]
            values[k, j] = value
    return values


@njit_parallel
def evaluate_radial_basis(snapshots, centers, width, kind):
    """``phi(|x - c_k| / width)`` at every snapshot, parallel over snapshots.

    ``snapshots`` (n_state, m), ``centers`` (n_state, n_centers) -> (n_centers, m); ``kind``
    is GAUSSIAN (``exp(-r^2)``) or THIN_PLATE (``r^2 log r``).
    """
    n_state, m = snapshots.shape
    n_centers = centers.shape[1]
    values = np.empty((n_centers, m))
    for j in prange(m):
        for k in range(n_centers):
            squared = 0.0
            for i in range(n_state):
                difference = snapshots[i, j] - centers[i, k]
                squared += difference * difference
            squared /= width * width
            if kind == GAUSSIAN:
                values[k, j] = np.exp(-squared)
            elif squared > 0.0:
                values[k, j] = 0.5 * squared * np.log(squared)
            else:
                values[k, j] = 0.0
    return values
