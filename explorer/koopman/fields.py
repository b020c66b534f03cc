"""Spatio-temporal fields: a 1D FitzHugh-Nagumo reaction-diffusion medium.

The field is integrated by the same parallel RK4 kernel as the flows of
:mod:`explorer.koopman.systems` (method of lines: second differences on a periodic grid), and
returns the same :class:`~explorer.koopman.systems.Snapshots`, one grid state per column.
"""

from __future__ import annotations

import numpy as np

from explorer._validation import check_range
from explorer.koopman import _kernels
from explorer.koopman.systems import Snapshots, _flow

__all__ = ["fitzhugh_nagumo"]


def _resting_state(a, b, current):
    """The leftmost equilibrium ``(u, v)`` of the FitzHugh-Nagumo kinetics."""
    if b == 0:
        u = -a
        return u, u - u**3 / 3 + current
    roots = np.roots([-1 / 3, 0.0, 1 - 1 / b, current - a / b])
    u = roots[np.abs(roots.imag) < 1e-9].real.min()
    return u, (u + a) / b


def fitzhugh_nagumo(n_grid=128, length=100.0, *, diffusion=1.0, a=0.7, b=0.8, epsilon=0.08,
                    current=0.0, dt=1.0, steps=400, trajectories=1, initial=None,
                    transient=0.0, noise=0.0, seed=0, max_step=0.05) -> Snapshots:
    """A 1D FitzHugh-Nagumo reaction-diffusion field on a periodic domain.

    ``u_t = diffusion u_xx + u - u^3 / 3 - v + current``, ``v_t = epsilon (u + a - b v)``.
    With the defaults the medium is excitable and the default initial state launches one
    pulse that travels around the ring (about one lap per 120 time units for length 100):
    oscillatory spatio-temporal data that one linear model fits poorly and
    :func:`piecewise_dmd` fits piece by piece. ``current = 0.5`` makes every point a
    relaxation oscillator instead (the field then synchronises).

    Parameters
    ----------
    n_grid : int >= 8
        Grid points; the state is ``[u (n_grid), v (n_grid)]`` (``n_state = 2 n_grid``).
    length : float > 0
        Domain length (grid spacing ``length / n_grid``).
    diffusion, a, b, epsilon, current : float
        Model parameters (``diffusion >= 0``, ``epsilon > 0``).
    initial : array (2 n_grid,) or (n_trajectories, 2 n_grid), optional
        Default: the resting state with a right-moving pulse (a raised ``u`` with a refractory
        ``v`` behind it) at a random position, plus a small random field (amplitude 0.02).
    max_step : float > 0
        Largest RK4 step; keep ``max_step < 0.7 dx^2 / diffusion`` for stability (a step
        that is too large diverges and is flagged in ``diverged_at``).
    dt, steps, trajectories, transient, noise, seed
        As for the flows of :mod:`explorer.koopman.systems`.

    Returns
    -------
    Snapshots
        With ``grid`` the (n_grid,) point coordinates.
    """
    check_range("n_grid", n_grid, lo=8, integer=True)
    check_range("length", length, lo=0.0, lo_open=True)
    check_range("diffusion", diffusion, lo=0.0)
    check_range("epsilon", epsilon, lo=0.0, lo_open=True)
    for name, value in (("a", a), ("b", b), ("current", current)):
        check_range(name, value)
    n_grid = int(n_grid)
    grid = length / n_grid * np.arange(n_grid)
    rest_u, rest_v = _resting_state(a, b, current)

    def travelling_pulse(rng, shape):
        centers = rng.uniform(0, length, size=(shape[0], 1))
        offset = (grid - centers + length / 2) % length - length / 2  # periodic distance
        u = rest_u + 2.5 * np.exp(-0.5 * (offset / 3.0) ** 2)
        v = rest_v + 1.2 * np.exp(-0.5 * ((offset + 8.0) / 5.0) ** 2)
        return np.concatenate([u, v], axis=1) + 0.02 * rng.standard_normal(shape)

    return _flow("fitzhugh nagumo", _kernels.FITZHUGH_NAGUMO,
                 [diffusion, a, b, epsilon, current, length / n_grid], 2 * n_grid,
                 travelling_pulse, dt=dt, steps=steps, trajectories=trajectories,
                 initial=initial, transient=transient, noise=noise, seed=seed,
                 max_step=max_step, grid=grid)
