"""Grokfast gradient filters (Lee et al. 2024): amplify the slow part of the gradient.

A filter sits between the gradient and the optimiser step: the optimiser receives
``g + lamb * slow(g)``, where ``slow`` is a low-pass filter of the gradient history. The
weight decay of AdamW stays decoupled and is not filtered. The filtering itself runs inside
the training kernel (``_ema_filter`` and ``_ma_filter`` in :mod:`explorer.grokking._kernels`).

A fair comparison: the paper's headline speed-up is measured against a baseline *without*
weight decay; with equal weight decay on both sides the gain is much smaller.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer._validation import check_choice, check_range


@dataclass(frozen=True)
class GrokfastEMA:
    """Exponential moving average filter.

    ``mu <- alpha mu + (1 - alpha) g`` (``mu`` starts at the first gradient), then
    ``g <- g + lamb mu``.

    Parameters
    ----------
    alpha : float, default 0.98
        Momentum of the average, in [0, 1); the filter remembers ~1 / (1 - alpha) steps.
    lamb : float, default 2.0
        Amplification, >= 0; ``lamb = 0`` leaves the gradient unchanged.
    """

    alpha: float = 0.98
    lamb: float = 2.0

    def __post_init__(self):
        check_range("alpha", self.alpha, lo=0, hi=1, hi_open=True)
        check_range("lamb", self.lamb, lo=0)


@dataclass(frozen=True)
class GrokfastMA:
    """Moving average (window mean) filter.

    Once ``window`` gradients have been seen, ``g <- g + lamb * mean(last window gradients)``
    (the window includes the current gradient); before that the gradient is unchanged.

    Parameters
    ----------
    window : int, default 100
        Number of gradients averaged, in [1, 1000]. The filter stores them all:
        ``window * 3 * p * N`` numbers.
    lamb : float, default 5.0
        Amplification, >= 0.
    """

    window: int = 100
    lamb: float = 5.0

    def __post_init__(self):
        check_range("window", self.window, lo=1, hi=1000, integer=True)
        check_range("lamb", self.lamb, lo=0)


def as_filter(grokfast) -> GrokfastEMA | GrokfastMA | None:
    """``None``, a filter instance, or ``"ema"`` / ``"ma"`` for a filter with default settings."""
    if grokfast is None or isinstance(grokfast, (GrokfastEMA, GrokfastMA)):
        return grokfast
    name = check_choice("grokfast", grokfast, ("ema", "ma", None))
    return GrokfastEMA() if name == "ema" else GrokfastMA()
