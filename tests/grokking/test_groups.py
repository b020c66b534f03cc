"""Finite groups: Cayley tables against matrix references, group axioms, names, validation."""

import numpy as np
import pytest

from explorer.grokking import (canonical_group, element_names, group_inverses, group_order,
                               group_table, is_abelian)
from tests.grokking import naive_groups

CASES = [("cyclic", 7), ("cyclic", 12), ("dihedral", 3), ("dihedral", 6), ("symmetric", 3),
         ("symmetric", 4), ("alternating", 4), ("alternating", 5), ("product", (2, 3, 4)),
         ("product", (2, 2))]


def name_of(family, n):
    return f"{family}:{','.join(map(str, n)) if isinstance(n, tuple) else n}"


@pytest.mark.parametrize("family, n", CASES)
def test_cayley_table_matches_the_matrix_reference(family, n):
    table = group_table(name_of(family, n))
    assert table.dtype == np.int64
    assert np.array_equal(table, naive_groups.cayley_table(family, n))


@pytest.mark.parametrize("family, n", CASES)
def test_group_axioms_hold(family, n):
    name = name_of(family, n)
    table = group_table(name)
    order = group_order(name)
    assert table.shape == (order, order)
    elements = np.arange(order)
    assert np.array_equal(table[0], elements) and np.array_equal(table[:, 0], elements)
    for row in (table, table.T):  # a Latin square: every product has a unique solution
        assert (np.sort(row, axis=1) == elements).all()
    left = table[table[:, :, None], elements[None, None, :]]  # (a b) c
    right = table[elements[:, None, None], table[None, :, :]]  # a (b c)
    assert np.array_equal(left, right)
    inverses = group_inverses(name)
    assert (table[elements, inverses] == 0).all() and (table[inverses, elements] == 0).all()


@pytest.mark.parametrize("name, order, abelian", [
    ("cyclic:5", 5, True), ("dihedral:5", 10, False), ("symmetric:3", 6, False),
    ("symmetric:5", 120, False), ("alternating:3", 3, True), ("alternating:4", 12, False),
    ("alternating:5", 60, False), ("product:2,3,4", 24, True), ("dihedral:256", 512, False)])
def test_orders_and_commutativity(name, order, abelian):
    assert group_order(name) == order
    assert is_abelian(name) is abelian


def test_documented_indexing_of_dihedral_and_permutations():
    n = 5
    table = group_table("dihedral:5")
    r, s = 1, n
    assert table[s, r] == n + (n - 1)  # s r = r^-1 s
    assert table[r, s] == n + 1  # r s has index 1 * n + 1
    names = element_names("symmetric:3")
    assert names == ("e", "(1 2)", "(0 1)", "(0 1 2)", "(0 2 1)", "(0 2)")
    assert element_names("dihedral:4") == ("e", "r", "r^2", "r^3", "s", "r s", "r^2 s", "r^3 s")
    assert element_names("product:2,3")[4] == "(1,1)"
    assert element_names("alternating:4")[0] == "e" and len(element_names("alternating:4")) == 12


def test_table_is_a_fresh_copy():
    table = group_table("cyclic:5")
    table[0, 0] = 99
    assert group_table("cyclic:5")[0, 0] == 0


def test_spellings_are_canonicalised():
    assert canonical_group(" Dihedral : 5") == "dihedral:5"
    assert canonical_group("product:2, 3,4") == "product:2,3,4"


@pytest.mark.parametrize("bad", ["dihedral", "dihedral:", "dihedral:2", "dihedral:257",
                                 "symmetric:6", "symmetric:2", "alternating:6", "cyclic:2",
                                 "cyclic:513", "cyclic:5.5", "cyclic:-5", "quaternion:8",
                                 "product:1,5", "product:2", "product:32,32", "product:",
                                 "product:2,2,2,2,2,2,2,2,2", "cyclic:3,4", ""])
def test_bad_names_are_refused_with_the_forms(bad):
    with pytest.raises(ValueError, match="group must be one of .*dihedral:n"):
        group_table(bad)


@pytest.mark.parametrize("bad", [None, 5, 5.0, ("cyclic", 5), b"cyclic:5"])
def test_non_strings_are_a_type_error(bad):
    with pytest.raises(TypeError, match="group"):
        group_order(bad)
