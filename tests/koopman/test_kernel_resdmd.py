"""Kernel ResDMD: kernel EDMD's dictionary from one half, honest residuals from the other."""

import numpy as np
import pytest

from explorer.koopman import (edmd, fitzhugh_nagumo, heldout_residuals, kernel_dictionary,
                              kernel_resdmd)
from tests.koopman import naive


def rotating_field(n_state=40, steps=300, angle=0.3, decay=0.99, seed=0):
    """A linear flow in n_state dimensions: one damped rotation in a random 2-plane."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((n_state, 2)))
    t = np.arange(steps + 1)
    amplitude = decay ** t
    field = (np.outer(basis[:, 0], amplitude * np.cos(angle * t))
             + np.outer(basis[:, 1], amplitude * np.sin(angle * t)))
    return field[:, :-1], field[:, 1:]


def test_kernel_edmd_eigenvalues_match_the_textbook_formulas():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 30))
    Y = np.tanh(X) + 0.1 * X[::-1]
    width = 1.7
    dictionary = kernel_dictionary(X, Y, kernel="gaussian", scale=width)
    expected = naive.kernel_edmd_eigenvalues(X, Y, lambda x, y: np.exp(-np.sum((x - y)**2) / width**2))
    chosen = np.sort_complex(dictionary.eigs)
    largest = np.sort_complex(expected[np.argsort(-np.abs(expected))[:chosen.size]])
    np.testing.assert_allclose(chosen, largest, atol=1e-8)
    assert dictionary(X).shape == (dictionary.size(), 30) and np.isrealobj(dictionary(X))


def test_a_linear_kernel_recovers_a_rotation_in_a_large_state_exactly():
    X, Y = rotating_field()
    result = kernel_resdmd(X, Y, 4, kernel="polynomial", degree=1, seed=2)
    expected = 0.99 * np.exp(0.3j)
    exact = result.eigs[result.residuals < 1e-8]
    assert exact.size >= 2
    assert np.abs(exact - expected).min() < 1e-8 and np.abs(exact - np.conj(expected)).min() < 1e-8


def test_residuals_on_the_fitzhugh_nagumo_field_are_held_out_and_honest():
    field = fitzhugh_nagumo(n_grid=128, steps=600, dt=1.0, seed=0)
    X, Y = field.X, field.Y
    assert X.shape[0] == 256
    result = kernel_resdmd(X, Y, seed=0)
    # the travelling pulse is a limit cycle: the best eigenvalues sit on the unit circle at
    # multiples of its angular frequency (a lap of about 125 time units)
    best = result.eigs[np.argsort(result.residuals)[:5]]
    assert np.all(np.abs(np.abs(best) - 1) < 0.01)
    base = np.abs(np.angle(best[np.abs(np.angle(best)) > 1e-3])).min()
    assert 2 * np.pi / base == pytest.approx(125, rel=0.1)
    assert np.all(result.residuals[np.argsort(result.residuals)[:5]] < 0.05)
    # a dictionary built on the very snapshots that measure its residuals overfits them
    half = X.shape[1] // 2
    own = kernel_dictionary(X[:, :half], Y[:, :half], half // 2)
    in_sample = edmd(X[:, :half], Y[:, :half], own)
    held_out = heldout_residuals(in_sample, X[:, half:], Y[:, half:])
    assert np.median(held_out) > 3 * np.median(in_sample.residuals)


def test_the_split_is_seeded():
    X, Y = rotating_field(steps=80)
    first = kernel_resdmd(X, Y, 4, seed=5)
    np.testing.assert_array_equal(first.eigs, kernel_resdmd(X, Y, 4, seed=5).eigs)
    assert first.n_snapshots == 40


@pytest.mark.parametrize("kwargs, name, error", [
    ({"kernel": "cubic"}, "kernel", ValueError),
    ({"size": 0}, "size", ValueError),
    ({"scale": -1.0}, "scale", ValueError),
    ({"fraction": 1.0}, "fraction", ValueError),
    ({"degree": 0, "kernel": "polynomial"}, "degree", ValueError),
])
def test_bad_arguments_name_the_parameter(kwargs, name, error):
    X, Y = rotating_field(steps=40)
    with pytest.raises(error, match=name):
        kernel_resdmd(X, Y, **kwargs)


def test_complex_or_tiny_data_are_refused():
    X, Y = rotating_field(steps=40)
    with pytest.raises(TypeError, match="X"):
        kernel_resdmd(X + 1j, Y)
    with pytest.raises(ValueError, match="X"):
        kernel_resdmd(X[:, :3], Y[:, :3])
