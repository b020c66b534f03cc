"""The reliability promises of the Koopman topic: bounds, flagged divergence, no stalls, bits."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from explorer.koopman import (DMDResult, EDMDResult, KernelDictionary, Pseudoeigenfunctions,
                              Snapshots, SpectralMeasure, VerifiedSpectrum, complex_grid, dmd,
                              duffing, edmd, kernel_dictionary, linear_map, lorenz63, monomials,
                              pendulum, pseudoeigenfunctions, pseudospectrum, radial_basis,
                              slow_manifold, spectral_measure, van_der_pol, verified_spectrum)
from explorer.koopman import _residual_kernels

ROOT = Path(__file__).resolve().parents[2]


def test_a_tiny_energy_set_is_sampled_at_once():
    started = time.perf_counter()
    data = pendulum(max_energy=1e-300, trajectories=50, steps=2, seed=0)
    assert time.perf_counter() - started < 5 and not data.diverged
    energy = data.states[:, 1, 0] ** 2 / 2 + 2 * np.sin(data.states[:, 0, 0] / 2) ** 2
    assert energy.max() <= 1e-300


@pytest.mark.parametrize("call, name", [
    (lambda: van_der_pol(steps=10**12), "steps"),
    (lambda: van_der_pol(steps=10**6, trajectories=100), "steps"),
    (lambda: van_der_pol(dt=1e300), "dt"),
    (lambda: van_der_pol(max_step=1e-300), "max_step"),
    (lambda: van_der_pol(transient=1e300), "transient"),
    (lambda: van_der_pol(transient=1e5, dt=1e-3), "transient"),
    (lambda: lorenz63(noise=1e308), "noise"),
    (lambda: linear_map(np.eye(2), trajectories=2**63), "trajectories"),
])
def test_every_size_and_scale_is_bounded_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_noise_that_leaves_the_finite_numbers_is_flagged():
    data = linear_map(np.eye(2) * 1e150, steps=3, noise=1e100, seed=0)
    assert data.diverged and np.all(np.isfinite(data.states[:, :, :data.diverged_at.min()]))


def test_monomials_refuse_what_would_overflow_or_explode_in_size():
    with pytest.raises(ValueError, match="X"):
        monomials(8)(np.full((2, 3), 1e40))
    with pytest.raises(ValueError, match="degree"):
        monomials(8)(np.ones((20, 3)))  # 3,108,105 functions
    assert monomials(8)(np.ones((2, 3))).shape == (45, 3)


def test_complex_snapshots_work_in_complex_arithmetic_or_are_refused():
    X = np.random.default_rng(0).standard_normal((2, 30))
    result = edmd(X + 1j, X * 0.5 + 1j, monomials(2))
    assert np.iscomplexobj(result.K) and np.all(np.isfinite(result.residuals))
    np.testing.assert_allclose(monomials(2)(X + 1j)[3], (X[0] + 1j) ** 2)
    with pytest.raises(TypeError, match="X"):
        radial_basis(X[:, :3])(X + 1j)


def test_reconstruct_refuses_horizons_it_cannot_represent():
    fit = dmd(np.eye(2), np.diag([1.5, 0.5]))
    with pytest.raises(ValueError, match="steps"):
        fit.reconstruct(2**63)
    with pytest.raises(ValueError, match="steps"):
        fit.reconstruct(5000)  # 1.5 ** 5000 overflows float64
    assert np.all(np.isfinite(fit.reconstruct(1000)))


def test_result_objects_compare_by_identity_and_hash():
    data = slow_manifold(steps=20, trajectories=2)
    result = edmd(data.X, data.Y, monomials(2))
    grid = complex_grid(5)
    objects = [data, result, dmd(data.X, data.Y), spectral_measure(result, np.ones(6)),
               verified_spectrum(result, grid, 0.5), pseudoeigenfunctions(result, [0.5]),
               kernel_dictionary(data.X, data.Y, 3), radial_basis(data.X[:, :2])]
    kinds = (Snapshots, EDMDResult, DMDResult, SpectralMeasure, VerifiedSpectrum,
             Pseudoeigenfunctions, KernelDictionary)
    for item, kind in zip(objects, kinds):
        assert isinstance(item, kind)
    for item in objects:
        assert item == item and item != object() and isinstance(hash(item), int)


def test_read_only_arrays_reuse_the_compiled_kernels():
    data = duffing(trajectories=4, steps=10, seed=1)
    result = edmd(data.X, data.Y, monomials(2))
    grid = complex_grid(4)
    pseudospectrum(result, grid)
    compiled = len(_residual_kernels.pseudospectrum_chunks.signatures)
    frozen = grid.copy()
    frozen.setflags(write=False)
    X, Y = data.X.copy(), data.Y.copy()
    X.setflags(write=False)
    Y.setflags(write=False)
    pseudospectrum(edmd(X, Y, monomials(2)), frozen)
    assert len(_residual_kernels.pseudospectrum_chunks.signatures) == compiled


def test_diverged_snapshots_are_refused_by_name_never_propagated():
    data = linear_map(np.diag([1e30, 0.5]), steps=40, trajectories=2, seed=0)
    assert data.diverged
    for fit in (lambda X, Y: edmd(X, Y, monomials(1)), dmd):
        with pytest.raises(ValueError, match="X"):
            fit(data.X, data.Y)


_FINGERPRINT = """
import hashlib, numpy as np
from explorer.koopman import *
data = duffing(trajectories=300, steps=30, noise=0.01, seed=3)
result = edmd(data.X, data.Y, radial_basis(pick_centers(data.X, 20, seed=1), 1.0))
tau = pseudospectrum(result, complex_grid(17))
kernel = kernel_resdmd(data.X[:, :400], data.Y[:, :400], 10, seed=2)
digest = hashlib.sha256()
for array in (data.states, result.residual_factor, result.eigs, tau, kernel.eigs):
    digest.update(np.ascontiguousarray(array).tobytes())
print(digest.hexdigest())
"""


def test_the_same_seed_gives_the_same_bits_in_fresh_processes_and_thread_counts():
    digests = set()
    for threads in ("1", "2", "2"):
        run = subprocess.run([sys.executable, "-c", _FINGERPRINT], capture_output=True, text=True,
                             cwd=ROOT, env={**_environment(), "NUMBA_NUM_THREADS": threads},
                             check=True)
        digests.add(run.stdout.strip())
    assert len(digests) == 1


def _environment():
    import os

    return dict(os.environ)
