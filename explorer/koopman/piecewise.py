"""Piecewise DMD (pDMD): exact DMD on consecutive chunks of one trajectory, stitched together.

One linear model cannot follow a signal whose frequencies drift or whose pattern changes;
splitting the time axis into ``N`` pieces and fitting each separately can. This is the
algorithm of Alla, Monti and Sgura [1]_ (their MATLAB ``pDMD.m`` in
https://github.com/CnrIacBaGit/PatternChemotaxis), with its error indicators: the global
relative error as ``N`` grows, the error of every snapshot, and the rank of every piece.

What reproduces the paper
    Pieces of contiguous snapshots ``ceil(k m / N) <= j < ceil((k + 1) m / N)``, each fitted
    on its own transitions only; per piece the rank starts at the piece's numerical rank and
    drops until the local error ``max|X - X_hat| / max|X|`` is at most ``tol`` (0.1); DMD in
    the coordinates of the piece's rank-``r`` QB factorisation (randomized: a Gaussian sketch
    with 2 power iterations); each piece rebuilt from its own first snapshot with
    ``b = pinv(Phi) x_1``; the automatic mode raises ``N`` from ``N0`` (1) until the global
    relative Frobenius error is below ``target`` (1e-4), with at least 10 snapshots a piece;
    an ``N`` where some piece meets ``tol`` at no rank cannot end the search.

What is ours
    - A rank is only kept if its reconstruction is finite and no worse than the piece itself
      (``|X_k - X_hat_k|_F <= |X_k|_F``); a piece where no rank qualifies is rebuilt as zero
      (``ranks == 0``). So the stitched error of any ``N`` is at most 1: an indicator that
      cannot explode. (pDMD.m only looks at the max-norm error; the fixed-rank version here
      before this rule gave 6.8e13 at 2 pieces on the FitzHugh-Nagumo field.)
    - A rank whose modal rebuild is at the mercy of rounding is skipped
      (``eps cond(Phi) max(1, |lambda|)^(L - 1) |x_1| / max|x_k| > 1e-8``): near a piece's
      length the operator interpolates the samples with eigenvalues far outside the unit
      circle, and whether pDMD.m then meets ``tol`` depends on rounding.
    - A piece where no rank meets ``tol`` keeps the rank of least Frobenius error and is
      marked in ``converged``; pDMD.m gives up on that ``N`` (error -100).
    - The reported rank is the one used (pDMD.m stores it after its final decrement, one
      less), and a piece that meets ``tol`` only at rank 1 is accepted (pDMD.m counts it as
      a failure). The search starts at most at ``L - 1`` for a piece of ``L`` snapshots (its
      number of transitions), and skips ranks whose projected inputs are numerically
      rank-deficient (pDMD.m's ``pinv(S)`` silently drops that direction).
    - Randomized mode draws one sketch per piece and truncates its SVD for every rank tried
      (pDMD.m draws a fresh QB at every rank); one factorisation per piece also serves the
      deterministic mode, where it is an exact SVD. Ranks are evaluated without forming
      anything of the state's size (see ``explorer.koopman._piece_fit``).
    - When the automatic mode misses ``target``, it returns the ``N`` of least error among
      those where every piece converged (pDMD.m returns whatever it built last).
    - ``rank`` given: the search starts there and, unless ``tol`` is given too, keeps that
      rank whenever it qualifies (the fixed-rank piecewise DMD of earlier versions).
    - The data are divided by a power of two (exactly) so that ``max|X| < 1``: entries from
      1e-300 to 1e150 give the same fit.

Earlier versions split the ``m - 1`` transitions instead and let each piece use the
transition into the next one; :func:`piece_boundaries` now returns pDMD.m's snapshot runs.

References
----------
.. [1] A. Alla, A. Monti, I. Sgura, "Piecewise DMD for oscillatory and Turing
   spatio-temporal dynamics", Computers & Mathematics with Applications 160 (2024)
   108-124, https://doi.org/10.1016/j.camwa.2024.02.022 (arXiv:2303.06512).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from explorer._jit import blas_threads
from explorer._validation import (check_array, check_bool, check_callable, check_range,
                                  make_rng)
from explorer.koopman._piece_fit import fit_piece, piece_basis
from explorer.koopman.dmd import DMDResult
from explorer.koopman.randomized import MAX_VALUES, snapshot_dtype

__all__ = ["PiecewiseDMD", "PiecewiseSearch", "auto_piecewise_dmd", "piece_boundaries",
           "piecewise_dmd"]

#: The paper's local tolerance (pDMD_*.m scripts: ``tol = 1e-1``).
PAPER_TOL = 0.1
# _ONE_BLAS_THREAD: the fits run with BLAS on one thread. A piece's matrices are small, and
# on a shared machine OpenBLAS threads waiting for a core made the FitzHugh-Nagumo search of
# the issue 60x slower (26 s against 0.44 s for one piece of 128 x 201).


@dataclass(frozen=True, eq=False)
class PiecewiseDMD:
    """Piecewise DMD of one trajectory at one number of pieces, and its error indicators.

    Attributes
    ----------
    pieces : tuple of DMDResult
        One DMD per piece, in time order; ``pieces[k].reconstruct(L_k)`` rebuilds piece ``k``
        from its first snapshot (complex; the real part for real data). A piece kept as zero
        has ``rank == 0`` and empty arrays.
    boundaries : ndarray (n_pieces + 1,) of int
        Piece ``k`` holds the snapshots ``boundaries[k] <= j < boundaries[k + 1]``
        (:func:`piece_boundaries`).
    reconstruction : ndarray (n_state, m)
        The pieces' reconstructions side by side.
    piece_errors : ndarray (n_pieces,)
        Relative Frobenius error of each piece, in [0, 1].
    error : float
        Global relative Frobenius error ``|X - reconstruction|_F / |X|_F``, in [0, 1].
    errors_by_pieces : ndarray
        ``error`` with ``first_pieces``, ``first_pieces + 1``, ..., ``n_pieces`` pieces: the
        paper's indicator of how the fit improves with ``N``.
    ranks : ndarray (n_pieces,) of int
        Rank kept in each piece (0: rebuilt as zero).
    local_errors : ndarray (n_pieces,)
        The paper's local error of each piece, ``max|X_k - X_hat_k| / max|X_k|``.
    converged : ndarray (n_pieces,) of bool
        Whether each piece met ``tol`` (with ``tol`` None: whether a rank qualified).
    error_history : ndarray (m,)
        The paper's error of every snapshot, ``|x_j - x_hat_j| / |x_j|`` (a snapshot of norm
        below ``eps`` times the RMS snapshot norm is measured against the RMS norm instead).
    tol : float or None
        The local tolerance used.
    first_pieces : int
        Number of pieces of ``errors_by_pieces[0]``.
    """

    pieces: tuple[DMDResult, ...]
    boundaries: np.ndarray
    reconstruction: np.ndarray
    piece_errors: np.ndarray
    error: float
    errors_by_pieces: np.ndarray
    ranks: np.ndarray
    local_errors: np.ndarray
    converged: np.ndarray
    error_history: np.ndarray
    tol: float | None
    first_pieces: int = 1

    @property
    def n_pieces(self) -> int:
        return len(self.pieces)

    @property
    def pieces_counts(self) -> np.ndarray:
        """The ``N`` of each entry of ``errors_by_pieces``."""
        return np.arange(self.first_pieces, self.first_pieces + self.errors_by_pieces.size)


@dataclass(frozen=True, eq=False)
class PiecewiseSearch:
    """The automatic mode's search over the number of pieces (:func:`auto_piecewise_dmd`).

    Attributes
    ----------
    fit : PiecewiseDMD
        The fit returned: the first ``N`` that reached ``target`` with every piece
        converged; otherwise the ``N`` of least error among those where every piece
        converged (or among all tried, if none did).
    pieces_tried : ndarray (k,) of int
        ``N0, N0 + 1, ...`` as far as the search went.
    errors : ndarray (k,)
        Global relative error at each ``N`` tried.
    converged : ndarray (k,) of bool
        Whether every piece met ``tol`` at that ``N``.
    reached_target : bool
    stopped_early : bool
        The callback asked to stop.
    target : float
    min_length : int
        Fewest snapshots a piece may have; the search ends at ``N = m // min_length``.
    """

    fit: PiecewiseDMD
    pieces_tried: np.ndarray
    errors: np.ndarray
    converged: np.ndarray
    reached_target: bool
    stopped_early: bool
    target: float
    min_length: int

    @property
    def n_pieces(self) -> int:
        return self.fit.n_pieces

    @property
    def error(self) -> float:
        return self.fit.error


def piece_boundaries(m, pieces) -> np.ndarray:
    """Split ``m`` snapshots into ``pieces`` runs as pDMD.m does: ``ceil(k m / pieces)``.

    Parameters
    ----------
    m : int in [2, 1e8]
        Number of snapshots.
    pieces : int in [1, m // 2]
        Number of runs; every run holds ``floor(m / pieces)`` or ``ceil(m / pieces)``
        snapshots, so at least 2 (one transition).

    Returns
    -------
    ndarray (pieces + 1,) of int
        Increasing, from 0 to ``m``; run ``k`` is ``boundaries[k] <= j < boundaries[k + 1]``.

    Examples
    --------
    >>> piece_boundaries(10, 3)
    array([ 0,  4,  7, 10])
    """
    m = check_range("m", m, lo=2, hi=100_000_000, integer=True)
    pieces = check_range("pieces", pieces, lo=1, hi=m // 2, integer=True)
    return -(-np.arange(pieces + 1, dtype=np.int64) * m // pieces)


@dataclass(frozen=True)
class _Settings:
    rank: int | None
    tol: float | None
    dt: float
    randomized: bool
    power_iterations: int
    oversampling: int
    root_seed: int


def _check_common(X, rank, tol, dt, randomized, power_iterations, oversampling, seed):
    """Validate what both modes share; returns (X, scale, settings).

    ``X`` comes back divided by a power of two (exact) so that ``max|X|`` is in [0.5, 1).
    """
    X = check_array("X", X, ndim=2, dtype=snapshot_dtype(X), max_size=MAX_VALUES)
    if X.shape[1] < 2:
        raise ValueError(f"X must hold at least 2 snapshots (columns), got shape {X.shape}")
    if rank is not None:
        rank = check_range("rank", rank, lo=1, hi=X.shape[0], integer=True)
    if tol is not None:
        tol = check_range("tol", tol, lo=0.0, hi=1.0, lo_open=True)
    elif rank is None:
        tol = PAPER_TOL
    dt = check_range("dt", dt, lo=0.0, hi=1e6, lo_open=True)
    randomized = check_bool("randomized", randomized)
    power_iterations = check_range("power_iterations", power_iterations, lo=0, hi=20,
                                   integer=True)
    oversampling = check_range("oversampling", oversampling, lo=0, hi=1000, integer=True)
    root_seed = int(make_rng(seed).integers(2**63))
    peak = float(np.max(np.abs(X)))
    scale = 2.0 ** np.frexp(peak)[1] if peak > 0 else 1.0
    settings = _Settings(rank, tol, dt, randomized, power_iterations, oversampling, root_seed)
    return X / scale, scale, settings


def _check_rank_fits(rank, m, pieces):
    """A fixed rank must fit the transitions of the shortest piece."""
    if rank is not None:
        shortest = int(np.diff(piece_boundaries(m, pieces)).min())
        check_range("rank", rank, lo=1, hi=shortest - 1, integer=True)


def _fit_pieces(X, count, settings, scale):
    """Every piece's :class:`PieceFit` for ``count`` pieces, and the boundaries."""
    boundaries = piece_boundaries(X.shape[1], count)
    fits = []
    for index, (start, stop) in enumerate(pairwise(boundaries)):
        piece = X[:, start:stop]
        rng = np.random.default_rng([settings.root_seed, count, index])
        cap = min(piece.shape) if settings.rank is None else settings.rank
        basis = piece_basis(piece, cap, settings.randomized, settings.power_iterations,
                            settings.oversampling, rng)
        fits.append(fit_piece(piece, basis, settings.rank, settings.tol, settings.dt, scale))
    return fits, boundaries


def _relative_error(reference, approximation) -> float:
    norm = np.linalg.norm(reference)
    return float(np.linalg.norm(reference - approximation) / norm) if norm > 0 else 0.0


def _global_error(X, fits, scale) -> float:
    stitched = np.concatenate([fit.reconstruction for fit in fits], axis=1) / scale
    return _relative_error(X, stitched)


def _assemble(X, scale, fits, boundaries, errors_by_pieces, first_pieces, tol) -> PiecewiseDMD:
    """The result in the caller's units, with every indicator."""
    reconstruction = np.concatenate([fit.reconstruction for fit in fits], axis=1)
    scaled_reconstruction = reconstruction / scale
    piece_errors = np.array([_relative_error(X[:, start:stop], scaled_reconstruction[:, start:stop])
                             for start, stop in pairwise(boundaries)])
    snapshot_norms = np.linalg.norm(X, axis=0)
    typical = np.linalg.norm(X) / np.sqrt(X.shape[1])
    floor = np.where(snapshot_norms > np.finfo(float).eps * typical, snapshot_norms, typical)
    misfit = np.linalg.norm(X - scaled_reconstruction, axis=0)
    error_history = np.divide(misfit, floor, out=np.zeros_like(misfit), where=floor > 0)
    return PiecewiseDMD(
        pieces=tuple(fit.result for fit in fits), boundaries=boundaries,
        reconstruction=reconstruction, piece_errors=piece_errors,
        error=_relative_error(X, scaled_reconstruction),
        errors_by_pieces=np.asarray(errors_by_pieces, dtype=float),
        ranks=np.array([fit.rank for fit in fits]),
        local_errors=np.array([fit.local_error for fit in fits]),
        converged=np.array([fit.converged for fit in fits]), error_history=error_history,
        tol=tol, first_pieces=first_pieces)


_MODE_DOC = """    rank : int in [1, n_state], optional
        Largest rank tried in a piece (:func:`piecewise_dmd` also requires it to fit the
        transitions of its shortest piece; a shorter piece of the automatic mode starts at
        its number of transitions). None: start at each piece's numerical rank, as the paper.
    tol : float in (0, 1], optional
        Local tolerance: each piece's rank drops until ``max|X_k - X_hat_k| / max|X_k| <=
        tol``. Default: the paper's 0.1 when ``rank`` is None; with a ``rank``, none (the
        rank is kept whenever its reconstruction is no worse than the piece).
    dt : float in (0, 1e6]
        Time between snapshots (for ``continuous_eigs`` of the pieces).
    randomized : bool
        Factor each piece with a randomized QB (:func:`~explorer.koopman.randomized_qb`,
        sketch of ``rank + oversampling`` columns, or the piece's size when ``rank`` is None)
        instead of an exact SVD: cheaper for a large state and a small ``rank``.
    power_iterations : int in [0, 20]
        Power iterations of the randomized QB (the paper's 2).
    oversampling : int in [0, 1000]
        Extra sketch columns (the paper's 0).
    seed : int or numpy Generator
        Seeds the sketches (each piece's from ``seed``, ``N`` and its index, so a fit at one
        ``N`` does not depend on the others computed). Same seed, same bits.
"""


def _mode_doc(function):
    function.__doc__ = function.__doc__.replace("    {mode}\n", _MODE_DOC)
    return function


@_mode_doc
def piecewise_dmd(X, pieces, rank=None, *, dt=1.0, tol=None, randomized=False,
                  power_iterations=2, oversampling=0, seed=0) -> PiecewiseDMD:
    """Piecewise DMD of the trajectory ``X`` with ``pieces`` pieces, and its indicators.

    See the module docstring for the algorithm and which choices are the paper's.
    ``errors_by_pieces`` repeats the fit for 1, 2, ..., ``pieces`` pieces.

    Parameters
    ----------
    X : array (n_state, m)
        One trajectory, snapshots in time order, one per column: finite, real or complex,
        entries of magnitude at most 1e150, ``m >= 2``, at most 5e7 entries.
    pieces : int in [1, m // 2]
        Number of pieces (each holds at least 2 snapshots).
    {mode}

    Returns
    -------
    PiecewiseDMD
        Its ``error`` and every entry of ``errors_by_pieces`` lie in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 20, 201)
    >>> X = np.vstack([np.cos(t * (1 + t / 20)), np.sin(t * (1 + t / 20))])
    >>> fit = piecewise_dmd(X, 4, rank=2)
    >>> bool(fit.errors_by_pieces[-1] < fit.errors_by_pieces[0] <= 1)
    True
    """
    X, scale, settings = _check_common(X, rank, tol, dt, randomized, power_iterations,
                                       oversampling, seed)
    pieces = check_range("pieces", pieces, lo=1, hi=X.shape[1] // 2, integer=True)
    _check_rank_fits(settings.rank, X.shape[1], pieces)
    errors = []
    with blas_threads(1):  # see _ONE_BLAS_THREAD
        for count in range(1, pieces + 1):
            fits, boundaries = _fit_pieces(X, count, settings, scale)
            errors.append(_global_error(X, fits, scale))
        return _assemble(X, scale, fits, boundaries, errors, 1, settings.tol)


@_mode_doc
def auto_piecewise_dmd(X, *, first_pieces=1, target=1e-4, min_length=10, rank=None, dt=1.0,
                       tol=None, randomized=False, power_iterations=2, oversampling=0, seed=0,
                       callback=None) -> PiecewiseSearch:
    """The paper's automatic mode: raise the number of pieces until the error is small.

    Starting at ``N = first_pieces``, fit :func:`piecewise_dmd` with ``N`` pieces; stop at
    the first ``N`` whose pieces all meet ``tol`` and whose global relative error is below
    ``target``, or when a piece would have fewer than ``min_length`` snapshots.

    Parameters
    ----------
    X : array (n_state, m)
        As in :func:`piecewise_dmd`, with ``m >= first_pieces * min_length``.
    first_pieces : int >= 1
        ``N0``, the paper's first number of pieces (its scripts use 1).
    target : float in (0, 1]
        Global relative Frobenius error to reach (the paper's scripts: 1e-4 or 1e-5).
    min_length : int in [2, m]
        Fewest snapshots per piece (pDMD.m: 10); ``N`` goes up to ``m // min_length``.
    {mode}
    callback : callable, optional
        ``callback(search_so_far) -> bool``, called after every ``N`` with the
        :class:`PiecewiseSearch` so far; a truthy return stops there (``stopped_early``).

    Returns
    -------
    PiecewiseSearch

    Examples
    --------
    A rotation that speeds up halfway: two exact linear pieces.

    >>> import numpy as np
    >>> turns = np.exp(1j * np.concatenate([0.2 * np.arange(100), 20 + 0.5 * np.arange(100)]))
    >>> search = auto_piecewise_dmd(np.vstack([turns.real, turns.imag]), target=1e-8)
    >>> int(search.n_pieces), search.reached_target, search.fit.ranks.tolist()
    (2, True, [2, 2])
    """
    X, scale, settings = _check_common(X, rank, tol, dt, randomized, power_iterations,
                                       oversampling, seed)
    m = X.shape[1]
    min_length = check_range("min_length", min_length, lo=2, hi=m, integer=True)
    last = m // min_length
    first_pieces = check_range("first_pieces", first_pieces, lo=1, hi=last, integer=True)
    target = check_range("target", target, lo=0.0, hi=1.0, lo_open=True)
    check_callable("callback", callback)
    with blas_threads(1):  # see _ONE_BLAS_THREAD
        return _search_pieces(X, scale, settings, first_pieces, last, target, min_length,
                              callback)


def _search_pieces(X, scale, settings, first_pieces, last, target, min_length, callback):
    tried, errors, all_converged, best = [], [], [], None
    reached = stopped = False
    for count in range(first_pieces, last + 1):
        fits, boundaries = _fit_pieces(X, count, settings, scale)
        tried.append(count)
        errors.append(_global_error(X, fits, scale))
        all_converged.append(all(fit.converged for fit in fits))
        reached = all_converged[-1] and errors[-1] < target
        if best is None or _better(errors[-1], all_converged[-1], *best[:2]):
            best = (errors[-1], all_converged[-1], fits, boundaries, len(errors))
        if reached:
            break
        if callback is not None and callback(_search(X, scale, best, tried, errors,
                                                     all_converged, False, False, target,
                                                     min_length, first_pieces, settings.tol)):
            stopped = True
            break
    return _search(X, scale, best, tried, errors, all_converged, reached, stopped, target,
                   min_length, first_pieces, settings.tol)


def _better(error, converged, best_error, best_converged) -> bool:
    """Prefer an ``N`` whose pieces all converged; among equals, the smaller error."""
    return (converged, -error) > (best_converged, -best_error)


def _search(X, scale, best, tried, errors, all_converged, reached, stopped, target,
            min_length, first_pieces, tol) -> PiecewiseSearch:
    _, _, fits, boundaries, upto = best
    fit = _assemble(X, scale, fits, boundaries, errors[:upto], first_pieces, tol)
    return PiecewiseSearch(fit=fit, pieces_tried=np.array(tried), errors=np.array(errors),
                           converged=np.array(all_converged), reached_target=bool(reached),
                           stopped_early=stopped, target=target, min_length=min_length)
