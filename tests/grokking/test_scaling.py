"""Li2's scaling sweep: the fits on known answers, the bisection on a known threshold, a tiny
real sweep (consistency, determinism, executors), stopping and validation."""

import math
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from explorer.grokking import (LI2_CONSTANT, GridPointResult, candidate_sizes,
                               combine_scaling_results, fit_power_law, fit_scaling_law,
                               group_order, scaling_sweep)

ORDERS = np.array([17.0, 23.0, 31.0, 41.0, 53.0, 71.0])


@pytest.mark.parametrize("law, shape", [("M log M", lambda m: m * np.log(m)), ("M", lambda m: m),
                                        ("M^2", lambda m: m * m)])
def test_fits_recover_the_constant_of_exact_data(law, shape):
    fit = fit_scaling_law(ORDERS, 3.5 * shape(ORDERS), law=law)
    assert fit.constant == pytest.approx(3.5, rel=1e-12)
    assert fit.stderr == pytest.approx(0.0, abs=1e-12) and fit.log_rms == pytest.approx(0, abs=1e-12)
    assert fit.points == len(ORDERS)


def test_the_true_law_fits_best_and_noise_sets_the_error():
    rng = np.random.default_rng(0)
    orders = np.repeat(ORDERS, 3)
    sizes = LI2_CONSTANT * orders * np.log(orders) * np.exp(0.05 * rng.standard_normal(orders.size))
    fits = {law: fit_scaling_law(orders, sizes, law) for law in ("M log M", "M", "M^2")}
    assert fits["M log M"].log_rms < fits["M"].log_rms < fits["M^2"].log_rms
    best = fits["M log M"]
    assert abs(best.constant - LI2_CONSTANT) < 3 * best.stderr
    assert best.stderr == pytest.approx(best.constant * 0.05 / math.sqrt(orders.size), rel=0.4)
    power = fit_power_law(orders, sizes)
    assert 1.0 < power.exponent < 1.5 and power.exponent_stderr > 0


def test_power_law_fit_is_exact_on_a_power_law():
    fit = fit_power_law(ORDERS, 0.7 * ORDERS**1.8)
    assert fit.exponent == pytest.approx(1.8, rel=1e-12)
    assert fit.prefactor == pytest.approx(0.7, rel=1e-10)
    assert fit.exponent_stderr == pytest.approx(0.0, abs=1e-10)


def test_fits_skip_censored_points_and_refuse_too_few():
    sizes = 2.0 * ORDERS * np.log(ORDERS)
    sizes[[1, 3]] = np.nan
    assert fit_scaling_law(ORDERS, sizes).points == 4
    with pytest.raises(ValueError, match="critical_sizes"):
        fit_scaling_law([17.0, 23.0], [np.nan, 40.0])
    with pytest.raises(ValueError, match="critical_sizes"):
        fit_scaling_law([17.0, 17.0], [30.0, 40.0])
    with pytest.raises(ValueError, match="law"):
        fit_scaling_law(ORDERS, sizes, law="M log log M")
    with pytest.raises(ValueError, match="critical_sizes"):
        fit_power_law(ORDERS, -sizes)


def test_candidates_refuse_bad_multipliers():
    with pytest.raises(ValueError, match="multipliers"):
        candidate_sizes("cyclic:11", [-1.0, 1.0])
    with pytest.raises(ValueError, match="group"):
        candidate_sizes("cyclic:1", [1.0, 2.0])


def test_candidates_are_c_m_log_m_clipped_and_increasing():
    sizes = candidate_sizes("cyclic:11", [0.5, 1.0, 1.0 + 1e-9, 4.0, 8.0])
    m_log_m = 11 * math.log(11)
    assert sizes.tolist() == [round(0.5 * m_log_m), round(m_log_m), round(4 * m_log_m),
                              math.floor(0.9 * 121)]


class ThresholdExecutor:
    """A stand-in executor: a run generalises exactly when its training set has at least
    ``needed[group]`` pairs; no training happens."""

    def __init__(self, needed):
        self.needed, self.sizes = needed, []

    def submit(self, function, config, threshold):
        size = round(config.train_fraction * config.p**2)
        self.sizes.append(size)
        future = Future()
        future.set_result(GridPointResult(10.0 if size >= self.needed[config.group] else np.nan,
                                          5.0, 1.0, False))
        return future


def test_bisection_brackets_a_known_threshold():
    needed = {"cyclic:17": 100, "cyclic:31": 400, "cyclic:53": 10}
    executor = ThresholdExecutor(needed)
    result = scaling_sweep(list(needed), seeds=[0, 1], executor=executor)
    assert result.done.all() and not result.stopped_early
    for g, group in enumerate(result.groups):
        candidates = result.candidates[g]
        above = candidates[candidates >= needed[group]]
        if group == "cyclic:53":  # even the smallest candidate generalises: censored below
            assert np.isnan(result.lower[g]).all() and result.censored[g].all()
            continue
        assert (result.upper[g] == above[0]).all()
        assert (result.lower[g] == candidates[candidates < needed[group]][-1]).all()
    assert np.isnan(result.critical_size[2]).all()
    assert result.critical_size[0, 0] == pytest.approx(math.sqrt(result.lower[0, 0] * result.upper[0, 0]))
    runs_per_bisection = math.ceil(math.log2(max(len(c) for c in result.candidates) + 1))
    assert len(result.run_size) <= 6 * runs_per_bisection
    assert sorted(executor.sizes) == sorted(result.run_size.tolist())


def test_unreachable_sizes_are_censored_above():
    result = scaling_sweep(["cyclic:17"], seeds=[0], executor=ThresholdExecutor({"cyclic:17": 10**6}))
    assert np.isnan(result.upper).all() and result.censored.all()
    assert result.lower[0, 0] == result.candidates[0][-1]


@pytest.fixture(scope="module")
def tiny_sweep():
    settings = {"groups": ["cyclic:7", "dihedral:4"], "seeds": [0, 1], "steps": 600,
                "multipliers": [0.5, 1.0, 2.0, 3.0, 4.0, 6.0], "width": 64, "lr": 1e-2,
                "eval_every": 20}
    return settings, scaling_sweep(**settings)


def test_tiny_real_sweep_is_consistent_with_its_runs(tiny_sweep):
    _, result = tiny_sweep
    assert result.orders.tolist() == [7, 8] and result.done.all()
    for g, s, size, steps in zip(result.run_group, result.run_seed, result.run_size, result.run_steps):
        if size <= np.nan_to_num(result.lower[g, s], nan=-1):
            assert np.isnan(steps)
        if size >= np.nan_to_num(result.upper[g, s], nan=np.inf):
            assert np.isfinite(steps) and steps <= result.steps
    assert result.settings["width"] == 64 and result.settings["activation"] == "quadratic"
    same = result
    assert result == same and isinstance(hash(result), int)


def test_tiny_sweep_gives_the_same_bits_on_a_thread_pool(tiny_sweep):
    settings, serial = tiny_sweep
    with ThreadPoolExecutor(2) as pool:
        pooled = scaling_sweep(**settings, executor=pool)
    order = np.lexsort((pooled.run_size, pooled.run_seed, pooled.run_group))
    reference = np.lexsort((serial.run_size, serial.run_seed, serial.run_group))
    for name in ("run_group", "run_seed", "run_size", "run_steps", "run_test_acc"):
        assert np.array_equal(getattr(pooled, name)[order], getattr(serial, name)[reference],
                              equal_nan=True)
    assert np.array_equal(pooled.lower, serial.lower, equal_nan=True)
    assert np.array_equal(pooled.upper, serial.upper, equal_nan=True)


def test_a_callback_stops_the_sweep():
    seen = []

    def stop_at_once(partial):
        seen.append(partial)
        return True

    result = scaling_sweep(["cyclic:7", "cyclic:11"], seeds=[0], steps=200, width=16,
                           callback=stop_at_once)
    assert result.stopped_early and not result.done.all()
    assert len(seen) == 1 and len(result.run_size) <= 1


@pytest.mark.parametrize("kwargs, error, name", [
    ({"groups": "cyclic:7"}, TypeError, "groups"), ({"groups": []}, ValueError, "groups"),
    ({"groups": ["cyclic:2"]}, ValueError, "group"), ({"seeds": [0, 0]}, ValueError, "seeds"),
    ({"seeds": [-1]}, ValueError, "seeds"), ({"seeds": [0.5]}, ValueError, "seeds"),
    ({"seeds": "0"}, TypeError, "seeds"), ({"steps": 0}, ValueError, "steps"),
    ({"steps": 10**7}, ValueError, "steps"), ({"threshold": 1.5}, ValueError, "threshold"),
    ({"multipliers": [2.0, 1.0]}, ValueError, "multipliers"),
    ({"multipliers": [1.0]}, ValueError, "multipliers"),
    ({"multipliers": np.linspace(1, 2, 65)}, ValueError, "multipliers"),
    ({"callback": 5}, TypeError, "callback"), ({"executor": 5}, TypeError, "executor"),
    ({"seed": 3}, ValueError, "seed"), ({"colour": 3}, ValueError, "colour"),
    ({"width": 0}, ValueError, "width"),
])
def test_bad_input_names_the_parameter_before_any_run(kwargs, error, name):
    with pytest.raises(error, match=name):
        scaling_sweep(**{"groups": ["cyclic:7"], **kwargs})


def test_group_orders_are_those_of_the_groups(tiny_sweep):
    _, result = tiny_sweep
    assert result.orders.tolist() == [group_order(g) for g in result.groups]


def test_combining_sweeps_equals_one_sweep_over_all_groups():
    needed = {"cyclic:31": 400, "cyclic:17": 100, "dihedral:12": 300, "cyclic:11": 50}
    whole = scaling_sweep(list(needed), seeds=[0, 1], executor=ThresholdExecutor(needed))
    parts = [scaling_sweep(groups, seeds=[0, 1], executor=ThresholdExecutor(needed))
             for groups in (["cyclic:31", "cyclic:17"], ["dihedral:12", "cyclic:11"])]
    combined = combine_scaling_results(parts)
    order = np.argsort(whole.orders)
    assert combined.groups == tuple(whole.groups[i] for i in order)
    assert combined.orders.tolist() == sorted(whole.orders.tolist())
    for name in ("lower", "upper", "done"):
        assert np.array_equal(getattr(combined, name), getattr(whole, name)[order], equal_nan=True)
    assert len(combined.run_size) == len(whole.run_size)
    for g, size in zip(combined.run_group, combined.run_size):  # runs point at their group
        assert size in combined.candidates[g]
    assert combined.fit().constant == pytest.approx(whole.fit().constant)


def test_combining_refuses_mismatched_sweeps():
    needed = {"cyclic:17": 100, "cyclic:31": 400}
    first = scaling_sweep(["cyclic:17"], seeds=[0], executor=ThresholdExecutor(needed))
    other_seeds = scaling_sweep(["cyclic:31"], seeds=[1], executor=ThresholdExecutor(needed))
    with pytest.raises(ValueError, match="results"):
        combine_scaling_results([first, other_seeds])
    with pytest.raises(ValueError, match="results"):
        combine_scaling_results([first, first])
    with pytest.raises(TypeError, match="results"):
        combine_scaling_results(first)
    with pytest.raises(TypeError, match="results"):
        combine_scaling_results([first, "sweep"])


def test_tiny_sweep_gives_the_same_numbers_on_dask(tiny_sweep):
    from dask.distributed import Client

    settings, serial = tiny_sweep
    with Client(processes=False, n_workers=1, threads_per_worker=2,
                dashboard_address=None) as client:
        on_dask = scaling_sweep(**settings, executor=client.get_executor())
    assert np.array_equal(on_dask.lower, serial.lower, equal_nan=True)
    assert np.array_equal(on_dask.upper, serial.upper, equal_nan=True)
    assert sorted(np.nan_to_num(on_dask.run_steps, nan=-1).tolist()) == sorted(
        np.nan_to_num(serial.run_steps, nan=-1).tolist())
