"""The one timing helper the benchmark scripts share."""

from __future__ import annotations

import statistics
import time


def median_seconds(fn, x, repeats: int, warmup: int = 5) -> float:
    """Median wall time of ``fn(x)`` over ``repeats`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
