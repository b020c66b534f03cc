"""Koopman spectra from data: systems, DMD, EDMD, residual DMD, pseudospectra, piecewise DMD.

Snapshot matrices hold one snapshot per column, shape ``(n_state, m)``, as PyDMD does, with
``Y`` the snapshots one step after ``X``.

>>> from explorer.koopman import slow_manifold, monomials, edmd, pseudospectrum
>>> data = slow_manifold(steps=100)
>>> result = edmd(data.X, data.Y, monomials(2), dt=data.dt)
>>> result.verified_eigs(1e-8).size
4
"""

from explorer.koopman.dictionaries import (Monomials, RadialBasis, evaluate_dictionary,
                                           monomials, pick_centers, radial_basis)
from explorer.koopman.dmd import DMDResult, delay_embedding, dmd
from explorer.koopman.edmd import EDMDResult, edmd
from explorer.koopman.fields import fitzhugh_nagumo
from explorer.koopman.piecewise import PiecewiseDMD, piece_boundaries, piecewise_dmd
from explorer.koopman.resdmd import (SpectralMeasure, pseudospectrum, spectral_measure,
                                      verified_eigs)
from explorer.koopman.systems import (Snapshots, duffing, linear_flow, linear_map,
                                      logistic_map, lorenz63, pendulum, slow_manifold,
                                      van_der_pol)

__all__ = [
    "Snapshots", "linear_map", "linear_flow", "slow_manifold", "duffing", "van_der_pol",
    "pendulum", "lorenz63", "logistic_map", "fitzhugh_nagumo",
    "DMDResult", "dmd", "delay_embedding", "PiecewiseDMD", "piece_boundaries", "piecewise_dmd",
    "Monomials", "RadialBasis", "monomials", "radial_basis", "pick_centers",
    "evaluate_dictionary", "EDMDResult", "edmd",
    "verified_eigs", "pseudospectrum", "SpectralMeasure", "spectral_measure",
]
