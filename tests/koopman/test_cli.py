"""``python -m explorer koopman``: the headline run, small."""

import json

import matplotlib

matplotlib.use("Agg")

from explorer.__main__ import build_parser
from explorer.cli import koopman
from explorer.koopman import SYSTEMS


def test_headline_run_returns_a_figure_and_a_json_summary():
    args = build_parser().parse_args(["koopman", "--samples", "1500", "--size", "30", "--grid", "12"])
    figure, summary = koopman.run(args)
    assert len(figure.axes) >= 3
    json.dumps(summary)
    assert summary["eigenvalues"] == 30 and 0 <= summary["verified"] <= 30
    assert summary["grid"] == [12, 12] and summary["pseudospectrum_min"] >= 0
    # the pendulum is unitary: certified points sit within their error of the circle
    assert summary["largest_distance_to_circle"] <= summary["largest_certified_error"] + 0.05


def test_the_command_line_uses_the_shared_systems_table():
    args = build_parser().parse_args(["koopman", "--system", "gauss map", "--samples", "60",
                                      "--size", "20", "--grid", "31"])
    figure, summary = koopman.run(args)
    assert summary["dictionary"].startswith("legendre") and summary["verified_spectrum"] >= 2
    assert args.system in SYSTEMS


def test_warm_compiles_without_error():
    koopman.warm()
