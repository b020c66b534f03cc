"""The timing rules of ``measure.time_moves`` and ``check_previews``, without a browser."""

from __future__ import annotations

import pytest

from tests.browser import measure


class _Drawn:
    def __init__(self, milliseconds: float):
        self.milliseconds = milliseconds

    def json_value(self) -> dict:
        return {"input": 100.0, "drawn": 100.0 + self.milliseconds}


class _Page:
    """Answers each move with the next preview time of ``times`` (ms)."""

    def __init__(self, times):
        self.times = iter(times)

    def evaluate(self, *_args):
        return None

    def wait_for_function(self, *_args, **_kwargs):
        return _Drawn(next(self.times))


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(measure, "wait_until_idle", lambda view: False)
    monkeypatch.setattr(measure, "wait_until_stable", lambda page, path, index: None)


def _timed(times):
    return measure.time_moves(_Page(times), None, None, 0, lambda view: "slider", moves=3)


def test_a_fast_round_is_judged_alone():
    timing = _timed([300, 2000, 400])
    assert timing["preview_ms"] == [300, 2000, 400]
    assert timing["slow_rounds_ms"] == []
    measure.check_previews("fast", [timing])


def test_a_slow_round_is_timed_again_and_the_new_round_is_judged():
    timing = _timed([1500, 300, 1800, 350, 300, 420])
    assert timing["preview_ms"] == [350, 300, 420]
    assert timing["slow_rounds_ms"] == [[1500, 300, 1800]]
    measure.check_previews("once slow", [timing])


def test_a_view_slow_in_every_round_fails_and_the_message_shows_every_round():
    timing = _timed([1500, 300, 1800, 1200, 1300, 200])
    assert timing["median_ms"] == 1200
    message = r"median 1200 ms \[1200.0, 1300.0, 200.0\], after \[1500.0, 300.0, 1800.0\]"
    with pytest.raises(AssertionError, match=message):
        measure.check_previews("slow", [timing])
