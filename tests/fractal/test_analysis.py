"""Boundary extraction, box counting and the colour stretch against exact answers."""

import numpy as np
import pytest

from explorer.fractal import (boundary, boundary_target, box_counting_dimension, box_counts,
                              isolated_fraction, make_problem, rank_stretch, scan)
from tests.fractal import naive


def test_boundary_marks_sign_changes_in_2x2_blocks():
    measure = np.array([[-1.0, -1.0, 2.0],
                        [-1.0, -1.0, 3.0],
                        [-2.0, -1.0, -1.0]])
    expected = np.array([[False, True],
                         [False, True]])
    np.testing.assert_array_equal(boundary(measure), expected)


def test_zero_is_not_a_sign_change():
    assert not boundary(np.array([[0.0, 1.0], [0.0, 1.0]])).any()


@pytest.mark.parametrize("mask_kind, dimension", [("line", 1.0), ("filled", 2.0), ("point", 0.0)])
def test_box_counting_on_sets_of_known_dimension(mask_kind, dimension):
    mask = np.zeros((128, 128), bool)
    if mask_kind == "line":
        mask[40, :] = True
    elif mask_kind == "filled":
        mask[:] = True
    else:
        mask[5, 7] = True
    result = box_counting_dimension(mask)
    assert result.dimension == pytest.approx(dimension, abs=1e-9)
    np.testing.assert_array_equal(result.sizes, 2 ** np.arange(7))


def test_box_counts_match_a_direct_count_on_a_random_mask():
    mask = np.random.default_rng(0).random((37, 50)) < 0.05
    result = box_counting_dimension(mask)
    assert list(result.counts) == [naive.box_count(mask, s) for s in result.sizes]
    assert len(result.slopes) == len(result.sizes) - 1


def test_sierpinski_carpet_dimension():
    carpet = np.ones((1, 1), bool)
    for _ in range(5):
        carpet = np.block([[carpet, carpet, carpet],
                           [carpet, np.zeros_like(carpet), carpet],
                           [carpet, carpet, carpet]])
    # powers of two do not align with the carpet's thirds; the estimate is still close
    assert box_counting_dimension(carpet).dimension == pytest.approx(np.log(8) / np.log(3), abs=0.08)


def test_empty_mask_has_dimension_zero():
    assert box_counting_dimension(np.zeros((16, 16), bool)).dimension == 0.0


def test_trainability_boundary_is_rough():
    """On the paper's problem the boundary is neither a smooth curve nor an area."""
    result = scan(make_problem(width=4, seed=0), (-1, 2), (-1, 2), resolution=64, steps=60)
    dimension = box_counting_dimension(boundary(result.measure)).dimension
    assert 1.0 < dimension < 2.0


def test_rank_stretch_maps_each_sign_to_its_half():
    measure = np.array([-5.0, -1e9, -0.1, 3.0, 1e12, 0.0])
    stretched = rank_stretch(measure)
    assert stretched.min() == -1.0 and stretched.max() == 1.0
    assert np.all(stretched[measure < 0] <= -0.25) and np.all(stretched[measure >= 0] >= 0.25)
    assert list(np.argsort(stretched)) == list(np.argsort(measure))  # ranks are kept


def test_boundary_points_lie_between_opposite_pixels():
    result = scan(make_problem(width=3, seed=1), (-1, 3), (-1, 3), resolution=24, steps=30)
    points = result.boundary_points()
    assert len(points) == boundary(result.measure).sum() > 0
    log_x, log_y = np.log10(result.x), np.log10(result.y)
    col = np.searchsorted(log_x, points[0, 0]) - 1
    row = np.searchsorted(log_y, points[0, 1]) - 1
    block = result.measure[row:row + 2, col:col + 2]
    assert block.min() < 0 < block.max()


def test_mandelbrot_known_points():
    from explorer.fractal import mandelbrot

    image = mandelbrot((-2, 0.5), (-1.25, 1.25), resolution=5, iterations=200)
    assert image[2, 3] < 0  # c = -0.125: inside the main cardioid
    assert image[2, 0] < 0  # c = -2: the tip of the set, bounded
    assert image[0, 4] > 0  # c = 0.5 - 1.25i: escapes
    assert image[0, 4] == 1 / 2  # |c**2 + c| > 2 at the second iteration


@pytest.mark.parametrize("shape, density", [((64, 64), 0.05), ((100, 73), 0.3), ((40, 40), 0.9)])
def test_box_counts_match_porespy_as_the_paper_used_it(shape, density):
    mask = np.random.default_rng(1).random(shape) < density
    sizes, counts, slopes = naive.porespy_boxcount(mask)
    result = box_counts(mask)
    np.testing.assert_array_equal(result.sizes, sizes)
    np.testing.assert_array_equal(result.counts, counts)
    np.testing.assert_allclose(result.slopes, slopes)
    assert result.dimension == pytest.approx(np.median(slopes))


def test_box_counts_of_a_filled_image_count_no_boundary_boxes():
    """porespy counts boxes holding some but not all boundary pixels."""
    result = box_counts(np.ones((50, 50), bool))
    assert (result.counts == 0).all() and result.dimension == 0.0


def test_boundary_target_nearest_a_point_and_richest_in_boundary():
    result = scan(make_problem(width=3, seed=1), (-1, 3), (-1, 3), resolution=32, steps=30)
    points = result.boundary_points()
    click = (0.5, 2.5)
    nearest = boundary_target(result, near=click)
    spans = np.array([4.0, 4.0])
    distances = (((points - click) / spans) ** 2).sum(axis=1)
    assert nearest == pytest.approx(tuple(points[np.argmin(distances)]))
    rich = boundary_target(result, zoom=4)
    assert any(np.allclose(rich, p) for p in points)
    window = result.zoom(rich, 4)
    inside = ((points[:, 0] > window.x_range[0]) & (points[:, 0] < window.x_range[1])
              & (points[:, 1] > window.y_range[0]) & (points[:, 1] < window.y_range[1]))
    assert inside.sum() >= 0.1 * len(points)  # a quarter-size window keeps much of it


def test_boundary_target_without_a_boundary_is_none():
    converged = scan(make_problem(width=3), (-6, -5), (-6, -5), resolution=8, steps=21)
    assert boundary_target(converged) is None
    with pytest.raises(TypeError, match="scan_result"):
        boundary_target(converged.measure)


def test_nan_pixels_take_part_in_no_boundary_and_stay_nan_when_stretched():
    measure = np.array([[-1.0, np.nan, 1.0], [-1.0, -1.0, 1.0]])
    np.testing.assert_array_equal(boundary(measure), [[False, False]])
    stretched = rank_stretch(measure)
    assert np.isnan(stretched[0, 1]) and np.isfinite(np.delete(stretched.ravel(), 1)).all()


@pytest.mark.parametrize("mask, error", [("abc", TypeError), (np.full((8, 8), np.nan), ValueError),
                                         (np.full((8, 8), 0.5), ValueError), (np.zeros(8), ValueError),
                                         (np.zeros((3, 8)), ValueError)])
def test_box_counting_refuses_what_is_not_a_mask(mask, error):
    with pytest.raises(error, match="boundary_mask"):
        box_counting_dimension(mask)


@pytest.mark.parametrize("kwargs, error", [({"gap": 1.0}, ValueError), ({"gap": -0.1}, ValueError),
                                           ({"measure": "abc"}, TypeError),
                                           ({"reference": [np.nan]}, ValueError),
                                           ({"measure": [1j]}, TypeError)])
def test_rank_stretch_refuses_bad_input_by_name(kwargs, error):
    arguments = {"measure": [-1.0, 2.0], **kwargs}
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        rank_stretch(**arguments)


def _isolated_fraction_by_loops(measure):
    """One pixel at a time: interior, itself and its four neighbours computed, all four differ."""
    isolated = counted = 0
    for i in range(1, measure.shape[0] - 1):
        for j in range(1, measure.shape[1] - 1):
            around = [measure[i - 1, j], measure[i + 1, j], measure[i, j - 1], measure[i, j + 1]]
            if np.isnan(measure[i, j]) or np.isnan(around).any():
                continue
            counted += 1
            isolated += all((value > 0) != (measure[i, j] > 0) for value in around)
    return isolated / counted


def test_isolated_fraction_of_known_images():
    checkerboard = np.where(np.indices((6, 7)).sum(axis=0) % 2 == 0, 1.0, -1.0)
    assert isolated_fraction(checkerboard) == 1.0
    assert isolated_fraction(-np.ones((5, 5))) == 0.0
    lone = -np.ones((5, 5))
    lone[2, 2] = 3.0
    assert isolated_fraction(lone) == 1 / 9  # nine interior pixels, one isolated
    half = np.where(np.arange(6)[None, :] < 3, -1.0, 1.0) * np.ones((6, 1))
    assert isolated_fraction(half) == 0.0  # a straight boundary isolates nothing
    assert np.isnan(isolated_fraction(np.full((3, 3), np.nan)))


def test_isolated_fraction_matches_a_loop_and_independent_signs():
    rng = np.random.default_rng(3)
    measure = rng.normal(size=(40, 30))
    measure[rng.random(measure.shape) < 0.05] = np.nan
    assert isolated_fraction(measure) == pytest.approx(_isolated_fraction_by_loops(measure),
                                                       abs=1e-15)
    p = 0.3  # independent signs: p (1-p)^4 + (1-p) p^4 of the pixels are isolated
    signs = np.where(rng.random((600, 600)) < p, 1.0, -1.0)
    assert isolated_fraction(signs) == pytest.approx(p * (1 - p)**4 + (1 - p) * p**4, abs=0.003)


@pytest.mark.parametrize("measure, error", [(np.ones((2, 5)), ValueError),
                                            (np.ones((4, 4)) * 1j, TypeError),
                                            ("image", TypeError)])
def test_isolated_fraction_refuses_bad_input_by_name(measure, error):
    with pytest.raises(error, match="measure"):
        isolated_fraction(measure)
