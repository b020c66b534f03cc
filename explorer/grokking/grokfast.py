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

MAX_WINDOW = 1000
MAX_LAMBDA = 1000.0


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
        Amplification, in [0, 1000]; ``lamb = 0`` leaves the gradient unchanged.
    """

    alpha: float = 0.98
    lamb: float = 2.0

    def __post_init__(self):
        # stored as Python floats: a numpy scalar would make numba compile training anew
        object.__setattr__(self, "alpha", check_range("alpha", self.alpha, lo=0, hi=1, hi_open=True))
        object.__setattr__(self, "lamb", check_range("lamb", self.lamb, lo=0, hi=MAX_LAMBDA))


@dataclass(frozen=True)
class GrokfastMA:
    """Moving average (window mean) filter.

    Once ``window`` gradients have been seen, ``g <- g + lamb * mean(last window gradients)``
    (the window includes the current gradient); before that the gradient is unchanged.

    Parameters
    ----------
    window : int, default 100
        Number of gradients averaged, in [1, 1000]. The filter stores them all: ``window``
        times the number of weights.
    lamb : float, default 5.0
        Amplification, in [0, 1000].
    """

    window: int = 100
    lamb: float = 5.0

    def __post_init__(self):
        object.__setattr__(self, "window", check_range("window", self.window, lo=1, hi=MAX_WINDOW,
                                                       integer=True))
        object.__setattr__(self, "lamb", check_range("lamb", self.lamb, lo=0, hi=MAX_LAMBDA))


def as_filter(grokfast) -> GrokfastEMA | GrokfastMA | None:
    """``None``, a filter instance, or ``"ema"`` / ``"ma"`` for a filter with default settings.

    Anything else is refused naming ``grokfast``: a ``TypeError`` for another type, a
    ``ValueError`` for another name.
    """
    if grokfast is None or isinstance(grokfast, (GrokfastEMA, GrokfastMA)):
        return grokfast
    if not isinstance(grokfast, str):
        raise TypeError(f"grokfast must be GrokfastEMA, GrokfastMA, 'ema', 'ma' or None, got "
                        f"{type(grokfast).__name__}")
    name = check_choice("grokfast", grokfast, ("ema", "ma"))
    return GrokfastEMA() if name == "ema" else GrokfastMA()
