"""Native code against the portable CPU level a prebuilt cache would use (Binder, shared images).

Binder and other shared images ship numba caches compiled for portable x86-64 levels, and
``explorer._cpu`` picks the best one the CPU runs (see ``binder/postBuild``). This measures what
that costs against code compiled for this exact CPU ("native"), on two kernels that dominate
the lessons, one thread each:

- fractal scan: width 8, 96 x 96 pixels, 100 steps (the interactive preview's work);
- blending training: 2,000 steps of the default deblender (MLP 64 x 4, batch 256, float32).

One worker process per level (its own fresh numba cache folder, ``NUMBA_CPU_NAME`` and an
empty ``NUMBA_CPU_FEATURES``, as ``explorer._cpu`` sets them) compiles first; then the workers
time one trial each in turn, round after round, so a change in machine load hits every level
alike. Best of the rounds.

    python benchmarks/cpu_levels.py            (a few minutes: it compiles once per level)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Report
from explorer import _cpu  # does not import numba

ROUNDS = 5
CASES = {
    "fractal scan w8 96x96 100 steps, 1 thread": "fractal",
    "blending training 2,000 steps, 1 thread": "blending",
}


def _worker() -> None:
    """Compile both cases, then time one trial per line read from stdin ("fractal"/"blending")."""
    from explorer._jit import set_num_threads
    from explorer.blending import TwoMoons, train_deblender
    from explorer.fractal import make_problem, scan

    set_num_threads(1)
    problem = make_problem(width=8)
    points = TwoMoons().sample(10_000, seed=0)
    cases = {"fractal": lambda: scan(problem, resolution=96, steps=100),
             "blending": lambda: train_deblender(points, steps=2000, seed=0)}
    for case in cases.values():  # compile (and fault in) outside the timings
        case()
    print("ready", flush=True)
    for line in sys.stdin:
        start = time.perf_counter()
        cases[line.strip()]()
        print(time.perf_counter() - start, flush=True)


def _start(level: str, cache: Path) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NUMBA_CPU", "NUMBA_CACHE", _cpu.BASE_VARIABLE))}
    env["NUMBA_CACHE_DIR"] = str(cache / level)
    if level != "native":
        env.update(NUMBA_CPU_NAME=level, NUMBA_CPU_FEATURES="")
    return subprocess.Popen([sys.executable, __file__, "--worker"], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def main() -> int:
    runnable = _cpu.supported_levels(_cpu.read_cpu_flags())
    chosen = runnable[0]
    levels = ["native", *runnable]
    with tempfile.TemporaryDirectory(prefix="explorer-cpu-levels-") as cache:
        workers = {}
        for level in levels:  # one at a time: compiling in parallel would only share the cores
            started = time.perf_counter()
            workers[level] = _start(level, Path(cache))
            assert workers[level].stdout.readline().strip() == "ready", f"{level} worker failed"
            print(f"compiled {level} in {time.perf_counter() - started:.0f} s", flush=True)
        best = {level: {case: float("inf") for case in CASES.values()} for level in levels}
        for _ in range(ROUNDS):
            for case in CASES.values():
                for level, worker in workers.items():
                    worker.stdin.write(case + "\n")
                    worker.stdin.flush()
                    best[level][case] = min(best[level][case], float(worker.stdout.readline()))
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()

    report = Report("cpu_levels")
    for name, case in CASES.items():
        for level in runnable:
            role = "chosen" if level == chosen else "portable"
            report.add(f"{name} [{level}, {role}]", best[level][case], "native", best["native"][case])
    report.notes.update(
        chosen_level=chosen, runnable_levels=runnable, rounds=ROUNDS,
        ratio="native time / level time: 1.00x = as fast as native, 0.30x = 3.3x slower",
        load_average=" ".join(f"{value:.1f}" for value in os.getloadavg()),
        seconds=json.dumps({level: {case: round(value, 4) for case, value in cases.items()}
                            for level, cases in best.items()}))
    report.print_and_save()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
    else:
        sys.exit(main())
