"""``python -m explorer blending``: the headless runs write a PNG and a JSON summary."""

import json

from explorer.__main__ import main
from explorer.cli import blending


def test_quick_run_writes_png_and_summary(tmp_path, capsys):
    assert main(["blending", "--quick", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "blending.json").read_text())
    assert (tmp_path / "blending.png").stat().st_size > 10_000
    for part in ("exact", "trained"):
        for key in ("sliced_wasserstein", "sliced_wasserstein_floor", "energy_distance",
                    "energy_distance_floor", "median_distance_to_training_point"):
            assert summary[part][key] >= 0
    # the exact deblender memorises: its samples sit on training points, the network's do not
    assert summary["exact"]["median_distance_to_training_point"] < 0.01
    assert summary["trained"]["median_distance_to_training_point"] > 0.01
    assert not summary["trained"]["diverged"]
    assert summary["steps"] == blending.QUICK_SETTINGS["none"]["steps"]
    spread = list(summary["endpoint_spread"].values())
    assert spread[-1] < 0.5 * spread[0]
    assert set(summary["samplers"]) == {"euler", "midpoint", "heun"}
    printed = capsys.readouterr().out
    assert str(tmp_path / "blending.png") in printed and len(printed.splitlines()) < 20


def test_quick_digits_run_reports_image_metrics_with_floors(tmp_path):
    assert main(["blending", "--images", "digits", "--quick", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "blending.json").read_text())
    assert (tmp_path / "blending.png").stat().st_size > 10_000
    trained, exact = summary["trained"], summary["exact"]
    assert exact["copies_of_training_images"] == 1.0 and summary["exact_unconditional_copies"] == 1.0
    assert trained["copies_of_training_images"] == 0.0
    assert trained["frechet_floor"] > 0 and 0.1 < trained["class_accuracy"] <= 1.0
    assert summary["classifier_accuracy"] > 0.9 and summary["training_images"] == 898


def test_bad_option_is_a_clear_error(tmp_path, capsys):
    try:
        main(["blending", "--T", "0", "--quick", "--out", str(tmp_path)])
    except SystemExit as exit:
        assert exit.code == 2
    assert "error: T must be an integer in [1," in capsys.readouterr().err


def test_warm_compiles_without_error():
    blending.warm()
