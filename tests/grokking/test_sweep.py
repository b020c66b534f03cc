"""The local sweep: grid layout, never-generalised points, purity of one grid point."""

import numpy as np
import pytest

from explorer.grokking import QUICK_SETTINGS, TrainConfig, grid_configs, run_grid_point, sweep

FIXED = {**QUICK_SETTINGS, "steps": 800, "eval_every": 20}
del FIXED["train_fraction"]


@pytest.fixture(scope="module")
def phase_diagram():
    return sweep({"weight_decay": [0.0, 1.0], "train_fraction": [0.4, 0.6]}, **FIXED)


def test_sweep_grid_axes_and_never_generalised_points(phase_diagram):
    result = phase_diagram
    assert result.names == ("weight_decay", "train_fraction")
    assert [v.tolist() for v in result.values] == [[0.0, 1.0], [0.4, 0.6]]
    assert result.steps_to_generalise.shape == (2, 2)
    assert np.isnan(result.steps_to_generalise[0]).all()  # no weight decay: never generalises
    assert np.isfinite(result.steps_to_generalise[1]).all()
    # more training data generalises sooner
    assert result.steps_to_generalise[1, 1] < result.steps_to_generalise[1, 0]
    assert np.isfinite(result.steps_to_memorise).all() and not result.diverged.any()
    assert result.fixed == FIXED and result.threshold == 0.95


def test_one_grid_point_is_a_pure_function_of_its_config(phase_diagram):
    config = TrainConfig(**FIXED, weight_decay=1.0, train_fraction=0.6)
    first, again = run_grid_point(config), run_grid_point(config)
    assert first == again
    assert first.steps_to_generalise == phase_diagram.steps_to_generalise[1, 1]
    assert first.final_test_acc >= 0.95


def test_grid_configs_are_row_major():
    configs = grid_configs({"lr": [1e-3, 1e-2], "seed": [0, 1, 2]}, p=7, width=4)
    assert [(c.lr, c.seed) for c in configs] == [(1e-3, 0), (1e-3, 1), (1e-3, 2),
                                                  (1e-2, 0), (1e-2, 1), (1e-2, 2)]


@pytest.mark.parametrize("grid, fixed, name", [
    ({}, {}, "param_grid"), ({"learning_rate": [0.1]}, {}, "learning_rate"), ({"lr": []}, {}, "lr"),
    ({"lr": [0.1]}, {"lr": 0.2}, "lr"), ({"weight_decay": [1.0, -1.0]}, {}, "weight_decay"),
    ({"lr": [0.1]}, {"seed": np.random.default_rng(0)}, "seed"), ({"lr": [0.1]}, {"colour": 1}, "colour"),
    ({"seed": [0, np.random.default_rng(0)]}, {}, "seed"), ({"seed": [0, 1.5]}, {}, "seed"),
    ({"seed": [0, -1]}, {}, "seed"), ({"group": ["cyclic:5", "dihedral:1"]}, {}, "group"),
    ({"lr": np.linspace(1e-3, 1e-2, 101), "seed": range(100)}, {}, "param_grid"),
])
def test_bad_grids_name_the_parameter_before_running(grid, fixed, name):
    with pytest.raises(ValueError, match=name):
        sweep(grid, steps=10**7, **fixed)  # would take hours if any point ran


@pytest.mark.parametrize("grid, name", [([("lr", [1])], "param_grid"), ({"lr": 0.1}, "lr"),
                                        ({"lr": "0.1"}, "lr")])
def test_wrong_grid_types_are_a_type_error(grid, name):
    with pytest.raises(TypeError, match=name):
        sweep(grid)


def test_callbacks_and_configs_are_checked_before_running():
    with pytest.raises(TypeError, match="progress"):
        sweep({"lr": [0.1]}, progress=5, steps=10**7)
    with pytest.raises(TypeError, match="config"):
        run_grid_point({"p": 5})


def test_sweep_results_compare_by_identity(phase_diagram):
    same = phase_diagram
    assert phase_diagram == same
    assert isinstance(hash(phase_diagram), int)


def test_groups_can_be_swept():
    calls = []
    result = sweep({"group": ["cyclic:5", "dihedral:3"]}, width=8, steps=20, eval_every=10,
                   progress=lambda done, total: calls.append((done, total)))
    assert result.values[0].tolist() == ["cyclic:5", "dihedral:3"]
    assert result.steps_to_memorise.shape == (2,)
    assert calls == [(1, 2), (2, 2)]


def test_bad_threshold_names_the_parameter():
    with pytest.raises(ValueError, match="threshold"):
        sweep({"lr": [0.1]}, threshold=0)
