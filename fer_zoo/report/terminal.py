"""What the CLI prints: rich tables, progress displays and CSV built from plain data. Nothing here
computes results; figures are in fer_zoo.report.figures.

Long because every command's output is here, one function each, so cli.py stays free of formatting.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group
from rich.table import Table
from rich.text import Text

from fer_zoo.models.build import ModelSummary
from fer_zoo.plugins import Plugin
from fer_zoo.plugins.registry import Architecture
from fer_zoo.report.columns import view
from fer_zoo.status import note as status_note
from fer_zoo.status import severity

DASH = "—"


def human(n: int | float | None, unit: str = "") -> str:
    """2_140_231 -> '2.14 M'; the exact figure is in the JSON output."""
    if n is None:
        return DASH
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{suffix}{unit}"
    if isinstance(n, float) and not n.is_integer():
        n = float(f"{n:.3g}")  # 60.841 img/s -> 60.8
    return f"{n:g}{' ' + unit if unit else ''}"


def shape_text(shape: Iterable[int | None]) -> str:
    return "×".join(str(d) for d in shape)


def percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{100 * fraction:.1f}%"


def normalization_text(normalization: tuple[float, float]) -> str:
    """(1/255, 0) -> 'x/255'; (2/255, -1) -> '2x/255-1': what the network sees of a 0-255 pixel x."""
    scale, offset = normalization
    per = 255 * scale
    head = "x/255" if abs(per - 1) < 1e-9 else (f"{per:g}x/255" if abs(per - round(per)) < 1e-9 else f"{scale:.4g}x")
    return head if offset == 0 else f"{head}{offset:+g}"


def architectures_table(archs: list[dict]) -> Table:
    """One row per architecture as its ``describe()`` gives it, 80 columns wide (the plugin's version is in
    --json and `fer-zoo plugins`)."""
    table = _listing("fer-zoo architectures")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("plugin", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("input", justify="right", no_wrap=True)
    table.add_column("pixels", justify="right", no_wrap=True)
    table.add_column("wts", justify="center", no_wrap=True)
    table.add_column("val/test", justify="right", no_wrap=True)
    for arch in archs:
        reported = arch["reported"] or {}
        table.add_row(
            arch["name"],
            arch["plugin"] or DASH,
            human(arch["params"]).replace(" ", ""),
            human(arch["macs"]).replace(" ", ""),
            shape_text(arch["input_shape"]),
            normalization_text(arch["normalization"]),
            "✓" if arch["has_weights"] else DASH,
            reported_text(reported),
        )
    notes = ["pixels: what the network sees of a 0-255 pixel x (normalised inside every model)",
             "wts: ✓ ships pretrained weights: create_model(name, pretrained=True)"]
    if any(a["reported"] for a in archs):
        notes.append("val/test: accuracy % as the architecture's paper reported it (docs/architectures.md: "
                     "on which split)")
    table.caption = "\n".join(notes)
    return table


def reported_text(reported: dict) -> str:
    """A paper's val and test accuracy as "67.0/—", "73.3/71.3"; "—" when it reported neither."""
    if not reported.get("val") and not reported.get("test"):
        return DASH
    return "/".join(f"{100 * reported[k]:.1f}" if reported.get(k) is not None else DASH for k in ("val", "test"))


def _listing(title: str) -> Table:
    """The catalogue commands' layout: no box, one space between columns, so 80 columns hold it."""
    from rich import box

    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 0), pad_edge=False,
                 show_edge=False, caption_justify="left")


def _catalogue(title: str, entries: list[dict], caption: str, marked: str | None = None) -> Table:
    """Data sources or detectors, as their ``describe()`` gives them: the name over its plugin, the
    description over its options."""
    table = _listing(title)
    table.add_column("name / plugin", no_wrap=True)
    table.add_column("description / options", ratio=1)
    for entry in entries:
        name = Text(entry["name"] + (" (auto)" if entry["name"] == marked else ""), style="bold cyan")
        plugin = f"{entry['plugin']} {entry['plugin_version']}" if entry["plugin"] else DASH
        name.append(f"\n{plugin}", style="dim")
        about = Text(entry["description"])
        about.append(f"\noptions: {', '.join(entry['options']) or DASH}", style="dim")
        table.add_row(name, about, end_section=True)
    table.caption = caption
    return table


def layers_table(arch: Architecture, summary: ModelSummary, input_shape) -> Table:
    table = Table(
        title=f"{arch.name}: {arch.description}",
        title_justify="left",
        caption=(
            f"Pixels: {normalization_text(arch.normalization)} · shipped weights: "
            f"{'yes, predicting ' + ', '.join(arch.class_names) if arch.weights is not None else 'none'}\n"
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
    table = _listing("fer-zoo plugins")
    table.add_column("plugin", style="bold", no_wrap=True)
    table.add_column("entry point", no_wrap=True)
    table.add_column("hooks", overflow="fold")
    table.add_column("provides", overflow="fold")
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


def recipes_table(recipes: list[dict]) -> Table:
    """One row per recipe as its ``describe()`` gives it, 80 columns wide: the name over its plugin; the
    optimizer and schedule, over the budget and test-time augmentation, over what augments the training
    images and targets."""
    from fer_zoo.plugins.recipe import Recipe

    table = _listing("fer-zoo recipes")
    table.add_column("name / plugin", no_wrap=True)
    table.add_column("optimizer, schedule / epochs, batch, TTA / augmentation", ratio=1)
    for entry in recipes:
        recipe = Recipe.from_dict(entry)
        name = Text(recipe.name, style="bold cyan")
        name.append(f"\n{entry['plugin']} {entry['plugin_version']}" if entry["plugin"] else f"\n{DASH}", style="dim")
        momentum = f"{'nesterov' if recipe.nesterov else 'momentum'} {recipe.momentum:g}" if recipe.momentum else ""
        decay = (f"wd {recipe.weight_decay:g}" + (" (L2)" if recipe.weight_decay_kind == "coupled" else "")
                 if recipe.weight_decay else "")
        clip = f"clip {recipe.gradient_clip:g}" if recipe.gradient_clip else ""
        about = Text(", ".join(filter(None, [f"{recipe.optimizer} {recipe.learning_rate:g}", momentum, decay, clip]))
                     + f"; {schedule_text(recipe)}")
        tta = recipe.tta + (f" {recipe.tta_crop} px" if recipe.tta == "tencrop" and recipe.tta_crop else "")
        about.append(f"\n{recipe.epochs} epochs, batch {recipe.batch_size}; TTA {tta}")
        mixing = [f"mixup {recipe.mixup:g}" if recipe.mixup else "", f"cutmix {recipe.cutmix:g}" if recipe.cutmix else "",
                  f"label smoothing {recipe.label_smoothing:g}" if recipe.label_smoothing else ""]
        about.append("\n" + "; ".join(filter(None, [recipe.augment.summary(), ", ".join(filter(None, mixing))])),
                     style="dim")
        table.add_row(name, about, end_section=True)
    table.caption = ("--recipe NAME trains under one (default: the architecture's own); every value: "
                     "fer-zoo recipes --json")
    return table


def schedule_text(recipe) -> str:
    """The learning-rate schedule in a few words: "plateau ×0.75/5", "cosine", "step ×0.1/30", "constant";
    with its warm-up."""
    text = {"plateau": f"plateau ×{recipe.plateau_factor or 0:g}/{recipe.plateau_patience}",
            "step": f"step ×{recipe.step_factor:g}/{recipe.step_epochs}"}.get(recipe.schedule, recipe.schedule)
    return text + (f" after {recipe.warmup_epochs} warm-up" if recipe.warmup_epochs else "")


def datasets_table(sources: list[dict]) -> Table:
    return _catalogue("fer-zoo data sources", sources, "--data takes a CSV path, a folder, or NAME:key=value,...")


def detectors_table(detectors: list[dict], chosen=None) -> Table:
    """``chosen``: the detector ``--detector auto`` is (marked), or None."""
    name = chosen.name if chosen else None
    return _catalogue("fer-zoo face detectors", detectors, marked=name, caption=(
        "fer-zoo predict MODEL INPUT --detector NAME[:key=value,...]; auto (the default): "
        f"{name or 'none installed'}, the installed one of highest priority"))


def dataset_tables(report: dict) -> Group:
    image = report["image"]
    # the name above the table, not as its title: a title wraps mid-word at the table's narrow width
    head = Text(f"{report['name']}  ({image['height']}×{image['width']}×{image['channels']}"
                f"{', soft labels' if report['soft_labels'] else ''})")
    counts = Table()
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
    return Group(head, counts, stats, *lines)


def evaluation_tables(result: dict) -> Group:
    whose = " (the recipe's)" if result.get("tta_from") == "recipe" else ""
    head = Text(f"{result['model']} on {result['data']} [{result['split']}, {result['images']:,} images, "
                f"TTA {result['tta']}{whose}]: accuracy {percent(result['accuracy'])}, top-2 "
                f"{percent(result['top2_accuracy'])}, macro-F1 {result['macro_f1']:.3f}")
    parts = [head]
    if result.get("members"):
        members = Table(title="the ensemble's members, alone", title_justify="left")
        for column in ("model", "weight", "accuracy", "top-2", "macro-F1"):
            members.add_column(column, justify="left" if column == "model" else "right", overflow="fold")
        for member, weight in zip(result["members"], result["weights"]):
            members.add_row(member["model"], f"{weight:.2f}", percent(member["accuracy"]),
                            percent(member["top2_accuracy"]), f"{member['macro_f1']:.3f}")
        parts.append(members)
    table = Table(title="per class", title_justify="left")
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in result["per_class"].items():
        table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", f"{row['support']:,}")
    return Group(*parts, table)


def train_summary(result) -> Text:
    m = result.metrics
    head = "already finished: " if result.already_finished else ""
    parts = [f"{head}run {result.run_dir}: {m['epochs']} epoch(s), best val accuracy "
             f"{percent(m.get('val_accuracy'))} at epoch {m['best_epoch']}"]
    if m.get("test_accuracy") is not None:
        parts.append(f"test {percent(m['test_accuracy'])}")
    if m.get("train_images_per_second"):
        parts.append(f"{m['train_images_per_second']:,.0f} train images/s")
    text = Text(", ".join(parts))
    status = m.get("status", "ok")
    if status != "ok":
        text.append(f"\nstatus {status}: {m.get('reason', '')}", style=_status_style(status))
    return text


def epoch_label(epoch: int, epochs: int, steps: int, epoch_steps: int) -> str:
    """``3/20``, or ``1/20 (4/15 steps)`` for an epoch the time box cut short."""
    part = f" ({steps}/{epoch_steps} steps)" if steps < epoch_steps else ""
    return f"{epoch}/{epochs}{part}"


class TrainProgress:
    """A rich progress bar for `fer-zoo train` (epoch, step, images/s, val accuracy, ETA), fed by the
    train loop's reporter calls; it never asks for a batch's loss, so the device is never kept waiting."""

    def __init__(self, console=None):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(),
                                 TextColumn("step {task.completed}/{task.total}"),
                                 TextColumn("{task.fields[note]}"), TimeRemainingColumn(), console=console,
                                 transient=False)
        self.task = None

    def started(self, epochs: int, steps: int, batch_size: int, first_epoch: int) -> None:
        self.epochs, self.steps = epochs, steps
        self.progress.start()
        self.task = self.progress.add_task("", total=steps, epoch=first_epoch + 1, epochs=epochs, note="")

    def step(self, epoch: int, step: int) -> None:
        self.progress.update(self.task, completed=step, epoch=epoch)

    def epoch(self, report) -> None:
        speed = f"{report.images_per_second:,.0f} img/s, " if report.images_per_second else ""
        val = percent(report.val_accuracy)
        self.progress.update(self.task, completed=report.steps, note=f"{speed}loss {report.loss:.3f}, val {val}")
        # within 80 columns for the paper's 450 epochs; "(best)" marks the epoch best.keras now holds
        best = " (best)" if report.best_epoch == report.epoch else ""
        label = epoch_label(report.epoch, report.epochs, report.steps, report.epoch_steps)
        self.progress.console.print(f"epoch {label}: loss {report.loss:.4f}, "
                                    f"train {percent(report.accuracy)}, val {val}{best}, {speed}"
                                    f"{report.epoch_seconds:.1f} s")
        if report.epoch < report.epochs:
            self.progress.reset(self.task, total=self.steps, epoch=report.epoch + 1, epochs=self.epochs, note="")

    def stop(self) -> None:
        if self.task is not None:  # nothing started (a finished run resumed): nothing to close
            self.progress.stop()


class JsonLines:
    """One JSON object per epoch on a text stream (`fer-zoo train --json-log`, the bench worker)."""

    def __init__(self, stream, **extra):
        self.stream, self.extra = stream, extra

    def started(self, epochs: int, steps: int, batch_size: int, first_epoch: int) -> None:
        self._write({"event": "started", "epochs": epochs, "steps": steps, "batch_size": batch_size,
                     "first_epoch": first_epoch + 1})

    def step(self, epoch: int, step: int) -> None:
        pass

    def epoch(self, report) -> None:
        self._write({"event": "epoch", **report.as_dict()})

    def _write(self, record: dict) -> None:
        import json

        self.stream.write(json.dumps({**self.extra, **record}) + "\n")
        self.stream.flush()


STATUS_STYLE = {"good": "green", "warn": "yellow", "bad": "red"}  # by fer_zoo.status.Severity.tone


def _epochs_text(v: float) -> str:
    """20 whole epochs as '20'; 2 and part of a third as '2.1'."""
    return f"{v:,.1f}".removesuffix(".0")


def cell_text(row: dict, key: str, kind: str) -> str:
    value, std = row.get(key), row.get(f"{key}_std")
    if value is None:
        return DASH
    text = {"count": lambda v: human(v), "pct": lambda v: f"{100 * v:.1f}%", "f3": lambda v: f"{v:.3f}",
            "int": lambda v: f"{v:,.0f}", "f1": lambda v: f"{v:.1f}", "epochs": _epochs_text, "": str}[kind]
    if std is None:
        return text(value)
    spread = {"pct": f"{100 * std:.1f}", "f3": f"{std:.3f}", "int": f"{std:,.0f}", "f1": f"{std:.1f}",
              "epochs": _epochs_text(std)}.get(kind, "")
    return f"{text(value)} ± {spread}" if spread else text(value)


def _compact_cell(row: dict, key: str, kind: str) -> str:
    """A narrow cell: '65.1±2.3' (the header says %), '96.1k±1.2k'."""
    def short(v: float) -> str:
        if kind == "pct":
            return f"{100 * v:.1f}"
        return human(v).replace(" ", "")

    value, std = row.get(key), row.get(f"{key}_std")
    if value is None:
        return DASH
    return short(value) if std is None else f"{short(value)}±{short(std)}"


def bench_subject(environment: dict) -> str:
    """What a bench measured and where, in a few words (figure titles)."""
    return (f"{environment['dataset']}, budget {environment['budget']['name']}{recipe_text(environment)}, "
            f"{environment['device']}, {environment['backend']}")


def bench_header(environment: dict) -> str:
    devices = environment.get("devices", 1)
    return (f"fer-zoo bench · {environment['dataset']} · budget {environment['budget']['name']} · "
            f"{environment['device']} · {environment['backend']} · {environment['precision']} · "
            f"seeds {environment['seeds']}" + recipe_text(environment)
            + (f" · {devices} devices per row" if devices not in (1, None) else ""))


def recipe_text(environment: dict) -> str:
    """' · recipe seed' when one recipe trained every row; nothing when each used its own (or before)."""
    recipe = environment.get("recipe")
    return f" · recipe {recipe}" if recipe else ""


BENCH_FOOTNOTE = ("† reported val, test: as the architecture's paper reported them on FER2013 (the seed paper "
                  "does not name its split; docs/architectures.md gives each protocol); ours are on the data named "
                  "above.")


def _notes(environment: dict, wide: bool) -> list[str]:
    budget = environment["budget"]
    notes = [f"budget {budget['name']}: {budget['description']}." + (
        " Accuracies need --budget quick or paper." if budget["name"] == "smoke" else "")]
    side_by_side = environment.get("concurrent_rows") or 1
    if side_by_side > 1:
        where = "on a Ray cluster" if environment.get("executor") == "ray" else "on this machine"
        notes.append(f"Up to {side_by_side} rows ran at once {where}: img/s, latency and seconds were measured "
                     f"side by side, not alone (time rows one at a time for speed comparisons).")
    return notes + ([BENCH_FOOTNOTE, status_note()] if wide else [])


def _status_style(status: str | None) -> str:
    return STATUS_STYLE[severity(status).tone]


def _rich_table(table: Table, rows: list[dict], columns, narrow: bool) -> Table:
    """``columns`` (fer_zoo.report.columns) as ``table``'s columns, then one line per row."""
    for column in columns:
        heading = column.narrow[0] if narrow else column.heading
        if column.key == "model":
            table.add_column(heading, style="bold cyan", no_wrap=True)
        elif column.key == "status":
            table.add_column(heading, no_wrap=True)
        else:
            table.add_column(heading, justify="right", no_wrap=narrow)
    for row in rows:
        cells = []
        for column in columns:
            if column.key == "model":
                cells.append(row["model"])
            elif column.key == "status":
                cells.append(Text(row["status"], style=_status_style(row["status"])))
            elif narrow:
                cells.append(_compact_cell(row, column.key, column.narrow[1]))
            else:
                cells.append(cell_text(row, column.key, column.format))
        table.add_row(*cells)
    return table


def bench_table(rows: list[dict], environment: dict, wide: bool = False, reused: list[str] = ()) -> Group:
    """The comparison: one table of the main columns (80 columns wide), or with ``wide`` two full ones,
    accuracy then speed; the reason of every row that is not ok below."""
    if wide:
        ends = view("wide", "row"), view("wide", "verdict")
        tables = [_rich_table(table, rows, [*ends[0], *view("wide", group), *ends[1]], narrow=False)
                  for table, group in ((Table(title=bench_header(environment), title_justify="left"), "accuracy"),
                                       (Table(), "speed"))]
    else:
        from rich import box

        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
        tables = [Text(bench_header(environment), style="bold"), _rich_table(table, rows, view("narrow"), narrow=True)]
    reasons = [Text(f"{r['model']}: {r['error']}", style=_reason_style(r["status"])) for r in rows if r.get("error")]
    notes = [Text(note, style="dim") for note in _notes(environment, wide)]
    if reused:
        notes.append(Text(f"reused from an earlier run in this --out: {', '.join(reused)} (--force reruns them)",
                          style="dim"))
    return Group(*tables, *reasons, *notes)


def _reason_style(status: str | None) -> str:
    """A row's reason: yellow while the row learned or was only short of time, red once it did not learn."""
    return STATUS_STYLE["bad" if severity(status).tone == "bad" else "warn"]


def bench_markdown(rows: list[dict], environment: dict) -> str:
    columns = view("markdown")
    lines = [f"**{bench_header(environment)}**", "", "| " + " | ".join(c.heading for c in columns) + " |",
             "|" + "|".join("---:" if c.format else "---" for c in columns) + "|"]
    for row in rows:
        cells = [f"`{row['model']}`" if c.key == "model" else row["status"] if c.key == "status"
                 else cell_text(row, c.key, c.format) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- `{r['model']}` {r['status']}: {r['error']}" for r in rows if r.get("error")]
    lines += ["", *(f"{note}  " for note in _notes(environment, wide=True)), ""]
    return "\n".join(lines)


class BenchProgress:
    """Shows a bench while it runs: in a terminal, a live table (row, epoch x/N, img/s, val accuracy,
    ETA, state); otherwise one line per epoch and per row. Fed with fer_zoo.benchmark.bench's events."""

    def __init__(self, console, names: list[str], seeds: int):
        self.console = console
        self.live = None
        self.rows: dict[tuple[str, int], dict] = {(n, s): {"state": "waiting"} for n in names for s in range(seeds)}
        self.seeds = seeds
        self.reused: list[str] = []
        if console.is_terminal:
            from rich.live import Live

            self.live = Live(self.table(), console=console, refresh_per_second=4, transient=True)
            self.live.start()

    def _label(self, model: str, seed: int) -> str:
        return model if self.seeds == 1 else f"{model} seed {seed}"

    def __call__(self, event: dict) -> None:
        key = (event["model"], event["seed"])
        entry = self.rows.setdefault(key, {})
        label = self._label(*key)
        if event["event"] == "row":
            state = event["state"]
            if state == "reused":
                self.reused.append(label)
                entry.update(state=f"reused ({event['row'].get('status', '?')})")
                self._line(f"{label}: reused from {event['path']} (finished earlier)")
            elif state == "started":
                entry.update(state="starting")
                self._line(f"{label}: starting")
            elif state == "queued":
                entry.update(state="queued")
            elif state == "running":  # a Ray task started on a node
                entry.update(state=f"on {event['node']}", node=event["node"])
                self._line(f"{label}: running on {event['node']}")
            elif state == "retrying":
                entry.update(state="retrying")
                self._line(f"{label}: {event['reason']}")
            elif state == "finished":
                row = event["row"]
                entry.update(state=row.get("status", "?"), eta=None)
                detail = row.get("reason") or row.get("error") or ""
                self._line(f"{label}: {row.get('status')} · val {percent(row.get('val_acc'))} · test "
                           f"{percent(row.get('test_acc'))}" + (f" · {detail}" if detail else ""))
        elif event["event"] == "started":
            entry.update(state=self._training(entry), epochs=event["epochs"], epoch=event["first_epoch"] - 1)
        elif event["event"] == "epoch":
            entry.update(state=self._training(entry), epoch=event["epoch"], epochs=event["epochs"],
                         speed=event.get("images_per_second"), val=event.get("val_accuracy"),
                         eta=event.get("eta_seconds"))
            speed = f" · {event['images_per_second']:,.0f} img/s" if event.get("images_per_second") else ""
            epoch = epoch_label(event["epoch"], event["epochs"], event["steps"], event["epoch_steps"])
            self._line(f"{label}: epoch {epoch} · val "
                       f"{percent(event.get('val_accuracy'))}{speed} · {event['epoch_seconds']:.1f} s")
        if self.live is not None:
            self.live.update(self.table())

    @staticmethod
    def _training(entry: dict) -> str:
        return f"training on {entry['node']}" if entry.get("node") else "training"

    def _line(self, text: str) -> None:
        if self.live is None:
            self.console.print(text, markup=False, highlight=False)

    def table(self) -> Table:
        """The rows as they stand, as the live display on a terminal shows them."""
        table = Table(title="fer-zoo bench", title_justify="left")
        for column in ("row", "epoch", "img/s", "val", "ETA", "state"):
            table.add_column(column, justify="left" if column in ("row", "state") else "right", no_wrap=True)
        for (model, seed), entry in self.rows.items():
            epoch = f"{entry['epoch']}/{entry['epochs']}" if entry.get("epochs") else DASH
            speed = f"{entry['speed']:,.0f}" if entry.get("speed") else DASH
            eta = f"{entry['eta']:.0f} s" if entry.get("eta") is not None else DASH
            table.add_row(self._label(model, seed), epoch, speed, percent(entry.get("val")), eta, entry["state"])
        return table

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()


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


def explanations_table(explanations, files) -> Table:
    """One row per explained face from `fer-zoo explain`: the answer, the class explained, the map's file."""
    table = Table(title="Where the evidence is", title_justify="left")
    for column in ("source", "box [x, y, w, h]", "expression", "explained", "heat map"):
        table.add_column(column, overflow="fold")
    for e, path in zip(explanations, files):
        table.add_row(e.source, "whole image" if e.box is None else str(e.box),
                      f"{e.label} {e.probabilities[e.label]:.0%}", e.target, str(path))
    return table


def write_predictions_csv(faces, class_names, stream) -> None:
    """One CSV row per face (or faceless frame): source, frame, box, label, one probability per class."""
    import csv

    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["source", "frame", "x", "y", "w", "h", "label", *class_names])
    for face in faces:
        box = face.box or [""] * 4
        probs = [f"{face.probabilities[c]:.6f}" for c in class_names] if face.probabilities else [""] * len(class_names)
        writer.writerow([face.source, "" if face.frame is None else face.frame, *box, face.label or "", *probs])


def predict_summary(summary) -> str:
    found_by = f" (detector {summary.detector})" if summary.detector else " (no detection)"
    parts = [f"{summary.faces:,} face{'s' * (summary.faces != 1)} in {summary.frames:,} "
             f"frame{'s' * (summary.frames != 1)}{found_by}"]
    if summary.frames_without_face:
        parts.append(f"{summary.frames_without_face:,} without a face")
    if summary.unreadable:
        parts.append(f"{summary.unreadable:,} input{'s' * (summary.unreadable != 1)} unreadable")
    line = ", ".join(parts)
    if summary.faces:
        line += (f" · {summary.faces_per_second:,.0f} faces/s end to end · classification "
                 f"{summary.ms_per_face:.2f} ms/face at batch {summary.batch_size} on {summary.runtime}")
    return line
