"""Loading trained models safely, predicting (with optional test-time augmentation), and metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_zoo.errors import FerZooError, one_line

TTA_MODES = ("none", "flip", "tencrop")


def resolve_model_path(model: str | Path) -> Path:
    path = Path(model)
    if path.is_dir():
        path = path / "best.keras"
        if not path.is_file():
            raise FerZooError(f"{model}: not a run directory (no best.keras inside)")
    elif not path.is_file():
        raise FerZooError(f"{model}: no such model file or run directory")
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise FerZooError(f"{path}: expected a .keras or .h5 model file")
    return path


def load_model(model: str | Path, unsafe: bool = False, scale: float | None = None, offset: float | None = None):
    """A model taking raw 0-255 pixels. Safe mode refuses models that would run arbitrary code.

    ``scale``/``offset`` wrap a bare file (one trained on normalised input, like the seed's ``.h5``).
    """
    import keras

    path = resolve_model_path(model)
    try:
        loaded = keras.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except Exception as exc:
        text = one_line(exc, 300)
        if "safe_mode" in text or "Lambda" in text or "arbitrary code" in text:
            raise FerZooError(f"{path}: the model contains code (e.g. a Lambda layer) that safe mode will not "
                              f"run; pass --unsafe only if you trust its author") from None
        raise FerZooError(f"{path}: cannot load model: {text}") from None
    if scale is not None or offset is not None:
        inputs = keras.Input(shape=loaded.input_shape[1:])
        loaded = keras.Model(inputs, loaded(keras.layers.Rescaling(scale if scale is not None else 1 / 255,
                                                                   offset or 0.0)(inputs)))
    return loaded


def check_shapes(model_input, model_classes: int, image_shape, num_classes: int, where: str) -> None:
    if tuple(model_input) != tuple(image_shape):
        raise FerZooError(f"{where}: the model takes images {tuple(model_input)}, the data has {tuple(image_shape)}")
    if model_classes != num_classes:
        raise FerZooError(f"{where}: the model predicts {model_classes} classes, the data has {num_classes}")


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


def metrics(y_true: np.ndarray, proba: np.ndarray, class_names) -> dict:
    """Accuracy, top-2, macro-F1, per-class precision/recall/F1 and the confusion matrix (scikit-learn)."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    labels = np.arange(len(class_names))
    y_true = y_true if y_true.ndim == 1 else y_true.argmax(axis=1)
    predicted = proba.argmax(axis=1)
    top2 = np.argsort(proba, axis=1)[:, -2:]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=labels, zero_division=0)
    return {
        "accuracy": float(np.mean(predicted == y_true)),
        "top2_accuracy": float(np.mean((top2 == y_true[:, None]).any(axis=1))),
        "macro_f1": float(f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(y_true, predicted, labels=labels).tolist(),
    }


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
    check_shapes(classifier.input_shape, classifier.num_classes, dataset.image_shape, len(dataset.class_names),
                 str(model))
    proba = predict_proba(classifier, part.x, batch_size, tta)
    return {"model": str(model), "runtime": classifier.runtime, "data": dataset.name, "split": split, "tta": tta,
            "images": len(part), "classes": list(dataset.class_names),
            **metrics(part.y, proba, dataset.class_names)}
