"""Compiled kernels of the reaction-diffusion fields: arrays in, arrays out.

:mod:`explorer.koopman.fields` validates its arguments and calls these; nothing here checks
arguments or raises. The lambda-omega medium is a 2D square grid with no-flux (Neumann)
boundaries, second differences on cell centres (a ghost cell mirrors its neighbour), and
classical RK4 in time.

The kernels are serial on purpose: every RK4 stage needs the whole previous stage, so a
row-parallel version synchronises its threads four times per step, and on this shared
2-core machine that made a 128 x 128 run 18x slower with 2 threads than with one (22.9 s
against 1.24 s, load ~9). Serial loops are also the same bits for any thread count.
"""

from __future__ import annotations

import numpy as np

from explorer._jit import njit_cached


@njit_cached
def lambda_omega_rates(u, v, coupling, beta, rate_u, rate_v):
    """Write ``d(u, v)/dt`` of the lambda-omega medium into ``rate_u``, ``rate_v`` (n, n).

    ``coupling = diffusion / dx^2``; the kinetics are ``lambda(A) = 1 - A^2`` and
    ``omega(A) = -beta A^2`` with ``A^2 = u^2 + v^2``.
    """
    n = u.shape[0]
    for i in range(n):
        up = max(i - 1, 0)
        down = min(i + 1, n - 1)
        for j in range(n):
            left = max(j - 1, 0)
            right = min(j + 1, n - 1)
            uu = u[i, j]
            vv = v[i, j]
            laplacian_u = u[up, j] + u[down, j] + u[i, left] + u[i, right] - 4.0 * uu
            laplacian_v = v[up, j] + v[down, j] + v[i, left] + v[i, right] - 4.0 * vv
            squared = uu * uu + vv * vv
            growth = 1.0 - squared
            turning = -beta * squared
            rate_u[i, j] = coupling * laplacian_u + growth * uu - turning * vv
            rate_v[i, j] = coupling * laplacian_v + turning * uu + growth * vv


@njit_cached
def _stage(u, v, h, rate_u, rate_v, stage_u, stage_v):
    """``stage = state + h * rate`` for both fields."""
    n = u.shape[0]
    for i in range(n):
        for j in range(n):
            stage_u[i, j] = u[i, j] + h * rate_u[i, j]
            stage_v[i, j] = v[i, j] + h * rate_v[i, j]


@njit_cached
def _rk4_update(field, h, k1, k2, k3, k4):
    """``field += h / 6 (k1 + 2 k2 + 2 k3 + k4)`` in place."""
    n = field.shape[0]
    for i in range(n):
        for j in range(n):
            field[i, j] += h / 6.0 * (k1[i, j] + 2.0 * k2[i, j] + 2.0 * k3[i, j] + k4[i, j])


@njit_cached
def integrate_lambda_omega(u0, v0, coupling, beta, dt, steps, substeps, transient_steps):
    """RK4 samples of the lambda-omega medium from ``(u0, v0)`` (n, n).

    Parameters
    ----------
    u0, v0 : ndarray (n, n)
        Initial fields.
    coupling, beta : float
        ``diffusion / dx^2`` and the twist of ``omega(A) = -beta A^2``.
    dt : float
        Time between recorded samples; each sample takes ``substeps`` RK4 steps.
    steps, substeps, transient_steps : int
        Recorded transitions, RK4 steps per sample, samples integrated and discarded first.

    Returns
    -------
    states : ndarray (2 n^2, steps + 1)
        ``[u.ravel(); v.ravel()]`` per column; NaN from the first non-finite sample on.
    diverged_at : int
        That sample's index (0 if it happened during the transient), -1 if none.
    """
    n = u0.shape[0]
    cells = n * n
    states = np.full((2 * cells, steps + 1), np.nan)
    u = u0.copy()
    v = v0.copy()
    k_u = np.empty((4, n, n))
    k_v = np.empty((4, n, n))
    stage_u = np.empty((n, n))
    stage_v = np.empty((n, n))
    h = dt / substeps
    for sample in range(transient_steps + steps + 1):
        if sample > 0:
            for _ in range(substeps):
                lambda_omega_rates(u, v, coupling, beta, k_u[0], k_v[0])
                _stage(u, v, 0.5 * h, k_u[0], k_v[0], stage_u, stage_v)
                lambda_omega_rates(stage_u, stage_v, coupling, beta, k_u[1], k_v[1])
                _stage(u, v, 0.5 * h, k_u[1], k_v[1], stage_u, stage_v)
                lambda_omega_rates(stage_u, stage_v, coupling, beta, k_u[2], k_v[2])
                _stage(u, v, h, k_u[2], k_v[2], stage_u, stage_v)
                lambda_omega_rates(stage_u, stage_v, coupling, beta, k_u[3], k_v[3])
                _rk4_update(u, h, k_u[0], k_u[1], k_u[2], k_u[3])
                _rk4_update(v, h, k_v[0], k_v[1], k_v[2], k_v[3])
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
            return states, max(sample - transient_steps, 0)
        if sample >= transient_steps:
            column = sample - transient_steps
            states[:cells, column] = u.ravel()
            states[cells:, column] = v.ravel()
    return states, -1
