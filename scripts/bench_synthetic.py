"""Synthetic-face generation speed: images per second for the default training split.

Usage: python scripts/bench_synthetic.py [--n 6000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

# the generator itself is what this script times (load_dataset adds splitting and the cache)
from fer_zoo.data.synthetic import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    generate(500, seed=0)  # warm up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        generate(args.n, seed=0)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"{args.n} images in {median:.2f} s (median of {args.repeats}): {args.n / median:,.0f} images/s "
          f"(target >= 5,000)")


if __name__ == "__main__":
    main()
