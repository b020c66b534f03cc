"""``python -m explorer TOPIC [options]``: a topic's headline experiment, headless.

Each topic writes ``<out>/<topic>.png`` (the headline figure) and ``<out>/<topic>.json`` (a
summary with the settings, the key numbers and the wall time). ``python -m explorer warm``
compiles every kernel into numba's on-disk cache (run by ``make lab`` and Binder's postBuild).

A topic module ``explorer.cli.<topic>`` provides ``add_arguments(parser)``,
``run(args) -> (matplotlib Figure, dict)``, ``warm()`` and ``QUICK_HELP`` (what ``--quick``,
which every topic accepts, shrinks to).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="topic", required=True, metavar="TOPIC")
    for topic in _available_topics():
        sub = commands.add_parser(topic, help=TOPICS[topic], description=TOPICS[topic])
        sub.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out/)")
        module = _topic_module(topic)
        sub.add_argument("--quick", action="store_true",
                         help="small settings that finish in seconds: " + module.QUICK_HELP)
        module.add_arguments(sub)
    commands.add_parser("warm", help="compile every kernel into numba's on-disk cache")
    return parser


def warm() -> dict:
    """Compile every topic's kernels (small inputs); returns seconds per topic."""
    seconds = {}
    for topic in _available_topics():
        start = time.perf_counter()
        _topic_module(topic).warm()
        seconds[topic] = round(time.perf_counter() - start, 2)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.topic == "warm":
        print(json.dumps({"compiled_seconds": warm()}))
        return 0
    import matplotlib

    matplotlib.use("Agg")
    start = time.perf_counter()
    try:
        figure, summary = _topic_module(args.topic).run(args)
    except ValueError as error:  # bad input: say which parameter, without a traceback
        parser.exit(2, f"python -m explorer {args.topic}: error: {error}\n")
    summary = {"topic": args.topic, **summary, "seconds": round(time.perf_counter() - start, 3)}
    args.out.mkdir(parents=True, exist_ok=True)
    png, summary_path = args.out / f"{args.topic}.png", args.out / f"{args.topic}.json"
    figure.savefig(png, dpi=120, bbox_inches="tight")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({**summary, "png": str(png), "json": str(summary_path)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
