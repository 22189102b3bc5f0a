"""What ``fer_zoo.train``, ``reproduce``, ``evaluate``, ``bench``, ``export``, ``load_dataset`` and
``load_classifier`` do.

Each CLI command is one call of a function here, between parsing and printing, so that Python does what
the command line does: the defaults, the checks of how options combine, the executor and the device count
are decided here, not in fer_zoo/cli.py. Light to import: each function imports what it needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fer_zoo.errors import FerZooError
from fer_zoo.plugins.recipe import Recipe


def _plugins():
    from fer_zoo import plugins

    return plugins.checked()


def _keras() -> None:
    from fer_zoo.quiet import import_keras

    import_keras()


def _kinds(track: str | Sequence[str] | None, check: bool = True) -> list[str]:
    """``track`` as ``"mlflow,tensorboard"`` or a list of names; ``check``: that the extras they need are
    installed (a bench checks before its rows start; a run's trackers check when they open)."""
    from fer_zoo.training import tracking

    text = track if track is None or isinstance(track, str) else ",".join(track)
    kinds = tracking.parse(text)
    if check:
        tracking.check(kinds)
    return kinds


def train(arch: str | None = None, data: str = "synthetic", out: str | os.PathLike | None = None, *,
          resume: str | os.PathLike | None = None, force: bool = False, pretrained: bool = False,
          track: str | Sequence[str] | None = None, track_uri: str | None = None, unsafe: bool = False,
          reporter=None, callbacks: list | None = None, asked: set[str] | None = None, **options: Any):
    """Train ``arch`` on ``data`` into the run directory ``out`` (default ``runs/ARCH``); a ``RunResult``."""
    from fer_zoo.training import parallel
    from fer_zoo.training import rundir, run_config
    from fer_zoo.training import train as training
    from fer_zoo.training import tracking

    if arch is None and resume is None:
        raise FerZooError("give an architecture (`fer-zoo list` shows them) or --resume RUN_DIR")
    if resume is not None and (out is not None or force):
        flags = " and ".join(flag for flag, given in (("--out", out is not None), ("--force", force)) if given)
        raise FerZooError(f"--resume {resume}: continues that run in its own directory; drop {flags}")
    if pretrained and options.get("init_from"):
        raise FerZooError("--pretrained and --init-from: choose one (--pretrained is --init-from ARCH)")
    if pretrained:
        options["init_from"] = arch
    if "freeze" in options:
        options["freeze"] = run_config.parse_freeze(options["freeze"])
    options["devices"] = parallel.parse(options.get("devices"))
    unknown = sorted(set(options) - set(training.TrainOptions.__dataclass_fields__))
    if unknown:
        raise TypeError(f"train() got unexpected options: {', '.join(unknown)}")
    recipe = None
    if isinstance(options.get("recipe"), Recipe):  # a Recipe object: trained as it is, the flags applied
        from fer_zoo.models.recipes import resolve_with_origin

        recipe = resolve_with_origin(None, options.pop("recipe"), **{
            key: options.get(key) for key in ("epochs", "batch_size", "optimizer", "label_smoothing")},
            lr=options.get("lr"), augment=options.get("augment", True))
    train_options = training.TrainOptions(**options)
    kinds = _kinds(track, check=False)
    _plugins()
    run_dir = Path(resume or out or rundir.default_run_dir(arch or ""))
    if resume is None:
        training.check_out(run_dir, data, train_options)  # before Keras loads; train() checks again
    trackers = tracking.Trackers(kinds, track_uri, str(run_dir), run_dir) if kinds else None
    _keras()
    return training.train(arch or "", data, run_dir, train_options, resume=resume is not None, force=force,
                          reporter=reporter, unsafe=unsafe, trackers=trackers, callbacks=callbacks, asked=asked,
                          recipe=recipe)


def reproduce(run: str | os.PathLike, out: str | os.PathLike | None = None, *, force: bool = False,
              track: str | Sequence[str] | None = None, track_uri: str | None = None, unsafe: bool = False,
              reporter=None, callbacks: list | None = None):
    """Train the run ``run`` again from its config.json alone into ``out`` (default: RUN-reproduced beside
    it); a ``RunResult`` whose ``notes`` say what may make it differ. Refused if the run's data changed."""
    from fer_zoo.training import reproduce as again
    from fer_zoo.training import tracking

    kinds = _kinds(track, check=False)
    _plugins()
    run = Path(run)
    config = again.record(run)
    target = Path(out) if out is not None else again.default_out(run)
    again.check_out(run, target, config, force)  # before Keras loads; reproduce() checks again
    trackers = tracking.Trackers(kinds, track_uri, str(target), target) if kinds else None
    _keras()
    return again.reproduce(run, target, force=force, reporter=reporter, unsafe=unsafe, trackers=trackers,
                           callbacks=callbacks)


def evaluate(model: str | os.PathLike | Sequence[str | os.PathLike], data: str | None = None, split: str = "test",
             *, tta: str = "recipe", weights: Sequence[float] | None = None, runtime: str = "keras",
             unsafe: bool = False, scale: float | None = None, offset: float | None = None,
             confusion: str | os.PathLike | None = None, force: bool = False, batch_size: int = 256) -> dict:
    """Score ``model`` (or a list of models: their ensemble) on one split of ``data``; a dict of metrics.
    ``data`` None: the data a run was trained on (a model that is not a run: the synthetic default), which
    the result's ``notes`` name. ``tta`` "recipe": the test-time views the run's recipe declares (none for a
    model that is not a run); the result's ``tta`` says which were used."""
    from fer_zoo.inference import evaluation

    _plugins()
    models = [str(m) for m in model] if isinstance(model, (list, tuple)) else str(model)
    target = evaluation.confusion_target(models, data, confusion, split, force)
    _keras()
    result = evaluation.evaluate(models, data, split, tta, unsafe, scale, offset, batch_size=batch_size,
                                 runtime=runtime, weights=None if weights is None else list(weights))
    if target is not None:
        evaluation.write_confusion(result, target)
        result["confusion_png"] = str(target)
    return result


def bench_executor(name: str = "local", address: str | None = None, jobs: int = 1):
    """Where a bench runs its rows: ``local`` (``jobs`` worker processes at a time) or ``ray`` (``address``)."""
    if name not in ("local", "ray"):
        raise FerZooError(f"--executor must be local or ray, got {name!r}")
    if name == "local":
        if address:
            raise FerZooError("--address is for --executor ray")
        from fer_zoo.benchmark.executors import LocalExecutor

        return LocalExecutor(jobs)
    if jobs != 1:
        raise FerZooError("--jobs is for --executor local; Ray runs as many rows at once as the cluster holds")
    from fer_zoo.benchmark.ray_executor import RayExecutor

    return RayExecutor(address)


def bench(patterns: str | Sequence[str] | None = None, *, all: bool = False, data: str = "", budget: str | None = None,
          seeds: int = 1, out: str | os.PathLike = "bench", epochs: int | None = None, batch_size: int | None = None,
          precision: str = "", recipe: str | None = None, subset: int | None = None, time_box: float | None = None,
          force: bool = False, strict: bool = False,
          pretrained: bool = False, fine_tune: bool = False, ensemble: bool = False,
          track: str | Sequence[str] | None = None, track_uri: str | None = None, devices: int | str | None = None,
          executor: str = "local", address: str | None = None, jobs: int = 1,
          on_start: Callable[[list[str]], Callable[[dict], None] | None] | None = None) -> dict:
    """Train and compare architectures on the same data, splits, seeds and budget; writes ``out``. ``epochs``,
    ``subset`` (training images) and ``time_box`` (seconds per row) override the budget's."""
    from fer_zoo.benchmark import bench as benchmark
    from fer_zoo.models.recipes import resolve
    from fer_zoo.benchmark import html as html_report
    from fer_zoo.training import parallel

    benchmark.check_flags(budget, seeds, jobs, recipe, subset, time_box)  # budget None: not given
    kinds = tuple(_kinds(track))
    device_count = parallel.parse(devices)
    if executor == "ray" and device_count == "all":  # a wrong pair of flags, whether or not Ray is installed
        raise FerZooError("--devices all with --executor ray: name how many GPUs each row takes (--devices N)")
    runner = bench_executor(executor, address, jobs)
    if recipe:
        resolve(None, recipe)  # an unknown name or a bad file is one line now, not one per row
    _plugins()
    names = benchmark.select([patterns] if isinstance(patterns, str) else list(patterns or []), all)
    on_event = on_start(names) if on_start else None
    _keras()
    if executor == "local":  # the rows run here: their devices must be here (a Ray node checks its own)
        device_count = parallel.resolve(device_count)
    budget = benchmark.default_budget() if budget is None else budget
    config = benchmark.BenchConfig(
        data=data or benchmark.default_data(budget), budget=budget, seeds=seeds, epochs=epochs,
        batch_size=batch_size, precision=precision or benchmark.default_precision(), pretrained=pretrained,
        fine_tune=fine_tune, ensemble=ensemble, track=kinds, track_uri=track_uri, recipe=recipe,
        devices=device_count, subset=subset, time_box=time_box)
    out = Path(out)
    result = benchmark.run_bench(names, config, out, force=force, on_event=on_event, executor=runner)
    files = [*benchmark.write_results(result, out), html_report.write(out)]
    return {"environment": result["environment"], "rows": result["rows"], "files": [str(f) for f in files],
            "ok": benchmark.exit_status(result["rows"], strict) == 0}


def export(model: str | os.PathLike, format: str, out: str | os.PathLike, *, quantize: str = "none",
           data: str | None = None, force: bool = False, unsafe: bool = False, scale: float | None = None,
           offset: float | None = None):
    """Write ``model`` as a deployable ``format`` at ``out``, loaded back and verified; an ``ExportReport``.
    ``data`` (the check's images, and int8's calibration) None: the run's own data, else the synthetic default."""
    from fer_zoo.deploy.export import export as write

    _plugins()
    _keras()
    return write(model, format, out, quantize, data, force, unsafe, scale, offset)


def load_dataset(spec: str = "synthetic", *, skip_bad_rows: bool = False, use_cache: bool = True):
    """The ``Dataset`` a data spec names: ``synthetic:size=84``, a CSV, a folder, ``NAME:key=value,...``."""
    from fer_zoo.data import load_dataset as load

    _plugins()
    return load(spec, skip_bad_rows=skip_bad_rows, use_cache=use_cache)


def load_classifier(model: str | os.PathLike | Sequence[str | os.PathLike], *, runtime: str = "keras",
                    weights: Sequence[float] | None = None, unsafe: bool = False, scale: float | None = None,
                    offset: float | None = None, class_names: Sequence[str] | None = None):
    """A ``Classifier`` of ``model`` (a list of models: their ensemble) that maps face crops to probabilities."""
    from fer_zoo.inference.ensemble import load_ensemble

    models = [str(m) for m in model] if isinstance(model, (list, tuple)) else [str(model)]
    _plugins()
    _keras()
    return load_ensemble(models, None if weights is None else list(weights), runtime=runtime, unsafe=unsafe,
                         class_names=None if class_names is None else list(class_names), scale=scale, offset=offset)


def predict_files(model: str | os.PathLike | Sequence[str | os.PathLike], inputs: Sequence[str | os.PathLike], *,
                  weights: Sequence[float] | None = None, runtime: str = "auto", class_names: Sequence[str] | None = None,
                  unsafe: bool = False, scale: float | None = None, offset: float | None = None,
                  annotate: str | os.PathLike | None = None, force: bool = False,
                  on_note: Callable[[str], None] | None = None, on_error: Callable[[str], None] | None = None,
                  **options: Any):
    """``fer-zoo predict``: the faces of photos, folders and videos, as ``(faces, summary, classifier)``.

    ``model`` a list: these models' ensemble; one model: the leading ``inputs`` that name models join it
    (as on the command line). ``annotate``: a folder for each frame drawn with its boxes and labels.
    ``options`` are fer_zoo.inference.predict.PredictOptions' (``detect``, ``detector``, ``batch_size``,
    ``every``, ``margin``, ``strict``, ``max_pixels``); ``on_note`` gets the loaders' notes, ``on_error``
    each unreadable input (``strict``: raised instead).
    """
    from fer_zoo.inference.ensemble import split_models
    from fer_zoo.inference.predict import Annotator, PredictOptions, predict

    _plugins()
    if isinstance(model, (list, tuple)):
        models, inputs = [str(m) for m in model], list(inputs)
    else:
        models, inputs = split_models(str(model), [str(i) for i in inputs])
    if not inputs:
        raise FerZooError(f"no inputs: {' '.join(models)} are all models; name images, folders or videos after them")
    annotator = Annotator(annotate, inputs, force, models) if annotate is not None else None
    classifier = load_classifier(models, runtime=runtime, weights=weights, unsafe=unsafe, class_names=class_names,
                                 scale=scale, offset=offset)
    for note in classifier.notes:
        if on_note:
            on_note(note)
    faces, summary = predict(classifier, inputs, PredictOptions(**options, keep_images=annotator is not None),
                             on_error=on_error, on_frame=annotator)
    return faces, summary, classifier


def explain_files(model: str | os.PathLike, inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *,
                  target: str | None = None, method: str = "layer-cam", layer: str | None = None,
                  detector: str | None = "auto", margin: float = 0.1, force: bool = False, unsafe: bool = False):
    """``fer-zoo explain``: one heat-map PNG per face in ``out``; ``(explanations, files, faceless inputs)``.
    ``detector=None``: each image is already a face crop."""
    from fer_zoo import outputs
    from fer_zoo.inference.explain import METHODS, explain, write_maps

    if method not in METHODS:
        raise FerZooError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    given = outputs.inputs(models=[model], files=inputs)
    outputs.folder(Path(out), "--out", given, force)
    _plugins()
    classifier = load_classifier(model, runtime="keras", unsafe=unsafe)
    explanations, faceless = explain(classifier, list(inputs), target=target, detector=detector, margin=margin,
                                     layer=layer, method=method)
    return explanations, write_maps(explanations, Path(out), given, method, force), faceless


def describe_architecture(name: str, input_shape: Sequence[int] | None = None, num_classes: int = 7):
    """``fer-zoo info``: the architecture ``name`` built at ``input_shape`` (default: its declared one), as
    ``(architecture, info)``; ``info`` holds its metadata, the measured counts, the layer ``summary`` and the
    ``warnings`` where its declared counts are wrong."""
    from fer_zoo.models.build import describe_built

    arch = _plugins().get_architecture(name)
    _keras()
    return arch, describe_built(arch, None if input_shape is None else tuple(input_shape), num_classes)


def inspect_data(source: str = "synthetic", *, grid: str | os.PathLike | None = None, force: bool = False,
                 skip_bad_rows: bool = False) -> dict:
    """``fer-zoo data inspect``: counts per split and class, image size, pixel statistics, duplicates across
    splits, the loader's ``notes``, and (``grid``) a PNG of sample faces at ``report["grid"]``."""
    from fer_zoo import outputs
    from fer_zoo.data.inspect import sample_grid, summary

    target = None if grid is None else outputs.file(Path(grid), "--grid", outputs.inputs(data=source), force)
    dataset = load_dataset(source, skip_bad_rows=skip_bad_rows)
    report = summary(dataset)
    if target is not None:
        report["grid"] = str(sample_grid(dataset, target))
    return report
