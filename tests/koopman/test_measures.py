"""Spectral measures: mpEDMD atoms and the rational kernels of order 1 to 6 on the rotation."""

import numpy as np
import pytest

from explorer.koopman import (circle_rotation, edmd, fourier, rational_kernel,
                              smoothed_spectral_measure, spectral_measure)
from tests.koopman import naive

OMEGA, MODES = 1.0, 3
#: an observable sum_k a_k exp(i k x), k = -3..3: its spectral measure has mass |a_k|^2 at
#: angle k omega (mod 2 pi) for the rotation by omega
COEFFICIENTS = np.array([0.5, 0.0, 1.0, 0.3, 1.0, 0.0, 0.5])
ATOMS = (np.arange(-MODES, MODES + 1) * OMEGA + np.pi) % (2 * np.pi) - np.pi
MASSES = np.abs(COEFFICIENTS) ** 2


@pytest.fixture(scope="module")
def rotation():
    data = circle_rotation(OMEGA, points=32)
    return edmd(data.X, data.Y, fourier(MODES), data.weights)


def slope(epsilons, errors):
    return float(np.diff(np.log(errors))[-1] / np.diff(np.log(epsilons))[-1])


def test_mpedmd_measure_of_a_circle_rotation_is_its_fourier_weights():
    angle, count, shift = np.linspace(0, 2 * np.pi, 64, endpoint=False), 5, 0.3
    X, Y = angle[None, :], (angle + shift)[None, :]
    result = edmd(X, Y, fourier(count))
    coefficients = np.arange(1.0, 2 * count + 2)
    measure = spectral_measure(result, coefficients)
    np.testing.assert_allclose(np.abs(measure.eigs), 1.0, rtol=1e-12)
    for k, coefficient in zip(range(-count, count + 1), coefficients):
        nearest = np.argmin(np.abs(measure.eigs - np.exp(1j * k * shift)))
        assert abs(measure.eigs[nearest] - np.exp(1j * k * shift)) < 1e-10
        assert measure.weights[nearest] == pytest.approx(coefficient**2, rel=1e-10)
    total = np.trapezoid(measure.smoothed(np.linspace(-np.pi, np.pi, 4001), 0.05),
                         dx=2 * np.pi / 4000)
    assert total == pytest.approx(measure.weights.sum(), rel=1e-4)


def test_the_first_order_kernel_is_the_poisson_kernel():
    theta = np.linspace(-np.pi, np.pi, 101)
    np.testing.assert_allclose(rational_kernel(1, 0.1)(theta),
                               naive.poisson_kernel(theta, 1 / 1.1), rtol=1e-12)


@pytest.mark.parametrize("order", range(1, 7))
def test_each_kernel_integrates_to_one_and_kills_the_low_moments(order):
    theta = np.linspace(-np.pi, np.pi, 200001)
    kernel = rational_kernel(order, 0.05)(theta)
    assert np.trapezoid(kernel, theta) == pytest.approx(1.0, abs=1e-9)
    for power in range(1, order):  # moments 1 .. m-1 vanish up to O(eps^m)
        assert abs(np.trapezoid(theta**power * kernel, theta)) < 10 * 0.05**order


def test_the_resolvent_formula_equals_the_kernel_convolved_with_the_atoms(rotation):
    theta = np.linspace(-np.pi, np.pi, 37)
    for order in (1, 3, 6):
        kernel = rational_kernel(order, 0.08)
        expected = sum(mass * kernel(theta - atom) for mass, atom in zip(MASSES, ATOMS))
        np.testing.assert_allclose(smoothed_spectral_measure(rotation, COEFFICIENTS, theta, 0.08,
                                                             order), expected, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 4])
def test_the_smoothing_error_falls_like_epsilon_to_the_order(rotation, order):
    # against a smooth test function phi: int phi d nu_eps - sum_k |a_k|^2 phi(k omega)
    theta = np.linspace(-np.pi, np.pi, 40001)[:-1]
    phi = np.exp(np.cos(theta)) * (1 + 0.3 * np.sin(2 * theta))
    exact = np.sum(MASSES * np.exp(np.cos(ATOMS)) * (1 + 0.3 * np.sin(2 * ATOMS)))
    epsilons = np.array([0.02, 0.01, 0.005])
    errors = [abs(np.mean(smoothed_spectral_measure(rotation, COEFFICIENTS, theta, eps, order)
                          * phi) * 2 * np.pi - exact) for eps in epsilons]
    assert slope(epsilons, errors) == pytest.approx(order, abs=0.15)
    # and pointwise between the atoms, where the density is 0, at least as fast
    between = np.array([2.6])
    errors = [abs(smoothed_spectral_measure(rotation, COEFFICIENTS, between, eps, order)[0])
              for eps in epsilons]
    assert slope(epsilons, errors) > order - 0.1


@pytest.mark.parametrize("kwargs, name", [
    ({"order": 0}, "order"), ({"order": 7}, "order"), ({"order": 2.5}, "order"),
    ({"epsilon": 0.0}, "epsilon"), ({"epsilon": 2.0}, "epsilon"),
])
def test_bad_kernels_name_the_parameter(rotation, kwargs, name):
    with pytest.raises(ValueError, match=name):
        smoothed_spectral_measure(rotation, COEFFICIENTS, [0.0], **kwargs)


def test_the_observable_must_match_the_dictionary(rotation):
    with pytest.raises(ValueError, match="observable"):
        smoothed_spectral_measure(rotation, np.ones(3), [0.0])
    with pytest.raises(TypeError, match="result"):
        smoothed_spectral_measure("rotation", COEFFICIENTS, [0.0])
