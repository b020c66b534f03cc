"""Compiled kernels of the Koopman topic: arrays in, arrays out.

The public modules (``systems``, ``dictionaries``, ``edmd``, ``resdmd``) validate their inputs
and call these functions; nothing here checks arguments or raises.

Contents
--------
- vector fields of the flows (selected by an integer code) and one RK4 integrator that runs
  many trajectories in parallel, plus the logistic map;
- evaluation of monomial and radial-basis dictionaries, parallel over snapshots;
- residuals of EDMD eigenpairs and the pseudospectrum, parallel over eigenpairs / grid points.
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

_EPS = np.finfo(np.float64).eps


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

    ``snapshots`` (n_state, m), ``exponents`` (n_functions, n_state) -> (n_functions, m).
    """
    n_state, m = snapshots.shape
    n_functions = exponents.shape[0]
    degree = 0
    for k in range(n_functions):
        for i in range(n_state):
            degree = max(degree, exponents[k, i])
    values = np.empty((n_functions, m))
    for j in prange(m):
        powers = np.empty((n_state, degree + 1))
        for i in range(n_state):
            powers[i, 0] = 1.0
            for p in range(1, degree + 1):
                powers[i, p] = powers[i, p - 1] * snapshots[i, j]
        for k in range(n_functions):
            value = 1.0
            for i in range(n_state):
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


# ---------------------------------------------------------------------------------------
# residual DMD
# ---------------------------------------------------------------------------------------
@njit_cached
def _stacked_residual(a_tilde, residual_factor, z, vector):
    """``|[B; A~ - z I] h| / |h|``: the residual of the candidate pair (z, h), unsquared."""
    n = a_tilde.shape[0]
    total = 0.0
    norm_squared = 0.0
    for i in range(n):
        projected = -z * vector[i]
        outside = 0.0j
        for j in range(n):
            projected += a_tilde[i, j] * vector[j]
            outside += residual_factor[i, j] * vector[j]
        total += projected.real ** 2 + projected.imag ** 2 + outside.real ** 2 + outside.imag ** 2
        norm_squared += vector[i].real ** 2 + vector[i].imag ** 2
    return np.sqrt(total / norm_squared)


@njit_parallel
def eigenpair_residuals(a_tilde, residual_factor, eigs, vectors):
    """Residual of every pair ``(eigs[j], vectors[:, j])``, parallel over pairs.

    All arrays complex: ``a_tilde``, ``residual_factor`` (r, r), ``eigs`` (k,), ``vectors``
    (r, k) in the orthonormal coordinates of the dictionary span. Returns (k,) floats.
    """
    count = eigs.shape[0]
    residuals = np.empty(count)
    for j in prange(count):
        residuals[j] = _stacked_residual(a_tilde, residual_factor, eigs[j],
                                         np.ascontiguousarray(vectors[:, j]))
    return residuals


@njit_cached
def _cholesky_lower(matrix, lower):
    """Cholesky factor of a Hermitian matrix into ``lower``; False if a pivot is not positive."""
    n = matrix.shape[0]
    for i in range(n):
        for j in range(i + 1):
            total = matrix[i, j]
            for k in range(j):
                total -= lower[i, k] * np.conj(lower[j, k])
            if i == j:
                if not total.real > 0.0:
                    return False
                lower[i, i] = np.sqrt(total.real)
            else:
                lower[i, j] = total / lower[j, j].real
    return True


@njit_cached
def _solve_gram(lower, rhs, out):
    """``out = (L L*)^-1 rhs`` by forward then backward substitution."""
    n = lower.shape[0]
    for i in range(n):
        total = rhs[i]
        for k in range(i):
            total -= lower[i, k] * out[k]
        out[i] = total / lower[i, i].real
    for j in range(n - 1, -1, -1):
        out[j] = out[j] / lower[j, j].real
        value = out[j]
        for i in range(j):
            out[i] -= np.conj(lower[j, i]) * value


@njit_cached
def _orthogonalise(vector, basis, count):
    """Remove from ``vector`` its components along the first ``count`` rows of ``basis`` (twice)."""
    for _ in range(2):  # the second pass keeps the basis orthonormal to rounding
        for j in range(count):
            vector -= np.vdot(basis[j], vector) * basis[j]


@njit_cached
def _smallest_eigenvector(lower, start, max_iterations, tolerance):
    """Lanczos on ``(L L*)^-1``: the eigenvector of its largest eigenvalue, or an empty array.

    That is the eigenvector of the smallest eigenvalue of ``L L*``. Full reorthogonalisation;
    stops when the Ritz residual ``beta |s_k|`` is at most ``tolerance`` times the Ritz value
    (or the Krylov space is invariant), then refines the Ritz vector by one step of inverse
    iteration. An empty result means "not converged".
    """
    n = lower.shape[0]
    steps = min(max_iterations, n)
    basis = np.zeros((steps, n), dtype=np.complex128)
    tridiagonal = np.zeros((steps, steps))
    vector = start / np.linalg.norm(start)
    image = np.empty(n, dtype=np.complex128)
    for k in range(steps):
        basis[k] = vector
        _solve_gram(lower, vector, image)
        tridiagonal[k, k] = np.vdot(vector, image).real
        _orthogonalise(image, basis, k + 1)
        beta = np.linalg.norm(image)
        # the small eigen-solve costs more than a Lanczos step: test every few steps only
        # (and whenever the Krylov space became invariant, beta = 0)
        if (k + 1) % 4 != 0 and k != n - 1 and k != steps - 1 and beta > 0.0:
            tridiagonal[k, k + 1] = beta
            tridiagonal[k + 1, k] = beta
            vector = image / beta
            continue
        ritz_values, ritz_vectors = np.linalg.eigh(tridiagonal[:k + 1, :k + 1])
        weights = ritz_vectors[:, k]
        if beta * abs(weights[k]) <= tolerance * ritz_values[k] or k == n - 1:
            ritz_vector = np.zeros(n, dtype=np.complex128)
            for j in range(k + 1):
                ritz_vector += weights[j] * basis[j]
            # one step of inverse iteration multiplies what is left along each other
            # eigenvector by lambda_1 / lambda_i: tiny where tau is small
            _solve_gram(lower, ritz_vector, image)
            return image
        if k + 1 < steps:
            tridiagonal[k, k + 1] = beta
            tridiagonal[k + 1, k] = beta
            vector = image / beta
    return np.zeros(0, dtype=np.complex128)


@njit_parallel
def pseudospectrum_points(points, a_tilde, residual_factor, gram, start, max_iterations,
                          tolerance):
    """Minimal residual ``tau(z) = sigma_min([B; A~ - z I])`` at every point, in parallel.

    Per point: form the Hermitian ``H(z) = C* C - conj(z) A~ - z A~* + |z|^2 I`` (``gram`` is
    ``C* C = B* B + A~* A~``), shift it by a few ulps of its trace so that a Cholesky factor
    exists, find its smallest eigenvector by Lanczos on ``H(z)^-1`` and evaluate the
    residual of that vector *unsquared* (accurate down to rounding, where ``H`` itself
    bottoms out near 1e-8). If Lanczos does not converge within ``max_iterations`` the point
    falls back to a dense SVD of the stacked ``2r x r`` matrix.

    Returns
    -------
    tau : ndarray (n_points,)
    used_svd : ndarray (n_points,) of bool
        Points that needed the dense fallback.
    """
    n = a_tilde.shape[0]
    count = points.shape[0]
    tau = np.empty(count)
    used_svd = np.zeros(count, dtype=np.bool_)
    for p in prange(count):
        z = points[p]
        hermitian = np.empty((n, n), dtype=np.complex128)
        trace = 0.0
        for i in range(n):
            for j in range(n):
                hermitian[i, j] = gram[i, j] - np.conj(z) * a_tilde[i, j] - z * np.conj(a_tilde[j, i])
            hermitian[i, i] += z.real ** 2 + z.imag ** 2
            trace += hermitian[i, i].real
        for i in range(n):
            hermitian[i, i] += 16.0 * n * _EPS * trace
        lower = np.zeros((n, n), dtype=np.complex128)
        vector = np.zeros(0, dtype=np.complex128)
        if _cholesky_lower(hermitian, lower):
            vector = _smallest_eigenvector(lower, start, max_iterations, tolerance)
        if vector.shape[0] == n:
            tau[p] = _stacked_residual(a_tilde, residual_factor, z, vector)
        else:
            stacked = np.zeros((2 * n, n), dtype=np.complex128)
            stacked[:n] = residual_factor
            stacked[n:] = a_tilde
            for i in range(n):
                stacked[n + i, i] -= z
            tau[p] = np.linalg.svd(stacked, full_matrices=False)[1][n - 1]
            used_svd[p] = True
    return tau, used_svd
