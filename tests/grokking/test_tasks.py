"""Tasks: labels of every operation, a complete and disjoint split, determinism, validation."""

import numpy as np
import pytest

from explorer.grokking import OPERATIONS, TrainConfig, group_table, make_task, train


@pytest.mark.parametrize("op, expected", [("add", lambda a, b: a + b), ("subtract", lambda a, b: a - b),
                                          ("multiply", lambda a, b: a * b),
                                          ("sum_of_squares", lambda a, b: a**2 + b**2)])
def test_labels_follow_the_operation(op, expected):
    task = make_task(p=13, op=op, train_fraction=0.5, seed=3)
    for split in ("train", "test", "all"):
        a, b, labels = task.split(split)
        assert np.array_equal(labels, expected(a, b) % 13)


def test_x2_plus_y2_spelling_is_accepted():
    assert make_task(p=7, op="x^2 + y^2").op == "sum_of_squares"


def test_split_is_complete_disjoint_and_sized_by_the_fraction():
    task = make_task(p=97, train_fraction=0.3, seed=0)
    assert task.n_train == round(0.3 * 97**2) == 2823
    index = np.concatenate([task.train_pairs @ [97, 1], task.test_pairs @ [97, 1]])
    assert np.array_equal(np.sort(index), np.arange(97**2))
    assert task.split("all")[0].shape == (97**2,)


def test_same_seed_same_split_and_different_seed_different_split():
    first, again, other = (make_task(p=11, seed=s) for s in (5, 5, 6))
    assert np.array_equal(first.train_pairs, again.train_pairs)
    assert not np.array_equal(first.train_pairs, other.train_pairs)


def test_tiny_fractions_keep_both_splits_non_empty():
    assert make_task(p=3, train_fraction=1e-6).n_train == 1
    assert make_task(p=3, train_fraction=1 - 1e-6).n_test == 1


@pytest.mark.parametrize("kwargs, name", [({"p": 2}, "p"), ({"p": 7.5}, "p"), ({"p": 10_000}, "p"),
                                          ({"train_fraction": 0.0}, "train_fraction"),
                                          ({"train_fraction": 1.0}, "train_fraction"),
                                          ({"train_fraction": -0.2}, "train_fraction"),
                                          ({"op": "divide"}, "op"), ({"seed": -1}, "seed")])
def test_bad_input_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_task(**kwargs)


def test_operations_are_the_four_of_the_issue():
    assert set(OPERATIONS) == {"add", "subtract", "multiply", "sum_of_squares"}


def test_group_task_labels_come_from_the_cayley_table():
    task = make_task(group="symmetric:3", train_fraction=0.5, seed=2)
    table = group_table("symmetric:3")
    assert (task.p, task.op, task.group) == (6, "group", "symmetric:3")
    for split in ("train", "test", "all"):
        a, b, labels = task.split(split)
        assert np.array_equal(labels, table[a, b])
    assert task.split("all")[0].shape == (36,)
    assert np.array_equal(task.table, table)
    assert task.n_train + task.n_test == 36


def test_the_cyclic_group_is_modular_addition_with_the_same_split():
    group, plain = make_task(group="cyclic:11", seed=4), make_task(p=11, seed=4)
    assert group.p == 11 and plain.group is None
    assert np.array_equal(group.train_pairs, plain.train_pairs)
    assert np.array_equal(group.train_labels, plain.train_labels)
    assert np.array_equal(group.test_labels, plain.test_labels)


def test_training_sets_of_one_seed_are_nested():
    small, large = (make_task(group="dihedral:7", train_fraction=f, seed=1) for f in (0.2, 0.6))
    as_set = {tuple(pair) for pair in large.train_pairs}
    assert all(tuple(pair) in as_set for pair in small.train_pairs)


def test_group_task_refuses_bad_names_naming_group():
    with pytest.raises(ValueError, match="group"):
        make_task(group="symmetric:7")
    with pytest.raises(TypeError, match="group"):
        make_task(group=7)


def test_tasks_holding_arrays_compare_by_identity():
    task = make_task(p=5)
    same = task
    assert task == same and task != make_task(p=5)
    assert isinstance(hash(task), int)


def test_train_on_a_dihedral_group_with_the_mlp():
    run = train(group="dihedral:5", width=32, steps=40, eval_every=20, train_fraction=0.5)
    assert run.config.group == "dihedral:5" and run.config.p == 10
    assert run.task.group == "dihedral:5" and run.params.p == 10
    assert run.history.step.tolist() == [0, 20, 40]
    assert TrainConfig(group="Dihedral:5").make_task().p == 10


def test_train_refuses_a_bad_group_before_any_work():
    with pytest.raises(ValueError, match="group"):
        train(group="dihedral:1", steps=10)
