"""Spatio-temporal fields: FitzHugh-Nagumo (1D, excitable pulses) and lambda-omega (2D spirals).

Both are the oscillatory reaction-diffusion data of Alla, Monti and Sgura's piecewise DMD
paper [1]_ and return :class:`~explorer.koopman.systems.Snapshots`, one grid state per
column. FitzHugh-Nagumo runs through the RK4 kernel of the flows in
:mod:`explorer.koopman.systems` (periodic second differences); lambda-omega through its own
serial RK4 kernel (``explorer.koopman._field_kernels``) on a square with no-flux walls.

In both, measurement noise (at most 1e100, as for the flows) is added to the recorded states
before the divergence check, and every call is bounded in memory and work.

References
----------
.. [1] A. Alla, A. Monti, I. Sgura, "Piecewise DMD for oscillatory and Turing
   spatio-temporal dynamics", Computers & Mathematics with Applications 160 (2024)
   108-124, https://doi.org/10.1016/j.camwa.2024.02.022 (arXiv:2303.06512).
"""

from __future__ import annotations

import math

import numpy as np

from explorer._validation import check_array, check_range, make_rng
from explorer.koopman import _field_kernels, _kernels
from explorer.koopman.systems import (_MAX_NOISE, MAX_SUBSTEPS, MAX_VALUES, Snapshots, _finish,
                                      _flow, _initial_states)

__all__ = ["fitzhugh_nagumo", "lambda_omega", "lambda_omega_stable_step"]

#: Largest total work of one call, in grid-point RK4 steps (about a minute of compute).
MAX_POINT_STEPS = 10_000_000_000
#: RK4's stability region holds the closed left half-disc of this radius.
RK4_STABLE_RADIUS = 2.5


def _check_work(points, trajectories, steps, dt, transient, max_step, names):
    """Refuse a call that would record more than MAX_VALUES numbers or run for minutes.

    ``points`` grid points (two fields each) per trajectory; ``dt``, ``transient`` and
    ``max_step`` already checked. Returns (RK4 steps per sample, transient samples).
    """
    substeps = max(1, math.ceil(dt / max_step - 1e-9))
    transient_steps = math.ceil(transient / dt - 1e-9)
    values = trajectories * 2 * points * (steps + 1)
    if values > MAX_VALUES:
        raise ValueError(f"{names} ask for {values} recorded values; at most {MAX_VALUES}")
    work = trajectories * points * substeps * (steps + transient_steps)
    if work > MAX_POINT_STEPS or substeps > MAX_SUBSTEPS:
        raise ValueError(f"{names} and dt / max_step ask for {work:.3g} grid-point RK4 steps "
                         f"({substeps} per sample); at most {MAX_POINT_STEPS:.0e} "
                         f"({MAX_SUBSTEPS} per sample)")
    return substeps, transient_steps


def _resting_state(a, b, current):
    """The leftmost equilibrium ``(u, v)`` of the FitzHugh-Nagumo kinetics.

    Solves ``f(u) = b (u - u^3 / 3 + current) - (u + a) = 0`` (the v-nullcline multiplied
    through by ``b``, so that no ``1 / b`` overflows), polishes the real roots with Newton
    steps (the companion matrix loses the small root when ``b`` is tiny), and reads ``v`` off
    the u-nullcline.
    """
    roots = np.roots([-b / 3, 0.0, b - 1.0, b * current - a])
    scale = max(1.0, float(np.abs(roots).max()))
    real = roots[np.abs(roots.imag) <= 1e-9 * scale].real
    if real.size == 0:
        real = roots[[np.argmin(np.abs(roots.imag))]].real
    for _ in range(4):
        slope = b * (1 - real**2) - 1
        step = (b * (real - real**3 / 3 + current) - real - a) / np.where(slope == 0, 1.0, slope)
        real = real - np.where(slope == 0, 0.0, step)
    u = float(real.min())
    return u, u - u**3 / 3 + current


def fitzhugh_nagumo(n_grid=128, length=100.0, *, diffusion=1.0, a=0.7, b=0.8, epsilon=0.08,
                    current=0.0, dt=1.0, steps=400, trajectories=1, initial=None,
                    transient=0.0, noise=0.0, seed=0, max_step=0.05) -> Snapshots:
    """A 1D FitzHugh-Nagumo reaction-diffusion field on a periodic domain.

    ``u_t = diffusion u_xx + u - u^3 / 3 - v + current``, ``v_t = epsilon (u + a - b v)``.
    With the defaults the medium is excitable and the default initial state launches one
    pulse that travels around the ring (about one lap per 120 time units for length 100):
    oscillatory spatio-temporal data that one linear model fits poorly and
    :func:`~explorer.koopman.piecewise_dmd` fits piece by piece. ``current = 0.5`` makes
    every point a relaxation oscillator instead (the field then synchronises).

    Parameters
    ----------
    n_grid : int in [8, 4096]
        Grid points; the state is ``[u (n_grid), v (n_grid)]`` (``n_state = 2 n_grid``).
    length : float in (0, 1e6]
        Domain length (grid spacing ``dx = length / n_grid``).
    diffusion : float in [0, 1e6]
    a, b, current : float in [-1e6, 1e6]
    epsilon : float in (0, 1e6]
        Model parameters.
    dt : float in (0, 1e3]
        Time between samples.
    steps : int in [1, 1e6]
        Transitions per trajectory (``steps + 1`` samples).
    trajectories : int in [1, 10000]
        Number of random initial states when ``initial`` is None.
    initial : array (2 n_grid,) or (n_trajectories, 2 n_grid), optional
        Default: the resting state with a right-moving pulse (a raised ``u`` with a refractory
        ``v`` behind it) at a random position, plus a small random field (amplitude 0.02).
    transient : float in [0, 1e6]
        Time integrated and discarded before the first sample.
    noise : float in [0, 1e100]
        Standard deviation of Gaussian measurement noise, added before the divergence check
        (as for the flows of :mod:`explorer.koopman.systems`).
    seed : int or numpy Generator
        Seeds the initial states, then the noise.
    max_step : float in (0, 1e3]
        Largest RK4 step; each sample takes ``ceil(dt / max_step)`` steps (at most 100000).
        Stability bound: ``max_step <= 0.69 dx^2 / diffusion`` (RK4 on the periodic second
        difference, whose eigenvalues reach ``-4 diffusion / dx^2``); a larger step diverges
        and is flagged in ``diverged_at``, not refused.

    Returns
    -------
    Snapshots
        With ``grid`` the (n_grid,) point coordinates. At most 5e7 recorded values and 1e10
        grid-point RK4 steps per call.

    Examples
    --------
    >>> field = fitzhugh_nagumo(n_grid=16, steps=5)
    >>> field.states.shape, field.diverged
    ((1, 32, 6), False)
    """
    n_grid = check_range("n_grid", n_grid, lo=8, hi=4096, integer=True)
    check_range("length", length, lo=0.0, hi=1e6, lo_open=True)
    check_range("diffusion", diffusion, lo=0.0, hi=1e6)
    check_range("epsilon", epsilon, lo=0.0, hi=1e6, lo_open=True)
    for name, value in (("a", a), ("b", b), ("current", current)):
        check_range(name, value, lo=-1e6, hi=1e6)
    check_range("dt", dt, lo=0.0, hi=1e3, lo_open=True)
    check_range("steps", steps, lo=1, hi=1_000_000, integer=True)
    check_range("trajectories", trajectories, lo=1, hi=10_000, integer=True)
    check_range("transient", transient, lo=0.0, hi=1e6)
    check_range("noise", noise, lo=0.0, hi=_MAX_NOISE)
    check_range("max_step", max_step, lo=0.0, hi=1e3, lo_open=True)
    rng = make_rng(seed)
    grid = length / n_grid * np.arange(n_grid)
    rest_u, rest_v = _resting_state(a, b, current)

    def travelling_pulse(rng, shape):
        centers = rng.uniform(0, length, size=(shape[0], 1))
        offset = (grid - centers + length / 2) % length - length / 2  # periodic distance
        u = rest_u + 2.5 * np.exp(-0.5 * (offset / 3.0) ** 2)
        v = rest_v + 1.2 * np.exp(-0.5 * ((offset + 8.0) / 5.0) ** 2)
        return np.concatenate([u, v], axis=1) + 0.02 * rng.standard_normal(shape)

    start = _initial_states(initial, trajectories, 2 * n_grid, travelling_pulse, rng)
    _check_work(n_grid, start.shape[0], steps, dt, transient, max_step,
                "trajectories, n_grid, steps, transient")
    return _flow("fitzhugh nagumo", _kernels.FITZHUGH_NAGUMO,
                 [diffusion, a, b, epsilon, current, length / n_grid], 2 * n_grid,
                 travelling_pulse, dt=dt, steps=steps, trajectories=start.shape[0],
                 initial=start, transient=transient, noise=noise, seed=rng, max_step=max_step,
                 grid=grid)


def lambda_omega_stable_step(resolution=64, length=20.0, *, diffusion=0.1, beta=1.0,
                             amplitude=1.0) -> float:
    """The largest RK4 step that :func:`lambda_omega` accepts: a stated stability bound.

    ``2.5 / (8 diffusion / dx^2 + 1 + 3 A^2 sqrt(1 + beta^2))`` with ``dx = length /
    resolution`` and ``A = max(1, amplitude)``. Why: the 5-point no-flux Laplacian has its
    spectrum in ``(-8 / dx^2, 0]``; the kinetics ``z' = (1 - (1 + i beta)|z|^2) z`` (``z = u +
    i v``) have a Jacobian of norm at most ``1 + 3 |z|^2 sqrt(1 + beta^2)``, and ``|z| <= A``
    for all time (diffusion cannot raise ``max |z|`` and the kinetics pull ``|z| > 1`` back
    to the limit cycle); RK4's stability region holds the closed left half-disc of radius 2.5.

    Parameters
    ----------
    resolution, length, diffusion, beta
        As in :func:`lambda_omega`.
    amplitude : float in [0, 1e4]
        Largest ``sqrt(u^2 + v^2)`` of the initial state.

    Returns
    -------
    float
        The step bound (time units).

    Examples
    --------
    >>> round(lambda_omega_stable_step(64, 20.0), 4)
    0.1861
    """
    resolution = check_range("resolution", resolution, lo=8, hi=512, integer=True)
    length = check_range("length", length, lo=0.0, hi=1e4, lo_open=True)
    diffusion = check_range("diffusion", diffusion, lo=0.0, hi=1e3)
    beta = check_range("beta", beta, lo=-1e3, hi=1e3)
    amplitude = max(1.0, check_range("amplitude", amplitude, lo=0.0, hi=1e4))
    dx = length / resolution
    spectral_radius = 8 * diffusion / dx**2 + 1 + 3 * amplitude**2 * math.hypot(1.0, beta)
    return RK4_STABLE_RADIUS / spectral_radius


def _spiral(resolution, length, arms, rng):
    """``tanh(rho) exp(i (arms theta - rho))`` around a random centre, plus a little noise."""
    axis = (np.arange(resolution) + 0.5) * (length / resolution) - length / 2
    center = rng.uniform(-length / 10, length / 10, size=2)
    x, y = np.meshgrid(axis - center[0], axis - center[1])
    rho = np.hypot(x, y)
    field = np.tanh(rho) * np.exp(1j * (arms * np.arctan2(y, x) - rho))
    state = np.concatenate([field.real.ravel(), field.imag.ravel()])
    return state + 0.01 * rng.standard_normal(state.shape)


def lambda_omega(resolution=64, length=20.0, *, diffusion=0.1, beta=1.0, arms=1, dt=0.5,
                 steps=200, initial=None, transient=0.0, noise=0.0, seed=0,
                 max_step=None) -> Snapshots:
    """The lambda-omega reaction-diffusion system on a square: rotating spiral waves.

    ``u_t = diffusion Lap u + lambda(A) u - omega(A) v``,
    ``v_t = diffusion Lap v + omega(A) u + lambda(A) v``, with ``A^2 = u^2 + v^2``,
    ``lambda(A) = 1 - A^2`` and ``omega(A) = -beta A^2`` (the form used for spiral-wave data
    in the DMD literature and in [1]_). Every point is an oscillator: a homogeneous state
    runs to the limit cycle ``A = 1`` and turns at angular frequency ``-beta``; diffusion
    couples the oscillators into a spiral whose core sits where ``A = 0``.

    Thin wrapper around the serial RK4 kernel
    ``explorer.koopman._field_kernels.integrate_lambda_omega``: second differences on cell
    centres of ``[-length/2, length/2]^2`` with no-flux walls.

    Parameters
    ----------
    resolution : int in [8, 512]
        Grid points per side; the state is ``[u.ravel(), v.ravel()]``
        (``n_state = 2 resolution^2``), ``u[i, j]`` at ``(x_j, y_i)``.
    length : float in (0, 1e4]
        Side of the square (``dx = length / resolution``).
    diffusion : float in [0, 1e3]
        Diffusion coefficient of both fields.
    beta : float in [-1e3, 1e3]
        Twist: how much the rotation frequency depends on the amplitude.
    arms : int in [0, 10]
        Arms of the default initial spiral (0 gives a target pattern).
    dt : float in (0, 1e3]
        Time between samples.
    steps : int in [1, 1e6]
        Transitions (``steps + 1`` samples).
    initial : array (2 resolution^2,), optional
        Entries of magnitude at most 1e3. Default: the spiral ``tanh(rho) exp(i (arms theta
        - rho))`` around a centre drawn uniformly within ``length / 10`` of the middle, plus
        Gaussian noise of amplitude 0.01 (seeded).
    transient : float in [0, 1e6]
        Time integrated and discarded before the first sample.
    noise : float in [0, 1e100]
        Measurement noise, added before the divergence check.
    seed : int or numpy Generator
        Seeds the initial state, then the noise.
    max_step : float, optional
        Largest RK4 step, at most :func:`lambda_omega_stable_step` (the default); a larger
        one is refused with a ``ValueError`` that states the bound.

    Returns
    -------
    Snapshots
        One trajectory; ``grid`` is the (resolution,) axis of cell centres. At most 5e7
        recorded values and 1e10 grid-point RK4 steps per call.

    Examples
    --------
    >>> spiral = lambda_omega(resolution=16, steps=4)
    >>> spiral.states.shape, spiral.diverged
    ((1, 512, 5), False)
    """
    resolution = check_range("resolution", resolution, lo=8, hi=512, integer=True)
    length = check_range("length", length, lo=0.0, hi=1e4, lo_open=True)
    diffusion = check_range("diffusion", diffusion, lo=0.0, hi=1e3)
    beta = check_range("beta", beta, lo=-1e3, hi=1e3)
    arms = check_range("arms", arms, lo=0, hi=10, integer=True)
    check_range("dt", dt, lo=0.0, hi=1e3, lo_open=True)
    check_range("steps", steps, lo=1, hi=1_000_000, integer=True)
    check_range("transient", transient, lo=0.0, hi=1e6)
    check_range("noise", noise, lo=0.0, hi=_MAX_NOISE)
    n_state = 2 * resolution**2
    rng = make_rng(seed)
    if initial is None:
        start = _spiral(resolution, length, arms, rng)
    else:
        start = check_array("initial", initial, shape=(n_state,), max_abs=1e3)
    cells = resolution**2
    amplitude = float(np.hypot(start[:cells], start[cells:]).max())
    stable = lambda_omega_stable_step(resolution, length, diffusion=diffusion, beta=beta,
                                      amplitude=amplitude)
    if max_step is None:
        max_step = stable
    elif check_range("max_step", max_step, lo=0.0, hi=1e3, lo_open=True) > stable:
        raise ValueError(f"max_step must be at most {stable:.4g} for a stable RK4 step here "
                         f"(2.5 / (8 diffusion / dx^2 + 1 + 3 A^2 sqrt(1 + beta^2)), A = "
                         f"{max(1.0, amplitude):.3g}), got {max_step!r}")
    substeps, transient_steps = _check_work(cells, 1, steps, dt, transient, max_step,
                                            "resolution, steps, transient")
    states, _ = _field_kernels.integrate_lambda_omega(
        start[:cells].reshape(resolution, resolution).copy(),
        start[cells:].reshape(resolution, resolution).copy(), diffusion / (length / resolution)**2,
        beta, float(dt), int(steps), substeps, transient_steps)
    axis = (np.arange(resolution) + 0.5) * (length / resolution) - length / 2
    return _finish(states[None], dt, noise, rng, "lambda omega", grid=axis)
