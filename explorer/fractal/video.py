"""Zoom videos of the trainability boundary: frames as Dask tiles, resumable, MP4 or GIF.

:func:`render_zoom` renders a geometric zoom into the boundary, one frame after another,
each frame as tiles on a Dask cluster (:func:`explorer.distributed.scan`). The zoom follows
the boundary: the first centre is the point of the first frame that keeps the most boundary
in view (:func:`~explorer.fractal.boundary_target`), and each later frame is centred on the
boundary pixel of the previous frame nearest the previous centre, so the picture never
drifts into a uniform region. With ``cache_dir`` every
finished tile is kept on disk under a hash of all settings; an interrupted video resumes
where it stopped, and frames already rendered cost nothing. :func:`write_video` writes the
frames as an MP4 through matplotlib's ffmpeg writer when an ffmpeg binary is found, else as
a GIF.

Deep zooms need more training steps. Near the boundary training neither converges nor diverges
quickly; after too few steps many pixels there are still undecided, and the sign of the measure
(whether the last 20 losses average below the first) follows their oscillations, which looks
like noise rather than structure. The finer the window, the larger its share of such pixels,
so choose ``steps`` for the deepest frame (lesson 01 shows the effect).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer._validation import (
    check_callable,
    check_instance,
    check_range,
)
from explorer.fractal.analysis import boundary_target, rank_stretch
from explorer.fractal.paper import HOME, steps_for_zoom
from explorer.fractal.problem import Problem
from explorer.fractal.scan import _prepare
from explorer.fractal.window import Window, check_window, grid_axes, zoom_window

__all__ = ["ZoomFrames", "ffmpeg_path", "render_zoom", "write_video"]

MAX_FRAMES = 10_000
MAX_ZOOM = 1e12  # float64 pixels stay distinct to roughly 13 decades below unit width


@dataclass(frozen=True, eq=False)
class ZoomFrames:
    """The frames of :func:`render_zoom`.

    Attributes
    ----------
    measures : ndarray, float64, shape (frames, ny, nx)
        Each frame's convergence measure (as :attr:`explorer.fractal.Scan.measure`).
    windows : tuple of Window
        Each frame's window in log10 units.
    centres : ndarray, shape (frames, 2)
        The log10 (x, y) centre of each frame, on the boundary of the frame before it.
    steps : int
        Training steps per pixel.
    phase_space : str
        As in :func:`explorer.fractal.scan`.
    seconds : float
        Wall time of the rendering (frames loaded from disk cost almost nothing).
    stopped_early : bool
        True when ``callback`` stopped the rendering; the frames hold those finished before.
    """

    measures: np.ndarray
    windows: tuple
    centres: np.ndarray
    steps: int
    phase_space: str
    seconds: float
    stopped_early: bool = False

    @property
    def zooms(self) -> np.ndarray:
        """Magnification of each frame relative to the first, shape (frames,)."""
        first = self.windows[0].x_range[1] - self.windows[0].x_range[0]
        return np.array([first / (w.x_range[1] - w.x_range[0]) for w in self.windows])


def render_zoom(problem: Problem, center=None, zoom: float = 1e4, frames: int = 48, *,
                start: Window = HOME, resolution: int = 256, steps: int | None = None,
                phase_space: str = "lr_vs_lr", offset_mode: str = "every_step",
                minibatch: int | None = None, minibatch_seed=0, client=None,
                n_workers: int | None = None, tile: int = 64, cache_dir=None,
                callback: Callable | None = None, progress: bool = False) -> ZoomFrames:
    """Render ``frames`` frames zooming ``zoom`` times into the boundary, as Dask tiles.

    Parameters
    ----------
    problem : Problem
    center : (float, float), optional
        log10 point to zoom into; each frame re-centres on the boundary pixel nearest the
        previous centre. Default: the boundary point of the first frame that keeps the most
        boundary in view at the next frame's magnification.
    zoom : float in [1, 1e12]
        Magnification of the last frame relative to the first (geometric in between).
    frames : int in [2, 10000]
    start : Window
        The first frame's window (log10 units); default the paper's (-3, 6) x (-3, 6).
    resolution : int in [16, 8192]
        Pixels per side of each frame.
    steps : int in [21, 1e6], optional
        Training steps per pixel, the same in every frame; by default
        :func:`~explorer.fractal.steps_for_zoom` of ``zoom`` (enough for the deepest frame;
        see the module docstring).
    phase_space, offset_mode, minibatch, minibatch_seed
        As in :func:`explorer.fractal.scan` (with :data:`~explorer.fractal.CONFIGURATIONS`,
        ``**configuration.scan_options()``).
    client : dask.distributed.Client, optional
        Where the tiles run; by default one ``LocalCluster`` of ``n_workers`` processes is
        started for the whole video and closed afterwards.
    n_workers : int in [1, 1024], optional
        Workers of that local cluster (default: one per core).
    tile : int in [8, 8192]
        Tile edge in pixels.
    cache_dir : str or path-like, optional
        An existing directory where finished tiles are kept (see
        :func:`explorer.distributed.scan`); rerunning with the same settings resumes.
    callback : callable, optional
        ``callback(partial) -> bool`` at least every ~0.5 s, with a :class:`ZoomFrames` of the
        frames finished so far; a truthy return stops and returns them with
        ``stopped_early=True``.
    progress : bool
        Print one progress line per frame (tiles, elapsed, time left) to stderr.

    Returns
    -------
    ZoomFrames

    Examples
    --------
    A Dask cluster starts here, so this example is shown, not run by the doctests (the tests
    in ``tests/test_distributed.py`` render and resume a small video)::

        from explorer.fractal import make_problem
        video = render_zoom(make_problem(width=8), zoom=100, frames=24,
                            resolution=128, steps=200, cache_dir=".")
        write_video(video, "zoom.mp4")   # PosixPath('zoom.gif') without ffmpeg
    """
    from explorer import distributed

    zoom = check_range("zoom", zoom, lo=1, hi=MAX_ZOOM)
    steps = steps_for_zoom(zoom) if steps is None else steps
    _prepare(problem, steps, phase_space, offset_mode)
    frames = check_range("frames", frames, lo=2, hi=MAX_FRAMES, integer=True)
    resolution = check_range("resolution", resolution, lo=16, hi=8192, integer=True)
    start = check_window(start, "start")
    grid_axes(*start, resolution)
    if center is not None:
        center = _check_point("center", center)
    callback = check_callable("callback", callback)
    per_frame = zoom ** (1.0 / (frames - 1))
    # refuse a zoom too deep for float64 before any frame is rendered
    zoom_window(start, center or _centre(start), zoom, (resolution, resolution))

    began = time.perf_counter()
    measures, windows, centres = [], [], []

    def partial(stopped=False) -> ZoomFrames:
        shape = (len(measures), resolution, resolution)
        return ZoomFrames(np.array(measures).reshape(shape), tuple(windows),
                          np.array(centres, float).reshape(-1, 2), steps, phase_space,
                          time.perf_counter() - began, stopped)

    done = partial()
    checkpoint = None if callback is None else (lambda _scan: bool(callback(done)))
    options = {"steps": steps, "phase_space": phase_space, "offset_mode": offset_mode,
               "minibatch": minibatch, "minibatch_seed": minibatch_seed, "tile": tile,
               "cache_dir": cache_dir, "callback": checkpoint, "progress": progress}
    window = start
    with distributed._client_or_local(distributed._check_client(client), n_workers) as active:
        for _ in range(frames):
            frame = distributed.scan(problem, *window, resolution, client=active, **options)
            if frame.stopped_early:
                return partial(stopped=True)
            if center is None:  # the point that keeps the most boundary in the next frame
                center = boundary_target(frame, zoom=per_frame) or _centre(window)
            centres.append(tuple(center))
            measures.append(frame.measure)
            windows.append(window)
            done = partial()
            if checkpoint is not None and checkpoint(frame):
                return partial(stopped=True)
            center = boundary_target(frame, near=center) or center
            window = zoom_window(window, center, per_frame, (resolution, resolution))
    return done


def _centre(window: Window) -> tuple[float, float]:
    """The middle of ``window`` (log10 units)."""
    return (0.5 * (window.x_range[0] + window.x_range[1]),
            0.5 * (window.y_range[0] + window.y_range[1]))


def _check_point(name, point) -> tuple[float, float]:
    if isinstance(point, (str, bytes)) or np.ndim(point) != 1 or len(point) != 2:
        raise ValueError(f"{name} must be a log10 point (x, y), got {point!r}")
    return check_range(f"{name}[0]", point[0]), check_range(f"{name}[1]", point[1])


def ffmpeg_path() -> str | None:
    """An ffmpeg binary: ``ffmpeg`` on the PATH, or the one of imageio-ffmpeg if it is installed."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # the package is there but its binary is not
        return None


def write_video(video: ZoomFrames, path, fps: int = 12, dpi: int = 100) -> Path:
    """Write the frames as an MP4 (when :func:`ffmpeg_path` finds ffmpeg) or else a GIF.

    Parameters
    ----------
    video : ZoomFrames
    path : str or path-like
        Output file; its suffix is replaced by ``.mp4`` or ``.gif``, whichever is written.
    fps : int in [1, 60]
    dpi : int in [20, 600]
        Resolution of the rendered frames (the figure is 5 x 5.4 inches).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from matplotlib import rc_context
    from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    check_instance("video", video, ZoomFrames)
    path = Path(check_instance("path", path, (str, Path)))
    fps = check_range("fps", fps, lo=1, hi=60, integer=True)
    dpi = check_range("dpi", dpi, lo=20, hi=600, integer=True)
    if len(video.measures) == 0:
        raise ValueError("video has no frames to write")
    ffmpeg = ffmpeg_path()
    if ffmpeg is not None:
        path = path.with_suffix(".mp4")
        # yuv420p (what players expect) needs even frame sides: 5 x 5.4 inches at an odd dpi
        # is not, so pad by at most one pixel rather than fail
        writer = FFMpegWriter(fps=fps, codec="libx264", extra_args=[
            "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
    else:
        path = path.with_suffix(".gif")
        writer = PillowWriter(fps=fps)
    colours = LinearSegmentedColormap.from_list(
        "converge_diverge", [(0.0, "#08306b"), (0.375, "#9ecae1"), (0.5, "#ffffff"),
                             (0.625, "#fcae91"), (1.0, "#67000d")])
    figure = Figure(figsize=(5, 5.4))
    FigureCanvasAgg(figure)  # a canvas of our own: no pyplot state, nothing shown inline
    axes = figure.add_axes((0, 0, 1, 0.93))
    axes.set_axis_off()
    image = axes.imshow(rank_stretch(video.measures[0]), origin="lower", cmap=colours,
                        vmin=-1, vmax=1, interpolation="nearest")
    title = figure.suptitle("", y=0.985, fontsize=11)

    def draw(index):
        image.set_data(rank_stretch(video.measures[index]))
        x, y = video.centres[index]
        title.set_text(f"zoom x{_engineering(video.zooms[index])} at "
                       f"({x:.6g}, {y:.6g}), {video.steps} steps")
        return image, title

    with rc_context({"animation.ffmpeg_path": ffmpeg or "ffmpeg"}):  # no global side effect
        FuncAnimation(figure, draw, frames=len(video.measures), blit=False).save(
            path, writer=writer, dpi=dpi)
    return path


def _engineering(value: float) -> str:
    return f"{value:.3g}" if value < 1e4 else f"1e{math.log10(value):.1f}"
