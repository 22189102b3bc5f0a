"""Every metric's name, once, with its spelling in each place it is written: a run's history (history.csv
and Keras' logs, per epoch), its metrics.json (the final scores), a bench row (row.json, results.*) and a
tracker (MLflow, TensorBoard). The spellings differ because those files are read by people and programs
that already know them; a translation from one to another goes through this table, never by hand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    history: str | None  # history.csv column and Keras log key, each epoch
    summary: str | None  # metrics.json key, the run's result
    row: str | None  # a bench row's key and results.csv column
    tracked: str | None  # a tracker's tag for each epoch's value
    final: bool = False  # sent to trackers at the end, as final/<summary>


METRICS = (
    Metric("loss", None, None, "train/loss"),
    Metric("accuracy", "train_accuracy", "train_acc", "train/accuracy"),
    Metric("top2_accuracy", None, None, "train/top2_accuracy"),
    Metric("val_loss", None, None, "val/loss"),
    Metric("val_accuracy", "val_accuracy", "val_acc", "val/accuracy", final=True),
    Metric("val_top2_accuracy", "val_top2_accuracy", "top2_val", "val/top2_accuracy", final=True),
    Metric(None, "val_macro_f1", None, None, final=True),
    Metric(None, "test_accuracy", "test_acc", None, final=True),
    Metric(None, "test_top2_accuracy", None, None, final=True),
    Metric(None, "test_macro_f1", "macro_f1_test", None, final=True),
    Metric(None, "val_tta_accuracy", "val_tta_acc", None),  # with the recipe's test-time views, if it has any
    Metric(None, "test_tta_accuracy", "test_tta_acc", None),
    Metric("learning_rate", None, None, "learning_rate"),
    Metric("images_per_second", "train_images_per_second", "train_samples_per_sec", None, final=True),
    Metric(None, "epochs", "epochs", None),
    Metric(None, "seconds", "total_seconds", None, final=True),
)

# each epoch's tracked tags, by history name
TRACKED = {m.history: m.tracked for m in METRICS if m.history and m.tracked}
# what a finished run sends to trackers, by metrics.json name
FINAL = tuple(m.summary for m in METRICS if m.final)


def split_scores(split: str, scores: dict) -> dict:
    """fer_zoo.training.scores.metrics' accuracy, top-2 and macro-F1 of one split under their metrics.json names."""
    return {f"{split}_{name}": scores[name] for name in ("accuracy", "top2_accuracy", "macro_f1")}


def row_scores(summary: dict) -> dict:
    """A run's metrics.json scores under a bench row's names (None where the run has none)."""
    return {m.row: summary.get(m.summary) for m in METRICS if m.row and m.summary}
