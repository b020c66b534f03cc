"""``python -m explorer koopman``: the headline run, small."""

import argparse
import json

import matplotlib

matplotlib.use("Agg")

from explorer.cli import koopman  # noqa: E402


def test_headline_run_returns_a_figure_and_a_json_summary():
    parser = argparse.ArgumentParser()
    koopman.add_arguments(parser)
    args = parser.parse_args(["--samples", "1500", "--size", "30", "--grid", "12"])
    figure, summary = koopman.run(args)
    assert len(figure.axes) >= 3
    json.dumps(summary)
    assert summary["eigenvalues"] == 30 and 0 <= summary["verified"] <= 30
    assert summary["grid"] == [12, 12] and summary["pseudospectrum_min"] >= 0


def test_warm_compiles_without_error():
    koopman.warm()
