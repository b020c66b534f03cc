"""Verified spectra: eigenvalues of the Koopman operator with certified error bounds.

Colbrook and Townsend ("Rigorous data-driven computation of spectral properties of Koopman
operators for dynamical systems", CPAM 2024, arXiv:2111.14889) turn the pseudospectrum
``tau(z)`` (:func:`pseudospectrum`) into spectral points with error bounds: a point ``z``
with small ``tau(z)`` carries a function ``phi`` of the dictionary's span with
``|K phi - z phi| <= tau(z) |phi|`` (up to the quadrature error of the data), so ``z`` lies in
the ``tau(z)``-pseudospectrum of ``K``; for a normal ``K`` (a measure-preserving invertible
system: ``K`` unitary) the distance from ``z`` to the spectrum is at most ``tau(z)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from explorer._validation import check_callable, check_range
from explorer.koopman.resdmd import _check_result, _Operator, check_grid

__all__ = ["VerifiedSpectrum", "verified_spectrum"]

#: A refinement step must lower tau by at least this fraction to count as progress.
_PROGRESS = 1e-3


@dataclass(frozen=True, eq=False)
class VerifiedSpectrum:
    """Approximate Koopman eigenvalues, each with a certified error bound.

    Attributes
    ----------
    eigs : ndarray (k,) complex
        The spectral points found, sorted by error.
    errors : ndarray (k,)
        ``tau`` at each point: its certified bound (``eigs[j]`` lies in the
        ``errors[j]``-pseudospectrum; for a normal operator, within ``errors[j]`` of the
        spectrum), all below ``epsilon``.
    coefficients : ndarray (N, k) complex
        The pseudoeigenfunction of each point in the dictionary (``|Psi_X g|_W = 1``).
    epsilon : float
        Only grid points with ``tau < epsilon`` were considered.
    grid : ndarray complex
        The grid ``tau`` was computed on.
    tau : ndarray, the shape of ``grid``
        The pseudospectrum on the grid (masked where a stopped run did not reach).
    grid_points : ndarray (k,) complex
        The grid point each eigenvalue was refined from.
    stopped_early : bool
        True if the callback stopped the pseudospectrum before the grid was done (the
        points found come from the part that was computed).
    """

    eigs: np.ndarray
    errors: np.ndarray
    coefficients: np.ndarray
    epsilon: float
    grid: np.ndarray
    tau: np.ndarray
    grid_points: np.ndarray
    stopped_early: bool = False

    def __len__(self) -> int:
        return self.eigs.size


def _local_minima(points, tau, epsilon, neighbourhood):
    """Points with ``tau < epsilon`` that minimise ``tau`` over their neighbourhood.

    The neighbourhood of point ``p`` is the ball of radius ``neighbourhood * tau[p]``, and
    never less than the point's grid neighbours (its 8 nearest points: the 3 x 3 block of a
    rectangular grid), so that where ``tau`` is below the grid spacing only discrete local
    minima count. Ties go to the lower index. Returns the kept indices and the distance from
    each to its nearest grid point.
    """
    coordinates = np.column_stack([points.real, points.imag])
    tree = cKDTree(coordinates)
    order = np.lexsort((np.arange(tau.size), tau))
    rank = np.empty(tau.size, dtype=np.int64)
    rank[order] = np.arange(tau.size)  # a strict total order: (tau, index)
    candidates = np.flatnonzero(tau < epsilon)
    if candidates.size == 0:
        return candidates, np.zeros(0)
    distances, neighbours = tree.query(coordinates[candidates], k=min(9, tau.size))
    distances = distances.reshape(candidates.size, -1)
    neighbours = neighbours.reshape(candidates.size, -1)
    minima = rank[candidates] <= rank[neighbours].min(axis=1)
    candidates, distances = candidates[minima], distances[minima]
    balls = tree.query_ball_point(coordinates[candidates], neighbourhood * tau[candidates])
    kept = np.array([i for i, (p, ball) in enumerate(zip(candidates, balls))
                     if rank[p] <= rank[ball].min()], dtype=np.int64)
    spacing = distances[kept, 1] if distances.shape[1] > 1 else np.zeros(kept.size)
    return candidates[kept], spacing


def _refine(operator, start, tau_start, radius, steps):
    """Local minimisation of ``tau(z)`` from each start point, staying within its radius.

    Alternates ``h = argmin_h |[B; A~ - z I] h|`` (the pseudoeigenfunction at ``z``) and
    ``z = h* A~ h`` (the best ``z`` for that ``h``): each step lowers
    ``|B h|^2 + |(A~ - z) h|^2``, so ``tau`` never increases. Returns points, taus and
    coordinates.
    """
    z = start.copy()
    tau, vectors = operator.minimise(z, keep_vectors=True, shape=z.shape)
    tau = np.minimum(tau, tau_start) if tau.size else tau
    active = np.ones(z.size, dtype=bool)
    for _ in range(steps):
        if not active.any():
            break
        index = np.flatnonzero(active)
        h = vectors[index]
        proposal = np.einsum("ki,ij,kj->k", h.conj(), operator.reduced, h)
        inside = np.abs(proposal - start[index]) <= radius[index]
        new_tau, new_vectors = operator.minimise(proposal, keep_vectors=True,
                                                 shape=proposal.shape)
        better = inside & (new_tau < (1 - _PROGRESS) * tau[index])
        improved = index[better]
        z[improved], tau[improved], vectors[improved] = (proposal[better], new_tau[better],
                                                         new_vectors[better])
        active[index[~better]] = False
    return z, tau, vectors


def _distinct(z, errors):
    """Drop points inside the error disc of a point with a smaller error.

    Refinements that converged to the same point agree to far better than 1e-8 (relative);
    that slack merges them even where both errors are at rounding level.
    """
    order = np.argsort(errors, kind="stable")
    kept = []
    for j in order:
        slack = 1e-8 * (1 + abs(z[j]))
        if all(abs(z[j] - z[i]) > max(errors[i], errors[j]) + slack for i in kept):
            kept.append(j)
    return np.array(kept, dtype=np.int64)


def verified_spectrum(result, grid, epsilon: float = 0.1, *, neighbourhood: float = 1.0,
                      refine_steps: int = 30, callback=None) -> VerifiedSpectrum:
    """Spectral points of the Koopman operator with certified error bounds.

    The recipe (Colbrook and Townsend's):

    1. compute ``tau(z)`` on ``grid`` (:func:`pseudospectrum`);
    2. among grid points with ``tau < epsilon``, keep the local minimisers: each kept point
       has the least ``tau`` of all grid points within ``neighbourhood * tau`` of it (a
       neighbourhood proportional to its own ``tau``, and never smaller than its 8 grid
       neighbours, so eigenvalues closer than a grid spacing show as one);
    3. refine each kept point by a local minimisation of ``tau(z)`` off the grid (alternating
       the pseudoeigenfunction at ``z`` and the best ``z`` for it, which never raises ``tau``,
       within that neighbourhood or 1.5 grid spacings), and drop points inside the error disc
       of a better one (so points refined onto the same eigenvalue count once).

    The guarantee: each returned ``z`` has a function ``phi`` in the dictionary's span with
    ``|K phi - z phi| <= tau(z) |phi|`` in the data's quadrature, so ``z`` lies in the
    ``tau(z)``-pseudospectrum of ``K`` up to the quadrature error (which vanishes as the
    snapshots grow). If ``K`` is normal (e.g. unitary: a measure-preserving invertible
    system), the spectrum has a point within ``tau(z)`` of ``z``. The converse is not
    promised: parts of the spectrum the dictionary cannot resolve show no small ``tau``.

    Parameters
    ----------
    result : EDMDResult
    grid : complex array, any shape
        Points of the complex plane (see :func:`complex_grid`; ``|z| <= 1e6``, at most
        4,000,000); the finer, the more local minima it resolves.
    epsilon : float in (0, 1e6]
        Largest ``tau`` of a grid point that may be kept.
    neighbourhood : float in [0, 100]
        Radius of the neighbourhood of a kept point in units of its ``tau`` (also bounds how
        far refinement moves it). Larger values keep fewer, sparser points.
    refine_steps : int in [0, 100]
        Most refinement steps per point (each one pseudospectrum solve per point; it stops
        earlier once a step lowers ``tau`` by less than 0.1%). 0 keeps the grid points.
    callback : callable, optional
        ``callback(progress) -> bool`` during the pseudospectrum (a
        :class:`PseudospectrumProgress`); a truthy return stops it, and the result keeps the
        points of the part computed (``stopped_early``).

    Returns
    -------
    VerifiedSpectrum

    Examples
    --------
    >>> import numpy as np
    >>> from explorer.koopman import edmd, complex_grid
    >>> X = np.eye(3); A = np.diag([0.9, 0.5j, -0.3])
    >>> found = verified_spectrum(edmd(X, A @ X, lambda x: x), complex_grid(21), 0.2)
    >>> (np.sort_complex(found.eigs).round(8) + 0).tolist(), bool(found.errors.max() < 1e-10)
    ([(-0.3+0j), 0.5j, (0.9+0j)], True)
    """
    result = _check_result(result)
    grid = check_grid(grid)
    epsilon = check_range("epsilon", epsilon, lo=0.0, hi=1e6, lo_open=True)
    neighbourhood = check_range("neighbourhood", neighbourhood, lo=0.0, hi=100.0)
    refine_steps = check_range("refine_steps", refine_steps, lo=0, hi=100, integer=True)
    callback = check_callable("callback", callback)
    operator = _Operator(result)
    tau = operator.minimise(grid.ravel(), callback=callback, shape=grid.shape)[0]
    stopped = bool(np.ma.is_masked(tau))
    computed = ~np.ma.getmaskarray(tau).ravel()
    points, values = grid.ravel()[computed], np.ma.getdata(tau).ravel()[computed]
    empty = np.zeros(0, dtype=np.complex128)
    kept, spacing = (_local_minima(points, values, epsilon, neighbourhood) if points.size
                     else (np.zeros(0, np.int64), np.zeros(0)))
    if kept.size == 0:
        return VerifiedSpectrum(eigs=empty, errors=np.zeros(0),
                                coefficients=np.zeros((result.K.shape[0], 0), complex),
                                epsilon=epsilon, grid=grid, tau=tau, grid_points=empty,
                                stopped_early=stopped)
    radius = np.maximum(neighbourhood * values[kept], 1.5 * spacing)
    z, errors, vectors = _refine(operator, points[kept], values[kept], radius, refine_steps)
    distinct = _distinct(z, errors)
    return VerifiedSpectrum(eigs=z[distinct], errors=errors[distinct],
                            coefficients=result.whitening @ vectors[distinct].T,
                            epsilon=epsilon, grid=grid, tau=tau, grid_points=points[kept][distinct],
                            stopped_early=stopped)
