"""Iterative alpha-(de)blending (Heitz, Belcour, Chambon 2023) in any dimension, 2D to images.

Blend a source sample x0 (a Gaussian) with a target sample x1: ``x_alpha = (1-alpha) x0 +
alpha x1``. A *deblender* ``D(x_alpha, alpha)`` predicts ``x1 - x0`` on average; stepping
``x += (alpha_{t+1} - alpha_t) D(x, alpha_t)`` from alpha = 0 to 1 turns source samples into
target samples. This package has the exact deblender of a finite target set (it memorises;
with class labels it is the exact conditional deblender; the source may be a mixture of
Gaussians), the paper's stochastic chain and its collapse onto a deterministic map as the
step count grows, MLP deblenders (optionally class-conditional) trained in numba, Euler /
midpoint / Heun samplers, 2D metrics, and for images (``image_dataset("digits")``, 8 x 8
digits as points of dimension 64): a fixed classifier, Frechet distance, class accuracy and
memorisation, each beside the floor real data set.

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
from explorer.blending.classifier import ImageClassifier, train_classifier
from explorer.blending.comparison import SamplerComparison, compare_samplers
from explorer.blending.densities import (DENSITIES, Checkerboard, ConcentricRings, EightGaussians,
                                         Gaussian, GaussianMixture, GridDensity, Spiral, TwoMoons,
                                         drawing_density, image_density, make_density)
from explorer.blending.exact import (ExactDeblender, GaussianDeblender, PosteriorMeans,
                                     PosteriorSample)
from explorer.blending.image_metrics import (ImageQuality, frechet_distance, image_quality,
                                             memorised_fraction)
from explorer.blending.images import IMAGE_DATASETS, ImageDataset, image_dataset
from explorer.blending.mapping import INTERPOLATIONS, NoisePath, interpolate_noise, noise_path
from explorer.blending.metrics import (SampleQuality, distance_to_nearest, energy_distance,
                                       nearest_points, sample_quality, sliced_wasserstein)
from explorer.blending.network import ACTIVATIONS, MLP, init_mlp, parameter_count
from explorer.blending.samplers import (METHODS, SCHEDULES, Trajectory, VectorField,
                                        alpha_schedule, sample, vector_field)
from explorer.blending.training import (DEFAULT_STEPS, QUICK_STEPS, TrainedDeblender,
                                        train_deblender)

__all__ = [
    "ACTIVATIONS", "DEFAULT_STEPS", "DENSITIES", "IMAGE_DATASETS", "INTERPOLATIONS", "METHODS",
    "MLP", "QUICK_STEPS", "SCHEDULES",
    "Checkerboard", "ConcentricRings", "EightGaussians", "EndpointSpread", "ExactDeblender",
    "Gaussian", "GaussianDeblender", "GaussianMixture", "GridDensity", "ImageClassifier",
    "ImageDataset", "ImageQuality", "NoisePath", "PosteriorMeans", "PosteriorSample",
    "SampleQuality", "SamplerComparison", "Spiral", "StochasticPaths", "TrainedDeblender",
    "Trajectory", "TwoMoons", "VectorField",
    "alpha_schedule", "compare_samplers", "distance_to_nearest", "drawing_density",
    "endpoint_spread", "energy_distance", "frechet_distance", "image_dataset", "image_density",
    "image_quality", "init_mlp", "interpolate_noise", "make_density", "memorised_fraction",
    "nearest_points", "noise_path", "parameter_count", "sample", "sample_quality",
    "sliced_wasserstein", "stochastic_paths", "train_classifier", "train_deblender",
    "vector_field",
]
