"""The configurations of Sohl-Dickstein (2024): the problem and scan options of each figure."""

from __future__ import annotations

from dataclasses import dataclass

from explorer._validation import check_choice, check_range
from explorer.fractal.problem import NONLINEARITIES, Problem, make_problem, samples_for_ratio
from explorer.fractal.scan import MAX_MINIBATCH, OFFSET_MODES, PHASE_SPACES


@dataclass(frozen=True)
class Configuration:
    """One experimental configuration: the problem and the scan options.

    Attributes
    ----------
    name : str
        Plain identifier, e.g. "tanh_minibatch".
    label : str
        Short human description.
    nonlinearity, dataset_param_ratio
        As in :func:`~explorer.fractal.make_problem`.
    minibatch, phase_space, offset_mode
        As in :func:`~explorer.fractal.scan`.
    """

    name: str
    label: str
    nonlinearity: str = "tanh"
    dataset_param_ratio: float | str = 1.0
    minibatch: int | None = None
    phase_space: str = "lr_vs_lr"
    offset_mode: str = "every_step"

    def __post_init__(self):
        for name in ("name", "label"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string, got {type(getattr(self, name)).__name__}")
        check_choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        samples_for_ratio(1, self.nonlinearity, self.dataset_param_ratio)  # checks the ratio
        if self.minibatch is not None:
            object.__setattr__(self, "minibatch", check_range(
                "minibatch", self.minibatch, lo=1, hi=MAX_MINIBATCH, integer=True))
        check_choice("phase_space", self.phase_space, PHASE_SPACES)
        check_choice("offset_mode", self.offset_mode, OFFSET_MODES)

    def problem(self, width: int = 16, seed=0) -> Problem:
        """The configuration's problem (see :func:`~explorer.fractal.make_problem`)."""
        return make_problem(width, self.nonlinearity, seed,
                            dataset_param_ratio=self.dataset_param_ratio)

    def scan_options(self) -> dict:
        """Keyword arguments for :func:`~explorer.fractal.scan` (and its Dask twin)."""
        return {"phase_space": self.phase_space, "offset_mode": self.offset_mode,
                "minibatch": self.minibatch}


#: Every configuration by name: the paper's six first, then the notebook's variants.
CONFIGURATIONS = {c.name: c for c in (
    Configuration("tanh", "tanh, full batch"),
    Configuration("relu", "relu, full batch", nonlinearity="relu"),
    Configuration("identity", "identity (deep linear), full batch", nonlinearity="identity"),
    Configuration("tanh_minibatch", "tanh, minibatches of 16", minibatch=16),
    Configuration("tanh_single_datapoint", "tanh, a single training point",
                  dataset_param_ratio="single_datapoint"),
    Configuration("tanh_paraminit_drift", "tanh, input-weight offset (drift) vs learning rate",
                  phase_space="paraminit_vs_lr", offset_mode="every_step"),
    Configuration("tanh_paraminit_shifted",
                  "tanh, input-weight offset (shifted start) vs learning rate",
                  phase_space="paraminit_vs_lr", offset_mode="initial"),
    Configuration("tanh_data_half", "tanh, data 0.5 x parameters", dataset_param_ratio=0.5),
    Configuration("tanh_data_tenfold", "tanh, data 10 x parameters", dataset_param_ratio=10.0),
)}
#: The six configurations of the paper's figures, in its order. Its parameter-initialisation
#: images come from the notebook's drift (the offset re-added every step).
PAPER_CONFIGURATIONS = ("tanh", "relu", "identity", "tanh_minibatch", "tanh_single_datapoint",
                        "tanh_paraminit_drift")
