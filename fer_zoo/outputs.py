"""Where a command may write what the user named: one policy for every output flag.

``evaluate --confusion``, ``data inspect --grid``, ``explain --out``, ``export --out``,
``predict --annotate``, ``train --out`` (which may itself be a run: see :func:`folder`'s ``run``),
``new-plugin --out`` and ``report``'s report.html each check their output here before any work, with the
command's inputs (the data, the models, the photos, the recipe). Paths are compared resolved (symlinks and ``..`` followed). Refused,
``--force`` or not, with one line naming the flag:

- an input, a path inside an input folder, or a folder output that holds an input;
- a path inside a run directory (a run's own files, such as the confusion matrix ``evaluate`` writes into
  the run it scores, are not user-named);
- a file named from data (a class name, a photo's name) that would land outside its folder;
- ``.`` or a folder above it, the home folder, ``/``, a system path, fer-zoo's cache folder (``cache clear``
  empties it), or a place that cannot be written.

An output that exists (a dangling symlink too: writing through it lands wherever it points) is replaced
only with ``--force``. The writes themselves go through
fer_zoo/atomic.py. Light: no TensorFlow or Keras.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from fer_zoo import atomic
from fer_zoo.errors import FerZooError

# pseudo file systems and the operating system's own folders: never an output, whoever runs fer-zoo (root's
# os.access says yes to everything, and a write into /proc fails deep inside a library)
# (not all of /usr: containers often work in /usr/src)
SYSTEM = tuple(Path(p) for p in ("/proc", "/sys", "/dev", "/boot", "/etc", "/bin", "/sbin", "/lib", "/lib32",
                                 "/lib64", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/include",
                                 "/usr/share"))
_UNSAFE_IN_NAME = re.compile(r"[/\\\x00]")


def resolved(path: str | os.PathLike) -> Path:
    """``path`` absolute with every symlink and ``..`` followed, as the file system would (``link/..`` is the
    link target's parent), whether or not its last parts exist."""
    return (Path.cwd() / Path(path).expanduser()).resolve()


def inputs(*, data: str | None = None, models: Iterable[str | os.PathLike] = (),
           files: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """The existing paths among a command's inputs, resolved: a ``--data`` spec (a path, or the paths in
    ``NAME:key=value,...``), model files or run directories (an architecture name is none), photos, videos
    and folders."""
    named = [*models, *files]
    if data:
        named.append(data)
        _, _, options = str(data).partition(":")
        named += [value for _, eq, value in (item.partition("=") for item in options.split(",")) if eq and value]
    found = []
    for name in named:
        try:
            path = Path(name)
            if path.exists():
                found.append(resolved(path))
        except (OSError, ValueError):  # a name no file system holds (an architecture, a NUL byte)
            continue
    return list(dict.fromkeys(found))


def run_directory(folder: Path) -> bool:
    """Whether ``folder`` holds a fer-zoo run (see fer_zoo/training/rundir.py): its state.json, or a config.json that is a
    run's (one killed before its first checkpoint). Not a lone best.keras: an exported model beside a
    user's own files does not make their folder a run."""
    if (folder / "state.json").is_file():
        return True
    config = folder / "config.json"
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "architecture" in data and "recipe" in data


def exists(path: Path) -> bool:
    """Whether ``path`` names something, a dangling symlink included (lstat, not stat)."""
    return os.path.lexists(path)


def _refuse_place(path: Path, flag: str, given: list[Path], folder: bool, run: bool = False) -> Path:
    """The rules every output obeys, whatever its kind: not a system path, not ``.`` (for a folder), not an
    input or inside one, not inside a run directory. Returns the resolved path."""
    what = "folder" if folder else "file"
    try:
        real = resolved(path)
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise FerZooError(f"{flag} {path}: cannot be resolved ({exc})") from None
    for system in SYSTEM:
        if real == system or real.is_relative_to(system):
            raise FerZooError(f"{flag} {path}: {real} is a system path; write somewhere of your own")
    from fer_zoo.environment import cache_dir

    cache = resolved(cache_dir())
    if real == cache or real.is_relative_to(cache):
        raise FerZooError(f"{flag} {path}: is fer-zoo's cache folder {cache} or inside it "
                          f"(`fer-zoo cache clear` empties it); write somewhere of your own")
    if folder:
        here = resolved(Path.cwd())
        if real == here or here.is_relative_to(real) or real == resolved(Path.home()):
            raise FerZooError(f"{flag} {path}: is the current folder, one above it or the home folder; name a "
                              f"folder of its own")
    for inp in given:
        if real == inp:
            raise FerZooError(f"{flag} {path}: is the input {inp}; choose another {what}")
        if inp.is_dir() and real.is_relative_to(inp):
            raise FerZooError(f"{flag} {path}: is inside the input folder {inp}; choose another {what}")
        if folder and inp.is_relative_to(real):
            raise FerZooError(f"{flag} {path}: holds the input {inp}; choose another folder")
    for parent in (real, *real.parents) if folder and not run else real.parents:
        if parent.is_dir() and run_directory(parent):
            raise FerZooError(f"{flag} {path}: is inside the run directory {parent}; write outside it")
    return real


def file(path: str | os.PathLike, flag: str, given: Iterable[Path] = (), force: bool = False) -> Path:
    """``path`` if the file the user named may be written there (an existing one only with ``force``)."""
    path = Path(path)
    _refuse_place(path, flag, list(given), folder=False)
    atomic.writable(path, flag)
    if exists(path) and not force:
        raise FerZooError(f"{flag} {path} exists; pass --force to replace it")
    return path


def folder(path: str | os.PathLike, flag: str, given: Iterable[Path] = (), force: bool = False, *,
           replace: bool = False, empty: bool = False, run: bool = False) -> Path:
    """``path`` if the folder the user named may be written: ``replace``, the folder itself is replaced
    (an existing one only with ``force``); ``empty``, files go into it and an existing non-empty one is
    used only with ``force``; neither, files go into it and each is checked by :func:`member`. ``run``: the
    folder is a run directory, so it may itself be one (train's rundir.prepare decides what to do with it),
    though not inside one."""
    path = Path(path)
    _refuse_place(path, flag, list(given), folder=True, run=run)
    if exists(path) and not force:
        if replace:
            raise FerZooError(f"{flag} {path} exists; pass --force to replace it")
        if empty and (not path.is_dir() or any(path.iterdir())):
            raise FerZooError(f"{flag} {path} exists and is not an empty folder; pass --force to write into it")
    atomic.writable(path, flag, folder=True)
    return path


def safe_name(name: str) -> str:
    """A name taken from data (a class, a photo's stem) as one file name: separators become ``_``."""
    name = _UNSAFE_IN_NAME.sub("_", name)
    return "_" + name if name in ("", ".", "..") else name


def member(out_dir: Path, name: str | os.PathLike, flag: str, given: Iterable[Path] = (),
           force: bool = False) -> Path:
    """``out_dir / name`` for a file named from data, if it lands inside ``out_dir`` (resolved) and is no
    input; an existing file is replaced only with ``force``."""
    target = Path(out_dir) / name
    real = resolved(target)
    if not real.is_relative_to(resolved(out_dir)):
        raise FerZooError(f"{flag} {out_dir}: the file name {str(name)!r} would land outside it, at {real}; "
                          f"rename the input or class it comes from")
    if real in set(given):
        raise FerZooError(f"{flag} {out_dir}: {name} would overwrite the input {real}; choose another folder")
    if target.is_dir():
        raise FerZooError(f"{flag} {out_dir}: {name} is a folder; choose another folder")
    if exists(target) and not force:
        raise FerZooError(f"{flag} {out_dir}: {name} exists; pass --force to replace it")
    return target


def write_with(target: Path, flag: str, writer) -> Path:
    """``writer(tmp)`` writes ``target`` atomically; a failing disk is one line naming ``flag``."""
    try:
        atomic.write_with(target, writer)
    except OSError as exc:
        raise FerZooError(f"{flag} {target}: cannot write it ({exc.strerror or exc})") from None
    return target
