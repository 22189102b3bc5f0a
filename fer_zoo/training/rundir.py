"""The run directory's files: what a run writes, how it is read back, and what an existing ``--out``
may be used for. train.py decides when; this module knows the formats and the rules.

Long because it is the one owner of the run directory: every read of config.json, state.json and
history.csv is checked here (a damaged file is one line naming it), and nothing else parses them.

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
killed checkpoint wrote but never committed are removed, and so are dead writers' temporary files).

Everything that reads these files reads them here, and checks them here: each key of ``config.json``
and ``state.json`` of its type, in its range or vocabulary (those of fer_zoo.training.train and fer_zoo.models.recipes),
the checkpoint ``state.json`` commits named as a commit names it and present, ``history.csv`` numeric,
rectangular, epochs 1..n once each and at least those ``state.json`` counts. A damaged file is one
FerZooError naming the file and the key or line.

Long because each file's checks sit beside the code that writes it: a format changes in one place.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fer_zoo import atomic
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.training.run_config import CLASS_WEIGHTS, PRECISIONS, settings

# history.csv's columns, in order; "images" is what the epoch trained, "epoch_images" what a whole epoch
# trains (more when the time box cut the epoch short)
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "top2_accuracy", "val_top2_accuracy",
                   "learning_rate", "images", "epoch_images", "epoch_seconds", "images_per_second"]

RUN_FILES = ("config.json", "history.csv", "best.keras", "last.keras", "state.json", "metrics.json", "curves.png",
             "MODEL_CARD.md", "predictions.npz", "recipe.toml")
NUMBERED = ("last-*.keras", "best-*.keras")


def default_run_dir(arch: str) -> Path:
    """Where a run of ``arch`` goes without ``--out``."""
    return Path("runs") / arch


def seed_dir(out: Path, row: str, seed: int = 0) -> Path:
    """The run directory of one seed of a bench row: ``<out>/<row>/seed<N>``."""
    return Path(out) / row / f"seed{seed}"


def seed_dirs(out: Path) -> list[Path]:
    """Every seed's run directory under a bench folder ``out``."""
    return sorted(p for p in Path(out).glob("*/seed*") if p.name.removeprefix("seed").isdigit())


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
    """A run's config.json, checked field by field: a one-line error names the file and the key otherwise."""
    path = out / "config.json"
    if not path.exists():
        raise FerZooError(f"--resume {out}: not a run directory (no config.json)")
    config = read_json(path)
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing or not isinstance(config.get("recipe"), dict):
        raise FerZooError(f"{path}: not a fer-zoo run config (missing {', '.join(missing) or 'recipe'}); start a "
                          f"new run")
    _check_config(path, config)
    return config


@dataclass
class Saved:
    """What a run directory holds for --resume, each file checked: its config, the committed state (None
    before the first checkpoint) and the history rows (possibly more than committed: a kill between a
    checkpoint's history.csv and its state.json)."""

    config: dict
    state: dict | None
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.state["completed_epochs"] if self.state else 0


def load_run(out: Path) -> Saved:
    """A run directory to resume, every file it will be continued from checked first."""
    if out.exists() and not out.is_dir():
        raise FerZooError(f"--resume {out}: not a run directory (a file)")
    for name in RUN_FILES:  # a resumed run replaces them
        if (out / name).is_dir():
            raise _damaged(out / name, "a folder where the file belongs")
    config = load_config(out)
    state = read_state(out, config)
    done = state["completed_epochs"] if state else 0
    return Saved(config, state, read_history(out / "history.csv", completed=done))


_INTEGER_COLUMNS = ("epoch", "images", "epoch_images")


def read_history(path: Path, completed: int | None = None) -> list[dict[str, float]]:
    """history.csv, parsed strictly: known numeric columns, every row as long as the header, epochs 1..n
    each once in order, and at least the ``completed`` epochs state.json counts. A damaged file: one line."""
    text = _read_text(path)
    if text is None:
        if completed:
            raise _damaged(path, f"missing, but state.json counts {completed} completed epoch(s)")
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or "epoch" not in header:
            raise _damaged(path, "line 1 is not the header (no epoch column)")
        unknown = [name for name in header if name not in HISTORY_COLUMNS]
        if unknown or len(set(header)) != len(header):
            raise _damaged(path, f"line 1: unknown or repeated column(s) {', '.join(unknown) or 'in the header'} "
                                 f"(columns: {', '.join(HISTORY_COLUMNS)})")
        rows = []
        for values in reader:
            line = reader.line_num
            if not values:
                continue
            if len(values) != len(header):
                raise _damaged(path, f"line {line}: {len(values)} fields, the header has {len(header)}")
            row = {}
            for name, value in zip(header, values):
                if value != "":
                    row[name] = _cell(path, line, name, value)
            expected = len(rows) + 1
            if row.get("epoch") != expected:
                seen = row.get("epoch") in range(1, expected)
                raise _damaged(path, f"line {line}: epoch {values[header.index('epoch')] or '(empty)'}"
                                     f"{' again' if seen else ''} where epoch {expected} belongs (each epoch "
                                     f"once, in order)")
            rows.append(row)
    except csv.Error as exc:
        raise _damaged(path, f"line {reader.line_num}: {exc}") from None
    if completed is not None and len(rows) < completed:
        raise _damaged(path, f"{len(rows)} epoch row(s), but state.json counts {completed} completed epoch(s)")
    return rows


def _cell(path: Path, line: int, name: str, value: str) -> float:
    try:
        number = int(value) if name in _INTEGER_COLUMNS else float(value)
    except ValueError:
        kind = "a whole number" if name in _INTEGER_COLUMNS else "a number"
        raise _damaged(path, f"line {line}: {name} must be {kind}, got {value!r}") from None
    if not math.isfinite(number):
        raise _damaged(path, f"line {line}: {name} must be a finite number, got {value!r}")
    return number


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in HISTORY_COLUMNS})
    atomic.write_text(path, buffer.getvalue())


def save_model(out: Path, name: str, model) -> None:
    """A checkpoint's model file under its own (new) name; committed only by the next :func:`commit`."""
    atomic.write_with(out / name, model.save)


def commit(out: Path, history: list[dict[str, float]], state: dict) -> None:
    """history.csv, then state.json, which makes the files it names current; then best.keras is pointed at
    the committed best and older numbered files go."""
    write_history(out / "history.csv", history)
    atomic.write_json(out / "state.json", state)
    publish_best(out, state.get("best"))
    tidy(out, keep={state.get("checkpoint"), state.get("best")})


def finish(out: Path, state: dict) -> None:
    """Mark the run finished; only an unfinished run needs the numbered files (best.keras stays)."""
    atomic.write_json(out / "state.json", {**{k: v for k, v in state.items() if k not in ("checkpoint", "best")},
                                           "finished": True})
    tidy(out, keep=set())


def clean(out: Path, state: dict | None) -> None:
    """What killed runs left in ``out``: temporary files of dead writers, and numbered checkpoint files
    the committed state does not name (a checkpoint killed before its commit, a finish killed before its
    tidy)."""
    atomic.remove_stale(out)
    checkpoint, best = committed_files(state) if state and not state["finished"] else (None, None)
    tidy(out, keep={checkpoint, best})


def refuse_shape(out: Path) -> None:
    """``out`` can be a run directory: not a file, nor under one."""
    if os.path.lexists(out) and not out.is_dir():
        raise FerZooError(f"--out {out}: exists and is not a directory")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise FerZooError(f"--out {out}: cannot write there ({parent} is a file, not a folder)")
            return


def prepare(out: Path, config: dict, saved: Saved | None, force: bool) -> None:
    """Leave ``out`` ready for a run of ``config``: a resumed one (``saved``) cleaned of leftovers, a new one
    created; refuses what it must not touch."""
    config_path = out / "config.json"
    if saved is not None:
        clean(out, saved.state)
        return
    refuse_shape(out)
    if out.is_dir() and any(out.iterdir()) and not force:
        existing = read_json(config_path)
        if existing is not None and comparable(existing) == comparable(config):
            state = read_json(out / "state.json")
            if state and state.get("finished") is True:
                raise FerZooError(f"--out {out}: this run is already finished; --force starts it again")
            raise FerZooError(f"--out {out}: holds an unfinished run of this config; continue it with "
                              f"--resume {out}, or start again with --force")
        raise FerZooError(f"--out {out}: not empty and not a run of this config; use another --out or --force")
    if force and out.is_dir():
        for name in RUN_FILES:
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        clean(out, None)
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_json(config_path, config)
    except OSError as exc:
        raise FerZooError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def read_json(path: Path, advice: str = "start again with --force") -> dict | None:
    """A run's JSON file (None if absent); damaged, one line ending in ``advice``: what the reader can do."""
    text = _read_text(path)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FerZooError(f"{path}: unreadable ({exc}); {advice}") from None
    if not isinstance(data, dict):
        raise FerZooError(f"{path}: not a fer-zoo run file; {advice}")
    return data


def read_predictions(path: Path, advice: str) -> dict:
    """predictions.npz, what a run saves for ensembles and reports: each split's probabilities, checked. A
    damaged file is one line naming it and ending in ``advice``, what the reader can do."""
    import zipfile

    import numpy as np

    try:
        with np.load(path) as saved:  # allow_pickle stays False: a file with objects in it is refused
            found = {split: saved[split] for split in saved.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        raise FerZooError(f"{path}: not a predictions file fer-zoo wrote ({_npz_problem(path, exc)}); "
                          f"{advice}") from None
    for split, table in found.items():
        if table.ndim != 2 or not np.issubdtype(table.dtype, np.floating):
            raise FerZooError(f"{path}: \"{split}\" is not a table of probabilities (shape {table.shape}, "
                              f"{table.dtype}); {advice}")
    return found


def _npz_problem(path: Path, exc: Exception) -> str:
    text = one_line(exc, 100)
    if path.stat().st_size == 0:
        return "an empty file"
    if "pickled" in text:  # numpy's guess for bytes that are no .npz archive
        return "not an .npz archive"
    if "Object arrays" in text:
        return "it holds Python objects, which fer-zoo never loads"
    return text


def _read_text(path: Path) -> str | None:
    """A run file's text; None if it is absent. A folder in its place, unreadable or binary bytes: one line."""
    if not path.exists():
        return None
    if path.is_dir():
        raise _damaged(path, "a folder where the file belongs")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged(path, f"not text (byte {exc.start} is not UTF-8)") from None
    except OSError as exc:
        raise FerZooError(f"{path}: cannot read it ({exc.strerror or exc})") from None


# --- checking what a run's files hold ----------------------------------------------------------------

_REQUIRED = object()


def _damaged(path: Path, problem: str) -> FerZooError:
    return FerZooError(f"{path} is damaged: {problem}")


def _shown(value) -> str:
    """A value as the file spells it (null, true), strings quoted as Python does."""
    return json.dumps(value) if value is None or isinstance(value, bool) else repr(value)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_KINDS = {"a whole number": _whole, "a number": _number, "true or false": lambda v: isinstance(v, bool),
          "text": lambda v: isinstance(v, str), "an object": lambda v: isinstance(v, dict),
          "a list of names": lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v)}


def _field(path: Path, data: dict, key: str, kind: str, *, low=None, high=None, positive: bool = False,
           choices=None, none: bool = False, default=_REQUIRED, prefix: str = "", why: str = ""):
    """``data[key]``, checked to be of ``kind`` (a key of _KINDS) within its range or vocabulary."""
    name = f"{prefix}{key}"
    if key not in data:
        if default is _REQUIRED:
            raise _damaged(path, f"{name} is missing")
        return default
    value = data[key]
    if value is None and none:
        return None
    if choices is not None:
        if not isinstance(value, str) or value not in choices:
            raise _damaged(path, f"{name} must be one of {', '.join(choices)}, got {_shown(value)}")
        return value
    if not _KINDS[kind](value):
        raise _damaged(path, f"{name} must be {kind}{' or null' if none else ''}, got {_shown(value)}")
    if (low is not None and value < low) or (high is not None and value > high) or (positive and value <= 0):
        bounds = ["above 0" if positive else f"at least {low}" if low is not None else "",
                  f"at most {high}" if high is not None else ""]
        span = (f"between {low} and {high}" if low is not None and high is not None
                else " and ".join(b for b in bounds if b))
        raise _damaged(path, f"{name} must be {span}{why}, got {_shown(value)}")
    return value


def _recipe_range(key: str) -> dict:
    """What the recipe field ``key`` ("momentum", "augment.shift") may hold beyond its declared type, as
    _field's options: the ranges and vocabularies fer_zoo.plugins.recipe defines, read here, not copied."""
    from fer_zoo.plugins.recipe import CHOICES, RANGES

    if key in CHOICES:
        return {"choices": CHOICES[key]}
    if key not in RANGES:
        return {}
    _, low, high, low_open, _ = RANGES[key]
    bounds = {"positive": True} if low == 0 and low_open else {"low": low}
    return bounds | ({"high": high} if high is not None else {})


_TYPE_KINDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}


def _check_fields(path: Path, table: dict, cls, prefix: str) -> None:
    """A recipe (or its augmentation) as config.json holds it: each field of ``cls`` of its declared type;
    fields without a default are required (Recipe.from_dict fills in the others)."""
    from dataclasses import MISSING, fields
    from typing import get_args, get_type_hints

    from fer_zoo.models.recipes import OPTIMIZERS

    declared = get_type_hints(cls)
    for f in fields(cls):
        if not f.compare:  # a recipe's description and plugin: not what is trained, not in config.json
            continue
        required = f.default is MISSING and f.default_factory is MISSING
        default = _REQUIRED if required else None
        if f.name == "optimizer":
            _field(path, table, f.name, "text", choices=OPTIMIZERS, default=default, prefix=prefix)
            continue
        hint = declared[f.name]
        options = [t for t in get_args(hint) or (hint,) if t is not type(None)]
        kind = _TYPE_KINDS.get(options[0])
        if kind is None:  # a nested dataclass: the augmentation
            _check_fields(path, _field(path, table, f.name, "an object", default={}, prefix=prefix), options[0],
                          f"{prefix}{f.name}.")
            continue
        _field(path, table, f.name, kind, none=type(None) in get_args(hint), default=default, prefix=prefix,
               **_recipe_range(f"{prefix}{f.name}".removeprefix("recipe.")))


def _check_config(path: Path, config: dict) -> None:
    from fer_zoo.models.recipes import Augment, Recipe

    for key in ("architecture", "data"):
        _field(path, config, key, "text")
    for key in ("plugin", "dataset", "dataset_fingerprint", "backend", "device"):
        _field(path, config, key, "text", none=True, default=None)
    _field(path, config, "class_names", "a list of names", default=None)
    _check_fields(path, config["recipe"], Recipe, "recipe.")
    if isinstance(config["recipe"].get("augment"), dict):  # unknown augment keys would not rebuild
        unknown = set(config["recipe"]["augment"]) - set(Augment.__dataclass_fields__)
        if unknown:
            raise _damaged(path, f"recipe.augment has unknown key(s) {', '.join(sorted(unknown))}")
    _field(path, config, "recipe_origin", "an object", none=True, default=None)
    for name, setting, _ in settings():  # the run's options, each as the schema says it is stored
        if setting.stored is not None and not (name == "freeze" and config.get(name) == "backbone"):
            kind, options = setting.stored
            _field(path, config, name, kind, **options)
    _field(path, config, "global_batch_size", "a whole number", low=1, default=None)


def _check_state(out: Path, state: dict, config: dict) -> dict:
    """state.json against its run: whole epoch counts within the run's epochs, and (unfinished) the
    checkpoint it commits named as the commit writes it and present in the run."""
    path = out / "state.json"
    epochs = config["recipe"]["epochs"]
    completed = _field(path, state, "completed_epochs", "a whole number", low=0, high=epochs,
                       why=" (the run's epochs)")
    finished = _field(path, state, "finished", "true or false")
    best_epoch = _field(path, state, "best_epoch", "a whole number", low=1 if completed else 0, high=completed,
                        why=" (the completed epochs)")
    best = state.get("best_val_accuracy")
    if not (best_epoch == 0 and best == -math.inf):  # nothing trained yet: no best
        _field(path, state, "best_val_accuracy", "a number", low=0, high=1)
    if finished:
        return state
    # runs from before numbered files used fixed names
    for key, expected, legacy in (("checkpoint", numbered("last", completed), "last.keras"),
                                  ("best", numbered("best", best_epoch), "best.keras")):
        name = state.get(key, legacy)
        if key == "best" and (name is None or (key not in state and not (out / legacy).is_file())):
            continue
        if name not in (expected, legacy):
            raise _damaged(path, f"{key} must be {expected} (a file of this run), got {_shown(name)}")
        if not (out / name).is_file() or (out / name).is_symlink():
            raise _damaged(path, f"{key} names {name}, which is not in {out}")
    return state


def read_state(out: Path, config: dict | None = None) -> dict | None:
    """A run's state.json, checked against its config.json (read here if not given); None if absent."""
    state = read_json(out / "state.json")
    if state is None:
        return None
    return _check_state(out, state, config if config is not None else load_config(out))


def unfinished(out: Path) -> bool:
    """Whether ``out`` holds a run that --resume would continue (its state.json checked)."""
    state = read_state(out) if (out / "state.json").exists() else None
    return state is not None and not state["finished"]
