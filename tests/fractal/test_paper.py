"""The paper's dimension measurement: zoom sequences, targets, the table, the cost model."""

import math

import numpy as np
import pytest

from explorer.fractal import (CONFIGURATIONS, PAPER_RANGE, boundary, find_zoom_target,
                              make_problem, paper_table, scan, scan_cost, steps_for_zoom,
                              useful_flops, zoom_dimension)
from tests.fractal import naive


def test_zoom_dimension_boxcounts_nested_windows_halving_in_width():
    problem = make_problem(width=3, seed=1)
    center = find_zoom_target(problem, 4, resolution=24, steps=30)
    assert center is not None
    result = zoom_dimension(problem, center, 4, resolution=24, steps=30)
    widths = [w.x_range[1] - w.x_range[0] for w in result.windows]
    np.testing.assert_allclose(widths, [9.0, 4.5, 2.25])
    for window in result.windows:
        assert np.mean(window.x_range) == pytest.approx(center[0])
    # the dimension is the median of every slope of every image (porespy's convention)
    last = scan(problem, *result.windows[-1], 24, 30).measure
    np.testing.assert_array_equal(last, result.last)
    np.testing.assert_allclose(result.slopes[-1], naive.porespy_boxcount(boundary(last))[2])
    assert result.dimension == pytest.approx(np.median(result.slopes[np.isfinite(result.slopes)]))
    assert result.dimension_min <= result.dimension_max


def test_the_zoom_target_stays_on_the_boundary():
    problem = make_problem(width=3, seed=1)
    target = find_zoom_target(problem, 64, resolution=24, steps=30)
    deep = zoom_dimension(problem, target, 64, resolution=24, steps=30)
    assert boundary(deep.last).any()  # still boundary in view 64 times closer


def test_paper_table_rows_hold_the_promised_attributes():
    table = paper_table(quick=True, configurations=["identity", "tanh_single_datapoint"],
                        resolution=24, zoom_depth=4)
    assert [row.configuration for row in table.rows] == ["identity", "tanh_single_datapoint"]
    for row in table.rows:
        assert (row.zoom_depth, row.resolution, row.width) == (4, 24, 8)
        assert row.steps == steps_for_zoom(4, 100)
        assert row.dimension_min <= row.dimension_max
        assert math.isfinite(row.dimension)
    assert table.paper_range == PAPER_RANGE
    assert "identity" in table.markdown() and table.as_dict()["rows"][0]["resolution"] == 24


@pytest.mark.parametrize("kwargs, name", [({"configurations": ["sigmoid"]}, "configurations"),
                                          ({"zoom_depth": 1}, "zoom_depth"),
                                          ({"resolution": 10}, "resolution"),
                                          ({"quick": "yes"}, "quick")])
def test_paper_table_refuses_bad_settings(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        paper_table(**kwargs)


def test_steps_grow_with_the_depth_of_zoom():
    assert steps_for_zoom(1, 100) == 100
    assert steps_for_zoom(1e4, 100) == 300
    assert steps_for_zoom(512, 100) > steps_for_zoom(64, 100) > 100


def test_useful_flops_count_the_matrix_work():
    problem = make_problem(width=16)
    n, d, w = 272, 16, 16
    assert useful_flops(problem, 10, 3) == 3 * 10 * (4 * n * d * w + 6 * n * w)
    assert useful_flops(problem, 10, 1, minibatch=16) == 10 * (2 * n * d * w + 2 * n * w
                                                              + 4 * 16 * d * w + 6 * 16 * w)


def test_scan_cost_predicts_the_order_of_magnitude():
    problem = make_problem(width=8)
    cost = scan_cost(problem, 32, 200)
    assert cost.flops == useful_flops(problem, 200, 32 * 32)
    result = scan(problem, (-6, -5), (-6, -5), 32, 200)  # all converge: every step is trained
    assert cost.seconds / 30 < result.seconds < cost.seconds * 30  # a shared, noisy machine


def test_every_configuration_builds_its_problem():
    for configuration in CONFIGURATIONS.values():
        problem = configuration.problem(width=4)
        assert problem.nonlinearity == configuration.nonlinearity
    assert CONFIGURATIONS["tanh_single_datapoint"].problem(16).X.shape == (1, 16)


def test_cli_paper_table_writes_markdown_json_and_a_contact_sheet(tmp_path, capsys):
    from explorer.__main__ import main

    assert main(["fractal", "--paper-table", "--quick", "--out", str(tmp_path),
                 "--table-configurations", "identity,tanh_single_datapoint",
                 "--table-resolution", "24", "--table-zoom", "4"]) == 0
    printed = capsys.readouterr().out
    assert "fractal_paper_table.md" in printed and len(printed.splitlines()) < 20
    table = (tmp_path / "fractal_paper_table.md").read_text()
    assert "identity (deep linear)" in table and "1.17" in table
    import json
    rows = json.loads((tmp_path / "fractal_paper_table.json").read_text())["rows"]
    assert [row["configuration"] for row in rows] == ["identity", "tanh_single_datapoint"]
    assert (tmp_path / "fractal.png").stat().st_size > 1000


def test_cli_configuration_flags_reach_the_scan(tmp_path):
    from explorer.__main__ import main
    import json

    assert main(["fractal", "--quick", "--out", str(tmp_path), "--configuration",
                 "tanh_single_datapoint", "--minibatch", "1", "--resolution", "8"]) == 0
    summary = json.loads((tmp_path / "fractal.json").read_text())
    assert summary["dataset_param_ratio"] == "single_datapoint" and summary["minibatch"] == 1
