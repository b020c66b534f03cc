"""Boundary extraction, box counting and the colour stretch against exact answers."""

import numpy as np
import pytest

from explorer.fractal import boundary, box_counting_dimension, make_problem, rank_stretch, scan
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
