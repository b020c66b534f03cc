"""Same seed, same bits: across fresh processes, repeats, buffer alignments and thread counts.

Every public callable with a ``seed`` parameter (found from the ``__all__`` lists, as the
bad-input suite finds them) is called with its small baseline arguments:

- twice in one process, and with every array argument moved to a buffer shifted by 8 and 24
  bytes (a kernel whose result depends on where its data lies would differ);
- in two fresh processes, one with numba limited to 1 thread and one with 2.

A digest of every array and number in the result (wall times excluded) must be identical.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.reliability import registry
from tests.reliability.worker import arguments, call, parameters

ROOT = Path(__file__).resolve().parents[2]
#: result fields that measure time, not the computation
TIMING_FIELDS = {"seconds", "wall_time", "steps_per_second", "elapsed"}


#: callables seeded through a config or their settings (``TrainConfig.seed``, ``**settings``)
#: rather than by a parameter of their own
SEEDED_THROUGH_CONFIG = {"grokking.train_from_config", "grokking.run_grid_point", "grokking.sweep",
                         "grokking.comparison_run", "grokking.grokfast_comparison"}


def seeded_keys() -> list[str]:
    return [key for key in registry.discover()
            if ({"seed", "seeds", "minibatch_seed"} & set(parameters(key))
                or key in SEEDED_THROUGH_CONFIG)
            and not key.startswith("distributed.")]  # compared with the local scan in test_distributed


def digest(result, depth: int = 0) -> str:
    """A hash of every number in ``result``; fields that hold wall times are left out."""
    h = hashlib.sha256()
    _feed(h, result, depth)
    return h.hexdigest()[:16]


def _feed(h, value, depth):
    if depth > 8:
        return
    if isinstance(value, np.ndarray):
        h.update(str((value.dtype, value.shape)).encode())
        h.update(np.ascontiguousarray(value).tobytes() if value.dtype != object else repr(value).encode())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            if field.name not in TIMING_FIELDS:
                h.update(field.name.encode())
                _feed(h, getattr(value, field.name), depth + 1)
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _feed(h, value[key], depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _feed(h, item, depth + 1)
    elif isinstance(value, (int, float, complex, str, bool, np.number, type(None))):
        h.update(repr(value).encode())
    else:
        h.update(type(value).__name__.encode())


def shifted(array: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``array`` whose data starts ``offset`` bytes into a fresh buffer."""
    buffer = np.zeros(array.nbytes + 128, dtype=np.uint8)
    start = (-buffer.ctypes.data) % 64 + offset  # 64-byte aligned, then shifted
    view = buffer[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    view[...] = array
    return view


def digests_here(keys: list[str], threads: int | None) -> dict:
    """``{key: [digests...]}`` for a repeat and alignment shifts, in this process."""
    if threads is not None:
        import numba

        numba.set_num_threads(threads)
    found = {}
    for key in keys:
        args = arguments(key)
        runs = [digest(call(key, args)), digest(call(key, args))]
        for offset in (8, 24):
            moved = {name: shifted(value, offset) if isinstance(value, np.ndarray) and value.size
                     else value for name, value in args.items()}
            runs.append(digest(call(key, moved)))
        found[key] = runs
    return found


def digests_in_fresh_process(keys: list[str], threads: int) -> dict:
    code = ("import json, sys; from tests.reliability.test_determinism import digests_here; "
            f"print(json.dumps(digests_here({keys!r}, {threads})))")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True, timeout=1200).stdout
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fresh_digests():
    keys = seeded_keys()
    return keys, digests_in_fresh_process(keys, 1), digests_in_fresh_process(keys, 2)


def test_seeded_callables_are_found():
    keys = seeded_keys()
    assert {"fractal.make_problem", "grokking.train", "blending.train_deblender",
            "grokking.scaling_sweep", "grokking.grokfast_comparison"} <= set(keys)
    assert SEEDED_THROUGH_CONFIG <= set(registry.discover())


def test_same_bits_across_processes_repeats_alignments_and_threads(fresh_digests):
    keys, one_thread, two_threads = fresh_digests
    differing = []
    for key in keys:
        seen = set(one_thread[key]) | set(two_threads[key])
        if len(seen) != 1:
            differing.append(f"{key}: 1 thread {one_thread[key]}, 2 threads {two_threads[key]}")
    assert not differing, "\n".join(differing)


def test_fractal_scan_is_the_same_bits_in_fresh_processes():
    """The reported defect: this scan hashed differently across processes (reassoc)."""
    code = ("import hashlib; from explorer.fractal import scan, make_problem; "
            "m = scan(make_problem(width=2), (-2, 2), (-2, 2), resolution=12, steps=21).measure; "
            "print(hashlib.sha256(m.tobytes()).hexdigest())")
    hashes = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, text=True,
                             capture_output=True, timeout=600).stdout.strip() for _ in range(6)}
    assert len(hashes) == 1, hashes


def test_digest_sees_a_change_in_the_last_bit():
    a = np.array([1.0, 2.0])
    b = a.copy()
    b[1] = np.nextafter(b[1], 3.0)
    assert digest(a) != digest(b)
