"""Piecewise DMD: exact DMD on consecutive chunks of one trajectory, stitched together.

One linear model cannot follow a signal whose frequencies drift or whose pattern changes;
splitting the time axis into ``N`` pieces and fitting each separately can. The error of the
stitched reconstruction as ``N`` grows tells how local in time the dynamics are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_range
from explorer.koopman.dmd import DMDResult, dmd

__all__ = ["PiecewiseDMD", "piecewise_dmd", "piece_boundaries"]


@dataclass(frozen=True)
class PiecewiseDMD:
    """Exact DMD per consecutive chunk of a trajectory and the stitched reconstruction.

    Attributes
    ----------
    pieces : tuple of DMDResult
        One DMD per chunk, in time order.
    boundaries : ndarray (n_pieces + 1,) of int
        Piece ``k`` models the transitions ``X[:, i] -> X[:, i + 1]`` for
        ``boundaries[k] <= i < boundaries[k + 1]`` and reconstructs those snapshots ``i``
        (the last piece also the final snapshot).
    reconstruction : ndarray (n_state, m)
        Each piece's ``reconstruct`` from its own first snapshot, side by side (real part
        for real data).
    piece_errors : ndarray (n_pieces,)
        Relative Frobenius error of each piece's reconstruction.
    error : float
        Relative Frobenius error ``|X - reconstruction| / |X|`` of the whole.
    errors_by_pieces : ndarray (n_pieces,)
        ``error`` when the same data are cut into 1, 2, ..., n_pieces pieces: the indicator
        of how the fit improves as the number of pieces grows.
    """

    pieces: tuple[DMDResult, ...]
    boundaries: np.ndarray
    reconstruction: np.ndarray
    piece_errors: np.ndarray
    error: float
    errors_by_pieces: np.ndarray

    @property
    def n_pieces(self) -> int:
        return len(self.pieces)


def piece_boundaries(m: int, pieces: int) -> np.ndarray:
    """Split the ``m - 1`` transitions of ``m`` snapshots into ``pieces`` near-equal runs.

    Returns ``pieces + 1`` increasing integers from 0 to ``m - 1``.
    """
    return np.linspace(0, m - 1, pieces + 1).round().astype(int)


def _relative_error(reference, approximation) -> float:
    norm = np.linalg.norm(reference)
    return float(np.linalg.norm(reference - approximation) / norm) if norm > 0 else 0.0


def _stitch(X, boundaries, rank, dt):
    pieces, blocks = [], []
    for k, (start, stop) in enumerate(zip(boundaries[:-1], boundaries[1:])):
        last = k == len(boundaries) - 2
        result = dmd(X[:, start:stop], X[:, start + 1:stop + 1], rank, dt=dt)
        reconstructed = result.reconstruct(stop - start + int(last))
        blocks.append(reconstructed if np.iscomplexobj(X) else reconstructed.real)
        pieces.append(result)
    return tuple(pieces), blocks


def piecewise_dmd(X, pieces, rank=None, *, dt=1.0) -> PiecewiseDMD:
    """Exact DMD on ``pieces`` consecutive chunks of the trajectory ``X``, stitched.

    Parameters
    ----------
    X : array (n_state, m)
        One trajectory, snapshots in time order, one per column (finite, ``m >= 2``).
    pieces : int in [1, m - 1]
        Number of chunks (each holds at least one transition).
    rank : int, optional
        DMD rank in every piece, in ``[1, min(n_state, shortest piece's transitions)]``;
        None keeps each piece's numerical rank.
    dt : float > 0
        Time between snapshots.

    Returns
    -------
    PiecewiseDMD

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 20, 201)
    >>> X = np.vstack([np.cos(t * (1 + t / 20)), np.sin(t * (1 + t / 20))])
    >>> fit = piecewise_dmd(X, 4, rank=2)
    >>> bool(fit.errors_by_pieces[-1] < fit.errors_by_pieces[0])
    True
    """
    dtype = np.complex128 if np.iscomplexobj(X) else np.float64
    X = check_array("X", X, ndim=2, dtype=dtype)
    if X.shape[1] < 2:
        raise ValueError(f"X must hold at least 2 snapshots (columns), got shape {X.shape}")
    m = X.shape[1]
    pieces = check_range("pieces", pieces, lo=1, hi=m - 1, integer=True)
    if rank is not None:
        shortest = int(np.diff(piece_boundaries(m, pieces)).min())
        rank = check_range("rank", rank, lo=1, hi=min(X.shape[0], shortest), integer=True)
    check_range("dt", dt, lo=0.0, lo_open=True)
    errors_by_pieces = np.empty(pieces)
    for count in range(1, pieces + 1):
        boundaries = piece_boundaries(m, count)
        results, blocks = _stitch(X, boundaries, rank, dt)
        reconstruction = np.concatenate(blocks, axis=1)
        errors_by_pieces[count - 1] = _relative_error(X, reconstruction)
    piece_errors = np.array([_relative_error(X[:, start:start + block.shape[1]], block)
                             for start, block in zip(boundaries[:-1], blocks)])
    return PiecewiseDMD(pieces=results, boundaries=boundaries, reconstruction=reconstruction,
                        piece_errors=piece_errors, error=float(errors_by_pieces[-1]),
                        errors_by_pieces=errors_by_pieces)
