"""`fer-zoo train`: one architecture, one data source, one run directory that survives a crash.

Long because a run's plan, its fit, its checkpoints under interruption and time boxes, and its final scores
share one :class:`Run`; split apart, each piece would pass that state around.

source -> arrays (fer_zoo.data) -> model (fer_zoo.models.pipeline around the architecture's network) ->
``model.fit`` (with fer_zoo.training.callbacks) -> scores (fer_zoo.training.scores) -> the run directory (fer_zoo.training.rundir).
A checkpoint is taken after the first epoch, then at most every ``checkpoint_seconds`` and after the
last epoch; Ctrl-C also saves the last finished epoch (kept in memory when its checkpoint was skipped),
and a new run interrupted before any epoch finished is removed; a resumed run
restarts from the epochs ``state.json`` names and re-runs the rest with the same draws (randomness is
seeded from (seed, epoch)). With ``--devices N`` all of it runs in fer_zoo.training.parallel's data-parallel scope.

Long because a run's whole life — fresh or resumed, checkpoints, the time box, the best epoch scored —
reads best in one place.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fer_zoo import atomic, values
from fer_zoo.training import rundir
from fer_zoo.errors import FerZooError
from fer_zoo.models.recipes import Recipe, resolve_with_origin
from fer_zoo.training import run_config
from fer_zoo.training.run_config import RunConfig, TrainOptions  # noqa: F401  (TrainOptions: the older name)
from fer_zoo.training.rundir import CLASS_WEIGHTS, PRECISIONS
from fer_zoo.training.saved import load_model
from fer_zoo.status import Status, StatusError


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: int = 0
    already_finished: bool = False  # --resume of a run that had finished: nothing was trained
    model: Any = field(default=None, repr=False)  # the inference model at its best weights
    notes: list[str] = field(default_factory=list)  # what a user should know of how it was trained (reproduce)


def train(arch_name: str, data: str = "synthetic", out: str | Path | None = None,
          options: RunConfig | None = None, resume: bool = False, force: bool = False,
          callbacks: list | None = None, reporter=None, unsafe: bool = False, trackers=None,
          asked: set[str] | None = None, recipe: tuple[Recipe, dict | None] | None = None) -> RunResult:
    """Train ``arch_name`` on ``data`` into the run directory ``out``; returns plain data.

    A resumed run keeps the settings it was started with: ``arch_name``, ``data`` and each option named in
    ``asked`` (default: those ``options`` sets away from RunConfig's defaults; "data" for ``data``) must
    match them or be left out, else a FerZooError names what differs.

    ``reporter`` (a fer_zoo.training.callbacks.Reporter) is told about every step and epoch, for a progress display.
    ``unsafe`` lets ``--init-from`` and ``--resume`` load models that hold code (Lambda layers).
    ``trackers`` (fer_zoo.training.tracking.Trackers) get the settings, each epoch's scores and the finished run.
    ``recipe``: (the recipe, its origin) as another run recorded them, trained as they are (fer-zoo reproduce);
    default: resolved from the architecture's recipe and ``options``.
    """
    started = time.perf_counter()
    options = options or RunConfig()
    out = Path(out) if out else rundir.default_run_dir(arch_name)
    if not resume:
        check_out(out, data, options)
    saved = None
    if resume:  # every file the run continues from is checked before anything is loaded
        saved = rundir.load_run(out)
        _refuse_changes(saved.config, out, arch_name, data, options, asked)
        arch_name, data = saved.config["architecture"], saved.config["data"]
        options = run_config.from_config(saved.config)
    arch, dataset, recipe, config = plan(arch_name, data, options, saved, recipe)
    options = replace(options, devices=config["devices"])
    if saved and rundir.comparable(config) != rundir.comparable(saved.config):
        raise FerZooError(f"--resume {out}: the data or recipe changed since the run started "
                          f"(dataset fingerprint or options differ); start a new run")
    if saved and saved.config.get("class_names") not in (None, config["class_names"]):
        raise FerZooError(f"{out / 'config.json'}: class_names {saved.config['class_names']} are not its data's "
                          f"{config['class_names']}; the file was changed after the run started")
    _refuse_recipe_inside(options.recipe, out)
    fresh = not resume and not (out / "config.json").exists()
    rundir.prepare(out, config, saved, force)
    if not saved and run_config.needs_recipe_copy(config):
        atomic.write_text(out / run_config.RECIPE_COPY, run_config.recipe_toml(config["recipe"]))
    if saved and saved.state and saved.state["finished"]:
        return RunResult(out, rundir.read_json(out / "metrics.json") or {}, saved.history,
                         resumed_from=saved.done, already_finished=True, model=load_model(out, unsafe))
    callbacks = list(callbacks or [])
    if trackers:
        from fer_zoo.training.callbacks import Tracking

        trackers.start(config)
        callbacks.append(Tracking(trackers))
    try:
        try:
            result = fit(arch, dataset, recipe, options, out, saved, callbacks, reporter, started, unsafe)
        except KeyboardInterrupt as exc:
            raise _interrupted(out, config, fresh, getattr(exc, "finished", None)) from None
    except BaseException as exc:
        if trackers:
            trackers.fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if isinstance(exc, FerZooError) and fresh and not (out / "state.json").exists():
            rundir.remove(out)  # refused or interrupted before any epoch was saved: leave nothing behind
        raise
    if trackers:
        trackers.finish(out, result.metrics)
    return result


def plan(arch_name: str, data: str, options: RunConfig, saved=None,
         recipe: tuple[Recipe, dict | None] | None = None) -> tuple[Any, Any, Recipe, dict]:
    """What a run of ``options`` trains, before anything is trained: the architecture, the dataset (its
    subset), the resolved recipe and the run's config.json; ``saved`` (a resumed run) keeps its recipe, and
    so does a ``recipe`` given as (recipe, origin)."""
    import fer_zoo
    from fer_zoo.data import load_dataset
    from fer_zoo.training import parallel

    if options.precision not in PRECISIONS:
        raise FerZooError(f"--precision must be one of {', '.join(PRECISIONS)}, got {options.precision!r}")
    if options.class_weights not in CLASS_WEIGHTS:
        raise FerZooError(f"--class-weights must be {' or '.join(CLASS_WEIGHTS)}, got {options.class_weights!r}")
    values.seed(options.seed, "--seed")
    options = replace(options, devices=parallel.resolve(options.devices))
    arch = fer_zoo.get_architecture(arch_name)
    if saved:
        recipe, origin = Recipe.from_dict(saved.config["recipe"]), saved.config.get("recipe_origin")
    elif recipe is not None:
        recipe, origin = recipe
    else:
        recipe, origin = resolve_with_origin(
            arch.recipe, options.recipe, plugin=arch.plugin, epochs=options.epochs, batch_size=options.batch_size,
            lr=options.lr, optimizer=options.optimizer, label_smoothing=options.label_smoothing,
            augment=options.augment)
    dataset = load_dataset(data)
    if options.subset:
        available = len(dataset.splits["train"]) if "train" in dataset.splits else None
        if available is not None and options.subset > available:
            raise FerZooError(f"--subset {options.subset}: {data} has {available} training images; give at most "
                              f"{available}, or leave --subset out to train on all of them")
        dataset = dataset.subset(options.subset, options.seed, options.eval_subset)
    dataset.require(purpose="training")
    if recipe.augment.crop:  # refused before the run directory is made
        from fer_zoo.models.pipeline import crop_input

        crop_input(arch, dataset.image_shape, recipe.augment.crop)
    return arch, dataset, recipe, config_json(arch, dataset, data, recipe, options, origin)


def check_out(out: Path, data: str, options: RunConfig) -> None:
    """``out`` may hold this run, by fer_zoo/outputs.py's policy, with the run's inputs (the --data source
    and paths in its spec, the --recipe file, the --init-from model or run): checked before anything loads.
    ``out`` may itself be a run directory: rundir.prepare resumes, refuses or (with --force) restarts it."""
    from fer_zoo import outputs

    _refuse_recipe_inside(options.recipe, out)
    rundir.refuse_shape(out)
    given = outputs.inputs(data=data, models=[options.init_from] if options.init_from else [],
                           files=[options.recipe] if options.recipe and options.recipe.endswith(".toml") else [])
    outputs.folder(out, "--out", given, force=True, run=True)


def _refuse_recipe_inside(recipe: str | None, out: Path) -> None:
    """A --recipe file inside --out would be replaced (or removed by --force) by the run it configures."""
    if not recipe or not recipe.endswith(".toml"):
        return
    from fer_zoo.outputs import resolved

    try:
        inside = resolved(Path(recipe)).is_relative_to(resolved(out))
    except (OSError, RuntimeError):
        return  # the recipe was read, so this is out's trouble, and prepare names it
    if inside:
        raise FerZooError(f"--recipe {recipe}: is inside --out {out}, which the run writes; copy it elsewhere or "
                          f"choose another --out")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, with the number of epochs that had finished (saved or not)."""

    def __init__(self, finished: int):
        super().__init__()
        self.finished = finished


def _interrupted(out: Path, config: dict, fresh: bool, finished: int | None) -> FerZooError:
    """What an interrupted run keeps, said truthfully: the epochs its state.json commits; a new run with
    none leaves nothing."""
    state = rundir.read_state(out, config) if (out / "state.json").exists() else None
    saved = state["completed_epochs"] if state else 0
    if state is None and fresh:
        rundir.remove(out)
        where = "was removed" if not out.exists() else "holds none of its files (only what was there before)"
        return FerZooError(f"interrupted before any epoch was saved; nothing was kept and {out} {where}")
    lost = (f" (epoch(s) {saved + 1}-{finished} finished after the last checkpoint and are trained again)"
            if finished is not None and finished > saved else "")
    return FerZooError(f"interrupted; {saved} completed epoch(s) are saved in {out}{lost}: continue with "
                       f"`fer-zoo train --resume {out}`")


class Run:
    """The state of one training run between Keras' callbacks and the run directory."""

    def __init__(self, out: Path, arch, dataset, recipe: Recipe, options: RunConfig, saved):
        self.out, self.arch, self.dataset, self.recipe, self.options = out, arch, dataset, recipe, options
        self.seed = options.seed
        self.checkpoint_seconds = options.checkpoint_seconds
        self.val = dataset.splits["val"]
        self.test = dataset.splits.get("test")
        done = saved.done if saved else 0
        state = saved.state if saved else None
        self.completed = self.resumed_from = self.saved = done  # saved: the epochs state.json commits
        self.history = saved.history[:done] if saved else []
        self.best_val_accuracy = (state or {}).get("best_val_accuracy", -math.inf)
        self.best_epoch = (state or {}).get("best_epoch", 0)
        self.checkpoint_file, self.best_file = rundir.committed_files(state)
        self.best_weights = None
        self.best_val_probabilities = self.last_val_probabilities = None
        self.best_changed = False
        self.unsaved = False
        self.snapshot = None  # (epoch, values): the training state at an epoch end the checkpoint skipped
        self.time_box = None  # the TimeBox callback, when there is one
        # set up by fit
        self.inference = self.model = self.batches = self.precise_bn = None
        self.eval_batch = 1

    def validate(self) -> dict[str, float] | None:
        """Scores on val (batch-norm statistics re-estimated first); None if the outputs are not numbers."""
        from fer_zoo.models.pipeline import predict_fixed
        from fer_zoo.training.scores import validation_scores

        self.precise_bn()
        probabilities = predict_fixed(self.inference, self.val.x, self.eval_batch)
        if not np.all(np.isfinite(probabilities)):
            return None
        self.last_val_probabilities = probabilities
        return validation_scores(probabilities, self.val.y)

    def record(self, row: dict) -> None:
        self.history.append(row)
        self.completed = row["epoch"]
        self.unsaved = True
        if row["val_accuracy"] > self.best_val_accuracy:
            self.best_val_accuracy, self.best_epoch = row["val_accuracy"], row["epoch"]
            self.best_weights = self.inference.get_weights()
            self.best_val_probabilities = self.last_val_probabilities
            self.best_changed = True

    def time_box_fired(self) -> bool:
        return bool(self.time_box and self.time_box.fired)

    def state(self) -> dict:
        return {"completed_epochs": self.completed, "best_val_accuracy": self.best_val_accuracy,
                "best_epoch": self.best_epoch, "finished": False, "checkpoint": self.checkpoint_file,
                "best": self.best_file}

    def checkpoint(self) -> None:
        """best-NNNN.keras (if it changed) and last-NNNN.keras under new names, then history.csv and
        state.json, which commits them (fer_zoo.training.rundir). A kill anywhere leaves the previous commit whole."""
        if self.best_changed:
            self.best_file = rundir.numbered("best", self.best_epoch)
            self._save_best(self.best_file)
        self.checkpoint_file = rundir.numbered("last", self.completed)
        rundir.save_model(self.out, self.checkpoint_file, self.model)
        rundir.commit(self.out, self.history, self.state())
        self.saved = self.completed
        self.unsaved = False
        self.snapshot = None

    def _variables(self) -> list:
        return [*self.model.variables, *self.model.optimizer.variables]

    def remember(self) -> None:
        """Keep this epoch's end in memory when its checkpoint is skipped: weights and optimizer state, all a
        checkpoint holds, so that Ctrl-C in a later epoch can still save this one (a copy costs far less than
        writing a checkpoint, which is why short epochs are not each checkpointed)."""
        import keras

        self.snapshot = (self.completed, [keras.ops.convert_to_numpy(v) for v in self._variables()])

    def save_interrupted(self) -> None:
        """After Ctrl-C: checkpoint the last finished epoch from its snapshot, if it was not saved."""
        if not self.unsaved or self.snapshot is None or self.snapshot[0] != self.completed:
            return  # saved, or interrupted inside an epoch's own bookkeeping: the last commit stands
        for variable, value in zip(self._variables(), self.snapshot[1]):
            variable.assign(value)
        self.checkpoint()

    def _save_best(self, name: str) -> None:
        current = self.inference.get_weights()
        self.inference.set_weights(self.best_weights)
        try:
            rundir.save_model(self.out, name, self.inference)
        finally:
            self.inference.set_weights(current)
        self.best_changed = False


def fit(arch, dataset, recipe: Recipe, options: RunConfig, out: Path, saved, callbacks: list,
        reporter, started: float, unsafe: bool) -> RunResult:
    """The training proper, once ``train`` has planned the run and prepared its directory: public as the
    one seam a test replaces to check what reaches training without paying for it."""
    from fer_zoo import environment
    from fer_zoo.training import parallel

    environment.enable_compile_cache()
    with _determinism(options.deterministic), parallel.data_parallel(options.devices):
        result = _fit_here(arch, dataset, recipe, options, out, saved, callbacks, reporter, started, unsafe)
    if options.devices > 1:  # the best weights again, as one-device model (a mirrored one pads small batches)
        result.model = load_model(out, unsafe)
    return result


def _determinism(on: bool):
    """``--deterministic``: TensorFlow's deterministic ops for the run (fer_zoo.tf_backend). Every random draw
    is seeded from --seed either way (the global seeds, each layer's stream per epoch, the batch order, the
    precise-BN images, the subset); JAX on a CPU is deterministic already; PyTorch gets no switch here."""
    import contextlib

    import keras

    if not on or keras.backend.backend() != "tensorflow":
        return contextlib.nullcontext()
    from fer_zoo import tf_backend

    return tf_backend.op_determinism()


def _fit_here(arch, dataset, recipe: Recipe, options: RunConfig, out: Path, saved, callbacks: list,
              reporter, started: float, unsafe: bool) -> RunResult:
    import keras

    from fer_zoo.training import parallel
    from fer_zoo.models import pipeline
    from fer_zoo.training import transfer
    from fer_zoo.training.callbacks import EpochEnd

    devices = options.devices
    train_split = dataset.splits["train"]
    num_classes = len(dataset.class_names)
    soft = train_split.y.ndim == 2 or bool(recipe.label_smoothing or recipe.mixup or recipe.cutmix)
    y_train = _one_hot(train_split.y, num_classes) if soft else train_split.y
    run = Run(out, arch, dataset, recipe, options, saved)
    done = run.completed
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(options.precision)
    try:
        keras.utils.set_random_seed(options.seed)
        if done:  # exactly what state.json committed (rundir.prepare removed what it does not name)
            run.model = load_model(out / run.checkpoint_file, unsafe, compile=True)
            run.inference = pipeline.inference_part(run.model, arch.name)
            if run.best_file and (out / run.best_file).is_file():
                run.best_weights = load_model(out / run.best_file, unsafe).get_weights()
                rundir.publish_best(out, run.best_file)
        else:
            run.inference = pipeline.inference_model(arch, dataset.image_shape, num_classes, crop=recipe.augment.crop)
            if options.init_from:
                transfer.init_from(run.inference, options.init_from, unsafe, dataset)
            if options.freeze is not None:
                transfer.freeze(transfer.network_of(run.inference, arch), options.freeze)
            run.model = pipeline.training_model(run.inference, recipe.augment, options.seed)
            pipeline.compile_for(run.model, recipe, soft)
        # the recipe's batch on each device; every batch splits evenly over the devices
        run.batches = pipeline.Batches(train_split.x, y_train, recipe.batch_size * devices, options.seed,
                                       _sample_weights(train_split.y, num_classes, options.class_weights),
                                       multiple_of=devices, mixup=recipe.mixup, cutmix=recipe.cutmix,
                                       mix_probability=recipe.mix_probability)
        run.eval_batch = parallel.multiple(min(recipe.batch_size * devices, len(run.val)), devices)
        # at most a quarter of the training images: on a small subset the pass would cost a third of an epoch
        precise_images = min(recipe.precise_bn, max(256, len(train_split) // 4), len(train_split))
        precise_images = parallel.multiple(precise_images, devices, up=False) if devices > 1 else precise_images
        run.precise_bn = pipeline.PreciseBatchNorm(run.inference, train_split.x, precise_images, options.seed)
        guard = EpochEnd(run, reporter)
        extra = []
        if recipe.schedule != "constant" or recipe.warmup_epochs:
            from fer_zoo.training.callbacks import LearningRate

            extra.append(LearningRate(run))
        if options.early_stopping:
            extra.append(keras.callbacks.EarlyStopping("val_accuracy", patience=options.early_stopping, mode="max"))
        too_slow = None
        if options.time_box:
            run.time_box = _time_box(run, options.time_box, started)
            extra.append(run.time_box)
            if not run.time_box.fits(time.perf_counter()):
                too_slow = run.time_box
        try:
            if done < recipe.epochs and too_slow is None:
                run.model.fit(run.batches, epochs=recipe.epochs, initial_epoch=done, shuffle=False, verbose=0,
                              callbacks=[guard, *extra, *callbacks])
        except KeyboardInterrupt:
            try:
                run.save_interrupted()
            except KeyboardInterrupt:
                pass  # a second Ctrl-C: stop now, the previous commit stands
            raise Interrupted(run.completed) from None
        if guard.bad_loss is not None:
            kept = (f"keeping the last checkpoint (epoch {run.saved}) in {out}" if (out / "state.json").is_file()
                    else "no epoch had completed")
            raise StatusError(guard.status, f"loss became {guard.bad_loss} in epoch {run.completed + 1}; stopped, "
                              f"{kept}: lower --lr and retry")
        return _finish(run, started, too_slow)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _time_box(run: Run, seconds: float, started: float):
    """A TimeBox measured on this run: one forward batch, timed after a first call that compiles it (the
    same compiled function validation uses afterwards); the compiles still to come (the training step's,
    the precise-BN pass's) estimated from the network's layer count."""
    from fer_zoo.training.callbacks import PRECISE_BN_COMPILE_PER_LAYER, STEP_COMPILE_PER_LAYER, TimeBox
    from fer_zoo.models.pipeline import leaf_layers, predict_fixed

    probe = run.val.x[: run.eval_batch]
    predict_fixed(run.inference, probe, run.eval_batch)
    tick = time.perf_counter()
    predict_fixed(run.inference, probe, run.eval_batch)
    forward = time.perf_counter() - tick
    per_validation = math.ceil(len(run.val) / run.eval_batch)
    if run.precise_bn.sample is not None:
        per_validation += len(run.precise_bn.sample) / run.eval_batch
    scoring = math.ceil(len(run.test) / run.eval_batch) if run.test is not None else 0
    layers = len(leaf_layers(run.inference))
    precise_bn_compile = PRECISE_BN_COMPILE_PER_LAYER * layers if run.precise_bn.sample is not None else 0.0
    return TimeBox(seconds, started, forward, per_validation + scoring,
                   first_step_compile=STEP_COMPILE_PER_LAYER * layers, first_validation=precise_bn_compile)


def _finish(run: Run, started: float, too_slow=None) -> RunResult:
    """Score the best epoch's weights on val and test, judge the run, write metrics and curves."""
    from fer_zoo.training import model_card
    from fer_zoo.report.figures import curves_png, epochs_trained
    from fer_zoo.models.pipeline import predict_fixed
    from fer_zoo.metric_names import split_scores
    from fer_zoo.training.scores import metrics, run_status

    if run.unsaved or not (run.out / "state.json").is_file():
        if run.best_weights is None:  # nothing trained (too slow for the time box): the model as built
            run.best_changed, run.best_weights = True, run.inference.get_weights()
        run.checkpoint()
    if run.best_weights is not None:
        run.inference.set_weights(run.best_weights)
    names = run.dataset.class_names
    history = run.history
    summary: dict[str, Any] = {"best_epoch": run.best_epoch, "epochs": epochs_trained(history),
                               "planned_epochs": run.recipe.epochs, "time_boxed": run.time_box_fired(),
                               "batch_size": run.batches.batch_size,
                               "train_accuracy": history[-1].get("accuracy") if history else None}
    trained = bool(history)
    val_probabilities = run.best_val_probabilities
    if trained and val_probabilities is None:  # resumed after its best epoch: score it again
        val_probabilities = predict_fixed(run.inference, run.val.x, run.eval_batch)
    test_probabilities = (predict_fixed(run.inference, run.test.x, run.eval_batch)
                          if trained and run.test is not None and len(run.test) else None)
    kept = {k: v for k, v in (("val", val_probabilities), ("test", test_probabilities)) if v is not None}
    if kept:  # what ensembles and reports are made of, without running the model again
        atomic.write_with(run.out / "predictions.npz", lambda tmp: np.savez(tmp, **kept))
    for split, probabilities in (("val", val_probabilities), ("test", test_probabilities)):
        if probabilities is not None:
            part = run.val if split == "val" else run.test
            scores = metrics(part.y, probabilities, names)
            summary |= split_scores(split, scores)
            if split == "test":
                summary |= {"test_per_class": scores["per_class"], "test_confusion_matrix": scores["confusion_matrix"]}
    summary |= _tta_scores(run, trained)
    if too_slow is not None:
        summary["status"] = Status.TOO_SLOW
        summary["reason"] = (f"one training step of {run.batches.batch_size} images needs ~{too_slow.next_step():.0f} s "
                             f"here the first time (it compiles), and scoring ~{too_slow.owed():.0f} s: more than "
                             f"the {run.options.time_box:g} s time box; use a longer budget or a GPU")
    else:
        summary["status"], summary["reason"] = run_status(
            history, planned_epochs=run.recipe.epochs, images_per_epoch=len(run.batches) * run.batches.batch_size,
            val_accuracy=summary.get("val_accuracy"), val_labels=run.val.y, class_names=names,
            time_boxed=run.time_box_fired(), time_box=run.options.time_box)
    rates = [r["images_per_second"] for r in history if r.get("images_per_second")]
    steady = rates[1:] or rates  # the first epoch's rate still carries the data pipeline's warm-up
    summary["train_images_per_second"] = float(np.median(steady)) if steady else None
    summary["seconds"] = time.perf_counter() - started
    summary["train_seconds"] = float(sum(r["epoch_seconds"] for r in history))
    atomic.write_json(run.out / "metrics.json", summary)
    if history:
        title = f"{run.arch.name} on {run.dataset.name}"
        atomic.write_with(run.out / "curves.png", lambda tmp: curves_png({run.arch.name: history}, tmp, title=title))
    atomic.write_text(run.out / "MODEL_CARD.md", model_card.render(rundir.read_json(run.out / "config.json"), summary, run.out))
    rundir.finish(run.out, run.state())
    return RunResult(run.out, summary, history, resumed_from=run.resumed_from, model=run.inference)


def _tta_scores(run: Run, trained: bool) -> dict:
    """The best epoch's val and test accuracy with the test-time views the recipe declares (None without)."""
    from fer_zoo.models.tta import predict_averaged
    from fer_zoo.training.scores import metrics

    scores: dict[str, Any] = {"tta": run.recipe.tta, "tta_crop": run.recipe.tta_crop, "val_tta_accuracy": None,
                              "test_tta_accuracy": None}
    for split, part in (("val", run.val), ("test", run.test)):
        if trained and run.recipe.tta != "none" and part is not None and len(part):
            probabilities = predict_averaged(run.inference, part.x, run.eval_batch, run.recipe.tta, run.recipe.tta_crop)
            scores[f"{split}_tta_accuracy"] = metrics(part.y, probabilities, run.dataset.class_names)["accuracy"]
    return scores


# --- the run directory -------------------------------------------------------------------------------


def config_json(arch, dataset, data_spec: str, recipe: Recipe, options: RunConfig, origin: dict | None = None) -> dict:
    """What config.json records of a run (fer_zoo.training.run_config names the options' keys); public so
    tests can check that what fer-zoo writes reads back."""
    from fer_zoo import environment

    return {
        "architecture": arch.name,
        "plugin": str(arch.plugin) if arch.plugin else None,
        "data": data_spec,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "class_names": list(dataset.class_names),
        "recipe": recipe.as_dict(),
        **({"recipe_origin": origin} if origin is not None else {}),  # absent in runs from before it was kept
        **run_config.config_values(options),
        "global_batch_size": recipe.batch_size * options.devices,
        **environment.describe(),
    }


def _refuse_changes(saved: dict, out: Path, arch_name: str, data: str, options: RunConfig,
                    asked: set[str] | None) -> None:
    """A resume that asks for another architecture, data or setting than the run has is refused, naming each."""
    import fer_zoo

    if asked is None:
        asked = options.changed() | ({"data"} if data != "synthetic" else set())
    had = saved["architecture"]
    differ = [f"architecture {had} (not {arch_name})"] if arch_name not in ("", had) else []
    differ += run_config.conflicts(saved, fer_zoo.get_architecture(had).recipe, options, data, asked)
    if differ:
        raise FerZooError(f"--resume {out}: the run was started with {', '.join(differ)}; a resumed run keeps its "
                          f"settings (leave them out, or start a new run with --init-from {out})")


options_from_config = run_config.from_config


# --- data and weights --------------------------------------------------------------------------------


def _sample_weights(y: np.ndarray, num_classes: int, mode: str) -> np.ndarray | None:
    """Per-image weights for ``--class-weights balanced`` (scikit-learn's n / (k * count)), else None."""
    if mode == "none":
        return None
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    counts = np.bincount(labels, minlength=num_classes)
    weights = np.zeros(num_classes, np.float32)
    weights[counts > 0] = len(labels) / ((counts > 0).sum() * counts[counts > 0])
    return weights[labels]


def _one_hot(y: np.ndarray, k: int) -> np.ndarray:
    return y.astype("float32") if y.ndim == 2 else np.eye(k, dtype="float32")[y]
