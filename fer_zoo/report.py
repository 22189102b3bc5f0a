"""Rich tables (and, later, figures) built from plain data. Nothing here computes results."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group
from rich.table import Table
from rich.text import Text

from fer_zoo.models import ModelSummary
from fer_zoo.plugins import Plugin
from fer_zoo.registry import Architecture

DASH = "—"


def human(n: int | float | None, unit: str = "") -> str:
    """2_140_231 -> '2.14 M'; the exact figure is in the JSON output."""
    if n is None:
        return DASH
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{suffix}{unit}"
    return f"{n:g}{' ' + unit if unit else ''}"


def shape_text(shape: Iterable[int | None]) -> str:
    return "×".join(str(d) for d in shape)


def percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{100 * fraction:.1f}%"


def architectures_table(archs: list[Architecture]) -> Table:
    table = Table(title="fer-zoo architectures", title_justify="left")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("plugin")
    table.add_column("params", justify="right")
    table.add_column("MACs/image", justify="right")
    table.add_column("input", justify="right")
    table.add_column("reported val", justify="right")
    for arch in archs:
        reported = (arch.reported or {}).get("val")
        table.add_row(
            arch.name,
            str(arch.plugin) if arch.plugin else DASH,
            f"{arch.params:,}" if arch.params is not None else DASH,
            human(arch.macs),
            shape_text(arch.input_shape),
            percent(reported),
        )
    if any(a.reported for a in archs):
        table.caption = "reported val: as the architecture's paper reported it (split not always named)"
        table.caption_justify = "left"
    return table


def layers_table(arch: Architecture, summary: ModelSummary, input_shape) -> Table:
    table = Table(
        title=f"{arch.name}: {arch.description}",
        title_justify="left",
        caption=(
            f"Total params: {summary.total_params:,}\n"
            f"Trainable params: {summary.trainable_params:,}\n"
            f"Non-trainable params: {summary.non_trainable_params:,}\n"
            f"MACs/image: {summary.macs:,} ({human(summary.macs)}) at input {shape_text(input_shape)}"
        ),
        caption_justify="left",
    )
    table.add_column("Layer (type)")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    for row in summary.layers:
        table.add_row(f"{row.name} ({row.type})", "(" + ", ".join(map(str, row.output_shape)) + ")", f"{row.params:,}")
    return table


def plugins_table(plugins: list[Plugin]) -> Group:
    """One row per entry point; the full error text of broken ones follows the table, unsqueezed."""
    table = Table(title="fer-zoo plugins", title_justify="left")
    table.add_column("plugin", style="bold", no_wrap=True)
    table.add_column("entry point", no_wrap=True)
    table.add_column("hooks")
    table.add_column("provides")
    table.add_column("status", no_wrap=True)
    errors = []
    for p in plugins:
        if p.disabled:
            status = Text("disabled", style="yellow")
        elif p.error:
            status = Text("incompatible" if p.incompatible else "error", style="red")
            errors.append(Text(f"{p.distribution} {p.version} ({p.name}): {p.error}", style="red"))
        else:
            status = Text("ok", style="green")
        # fer_zoo_register_architectures -> architectures; `plugins --json` has the full names
        hooks = ", ".join(h.removeprefix("fer_zoo_").removeprefix("register_") for h in p.hooks)
        table.add_row(f"{p.distribution} {p.version}", p.name, hooks or DASH, ", ".join(p.architectures + p.datasets + p.detectors) or DASH, status)
    return Group(table, *errors)


def datasets_table(sources) -> Table:
    table = Table(title="fer-zoo data sources", title_justify="left")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("plugin", no_wrap=True)
    table.add_column("description")
    table.add_column("options")
    for s in sources:
        table.add_row(s.name, str(s.plugin) if s.plugin else DASH, s.description, ", ".join(s.options) or DASH)
    table.caption = "--data takes a CSV path, a folder, or NAME:key=value,..."
    table.caption_justify = "left"
    return table


def detectors_table(detectors) -> Table:
    table = Table(title="fer-zoo face detectors", title_justify="left")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("plugin", no_wrap=True)
    table.add_column("description")
    for d in detectors:
        table.add_row(d.name, str(d.plugin) if d.plugin else DASH, d.description)
    table.caption = "fer-zoo predict MODEL INPUT --detector NAME"
    table.caption_justify = "left"
    return table


def dataset_tables(report: dict) -> Group:
    image = report["image"]
    counts = Table(title=f"{report['name']}  ({image['height']}×{image['width']}×{image['channels']}"
                         f"{', soft labels' if report['soft_labels'] else ''})", title_justify="left")
    counts.add_column("class")
    splits = list(report["splits"])
    for split in splits:
        counts.add_column(split, justify="right")
    for cls in report["classes"]:
        counts.add_row(cls, *(f"{report['splits'][s][cls]:,}" for s in splits))
    counts.add_row("total", *(f"{sum(report['splits'][s].values()):,}" for s in splits), style="bold")
    stats = Table(title="pixels", title_justify="left")
    for column in ("split", "mean", "std", "min", "max"):
        stats.add_column(column, justify="right" if column != "split" else "left")
    for split, p in report["pixels"].items():
        stats.add_row(split, *(DASH if p[k] is None else str(p[k]) for k in ("mean", "std", "min", "max")))
    dupes = ", ".join(f"{pair}: {n}" for pair, n in report["duplicates_across_splits"].items())
    lines = [Text(f"identical images across splits: {dupes or DASH}")]
    if report.get("grid"):
        lines.append(Text(f"sample grid: {report['grid']}"))
    return Group(counts, stats, *lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_png(histories: dict[str, list[dict]], path, val_only: bool = False) -> None:
    """Accuracy and loss per epoch, train dashed and val solid, like the seed paper's Figs. 2-4."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in histories.items():
        epochs = [r["epoch"] for r in rows]
        for ax, key in ((acc_ax, "accuracy"), (loss_ax, "loss")):
            line, = ax.plot(epochs, [r.get(f"val_{key}") for r in rows], marker="o", label=f"{name} val")
            if not val_only:
                ax.plot(epochs, [r.get(key) for r in rows], linestyle="--", color=line.get_color(),
                        label=f"{name} train")
    loss_ax.set_yscale("log")  # a diverging network must not flatten everyone else's curve
    for ax, title in ((acc_ax, "accuracy"), (loss_ax, "loss (log scale)")):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.25
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def confusion_png(matrix, class_names, path, title: str = "") -> None:
    """The row-normalised confusion matrix (each true class sums to 1), counts in each cell."""
    import numpy as np

    plt = _pyplot()
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(j, i, f"{normalised[i, j]:.2f}\n({int(counts[i, j])})", ha="center", va="center", fontsize=7,
                    color="white" if normalised[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(title or "confusion matrix (row-normalised)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def evaluation_tables(result: dict) -> Group:
    head = Text(f"{result['model']} on {result['data']} [{result['split']}, {result['images']:,} images, "
                f"TTA {result['tta']}]: accuracy {percent(result['accuracy'])}, top-2 "
                f"{percent(result['top2_accuracy'])}, macro-F1 {result['macro_f1']:.3f}")
    table = Table(title="per class", title_justify="left")
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in result["per_class"].items():
        table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", f"{row['support']:,}")
    return Group(head, table)


def train_summary(result) -> Text:
    m = result.metrics
    parts = [f"run {result.run_dir}: {m['epochs']} epoch(s), best val accuracy {percent(m.get('val_accuracy'))} "
             f"at epoch {m['best_epoch']}"]
    if m.get("test_accuracy") is not None:
        parts.append(f"test {percent(m['test_accuracy'])}")
    if m.get("train_images_per_second"):
        parts.append(f"{m['train_images_per_second']:,.0f} train images/s")
    return Text(", ".join(parts))


def training_progress(total_epochs: int, steps: int, batch_size: int, json_log: bool = False, quiet: bool = False):
    """A Keras callback drawing a rich progress bar (epoch, step, loss, accuracy, images/s, ETA),
    or printing one JSON line per epoch."""
    import json
    import sys
    import time

    import keras
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    class ProgressBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.progress = None
            if not (quiet or json_log):
                self.progress = Progress(TextColumn("epoch {task.fields[epoch]}/" + str(total_epochs)),
                                         BarColumn(), TextColumn("step {task.completed}/{task.total}"),
                                         TextColumn("loss {task.fields[loss]:.4f} acc {task.fields[acc]:.3f}"),
                                         TextColumn("{task.fields[speed]:,.0f} img/s"), TimeRemainingColumn(),
                                         transient=False)
                self.progress.start()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.started = epoch + 1, time.perf_counter()
            if self.progress:
                self.task = self.progress.add_task("", total=steps, epoch=self.epoch, loss=0.0, acc=0.0, speed=0.0)

        def on_train_batch_end(self, batch, logs=None):
            if self.progress:
                logs = logs or {}
                elapsed = time.perf_counter() - self.started
                self.progress.update(self.task, completed=batch + 1, loss=float(logs.get("loss", 0.0)),
                                     acc=float(logs.get("accuracy", 0.0)),
                                     speed=(batch + 1) * batch_size / elapsed if elapsed > 0 else 0.0)

        def on_epoch_end(self, epoch, logs=None):
            if json_log:
                record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
                sys.stdout.write(json.dumps(record) + "\n")
                sys.stdout.flush()

        def on_train_end(self, logs=None):
            if self.progress:
                self.progress.stop()

    return ProgressBar()


ACCURACY_COLUMNS = [  # (key, header, format)
    ("param_count", "params", "count"), ("macs", "MACs", "count"), ("train_acc", "train acc", "pct"),
    ("val_acc", "val acc", "pct"), ("test_acc", "test acc", "pct"), ("top2_val", "top-2 val", "pct"),
    ("macro_f1_test", "F1 test", "f3"), ("epochs", "epochs", "int"), ("reported_val_acc", "paper val*", "pct"),
]
SPEED_COLUMNS = [
    ("train_samples_per_sec", "train img/s", "int"), ("infer_samples_per_sec", "infer img/s (b256)", "int"),
    ("latency_ms", "latency ms (b1)", "f1"), ("seconds_per_epoch", "s/epoch", "f1"), ("total_seconds", "total s", "int"),
]
BENCH_COLUMNS = ACCURACY_COLUMNS + SPEED_COLUMNS


def _cell(row: dict, key: str, kind: str) -> str:
    value, std = row.get(key), row.get(f"{key}_std")
    if value is None:
        return DASH
    text = {"count": lambda v: human(v), "pct": lambda v: f"{100 * v:.1f}%", "f3": lambda v: f"{v:.3f}",
            "int": lambda v: f"{v:,.0f}", "f1": lambda v: f"{v:.1f}"}[kind]
    if std is None:
        return text(value)
    spread = {"pct": f"{100 * std:.1f}", "f3": f"{std:.3f}", "int": f"{std:,.0f}", "f1": f"{std:.1f}"}.get(kind, "")
    return f"{text(value)} ± {spread}" if spread else text(value)


def bench_header(environment: dict) -> str:
    budget = environment["budget"]
    return (f"fer-zoo bench · {environment['dataset']} · budget {budget['name']} · device {environment['device']} · "
            f"backend {environment['backend']} · precision {environment['precision']} · "
            f"seeds {environment['seeds']}")


BENCH_FOOTNOTE = ("* paper val: the seed paper's reported validation accuracy on FER2013 (its split is unknown); "
                  "ours is on the data named above. time-boxed: training stopped by the budget's time box.")
SMOKE_NOTE = ("smoke budget: a pipeline and speed check (2,000 training images, 3 epochs, 25 s per architecture); "
              "accuracies need --budget quick or paper.")


def _footnote(environment: dict) -> str:
    return BENCH_FOOTNOTE + ("\n" + SMOKE_NOTE if environment["budget"]["name"] == "smoke" else "")


def bench_table(rows: list[dict], environment: dict) -> Group:
    """Two tables, accuracy then speed, so each stays readable in a terminal."""
    accuracy = Table(title=bench_header(environment), title_justify="left")
    speed = Table(caption=_footnote(environment), caption_justify="left")
    for table, columns in ((accuracy, ACCURACY_COLUMNS), (speed, SPEED_COLUMNS)):
        table.add_column("model", style="bold cyan", no_wrap=True)
        for _, header, _ in columns:
            table.add_column(header, justify="right")
        table.add_column("status", no_wrap=True)
    for row in rows:
        status = Text(row["status"], style="green" if row["status"] == "ok" else
                      ("yellow" if row["status"] == "time-boxed" else "red"))
        accuracy.add_row(row["model"], *(_cell(row, k, kind) for k, _, kind in ACCURACY_COLUMNS), status)
        speed.add_row(row["model"], *(_cell(row, k, kind) for k, _, kind in SPEED_COLUMNS), status)
    errors = [Text(f"{r['model']}: {r['error']}", style="red") for r in rows if r.get("error")]
    return Group(accuracy, speed, *errors)


def bench_markdown(rows: list[dict], environment: dict) -> str:
    headers = ["model", *(h for _, h, _ in BENCH_COLUMNS), "status"]
    lines = [f"**{bench_header(environment)}**", "", "| " + " | ".join(headers) + " |",
             "|" + "|".join(["---"] + ["---:"] * len(BENCH_COLUMNS) + ["---"]) + "|"]
    for row in rows:
        cells = [f"`{row['model']}`", *(_cell(row, k, kind) for k, _, kind in BENCH_COLUMNS), row["status"]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_footnote(environment).split("\n"), ""]
    return "\n".join(lines)


def accuracy_vs_params_png(rows: list[dict], path) -> None:
    """Test (or val) accuracy against parameter count, log scale, one labelled point per architecture."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for row in rows:
        accuracy = row.get("test_acc") if row.get("test_acc") is not None else row.get("val_acc")
        if row.get("param_count") and accuracy is not None:
            ax.scatter(row["param_count"], 100 * accuracy, s=60)
            ax.annotate(row["model"], (row["param_count"], 100 * accuracy), textcoords="offset points",
                        xytext=(6, 4), fontsize=9)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.set_title("accuracy vs parameters")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def predictions_table(faces) -> Table:
    """One row per face (or faceless frame) from `fer-zoo predict`."""
    table = Table(title="Predicted expressions", title_justify="left")
    for column, justify in (("source", "left"), ("frame", "right"), ("box [x, y, w, h]", "left"),
                            ("expression", "left"), ("p", "right"), ("runner-up", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for face in faces:
        frame = "–" if face.frame is None else str(face.frame)
        if face.box is None:
            table.add_row(face.source, frame, "–", Text("no face found", style="dim"), "", "")
            continue
        ranked = sorted(face.probabilities.items(), key=lambda kv: -kv[1])
        second = f"{ranked[1][0]} {ranked[1][1]:.0%}" if len(ranked) > 1 else ""
        table.add_row(face.source, frame, str(face.box), Text(face.label, style="bold"), f"{ranked[0][1]:.0%}",
                      second)
    return table


def predict_summary(summary) -> str:
    parts = [f"{summary.faces:,} face{'s' * (summary.faces != 1)} in {summary.frames:,} "
             f"frame{'s' * (summary.frames != 1)}"]
    if summary.frames_without_face:
        parts.append(f"{summary.frames_without_face:,} without a face")
    if summary.unreadable:
        parts.append(f"{summary.unreadable:,} input{'s' * (summary.unreadable != 1)} unreadable")
    line = ", ".join(parts)
    if summary.faces:
        line += (f" · {summary.faces_per_second:,.0f} faces/s end to end · classification "
                 f"{summary.ms_per_face:.2f} ms/face at batch {summary.batch_size} on {summary.runtime}")
    return line
