"""The Koopman view's figure: nine panels built once, and the functions that redraw them.

Every redraw writes a trace's data *and its full style* (marker symbol, colour, size): an
in-place update of only some marker properties could blank the colours of other traces (the
spurious eigenvalues lost their red crosses that way). Traces are found by name.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

RED = "#d62728"
BLUE = "#1f4e9c"
#: log10 tau contour levels of the pseudospectrum panel (labelled lines)
TAU_LEVELS = dict(start=-3.0, end=0.0, size=0.5)
RESIDUAL_RANGE = (-12.0, 0.0)  # log10 residual colour range of the eigenvalue markers
TITLES = ("trajectories", "EDMD eigenvalues (colour: log10 residual)", "pseudospectrum log10 tau",
          "residual per eigenpair", "Hankel-DMD of x1", "mode amplitudes",
          "FitzHugh-Nagumo u(x, t)", "piecewise DMD", "error vs pieces")
TITLE_NAMES = ("title trajectories", "title eigenvalues", "title pseudospectrum",
               "title residuals", "title hankel", "title amplitudes", "title field",
               "title piecewise", "title pieces")


def colorbar_beside(figure, column: int, title: str) -> dict:
    """A colour bar just right of the first-row panel in ``column`` (not of the figure)."""
    x_domain = figure.layout[f"xaxis{column}"].domain
    y_domain = figure.layout[f"yaxis{column}"].domain
    return dict(title=dict(text=title, side="right"), x=x_domain[1] + 0.005, xanchor="left",
                y=(y_domain[0] + y_domain[1]) / 2, len=y_domain[1] - y_domain[0], thickness=10)


def verified_marker(log_residuals, colorbar: dict) -> dict:
    """Full marker style of the verified eigenvalues (colour = log10 residual)."""
    return dict(symbol="circle", size=8, color=log_residuals, colorscale="Viridis",
                cmin=RESIDUAL_RANGE[0], cmax=RESIDUAL_RANGE[1], showscale=True,
                line=dict(color="#333", width=0.5), colorbar=colorbar)


def spurious_marker() -> dict:
    return dict(symbol="x", size=8, color=RED, line=dict(color=RED, width=1))


def build_figure() -> go.FigureWidget:
    figure = go.FigureWidget(make_subplots(rows=3, cols=3, vertical_spacing=0.09,
                                           horizontal_spacing=0.1, subplot_titles=TITLES))
    for annotation, name in zip(figure.layout.annotations, TITLE_NAMES):
        annotation.name = name
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    add = figure.add_trace
    add(go.Scattergl(mode="lines", line=dict(width=1), name="trajectories"), 1, 1)
    for column, suffix in ((2, "eigenvalues"), (3, "pseudospectrum")):
        add(go.Scatter(x=circle.real, y=circle.imag, mode="lines", hoverinfo="skip",
                       line=dict(color="#999", width=1), name=f"unit circle {suffix}"), 1, column)
    add(go.Scatter(mode="markers", name="verified",
                   marker=verified_marker([], colorbar_beside(figure, 2, "log10 residual"))), 1, 2)
    add(go.Scatter(mode="markers", name="spurious", marker=spurious_marker()), 1, 2)
    add(go.Contour(name="log10 tau", colorscale="Blues_r", zmin=TAU_LEVELS["start"],
                   zmax=TAU_LEVELS["end"], contours=dict(**TAU_LEVELS, coloring="heatmap",
                                                         showlabels=True,
                                                         labelfont=dict(size=9, color="white")),
                   line=dict(width=0.5, color="#234"),
                   colorbar=colorbar_beside(figure, 3, "log10 tau")), 1, 3)
    add(go.Scatter(mode="lines", name="error discs", line=dict(color="#f2b01e", width=1.5),
                   hoverinfo="skip"), 1, 3)
    add(go.Scatter(mode="markers", name="verified spectrum",
                   marker=dict(symbol="circle", size=6, color="#f2b01e")), 1, 3)
    add(go.Scatter(mode="markers", name="crossed out", marker=spurious_marker()), 1, 3)
    add(go.Bar(name="residual", marker=dict(color="#1f77b4")), 2, 1)
    add(go.Scatter(mode="lines", name="tolerance", line=dict(color=RED, dash="dash")), 2, 1)
    add(go.Scatter(mode="lines", name="data", line=dict(color="#333")), 2, 2)
    add(go.Scatter(mode="lines", name="DMD", line=dict(color="#ff7f0e", dash="dot")), 2, 2)
    add(go.Scatter(mode="markers", name="amplitudes", marker=dict(color="#2ca02c")), 2, 3)
    add(go.Heatmap(colorscale="RdBu", showscale=False, name="field"), 3, 1)
    add(go.Heatmap(colorscale="RdBu", showscale=False, name="reconstruction"), 3, 2)
    add(go.Scatter(mode="lines+markers", name="error vs pieces"), 3, 3)
    for column in (2, 3):
        figure.update_xaxes(range=[-1.5, 1.5], title_text="Re", row=1, col=column)
        figure.update_yaxes(range=[-1.5, 1.5], scaleanchor=f"x{column}", row=1, col=column)
    figure.update_yaxes(type="log", title_text="residual", row=2, col=1)
    figure.update_xaxes(title_text="eigenpair (sorted)", row=2, col=1)
    figure.update_xaxes(title_text="time", row=2, col=2)
    figure.update_xaxes(title_text="frequency (rad / time)", row=2, col=3)
    figure.update_xaxes(title_text="time", row=3, col=1)
    figure.update_yaxes(title_text="x", row=3, col=1)
    figure.update_xaxes(title_text="time", row=3, col=2)
    figure.update_yaxes(type="log", title_text="relative error", row=3, col=3)
    figure.update_xaxes(title_text="pieces", row=3, col=3)
    figure.update_layout(width=960, height=1000, showlegend=False,  # inside a 968 px output area
                         margin=dict(l=50, r=70, t=40, b=40))
    figure.update_annotations(font_size=12)
    return figure


def error_discs(eigs, errors, points: int = 24):
    """Circles of radius ``errors`` around ``eigs`` as one line trace (NaN-separated)."""
    if len(eigs) == 0:
        return [], []
    angle = np.exp(1j * np.linspace(0, 2 * np.pi, points))
    rings = eigs[:, None] + errors[:, None] * angle[None, :]
    rings = np.concatenate([rings, np.full((len(eigs), 1), np.nan)], axis=1).ravel()
    return rings.real, rings.imag
