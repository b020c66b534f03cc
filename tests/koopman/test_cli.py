"""``python -m explorer koopman``: the headline run, small."""

import json

import matplotlib

matplotlib.use("Agg")

from explorer.__main__ import build_parser  # noqa: E402
from explorer.cli import koopman  # noqa: E402


def test_headline_run_returns_a_figure_and_a_json_summary():
    args = build_parser().parse_args(["koopman", "--samples", "1500", "--size", "30", "--grid", "12"])
    figure, summary = koopman.run(args)
    assert len(figure.axes) >= 3
    json.dumps(summary)
    assert summary["eigenvalues"] == 30 and 0 <= summary["verified"] <= 30
    assert summary["grid"] == [12, 12] and summary["pseudospectrum_min"] >= 0


def test_warm_compiles_without_error():
    koopman.warm()
