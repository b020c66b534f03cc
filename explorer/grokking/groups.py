"""Finite groups as grokking tasks: names, Cayley tables and element labels.

A group task asks for ``a * b`` given two group elements ``a`` and ``b``; both tokens and
the label are group elements, indexed ``0 .. M - 1`` (M = the group's order). The element
indexing of each family is fixed and documented here, because every probe (Cayley table,
irreducible representations, neuron tuning) is read against it:

- ``"cyclic:n"`` (Z_n, order n, 3 <= n <= 512): element k is the residue k; ``a * b = (a + b)
  mod n``. The same labels as ``make_task(p=n, op="add")``.
- ``"dihedral:n"`` (D_n, the symmetries of the regular n-gon, order 2n, 3 <= n <= 256): ``r``
  is the rotation by 2 pi / n, ``s`` a reflection, ``s r s = r^-1``. The element ``r^k s^j``
  (0 <= k < n, j in {0, 1}) has index ``j * n + k``: rotations first, then reflections.
- ``"symmetric:n"`` (S_n, order n!, 3 <= n <= 5): permutations of ``0 .. n-1`` in one-line
  notation, in lexicographic order (index 0 is the identity ``(0, 1, .., n-1)``); the product
  is composition, ``(g * h)(i) = g(h(i))`` (apply h first).
- ``"alternating:n"`` (A_n, order n!/2, 3 <= n <= 5): the even permutations, in the same
  lexicographic order and with the same product.
- ``"product:n1,n2,..."`` (Z_n1 x Z_n2 x ..., 1 to 8 factors, each n_i >= 2, order 3..512):
  the tuple ``(x1, x2, ..)`` has the row-major index ``numpy.ravel_multi_index((x1, x2, ..),
  (n1, n2, ..))``; the product adds componentwise mod n_i.

In every family index 0 is the identity.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

#: Largest group order: the same bound as the modulus of the arithmetic tasks.
MAX_ORDER = 512
#: Bounds on the parameter of each family (the product's factors are bounded by MAX_ORDER).
FAMILY_BOUNDS = {"cyclic": (3, MAX_ORDER), "dihedral": (3, MAX_ORDER // 2),
                 "symmetric": (3, 5), "alternating": (3, 5)}
MAX_FACTORS = 8
#: The accepted forms, as quoted in every refusal.
GROUP_FORMS = ("'cyclic:n' (3 <= n <= 512), 'dihedral:n' (3 <= n <= 256, order 2n), "
               "'symmetric:n' (3 <= n <= 5), 'alternating:n' (3 <= n <= 5), "
               "'product:n1,n2,...' (1 to 8 factors n_i >= 2, order 3..512)")


def _refuse(group, why: str = "") -> ValueError:
    return ValueError(f"group must be one of {GROUP_FORMS}{'; ' + why if why else ''}; "
                      f"got {group!r}")


def _parse(group) -> tuple[str, tuple[int, ...]]:
    """``(family, parameters)`` of a group name; ValueError/TypeError naming ``group``."""
    if not isinstance(group, str):
        raise TypeError(f"group must be a string such as 'dihedral:5', got "
                        f"{type(group).__name__}")
    family, colon, rest = group.replace(" ", "").lower().partition(":")
    if not colon or (family not in FAMILY_BOUNDS and family != "product"):
        raise _refuse(group)
    parts = rest.split(",")
    if not all(part.isdigit() for part in parts) or (family != "product" and len(parts) != 1):
        raise _refuse(group, "the parameters must be positive integers")
    numbers = tuple(int(part) for part in parts)
    if family == "product":
        if not 1 <= len(numbers) <= MAX_FACTORS or min(numbers) < 2:
            raise _refuse(group, f"a product has 1 to {MAX_FACTORS} factors, each >= 2")
        if not 3 <= math.prod(numbers) <= MAX_ORDER:
            raise _refuse(group, f"the order {math.prod(numbers)} is outside [3, {MAX_ORDER}]")
    else:
        lo, hi = FAMILY_BOUNDS[family]
        if not lo <= numbers[0] <= hi:
            raise _refuse(group, f"{family}:n needs {lo} <= n <= {hi}")
    return family, numbers


def canonical_group(group) -> str:
    """The canonical spelling of a group name (``"Dihedral: 5"`` becomes ``"dihedral:5"``).

    Raises ``TypeError`` for a non-string and ``ValueError`` naming ``group`` and listing
    the allowed forms and bounds for anything else.

    Examples
    --------
    >>> canonical_group("Product: 2, 3")
    'product:2,3'
    """
    family, numbers = _parse(group)
    return f"{family}:{','.join(map(str, numbers))}"


def group_order(group) -> int:
    """The number of elements M of the group ``group`` (see the module docstring).

    Examples
    --------
    >>> group_order("dihedral:5"), group_order("symmetric:4"), group_order("product:2,3,4")
    (10, 24, 24)
    """
    family, numbers = _parse(group)
    if family == "dihedral":
        return 2 * numbers[0]
    if family in ("symmetric", "alternating"):
        return math.factorial(numbers[0]) // (2 if family == "alternating" else 1)
    return math.prod(numbers)


def _permutations(n: int, even_only: bool) -> list[tuple[int, ...]]:
    """Permutations of ``0..n-1`` in lexicographic order (itertools' order), optionally only
    the even ones (an even number of inversions)."""
    def even(perm):
        return sum(perm[i] > perm[j] for i in range(n) for j in range(i + 1, n)) % 2 == 0

    return [perm for perm in itertools.permutations(range(n)) if not even_only or even(perm)]


@lru_cache(maxsize=32)
def _table(group: str) -> np.ndarray:
    family, numbers = _parse(group)
    if family in ("cyclic", "product"):
        shape = numbers
        coordinates = np.unravel_index(np.arange(math.prod(shape)), shape)
        summed = [(x[:, None] + x[None, :]) % n for x, n in zip(coordinates, shape)]
        table = np.ravel_multi_index(summed, shape)
    elif family == "dihedral":
        n = numbers[0]
        j, k = np.divmod(np.arange(2 * n), n)  # element j * n + k is r^k s^j
        # (r^k1 s^j1)(r^k2 s^j2) = r^(k1 + (-1)^j1 k2) s^(j1 + j2), because s r = r^-1 s
        rotation = (k[:, None] + np.where(j[:, None] == 1, -1, 1) * k[None, :]) % n
        table = (j[:, None] ^ j[None, :]) * n + rotation
    else:
        perms = _permutations(numbers[0], family == "alternating")
        index = {perm: i for i, perm in enumerate(perms)}
        table = np.array([[index[tuple(g[h[i]] for i in range(len(g)))] for h in perms]
                          for g in perms])
    table = np.ascontiguousarray(table, dtype=np.int64)
    table.flags.writeable = False
    return table


def group_table(group) -> np.ndarray:
    """The Cayley table of ``group``: ``table[a, b]`` is the index of ``a * b``.

    Parameters
    ----------
    group : str
        ``"cyclic:n"``, ``"dihedral:n"``, ``"symmetric:n"``, ``"alternating:n"`` or
        ``"product:n1,n2,..."``; the element indexing of each family is documented in
        :mod:`explorer.grokking.groups` (index 0 is always the identity).

    Returns
    -------
    ndarray of int64, shape (M, M)
        A fresh (writeable) Latin square with entries in [0, M).

    Examples
    --------
    >>> group_table("dihedral:3")[:, :2].tolist()  # columns e and r
    [[0, 1], [1, 2], [2, 0], [3, 5], [4, 3], [5, 4]]
    """
    return _table(canonical_group(group)).copy()


def group_inverses(group) -> np.ndarray:
    """Index of the inverse of every element, shape (M,) int64 (``table[g, inv[g]] == 0``)."""
    return np.argmin(_table(canonical_group(group)), axis=1).astype(np.int64)


def is_abelian(group) -> bool:
    """True when ``a * b == b * a`` for all elements (cyclic groups and their products)."""
    table = _table(canonical_group(group))
    return bool(np.array_equal(table, table.T))


def element_names(group) -> tuple[str, ...]:
    """Readable labels of the elements, in index order (for plot axes).

    Cyclic: ``"0", "1", ..``; dihedral: ``"e", "r", "r^2", .., "s", "r s", "r^2 s", ..``;
    permutations: cycle notation such as ``"(0 1 2)"`` with ``"e"`` for the identity;
    products: ``"(1,0,2)"``.

    Examples
    --------
    >>> element_names("dihedral:3")
    ('e', 'r', 'r^2', 's', 'r s', 'r^2 s')
    >>> element_names("symmetric:3")[:3]
    ('e', '(1 2)', '(0 1)')
    """
    family, numbers = _parse(group)
    if family == "cyclic":
        return tuple(str(k) for k in range(numbers[0]))
    if family == "product":
        return tuple("(" + ",".join(map(str, index)) + ")"
                     for index in itertools.product(*(range(n) for n in numbers)))
    if family == "dihedral":
        rotations = ["e", "r"] + [f"r^{k}" for k in range(2, numbers[0])]
        return tuple(rotations + ["s"] + [f"{r} s" for r in rotations[1:]])
    return tuple(_cycle_notation(perm)
                 for perm in _permutations(numbers[0], family == "alternating"))


def _cycle_notation(perm: tuple[int, ...]) -> str:
    seen, cycles = set(), []
    for start in range(len(perm)):
        cycle, i = [], start
        while i not in seen:
            seen.add(i)
            cycle.append(i)
            i = perm[i]
        if len(cycle) > 1:
            cycles.append("(" + " ".join(map(str, cycle)) + ")")
    return "".join(cycles) or "e"


def conjugacy_classes(group) -> tuple[np.ndarray, ...]:
    """The conjugacy classes ``{h g h^-1}`` as sorted int64 index arrays.

    Ordered by their smallest element, so the identity's class ``[0]`` comes first. Their
    number is the number of irreducible representations.

    Examples
    --------
    >>> [c.tolist() for c in conjugacy_classes("symmetric:3")]
    [[0], [1, 2, 5], [3, 4]]
    """
    name = canonical_group(group)
    table, inverses = _table(name), group_inverses(name)
    conjugates = table[table, inverses[:, None]]  # [h, g] -> (h g) h^-1
    label = np.full(len(table), -1)
    classes = []
    for g in range(len(table)):
        if label[g] < 0:
            members = np.unique(conjugates[:, g])
            label[members] = len(classes)
            classes.append(members.astype(np.int64))
    return tuple(classes)
