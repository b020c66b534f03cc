"""A plain numpy piecewise DMD, written the way the authors' pDMD.m reads (slow, obvious).

Alla, Monti and Sgura, "Piecewise DMD for oscillatory and Turing spatio-temporal dynamics"
(CAMWA 2024); MATLAB code in github.com/CnrIacBaGit/PatternChemotaxis (pDMD.m, rdmd_qb.m,
new_reconstruction.m). Every rank of every piece is recomputed from scratch: SVD of the
piece, projection, SVD of the projected inputs, eigendecomposition, ``b = pinv(W) x_1``,
``exp(omega t)``. Where :mod:`explorer.koopman.piecewise` documents a deliberate difference
from pDMD.m, the same rule is applied here and marked "ours", so that the two can be
compared on every input.
"""

from itertools import pairwise

import numpy as np

EPS = np.finfo(float).eps


def boundaries(m, pieces):
    """pDMD.m's 1-based ``in = ceil((i-1) m / N + 1)``, ``fine = ceil(i m / N)``, 0-based."""
    edges = [int(np.ceil((i - 1) * m / pieces + 1)) - 1 for i in range(1, pieces + 1)]
    return np.array(edges + [m])


def rank_r_dmd(piece, rank):
    """rdmd_qb.m with an exact QB: Q = first ``rank`` left singular vectors of the piece."""
    U = np.linalg.svd(piece, full_matrices=False)[0]
    Q = U[:, :rank]
    B = Q.conj().T @ piece
    B_in, B_out = B[:, :-1], B[:, 1:]
    U_in, s_in, Vh_in = np.linalg.svd(B_in, full_matrices=False)
    if s_in[-1] <= max(B_in.shape) * EPS * s_in[0]:
        return None  # ours: a rank whose projected inputs are rank-deficient is skipped
    S_inverse = np.diag(1.0 / s_in)
    A = U_in.conj().T @ B_out @ Vh_in.conj().T @ S_inverse
    eigs, W_small = np.linalg.eig(A)
    W = Q @ B_out @ Vh_in.conj().T @ S_inverse @ W_small
    return eigs, W


def reconstruct(piece, eigs, W, dt):
    """new_reconstruction.m: ``real(W (pinv(W) x_1 .* exp(omega t)))`` and the local error.

    None (ours) when ``eps cond(W) |x_1| max(1, |lambda|)^(L - 1) / max_k |x_k| > 1e-8``:
    rounding alone could move such a rebuild by more than 1e-8 of the data's scale.
    """
    singular_values = np.linalg.svd(W, compute_uv=False)
    singular_values = singular_values[singular_values > max(W.shape) * EPS * singular_values[0]]
    norms = np.linalg.norm(piece, axis=0)
    growth = max(1.0, np.abs(eigs).max()) ** (piece.shape[1] - 1)
    if EPS * singular_values[0] / singular_values[-1] * growth * norms[0] / norms.max() > 1e-8:
        return None
    omega = np.log(eigs.astype(complex)) / dt
    times = dt * np.arange(piece.shape[1])
    amplitudes = np.linalg.pinv(W, rcond=max(W.shape) * EPS) @ piece[:, 0]
    solution = W @ (amplitudes[:, None] * np.exp(omega[:, None] * times[None, :]))
    if not np.iscomplexobj(piece):
        solution = solution.real
    local = np.max(np.abs(solution - piece)) / np.max(np.abs(piece))
    return solution, (1.0 if np.isnan(local) else local)


def fit_piece(piece, tol, dt, rank_cap=None):
    """(reconstruction, rank, met_tol) of one piece, lowering the rank as pDMD.m does."""
    start = min(np.linalg.matrix_rank(piece), piece.shape[1] - 1)
    if rank_cap is not None:
        start = min(start, rank_cap)
    norm = np.linalg.norm(piece)
    fallback = None
    for rank in range(start, 0, -1):
        model = rank_r_dmd(piece, rank)
        rebuilt = None if model is None else reconstruct(piece, *model, dt)
        if rebuilt is None:
            continue
        solution, local = rebuilt
        frobenius = np.linalg.norm(piece - solution)
        if not np.isfinite(frobenius) or frobenius > norm:
            continue  # ours: never keep a reconstruction worse than the piece
        if tol is None or local <= tol:
            return solution, rank, True
        if fallback is None or frobenius < fallback[0]:
            fallback = (frobenius, solution, rank)  # ours: keep the least Frobenius error
    if fallback is not None:
        return fallback[1], fallback[2], False
    return np.zeros_like(piece), 0, not np.any(piece)  # ours: the zero model


def piecewise(X, pieces, tol=0.1, dt=1.0, rank_cap=None):
    """One ``N``: reconstruction, global error, error history, ranks, all pieces met tol."""
    edges = boundaries(X.shape[1], pieces)
    blocks, ranks, met = [], [], []
    for start, stop in pairwise(edges):
        solution, rank, ok = fit_piece(X[:, start:stop], tol, dt, rank_cap)
        blocks.append(solution)
        ranks.append(rank)
        met.append(ok)
    stitched = np.concatenate(blocks, axis=1)
    error = np.linalg.norm(stitched - X) / np.linalg.norm(X)
    history = np.array([np.linalg.norm(X[:, k] - stitched[:, k]) / np.linalg.norm(X[:, k])
                        for k in range(X.shape[1])])
    return stitched, error, history, np.array(ranks), all(met)


def automatic(X, first_pieces=1, tol=0.1, target=1e-4, min_length=10, dt=1.0):
    """pDMD.m's outer loop: ``N`` from ``first_pieces`` to ``m / min_length`` until the error
    is below ``target`` at an ``N`` where every piece met ``tol``; returns (N, errors)."""
    errors = {}
    for count in range(first_pieces, X.shape[1] // min_length + 1):
        _, error, _, _, all_met = piecewise(X, count, tol, dt)
        errors[count] = error
        if all_met and error < target:
            return count, errors
    return None, errors
