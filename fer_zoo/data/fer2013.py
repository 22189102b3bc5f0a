"""FER2013 CSV: ``emotion,pixels,Usage`` (and Kaggle's ``emotion, Usage, pixels`` variant).

Parsing is vectorised over the raw bytes, a few thousand rows at a time; any irregularity (quotes,
a bad token, a wrong count) sends the file to a row-by-row parser whose only job is to say exactly
which line is wrong, or to skip it with ``skip_bad_rows``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

import fer_zoo
from fer_zoo.data import cache
from fer_zoo.data.dataset import (
    CLASS_NAMES, Dataset, DatasetSource, Split, bool_option, reject_unknown, split_options, stratified_split,
)
from fer_zoo.errors import FerZooError

SIDE = 48
PIXELS = SIDE * SIDE
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
REQUIRED = ("emotion", "pixels")


def read_header(path: Path) -> list[str]:
    try:
        with open(path, "rb") as f:
            first = f.readline()
    except OSError as exc:
        raise FerZooError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not first.strip():
        raise FerZooError(f"{path}: empty file")
    return [c.strip().strip('"') for c in first.decode("utf-8", "replace").strip().split(",")]


def parse_csv(path: Path, skip_bad_rows: bool = False):
    """``(labels int64 [N], images uint8 [N,48,48,1], usage list[str] | None, skipped Counter)``."""
    header = read_header(path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FerZooError(f"{path}: missing column(s) {', '.join(missing)} (header: {','.join(header)})")
    fast = _parse_fast(path, header) if set(header) <= {"emotion", "pixels", "Usage"} else None
    if fast is not None:
        return (*fast, Counter())
    return _parse_checked(path, header, skip_bad_rows)


def _parse_fast(path: Path, header: list[str], chunk_rows: int = 2048):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size and raw[-1] != 10:
        raw = np.append(raw, np.uint8(10))
    if np.any(raw == 34):  # quoted fields: leave them to pandas
        return None
    newlines = np.flatnonzero(raw == 10)
    starts, ends = newlines[:-1] + 1, newlines[1:]  # data rows, header skipped
    keep = ends > starts  # blank lines at the end
    starts, ends = starts[keep], ends[keep]
    n, ncols = len(starts), len(header)
    if n == 0:
        raise FerZooError(f"{path}: no data rows")
    label_token = 0 if header.index("emotion") < header.index("pixels") else PIXELS
    usage_field = header.index("Usage") if "Usage" in header else None
    labels = np.empty(n, np.int64)
    images = np.empty((n, PIXELS), np.uint8)
    usage: list[str] | None = [] if usage_field is not None else None
    for r0 in range(0, n, chunk_rows):
        r1 = min(n, r0 + chunk_rows)
        seg = raw[starts[r0]: ends[r1 - 1] + 1]
        rows_start = starts[r0:r1] - starts[r0]
        tokens = _tokens(seg, rows_start, ncols, usage_field)
        if tokens is None:
            return None
        values, commas = tokens
        values = values.reshape(r1 - r0, PIXELS + 1)
        labels[r0:r1] = values[:, label_token]
        images[r0:r1] = values[:, 1:] if label_token == 0 else values[:, :PIXELS]
        if usage is not None:
            lo = commas[:, usage_field - 1] + 1 if usage_field > 0 else rows_start
            hi = commas[:, usage_field] if usage_field < ncols - 1 else (ends[r0:r1] - starts[r0])
            text = seg.tobytes()
            usage += [text[a:b].decode("ascii", "replace").strip() for a, b in zip(lo, hi)]
    if labels.max() >= len(CLASS_NAMES) or (usage is not None and not set(usage) <= set(USAGE_TO_SPLIT)):
        return None
    return labels, images.reshape(n, SIDE, SIDE, 1), usage


def _tokens(seg: np.ndarray, rows_start: np.ndarray, ncols: int, usage_field: int | None):
    """Digit runs of one chunk as uint8 values, or None if the chunk is not perfectly regular."""
    digits = seg - np.uint8(48)
    is_digit = digits < 10
    digits *= is_digit
    # a token is at most three digits: value = ones + 10 * tens + 100 * hundreds, where present
    value = digits.copy()
    tens = digits[:-1] * np.uint8(10)
    tens *= is_digit[1:]
    value[1:] += tens
    run3 = is_digit[:-2] & is_digit[1:-1]
    run3 &= is_digit[2:]
    hundreds = digits[:-2] * np.uint8(100)
    hundreds *= run3
    value[2:] += hundreds
    if np.any(run3[:-1] & is_digit[3:]):  # four digits or more
        return None
    # uint8 arithmetic wraps above 255: check the three-digit tokens' true value
    at = np.flatnonzero(run3)
    if at.size and np.any(digits[at].astype(np.int16) * 100 + digits[at + 1] * 10 + digits[at + 2] > 255):
        return None
    token_end = is_digit.copy()
    token_end[:-1] &= ~is_digit[1:]
    # integer positions then a gather: several times faster than boolean-mask compaction here
    ends = np.flatnonzero(token_end)
    bounds = np.searchsorted(ends, np.append(rows_start, len(seg)))
    if np.any(np.diff(bounds) != PIXELS + 1):
        return None
    # the only other bytes: separators, line ends, and the Usage word in its own field
    others = np.flatnonzero(~is_digit & (seg != 32))
    chars = seg[others]
    row_of = np.searchsorted(rows_start, others, side="right") - 1
    is_comma = chars == 44
    if np.any(np.bincount(row_of[is_comma], minlength=len(rows_start)) != ncols - 1):
        return None
    commas = others[is_comma].reshape(len(rows_start), ncols - 1)
    rest = ~is_comma & (chars != 10) & (chars != 13)
    if np.any(rest):
        field = (others[rest][:, None] > commas[row_of[rest]]).sum(axis=1)
        if usage_field is None or np.any(field != usage_field):
            return None
    return value.take(ends), commas


def _parse_checked(path: Path, header: list[str], skip_bad_rows: bool):
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except Exception as exc:  # pandas' tokenizer names the line
        raise FerZooError(f"{path}: {exc}") from None
    frame.columns = [c.strip() for c in frame.columns]
    has_usage = "Usage" in frame.columns
    labels, images, usage, skipped = [], [], [] if has_usage else None, Counter()
    for i, row in enumerate(frame.itertuples(index=False)):
        record = row._asdict() if hasattr(row, "_asdict") else dict(zip(frame.columns, row))
        problem = None
        try:
            label = int(record["emotion"])
        except ValueError:
            problem = "non-numeric emotion"
        else:
            if not 0 <= label < len(CLASS_NAMES):
                problem = f"emotion {label} out of range 0-{len(CLASS_NAMES) - 1}"
        if problem is None:
            values = record["pixels"].split()
            if len(values) != PIXELS:
                problem = f"{len(values)} pixel values, expected {PIXELS}"
            elif not all(v.isdigit() for v in values):
                problem = "non-numeric pixel value"
            else:
                pixels = np.array(values, dtype=np.int64)
                if pixels.max() > 255:
                    problem = "pixel value above 255"
        if problem is None and has_usage and record["Usage"].strip() not in USAGE_TO_SPLIT:
            problem = f"unknown Usage {record['Usage'].strip()!r} (expected {', '.join(USAGE_TO_SPLIT)})"
        if problem is not None:
            if not skip_bad_rows:
                raise FerZooError(f"{path} line {i + 2}: {problem} (--skip-bad-rows loads the rest)")
            skipped[_reason(problem)] += 1
            continue
        labels.append(label)
        images.append(pixels.astype(np.uint8))
        if has_usage:
            usage.append(record["Usage"].strip())
    if not labels:
        raise FerZooError(f"{path}: no valid data rows")
    return np.array(labels), np.stack(images).reshape(-1, SIDE, SIDE, 1), usage, skipped


def _reason(problem: str) -> str:
    """Group skipped rows by kind: '2303 pixel values, expected 2304' -> 'wrong pixel count'."""
    if "pixel values, expected" in problem:
        return "wrong pixel count"
    if "out of range" in problem:
        return "emotion out of range"
    return problem.split(" (")[0].split(" '")[0]


def skipped_note(path: Path, skipped: Counter) -> list[str]:
    if not skipped:
        return []
    reasons = ", ".join(f"{n} {why}" for why, n in skipped.most_common())
    return [f"{path}: skipped {sum(skipped.values())} bad row(s): {reasons}"]


def split_by_usage(path, labels, images, usage, options) -> tuple[dict[str, Split], list[str]]:
    """FER2013's own Usage split, or a seeded stratified one when the file has no Usage column."""
    if usage is not None:
        usage = np.array(usage)
        return {s: Split(images[usage == u], labels[usage == u]) for u, s in USAGE_TO_SPLIT.items()}, []
    val, test, seed = split_options(options)
    parts = stratified_split(labels, {"train": 1 - val - test, "val": val, "test": test}, seed)
    note = (f"{path}: no Usage column; made a stratified split train/val/test "
            f"{1 - val - test:.2f}/{val:.2f}/{test:.2f} with seed {seed}")
    return {s: Split(images[i], labels[i]) for s, i in parts.items()}, [note]


def load(options: dict[str, str]) -> Dataset:
    options = dict(options)
    path = Path(options.pop("path", ""))
    skip = bool_option(options, "skip_bad_rows")
    labels, images, usage, skipped = parse_csv(path, skip)
    splits, notes = split_by_usage(path, labels, images, usage, options)
    reject_unknown("fer2013", options)
    return Dataset(f"fer2013:{path}", CLASS_NAMES, splits, notes=notes + skipped_note(path, skipped))


def fingerprint(options: dict[str, str]) -> str:
    path = Path(options.get("path", ""))
    if not path.is_file():
        raise FerZooError(f"{path}: no such file")
    return cache.fingerprint("fer2013", [cache.file_digest(path)], {k: v for k, v in options.items() if k != "path"})


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray, usage=None, layout: str = "fer2013") -> None:
    """Write arrays as FER2013's CSV (``layout="icml"``: Kaggle's ``emotion, Usage, pixels``)."""
    flat = images.reshape(len(images), -1)
    with open(path, "w", newline="\n") as f:
        if layout == "icml":
            f.write("emotion, Usage, pixels\n")
            for label, row, use in zip(labels, flat, usage):
                f.write(f"{int(label)},{use},{' '.join(map(str, row.tolist()))}\n")
        else:
            f.write("emotion,pixels,Usage\n" if usage is not None else "emotion,pixels\n")
            for i, (label, row) in enumerate(zip(labels, flat)):
                tail = f",{usage[i]}" if usage is not None else ""
                f.write(f"{int(label)},{' '.join(map(str, row.tolist()))}{tail}\n")


@fer_zoo.hookimpl
def fer_zoo_register_datasets(register):
    register(DatasetSource(
        name="fer2013",
        load=load,
        fingerprint=fingerprint,
        description="FER2013 CSV (emotion,pixels,Usage or Kaggle's emotion, Usage, pixels)",
        options={"path": "the CSV file", "skip_bad_rows": "load the rest of a file with bad rows",
                 "val_fraction": "without Usage: share of each class for val (0.1)",
                 "test_fraction": "without Usage: share for test (0.1)", "seed": "without Usage: split seed (0)"},
    ))
