"""One piece of piecewise DMD: its basis, the rank search, and DMD in projected coordinates.

Private to :mod:`explorer.koopman.piecewise`, which validates the arguments. The data are
pre-scaled there so that ``max |X| < 1``.

The algorithm of one piece (Alla, Monti and Sgura's pDMD, with the differences documented in
:mod:`explorer.koopman.piecewise`): factor the piece ``X = Q diag(s) Vh`` once (an exact SVD,
or a randomized QB followed by the SVD of the small ``B``); for a rank ``r`` project on the
first ``r`` columns of ``Q`` (``B_r = diag(s_r) Vh_r``, the piece's rank-``r`` QB), fit exact
DMD to the pairs ``B_r[:, :-1] -> B_r[:, 1:]``, and rebuild the piece from its own first
snapshot, ``Phi diag(pinv(Phi) x_1) Lambda^k``. The search lowers ``r`` from the piece's
numerical rank until the local error ``max|X - X_hat| / max|X|`` is at most ``tol``.

How a rank is evaluated cheaply (ours, same answers up to rounding):
- With ``B_in = B_r[:, :-1]`` of full row rank, the paper's reduced operator
  ``U^H B_out V S^-1`` is ``U^H K_r U`` with ``K_r = B_out pinv(B_in)``, and its exact modes
  are ``Y Lambda`` for the unit eigenvectors ``Y`` of ``K_r``. One QR of ``B[:, :-1]^H``
  serves every rank (the QR of leading columns is the leading block), so ``K_r`` costs a
  triangular solve instead of an SVD of the piece, and nothing of size ``n_state`` is
  formed per rank.
- The rebuild must be the modal sum, not ``K_r^k x_1``: the two agree in exact arithmetic,
  but at ranks near the piece's length ``K_r`` interpolates the data with eigenvalues far
  outside the unit circle, where the powers reproduce the samples and the modal sum, like
  the paper's, shows the blow-up (local error 5 against 3e-4 on a FitzHugh-Nagumo piece).
- Its Frobenius error is ``tail + sum_{i > r} s_i^2 + |B_r - C|_F^2`` (``C`` the rebuilt
  coordinates), and ``|E|_F / sqrt(n L) <= max|E| <= |E|_F`` settles most ranks against
  ``tol`` without forming the ``n x L`` reconstruction.
- Wherever :func:`rounding_amplification` lets a rank through, the iterates and the modal
  sum agree to about ``ROUNDING_LIMIT`` of the data, so iterating ``K_r`` (the compiled
  ``iterate_operator``, ``O(r^2 L)``) screens out the ranks that miss ``tol`` by a margin
  before any eigendecomposition: on the FitzHugh-Nagumo field of the issue, 1195 of the 1348
  ranks tried for ``N = 1 .. 16`` (177 eigendecompositions in all). A piece where no rank
  meets ``tol`` evaluates its ranks
  in the order of their iterates' error and keeps the first admissible one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from explorer.koopman._piecewise_kernels import iterate_operator
from explorer.koopman.dmd import DMDResult, numerical_rank
from explorer.koopman.randomized import qb

EPS = np.finfo(np.float64).eps
#: absolute slack (relative to |X|_F) under which the error bounds do not decide a rank
_BOUND_SLACK = 1e-10
#: largest rounding error a kept rebuild may carry, relative to its scale
ROUNDING_LIMIT = 1e-8
#: how far past ``tol`` the iterates must land before a rank is dropped unevaluated
_SCREEN_MARGIN = 1e-6


@dataclass(frozen=True)
class Basis:
    """``X ~ Q diag(s) Vh`` of one piece, and ``tail = |X - Q diag(s) Vh|_F^2``."""

    Q: np.ndarray
    s: np.ndarray
    Vh: np.ndarray
    tail: float


@dataclass(frozen=True, eq=False)
class PieceFit:
    """What one piece contributes: its DMD, its reconstruction and its indicators."""

    result: DMDResult
    reconstruction: np.ndarray
    rank: int
    local_error: float
    converged: bool


def piece_basis(X, cap, randomized, power_iterations, oversampling, rng) -> Basis:
    """The factorisation shared by every rank tried on the piece ``X`` (n, L)."""
    if not randomized:
        U, s, Vh = np.linalg.svd(X, full_matrices=False)
        return Basis(U, s, Vh, 0.0)
    Q, B = qb(X, min(cap + oversampling, *X.shape), power_iterations, rng)
    Ub, s, Vh = np.linalg.svd(B, full_matrices=False)
    return Basis(Q @ Ub, s, Vh, float(np.linalg.norm(X - Q @ B) ** 2))


def _modal_fit(operator, B, n_state):
    """Eigenvalues, modes ``Y Lambda`` and amplitudes ``b = pinv(Phi) x_1`` of ``K_r``.

    ``pinv`` uses MATLAB's cutoff for the lifted (n_state, r) modes, ``max(size) eps
    sigma_1`` (the lift by ``Q`` keeps the singular values). None when rounding alone could
    move the rebuild by more than :data:`ROUNDING_LIMIT` of its scale (see
    :func:`rounding_amplification`).
    """
    eigs, vectors = np.linalg.eig(operator)
    modes = vectors * eigs
    U, singular_values, Vh = np.linalg.svd(modes)
    kept = singular_values > max(n_state, modes.shape[1]) * EPS * singular_values[0]
    if rounding_amplification(eigs, singular_values[kept], B) > ROUNDING_LIMIT / EPS:
        return None
    amplitudes = Vh[kept].conj().T @ ((U[:, kept].conj().T @ B[:, 0]) / singular_values[kept])
    return eigs, modes, amplitudes


def rounding_amplification(eigs, singular_values, B):
    """How much the modal rebuild of the piece ``B`` (r, L) can magnify rounding.

    ``cond(Phi) |x_1| max(1, |lambda|)^(L - 1) / max_k |x_k|``: a relative rounding error
    ``eps`` in the amplitudes is magnified by the conditioning of the modes and by the growth
    of the largest eigenvalue, and compared with the largest snapshot (data that truly grow
    like ``lambda^k`` are not penalised). Ours, not the paper's: at ranks close to a piece's
    length the operator interpolates the samples with eigenvalues far outside the unit
    circle, and whether such a rebuild meets ``tol`` is decided by rounding (local error 5
    against 3e-4 for two correct evaluations of one FitzHugh-Nagumo piece); such ranks are
    skipped, as the paper's rebuild usually, but not reliably, rejects them.
    """
    norms = np.linalg.norm(B, axis=0)
    growth = (B.shape[1] - 1) * np.log(max(1.0, float(np.max(np.abs(eigs)))))
    logarithm = (growth + np.log(singular_values[0] / singular_values[-1])
                 + np.log(norms[0] / norms.max()) if norms[0] > 0 else -np.inf)
    return float(np.exp(min(logarithm, 700.0)))


def _coordinates(eigs, modes, amplitudes, length, real):
    """``modes diag(amplitudes) eigs^k`` for ``k < length`` (real part for real data)."""
    powers = np.ones((eigs.size, length), complex)
    with np.errstate(over="ignore", invalid="ignore"):
        np.cumprod(np.broadcast_to(eigs[:, None], (eigs.size, length - 1)), axis=1,
                   out=powers[:, 1:])
        coordinates = modes @ (amplitudes[:, None] * powers)
    return coordinates.real if real else coordinates


def fit_piece(X, basis: Basis, rank_cap, tol, dt, scale) -> PieceFit:
    """Run the rank search on the piece ``X`` (n, L) and return the kept model.

    ``rank_cap`` (or None) bounds the starting rank; ``tol`` None keeps the first rank from
    the top whose reconstruction is no worse than the piece itself. When no rank meets
    ``tol``, the admissible rank of least Frobenius error is kept (ranks are tried in the
    order of their iterates' error, which matches the modal error wherever
    :func:`rounding_amplification` lets a rank through). ``scale`` converts the pre-scaled
    data back to the caller's units in the returned modes and reconstruction.
    """
    search = _Search(X, basis, rank_cap)
    missed = []  # (squared error, rank, evaluated candidate or None)
    for rank in range(search.start, 0, -1):
        if tol is not None:
            estimate = search.iterates_error(rank)
            if estimate is None:
                continue
            if search.clearly_misses(rank, estimate, tol):
                missed.append((estimate[0], rank, None))
                continue
        candidate = search.evaluate(rank)
        if candidate is None:
            continue
        if tol is None or search.meets(candidate, tol):
            return _kept(X, basis, *candidate[1:], True, dt, scale)
        missed.append((candidate[0], rank, candidate))
    for _, rank, candidate in sorted(missed, key=lambda entry: (entry[0], -entry[1])):
        candidate = candidate or search.evaluate(rank)
        if candidate is not None:
            return _kept(X, basis, *candidate[1:], False, dt, scale)
    return _zero_model(X, basis, dt, scale, converged=search.peak == 0)


class _Search:
    """What every rank of one piece shares: the projection, one QR, the error terms."""

    def __init__(self, X, basis, rank_cap):
        self.X, self.basis = X, basis
        self.n_state, self.length = X.shape
        self.real = not np.iscomplexobj(X)
        self.peak = float(np.max(np.abs(X)))
        self.squared_norm = float(np.linalg.norm(X) ** 2)
        self.start = min(numerical_rank(basis.s, X.shape), self.length - 1,
                         self.length if rank_cap is None else rank_cap)
        self.B = basis.s[:self.start, None] * basis.Vh[:self.start]
        # QR of B_in^H: the leading r columns give B_in,r^H = Q_r R_r for every rank r
        inputs_basis, self.triangle = np.linalg.qr(self.B[:, :-1].conj().T)
        self.mixed = self.B[:, 1:] @ inputs_basis  # leading r x r block: B_out,r Q_r
        squares = basis.s**2
        self.dropped = np.concatenate([np.cumsum(squares[::-1])[::-1], [0.0]])  # i >= r
        self.slack = _BOUND_SLACK * np.sqrt(np.sum(squares) + basis.tail)

    def operator(self, rank):
        return _reduced_operator(self.triangle[:rank, :rank], self.mixed[:rank, :rank],
                                 self.length)

    def iterates_error(self, rank):
        """(squared Frobenius error, coordinates) of ``K_r^k x_1``; None if ``B_in`` is deficient."""
        operator = self.operator(rank)
        if operator is None:
            return None
        coordinates, misfit = iterate_operator(operator, np.ascontiguousarray(self.B[:rank]))
        squared_error = self.basis.tail + self.dropped[rank] + misfit
        return (squared_error if np.isfinite(squared_error) else np.inf,
                coordinates.real if self.real else coordinates)

    def clearly_misses(self, rank, estimate, tol) -> bool:
        """Whether the iterates miss ``tol`` by more than rounding could explain.

        Where :func:`rounding_amplification` lets a rank through, the modal rebuild and the
        iterates agree to about ``ROUNDING_LIMIT`` of the data's scale; so a rank whose
        iterates miss ``tol`` by :data:`_SCREEN_MARGIN` (or overflow) cannot meet it, and
        costs no eigendecomposition.
        """
        squared_error, coordinates = estimate
        return not np.isfinite(squared_error) or _max_error_exceeds(
            self, rank, coordinates, np.sqrt(squared_error), tol + _SCREEN_MARGIN)

    def evaluate(self, rank):
        """(squared Frobenius error, rank, operator, modal fit, coordinates) or None."""
        operator = self.operator(rank)
        if operator is None:
            return None
        model = _modal_fit(operator, self.B[:rank], self.n_state)
        if model is None:
            return None
        coordinates = _coordinates(*model, self.length, self.real)
        with np.errstate(over="ignore", invalid="ignore"):
            squared_error = (self.basis.tail + self.dropped[rank]
                             + np.sum(np.abs(self.B[:rank] - coordinates) ** 2))
        if not (np.isfinite(squared_error) and squared_error <= self.squared_norm):
            return None  # worse than the piece itself (or overflowed): never kept
        return squared_error, rank, operator, model, coordinates

    def meets(self, candidate, tol) -> bool:
        squared_error, rank, _, _, coordinates = candidate
        return not _max_error_exceeds(self, rank, coordinates, np.sqrt(squared_error), tol)


def _max_error_exceeds(search, rank, coordinates, frobenius, tol) -> bool:
    """Whether ``max|X - Q_r C| > tol * peak``, from the Frobenius bounds when they decide."""
    threshold = tol * search.peak
    if frobenius + search.slack <= threshold:
        return False
    if frobenius - search.slack > threshold * np.sqrt(search.X.size):
        return True
    reconstruction = search.basis.Q[:, :rank] @ coordinates
    return float(np.max(np.abs(search.X - reconstruction))) > threshold


def _reduced_operator(triangle, mixed, length):
    """``K_r = B_out pinv(B_in) = mixed R^-H``, or None when ``B_in`` is rank-deficient.

    Rank-deficient means a singular value at most ``max(r, L - 1) eps sigma_1`` (pinv's
    cutoff): pDMD.m's ``pinv(S)`` would drop that direction, so its rank-``r`` model is
    really of a lower rank; we skip it.
    """
    singular_values = np.linalg.svd(triangle, compute_uv=False)
    cutoff = max(triangle.shape[0], length - 1) * EPS * singular_values[0]
    if not singular_values[0] > 0 or singular_values[-1] <= cutoff:
        return None
    return scipy.linalg.solve_triangular(triangle, mixed.conj().T).conj().T


def _kept(X, basis, rank, operator, model, coordinates, converged, dt, scale) -> PieceFit:
    """The kept rank as a DMDResult (modes lifted by ``Q``) and its reconstruction."""
    eigs, modes, amplitudes = model
    reconstruction = basis.Q[:, :rank] @ coordinates
    result = DMDResult(eigs=eigs, modes=scale * (basis.Q[:, :rank] @ modes),
                       amplitudes=amplitudes, reduced_operator=operator,
                       singular_values=scale * basis.s, rank=rank, dt=float(dt))
    return PieceFit(result=result, reconstruction=scale * reconstruction, rank=rank,
                    local_error=float(np.max(np.abs(X - reconstruction)) / np.max(np.abs(X))),
                    converged=converged)


def _zero_model(X, basis, dt, scale, converged) -> PieceFit:
    """No DMD rank beats predicting zero on this piece: keep zero (error exactly |X|)."""
    n_state = X.shape[0]
    result = DMDResult(eigs=np.zeros(0, complex), modes=np.zeros((n_state, 0), complex),
                       amplitudes=np.zeros(0, complex), reduced_operator=np.zeros((0, 0), complex),
                       singular_values=scale * basis.s, rank=0, dt=float(dt))
    return PieceFit(result=result, reconstruction=np.zeros(X.shape, X.dtype), rank=0,
                    local_error=1.0 if np.any(X) else 0.0, converged=converged)
