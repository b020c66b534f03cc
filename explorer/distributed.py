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
  losing a worker.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from typing import Callable

import numpy as np

from explorer._jit import set_num_threads
from explorer._validation import check_range
from explorer.fractal import Problem, Scan, grid_axes, measure_pixels
from explorer.fractal.scan import _prepare

TASK_RETRIES = 3


class Cancelled(RuntimeError):
    """Raised by :func:`scan` when ``should_stop()`` became true; holds what was finished.

    Attributes
    ----------
    measure : ndarray, shape (ny, nx)
        The finished tiles' values; NaN where no tile arrived.
    """

    def __init__(self, measure: np.ndarray):
        super().__init__(f"cancelled with {np.isfinite(measure).mean():.0%} of the pixels computed")
        self.measure = measure


def _measure_tile(problem, x, y, steps, phase_space, offset_mode, threads_per_task):
    previous = set_num_threads(threads_per_task)
    try:
        return measure_pixels(problem, x, y, steps, phase_space, offset_mode)
    finally:
        set_num_threads(previous)


@contextlib.contextmanager
def cluster(address: str | None = None, n_workers: int | None = None):
    """A ``dask.distributed.Client``: connected to ``address``, or to a new local cluster.

    The local cluster has ``n_workers`` (default: one per core) single-threaded worker
    processes started with ``spawn``; it is closed when the ``with`` block ends.

    Examples
    --------
    >>> with cluster(n_workers=2) as client:            # doctest: +SKIP
    ...     result = scan(problem, resolution=1024, client=client)
    """
    import dask
    from dask.distributed import Client, LocalCluster

    if address is not None:
        with Client(address) as client:
            yield client
        return
    n_workers = n_workers or os.cpu_count() or 1
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as local, Client(local) as client:
            yield client


@contextlib.contextmanager
def _client_or_local(client, n_workers):
    if client is not None:
        yield client
    else:
        with cluster(None, n_workers) as local_client:
            yield local_client


def tiles(shape, tile: int):
    """The (row slice, column slice) of every tile of ``shape``, in row-major order."""
    ny, nx = shape
    return [(slice(top, min(top + tile, ny)), slice(left, min(left + tile, nx)))
            for top in range(0, ny, tile) for left in range(0, nx, tile)]


def scan(problem: Problem, x_range=(-3.0, 6.0), y_range=(-3.0, 6.0), resolution=64,
         steps: int = 100, phase_space: str = "lr_vs_lr", offset_mode: str = "every_step", *,
         client=None, tile: int = 128, n_workers: int | None = None, threads_per_task: int = 1,
         on_tile: Callable | None = None, should_stop: Callable[[], bool] | None = None,
         progress: bool = False) -> Scan:
    """:func:`explorer.fractal.scan` computed as tiles on a Dask cluster.

    Parameters
    ----------
    problem, x_range, y_range, resolution, steps, phase_space, offset_mode
        As in :func:`explorer.fractal.scan`; the result is bit-identical to it.
    client : dask.distributed.Client, optional
        Where to run. By default a ``LocalCluster`` of ``n_workers`` single-threaded
        processes is started for this call and closed afterwards.
    tile : int, in [8, 8192]
        Edge of the square tiles (pixels); one task per tile.
    n_workers : int, optional
        Workers of the local cluster (default: one per core); ignored with ``client``.
    threads_per_task : int, >= 1
        numba threads inside each task (1 suits one single-threaded worker per core).
    on_tile : callable, optional
        ``on_tile(rows, cols, measure)`` after each tile arrives (slices into the full grid;
        ``measure`` is the full array so far, NaN where nothing arrived), e.g. to paint a figure.
    should_stop : callable, optional
        Polled as tiles arrive; when it returns True the remaining tasks are cancelled and
        :class:`Cancelled` is raised with the finished part.
    progress : bool
        Show Dask's progress bar (a widget in notebooks, text in a terminal).

    Returns
    -------
    Scan
    """
    _prepare(problem, steps, phase_space, offset_mode)
    x, y = grid_axes(x_range, y_range, resolution)
    tile = check_range("tile", tile, lo=8, hi=8192, integer=True)
    threads_per_task = check_range("threads_per_task", threads_per_task, lo=1, hi=1024, integer=True)
    if n_workers is not None:
        n_workers = check_range("n_workers", n_workers, lo=1, hi=1024, integer=True)
    measure = np.full((y.size, x.size), np.nan)
    start = time.perf_counter()
    with _client_or_local(client, n_workers) as active:
        from dask.distributed import as_completed

        shared_problem = active.scatter(problem, broadcast=True, hash=False)  # a fresh key per call
        run_token = uuid.uuid4().hex[:12]  # task keys unique to this call
        futures = {}
        for rows, cols in tiles(measure.shape, tile):
            future = active.submit(_measure_tile, shared_problem, x[cols], y[rows], steps,
                                   phase_space, offset_mode, threads_per_task,
                                   retries=TASK_RETRIES,
                                   key=f"explorer-tile-{run_token}-{rows.start}-{cols.start}")
            futures[future] = (rows, cols)
        if progress:
            from dask.distributed import progress as dask_progress

            dask_progress(list(futures), notebook=None)
        for future in as_completed(futures):
            rows, cols = futures[future]
            measure[rows, cols] = future.result()
            if on_tile is not None:
                on_tile(rows, cols, measure)
            if should_stop is not None and should_stop():
                active.cancel(list(futures))
                raise Cancelled(measure)
    return Scan.from_measure(x, y, measure, steps=steps, phase_space=phase_space,
                             seconds=time.perf_counter() - start,
                             x_range=tuple(map(float, x_range)), y_range=tuple(map(float, y_range)))


def stop_flag() -> tuple[Callable[[], None], Callable[[], bool]]:
    """A (stop, should_stop) pair for :func:`scan`'s cancellation, usable from another thread."""
    event = threading.Event()
    return event.set, event.is_set


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
    client, n_workers, threads_per_task, progress
        As in :func:`scan`.
    on_point : callable, optional
        ``on_point(index, outcome)`` as each grid point arrives (``index`` into the flattened,
        row-major grid; ``outcome`` a :class:`~explorer.grokking.GridPointResult`).
    should_stop : callable, optional
        Polled as points arrive; True cancels the rest and raises :class:`Cancelled` whose
        ``measure`` holds steps-to-generalise (NaN where not finished) in the grid's shape.

    Returns
    -------
    explorer.grokking.SweepResult
    """
    from explorer.grokking.sweep import grid_configs, sweep_result

    threshold = check_range("threshold", threshold, lo=0, hi=1, lo_open=True)
    configs = grid_configs(param_grid, **fixed)
    threads_per_task = check_range("threads_per_task", threads_per_task, lo=1, hi=1024, integer=True)
    outcomes = [None] * len(configs)
    with _client_or_local(client, n_workers) as active:
        from dask.distributed import as_completed

        futures = {active.submit(_run_grid_point, config, threshold, threads_per_task,
                                 retries=TASK_RETRIES, pure=False): index
                   for index, config in enumerate(configs)}
        if progress:
            from dask.distributed import progress as dask_progress

            dask_progress(list(futures), notebook=None)
        for future in as_completed(futures):
            index = futures[future]
            outcomes[index] = future.result()
            if on_point is not None:
                on_point(index, outcomes[index])
            if should_stop is not None and should_stop():
                active.cancel(list(futures))
                shape = tuple(len(values) for values in param_grid.values())
                raise Cancelled(np.array([np.nan if o is None else o.steps_to_generalise
                                          for o in outcomes]).reshape(shape))
    return sweep_result(param_grid, outcomes, threshold, fixed)
