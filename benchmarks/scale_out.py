"""Dask scale-out and the fractal view's Stop, side by side with what they replace.

Run: ``python benchmarks/scale_out.py``. Rows:

- tiles/s on a 2-worker LocalCluster vs local threads, and the cost of one tile's scheduling.
  On one 2-core machine the cluster cannot beat local threads; what this measures is how
  little the tiling costs, so that the same code on a real cluster scales with its workers.
- Stop latency of a 2048 px render in the view (chunks sized by its cost model) vs the
  compiled work between two stop checks of the old view (bands of 1/32 of the rows).
- The cost of the issue's 4096 x 4096, width 16, 1000-step render in core-hours, from CPU
  time (not wall time, which the machine's load inflates) of a strided sample of its pixels
  on one thread, cross-checked against real Dask tiles of the job.

``python benchmarks/scale_out.py --full-render DIR`` runs that whole render as a resumable
Dask job (finished tiles kept in DIR) with a progress line and the time left.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from _common import Report, best_time

from explorer import distributed
from explorer._jit import set_num_threads
from explorer.fractal import grid_axes, make_problem, measure_pixels, scan

RESOLUTION, TILE, STEPS, WIDTH = 256, 64, 100, 8
BIG = {"resolution": 4096, "width": 16, "steps": 1000}
SAMPLE_STRIDE = 128  # every 128th pixel of each axis: a 32 x 32 sample of the 4096^2 grid
JOB_TILE = 12  # tile edge of the job's sample tiles (144 pixels, ~3 s each on one core)


def tiling_rows(report: Report) -> None:
    problem = make_problem(width=WIDTH)
    tiles = len(distributed.tiles((RESOLUTION, RESOLUTION), TILE))
    scan(problem, resolution=4, steps=STEPS)
    local = best_time(lambda: scan(problem, resolution=RESOLUTION, steps=STEPS), repeat=2)
    start = time.perf_counter()
    with distributed.cluster(n_workers=2) as client:
        startup = time.perf_counter() - start
        distributed.scan(problem, resolution=TILE, steps=STEPS, client=client, tile=TILE)  # load kernels
        tiled = best_time(lambda: distributed.scan(problem, resolution=RESOLUTION, steps=STEPS,
                                                   client=client, tile=TILE), repeat=2)
        # near-empty tiles: what remains is the cost of scheduling, shipping and assembling
        tiny = make_problem(width=1, n_samples=1)
        empty = best_time(lambda: distributed.scan(tiny, resolution=(8 * 32, 8), steps=21,
                                                   client=client, tile=8), repeat=3)
        job_tiles = sample_job_tiles(client)
    label = f"w{WIDTH} {STEPS} steps {RESOLUTION}^2, {tiles} tiles of {TILE}^2"
    report.add(f"{label}: tiles/s", tiles / tiled, "local threads", tiles / local, unit="/s",
               higher_is_better=True)
    report.add("overhead per tile (ms)", 1e3 * empty / 32, "per-tile compute (ms)", 1e3 * local / tiles,
               unit="ms", higher_is_better=False)
    report.notes["LocalCluster start-up (s)"] = round(startup, 2)
    report.add("4096^2 job tiles: CPU ms per pixel, Dask task", 1e3 * job_tiles[0],
               "same tiles, local", 1e3 * job_tiles[1], unit="ms")


def _cpu_seconds_of_tile(problem, x, y, options):
    cpu = time.process_time()
    distributed._measure_tile(problem, x, y, options, 1)
    return time.process_time() - cpu


def sample_job_tiles(client) -> tuple[float, float]:
    """CPU seconds per pixel of two tiles of the 4096^2 job: as Dask tasks, and locally."""
    problem = make_problem(width=BIG["width"])
    x, y = grid_axes((-3.0, 6.0), (-3.0, 6.0), BIG["resolution"])
    middle = BIG["resolution"] // 2  # two neighbouring tiles in the middle of the image
    picks = [(slice(middle, middle + JOB_TILE), slice(middle + k * JOB_TILE, middle + (k + 1) * JOB_TILE))
             for k in range(2)]
    options = {"steps": BIG["steps"]}
    futures = [client.submit(_cpu_seconds_of_tile, problem, x[cols], y[rows], options, pure=False)
               for rows, cols in picks]
    on_workers = sum(client.gather(futures)) / (2 * JOB_TILE**2)
    here = sum(_cpu_seconds_of_tile(problem, x[cols], y[rows], options) for rows, cols in picks)
    return on_workers, here / (2 * JOB_TILE**2)


def stop_rows(report: Report) -> None:
    from explorer.apps.fractal import build_fractal_app

    app = build_fractal_app(width=WIDTH, steps=STEPS, render_resolution=2048)
    latencies = []
    for _ in range(3):
        app.render()
        time.sleep(2.0)
        stopped = time.perf_counter()
        app.stop()
        app.wait()
        latencies.append(time.perf_counter() - stopped)
    problem, options = app.problem_and_options()
    x, y = grid_axes((-3.0, 6.0), (-3.0, 6.0), 2048)
    band = slice(1024, 1024 + 2048 // 32)  # the old view's band, across the boundary
    old_band = best_time(lambda: measure_pixels(problem, x, y[band], **options), repeat=1)
    report.add("view Stop at 2048 px, w8 100 steps (s)", float(np.median(latencies)),
               "old view's band between checks", old_band, unit="s")


def cost_rows(report: Report) -> None:
    problem = make_problem(width=BIG["width"])
    x, y = grid_axes((-3.0, 6.0), (-3.0, 6.0), BIG["resolution"])
    xs, ys = x[SAMPLE_STRIDE // 2::SAMPLE_STRIDE], y[SAMPLE_STRIDE // 2::SAMPLE_STRIDE]
    previous = set_num_threads(1)
    try:
        measure_pixels(problem, xs[:1], ys[:1], steps=21)
        wall, cpu = time.perf_counter(), time.process_time()
        sample = measure_pixels(problem, xs, ys, steps=BIG["steps"])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        set_num_threads(previous)
    core_hours = cpu / sample.size * BIG["resolution"] ** 2 / 3600
    report.add("4096^2 w16 1000 steps: core-hours (CPU time)", core_hours,
               "from wall time", wall / sample.size * BIG["resolution"] ** 2 / 3600, unit="h")
    report.notes["sample"] = (f"{sample.size} pixels (every {SAMPLE_STRIDE}th per axis), "
                              f"{np.mean(sample > 0):.0%} diverged, {1e3 * cpu / sample.size:.1f} ms "
                              "CPU per pixel")
    report.notes["load average during the run"] = [round(v, 1) for v in os.getloadavg()]


def full_render(cache_dir: str) -> int:
    """The whole 4096^2 render as a resumable Dask job with a progress line."""
    problem = make_problem(width=BIG["width"])
    with distributed.cluster() as client:
        result = distributed.scan(problem, resolution=BIG["resolution"], steps=BIG["steps"],
                                  client=client, tile=64, cache_dir=cache_dir, progress=True)
    np.save(os.path.join(cache_dir, "fractal_4096.npy"), result.measure)
    print(f"done in {result.seconds / 3600:.2f} h; measure saved in {cache_dir}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-render", metavar="DIR", help="run the whole 4096^2 render, resumable")
    args = parser.parse_args()
    if args.full_render:
        return full_render(args.full_render)
    report = Report("scale_out")
    tiling_rows(report)
    stop_rows(report)
    cost_rows(report)
    report.notes["machine"] = f"{os.cpu_count()} cores shared with other jobs"
    report.print_and_save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
