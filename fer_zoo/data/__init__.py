"""Data sources: every one ends as uint8 ``x [N,H,W,C]`` and labels per split, with class names.

``load_dataset(spec)`` takes what ``--data`` takes:

- a CSV path (its header says which format: FER2013, Kaggle's icml variant; FER+ needs both files),
- a folder of images (``root/<split>/<class>/*`` or ``root/<class>/*``),
- ``NAME:key=value,...`` for any registered source, e.g. ``ferplus:csv=fer2013.csv,labels=fer2013new.csv``.
"""

from __future__ import annotations

from pathlib import Path

from fer_zoo.data.dataset import CLASS_NAMES, SPLITS, Dataset, DatasetSource, Split
from fer_zoo.errors import FerZooError

__all__ = ["CLASS_NAMES", "SPLITS", "Dataset", "DatasetSource", "Split", "load_dataset", "parse_spec"]


def _sources():
    from fer_zoo import plugins

    return plugins.checked().datasets


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``--data`` text -> (source name, options)."""
    from fer_zoo.plugins.registry import parse_options

    path = Path(spec).expanduser()
    try:
        is_dir, exists = path.is_dir(), path.exists() or path.is_symlink()
    except (OSError, ValueError):  # a name too long for the file system is a spec, not a path
        is_dir = exists = False
    if is_dir:
        return "folder", {"path": str(path)}
    if exists:  # a pipe or a device too: read_header names it
        return _sniff_csv(path), {"path": str(path)}
    name, _, rest = spec.partition(":")
    sources = _sources()
    if name not in sources:
        if "/" in spec or "." in name:
            raise FerZooError(f"--data {spec!r}: no such file or folder (`fer-zoo datasets` lists the sources)")
        raise FerZooError(f"--data {spec!r}: no such dataset{sources.hint(name)}")
    # a source that declares no options (plugins written before options were declared) checks its own
    declared = sources[name].options or None
    return name, parse_options(spec, "--data", name, rest, declared, "dataset option")


def _sniff_csv(path: Path) -> str:
    from fer_zoo.data.fer2013 import read_header

    header = read_header(path)
    if "Image name" in header and "pixels" not in header:
        raise FerZooError(
            f"{path} is a FER+ label file: it needs the FER2013 pixels too, "
            f"--data ferplus:csv=fer2013.csv,labels={path.name}"
        )
    return "fer2013"


def load_dataset(spec: str, skip_bad_rows: bool = False, use_cache: bool = True) -> Dataset:
    """Load any source through one path: resolve, fingerprint, serve from cache or parse and cache."""
    from fer_zoo.data import cache

    name, options = parse_spec(spec)
    source = _sources()[name]
    if skip_bad_rows:
        options["skip_bad_rows"] = "true"
    key = source.fingerprint(dict(options)) if source.fingerprint else None
    if key and use_cache and (hit := cache.load(key, options)) is not None:
        return hit
    dataset = source.load(dict(options))
    _check(dataset, name)
    if key:
        dataset.fingerprint = key
        if use_cache:
            cache.save(dataset, options)
    return dataset


def _check(dataset: Dataset, source: str) -> None:
    """A plugin's loader must keep the contract; say which one broke it."""
    from fer_zoo.data.dataset import contract_problem

    if problem := contract_problem(dataset):
        raise FerZooError(f"dataset {source!r} returned data that breaks the contract: {problem}")
