"""`fer-zoo train`: one architecture, one data source, one run directory that survives a crash.

A run directory holds ``config.json``, ``history.csv`` (one row per completed epoch), ``best.keras``
(the inference model with the best val accuracy), ``last.keras`` + ``state.json`` (the training model
with its optimizer, for resuming), ``metrics.json`` and ``curves.png``. Every file is written to a
temporary name and renamed. Randomness is re-seeded from (seed, epoch) at each epoch start, so a
resumed run draws what the uninterrupted run would have drawn.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fer_zoo import atomic
from fer_zoo.errors import FerZooError
from fer_zoo.training import RECIPES, Recipe, get_recipe, steps_per_epoch

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "top2_accuracy", "val_top2_accuracy",
                   "learning_rate", "epoch_seconds", "images_per_second"]
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
RUN_FILES = ("config.json", "history.csv", "best.keras", "last.keras", "state.json", "metrics.json", "curves.png")


@dataclass
class TrainOptions:
    """Everything that shapes a run besides the architecture and the data; None means the recipe's value."""

    recipe: str | None = None  # a recipe name or a .toml file
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    augment: bool = True
    seed: int = 0
    precision: str = "float32"
    class_weights: str = "none"
    label_smoothing: float | None = None
    early_stopping: int | None = None
    init_from: str | None = None
    subset: int | None = None  # a seeded random subset of this many training images
    eval_subset: int | None = None  # ... and of this many val and test images (default: a quarter of subset)
    time_box: float | None = None  # stop training after this many seconds; the run is marked time_boxed


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: int = 0


def resolve_recipe(arch_recipe: str | None, options: TrainOptions) -> Recipe:
    name, overrides = options.recipe or arch_recipe or "seed", {}
    if name.endswith(".toml"):
        path = Path(name)
        try:
            table = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise FerZooError(f"--recipe {path}: {exc}") from None
        name = table.pop("base", arch_recipe or "seed")
        augment = table.pop("augment", None)
        known = set(Recipe.__dataclass_fields__) - {"name", "augment"}
        unknown = set(table) - known
        if unknown:
            raise FerZooError(f"--recipe {path}: unknown key(s) {', '.join(sorted(unknown))}")
        overrides = table
        if augment is not None:
            try:
                overrides["augment"] = replace(RECIPES.get(name, RECIPES["seed"]).augment, **augment)
            except TypeError as exc:
                raise FerZooError(f"--recipe {path}: [augment] {exc}") from None
    recipe = get_recipe(name, **overrides)
    recipe = replace(recipe, **{k: v for k, v in dict(
        epochs=options.epochs, batch_size=options.batch_size, learning_rate=options.lr,
        optimizer=options.optimizer, label_smoothing=options.label_smoothing).items() if v is not None})
    if not options.augment:
        from fer_zoo.training import Augment

        recipe = replace(recipe, augment=Augment())
    if recipe.epochs < 1 or recipe.batch_size < 1 or not recipe.learning_rate > 0:
        raise FerZooError("--epochs and --batch-size must be at least 1 and --lr positive")
    return recipe


def _config(arch, dataset, data_spec: str, recipe: Recipe, options: TrainOptions) -> dict:
    import keras

    from fer_zoo import __version__

    return {
        "architecture": arch.name,
        "plugin": str(arch.plugin) if arch.plugin else None,
        "data": data_spec,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "class_names": list(dataset.class_names),
        "recipe": recipe.as_dict(),
        "seed": options.seed,
        "precision": options.precision,
        "class_weights": options.class_weights,
        "early_stopping": options.early_stopping,
        "init_from": options.init_from,
        "subset": options.subset,
        "eval_subset": options.eval_subset,
        "time_box": options.time_box,
        "versions": {"fer-zoo": __version__, "keras": keras.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "backend": keras.backend.backend(),
        "device": device_name(),
    }


def _comparable(config: dict) -> dict:
    """What must match for a directory to be resumed: not versions, the device, or the class names
    (the dataset fingerprint already fixes them)."""
    return {k: v for k, v in config.items() if k not in ("versions", "device", "class_names")}


def device_name() -> str:
    """The accelerator's name if one is visible, else the CPU model."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            from fer_zoo.export import tensorflow_gpu_name

            gpu = tensorflow_gpu_name()
            if gpu:
                return gpu
        elif backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "cpu":
                return device.device_kind
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.get_device_name(0)
    except Exception:
        pass
    return cpu_name()


def has_accelerator() -> bool:
    return device_name() != cpu_name()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in HISTORY_COLUMNS})
    atomic.write_text(path, buffer.getvalue())


def _prepare_dir(out: Path, config: dict, resume: bool, force: bool) -> tuple[int, dict | None]:
    """Returns (completed epochs, saved state) and leaves ``out`` ready; refuses what it must not touch."""
    config_path, state_path = out / "config.json", out / "state.json"
    if out.exists() and not out.is_dir():
        raise FerZooError(f"--out {out}: exists and is not a directory")
    existing = json.loads(config_path.read_text()) if config_path.is_file() else None
    state = json.loads(state_path.read_text()) if state_path.is_file() else None
    if resume:
        if existing is None:
            raise FerZooError(f"--resume {out}: not a run directory (no config.json)")
        if state is None or not (out / "last.keras").is_file():
            return 0, None
        return int(state["completed_epochs"]), state
    if out.is_dir() and any(out.iterdir()) and not force:
        if existing is not None and _comparable(existing) == _comparable(config):
            if state and state.get("finished"):
                raise FerZooError(f"--out {out}: this run is already finished; --force starts it again")
            raise FerZooError(f"--out {out}: holds an unfinished run of this config; continue it with "
                              f"--resume {out}, or start again with --force")
        raise FerZooError(f"--out {out}: not empty and not a run of this config; use another --out or --force")
    if force and out.is_dir():
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(config_path, config)
    return 0, None


def _class_weights(y: np.ndarray, num_classes: int, mode: str) -> dict[int, float] | None:
    if mode == "none":
        return None
    if mode != "balanced":
        raise FerZooError(f"--class-weights must be none or balanced, got {mode!r}")
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    counts = np.bincount(labels, minlength=num_classes)
    return {i: float(len(labels) / (num_classes * c)) if c else 0.0 for i, c in enumerate(counts)}


def train(arch_name: str, data: str = "synthetic", out: str | Path | None = None,
          options: TrainOptions | None = None, resume: bool = False, force: bool = False,
          callbacks: list | None = None, progress=None) -> RunResult:
    """Train ``arch_name`` on ``data`` into the run directory ``out``; returns plain data.

    ``progress(epochs, steps_per_epoch, batch_size)``, if given, returns a Keras callback to report with.
    """
    import fer_zoo
    from fer_zoo.data import load_dataset

    options = options or TrainOptions()
    if options.precision not in PRECISIONS:
        raise FerZooError(f"--precision must be one of {', '.join(PRECISIONS)}, got {options.precision!r}")
    if options.class_weights not in ("none", "balanced"):
        raise FerZooError(f"--class-weights must be none or balanced, got {options.class_weights!r}")
    out = Path(out or f"runs/{arch_name}")
    if resume:
        saved = _load_config(out)
        arch_name, data = saved["architecture"], saved["data"]
        options = _options_from_config(saved)
    arch = fer_zoo.get_architecture(arch_name)
    recipe = _recipe_from_config(saved["recipe"]) if resume else resolve_recipe(arch.recipe, options)
    dataset = load_dataset(data)
    if options.subset:
        dataset = subset(dataset, options.subset, options.seed, options.eval_subset)
    for split in ("train", "val"):
        if split not in dataset.splits or len(dataset.splits[split]) == 0:
            raise FerZooError(f"{data}: has no {split} images")
    config = _config(arch, dataset, data, recipe, options)
    if resume and _comparable(config) != _comparable(saved):
        raise FerZooError(f"--resume {out}: the data or recipe changed since the run started "
                          f"(dataset fingerprint or options differ); start a new run")
    fresh = not resume and not (out / "config.json").exists()
    done, state = _prepare_dir(out, config, resume, force)
    callbacks = list(callbacks or [])
    if progress is not None:
        steps = steps_per_epoch(len(dataset.splits["train"]), recipe.batch_size)
        callbacks.append(progress(recipe.epochs, steps, recipe.batch_size))
    try:
        return _fit(arch, dataset, recipe, options, out, done, state, callbacks)
    except FerZooError:
        if fresh and not (out / "state.json").exists():  # refused before any epoch: leave nothing behind
            for name in RUN_FILES:
                (out / name).unlink(missing_ok=True)
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
        raise


def subset(dataset, n_train: int, seed: int, n_eval: int | None = None):
    """A seeded random subset: ``n_train`` training images, ``n_eval`` (default a quarter) for val and test."""
    from fer_zoo.data.dataset import Dataset, Split

    rng = np.random.default_rng(seed)
    n_eval = n_eval or max(1, n_train // 4)
    limits = {"train": n_train, "val": n_eval, "test": n_eval}
    splits = {}
    for name, part in dataset.splits.items():
        keep = np.sort(rng.permutation(len(part))[: limits.get(name, len(part))])
        splits[name] = Split(part.x[keep], part.y[keep])
    return Dataset(f"{dataset.name} (subset {n_train})", dataset.class_names, splits, dataset.fingerprint,
                   dataset.notes)


def _load_config(out: Path) -> dict:
    path = out / "config.json"
    if not path.is_file():
        raise FerZooError(f"--resume {out}: not a run directory (no config.json)")
    return json.loads(path.read_text())


def _recipe_from_config(recipe: dict) -> Recipe:
    from fer_zoo.training import Augment

    return Recipe(**{**recipe, "augment": Augment(**recipe["augment"])})


def _options_from_config(config: dict) -> TrainOptions:
    """The non-recipe options of a saved run; its recipe is rebuilt whole by _recipe_from_config."""
    return TrainOptions(recipe=config["recipe"]["name"], seed=config["seed"], precision=config["precision"],
                        class_weights=config["class_weights"], early_stopping=config["early_stopping"],
                        init_from=config["init_from"], subset=config.get("subset"),
                        eval_subset=config.get("eval_subset"), time_box=config.get("time_box"))


def _fit(arch, dataset, recipe: Recipe, options: TrainOptions, out: Path, done: int, state, callbacks) -> RunResult:
    import keras

    from fer_zoo.training import compile_for, inference_model, random_affine_class, training_model

    train_split, val_split = dataset.splits["train"], dataset.splits["val"]
    num_classes = len(dataset.class_names)
    soft = train_split.y.ndim == 2 or bool(recipe.label_smoothing)
    y_train, y_val = (_one_hot(s.y, num_classes) if soft else s.y for s in (train_split, val_split))
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(options.precision)
    try:
        keras.utils.set_random_seed(options.seed)
        if done:
            random_affine_class()  # registers the augmentation layer the checkpoint holds
            model = keras.saving.load_model(out / "last.keras")
            inference = _inference_of(model, arch.name)
        else:
            inference = inference_model(arch, dataset.image_shape, num_classes)
            if options.init_from:
                _init_from(inference, options.init_from)
            model = training_model(inference, recipe.augment, options.seed)
            compile_for(model, recipe, soft)
        history = read_history(out / "history.csv")[:done]
        guard = _Checkpoints(out, inference, model, history, state, len(train_split), options.seed, recipe.batch_size)
        extra = []
        if recipe.plateau_factor:
            extra.append(keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=recipe.plateau_factor,
                                                           patience=recipe.plateau_patience, mode="max"))
        if options.early_stopping:
            extra.append(keras.callbacks.EarlyStopping("val_accuracy", patience=options.early_stopping, mode="max"))
        if recipe.precise_bn:
            extra.insert(0, _PreciseBN(inference, train_split.x, recipe.precise_bn, options.seed))
        box = _TimeBox(options.time_box) if options.time_box else None
        if box is not None:
            extra.append(box)
        try:
            if done < recipe.epochs:
                model.fit(train_split.x, y_train, batch_size=recipe.batch_size, epochs=recipe.epochs,
                          initial_epoch=done, validation_data=(val_split.x, y_val), shuffle=True, verbose=0,
                          class_weight=_class_weights(train_split.y, num_classes, options.class_weights),
                          callbacks=[guard, *extra, *callbacks])
        except KeyboardInterrupt:
            raise FerZooError(f"interrupted; epochs 1-{guard.completed} are saved in {out}: "
                              f"continue with `fer-zoo train --resume {out}`") from None
        if guard.bad_loss is not None:
            kept = (f"keeping the last good checkpoint (epoch {guard.completed}) in {out}" if guard.completed
                    else "no epoch had completed")
            raise FerZooError(f"loss became {guard.bad_loss} in epoch {guard.completed + 1}; stopped, {kept}: "
                              f"lower --lr and retry")
        result = _finish(out, dataset, guard, recipe, soft, time_boxed=bool(box and box.fired))
        result.resumed_from = done
        return result
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _one_hot(y: np.ndarray, k: int) -> np.ndarray:
    return y.astype("float32") if y.ndim == 2 else np.eye(k, dtype="float32")[y]


def _inference_of(model, arch_name: str):
    try:
        return model.get_layer(f"{arch_name}_inference")
    except ValueError:
        return model  # trained without augmentation: the model is the inference model


def _init_from(inference, source: str) -> None:
    from fer_zoo.evaluation import load_model

    donor = load_model(source)
    try:
        inference.set_weights(donor.get_weights())
    except ValueError as exc:
        raise FerZooError(f"--init-from {source}: its weights do not fit this architecture ({exc})") from None


def _make_checkpoint_class():
    import keras

    class Checkpoints(keras.callbacks.Callback):
        """Per epoch: history row, best.keras on a new best val accuracy, last.keras + state.json."""

        def __init__(self, out, inference, model, history, state, n_train, seed, batch_size):
            super().__init__()
            self.out, self.inference, self.run_model, self.history = out, inference, model, history
            self.n_train, self.seed, self.batch_size = n_train, seed, batch_size
            self.best = (state or {}).get("best_val_accuracy", -math.inf)
            self.best_epoch = (state or {}).get("best_epoch", 0)
            self.completed = len(history)
            self.bad_loss = None

        def on_epoch_begin(self, epoch, logs=None):
            keras.utils.set_random_seed(self.seed * 100_003 + epoch)  # the same draws after a resume
            self.started = time.perf_counter()
            self.trained = None
            self.batches = 0

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.bad_loss = "NaN" if math.isnan(float(loss)) else "infinite"
                self.run_model.stop_training = True
            self.trained = time.perf_counter()
            self.batches += 1

        def on_epoch_end(self, epoch, logs=None):
            if self.bad_loss is not None:
                return
            logs = logs or {}
            train_seconds = (self.trained or time.perf_counter()) - self.started
            row = {"epoch": epoch + 1, **{k: float(logs[k]) for k in HISTORY_COLUMNS[1:7] if k in logs},
                   "learning_rate": float(keras.ops.convert_to_numpy(self.run_model.optimizer.learning_rate)),
                   "epoch_seconds": time.perf_counter() - self.started,
                   "images_per_second": (min(self.batches * self.batch_size, self.n_train) / train_seconds
                                         if train_seconds > 0 else 0.0)}
            if not all(math.isfinite(row[k]) for k in ("loss", "val_loss") if k in row):
                self.bad_loss = "NaN"
                self.run_model.stop_training = True
                return
            if row.get("val_accuracy", -1) > self.best:
                self.best, self.best_epoch = row["val_accuracy"], epoch + 1
                atomic.write_with(self.out / "best.keras", self.inference.save)
            atomic.write_with(self.out / "last.keras", self.run_model.save)
            self.history.append(row)
            self.completed = epoch + 1
            atomic.write_json(self.out / "state.json", {"completed_epochs": self.completed,
                                                        "best_val_accuracy": self.best,
                                                        "best_epoch": self.best_epoch, "finished": False})
            write_history(self.out / "history.csv", self.history)

    return Checkpoints


def _Checkpoints(*args):
    return _make_checkpoint_class()(*args)


def _PreciseBN(inference, x, images: int, seed: int):
    import keras

    from fer_zoo.training import precise_batch_norm

    class PreciseBN(keras.callbacks.Callback):
        """Re-estimates batch-norm statistics when validation starts (and so before best.keras is chosen)."""

        def on_test_begin(self, logs=None):
            rng = np.random.default_rng(seed)
            sample = x[np.sort(rng.permutation(len(x))[:images])]
            precise_batch_norm(inference, sample)

    return PreciseBN()


def _TimeBox(seconds: float):
    import keras

    class TimeBox(keras.callbacks.Callback):
        """Stops training once ``seconds`` have passed; the epoch in progress ends early and is validated."""

        def __init__(self):
            super().__init__()
            self.fired = False

        def on_train_begin(self, logs=None):
            self.deadline = time.perf_counter() + seconds

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() > self.deadline:
                self.fired = True
                self.model.stop_training = True

    return TimeBox()


def _finish(out: Path, dataset, guard, recipe: Recipe, soft: bool, time_boxed: bool = False) -> RunResult:
    from fer_zoo.evaluation import load_model, metrics, predict_proba
    from fer_zoo.report import curves_png

    best = load_model(out / "best.keras")
    summary = {"best_epoch": guard.best_epoch, "epochs": guard.completed, "planned_epochs": recipe.epochs,
               "time_boxed": time_boxed}
    last = guard.history[-1] if guard.history else {}
    summary["train_accuracy"] = last.get("accuracy")
    # Re-scored here rather than read from the history: Keras' top-k metric counts ties as hits, so a
    # network that outputs one constant distribution would show 100% top-2.
    for split in ("val", "test"):
        if split in dataset.splits and len(dataset.splits[split]):
            part = dataset.splits[split]
            scores = metrics(part.y, predict_proba(best, part.x), dataset.class_names)
            summary |= {f"{split}_accuracy": scores["accuracy"], f"{split}_top2_accuracy": scores["top2_accuracy"],
                        f"{split}_macro_f1": scores["macro_f1"]}
    steady = [r["images_per_second"] for r in guard.history[1:]] or [r["images_per_second"] for r in guard.history]
    summary["train_images_per_second"] = float(np.median(steady)) if steady else None
    summary["seconds"] = float(sum(r["epoch_seconds"] for r in guard.history))
    atomic.write_json(out / "metrics.json", summary)
    atomic.write_with(out / "curves.png", lambda tmp: curves_png({out.name: guard.history}, tmp))
    state = json.loads((out / "state.json").read_text())
    atomic.write_json(out / "state.json", {**state, "finished": True})
    return RunResult(out, summary, guard.history)
