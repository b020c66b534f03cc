"""Piecewise DMD, automatic mode: ours against a plain numpy pDMD, side by side in one run.

Run: ``python benchmarks/koopman_piecewise.py`` (``make bench`` runs every topic).

- The issue's FitzHugh-Nagumo field, ``fitzhugh_nagumo(n_grid=64, steps=200)`` (128 x 201):
  :func:`explorer.koopman.auto_piecewise_dmd` from N = 1 towards the paper's target 1e-4
  (pieces of at least 10 snapshots, so up to N = 20), against
  ``tests/koopman/naive_piecewise.automatic``, which follows the authors' pDMD.m step by step
  (an SVD of the piece, the projection, an SVD of the projected inputs, an eigendecomposition
  and ``pinv(Phi)`` at every rank it tries).
- A lambda-omega spiral of 2 x 32^2 = 2048 states and 121 snapshots at the paper's target
  1e-4: one piece already fits it (to ~5e-7), so this row times the rank search of one large
  piece, where the reference's per-rank SVD of the whole piece grows with the state and ours
  factors the piece once. (Tighter targets are no test of agreement here: at ranks near a
  piece's length the two evaluations of one model differ by up to 3e-5 of the data.)
- The randomized range finder against our exact SVD, on a 2 x 64^2 = 8192-state spiral with
  the rank capped at 30 (both ours; the answers differ by the sketch, so only the errors are
  reported).

Both sides run with BLAS on one thread (a piece's matrices are small; on a shared machine
OpenBLAS threads only wait for a core) and are timed alternately, best of the rounds. Every
row checks that the answers agree: the same numbers of pieces tried and the same errors.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Report, best_time
from explorer._jit import blas_threads
from explorer.koopman import auto_piecewise_dmd, fitzhugh_nagumo, lambda_omega
from tests.koopman import naive_piecewise

ROUNDS = 2


def alternate(first, second, rounds=ROUNDS):
    """Best wall times of two functions run in turn (a shared machine drifts in load)."""
    pairs = [(best_time(first, repeat=1), best_time(second, repeat=1)) for _ in range(rounds)]
    return min(a for a, _ in pairs), min(b for _, b in pairs)


def compare_with_reference(report, case, X, **options):
    """Time ours and the reference on ``X``; check that they try the same N, same errors."""
    ours = auto_piecewise_dmd(X, **options)
    count, reference_errors = naive_piecewise.automatic(X, **options)
    tried = list(reference_errors)
    assert ours.pieces_tried.tolist() == tried, (ours.pieces_tried, tried)
    gap = float(np.max(np.abs(ours.errors - np.array(list(reference_errors.values())))))
    assert gap < 1e-6, f"{case}: global errors differ by {gap:.2e}"
    assert (count is None) == (not ours.reached_target)
    ours_time, reference_time = alternate(lambda: auto_piecewise_dmd(X, **options),
                                          lambda: naive_piecewise.automatic(X, **options))
    report.add(case, ours_time, "numpy pDMD", reference_time)
    report.notes[case] = (f"N tried {tried[0]}..{tried[-1]}, stopped at N = {ours.n_pieces}, "
                          f"error {ours.error:.2e} (target {'reached' if ours.reached_target else 'missed'}), "
                          f"ranks {ours.fit.ranks.tolist()}, largest error gap {gap:.1e}")


def randomized_against_exact(report):
    spiral = lambda_omega(64, steps=120, dt=0.5, seed=0).states[0]
    options = {"rank": 30, "target": 1e-4, "min_length": 20}
    exact = auto_piecewise_dmd(spiral, **options)
    sketched = auto_piecewise_dmd(spiral, randomized=True, **options)
    sketched_time, exact_time = alternate(
        lambda: auto_piecewise_dmd(spiral, randomized=True, **options),
        lambda: auto_piecewise_dmd(spiral, **options))
    case = "auto pDMD, spiral 8192 x 121, rank <= 30, QB"
    report.add(case, sketched_time, "our exact SVD", exact_time)
    report.notes[case] = (f"randomized: N {sketched.n_pieces}, error {sketched.error:.2e}; "
                          f"exact: N {exact.n_pieces}, error {exact.error:.2e}")


def main():
    report = Report("koopman_piecewise")
    with blas_threads(1):
        field = fitzhugh_nagumo(n_grid=64, steps=200).states[0]
        compare_with_reference(report, "auto pDMD, FitzHugh-Nagumo 128 x 201", field)
        spiral = lambda_omega(32, steps=120, dt=0.5, seed=0).states[0]
        compare_with_reference(report, "auto pDMD, spiral 2048 x 121", spiral, min_length=20)
        randomized_against_exact(report)
    report.notes["load average at the end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    report.print_and_save()


if __name__ == "__main__":
    main()
