"""The ``fer-zoo`` command line: parse, call the library, print. No logic of its own.

`--help`, `list` and `plugins` must not import TensorFlow or Keras; commands that build a model
import them inside the library functions they call.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from fer_zoo import plugins as plugin_loader
from fer_zoo.errors import FerZooError


class _OneLineErrors(TyperGroup):
    """Click's usage errors (unknown flag, bad value) as one line on stderr, exit status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            sys.stderr.write(f"fer-zoo: error: {exc.format_message()}{hint}\n")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("fer-zoo: aborted\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="fer-zoo",
    help="A plugin-based model zoo for facial-expression recognition CNNs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _out() -> Console:
    return Console()


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"fer-zoo: error: {message}\n")
    return typer.Exit(2)


def _command(name: str, group: typer.Typer | None = None):
    """Register a command whose FerZooErrors end as one line on stderr and exit status 2."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except FerZooError as exc:
                raise _fail(str(exc)) from None

        return (group or app).command(name)(wrapper)

    return decorate


def _loaded_plugins() -> plugin_loader.PluginSet:
    """The plugins, with each warning printed once on stderr (an error in strict mode)."""
    loaded = plugin_loader.current()
    loaded.raise_if_strict()
    for warning in loaded.warnings:
        sys.stderr.write(f"fer-zoo: warning: {warning}\n")
    return loaded


def _import_keras_quietly() -> None:
    """Import Keras with file descriptor 2 muted: TensorFlow's C++ start-up lines (CUDA probing,
    oneDNN notes) reach stderr before any log setting applies. Python errors still propagate."""
    if "keras" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _parse_shape(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) <= 0:
        raise FerZooError(f"--input-shape: expected HxWxC such as 48x48x1, got {text!r}")
    return shape


@app.callback()
def _main() -> None:
    # TensorFlow's C++ log lines (even "failed call to cuInit" on a machine without a GPU) are noise
    # in a CLI: real failures still raise Python exceptions. A user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@_command("list")
def list_command(
    patterns: Annotated[
        list[str] | None, typer.Argument(help="fnmatch filters such as 'vgg*'; all architectures when none.")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", "-x", help="fnmatch filter to leave out.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the available architectures, built-in and from plugins."""
    from fer_zoo.report import architectures_table

    loaded = _loaded_plugins()
    archs = [loaded.get_architecture(n) for n in loaded.architectures.names(patterns or [], exclude or [])]
    if as_json:
        _print_json([a.describe() for a in archs])
    elif archs:
        _out().print(architectures_table(archs))
    else:
        sys.stderr.write("fer-zoo: no architecture matches " + " ".join(patterns or []) + "\n")


@_command("info")
def info(
    name: Annotated[str, typer.Argument(help="Architecture name, as `fer-zoo list` shows it.")],
    input_shape: Annotated[
        str | None, typer.Option("--input-shape", help="Build at HxWxC instead of the declared shape.")
    ] = None,
    num_classes: Annotated[int, typer.Option("--num-classes", min=2, help="Number of output classes.")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """Build an architecture and show its layers and parameter counts (like the paper's Table 1)."""
    from fer_zoo.models import create_model, summarize
    from fer_zoo.report import layers_table

    shape = _parse_shape(input_shape)
    arch = _loaded_plugins().get_architecture(name)
    shape = shape or arch.input_shape
    _import_keras_quietly()
    summary = summarize(create_model(arch, shape, num_classes))
    if shape == arch.input_shape and num_classes == 7:
        for attr, built in (("params", summary.total_params), ("macs", summary.macs)):
            declared = getattr(arch, attr)
            if declared is not None and declared != built:
                sys.stderr.write(
                    f"fer-zoo: warning: {arch.name} ({arch.plugin}) declares {attr}={declared:,} "
                    f"but the built model has {built:,}\n"
                )
    if as_json:
        _print_json({**arch.describe(), "input_shape": list(shape), "num_classes": num_classes, **summary.as_dict()})
    else:
        _out().print(layers_table(arch, summary, shape))


@_command("plugins")
def plugins_command(as_json: JsonFlag = False) -> None:
    """Show plugin distributions, their versions, the hooks they implement and any load errors."""
    from fer_zoo.report import plugins_table

    loaded = plugin_loader.current()
    if as_json:
        _print_json([p.describe() for p in loaded.plugins])
    else:
        _out().print(plugins_table(loaded.plugins))
    loaded.raise_if_strict()


data_app = typer.Typer(help="Look at a data source.", no_args_is_help=True)
cache_app = typer.Typer(help="The cache of parsed datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(cache_app, name="cache")


@_command("datasets")
def datasets_command(as_json: JsonFlag = False) -> None:
    """List data sources, built-in and from plugins, with their options."""
    from fer_zoo.report import datasets_table

    sources = _loaded_plugins().datasets
    if as_json:
        _print_json([s.describe() for s in sources.values()])
    else:
        _out().print(datasets_table(list(sources.values())))


@_command("inspect", data_app)
def data_inspect(
    source: Annotated[str, typer.Argument(help="synthetic (default), a CSV, a folder, or NAME:key=value,...")] = "synthetic",
    grid: Annotated[Path | None, typer.Option("--grid", help="Write a sample grid PNG here.")] = None,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Load the rest of a file with bad rows.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Counts per split and class, image size, pixel statistics, duplicates across splits."""
    from fer_zoo.data import load_dataset
    from fer_zoo.data.inspect import sample_grid, summary
    from fer_zoo.report import dataset_tables

    _loaded_plugins()
    dataset = load_dataset(source, skip_bad_rows=skip_bad_rows)
    for note in dataset.notes:
        sys.stderr.write(f"fer-zoo: note: {note}\n")
    report = summary(dataset)
    if grid is not None:
        report["grid"] = str(sample_grid(dataset, grid))
    if as_json:
        _print_json(report)
    else:
        _out().print(dataset_tables(report))


@_command("info", cache_app)
def cache_info(as_json: JsonFlag = False) -> None:
    """Where the cache is and what it holds."""
    from fer_zoo.data import cache

    details = cache.info()
    if as_json:
        _print_json(details)
    else:
        _out().print(f"{details['path']}: {len(details['entries'])} dataset(s), {details['total_bytes'] / 1e6:.1f} MB")


@_command("clear", cache_app)
def cache_clear() -> None:
    """Delete every cached dataset."""
    from fer_zoo.data import cache

    _out().print(f"removed {cache.clear()} cached dataset(s) from {cache.cache_dir()}")


def main() -> None:
    app()
