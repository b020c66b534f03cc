"""The app toolkit: declared controls, validated defaults, pending settings, one background run."""

import threading
import time

import plotly.graph_objects as go
import pytest

from explorer.apps._base import App, Choice, Float, Int, IntBox, Log, Check, Toggle


class Demo(App):
    CONTROLS = {
        "steps": Int(21, 2000, 100),
        "scale": Float(0.0, 2.0, 1.0, step=0.1),
        "lr": Log(1e-4, 1e-1, 1e-3),
        "kind": Choice(("a", "b")),
        "show": Toggle(("accuracy", "loss")),
        "smooth": Check(False),
        "budget": IntBox(10, 10_000, 500, applies="run"),
    }
    PRIMARY = "steps"
    RUN_LABEL = "Train"

    def __init__(self, **defaults):
        self.previews = 0
        super().__init__(**defaults)

    def build_figure(self):
        return go.FigureWidget([go.Scatter(name="curve", x=[0], y=[0]), go.Scatter(name="marker")])

    def preview(self):
        self.previews += 1
        with self.figure.batch_update():
            self.trace("curve").y = [self.controls["steps"].value * self.controls["scale"].value]

    def run(self):
        budget = self.controls["budget"].value

        def work(run):
            for done in range(budget):
                if run.stopped:
                    return
                run.progress(done + 1, budget)
                time.sleep(0.001)
            self.mark_applied()

        return work


def test_defaults_are_validated_with_the_controls_name_and_range():
    with pytest.raises(ValueError, match=r"steps must be an integer in \[21, 2000\], got 5"):
        Demo(steps=5)
    with pytest.raises(ValueError, match=r"kind must be one of 'a', 'b'; got 'c'"):
        Demo(kind="c")
    with pytest.raises(TypeError, match="unknown setting.*stepz"):
        Demo(stepz=3)
    with pytest.raises(TypeError, match="smooth must be True or False"):
        Demo(smooth=1)
    assert Demo(lr=0.01).controls["lr"].value == pytest.approx(0.01)


def test_preview_controls_redraw_and_traces_are_found_by_name():
    app = Demo()
    app.controls["steps"].value = 200
    assert app.previews == 1 and list(app.trace("curve").y) == [200.0]
    with pytest.raises(KeyError, match="no trace named 'nope'"):
        app.trace("nope")


def test_quiet_suppresses_callbacks():
    app = Demo()
    app.set_values(steps=300, scale=0.5)
    assert app.previews == 0 and app.controls["steps"].value == 300


def test_errors_in_callbacks_become_one_line_messages_and_clear_on_a_good_input():
    app = Demo()
    app.preview = lambda: 1 / 0
    app.controls["steps"].value = 150
    assert "ZeroDivisionError" in app.status.value and "Traceback" not in app.status.value
    app.preview = lambda: None
    app.controls["steps"].value = 160
    assert app.status.value == ""


def test_run_settings_are_marked_pending_until_applied():
    app = Demo()
    app.toggle_run()
    assert app.wait(timeout=30)
    assert app.pending() == [] and app.applied_settings()["budget"] == 500
    app.controls["budget"].value = 50
    assert app.pending() == ["budget"]
    assert app.controls["budget"].description.endswith("\u2022")
    assert "press Train" in app.status.value
    app.toggle_run()
    app.wait()
    assert app.pending() == [] and not app.controls["budget"].description.endswith("\u2022")


def test_stop_ends_a_run_quickly_and_the_button_comes_back():
    app = Demo(budget=10_000)
    app.toggle_run()
    assert app.run_button.description == "Stop"
    time.sleep(0.05)
    started = time.perf_counter()
    app.toggle_run()  # the button reads Stop: this stops
    assert app.wait(timeout=5)
    assert time.perf_counter() - started < 1.0
    assert app.run_button.description == "Train" and app.progress.description == "stopped"


def test_only_one_run_at_a_time():
    app = Demo()
    gate = threading.Event()
    assert app.start(lambda run: gate.wait(5))
    assert not app.start(lambda run: None)
    gate.set()
    assert app.wait(timeout=5)


def test_a_failing_run_reports_a_message():
    app = Demo()

    def work(run):
        raise RuntimeError("boom")

    app.start(work)
    app.wait()
    assert "RuntimeError: boom" in app.status.value


def test_progress_is_throttled_but_the_bar_ends_at_the_last_report():
    """Each progress update is a message to the browser: a callback every millisecond must
    not send one each time, and the bar still shows where the run ended."""
    app = Demo(budget=400)
    updates = []
    app.progress.observe(lambda change: updates.append(change["new"]), names="value")
    app.toggle_run()
    assert app.wait(timeout=30)
    assert len(updates) < 400 / 10, f"{len(updates)} progress updates for 400 reports"
    assert app.progress.value == 1.0 and app.progress.description == "done"
    stopped = Demo(budget=10_000)
    stopped.toggle_run()
    time.sleep(0.35)
    stopped.stop()
    assert stopped.wait(timeout=30)
    shown = stopped.progress.value
    assert 0.0 < shown < 1.0 and stopped.progress.description == "stopped"
