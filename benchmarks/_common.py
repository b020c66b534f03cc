"""Shared by the benchmark scripts: best-of timing and a side-by-side table written as JSON."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def best_time(function, *, repeat: int = 3, number: int = 1) -> float:
    """Best wall time (seconds) of ``number`` calls over ``repeat`` trials; call once first to warm."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def matmul_gflops(n: int = 1024, repeat: int = 5) -> float:
    """The machine's float64 matmul rate (GFLOP/s) measured now, through numpy's BLAS."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    a @ b
    return 2 * n**3 / best_time(lambda: a @ b, repeat=repeat) / 1e9


@dataclass
class Report:
    """Rows of (case, ours, reference) with the ratio in the favourable direction."""

    topic: str
    rows: list = field(default_factory=list)
    notes: dict = field(default_factory=dict)

    def add(self, case: str, ours: float, reference_name: str, reference: float | None,
            unit: str = "s", higher_is_better: bool = False) -> None:
        """Add a row; ``ratio`` > 1 means ours is better (faster, or higher rate)."""
        ratio = None
        if reference is not None and ours > 0 and reference > 0:
            ratio = ours / reference if higher_is_better else reference / ours
        self.rows.append({"case": case, "unit": unit, "ours": ours, "reference": reference_name,
                          "reference_value": reference, "ratio": ratio})

    def print_and_save(self) -> Path:
        header = f"{'case':<46} {'ours':>14} {'reference':>25} {'ratio':>7}"
        print(f"\n== {self.topic} ==\n{header}\n{'-' * len(header)}")
        for row in self.rows:
            reference = ("n/a" if row["reference_value"] is None
                         else f"{row['reference']} {row['reference_value']:.4g}")
            ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}x"
            print(f"{row['case']:<46} {row['ours']:>10.4g} {row['unit']:<3} "
                  f"{reference:>24} {ratio:>7}")
        for key, value in self.notes.items():
            print(f"  {key}: {value}")
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{self.topic}.json"
        payload = {"topic": self.topic, "machine": platform.processor() or platform.machine(),
                   "rows": self.rows, "notes": self.notes}
        path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
        print(f"  written: {path}")
        return path
