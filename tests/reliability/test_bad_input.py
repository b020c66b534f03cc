"""Every public callable refuses bad input by name, or returns a finite (or flagged) result.

For every function, class and public method discovered from the subpackages' ``__all__``
(``tests/reliability/registry.py``), each parameter in turn is replaced by every value of the
battery (``tests/reliability/battery.py``: None, wrong types, NaN, +-inf, 0, -1, 1e308, 2**63,
non-integers, complex, empty, wrong shapes, read-only and strided arrays, unknown strings, ...)
and, in a second pass, by values hypothesis draws. The call runs in a worker process with a
timeout. The outcome must be a ``ValueError``/``TypeError`` whose message names the
parameter, or a result without unflagged NaN/inf whose ``==`` and ``hash`` do not raise.
Never another exception, a hang, a crash or a silent cast of complex to real.

The counts are written to ``tests/artifacts/reliability.json`` (the README quotes them).
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import battery, registry
from tests.reliability.worker import Worker, parameters

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "reliability.json"
WARM_TIMEOUT = 600.0  # the first call of each kernel may compile it
COUNTS: Counter = Counter()
KEYS = registry.discover()


@pytest.fixture(scope="module")
def worker():
    handle = Worker()
    yield handle
    handle.close()
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(dict(COUNTS), indent=2))


def test_every_public_callable_has_a_baseline():
    missing = [key for key in KEYS if key not in registry.baselines()]
    assert not missing, f"add a baseline to tests/reliability/registry.py for: {missing}"
    stale = [key for key in registry.baselines() if key not in KEYS]
    assert not stale, f"baselines of names no longer public: {stale}"


@pytest.mark.parametrize("key", KEYS)
def test_baseline_call_is_valid(worker, key):
    status, detail, _ = worker.ask((key, None, None), timeout=WARM_TIMEOUT)
    assert status == "ok", f"{key}: {detail}"


@pytest.mark.parametrize("key", KEYS)
def test_bad_values_are_refused_by_name_or_flagged(worker, key):
    bad = []
    for parameter in parameters(key):
        for value_key in battery.BATTERY:
            status, detail, seconds = worker.ask((key, parameter, value_key))
            COUNTS["cases"] += status != "skip"
            COUNTS[status] += 1
            COUNTS["seconds"] += seconds
            if status == "bad":
                bad.append(f"{parameter}={value_key}: {detail}")
    assert not bad, f"{key}:\n  " + "\n  ".join(bad)


def test_unknown_keyword_is_refused_by_name(worker):
    bad = []
    for key in KEYS:
        status, detail, _ = worker.ask((key, "no_such_parameter", None, 1))
        COUNTS["cases"] += 1
        if status != "refused":
            bad.append(f"{key}: {status} {detail}")
    assert not bad, "\n".join(bad)


@functools.cache
def numeric_parameters():
    """(key, parameter) pairs whose baseline value is a number or a small array."""
    pairs = []
    for key in KEYS:
        arguments = registry.baselines()[key]
        for parameter in parameters(key):
            value = arguments.get(parameter)
            if isinstance(value, (int, float, np.ndarray)) and not isinstance(value, bool):
                pairs.append((key, parameter))
    return pairs


_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0.0, -0.0, 5e-324, 1e-300, 1e150, 1e300, -1e300, 2**31, 2**53 + 1]),
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_hypothesis_numbers_are_refused_by_name_or_flagged(worker, data):
    key, parameter = data.draw(st.sampled_from(numeric_parameters()), label="parameter")
    baseline = registry.baselines()[key][parameter]
    if isinstance(baseline, np.ndarray):
        value = np.full(baseline.shape, data.draw(_numbers, label="fill"), dtype=np.float64) \
            if baseline.size else baseline
    else:
        value = data.draw(_numbers, label="value")
    status, detail, _ = worker.ask((key, parameter, None, value))
    COUNTS["cases"] += 1
    COUNTS[f"hypothesis {status}"] += 1
    assert status != "bad", f"{key}({parameter}={value!r}): {detail}"


def test_reliability_counts_are_recorded():
    """Runs last in this module: the counts of the cases above are kept for the README."""
    assert COUNTS["cases"] > 0 or not KEYS
    COUNTS["recorded_at"] = int(time.time())
