"""How good generated images are, each number beside the floor real data sets.

- *Memorisation*: the distance of each sample to its nearest training image, and the share
  of samples that are copies of one (the exact deblender's are; a network's should not be).
- *Frechet distance* between Gaussians fitted to two sets in a fixed feature space (the
  last hidden layer of a small classifier trained by the library with a seed): the FID recipe
  on a scale that fits 8 x 8 digits.
- *Class accuracy* of class-conditional samples: how often the classifier sees the class
  that was asked for.

Every number comes with its *floor* (or ceiling), measured on real held-out images in the
same way: two disjoint halves for the Frechet distance, unseen images for the accuracy and
the nearest-image distance. A generator cannot be expected to beat the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_instance, check_range, make_rng
from explorer.blending._checks import check_labels, check_network_input, check_points
from explorer.blending.classifier import ImageClassifier
from explorer.blending.images import ImageDataset
from explorer.blending.metrics import distance_to_nearest, nearest_to


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a, b) -> float:
    """Frechet distance between Gaussians fitted to two point sets (in their own coordinates).

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)`` with sample means and
    covariances (the FID formula, without a network: pass features if you want one).

    Parameters
    ----------
    a : array-like, shape (n, d)
    b : array-like, shape (m, d)
        Finite, entries at most 1e150, n, m >= 2, d <= 4096.

    Returns
    -------
    float
        >= 0; 0 for two sets with equal means and covariances.

    Examples
    --------
    >>> a = np.random.default_rng(0).normal(size=(500, 2))
    >>> round(frechet_distance(a, a + [3.0, 0.0]), 6)  # a shift by v: |v|^2
    9.0
    """
    a = check_points("a", a, min_rows=2)
    b = check_points("b", b, min_rows=2, dim=a.shape[1])
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-300)  # products of 1e150 entries overflow
    a, b = a / scale, b / scale
    mean_gap = a.mean(axis=0) - b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a.T)), np.atleast_2d(np.cov(b.T))
    root_a = _symmetric_sqrt(cov_a)
    cross = _symmetric_sqrt(root_a @ cov_b @ root_a)
    value = mean_gap @ mean_gap + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(cross)
    return float(max(value, 0.0) * scale**2)


def memorised_fraction(samples, training, tolerance: float = 1e-3) -> float:
    """Share of samples within ``tolerance`` (Euclidean) of a training point, in [0, 1].

    Parameters
    ----------
    samples : array-like, shape (n, d)
    training : array-like, shape (m, d)
    tolerance : float, default 1e-3
        In [0, 1e100]. For digits in [-1, 1]^64 two different images are at least 0.125
        apart (one grey level of one pixel), so 1e-3 means "a copy, up to rounding".
    """
    tolerance = check_range("tolerance", tolerance, lo=0, hi=1e100)
    return float(np.mean(nearest_to(samples, training, "samples", "training")[0] <= tolerance))


@dataclass(frozen=True)
class ImageQuality:
    """Generated images against held-out real ones; every number beside its floor.

    Attributes
    ----------
    frechet, frechet_floor : float
        Frechet distance in the classifier's feature space: samples vs half B of the
        held-out images; the floor: half A vs half B (two disjoint halves of real data),
        with the same number of points on the compared side.
    accuracy, accuracy_floor : float or None
        Share of conditional samples the classifier puts in the asked class; the floor (a
        ceiling, really): its accuracy on the held-out real images. None without labels.
    nearest_distance, nearest_distance_floor : float
        Median distance of a sample to its nearest training image; the floor: of a held-out
        real image (what a new, unseen image scores).
    memorised, memorised_floor : float
        Share of samples that copy a training image (within ``tolerance``); the floor: the
        share of held-out real images that do.
    n : int
        Samples compared in the Frechet distance (the size of half A).
    """

    frechet: float
    frechet_floor: float
    accuracy: float | None
    accuracy_floor: float | None
    nearest_distance: float
    nearest_distance_floor: float
    memorised: float
    memorised_floor: float
    n: int

    @property
    def frechet_ratio(self) -> float:
        """frechet / frechet_floor: about 1 is as good as real data."""
        return self.frechet / self.frechet_floor if self.frechet_floor > 0 else float("inf")

    def summary(self) -> str:
        """One line per measure: the value, then its floor."""
        lines = [f"Frechet distance {self.frechet:.3g} (floor {self.frechet_floor:.3g}, n = {self.n})"]
        if self.accuracy is not None:
            lines.append(f"class accuracy {self.accuracy:.3f} (real held-out images {self.accuracy_floor:.3f})")
        lines.append(f"median distance to the nearest training image {self.nearest_distance:.3f} "
                     f"(held-out real images {self.nearest_distance_floor:.3f})")
        lines.append(f"copies of a training image {100 * self.memorised:.1f}% "
                     f"(held-out real images {100 * self.memorised_floor:.1f}%)")
        return "\n".join(lines)


def image_quality(samples, training: ImageDataset, held_out: ImageDataset,
                  classifier: ImageClassifier, labels=None, tolerance: float = 1e-3,
                  seed=0) -> ImageQuality:
    """Memorisation, Frechet distance and class accuracy of generated images, with floors.

    Parameters
    ----------
    samples : array-like, shape (n, d)
        Generated points in the datasets' scale ([-1, 1]^d), n >= 2, entries of magnitude
        at most 1e6 (the classifier's input).
    training : ImageDataset
        The images the generator was trained on (memorisation is measured against them).
    held_out : ImageDataset
        Real images disjoint from ``training``, at least 4; split in two halves A and B
        (by ``seed``) for the floors.
    classifier : ImageClassifier
        Trained on ``training`` (never on ``held_out``): its features and its predictions.
    labels : int or array-like of int, shape (n,), optional
        The classes the samples were asked to show (conditional sampling).
    tolerance : float, default 1e-3
        What counts as a copy, see :func:`memorised_fraction`.
    seed : int or numpy.random.Generator, default 0
        The halves of ``held_out`` and which samples are compared.

    Returns
    -------
    ImageQuality
    """
    training = check_instance("training", training, ImageDataset)
    held_out = check_instance("held_out", held_out, ImageDataset)
    classifier = check_instance("classifier", classifier, ImageClassifier)
    dim = training.points.shape[1]
    samples = check_network_input("samples", check_points("samples", samples, min_rows=2, dim=dim))
    if held_out.points.shape[1] != dim or classifier.dim != dim:
        raise ValueError(f"held_out and classifier must have dimension {dim} like training")
    if len(held_out) < 4:
        raise ValueError(f"held_out must have at least 4 images, got {len(held_out)}")
    asked = None if labels is None else check_labels(labels, samples.shape[0], classifier.classes)
    rng = make_rng(seed)
    order = rng.permutation(len(held_out))
    half_a, half_b = np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2:])
    n = min(half_a.size, samples.shape[0])
    compared = np.sort(rng.choice(samples.shape[0], n, replace=False))
    features = classifier.features(samples[compared])
    real = classifier.features(held_out.points)
    return ImageQuality(
        frechet=frechet_distance(features, real[half_b]),
        frechet_floor=frechet_distance(real[half_a[:n]], real[half_b]),
        accuracy=None if asked is None else classifier.accuracy(samples, asked),
        accuracy_floor=None if asked is None else classifier.accuracy(held_out.points, held_out.labels),
        nearest_distance=float(np.median(distance_to_nearest(samples, training.points))),
        nearest_distance_floor=float(np.median(distance_to_nearest(held_out.points, training.points))),
        memorised=memorised_fraction(samples, training.points, tolerance),
        memorised_floor=memorised_fraction(held_out.points, training.points, tolerance),
        n=n)
