"""Files written by long jobs go to a temporary name in the same folder, then are renamed into place.

A temporary name carries the writing process's id (``.NAME.PID.xxxx``), so what a killed process left
behind is recognisable as stale (its process is gone) and is removed by the next writer to that folder
(:func:`remove_stale`), and counted by ``fer-zoo cache info``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

_SCRATCH = re.compile(r"^\.(?P<name>.+?)\.(?P<pid>\d+)\.[a-z0-9_]{8}")  # mkstemp: 8 random characters


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def scratch_prefix(name: str) -> str:
    """The prefix of this process's temporary names for ``name``: ``.NAME.PID.``."""
    return f".{name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def stale(directory: Path) -> list[Path]:
    """Temporary files and folders in ``directory`` whose writing process no longer runs."""
    if not Path(directory).is_dir():
        return []
    found = []
    for path in Path(directory).iterdir():
        match = _SCRATCH.match(path.name)
        if match and not _alive(int(match["pid"])):
            found.append(path)
    return sorted(found)


def size(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def remove_stale(directory: Path) -> tuple[int, int]:
    """Delete what killed writers left in ``directory``; returns (items, bytes) removed."""
    removed, freed = 0, 0
    for path in stale(directory):
        try:
            freed += size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
        except OSError:
            pass
    return removed, freed


@contextmanager
def replacing(path: Path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=scratch_prefix(path.name), suffix=suffix or path.suffix)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make run files private
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def scratch_dir(beside: Path) -> tempfile.TemporaryDirectory:
    """A temporary folder beside ``beside`` (same file system, so its contents can be renamed into place)."""
    beside = Path(beside)
    return tempfile.TemporaryDirectory(dir=beside.parent, prefix=scratch_prefix(beside.name))


def writable(path: Path, what: str, folder: bool = False) -> Path:
    """``path`` if a file (or, with ``folder``, a folder) can be written there; else a one-line FerZooError
    naming ``what`` (the flag or variable) and the reason. Creates nothing."""
    from fer_zoo.errors import FerZooError

    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        raise FerZooError(f"{what} {path}: is a {'file' if folder else 'folder'}; give a "
                          f"{'folder' if folder else 'file name'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise FerZooError(f"{what} {path}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise FerZooError(f"{what} {path}: {parent} is not writable")
            break
    return path


def write_text(path: Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """``writer(tmp_path)`` writes the file (a Keras model, a figure); it lands at ``path`` whole or not at all."""
    with replacing(path) as tmp:
        writer(tmp)
