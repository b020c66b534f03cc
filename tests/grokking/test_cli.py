"""``python -m explorer grokking``: a run, a Grokfast comparison and a sweep, each headless."""

import json

import pytest

from explorer.__main__ import main
from explorer.cli import grokking

TINY_TRANSFORMER = ["--model", "transformer", "--p", "11", "--width", "8", "--heads", "2",
                    "--steps", "30", "--eval-every", "10"]


def run_cli(tmp_path, *options):
    assert main(["grokking", *options, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "grokking.png").stat().st_size > 10_000
    return json.loads((tmp_path / "grokking.json").read_text())


def test_quick_run_writes_png_and_summary(tmp_path):
    summary = run_cli(tmp_path, "--quick")
    for key in ("steps_to_99_train", "steps_to_95_test", "steps_per_second", "seconds",
                "training_seconds", "phases", "key_frequencies"):
        assert key in summary
    assert summary["steps_to_99_train"] < summary["steps_to_95_test"] <= summary["steps"]
    assert not summary["diverged"] and summary["final_test_acc"] >= 0.95


def test_a_transformer_run_reports_its_key_frequencies(tmp_path):
    summary = run_cli(tmp_path, *TINY_TRANSFORMER)
    assert summary["model"] == "transformer" and summary["steps"] == 30
    assert isinstance(summary["key_frequencies"], list) and "final_excluded_loss" in summary


def test_the_nanda_preset_is_nandas_configuration():
    parser = __import__("argparse").ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    grokking.add_arguments(parser)
    settings = grokking.settings_from(parser.parse_args(["--preset", "nanda", "--steps", "5"]))
    assert settings == {**grokking.NANDA_SETTINGS, "steps": 5}
    assert (settings["p"], settings["width"], settings["d_mlp"], settings["train_fraction"]) == (113, 128, 512, 0.3)


def test_a_grokfast_comparison_headless(tmp_path):
    summary = run_cli(tmp_path, "--compare", "paper", "--model", "mlp", "--p", "11", "--width", "16",
                      "--steps", "20", "--batch-size", "32", "--eval-every", "10")
    assert [row["label"] for row in summary["runs"]] == [
        "paper: baseline, wd 0", "paper: Grokfast-MA, wd 0.01", "paper: Grokfast-EMA, wd 0.005"]


@pytest.mark.parametrize("dask", [[], ["--dask", "1"]])
def test_a_transformer_sweep_locally_and_on_dask(tmp_path, dask):
    summary = run_cli(tmp_path, *TINY_TRANSFORMER, "--sweep", "weight_decay=0.5,1.0", *dask)
    assert summary["values"] == [0.5, 1.0] and len(summary["steps_to_generalise"]) == 2
    assert summary["dask_workers"] == (1 if dask else 0)


def test_warm_compiles_without_error():
    grokking.warm()
