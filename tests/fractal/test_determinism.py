"""Same inputs, same bits: across processes, buffer alignments and numba thread counts.

The scan once hashed differently across fresh processes: with LLVM's ``reassoc`` flag a
vectorised sum and its scalar fallback (chosen by a run-time pointer check) added in
different orders. These tests pin the promise down.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from explorer.fractal import Problem, make_problem, scan

ROOT = Path(__file__).resolve().parents[2]
CASES = {  # the reported case, then one per code path (minibatch, relu, drift, one data point)
    "reported": dict(width=2, scan={"x_range": (-2, 2), "y_range": (-2, 2), "resolution": 12,
                                    "steps": 21}),
    "minibatch": dict(width=8, scan={"x_range": (-1, 2), "y_range": (-1, 2), "resolution": 10,
                                     "steps": 40, "minibatch": 16, "minibatch_seed": 3}),
    "relu": dict(width=6, nonlinearity="relu",
                 scan={"x_range": (-1, 2), "y_range": (-1, 2), "resolution": 9, "steps": 30}),
    "drift": dict(width=5, scan={"x_range": (-2, 1), "y_range": (-2, 1), "resolution": 7,
                                 "steps": 30, "phase_space": "paraminit_vs_lr"}),
    "single_datapoint": dict(width=16, dataset_param_ratio="single_datapoint",
                             scan={"x_range": (-1, 3), "y_range": (-1, 3), "resolution": 8,
                                   "steps": 60}),
}
PROBE = """
import hashlib, json, sys
from explorer.fractal import make_problem, scan
cases = json.loads(sys.argv[1])
out = {}
for name, case in cases.items():
    case = dict(case)
    options = case.pop("scan")
    measure = scan(make_problem(**case), **options).measure
    out[name] = hashlib.sha1(measure.tobytes()).hexdigest()
print(json.dumps(out))
"""


def _digest(measure):
    return hashlib.sha1(np.ascontiguousarray(measure).tobytes()).hexdigest()


def _run_case(case, problem=None):
    case = dict(case)
    options = case.pop("scan")
    return scan(problem if problem is not None else make_problem(**case), **options).measure


def _fresh_process(threads=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "random"}
    if threads is not None:
        env["NUMBA_NUM_THREADS"] = str(threads)
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(CASES)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fresh_processes_and_thread_counts_give_the_same_bits():
    here = {name: _digest(_run_case(case)) for name, case in CASES.items()}
    runs = [_fresh_process(), _fresh_process(), _fresh_process(threads=1),
            _fresh_process(threads=2)]
    for run in runs:
        assert run == here


@pytest.mark.parametrize("offset", [8, 16, 24])
def test_buffer_alignment_does_not_change_a_bit(offset):
    """The problem's arrays placed at byte offsets 8, 16, 24 from a 64-byte boundary."""
    def shifted(array):
        buffer = np.empty(array.size + 16)
        start = (-buffer.ctypes.data % 64 + offset) // 8
        view = buffer[start:start + array.size].reshape(array.shape)
        view[...] = array
        return view

    for name, case in CASES.items():
        base = make_problem(**{k: v for k, v in case.items() if k != "scan"})
        problem = Problem(shifted(base.X), shifted(base.Y), shifted(base.W1), shifted(base.W2),
                          base.nonlinearity)
        assert all(a.ctypes.data % 64 == offset for a in (problem.X, problem.Y, problem.W1,
                                                          problem.W2)), "arrays were copied"
        np.testing.assert_array_equal(_run_case(case, problem), _run_case(case, base), err_msg=name)


def test_thread_counts_in_one_process_give_the_same_bits():
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = {name: _run_case(case) for name, case in CASES.items()}
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        for name, case in CASES.items():
            np.testing.assert_array_equal(_run_case(case), single[name], err_msg=name)
            np.testing.assert_array_equal(_run_case(case), single[name], err_msg=name)  # repeat
    finally:
        numba.set_num_threads(previous)
