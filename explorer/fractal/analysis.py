"""The trainable/divergent boundary, its box-counting dimension, and the paper's colour stretch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array


def boundary(measure) -> np.ndarray:
    """Pixels where the sign of the convergence measure changes within a 2x2 neighbourhood.

    Parameters
    ----------
    measure : ndarray, shape (ny, nx), ny, nx >= 2
        A scan's convergence measure (negative = converged, positive = diverged).

    Returns
    -------
    ndarray of bool, shape (ny - 1, nx - 1)
        True where the four pixels of the block hold both a negative and a positive value.
    """
    measure = check_array("measure", measure, ndim=2, finite=False)
    if min(measure.shape) < 2:
        raise ValueError(f"measure must be at least 2 x 2, got shape {measure.shape}")
    blocks = np.stack((measure[1:, 1:], measure[:-1, 1:], measure[1:, :-1], measure[:-1, :-1]))
    return blocks.max(axis=0) * blocks.min(axis=0) < 0


@dataclass(frozen=True, eq=False)
class BoxCounting:
    """Result of :func:`box_counting_dimension`.

    Attributes
    ----------
    dimension : float
        Least-squares slope of log(count) against log(1 / size) over all box sizes; 0 for an
        empty mask.
    sizes : ndarray of int, shape (k,)
        Box edge lengths in pixels (powers of two).
    counts : ndarray of int, shape (k,)
        Number of boxes of each size holding at least one True pixel.
    slopes : ndarray, shape (k - 1,)
        Local dimension estimates between consecutive sizes.
    """

    dimension: float
    sizes: np.ndarray
    counts: np.ndarray
    slopes: np.ndarray


def box_counting_dimension(boundary_mask) -> BoxCounting:
    """Estimate the fractal dimension of a set of pixels by box counting.

    Boxes of edge 1, 2, 4, ... up to half the shorter side tile the mask (partial boxes at
    the far edges count); a box counts when it holds any True pixel.

    Parameters
    ----------
    boundary_mask : array of bool, shape (ny, nx), both >= 4
        E.g. ``boundary(scan.measure)``.

    Returns
    -------
    BoxCounting

    Examples
    --------
    >>> mask = np.zeros((64, 64), bool); mask[32, :] = True   # a straight line
    >>> round(box_counting_dimension(mask).dimension, 6)
    1.0
    """
    mask = check_array("boundary_mask", boundary_mask, ndim=2, dtype=bool)
    if min(mask.shape) < 4:
        raise ValueError(f"boundary_mask must be at least 4 x 4, got shape {mask.shape}")
    sizes, counts = [], []
    size = 1
    while size <= min(mask.shape) // 2:
        ny, nx = -(-mask.shape[0] // size), -(-mask.shape[1] // size)
        padded = np.zeros((ny * size, nx * size), bool)
        padded[: mask.shape[0], : mask.shape[1]] = mask
        occupied = padded.reshape(ny, size, nx, size).any(axis=(1, 3))
        sizes.append(size)
        counts.append(int(occupied.sum()))
        size *= 2
    sizes, counts = np.array(sizes), np.array(counts)
    if counts[0] == 0:
        return BoxCounting(0.0, sizes, counts, np.zeros(len(sizes) - 1))
    log_inverse_size, log_count = -np.log(sizes), np.log(counts)
    slopes = np.diff(log_count) / np.diff(log_inverse_size)
    dimension = float(np.polyfit(log_inverse_size, log_count, 1)[0])
    return BoxCounting(dimension, sizes, counts, slopes)


def rank_stretch(measure, reference=None, gap: float = 0.25) -> np.ndarray:
    """The paper's colour stretch: rank-equalise each sign onto its own half of [-1, 1].

    Negative values (converged) map by rank onto [-1, -gap], non-negative ones (diverged)
    onto [gap, 1], so the structure on both sides of the boundary is visible whatever the
    dynamic range. Pair it with a diverging colour map (blue = -1, red = +1).

    Parameters
    ----------
    measure : ndarray
        Values to map.
    reference : ndarray, optional
        Values whose ranks define the mapping (default: ``measure`` itself); pass the previous
        frame to keep colours steady during a zoom.
    gap : float in [0, 1)
        Half-width of the gap around 0 that separates the two signs.

    Returns
    -------
    ndarray, same shape as ``measure``, values in [-1, 1]
    """
    measure = np.asarray(measure, dtype=np.float64)
    ranks = np.sort(np.asarray(measure if reference is None else reference, np.float64).ravel())
    negatives = int(np.sum(ranks < 0))
    targets = np.concatenate((np.linspace(-1.0, -gap, negatives),
                              np.linspace(gap, 1.0, ranks.size - negatives)))
    return np.interp(measure, ranks, targets)
