"""explorer: interactive, numba-backed explorers of four phenomena of modern ML and dynamics.

Topics live in subpackages (``explorer.fractal``, ``explorer.grokking``, ``explorer.koopman``,
``explorer.blending``); widget views live in ``explorer.apps``. Importing this package is
cheap: nothing is compiled until a kernel is first called.
"""

from explorer._settings import quick_mode

__version__ = "0.1.0"
__all__ = ["quick_mode", "__version__"]
