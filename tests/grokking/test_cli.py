"""``python -m explorer grokking``: the headless run writes a PNG and a JSON summary."""

import json

from explorer.__main__ import main
from explorer.cli import grokking


def test_quick_run_writes_png_and_summary(tmp_path):
    assert main(["grokking", "--quick", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "grokking.json").read_text())
    assert (tmp_path / "grokking.png").stat().st_size > 10_000
    for key in ("steps_to_99_train", "steps_to_95_test", "steps_per_second", "seconds",
                "training_seconds", "phases", "key_frequencies"):
        assert key in summary
    assert summary["steps_to_99_train"] < summary["steps_to_95_test"] <= summary["steps"]
    assert not summary["diverged"] and summary["final_test_acc"] >= 0.95


def test_warm_compiles_without_error():
    grokking.warm()
