"""Tasks ``(a, b) -> (a op b) mod p``, or ``a * b`` in a finite group, with a seeded split."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from explorer._validation import check_choice, check_range, make_rng
from explorer.grokking.groups import canonical_group, group_order, group_table

#: Operations by name; each maps integer arrays (a, b) and the modulus p to labels in [0, p).
OPERATIONS = {
    "add": lambda a, b, p: (a + b) % p,
    "subtract": lambda a, b, p: (a - b) % p,
    "multiply": lambda a, b, p: (a * b) % p,
    "sum_of_squares": lambda a, b, p: (a * a + b * b) % p,
}
#: Other spellings accepted for an operation (spaces are ignored).
OPERATION_ALIASES = {"x^2+y^2": "sum_of_squares", "x**2+y**2": "sum_of_squares"}
#: The largest modulus: the full batch and its activations must fit in memory comfortably.
MAX_MODULUS = 512
#: The ``op`` recorded by a group task (its labels come from the group's Cayley table).
GROUP_OPERATION = "group"


def canonical_operation(op) -> str:
    """The canonical name of ``op`` (``"x^2 + y^2"`` becomes ``"sum_of_squares"``).

    Raises ``ValueError`` naming ``op`` and the allowed names if it is unknown.
    """
    name = op.replace(" ", "") if isinstance(op, str) else op
    name = OPERATION_ALIASES.get(name, name) if isinstance(name, str) else name
    return check_choice("op", name, [*OPERATIONS, *OPERATION_ALIASES])


#: The names of :meth:`Task.split`.
SPLITS = ("train", "test", "all")


@dataclass(frozen=True, eq=False)
class Task:
    """All p^2 pairs of ``(a op b) mod p`` (or ``a * b`` in a group), split in two.

    Attributes
    ----------
    p : int
        The modulus (>= 3), or the group's order M: tokens and labels are integers in
        [0, p), and p is the vocabulary size of the models.
    op : str
        The canonical operation name (a key of :data:`OPERATIONS`), or ``"group"`` for a
        group task.
    train_fraction : float
        The requested fraction of the p^2 pairs used for training, in (0, 1).
    seed : int or None
        The seed of the split (None when a ``Generator`` was passed).
    train_pairs, test_pairs : ndarray of int64, shape (n_train, 2), (n_test, 2)
        Pairs ``(a, b)``, sorted by ``a * p + b``; together they are all p^2 pairs.
    train_labels, test_labels : ndarray of int64, shape (n_train,), (n_test,)
        ``(a op b) mod p`` (``a * b`` for a group) for each pair.
    group : str or None
        The canonical group name (see :mod:`explorer.grokking.groups`) or None for modular
        arithmetic.
    """

    p: int
    op: str
    train_fraction: float
    seed: int | None
    train_pairs: np.ndarray
    train_labels: np.ndarray
    test_pairs: np.ndarray
    test_labels: np.ndarray
    group: str | None = None

    @property
    def n_train(self) -> int:
        return len(self.train_labels)

    @property
    def n_test(self) -> int:
        return len(self.test_labels)

    def split(self, name: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Contiguous ``(a, b, labels)`` of one split: ``"train"``, ``"test"`` or ``"all"``.

        ``"all"`` lists every pair in the order ``a * p + b``.
        """
        check_choice("name", name, SPLITS)
        if name == "all":
            a, b = np.divmod(np.arange(self.p * self.p, dtype=np.int64), self.p)
            return a, b, _labels(a, b, self.p, self.op, self.group)
        pairs, labels = ((self.train_pairs, self.train_labels) if name == "train"
                         else (self.test_pairs, self.test_labels))
        return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]), labels

    @property
    def table(self) -> np.ndarray:
        """The answers to all pairs as a (p, p) int64 table: ``table[a, b]``."""
        return self.split("all")[2].reshape(self.p, self.p)


def _labels(a, b, p: int, op: str, group: str | None) -> np.ndarray:
    return group_table(group)[a, b] if group is not None else OPERATIONS[op](a, b, p)


def make_task(p: int = 97, op: str = "add", train_fraction: float = 0.3, seed=0,
              group: str | None = None) -> Task:
    """The task ``(a, b) -> (a op b) mod p`` with a random, seeded train/test split.

    Parameters
    ----------
    p : int, default 97
        Modulus in [3, 512]; a prime makes every operation a group operation, but any
        integer works. Ignored (replaced by the group's order) when ``group`` is given.
    op : {"add", "subtract", "multiply", "sum_of_squares"}, default "add"
        ``a + b``, ``a - b``, ``a * b`` or ``a^2 + b^2`` (alias ``"x^2 + y^2"``), mod p.
        Still validated, but replaced by the group's product when ``group`` is given.
    train_fraction : float, default 0.3
        Fraction of the p^2 pairs used for training, in (0, 1); the count is rounded and
        kept in [1, p^2 - 1], so both splits are non-empty.
    seed : int or numpy.random.Generator, default 0
        Seed of the split: the same seed gives the same split. For one integer seed the
        training sets of growing fractions are nested (each is the start of one shuffle).
    group : str, optional
        Learn ``a * b`` in a finite group instead: ``"cyclic:n"``, ``"dihedral:n"``,
        ``"symmetric:n"``, ``"alternating:n"`` or ``"product:n1,n2,..."`` (orders 3..512;
        see :func:`~explorer.grokking.group_table` for the element indexing). Tokens and
        labels are then element indices, ``Task.p`` is the order M and ``Task.op`` is
        ``"group"``.

    Returns
    -------
    Task

    Examples
    --------
    >>> task = make_task(p=5, train_fraction=0.4, seed=1)
    >>> task.n_train, task.n_test
    (10, 15)
    >>> bool(((task.train_pairs.sum(axis=1)) % 5 == task.train_labels).all())
    True
    >>> make_task(group="dihedral:5").p
    10
    """
    p = check_range("p", p, lo=3, hi=MAX_MODULUS, integer=True)
    op = canonical_operation(op)
    if group is not None:
        group = canonical_group(group)
        p, op = group_order(group), GROUP_OPERATION
    train_fraction = check_range("train_fraction", train_fraction, lo=0, hi=1, lo_open=True,
                                 hi_open=True)
    rng = make_rng(seed)
    total = p * p
    n_train = min(max(int(round(train_fraction * total)), 1), total - 1)
    order = rng.permutation(total)
    train_index, test_index = np.sort(order[:n_train]), np.sort(order[n_train:])

    def pairs_and_labels(index):
        pairs = np.stack(np.divmod(index, p), axis=1).astype(np.int64)
        return pairs, _labels(pairs[:, 0], pairs[:, 1], p, op, group)

    train_pairs, train_labels = pairs_and_labels(train_index)
    test_pairs, test_labels = pairs_and_labels(test_index)
    return Task(p, op, train_fraction, seed if isinstance(seed, Integral) else None, train_pairs,
                train_labels, test_pairs, test_labels, group)
