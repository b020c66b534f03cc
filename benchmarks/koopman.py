"""Koopman topic: exact DMD vs PyDMD, the pseudospectrum vs a per-point SVD loop, EDMD at scale.

Run: ``python benchmarks/koopman.py`` (``make bench`` runs every topic). All cases run in one
process on the same data as their references, and each row also checks that the answers agree:

- exact DMD of a 2000 x 500 snapshot matrix at rank 50 against ``pydmd.DMD(svd_rank=50,
  exact=True)`` (PyDMD's own fit also computes the condition numbers of X and Y); the sorted
  eigenvalues must agree to 1e-10 relative;
- the pseudospectrum of an EDMD with 200 functions on a 100 x 100 grid against the same
  quantity, ``sigma_min([B; A~ - z I])``, computed per point by a dense numpy SVD. The loop is
  timed on chunks of sampled grid points and scaled to the full grid (its cost per point is
  constant); the sampled values must agree to 1e-8 relative;
- EDMD end to end (dictionary evaluation, factorisation, eigenpairs and residuals) for 10^5
  snapshots, against plain numpy EDMD through the Gram matrices (``K = pinv(G) A``) with the
  residuals from ``G``, ``A``, ``L``: the textbook route, faster but unstable when ``G`` is
  ill-conditioned and limited to residuals above ~1e-8.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from _common import Report, best_time, matmul_gflops
from explorer.koopman import (dmd, duffing, edmd, monomials, pendulum, pick_centers,
                              pseudospectrum, radial_basis)

GRID = 100
FUNCTIONS = 200
SAMPLED_POINTS = 300


def paired_best(ours, reference, rounds=5):
    """Best times of two functions timed in alternation (a shared machine drifts in load)."""
    times = [(best_time(ours, repeat=1), best_time(reference, repeat=1)) for _ in range(rounds)]
    return min(t for t, _ in times), min(t for _, t in times)


def lowrank_snapshots(n=2000, m=500, modes=25, noise=1e-3, seed=0):
    """Snapshots of 2 * modes damped oscillations in n dimensions, plus a little noise."""
    rng = np.random.default_rng(seed)
    eigs = np.exp(-0.01 * rng.random(modes) + 1j * rng.uniform(0.05, 1.5, modes))
    shapes = rng.standard_normal((n, modes)) + 1j * rng.standard_normal((n, modes))
    data = (shapes @ eigs[:, None] ** np.arange(m + 1)).real
    data += noise * rng.standard_normal(data.shape)
    return data[:, :-1], data[:, 1:]


def max_relative_gap(ours, reference):
    """Largest |ours_i - reference_i| / |reference_i| after sorting both spectra the same way."""
    ours, reference = np.sort_complex(ours), np.sort_complex(reference)
    return float(np.max(np.abs(ours - reference) / np.abs(reference)))


def bench_dmd(report):
    from pydmd import DMD

    X, Y = lowrank_snapshots()
    rank = 50

    def reference():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyDMD warns about the condition number
            return DMD(svd_rank=rank, exact=True).fit(X, Y)

    gap = max_relative_gap(dmd(X, Y, rank).eigs, reference().eigs)
    assert gap < 1e-10, f"DMD eigenvalues differ from PyDMD's by {gap:.2e} (relative)"
    ours, theirs = paired_best(lambda: dmd(X, Y, rank), reference, rounds=7)
    report.add(f"exact DMD 2000x500, rank {rank}", ours, "PyDMD DMD", theirs)
    report.notes["dmd_eigenvalue_gap_vs_pydmd"] = f"{gap:.1e} relative"


def reduced_svd_loop(result, points):
    """The reference: sigma_min of the stacked 2r x r matrix, one dense SVD per point."""
    reduced, factor = result.reduced_operator, result.residual_factor
    identity = np.eye(reduced.shape[0])
    return np.array([np.linalg.svd(np.vstack([factor, reduced - z * identity]),
                                   compute_uv=False)[-1] for z in points])


def bench_pseudospectrum(report):
    data = pendulum(steps=1, trajectories=20000, dt=0.5, cylinder=True, max_energy=3.0, seed=0)
    result = edmd(data.X, data.Y, radial_basis(pick_centers(data.X, FUNCTIONS, seed=0), 0.7))
    axis = np.linspace(-1.5, 1.5, GRID)
    grid = axis[None, :] + 1j * axis[:, None]
    pseudospectrum(result, grid[:2, :2])  # compile / load the kernel
    tau = None

    def ours():
        nonlocal tau
        tau = pseudospectrum(result, grid)

    ours_seconds = best_time(ours, repeat=2)
    sample = np.random.default_rng(1).choice(grid.size, SAMPLED_POINTS, replace=False)
    seconds_per_point, expected = [], []
    for chunk in np.array_split(grid.ravel()[sample], 3):
        start = time.perf_counter()
        expected.append(reduced_svd_loop(result, chunk))
        seconds_per_point.append((time.perf_counter() - start) / chunk.size)
    # the best chunk, scaled to the grid: a loaded machine only ever slows a chunk down
    reference_seconds = min(seconds_per_point) * grid.size
    expected = np.concatenate(expected)
    gap = float(np.max(np.abs(tau.ravel()[sample] - expected) / expected))
    assert gap < 1e-8, f"pseudospectrum differs from the dense SVD by {gap:.2e} (relative)"
    report.add(f"pseudospectrum {GRID}x{GRID}, {result.rank} functions", ours_seconds,
               "numpy SVD per point", reference_seconds)
    report.notes["pseudospectrum_reference"] = (
        f"best of 3 chunks of {SAMPLED_POINTS // 3} sampled points, scaled to {grid.size}; "
        f"max relative gap {gap:.1e}")


def gram_edmd(psi_x, psi_y):
    """Textbook EDMD: Gram matrices by matmul, K = pinv(G) A, residuals from G, A, L."""
    m = psi_x.shape[1]
    G, A, L = psi_x @ psi_x.T / m, psi_x @ psi_y.T / m, psi_y @ psi_y.T / m
    eigs, vectors = np.linalg.eig(np.linalg.pinv(G) @ A)
    quadratic = (np.einsum("ij,ik,kj->j", vectors.conj(), L, vectors)
                 - 2 * np.real(eigs.conj() * np.einsum("ij,ik,kj->j", vectors.conj(), A, vectors))
                 + np.abs(eigs) ** 2 * np.einsum("ij,ik,kj->j", vectors.conj(), G, vectors))
    norms = np.einsum("ij,ik,kj->j", vectors.conj(), G, vectors).real
    return eigs, np.sqrt(np.maximum(quadratic.real, 0) / norms)


def numpy_thin_plate(X, centers):
    squared = ((X.T[:, None, :] - centers.T[None, :, :]) ** 2).sum(-1).T
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(squared > 0, 0.5 * squared * np.log(squared), 0.0)


def bench_edmd(report):
    data = duffing(trajectories=1000, steps=100, seed=0)
    X, Y = data.X, data.Y
    centers = pick_centers(X, 100, seed=0)
    dictionary = radial_basis(centers, 1.0, "thin_plate")
    edmd(X[:, :100], Y[:, :100], dictionary)  # compile / load the kernels
    ours, reference = paired_best(
        lambda: edmd(X, Y, dictionary),
        lambda: gram_edmd(numpy_thin_plate(X, centers), numpy_thin_plate(Y, centers)), rounds=2)
    report.add(f"EDMD end to end, {X.shape[1]:.0e} snapshots, 100 RBFs", ours,
               "numpy Gram-matrix EDMD", reference)
    ours = best_time(lambda: edmd(X, Y, monomials(8)), repeat=2)
    report.add(f"EDMD end to end, {X.shape[1]:.0e} snapshots, 45 monomials", ours, "n/a", None)


if __name__ == "__main__":
    report = Report("koopman")
    report.notes["matmul_gflops"] = round(matmul_gflops(), 1)
    bench_dmd(report)
    bench_pseudospectrum(report)
    bench_edmd(report)
    report.print_and_save()
