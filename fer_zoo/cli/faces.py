"""`predict`, `explain`: faces found in photos and videos, classified and explained."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fer_zoo.cli.base import (DetectorOption, JsonFlag, RuntimeOption, command, console, loaded_plugins, parse_weights,
                             print_json)
from fer_zoo.errors import FerZooError



@command("predict")
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
    from fer_zoo.api import predict_files
    from fer_zoo.inference.predict import parse_classes
    from fer_zoo.report.terminal import predict_summary, predictions_table, write_predictions_csv

    if as_json and as_csv:
        raise FerZooError("--json and --csv: choose one")
    names = parse_classes(classes)
    loaded_plugins()
    faces, summary, classifier = predict_files(
        model, inputs, weights=parse_weights(weights), runtime=runtime, class_names=names, unsafe=unsafe,
        scale=scale, offset=offset, annotate=annotate, force=force, detect=not no_detect, detector=detector,
        batch_size=batch_size, every=every, margin=margin, strict=strict, max_pixels=max_pixels,
        on_note=lambda note: sys.stderr.write(f"fer-zoo: note: {note}\n"),
        on_error=lambda message: sys.stderr.write(f"fer-zoo: error: {message}\n"))
    if as_json:
        print_json([face.as_dict() for face in faces])
    elif as_csv:
        write_predictions_csv(faces, classifier.class_names, sys.stdout)
    else:
        console().print(predictions_table(faces))
    line = predict_summary(summary) + (f" · annotated images in {annotate}" if annotate is not None else "")
    if as_json or as_csv:
        sys.stderr.write(line + "\n")
    else:
        console().print(line)
    if summary.unreadable:
        raise typer.Exit(1)


@command("explain")
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
    from fer_zoo.api import explain_files
    from fer_zoo.report.terminal import explanations_table

    loaded_plugins()
    explanations, files, faceless = explain_files(model, inputs, out, target=target, method=method, layer=layer,
                                                  detector=None if no_detect else detector, margin=margin,
                                                  force=force, unsafe=unsafe)
    if as_json:
        print_json([{**e.as_dict(), "method": method, "file": str(f)} for e, f in zip(explanations, files)])
    else:
        console().print(explanations_table(explanations, files))
    for source in faceless:
        sys.stderr.write(f"fer-zoo: no face found in {source} (--no-detect if it is a cropped face)\n")
