"""The ``fer-zoo`` command line: parse, call the library, print. No logic of its own.

Long because it holds one function per command (sixteen of them), each mostly its typed options and
their help. `--help`, `list` and `plugins` must not import TensorFlow or Keras; commands that build a
model import them inside the library functions they call.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from fer_zoo import plugins as plugin_loader
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.quiet import import_keras
from fer_zoo.training import run_config


class _OneLineErrors(TyperGroup):
    """Click's usage errors (unknown flag, bad value) as one line on stderr, exit status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:
            if isinstance(exc, NoArgsIsHelpError):
                exc.show()
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            sys.stderr.write(f"fer-zoo: error: {exc.format_message()}{hint}\n")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("fer-zoo: aborted\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


try:
    from typer._click.exceptions import NoArgsIsHelpError
except ImportError:  # a typer that does not vendor click: no such error to tell apart
    class NoArgsIsHelpError(Exception):
        pass


class _PlainHelp(TyperCommand):
    """Help in the familiar shape: `fer-zoo info [OPTIONS] NAME`, `--out OUT`, and flags without a
    `<bool>` beside them (typer's own style writes `{name}`, `<str>` and `<bool>`)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if param.metavar is not None or param.name is None:
                continue
            if isinstance(param, TyperOption):
                param.metavar = "" if param.is_flag else param.name.upper()
            elif isinstance(param, TyperArgument):
                param.metavar = shown = param.name.upper()
                more = "..." if param.nargs != 1 else ""
                usage = f"{shown}{more}" if param.required else f"[{shown}{more}]"
                param._usage_display_name = lambda usage=usage: usage  # noqa: B023
                param.display_type_rich = lambda ctx: None
        return params


app = typer.Typer(
    cls=_OneLineErrors,
    name="fer-zoo",
    help="A plugin-based model zoo for facial-expression recognition CNNs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TrackOption = Annotated[str | None, typer.Option("--track", help="mlflow, tensorboard or both (comma-separated): "
                                                                 "settings, scores per epoch, files.")]
TrackUriOption = Annotated[str | None, typer.Option("--track-uri", help="MLflow tracking URI (default: "
                                                                        "sqlite store in mlruns/) or TensorBoard "
                                                                        "folder (default: in each run).")]
DetectorOption = Annotated[str, typer.Option(
    "--detector", help="Face detector, NAME[:key=value,...] (see 'fer-zoo detectors'); auto: the installed one of "
                       "highest priority.")]
RuntimeOption = Annotated[str, typer.Option(
    "--runtime", help="For Keras models: keras (the backend's compiled function), onnx (converted once, cached, "
                      "run by ONNX Runtime) or auto (onnx where possible). Exported files use their own runtime.")]


def _out() -> Console:
    # a terminal keeps its own width, and $COLUMNS is obeyed; otherwise a pipe or file gets room for wide tables.
    # No markup: what is printed holds file names, paths and plugins' text, whose "[/]" or "[bold]" is literal;
    # styles come from Text objects and column styles.
    wide = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
    return Console(markup=False) if wide else Console(width=160, markup=False)


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"fer-zoo: error: {message}\n")
    return typer.Exit(2)


def _command(name: str, group: typer.Typer | None = None):
    """Register a command whose FerZooErrors end as one line on stderr and exit status 2."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except FerZooError as exc:
                raise _fail(str(exc)) from None

        return (group or app).command(name, cls=_PlainHelp)(wrapper)

    return decorate


def _given_on_command_line(context: typer.Context) -> set[str]:
    """The parameters of the running command that the command line set (not their defaults)."""
    return {name for name in context.params
            if getattr(context.get_parameter_source(name), "name", "") == "COMMANDLINE"}


def _loaded_plugins() -> plugin_loader.PluginSet:
    """The plugins, with each warning printed once on stderr (an error in strict mode)."""
    loaded = plugin_loader.current()
    loaded.raise_if_strict()
    for warning in loaded.warnings:
        sys.stderr.write(f"fer-zoo: warning: {warning}\n")
    return loaded


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _bench_executor(name: str, address: str | None, jobs: int):
    """Where `bench` runs its rows: ``--executor local`` (``--jobs`` at a time) or ``ray`` (``--address``)."""
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


def _parse_weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise FerZooError(f"--weights: expected comma-separated numbers such as 2,1,1, got {text!r}") from None


def _parse_shape(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) <= 0:
        raise FerZooError(f"--input-shape: expected HxWxC such as 48x48x1, got {text!r}")
    return shape


class _OneLineLog(logging.Handler):
    """The library's notes and warnings (logger ``fer_zoo``) as one line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        kind = "warning" if record.levelno >= logging.WARNING else "note"
        sys.stderr.write(f"fer-zoo: {kind}: {one_line(record.getMessage())}\n")


@app.callback()
def _main() -> None:
    logger = logging.getLogger("fer_zoo")
    if not any(isinstance(h, _OneLineLog) for h in logger.handlers):
        logger.addHandler(_OneLineLog())
        logger.setLevel(logging.INFO)
        logger.propagate = False


@_command("list")
def list_command(
    patterns: Annotated[
        list[str] | None, typer.Argument(help="fnmatch filters such as 'vgg*'; all architectures when none.")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", "-x", help="fnmatch filter to leave out.")] = None,
    pretrained: Annotated[bool, typer.Option("--pretrained", help="Only architectures that ship weights.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the available architectures, built-in and from plugins."""
    from fer_zoo.report.terminal import architectures_table

    keep = ("--pretrained", lambda a: a.weights is not None) if pretrained else None
    archs = [a.describe() for a in _loaded_plugins().architectures.select(patterns or [], exclude or [], keep)]
    if as_json:
        _print_json(archs)
    elif archs:
        _out().print(architectures_table(archs))
    else:
        sys.stderr.write("fer-zoo: no architecture is installed\n")


@_command("info")
def info(
    name: Annotated[str, typer.Argument(help="Architecture name, as `fer-zoo list` shows it.")],
    input_shape: Annotated[
        str | None, typer.Option("--input-shape", help="Build at HxWxC instead of the declared shape.")
    ] = None,
    num_classes: Annotated[int, typer.Option("--num-classes", min=2, help="Number of output classes.")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """Build an architecture and show its layers and parameter counts (like the paper's Table 1)."""
    from fer_zoo.models.build import describe_built
    from fer_zoo.report.terminal import layers_table

    shape = _parse_shape(input_shape)
    arch = _loaded_plugins().get_architecture(name)
    import_keras()
    info = describe_built(arch, shape, num_classes)
    for warning in info.pop("warnings"):
        sys.stderr.write(f"fer-zoo: warning: {warning}\n")
    summary = info.pop("summary")
    if as_json:
        _print_json(info)
    else:
        _out().print(layers_table(arch, summary, tuple(info["input_shape"])))


@_command("plugins")
def plugins_command(as_json: JsonFlag = False) -> None:
    """Show plugin distributions, their versions, the hooks they implement and any load errors."""
    from fer_zoo.report.terminal import plugins_table

    loaded = plugin_loader.current()
    if as_json:
        _print_json([p.describe() for p in loaded.plugins])
    else:
        _out().print(plugins_table(loaded.plugins))
    loaded.raise_if_strict()


DataOption = Annotated[str, typer.Option("--data", help="synthetic (default), a CSV, a folder, or NAME:key=value,...")]


def train_command(
    context: typer.Context,
    arch: Annotated[str | None, typer.Argument(help="Architecture name (not needed with --resume).")] = None,
    data: DataOption = "synthetic",
    out: Annotated[Path | None, typer.Option("--out", help="Run directory (default runs/ARCH).")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the run in this directory, "
                                                                    "with the settings it started with.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out.")] = False,
    pretrained: Annotated[bool, typer.Option("--pretrained", help="Fine-tune the weights the architecture ships "
                                                                  "(--init-from ARCH).")] = False,
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Let --init-from and --resume load models that run code "
                                                          "(Lambda layers).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    json_log: Annotated[bool, typer.Option("--json-log", help="One JSON line per epoch on stdout.")] = False,
    track: TrackOption = None,
    track_uri: TrackUriOption = None,
    **settings: Any,  # the run's options, from fer_zoo.training.run_config (see _with_settings below)
) -> None:
    """Train an architecture into a run directory (resumable; best.keras chosen on val)."""
    from fer_zoo.report.terminal import JsonLines, TrainProgress, train_summary
    from fer_zoo.training.train import check_out, train

    if arch is None and resume is None:
        raise FerZooError("give an architecture (`fer-zoo list` shows them) or --resume RUN_DIR")
    given = _given_on_command_line(context)
    if resume is not None and given & {"out", "force"}:
        flags = " and ".join(f"--{name}" for name in ("out", "force") if name in given)
        raise FerZooError(f"--resume {resume}: continues that run in its own directory; drop {flags}")
    init_from = settings.get("init_from")
    if pretrained and init_from:
        raise FerZooError("--pretrained and --init-from: choose one (--pretrained is --init-from ARCH)")
    options = run_config.from_cli(settings, init_from=arch if pretrained and not init_from else init_from)
    from fer_zoo.training import rundir, tracking

    kinds = tracking.parse(track)
    _loaded_plugins()
    run_dir = resume or out or rundir.default_run_dir(arch or "")
    if resume is None:
        check_out(run_dir, data, options)  # before Keras loads; train() checks again for the Python API
    trackers = tracking.Trackers(kinds, track_uri, str(run_dir), run_dir) if kinds else None
    import_keras()
    reporter = JsonLines(sys.stdout) if json_log else (None if quiet else TrainProgress(_out()))
    try:
        result = train(arch or "", data, run_dir, options, resume=resume is not None, force=force, reporter=reporter,
                       unsafe=unsafe, trackers=trackers,
                       asked=run_config.asked_from_cli({"init_from" if n == "pretrained" else n for n in given}))
    finally:
        if isinstance(reporter, TrainProgress):
            reporter.stop()
    if json_log:
        _print_json({"run_dir": str(result.run_dir), **result.metrics})
    elif not quiet:
        _out().print(train_summary(result))


def _with_settings(fn, layout: list[str | list[str]], bench: bool = False):
    """``fn`` whose signature has its own parameters and the run settings' options (fer_zoo.training.run_config)
    in the order ``layout`` gives: a parameter's name, or a list of settings."""
    import inspect
    import typing

    hints = typing.get_type_hints(fn, include_extras=True)
    own = {name: param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[name])
           for name, param in inspect.signature(fn).parameters.items() if param.kind is not param.VAR_KEYWORD}
    params = [p for item in layout for p in (run_config.cli_parameters(item, bench) if isinstance(item, list)
                                              else [own.pop(item)])]
    assert not own, f"{fn.__name__}: {sorted(own)} missing from the layout"
    fn.__signature__ = inspect.Signature(params, return_annotation=None)
    fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    return fn


train_command = _command("train")(_with_settings(train_command, [
    "context", "arch", "data", "out", "resume", "force",
    ["recipe", "epochs", "batch_size", "lr", "optimizer", "augment", "seed", "precision", "class_weights",
     "label_smoothing", "early_stopping", "init_from"],
    "pretrained", ["freeze"], "unsafe", ["subset", "eval_subset", "time_box"], "quiet", "json_log", "track",
    "track_uri", ["devices"]]))


@_command("evaluate")
def evaluate_command(
    models: Annotated[list[str], typer.Argument(help="A run directory, a .keras or Keras-2 .h5 classifier, an "
                                                      "exported .onnx/.tflite file or SavedModel folder, or an "
                                                      "architecture that ships weights; several: their ensemble.")],
    data: DataOption = "synthetic",
    split: Annotated[str, typer.Option("--split", help="val or test (train also accepted).")] = "test",
    weights: Annotated[str | None, typer.Option("--weights", help="An ensemble's member weights, comma-separated "
                                                                  "(default: equal).")] = None,
    tta: Annotated[str, typer.Option("--tta", help="none, flip or tencrop.")] = "none",
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Allow models that run code (Lambda layers).")] = False,
    scale: Annotated[float | None, typer.Option("--scale", help="For a bare file: pixel scale (1/255).")] = None,
    offset: Annotated[float | None, typer.Option("--offset", help="For a bare file: pixel offset (0).")] = None,
    confusion: Annotated[Path | None, typer.Option("--confusion", help="Write the confusion matrix PNG here.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --confusion file.")] = False,
    runtime: RuntimeOption = "keras",
    as_json: JsonFlag = False,
) -> None:
    """Score a trained model or an ensemble: accuracy, top-2, macro-F1, per class, confusion matrix.

    An ensemble of several models averages their probabilities; each member's scores are shown too."""
    from fer_zoo.inference.evaluation import confusion_target, evaluate, write_confusion
    from fer_zoo.report.terminal import evaluation_tables

    _loaded_plugins()
    target = confusion_target(models, data, confusion, split, force)
    import_keras()
    result = evaluate(models, data, split, tta, unsafe, scale, offset, runtime=runtime,
                      weights=_parse_weights(weights))
    if target is not None:
        write_confusion(result, target)
        result["confusion_png"] = str(target)
    if as_json:
        _print_json(result)
    else:
        _out().print(evaluation_tables(result))
        if target is not None:
            _out().print(f"confusion matrix: {target}")


@_command("export")
def export_command(
    model: Annotated[str, typer.Argument(help="A run directory, a .keras/.h5 file, or an architecture that ships "
                                               "weights.")],
    fmt: Annotated[str, typer.Option("--format", help="keras, h5, savedmodel, tflite or onnx.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the artifact (never replaced without --force).")],
    quantize: Annotated[str, typer.Option("--quantize", help="none, float16 (tflite) or int8 (tflite, onnx).")] = "none",
    data: DataOption = "synthetic",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Allow models that run code (Lambda layers).")] = False,
    scale: Annotated[float | None, typer.Option("--scale", help="For a bare file: pixel scale (1/255).")] = None,
    offset: Annotated[float | None, typer.Option("--offset", help="For a bare file: pixel offset (0).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a deployable model, load it back and check its predictions against the original."""
    from fer_zoo.deploy.export import VerificationFailed, export

    _loaded_plugins()
    import_keras()
    try:
        report = export(model, fmt, out, quantize, data, force, unsafe, scale, offset)
    except VerificationFailed as exc:
        sys.stderr.write(f"fer-zoo: error: {exc}\n")
        raise typer.Exit(1) from None
    if as_json:
        _print_json(report.as_dict())
        return
    figure = (f"top-1 agreement {report.value:.1%} (≥ {report.tolerance:.0%} required)"
              if report.check == "top1_agreement" else
              f"max |Δp| {report.value:.2g} (≤ {report.tolerance:g} allowed)")
    scope = f" of {report.int8_scope}" if report.int8_scope else ""
    _out().print(f"wrote {report.path} ({report.format}, quantize {report.quantize}{scope}, "
                 f"{report.bytes / 1e6:.2f} MB); verified with {report.runtime} on {report.images} images of "
                 f"{report.data}: {figure}")


@_command("predict")
def predict_command(
    model: Annotated[str, typer.Argument(help="A run directory, a .keras/.h5/.onnx/.tflite file, or an architecture "
                                               "that ships weights; more models after it make an ensemble.")],
    inputs: Annotated[list[str], typer.Argument(help="Image files, folders (searched recursively) and videos.")],
    weights: Annotated[str | None, typer.Option("--weights", help="An ensemble's member weights, comma-separated "
                                                                  "(default: equal).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list, one object per face.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV, one row per face.")] = False,
    annotate: Annotated[Path | None, typer.Option("--annotate", help="Write each image with boxes and labels "
                                                                     "drawn into this folder.")] = None,
    no_detect: Annotated[bool, typer.Option("--no-detect", help="Each image is already a cropped face "
                                                                "(FER2013 style).")] = False,
    detector: DetectorOption = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Faces classified at a time.")] = 64,
    every: Annotated[int, typer.Option("--every", min=1, help="For videos: every Nth frame.")] = 1,
    margin: Annotated[float, typer.Option("--margin", min=0.0, max=10.0,
                                          help="Context around each face box, as a fraction of its size.")] = 0.1,
    runtime: RuntimeOption = "auto",
    classes: Annotated[str | None, typer.Option("--classes", help="Comma-separated class names, in the model's "
                                                                  "output order.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first unreadable input (exit 2).")] = False,
    max_pixels: Annotated[int, typer.Option("--max-pixels", min=1, help="Refuse larger images (decompression "
                                                                        "bombs).")] = 64_000_000,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty --annotate folder.")] = False,
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Allow models that run code (Lambda layers).")] = False,
    scale: Annotated[float | None, typer.Option("--scale", help="For a bare file: pixel scale (1/255).")] = None,
    offset: Annotated[float | None, typer.Option("--offset", help="For a bare file: pixel offset (0).")] = None,
) -> None:
    """Find the faces in photos and videos and classify their expressions.

    Exit status 1 if some inputs could not be read (the rest are still reported).
    """
    from fer_zoo.inference.ensemble import load_ensemble, split_models
    from fer_zoo.inference.predict import Annotator, PredictOptions, predict
    from fer_zoo.report.terminal import predict_summary, predictions_table, write_predictions_csv

    if as_json and as_csv:
        raise FerZooError("--json and --csv: choose one")
    names = [c.strip() for c in classes.split(",")] if classes else None
    _loaded_plugins()
    models, inputs = split_models(model, list(inputs))
    if not inputs:
        raise FerZooError(f"no inputs: {' '.join(models)} are all models; name images, folders or videos after them")
    annotator = Annotator(annotate, inputs, force, models) if annotate is not None else None
    import_keras()
    classifier = load_ensemble(models, _parse_weights(weights), runtime=runtime, unsafe=unsafe, class_names=names,
                               scale=scale, offset=offset)
    for note in classifier.notes:
        sys.stderr.write(f"fer-zoo: note: {note}\n")
    options = PredictOptions(detect=not no_detect, detector=detector, batch_size=batch_size, every=every,
                             margin=margin, strict=strict, max_pixels=max_pixels, keep_images=annotator is not None)
    faces, summary = predict(classifier, inputs, options,
                             on_error=lambda message: sys.stderr.write(f"fer-zoo: error: {message}\n"),
                             on_frame=annotator)
    if as_json:
        _print_json([face.as_dict() for face in faces])
    elif as_csv:
        write_predictions_csv(faces, classifier.class_names, sys.stdout)
    else:
        _out().print(predictions_table(faces))
    line = predict_summary(summary) + (f" · annotated images in {annotate}" if annotator else "")
    if as_json or as_csv:
        sys.stderr.write(line + "\n")
    else:
        _out().print(line)
    if summary.unreadable:
        raise typer.Exit(1)


def bench_command(
    patterns: Annotated[list[str] | None, typer.Argument(help="fnmatch patterns of architectures.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every available architecture, plugins included.")] = False,
    data: Annotated[str, typer.Option("--data", help="synthetic (the smoke budget: its easy preset at "
                                                     "difficulty easy), a CSV, a folder, or NAME:key=value,...")] = "",
    budget: Annotated[str, typer.Option("--budget", help="smoke (default on CPU), quick (default on a GPU) or "
                                                         "paper.")] = "",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Runs per architecture; mean ± std.")] = 1,
    out: Annotated[Path, typer.Option("--out", help="Results and one run directory per architecture; a bench of "
                                                    "another config needs another --out.")] = Path("bench"),
    force: Annotated[bool, typer.Option("--force", help="Start again in an --out holding another config.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 unless every row is ok or time-boxed.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Every column (two tables), not the 80-column summary.")] = False,
    pretrained: Annotated[bool, typer.Option("--pretrained", help="Add a row scoring each architecture's shipped "
                                                                  "weights as they are.")] = False,
    fine_tune: Annotated[bool, typer.Option("--fine-tune", help="With --pretrained: add a row fine-tuning them under "
                                                                "the budget.")] = False,
    ensemble: Annotated[bool, typer.Option("--ensemble", help="Add a row for the mean of the trained rows' "
                                                              "probabilities.")] = False,
    as_json: JsonFlag = False,
    track: TrackOption = None,
    track_uri: TrackUriOption = None,
    executor: Annotated[str, typer.Option("--executor", help="local (worker processes here) or ray (Ray tasks, "
                                                             "needs fer-zoo\\[ray]).")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="With --executor ray: a running cluster "
                                                                  "(default: start a local Ray).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="With --executor local: rows at once.")] = 1,
    **settings: Any,  # the training options every row shares, from fer_zoo.training.run_config
) -> None:
    """Train and compare architectures on the same data, splits, seeds and budget."""
    epochs, batch_size, precision, recipe, devices = (settings[name] for name in (
        "epochs", "batch_size", "precision", "recipe", "devices"))
    from fer_zoo.training import parallel
    from fer_zoo.training import tracking
    from fer_zoo.benchmark.bench import (BenchConfig, default_budget, default_data, default_precision, exit_status,
                               run_bench, select, write_results)
    from fer_zoo.models.recipes import resolve
    from fer_zoo.report.terminal import BenchProgress, bench_table

    kinds = tuple(tracking.parse(track))
    tracking.check(kinds)
    device_count = parallel.parse(devices)
    if executor == "ray" and device_count == "all":  # a wrong pair of flags, whether or not Ray is installed
        raise FerZooError("--devices all with --executor ray: name how many GPUs each row takes (--devices N)")
    runner = _bench_executor(executor, address, jobs)
    if recipe:
        resolve(None, recipe)  # an unknown name or a bad file is one line now, not one per row
    _loaded_plugins()
    names = select(patterns or [], all_)
    console = _out()
    if not as_json:
        console.print(f"fer-zoo bench: {len(names)} architecture(s) × {seeds} seed(s): {', '.join(names)}; "
                      f"loading {'Keras' if 'keras' not in sys.modules else 'data'}…", markup=False)
    import_keras()
    if executor == "local":  # the rows run here: their devices must be here (a Ray node checks its own)
        device_count = parallel.resolve(device_count)
    budget = budget or default_budget()
    data = data or default_data(budget)
    config = BenchConfig(data=data, budget=budget, seeds=seeds, epochs=epochs, batch_size=batch_size,
                         precision=precision or default_precision(), pretrained=pretrained, fine_tune=fine_tune,
                         ensemble=ensemble, track=kinds, track_uri=track_uri, recipe=recipe, devices=device_count)
    progress = None if as_json else BenchProgress(console, names, seeds)
    try:
        result = run_bench(names, config, out, force=force, on_event=progress, executor=runner)
    finally:
        if progress is not None:
            progress.stop()
    from fer_zoo.benchmark import html as html_report

    files = [*write_results(result, out), html_report.write(out)]
    if as_json:
        _print_json({"environment": result["environment"], "rows": result["rows"], "files": [str(f) for f in files]})
    else:
        console.print(bench_table(result["rows"], result["environment"], wide=wide, reused=progress.reused))
        console.print("wrote " + ", ".join(str(f) for f in files), markup=False)
    if exit_status(result["rows"], strict):
        raise typer.Exit(1)


bench_command = _command("bench")(_with_settings(bench_command, [
    "patterns", "all_", "data", "budget", "seeds", "out", ["epochs", "batch_size", "precision", "recipe"], "force",
    "strict", "wide", "pretrained", "fine_tune", "ensemble", "as_json", "track", "track_uri", ["devices"], "executor",
    "address", "jobs"], bench=True))


@_command("explain")
def explain_command(
    model: Annotated[str, typer.Argument(help="A run directory, a .keras file, or an architecture that ships "
                                               "weights.")],
    inputs: Annotated[list[str], typer.Argument(help="Image files or folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the heat maps, one PNG per face.")] = Path(
        "explain"),
    target: Annotated[str | None, typer.Option("--class", help="Explain this class (default: each face's "
                                                               "predicted one).")] = None,
    method: Annotated[str, typer.Option("--method", help="layer-cam (default), grad-cam or grad-cam++.")] = "layer-cam",
    layer: Annotated[str | None, typer.Option("--layer", help="The layer to explain at (default: the last whose "
                                                              "map is at least 1/8 of the input's side).")] = None,
    no_detect: Annotated[bool, typer.Option("--no-detect", help="Each image is already a cropped face "
                                                                "(FER2013 style).")] = False,
    detector: DetectorOption = "auto",
    margin: Annotated[float, typer.Option("--margin", min=0.0, max=10.0,
                                          help="Context around each face box, as a fraction of its size.")] = 0.1,
    force: Annotated[bool, typer.Option("--force", help="Replace heat maps already in --out.")] = False,
    as_json: JsonFlag = False,
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Allow models that run code (Lambda layers).")] = False,
) -> None:
    """Heat maps of where each face's evidence for a class is (LayerCAM, Grad-CAM or Grad-CAM++)."""
    from fer_zoo import outputs
    from fer_zoo.inference.explain import METHODS, explain, write_maps
    from fer_zoo.report.terminal import explanations_table
    from fer_zoo.inference.runtime import load_classifier

    if method not in METHODS:
        raise FerZooError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    given = outputs.inputs(models=[model], files=inputs)
    outputs.folder(out, "--out", given, force)
    _loaded_plugins()
    import_keras()
    classifier = load_classifier(model, runtime="keras", unsafe=unsafe)
    explanations, faceless = explain(classifier, inputs, target=target, detector=None if no_detect else detector,
                                     margin=margin, layer=layer, method=method)
    files = write_maps(explanations, out, given, method, force)
    if as_json:
        _print_json([{**e.as_dict(), "method": method, "file": str(f)} for e, f in zip(explanations, files)])
    else:
        _out().print(explanations_table(explanations, files))
    for source in faceless:
        sys.stderr.write(f"fer-zoo: no face found in {source} (--no-detect if it is a cropped face)\n")


@_command("report")
def report_command(
    bench_dir: Annotated[Path, typer.Argument(help="A bench's --out folder (results.json and the run directories).")],
) -> None:
    """Write BENCH_DIR/report.html: one self-contained page of the comparison, its plots and sample faces."""
    from fer_zoo.benchmark import html as html_report

    _loaded_plugins()
    target = html_report.write(bench_dir)
    _out().print(f"wrote {target} (open it in a browser; it needs no network)", markup=False)


@_command("new-plugin")
def new_plugin_command(
    name: Annotated[str, typer.Argument(help="The architecture's name, e.g. tiny-resnet.")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder to create (default ./fer-zoo-NAME).")] = None,
) -> None:
    """Scaffold a plugin distribution: pyproject with the entry point, the module, a test, a README."""
    from fer_zoo.plugins.scaffold import scaffold

    root = scaffold(name, out)
    _out().print(f"created {root}: pip install -e '{root}[test]' && python -m pytest {root}", markup=False)


data_app = typer.Typer(help="Look at a data source.", no_args_is_help=True)
cache_app = typer.Typer(help="The cache of parsed datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(cache_app, name="cache")


@_command("datasets")
def datasets_command(as_json: JsonFlag = False) -> None:
    """List data sources, built-in and from plugins, with their options."""
    from fer_zoo.report.terminal import datasets_table

    sources = _loaded_plugins().datasets
    if as_json:
        _print_json(sources.describe())
    else:
        _out().print(datasets_table(sources.describe()))


@_command("detectors")
def detectors_command(as_json: JsonFlag = False) -> None:
    """List the face detectors `predict --detector` can use, built-in and from plugins."""
    from fer_zoo.inference.detectors import default
    from fer_zoo.report.terminal import detectors_table

    detectors = _loaded_plugins().detectors
    if as_json:
        _print_json(detectors.describe())
    else:
        _out().print(detectors_table(detectors.describe(), default(detectors)))


@_command("inspect", data_app)
def data_inspect(
    source: Annotated[str, typer.Argument(help="synthetic (default), a CSV, a folder, or NAME:key=value,...")] = "synthetic",
    grid: Annotated[Path | None, typer.Option("--grid", help="Write a sample grid PNG here.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --grid file.")] = False,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Load the rest of a file with bad rows.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Counts per split and class, image size, pixel statistics, duplicates across splits."""
    from fer_zoo.data import load_dataset
    from fer_zoo.data.inspect import sample_grid, summary
    from fer_zoo.report.terminal import dataset_tables

    _loaded_plugins()
    if grid is not None:
        from fer_zoo import outputs

        outputs.file(grid, "--grid", outputs.inputs(data=source), force)
    dataset = load_dataset(source, skip_bad_rows=skip_bad_rows)
    for note in dataset.notes:
        sys.stderr.write(f"fer-zoo: note: {note}\n")
    report = summary(dataset)
    if grid is not None:
        report["grid"] = str(sample_grid(dataset, grid))
    if as_json:
        _print_json(report)
    else:
        _out().print(dataset_tables(report))


@_command("info", cache_app)
def cache_info(as_json: JsonFlag = False) -> None:
    """Where the cache is and what it holds."""
    from fer_zoo.data import cache

    details = cache.info()
    if as_json:
        _print_json(details)
    else:
        compiled = ", ".join(f"{kind} {c['files']} file(s) {c['bytes'] / 1e6:.1f} MB"
                             for kind, c in details["compiled"].items())
        left = details["leftovers"]
        _out().print(f"{details['path']}: {len(details['entries'])} dataset(s), {details['total_bytes'] / 1e6:.1f} MB"
                     + (f"; compiled: {compiled}" if compiled else "")
                     + (f"; {left['files']} leftover(s) of killed writes, {left['bytes'] / 1e6:.1f} MB "
                        f"(removed by the next write or `cache clear`)" if left["files"] else ""))


@_command("clear", cache_app)
def cache_clear() -> None:
    """Delete every cached dataset."""
    from fer_zoo.data import cache

    _out().print(f"removed {cache.clear()} cached dataset(s) from {cache.cache_dir()}")


def main() -> None:
    app()
