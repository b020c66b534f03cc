"""The same scans and sweeps on a Dask cluster, for when one machine is not enough.

:func:`scan` takes the arguments of :func:`explorer.fractal.scan` and returns the same
:class:`~explorer.fractal.Scan`, computed as independent tiles on a ``dask.distributed``
client: the user's (``client=``, e.g. ``Client("tcp://scheduler:8786")``) or a
``LocalCluster`` started and closed here. Every pixel depends only on its own
hyperparameters, so the tiles reproduce the local scan bit for bit. :func:`sweep` does the
same for grokking sweeps, one task per grid point.

Why the details
---------------
- Each task limits numba to ``threads_per_task`` threads, so that several tasks on one
  worker machine do not oversubscribe its cores.
- Local workers are separate processes started with ``spawn``: forking a process after
  OpenMP has run aborts it.
- Tasks are retried, and Dask recomputes the tasks of a worker that died; a render survives
  losing a worker. With ``cache_dir`` a render also survives losing the client: finished
  tiles are kept on disk, keyed by a hash of every setting, and a rerun computes only the
  missing ones.
- Every argument is checked before a cluster starts or a task is sent, so a bad one fails at
  once instead of after (or never, for a cluster of -1 workers) the first tile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from explorer._jit import set_num_threads
from explorer._validation import check_bool, check_callable, check_instance, check_range
from explorer.fractal import Problem, Scan, grid_axes, measure_pixels
from explorer.fractal.scan import _prepare, minibatch_indices
from explorer.fractal.window import check_window_range

__all__ = ["cluster", "core_hours", "scan", "sweep"]

TASK_RETRIES = 3
MAX_WORKERS = 1024
MAX_THREADS_PER_TASK = 1024
PROGRESS_SECONDS = 0.5  # least time between two progress lines
CHECKPOINT_SECONDS = 0.5  # most time between two stop checks, even while no task finishes
POLL_SECONDS = 0.05


class Cancelled(RuntimeError):  # noqa: N818 -- a public name since the first release
    """Raised by :func:`scan` and :func:`sweep` when ``should_stop()`` returned True.

    (A ``callback`` that returns True stops :func:`scan` too, but the scan then returns its
    finished part with ``stopped_early=True``, as :func:`explorer.fractal.scan` does.)

    Attributes
    ----------
    measure : ndarray, shape (ny, nx)
        The finished tiles' values; NaN where no tile arrived.
    """

    def __init__(self, measure: np.ndarray):
        super().__init__(f"cancelled with {np.isfinite(measure).mean():.0%} of the pixels computed")
        self.measure = measure


def _dask_client_type():
    try:
        from dask.distributed import Client
    except ImportError as error:  # the optional extra is missing
        raise ImportError("explorer.distributed needs dask.distributed: "
                          "pip install 'explorer[dask]'") from error
    return Client


def _check_client(client):
    return check_instance("client", client, _dask_client_type(), allow_none=True)


def _check_workers(n_workers, threads_per_task):
    if n_workers is not None:
        n_workers = check_range("n_workers", n_workers, lo=1, hi=MAX_WORKERS, integer=True)
    threads_per_task = check_range("threads_per_task", threads_per_task, lo=1,
                                   hi=MAX_THREADS_PER_TASK, integer=True)
    return n_workers, threads_per_task


def client_usable(client) -> bool:
    """Whether ``client`` can still run tasks (a ``Client`` that is not closed or closing).

    A view given a client checks this before each render and falls back to local threads
    when the cluster has gone away (for example after the notebook closed it).
    """
    return getattr(client, "status", None) == "running"


@contextlib.contextmanager
def cluster(address: str | None = None, n_workers: int | None = None):
    """A ``dask.distributed.Client``: connected to ``address``, or to a new local cluster.

    Parameters
    ----------
    address : str, optional
        A scheduler address such as ``"tcp://scheduler-host:8786"``. Without it a
        ``LocalCluster`` is started here.
    n_workers : int in [1, 1024], optional
        Single-threaded worker processes of the local cluster (started with ``spawn``;
        threads instead inside a daemonic process, which may not start processes); default
        one per core. Ignored with ``address``.

    Yields
    ------
    dask.distributed.Client
        Closed (with the local cluster) when the ``with`` block ends.

    Examples
    --------
    Starting processes is too slow for the doctests, so this is shown, not run (the tests in
    ``tests/test_distributed.py`` start local clusters)::

        with cluster(n_workers=2) as client:
            result = scan(problem, resolution=1024, client=client)
    """
    check_instance("address", address, str, allow_none=True)
    n_workers, _ = _check_workers(n_workers, 1)
    Client = _dask_client_type()
    import dask
    from dask.distributed import LocalCluster

    if address is not None:
        with Client(address) as client:
            yield client
        return
    n_workers = n_workers or os.cpu_count() or 1
    # a daemonic process (a multiprocessing pool's worker) may not start processes: use threads
    processes = not multiprocessing.current_process().daemon
    with (dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}),
          LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                       dashboard_address=None) as local,
          Client(local) as client):
        yield client


@contextlib.contextmanager
def _client_or_local(client, n_workers):
    if client is not None:
        yield client
    else:
        with cluster(None, n_workers) as local_client:
            yield local_client


def tiles(shape, tile: int):
    """The (row slice, column slice) of every tile of ``shape``, in row-major order.

    Examples
    --------
    >>> [(rows.start, cols.start) for rows, cols in tiles((3, 5), 4)]
    [(0, 0), (0, 4)]
    """
    ny, nx = (check_range("shape", side, lo=0, hi=2**31, integer=True) for side in shape)
    tile = check_range("tile", tile, lo=1, hi=2**31, integer=True)
    return [(slice(top, min(top + tile, ny)), slice(left, min(left + tile, nx)))
            for top in range(0, ny, tile) for left in range(0, nx, tile)]


def stop_flag() -> tuple[Callable[[], None], Callable[[], bool]]:
    """A (stop, should_stop) pair for :func:`scan`'s cancellation, usable from another thread."""
    event = threading.Event()
    return event.set, event.is_set


# -- finished tiles on disk -----------------------------------------------------------------
class _TileStore:
    """Finished tiles of one scan in ``cache_dir/<hash of every setting>/``; None: no store."""

    def __init__(self, cache_dir, problem, x, y, settings):
        if cache_dir is None:
            self.directory = None
            return
        digest = hashlib.sha256()
        for field in dataclasses.fields(problem):
            value = getattr(problem, field.name)
            array = np.asarray(value)
            digest.update(f"{field.name}{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes() if array.dtype != object else repr(value).encode())
        digest.update(np.ascontiguousarray(x).tobytes() + b"|" + np.ascontiguousarray(y).tobytes())
        from explorer import __version__

        digest.update(repr(sorted(settings.items())).encode() + __version__.encode())
        self.directory = Path(cache_dir) / f"scan-{digest.hexdigest()[:24]}"
        self.directory.mkdir(exist_ok=True)

    def _path(self, rows, cols) -> Path:
        return self.directory / f"tile-{rows.start}-{rows.stop}-{cols.start}-{cols.stop}.npy"

    def load(self, rows, cols):
        """The stored tile, or None (missing, or unreadable after an interrupted write)."""
        if self.directory is None:
            return None
        path = self._path(rows, cols)
        try:
            values = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        expected = (rows.stop - rows.start, cols.stop - cols.start)
        return values if values.shape == expected and values.dtype == np.float64 else None

    def save(self, rows, cols, values) -> None:
        if self.directory is None:
            return
        # write then rename: an interruption never leaves a half-written tile under its name
        handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".partial")
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, values, allow_pickle=False)
        os.replace(temporary, self._path(rows, cols))


def _check_cache_dir(cache_dir):
    if cache_dir is None:
        return None
    check_instance("cache_dir", cache_dir, (str, os.PathLike))
    if str(cache_dir) == "" or not Path(cache_dir).is_dir():
        raise ValueError(f"cache_dir must be an existing directory, got {cache_dir!r}")
    return Path(cache_dir)


class _ProgressLine:
    """A one-line text progress report with the time left, rewritten in place on stderr."""

    def __init__(self, total_work: int, enabled: bool, label: str = "tiles",
                 work: str | None = "pixels"):
        self.total, self.enabled, self.label, self.work = total_work, enabled, label, work
        self.started = time.perf_counter()
        self.computed = 0  # work done in this call (tiles loaded from disk are free)
        self._shown = -np.inf

    def update(self, done_work: int, parts_done: int, parts_total: int, force=False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self._shown < PROGRESS_SECONDS):
            return
        self._shown = now
        elapsed = now - self.started
        line = f"\r{self.label} {parts_done}/{parts_total}"
        if self.work:
            line += f" ({100 * done_work / max(self.total, 1):.0f}% of {self.work})"
        line += f", {_duration(elapsed)}"
        if 0 < self.computed and done_work < self.total:
            left = elapsed * (self.total - done_work) / self.computed
            line += f", about {_duration(left)} left"
        print(line, end="\n" if done_work >= self.total else "", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "<1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _as_they_finish(client, futures, checkpoint) -> bool:
    """Hand each finished future to ``checkpoint(future)``, and ``checkpoint(None)`` at least
    every :data:`CHECKPOINT_SECONDS` while none finishes (so Stop works even while one task
    runs for minutes). A truthy return cancels the remaining tasks and returns True; an
    exception from ``checkpoint`` (a :class:`Cancelled`) propagates.

    Raises RuntimeError when the client closes while tasks are pending.
    """
    from dask.distributed import as_completed

    arrivals = as_completed(futures)
    last = time.perf_counter()
    while not arrivals.is_empty():
        ready = arrivals.next_batch(block=False) if arrivals.has_ready() else []
        now = time.perf_counter()
        if ready or now - last >= CHECKPOINT_SECONDS:
            last = now
            if not ready and not client_usable(client):
                raise RuntimeError(f"the Dask client closed with {arrivals.count()} task(s) pending")
            for future in ready or [None]:
                if checkpoint(future):
                    client.cancel(list(futures))
                    return True
        else:
            time.sleep(POLL_SECONDS)
    return False


# -- scans ----------------------------------------------------------------------------------
def _measure_tile(problem, x, y, options, threads_per_task):
    previous = set_num_threads(threads_per_task)
    try:
        return measure_pixels(problem, x, y, **options)
    finally:
        set_num_threads(previous)


def scan(problem: Problem, x_range=(-3.0, 6.0), y_range=(-3.0, 6.0), resolution=64,
         steps: int = 100, phase_space: str = "lr_vs_lr", offset_mode: str = "every_step", *,
         minibatch: int | None = None, minibatch_seed=0, callback: Callable | None = None,
         client=None, tile: int = 128, n_workers: int | None = None, threads_per_task: int = 1,
         on_tile: Callable | None = None, should_stop: Callable[[], bool] | None = None,
         cache_dir=None, progress: bool = False) -> Scan:
    """:func:`explorer.fractal.scan` computed as tiles on a Dask cluster.

    Parameters
    ----------
    problem, x_range, y_range, resolution, steps, phase_space, offset_mode, minibatch, minibatch_seed
        As in :func:`explorer.fractal.scan` (every one of its arguments, the paper's
        configurations included); the result is bit-identical to it. A Generator given as
        ``minibatch_seed`` is sent to every tile in its current state (every tile draws the
        same batches) and is not advanced here.
    client : dask.distributed.Client, optional
        Where to run. By default a ``LocalCluster`` of ``n_workers`` single-threaded
        processes is started for this call and closed afterwards.
    tile : int, in [8, 8192]
        Edge of the square tiles (pixels); one task per tile.
    n_workers : int in [1, 1024], optional
        Workers of the local cluster (default: one per core); ignored with ``client``.
    threads_per_task : int in [1, 1024]
        numba threads inside each task (1 suits one single-threaded worker per core).
    callback : callable, optional
        ``callback(partial) -> bool`` as each tile arrives and at least every 0.5 s (the
        library's one progress protocol): ``partial`` is a :class:`~explorer.fractal.Scan` of
        the pixels so far (NaN where no tile arrived yet); a truthy return cancels the
        remaining tasks and returns the finished part with ``stopped_early=True``.
    on_tile : callable, optional
        ``on_tile(rows, cols, measure)`` after each tile arrives (slices into the full grid;
        ``measure`` is the full array so far, NaN where nothing arrived).
    should_stop : callable, optional
        ``should_stop() -> bool``, polled with ``callback``; True cancels the remaining tasks
        and raises :class:`Cancelled` with the finished part (the older protocol).
    cache_dir : str or path-like, optional
        An existing directory where finished tiles are kept, under a subdirectory named by a
        hash of every setting (problem, window, resolution, steps, options, tile). A rerun
        with the same settings loads them and computes only the missing tiles, so an
        interrupted render resumes.
    progress : bool
        Print one progress line (tiles done, elapsed time, the time left) to stderr.

    Returns
    -------
    Scan

    Raises
    ------
    Cancelled
        When ``should_stop()`` returned True; ``measure`` holds the finished tiles.

    See Also
    --------
    explorer.fractal.scan : the same scan with local threads (the reference for bit identity).
    cluster : a client for a scheduler address or a new local cluster.

    Examples
    --------
    Shown, not run by the doctests (a local cluster starts processes)::

        from explorer.fractal import make_problem
        with cluster(n_workers=1) as client:
            result = scan(make_problem(width=4), resolution=64, steps=50, client=client, tile=32)
    """
    _prepare(problem, steps, phase_space, offset_mode)
    minibatch_indices(problem.X.shape[0], steps, minibatch, minibatch_seed)  # checks both
    options = {"steps": steps, "phase_space": phase_space, "offset_mode": offset_mode,
               "minibatch": minibatch, "minibatch_seed": minibatch_seed}
    x, y = grid_axes(x_range, y_range, resolution)
    tile = check_range("tile", tile, lo=8, hi=8192, integer=True)
    n_workers, threads_per_task = _check_workers(n_workers, threads_per_task)
    callback = check_callable("callback", callback)
    on_tile = check_callable("on_tile", on_tile)
    should_stop = check_callable("should_stop", should_stop)
    progress = check_bool("progress", progress)
    cache_dir = _check_cache_dir(cache_dir)
    client = _check_client(client)

    measure = np.full((y.size, x.size), np.nan)
    described = {"steps": steps, "phase_space": phase_space, "minibatch": minibatch,
                 "minibatch_seed": minibatch_seed if minibatch is not None and not isinstance(
                     minibatch_seed, np.random.Generator) else None,
                 "x_range": check_window_range("x_range", x_range, x.size),
                 "y_range": check_window_range("y_range", y_range, y.size)}
    seed_state = (minibatch_seed.bit_generator.state  # a Generator's repr holds its address
                  if isinstance(minibatch_seed, np.random.Generator) else minibatch_seed)
    store = _TileStore(cache_dir, problem, x, y, {**options, "minibatch_seed": seed_state,
                                                  "tile": tile})
    start = time.perf_counter()
    report = _ProgressLine(measure.size, progress)
    all_tiles = tiles(measure.shape, tile)
    missing = []
    for rows, cols in all_tiles:
        stored = store.load(rows, cols)
        if stored is None:
            missing.append((rows, cols))
        else:
            measure[rows, cols] = stored

    def checkpoint(future) -> bool:
        if future is not None:
            rows, cols = futures[future]
            measure[rows, cols] = values = future.result()
            store.save(rows, cols, values)
            report.computed += values.size
            counts["done"] += 1
            if on_tile is not None:
                on_tile(rows, cols, measure)
        report.update(int(np.isfinite(measure).sum()), counts["done"], len(all_tiles),
                      force=counts["done"] == len(all_tiles))
        if should_stop is not None and should_stop():
            raise Cancelled(measure)
        if callback is not None:
            partial = Scan.from_measure(x, y, measure.copy(), seconds=time.perf_counter() - start,
                                        stopped_early=False, **described)
            counts["stopped"] = bool(callback(partial))
        return counts["stopped"]

    counts = {"done": len(all_tiles) - len(missing), "stopped": False}
    futures = {}
    if missing:
        with _client_or_local(client, n_workers) as active:
            shared_problem = active.scatter(problem, broadcast=True, hash=False)  # fresh key per call
            run_token = uuid.uuid4().hex[:12]  # task keys unique to this call
            for rows, cols in missing:
                future = active.submit(_measure_tile, shared_problem, x[cols], y[rows], options,
                                       threads_per_task, retries=TASK_RETRIES,
                                       key=f"explorer-tile-{run_token}-{rows.start}-{cols.start}")
                futures[future] = (rows, cols)
            try:
                _as_they_finish(active, futures, checkpoint)
            except Cancelled:
                active.cancel(list(futures))
                raise
    else:
        report.update(measure.size, counts["done"], len(all_tiles), force=True)
    return Scan.from_measure(x, y, measure, seconds=time.perf_counter() - start,
                             stopped_early=counts["stopped"] and bool(np.isnan(measure).any()),
                             **described)


def core_hours(problem: Problem, x_range=(-3.0, 6.0), y_range=(-3.0, 6.0), resolution=64,
               steps: int = 100, phase_space: str = "lr_vs_lr", offset_mode: str = "every_step",
               *, minibatch: int | None = None, minibatch_seed=0, sample: int = 16) -> float:
    """Estimated CPU time of a whole :func:`scan`, in core-hours, from a sample of its pixels.

    Every ``resolution / sample``-th pixel of each axis (a ``sample`` x ``sample`` grid spread
    evenly over the window, so it holds converging and diverging pixels in the image's
    proportion) is computed on one thread; its CPU time (not wall time, which the load of
    the machine inflates) per pixel times the number of pixels is the estimate.

    Parameters
    ----------
    problem, x_range, y_range, resolution, steps, phase_space, offset_mode, minibatch, minibatch_seed
        As in :func:`scan`.
    sample : int in [2, 256]
        Pixels per side of the sample (capped at the resolution).

    Returns
    -------
    float
        Core-hours (divide by the number of cores of a cluster for its wall time).

    See Also
    --------
    explorer.fractal.scan_cost : useful flops, and an upper bound of the time (every pixel
        training every step) from a measured rate, without training any pixel of the scan.

    Examples
    --------
    >>> from explorer.fractal import make_problem
    >>> core_hours(make_problem(width=2), resolution=1024, steps=21, sample=4) > 0
    True
    """
    _prepare(problem, steps, phase_space, offset_mode)
    x, y = grid_axes(x_range, y_range, resolution)
    sample = check_range("sample", sample, lo=2, hi=256, integer=True)
    picks = [np.linspace(0, axis.size - 1, min(sample, axis.size)).round().astype(int)
             for axis in (x, y)]
    minibatch_indices(problem.X.shape[0], steps, minibatch, minibatch_seed)  # checks both
    options = {"steps": steps, "phase_space": phase_space, "offset_mode": offset_mode,
               "minibatch": minibatch, "minibatch_seed": minibatch_seed}
    previous = set_num_threads(1)
    try:
        measure_pixels(problem, x[:1], y[:1], **{**options, "steps": 21})  # load the kernel first
        cpu = time.process_time()
        measure_pixels(problem, x[picks[0]], y[picks[1]], **options)
        cpu = time.process_time() - cpu
    finally:
        set_num_threads(previous)
    return cpu / (picks[0].size * picks[1].size) * x.size * y.size / 3600


# -- sweeps ---------------------------------------------------------------------------------
def _run_grid_point(config, threshold, threads_per_task):
    from explorer.grokking import run_grid_point

    previous = set_num_threads(threads_per_task)
    try:
        return run_grid_point(config, threshold)
    finally:
        set_num_threads(previous)


def sweep(param_grid: dict, threshold: float = 0.95, *, client=None, n_workers: int | None = None,
          threads_per_task: int = 1, on_point: Callable | None = None,
          should_stop: Callable[[], bool] | None = None, progress: bool = False, **fixed):
    """:func:`explorer.grokking.sweep` with one Dask task per grid point.

    Parameters
    ----------
    param_grid, threshold, **fixed
        As in :func:`explorer.grokking.sweep`; the result is identical to it.
    client, n_workers, threads_per_task
        As in :func:`scan`.
    on_point : callable, optional
        ``on_point(index, outcome)`` as each grid point arrives (``index`` into the flattened,
        row-major grid; ``outcome`` a :class:`~explorer.grokking.GridPointResult`).
    should_stop : callable, optional
        Polled as points arrive; True cancels the rest and raises :class:`Cancelled` whose
        ``measure`` holds steps-to-generalise (NaN where not finished) in the grid's shape.
    progress : bool
        Print one progress line (points done, elapsed time, the time left) to stderr.

    Returns
    -------
    explorer.grokking.SweepResult

    See Also
    --------
    explorer.grokking.sweep : the same sweep, serial and local.
    """
    from explorer.grokking.sweep import grid_configs, sweep_result

    threshold = check_range("threshold", threshold, lo=0, hi=1, lo_open=True)
    n_workers, threads_per_task = _check_workers(n_workers, threads_per_task)
    on_point = check_callable("on_point", on_point)
    should_stop = check_callable("should_stop", should_stop)
    progress = check_bool("progress", progress)
    client = _check_client(client)
    configs = grid_configs(param_grid, **fixed)
    shape = tuple(len(values) for values in param_grid.values())
    outcomes = [None] * len(configs)
    report = _ProgressLine(len(configs), progress, label="grid points", work=None)
    counts = {"done": 0}

    def checkpoint(future) -> bool:
        if future is not None:
            index = futures[future]
            outcomes[index] = future.result()
            report.computed += 1
            counts["done"] += 1
            report.update(counts["done"], counts["done"], len(configs),
                          force=counts["done"] == len(configs))
            if on_point is not None:
                on_point(index, outcomes[index])
        if should_stop is not None and should_stop():
            raise Cancelled(np.array([np.nan if o is None else o.steps_to_generalise
                                      for o in outcomes]).reshape(shape))
        return False

    with _client_or_local(client, n_workers) as active:
        futures = {active.submit(_run_grid_point, config, threshold, threads_per_task,
                                 retries=TASK_RETRIES, pure=False): index
                   for index, config in enumerate(configs)}
        try:
            _as_they_finish(active, futures, checkpoint)
        except Cancelled:
            active.cancel(list(futures))
            raise
    return sweep_result(param_grid, outcomes, threshold, fixed)
