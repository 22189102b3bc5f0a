"""Image folders: ``root/<split>/<class>/*`` (Kaggle's msambare/fer2013) or ``root/<class>/*``.

Class folders map to FER2013's order **by name** (``neutral`` is 6 whatever its alphabetical
place). Without ``val/``, a seeded stratified val split is carved from ``train/``; a layout without
splits is divided into all three.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

import fer_zoo
from fer_zoo.data import cache
from fer_zoo.data.dataset import (
    PILLOW_FORMATS, Dataset, DatasetSource, Split, bool_option, canonical_class, class_names_for, float_option,
    image_to_uint8, path_option, png_short, reject_unknown, seed_option, split_option_help, split_options,
    stratified_split,
)
from fer_zoo.errors import FerZooError
from fer_zoo.inputs import regular_file
from fer_zoo.plugins.registry import Option

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "val", "validation": "val", "valid": "val",
                 "test": "test", "testing": "test"}


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:  # a folder that vanished or that we may not read
        raise FerZooError(f"{folder}: cannot list it ({exc.strerror or exc})") from None


def _layout(root: Path) -> dict[str, dict[str, list[Path]]]:
    """{split or '': {class folder name: [image paths]}}. Every split and class folder name is checked
    before any image is listed, so a wrong root (``/``, a home folder) is refused at once, not after
    walking everything below it."""
    subdirs = _subfolders(root)
    if not subdirs:
        raise FerZooError(f"{root}: no class or split folders inside")
    by_split = all(p.name.lower() in SPLIT_FOLDERS for p in subdirs)
    groups = {SPLIT_FOLDERS[p.name.lower()]: p for p in subdirs} if by_split else {"": root}
    class_dirs = {}
    for split_name, folder in groups.items():
        seen: dict[str, Path] = {}
        for class_dir in _subfolders(folder):
            canonical = canonical_class(class_dir.name)
            if canonical is None:
                raise FerZooError(f"{class_dir}: unknown class folder {class_dir.name!r} "
                                  f"(expected FER class names such as angry, happy, neutral)")
            if canonical in seen:  # happy/ and Happy/ would be merged into one class unseen
                raise FerZooError(f"{folder}: class folders {seen[canonical].name!r} and {class_dir.name!r} "
                                  f"are the same class {canonical!r}; keep one")
            seen[canonical] = class_dir
        if not seen:
            raise FerZooError(f"{folder}: no class folders inside")
        class_dirs[split_name] = list(seen.values())
    layout = {}
    for split_name, dirs in class_dirs.items():
        classes = {}
        for class_dir in dirs:
            files = _images(class_dir)
            if not files:
                raise FerZooError(f"{class_dir}: empty class folder")
            classes[class_dir.name] = files
        layout[split_name] = classes
    return layout


def _images(folder: Path) -> list[Path]:
    """The images under ``folder``, the one listing that loading and the cache key share. A named pipe,
    socket, device or dangling symlink named like an image is refused, naming it (reading a pipe waits
    forever), whatever --skip-bad-rows says; a folder so named is searched like any other."""
    import os

    def refuse(exc: OSError):
        raise FerZooError(f"{exc.filename or folder}: cannot list it ({exc.strerror or exc})")

    found = []
    for parent, dirs, files in os.walk(folder, onerror=refuse, followlinks=True):
        found += [Path(parent, f) for f in files + dirs if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    try:
        return sorted(regular_file(p) for p in found if not p.is_dir())
    except OSError as exc:  # removed between the listing and the look
        refuse(exc)


def _read_images(paths: list[Path], skip_bad: bool, skipped: Counter):
    import warnings

    from PIL import Image

    images, kept = [], []
    for path in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)  # a face is not 90 MP
                with Image.open(path, formats=PILLOW_FORMATS) as im:
                    im.load()
                    if short := png_short(path):
                        raise OSError(short)
                    images.append(im.copy())
            kept.append(True)
        except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            if not skip_bad:
                raise FerZooError(f"{path}: unreadable image ({type(exc).__name__}: {exc}) "
                                  f"(the dataset option skip_bad_rows=true loads the rest)") from None
            skipped["unreadable image"] += 1
            kept.append(False)
    return images, np.array(kept, bool)


def _target_mode(image) -> str:
    return "L" if image.mode in ("L", "LA", "1", "I", "I;16", "F") else "RGB"


def _to_array(images, notes: list[str], root: Path) -> np.ndarray:
    """One size and mode for all: the most common; says so once if anything was converted."""
    from PIL import Image

    modes = Counter(_target_mode(im) for im in images)
    sizes = Counter(im.size for im in images)
    mode, size = modes.most_common(1)[0][0], sizes.most_common(1)[0][0]
    converted = sum(1 for im in images if _target_mode(im) != mode or im.size != size)
    if converted:
        notes.append(f"{root}: converted {converted} of {len(images)} images to the most common "
                     f"{size[0]}x{size[1]} {'greyscale' if mode == 'L' else 'RGB'}")
    channels = 1 if mode == "L" else 3
    out = np.empty((len(images), size[1], size[0], channels), np.uint8)
    for i, im in enumerate(images):
        pixels = image_to_uint8(im)  # 16-bit greyscale scaled, not clipped
        if pixels.ndim == 2 and channels == 3:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        elif pixels.ndim == 3 and channels == 1:
            pixels = np.asarray(Image.fromarray(pixels).convert("L"))
        if pixels.shape[:2] != (size[1], size[0]):
            pixels = np.asarray(Image.fromarray(pixels).resize(size))
        out[i] = pixels.reshape(size[1], size[0], channels)
    return out


def load(options: dict[str, str]) -> Dataset:
    options = dict(options)
    root = path_option(options, "folder", "path", "folder:path=faces/")
    options.pop("path")
    if not root.is_dir():
        raise FerZooError(f"{root}: no such folder")
    skip = bool_option(options, "skip_bad_rows")
    layout = _layout(root)
    names = class_names_for({canonical_class(c) for classes in layout.values() for c in classes})
    skipped: Counter = Counter()
    per_split_paths, per_split_labels = {}, {}
    for split_name, classes in layout.items():
        per_split_paths[split_name] = [p for files in classes.values() for p in files]
        per_split_labels[split_name] = np.array(
            [names.index(canonical_class(c)) for c, files in classes.items() for _ in files], np.int64)
    all_paths = [p for paths in per_split_paths.values() for p in paths]
    images, kept = _read_images(all_paths, skip, skipped)
    notes: list[str] = []
    x_all = _to_array(images, notes, root)
    y_all = np.concatenate(list(per_split_labels.values()))[kept]
    split_of = np.repeat(list(per_split_paths), [len(p) for p in per_split_paths.values()])[kept]
    splits = {s: Split(x_all[split_of == s], y_all[split_of == s]) for s in per_split_paths}
    if "" in splits:  # no split folders: divide everything
        # an empty val split would fail training after its first epoch: (0, 1) here, as when carving from train/
        float_option(dict(options), "val_fraction", 0.1, 0, 1, low_open=True, high_open=True)
        val, test, seed = split_options(options)
        flat = splits.pop("")
        parts = stratified_split(flat.y, {"train": 1 - val - test, "val": val, "test": test}, seed)
        splits = {s: Split(flat.x[i], flat.y[i]) for s, i in parts.items()}
        notes.append(f"{root}: no split folders; made a stratified split train/val/test "
                     f"{1 - val - test:.2f}/{val:.2f}/{test:.2f} with seed {seed}")
    else:
        carve = "val" not in splits and "train" in splits
        # an option that would change nothing is a mistake to say, not to ignore
        unused = [k for k in ("test_fraction",) + (() if carve else ("val_fraction", "seed")) if k in options]
        if unused:
            has = ", ".join(f"{s}/" for s in splits)
            raise FerZooError(f"dataset option {unused[0]}: {root} has split folders ({has}), so it does not apply "
                              f"(val_fraction and seed carve val from train/ only when there is no val/ folder)")
        if carve:
            val = float_option(options, "val_fraction", 0.1, 0, 1, low_open=True, high_open=True)
            seed = seed_option(options, "seed")
            train = splits["train"]
            parts = stratified_split(train.y, {"train": 1 - val, "val": val}, seed)
            splits["train"], splits["val"] = (Split(train.x[parts[s]], train.y[parts[s]]) for s in ("train", "val"))
            notes.append(f"{root}: no val/ folder; carved a stratified {val:.2f} of train/ as val with seed {seed}")
    reject_unknown("folder", options)
    if skipped:
        notes.append(f"{root}: skipped {sum(skipped.values())} unreadable image(s)")
    ordered = {s: splits[s] for s in ("train", "val", "test") if s in splits}
    return Dataset(f"folder:{root}", names, ordered, notes=notes)


def fingerprint(options: dict[str, str]) -> str:
    """Paths, sizes and modification times of every file: changing any image changes the key."""
    root = path_option(options, "folder", "path", "folder:path=faces/")
    if not root.is_dir():
        raise FerZooError(f"{root}: no such folder")
    listing = []
    for p in sorted(p for classes in _layout(root).values() for files in classes.values() for p in files):
        stat = p.stat()
        listing.append(f"{p.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}")
    digest = cache.xxhash.xxh3_64_hexdigest("\n".join(listing).encode())
    return cache.fingerprint("folder", [str(root.resolve()), digest], {k: v for k, v in options.items() if k != "path"})


@fer_zoo.hookimpl
def fer_zoo_register_datasets(register):
    register(DatasetSource(
        name="folder",
        load=load,
        fingerprint=fingerprint,
        description="Image folders: root/<split>/<class>/* (Kaggle msambare/fer2013) or root/<class>/*",
        options={"path": "the root folder", "skip_bad_rows": Option.boolean("skip unreadable images"),
                 **split_option_help("without val/", "without split folders")},
    ))
