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
    CLASS_NAMES, Dataset, DatasetSource, Split, bool_option, path_option, reject_unknown, split_option_help,
    split_options, stratified_split,
)
from fer_zoo.errors import FerZooError
from fer_zoo.inputs import regular_file
from fer_zoo.plugins.registry import Option

SIDE = 48
PIXELS = SIDE * SIDE
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
REQUIRED = ("emotion", "pixels")


def read_header(path: Path) -> list[str]:
    regular_file(path)  # /dev/zero has no first line to end, a named pipe blocks the open
    try:
        with open(path, "rb") as f:
            first = f.readline()
    except OSError as exc:
        raise FerZooError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not first.strip():
        raise FerZooError(f"{path}: empty file")
    if b"\r" in first.rstrip(b"\r\n"):
        raise FerZooError(f"{path}: its lines end in a bare carriage return (CR, old Mac style); fer-zoo reads "
                          f"LF or CRLF line ends: convert it first, e.g. tr '\\r' '\\n' < {path.name} > fixed.csv")
    # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first column's name
    header = [c.strip().strip('"') for c in first.decode("utf-8-sig", "replace").strip().split(",")]
    twice = next((c for c in header if c and header.count(c) > 1), None)
    if twice is not None:  # which of the two holds the data is a guess
        raise FerZooError(f"{path}: column {twice!r} appears {header.count(twice)} times in its header "
                          f"({','.join(header)}); each column once")
    return header


def parse_csv(path: Path, skip_bad_rows: bool = False):
    """``(labels int64 [N], images uint8 [N,48,48,1], usage list[str] | None, skipped Counter)``."""
    header = read_header(path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FerZooError(f"{path}: missing column(s) {', '.join(missing)} (header: {','.join(header)})")
    fast = parse_fast(path, header) if set(header) <= {"emotion", "pixels", "Usage"} else None
    if fast is not None:
        return (*fast, Counter())
    return _parse_checked(path, header, skip_bad_rows)


def parse_fast(path: Path, header: list[str], block_bytes: int = 1 << 23):
    """Stream the file in blocks of whole rows through one reused buffer; None where the file is not plain
    FER2013 (quotes, junk, a row longer than a block), so ``parse_csv`` reads it row by row instead. Public
    so tests can check this path on its own and at block sizes that cut rows.

    Whole-file arrays would cost more in first-touch page faults than the parsing itself; blocks of
    a few MB keep every temporary in memory the allocator hands back again.
    """
    ncols = len(header)
    label_token = 0 if header.index("emotion") < header.index("pixels") else PIXELS
    usage_field = header.index("Usage") if "Usage" in header else None
    labels, images, usage = [], [], [] if usage_field is not None else None
    buffer = np.empty(block_bytes, np.uint8)
    view = memoryview(buffer)
    scratch = _Scratch(block_bytes)
    carry = 0
    with open(path, "rb") as f:
        f.readline()  # the header
        while True:
            got = f.readinto(view[carry:])
            filled = carry + got
            if filled == 0:
                break
            data = buffer[:filled]
            if got == 0:  # last row without a final newline
                if filled == block_bytes:
                    return None
                buffer[filled] = 10
                filled += 1
                data = buffer[:filled]
            newlines = np.flatnonzero(data == 10)
            if newlines.size == 0:
                return None  # a row longer than a block: not FER2013
            complete = newlines[-1] + 1
            rows = _block(data[:complete], newlines, ncols, label_token, usage_field, scratch)
            if rows is None:
                return None
            labels.append(rows[0])
            images.append(rows[1])
            if usage is not None:
                usage += rows[2]
            carry = filled - complete
            buffer[:carry] = data[complete:filled].copy()
            if got == 0:
                break
    n = sum(len(l) for l in labels)
    if n == 0:
        raise FerZooError(f"{path}: no data rows")
    labels = np.concatenate(labels)
    if labels.max() >= len(CLASS_NAMES) or (usage is not None and not set(usage) <= set(USAGE_TO_SPLIT)):
        return None
    return labels, np.concatenate(images).reshape(n, SIDE, SIDE, 1), usage


def _block(seg: np.ndarray, newlines: np.ndarray, ncols: int, label_token: int, usage_field: int | None,
           scratch: _Scratch):
    """Labels, pixel rows and Usage strings of one block of complete rows, or None if irregular."""
    if np.equal(seg, 34, out=scratch.flag[: len(seg)]).any():  # quoted fields: leave them to pandas
        return None
    starts = np.concatenate([[0], newlines[:-1] + 1])
    keep = newlines > starts  # blank lines
    starts, ends = starts[keep], newlines[keep]
    if starts.size == 0:
        return np.empty(0, np.int64), np.empty((0, PIXELS), np.uint8), []
    tokens = _tokens(seg, starts, ends, len(newlines), ncols, usage_field, scratch)
    if tokens is None:
        return None
    values, commas = tokens
    values = values.reshape(len(starts), PIXELS + 1)
    pixels = values[:, 1:] if label_token == 0 else values[:, :PIXELS]
    usage = []
    if usage_field is not None:
        usage = _usage_words(seg, *_usage_bounds(commas, starts, ends, usage_field, ncols))
        if usage is None:
            return None
    return values[:, label_token].astype(np.int64), pixels.copy(), usage


_USAGE_WIDTH = 12
_USAGE_WORDS = np.array(list(USAGE_TO_SPLIT), dtype=f"S{_USAGE_WIDTH}")


def _usage_words(seg: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[str] | None:
    """Each row's Usage, read as fixed-width byte strings; None unless every one is a known word."""
    hi = np.where((hi > lo) & (seg[np.maximum(hi - 1, 0)] == 13), hi - 1, hi)  # CRLF files
    if np.any(hi - lo > _USAGE_WIDTH):
        return None
    index = lo[:, None] + np.arange(_USAGE_WIDTH)
    chars = np.where(index < hi[:, None], seg[np.minimum(index, len(seg) - 1)], 0).astype(np.uint8)
    words = np.ascontiguousarray(chars).view(f"S{_USAGE_WIDTH}").ravel()
    code = np.searchsorted(np.sort(_USAGE_WORDS), words)
    known = np.sort(_USAGE_WORDS)[np.minimum(code, len(_USAGE_WORDS) - 1)] == words
    if not known.all():
        return None
    return words.astype(str).tolist()


class _Scratch:
    """Buffers reused by every block: fresh multi-MB arrays per block cost more in page faults than the work."""

    def __init__(self, size: int):
        self.digits = np.empty(size, np.uint8)
        self.is_digit = np.empty(size, bool)
        self.run3 = np.empty(size, bool)
        self.flag = np.empty(size, bool)
        self.value = np.empty(size, np.uint16)
        self.wide = np.empty(size, np.uint16)


def _tokens(seg: np.ndarray, rows_start: np.ndarray, rows_end: np.ndarray, newline_count: int, ncols: int,
            usage_field: int | None, scratch: _Scratch):
    """Digit runs of one chunk as uint8 values, or None if the chunk is not perfectly regular."""
    m = len(seg)
    digits, is_digit, run3, flag = scratch.digits[:m], scratch.is_digit[:m], scratch.run3[:m - 2], scratch.flag[:m]
    value, wide = scratch.value[:m], scratch.wide[:m]
    np.subtract(seg, np.uint8(48), out=digits)
    np.less(digits, 10, out=is_digit)
    digits *= is_digit
    np.logical_and(is_digit[:-2], is_digit[1:-1], out=run3)
    run3 &= is_digit[2:]
    if np.logical_and(run3[:-1], is_digit[3:], out=flag[: m - 3]).any():  # four digits or more
        return None
    # a token is at most three digits: value = ones + 10 * tens + 100 * hundreds, where present;
    # uint16, so a value above 255 shows instead of wrapping
    np.copyto(value, digits)
    np.multiply(digits[:-1], np.uint16(10), out=wide[1:])
    wide[1:] *= is_digit[1:]
    value[1:] += wide[1:]
    np.multiply(digits[:-2], np.uint16(100), out=wide[2:])
    wide[2:] *= run3
    value[2:] += wide[2:]
    # a token ends where a digit is followed by anything else (every block ends with a newline)
    ends = np.flatnonzero(np.greater(is_digit[:-1], is_digit[1:], out=flag[: m - 1]))
    bounds = np.searchsorted(ends, np.append(rows_start, len(seg)))
    if np.any(np.diff(bounds) != PIXELS + 1):
        return None
    comma_at = np.flatnonzero(np.equal(seg, 44, out=flag))
    rows = len(rows_start)
    row_of = np.searchsorted(rows_start, comma_at, side="right") - 1
    if comma_at.size != rows * (ncols - 1) or np.any(np.bincount(row_of, minlength=rows) != ncols - 1):
        return None
    commas = comma_at.reshape(rows, ncols - 1)
    # Every byte that is neither digit nor space must be a comma, a line end or part of the Usage
    # word: count them instead of locating them, so junk inside a pixel field cannot hide.
    expected = comma_at.size + newline_count
    if usage_field is not None:
        lo, hi = _usage_bounds(commas, rows_start, rows_end, usage_field, ncols)
        expected += int((hi - lo).sum())
    if usage_field is None or usage_field < ncols - 1:
        expected += int(np.count_nonzero(seg[rows_end - 1] == 13))
    spaces = np.count_nonzero(np.equal(seg, 32, out=flag))
    if m - np.count_nonzero(is_digit) - spaces != expected:
        return None
    values = value.take(ends)
    if values.max(initial=0) > 255:
        return None
    return values.astype(np.uint8), commas


def _usage_bounds(commas, rows_start, rows_end, usage_field: int, ncols: int):
    lo = commas[:, usage_field - 1] + 1 if usage_field > 0 else rows_start
    hi = commas[:, usage_field] if usage_field < ncols - 1 else rows_end
    return lo, hi


def _parse_checked(path: Path, header: list[str], skip_bad_rows: bool):
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # pandas' tokenizer names the line
        raise FerZooError(f"{path}: {exc}") from None
    frame.columns = [c.strip() for c in frame.columns]
    has_usage = "Usage" in frame.columns
    labels, images, usage, skipped = [], [], [] if has_usage else None, Counter()
    for i, row in enumerate(frame.itertuples(index=False)):
        record = row._asdict() if hasattr(row, "_asdict") else dict(zip(frame.columns, row))
        problem = None
        emotion = str(record["emotion"]).strip()
        label = int(emotion) if emotion.isascii() and emotion.isdigit() else None  # int() takes "٣" too
        if label is None:
            problem = "non-numeric emotion"
        elif not 0 <= label < len(CLASS_NAMES):
            problem = f"emotion {label} out of range 0-{len(CLASS_NAMES) - 1}"
        if problem is None:
            values = record["pixels"].split()
            if len(values) != PIXELS:
                problem = f"{len(values)} pixel values, expected {PIXELS}"
            elif not all(v.isascii() and v.isdigit() for v in values):  # "²" is a Unicode digit int() refuses
                problem = "non-numeric pixel value"
            elif max(len(v.lstrip("0")) for v in values) > 3:  # 10**30 overflows int64 before any comparison
                problem = "pixel value above 255"
            else:
                pixels = np.array(values, dtype=np.int64)
                if pixels.max() > 255:
                    problem = "pixel value above 255"
        if problem is None and has_usage and record["Usage"].strip() not in USAGE_TO_SPLIT:
            problem = f"unknown Usage {record['Usage'].strip()!r} (expected {', '.join(USAGE_TO_SPLIT)})"
        if problem is not None:
            if not skip_bad_rows:
                raise FerZooError(f"{path} line {i + 2}: {problem} "
                                  f"(the dataset option skip_bad_rows=true loads the rest)")
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
        given = [key for key in ("val_fraction", "test_fraction", "seed") if key in options]
        if given:
            raise FerZooError(f"dataset option {given[0]}: {path} has a Usage column, which fixes the splits; "
                              f"val_fraction, test_fraction and seed apply to a CSV without one")
        usage = np.array(usage)
        return {s: Split(images[usage == u], labels[usage == u]) for u, s in USAGE_TO_SPLIT.items()}, []
    val, test, seed = split_options(options)
    parts = stratified_split(labels, {"train": 1 - val - test, "val": val, "test": test}, seed)
    note = (f"{path}: no Usage column; made a stratified split train/val/test "
            f"{1 - val - test:.2f}/{val:.2f}/{test:.2f} with seed {seed}")
    return {s: Split(images[i], labels[i]) for s, i in parts.items()}, [note]


def load(options: dict[str, str]) -> Dataset:
    options = dict(options)
    path = path_option(options, "fer2013", "path", "fer2013:path=fer2013.csv")
    options.pop("path")
    skip = bool_option(options, "skip_bad_rows")
    labels, images, usage, skipped = parse_csv(path, skip)
    splits, notes = split_by_usage(path, labels, images, usage, options)
    reject_unknown("fer2013", options)
    return Dataset(f"fer2013:{path}", CLASS_NAMES, splits, notes=notes + skipped_note(path, skipped))


def fingerprint(options: dict[str, str]) -> str:
    path = regular_file(path_option(options, "fer2013", "path", "fer2013:path=fer2013.csv"))
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
        options={"path": "the CSV file", "skip_bad_rows": Option.boolean("load the rest of a file with bad rows"),
                 **split_option_help("without Usage", "without Usage")},
    ))
