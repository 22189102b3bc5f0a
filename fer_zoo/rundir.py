"""The run directory's files: what a run writes, how it is read back, and what an existing ``--out``
may be used for. train.py decides when; this module knows the formats and the rules.

| file | written |
|---|---|
| ``config.json`` | at the start: architecture, data and fingerprint, recipe, options, environment |
| ``best-NNNN.keras`` | at a checkpoint, if val accuracy improved: the inference model of epoch NNNN |
| ``last-NNNN.keras`` | at a checkpoint: the training model of epoch NNNN with its optimizer |
| ``history.csv`` | at a checkpoint: one row per completed epoch |
| ``state.json`` | at a checkpoint, last: the epochs done and the two files above that hold them (the commit) |
| ``best.keras`` | after each commit: the best file under its plain name (a hard link, no copy) |
| ``metrics.json``, ``curves.png``, ``MODEL_CARD.md`` | at the end, when the numbered files are removed |
| ``predictions.npz`` | at the end: the best epoch's probabilities on val and test (for ensembles, reports) |

Each file is written to a temporary name and renamed; a checkpoint's files are new names, and
``state.json``, written last, is what makes them current. A kill at any point therefore leaves the last
committed checkpoint whole, and ``--resume`` continues from exactly what ``state.json`` names (files a
killed checkpoint wrote but never committed are removed).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from fer_zoo import atomic
from fer_zoo.errors import FerZooError

RUN_FILES = ("config.json", "history.csv", "best.keras", "last.keras", "state.json", "metrics.json", "curves.png",
             "MODEL_CARD.md", "predictions.npz")
NUMBERED = ("last-*.keras", "best-*.keras")


def numbered(kind: str, epoch: int) -> str:
    """A checkpoint file's name: ``last-0007.keras`` (training model) or ``best-0005.keras``."""
    return f"{kind}-{epoch:04d}.keras"


def publish_best(out: Path, name: str | None) -> None:
    """Make ``best.keras`` the committed best file, atomically (a hard link where possible, else a copy)."""
    if not name or not (out / name).is_file():
        return
    target = out / "best.keras"
    if target.is_file() and os.path.samefile(target, out / name):
        return  # already (and renaming one hard link onto another of the same file does nothing)
    with atomic.replacing(target) as tmp:
        tmp.unlink()
        try:
            os.link(out / name, tmp)
        except OSError:
            shutil.copyfile(out / name, tmp)


def remove(out: Path) -> None:
    """A run's files and tracking folder, and the directory if nothing else is left in it."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "tensorboard", ignore_errors=True)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()


def tidy(out: Path, keep: set[str]) -> None:
    """Remove numbered checkpoint files that the committed state does not name."""
    for pattern in NUMBERED:
        for path in out.glob(pattern):
            if path.name not in keep:
                path.unlink(missing_ok=True)


def committed_files(state: dict | None) -> tuple[str | None, str | None]:
    """(training checkpoint, best file) named by a state.json; runs from before numbered files used fixed names."""
    if not state:
        return None, None
    return state.get("checkpoint", "last.keras"), state.get("best", "best.keras")


def comparable(config: dict) -> dict:
    """What must match for a directory to be resumed: not versions, the device, or the class names
    (the dataset fingerprint already fixes them)."""
    return {k: v for k, v in config.items() if k not in ("versions", "device", "class_names")}


CONFIG_KEYS = ("architecture", "data", "recipe", "seed", "precision", "class_weights", "early_stopping",
               "init_from")


def load_config(out: Path) -> dict:
    """A run's config.json, checked to be one: a one-line error names the file otherwise."""
    path = out / "config.json"
    if not path.is_file():
        raise FerZooError(f"--resume {out}: not a run directory (no config.json)")
    config = read_json(path)
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing or not isinstance(config.get("recipe"), dict):
        raise FerZooError(f"{path}: not a fer-zoo run config (missing {', '.join(missing) or 'recipe'}); start a "
                          f"new run")
    return config


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k in ("epoch", "images", "epoch_images") else float(v))
                 for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    from fer_zoo.callbacks import HISTORY_COLUMNS

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in HISTORY_COLUMNS})
    atomic.write_text(path, buffer.getvalue())


def prepare(out: Path, config: dict, resume: bool, force: bool) -> tuple[int, dict | None]:
    """Returns (completed epochs, saved state) and leaves ``out`` ready; refuses what it must not touch."""
    config_path, state_path = out / "config.json", out / "state.json"
    if out.exists() and not out.is_dir():
        raise FerZooError(f"--out {out}: exists and is not a directory")
    existing = read_json(config_path)
    state = read_json(state_path)
    if resume:
        if existing is None:
            raise FerZooError(f"--resume {out}: not a run directory (no config.json)")
        if state is None:
            return 0, None
        if state.get("finished"):
            return int(state["completed_epochs"]), state
        checkpoint, _ = committed_files(state)
        if not (out / checkpoint).is_file():
            return 0, None
        return int(state["completed_epochs"]), state
    if out.is_dir() and any(out.iterdir()) and not force:
        if existing is not None and comparable(existing) == comparable(config):
            if state and state.get("finished"):
                raise FerZooError(f"--out {out}: this run is already finished; --force starts it again")
            raise FerZooError(f"--out {out}: holds an unfinished run of this config; continue it with "
                              f"--resume {out}, or start again with --force")
        raise FerZooError(f"--out {out}: not empty and not a run of this config; use another --out or --force")
    if force and out.is_dir():
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        tidy(out, keep=set())
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_json(config_path, config)
    except OSError as exc:
        raise FerZooError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return 0, None


def read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FerZooError(f"{path}: unreadable ({exc}); start again with --force") from None
    if not isinstance(data, dict):
        raise FerZooError(f"{path}: not a fer-zoo run file; start again with --force")
    return data
