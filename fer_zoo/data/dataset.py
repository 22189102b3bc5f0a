"""What every data source ends as: uint8 images and labels per split, with class names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_zoo import values
from fer_zoo.errors import FerZooError
from fer_zoo.plugins.registry import (  # noqa: F401  (DatasetSource: the sources' type, kept here by name)
    FER2013_CLASSES, NAME_PATTERN, DatasetSource, Option, PluginSource, option_help, plugin_fields, read_option,
)

# FER2013's canonical order; sources with more classes append theirs (FER+ contempt = 7).
CLASS_NAMES = FER2013_CLASSES
EXTRA_CLASSES = ("contempt",)
SPLITS = ("train", "val", "test")

# Folder and column names people use for the same class.
CLASS_ALIASES = {
    "angry": "angry", "anger": "angry",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral",
    "contempt": "contempt",
}


@dataclass
class Split:
    """``x``: uint8 ``[N, H, W, C]``; ``y``: int64 ``[N]`` class indices, or float32 ``[N, K]`` soft labels."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    @property
    def hard_labels(self) -> np.ndarray:
        return self.y if self.y.ndim == 1 else self.y.argmax(axis=1)


@dataclass
class Dataset:
    name: str
    class_names: tuple[str, ...]
    splits: dict[str, Split]
    fingerprint: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(next(iter(self.splits.values())).x.shape[1:])

    def subset(self, n_train: int, seed: int, n_eval: int | None = None) -> Dataset:
        """A seeded random subset: ``n_train`` training images, ``n_eval`` (default a quarter) for val and test."""
        rng = np.random.default_rng(seed)
        n_eval = n_eval or max(1, n_train // 4)
        limits = {"train": n_train, "val": n_eval, "test": n_eval}
        splits = {}
        for name, part in self.splits.items():
            keep = np.sort(rng.permutation(len(part))[: limits.get(name, len(part))])
            splits[name] = Split(part.x[keep], part.y[keep])
        return Dataset(f"{self.name} (subset {n_train})", self.class_names, splits, self.fingerprint, self.notes)

    def require(self, splits: tuple[str, ...] = SPLITS, purpose: str = "training") -> None:
        """Refuse, up front, data without the splits a job reads (training selects on val and reports on test):
        a missing or empty one would otherwise fail after the first epoch, or score nothing."""
        for name in splits:
            if name not in self.splits:
                raise FerZooError(f"{self.name}: has no {name} split, which {purpose} needs "
                                  f"(it needs {', '.join(splits)}; this data has {', '.join(self.splits) or 'none'})")
            if len(self.splits[name]) == 0:
                raise FerZooError(f"{self.name}: its {name} split is empty, and {purpose} needs images in "
                                  f"{', '.join(splits)}")

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per split and class, every class listed."""
        out = {}
        for split_name, split in self.splits.items():
            per_class = np.bincount(split.hard_labels, minlength=len(self.class_names))
            out[split_name] = {c: int(n) for c, n in zip(self.class_names, per_class)}
        return out


def contract_problem(dataset: Dataset) -> str | None:
    """What breaks the promise every source keeps (uint8 ``x [N,H,W,C]`` of one shape, one label per image
    within the classes, splits named train/val/test), in words; None if nothing does. The loader checks a
    plugin's dataset with it, the cache each entry it reads back."""
    classes = len(dataset.class_names)
    if classes < 2 or not all(isinstance(c, str) for c in dataset.class_names):
        return f"class names must be two or more strings, got {list(dataset.class_names)[:3]}"
    shapes = set()
    for name, split in dataset.splits.items():
        x, y = split.x, split.y
        if name not in SPLITS:
            return f"split {name!r} is not one of {', '.join(SPLITS)}"
        if x.dtype != np.uint8 or x.ndim != 4:
            return f"split {name!r}: x is {x.dtype} {list(x.shape)}, not uint8 [N,H,W,C]"
        shapes.add(x.shape[1:])
        if len(y) != len(x):
            return f"split {name!r}: {len(x)} images but {len(y)} labels"
        if y.ndim == 1:
            if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= classes)):
                return f"split {name!r}: labels must be integers 0-{classes - 1}"
        elif y.ndim != 2 or y.shape[1] != classes or y.dtype.kind != "f" or not np.isfinite(y).all():
            return f"split {name!r}: y is {y.dtype} {list(y.shape)}, not {classes} finite soft labels per image"
    if len(shapes) > 1:
        return f"splits have different image shapes {sorted(shapes)}"
    return None


def canonical_class(name: str) -> str | None:
    return CLASS_ALIASES.get(name.strip().lower())


def class_names_for(classes: set[str]) -> tuple[str, ...]:
    """The canonical seven, plus any extra class present, in canonical order."""
    return CLASS_NAMES + tuple(c for c in EXTRA_CLASSES if c in classes)


def stratified_split(y: np.ndarray, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Index arrays per split, each class divided in the given fractions (seeded, deterministic)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in fractions}
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        bounds = np.round(np.cumsum(list(fractions.values())) * len(members)).astype(int)
        for name, chunk in zip(fractions, np.split(members, bounds[:-1])):
            parts[name].append(chunk)
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def split_options(options: dict[str, str], *, default_val: float = 0.1, default_test: float = 0.1):
    """The val/test fractions and seed a source without its own split uses."""
    val = float_option(options, "val_fraction", default_val, 0, 1, high_open=True)
    test = float_option(options, "test_fraction", default_test, 0, 1, high_open=True)
    seed = seed_option(options, "seed")
    if val + test >= 1:
        raise FerZooError(f"dataset options val_fraction={val:g} and test_fraction={test:g} must sum below 1 "
                          f"(train gets the rest)")
    return val, test, seed


def split_option_help(val_when: str, test_when: str) -> dict[str, str | Option]:
    """The options table entries :func:`split_options` reads, for a source that splits only when its data has
    no split of its own: ``val_when`` and ``test_when`` say when (``"without Usage"``)."""
    return {"val_fraction": f"{val_when}: share of each class for val (0.1)",
            "test_fraction": f"{test_when}: share of each class for test (0.1)",
            "seed": Option.seed(f"{val_when}: split seed (0)")}


def declared_option(options: dict[str, str], declared: Mapping[str, str | Option], key: str, default) -> Any:
    """Pop ``key`` through the reader ``declared`` (a source's own options table) gives it, so ``--data``'s
    parser and the source's ``load`` read it the same way."""
    return read_option(options, declared, key, default, f"dataset option {key}")


def float_option(options: dict[str, str], key: str, default: float, low: float | None = None,
                 high: float | None = None, *, low_open: bool = False, high_open: bool = False) -> float:
    """Pop ``key`` as a finite number in the range (:func:`fer_zoo.values.real`)."""
    return values.real(options.pop(key, default), f"dataset option {key}", low, high,
                       low_open=low_open, high_open=high_open)


def seed_option(options: dict[str, str], key: str = "seed", default: int = 0) -> int:
    """Pop ``key`` as a seed in [0, 2**32 - 1]."""
    return values.seed(options.pop(key, default), f"dataset option {key}")


def bool_option(options: dict[str, str], key: str, default: bool = False) -> bool:
    return values.boolean(options.pop(key, default), f"dataset option {key}")


def path_option(options: dict[str, str], source: str, key: str, example: str) -> Path:
    """The path ``key`` names (read, not popped): given and not empty, or one line saying how to name it,
    with ``example`` as a whole spec (an empty path would mean the current folder)."""
    if not options.get(key, "").strip():
        raise FerZooError(f"dataset {source!r} needs {key}=, e.g. --data {example}")
    return Path(options[key])


def reject_unknown(source: str, options: dict[str, str]) -> None:
    """Call after popping every known option: a typo must not be silently ignored."""
    if options:
        raise FerZooError(f"dataset {source!r}: unknown option(s) {', '.join(sorted(options))}")


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type


def png_short(path) -> str | None:
    """What is missing from a PNG whose compressed data ends before its last row (Pillow fills the rest
    with black and says nothing, where a file cut mid-chunk fails): None for a complete file, or one
    that is not a plain PNG (Pillow's own checks apply). ``path`` may also be the file's bytes."""
    import struct
    import zlib

    if isinstance(path, (bytes, bytearray, memoryview)):
        data = bytes(path)
    else:
        with open(path, "rb") as f:
            data = f.read()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR" and len(body) == 13:
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or header[6] != 0 or header[3] not in _PNG_CHANNELS:  # Adam7 interlacing: left to Pillow
        return None
    width, height, depth, colour = header[:4]
    expected = height * (1 + (width * depth * _PNG_CHANNELS[colour] + 7) // 8)
    try:  # never more than the image needs: a bomb stays bounded
        got = len(zlib.decompressobj().decompress(b"".join(idat), expected))
    except zlib.error:
        return None  # corrupt, not short: Pillow says so
    if got < expected:
        return f"truncated: its pixel data holds {got:,} of the {expected:,} bytes its {width}x{height} header needs"
    return None


# What Pillow may decode: the formats fer-zoo reads (photos, image-folder datasets, uploads to serve), chosen by
# content, whatever a file is called. Never EPS (Pillow hands it to Ghostscript, which runs PostScript) nor the
# dozens of other formats Pillow would otherwise guess from a file's first bytes.
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")  # a camera's MPO opens as JPEG
NOT_AN_IMAGE = "not a PNG, JPEG, BMP, GIF, TIFF, WebP or PGM/PPM image"


def image_to_uint8(image) -> np.ndarray:
    """A Pillow image as uint8 pixels: (H, W) for greyscale modes, else RGB (H, W, 3). 16-bit greyscale
    (modes I, I;16...) is scaled by 255/65535, where Pillow's convert("L") would clip it at 255 (near white)."""
    if image.mode.startswith("I"):
        return (np.asarray(image, dtype=np.float32) / 257.0).clip(0, 255).round().astype(np.uint8)
    if image.mode in ("L", "LA", "1", "F"):
        return np.asarray(image if image.mode == "L" else image.convert("L"), dtype=np.uint8)
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)  # no copy if RGB
