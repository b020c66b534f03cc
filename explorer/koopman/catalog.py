"""The systems and dictionaries on offer, shared by the view and the command line.

One table per concept, so that the Koopman view (``explorer.apps.koopman``) and
``python -m explorer koopman`` simulate the same system with the same settings (the pendulum
used to be sampled up to energy 1.8 in one and 3.0 in the other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

import numpy as np

from explorer._validation import check_choice, check_instance, check_range
from explorer.koopman.dictionaries import (MAX_FUNCTIONS, fourier, legendre, monomials,
                                           pick_centers, radial_basis)
from explorer.koopman.maps import circle_rotation, gauss_map, logistic_map
from explorer.koopman.systems import (Snapshots, duffing, lorenz63, pendulum, slow_manifold,
                                      van_der_pol)

__all__ = ["SystemSpec", "SYSTEMS", "simulate", "DictionarySpec", "DICTIONARIES",
           "build_dictionary", "phase_portrait", "PENDULUM_MAX_ENERGY"]

#: The pendulum's sampled energy set ``{E <= 3}``: librations and rotations (the separatrix
#: is at 2 for unit frequency), observed on the phase cylinder so every observable is
#: continuous. Invariant, so the data sample an invariant measure (the operator is unitary).
PENDULUM_MAX_ENERGY = 3.0


@dataclass(frozen=True)
class SystemSpec:
    """How a system is driven from a view or the command line.

    Attributes
    ----------
    simulate : callable
        The system's function (returns :class:`Snapshots`).
    parameter : str
        The keyword a parameter slider moves; ``low``, ``high``, ``step``, ``value`` its range.
    dt : float or None
        Time between samples (None for maps, which have no ``dt``).
    transient : float or None
        Time discarded first (None where the system takes no ``transient``).
    options : dict
        Further fixed keywords.
    sampling : str
        "trajectories" (``steps`` and ``trajectories`` apply) or "points" (one step from
        each of ``points`` states, with quadrature weights).
    dictionaries : tuple of str
        Names in :data:`DICTIONARIES` that suit the system, the first being its default.
    """

    simulate: Callable
    parameter: str
    low: float
    high: float
    step: float
    value: float
    dt: float | None
    transient: float | None = 0.0
    options: dict = field(default_factory=dict)
    sampling: str = "trajectories"
    dictionaries: tuple = ("monomials", "gaussian rbf", "thin-plate rbf")


SYSTEMS = {
    "van der pol": SystemSpec(van_der_pol, "mu", 0.0, 4.0, 0.1, 1.0, 0.1),
    "duffing": SystemSpec(duffing, "delta", 0.0, 1.0, 0.05, 0.5, 0.25),
    "pendulum": SystemSpec(pendulum, "damping", 0.0, 0.5, 0.02, 0.0, 0.5,
                           options={"max_energy": PENDULUM_MAX_ENERGY, "cylinder": True},
                           dictionaries=("gaussian rbf", "monomials", "thin-plate rbf")),
    "slow manifold": SystemSpec(slow_manifold, "mu", -0.5, -0.01, 0.01, -0.05, 0.1),
    "lorenz63": SystemSpec(lorenz63, "rho", 0.5, 40.0, 0.5, 28.0, 0.02, 5.0,
                           dictionaries=("gaussian rbf", "monomials", "thin-plate rbf")),
    "logistic map": SystemSpec(logistic_map, "growth_rate", 2.5, 4.0, 0.05, 4.0, None, None),
    "gauss map": SystemSpec(gauss_map, "alpha", 0.5, 4.0, 0.1, 2.0, None, None,
                            sampling="points", dictionaries=("legendre", "monomials")),
    "circle rotation": SystemSpec(circle_rotation, "omega", 0.05, 3.1, 0.05, 1.0, None, None,
                                  sampling="points", dictionaries=("fourier",)),
}


def simulate(name: str, parameter=None, *, steps: int = 200, trajectories: int = 10,
             noise: float = 0.0, seed=0, **overrides) -> Snapshots:
    """Snapshots of the system ``name`` of :data:`SYSTEMS` at its table settings.

    Parameters
    ----------
    name : str
        A key of :data:`SYSTEMS`.
    parameter : float, optional
        Value of the system's slider parameter (default: the table's).
    steps, trajectories : int
        For "points" systems, ``steps * trajectories`` is the number of points.
    noise : float
    seed : int or numpy Generator
    **overrides
        Any other keyword of the system's function (e.g. ``dt``).

    Returns
    -------
    Snapshots
    """
    spec = SYSTEMS[check_choice("name", name, tuple(SYSTEMS))]
    value = spec.value if parameter is None else check_range("parameter", parameter,
                                                               lo=spec.low, hi=spec.high)
    options = {spec.parameter: value, "noise": noise, "seed": seed, **spec.options}
    if spec.sampling == "points":
        options["points"] = int(steps) * int(trajectories)
    else:
        options.update(steps=steps, trajectories=trajectories)
    if spec.dt is not None:
        options["dt"] = spec.dt
    if spec.transient is not None:
        options["transient"] = spec.transient
    options.update(overrides)
    return spec.simulate(**options)


@dataclass(frozen=True)
class DictionarySpec:
    """A dictionary kind: what its size means and the range a size slider offers."""

    size_meaning: str
    low: int
    high: int
    value: int


DICTIONARIES = {
    "monomials": DictionarySpec("degree", 1, 8, 3),
    "gaussian rbf": DictionarySpec("centers", 5, 200, 40),
    "thin-plate rbf": DictionarySpec("centers", 5, 200, 40),
    "legendre": DictionarySpec("polynomials", 2, 80, 40),
    "fourier": DictionarySpec("modes", 1, 100, 10),
}


def build_dictionary(kind: str, size: int, X, seed=0):
    """The dictionary ``kind`` of :data:`DICTIONARIES` with ``size`` (degree, centers, ...).

    Radial bases take their centers among the columns of ``X`` (at most its number) and a
    width equal to the mean spread of the coordinates.
    """
    kind = check_choice("kind", kind, tuple(DICTIONARIES))
    spec = DICTIONARIES[kind]
    size = check_range("size", size, lo=spec.low, hi=min(spec.high, MAX_FUNCTIONS), integer=True)
    if kind == "monomials":
        return monomials(size)
    if kind == "legendre":
        return legendre(size)
    if kind == "fourier":
        return fourier(size)
    centers = pick_centers(X, min(size, X.shape[1]), seed=seed)
    width = float(np.mean(np.std(X, axis=1))) or 1.0
    return radial_basis(centers, width=width,
                        kind="gaussian" if kind == "gaussian rbf" else "thin_plate")


def phase_portrait(snapshots: Snapshots):
    """Coordinates to draw a system's trajectories: ``(x, y, x_label, y_label)``.

    ``x`` and ``y`` are (n_trajectories, samples): flows show ``(x1, x_last)`` (``(x, x')``,
    ``(x, z)`` for Lorenz, ``(angle, velocity)`` for the pendulum on its cylinder);
    one-dimensional maps show ``(x_k, x_{k+1})``. A diverged trajectory's tail is NaN, as in
    ``snapshots.states`` (``snapshots.diverged_at`` flags it).
    """
    states = check_instance("snapshots", snapshots, Snapshots).states
    if states.shape[1] == 3 and snapshots.name == "pendulum":
        return (np.arctan2(states[:, 1], states[:, 0]), states[:, 2], "angle",
                "angular velocity")
    if states.shape[1] > 1:
        return states[:, 0, :], states[:, -1, :], "x1", f"x{states.shape[1]}"
    return states[:, 0, :-1], states[:, 0, 1:], "x_k", "x_k+1"
