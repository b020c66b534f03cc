"""Headless renderers behind ``python -m explorer TOPIC`` (matplotlib, Agg), and their helpers.

Each topic module ``explorer.cli.<topic>`` provides ``add_arguments(parser)``,
``run(args) -> (matplotlib Figure, summary dict)``, ``warm()`` and ``QUICK_HELP``; it may set
``HEADLINE`` (summary keys to print first). This package holds what the commands share: the
short summary printed on the terminal (:func:`short_summary`) and the first-start compile of
every topic in parallel processes (:func:`warm_in_parallel`). Only the standard library is
imported here, so ``python -m explorer --help`` stays instant.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

#: Topics from the longest compile to the shortest (measured from an empty cache), so the
#: longest starts first and the parallel processes finish together.
COMPILE_ORDER = ("blending", "grokking", "koopman", "fractal")
#: Lines of the terminal summary (the JSON file has everything).
SUMMARY_LINES = 12
HEARTBEAT_SECONDS = 20.0


# -- the terminal summary -------------------------------------------------------------------
def _scalar(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _few(value) -> bool:
    """A scalar or a list of at most four scalars."""
    return _scalar(value) or (isinstance(value, (list, tuple)) and len(value) <= 4
                              and all(map(_scalar, value)))


def _short(value) -> bool:
    """Worth a terminal line: a scalar, a few scalars, or a dict with such entries."""
    return _few(value) or (isinstance(value, dict) and any(map(_few, value.values())))


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_format(item)}" for key, item in value.items() if _few(item))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_format, value)) + "]"
    return str(value)


def short_summary(summary: dict, headline=(), lines: int = SUMMARY_LINES, width: int = 100) -> list[str]:
    """At most ``lines`` lines ``key: value`` of ``summary`` for the terminal.

    The keys in ``headline`` come first, then the other short entries in their order; long
    lists are left to the JSON file. The last line says how many entries were left out.

    Examples
    --------
    >>> short_summary({"steps": 100, "loss": 0.012345, "curve": list(range(50))})
    ['steps: 100', 'loss: 0.01235', '(1 more entry in the JSON file)']
    """
    keys = [key for key in headline if key in summary]
    keys += [key for key in summary if key not in keys and _short(summary[key])]
    shown = keys[:lines]
    text = []
    for key in shown:
        line = f"{key}: {_format(summary[key])}"
        text.append(line if len(line) <= width else line[:width - 3] + "...")
    left = len(summary) - len(shown)
    if left:
        text.append(f"({left} more entr{'y' if left == 1 else 'ies'} in the JSON file)")
    return text


# -- first start: compile every topic in parallel processes --------------------------------
@dataclass
class _Task:
    topic: str
    level: str | None  # None: this CPU, as numba would pick it
    env: dict
    process: subprocess.Popen | None = None
    log: object = None
    started: float = 0.0
    seconds: float = 0.0
    cpu_seconds: float | None = None
    error: str = ""

    @property
    def label(self) -> str:
        return self.topic if self.level is None else f"{self.topic} @ {self.level}"


@dataclass
class WarmReport:
    """What :func:`warm_in_parallel` did: wall and CPU seconds per task label, total wall time,
    failures (label -> the end of the child's output)."""

    seconds: dict = field(default_factory=dict)
    cpu_seconds: dict = field(default_factory=dict)
    total: float = 0.0
    failed: dict = field(default_factory=dict)


def level_environment(level: str, base: str) -> dict[str, str]:
    """The numba settings that compile for CPU ``level`` into ``<base>/<level>``."""
    return {"NUMBA_CPU_NAME": level, "NUMBA_CPU_FEATURES": "",
            "NUMBA_CACHE_DIR": os.path.join(os.path.expanduser(base), level)}


def warm_in_parallel(topics, jobs: int, levels=(None,), base: str | None = None,
                     out=sys.stdout) -> WarmReport:
    """Compile ``topics`` for each of ``levels``, ``jobs`` processes at a time; print progress.

    Each (topic, level) runs ``python -m explorer warm --in-process --topics TOPIC`` in a
    fresh process (numba's compiler holds one lock per process, so threads would not help),
    the longest topics first. A level other than None compiles for that portable CPU level
    into ``<base>/<level>`` (see :mod:`explorer._cpu`).
    """
    rank = {topic: COMPILE_ORDER.index(topic) if topic in COMPILE_ORDER else len(COMPILE_ORDER)
            for topic in topics}
    tasks = []
    for topic in sorted(topics, key=rank.get):
        for level in levels:
            extra = {} if level is None else level_environment(level, base)
            tasks.append(_Task(topic, level, {**os.environ, **extra}))
    where = "this CPU" if levels == (None,) else "CPU levels " + ", ".join(levels)
    print(f"compiling {len(topics)} topic(s) for {where} in {min(jobs, len(tasks))} process(es); "
          "only the first start does this, later starts read the cache", file=out, flush=True)
    start = time.perf_counter()
    waiting, running, done = list(tasks), [], 0
    next_heartbeat = start + HEARTBEAT_SECONDS
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                running.append(_launch(waiting.pop(0)))
            time.sleep(0.1)
            for task in [task for task in running if task.process.poll() is not None]:
                running.remove(task)
                done += 1
                _finish(task)
                status = "FAILED" if task.error else f"{task.seconds:6.1f} s" + (
                    "" if task.cpu_seconds is None else f" ({task.cpu_seconds:.1f} s CPU)")
                print(f"  [{done}/{len(tasks)}] {task.label:<28} {status}", file=out, flush=True)
                if task.error:
                    print("    " + task.error.replace("\n", "\n    "), file=out, flush=True)
            now = time.perf_counter()
            if running and now >= next_heartbeat:
                names = ", ".join(f"{task.label} ({now - task.started:.0f} s)" for task in running)
                print(f"  ... still compiling {names}", file=out, flush=True)
                next_heartbeat = now + HEARTBEAT_SECONDS
    finally:
        for task in running:  # interrupted: stop our own children
            task.process.terminate()
            task.process.wait()
            task.log.close()
    report = WarmReport(seconds={task.label: round(task.seconds, 1) for task in tasks if not task.error},
                        cpu_seconds={task.label: task.cpu_seconds for task in tasks
                                     if task.cpu_seconds is not None},
                        total=round(time.perf_counter() - start, 1),
                        failed={task.label: task.error for task in tasks if task.error})
    cpu = sum(report.cpu_seconds.values())
    print(f"compiled in {report.total:.1f} s ({cpu:.1f} s CPU in all)"
          + (f"; {len(report.failed)} failed" if report.failed else ""), file=out, flush=True)
    return report


def _launch(task: _Task) -> _Task:
    task.log = tempfile.TemporaryFile(mode="w+")
    task.started = time.perf_counter()
    task.process = subprocess.Popen(
        [sys.executable, "-m", "explorer", "warm", "--in-process", "--topics", task.topic],
        env=task.env, stdout=task.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return task


def _finish(task: _Task) -> None:
    task.seconds = time.perf_counter() - task.started
    task.log.seek(0)
    lines = task.log.read().strip().splitlines()
    task.log.close()
    if task.process.returncode != 0:
        task.error = f"exit code {task.process.returncode}:\n" + "\n".join(lines[-12:])
    elif lines and lines[-1].startswith("cpu_seconds="):
        task.cpu_seconds = float(lines[-1].partition("=")[2])
