"""Measure `fer-zoo list` against `python -c "import tensorflow"`, side by side.

Usage: python scripts/time_list.py [--repeats N]

Each command runs N times in a fresh process, alternating, after one untimed warm-up run of each
(so both read the same warm file cache); the medians are printed with their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def wall_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    fer_zoo = shutil.which("fer-zoo") or sys.exit("fer-zoo is not on PATH: pip install -e . first")
    commands = {
        "fer-zoo list": [fer_zoo, "list"],
        "python -c 'import tensorflow'": [sys.executable, "-c", "import tensorflow"],
    }
    times: dict[str, list[float]] = {label: [] for label in commands}
    for command in commands.values():
        wall_seconds(command)
    for _ in range(repeats):
        for label, command in commands.items():
            times[label].append(wall_seconds(command))
    medians = {label: statistics.median(t) for label, t in times.items()}
    for label, median in medians.items():
        spread = f"{min(times[label]):.3f}-{max(times[label]):.3f}"
        print(f"{label:<32} median {median:.3f} s  (range {spread} s, {repeats} runs)")
    list_s, tf_s = medians.values()
    print(f"fer-zoo list takes {list_s / tf_s:.2f}x the TensorFlow import (target: under 0.25x)")


if __name__ == "__main__":
    main()
