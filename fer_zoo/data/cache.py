"""Parsed arrays, cached by a fingerprint of the source's content and the options that shaped them.

The cache lives in ``$FER_ZOO_CACHE_DIR`` (default: the user cache dir, ``~/.cache/fer-zoo``). Every
entry is written to a temporary name and renamed, so a crash never leaves a half entry, and a
changed file has a different fingerprint, so it is never served stale.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import xxhash

from fer_zoo import atomic
from fer_zoo.data.dataset import Dataset, Split, contract_problem
from fer_zoo.environment import CACHE_ENV, cache_dir

FORMAT_VERSION = 1
ENTRY_NAME = re.compile(r"[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*-[0-9a-f]{16}\.npz")  # fingerprint()'s KIND-HEX
log = logging.getLogger(__name__)


def file_digest(path: Path, block: int = 1 << 24) -> str:
    """xxh3 of the whole content: ~30 ms for FER2013's 290 MB."""
    digest = xxhash.xxh3_64()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(kind: str, parts: list[str], options: dict) -> str:
    """One key for the source's content, the loader and every option that changes the arrays."""
    text = json.dumps({"v": FORMAT_VERSION, "kind": kind, "parts": parts, "options": options}, sort_keys=True)
    return f"{kind}-{xxhash.xxh3_64_hexdigest(text.encode())}"


def load(key: str, options: dict[str, str] | None = None) -> Dataset | None:
    """The cached dataset, or None: absent, or unusable (truncated by a crash, corrupted, arrays that break
    the Dataset contract, a folder in the entry's place), in which case the entry is deleted, the fact
    logged, and the caller rebuilds it. ``options`` are the ones asked for now: the key is the content's, so
    an entry parsed under another path (a copy, a link) names the path given now, not that one."""
    path = cache_dir() / f"{key}.npz"
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
        log.warning("cache entry %s was a folder, not a file; deleted it, rebuilding", path.name)
        return None
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            splits = {s: Split(archive[f"x_{s}"], archive[f"y_{s}"]) for s in meta["splits"]}
        dataset = Dataset(meta["name"], tuple(meta["class_names"]), splits, key, meta["notes"])
        _as_given(dataset, meta.get("options") or {}, options or {})
        if problem := contract_problem(dataset):
            raise ValueError(problem)
        return dataset
    except Exception as exc:  # zipfile.BadZipFile, EOFError, KeyError, ValueError, OSError ...
        path.unlink(missing_ok=True)
        log.warning("cache entry %s was unreadable (%s: %s); deleted it, rebuilding", path.name,
                    type(exc).__name__, str(exc)[:80])
        return None


def _as_given(dataset: Dataset, parsed: dict[str, str], given: dict[str, str]) -> None:
    for key, then in parsed.items():
        now = given.get(key)
        if now and then and now != then:
            dataset.name = dataset.name.replace(then, now)
            dataset.notes = [note.replace(then, now) for note in dataset.notes]


def save(dataset: Dataset, options: dict[str, str] | None = None) -> Path:
    directory = ensure_dir()
    removed, freed = atomic.remove_stale(directory)
    if removed:
        log.warning("removed %d unfinished cache write(s) left by killed runs (%.1f MB)", removed, freed / 1e6)
    meta = {"name": dataset.name, "class_names": list(dataset.class_names), "notes": dataset.notes,
            "splits": list(dataset.splits), "options": {k: str(v) for k, v in (options or {}).items()}}
    arrays = {"meta": np.array(json.dumps(meta))}
    for split_name, split in dataset.splits.items():
        arrays[f"x_{split_name}"], arrays[f"y_{split_name}"] = split.x, split.y
    target = directory / f"{dataset.fingerprint}.npz"
    atomic.write_with(target, lambda tmp: np.savez(tmp, **arrays))
    return target


def ensure_dir() -> Path:
    """The cache folder, created; a path that cannot be one is a one-line error naming the variable."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from fer_zoo.errors import FerZooError

        raise FerZooError(f"{CACHE_ENV}={directory}: cannot use it as the cache folder "
                          f"({exc.strerror or exc})") from None
    return directory


def info() -> dict:
    """What the cache holds: datasets, converted models and compiled programs, and leftovers of killed
    writes (removed by the next write, or by ``cache clear``)."""
    directory = cache_dir()
    entries = _entries(directory)
    leftovers = atomic.stale(directory) + [p for sub in ("onnx", "jax") for p in atomic.stale(directory / sub)]
    kinds = {sub: sorted(p for p in (directory / sub).glob("*") if not p.name.startswith("."))
             for sub in ("onnx", "jax") if (directory / sub).is_dir()}
    return {
        "path": str(directory),
        "entries": [{"file": p.name, "bytes": p.stat().st_size} for p in entries],
        "total_bytes": sum(p.stat().st_size for p in entries),
        "compiled": {sub: {"files": len(files), "bytes": sum(atomic.size(f) for f in files)}
                     for sub, files in kinds.items()},
        "leftovers": {"files": len(leftovers), "bytes": sum(atomic.size(p) for p in leftovers)},
    }


def _entries(directory: Path) -> list[Path]:
    """The cached datasets: files named as :func:`fingerprint` names them. $FER_ZOO_CACHE_DIR may name a folder
    that also holds the user's own files (a data.npz of theirs), which ``cache clear`` must leave alone."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.npz") if ENTRY_NAME.fullmatch(p.name) and p.is_file()
                  and not p.is_symlink())


def clear() -> int:
    """Remove every cached dataset, converted model and compiled program, and what killed writes left;
    returns how many datasets."""
    directory = cache_dir()
    if not directory.is_dir():
        return 0
    entries = _entries(directory)
    for p in entries:
        p.unlink(missing_ok=True)
    for sub in ("onnx", "jax", "plugins"):
        if (directory / sub).is_dir() and not (directory / sub).is_symlink():
            shutil.rmtree(directory / sub, ignore_errors=True)
    atomic.remove_stale(directory)
    if not any(directory.iterdir()):
        shutil.rmtree(directory, ignore_errors=True)
    return len(entries)
