"""FER2013 CSV parsing speed against pandas.read_csv, and the cached load, on a FER2013-size file.

Usage: python scripts/bench_csv.py [--csv PATH] [--repeats N]

Without --csv it writes a file in FER2013's exact format and size (35,887 rows: 28,709 Training,
3,589 PublicTest, 3,589 PrivateTest; random pixels) to a temporary folder first.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from fer_zoo import median_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fer-zoo-bench-"))
    os.environ["FER_ZOO_CACHE_DIR"] = str(work / "cache")

    import pandas as pd

    from fer_zoo import load_dataset
    # the FER2013 parser itself is what this script times, and its writer makes the test file
    from fer_zoo.data.fer2013 import parse_csv, write_csv

    path = args.csv
    if path is None:
        path = work / "fer2013.csv"
        rng = np.random.default_rng(0)
        usage = ["Training"] * 28_709 + ["PublicTest"] * 3_589 + ["PrivateTest"] * 3_589
        write_csv(path, rng.integers(0, 256, (len(usage), 48, 48, 1), dtype=np.uint8),
                  rng.integers(0, 7, len(usage)), usage)
    print(f"{path}: {path.stat().st_size / 1e6:.0f} MB")
    parse_csv(path)  # warm the file cache for both
    read = median_seconds(lambda: pd.read_csv(path), args.repeats)
    parse = median_seconds(lambda: parse_csv(path), args.repeats)
    print(f"pandas.read_csv (read only)        {read:.2f} s")
    print(f"fer-zoo parse to uint8 arrays      {parse:.2f} s  ({parse / read:.2f}x read_csv; target <= 2x)")
    load_dataset(str(path))  # fills the cache
    cached = median_seconds(lambda: load_dataset(str(path)), args.repeats)
    print(f"fer-zoo cached load                {cached:.2f} s  (target <= 0.3 s)")


if __name__ == "__main__":
    main()
