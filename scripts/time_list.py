"""Measure `fer-zoo list` against `python -c "import tensorflow"`, side by side.

Usage: python scripts/time_list.py [--repeats N]

Each command runs N times in a fresh process, alternating, after one untimed warm-up run of each
(so both read the same warm file cache); the medians are printed with their ratio. `fer-zoo list` is
timed twice: with the plugin probe's verdict cached (every command after the first) and with an empty
cache each run (the first command after a plugin is installed or changed: the probe's child process
imports the third-party plugins once).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall_seconds(command: list[str], fresh_cache_in: str | None = None) -> float:
    """Seconds ``command`` takes; with ``fresh_cache_in``, run with a new empty FER_ZOO_CACHE_DIR made there."""
    env = dict(os.environ)
    if fresh_cache_in:
        env["FER_ZOO_CACHE_DIR"] = tempfile.mkdtemp(dir=fresh_cache_in)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    fer_zoo = shutil.which("fer-zoo") or sys.exit("fer-zoo is not on PATH: pip install -e . first")
    with tempfile.TemporaryDirectory(prefix="time-list-") as scratch:
        times = measure(fer_zoo, repeats, scratch)
    medians = {label: statistics.median(t) for label, t in times.items()}
    for label, median in medians.items():
        spread = f"{min(times[label]):.3f}-{max(times[label]):.3f}"
        print(f"{label:<32} median {median:.3f} s  (range {spread} s, {repeats} runs)")
    list_s, tf_s, _ = medians.values()
    print(f"fer-zoo list takes {list_s / tf_s:.2f}x the TensorFlow import (target: under 0.25x)")


def measure(fer_zoo: str, repeats: int, scratch: str) -> dict[str, list[float]]:
    os.environ["FER_ZOO_CACHE_DIR"] = str(Path(scratch) / "cache")  # the cached runs' own, warmed below
    commands = {  # label: (command, a fresh cache every run)
        "fer-zoo list": ([fer_zoo, "list"], False),
        "python -c 'import tensorflow'": ([sys.executable, "-c", "import tensorflow"], False),
        "fer-zoo list, probe not cached": ([fer_zoo, "list"], True),
    }
    times: dict[str, list[float]] = {label: [] for label in commands}
    for command, fresh in commands.values():
        wall_seconds(command, scratch if fresh else None)
    for _ in range(repeats):
        for label, (command, fresh) in commands.items():
            times[label].append(wall_seconds(command, scratch if fresh else None))
    return times


if __name__ == "__main__":
    main()
