"""Scans and sweeps on a 2-worker LocalCluster equal the local runs exactly, even when a worker dies."""

import os
import signal

import numpy as np
import pytest

from explorer import distributed
from explorer.fractal import make_problem, scan

distributed_module = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    with distributed_module.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                         dashboard_address=None) as cluster:
        with distributed_module.Client(cluster) as client:
            yield client


@pytest.mark.parametrize("phase_space", ["lr_vs_lr", "paraminit_vs_lr"])
def test_tiled_scan_equals_local_scan_bit_for_bit(client, phase_space):
    problem = make_problem(width=4, seed=3)
    window = dict(x_range=(-2, 3), y_range=(-1, 4), resolution=(37, 29), steps=30, phase_space=phase_space)
    arrived = []
    tiled = distributed.scan(problem, **window, client=client, tile=16,
                             on_tile=lambda rows, cols, measure: arrived.append((rows, cols)))
    local = scan(problem, **window)
    np.testing.assert_array_equal(tiled.measure, local.measure)
    np.testing.assert_array_equal(tiled.diverged, local.diverged)
    np.testing.assert_array_equal(tiled.x, local.x)
    assert len(arrived) == len(distributed.tiles(local.measure.shape, 16)) == 3 * 2


def test_tiles_cover_the_grid_once():
    cover = np.zeros((29, 37), int)
    for rows, cols in distributed.tiles(cover.shape, 8):
        cover[rows, cols] += 1
    assert (cover == 1).all()


def test_cancelled_scan_reports_its_finished_part(client):
    problem = make_problem(width=4)
    with pytest.raises(distributed.Cancelled) as caught:
        distributed.scan(problem, resolution=32, steps=30, client=client, tile=8, should_stop=lambda: True)
    partial = caught.value.measure
    assert np.isnan(partial).any() and np.isfinite(partial).any()
    finished = np.isfinite(partial)
    np.testing.assert_array_equal(partial[finished], scan(problem, resolution=32, steps=30).measure[finished])


def test_a_worker_killed_mid_run_still_yields_the_full_result(client):
    problem = make_problem(width=6, seed=1)
    window = dict(x_range=(-1, 4), y_range=(-1, 4), resolution=48, steps=200)
    killed = []

    def kill_one_worker(rows, cols, measure):
        if not killed:
            pid_by_worker = client.run(os.getpid)
            victim = sorted(pid_by_worker)[0]
            os.kill(pid_by_worker[victim], signal.SIGKILL)
            killed.append(victim)

    tiled = distributed.scan(problem, **window, client=client, tile=8, on_tile=kill_one_worker)
    assert killed
    np.testing.assert_array_equal(tiled.measure, scan(problem, **window).measure)


def test_bad_tile_is_rejected_before_any_cluster_starts():
    with pytest.raises(ValueError, match="tile"):
        distributed.scan(make_problem(width=2), resolution=8, steps=21, tile=2)
    with pytest.raises(ValueError, match="steps"):
        distributed.scan(make_problem(width=2), resolution=8, steps=3)


def test_sweep_equals_sequential_runs(client):
    from explorer.grokking import sweep

    grid = {"weight_decay": [0.0, 1.0], "train_fraction": [0.4, 0.6]}
    fixed = dict(p=23, width=48, lr=1e-2, steps=300, eval_every=10, seed=2)
    arrived = []
    parallel = distributed.sweep(grid, client=client, on_point=lambda i, o: arrived.append(i), **fixed)
    sequential = sweep(grid, **fixed)
    assert sorted(arrived) == [0, 1, 2, 3]
    for name in ("steps_to_generalise", "steps_to_memorise", "final_test_acc", "diverged"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(sequential, name))
    assert parallel.names == sequential.names and parallel.fixed == sequential.fixed
    assert np.isfinite(sequential.steps_to_memorise).all()  # the grid is not trivially empty


def test_sweep_validates_the_whole_grid_first():
    with pytest.raises(ValueError, match="weight_decay"):
        distributed.sweep({"weight_decay": [0.0, -1.0]}, p=11, width=8, steps=10)
