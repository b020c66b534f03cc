"""Maps and linear systems: snapshots of discrete-time dynamics (and exact linear flows).

Every function returns :class:`~explorer.koopman.systems.Snapshots` (``dt = 1`` for maps).
The Gauss map and the circle rotation are the first examples of Colbrook and Townsend's
residual DMD paper (arXiv:2111.14889): the Gauss map's data are Gauss-Legendre nodes with
their quadrature weights (pass ``data.weights`` to :func:`edmd`), the rotation's a uniform
grid of angles on which trigonometric dictionaries integrate exactly.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.linalg
import scipy.special

from explorer._validation import check_array, check_choice, check_range, make_rng
from explorer.koopman import _kernels
from explorer.koopman.systems import (_MAX_COUNT, Snapshots, _check_common, _check_size,
                                      _finish, _initial_states, _uniform_box)

__all__ = ["linear_map", "linear_flow", "logistic_map", "gauss_map", "circle_rotation",
           "GAUSS_MAP_BETA"]

#: The Gauss map's default offset ``-1 - exp(-2)``: with ``alpha = 2`` it maps [-1, 0] into
#: itself and fixes ``x = -1``.
GAUSS_MAP_BETA = -1.0 - math.exp(-2.0)


def _check_square(matrix):
    matrix = check_array("matrix", matrix, ndim=2)
    if matrix.shape[0] != matrix.shape[1] or not 1 <= matrix.shape[0] <= 10_000:
        raise ValueError(f"matrix must be square with 1 to 10000 rows, got shape {matrix.shape}")
    return matrix


def _standard_normal(rng, shape):
    return rng.standard_normal(shape)


def _iterate_linear(propagator, start, steps):
    """States (n_trajectories, n_state, steps + 1) of ``x -> propagator @ x`` (BLAS per step)."""
    states = np.empty((start.shape[0], start.shape[1], steps + 1))
    states[:, :, 0] = start
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            states[:, :, step + 1] = states[:, :, step] @ propagator.T
    return states




def linear_map(matrix, *, steps=100, trajectories=1, initial=None, noise=0.0, seed=0) -> Snapshots:
    """Orbits of the linear map ``x_{k+1} = matrix @ x_k``.

    Parameters
    ----------
    matrix : array (n, n)
        Finite real matrix; its eigenvalues are the exact DMD eigenvalues.
    steps : int >= 1
        Transitions per trajectory.
    trajectories : int >= 1
        Number of random initial conditions (standard normal) when ``initial`` is None.
    initial : array (n,) or (n_trajectories, n), optional
        Explicit initial states.
    noise : float >= 0
        Standard deviation of Gaussian measurement noise added to every recorded state.
    seed : int or numpy Generator

    Returns
    -------
    Snapshots
        ``dt = 1``; growing orbits that overflow are flagged in ``diverged_at``.

    Examples
    --------
    >>> X, Y = linear_map([[0.9, 0.0], [0.0, 0.5]], steps=10)
    >>> X.shape, Y.shape
    ((2, 10), (2, 10))
    """
    matrix = _check_square(matrix)
    _check_common(steps, trajectories, noise)
    rng = make_rng(seed)
    start = _initial_states(initial, trajectories, matrix.shape[0], _standard_normal, rng)
    _check_size(start.shape[0], matrix.shape[0], int(steps))
    states = _iterate_linear(matrix, start, int(steps))
    return _finish(states, 1.0, noise, rng, "linear map")


def linear_flow(matrix, *, dt=0.1, steps=100, trajectories=1, initial=None, noise=0.0,
                seed=0) -> Snapshots:
    """Samples every ``dt`` of the linear flow ``x' = matrix @ x``, by the exact propagator.

    The snapshots satisfy ``Y = expm(matrix dt) X`` to rounding, so DMD's continuous-time
    eigenvalues ``log(eigs) / dt`` are the eigenvalues of ``matrix`` (for ``|Im| < pi / dt``).
    Other parameters as in :func:`linear_map`; ``dt > 0`` is in time units.
    """
    matrix = _check_square(matrix)
    check_range("dt", dt, lo=0.0, hi=1e3, lo_open=True)
    _check_common(steps, trajectories, noise)
    rng = make_rng(seed)
    start = _initial_states(initial, trajectories, matrix.shape[0], _standard_normal, rng)
    _check_size(start.shape[0], matrix.shape[0], int(steps))
    with np.errstate(over="ignore", invalid="ignore"):
        propagator = scipy.linalg.expm(matrix * dt)
    if not np.all(np.isfinite(propagator)):
        raise ValueError(f"matrix * dt is too large: expm(matrix * dt) overflows (dt={dt!r})")
    states = _iterate_linear(propagator, start, int(steps))
    return _finish(states, dt, noise, rng, "linear flow")




def logistic_map(growth_rate=4.0, *, steps=1000, trajectories=1, initial=None, noise=0.0,
                 seed=0) -> Snapshots:
    """Orbits of the logistic map ``x_{k+1} = growth_rate x_k (1 - x_k)`` on ``[0, 1]``.

    Parameters
    ----------
    growth_rate : float in [0, 4]
        ``4`` is fully chaotic (invariant density ``1 / (pi sqrt(x (1 - x)))``).
    steps, trajectories, noise, seed
        As in :func:`linear_map`; random initial states are uniform in ``(0, 1)``.
    initial : array (n_trajectories,) or (n_trajectories, 1), optional
        Values in [0, 1].

    Returns
    -------
    Snapshots
        ``n_state = 1``, ``dt = 1``.
    """
    check_range("growth_rate", growth_rate, lo=0.0, hi=4.0)
    _check_common(steps, trajectories, noise)
    rng = make_rng(seed)
    if initial is not None:
        initial = check_array("initial", initial).reshape(-1, 1)
    start = _initial_states(initial, trajectories, 1, _uniform_box([0.0], [1.0]), rng)
    if np.any((start < 0) | (start > 1)):
        raise ValueError("initial must lie in [0, 1]")
    _check_size(start.shape[0], 1, int(steps))
    states = _kernels.iterate_logistic(np.ascontiguousarray(start[:, 0]), float(growth_rate),
                                       int(steps))[:, None, :]
    return _finish(states, 1.0, noise, rng, "logistic map")


def _check_sampling(points, sampling, choices, noise, seed):
    """The shared arguments of the point-sampled maps: (points, sampling, rng)."""
    points = check_range("points", points, lo=1, hi=_MAX_COUNT, integer=True)
    sampling = check_choice("sampling", sampling, choices)
    check_range("noise", noise, lo=0.0, hi=1e100)
    return points, sampling, make_rng(seed)


def gauss_map(alpha: float = 2.0, beta: float = GAUSS_MAP_BETA, *, points: int = 100,
              sampling: str = "legendre", noise: float = 0.0, seed=0) -> Snapshots:
    """The Gauss iterated map ``x -> exp(-alpha x^2) + beta`` sampled on ``[-1, 0]``.

    One step from each of ``points`` states. With the defaults (the ResDMD paper's first
    example) the map sends ``[-1, 0]`` into itself with the attracting fixed point ``-1``
    (multiplier ``4 exp(-2) = 0.5413``), so the Koopman eigenvalues include ``(4 exp(-2))^k``,
    ``k = 0, 1, 2, ...``.

    Parameters
    ----------
    alpha, beta : float in [-100, 100]
    points : int in [1, 10^6]
        Number of snapshot pairs (at most 4000 for "legendre": the nodes come from an
        ``O(points^3)`` eigenvalue problem).
    sampling : {"legendre", "uniform", "random"}
        "legendre": Gauss-Legendre nodes on ``[-1, 0]`` with their quadrature weights (exact
        for polynomials of degree below ``2 points``); "uniform": midpoints of equal cells;
        "random": uniform random states (``seed``). The last two have equal weights.
    noise : float in [0, 1e100]
        Standard deviation of Gaussian noise added to the recorded states.
    seed : int or numpy Generator

    Returns
    -------
    Snapshots
        ``states`` (points, 1, 2) and ``weights`` (points,) summing to 1.

    Examples
    --------
    >>> data = gauss_map(points=5)
    >>> data.X.shape, round(float(data.weights.sum()), 12)
    ((1, 5), 1.0)
    """
    alpha = check_range("alpha", alpha, lo=-100.0, hi=100.0)
    beta = check_range("beta", beta, lo=-100.0, hi=100.0)
    points, sampling, rng = _check_sampling(points, sampling, ("legendre", "uniform", "random"),
                                            noise, seed)
    if sampling == "legendre":
        if points > 4000:
            raise ValueError(f"points must be at most 4000 for Gauss-Legendre sampling, got {points}")
        nodes, weights = _gauss_legendre(points)
        start, weights = (nodes - 1) / 2, weights / weights.sum()
    elif sampling == "uniform":
        start, weights = (np.arange(points) + 0.5) / points - 1, np.full(points, 1 / points)
    else:
        start, weights = rng.uniform(-1, 0, points), np.full(points, 1 / points)
    with np.errstate(over="ignore", invalid="ignore"):
        image = np.exp(-alpha * start**2) + beta
    states = np.stack([start, image], axis=1)[:, None, :]
    return _finish(states, 1.0, noise, rng, "gauss map", weights=weights)


def _wrap(angles):
    """Angles in [-pi, pi)."""
    return (angles + np.pi) % (2 * np.pi) - np.pi


def circle_rotation(omega: float = 1.0, *, points: int = 200, sampling: str = "grid",
                    noise: float = 0.0, seed=0) -> Snapshots:
    """The rotation ``x -> x + omega`` of the circle (angles in ``[-pi, pi)``).

    Measure preserving and invertible: the Koopman operator is unitary with eigenfunctions
    ``exp(i k x)`` and eigenvalues ``exp(i k omega)``; the spectral measure of an observable
    ``sum_k a_k exp(i k x)`` has mass ``|a_k|^2`` at angle ``k omega`` (mod ``2 pi``). Use the
    :func:`fourier` dictionary.

    Parameters
    ----------
    omega : float in [-1000, 1000]
        Rotation angle per step (radians).
    points : int in [1, 10^6]
        Number of snapshot pairs.
    sampling : {"grid", "trajectory", "random"}
        "grid": ``points`` equally spaced angles, one step each (the uniform weights then
        integrate ``exp(i k x)`` exactly for ``|k| < points``); "trajectory": one orbit of
        ``points`` steps from a random angle (ergodic if ``omega / 2 pi`` is irrational);
        "random": uniform random angles, one step each.
    noise : float in [0, 1e100]
        Standard deviation of Gaussian noise added to the recorded angles (not wrapped).
    seed : int or numpy Generator

    Returns
    -------
    Snapshots
        ``n_state = 1``; ``weights`` uniform for "grid" and "random", None for "trajectory".

    Examples
    --------
    >>> data = circle_rotation(0.5, points=4)
    >>> np.round(data.Y - data.X, 12).tolist()
    [[0.5, 0.5, 0.5, 0.5]]
    """
    omega = check_range("omega", omega, lo=-1000.0, hi=1000.0)
    points, sampling, rng = _check_sampling(points, sampling, ("grid", "trajectory", "random"),
                                            noise, seed)
    if sampling == "trajectory":
        orbit = _wrap(rng.uniform(-np.pi, np.pi) + omega * np.arange(points + 1))
        return _finish(orbit[None, None, :], 1.0, noise, rng, "circle rotation")
    if sampling == "grid":
        start = 2 * np.pi * np.arange(points) / points - np.pi
    else:
        start = rng.uniform(-np.pi, np.pi, points)
    # Y - X = omega exactly (not wrapped): a Fourier dictionary is 2 pi periodic anyway
    states = np.stack([start, start + omega], axis=1)[:, None, :]
    return _finish(states, 1.0, noise, rng, "circle rotation", weights=np.full(points, 1 / points))


@functools.lru_cache(maxsize=8)
def _gauss_legendre(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1], read-only and cached per size.

    scipy's asymptotic formulas take 0.1 s at 2000 points where numpy's ``leggauss`` (an
    eigenvalue problem) takes 0.7 s with weights 1e3 times less accurate; the cache makes a
    view's repeated previews free.
    """
    nodes, weights = scipy.special.roots_legendre(points)
    nodes.flags.writeable = weights.flags.writeable = False
    return nodes, weights
