"""Dynamical systems that produce snapshot matrices for DMD and EDMD.

Every system returns a :class:`Snapshots` result: the sampled trajectories and the pair
``X``, ``Y`` of snapshot matrices (one snapshot per column, ``Y[:, j]`` one step after
``X[:, j]``), as PyDMD expects them. Flows are integrated by a parallel RK4 kernel
(``explorer.koopman._kernels.integrate_flow``) with ``ceil(dt / max_step)`` substeps per sample.
Maps and linear systems live in :mod:`explorer.koopman.maps`.

Random initial conditions are drawn from ``make_rng(seed)`` (first the initial conditions,
then the measurement noise), so the same seed gives the same snapshots. Measurement noise is
added before the divergence check, so a state that noise pushes out of the finite numbers is
flagged like any other blow-up.

Bounds (stated in every message): ``steps`` and ``trajectories`` at most 10^6 each, at most
:data:`MAX_VALUES` recorded numbers in all, ``dt <= 1000``, at most :data:`MAX_SUBSTEPS`
integrator steps per sample, ``transient <= 10^6`` time units (and at most 10^6 samples),
``noise <= 1e100``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_bool, check_range, make_rng
from explorer.koopman import _kernels

__all__ = ["Snapshots", "slow_manifold", "duffing", "van_der_pol", "pendulum", "lorenz63",
           "MAX_VALUES", "MAX_SUBSTEPS"]

#: Largest number of recorded values (trajectories x state x samples): 400 MB of float64.
MAX_VALUES = 50_000_000
#: Largest number of RK4 steps per recorded sample (``ceil(dt / max_step)``).
MAX_SUBSTEPS = 100_000
_MAX_COUNT = 1_000_000
_MAX_NOISE = 1e100


@dataclass(frozen=True, eq=False)
class Snapshots:
    """Sampled trajectories of one system and the DMD snapshot pair built from them.

    Attributes
    ----------
    states : ndarray (n_trajectories, n_state, steps + 1)
        Recorded (noisy, if ``noise > 0``) states; NaN after a trajectory diverged.
    times : ndarray (steps + 1,)
        Sample times ``k * dt`` (for maps ``dt = 1``).
    dt : float
        Time between samples.
    diverged_at : ndarray (n_trajectories,) of int
        First sample that was not finite, -1 for trajectories that stayed finite.
    name : str
        The system's name.
    grid : ndarray (n_grid,) or None
        Spatial coordinates of a field (:func:`explorer.koopman.fitzhugh_nagumo`), else None.
    weights : ndarray (n_trajectories * steps,) or None
        Quadrature weights of the snapshot pairs when the samples are quadrature nodes (the
        Gauss map's Gauss-Legendre points), for ``edmd(X, Y, dictionary, data.weights)``;
        None means uniform.

    Unpacks as ``X, Y = snapshots``.
    """

    states: np.ndarray
    times: np.ndarray
    dt: float
    diverged_at: np.ndarray
    name: str
    grid: np.ndarray | None = None
    weights: np.ndarray | None = None

    @property
    def X(self) -> np.ndarray:  # noqa: N802 (the field's, and PyDMD's, name)
        """Snapshots (n_state, n_trajectories * steps): every sample but each trajectory's last."""
        return np.concatenate(list(self.states[:, :, :-1]), axis=1)

    @property
    def Y(self) -> np.ndarray:  # noqa: N802
        """Snapshots (n_state, n_trajectories * steps): ``Y[:, j]`` is one step after ``X[:, j]``."""
        return np.concatenate(list(self.states[:, :, 1:]), axis=1)

    @property
    def diverged(self) -> bool:
        """Whether any trajectory left the finite numbers (its tail is NaN)."""
        return bool(np.any(self.diverged_at >= 0))

    def __iter__(self):
        return iter((self.X, self.Y))


# ---------------------------------------------------------------------------------------
# shared plumbing
# ---------------------------------------------------------------------------------------
def _check_common(steps, trajectories, noise):
    check_range("steps", steps, lo=1, hi=_MAX_COUNT, integer=True)
    check_range("trajectories", trajectories, lo=1, hi=_MAX_COUNT, integer=True)
    check_range("noise", noise, lo=0.0, hi=_MAX_NOISE)


def _check_size(n_trajectories, n_state, steps):
    values = n_trajectories * n_state * (steps + 1)
    if values > MAX_VALUES:
        raise ValueError(f"steps, trajectories (and the state size) ask for {values} recorded "
                         f"values; at most {MAX_VALUES} (steps={steps}, trajectories="
                         f"{n_trajectories}, n_state={n_state})")


def _initial_states(initial, trajectories, n_state, draw, rng):
    """``initial`` as (n_trajectories, n_state), or ``draw(rng, shape)`` when it is None."""
    if initial is None:
        return draw(rng, (int(trajectories), n_state))
    initial = check_array("initial", initial)
    if initial.ndim == 1:
        initial = initial[None, :]
    initial = check_array("initial", initial, shape=(None, n_state))
    if initial.shape[0] > _MAX_COUNT:
        raise ValueError(f"initial must hold at most {_MAX_COUNT} states, got {initial.shape[0]}")
    return initial


def _uniform_box(low, high):
    """A sampler of initial conditions uniform in the box ``[low, high]`` (per coordinate)."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    return lambda rng, shape: rng.uniform(low, high, size=shape)


def _finish(states, dt, noise, rng, name, grid=None, observe=None, weights=None) -> Snapshots:
    """Observe, add measurement noise, then flag every trajectory that left the finite numbers."""
    if observe is not None:
        states = observe(states)
    if noise > 0:
        with np.errstate(over="ignore", invalid="ignore"):
            states = states + noise * rng.standard_normal(states.shape)
    diverged_at = _flag_divergence(states)
    times = dt * np.arange(states.shape[2])
    return Snapshots(states=states, times=times, dt=float(dt), diverged_at=diverged_at,
                     name=name, grid=grid, weights=weights)


def _flag_divergence(states):
    """NaN-fill every trajectory after its first non-finite sample; returns that index or -1."""
    finite = np.all(np.isfinite(states), axis=1)  # (n_trajectories, steps + 1)
    diverged_at = np.where(finite.all(axis=1), -1, np.argmin(finite, axis=1))
    for trajectory, first in enumerate(diverged_at):
        if first >= 0:
            states[trajectory, :, first:] = np.nan
    return diverged_at


def _flow(name, code, parameters, n_state, draw, *, dt, steps, trajectories, initial,
          transient, noise, seed, max_step, grid=None, observe=None) -> Snapshots:
    """Validate the shared arguments, draw initial states and run the RK4 kernel.

    ``observe`` maps the integrated states (n_trajectories, n_state, T) to the recorded ones.
    """
    check_range("dt", dt, lo=0.0, hi=1e3, lo_open=True)
    _check_common(steps, trajectories, noise)
    check_range("transient", transient, lo=0.0, hi=1e6)
    check_range("max_step", max_step, lo=0.0, hi=1e3, lo_open=True)
    substeps = max(1, math.ceil(dt / max_step - 1e-9))
    if substeps > MAX_SUBSTEPS:
        raise ValueError(f"dt / max_step must be at most {MAX_SUBSTEPS} RK4 steps per sample, got "
                         f"dt={dt!r}, max_step={max_step!r} ({substeps} steps)")
    transient_steps = math.ceil(transient / dt - 1e-9)
    if transient_steps > _MAX_COUNT:
        raise ValueError(f"transient / dt must be at most {_MAX_COUNT} samples, got transient="
                         f"{transient!r}, dt={dt!r}")
    rng = make_rng(seed)
    start = _initial_states(initial, trajectories, n_state, draw, rng)
    _check_size(start.shape[0], n_state, int(steps))
    states, _ = _kernels.integrate_flow(
        code, np.ascontiguousarray(start), np.asarray(parameters, dtype=float), float(dt),
        int(steps), substeps, transient_steps)
    return _finish(states, dt, noise, rng, name, grid, observe)


# ---------------------------------------------------------------------------------------
# the systems
# ---------------------------------------------------------------------------------------
_FLOW_DOC = """    dt : float in (0, 1000]
        Time between samples.
    steps : int in [1, 10^6]
        Transitions per trajectory (``steps + 1`` samples); at most :data:`MAX_VALUES`
        recorded numbers in all.
    trajectories : int in [1, 10^6]
        Number of random initial conditions when ``initial`` is None.
    initial : array (n_state,) or (n_trajectories, n_state), optional
        Explicit initial states.
    transient : float in [0, 10^6]
        Time integrated and discarded before the first sample (to reach an attractor); at
        most 10^6 samples of ``dt``.
    noise : float in [0, 1e100]
        Standard deviation of Gaussian measurement noise added to the recorded states
        (before the divergence check).
    seed : int or numpy Generator
        Seeds the initial conditions and the noise.
    max_step : float in (0, 1000]
        Largest RK4 step; each sample takes ``ceil(dt / max_step)`` steps, at most
        :data:`MAX_SUBSTEPS`.

    Returns
    -------
    Snapshots
"""


def _flow_doc(function):
    """Append the parameters every flow shares to the end of its Parameters section."""
    function.__doc__ = (function.__doc__ or "").rstrip() + "\n" + _FLOW_DOC
    return function


@_flow_doc
def slow_manifold(mu=-0.05, lam=-1.0, *, dt=0.1, steps=200, trajectories=10, initial=None,
                  transient=0.0, noise=0.0, seed=0, max_step=1e-3) -> Snapshots:
    """The slow-manifold system ``x1' = mu x1``, ``x2' = lam (x2 - x1^2)``.

    ``span{x1, x2, x1^2}`` is Koopman-invariant with continuous-time eigenvalues
    ``{mu, lam, 2 mu}``; for ``lam << mu < 0`` trajectories fall onto ``x2 = lam / (lam - 2 mu) x1^2``.
    Random initial states are uniform in ``[-1, 1]^2``.

    Parameters
    ----------
    mu, lam : float
        Rates of the slow and the fast direction (1 / time).
    """
    check_range("mu", mu)
    check_range("lam", lam)
    return _flow("slow manifold", _kernels.SLOW_MANIFOLD, [mu, lam], 2,
                 _uniform_box([-1, -1], [1, 1]), dt=dt, steps=steps, trajectories=trajectories,
                 initial=initial, transient=transient, noise=noise, seed=seed, max_step=max_step)


@_flow_doc
def duffing(delta=0.5, alpha=-1.0, beta=1.0, *, dt=0.25, steps=100, trajectories=20,
            initial=None, transient=0.0, noise=0.0, seed=0, max_step=1e-2) -> Snapshots:
    """The unforced Duffing oscillator ``x'' + delta x' + alpha x + beta x^3 = 0``.

    The defaults are the damped double well of Williams et al. (EDMD): two stable foci at
    ``x = +-1``. Random initial states are uniform in ``[-2, 2]^2`` (state ``(x, x')``).

    Parameters
    ----------
    delta, alpha, beta : float
        Damping, linear and cubic stiffness.
    """
    for name, value in (("delta", delta), ("alpha", alpha), ("beta", beta)):
        check_range(name, value)
    return _flow("duffing", _kernels.DUFFING, [delta, alpha, beta], 2,
                 _uniform_box([-2, -2], [2, 2]), dt=dt, steps=steps, trajectories=trajectories,
                 initial=initial, transient=transient, noise=noise, seed=seed, max_step=max_step)


@_flow_doc
def van_der_pol(mu=1.0, *, dt=0.05, steps=1000, trajectories=1, initial=None, transient=0.0,
                noise=0.0, seed=0, max_step=1e-2) -> Snapshots:
    """The Van der Pol oscillator ``x'' - mu (1 - x^2) x' + x = 0`` (state ``(x, x')``).

    For ``mu = 1`` the limit cycle has angular frequency ``omega0 = 0.9429558474`` and Floquet
    exponent ``-1.0593769948``; Koopman eigenvalues lie on ``n sigma + i k omega0``. Use
    ``transient`` (e.g. 50) to sample on the cycle. Random initial states are uniform in
    ``[-3, 3]^2``.

    Parameters
    ----------
    mu : float >= 0
        Nonlinear damping; 0 is the harmonic oscillator.
    """
    check_range("mu", mu, lo=0.0)
    return _flow("van der pol", _kernels.VAN_DER_POL, [mu], 2, _uniform_box([-3, -3], [3, 3]),
                 dt=dt, steps=steps, trajectories=trajectories, initial=initial,
                 transient=transient, noise=noise, seed=seed, max_step=max_step)


@_flow_doc
def pendulum(natural_frequency=1.0, damping=0.0, *, dt=0.1, steps=200, trajectories=20,
             initial=None, transient=0.0, noise=0.0, seed=0, max_step=1e-2,
             cylinder=False, max_energy=None) -> Snapshots:
    """The nonlinear pendulum ``theta'' + damping theta' + natural_frequency^2 sin(theta) = 0``.

    Undamped it is Hamiltonian (measure-preserving): its Koopman operator is unitary and the
    spectrum lies on the unit circle. State ``(theta, theta')`` with ``theta`` not wrapped
    (rotating orbits keep winding); random initial states are uniform in
    ``[-pi, pi] x [-2, 2]``.

    Parameters
    ----------
    natural_frequency : float > 0
        Small-angle angular frequency ``sqrt(g / l)`` (rad / time).
    damping : float >= 0
        Linear friction coefficient (1 / time).
    cylinder : bool
        Record ``(cos theta, sin theta, theta')`` instead: coordinates on the phase cylinder
        in which every observable is continuous across ``theta = +-pi`` (``n_state = 3``).
        ``initial`` stays ``(theta, theta')``.
    max_energy : float in (0, 1e6], optional
        Draw random initial states uniformly in ``{E <= max_energy}`` instead, with
        ``E = theta'^2 / 2 + natural_frequency^2 (1 - cos theta)`` and ``theta`` in
        ``[-pi, pi]``: an invariant set of the undamped flow, so that the snapshots sample an
        invariant measure (what residuals and spectral measures of a measure-preserving
        system assume).
    """
    check_range("natural_frequency", natural_frequency, lo=0.0, lo_open=True)
    check_range("damping", damping, lo=0.0)
    cylinder = check_bool("cylinder", cylinder)
    draw = _uniform_box([-np.pi, -2], [np.pi, 2])
    if max_energy is not None:
        max_energy = check_range("max_energy", max_energy, lo=0.0, hi=1e6, lo_open=True)
        draw = functools.partial(_uniform_energy_set, natural_frequency ** 2, max_energy)
    return _flow("pendulum", _kernels.PENDULUM, [natural_frequency, damping], 2, draw,
                 dt=dt, steps=steps,
                 trajectories=trajectories, initial=initial, transient=transient, noise=noise,
                 seed=seed, max_step=max_step, observe=_on_cylinder if cylinder else None)


def _uniform_energy_set(frequency_squared, max_energy, rng, shape):
    """Uniform samples of ``{p^2 / 2 + w^2 (1 - cos theta) <= max_energy}`` by rejection.

    Candidates come from the set's bounding box, ``|theta| <= 2 arcsin(sqrt(E / (2 w^2)))``
    (all of ``[-pi, pi]`` above the separatrix) times ``|p| <= sqrt(2 E)``; the set fills at
    least ``pi / 4`` of that box at any energy, so a few rounds always suffice.
    """
    accepted = np.empty((0, 2))
    ratio = max_energy / (2 * frequency_squared)
    top_angle = np.pi if ratio >= 1 else 2 * np.arcsin(np.sqrt(ratio))
    top_speed = np.sqrt(2 * max_energy)
    while accepted.shape[0] < shape[0]:
        candidates = rng.uniform([-top_angle, -top_speed], [top_angle, top_speed],
                                 size=(2 * shape[0], 2))
        energy = (candidates[:, 1] ** 2 / 2
                  + 2 * frequency_squared * np.sin(candidates[:, 0] / 2) ** 2)
        accepted = np.concatenate([accepted, candidates[energy <= max_energy]])
    return accepted[:shape[0]]


def _on_cylinder(states):
    """(theta, theta') states (n_trajectories, 2, T) -> (cos theta, sin theta, theta')."""
    angle, velocity = states[:, 0], states[:, 1]
    return np.stack([np.cos(angle), np.sin(angle), velocity], axis=1)


@_flow_doc
def lorenz63(sigma=10.0, rho=28.0, beta=8.0 / 3.0, *, dt=0.01, steps=2000, trajectories=1,
             initial=None, transient=10.0, noise=0.0, seed=0, max_step=1e-3) -> Snapshots:
    """The Lorenz-63 system ``x' = sigma (y - x)``, ``y' = x (rho - z) - y``, ``z' = x y - beta z``.

    Random initial states are uniform in ``[-15, 15]^2 x [5, 40]``; the default transient
    lands the trajectory on the attractor.

    Parameters
    ----------
    sigma, rho, beta : float
        Lorenz's parameters (chaotic at the defaults 10, 28, 8/3).
    """
    for name, value in (("sigma", sigma), ("rho", rho), ("beta", beta)):
        check_range(name, value)
    return _flow("lorenz63", _kernels.LORENZ, [sigma, rho, beta], 3,
                 _uniform_box([-15, -15, 5], [15, 15, 40]), dt=dt, steps=steps,
                 trajectories=trajectories, initial=initial, transient=transient, noise=noise,
                 seed=seed, max_step=max_step)
