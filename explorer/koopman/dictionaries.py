"""Dictionaries of observables for EDMD: functions of the state evaluated on snapshots.

A dictionary is any callable mapping snapshots ``X`` of shape ``(n_state, m)`` to the lifted
snapshots ``Psi`` of shape ``(n_functions, m)`` (one observable per row, one snapshot per
column). :func:`monomials` and :func:`radial_basis` build the two classic ones, evaluated by
parallel numba kernels; :func:`legendre` and :func:`fourier` the orthonormal bases of an
interval and of the circle; any other callable (e.g. ``lambda X: np.vstack([X, np.sin(X)])``)
works as well. The dictionaries defined here act snapshot by snapshot (``pointwise``), which
lets :func:`edmd` evaluate them once per distinct snapshot of a trajectory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations_with_replacement

import numpy as np

from explorer._validation import (MAX_MAGNITUDE, check_array, check_choice, check_interval,
                                  check_range, make_rng)
from explorer.koopman import _kernels

__all__ = ["Monomials", "RadialBasis", "Legendre", "Fourier", "monomials", "radial_basis",
           "legendre", "fourier", "pick_centers", "evaluate_dictionary", "MAX_FUNCTIONS"]

#: Largest dictionary any builder here makes (``N``); EDMD's cost grows like ``m N^2``.
MAX_FUNCTIONS = 5000


def _check_snapshots(X, n_state=None, *, complex_ok=False):
    from explorer.koopman.dmd import _complex_input

    dtype = np.complex128 if complex_ok and _complex_input(X) else np.float64
    shape = (n_state, None) if n_state is not None else None
    return check_array("X", X, ndim=2, shape=shape, dtype=dtype)


def monomial_count(n_state: int, degree: int) -> int:
    """``C(n_state + degree, degree)``: the number of monomials up to ``degree``."""
    return math.comb(n_state + degree, degree)


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
    The number of functions, ``C(n_state + degree, degree)``, must stay at most
    :data:`MAX_FUNCTIONS`; complex snapshots are evaluated in complex arithmetic.
    """

    degree: int
    pointwise = True

    def __post_init__(self):
        object.__setattr__(self, "degree", check_range("degree", self.degree, lo=0, hi=30,
                                                       integer=True))

    def size(self, n_state: int) -> int:
        """``C(n_state + degree, degree)``, checked against :data:`MAX_FUNCTIONS`."""
        n_state = check_range("n_state", n_state, lo=1, hi=10**6, integer=True)
        count = monomial_count(n_state, self.degree)
        if count > MAX_FUNCTIONS:
            raise ValueError(f"degree {self.degree} on n_state={n_state} state variables gives "
                             f"{count} monomials; at most {MAX_FUNCTIONS} (lower the degree)")
        return count

    def exponents(self, n_state: int) -> np.ndarray:
        """Exponents (n_functions, n_state); ``n_functions = C(n_state + degree, degree)``."""
        self.size(n_state)
        return _monomial_exponents(int(n_state), self.degree)

    def labels(self, n_state: int) -> list[str]:
        """Readable names, e.g. ``["1", "x1", "x2", "x1^2", "x1 x2", "x2^2"]``."""
        return [_monomial_label(row) for row in self.exponents(n_state)]

    def __call__(self, X) -> np.ndarray:
        """Evaluate on snapshots ``X`` (n_state, m) -> (n_functions, m) (parallel kernel).

        ``X`` may be complex (then so are the values). Refused if a monomial could exceed
        1e150 in magnitude (``max |x| ** degree``).
        """
        X = _check_snapshots(X, complex_ok=True)
        exponents = self.exponents(X.shape[0])
        largest = float(np.abs(X).max()) if X.size else 0.0
        if self.degree and largest > 1 and self.degree * math.log10(largest) > math.log10(MAX_MAGNITUDE):
            raise ValueError(f"X has entries up to {largest:.3g}: monomials of degree "
                             f"{self.degree} would exceed {MAX_MAGNITUDE:g} (scale the data)")
        return _kernels.evaluate_monomials(X, exponents)


@dataclass(frozen=True, eq=False)
class RadialBasis:
    """Radial functions ``phi(|x - c_k| / width)`` around fixed centers. Use :func:`radial_basis`."""

    centers: np.ndarray
    width: float
    kind: str
    pointwise = True

    def __post_init__(self):
        centers = check_array("centers", self.centers, ndim=2)
        if not 1 <= centers.shape[1] <= MAX_FUNCTIONS:
            raise ValueError(f"centers must hold 1 to {MAX_FUNCTIONS} centers (columns), got shape "
                             f"{centers.shape}")
        object.__setattr__(self, "centers", centers)
        object.__setattr__(self, "width", check_range("width", self.width, lo=1e-150, hi=1e150))
        object.__setattr__(self, "kind", check_choice("kind", self.kind, ("gaussian", "thin_plate")))

    def labels(self, n_state: int | None = None) -> list[str]:
        return [f"{self.kind}[{k}]" for k in range(self.centers.shape[1])]

    def size(self, n_state: int | None = None) -> int:
        return self.centers.shape[1]

    def __call__(self, X) -> np.ndarray:
        """Evaluate on real snapshots ``X`` (n_state, m) -> (n_centers, m) (parallel kernel)."""
        X = _check_snapshots(X, self.centers.shape[0])
        code = _kernels.GAUSSIAN if self.kind == "gaussian" else _kernels.THIN_PLATE
        return _kernels.evaluate_radial_basis(X, self.centers, self.width, code)


@dataclass(frozen=True, eq=False)
class Legendre:
    """Legendre polynomials ``p_0 .. p_{size-1}`` on an interval, orthonormal for its uniform
    probability measure: ``p_j(x) = sqrt(2 j + 1) P_j(t)``, ``t = 2 (x - lo) / (hi - lo) - 1``.

    With Gauss-Legendre nodes and weights as data (:func:`gauss_map`), the Gram matrix is the
    identity to rounding. One state variable. Use :func:`legendre`.
    """

    count: int
    interval: tuple
    pointwise = True

    def __post_init__(self):
        object.__setattr__(self, "count", check_range("count", self.count, lo=1, hi=1000,
                                                      integer=True))
        interval = check_interval("interval", self.interval)
        if max(abs(interval[0]), abs(interval[1])) > 1e150:
            raise ValueError(f"interval must lie within [-1e150, 1e150], got {interval!r}")
        object.__setattr__(self, "interval", interval)

    def size(self, n_state: int | None = None) -> int:
        return self.count

    def labels(self, n_state: int | None = None) -> list[str]:
        return [f"P{j}" for j in range(self.count)]

    def __call__(self, X) -> np.ndarray:
        """Evaluate on snapshots ``X`` (1, m) -> (count, m) by the three-term recurrence."""
        X = _check_snapshots(X, 1)
        lo, hi = self.interval
        t = 2 * (X[0] - lo) / (hi - lo) - 1
        if X.size and np.abs(t).max() > 3:
            raise ValueError(f"X must lie within 3 half-widths of the interval {self.interval} "
                             f"(Legendre polynomials grow fast outside it), got {X.min():.3g} .. "
                             f"{X.max():.3g}")
        values = np.empty((self.count, t.size))
        values[0] = 1.0
        if self.count > 1:
            values[1] = t
        for j in range(1, self.count - 1):
            values[j + 1] = ((2 * j + 1) * t * values[j] - j * values[j - 1]) / (j + 1)
        return values * np.sqrt(2 * np.arange(self.count) + 1)[:, None]


@dataclass(frozen=True)
class Fourier:
    """Fourier modes ``exp(i k x)``, ``k = -modes .. modes``, of an angle ``x``.

    Orthonormal for the uniform measure on the circle; complex values. One state variable
    (an angle in radians). Use :func:`fourier`.
    """

    modes: int
    pointwise = True

    def __post_init__(self):
        object.__setattr__(self, "modes", check_range("modes", self.modes, lo=0, hi=1000,
                                                      integer=True))

    def size(self, n_state: int | None = None) -> int:
        return 2 * self.modes + 1

    def frequencies(self) -> np.ndarray:
        """The integers ``k`` of the rows, ``-modes .. modes``."""
        return np.arange(-self.modes, self.modes + 1)

    def labels(self, n_state: int | None = None) -> list[str]:
        return [f"exp({k}ix)" for k in self.frequencies()]

    def __call__(self, X) -> np.ndarray:
        """Evaluate on angles ``X`` (1, m) -> (2 modes + 1, m) complex."""
        X = _check_snapshots(X, 1)
        return np.exp(1j * self.frequencies()[:, None] * X[0][None, :])


def monomials(degree: int) -> Monomials:
    """All monomials of the state up to total degree ``degree``, the constant included.

    Parameters
    ----------
    degree : int in [0, 30]
        With ``n_state`` variables this makes ``C(n_state + degree, degree)`` functions,
        which must be at most :data:`MAX_FUNCTIONS` (checked on evaluation).

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
    return Monomials(degree)


def radial_basis(centers, width: float = 1.0, kind: str = "gaussian") -> RadialBasis:
    """Radial basis functions around ``centers``.

    Parameters
    ----------
    centers : array (n_state, n_centers)
        One center per column (finite); see :func:`pick_centers`.
    width : float in [1e-150, 1e150]
        Length scale ``epsilon`` dividing the distance (state units).
    kind : {"gaussian", "thin_plate"}
        ``exp(-r^2)`` or ``r^2 log r`` of the scaled distance ``r``.

    Returns
    -------
    RadialBasis
        Callable on snapshots (n_state, m) -> (n_centers, m).
    """
    return RadialBasis(centers=centers, width=width, kind=kind)


def legendre(count: int, interval=(-1.0, 0.0)) -> Legendre:
    """The first ``count`` normalised Legendre polynomials on ``interval`` (1D states).

    Parameters
    ----------
    count : int in [1, 1000]
        Number of polynomials (degrees 0 .. count - 1).
    interval : (lo, hi)
        The interval (default ``[-1, 0]``, the Gauss map's).

    Returns
    -------
    Legendre

    Examples
    --------
    >>> legendre(3)([[-1.0, -0.5, 0.0]]).round(6)
    array([[ 1.      ,  1.      ,  1.      ],
           [-1.732051,  0.      ,  1.732051],
           [ 2.236068, -1.118034,  2.236068]])
    """
    return Legendre(count=count, interval=interval)


def fourier(modes: int) -> Fourier:
    """Fourier modes ``exp(i k x)``, ``|k| <= modes``, of an angle (1D states).

    Parameters
    ----------
    modes : int in [0, 1000]

    Returns
    -------
    Fourier
        Callable on angles (1, m) -> (2 modes + 1, m) complex.

    Examples
    --------
    >>> (fourier(1)([[0.0, np.pi / 2]]).round(6) + 0).tolist()  # + 0: no signed zeros
    [[(1+0j), -1j], [(1+0j), (1+0j)], [(1+0j), 1j]]
    """
    return Fourier(modes)


def pick_centers(X, count: int, seed=0) -> np.ndarray:
    """``count`` distinct snapshots of ``X`` (n_state, m) chosen at random: (n_state, count)."""
    X = check_array("X", X, ndim=2)
    count = check_range("count", count, lo=1, hi=X.shape[1], integer=True)
    chosen = make_rng(seed).choice(X.shape[1], size=count, replace=False)
    return X[:, np.sort(chosen)].copy()


def evaluate_dictionary(dictionary, X: np.ndarray) -> np.ndarray:
    """``dictionary(X)`` checked: a finite (n_functions, m) array, float64 or complex128.

    At most :data:`MAX_FUNCTIONS` functions, each value at most 1e150 in magnitude (so that
    Gram matrices of the values stay finite).
    """
    if not callable(dictionary):
        raise TypeError(f"dictionary must be callable on snapshots (n_state, m), got "
                        f"{type(dictionary).__name__}")
    X = _check_snapshots(X, complex_ok=True)
    values = np.asarray(dictionary(X))
    if values.ndim != 2 or values.shape[1] != X.shape[1] or values.shape[0] < 1:
        raise ValueError(f"dictionary must map snapshots {X.shape} to an array (n_functions, "
                         f"{X.shape[1]}), got shape {values.shape}")
    if values.shape[0] > MAX_FUNCTIONS:
        raise ValueError(f"dictionary must have at most {MAX_FUNCTIONS} functions, got "
                         f"{values.shape[0]}")
    if values.dtype.kind not in "biufc":
        raise TypeError(f"dictionary must return numbers, got dtype {values.dtype}")
    dtype = np.complex128 if np.iscomplexobj(values) else np.float64
    values = np.array(values, dtype=dtype, order="C")
    if not np.all(np.isfinite(values)):
        raise ValueError("dictionary produced non-finite values on the data (overflow? scale "
                         "the data or lower the degree)")
    if values.size and np.abs(values).max() > MAX_MAGNITUDE:
        raise ValueError(f"dictionary values must be at most {MAX_MAGNITUDE:g} in magnitude, got "
                         f"{np.abs(values).max():.3g} (scale the data or lower the degree)")
    return values
