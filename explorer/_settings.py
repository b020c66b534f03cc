"""Process-wide settings read from the environment."""

import os


def quick_mode() -> bool:
    """Whether ``EXPLORER_QUICK=1`` asks notebooks and demos for small, fast settings.

    The notebook tests set it so every lesson runs top to bottom in seconds; a teacher leaves
    it unset and gets the full-quality defaults.
    """
    return os.environ.get("EXPLORER_QUICK", "0") not in ("", "0", "false", "False")
