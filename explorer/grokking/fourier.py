"""Fourier probes of the MLP: pure functions of the weights (and, for losses, of the task).

A network that has grokked modular addition computes with waves: each neuron's input
weights ``U[:, n]``, ``V[:, n]`` and output weights ``W[:, n]`` are (close to) cosines of one
frequency k over the token axis, ``cos(2 pi k t / p + phase)``. The probes measure how far
the weights are from that picture, so they can be plotted at snapshots during training:

- per-neuron power spectra over the token axis, each neuron's dominant frequency and the
  share of its non-constant power at that frequency;
- the inverse participation ratio ``IPR = sum_k (|c_k| / ||c||)^4`` of the rfft magnitudes
  (1 for a pure wave, about 2 / (p / 2) for random weights);
- the histogram of dominant frequencies over neurons, the per-frequency norms of all weights,
  their Gini coefficient, and the key frequencies;
- restricted and excluded loss (Nanda et al. 2023): the logits' components along
  ``cos(w_k s)`` and ``sin(w_k s)`` with ``s = a + b`` (``a - b`` for subtraction) and
  ``w_k = 2 pi k / p`` for the key frequencies are kept (restricted) or removed (excluded),
  and the cross-entropy on the training pairs is measured.

Every function takes :class:`~explorer.grokking.Params`, a plain triple ``(U, V, W)``, or
:class:`~explorer.grokking.TransformerParams`. For the transformer the "neurons" are the
residual-stream dimensions: the token embedding ``embed[:p]`` plays U and V, the
unembedding's rows (one per residual dimension, over the p answers) play W. The residual
stream has no privileged basis, so the per-dimension probes (dominant frequency, IPR) are only
a rough guide there; the per-frequency norms, their Gini coefficient, the key frequencies
(read off the embedding, as Nanda et al. do) and the restricted and excluded losses (read off
the logits) do not depend on the basis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer._validation import check_array, check_instance, check_int_array, check_range
from explorer.grokking import _kernels
from explorer.grokking.model import ACTIVATIONS, Params, as_params, logits
from explorer.grokking.tasks import Task
from explorer.grokking.transformer import TransformerParams

#: Operations whose answer is a function of ``a + sign * b``, with that sign.
_FIBRE_SIGN = {"add": 1, "subtract": -1}
#: A transformer's frequency is key when its embedding holds at least this many times the
#: median power of the non-constant frequencies (random embeddings: the largest is below 2).
EMBEDDING_KEY_FACTOR = 4.0


@dataclass(frozen=True, eq=False)
class NeuronSpectra:
    """Power ``|rfft|^2`` over the token axis of every neuron's weights.

    Attributes
    ----------
    frequencies : ndarray of int64, shape (K + 1,)
        ``0, 1, ..., p // 2``; frequency k is the wave ``cos(2 pi k t / p + phase)``.
    U_power, V_power, W_power : ndarray of float64, shape (N, K + 1)
        Power of column n of U, V and W at each frequency.
    """

    frequencies: np.ndarray
    U_power: np.ndarray
    V_power: np.ndarray
    W_power: np.ndarray

    @property
    def total_power(self) -> np.ndarray:
        """U, V and W power summed, shape (N, K + 1)."""
        return self.U_power + self.V_power + self.W_power

    @property
    def dominant_frequency(self) -> np.ndarray:
        """Each neuron's strongest non-constant frequency (of U, V, W together), shape (N,)."""
        return 1 + np.argmax(self.total_power[:, 1:], axis=1)

    @property
    def dominant_share(self) -> np.ndarray:
        """Share of each neuron's non-constant power at its dominant frequency, in (0, 1]."""
        power = self.total_power[:, 1:]
        return power.max(axis=1) / np.maximum(power.sum(axis=1), np.finfo(float).tiny)

    @property
    def ipr(self) -> np.ndarray:
        """Inverse participation ratio of each weight vector, shape (3, N): rows U, V, W."""
        power = np.stack([self.U_power, self.V_power, self.W_power])
        total = np.maximum(power.sum(axis=2), np.finfo(float).tiny)
        return ((power / total[..., None]) ** 2).sum(axis=2)  # 0 for an all-zero vector

    @property
    def order(self) -> np.ndarray:
        """Neuron indices sorted by dominant frequency (stable), for heatmaps."""
        return np.argsort(self.dominant_frequency, kind="stable")

    @property
    def frequency_histogram(self) -> np.ndarray:
        """Number of neurons whose dominant frequency is k, indexed by k: shape (K + 1,)."""
        return np.bincount(self.dominant_frequency, minlength=len(self.frequencies))

    @property
    def component_norms(self) -> np.ndarray:
        """Norm of all weights' Fourier components at each frequency, shape (K + 1,)."""
        return np.sqrt(self.total_power.sum(axis=0))


def neuron_spectra(params: Params) -> NeuronSpectra:
    """Per-neuron power spectra of U, V and W over the token axis (numpy ``rfft``).

    Examples
    --------
    >>> import numpy as np
    >>> from explorer.grokking import Params
    >>> t = np.arange(7)[:, None]
    >>> wave = np.cos(2 * np.pi * 3 * t / 7 + np.zeros((1, 2)))
    >>> spectra = neuron_spectra(Params(wave, wave, wave))
    >>> spectra.dominant_frequency.tolist(), spectra.ipr.round(6).tolist()[0]
    ([3, 3], [1.0, 1.0])
    """
    def power(matrix):
        return np.abs(np.fft.rfft(np.asarray(matrix, np.float64), axis=0)).T ** 2

    params = as_params(params)
    if isinstance(params, TransformerParams):
        embedding = power(params.embed[:params.p])
        return NeuronSpectra(np.arange(params.p // 2 + 1), embedding, embedding,
                             power(params.unembed.T))
    return NeuronSpectra(np.arange(params.p // 2 + 1), power(params.U), power(params.V),
                         power(params.W))


def dominant_frequencies(params) -> tuple[np.ndarray, np.ndarray]:
    """Each neuron's dominant frequency (N,) and the share of its non-constant power there (N,)."""
    spectra = neuron_spectra(params)
    return spectra.dominant_frequency, spectra.dominant_share


def ipr(params) -> np.ndarray:
    """Inverse participation ratio of every weight vector, shape (3, N): rows U, V, W."""
    return neuron_spectra(params).ipr


def frequency_histogram(params) -> np.ndarray:
    """Neurons per dominant frequency, indexed by frequency: shape (p // 2 + 1,)."""
    return neuron_spectra(params).frequency_histogram


def gini(values) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, near 1 when one dominates.

    ``G = sum_i (2 i - n - 1) x_(i) / (n sum x)`` with the values sorted ascending.

    Examples
    --------
    >>> gini([1.0, 1.0, 1.0]), gini([0.0, 0.0, 0.0, 4.0])
    (0.0, 0.75)
    """
    x = np.sort(check_array("values", values, ndim=1))
    if x.size and x[0] < 0:
        raise ValueError("values must be non-negative")
    total = x.sum()
    if total == 0:
        return 0.0
    rank = np.arange(1, x.size + 1)
    return float(((2 * rank - x.size - 1) * x).sum() / (x.size * total))


def fourier_gini(params: Params) -> float:
    """Gini coefficient of the per-frequency norms of all weights (frequencies 1..p // 2)."""
    return gini(neuron_spectra(params).component_norms[1:])


def key_frequencies(params: Params, min_share: float = 0.5, min_neurons: int = 1) -> np.ndarray:
    """The frequencies the network computes with: those of its Fourier-tuned neurons.

    A neuron is tuned when at least ``min_share`` of its non-constant power (U, V and W
    together) sits at its dominant frequency; a frequency is key when at least
    ``min_neurons`` tuned neurons have it as their dominant frequency. At random
    initialisation no neuron is tuned (shares are about 0.06 at p = 97), so there are none;
    a trained quadratic MLP spreads its neurons over many frequencies, one per neuron.

    A transformer's residual stream has no neurons to tune, so there (as Nanda et al. read
    them) a frequency is key when the token embedding's power at it is at least
    :data:`EMBEDDING_KEY_FACTOR` times the median power of the non-constant frequencies;
    ``min_share`` and ``min_neurons`` do not apply.

    Parameters
    ----------
    params : Params or TransformerParams
    min_share : float, default 0.5
        Tuning threshold, in (0, 1].
    min_neurons : int, default 1
        Tuned neurons a frequency needs, >= 1.

    Returns
    -------
    ndarray of int64
        Key frequencies in [1, p // 2], by decreasing number of tuned neurons (by
        decreasing embedding power for a transformer); may be empty.
    """
    min_share = check_range("min_share", min_share, lo=0, hi=1, lo_open=True)
    min_neurons = check_range("min_neurons", min_neurons, lo=1, integer=True)
    params = as_params(params)
    spectra = neuron_spectra(params)
    if isinstance(params, TransformerParams):
        power = spectra.U_power[:, 1:].sum(axis=0)
        strongest = np.argsort(-power, kind="stable")
        keep = power[strongest] >= EMBEDDING_KEY_FACTOR * np.median(power)
        return (1 + strongest[keep]).astype(np.int64)
    tuned = spectra.dominant_frequency[spectra.dominant_share >= min_share]
    counts = np.bincount(tuned, minlength=len(spectra.frequencies))
    most_first = np.argsort(-counts, kind="stable")
    return most_first[counts[most_first] >= min_neurons].astype(np.int64)


def _cross_entropy(logit_rows: np.ndarray, labels: np.ndarray) -> float:
    shifted = logit_rows - logit_rows.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_total - shifted[np.arange(len(labels)), labels]))


def fourier_ablation_losses(params, task: Task, frequencies) -> tuple[float, float]:
    """Restricted and excluded loss: cross-entropy on the training pairs after keeping /
    removing the logits' components along ``cos(w_k s)``, ``sin(w_k s)`` of ``frequencies``.

    The components of the logits (as functions of the pair) along all waves of
    ``s = a + b mod p`` are those of the fibre mean ``M[s, q]`` (the mean logit over the p
    pairs with that s), so the projection is a DFT of M over s: for the MLP a thin wrapper
    around the kernel ``_fibre_mean_hidden`` (``M = mean hidden @ W.T``) and ``numpy.fft``;
    for the transformer M is averaged from the logits of all p^2 pairs.

    Parameters
    ----------
    params : Params or TransformerParams
    task : Task
        Its op must be ``"add"`` (``s = a + b``) or ``"subtract"`` (``s = a - b``).
    frequencies : array_like of int
        Frequencies in [1, p // 2], e.g. :func:`key_frequencies`.

    Returns
    -------
    restricted_loss, excluded_loss : float
    """
    check_instance("task", task, Task)
    if task.op not in _FIBRE_SIGN:
        raise ValueError(f"op must be one of {sorted(_FIBRE_SIGN)} for Fourier ablation, "
                         f"got {task.op!r}")
    params = as_params(params)
    if params.p != task.p:
        raise ValueError(f"params must be for p = {task.p} (the task's modulus), got p = {params.p}")
    frequencies = check_array("frequencies", frequencies, ndim=1, dtype=np.int64, min_rows=0)
    if frequencies.size and (frequencies.min() < 1 or frequencies.max() > params.p // 2):
        raise ValueError(f"frequencies must lie in [1, {params.p // 2}], got {frequencies}")
    sign = _FIBRE_SIGN[task.op]
    with np.errstate(over="ignore", invalid="ignore"):  # diverged weights give NaN, not noise
        spectrum = np.fft.rfft(_fibre_mean_logits(params, sign), axis=0)
        keep = np.zeros(len(spectrum), bool)
        keep[frequencies] = True
        restricted = np.fft.irfft(np.where(keep[:, None], spectrum, 0), n=params.p, axis=0)
        a, b, labels = task.split("train")
        fibre = (a + sign * b) % params.p
        full = logits(params, a, b).astype(np.float64)
        return (_cross_entropy(restricted[fibre], labels),
                _cross_entropy(full - restricted[fibre], labels))


def _fibre_mean_logits(params, sign: int) -> np.ndarray:
    """(p, p) float64: row s is the mean logit vector over the pairs with (a + sign b) mod p = s."""
    if isinstance(params, Params):
        hidden = _kernels._fibre_mean_hidden(params.stacked(), ACTIVATIONS[params.activation], sign)
        return hidden @ params.W.T.astype(np.float64)
    a, b = np.divmod(np.arange(params.p * params.p, dtype=np.int64), params.p)
    mean = np.zeros((params.p, params.p))
    np.add.at(mean, (a + sign * b) % params.p, logits(params, a, b).astype(np.float64))
    return mean / params.p


def restricted_loss(params, task: Task, frequencies=None) -> float:
    """Training loss with only the ``frequencies`` components of the logits kept (default:
    the network's own :func:`key_frequencies`); see :func:`fourier_ablation_losses`."""
    keys = key_frequencies(params) if frequencies is None else frequencies
    return fourier_ablation_losses(params, task, keys)[0]


def excluded_loss(params, task: Task, frequencies=None) -> float:
    """Training loss with the ``frequencies`` components of the logits removed (default:
    the network's own :func:`key_frequencies`); see :func:`fourier_ablation_losses`."""
    keys = key_frequencies(params) if frequencies is None else frequencies
    return fourier_ablation_losses(params, task, keys)[1]


@dataclass(frozen=True, eq=False)
class FourierProbe:
    """Every Fourier probe of one set of weights (see the module docstring).

    Attributes
    ----------
    mean_ipr : float
        IPR averaged over neurons and over U, V and W, in (0, 1].
    mean_dominant_share : float
        :attr:`NeuronSpectra.dominant_share` averaged over neurons.
    gini : float
        :func:`fourier_gini`.
    frequency_histogram : ndarray of int64, shape (p // 2 + 1,)
        Neurons per dominant frequency (index 0 is always 0).
    key_frequencies : ndarray of int64
        The frequencies used for the two losses.
    restricted_loss, excluded_loss : float
        :func:`fourier_ablation_losses` (NaN when the task's op is not add or subtract).
    """

    mean_ipr: float
    mean_dominant_share: float
    gini: float
    frequency_histogram: np.ndarray
    key_frequencies: np.ndarray
    restricted_loss: float
    excluded_loss: float


def probe(params, task: Task, frequencies=None) -> FourierProbe:
    """All Fourier probes of ``params``; restricted and excluded loss use ``frequencies``
    (default: this network's own :func:`key_frequencies`)."""
    params = as_params(params)
    check_instance("task", task, Task)
    spectra = neuron_spectra(params)
    keys = (key_frequencies(params) if frequencies is None
            else check_int_array("frequencies", frequencies, lo=1, hi=params.p // 2, ndim=1,
                                 min_rows=0))
    losses = ((np.nan, np.nan) if task.op not in _FIBRE_SIGN
              else fourier_ablation_losses(params, task, keys))
    return FourierProbe(float(spectra.ipr.mean()), float(spectra.dominant_share.mean()),
                        gini(spectra.component_norms[1:]), spectra.frequency_histogram, keys,
                        *losses)
