"""Irreducible unitary representations of the task groups (see :mod:`explorer.grokking.groups`).

A representation assigns to every element g a unitary d x d matrix rho(g) with
``rho(g) rho(h) = rho(g * h)``; the irreducible ones are the "frequencies" of a group, and
``sum_rho d_rho^2 = M``. How each family's irreps are built:

- cyclic and products of cyclic groups (abelian, all d = 1): the characters
  ``chi_k(x) = exp(2 pi i sum_j k_j x_j / n_j)``, with k indexed like the elements (so for
  Z_n, irrep k is the DFT frequency k);
- dihedral D_n: the one-dimensional ``trivial`` and ``det`` (-1 on reflections), for even n
  also ``(-1)^k`` and ``(-1)^k det`` on ``r^k s^j``; and the two-dimensional real rotations
  ``rho_h(r^k s^j) = R(2 pi h k / n) diag(1, -1)^j`` for 1 <= h < n / 2;
- symmetric and alternating groups: numerically, by splitting the regular representation
  ``L(g) e_x = e_{g x}``. A random Hermitian element ``H = sum_g c_g R(g)`` of the right
  regular algebra commutes with every ``L(g)``, so its eigenspaces are invariant; generically
  each is one irreducible copy. A real symmetric H (seeded, so the result is fixed) gives real
  orthogonal irreps where they exist; an eigenspace that is still reducible (a complex pair
  such as A_4's) is split again with a complex Hermitian element. Orthonormal eigenvectors
  make every ``rho(g) = B^H L(g) B`` unitary to rounding (about 1e-15).

Irreps are ordered by dimension, the trivial one first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from explorer.grokking.groups import (_parse, _table, canonical_group, conjugacy_classes,
                                      group_inverses)

# A fixed seed for the commutant elements: the construction is deterministic, and any
# seed gives equivalent irreps (only the basis of a d > 1 irrep depends on it).
_SPLIT_SEED = 20250921
_MAX_SPLIT_DEPTH = 8


@dataclass(frozen=True, eq=False)
class Irreps:
    """All irreducible unitary representations of a group, one of each up to equivalence.

    Attributes
    ----------
    group : str
        The canonical group name.
    names : tuple of str, length R
        Labels: ``"trivial"`` first; ``"k=3"`` (cyclic), ``"k=(1,0,2)"`` (products),
        ``"det"``, ``"rho_2"`` (dihedral), ``"sign"``, ``"3a"`` (dimension and a letter).
    matrices : tuple of ndarray of complex128, each of shape (M, d, d)
        ``matrices[r][g]`` is ``rho_r(g)`` for the element of index g.
    characters : ndarray of complex128, shape (R, M)
        Traces ``chi_r(g) = tr rho_r(g)``.
    conjugate : ndarray of int64, shape (R,)
        Index of the irrep with the complex-conjugate character (itself when the character
        is real).
    classes : tuple of ndarray of int64
        The conjugacy classes (R of them), identity class first.
    """

    group: str
    names: tuple
    matrices: tuple
    characters: np.ndarray
    conjugate: np.ndarray
    classes: tuple

    @property
    def order(self) -> int:
        """The group's order M."""
        return self.characters.shape[1]

    @property
    def dims(self) -> np.ndarray:
        """Dimension d of each irrep, int64 shape (R,); ``(dims ** 2).sum() == order``."""
        return np.array([m.shape[1] for m in self.matrices], dtype=np.int64)

    @property
    def character_table(self) -> np.ndarray:
        """Characters at one element of each conjugacy class, complex128 (R, R)."""
        return self.characters[:, [c[0] for c in self.classes]]

    @property
    def real_classes(self) -> tuple:
        """Irreps grouped with their conjugates: index tuples, ordered by first member.

        A real function on the group (a neuron's weights) has equal power in an irrep and in
        its conjugate, so probes report one number per tuple (the irreducible real
        representations; for Z_n these are the rfft frequencies 0 .. n // 2).
        """
        seen, groups = set(), []
        for r, partner in enumerate(self.conjugate.tolist()):
            if r not in seen:
                seen.update((r, partner))
                groups.append((r,) if partner == r else (r, partner))
        return tuple(groups)

    @property
    def real_names(self) -> tuple:
        """One label per :attr:`real_classes` entry (the name of its first member)."""
        return tuple(self.names[members[0]] for members in self.real_classes)


def irreps(group) -> Irreps:
    """The irreducible unitary representations of ``group`` (cached per group).

    Parameters
    ----------
    group : str
        A group name, as for :func:`~explorer.grokking.group_table`.

    Returns
    -------
    Irreps

    Examples
    --------
    >>> result = irreps("symmetric:3")
    >>> result.names, result.dims.tolist()
    (('trivial', 'sign', '2'), [1, 1, 2])
    >>> result.character_table.real.round().astype(int).tolist()
    [[1, 1, 1], [1, -1, 1], [2, 0, -1]]
    """
    return _irreps(canonical_group(group))


@lru_cache(maxsize=32)
def _irreps(group: str) -> Irreps:
    family, numbers = _parse(group)
    if family in ("cyclic", "product"):
        names, matrices = _abelian(numbers, family)
    elif family == "dihedral":
        names, matrices = _dihedral(numbers[0])
    else:
        names, matrices = _numerical(group)
    characters = np.array([np.trace(m, axis1=1, axis2=2) for m in matrices])
    distance = np.abs(characters[:, None, :] - characters[None, :, :].conj()).max(axis=2)
    for array in (*matrices, characters):
        array.flags.writeable = False
    return Irreps(group, tuple(names), tuple(matrices), characters,
                  np.argmin(distance, axis=1).astype(np.int64), conjugacy_classes(group))


def _abelian(factors: tuple, family: str):
    order = math.prod(factors)
    coordinates = np.array(np.unravel_index(np.arange(order), factors))  # (factors, M)
    phase = sum(np.outer(k, x) / n for k, x, n in zip(coordinates, coordinates, factors))
    characters = np.exp(2j * np.pi * (phase % 1.0))  # row k is chi_k over the elements
    if family == "cyclic":
        names = [f"k={k}" for k in range(order)]
    else:
        names = ["k=(" + ",".join(map(str, coordinates[:, k])) + ")" for k in range(order)]
    names[0] = "trivial"
    return names, [row[:, None, None] for row in characters]


def _dihedral(n: int):
    j, k = np.divmod(np.arange(2 * n), n)  # element j * n + k is r^k s^j
    one_dimensional = {"trivial": np.ones(2 * n), "det": (-1.0) ** j}
    if n % 2 == 0:
        one_dimensional.update({"(-1)^k": (-1.0) ** k, "(-1)^k det": (-1.0) ** (k + j)})
    names = list(one_dimensional)
    matrices = [values.astype(np.complex128)[:, None, None] for values in one_dimensional.values()]
    flip = np.where(j == 1, -1.0, 1.0)
    for h in range(1, (n + 1) // 2):
        angle = 2 * np.pi * h * k / n
        cos, sin = np.cos(angle), np.sin(angle)
        # R(angle) @ diag(1, flip): the second column changes sign on reflections
        rho = np.stack([np.stack([cos, -sin * flip], -1), np.stack([sin, cos * flip], -1)], 1)
        names.append(f"rho_{h}")
        matrices.append(rho.astype(np.complex128))
    return names, matrices


def _numerical(group: str):
    table, inverses = _table(group), group_inverses(group)
    order = len(table)
    rng = np.random.default_rng(_SPLIT_SEED)
    pieces = _split(np.eye(order), table, inverses, rng, 0)
    found = []
    for basis in pieces:
        rho = np.einsum("ghi,hj->gij", basis[table].conj(), basis).astype(np.complex128)
        character = np.trace(rho, axis1=1, axis2=2)
        if not any(np.abs(character - other).max() < 1e-6 for _, other in found):
            found.append((rho, character))
    if (sum(r.shape[1] ** 2 for r, _ in found) != order
            or len(found) != len(conjugacy_classes(group))):
        raise RuntimeError(f"irreps of {group} were not all found; please report this")
    found.sort(key=lambda item: (item[0].shape[1], *(-np.round(item[1].real, 6)),
                                 *(-np.round(item[1].imag, 6))))
    return _dimension_names([r for r, _ in found], group), [r for r, _ in found]


def _dimension_names(matrices, group: str) -> list:
    dims = [m.shape[1] for m in matrices]
    names = []
    for r, d in enumerate(dims):
        same = [s for s, e in enumerate(dims) if e == d]
        names.append(str(d) if len(same) == 1 else f"{d}{'abcdefgh'[same.index(r)]}")
    names[0] = "trivial"
    if group.startswith("symmetric"):
        names[1] = "sign"
    return names


def _split(basis: np.ndarray, table, inverses, rng, depth: int) -> list:
    """Orthonormal bases (M, d) of irreducible subspaces of the invariant span of ``basis``."""
    order = len(table)
    character = np.einsum("ghi,hi->g", basis[table].conj(), basis)  # tr B^H L(g) B
    if abs(np.vdot(character, character).real / order - 1.0) < 1e-8:
        return [basis]
    if depth > _MAX_SPLIT_DEPTH:
        raise RuntimeError("the regular representation did not split; please report this")
    # a real symmetric element first (real irreps where possible), complex Hermitian after
    coefficients = rng.standard_normal(order) + (1j * rng.standard_normal(order) if depth else 0)
    coefficients = (coefficients + coefficients[inverses].conj()) / 2
    # H = sum_g c_g R(g) with R(g) e_x = e_{x g^-1}: H[x g^-1, x] += c_g
    commutant = np.zeros((order, order), dtype=coefficients.dtype)
    np.add.at(commutant, (table[:, inverses].T, np.arange(order)[None, :]), coefficients[:, None])
    values, vectors = np.linalg.eigh(basis.conj().T @ commutant @ basis)
    edges = np.flatnonzero(np.diff(values) > 1e-7 * max(1.0, np.abs(values).max()))
    pieces = []
    for members in np.split(np.arange(len(values)), edges + 1):
        pieces += _split(basis @ vectors[:, members], table, inverses, rng, depth + 1)
    return pieces
