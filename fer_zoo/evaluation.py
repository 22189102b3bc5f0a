"""Scoring a trained model on a data split, with optional test-time augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_zoo.errors import FerZooError
from fer_zoo.scores import metrics

TTA_MODES = ("none", "flip", "tencrop")


def class_columns(model_classes, data_classes, where: str) -> np.ndarray | None:
    """Which of the model's outputs answer for each of the data's classes, matched by name: None when they
    are the same classes in the same order; a FER+ model's eight on FER2013's seven drops contempt. A data
    class the model does not predict is a one-line error."""
    model_classes, data_classes = tuple(model_classes), tuple(data_classes)
    if model_classes == data_classes:
        return None
    missing = [c for c in data_classes if c not in model_classes]
    if missing:
        raise FerZooError(f"{where}: the model predicts {len(model_classes)} classes ({', '.join(model_classes)}); "
                          f"the data also has {', '.join(missing)}, which it cannot answer")
    return np.array([model_classes.index(c) for c in data_classes])


def on_data_classes(proba: np.ndarray, columns: np.ndarray | None) -> np.ndarray:
    """The model's probabilities over the data's classes only, renormalised to sum to 1."""
    if columns is None:
        return proba
    kept = proba[:, columns]
    return kept / np.clip(kept.sum(axis=1, keepdims=True), 1e-12, None)


def _crops(x: np.ndarray) -> list[np.ndarray]:
    """Ten crops (corners, centre, and their mirrors) of 7/8 the side, resized back to full size."""
    from keras import ops

    n, h, w, c = x.shape
    ch, cw = round(h * 7 / 8), round(w * 7 / 8)
    origins = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
    views = []
    for top, left in origins:
        crop = ops.convert_to_numpy(ops.image.resize(x[:, top:top + ch, left:left + cw].astype("float32"), (h, w)))
        views += [crop, crop[:, :, ::-1]]
    return views


def predict_proba(model, x: np.ndarray, batch_size: int = 256, tta: str = "none") -> np.ndarray:
    """Probabilities averaged over the test-time views of ``x``; ``model`` is a Keras model or a
    :class:`fer_zoo.runtime.Classifier`."""
    if tta not in TTA_MODES:
        raise FerZooError(f"--tta must be one of {', '.join(TTA_MODES)}, got {tta!r}")
    views = {"none": lambda: [x], "flip": lambda: [x, x[:, :, ::-1]], "tencrop": lambda: _crops(x)}[tta]()
    if hasattr(model, "run_batch"):
        return np.mean([model.predict(v.astype("float32"), batch_size) for v in views], axis=0)
    return np.mean([model.predict(v.astype("float32"), batch_size=batch_size, verbose=0) for v in views], axis=0)


def evaluate(model: str | Path, data: str = "synthetic", split: str = "test", tta: str = "none",
             unsafe: bool = False, scale: float | None = None, offset: float | None = None,
             batch_size: int = 256, runtime: str = "keras") -> dict:
    """Metrics of a trained model (Keras, or an exported ONNX/TFLite/SavedModel artifact) on one split."""
    from fer_zoo.data import load_dataset
    from fer_zoo.runtime import load_classifier

    if split not in ("train", "val", "test"):
        raise FerZooError(f"--split must be train, val or test, got {split!r}")
    if tta not in TTA_MODES:
        raise FerZooError(f"--tta must be one of {', '.join(TTA_MODES)}, got {tta!r}")
    classifier = load_classifier(model, runtime=runtime, unsafe=unsafe, scale=scale, offset=offset)
    dataset = load_dataset(data)
    if split not in dataset.splits:
        raise FerZooError(f"{data}: has no {split} split")
    part = dataset.splits[split]
    columns = class_columns(classifier.class_names, dataset.class_names, str(model))
    # a model of another input size gets the images resized and channel-converted (Classifier.predict)
    proba = on_data_classes(predict_proba(classifier, part.x, batch_size, tta), columns)
    return {"model": str(model), "runtime": classifier.runtime, "data": dataset.name, "split": split, "tta": tta,
            "images": len(part), "classes": list(dataset.class_names),
            "model_input": list(classifier.input_shape), "data_input": list(dataset.image_shape),
            "model_classes": list(classifier.class_names), **metrics(part.y, proba, dataset.class_names)}


def confusion_target(model: str | Path, data: str, confusion: str | Path | None = None) -> Path | None:
    """Where ``evaluate``'s confusion matrix PNG goes: ``confusion`` if given, else into the run directory
    being evaluated, else nowhere. Checked before any work: never onto an input (the model, the data)."""
    from fer_zoo.runtime import artifact_kind

    if confusion is None:
        return Path(model) / "confusion.png" if artifact_kind(Path(model)) == "run" else None
    target = Path(confusion)
    for given in (Path(model), Path(data)):
        if not given.exists():
            continue
        inside = given.is_dir() and artifact_kind(given) != "run" and target.resolve().is_relative_to(given.resolve())
        if target.resolve() == given.resolve() or inside:
            raise FerZooError(f"--confusion {target}: that is an input of this evaluation; choose another file")
    from fer_zoo import atomic

    return atomic.writable(target, "--confusion")


def write_confusion(result: dict, target: Path) -> Path:
    """The row-normalised confusion matrix of an ``evaluate`` result as a PNG at ``target`` (a run
    directory's default name gets the split: confusion_test.png)."""
    from fer_zoo import atomic
    from fer_zoo.figures import confusion_png

    if target.name == "confusion.png":
        target = target.with_name(f"confusion_{result['split']}.png")
    title = f"{Path(result['model']).name} on {result['data']} ({result['split']}, row-normalised)"
    try:
        atomic.write_with(target, lambda tmp: confusion_png(result["confusion_matrix"], result["classes"], tmp,
                                                            title))
    except OSError as exc:
        raise FerZooError(f"--confusion {target}: cannot write it ({exc.strerror or exc})") from None
    return target
