"""Small image sets as point clouds: an 8 x 8 grey image is a point of dimension 64.

``image_dataset("digits")`` returns the 1,797 handwritten digits that scikit-learn ships
inside its wheel (``sklearn.datasets.load_digits``: 8 x 8 images with 17 grey levels, 0 to
16, from 43 writers; nothing is downloaded). Images are kept in [0, 1] (1 = ink) and as
points in [-1, 1] (``2 image - 1``), the scale diffusion models use with a standard Gaussian
source.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from explorer._validation import check_choice, check_int_array, check_range, make_rng
from explorer.blending._checks import check_points

#: The image sets :func:`image_dataset` knows, with what they are.
IMAGE_DATASETS = {
    "digits": "1,797 handwritten digits 0-9, 8 x 8 pixels, 17 grey levels "
              "(scikit-learn's bundled copy of the UCI optical digits test set)",
}


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Grey images with class labels, also as points in [-1, 1]^(height x width).

    Attributes
    ----------
    name : str
    images : ndarray, shape (n, height, width)
        Ink in [0, 1] (0 = paper, 1 = darkest ink).
    labels : ndarray of int64, shape (n,)
        Class of each image, in [0, len(class_names) - 1].
    points : ndarray, shape (n, height * width)
        ``2 * images - 1`` flattened row by row: values in [-1, 1].
    class_names : tuple of str
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    points: np.ndarray
    class_names: tuple

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of one image."""
        return tuple(self.images.shape[1:])

    @property
    def classes(self) -> int:
        return len(self.class_names)

    def subset(self, indices) -> ImageDataset:
        """The images at ``indices`` (an integer array), in that order."""
        indices = check_int_array("indices", indices, lo=0, hi=len(self) - 1, ndim=1)
        return ImageDataset(self.name, _frozen(self.images[indices]), _frozen(self.labels[indices]),
                            _frozen(self.points[indices]), self.class_names)

    def split(self, train_fraction: float = 0.5, seed=0) -> tuple[ImageDataset, ImageDataset]:
        """Two disjoint parts, stratified by class: (train, held_out).

        Parameters
        ----------
        train_fraction : float, default 0.5
            Share of each class that goes to the first part, in (0, 1).
        seed : int or numpy.random.Generator, default 0
            Which images go where.

        Examples
        --------
        >>> train, held_out = image_dataset("digits").split(0.5, seed=0)
        >>> len(train) + len(held_out), train.points.shape[1]
        (1797, 64)
        """
        fraction = check_range("train_fraction", train_fraction, lo=0, hi=1, lo_open=True, hi_open=True)
        rng = make_rng(seed)
        first, second = [], []
        for label in range(self.classes):
            members = rng.permutation(np.flatnonzero(self.labels == label))
            cut = int(round(fraction * members.size))
            first.append(members[:cut])
            second.append(members[cut:])
        first, second = np.sort(np.concatenate(first)), np.sort(np.concatenate(second))
        if first.size == 0 or second.size == 0:
            raise ValueError(f"train_fraction {fraction} leaves one part empty")
        return self.subset(first), self.subset(second)

    def to_images(self, points) -> np.ndarray:
        """Points (n, height * width) back to images (n, height, width) in [0, 1] (clipped)."""
        points = check_points("points", points, dim=self.points.shape[1])
        return np.clip((points + 1.0) / 2.0, 0.0, 1.0).reshape(-1, *self.shape)


@functools.cache
def _load(name: str):
    from sklearn.datasets import load_digits  # a dependency; the data ship inside its wheel

    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64), tuple(map(str, digits.target_names))


def image_dataset(name: str = "digits") -> ImageDataset:
    """A small image set bundled with an installed package (no download).

    Parameters
    ----------
    name : {"digits"}, default "digits"
        See :data:`IMAGE_DATASETS`.

    Returns
    -------
    ImageDataset
        ``images`` (n, 8, 8) in [0, 1], ``labels`` (n,), ``points`` (n, 64) in [-1, 1].

    Examples
    --------
    >>> digits = image_dataset("digits")
    >>> digits.images.shape, digits.points.shape, float(digits.points.min()), float(digits.points.max())
    ((1797, 8, 8), (1797, 64), -1.0, 1.0)
    """
    check_choice("name", name, IMAGE_DATASETS)
    images, labels, class_names = _load(name)
    points = (2.0 * images - 1.0).reshape(images.shape[0], -1)
    return ImageDataset(name, _frozen(images), _frozen(labels), _frozen(points), class_names)
