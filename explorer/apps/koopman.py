"""Koopman explorer view: a system's data, its EDMD spectrum checked by residuals, DMD, and
piecewise DMD on a reaction-diffusion field.

``build_koopman_app(**defaults)`` returns an :class:`App` whose one ``FigureWidget`` (3 x 3
subplots) is built once; every control recomputes a small preview and writes the new arrays
into the existing traces inside ``batch_update()``. The "render" button computes the
pseudospectrum on a fine grid in the background.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.apps._base import App
from explorer.koopman import (delay_embedding, dmd, duffing, edmd, fitzhugh_nagumo,
                              logistic_map, lorenz63, monomials, pendulum, pick_centers,
                              piece_boundaries, piecewise_dmd, pseudospectrum, radial_basis,
                              slow_manifold, van_der_pol)

__all__ = ["build_koopman_app", "SYSTEMS"]


@dataclass(frozen=True)
class SystemChoice:
    """How the view drives one system: its function, the parameter on the slider, sampling."""

    simulate: Callable
    parameter: str
    low: float
    high: float
    step: float
    value: float
    dt: float
    transient: float = 0.0
    options: dict = field(default_factory=dict)


SYSTEMS = {
    "van der pol": SystemChoice(van_der_pol, "mu", 0.0, 4.0, 0.1, 1.0, 0.1),
    "duffing": SystemChoice(duffing, "delta", 0.0, 1.0, 0.05, 0.5, 0.25),
    # librations only (energy below the separatrix at 2), sampled uniformly: an invariant set
    "pendulum": SystemChoice(pendulum, "damping", 0.0, 0.5, 0.02, 0.0, 0.1,
                             options={"max_energy": 1.8}),
    "slow manifold": SystemChoice(slow_manifold, "mu", -0.5, -0.01, 0.01, -0.05, 0.1),
    "lorenz63": SystemChoice(lorenz63, "rho", 0.5, 40.0, 0.5, 28.0, 0.02, 5.0),
    "logistic map": SystemChoice(logistic_map, "growth_rate", 2.5, 4.0, 0.05, 4.0, 1.0),
}
#: dictionary kinds, with the range and default of the size slider (degree or centers)
DICTIONARIES = {"monomials": (1, 8, 4), "gaussian rbf": (5, 150, 40),
                "thin-plate rbf": (5, 150, 40)}
_PREVIEW_GRID = 41
_PREVIEW_WORK = 1500  # preview grid side times dictionary size
_RENDER_GRID = 121
_DELAYS = 40
PIECEWISE_RANK = 8  # modes per piece of the reaction-diffusion field


def _simulate(name, parameter, steps, trajectories, noise, seed=0):
    choice = SYSTEMS[name]
    options = dict(steps=steps, trajectories=trajectories, noise=noise, seed=seed,
                   **choice.options)
    if choice.simulate is not logistic_map:
        options.update(dt=choice.dt, transient=choice.transient)
    return choice.simulate(**{choice.parameter: parameter}, **options)


def _dictionary(kind, size, X, seed=0):
    if kind == "monomials":
        return monomials(size)
    centers = pick_centers(X, min(size, X.shape[1]), seed=seed)
    width = float(np.mean(np.std(X, axis=1))) or 1.0
    return radial_basis(centers, width=width, kind="gaussian" if kind == "gaussian rbf" else "thin_plate")


def _phase_portrait(states):
    """Coordinates to draw from (n_traj, n_state, T) states, trajectories separated by NaN.

    ``(x1, x_last)`` for flows (``(x, x')``, or ``(x, z)`` for Lorenz); ``(x_k, x_{k+1})`` for
    a one-dimensional map.
    """
    if states.shape[1] > 1:
        horizontal, vertical = states[:, 0, :], states[:, -1, :]
    else:
        horizontal, vertical = states[:, 0, :-1], states[:, 0, 1:]
    gap = np.full((states.shape[0], 1), np.nan)
    return (np.concatenate([horizontal, gap], axis=1).ravel(),
            np.concatenate([vertical, gap], axis=1).ravel())


def _grid(points):
    """A square grid of the complex plane around the unit disc: (axis (p,), z (p, p))."""
    axis = np.linspace(-1.5, 1.5, points)
    return axis, axis[None, :] + 1j * axis[:, None]


def _unit_circle():
    angle = np.linspace(0, 2 * np.pi, 200)
    return np.cos(angle), np.sin(angle)


def _build_figure():
    figure = go.FigureWidget(make_subplots(
        rows=3, cols=3, vertical_spacing=0.09, horizontal_spacing=0.09,
        subplot_titles=("trajectories", "EDMD eigenvalues", "pseudospectrum log10 tau",
                        "residual per eigenpair", "Hankel-DMD of x1", "mode amplitudes",
                        "FitzHugh-Nagumo u(x, t)", "piecewise DMD", "error vs pieces")))
    circle_x, circle_y = _unit_circle()
    add = figure.add_trace
    add(go.Scattergl(mode="lines", line=dict(width=1), name="trajectories"), 1, 1)
    add(go.Scatter(x=circle_x, y=circle_y, mode="lines", line=dict(color="#999", width=1),
                   hoverinfo="skip", name="unit circle"), 1, 2)
    add(go.Scatter(mode="markers", name="verified", marker=dict(
        size=8, colorscale="Viridis", cmin=-12, cmax=0, showscale=True,
        colorbar=dict(title="log10<br>residual", len=0.3, y=0.86, x=1.02))), 1, 2)
    add(go.Scatter(mode="markers", name="spurious", marker=dict(
        symbol="x", size=8, color="#d62728")), 1, 2)
    add(go.Contour(contours=dict(start=-3, end=0, size=0.5, coloring="lines"),
                   colorscale="Blues_r", showscale=False, name="log10 tau"), 1, 3)
    add(go.Scatter(mode="markers", marker=dict(size=5, color="#d62728"), name="eigs"), 1, 3)
    add(go.Bar(name="residual", marker_color="#1f77b4"), 2, 1)
    add(go.Scatter(mode="lines", line=dict(color="#d62728", dash="dash"), name="tol"), 2, 1)
    add(go.Scatter(mode="lines", name="data", line=dict(color="#333")), 2, 2)
    add(go.Scatter(mode="lines", name="DMD", line=dict(color="#ff7f0e", dash="dot")), 2, 2)
    add(go.Scatter(mode="markers", name="|b| |mode|", marker=dict(color="#2ca02c")), 2, 3)
    add(go.Heatmap(colorscale="RdBu", showscale=False, name="u"), 3, 1)
    add(go.Heatmap(colorscale="RdBu", showscale=False, name="reconstruction"), 3, 2)
    add(go.Scatter(mode="lines+markers", name="error"), 3, 3)
    for column in (2, 3):
        figure.update_xaxes(range=[-1.5, 1.5], row=1, col=column)
        figure.update_yaxes(range=[-1.5, 1.5], scaleanchor=f"x{column}", row=1, col=column)
    figure.update_yaxes(type="log", row=2, col=1)
    figure.update_yaxes(type="log", row=3, col=3)
    figure.update_xaxes(title_text="frequency (rad / time)", row=2, col=3)
    figure.update_xaxes(title_text="pieces", row=3, col=3)
    figure.update_layout(width=980, height=1000, showlegend=False,
                         margin=dict(l=40, r=80, t=40, b=30))
    figure.update_annotations(font_size=13)
    return figure


def build_koopman_app(**defaults) -> App:
    """The Koopman explorer view.

    Parameters
    ----------
    **defaults
        Initial control values by name: ``system`` (one of :data:`SYSTEMS`), ``parameter``,
        ``steps``, ``trajectories``, ``noise``, ``dictionary`` (one of "monomials",
        "gaussian rbf", "thin-plate rbf"), ``size`` (degree or number of centers), ``rank``
        (Hankel-DMD rank), ``tolerance`` (residual below which an eigenvalue is verified),
        ``pieces``; plus ``field_grid`` and ``field_steps`` for the FitzHugh-Nagumo field.

    Returns
    -------
    App
        ``primary_control`` is "system".
    """
    system = defaults.get("system", "van der pol")
    choice = SYSTEMS[system]
    controls = {
        "system": widgets.Dropdown(options=list(SYSTEMS), value=system, description="system"),
        "parameter": widgets.FloatSlider(
            min=choice.low, max=choice.high, step=choice.step,
            value=defaults.get("parameter", choice.value), description=choice.parameter,
            continuous_update=False),
        "steps": widgets.IntSlider(min=20, max=1000, step=10, value=defaults.get("steps", 200),
                                   description="steps", continuous_update=False),
        "trajectories": widgets.IntSlider(min=1, max=50, value=defaults.get("trajectories", 10),
                                          description="trajectories", continuous_update=False),
        "noise": widgets.FloatSlider(min=0.0, max=0.2, step=0.005,
                                     value=defaults.get("noise", 0.0), description="noise",
                                     readout_format=".3f", continuous_update=False),
        "dictionary": widgets.Dropdown(options=list(DICTIONARIES),
                                       value=defaults.get("dictionary", "monomials"),
                                       description="dictionary"),
        "size": widgets.IntSlider(min=1, max=150, value=defaults.get("size", 4),
                                  description="dict. size", continuous_update=False),
        "rank": widgets.IntSlider(min=1, max=_DELAYS, value=defaults.get("rank", 10),
                                  description="DMD rank", continuous_update=False),
        "tolerance": widgets.FloatLogSlider(min=-10, max=0, step=0.5,
                                            value=defaults.get("tolerance", 1e-3),
                                            description="residual tol", continuous_update=False),
        "pieces": widgets.IntSlider(min=1, max=20, value=defaults.get("pieces", 4),
                                    description="pieces", continuous_update=False),
    }
    render = widgets.Button(description="render pseudospectrum", icon="paint-brush")
    figure = _build_figure()
    rows = [widgets.HBox([controls[k] for k in ("system", "parameter", "steps", "trajectories")]),
            widgets.HBox([controls[k] for k in ("noise", "dictionary", "size", "rank")]),
            widgets.HBox([controls["tolerance"], render, controls["pieces"]])]
    app = App([*rows, figure], figure=figure, controls=controls, primary_control="system")
    view = _KoopmanView(app, defaults)
    controls["system"].observe(app.guarded(view.on_system), names="value")
    for name in ("parameter", "steps", "trajectories", "noise"):
        controls[name].observe(app.guarded(view.on_data), names="value")
    controls["dictionary"].observe(app.guarded(view.on_dictionary), names="value")
    controls["size"].observe(app.guarded(view.on_analysis), names="value")
    controls["rank"].observe(app.guarded(view.on_rank), names="value")
    controls["tolerance"].observe(app.guarded(view.on_tolerance), names="value")
    controls["pieces"].observe(app.guarded(view.on_pieces), names="value")
    render.on_click(app.guarded(lambda _: app.start(view.render_pseudospectrum)))
    view.on_data()
    view.on_pieces()
    return app


def _set_slider(slider, low, high, value, step=None, description=None):
    """Move a slider to a new range and value (widening first so no bound clamps the value)."""
    slider.min, slider.max = min(slider.min, low), max(slider.max, high)
    slider.value = value
    slider.min, slider.max = low, high
    if step is not None:
        slider.step = step
    if description is not None:
        slider.description = description


class _KoopmanView:
    """The state behind the view: current snapshots and EDMD result, and the trace updates."""

    def __init__(self, app: App, defaults: dict):
        self.app = app
        self.controls = app.controls
        self.data = None
        self.result = None
        self.axis = self.tau = None  # the pseudospectrum grid axis (p,) and tau (p, p)
        self.quiet = False
        self.field = fitzhugh_nagumo(n_grid=defaults.get("field_grid", 64),
                                     steps=defaults.get("field_steps", 200), dt=1.0, seed=0)

    def value(self, name):
        return self.controls[name].value

    @contextmanager
    def quietly(self):
        """Change controls without each change triggering its own recompute."""
        self.quiet = True
        try:
            yield
        finally:
            self.quiet = False

    def on_system(self, _change=None):
        choice = SYSTEMS[self.value("system")]
        with self.quietly():
            _set_slider(self.controls["parameter"], choice.low, choice.high, choice.value,
                        choice.step, choice.parameter)
        self.on_data()

    def on_dictionary(self, _change=None):
        low, high, value = DICTIONARIES[self.value("dictionary")]
        with self.quietly():
            _set_slider(self.controls["size"], low, high, value)
        self.on_analysis()

    def on_data(self, _change=None):
        if self.quiet:
            return
        self.data = _simulate(self.value("system"), self.value("parameter"), self.value("steps"),
                              self.value("trajectories"), self.value("noise"))
        x, y = _phase_portrait(self.data.states)
        with self.app.figure.batch_update():
            trace = self.app.figure.data[0]
            trace.x, trace.y = x, y
            trace.mode = "lines" if self.data.states.shape[1] > 1 else "markers"
        self.on_analysis()

    def _finite_pairs(self):
        X, Y = self.data.X, self.data.Y
        keep = np.all(np.isfinite(X), axis=0) & np.all(np.isfinite(Y), axis=0)
        return X[:, keep], Y[:, keep]

    def on_analysis(self, _change=None):
        if self.quiet:
            return
        X, Y = self._finite_pairs()
        dictionary = _dictionary(self.value("dictionary"), self.value("size"), X)
        self.result = edmd(X, Y, dictionary, dt=self.data.dt)
        # a coarser preview grid for larger dictionaries keeps a recompute near 200 ms
        side = int(np.clip(_PREVIEW_WORK / max(self.result.rank, 1), 15, _PREVIEW_GRID))
        self.axis, grid = _grid(side)
        self.tau = pseudospectrum(self.result, grid)
        self.on_tolerance()
        self.on_rank()

    def on_tolerance(self, _change=None):
        """Recolour the eigenvalues (verified or spurious) without recomputing anything."""
        self._draw_spectrum()
        verified = self.result.verified_eigs(self.value("tolerance")).size
        diverged = "; a trajectory diverged, its finite part is used" if self.data.diverged else ""
        self.app.show_message(f"{self.result.eigs.size} EDMD eigenvalues, {verified} verified "
                              f"(residual <= {self.value('tolerance'):.1e}){diverged}")

    def _draw_spectrum(self):
        eigs, residuals = self.result.eigs, self.result.residuals
        good = residuals <= self.value("tolerance")
        figure = self.app.figure
        with figure.batch_update():
            figure.data[2].x, figure.data[2].y = eigs.real[good], eigs.imag[good]
            figure.data[2].marker.color = np.log10(np.maximum(residuals[good], 1e-16))
            figure.data[3].x, figure.data[3].y = eigs.real[~good], eigs.imag[~good]
            figure.data[4].x, figure.data[4].y = self.axis, self.axis
            figure.data[4].z = np.log10(np.maximum(self.tau, 1e-16))
            figure.data[5].x, figure.data[5].y = eigs.real, eigs.imag
            figure.data[6].x = np.arange(residuals.size)
            figure.data[6].y = np.maximum(np.sort(residuals), 1e-16)
            figure.data[7].x = [0, residuals.size]
            figure.data[7].y = [self.value("tolerance")] * 2

    def on_rank(self, _change=None):
        """Hankel DMD of the first coordinate of the first trajectory, at the chosen rank."""
        series = self.data.states[0, :1]
        series = series[:, np.all(np.isfinite(series), axis=0)]
        delays = min(_DELAYS, max(series.shape[1] // 2, 1))
        hankel = delay_embedding(series, delays)
        rank = min(self.value("rank"), *hankel[:, :-1].shape)
        fit = dmd(hankel[:, :-1], hankel[:, 1:], rank, dt=self.data.dt)
        reconstruction = fit.reconstruct(hankel.shape[1])[0].real
        error = np.linalg.norm(reconstruction - hankel[0]) / max(np.linalg.norm(hankel[0]), 1e-300)
        weight = np.abs(fit.amplitudes) * np.linalg.norm(fit.modes, axis=0)
        figure = self.app.figure
        with figure.batch_update():
            time = self.data.times[:hankel.shape[1]]
            figure.data[8].x, figure.data[8].y = time, hankel[0]
            figure.data[9].x, figure.data[9].y = time, reconstruction
            figure.data[10].x, figure.data[10].y = fit.continuous_eigs.imag, weight
            figure.layout.annotations[4].text = f"Hankel-DMD of x1, error {error:.1e}"

    def on_pieces(self, _change=None):
        field = self.field.states[0, :self.field.grid.size]
        pieces = self.value("pieces")
        # a DMD with as many modes as a short piece has transitions interpolates it, and
        # its reconstruction explodes; keep the rank well below the piece length
        shortest = int(np.diff(piece_boundaries(field.shape[1], pieces)).min())
        rank = max(1, min(PIECEWISE_RANK, shortest // 2))
        fit = piecewise_dmd(field, pieces, rank=rank, dt=self.field.dt)
        figure = self.app.figure
        with figure.batch_update():
            figure.data[11].z = field
            figure.data[12].z = fit.reconstruction
            figure.data[13].x = np.arange(1, fit.n_pieces + 1)
            figure.data[13].y = fit.errors_by_pieces
            figure.layout.annotations[7].text = (f"{fit.n_pieces}-piece DMD, error "
                                                 f"{fit.error:.1e}")

    def render_pseudospectrum(self):
        self.app.show_message("rendering the pseudospectrum ...")
        self.axis, grid = _grid(_RENDER_GRID)
        self.tau = pseudospectrum(self.result, grid)
        self._draw_spectrum()
        self.app.show_message(f"pseudospectrum on {_RENDER_GRID} x {_RENDER_GRID} points")
