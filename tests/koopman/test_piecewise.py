"""Piecewise DMD as Alla, Monti and Sgura describe it: the plain pDMD reference, exact answers
on piecewise-linear data, error indicators that cannot explode, and the automatic mode."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer._jit import blas_threads
from explorer.koopman import (auto_piecewise_dmd, dmd, fitzhugh_nagumo, piece_boundaries,
                              piecewise_dmd, randomized_qb)
from tests.koopman import naive_piecewise


def chirp(samples=201, duration=20.0):
    t = np.linspace(0, duration, samples)
    phase = t * (1 + t / duration)
    return np.vstack([np.cos(phase), np.sin(phase)])


def switching_linear(pieces=2, length=40, n_state=12, seed=0):
    """Each run of ``length`` snapshots follows its own linear flow of rank 4 (two damped
    rotations); the state jumps between runs. Returns X and the true eigenvalues per run."""
    rng = np.random.default_rng(seed)
    blocks, truth = [], []
    for _ in range(pieces):
        eigs = np.exp(rng.uniform(-0.05, 0.0, 2) + 1j * rng.uniform(0.2, 1.0, 2))
        eigs = np.concatenate([eigs, eigs.conj()])
        shapes = rng.standard_normal((n_state, 2)) + 1j * rng.standard_normal((n_state, 2))
        shapes = np.concatenate([shapes, shapes.conj()], axis=1)
        blocks.append((shapes @ (eigs[:, None] ** np.arange(length))).real)
        truth.append(eigs)
    return np.concatenate(blocks, axis=1), truth


@pytest.fixture(autouse=True)
def one_blas_thread():
    """The references call LAPACK on small matrices in loops: OpenBLAS threads only wait."""
    with blas_threads(1):
        yield


@pytest.fixture(scope="module")
def small_field():
    """A FitzHugh-Nagumo field small enough for the plain reference: 48 x 91."""
    return fitzhugh_nagumo(n_grid=24, length=40.0, steps=90, seed=1).states[0]


@pytest.fixture(scope="module")
def issue_field():
    """The field of the issue: fitzhugh_nagumo(n_grid=64, steps=200), all 128 x 201 states."""
    return fitzhugh_nagumo(n_grid=64, steps=200).states[0]


@pytest.mark.parametrize("rank", [None, 1, 4, 8, 11])
def test_no_number_of_pieces_is_worse_than_the_data(issue_field, rank):
    """The defect: rank=None gave 6.8e13 at 2 pieces, 9e5 at 4, 5e2 at 8 (1 piece 3.6e-2)."""
    fit = piecewise_dmd(issue_field, 16, rank=rank)
    assert fit.errors_by_pieces.shape == (16,)
    assert np.all(fit.errors_by_pieces <= 1.0), fit.errors_by_pieces
    assert np.all(fit.piece_errors <= 1.0) and np.isfinite(fit.reconstruction).all()
    if rank is None:  # the paper's adaptive ranks fit this field well at every N
        assert fit.errors_by_pieces.max() < 0.05 and fit.converged.all()
        assert np.all(fit.local_errors <= 0.1)


@pytest.mark.parametrize("pieces", [1, 2, 3, 5])
def test_matches_the_plain_pdmd_reference(small_field, pieces):
    X = small_field
    fit = piecewise_dmd(X, pieces)
    stitched, error, history, ranks, all_met = naive_piecewise.piecewise(X, pieces)
    np.testing.assert_array_equal(fit.ranks, ranks)
    assert fit.converged.all() == all_met
    scale = np.abs(X).max()
    np.testing.assert_allclose(fit.reconstruction, stitched, rtol=0, atol=1e-8 * scale)
    assert fit.error == pytest.approx(error, rel=1e-6)
    np.testing.assert_allclose(fit.error_history, history, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(fit.boundaries, naive_piecewise.boundaries(X.shape[1], pieces))


def test_matches_the_reference_on_a_drifting_frequency_with_a_rank_cap():
    X = chirp()
    for pieces in (1, 4, 8):
        fit = piecewise_dmd(X, pieces, rank=2, tol=0.1)
        stitched, _, _, ranks, all_met = naive_piecewise.piecewise(X, pieces, rank_cap=2)
        np.testing.assert_array_equal(fit.ranks, ranks)
        np.testing.assert_allclose(fit.reconstruction, stitched, atol=1e-8)
        assert fit.converged.all() == all_met


def test_pieces_of_exactly_low_rank_linear_dynamics_are_rebuilt_exactly():
    X, truth = switching_linear(pieces=2, length=40)
    one = piecewise_dmd(X, 1)
    assert one.error > 1e-3  # one linear model cannot jump between two flows
    two = piecewise_dmd(X, 2)
    np.testing.assert_array_equal(two.ranks, [4, 4])  # the numerical rank of each piece
    assert two.error < 1e-10 and two.local_errors.max() < 1e-10
    np.testing.assert_allclose(two.reconstruction, X, atol=1e-10 * np.abs(X).max())
    for piece, eigs in zip(two.pieces, truth):
        np.testing.assert_allclose(np.sort_complex(piece.eigs), np.sort_complex(eigs), atol=1e-10)
    assert np.all(two.error_history < 1e-10)


def test_one_piece_is_plain_dmd_and_each_piece_reconstructs_its_block(small_field):
    t = np.arange(150)
    X = np.exp(-0.01 * t) * np.vstack([np.cos(0.3 * t), np.sin(0.3 * t), np.cos(0.3 * t + 1)])
    fit = piecewise_dmd(X, 1, rank=2)
    reference = dmd(X[:, :-1], X[:, 1:], 2)
    np.testing.assert_allclose(np.sort_complex(fit.pieces[0].eigs),
                               np.sort_complex(reference.eigs), rtol=1e-10)
    np.testing.assert_allclose(fit.reconstruction, reference.reconstruct(150).real, atol=1e-10)
    fit = piecewise_dmd(small_field, 4)
    for piece, start, stop in zip(fit.pieces, fit.boundaries[:-1], fit.boundaries[1:]):
        np.testing.assert_allclose(piece.reconstruct(stop - start).real,
                                   fit.reconstruction[:, start:stop], atol=1e-7)


def test_more_pieces_follow_a_drifting_frequency():
    fit = piecewise_dmd(chirp(), 8, rank=2)
    assert fit.errors_by_pieces[-1] < 0.1 * fit.errors_by_pieces[0] <= 0.1
    assert fit.error == fit.errors_by_pieces[-1] and fit.n_pieces == 8
    assert fit.reconstruction.shape == (2, 201) and fit.piece_errors.shape == (8,)
    np.testing.assert_array_equal(fit.pieces_counts, np.arange(1, 9))


def test_a_piece_that_misses_tol_keeps_its_least_frobenius_rank_and_is_flagged():
    fit = piecewise_dmd(chirp(), 4, rank=2, tol=1e-12)
    stitched, _, _, ranks, all_met = naive_piecewise.piecewise(chirp(), 4, tol=1e-12, rank_cap=2)
    assert not fit.converged.any() and not all_met
    np.testing.assert_array_equal(fit.ranks, ranks)
    np.testing.assert_allclose(fit.reconstruction, stitched, atol=1e-8)
    assert np.all(fit.local_errors > 1e-12)


@settings(max_examples=40, deadline=None)
@given(n_state=st.integers(1, 6), m=st.integers(2, 40), seed=st.integers(0, 2**32 - 1),
       pieces_fraction=st.floats(0, 1), rank=st.one_of(st.none(), st.integers(1, 6)),
       tol=st.one_of(st.none(), st.floats(1e-6, 1.0)), growth=st.floats(-3, 3))
def test_any_data_any_pieces_any_rank_stay_within_the_data_scale(n_state, m, seed,
                                                                 pieces_fraction, rank, tol,
                                                                 growth):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_state, m)) * np.exp(growth * rng.standard_normal(m))
    pieces = 1 + int(pieces_fraction * (m // 2 - 1))
    shortest = int(np.diff(piece_boundaries(m, pieces)).min())
    rank = None if rank is None else min(rank, n_state, shortest - 1)
    fit = piecewise_dmd(X, pieces, rank, tol=tol)
    assert np.all(fit.errors_by_pieces <= 1.0 + 1e-12) and np.all(fit.piece_errors <= 1 + 1e-12)
    assert np.isfinite(fit.reconstruction).all() and np.isfinite(fit.error_history).all()
    assert np.all(fit.ranks <= (n_state if rank is None else rank))


def test_the_automatic_mode_stops_where_the_reference_does(small_field):
    missed, reference_errors = naive_piecewise.automatic(small_field, target=1e-3)
    search = auto_piecewise_dmd(small_field, target=1e-3)
    assert missed is None and not search.reached_target  # this field never gets there
    np.testing.assert_array_equal(search.pieces_tried, np.arange(1, 10))  # 91 // 10 = 9
    np.testing.assert_allclose(search.errors, list(reference_errors.values()), rtol=1e-6)
    # 2 pieces, every one converged, error 4.2e-3: where a target of 5e-3 stops
    count, _ = naive_piecewise.automatic(small_field, target=5e-3)
    search = auto_piecewise_dmd(small_field, target=5e-3)
    assert search.reached_target and count == 2 and search.n_pieces == count
    np.testing.assert_array_equal(search.pieces_tried, [1, 2])
    assert search.error < 5e-3 and search.fit.errors_by_pieces[-1] == search.error


def test_the_automatic_mode_finds_the_switch_and_respects_the_minimum_length():
    X, _ = switching_linear(pieces=3, length=30)
    search = auto_piecewise_dmd(X, target=1e-8)
    assert search.n_pieces == 3 and search.reached_target
    np.testing.assert_array_equal(search.pieces_tried, [1, 2, 3])
    hopeless = auto_piecewise_dmd(chirp(), target=1e-15, min_length=40, first_pieces=2)
    assert not hopeless.reached_target and not hopeless.stopped_early
    np.testing.assert_array_equal(hopeless.pieces_tried, [2, 3, 4, 5])  # 201 // 40 = 5
    best = np.argmin(np.where(hopeless.converged, hopeless.errors, np.inf)
                     if hopeless.converged.any() else hopeless.errors)
    assert hopeless.n_pieces == hopeless.pieces_tried[best]
    assert hopeless.fit.first_pieces == 2


def test_the_callback_sees_the_search_and_can_stop_it():
    seen = []

    def stop_after_two(search):
        seen.append(search.pieces_tried.copy())
        return len(seen) == 2

    search = auto_piecewise_dmd(chirp(), target=1e-12, callback=stop_after_two)
    assert search.stopped_early and list(search.pieces_tried) == [1, 2]
    assert [list(s) for s in seen] == [[1], [1, 2]]
    with pytest.raises(TypeError, match="callback"):
        auto_piecewise_dmd(chirp(), callback=5)


def test_randomized_mode_is_seeded_and_agrees_when_the_sketch_holds_the_range(small_field):
    X = small_field
    exact = piecewise_dmd(X, 3)
    sketched = piecewise_dmd(X, 3, randomized=True, seed=4)
    np.testing.assert_array_equal(sketched.ranks, exact.ranks)
    np.testing.assert_allclose(sketched.reconstruction, exact.reconstruction, atol=1e-6)
    capped = [piecewise_dmd(X, 3, rank=6, tol=0.5, randomized=True, seed=seed).reconstruction
              for seed in (4, 4, np.random.default_rng(4), 5)]
    assert capped[0].tobytes() == capped[1].tobytes()
    assert not np.array_equal(capped[0], capped[3])


def test_randomized_qb_captures_an_exactly_low_rank_matrix():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5)) @ rng.standard_normal((5, 40))
    Q, B = randomized_qb(X, 5, seed=1)
    assert Q.shape == (60, 5) and B.shape == (5, 40)
    np.testing.assert_allclose(Q.T @ Q, np.eye(5), atol=1e-12)
    np.testing.assert_allclose(Q @ B, X, atol=1e-10)
    noisy = X + 1e-3 * rng.standard_normal(X.shape)
    Q, B = randomized_qb(noisy, 5, oversampling=5, power_iterations=2, seed=1)
    best = np.linalg.svd(noisy, compute_uv=False)[10:]
    assert np.linalg.norm(noisy - Q @ B) <= 1.5 * np.sqrt(np.sum(best**2))


def test_magnitudes_from_tiny_to_1e150_give_the_same_fit(small_field):
    X = small_field
    base = piecewise_dmd(X, 3)
    for factor in (1e-300, 1e140):
        scaled = piecewise_dmd(X * factor, 3)
        np.testing.assert_array_equal(scaled.ranks, base.ranks)
        assert scaled.error == pytest.approx(base.error, rel=1e-9)
        np.testing.assert_allclose(scaled.reconstruction / factor, base.reconstruction,
                                   atol=1e-9 * np.abs(X).max())
    with pytest.raises(ValueError, match="X"):
        piecewise_dmd(np.full((2, 10), 1e308), 2)


def test_zero_and_complex_data():
    zero = piecewise_dmd(np.zeros((3, 20)), 2)
    assert zero.error == 0.0 and np.all(zero.ranks == 0) and zero.converged.all()
    assert np.all(zero.error_history == 0)
    t = np.arange(60)
    X = np.vstack([np.exp(0.2j * t), 2 * np.exp(-0.5j * t)])
    fit = piecewise_dmd(X, 2)
    assert np.iscomplexobj(fit.reconstruction) and fit.error < 1e-10


def test_a_zero_snapshot_is_measured_against_the_typical_one(small_field):
    X = small_field.copy()
    X[:, 50] = 0.0
    fit = piecewise_dmd(X, 3)
    assert np.isfinite(fit.error_history).all()
    typical = np.linalg.norm(X) / np.sqrt(X.shape[1])
    assert fit.error_history[50] == pytest.approx(
        np.linalg.norm(fit.reconstruction[:, 50]) / typical)


def test_results_compare_and_hash_without_raising():
    fit = piecewise_dmd(chirp(), 2, rank=2)
    search = auto_piecewise_dmd(chirp(), target=0.5)
    same = fit
    assert fit == same and fit != piecewise_dmd(chirp(), 2, rank=2)  # identity, not arrays
    assert isinstance(hash(fit), int) and isinstance(hash(search), int) and search != fit


def test_boundaries_split_the_snapshots_as_pdmd_does():
    for m, pieces in [(101, 7), (10, 3), (201, 16), (2, 1), (11, 5)]:
        edges = piece_boundaries(m, pieces)
        np.testing.assert_array_equal(edges, naive_piecewise.boundaries(m, pieces))
        assert edges[0] == 0 and edges[-1] == m and np.diff(edges).min() >= 2
        assert np.diff(edges).max() - np.diff(edges).min() <= 1


@pytest.mark.parametrize("call, name", [
    (lambda: piece_boundaries(1, 1), "m"),
    (lambda: piece_boundaries(10, 0), "pieces"),
    (lambda: piece_boundaries(10, 6), "pieces"),
    (lambda: piece_boundaries(10.5, 2), "m"),
    (lambda: piece_boundaries("10", 2), "m"),
    (lambda: piece_boundaries(10, None), "pieces"),
    (lambda: piece_boundaries(10**12, 2), "m"),
    (lambda: piecewise_dmd(chirp(), 0, 2), "pieces"),
    (lambda: piecewise_dmd(chirp(), 101, 2), "pieces"),
    (lambda: piecewise_dmd(chirp(11), 5, 3), "rank"),
    (lambda: piecewise_dmd(chirp(), 4, 3), "rank"),
    (lambda: piecewise_dmd(np.ones((2, 1)), 1), "X"),
    (lambda: piecewise_dmd(np.full((2, 5), np.nan), 1), "X"),
    (lambda: piecewise_dmd(np.ones((2, 2, 2)), 1), "X"),
    (lambda: piecewise_dmd(chirp(), 2, tol=0.0), "tol"),
    (lambda: piecewise_dmd(chirp(), 2, tol=2.0), "tol"),
    (lambda: piecewise_dmd(chirp(), 2, dt=1e308), "dt"),
    (lambda: piecewise_dmd(chirp(), 2, randomized="yes"), "randomized"),
    (lambda: piecewise_dmd(chirp(), 2, power_iterations=-1), "power_iterations"),
    (lambda: piecewise_dmd(chirp(), 2, oversampling=2.5), "oversampling"),
    (lambda: piecewise_dmd(chirp(), 2, seed=-1), "seed"),
    (lambda: auto_piecewise_dmd(chirp(), target=0.0), "target"),
    (lambda: auto_piecewise_dmd(chirp(), min_length=1), "min_length"),
    (lambda: auto_piecewise_dmd(chirp(), first_pieces=21), "first_pieces"),
    (lambda: randomized_qb(np.ones((4, 3)), 4), "rank"),
    (lambda: randomized_qb(np.ones((4, 3)), 2, power_iterations=21), "power_iterations"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()
