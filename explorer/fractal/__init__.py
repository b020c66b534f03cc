"""Trainability fractal: where gradient descent trains and where it diverges.

Sohl-Dickstein (2024), "The boundary of neural network trainability is fractal". A tiny
network is trained at every pixel of a grid of two hyperparameters; the boundary between
convergence and divergence is fractal over many decades of zoom.

>>> from explorer.fractal import make_problem, scan, boundary, box_counting_dimension
"""

from explorer.fractal.analysis import BoxCounting, boundary, box_counting_dimension, rank_stretch
from explorer.fractal.mandelbrot import mandelbrot
from explorer.fractal.problem import NONLINEARITIES, Problem, make_problem
from explorer.fractal.scan import (MAX_RESOLUTION, MIN_STEPS, OFFSET_MODES, PHASE_SPACES, Scan,
                                   Window, grid_axes, loss_trajectory, measure_pixels, scan,
                                   zoom_window)

__all__ = [
    "BoxCounting", "MAX_RESOLUTION", "MIN_STEPS", "NONLINEARITIES", "OFFSET_MODES",
    "PHASE_SPACES", "Problem", "Scan", "Window", "boundary", "box_counting_dimension",
    "grid_axes", "loss_trajectory", "make_problem", "mandelbrot", "measure_pixels", "rank_stretch", "scan", "zoom_window",
]
