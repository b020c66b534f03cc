"""Piecewise DMD: one piece is plain DMD; more pieces follow drifting dynamics."""

import numpy as np
import pytest

from explorer.koopman import dmd, fitzhugh_nagumo, piecewise_dmd
from explorer.koopman.piecewise import piece_boundaries


def chirp(samples=201):
    t = np.linspace(0, 20, samples)
    phase = t * (1 + t / 20)
    return np.vstack([np.cos(phase), np.sin(phase)])


def test_one_piece_is_plain_dmd():
    X = chirp()
    fit = piecewise_dmd(X, 1, rank=2)
    reference = dmd(X[:, :-1], X[:, 1:], 2)
    np.testing.assert_allclose(fit.pieces[0].eigs, reference.eigs)
    np.testing.assert_allclose(fit.reconstruction, reference.reconstruct(X.shape[1]).real)


def test_more_pieces_follow_a_drifting_frequency():
    fit = piecewise_dmd(chirp(), 8, rank=2)
    assert fit.errors_by_pieces[-1] < 0.1 * fit.errors_by_pieces[0]
    assert fit.error == fit.errors_by_pieces[-1] and fit.n_pieces == 8
    assert fit.reconstruction.shape == (2, 201) and fit.piece_errors.shape == (8,)


def test_boundaries_cover_every_transition_once():
    boundaries = piece_boundaries(101, 7)
    assert boundaries[0] == 0 and boundaries[-1] == 100
    assert np.all(np.diff(boundaries) >= 14)


def test_reaction_diffusion_field_is_fitted_better_in_pieces():
    field = fitzhugh_nagumo(32, 40.0, steps=120, seed=1)
    u = field.states[0, :32]
    fit = piecewise_dmd(u, 6, rank=6)
    assert fit.errors_by_pieces[-1] < fit.errors_by_pieces[0]
    assert np.isfinite(fit.reconstruction).all()


@pytest.mark.parametrize("X, pieces, rank, name", [
    (chirp(), 0, 2, "pieces"),
    (chirp(), 201, 2, "pieces"),
    (chirp(11), 5, 3, "rank"),
    (chirp(), 4, 3, "rank"),
    (np.ones((2, 1)), 1, None, "X"),
    (np.full((2, 5), np.nan), 1, None, "X"),
])
def test_bad_input_names_the_parameter(X, pieces, rank, name):
    with pytest.raises(ValueError, match=name):
        piecewise_dmd(X, pieces, rank)
