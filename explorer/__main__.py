"""``python -m explorer TOPIC [options]``: a topic's headline experiment, headless.

Each topic writes ``<out>/<topic>.png`` (the headline figure) and ``<out>/<topic>.json`` (a
summary with the settings, the key numbers and the wall time) and prints a short summary and
the two paths. ``python -m explorer warm`` compiles every kernel into numba's on-disk cache,
the topics in parallel processes (run by ``make lab`` and Binder's postBuild);
``warm --levels all`` fills one cache per portable CPU level under
``EXPLORER_NUMBA_CACHE_BASE`` (see ``explorer._cpu``).

A topic module ``explorer.cli.<topic>`` provides ``add_arguments(parser)``,
``run(args) -> (matplotlib Figure, dict)``, ``warm()`` and ``QUICK_HELP`` (what ``--quick``,
which every topic accepts, shrinks to), and may set ``HEADLINE`` (summary keys printed first).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

from explorer import _cpu
from explorer.cli import short_summary, warm_in_parallel

TOPICS = {
    "fractal": "trainability fractal: scan two learning rates, find the boundary, box-count it",
    "grokking": "grokking on modular addition: train, probe the Fourier structure",
    "koopman": "Koopman spectra: EDMD and residual DMD with pseudospectrum",
    "blending": "iterative alpha-(de)blending on 2D densities",
}


def _topic_module(topic: str):
    return importlib.import_module(f"explorer.cli.{topic}")


def _available_topics() -> list[str]:
    return [t for t in TOPICS if importlib.util.find_spec(f"explorer.cli.{t}") is not None]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser; with ``only``, just that topic's options are loaded.

    Loading a topic's options imports the topic (numpy, numba, its kernels), so ``main``
    loads only the topic it runs: ``warm`` and ``--help`` then start instantly and do not
    depend on every topic importing cleanly.
    """
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="topic", required=True, metavar="TOPIC")
    for topic in _available_topics():
        sub = commands.add_parser(topic, help=TOPICS[topic], description=TOPICS[topic])
        if only not in (None, topic):
            continue
        sub.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out/)")
        module = _topic_module(topic)
        sub.add_argument("--quick", action="store_true",
                         help="small settings that finish in seconds: " + module.QUICK_HELP)
        module.add_arguments(sub)
    warm = commands.add_parser("warm", help="compile every kernel into numba's on-disk cache",
                               description="Compile every kernel into numba's on-disk cache, the "
                                           "topics in parallel processes.")
    warm.add_argument("--jobs", type=int, default=None,
                      help="parallel processes (default: one per core, at most one per topic)")
    warm.add_argument("--topics", default=",".join(_available_topics()),
                      help="comma-separated topics (default: all)")
    warm.add_argument("--levels", default="native",
                      help="'native' (this CPU, the default), 'all' (every portable level this CPU "
                           f"runs) or a comma-separated list of {', '.join(_cpu.LEVELS)}; portable "
                           f"levels go to <base>/<level>, base from --cache-base or ${_cpu.BASE_VARIABLE}")
    warm.add_argument("--cache-base", default=os.environ.get(_cpu.BASE_VARIABLE),
                      help=f"folder of the per-level caches (default: ${_cpu.BASE_VARIABLE})")
    warm.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    return parser


def warm(topics=None) -> dict:
    """Compile the kernels of ``topics`` (default: all) in this process; returns seconds per topic."""
    seconds = {}
    for topic in topics or _available_topics():
        start = time.perf_counter()
        _topic_module(topic).warm()
        seconds[topic] = round(time.perf_counter() - start, 2)
    return seconds


def _warm_command(parser: argparse.ArgumentParser, args) -> int:
    topics = [topic.strip() for topic in args.topics.split(",") if topic.strip()]
    unknown = sorted(set(topics) - set(_available_topics()))
    if unknown or not topics:
        parser.error(f"--topics: unknown {', '.join(unknown) or '(none given)'}; "
                     f"known: {', '.join(_available_topics())}")
    if args.in_process:  # a child of warm_in_parallel: its last line reports the CPU time
        warm(topics)
        print(f"cpu_seconds={time.process_time():.2f}")
        return 0
    runnable = _cpu.supported_levels(_cpu.read_cpu_flags())
    if args.levels == "native":
        levels = (None,)
    else:
        levels = tuple(runnable if args.levels == "all" else
                       [level.strip() for level in args.levels.split(",") if level.strip()])
        bad = [level for level in levels if level not in runnable]
        if bad:  # compiling runs the kernels once: a level this CPU lacks would crash
            parser.error(f"--levels: this CPU cannot run {', '.join(bad)}; it runs {', '.join(runnable)}")
        if not args.cache_base:
            parser.error(f"--levels {args.levels} needs --cache-base or ${_cpu.BASE_VARIABLE}")
    if args.jobs is not None and not 1 <= args.jobs <= 64:
        parser.error(f"--jobs must be an integer in [1, 64], got {args.jobs}")
    jobs = args.jobs or min(_cores(), len(topics) * len(levels))
    report = warm_in_parallel(topics, jobs, levels, args.cache_base)
    return 1 if report.failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((word for word in argv if not word.startswith("-")), None)
    parser = build_parser(only=command if command in TOPICS else "warm")
    args = parser.parse_args(argv)
    if args.topic == "warm":
        return _warm_command(parser, args)
    import matplotlib

    matplotlib.use("Agg")
    start = time.perf_counter()
    module = _topic_module(args.topic)
    try:
        figure, summary = module.run(args)
    except ValueError as error:  # bad input: say which parameter, without a traceback
        parser.exit(2, f"python -m explorer {args.topic}: error: {error}\n")
    summary = {"topic": args.topic, **summary, "seconds": round(time.perf_counter() - start, 3)}
    args.out.mkdir(parents=True, exist_ok=True)
    png, summary_path = args.out / f"{args.topic}.png", args.out / f"{args.topic}.json"
    figure.savefig(png, dpi=120, bbox_inches="tight")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    files = {key: value for key, value in summary.items() if _written_file(value, args.out)}
    body = {key: value for key, value in summary.items() if key not in ("topic", "seconds", *files)}
    print(f"{args.topic}: done in {summary['seconds']:.1f} s")
    for line in short_summary(body, getattr(module, "HEADLINE", ())):
        print("  " + line)
    print(f"figure:  {png}\nsummary: {summary_path}")
    for key, path in files.items():  # e.g. the fractal's zoom video
        print(f"{key}: {path}")
    return 0


def _written_file(value, out: Path) -> bool:
    if not isinstance(value, str):
        return False
    path = Path(value).resolve()
    return path.is_relative_to(out.resolve()) and path.exists()


if __name__ == "__main__":
    sys.exit(main())
