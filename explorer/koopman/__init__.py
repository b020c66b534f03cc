"""Koopman spectra from data: systems, DMD, EDMD, residual DMD, pseudospectra, verified
spectra, spectral measures, kernel ResDMD and piecewise DMD.

Snapshot matrices hold one snapshot per column, shape ``(n_state, m)``, as PyDMD does, with
``Y`` the snapshots one step after ``X``.

>>> from explorer.koopman import slow_manifold, monomials, edmd, pseudospectrum
>>> data = slow_manifold(steps=100)
>>> result = edmd(data.X, data.Y, monomials(2), dt=data.dt)
>>> result.verified_eigs(1e-8).size
4
"""

from explorer.koopman.catalog import (DICTIONARIES, SYSTEMS, DictionarySpec, SystemSpec,
                                      build_dictionary, phase_portrait, simulate)
from explorer.koopman.dictionaries import (Fourier, Legendre, Monomials, RadialBasis,
                                           evaluate_dictionary, fourier, legendre, monomials,
                                           pick_centers, radial_basis)
from explorer.koopman.dmd import DMDResult, delay_embedding, dmd
from explorer.koopman.edmd import EDMDResult, edmd, heldout_residuals, split_snapshots
from explorer.koopman.fields import fitzhugh_nagumo, lambda_omega, lambda_omega_stable_step
from explorer.koopman.piecewise import (PiecewiseDMD, PiecewiseSearch, auto_piecewise_dmd,
                                        piece_boundaries, piecewise_dmd)
from explorer.koopman.randomized import randomized_qb
from explorer.koopman.kernel_resdmd import KernelDictionary, kernel_dictionary, kernel_resdmd
from explorer.koopman.maps import circle_rotation, gauss_map, linear_flow, linear_map, logistic_map
from explorer.koopman.measures import (RationalKernel, SpectralMeasure, rational_kernel,
                                       smoothed_spectral_measure, spectral_measure)
from explorer.koopman.resdmd import (Pseudoeigenfunctions, PseudospectrumProgress, complex_grid,
                                     pseudoeigenfunctions, pseudospectrum, verified_eigs)
from explorer.koopman.systems import Snapshots, duffing, lorenz63, pendulum, slow_manifold, van_der_pol
from explorer.koopman.verified import VerifiedSpectrum, verified_spectrum

__all__ = [
    "Snapshots", "linear_map", "linear_flow", "slow_manifold", "duffing", "van_der_pol",
    "pendulum", "lorenz63", "logistic_map", "fitzhugh_nagumo",
    "DMDResult", "dmd", "delay_embedding", "PiecewiseDMD", "piece_boundaries", "piecewise_dmd",
    "lambda_omega", "lambda_omega_stable_step", "PiecewiseSearch", "auto_piecewise_dmd",
    "randomized_qb",
    "Monomials", "RadialBasis", "monomials", "radial_basis", "pick_centers",
    "evaluate_dictionary", "EDMDResult", "edmd",
    "verified_eigs", "pseudospectrum", "SpectralMeasure", "spectral_measure",
    "gauss_map", "circle_rotation", "Legendre", "Fourier", "legendre", "fourier",
    "heldout_residuals", "split_snapshots", "complex_grid", "PseudospectrumProgress",
    "Pseudoeigenfunctions", "pseudoeigenfunctions", "VerifiedSpectrum", "verified_spectrum",
    "RationalKernel", "rational_kernel", "smoothed_spectral_measure",
    "KernelDictionary", "kernel_dictionary", "kernel_resdmd",
    "SystemSpec", "SYSTEMS", "simulate", "DictionarySpec", "DICTIONARIES", "build_dictionary",
    "phase_portrait",
]
