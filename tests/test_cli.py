"""``python -m explorer TOPIC`` writes a PNG and a JSON summary for every topic and prints a
short summary with the two paths; ``python -m explorer warm`` compiles topics in parallel."""

import json
import os
import subprocess
import sys

import pytest

from explorer.__main__ import _available_topics, build_parser
from explorer.cli import SUMMARY_LINES, short_summary


@pytest.mark.parametrize("topic", _available_topics())
def test_headline_runs_headless_and_writes_png_and_json(topic, tmp_path):
    completed = subprocess.run([sys.executable, "-m", "explorer", topic, "--quick", "--out", str(tmp_path)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads((tmp_path / f"{topic}.json").read_text())
    assert summary["topic"] == topic and summary["seconds"] > 0
    assert (tmp_path / f"{topic}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the terminal gets a short summary and where the files are, not the whole JSON (#13.9)
    lines = completed.stdout.splitlines()
    assert lines[0].startswith(f"{topic}: done in ")
    assert f"figure:  {tmp_path / f'{topic}.png'}" in lines
    assert f"summary: {tmp_path / f'{topic}.json'}" in lines
    assert len(lines) <= SUMMARY_LINES + 4 and "{" not in lines[0]
    assert not completed.stdout.lstrip().startswith("{"), "printed the JSON"


def test_fractal_summary_has_the_promised_fields(tmp_path):
    subprocess.run([sys.executable, "-m", "explorer", "fractal", "--quick", "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=600)
    summary = json.loads((tmp_path / "fractal.json").read_text())
    for key in ("window", "resolution", "diverged_fraction", "dimension_estimate", "seconds"):
        assert key in summary
    assert summary["resolution"] == 64 and 0 < summary["diverged_fraction"] < 1


def test_fractal_zoom_video_on_local_workers(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "explorer", "fractal", "--quick", "--local-workers", "2", "--tile", "32",
         "--zoom-frames", "3", "--zoom-factor", "100", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "fractal_zoom.gif").read_bytes()[:3] == b"GIF"
    assert len(list((tmp_path / "fractal_zoom").glob("frame_*.png"))) == 3
    assert json.loads((tmp_path / "fractal.json").read_text())["scheduler"] == "local cluster of 2"


def test_bad_option_is_a_clear_error(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "explorer", "fractal", "--steps", "5", "--out", str(tmp_path)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 2 and "error: steps must be an integer in [21," in completed.stderr
    assert "Traceback" not in completed.stderr


def test_every_topic_has_a_command():
    parser = build_parser()
    assert parser.parse_args(["warm"]).topic == "warm"
    assert "fractal" in _available_topics()


def test_short_summary_puts_the_headline_first_and_leaves_long_lists_out():
    summary = {"width": 8, "window": {"x_range": [-3.0, 6.0], "y_range": [-3.0, 6.0]},
               "diverged_fraction": 0.54713, "box_counts": list(range(40)), "ok": True,
               "system": "pendulum", "nested": {"curve": [1, 2, 3, 4, 5]}}
    lines = short_summary(summary, headline=("diverged_fraction", "missing"))
    assert lines == ["diverged_fraction: 0.5471", "width: 8", "window: x_range [-3, 6], y_range [-3, 6]",
                     "ok: True", "system: pendulum", "(2 more entries in the JSON file)"]


def test_short_summary_is_short():
    summary = {f"value_{i}": i for i in range(40)}
    lines = short_summary(summary, lines=5)
    assert lines[:5] == [f"value_{i}: {i}" for i in range(5)] and lines[5] == "(35 more entries in the JSON file)"
    assert short_summary({"text": "x" * 500}, width=50) == ["text: " + "x" * 41 + "..."]


def _warm(*args, env=None):
    return subprocess.run([sys.executable, "-m", "explorer", "warm", *args], capture_output=True, text=True,
                          timeout=1800, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_warm_compiles_topics_in_parallel_processes_and_reports_times():
    topics = [topic for topic in ("fractal", "koopman") if topic in _available_topics()]
    completed = _warm("--topics", ",".join(topics), "--jobs", "2")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    assert lines[0].startswith(f"compiling {len(topics)} topic(s) for this CPU in {min(2, len(topics))} process")
    done = [line for line in lines if line.lstrip().startswith("[")]
    assert sorted(line.split()[1] for line in done) == sorted(topics)
    assert all(" s (" in line and "s CPU)" in line for line in done), done
    assert lines[-1].startswith("compiled in ") and "CPU in all" in lines[-1]


@pytest.mark.parametrize("args, message", [
    (["--topics", "fractal,nope"], "--topics: unknown nope"),
    (["--levels", "x86-64-v9"], "--levels: this CPU cannot run x86-64-v9"),
    (["--levels", "generic", "--cache-base", ""], "needs --cache-base"),
    (["--jobs", "0"], "--jobs must be an integer in [1, 64], got 0"),
])
def test_warm_refuses_bad_options(args, message):
    completed = _warm(*args, env={"EXPLORER_NUMBA_CACHE_BASE": ""})
    assert completed.returncode == 2 and message in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr
