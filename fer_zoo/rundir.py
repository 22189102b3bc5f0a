"""The run directory's files: what a run writes, how it is read back, and what an existing ``--out``
may be used for. train.py decides when; this module knows the formats and the rules.

| file | written |
|---|---|
| ``config.json`` | at the start: architecture, data and fingerprint, recipe, options, environment |
| ``best.keras`` | at a checkpoint, if val accuracy improved: the inference model of the best epoch |
| ``last.keras`` | at a checkpoint: the training model with its optimizer (removed once the run finishes) |
| ``history.csv`` | at a checkpoint: one row per completed epoch |
| ``state.json`` | at a checkpoint, last: the epochs those files hold (the commit record) |
| ``metrics.json``, ``curves.png`` | at the end: scores, status, speed |

Each file is written to a temporary name and renamed, ``state.json`` last: a kill at any point leaves the
previous checkpoint whole.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fer_zoo import atomic
from fer_zoo.errors import FerZooError

RUN_FILES = ("config.json", "history.csv", "best.keras", "last.keras", "state.json", "metrics.json", "curves.png")


def comparable(config: dict) -> dict:
    """What must match for a directory to be resumed: not versions, the device, or the class names
    (the dataset fingerprint already fixes them)."""
    return {k: v for k, v in config.items() if k not in ("versions", "device", "class_names")}


def load_config(out: Path) -> dict:
    path = out / "config.json"
    if not path.is_file():
        raise FerZooError(f"--resume {out}: not a run directory (no config.json)")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FerZooError(f"{path}: unreadable ({exc}); start a new run") from None


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k in ("epoch", "images") else float(v)) for k, v in row.items() if v != ""}
                for row in csv.DictReader(f)]


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
        if not (out / "last.keras").is_file():
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
