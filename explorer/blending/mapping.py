"""The deterministic map from noise to data: nearby noise gives nearby samples.

Deterministic IADB sampling is a map ``x0 -> x1`` (the flow of ``dx/dalpha = D``). Moving the
noise image continuously from one draw to another and sampling each intermediate gives a
continuous path of generated images: with a trained network a digit morphs into another
through plausible digits; with the exact deblender the path jumps from one training image to
the next (its map is piecewise constant up to thin transition zones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_choice, check_range
from explorer.blending._checks import MAX_DIM
from explorer.blending.samplers import sample

INTERPOLATIONS = ("slerp", "linear")
#: Largest |entry| of the noise :func:`noise_path` samples from (draws are of order 1).
MAX_NOISE = 1e6


def interpolate_noise(start, end, count: int = 9, method: str = "slerp") -> np.ndarray:
    """Points from ``start`` to ``end`` (both of shape (d,)), ``count`` of them, ends included.

    Parameters
    ----------
    start, end : array-like, shape (d,)
        Two noise draws (entries at most 1e150).
    count : int, default 9
        In [2, 10000].
    method : {"slerp", "linear"}, default "slerp"
        "slerp" moves along the great circle between the two directions, interpolating the
        norm linearly: every intermediate has the typical norm of a Gaussian draw (about
        sqrt(d)), which straight "linear" averaging shrinks (by up to 1/sqrt(2) midway).

    Returns
    -------
    ndarray, shape (count, d)

    Examples
    --------
    >>> path = interpolate_noise([1.0, 0.0], [0.0, 1.0], count=3)
    >>> np.round(path, 6).tolist()
    [[1.0, 0.0], [0.707107, 0.707107], [0.0, 1.0]]
    """
    a = check_array("start", start)
    if np.ndim(start) != 1 or a.ndim != 1:
        raise ValueError(f"start must be one point of shape (d,), got shape {np.shape(a)}")
    if not 1 <= a.shape[0] <= MAX_DIM:
        raise ValueError(f"start must have between 1 and {MAX_DIM} entries, got {a.shape[0]}")
    b = check_array("end", end, shape=a.shape)
    count = check_range("count", count, lo=2, hi=10_000, integer=True)
    check_choice("method", method, INTERPOLATIONS)
    weights = np.linspace(0.0, 1.0, count)[:, None]
    if method == "linear":
        return (1.0 - weights) * a + weights * b
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a == 0.0 or norm_b == 0.0:
        return (1.0 - weights) * a + weights * b
    cosine = np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0)
    angle = np.arccos(cosine)
    if angle < 1e-8:  # the same direction: only the norm changes
        return (1.0 - weights) * a + weights * b
    unit_a, unit_b = a / norm_a, b / norm_b
    directions = (np.sin((1.0 - weights) * angle) * unit_a + np.sin(weights * angle) * unit_b) / np.sin(angle)
    return directions * ((1.0 - weights) * norm_a + weights * norm_b)


@dataclass(frozen=True, eq=False)
class NoisePath:
    """Samples along a path of noise draws: the deterministic map, made visible.

    Attributes
    ----------
    noise : ndarray, shape (count, d)
        The interpolated noise (sources).
    samples : ndarray, shape (count, d)
        Where the deterministic sampler carries each of them.
    jumps : ndarray, shape (count - 1,)
        Distance between consecutive samples: small everywhere for a smooth map.
    diverged : bool
        The sampler's flag (then ``samples`` holds NaN).
    """

    noise: np.ndarray
    samples: np.ndarray
    jumps: np.ndarray
    diverged: bool


def noise_path(deblender, start, end, count: int = 9, T: int = 64, method: str = "euler",
               labels=None, interpolation: str = "slerp") -> NoisePath:
    """Interpolate between two noise draws and sample every intermediate deterministically.

    Parameters
    ----------
    deblender : callable
        Any deblender (see :func:`~explorer.blending.sample`).
    start, end : array-like, shape (d,)
        Noise draws, entries of magnitude at most 1e6.
    count : int, default 9
        In [2, 10000].
    T : int, default 64
        Sampler steps, in [1, 100000].
    method : {"euler", "midpoint", "heun"}, default "euler"
    labels : int, optional
        One class for every sample (a class-conditional deblender).
    interpolation : {"slerp", "linear"}, default "slerp"
        See :func:`interpolate_noise`.

    Returns
    -------
    NoisePath
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    noise = interpolate_noise(start, end, count, interpolation)
    if np.abs(noise).max() > MAX_NOISE:
        raise ValueError(f"start and end must have entries of magnitude at most {MAX_NOISE:g} "
                         f"(noise draws), got {np.abs(noise).max():g}")
    path = sample(deblender, noise, T, method=method, labels=labels)
    final = path.final
    jumps = np.full(count - 1, np.nan) if path.diverged else np.linalg.norm(np.diff(final, axis=0), axis=1)
    return NoisePath(noise, final, jumps, path.diverged)
