"""Exact dynamic mode decomposition (Tu et al. 2014) with PyDMD's conventions.

Snapshot matrices hold one snapshot per column, shape ``(n_state, m)``, with ``Y[:, j]`` the
state one step after ``X[:, j]``. :func:`dmd` gives the same eigenvalues, modes and
amplitudes as ``pydmd.DMD(svd_rank=rank, exact=True).fit(X, Y)`` for an integer ``rank``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_range

__all__ = ["DMDResult", "dmd", "delay_embedding", "check_snapshot_pair", "numerical_rank"]


#: Largest reconstruction horizon (snapshots) :meth:`DMDResult.reconstruct` produces.
MAX_RECONSTRUCT_STEPS = 10_000_000


@dataclass(frozen=True, eq=False)
class DMDResult:
    """An exact DMD of a snapshot pair.

    Attributes
    ----------
    eigs : ndarray (rank,) complex
        Eigenvalues of the reduced operator (discrete time, one step of ``dt``), in LAPACK's
        order as PyDMD returns them.
    modes : ndarray (n_state, rank) complex
        Exact DMD modes ``Y V S^-1 W`` (columns; not normalised, as in PyDMD).
    amplitudes : ndarray (rank,) complex
        Least-squares fit of the modes to the first snapshot ``X[:, 0]``.
    reduced_operator : ndarray (rank, rank)
        ``A~ = U* Y V S^-1``, the operator in the POD coordinates.
    singular_values : ndarray (min(n_state, m),)
        All singular values of ``X`` (the first ``rank`` were kept).
    rank : int
        Truncation rank used.
    dt : float
        Time between snapshots, for :attr:`continuous_eigs`.
    """

    eigs: np.ndarray
    modes: np.ndarray
    amplitudes: np.ndarray
    reduced_operator: np.ndarray
    singular_values: np.ndarray
    rank: int
    dt: float

    @property
    def continuous_eigs(self) -> np.ndarray:
        """Continuous-time eigenvalues ``log(eigs) / dt`` (rank,); a zero eigenvalue gives -inf."""
        with np.errstate(divide="ignore"):
            return np.log(self.eigs.astype(complex)) / self.dt

    def reconstruct(self, steps: int) -> np.ndarray:
        """Snapshots predicted from the first one: ``modes @ diag(amplitudes) @ eigs ** k``.

        Parameters
        ----------
        steps : int in [1, 10^7]
            Number of snapshots, ``k = 0 .. steps - 1`` (``steps = m`` covers ``X``); at most
            ``10^8`` values in all, and short enough that growing modes (``|eig| > 1``) stay
            below 1e300 (the message states the longest such horizon).

        Returns
        -------
        ndarray (n_state, steps) complex
            As PyDMD's ``reconstructed_data``.
        """
        steps = check_range("steps", steps, lo=1, hi=MAX_RECONSTRUCT_STEPS, integer=True)
        n_state = self.modes.shape[0]
        if n_state * steps > 10 * MAX_RECONSTRUCT_STEPS:
            raise ValueError(f"steps must be at most {10 * MAX_RECONSTRUCT_STEPS // n_state} for "
                             f"{n_state} state values per snapshot, got {steps}")
        largest = float(np.abs(self.eigs).max()) if self.eigs.size else 0.0
        scale = float(np.abs(self.amplitudes).max() * np.abs(self.modes).sum(axis=0).max()
                      ) if self.eigs.size else 0.0
        if largest > 1 and scale > 0:
            horizon = int((300 - math.log10(scale)) / math.log10(largest)) + 1
            if steps > horizon:
                raise ValueError(f"steps must be at most {max(horizon, 1)}: the fastest growing "
                                 f"mode (|eig| = {largest:.6g}) overflows float64 after that, "
                                 f"got {steps}")
        dynamics = self.amplitudes[:, None] * self.eigs[:, None] ** np.arange(steps)[None, :]
        return self.modes @ dynamics


def _complex_input(values) -> bool:
    """Whether ``values`` holds complex numbers (False for what ``check_array`` refuses anyway)."""
    try:
        return bool(np.iscomplexobj(values))
    except (TypeError, ValueError):  # ragged lists: check_array names the parameter
        return False


def check_snapshot_pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Validate a snapshot pair: 2-D, finite, the same shape, at least one column.

    Returns both as float64 arrays (complex128 if either is complex).
    """
    dtype = np.complex128 if (_complex_input(X) or _complex_input(Y)) else np.float64
    X = check_array("X", X, ndim=2, dtype=dtype)
    if X.shape[1] < 1:
        raise ValueError(f"X must hold at least one snapshot (column), got shape {X.shape}")
    Y = check_array("Y", Y, ndim=2, dtype=dtype)
    if Y.shape != X.shape:
        raise ValueError(f"Y must have the shape of X, {X.shape} (one snapshot per column, one "
                         f"step later), got {Y.shape}")
    return X, Y


def numerical_rank(singular_values, shape) -> int:
    """Number of singular values above ``max(shape) * eps * largest`` (as ``np.linalg.matrix_rank``)."""
    if singular_values.size == 0 or singular_values[0] == 0:
        return 0
    threshold = max(shape) * np.finfo(float).eps * singular_values[0]
    return int(np.count_nonzero(singular_values > threshold))


def dmd(X, Y, rank=None, *, dt=1.0) -> DMDResult:
    """Exact DMD of the snapshot pair ``(X, Y)``.

    Parameters
    ----------
    X, Y : array (n_state, m)
        Snapshots, one per column; ``Y[:, j]`` is one step after ``X[:, j]``. Finite.
    rank : int in [1, min(n_state, m)], optional
        SVD truncation rank, as PyDMD's ``svd_rank`` (a positive integer there). ``None``
        keeps the numerical rank of ``X`` (singular values above
        ``max(n_state, m) * eps * sigma_1``), which is all of them for full-rank data: the
        same as PyDMD's ``svd_rank=-1`` then. (PyDMD's own default, ``svd_rank=0``, is the
        Gavish-Donoho optimal hard threshold.)
    dt : float > 0
        Time between snapshots; only used for :attr:`DMDResult.continuous_eigs`.

    Returns
    -------
    DMDResult

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.9, -0.2], [0.2, 0.9]])
    >>> X = np.random.default_rng(0).standard_normal((2, 5))
    >>> np.sort_complex(dmd(X, A @ X).eigs).round(6)
    array([0.9-0.2j, 0.9+0.2j])
    """
    X, Y = check_snapshot_pair(X, Y)
    if rank is not None:
        rank = check_range("rank", rank, lo=1, hi=min(X.shape), integer=True)
    check_range("dt", dt, lo=0.0, lo_open=True)
    U, singular_values, Vh = np.linalg.svd(X, full_matrices=False)
    if rank is None:
        rank = numerical_rank(singular_values, X.shape)
        if rank == 0:
            raise ValueError("X must not be all zeros")
    elif singular_values[rank - 1] == 0:
        raise ValueError(f"rank must be at most the rank {numerical_rank(singular_values, X.shape)}"
                         f" of X, got {rank}")
    kept = singular_values[:rank]
    # Y V is shared by the reduced operator and the exact modes (PyDMD forms it twice).
    scaled_image = (Y @ Vh[:rank].conj().T) * np.reciprocal(kept)
    reduced_operator = U[:, :rank].conj().T @ scaled_image
    eigs, eigenvectors = np.linalg.eig(reduced_operator)
    modes = scaled_image @ eigenvectors
    amplitudes = np.linalg.lstsq(modes, X[:, 0], rcond=None)[0]
    return DMDResult(eigs=eigs, modes=modes, amplitudes=amplitudes,
                     reduced_operator=reduced_operator, singular_values=singular_values,
                     rank=int(rank), dt=float(dt))


def delay_embedding(snapshots, delays: int) -> np.ndarray:
    """Stack ``delays`` consecutive snapshots into one column (a Hankel matrix).

    Parameters
    ----------
    snapshots : array (n_state, m)
        A single trajectory, one snapshot per column.
    delays : int in [1, m]

    Returns
    -------
    ndarray (n_state * delays, m - delays + 1)
        Column ``j`` is ``[x_j; x_{j+1}; ...; x_{j+delays-1}]``. DMD of consecutive columns
        of a periodic signal recovers its harmonics ``exp(i k omega dt)``.
    """
    snapshots = check_array("snapshots", snapshots, ndim=2)
    delays = check_range("delays", delays, lo=1, hi=snapshots.shape[1], integer=True)
    width = snapshots.shape[1] - delays + 1
    return np.concatenate([snapshots[:, lag:lag + width] for lag in range(delays)], axis=0)
