"""Plain references for the finite groups: elements as matrices, products as matrix products.

Written from the definitions, sharing no code with ``explorer.grokking.groups``: a dihedral
element is the 2x2 orthogonal map of the plane it is, a permutation is its permutation
matrix, a product element is a tuple. The Cayley table follows by multiplying and looking
the result up in the documented element order.
"""

import itertools

import numpy as np


def dihedral_matrices(n):
    """``r^k s^j`` at index ``j * n + k``: rotation by 2 pi k / n after the flip y -> -y."""
    flip = np.diag([1.0, -1.0])
    matrices = []
    for j in range(2):
        for k in range(n):
            angle = 2 * np.pi * k / n
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            matrices.append(rotation @ np.linalg.matrix_power(flip, j))
    return matrices


def permutation_matrices(n, even_only=False):
    """Lexicographic permutations as matrices P with ``P e_i = e_perm[i]``, so that the
    product of matrices is the composition (apply the right factor first)."""
    matrices = []
    for perm in itertools.permutations(range(n)):
        matrix = np.zeros((n, n))
        matrix[list(perm), list(range(n))] = 1.0
        if not even_only or round(np.linalg.det(matrix)) == 1:
            matrices.append(matrix)
    return matrices


def table_from_matrices(matrices):
    """``table[a, b]`` = index of the matrix ``matrices[a] @ matrices[b]``."""
    stacked = np.array(matrices)
    table = np.empty((len(matrices), len(matrices)), np.int64)
    for a, first in enumerate(matrices):
        for b, second in enumerate(matrices):
            distance = np.abs(stacked - first @ second).reshape(len(matrices), -1).max(axis=1)
            table[a, b] = int(np.argmin(distance))
            assert distance[table[a, b]] < 1e-9
    return table


def product_table(factors):
    """Tuples in row-major order, multiplied componentwise mod each factor."""
    elements = list(itertools.product(*(range(n) for n in factors)))
    index = {element: i for i, element in enumerate(elements)}
    return np.array([[index[tuple((x + y) % n for x, y, n in zip(g, h, factors))]
                      for h in elements] for g in elements])


def cayley_table(family, n):
    """The reference table of ``"family:n"`` (for a product, ``n`` is the tuple of factors)."""
    if family == "dihedral":
        return table_from_matrices(dihedral_matrices(n))
    if family in ("symmetric", "alternating"):
        return table_from_matrices(permutation_matrices(n, family == "alternating"))
    return product_table(n if family == "product" else (n,))
