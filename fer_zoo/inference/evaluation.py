"""Scoring a trained model on a data split, with optional test-time augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_zoo.errors import FerZooError
from fer_zoo.training.scores import class_columns, metrics, on_data_classes

from fer_zoo.models.tta import TTA_MODES  # the views themselves are fer_zoo.models.tta's

TTA_CHOICES = (*TTA_MODES, "recipe")  # "recipe": the TTA the run's recorded recipe declares


def check_tta(tta: str, choices: tuple[str, ...] = TTA_CHOICES) -> None:
    """Refuse an unknown ``--tta`` mode, before any model or data is loaded."""
    if tta not in choices:
        raise FerZooError(f"--tta must be one of {', '.join(choices)}, got {tta!r}")


def recipe_tta(model: str) -> tuple[str, int]:
    """(tta, tta_crop) the recipe of the run ``model`` declares; ("none", 0) for a model that is not a run
    (or a run from before recipes declared one)."""
    from fer_zoo.inference.runtime import artifact_kind
    from fer_zoo.plugins.recipe import Recipe
    from fer_zoo.training.rundir import load_config

    path = Path(model)
    if artifact_kind(path) != "run":
        return "none", 0
    recipe = Recipe.from_dict(load_config(path)["recipe"])  # checked field by field, tta and tta_crop among them
    return recipe.tta, recipe.tta_crop


def predict_proba(model, x: np.ndarray, batch_size: int = 256, tta: str = "none", tta_crop: int = 0) -> np.ndarray:
    """Probabilities averaged over the test-time views of ``x`` (fer_zoo.models.tta); ``model`` is a Keras
    model or a :class:`fer_zoo.inference.runtime.Classifier`."""
    from fer_zoo.models.tta import predict_averaged

    check_tta(tta, TTA_MODES)
    return predict_averaged(model, x, batch_size, tta, tta_crop)


DEFAULT_DATA = "synthetic"


def default_data(models: list[str]) -> tuple[str, str]:
    """What ``evaluate`` (and ``export``'s check) scores without ``--data``: the data the run(s) among
    ``models`` were trained on, else the synthetic default; and a note line saying which, and why."""
    from fer_zoo.inference.runtime import artifact_kind
    from fer_zoo.training.rundir import read_json

    trained = {}
    for model in models:
        path = Path(model)
        config = read_json(path / "config.json") if artifact_kind(path) == "run" else None
        if isinstance(config, dict) and isinstance(config.get("data"), str):
            trained[model] = config
    specs = sorted({config["data"] for config in trained.values()})
    if len(specs) > 1:
        each = ", ".join(f"{model}: {config['data']}" for model, config in trained.items())
        raise FerZooError(f"--data: the runs were trained on different data ({each}); name the data to score "
                          f"them on with --data")
    if not specs:
        what = "a model that is not a run" if len(models) == 1 else "models that are not runs"
        return DEFAULT_DATA, f"data: {DEFAULT_DATA} (the default for {what}; --data names other data)"
    subsets = sorted({config["subset"] for config in trained.values() if config.get("subset")})
    whose = "the run's" if len(trained) == 1 else "the runs'"
    part = f"; all of it, not the --subset {', '.join(map(str, subsets))} it trained on" if subsets else ""
    return specs[0], f"data: {specs[0]} ({whose}{part})"


def evaluate(model: str | Path | list, data: str | None = None, split: str = "test", tta: str = "recipe",
             unsafe: bool = False, scale: float | None = None, offset: float | None = None,
             batch_size: int = 256, runtime: str = "keras", weights: list[float] | None = None) -> dict:
    """Metrics of a trained model (Keras, or an exported ONNX/TFLite/SavedModel artifact) on one split; of
    several, the metrics of their ensemble (probabilities averaged, ``weights`` optional) and of each member.
    ``data`` None: the run's own data (:func:`default_data`), which the result's ``notes`` name."""
    from fer_zoo.data import load_dataset
    from fer_zoo.inference.ensemble import Ensemble, load_ensemble

    if split not in ("train", "val", "test"):
        raise FerZooError(f"--split must be train, val or test, got {split!r}")
    check_tta(tta)
    models = [str(m) for m in model] if isinstance(model, (list, tuple)) else [str(model)]
    classifier = load_ensemble(models, weights, runtime=runtime, unsafe=unsafe, scale=scale, offset=offset)
    model = " + ".join(models)
    notes = []
    if data is None:
        data, note = default_data(models)
        notes.append(note)
        try:
            dataset = load_dataset(data)
        except FerZooError as exc:
            raise FerZooError(f"{model}: the data it was trained on, {data}, cannot be read ({exc}); name the "
                              f"data to score it on with --data") from None
    else:
        dataset = load_dataset(data)
    if split not in dataset.splits:
        raise FerZooError(f"{data}: has no {split} split")
    part = dataset.splits[split]
    if len(part) == 0:
        raise FerZooError(f"{data}: its {split} split is empty: nothing to score (--split names another)")
    members = classifier.members if isinstance(classifier, Ensemble) else [classifier]
    # each member's probabilities over the data's classes (matched by name); a model of another input size
    # gets the images resized and channel-converted (Classifier.predict)
    chosen = [recipe_tta(m.source) if tta == "recipe" else (tta, 0) for m in members]
    member_proba = [on_data_classes(predict_proba(m, part.x, batch_size, mode, side),
                                    class_columns(m.class_names, dataset.class_names, m.source))
                    for m, (mode, side) in zip(members, chosen)]
    used = " / ".join(sorted({mode for mode, _ in chosen}))
    sides = sorted({side for mode, side in chosen if mode == "tencrop" and side})
    if tta == "recipe" and used != "none":  # "none" from the recipe is what the heading says anyway
        whose = "the run's recipe" if len(models) == 1 else "each run's recipe"
        at = f" at {'/'.join(map(str, sides))} px" if sides else ""
        notes.append(f"tta: {used}{at} ({whose})")
    weights = classifier.weights if isinstance(classifier, Ensemble) else [1.0]
    proba = sum(w * p for w, p in zip(weights, member_proba))
    result = {"model": str(model), "runtime": classifier.runtime, "data": dataset.name, "split": split, "tta": used,
              "tta_from": "recipe" if tta == "recipe" else "--tta", "tta_crop": sides[0] if len(sides) == 1 else 0,
              "images": len(part), "classes": list(dataset.class_names),
              "model_input": list(classifier.input_shape), "data_input": list(dataset.image_shape),
              "model_classes": list(classifier.class_names), "data_spec": data, "notes": notes,
              **metrics(part.y, proba, dataset.class_names)}
    if isinstance(classifier, Ensemble):
        result["weights"] = weights
        result["members"] = []
        for member, probabilities in zip(members, member_proba):
            scores = metrics(part.y, probabilities, dataset.class_names)
            result["members"].append({"model": member.source, "runtime": member.runtime,
                                      **{k: scores[k] for k in ("accuracy", "top2_accuracy", "macro_f1")}})
    return result


def confusion_target(model: str | Path | list, data: str | None, confusion: str | Path | None = None,
                     split: str = "test", force: bool = False) -> Path | None:
    """Where ``evaluate``'s confusion matrix PNG goes: ``confusion`` if given (checked by fer_zoo/outputs.py
    against the models and the data, before any work), else ``confusion_SPLIT.png`` in the run directory
    being evaluated (one model), else nowhere."""
    from fer_zoo import outputs
    from fer_zoo.inference.runtime import artifact_kind

    models = [Path(m) for m in model] if isinstance(model, (list, tuple)) else [Path(model)]
    if confusion is None:
        if len(models) == 1 and artifact_kind(models[0]) == "run":
            return models[0] / f"confusion_{split}.png"
        return None
    if data is None:
        data = default_data([str(m) for m in models])[0]
    return outputs.file(confusion, "--confusion", outputs.inputs(data=data, models=models), force)


def write_confusion(result: dict, target: Path) -> Path:
    """The row-normalised confusion matrix of an ``evaluate`` result as a PNG at ``target``."""
    from fer_zoo import outputs
    from fer_zoo.report.figures import confusion_png

    title = f"{Path(result['model']).name} on {result['data']} ({result['split']}, row-normalised)"
    return outputs.write_with(target, "--confusion", lambda tmp: confusion_png(result["confusion_matrix"],
                                                                               result["classes"], tmp, title))
