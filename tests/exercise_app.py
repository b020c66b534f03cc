"""Drive every explorer view found in a namespace, as a teacher would: move its main control.

This file is appended as a final cell to each notebook by ``tests/test_notebooks.py`` and
runs inside the notebook's kernel, so it uses only explorer and the standard library.
"""

import hashlib

import numpy as np

from explorer.apps import App


def figure_fingerprint(figure) -> str:
    """A digest of every array in every trace of a plotly figure."""
    digest = hashlib.sha256()
    for trace in figure.data:
        for key in ("x", "y", "z", "r", "theta", "text"):
            value = getattr(trace, key, None) if key in trace else None
            if value is not None:
                digest.update(key.encode())
                array = np.asarray(value)
                digest.update(repr(value).encode() if array.dtype == object else array.tobytes())
    return digest.hexdigest()


def another_value(control):
    """A valid value of ``control`` different from its current one."""
    options = getattr(control, "options", None)
    if options:
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        return values[(values.index(control.value) + 1) % len(values)]
    if isinstance(control.value, bool):
        return not control.value
    step = getattr(control, "step", None) or 1
    if hasattr(control, "base"):  # FloatLogSlider: value = base ** exponent
        exponent = np.log(control.value) / np.log(control.base)
        exponent = exponent + step if exponent + step <= control.max else exponent - step
        return control.base ** exponent
    return control.value + step if control.value + step <= control.max else control.value - step


def exercise(app: App) -> None:
    app.wait()
    before = figure_fingerprint(app.figure)
    control = app.controls[app.primary_control]
    control.value = another_value(control)
    app.wait()
    assert "Traceback" not in app.status.value, app.status.value
    after = figure_fingerprint(app.figure)
    assert after != before, f"moving {app.primary_control!r} did not change the figure"


if __name__ == "__main__":  # true inside the notebook's kernel
    _apps = [value for value in list(globals().values()) if isinstance(value, App)]
    assert _apps, "the notebook displays no explorer view"
    for _app in _apps:
        exercise(_app)
    print(f"exercised {len(_apps)} view(s)")
