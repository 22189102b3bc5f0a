"""Saved Keras models read back: a run directory's best.keras (a run that trained no step is refused with its
status), a checkpoint, or a ``.keras`` / Keras-2 ``.h5`` file, as a Keras model taking raw 0-255 pixels.
Training resumes and fine-tunes from these; :mod:`fer_zoo.inference.runtime` wraps them as a Classifier."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from fer_zoo import values
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.inputs import regular_file

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def resolve_model_path(model: str | Path) -> Path:
    """A run directory's best.keras, or the Keras file itself."""
    path = Path(model)
    if path.is_dir():
        refuse_untrained_run(path)
        path = path / "best.keras"
        if not path.is_file():
            raise FerZooError(f"{model}: not a run directory (no best.keras inside)")
    elif not path.is_file():
        if path.exists() or path.is_symlink():
            regular_file(path)  # a pipe, a device, a dangling symlink: say which, not "no such file"
        raise FerZooError(f"{model}: no such model file or run directory")
    if path.suffix not in KERAS_SUFFIXES:
        raise FerZooError(f"{path}: expected a .keras or .h5 model file")
    return path


def refuse_untrained_run(path: Path) -> None:
    """A finished run without best.keras is a bench row that never took a training step (it keeps no model):
    say so, with its status and reason, rather than that the folder is not a run."""
    from fer_zoo.training import rundir

    if (path / "best.keras").is_file() or not (path / "metrics.json").is_file():
        return
    try:
        summary = json.loads((path / "metrics.json").read_text())
        trained = any(row.get("images", 1) for row in rundir.read_history(path / "history.csv"))
    except (OSError, ValueError, FerZooError):
        return
    if trained:  # it did train: a missing best.keras is damage, said by the caller
        return
    if isinstance(summary, dict) and summary.get("status"):
        reason = f": {summary['reason']}" if summary.get("reason") else ""
        raise FerZooError(f"{path}: this run trained no step, so it keeps no model ({summary['status']}{reason})")


def load_model(model: str | Path, unsafe: bool = False, scale: float | None = None, offset: float | None = None,
               compile: bool = False):
    """A Keras model taking raw 0-255 pixels. Safe mode refuses models that would run arbitrary code.

    ``scale``/``offset`` wrap a bare file (one trained on normalised input, like the seed's ``.h5``);
    ``compile`` restores a checkpoint's optimizer state (a run's ``last.keras``).
    """
    import keras

    import fer_zoo.models.pipeline  # noqa: F401  (registers fer-zoo's own layers, which saved models may hold)

    scale, offset = checked_scaling(scale, offset)
    path = resolve_model_path(model)
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise FerZooError(f"{path}: not a complete .keras file (a .keras file is a zip archive; this one is "
                          f"truncated or something else)")
    try:
        loaded = keras.saving.load_model(path, compile=compile, safe_mode=not unsafe)
    except Exception as exc:
        text = one_line(exc, 300)
        if "safe_mode" in text or "Lambda" in text or "arbitrary code" in text:
            raise FerZooError(f"{path}: the model contains code (e.g. a Lambda layer) that safe mode will not "
                              f"run; pass --unsafe only if you trust its author") from None
        raise FerZooError(f"{path}: cannot load model: {text}") from None
    if compile and not loaded.compiled:
        raise FerZooError(f"{path}: not a training checkpoint (it was saved without its optimizer, like a "
                          f"run's best.keras); the run cannot continue from it")
    if scale is not None or offset is not None:
        inputs = keras.Input(shape=loaded.input_shape[1:])
        loaded = keras.Model(inputs, loaded(keras.layers.Rescaling(scale if scale is not None else 1 / 255,
                                                                   offset or 0.0)(inputs)))
    return loaded


def checked_scaling(scale, offset):
    """``--scale`` and ``--offset``, finite (a NaN would score every image as class 0); scale not 0."""
    if scale is not None and values.real(scale, "--scale") == 0:
        raise FerZooError("--scale must not be 0: every image would look the same")
    return (None if scale is None else float(scale)), (None if offset is None else values.real(offset, "--offset"))
