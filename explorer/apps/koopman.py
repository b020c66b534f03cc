"""Koopman explorer view: a system's data, its EDMD spectrum checked by residuals, the
pseudospectrum with verified eigenvalues, Hankel DMD, and piecewise DMD on a field.

``build_koopman_app(**defaults)`` returns a :class:`KoopmanApp`. Every control redraws a
preview that a cost model keeps near 200 ms (it subsamples the snapshots, shrinks the
pseudospectrum grid or caps the dictionary, and says so in the status line); Render computes
the pseudospectrum and the verified spectrum on a fine grid in the background, with progress
and Stop. Residuals are measured on snapshots held out from the fit whenever the data allow.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from explorer._jit import blas_threads, set_num_threads
from explorer._validation import check_range
from explorer.apps import _koopman_figure as panels
from explorer.apps._base import App, Choice, Control, Float, Int, Log
from explorer.koopman import (DICTIONARIES, SYSTEMS, build_dictionary, complex_grid,
                              delay_embedding, dmd, edmd, fitzhugh_nagumo, heldout_residuals,
                              phase_portrait, piecewise_dmd, simulate, split_snapshots,
                              verified_spectrum)
from explorer.koopman.dictionaries import monomial_count
from explorer.koopman.edmd import MIN_SNAPSHOTS_PER_FUNCTION

__all__ = ["KoopmanApp", "build_koopman_app"]

PREVIEW_SECONDS = 0.2
#: refinement steps of the verified points in a preview (Render refines fully)
PREVIEW_REFINE_STEPS = 4
RENDER_RESOLUTIONS = (61, 101, 151, 201)
#: largest dictionary the view offers (monomial degrees beyond it are taken off the slider)
MAX_VIEW_FUNCTIONS = 300
_DELAYS = 40
# cost model: seconds per unit of work on this machine, on the one thread a preview runs on
_RATES = {"simulate": 2e-7, "lift": 4e-8, "factor": 3e-9, "cubic": 3e-8, "point": 7e-10,
          "point_overhead": 4e-6}
#: a point of a complex pseudospectrum (Fourier dictionaries) costs this many real ones: the
#: arithmetic is 4x, and on unitary systems the eigen-solver iterates longer
_COMPLEX_POINT_FACTOR = 6


def _dictionary_size(kind: str, size: int, n_state: int) -> int:
    return monomial_count(n_state, size) if kind == "monomials" else (
        2 * size + 1 if kind == "fourier" else size)


class KoopmanApp(App):
    """See :func:`build_koopman_app`."""

    CONTROLS: ClassVar[dict[str, Control]] = {
        "system": Choice(tuple(SYSTEMS), applies="manual"),
        "parameter": Float(-0.5, 40.0, 1.0, step=0.01),
        "steps": Int(20, 1000, 200, step=10),
        "trajectories": Int(1, 50, 10),
        "noise": Float(0.0, 0.2, 0.0, step=0.005, readout=".3f"),
        "dictionary": Choice(tuple(DICTIONARIES), applies="manual"),
        "size": Int(1, 200, 3, label="dictionary size"),
        "tolerance": Log(1e-10, 1.0, 1e-3, step=0.5, label="residual tol"),
        "epsilon": Log(1e-3, 1.0, 0.3, label="tau bound"),
        "rank": Int(1, _DELAYS, 10, label="Hankel-DMD rank"),
        "pieces": Int(1, 20, 4),
        "resolution": Choice(RENDER_RESOLUTIONS, 101, label="render grid", applies="run"),
    }
    PRIMARY = "system"
    RUN_LABEL = "Render"

    def __init__(self, *, field_grid: int = 64, field_steps: int = 200, **defaults):
        field_grid = check_range("field_grid", field_grid, lo=8, hi=512, integer=True)
        field_steps = check_range("field_steps", field_steps, lo=20, hi=2000, integer=True)
        system = self.CONTROLS["system"].check("system", defaults.get("system", "van der pol"))
        spec = SYSTEMS[system]
        defaults.setdefault("parameter", spec.value)
        check_range("parameter", defaults["parameter"], lo=spec.low, hi=spec.high)
        kind = defaults.setdefault("dictionary", spec.dictionaries[0])
        if kind not in spec.dictionaries:
            raise ValueError(f"dictionary must be one of {', '.join(map(repr, spec.dictionaries))} "
                             f"for {system}; got {kind!r}")
        low, high = self._size_range(kind, system)
        defaults.setdefault("size", min(max(DICTIONARIES[kind].value, low), high))
        check_range("size", defaults["size"], lo=low, hi=high, integer=True)
        self._cache: dict[str, tuple] = {}
        self._field = fitzhugh_nagumo(n_grid=field_grid, steps=field_steps, seed=0)
        super().__init__(**defaults)
        self._colorbar = panels.colorbar_beside(self.figure, 2, "log10 residual")
        self._follow_system(system, reset=False)
        self.controls["system"].observe(self.guarded(self._system_changed), names="value")
        self.controls["dictionary"].observe(self.guarded(self._dictionary_changed), names="value")
        self.preview()

    # -- controls that reshape other controls ---------------------------------------------
    def _size_range(self, kind: str, system: str) -> tuple[int, int]:
        spec = DICTIONARIES[kind]
        high = spec.high
        if kind == "monomials":  # the slider ends where the dictionary stops being viewable
            n_state = simulate(system, steps=1, trajectories=1).X.shape[0]
            high = max(d for d in range(spec.low, spec.high + 1)
                       if d == spec.low or monomial_count(n_state, d) <= MAX_VIEW_FUNCTIONS)
        return spec.low, high

    def _set_range(self, name: str, low, high, value, **extra) -> None:
        widget = self.controls[name]
        with self.quiet():
            widget.min, widget.max = min(widget.min, low), max(widget.max, high)
            widget.value = value
            widget.min, widget.max = low, high
            for key, item in extra.items():
                setattr(widget, key, item)

    def _follow_system(self, system: str, reset: bool = True) -> None:
        spec = SYSTEMS[system]
        value = spec.value if reset else self.controls["parameter"].value
        self._set_range("parameter", spec.low, spec.high, value, step=spec.step,
                        description=spec.parameter.replace("_", " "))
        kind = spec.dictionaries[0] if reset else self.controls["dictionary"].value
        with self.quiet():  # new options reset a Dropdown's value: read it first
            self.controls["dictionary"].options = list(spec.dictionaries)
            self.controls["dictionary"].value = kind
        self._follow_dictionary(kind, system, reset)

    def _follow_dictionary(self, kind: str, system: str, reset: bool = True) -> None:
        low, high = self._size_range(kind, system)
        value = DICTIONARIES[kind].value if reset else self.controls["size"].value
        self._set_range("size", low, high, min(max(value, low), high),
                        description=f"dictionary {DICTIONARIES[kind].size_meaning}")

    def _system_changed(self, _change) -> None:
        if self._quiet:
            return
        self.clear_message()
        self._follow_system(self.controls["system"].value)
        self.preview()

    def _dictionary_changed(self, _change) -> None:
        if self._quiet:
            return
        self.clear_message()
        self._follow_dictionary(self.controls["dictionary"].value, self.controls["system"].value)
        self.preview()

    # -- figure -----------------------------------------------------------------------------
    def build_figure(self):
        return panels.build_figure()

    def _cached(self, part: str, key, compute):
        """``compute()`` unless the inputs ``key`` of ``part`` are those of the last call."""
        if part not in self._cache or self._cache[part][0] != key:
            self._cache[part] = (key, compute())
        return self._cache[part][1]

    # -- preview ----------------------------------------------------------------------------
    def preview(self) -> None:
        # a preview is many small solves: one thread each for BLAS and numba runs them faster
        # than two (whose start-up and, on a busy machine, spinning cost more than they share)
        previous = set_num_threads(1)
        try:
            with blas_threads(1):
                self._preview()
        finally:
            set_num_threads(previous)

    def _preview(self) -> None:
        values = self.values()
        started = time.perf_counter()
        data_key = tuple(values[k] for k in ("system", "parameter", "steps", "trajectories", "noise"))
        data = self._cached("data", data_key, lambda: simulate(
            values["system"], values["parameter"], steps=values["steps"],
            trajectories=values["trajectories"], noise=values["noise"]))
        self._draw_data(data)
        fit_key = data_key + (values["dictionary"], values["size"])
        fit = self._cached("fit", fit_key, lambda: self._fit(data, values))
        self._draw_eigenvalues(fit, values["tolerance"])
        spectrum_key = fit_key + (values["epsilon"],)
        spectrum = self._cached("spectrum", spectrum_key,
                                lambda: self._preview_spectrum(fit, values["epsilon"]))
        self._draw_spectrum(spectrum, fit, values["tolerance"])
        self._cached("hankel", data_key + (values["rank"],), lambda: self._draw_hankel(data))
        self._cached("pieces", values["pieces"], self._draw_pieces)
        self._report(fit, spectrum, values, time.perf_counter() - started)

    def _fit(self, data, values) -> dict:
        """EDMD of the (finite) snapshots within the preview budget, and honest residuals."""
        X, Y = data.X, data.Y
        keep = np.all(np.isfinite(X), axis=0) & np.all(np.isfinite(Y), axis=0)
        X, Y = X[:, keep], Y[:, keep]
        weights = data.weights[keep] if data.weights is not None else None
        n_functions = _dictionary_size(values["dictionary"], values["size"], X.shape[0])
        notes = []
        per_snapshot = (_RATES["lift"] * n_functions + _RATES["factor"] * n_functions**2)
        affordable = int((0.4 * PREVIEW_SECONDS - _RATES["cubic"] * n_functions**3)
                         / max(per_snapshot, 1e-12))
        if X.shape[1] > max(affordable, 8 * n_functions, 50):
            chosen = np.linspace(0, X.shape[1] - 1, max(affordable, 8 * n_functions, 50)).astype(int)
            notes.append(f"preview fits {chosen.size} of {X.shape[1]} snapshots")
            X, Y = X[:, chosen], Y[:, chosen]
            weights = None if weights is None else weights[chosen] / weights[chosen].sum()
        dictionary = build_dictionary(values["dictionary"], values["size"], X)
        heldout = None
        if X.shape[1] >= 2 * MIN_SNAPSHOTS_PER_FUNCTION * n_functions and weights is None:
            fit_x, fit_y, test_x, test_y = split_snapshots(X, Y, 0.5, seed=0)
            result = edmd(fit_x, fit_y, dictionary, dt=data.dt)
            heldout = heldout_residuals(result, test_x, test_y)
        else:
            result = edmd(X, Y, dictionary, weights, dt=data.dt)
            if result.snapshots_per_function < MIN_SNAPSHOTS_PER_FUNCTION:
                notes.append(f"warning: {result.K.shape[0]} functions for {X.shape[1]} snapshots:"
                             f" residuals are overfitted (add steps or trajectories)")
        return {"result": result, "residuals": result.residuals if heldout is None else heldout,
                "heldout": heldout is not None, "notes": notes, "snapshots": X.shape[1]}

    def _preview_spectrum(self, fit, epsilon: float):
        # per grid point, measured on 2 December 2026 (one thread): 3.5e-5 s for the Gauss map's
        # 40 Legendre functions, 4.7e-5 for the pendulum's 40 and for the circle rotation's 21
        # complex Fourier functions, 4e-6 for the logistic map's 4 monomials
        result = fit["result"]
        per_point = (_RATES["point"] * max(result.rank, 4) ** 3
                     * (_COMPLEX_POINT_FACTOR if np.iscomplexobj(result.K) else 1)
                     + _RATES["point_overhead"])
        side = int(np.clip(np.sqrt(0.4 * PREVIEW_SECONDS / per_point / 1.5), 11, 61))
        return verified_spectrum(result, complex_grid(side), epsilon,
                                 refine_steps=PREVIEW_REFINE_STEPS)

    # -- drawing ----------------------------------------------------------------------------
    def _draw_data(self, data) -> None:
        x, y, x_label, y_label = phase_portrait(data)
        gap = np.full((x.shape[0], 1), np.nan)  # one line per trajectory, NaN between them
        with self.figure.batch_update():
            trace = self.trace("trajectories")
            trace.x = np.concatenate([x, gap], axis=1).ravel()
            trace.y = np.concatenate([y, gap], axis=1).ravel()
            trace.mode = "lines" if data.states.shape[2] > 2 and data.states.shape[1] > 1 else "markers"
            trace.marker = dict(size=3, color="#1f77b4")
            self.figure.update_xaxes(title_text=x_label, row=1, col=1)
            self.figure.update_yaxes(title_text=y_label, row=1, col=1)

    def _draw_eigenvalues(self, fit, tolerance: float) -> None:
        result, residuals = fit["result"], fit["residuals"]
        good = residuals <= tolerance
        order = np.argsort(residuals)
        with self.figure.batch_update():
            self.trace("verified").update(
                x=result.eigs.real[good], y=result.eigs.imag[good],
                marker=panels.verified_marker(np.log10(np.maximum(residuals[good], 1e-16)),
                                              self._colorbar))
            self.trace("spurious").update(x=result.eigs.real[~good], y=result.eigs.imag[~good],
                                          marker=panels.spurious_marker())
            self.trace("residual").update(x=np.arange(residuals.size),
                                          y=np.maximum(residuals[order], 1e-16),
                                          marker=dict(color=np.where(good[order], "#1f77b4",
                                                                     panels.RED)))
            self.trace("tolerance").update(x=[0, residuals.size], y=[tolerance, tolerance],
                                           line=dict(color=panels.RED, dash="dash"))
            self.trace("crossed out").update(x=result.eigs.real[~good], y=result.eigs.imag[~good],
                                             marker=panels.spurious_marker())
            kind = "held-out residual" if fit["heldout"] else "residual"
            self.annotation("title residuals").text = f"{kind} per eigenpair (red: > tol)"

    def _draw_spectrum(self, spectrum, fit=None, tolerance=None) -> None:
        grid, tau = spectrum.grid, np.ma.filled(np.ma.asarray(spectrum.tau, dtype=float), np.nan)
        ring_x, ring_y = panels.error_discs(spectrum.eigs, spectrum.errors)
        with self.figure.batch_update():
            self.trace("log10 tau").update(x=grid[0].real, y=grid[:, 0].imag,
                                           z=np.log10(np.maximum(tau, 1e-16)))
            self.trace("error discs").update(x=ring_x, y=ring_y)
            self.trace("verified spectrum").update(
                x=spectrum.eigs.real, y=spectrum.eigs.imag,
                marker=dict(symbol="circle", size=6, color="#f2b01e",
                            line=dict(color="#333", width=0.5)))
            self.annotation("title pseudospectrum").text = (
                f"log10 tau, {grid.shape[1]}x{grid.shape[0]}: {len(spectrum)} verified (discs: error)")

    def _draw_hankel(self, data) -> bool:
        series = data.states[0, :1]
        series = series[:, np.all(np.isfinite(series), axis=0)]
        with self.figure.batch_update():
            if series.shape[1] < 8:  # one step per point (quadrature data): no time series
                for name in ("data", "DMD", "amplitudes"):
                    self.trace(name).update(x=[], y=[])
                self.annotation("title hankel").text = "Hankel-DMD: no trajectory in these data"
                return True
            hankel = delay_embedding(series, min(_DELAYS, max(series.shape[1] // 2, 1)))
            rank = min(self.controls["rank"].value, *hankel[:, :-1].shape)
            fit = dmd(hankel[:, :-1], hankel[:, 1:], rank, dt=data.dt)
            reconstruction = fit.reconstruct(hankel.shape[1])[0].real
            error = np.linalg.norm(reconstruction - hankel[0]) / max(np.linalg.norm(hankel[0]), 1e-300)
            times = data.times[:hankel.shape[1]]
            self.trace("data").update(x=times, y=hankel[0])
            self.trace("DMD").update(x=times, y=reconstruction)
            self.trace("amplitudes").update(x=fit.continuous_eigs.imag,
                                            y=np.abs(fit.amplitudes) * np.linalg.norm(fit.modes, axis=0))
            self.annotation("title hankel").text = f"Hankel-DMD of x1, rank {rank}, error {error:.1e}"
        return True

    def _draw_pieces(self) -> bool:
        u = self._field.states[0, :self._field.grid.size]
        pieces = min(self.controls["pieces"].value, u.shape[1] // 2)
        fit = piecewise_dmd(u, pieces, dt=self._field.dt)
        with self.figure.batch_update():
            self.trace("field").update(z=u, x=self._field.times, y=self._field.grid)
            self.trace("reconstruction").update(z=fit.reconstruction, x=self._field.times,
                                                y=self._field.grid)
            self.trace("error vs pieces").update(x=fit.pieces_counts, y=fit.errors_by_pieces)
            self.annotation("title piecewise").text = f"{fit.n_pieces}-piece DMD, error {fit.error:.1e}"
        return True

    def _report(self, fit, spectrum, values, seconds: float) -> None:
        result, residuals = fit["result"], fit["residuals"]
        verified = int(np.count_nonzero(residuals <= values["tolerance"]))
        kind = "held-out residual" if fit["heldout"] else "residual"
        parts = [f"{result.eigs.size} EDMD eigenvalues, {verified} verified ({kind} <= "
                 f"{values['tolerance']:.1e})",
                 f"tau on a {spectrum.grid.shape[0]}x{spectrum.grid.shape[0]} preview grid "
                 f"(Render: {values['resolution']}x{values['resolution']})", *fit["notes"]]
        data = self._cache["data"][1]
        if data.diverged:
            parts.append("a trajectory diverged: its finite part is used")
        self.show_message("; ".join(parts) + f" [{seconds * 1e3:.0f} ms]")

    # -- render -----------------------------------------------------------------------------
    def run(self):
        resolution = self.controls["resolution"].value
        fit = self._cache["fit"][1]
        key = self._cache["fit"][0]
        epsilon = self.controls["epsilon"].value
        grid = complex_grid(resolution)

        def work(run) -> None:
            def draw(progress):
                if self._cache["fit"][0] == key:
                    with self.figure.batch_update():
                        self.trace("log10 tau").update(
                            x=grid[0].real, y=grid[:, 0].imag,
                            z=np.log10(np.maximum(np.ma.filled(progress.tau, np.nan), 1e-16)))

            callback = run.callback(draw, total=grid.size, position=lambda p: p.done)
            spectrum = verified_spectrum(fit["result"], grid, epsilon, callback=callback)
            if self._cache["fit"][0] != key:
                self.show_message("the settings changed during the render; press Render again")
                return
            self._draw_spectrum(spectrum)
            self.mark_applied(["resolution"])
            state = "stopped early" if spectrum.stopped_early else "done"
            self.show_message(f"pseudospectrum on {resolution}x{resolution} points ({state}): "
                              f"{len(spectrum)} verified spectral points, largest error "
                              f"{spectrum.errors.max(initial=0):.1e}")

        return work


def build_koopman_app(**defaults) -> KoopmanApp:
    """The Koopman explorer view.

    Parameters
    ----------
    **defaults
        Initial control values by name: ``system`` (one of :data:`explorer.koopman.SYSTEMS`),
        ``parameter`` (within the system's range), ``steps``, ``trajectories``, ``noise``,
        ``dictionary`` (one the system offers), ``size`` (degree, centers, polynomials or
        modes, within the dictionary's range), ``tolerance`` (residual of a verified EDMD
        eigenvalue), ``epsilon`` (largest tau of a verified spectral point), ``rank``
        (Hankel-DMD), ``pieces`` (piecewise DMD), ``resolution`` (render grid); plus
        ``field_grid`` and ``field_steps`` for the FitzHugh-Nagumo field.

    Returns
    -------
    KoopmanApp
        ``primary_control`` is "system".
    """
    return KoopmanApp(**defaults)
