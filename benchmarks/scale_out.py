"""Dask scale-out: tiles/s on a 2-worker LocalCluster vs local threads, and the cost per tile.

Run: ``python benchmarks/scale_out.py``. On one 2-core machine the cluster cannot beat
local threads; what this measures is how little the tiling costs, so that the same code on a
real cluster scales with its workers.
"""

from __future__ import annotations

import sys
import time

from _common import Report, best_time
from explorer import distributed
from explorer.fractal import make_problem, scan

RESOLUTION, TILE, STEPS, WIDTH = 256, 64, 100, 8


def main() -> int:
    report = Report("scale_out")
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
    label = f"w{WIDTH} {STEPS} steps {RESOLUTION}^2, {tiles} tiles of {TILE}^2"
    report.add(f"{label}: tiles/s", tiles / tiled, "local threads", tiles / local, unit="/s",
               higher_is_better=True)
    report.add("overhead per tile (ms)", 1e3 * empty / 32, "per-tile compute (ms)", 1e3 * local / tiles,
               unit="ms", higher_is_better=False)
    report.notes["LocalCluster start-up (s)"] = round(startup, 2)
    report.notes["2 workers x 1 thread vs 2 numba threads; same machine"] = "2 cores"
    report.print_and_save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
