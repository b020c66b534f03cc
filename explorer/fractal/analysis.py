"""The trainable/divergent boundary, its box-counting dimension, zoom targets, colour stretch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_instance, check_range

MAX_MASK_PIXELS = 2**28  # boundary masks up to 16384 x 16384


def boundary(measure) -> np.ndarray:
    """Pixels where the sign of the convergence measure changes within a 2x2 neighbourhood.

    Parameters
    ----------
    measure : array_like, shape (ny, nx), ny, nx >= 2
        A scan's convergence measure (negative = converged, positive = diverged); NaN
        (not computed) takes part in no boundary.

    Returns
    -------
    ndarray of bool, shape (ny - 1, nx - 1)
        True where the four pixels of the block hold both a negative and a positive value,
        the paper's definition of boundary pixels.

    Examples
    --------
    >>> boundary(np.array([[-1.0, 2.0], [-1.0, 3.0]])).tolist()
    [[True]]
    """
    measure = check_array("measure", measure, ndim=2, finite=False, max_abs=None,
                          max_size=MAX_MASK_PIXELS)
    if min(measure.shape) < 2:
        raise ValueError(f"measure must be at least 2 x 2, got shape {measure.shape}")
    blocks = np.stack((measure[1:, 1:], measure[:-1, 1:], measure[1:, :-1], measure[:-1, :-1]))
    with np.errstate(invalid="ignore"):  # a NaN makes max and min NaN: no boundary there
        return (blocks.max(axis=0) > 0) & (blocks.min(axis=0) < 0)


def isolated_fraction(measure) -> float:
    """Share of pixels whose sign differs from all four of their neighbours: the speckle.

    A boundary with structure at the scale of the pixels leaves few isolated pixels; signs
    drawn independently, a share p of them diverged, leave p (1-p)^4 + (1-p) p^4 of them
    (1/16 at p = 1/2). Use it to tell speckle from structure, along a zoom or as the steps grow.

    Parameters
    ----------
    measure : array_like, shape (ny, nx), ny, nx >= 3
        A scan's convergence measure (positive = diverged). Pixels on the edge of the image,
        and pixels that are NaN (not computed) or have a NaN neighbour, are not counted.

    Returns
    -------
    float in [0, 1]
        NaN if no pixel could be counted.

    Examples
    --------
    >>> isolated_fraction([[-1, -1, -1], [-1, 5, -1], [-1, -1, -1]])
    1.0
    """
    measure = check_array("measure", measure, ndim=2, finite=False, max_abs=None,
                          max_size=MAX_MASK_PIXELS)
    if min(measure.shape) < 3:
        raise ValueError(f"measure must be at least 3 x 3, got shape {measure.shape}")
    diverged, known = measure > 0, ~np.isnan(measure)
    centre = (slice(1, -1), slice(1, -1))
    neighbours = ((slice(None, -2), slice(1, -1)), (slice(2, None), slice(1, -1)),
                  (slice(1, -1), slice(None, -2)), (slice(1, -1), slice(2, None)))
    counted = known[centre].copy()
    isolated = np.ones_like(counted)
    for neighbour in neighbours:
        counted &= known[neighbour]
        isolated &= diverged[neighbour] != diverged[centre]
    total = int(counted.sum())
    return float((isolated & counted).sum() / total) if total else float("nan")


def _check_mask(boundary_mask, min_side: int) -> np.ndarray:
    if isinstance(boundary_mask, (str, bytes)) or boundary_mask is None:
        raise TypeError(f"boundary_mask must be a 2D array of booleans, got "
                        f"{type(boundary_mask).__name__}")
    raw = np.asarray(boundary_mask)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"boundary_mask must be a 2D array of booleans, got {raw.dtype} values")
    if raw.dtype.kind in "iuf" and raw.size and not np.isin(raw, (0, 1)).all():
        raise ValueError("boundary_mask must hold booleans (or 0 and 1), got other values "
                         "(NaN included)")
    mask = check_array("boundary_mask", raw.astype(bool), ndim=2, dtype=bool,
                       max_size=MAX_MASK_PIXELS)
    if min(mask.shape) < min_side:
        raise ValueError(f"boundary_mask must be at least {min_side} x {min_side}, "
                         f"got shape {mask.shape}")
    return mask


def _box_sums(mask, size):
    """Sums of size x size boxes tiling ``mask`` (partial boxes at the far edges included)."""
    ny, nx = -(-mask.shape[0] // size), -(-mask.shape[1] // size)
    padded = np.zeros((ny * size, nx * size), np.int64)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    return padded.reshape(ny, size, nx, size).sum(axis=(1, 3))


@dataclass(frozen=True, eq=False)
class BoxCounting:
    """Result of :func:`box_counting_dimension` and :func:`box_counts`.

    Attributes
    ----------
    dimension : float
        :func:`box_counting_dimension`: least-squares slope of log(count) against
        log(1 / size) over all box sizes. :func:`box_counts`: the median of ``slopes``.
        0 for an empty mask.
    sizes : ndarray of int, shape (k,)
        Box edge lengths in pixels.
    counts : ndarray of int, shape (k,)
        Number of boxes of each size that hold the boundary.
    slopes : ndarray, shape (k - 1,) or (k,)
        Local dimension estimates: between consecutive sizes (:func:`box_counting_dimension`),
        or at every size as numpy.gradient, the paper's porespy convention (:func:`box_counts`).
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
    boundary_mask : array of bool (or 0/1), shape (ny, nx), both in [4, 16384]
        E.g. ``boundary(scan.measure)``.

    Returns
    -------
    BoxCounting

    See Also
    --------
    box_counts : the paper's variant (porespy's sizes and local slopes, median).

    Examples
    --------
    >>> mask = np.zeros((64, 64), bool); mask[32, :] = True   # a straight line
    >>> round(box_counting_dimension(mask).dimension, 6)
    1.0
    """
    mask = _check_mask(boundary_mask, 4)
    sizes = 2 ** np.arange(int(np.log2(min(mask.shape) // 2)) + 1)
    counts = np.array([int((_box_sums(mask, int(size)) > 0).sum()) for size in sizes])
    if counts[0] == 0:
        return BoxCounting(0.0, sizes, counts, np.zeros(len(sizes) - 1))
    log_inverse_size, log_count = -np.log(sizes), np.log(counts)
    slopes = np.diff(log_count) / np.diff(log_inverse_size)
    dimension = float(np.polyfit(log_inverse_size, log_count, 1)[0])
    return BoxCounting(dimension, sizes, counts, slopes)


def box_counts(boundary_mask, bins: int = 10) -> BoxCounting:
    """Box counting as the paper did it (porespy's ``metrics.boxcount``).

    Box edges are ``bins`` sizes log-spaced from 10 pixels to the shorter side (rounded down,
    duplicates dropped); a box counts when it holds boundary pixels but is not entirely
    boundary; the local slope at each size is ``-numpy.gradient(log count, log size)``. The
    paper's dimension of a zoom sequence is the median of the slopes of all its images
    (:func:`zoom_dimension`).

    Parameters
    ----------
    boundary_mask : array of bool (or 0/1), shape (ny, nx), both in [20, 16384]
    bins : int, in [3, 64]

    Returns
    -------
    BoxCounting
        ``dimension`` is the median of this image's slopes (NaN where a count is zero).

    Examples
    --------
    >>> mask = np.zeros((256, 256), bool); mask[100, :] = True   # a line: dimension 1
    >>> result = box_counts(mask)
    >>> result.sizes.tolist()
    [10, 14, 20, 29, 42, 60, 86, 124, 178, 256]
    >>> round(result.dimension, 1)
    1.0
    """
    mask = _check_mask(boundary_mask, 20)
    bins = check_range("bins", bins, lo=3, hi=64, integer=True)
    sizes = np.unique(np.logspace(1, np.log10(min(mask.shape)), bins).astype(int))
    ones = np.ones(mask.shape, bool)
    counts = []
    for size in sizes:
        filled = _box_sums(mask, int(size))
        area = _box_sums(ones, int(size))
        counts.append(int(((filled > 0) & (filled < area)).sum()))
    counts = np.array(counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = -np.gradient(np.log(counts.astype(float)), np.log(sizes.astype(float)))
    slopes = np.where(np.isfinite(slopes), slopes, np.nan)
    dimension = float(np.nanmedian(slopes)) if np.isfinite(slopes).any() else 0.0
    return BoxCounting(dimension, sizes, counts, slopes)


def boundary_target(scan_result, near=None, zoom: float = 4.0) -> tuple[float, float] | None:
    """A point on the boundary of a scan to zoom into (log10 x, log10 y), or None.

    Parameters
    ----------
    scan_result : Scan
        A finished (or partial) scan.
    near : (float, float), optional
        log10 (x, y) of a requested point (e.g. a click): the boundary block centre nearest
        to it, with distances in units of the window's width and height.
    zoom : float, in [1, 1e15]
        Without ``near``: the boundary block centre whose window, ``zoom`` times smaller,
        keeps the most boundary pixels in view (ties go to the point nearest the centre).

    Returns
    -------
    (float, float) or None
        None when the scan shows no boundary.

    Examples
    --------
    >>> from explorer.fractal import make_problem, scan
    >>> result = scan(make_problem(width=3, seed=1), (-1, 3), (-1, 3), resolution=16, steps=30)
    >>> x, y = boundary_target(result)
    >>> bool(result.zoom((x, y), 4).x_range[0] > -1)
    True
    """
    from explorer.fractal.scan import Scan

    check_instance("scan_result", scan_result, Scan)
    zoom = check_range("zoom", zoom, lo=1, hi=1e15)
    mask = boundary(scan_result.measure)
    rows, cols = np.nonzero(mask)
    if not rows.size:
        return None
    log_x, log_y = np.log10(scan_result.x), np.log10(scan_result.y)
    centres = np.column_stack((0.5 * (log_x[cols] + log_x[cols + 1]),
                               0.5 * (log_y[rows] + log_y[rows + 1])))
    spans = np.array([scan_result.x_range[1] - scan_result.x_range[0],
                      scan_result.y_range[1] - scan_result.y_range[0]])
    if near is not None:
        if isinstance(near, (str, bytes)) or np.ndim(near) != 1 or len(near) != 2:
            raise TypeError(f"near must be a pair (log10 x, log10 y), got {near!r}")
        point = np.array([check_range("near[0]", near[0]), check_range("near[1]", near[1])])
        best = np.argmin((((centres - point) / spans) ** 2).sum(axis=1))
        return float(centres[best, 0]), float(centres[best, 1])
    in_view = _boundary_in_view(mask, max(1, int(mask.shape[0] / zoom)),
                                max(1, int(mask.shape[1] / zoom)))[rows, cols]
    middle = np.array([np.mean(scan_result.x_range), np.mean(scan_result.y_range)])
    offcentre = (((centres - middle) / spans) ** 2).sum(axis=1)
    best = np.lexsort((offcentre, -in_view))[0]
    return float(centres[best, 0]), float(centres[best, 1])


def _boundary_in_view(mask, height, width):
    """Boundary pixels within the height x width box centred on each pixel (summed tables)."""
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    table[1:, 1:] = mask.cumsum(axis=0).cumsum(axis=1)
    rows, cols = np.indices(mask.shape)
    top = np.clip(rows - height // 2, 0, mask.shape[0])
    bottom = np.clip(top + height, 0, mask.shape[0])
    left = np.clip(cols - width // 2, 0, mask.shape[1])
    right = np.clip(left + width, 0, mask.shape[1])
    return table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]


def rank_stretch(measure, reference=None, gap: float = 0.25) -> np.ndarray:
    """The paper's colour stretch: rank-equalise each sign onto its own half of [-1, 1].

    Negative values (converged) map by rank onto [-1, -gap], non-negative ones (diverged)
    onto [gap, 1], so the structure on both sides of the boundary is visible whatever the
    dynamic range. Pair it with a diverging colour map (blue = -1, red = +1).

    Parameters
    ----------
    measure : array_like of real numbers (any shape, up to 2**28 values)
        Values to map; NaN (not computed) stays NaN.
    reference : array_like, optional
        Values whose ranks define the mapping (default: ``measure`` itself); pass the previous
        frame to keep colours steady during a zoom. Its NaN are ignored; it needs at least
        one other value.
    gap : float in [0, 1)
        Half-width of the gap around 0 that separates the two signs.

    Returns
    -------
    ndarray, same shape as ``measure``, values in [-1, 1] (NaN where ``measure`` is NaN)

    Examples
    --------
    >>> rank_stretch([-5.0, -1.0, 2.0, 7.0]).tolist()
    [-1.0, -0.25, 0.25, 1.0]
    """
    measure = check_array("measure", measure, finite=False, max_abs=None,
                          max_size=MAX_MASK_PIXELS)
    ranked = "measure" if reference is None else "reference"
    reference = measure if reference is None else check_array(
        "reference", reference, finite=False, max_abs=None, max_size=MAX_MASK_PIXELS)
    gap = check_range("gap", gap, lo=0, hi=1, hi_open=True)
    ranks = np.sort(reference[~np.isnan(reference)].ravel())
    if not ranks.size:
        raise ValueError(f"{ranked} must hold at least one value that is not NaN")
    negatives = int(np.sum(ranks < 0))
    targets = np.concatenate((np.linspace(-1.0, -gap, negatives),
                              np.linspace(gap, 1.0, ranks.size - negatives)))
    stretched = np.interp(measure, ranks, targets)
    stretched[np.isnan(measure)] = np.nan
    return stretched
