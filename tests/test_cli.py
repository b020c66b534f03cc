"""``python -m explorer TOPIC`` writes a PNG and a JSON summary for every topic."""

import json
import subprocess
import sys

import pytest

from explorer.__main__ import _available_topics, build_parser


@pytest.mark.parametrize("topic", _available_topics())
def test_headline_runs_headless_and_writes_png_and_json(topic, tmp_path):
    completed = subprocess.run([sys.executable, "-m", "explorer", topic, "--quick", "--out", str(tmp_path)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads((tmp_path / f"{topic}.json").read_text())
    assert summary["topic"] == topic and summary["seconds"] > 0
    assert (tmp_path / f"{topic}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
