"""Compiled kernel of piecewise DMD's rank search: arrays in, arrays out, no checks.

Serial loops in a fixed order, so the same inputs give the same bits whatever the thread
count or the buffers' alignment.
"""

from __future__ import annotations

import numpy as np

from explorer._jit import njit_cached


@njit_cached
def iterate_operator(operator, target):
    """``K^k target[:, 0]`` for ``k < L`` and its squared misfit to ``target`` (r, L).

    Parameters
    ----------
    operator : ndarray (r, r), float64 or complex128
        The reduced operator ``K``.
    target : ndarray (r, L), the same dtype
        The piece in projected coordinates; column 0 is the starting point.

    Returns
    -------
    coordinates : ndarray (r, L)
        The iterates (inf/NaN once they overflow).
    squared_misfit : float
        ``|target - coordinates|_F^2`` (inf or NaN after an overflow).
    """
    rank, length = target.shape
    columns = np.ascontiguousarray(operator.T)  # columns[j] is column j of the operator
    iterates = np.zeros((length, rank), dtype=target.dtype)  # one contiguous row per step
    for i in range(rank):
        iterates[0, i] = target[i, 0]
    for step in range(1, length):
        # column by column, so that the inner loop is elementwise (vectorises without reassoc)
        for j in range(rank):
            weight = iterates[step - 1, j]
            for i in range(rank):
                iterates[step, i] += columns[j, i] * weight
    squared_misfit = 0.0
    for step in range(length):
        for i in range(rank):
            difference = target[i, step] - iterates[step, i]
            squared_misfit += difference.real * difference.real + difference.imag * difference.imag
    return np.ascontiguousarray(iterates.T), squared_misfit
