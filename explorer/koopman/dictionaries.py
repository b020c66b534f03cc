"""Dictionaries of observables for EDMD: functions of the state evaluated on snapshots.

A dictionary is any callable mapping snapshots ``X`` of shape ``(n_state, m)`` to the lifted
snapshots ``Psi`` of shape ``(n_functions, m)`` (one observable per row, one snapshot per
column). :func:`monomials` and :func:`radial_basis` build the two classic ones, evaluated by
parallel numba kernels; any other callable (e.g. ``lambda X: np.vstack([X, np.sin(X)])``)
works as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations_with_replacement

import numpy as np

from explorer._validation import check_array, check_choice, check_range, make_rng
from explorer.koopman import _kernels

__all__ = ["Monomials", "RadialBasis", "monomials", "radial_basis", "pick_centers",
           "evaluate_dictionary"]


@lru_cache(maxsize=64)
def _monomial_exponents(n_state: int, degree: int) -> np.ndarray:
    rows = [np.zeros(n_state, dtype=np.int64)]
    for total in range(1, degree + 1):
        for variables in combinations_with_replacement(range(n_state), total):
            rows.append(np.bincount(variables, minlength=n_state).astype(np.int64))
    exponents = np.array(rows)
    exponents.setflags(write=False)
    return exponents


def _monomial_label(exponent) -> str:
    factors = [f"x{i + 1}" + (f"^{p}" if p > 1 else "") for i, p in enumerate(exponent) if p]
    return " ".join(factors) or "1"


@dataclass(frozen=True)
class Monomials:
    """All monomials of the state up to a total degree, constant included.

    Order as scikit-learn's ``PolynomialFeatures``: by degree, then lexicographically, e.g.
    ``1, x1, x2, x1^2, x1 x2, x2^2`` for two variables and degree 2. Use :func:`monomials`.
    """

    degree: int

    def exponents(self, n_state: int) -> np.ndarray:
        """Exponents (n_functions, n_state); ``n_functions = C(n_state + degree, degree)``."""
        return _monomial_exponents(int(n_state), self.degree)

    def labels(self, n_state: int) -> list[str]:
        """Readable names, e.g. ``["1", "x1", "x2", "x1^2", "x1 x2", "x2^2"]``."""
        return [_monomial_label(row) for row in self.exponents(n_state)]

    def size(self, n_state: int) -> int:
        return len(self.exponents(n_state))

    def __call__(self, X) -> np.ndarray:
        """Evaluate on snapshots ``X`` (n_state, m) -> (n_functions, m) (parallel kernel)."""
        X = check_array("X", X, ndim=2)
        return _kernels.evaluate_monomials(X, self.exponents(X.shape[0]))


@dataclass(frozen=True)
class RadialBasis:
    """Radial functions ``phi(|x - c_k| / width)`` around fixed centers. Use :func:`radial_basis`."""

    centers: np.ndarray
    width: float
    kind: str

    def labels(self, n_state: int | None = None) -> list[str]:
        return [f"{self.kind}[{k}]" for k in range(self.centers.shape[1])]

    def size(self, n_state: int | None = None) -> int:
        return self.centers.shape[1]

    def __call__(self, X) -> np.ndarray:
        """Evaluate on snapshots ``X`` (n_state, m) -> (n_centers, m) (parallel kernel)."""
        X = check_array("X", X, shape=(self.centers.shape[0], None))
        code = _kernels.GAUSSIAN if self.kind == "gaussian" else _kernels.THIN_PLATE
        return _kernels.evaluate_radial_basis(X, self.centers, self.width, code)


def monomials(degree: int) -> Monomials:
    """All monomials of the state up to total degree ``degree``, the constant included.

    Parameters
    ----------
    degree : int in [0, 30]

    Returns
    -------
    Monomials
        Callable on snapshots (n_state, m) -> (C(n_state + degree, degree), m).

    Examples
    --------
    >>> monomials(2).labels(2)
    ['1', 'x1', 'x2', 'x1^2', 'x1 x2', 'x2^2']
    >>> monomials(2)([[2.0], [3.0]]).ravel().tolist()
    [1.0, 2.0, 3.0, 4.0, 6.0, 9.0]
    """
    return Monomials(check_range("degree", degree, lo=0, hi=30, integer=True))


def radial_basis(centers, width: float = 1.0, kind: str = "gaussian") -> RadialBasis:
    """Radial basis functions around ``centers``.

    Parameters
    ----------
    centers : array (n_state, n_centers)
        One center per column (finite); see :func:`pick_centers`.
    width : float > 0
        Length scale ``epsilon`` dividing the distance (state units).
    kind : {"gaussian", "thin_plate"}
        ``exp(-r^2)`` or ``r^2 log r`` of the scaled distance ``r``.

    Returns
    -------
    RadialBasis
        Callable on snapshots (n_state, m) -> (n_centers, m).
    """
    centers = check_array("centers", centers, ndim=2)
    if centers.shape[1] < 1:
        raise ValueError(f"centers must hold at least one center (column), got shape {centers.shape}")
    width = check_range("width", width, lo=0.0, lo_open=True)
    kind = check_choice("kind", kind, ("gaussian", "thin_plate"))
    return RadialBasis(centers=centers, width=width, kind=kind)


def pick_centers(X, count: int, seed=0) -> np.ndarray:
    """``count`` distinct snapshots of ``X`` (n_state, m) chosen at random: (n_state, count)."""
    X = check_array("X", X, ndim=2)
    count = check_range("count", count, lo=1, hi=X.shape[1], integer=True)
    chosen = make_rng(seed).choice(X.shape[1], size=count, replace=False)
    return X[:, np.sort(chosen)].copy()


def evaluate_dictionary(dictionary, X: np.ndarray) -> np.ndarray:
    """``dictionary(X)`` checked: a finite (n_functions, m) array, float64 or complex128."""
    if not callable(dictionary):
        raise ValueError(f"dictionary must be callable on snapshots (n_state, m), got "
                         f"{type(dictionary).__name__}")
    values = np.asarray(dictionary(X))
    if values.ndim != 2 or values.shape[1] != X.shape[1] or values.shape[0] < 1:
        raise ValueError(f"dictionary must map snapshots {X.shape} to an array (n_functions, "
                         f"{X.shape[1]}), got shape {values.shape}")
    dtype = np.complex128 if np.iscomplexobj(values) else np.float64
    values = np.ascontiguousarray(values, dtype=dtype)
    if not np.all(np.isfinite(values)):
        raise ValueError("dictionary produced non-finite values on the data (overflow? scale "
                         "the data or lower the degree)")
    return values
