"""``python -m explorer koopman``: EDMD of the pendulum checked by residual DMD.

The headline experiment of Colbrook and Townsend: the undamped pendulum is measure-preserving,
so its Koopman spectrum lies on the unit circle. EDMD with a radial-basis dictionary also
returns eigenvalues inside the disc; their residuals flag them as spurious, and the
pseudospectrum (minimal residual over the dictionary's span) is small only near the circle,
where it grows like the distance ``| |z| - 1 |`` away from it.
"""

from __future__ import annotations

import functools

import numpy as np

from explorer.koopman import (duffing, edmd, linear_map, logistic_map, monomials, pendulum,
                              pick_centers, pseudospectrum, radial_basis)

#: the systems on offer. The pendulum is observed on its phase cylinder (cos, sin, velocity)
#: and sampled uniformly in an invariant energy set, so that the data see an invariant measure.
SYSTEMS = {"pendulum": functools.partial(pendulum, cylinder=True, max_energy=3.0),
           "duffing": duffing}

#: ``--quick``: fewer samples, a smaller dictionary and a coarser pseudospectrum grid.
QUICK_SETTINGS = {"samples": 8000, "size": 150, "grid": 30}
QUICK_HELP = ", ".join(f"{k}={v}" for k, v in QUICK_SETTINGS.items())


def add_arguments(parser) -> None:
    parser.add_argument("--system", choices=sorted(SYSTEMS), default="pendulum",
                        help="system to analyse (default: pendulum)")
    parser.add_argument("--samples", type=int, default=20000,
                        help="snapshot pairs, one step each from uniform random states")
    parser.add_argument("--dt", type=float, default=0.5, help="time step of a pair")
    parser.add_argument("--size", type=int, default=200,
                        help="number of Gaussian radial basis functions")
    parser.add_argument("--width", type=float, default=0.7,
                        help="width of the radial basis functions (state units)")
    parser.add_argument("--grid", type=int, default=80,
                        help="pseudospectrum grid points per axis")
    parser.add_argument("--tol", type=float, default=0.05,
                        help="residual below which an eigenvalue counts as verified")
    parser.add_argument("--seed", type=int, default=0)


def run(args):
    """Compute the headline example; returns (matplotlib Figure, JSON-ready summary)."""
    import matplotlib.pyplot as plt

    if args.quick:
        vars(args).update(QUICK_SETTINGS)
    data = SYSTEMS[args.system](steps=1, trajectories=args.samples, dt=args.dt, seed=args.seed)
    centers = pick_centers(data.X, args.size, seed=args.seed)
    result = edmd(data.X, data.Y, radial_basis(centers, width=args.width), dt=args.dt)
    axis = np.linspace(-1.5, 1.5, args.grid)
    tau = pseudospectrum(result, axis[None, :] + 1j * axis[:, None])
    verified = result.residuals <= args.tol
    orbits = SYSTEMS[args.system](steps=200, trajectories=12, dt=0.1, seed=args.seed)

    figure, (portrait, spectrum, contours) = plt.subplots(1, 3, figsize=(15, 5))
    for states in orbits.states:
        portrait.plot(np.arctan2(states[1], states[0]) if args.system == "pendulum"
                      else states[0], states[-1], ".", ms=1.5)
    portrait.set(title=f"{args.system}: sample orbits", xlabel="angle" if args.system ==
                 "pendulum" else "x", ylabel="velocity")
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    for ax in (spectrum, contours):
        ax.plot(circle.real, circle.imag, color="0.6", lw=0.8)
        ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", xlabel="Re", ylabel="Im")
    points = spectrum.scatter(result.eigs.real[verified], result.eigs.imag[verified], s=45,
                              c=np.log10(np.maximum(result.residuals[verified], 1e-16)),
                              cmap="viridis", vmin=-4, vmax=np.log10(args.tol),
                              edgecolors="k", linewidths=0.5, zorder=3)
    spectrum.scatter(result.eigs.real[~verified], result.eigs.imag[~verified], s=18,
                     marker="x", color="#d62728", label=f"spurious (residual > {args.tol:g})")
    figure.colorbar(points, ax=spectrum, label="log10 residual (verified)")
    spectrum.legend(loc="lower left", fontsize=8)
    spectrum.set_title(f"EDMD eigenvalues: {verified.sum()} of {result.eigs.size} verified")
    levels = np.linspace(-3, 0, 7)
    lines = contours.contour(axis, axis, np.log10(np.maximum(tau, 1e-16)), levels=levels,
                             cmap="Blues_r")
    contours.clabel(lines, fmt="%.1f", fontsize=7)
    contours.scatter(result.eigs.real, result.eigs.imag, s=6, color="#d62728")
    contours.set_title("pseudospectrum: log10 min residual tau(z)")
    figure.tight_layout()

    summary = {
        "system": args.system, "samples": int(data.X.shape[1]), "dt": args.dt,
        "dictionary": f"{args.size} Gaussian radial basis functions, width {args.width:g}",
        "eigenvalues": int(result.eigs.size), "verified": int(verified.sum()), "tol": args.tol,
        "largest_verified_residual": float(result.residuals[verified].max(initial=0.0)),
        "spurious_inside_disc": int(np.sum(~verified & (np.abs(result.eigs) < 0.9))),
        "grid": [args.grid, args.grid], "pseudospectrum_min": float(tau.min()),
    }
    return figure, summary


def warm() -> None:
    """Compile every kernel of the topic with tiny inputs (numba caches them on disk)."""
    data = pendulum(steps=2, trajectories=2)
    linear_map(np.eye(2), steps=2)
    logistic_map(steps=2)
    for dictionary in (monomials(2), radial_basis(data.X[:, :2])):
        pseudospectrum(edmd(data.X, data.Y, dictionary), np.zeros(2, dtype=complex))
