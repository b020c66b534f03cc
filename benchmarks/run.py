"""Run every topic benchmark, one after another, each in a fresh process."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    topics = sys.argv[1:] or ["fractal", "grokking", "koopman", "koopman_piecewise", "blending",
                              "scale_out", "cpu_levels"]
    failed = [t for t in topics if (HERE / f"{t}.py").exists()
              and subprocess.call([sys.executable, str(HERE / f"{t}.py")]) != 0]
    sys.exit(1 if failed else 0)
