"""FER+ (microsoft/FERPlus): ten taggers' votes per FER2013 image, in ``fer2013new.csv``.

``--data ferplus:csv=fer2013.csv,labels=fer2013new.csv[,mode=majority|probability]``. The two files
are aligned row for row; rows with an empty ``Image name`` were dropped by the FER+ authors.

- ``majority`` (as the FER+ reference code): single votes are zeroed as outliers; a row is kept only
  if its top emotion has more than half of the remaining votes, and not if that top is unknown or NF.
- ``probability``: single votes zeroed, rows whose top is unknown or NF (or with no votes left)
  dropped, and the 8 emotions' votes normalised to sum 1 as soft labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import fer_zoo
from fer_zoo.data import cache
from fer_zoo.data.dataset import (
    CLASS_NAMES, EXTRA_CLASSES, Dataset, DatasetSource, Split, path_option, reject_unknown,
)
from fer_zoo.data.fer2013 import USAGE_TO_SPLIT, parse_csv
from fer_zoo.errors import FerZooError
from fer_zoo.inputs import regular_file

VOTE_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF"]
# FER+ column -> index in fer-zoo's canonical order (FER2013's seven, then contempt)
TO_CANONICAL = {"anger": 0, "disgust": 1, "fear": 2, "happiness": 3, "sadness": 4, "surprise": 5, "neutral": 6,
                "contempt": 7}
MODES = ("majority", "probability")
FILES = ("csv", "labels")  # its two files
EXAMPLE = "ferplus:csv=fer2013.csv,labels=fer2013new.csv"
MAX_VOTES = 1000  # taggers per image: FER+ had 10


def targets(votes: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(kept row mask, labels): int labels for majority, float soft labels for probability."""
    votes = np.where(votes <= 1, 0, votes).astype(np.float64)  # a single vote is an outlier
    total = votes.sum(axis=1)
    top = votes.argmax(axis=1)
    is_emotion = top < 8  # unknown and NF are columns 8 and 9
    if mode == "majority":
        keep = is_emotion & (votes.max(axis=1) > 0.5 * total)
    else:
        keep = is_emotion & (total > 0)
    order = [VOTE_COLUMNS.index(c) for c in sorted(TO_CANONICAL, key=TO_CANONICAL.get)]
    emotions = votes[:, order]
    if mode == "majority":
        return keep, emotions.argmax(axis=1)
    sums = emotions.sum(axis=1, keepdims=True)
    return keep, (emotions / np.where(sums == 0, 1, sums)).astype(np.float32)


def _read_labels(path: Path):
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise FerZooError(f"{path}: {exc}") from None
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in ["Usage", "Image name", *VOTE_COLUMNS] if c not in frame.columns]
    if missing:
        raise FerZooError(f"{path}: missing column(s) {', '.join(missing)}")
    text = frame[VOTE_COLUMNS].apply(lambda column: column.str.strip())
    # whole numbers of taggers only: "", "inf", "1e3" and a 10**30 that overflows int64 are refused by row
    bad = ~text.apply(lambda column: column.str.fullmatch(r"[0-9]{1,%d}" % len(str(MAX_VOTES)))).to_numpy()
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise FerZooError(f"{path} line {row + 2}: vote count {VOTE_COLUMNS[column]}={text.iat[row, column]!r} "
                          f"must be a whole number from 0 to {MAX_VOTES}")
    votes = text.to_numpy().astype(np.int64)
    if votes.max(initial=0) > MAX_VOTES:
        row, column = np.argwhere(votes > MAX_VOTES)[0]
        raise FerZooError(f"{path} line {row + 2}: vote count {VOTE_COLUMNS[column]}={votes[row, column]} "
                          f"must be a whole number from 0 to {MAX_VOTES}")
    return frame["Usage"].str.strip().to_numpy(), frame["Image name"].str.strip().to_numpy(), votes


def load(options: dict[str, str]) -> Dataset:
    options = dict(options)
    csv, labels_path = (path_option(options, "ferplus", key, EXAMPLE) for key in FILES)
    for key in FILES:
        del options[key]
    mode = options.pop("mode", "majority")
    if mode not in MODES:
        raise FerZooError(f"ferplus: mode must be one of {', '.join(MODES)}, got {mode!r}")
    reject_unknown("ferplus", options)
    _, images, usage, _ = parse_csv(csv)
    fer_usage, names, votes = _read_labels(labels_path)
    if usage is None:
        raise FerZooError(f"{csv}: FER+ needs FER2013's Usage column to align the rows")
    if len(fer_usage) != len(usage):
        raise FerZooError(f"{labels_path} is not aligned with {csv}: {len(fer_usage)} rows against {len(usage)}")
    mismatch = np.flatnonzero(fer_usage != np.array(usage))
    if mismatch.size:
        k = mismatch[0]
        raise FerZooError(f"{labels_path} line {k + 2} is not aligned with {csv}: "
                          f"Usage {fer_usage[k]!r} against {usage[k]!r}")
    keep, y = targets(votes, mode)
    keep &= names != ""
    usage = np.array(usage)
    splits = {s: Split(images[keep & (usage == u)], y[keep & (usage == u)]) for u, s in USAGE_TO_SPLIT.items()}
    if not keep.any():
        rule = " with more than half the votes" if mode == "majority" else ""
        raise FerZooError(f"{labels_path}: no row has a FER+ {mode} label (kept 0 of {len(keep)} rows: each needs an "
                          f"image name and its top emotion{rule}, after single votes are dropped)")
    note = f"{labels_path}: FER+ {mode} labels; kept {int(keep.sum())} of {len(keep)} rows"
    return Dataset(f"ferplus:{csv}", CLASS_NAMES + EXTRA_CLASSES, splits, notes=[note])


def fingerprint(options: dict[str, str]) -> str:
    parts = []
    for key in FILES:
        path = path_option(options, "ferplus", key, EXAMPLE)
        regular_file(path, f"ferplus: {key}={path}")
        parts.append(cache.file_digest(path))
    return cache.fingerprint("ferplus", parts, {k: v for k, v in options.items() if k not in FILES})


@fer_zoo.hookimpl
def fer_zoo_register_datasets(register):
    register(DatasetSource(
        name="ferplus",
        load=load,
        fingerprint=fingerprint,
        description="FER+ relabelled FER2013: ferplus:csv=fer2013.csv,labels=fer2013new.csv[,mode=...]",
        options={"csv": "fer2013.csv (the pixels)", "labels": "fer2013new.csv (the votes)",
                 "mode": "majority (hard labels, default) or probability (soft labels)"},
    ))
