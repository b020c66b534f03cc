"""``python -m explorer koopman``: EDMD of the pendulum checked by residual DMD.

The headline experiment of Colbrook and Townsend: the undamped pendulum is measure-preserving,
so its Koopman spectrum lies on the unit circle. EDMD with a radial-basis dictionary also
returns eigenvalues inside the disc; their residuals flag them as spurious, and the verified
spectrum (local minima of the pseudospectrum ``tau``, each with its certified error) sits on
the circle. Systems and their settings come from the library's table
(:data:`explorer.koopman.SYSTEMS`), the same the view uses.
"""

from __future__ import annotations

import numpy as np

from explorer.koopman import (DICTIONARIES, SYSTEMS, build_dictionary, complex_grid, edmd,
                              phase_portrait, radial_basis, pick_centers, simulate,
                              verified_spectrum)

#: ``--quick``: fewer samples, a smaller dictionary and a coarser pseudospectrum grid.
QUICK_SETTINGS = {"samples": 8000, "size": 150, "grid": 30}
QUICK_HELP = ", ".join(f"{k}={v}" for k, v in QUICK_SETTINGS.items())
HEADLINE = ("system", "eigenvalues", "verified", "verified_spectrum", "largest_certified_error")


def add_arguments(parser) -> None:
    parser.add_argument("--system", choices=sorted(SYSTEMS), default="pendulum",
                        help="system to analyse (default: pendulum; settings from the shared table)")
    parser.add_argument("--samples", type=int, default=20000,
                        help="snapshot pairs (one step each from random states, or quadrature points)")
    parser.add_argument("--dt", type=float, default=None,
                        help="time step of a pair (default: the system's)")
    parser.add_argument("--size", type=int, default=200,
                        help="dictionary size (centers of a radial basis, degree, polynomials, modes)")
    parser.add_argument("--width", type=float, default=0.7,
                        help="width of the radial basis functions (state units)")
    parser.add_argument("--grid", type=int, default=80, help="pseudospectrum grid points per axis")
    parser.add_argument("--tol", type=float, default=0.05,
                        help="residual below which an EDMD eigenvalue counts as verified")
    parser.add_argument("--epsilon", type=float, default=0.3,
                        help="largest tau of a verified spectral point")
    parser.add_argument("--seed", type=int, default=0)


def _dictionary(args, data):
    kind = SYSTEMS[args.system].dictionaries[0]
    if kind in ("gaussian rbf", "thin-plate rbf"):
        centers = pick_centers(data.X, min(args.size, data.X.shape[1]), seed=args.seed)
        shape = "gaussian" if kind == "gaussian rbf" else "thin_plate"
        return f"{centers.shape[1]} {kind} functions, width {args.width:g}", radial_basis(
            centers, width=args.width, kind=shape)
    spec = DICTIONARIES[kind]
    size = int(np.clip(args.size, spec.low, spec.high))
    return f"{kind}, {spec.size_meaning} {size}", build_dictionary(kind, size, data.X, args.seed)


def run(args):
    """Compute the headline example; returns (matplotlib Figure, JSON-ready summary)."""
    import matplotlib.pyplot as plt

    if args.quick:
        vars(args).update(QUICK_SETTINGS)
    spec = SYSTEMS[args.system]
    overrides = {} if args.dt is None or spec.dt is None else {"dt": args.dt}
    data = simulate(args.system, steps=1, trajectories=args.samples, seed=args.seed, **overrides)
    description, dictionary = _dictionary(args, data)
    result = edmd(data.X, data.Y, dictionary, data.weights, dt=data.dt)
    grid = complex_grid(args.grid)
    found = verified_spectrum(result, grid, args.epsilon)
    verified = result.residuals <= args.tol
    orbits = simulate(args.system, steps=200, trajectories=12, seed=args.seed)

    figure, (portrait, spectrum, contours) = plt.subplots(1, 3, figsize=(16, 5))
    x, y, x_label, y_label = phase_portrait(orbits)
    portrait.plot(x.T, y.T, ".", ms=1.5)
    portrait.set(title=f"{args.system}: sample orbits", xlabel=x_label, ylabel=y_label)
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
    lines = contours.contour(grid[0].real, grid[:, 0].imag, np.log10(np.maximum(found.tau, 1e-16)),
                             levels=np.linspace(-3, 0, 7), cmap="Blues_r")
    contours.clabel(lines, fmt="%.1f", fontsize=7)
    for z, error in zip(found.eigs, found.errors):
        contours.add_patch(plt.Circle((z.real, z.imag), error, fill=False, color="#f2b01e", lw=1))
    contours.plot(found.eigs.real, found.eigs.imag, ".", color="#f2b01e", ms=4)
    contours.scatter(result.eigs.real[~verified], result.eigs.imag[~verified], s=10, marker="x",
                     color="#d62728", linewidths=0.8)
    contours.set_title(f"log10 tau; {len(found)} verified points (discs: certified error)")
    figure.tight_layout()

    summary = {
        "system": args.system, "samples": int(data.X.shape[1]), "dt": data.dt,
        "dictionary": description, "eigenvalues": int(result.eigs.size),
        "verified": int(verified.sum()), "tol": args.tol,
        "largest_verified_residual": float(result.residuals[verified].max(initial=0.0)),
        "spurious_inside_disc": int(np.sum(~verified & (np.abs(result.eigs) < 0.9))),
        "grid": [args.grid, args.grid], "pseudospectrum_min": float(np.min(found.tau)),
        "verified_spectrum": len(found), "epsilon": args.epsilon,
        "largest_certified_error": float(found.errors.max(initial=0.0)),
        "largest_distance_to_circle": float(np.max(np.abs(np.abs(found.eigs) - 1), initial=0.0)),
    }
    return figure, summary


def warm() -> None:
    """Compile every kernel of the topic with tiny inputs (numba caches them on disk)."""
    from explorer.koopman import linear_map, logistic_map, monomials, pendulum, pseudospectrum

    data = pendulum(steps=2, trajectories=2)
    linear_map(np.eye(2), steps=2)
    logistic_map(steps=2)
    for dictionary in (monomials(2), radial_basis(data.X[:, :2])):
        result = edmd(data.X, data.Y, dictionary)
        pseudospectrum(result, np.zeros(2, dtype=complex))
        verified_spectrum(result, complex_grid(3), 1.0)
    complex_data = edmd(data.X + 1j, data.Y + 1j, monomials(1))
    pseudospectrum(complex_data, np.zeros(2, dtype=complex))
