"""`train`, `reproduce`, `evaluate`, `export`: a run directory made, made again, scored and deployed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fer_zoo.cli.base import (DataOption, ForceFlag, JsonFlag, Reporting, RuntimeOption, command, console,
                             given_on_command_line, loaded_plugins, parse_weights, print_json, with_settings)
from fer_zoo.training import run_config

# evaluate's and export's: "not given" must be visible, since a run's own data is then the default
ScoredDataOption = Annotated[str | None, typer.Option("--data", help="Default: the data a run was trained on "
                                                                     "(synthetic for a model that is not a run); "
                                                                     "a CSV, a folder, or NAME:key=value,...")]


def train_command(
    context: typer.Context,
    arch: Annotated[str | None, typer.Argument(help="Architecture name (not needed with --resume).")] = None,
    data: DataOption = "synthetic",
    out: Annotated[Path | None, typer.Option("--out", help="Run directory (default runs/ARCH).")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the run in this directory, "
                                                                    "with the settings it started with.")] = None,
    force: ForceFlag = False,
    pretrained: Annotated[bool, typer.Option("--pretrained", help="Fine-tune the weights the architecture ships "
                                                                  "(--init-from ARCH).")] = False,
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Let --init-from and --resume load models that run code "
                                                          "(Lambda layers).")] = False,
    reporting: Reporting = Reporting(),  # --quiet, --json-log, --track, --track-uri (see with_settings below)
    **settings: Any,  # the run's options, from fer_zoo.training.run_config
) -> None:
    """Train an architecture into a run directory (resumable; best.keras chosen on val)."""
    import fer_zoo
    from fer_zoo.report.terminal import train_summary

    given = given_on_command_line(context)
    loaded_plugins()
    options = run_config.from_cli(settings)
    with reporting.reporter() as reporter:
        result = fer_zoo.train(
            arch, data, out, resume=resume, force=force, pretrained=pretrained, track=reporting.track,
            track_uri=reporting.track_uri, unsafe=unsafe, reporter=reporter,
            asked=run_config.asked_from_cli({"init_from" if n == "pretrained" else n for n in given}),
            **{name: getattr(options, name) for name in run_config.RunConfig.__dataclass_fields__})
    if reporting.json_log:
        print_json({"run_dir": str(result.run_dir), **result.metrics})
    elif not reporting.quiet:
        console().print(train_summary(result))


train_command = command("train")(with_settings(train_command, [
    "context", "arch", "data", "out", "resume", "force",
    ["recipe", "epochs", "batch_size", "lr", "optimizer", "augment", "seed", "deterministic", "precision",
     "class_weights", "label_smoothing", "early_stopping", "init_from"],
    "pretrained", ["freeze"], "unsafe", ["subset", "eval_subset", "time_box"], "reporting", ["devices"]]))


def reproduce_command(
    run: Annotated[Path, typer.Argument(help="A run directory: trained again from its config.json alone.")],
    out: Annotated[Path | None, typer.Option("--out", help="The new run directory (default: RUN-reproduced "
                                                           "beside the run; never the run itself).")] = None,
    force: ForceFlag = False,
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Let the run's --init-from load a model that runs code "
                                                          "(Lambda layers).")] = False,
    reporting: Reporting = Reporting(),  # --quiet, --json-log, --track, --track-uri (see with_settings below)
) -> None:
    """Train a run again from its record: the same architecture, data, recipe values and settings."""
    import fer_zoo
    from fer_zoo.report.terminal import train_summary

    loaded_plugins()
    with reporting.reporter() as reporter:
        result = fer_zoo.reproduce(run, out, force=force, track=reporting.track, track_uri=reporting.track_uri,
                                   unsafe=unsafe, reporter=reporter)
    if reporting.json_log:
        print_json({"run_dir": str(result.run_dir), "reproduces": str(run), "notes": result.notes,
                    **result.metrics})
        return
    for note in result.notes:
        console().print(f"note: {note}", markup=False)
    if not reporting.quiet:
        console().print(train_summary(result))


reproduce_command = command("reproduce")(with_settings(reproduce_command, [
    "run", "out", "force", "unsafe", "reporting"]))


@command("evaluate")
def evaluate_command(
    models: Annotated[list[str], typer.Argument(help="A run directory, a .keras or Keras-2 .h5 classifier, an "
                                                      "exported .onnx/.tflite file or SavedModel folder, or an "
                                                      "architecture that ships weights; several: their ensemble.")],
    data: ScoredDataOption = None,
    split: Annotated[str, typer.Option("--split", help="val or test (train also accepted).")] = "test",
    weights: Annotated[str | None, typer.Option("--weights", help="An ensemble's member weights, comma-separated "
                                                                  "(default: equal).")] = None,
    tta: Annotated[str, typer.Option("--tta", help="Test-time views: none, flip, tencrop, or recipe (the run's "
                                                   "recipe's; none for a model that is not a run).")] = "recipe",
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
    import fer_zoo
    from fer_zoo.report.terminal import evaluation_tables

    loaded_plugins()
    result = fer_zoo.evaluate(models, data, split, tta=tta, weights=parse_weights(weights), runtime=runtime,
                              unsafe=unsafe, scale=scale, offset=offset, confusion=confusion, force=force)
    if as_json:
        print_json(result)
    else:
        for note in result.get("notes", []):
            console().print(f"note: {note}", markup=False)
        console().print(evaluation_tables(result))
        if "confusion_png" in result:
            console().print(f"confusion matrix: {result['confusion_png']}")


@command("export")
def export_command(
    model: Annotated[str, typer.Argument(help="A run directory, a .keras/.h5 file, or an architecture that ships "
                                               "weights.")],
    fmt: Annotated[str, typer.Option("--format", help="keras, h5, savedmodel, tflite or onnx.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the artifact (never replaced without --force).")],
    quantize: Annotated[str, typer.Option("--quantize", help="none, float16 (tflite) or int8 (tflite, onnx).")] = "none",
    data: ScoredDataOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Allow models that run code (Lambda layers).")] = False,
    scale: Annotated[float | None, typer.Option("--scale", help="For a bare file: pixel scale (1/255).")] = None,
    offset: Annotated[float | None, typer.Option("--offset", help="For a bare file: pixel offset (0).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a deployable model, load it back and check its predictions against the original."""
    import fer_zoo
    from fer_zoo.deploy.export import VerificationFailed

    loaded_plugins()
    try:
        report = fer_zoo.export(model, fmt, out, quantize=quantize, data=data, force=force, unsafe=unsafe,
                                scale=scale, offset=offset)
    except VerificationFailed as exc:
        sys.stderr.write(f"fer-zoo: error: {exc}\n")
        raise typer.Exit(1) from None
    if as_json:
        print_json(report.as_dict())
        return
    for note in report.notes:
        console().print(f"note: {note}", markup=False)
    figure = (f"top-1 agreement {report.value:.1%} (≥ {report.tolerance:.0%} required)"
              if report.check == "top1_agreement" else
              f"max |Δp| {report.value:.2g} (≤ {report.tolerance:g} allowed)")
    scope = f" of {report.int8_scope}" if report.int8_scope else ""
    console().print(f"wrote {report.path} ({report.format}, quantize {report.quantize}{scope}, "
                 f"{report.bytes / 1e6:.2f} MB); verified with {report.runtime} on {report.images} images of "
                 f"{report.data}: {figure}")
