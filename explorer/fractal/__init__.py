"""Trainability fractal: where gradient descent trains and where it diverges.

Sohl-Dickstein (2024), "The boundary of neural network trainability is fractal". A tiny
network is trained at every pixel of a grid of two hyperparameters; the boundary between
convergence and divergence is fractal over many decades of zoom.

>>> from explorer.fractal import make_problem, scan, boundary, box_counting_dimension
"""

from explorer.fractal.analysis import (BoxCounting, boundary, boundary_target, box_counting_dimension,
                                       box_counts, isolated_fraction, rank_stretch)
from explorer.fractal.cost import ScanCost, scan_cost, useful_flops
from explorer.fractal.mandelbrot import mandelbrot
from explorer.fractal.configurations import CONFIGURATIONS, PAPER_CONFIGURATIONS, Configuration
from explorer.fractal.paper import (PAPER_RANGE, PaperRow, PaperTable, ZoomDimension, find_zoom_target,
                                    paper_table, steps_for_zoom, zoom_dimension)
from explorer.fractal.problem import (MAX_SAMPLES, MAX_WIDTH, NONLINEARITIES, Problem, make_problem,
                                      samples_for_ratio)
from explorer.fractal.scan import (MAX_MINIBATCH, MAX_STEPS, MIN_STEPS, OFFSET_MODES, PHASE_SPACES,
                                   Scan, loss_trajectory, measure_pixels, minibatch_indices, scan)
from explorer.fractal.window import MAX_RESOLUTION, Window, grid_axes, zoom_window

__all__ = [
    "BoxCounting", "CONFIGURATIONS", "Configuration", "MAX_MINIBATCH", "MAX_RESOLUTION",
    "MAX_SAMPLES", "MAX_STEPS", "MAX_WIDTH", "MIN_STEPS", "NONLINEARITIES", "OFFSET_MODES",
    "PAPER_CONFIGURATIONS", "PAPER_RANGE", "PHASE_SPACES", "PaperRow", "PaperTable", "Problem",
    "Scan", "ScanCost", "Window", "ZoomDimension", "boundary", "boundary_target",
    "box_counting_dimension", "box_counts", "find_zoom_target", "grid_axes",
    "isolated_fraction", "loss_trajectory", "make_problem", "mandelbrot", "measure_pixels",
    "minibatch_indices", "paper_table", "rank_stretch", "samples_for_ratio", "scan",
    "scan_cost", "steps_for_zoom", "useful_flops", "zoom_dimension", "zoom_window",
]
