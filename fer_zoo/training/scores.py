"""Scores of predicted probabilities, and the verdict on a run: plain numpy, no Keras.

One definition of each number for the whole package: validation during training, ``evaluate``, the
bench and the ensemble all call these.
"""

from __future__ import annotations

import math

import numpy as np

from fer_zoo.errors import FerZooError
from fer_zoo.models.ranking import top_k_rank
from fer_zoo.status import Status


def hard_labels(labels: np.ndarray) -> np.ndarray:
    return labels if labels.ndim == 1 else labels.argmax(axis=1)


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy (no label smoothing) for class indices or soft labels; p clipped at 1e-7."""
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1.0)
    if labels.ndim == 2:
        return float(-(labels * np.log(p)).sum(axis=1).mean())
    return float(-np.log(p[np.arange(len(labels)), labels]).mean())


def validation_scores(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The history's val_loss, val_accuracy and val_top2_accuracy."""
    hard = hard_labels(labels)
    return {"val_loss": cross_entropy(probabilities, labels),
            "val_accuracy": float(np.mean(probabilities.argmax(axis=1) == hard)),
            "val_top2_accuracy": float(np.mean(top_k_rank(probabilities, hard) < 2))}


def metrics(y_true: np.ndarray, proba: np.ndarray, class_names) -> dict:
    """Accuracy, top-2, macro-F1, per-class precision/recall/F1 and the confusion matrix (scikit-learn)."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    if len(y_true) == 0:
        raise FerZooError("no images to score (an empty split)")
    if not np.isfinite(proba).all():  # argmax of NaN is class 0: a broken model would score as "always angry"
        raise FerZooError("the probabilities to score hold NaN or infinite values")
    labels = np.arange(len(class_names))
    y_true = hard_labels(y_true)
    predicted = proba.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=labels, zero_division=0)
    return {
        "accuracy": float(np.mean(predicted == y_true)),
        "top2_accuracy": float(np.mean(top_k_rank(proba, y_true) < 2)),
        "macro_f1": float(f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(y_true, predicted, labels=labels).tolist(),
    }


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


def chance_level(labels: np.ndarray, num_classes: int) -> tuple[float, int, float]:
    """(share of the most common class, its index, the accuracy a run must beat to count as learning):
    the majority share plus two binomial standard errors of a split this size."""
    hard = hard_labels(labels)
    counts = np.bincount(hard, minlength=num_classes)
    top = int(counts.argmax())
    share = counts[top] / max(1, len(hard))
    return float(share), top, float(share + 2 * math.sqrt(share * (1 - share) / max(1, len(hard))))


def run_status(history: list[dict], *, planned_epochs: int, images_per_epoch: int, val_accuracy: float | None,
               val_labels: np.ndarray, class_names, time_boxed: bool, time_box: float | None) -> tuple[Status, str]:
    """The verdict on a finished run and its one-line reason ("" for ok).

    - ``diverged``: the training loss is not finite, or after two or more epochs the last one's is
      above twice ln K, worse than a uniform guess twice over, no lower than the first one's (the
      paper's recipe takes AlexNet-48 from ~13.4 to ~13.8), and the last epoch's val accuracy is no
      better than chance; one epoch's mean loss of a net that is still starting is not enough to tell,
      and nor is a high, rising loss while the net answers val clearly better than chance (as a big
      net's first few steps can show);
    - ``too slow``: the time box ended it before one whole epoch;
    - ``chance``: val accuracy no better than always answering the most common val class, within two
      standard errors; when the time box cut training short, the reason says so;
    - ``time-boxed``: learning, but the time box ended it before the planned epochs.
    """
    k = len(class_names)
    losses = [r["loss"] for r in history]
    share, top, bar = chance_level(val_labels, k)
    last_val = history[-1].get("val_accuracy") if history else None
    learning = last_val is not None and math.isfinite(last_val) and last_val > bar
    if losses and (not all(math.isfinite(x) for x in losses)
                   or (len(losses) >= 2 and losses[-1] > 2 * math.log(k) and losses[-1] >= losses[0]
                       and not learning)):
        return Status.DIVERGED, (f"train loss {losses[-1]:.3g} in the last epoch, above 2 ln {k} = "
                            f"{2 * math.log(k):.2f} (a uniform guess scores {math.log(k):.2f}): lower --lr")
    full = [r for r in history if r.get("images", images_per_epoch) >= images_per_epoch]
    box = f"the {time_box:g} s time box" if time_box else "the time box"
    if not full:
        done = history[-1]["images"] if history else 0
        return Status.TOO_SLOW, (f"trained {done:,} of one epoch's {images_per_epoch:,} images in {box}; "
                            f"use a longer budget or a GPU")
    cut_short = time_boxed and len(history) < planned_epochs
    part = " and part of another" if len(history) > len(full) else ""  # the epoch the time box cut
    if val_accuracy is not None and val_accuracy <= bar:
        why = (f"; {box} held {len(full)} epoch{'s' * (len(full) > 1)}{part} of {images_per_epoch:,} images, "
               f"too few to learn here: use a longer budget or a GPU") if cut_short else ""
        return Status.CHANCE, (f"val accuracy {100 * val_accuracy:.1f}% is no better than always answering "
                          f"'{class_names[top]}' ({100 * share:.1f}% of val; {100 * bar:.1f}% is clearly better on "
                          f"{len(val_labels):,} images){why}")
    if cut_short:
        return Status.TIME_BOXED, f"{len(full)} of {planned_epochs} epochs{part} in {box}"
    return Status.OK, ""
