"""Samplers against the exact Gaussian-to-Gaussian map: orders of convergence, schedules, failures."""

import numpy as np
import pytest

from explorer.blending import ExactDeblender, GaussianDeblender, alpha_schedule, sample, vector_field

BLEND = GaussianDeblender(source_mean=(0.0, 0.0), source_std=1.0, target_mean=(2.0, -1.0),
                          target_std=0.4)
X0 = np.random.default_rng(0).normal(size=(200, 2))


def error(T, method, schedule="uniform"):
    path = sample(BLEND, X0, T, method=method, schedule=schedule)
    return np.abs(path.final - BLEND.exact_map(X0)).max()


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2)])
def test_error_shrinks_at_the_method_order(method, order):
    errors = np.array([error(T, method) for T in (16, 32, 64, 128)])
    ratios = errors[:-1] / errors[1:]  # halving the step divides the error by 2**order
    np.testing.assert_allclose(ratios, 2.0**order, rtol=0.12)


def test_midpoint_is_at_least_second_order():
    errors = np.array([error(T, "midpoint") for T in (16, 32, 64, 128)])
    # on this Gaussian family the h^2 term of the endpoint error cancels: ratios come out ~8
    assert np.all(errors[:-1] / errors[1:] > 3.5)
    assert errors[-1] < error(128, "heun") < error(128, "euler")


def test_euler_matches_the_update_rule_and_counts_evaluations():
    calls = []

    def deblender(x, alpha):
        calls.append(alpha.copy())
        return BLEND(x, alpha)

    path = sample(deblender, X0[:3], 4)
    assert path.shape == (5, 3, 2) and path.evaluations == 4 and not path.diverged
    np.testing.assert_array_equal(path.alphas, [0, 0.25, 0.5, 0.75, 1])
    assert [a[0] for a in calls] == [0, 0.25, 0.5, 0.75]  # never at alpha = 1
    x = X0[:3]
    for t in range(4):
        x = x + 0.25 * BLEND(x, t / 4)
        np.testing.assert_allclose(path[t + 1], x, rtol=1e-14)


@pytest.mark.parametrize("method, evaluations", [("midpoint", 16), ("heun", 15)])
def test_second_order_methods_never_evaluate_at_one(method, evaluations):
    seen = []

    def deblender(x, alpha):
        seen.append(alpha[0])
        return BLEND(x, alpha)

    assert sample(deblender, X0[:2], 8, method=method).evaluations == evaluations
    assert max(seen) < 1.0


def test_exact_deblender_samples_land_near_training_points():
    targets = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]])
    path = sample(ExactDeblender(targets), X0[:50], 200, method="heun")
    nearest = np.min(np.linalg.norm(path.final[:, None] - targets[None], axis=-1), axis=1)
    assert nearest.max() < 1e-2


def test_schedules():
    np.testing.assert_allclose(alpha_schedule(4, "cosine"), [0, 0.1464466, 0.5, 0.8535534, 1], atol=1e-7)
    custom = [0.0, 0.5, 0.9, 0.99, 1.0]
    path = sample(BLEND, X0, 4, schedule=custom)
    np.testing.assert_array_equal(path.alphas, custom)
    assert error(64, "euler", "cosine") < 0.05
    with pytest.raises(ValueError, match="^schedule must have T \\+ 1 = 4"):
        sample(BLEND, X0, 3, schedule=custom)
    with pytest.raises(ValueError, match="^schedule must increase"):
        sample(BLEND, X0, 2, schedule=[0.0, 0.7, 0.5])
    with pytest.raises(ValueError, match="^schedule must be one of"):
        sample(BLEND, X0, 2, schedule="linear")


def test_a_non_finite_velocity_is_a_flagged_divergence():
    def exploding(x, alpha):
        return np.where(alpha[:, None] < 0.5, 1.0, np.inf) * np.ones_like(x)

    path = sample(exploding, X0[:4], 8)
    assert path.diverged and path.evaluations == 5
    assert np.all(np.isfinite(path[:5])) and np.all(np.isnan(path[5:]))


def test_vector_field_on_a_grid():
    field = vector_field(BLEND, 0.25, x_range=(-1, 1), y_range=(0, 2), resolution=5)
    assert field.velocity.shape == (5, 5, 2) and not field.any_diverged
    np.testing.assert_allclose(field.velocity[3, 1], BLEND([[field.x[1], field.y[3]]], 0.25)[0])


def test_a_vector_field_of_a_diverged_deblender_is_flagged():
    def broken(x, alpha):
        return np.where(x[:, :1] > 0, np.inf, 1.0) * np.ones_like(x)

    field = vector_field(broken, 0.5, resolution=4)
    np.testing.assert_array_equal(field.diverged, np.tile(field.x > 0, (4, 1)))
    assert field.any_diverged and np.all(np.isfinite(field.velocity[~field.diverged]))
    assert sample(broken, [[1.0, 0.0]], 4).diverged


def test_samplers_work_in_any_dimension():
    blend = GaussianDeblender(target_mean=np.arange(7.0), target_std=np.linspace(0.3, 2.0, 7))
    x0 = np.random.default_rng(2).normal(size=(50, 7))
    errors = [np.abs(sample(blend, x0, T, method="heun").final - blend.exact_map(x0)).max()
              for T in (16, 32)]
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.15)


@pytest.mark.parametrize("call, name", [
    (lambda: sample(BLEND, X0, 0), "T"),
    (lambda: sample(BLEND, X0, -3), "T"),
    (lambda: sample(BLEND, np.zeros((0, 2)), 4), "x0"),
    (lambda: sample(BLEND, [[0.0, np.inf]], 4), "x0"),
    (lambda: sample(BLEND, np.zeros((4, 3)), 4), "x0"),
    (lambda: sample(BLEND, X0, 4, method="rk4"), "method"),
    (lambda: sample(lambda x, a: x[:, :1], X0, 4), "deblender"),
    (lambda: sample(BLEND, np.zeros((10**6, 2)), 100), "T"),
    (lambda: vector_field(GaussianDeblender(target_mean=np.zeros(3)), 0.5), "deblender"),
    (lambda: vector_field(BLEND, 1.5), "alpha"),
    (lambda: vector_field(BLEND, 0.5, resolution=1), "resolution"),
    (lambda: vector_field(BLEND, 0.5, x_range=(1, 0)), "x_range"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()


def test_things_that_are_not_callable_are_type_errors():
    with pytest.raises(TypeError, match="^deblender must be callable"):
        sample("not callable", X0, 4)
    with pytest.raises(TypeError, match="^callback must be callable"):
        sample(BLEND, X0, 4, callback=5)
