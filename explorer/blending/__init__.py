"""Iterative alpha-(de)blending (Heitz, Belcour, Chambon 2023) on 2D densities.

Blend a source sample x0 (a Gaussian) with a target sample x1: ``x_alpha = (1-alpha) x0 +
alpha x1``. A *deblender* ``D(x_alpha, alpha)`` predicts ``x1 - x0`` on average; stepping
``x += (alpha_{t+1} - alpha_t) D(x, alpha_t)`` from alpha = 0 to 1 turns source samples into
target samples. This package has the exact deblender of a finite target set (it memorises),
the paper's stochastic chain and its collapse onto a deterministic map as the step count
grows, an MLP deblender trained in numba, Euler / midpoint / Heun samplers, and metrics.

Examples
--------
>>> from explorer.blending import ExactDeblender, TwoMoons, sample, stochastic_paths
>>> targets = TwoMoons().sample(200, seed=0)
>>> deblender = ExactDeblender(targets, source_mean=(0.0, 0.0), source_cov=[[1.0, 0.0], [0.0, 1.0]])
>>> x0 = np.random.default_rng(1).standard_normal((5, 2))
>>> sample(deblender, x0, T=64).shape
(65, 5, 2)
>>> stochastic_paths(deblender, x0, T=64, seed=2).shape
(65, 5, 2)
"""

import numpy as np  # noqa: F401  (used by the docstring examples)

from explorer.blending.chain import EndpointSpread, StochasticPaths, endpoint_spread, stochastic_paths
from explorer.blending.densities import (DENSITIES, Checkerboard, ConcentricRings, EightGaussians,
                                         Gaussian, GridDensity, Spiral, TwoMoons, drawing_density,
                                         image_density, make_density)
from explorer.blending.exact import (ExactDeblender, GaussianDeblender, PosteriorMeans,
                                     PosteriorSample)
from explorer.blending.metrics import (SampleQuality, distance_to_nearest, energy_distance,
                                       sample_quality, sliced_wasserstein)
from explorer.blending.network import (ACTIVATIONS, DEFAULT_STEPS, MLP, QUICK_STEPS,
                                       TrainedDeblender, init_mlp, parameter_count,
                                       train_deblender)
from explorer.blending.samplers import (METHODS, SCHEDULES, Trajectory, VectorField,
                                        alpha_schedule, sample, vector_field)

__all__ = [
    "ACTIVATIONS", "DEFAULT_STEPS", "DENSITIES", "METHODS", "MLP", "QUICK_STEPS", "SCHEDULES",
    "Checkerboard", "ConcentricRings", "EightGaussians", "EndpointSpread", "ExactDeblender",
    "Gaussian", "GaussianDeblender", "GridDensity", "PosteriorMeans", "PosteriorSample",
    "SampleQuality", "Spiral", "StochasticPaths", "TrainedDeblender", "Trajectory", "TwoMoons",
    "VectorField", "alpha_schedule", "distance_to_nearest", "drawing_density",
    "endpoint_spread", "energy_distance", "image_density", "init_mlp", "make_density",
    "parameter_count", "sample", "sample_quality", "sliced_wasserstein", "stochastic_paths",
    "train_deblender", "vector_field",
]
