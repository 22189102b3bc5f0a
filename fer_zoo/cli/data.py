"""`data inspect`, `cache info`, `cache clear`: a data source looked at, the parsed-data cache."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fer_zoo.cli.base import JsonFlag, app, command, console, loaded_plugins, print_json



data_app = typer.Typer(help="Look at a data source.", no_args_is_help=True)
cache_app = typer.Typer(help="The cache of parsed datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(cache_app, name="cache")

@command("inspect", data_app)
def data_inspect(
    source: Annotated[str, typer.Argument(help="synthetic (default), a CSV, a folder, or NAME:key=value,...")] = "synthetic",
    grid: Annotated[Path | None, typer.Option("--grid", help="Write a sample grid PNG here.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --grid file.")] = False,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Load the rest of a file with bad rows.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Counts per split and class, image size, pixel statistics, duplicates across splits."""
    import fer_zoo.api
    from fer_zoo.report.terminal import dataset_tables

    loaded_plugins()
    report = fer_zoo.api.inspect_data(source, grid=grid, force=force, skip_bad_rows=skip_bad_rows)
    for note in report["notes"]:
        sys.stderr.write(f"fer-zoo: note: {note}\n")
    if as_json:
        print_json(report)
    else:
        console().print(dataset_tables(report))


@command("info", cache_app)
def cache_info(as_json: JsonFlag = False) -> None:
    """Where the cache is and what it holds."""
    from fer_zoo.data import cache

    details = cache.info()
    if as_json:
        print_json(details)
    else:
        compiled = ", ".join(f"{kind} {c['files']} file(s) {c['bytes'] / 1e6:.1f} MB"
                             for kind, c in details["compiled"].items())
        left = details["leftovers"]
        console().print(f"{details['path']}: {len(details['entries'])} dataset(s), {details['total_bytes'] / 1e6:.1f} MB"
                     + (f"; compiled: {compiled}" if compiled else "")
                     + (f"; {left['files']} leftover(s) of killed writes, {left['bytes'] / 1e6:.1f} MB "
                        f"(removed by the next write or `cache clear`)" if left["files"] else ""))


@command("clear", cache_app)
def cache_clear() -> None:
    """Delete every cached dataset."""
    from fer_zoo.data import cache

    console().print(f"removed {cache.clear()} cached dataset(s) from {cache.cache_dir()}")
