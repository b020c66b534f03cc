"""The configurations of Sohl-Dickstein (2024) and its table of box-counting dimensions.

The paper ("The boundary of neural network trainability is fractal", arXiv 2402.06184)
trains a one-hidden-layer network in six configurations and finds the boundary between
trainable and divergent hyperparameters fractal in all of them, with box-counting dimensions
between about 1.17 and 1.98. Its public notebook measures a dimension as follows: zoom into
a point of the boundary, then take a sequence of nested windows around that point, each half
as wide as the one before; in every image mark the boundary (2x2 blocks where the sign of
the measure changes) and box-count it (porespy); the dimension is the median of the local
slopes of all images. :func:`zoom_dimension` does that; :func:`paper_table` does it for
every configuration.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from explorer._validation import check_bool, check_callable, check_choice, check_range
from explorer.fractal.analysis import box_counts, boundary, boundary_target
from explorer.fractal.configurations import CONFIGURATIONS, PAPER_CONFIGURATIONS
from explorer.fractal.problem import Problem
from explorer.fractal.scan import MAX_STEPS, Scan, scan
from explorer.fractal.window import MAX_RESOLUTION, Window, check_window, zoom_window

#: The notebook's starting window, log10 of both hyperparameters.
HOME = Window((-3.0, 6.0), (-3.0, 6.0))
#: The range of dimensions the paper reports over its configurations.
PAPER_RANGE = (1.17, 1.98)
MAX_DEPTH = 1e12  # float64 pixels of a 1e-12 wide window stay distinct up to 8192 per side
MIN_RESOLUTION = 21  # the boundary of an image is one pixel narrower; box_counts needs 20
REFINE_ZOOM = 8.0  # magnification per step while looking for the zoom target


def steps_for_zoom(zoom: float, base_steps: int = 100) -> int:
    """Training steps for a window ``zoom`` times narrower than the starting one.

    Deep zooms need more steps: near the boundary training neither converges nor diverges
    quickly, and after too few steps the sign of the measure follows the oscillations of
    undecided pixels, which looks like salt-and-pepper noise rather than structure. The finer
    the window, the larger its share of such pixels. This adds half of ``base_steps`` per
    decade of zoom (x512 at 100 base steps: 235 steps). More steps remove only that part of
    the noise: where the boundary is finer than a pixel, decided pixels are speckled too
    (:func:`~explorer.fractal.isolated_fraction` tells; see the README).

    Parameters
    ----------
    zoom : float, in [1, 1e15]
    base_steps : int, in [21, 1e6]

    Examples
    --------
    >>> steps_for_zoom(1), steps_for_zoom(512), steps_for_zoom(1e6, 500)
    (100, 235, 2000)
    """
    zoom = check_range("zoom", zoom, lo=1, hi=1e15)
    base_steps = check_range("base_steps", base_steps, lo=21, hi=MAX_STEPS, integer=True)
    return min(MAX_STEPS, int(round(base_steps * (1 + 0.5 * math.log10(zoom)))))


@dataclass(frozen=True, eq=False)
class ZoomDimension:
    """Result of :func:`zoom_dimension`.

    Attributes
    ----------
    dimension : float
        Median of the local box-counting slopes of all images (the paper's estimate).
    dimension_min, dimension_max : float
        Smallest and largest median slope of a single image: the spread along the zoom.
    center : (float, float)
        log10 (x, y) the images are centred on.
    windows : tuple of Window
        The images' windows, widest first, each half as wide as the one before.
    slopes : ndarray, shape (images, bins)
        Local slopes per image (NaN where a box count was zero).
    first, last : ndarray, shape (resolution, resolution)
        The measure of the widest and of the narrowest image.
    seconds : float
    """

    dimension: float
    dimension_min: float
    dimension_max: float
    center: tuple
    windows: tuple
    slopes: np.ndarray
    first: np.ndarray
    last: np.ndarray
    seconds: float


def zoom_dimension(problem: Problem, center, zoom_depth: float, *, start=HOME,
                   resolution: int = 128, steps: int = 100, scan_function: Callable = scan,
                   callback: Callable | None = None, **scan_options) -> ZoomDimension:
    """Box-counting dimension of the boundary along a zoom into ``center``, as the paper does.

    Images of ``resolution`` pixels per side cover windows centred on ``center``: the first
    as wide as ``start``, each next one half as wide, the last ``zoom_depth`` times narrower
    than the first (1 + log2(zoom_depth) images). See :func:`box_counts`.

    Parameters
    ----------
    problem : Problem
    center : (float, float)
        log10 (x, y), finite; best a boundary point (:func:`find_zoom_target`).
    zoom_depth : float, in [2, 1e12]
    start : Window
        Width (and height) of the first image, in log10 units.
    resolution : int, in [21, 8192]
        (the boundary of a 21-pixel image is 20 blocks wide, the least :func:`box_counts` takes)
    steps : int, in [21, 1e6]
    scan_function : callable
        :func:`~explorer.fractal.scan` or :func:`explorer.distributed.scan` (with a client).
    callback : callable, optional
        Passed to every scan: ``callback(partial)``; a truthy return stops it (then the
        dimension covers the images finished so far, at least one).
    **scan_options
        More arguments for the scans (phase_space, offset_mode, minibatch, ...).

    Returns
    -------
    ZoomDimension
    """
    begun = time.perf_counter()
    start = check_window(start, "start")
    zoom_depth = check_range("zoom_depth", zoom_depth, lo=2, hi=MAX_DEPTH)
    resolution = check_range("resolution", resolution, lo=MIN_RESOLUTION, hi=MAX_RESOLUTION,
                             integer=True)
    check_callable("scan_function", scan_function, allow_none=False)
    count = 1 + int(math.floor(math.log2(zoom_depth) + 1e-9))
    first_window = zoom_window(start, center, 1.0, (resolution, resolution))
    center = first_window_center(first_window)
    windows, slopes, medians, measures = [], [], [], []
    for index in range(count):
        window = zoom_window(first_window, center, 2.0**index, (resolution, resolution))
        result = _scanned(scan_function, problem, window, resolution, steps, callback=callback,
                          **scan_options)
        if result.stopped_early:
            break
        counted = box_counts(boundary(result.measure))
        windows.append(window)
        slopes.append(counted.slopes)
        medians.append(counted.dimension)
        measures.append(result.measure)
    if not windows:
        raise RuntimeError("stopped before the first image of the zoom was finished")
    slopes = np.array(slopes)
    finite = np.isfinite(slopes)
    dimension = float(np.median(slopes[finite])) if finite.any() else 0.0
    return ZoomDimension(dimension, float(min(medians)), float(max(medians)), center,
                         tuple(windows), slopes, measures[0], measures[-1],
                         time.perf_counter() - begun)


def first_window_center(window: Window) -> tuple[float, float]:
    """log10 (x, y) of a window's centre."""
    return (0.5 * (window.x_range[0] + window.x_range[1]),
            0.5 * (window.y_range[0] + window.y_range[1]))


def decisive(result: Scan) -> Scan:
    """``result`` with its slowly diverging pixels set to NaN (not computed).

    A pixel whose loss grew only a little (the sum of 1/v is more than half the steps: the
    losses stayed on average within about twice the first one) has not clearly diverged: more
    steps usually turn it into a converged one (a catapult: the loss rises, then falls). Such
    pixels make bands whose boundary moves, and fades, as the steps grow; boundaries between
    converged and clearly diverged pixels stay where they are.
    """
    measure = np.where(result.measure > 0.5 * result.steps, np.nan, result.measure)
    return Scan.from_measure(result.x, result.y, measure, steps=result.steps,
                             phase_space=result.phase_space, x_range=result.x_range,
                             y_range=result.y_range)


def find_zoom_target(problem: Problem, zoom_depth: float, *, start=HOME, resolution: int = 128,
                     steps: int = 100, scan_function: Callable = scan, **scan_options):
    """A boundary point that stays on the boundary ``zoom_depth`` times closer, log10 (x, y).

    Zooms in steps of 8 (REFINE_ZOOM): each time onto the point of the boundary between
    converged and clearly diverged pixels (:func:`decisive`) that keeps the most of it in
    view at the next magnification (:func:`boundary_target`). Returns the point of the last
    window, or None when the starting window shows no such boundary.

    Parameters
    ----------
    problem, start, resolution, steps, scan_function, **scan_options
        As in :func:`zoom_dimension`.
    zoom_depth : float, in [1, 1e12]
    """
    zoom_depth = check_range("zoom_depth", zoom_depth, lo=1, hi=MAX_DEPTH)
    window = check_window(start, "start")
    check_callable("scan_function", scan_function, allow_none=False)
    result = _scanned(scan_function, problem, window, resolution, steps, **scan_options)
    target = boundary_target(decisive(result), zoom=min(REFINE_ZOOM, zoom_depth))
    zoomed = 1.0
    while target is not None and zoomed < zoom_depth:
        factor = min(REFINE_ZOOM, zoom_depth / zoomed)
        window = zoom_window(window, target, factor, (resolution, resolution))
        zoomed *= factor
        result = _scanned(scan_function, problem, window, resolution, steps, **scan_options)
        next_zoom = min(REFINE_ZOOM, max(1.0, zoom_depth / zoomed))
        target = boundary_target(decisive(result), zoom=next_zoom) or target
    return target


def _scanned(scan_function, problem, window, resolution, steps, **options) -> Scan:
    """``scan_function``'s scan of ``window``; a TypeError names it if it returns no Scan."""
    result = scan_function(problem, *window, resolution, steps, **options)
    if not isinstance(result, Scan):
        raise TypeError(f"scan_function must return a Scan (as explorer.fractal.scan does), "
                        f"got {type(result).__name__}")
    return result


@dataclass(frozen=True, eq=False)
class PaperRow:
    """One configuration of :func:`paper_table`.

    Attributes
    ----------
    configuration : str
        Name in :data:`CONFIGURATIONS`.
    label : str
    width : int
        Hidden units.
    zoom_depth : float
        Magnification of the narrowest image relative to the widest.
    resolution : int
        Pixels per side of every image.
    steps : int
        Training steps per pixel.
    dimension, dimension_min, dimension_max : float
        Median slope over the zoom, and the range of the per-image medians.
    center : (float, float)
        log10 (x, y) of the zoom target.
    first, last : ndarray
        Measures of the widest and narrowest images (for a contact sheet).
    seconds : float
    """

    configuration: str
    label: str
    width: int
    zoom_depth: float
    resolution: int
    steps: int
    dimension: float
    dimension_min: float
    dimension_max: float
    center: tuple
    first: np.ndarray
    last: np.ndarray
    seconds: float

    def as_dict(self) -> dict:
        """The row's numbers, JSON-ready (without the images)."""
        return {"configuration": self.configuration, "label": self.label, "width": self.width,
                "zoom_depth": self.zoom_depth, "resolution": self.resolution,
                "steps": self.steps, "dimension": round(self.dimension, 4),
                "dimension_min": round(self.dimension_min, 4),
                "dimension_max": round(self.dimension_max, 4),
                "center": [round(c, 12) for c in self.center],
                "seconds": round(self.seconds, 1)}


@dataclass(frozen=True, eq=False)
class PaperTable:
    """Result of :func:`paper_table`: one :class:`PaperRow` per configuration.

    Attributes
    ----------
    rows : tuple of PaperRow
    quick : bool
    paper_range : (float, float)
        The paper's reported range of dimensions, about (1.17, 1.98).
    seconds : float
    """

    rows: tuple
    quick: bool
    paper_range: tuple = PAPER_RANGE
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"quick": self.quick, "paper_range": list(self.paper_range),
                "seconds": round(self.seconds, 1), "rows": [row.as_dict() for row in self.rows]}

    def markdown(self) -> str:
        """The table in Markdown, beside the paper's range."""
        lines = ["| configuration | width | zoom | pixels | steps | dimension (median) | "
                 "per-image range |", "|---|---|---|---|---|---|---|"]
        for row in self.rows:
            lines.append(f"| {row.label} | {row.width} | x{row.zoom_depth:.3g} | "
                         f"{row.resolution}² | {row.steps} | {row.dimension:.2f} | "
                         f"{row.dimension_min:.2f} to {row.dimension_max:.2f} |")
        low, high = self.paper_range
        lines.append(f"\nThe paper reports dimensions from about {low} to {high} over its six "
                     "configurations (width 16, 500 or 1000 steps, 4096² images, zooms over "
                     "more than ten decades).")
        return "\n".join(lines)


#: Settings of the two modes: (width, resolution, base steps, zoom depth).
QUICK_SETTINGS = (8, 64, 100, 2.0**8)
FULL_SETTINGS = (16, 512, 500, 2.0**20)


def paper_table(quick: bool = False, client=None, *, configurations=PAPER_CONFIGURATIONS,
                width: int | None = None, resolution: int | None = None,
                steps: int | None = None, zoom_depth: float | None = None, seed=0,
                progress: Callable | None = None) -> PaperTable:
    """The box-counting dimension of every configuration, measured as the paper does.

    For each configuration: find a boundary point that survives the zoom
    (:func:`find_zoom_target`), then box-count the boundary on nested windows around it
    (:func:`zoom_dimension`), with :func:`steps_for_zoom` steps (enough for the deepest one).

    Parameters
    ----------
    quick : bool
        Quick mode (width 8, 64² images, 100 base steps, zoom x256): a few minutes on two
        cores. Full mode (the default): width 16, 512² images, 500 base steps, zoom x2**20,
        hours of CPU: give it a Dask ``client``.
    client : dask.distributed.Client, optional
        Run every scan as tiles on this cluster (:func:`explorer.distributed.scan`); local
        threads otherwise.
    configurations : str or list (or tuple) of str
        Names in :data:`CONFIGURATIONS`; the paper's six by default.
    width, resolution, steps, zoom_depth : optional
        Override the mode's width (1 to 256), pixels per side (21 to 8192), base steps (21 to
        1e6) and zoom depth (2 to 1e12).
    seed : int >= 0 or numpy Generator
        Seed of every problem's data and weights.
    progress : callable, optional
        ``progress(row)`` after each configuration, with its :class:`PaperRow`.

    Returns
    -------
    PaperTable

    See Also
    --------
    explorer.fractal.scan, explorer.distributed.scan

    Examples
    --------
    >>> table = paper_table(quick=True, configurations=["identity"], resolution=24,
    ...                     zoom_depth=4)
    >>> [row.configuration for row in table.rows]
    ['identity']
    """
    begun = time.perf_counter()
    quick = check_bool("quick", quick)
    if isinstance(configurations, str):
        configurations = [configurations]
    if not isinstance(configurations, (list, tuple)):
        raise TypeError(f"configurations must be a name or a list of names of CONFIGURATIONS, "
                        f"got {type(configurations).__name__}")
    names = [check_choice("configurations", name, CONFIGURATIONS) for name in configurations]
    default_width, default_resolution, default_steps, default_depth = (
        QUICK_SETTINGS if quick else FULL_SETTINGS)
    width = check_range("width", default_width if width is None else width, lo=1, hi=256,
                        integer=True)
    resolution = check_range("resolution", default_resolution if resolution is None
                             else resolution, lo=MIN_RESOLUTION, hi=MAX_RESOLUTION,
                             integer=True)
    base_steps = check_range("steps", default_steps if steps is None else steps, lo=21,
                             hi=MAX_STEPS, integer=True)
    zoom_depth = check_range("zoom_depth", default_depth if zoom_depth is None else zoom_depth,
                             lo=2, hi=MAX_DEPTH)
    progress = check_callable("progress", progress)
    scan_function = _scanner(client)
    steps = steps_for_zoom(zoom_depth, base_steps)
    rows = []
    for name in names:
        configuration = CONFIGURATIONS[name]
        started = time.perf_counter()
        problem = configuration.problem(width, seed)
        options = configuration.scan_options()
        center = find_zoom_target(problem, zoom_depth, resolution=resolution, steps=steps,
                                  scan_function=scan_function, **options)
        if center is None:
            center = first_window_center(HOME)
        measured = zoom_dimension(problem, center, zoom_depth, resolution=resolution,
                                  steps=steps, scan_function=scan_function, **options)
        row = PaperRow(name, configuration.label, width, zoom_depth, resolution, steps,
                       measured.dimension, measured.dimension_min, measured.dimension_max,
                       measured.center, measured.first, measured.last,
                       time.perf_counter() - started)
        rows.append(row)
        if progress is not None:
            progress(row)
    return PaperTable(tuple(rows), quick, PAPER_RANGE, time.perf_counter() - begun)


def _scanner(client):
    if client is None:
        return scan
    from explorer import distributed

    def on_cluster(problem, x_range, y_range, resolution, steps, **options):
        options = {key: value for key, value in options.items() if value is not None}
        return distributed.scan(problem, x_range, y_range, resolution, steps, client=client,
                                **options)

    return on_cluster
