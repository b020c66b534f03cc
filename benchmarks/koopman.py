"""Koopman topic: ours against numpy / PyDMD references, side by side in one process.

Run: ``python benchmarks/koopman.py`` (``make bench`` runs every topic). Each row also checks
that the answers agree:

- exact DMD of a 2000 x 500 snapshot matrix at rank 50 against ``pydmd.DMD(svd_rank=50,
  exact=True)``; the sorted eigenvalues must agree to 1e-10 relative;
- the pseudospectrum of an EDMD with 200 functions on a 100 x 100 grid against the same
  quantity, ``sigma_min([B; A~ - z I])``, by a dense numpy SVD per point. The loop is timed on
  chunks of sampled grid points and scaled to the full grid (its cost per point is constant);
  the sampled values must agree to 1e-10 relative. (Ours computes a mirror-symmetric grid of
  real data once per conjugate pair, since ``tau(conj z) = tau(z)``.)
- the verified spectrum of the pendulum on a 200 x 200 grid (pseudospectrum, local minima,
  refinement) against the dense-SVD pseudospectrum of the same grid (sampled and scaled);
- EDMD end to end (dictionary evaluation, factorisation, eigenpairs and residuals) for 10^5
  snapshots and 100 thin-plate RBFs, against textbook numpy EDMD through the Gram matrices
  (``K = pinv(G) A``, residuals from ``G``, ``A``, ``L``); and the accuracy of the exact
  residuals on the slow-manifold system (ours below 1e-10; the Gram route cannot go below
  ~1e-8);
- kernel ResDMD on the FitzHugh-Nagumo field (256 state values, 800 snapshots) against a
  plain numpy transcription of the same algorithm (Colbrook's ``kernel_ResDMD.m``: kernel
  matrices, eigen-decompositions, then ``G``, ``A``, ``L`` and the Gram-form residuals);
- the view's preview after moving the dictionary size on lorenz63 with 50,000 snapshots and
  degree-8 monomials (it froze for 73 s before the cost model), against its 0.2 s budget.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from _common import Report, best_time, matmul_gflops
from explorer._jit import blas_threads
from explorer.koopman import (complex_grid, dmd, duffing, edmd, fitzhugh_nagumo, kernel_resdmd,
                              monomials, pendulum, pick_centers, pseudospectrum, radial_basis,
                              slow_manifold, verified_spectrum)

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


def svd_seconds(result, grid, sampled=SAMPLED_POINTS):
    """Seconds of the SVD loop over the whole grid (best of 3 sampled chunks, scaled).

    One BLAS thread: a 400 x 200 SVD gains little from two, and on a loaded machine spinning
    BLAS threads would inflate the reference many times over.
    """
    sample = np.random.default_rng(1).choice(grid.size, sampled, replace=False)
    per_point, values = [], []
    for chunk in np.array_split(sample, 3):
        start = time.perf_counter()
        with blas_threads(1):
            values.append(reduced_svd_loop(result, grid.ravel()[chunk]))
        per_point.append((time.perf_counter() - start) / chunk.size)
    # the best chunk, scaled to the grid: a loaded machine only ever slows a chunk down
    return min(per_point) * grid.size, sample, np.concatenate(values)


def pendulum_result(samples=20000, functions=FUNCTIONS):
    data = pendulum(steps=1, trajectories=samples, dt=0.5, cylinder=True, max_energy=3.0, seed=0)
    return edmd(data.X, data.Y, radial_basis(pick_centers(data.X, functions, seed=0), 0.7))


def bench_pseudospectrum(report, result):
    grid = complex_grid(GRID)
    pseudospectrum(result, grid[:2, :2])  # compile / load the kernel
    tau = None

    def ours():
        nonlocal tau
        tau = pseudospectrum(result, grid)

    ours_seconds = best_time(ours, repeat=2)
    reference_seconds, sample, expected = svd_seconds(result, grid)
    gap = float(np.max(np.abs(tau.ravel()[sample] - expected) / expected))
    assert gap < 1e-10, f"pseudospectrum differs from the dense SVD by {gap:.2e} (relative)"
    report.add(f"pseudospectrum {GRID}x{GRID}, {result.rank} functions", ours_seconds,
               "numpy SVD per point", reference_seconds)
    report.notes["pseudospectrum_reference"] = (
        f"best of 3 chunks of {SAMPLED_POINTS // 3} sampled points, scaled to {grid.size}; "
        f"max relative gap {gap:.1e}")


def bench_verified(report, result):
    grid = complex_grid(200)
    started = time.perf_counter()
    found = verified_spectrum(result, grid, 0.3)
    ours = time.perf_counter() - started
    reference, sample, expected = svd_seconds(result, grid, 150)
    gap = float(np.max(np.abs(np.asarray(found.tau).ravel()[sample] - expected) / expected))
    assert gap < 1e-10, f"verified spectrum's tau differs from the dense SVD by {gap:.2e}"
    report.add("verified spectrum, pendulum 200x200", ours, "numpy SVD tau on the grid", reference)
    distance = np.abs(np.abs(found.eigs) - 1)
    report.notes["verified_spectrum_pendulum"] = (
        f"{len(found)} points, errors {found.errors.min():.2g}..{found.errors.max():.2g}, "
        f"largest | |z| - 1 | {distance.max():.2g} (each within its error + quadrature)")


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
    edmd(X[:, :5000], Y[:, :5000], dictionary)  # compile / load the kernels
    ours, reference = paired_best(
        lambda: edmd(X, Y, dictionary),
        lambda: gram_edmd(numpy_thin_plate(X, centers), numpy_thin_plate(Y, centers)), rounds=3)
    report.add(f"EDMD end to end, {X.shape[1]:.0e} snapshots, 100 RBFs", ours,
               "numpy Gram-matrix EDMD", reference)
    slow = slow_manifold(-0.05, -1.0, dt=0.1, steps=400, trajectories=60, seed=3)
    exact_ours = np.sort(edmd(slow.X, slow.Y, monomials(2)).residuals)[:4]
    _, gram_residuals = gram_edmd(monomials(2)(slow.X), monomials(2)(slow.Y))
    report.notes["slow_manifold_exact_residuals"] = (
        f"ours max {exact_ours.max():.1e}, Gram route max {np.sort(gram_residuals)[:4].max():.1e} "
        f"({slow.X.shape[1]} snapshots)")


def numpy_kernel_resdmd(X_a, Y_a, X_b, Y_b, size, scale):
    """Colbrook's kernel_ResDMD.m in plain numpy (Gaussian kernel), then Gram-form ResDMD."""
    def kernel(P, Q):
        squared = ((P.T[:, None, :] - Q.T[None, :, :]) ** 2).sum(-1)
        return np.exp(-squared / scale**2)

    G1, A1 = kernel(X_a, X_a), kernel(Y_a, X_a)
    values, U = np.linalg.eigh(G1 + np.linalg.norm(G1) * 1e-12 * np.eye(G1.shape[0]))
    keep = values > 1e-12 * values.max()
    sig_inv = U[:, keep] / np.sqrt(values[keep])
    eigs_hat, vectors = np.linalg.eig(sig_inv.T @ A1.T @ sig_inv)
    chosen = np.argsort(-np.abs(eigs_hat))[:size]
    P = sig_inv @ np.linalg.svd(vectors[:, chosen], full_matrices=False)[0]
    psi_x, psi_y = kernel(X_b, X_a) @ P, kernel(Y_b, X_a) @ P
    m = psi_x.shape[0]
    G, A, L = psi_x.conj().T @ psi_x / m, psi_x.conj().T @ psi_y / m, psi_y.conj().T @ psi_y / m
    eigs, g = np.linalg.eig(np.linalg.pinv(G) @ A)
    quadratic = np.einsum("ij,ik,kj->j", g.conj(), L, g) - 2 * np.real(
        eigs.conj() * np.einsum("ij,ik,kj->j", g.conj(), A, g)) + np.abs(eigs) ** 2 * np.einsum(
        "ij,ik,kj->j", g.conj(), G, g)
    return eigs, np.sqrt(np.maximum(quadratic.real, 0) / np.einsum("ij,ik,kj->j", g.conj(), G, g).real)


def bench_kernel_resdmd(report):
    from explorer.koopman import split_snapshots

    field = fitzhugh_nagumo(n_grid=128, steps=800, dt=1.0, seed=0)
    X, Y = field.X, field.Y
    scale = float(np.mean(np.linalg.norm(X - X.mean(axis=1, keepdims=True), axis=0)))
    X_a, Y_a, X_b, Y_b = split_snapshots(X, Y, 0.5, seed=0)
    result = kernel_resdmd(X, Y, 100, seed=0)
    ours, reference = paired_best(lambda: kernel_resdmd(X, Y, 100, seed=0),
                                  lambda: numpy_kernel_resdmd(X_a, Y_a, X_b, Y_b, 100, scale),
                                  rounds=3)
    report.add("kernel ResDMD, FitzHugh-Nagumo 256 x 800", ours, "numpy kernel_ResDMD.m",
               reference)
    best = result.eigs[np.argsort(result.residuals)[:5]]
    report.notes["kernel_resdmd_fhn"] = (
        f"{result.K.shape[0]} functions; 5 smallest held-out residuals "
        f"{np.sort(result.residuals)[:5].round(4).tolist()} at |lambda| "
        f"{np.abs(best).round(4).tolist()}")


def bench_view_preview(report):
    """The view's slider-driven preview on the setting that froze it for 73 s (issue 10)."""
    from explorer.apps.koopman import PREVIEW_SECONDS, build_koopman_app

    app = build_koopman_app(system="lorenz63", steps=1000, trajectories=50,
                            dictionary="monomials", size=7, field_grid=16, field_steps=40)
    seconds = []
    for size in (8, 7, 8):  # each move refits and redraws the preview (data stay cached)
        started = time.perf_counter()
        app.controls["size"].value = size
        seconds.append(time.perf_counter() - started)
    report.add("view preview, lorenz63 50k snapshots, degree 8", min(seconds),
               "budget", PREVIEW_SECONDS)
    report.notes["view_preview_status"] = app.status.value.split(">", 1)[1].rsplit("<", 1)[0]


if __name__ == "__main__":
    report = Report("koopman")
    report.notes["matmul_gflops"] = round(matmul_gflops(), 1)
    bench_dmd(report)
    result = pendulum_result()
    bench_pseudospectrum(report, result)
    bench_verified(report, pendulum_result(8000, 120))
    bench_edmd(report)
    bench_kernel_resdmd(report)
    bench_view_preview(report)
    report.print_and_save()
