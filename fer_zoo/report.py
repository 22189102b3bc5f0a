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
            status = Text("error", style="red")
            errors.append(Text(f"{p.distribution} {p.version} ({p.name}): {p.error}", style="red"))
        else:
            status = Text("ok", style="green")
        # fer_zoo_register_architectures -> architectures; `plugins --json` has the full names
        hooks = ", ".join(h.removeprefix("fer_zoo_").removeprefix("register_") for h in p.hooks)
        table.add_row(f"{p.distribution} {p.version}", p.name, hooks or DASH, ", ".join(p.architectures + p.datasets) or DASH, status)
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
