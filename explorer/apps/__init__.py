"""Widget views, one per topic: the only part of explorer that imports ipywidgets or plotly.

Each ``build_<topic>_app(**defaults)`` returns an :class:`App` (an ``ipywidgets.VBox``) that
owns one figure built once; controls recompute a result and write new arrays into the
existing traces. Import the topic module you need, e.g.
``from explorer.apps.fractal import build_fractal_app``.
"""

from explorer.apps._base import App

__all__ = ["App"]
