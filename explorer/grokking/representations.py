"""Representation probes: the group Fourier transform and the irrep each neuron is tuned to.

On Z_p a grokked network computes with waves, one frequency per neuron (the DFT probes of
:mod:`explorer.grokking.fourier`). On any finite group the waves are the matrix entries of
the irreducible representations rho, and the transform of a function f on the group is

    f_hat(rho) = sum_g f(g) rho(g)^H            (a d x d matrix per irrep)

with the inverse ``f(g) = (1 / M) sum_rho d_rho tr(f_hat(rho) rho(g))`` and Plancherel's
identity ``sum_g |f(g)|^2 = sum_rho d_rho ||f_hat(rho)||_F^2 / M``. We call each term of the
right-hand side the power of f in rho. On Z_n, ``f_hat(k)`` is ``numpy.fft.fft(f)[k]``.

A neuron of the MLP has three such functions on the group: its input weights ``U[:, n]``,
``V[:, n]`` (over the first and second token) and output weights ``W[:, n]`` (over the
answer). :func:`neuron_irreps` measures how their power splits over the irreps (an irrep
and its complex conjugate counted together, since the weights are real).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_instance
from explorer.grokking.fourier import NeuronSpectra
from explorer.grokking.irreps import Irreps, irreps
from explorer.grokking.model import Params, as_params
from explorer.grokking.tasks import Task


def _as_irreps(group) -> Irreps:
    """``group`` itself (Irreps), the irreps of a group name, or of a task's group (a task
    without one lives on Z_p, the token axis of the DFT probes)."""
    if isinstance(group, Irreps):
        return group
    if isinstance(group, Task):
        return irreps(group.group if group.group is not None else f"cyclic:{group.p}")
    if not isinstance(group, str):
        raise TypeError(f"group must be a group name, an Irreps or a Task, got "
                        f"{type(group).__name__}")
    return irreps(group)


def _real_power(irreps_: Irreps, power: np.ndarray) -> np.ndarray:
    """Power per irrep (..., R) summed over conjugate pairs: (..., len(real_classes))."""
    return np.stack([power[..., list(members)].sum(axis=-1)
                     for members in irreps_.real_classes], axis=-1)


@dataclass(frozen=True, eq=False)
class GroupFourier:
    """The group Fourier transform of one or several functions on a group.

    Attributes
    ----------
    irreps : Irreps
    coefficients : tuple of ndarray of complex128
        ``coefficients[r]`` has shape ``batch + (d_r, d_r)``: ``f_hat(rho_r)``, where
        ``batch`` is the shape of the input after its first (group) axis.
    """

    irreps: Irreps
    coefficients: tuple

    @property
    def power(self) -> np.ndarray:
        """``d ||f_hat(rho)||_F^2 / M`` per irrep, float64 ``batch + (R,)``; sums to
        ``sum_g f(g)^2`` over the last axis."""
        order = self.irreps.order
        return np.stack([m.shape[-1] * (np.abs(c) ** 2).sum(axis=(-2, -1)) / order
                         for m, c in zip(self.irreps.matrices, self.coefficients)], axis=-1)

    @property
    def real_power(self) -> np.ndarray:
        """:attr:`power` with conjugate irreps summed, ``batch + (len(real_classes),)``."""
        return _real_power(self.irreps, self.power)

    def inverse(self) -> np.ndarray:
        """The function back, ``(M,) + batch`` float64 (the real part; exact to rounding)."""
        order = self.irreps.order
        total = sum(m.shape[-1] * np.einsum("...ij,gji->g...", c, m)
                    for m, c in zip(self.irreps.matrices, self.coefficients))
        return np.ascontiguousarray(total.real / order)


def group_fourier(values, group) -> GroupFourier:
    """The group Fourier transform ``f_hat(rho) = sum_g f(g) rho(g)^H`` over every irrep.

    Parameters
    ----------
    values : array_like of float, shape (M,) or (M, ...)
        Real functions on the group along the first axis (element indices as in
        :func:`~explorer.grokking.group_table`), e.g. a weight matrix ``U`` of shape (M, N).
    group : str, Irreps or Task
        The group (a task without a group means Z_p).

    Returns
    -------
    GroupFourier

    Examples
    --------
    >>> import numpy as np
    >>> spectrum = group_fourier(np.arange(6.0), "symmetric:3")
    >>> spectrum.power.round(3).tolist()  # trivial, sign, the 2-dimensional irrep
    [37.5, 0.167, 17.333]
    >>> bool(np.allclose(spectrum.inverse(), np.arange(6.0)))
    True
    """
    irreps_ = _as_irreps(group)
    values = check_array("values", values, min_rows=irreps_.order)
    if values.ndim == 0 or values.shape[0] != irreps_.order:
        raise ValueError(f"values must have the group's order {irreps_.order} along the first "
                         f"axis, got shape {values.shape}")
    coefficients = tuple(np.einsum("g...,gji->...ij", values, m.conj())
                         for m in irreps_.matrices)
    return GroupFourier(irreps_, coefficients)


@dataclass(frozen=True, eq=False)
class NeuronIrreps(NeuronSpectra):
    """How each neuron's weights split over the real irreps (conjugate pairs merged).

    The group version of :class:`~explorer.grokking.NeuronSpectra`: the "frequencies" are
    the real irreps, so every property of the DFT probe (``dominant_frequency``,
    ``dominant_share``, ``ipr``, ``order``, ``frequency_histogram``, ``component_norms``)
    applies, with irrep-named aliases below.

    Attributes
    ----------
    frequencies : ndarray of int64, shape (K,)
        Indices 0 .. K - 1 of the real irreps; index 0 is the trivial one (the constant part).
    U_power, V_power, W_power : ndarray of float64, shape (N, K)
        Power of column n of U, V and W in each real irrep (Plancherel-normalised: a row sums
        to the squared norm of the column).
    group : str
    names : tuple of str, length K
        :attr:`Irreps.real_names`.
    dims : ndarray of int64, shape (K,)
        Dimension d of each (complex) irrep of the class.
    chance_share : ndarray of float64, shape (K,)
        The share of power a random vector puts in each class on average: the class's real
        dimension over M (``d^2`` per member irrep). At initialisation the dominant irrep is
        therefore usually the largest one, not a tuned one.
    """

    group: str
    names: tuple
    dims: np.ndarray
    chance_share: np.ndarray

    # results holding arrays compare and hash by identity (the base class compares fields)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def dominant_irrep(self) -> np.ndarray:
        """Each neuron's strongest non-trivial irrep (index into :attr:`names`), shape (N,)."""
        return self.dominant_frequency

    @property
    def histogram(self) -> np.ndarray:
        """Neurons per dominant irrep, shape (K,) (index 0, the trivial irrep, is 0)."""
        return self.frequency_histogram

    @property
    def irrep_norms(self) -> np.ndarray:
        """Norm of all weights' components in each irrep, shape (K,)."""
        return self.component_norms


def neuron_irreps(params, group) -> NeuronIrreps:
    """Per-neuron power of U, V and W in every irrep of the group (a representation probe).

    On Z_p this is the DFT probe: the class of frequency k gets ``|rfft_k|^2 / p``, doubled
    for 0 < k < p / 2 (k and -k together), so the dominant class is
    :attr:`~explorer.grokking.NeuronSpectra.dominant_frequency` for odd p.

    Parameters
    ----------
    params : Params or (U, V, W)
        Weights with M rows (M = the group's order).
    group : str, Irreps or Task
        The group; a :class:`~explorer.grokking.Task` uses its own group (Z_p if none).

    Returns
    -------
    NeuronIrreps

    Examples
    --------
    >>> from explorer.grokking import init_params
    >>> probe = neuron_irreps(init_params(p=24, width=8), "symmetric:4")
    >>> probe.names, probe.U_power.shape
    (('trivial', 'sign', '2', '3a', '3b'), (8, 5))
    """
    check_instance("params", params, (Params, tuple, list))
    params = as_params(params)
    irreps_ = _as_irreps(group)
    if params.p != irreps_.order:
        raise ValueError(f"params must have {irreps_.order} rows (the order of {irreps_.group}), "
                         f"got {params.p}")
    powers = [group_fourier(np.asarray(m, np.float64), irreps_).real_power
              for m in (params.U, params.V, params.W)]
    classes = irreps_.real_classes
    dims = irreps_.dims
    return NeuronIrreps(np.arange(len(classes), dtype=np.int64), *powers, irreps_.group,
                        irreps_.real_names,
                        np.array([dims[m[0]] for m in classes], dtype=np.int64),
                        np.array([(dims[list(m)] ** 2).sum() for m in classes]) / irreps_.order)
