"""What every ``fer-zoo`` command shares: the app, one-line errors, the plain help, the console, the
options several commands take, the run settings' options (fer_zoo.training.run_config) and the parsers of
values typer cannot type."""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import os
import sys
import typing
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from fer_zoo import plugins as plugin_loader
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.training import run_config



# `fer-zoo --help` lists the commands in this order, whichever module registers them
ORDER = ("list", "info", "plugins", "recipes", "train", "reproduce", "evaluate", "export", "predict", "bench",
         "explain", "report", "serve", "new-plugin", "datasets", "detectors", "data", "cache")


class _OneLineErrors(TyperGroup):
    """Click's usage errors (unknown flag, bad value) as one line on stderr, exit status 2; commands in ORDER."""

    def list_commands(self, ctx):
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:
            if isinstance(exc, NoArgsIsHelpError):
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


try:
    from typer._click.exceptions import NoArgsIsHelpError
except ImportError:  # a typer that does not vendor click: no such error to tell apart
    class NoArgsIsHelpError(Exception):
        pass


class _PlainHelp(TyperCommand):
    """Help in the familiar shape: `fer-zoo info [OPTIONS] NAME`, `--out OUT`, and flags without a
    `<bool>` beside them (typer's own style writes `{name}`, `<str>` and `<bool>`)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if param.metavar is not None or param.name is None:
                continue
            if isinstance(param, TyperOption):
                param.metavar = "" if param.is_flag else param.name.upper()
            elif isinstance(param, TyperArgument):
                param.metavar = shown = param.name.upper()
                more = "..." if param.nargs != 1 else ""
                usage = f"{shown}{more}" if param.required else f"[{shown}{more}]"
                param._usage_display_name = lambda usage=usage: usage  # noqa: B023
                param.display_type_rich = lambda ctx: None
        return params


app = typer.Typer(
    cls=_OneLineErrors,
    name="fer-zoo",
    help="A plugin-based model zoo for facial-expression recognition CNNs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
QuietFlag = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]
JsonLogFlag = Annotated[bool, typer.Option("--json-log", help="One JSON line per epoch on stdout.")]
ForceFlag = Annotated[bool, typer.Option("--force", help="Overwrite an existing --out.")]
TrackOption = Annotated[str | None, typer.Option("--track", help="mlflow, tensorboard or both (comma-separated): "
                                                                 "settings, scores per epoch, files.")]
TrackUriOption = Annotated[str | None, typer.Option("--track-uri", help="MLflow tracking URI (default: "
                                                                        "sqlite store in mlruns/) or TensorBoard "
                                                                        "folder (default: in each run).")]
DetectorOption = Annotated[str, typer.Option(
    "--detector", help="Face detector, NAME[:key=value,...] (see 'fer-zoo detectors'); auto: the installed one of "
                       "highest priority.")]
RuntimeOption = Annotated[str, typer.Option(
    "--runtime", help="For Keras models: keras (the backend's compiled function), onnx (converted once, cached, "
                      "run by ONNX Runtime) or auto (onnx where possible). Exported files use their own runtime.")]


def console() -> Console:
    # a terminal keeps its own width, and $COLUMNS is obeyed; otherwise a pipe or file gets room for wide tables.
    # No markup: what is printed holds file names, paths and plugins' text, whose "[/]" or "[bold]" is literal;
    # styles come from Text objects and column styles.
    wide = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
    return Console(markup=False) if wide else Console(width=160, markup=False)


def fail(message: str) -> typer.Exit:
    sys.stderr.write(f"fer-zoo: error: {message}\n")
    return typer.Exit(2)


def command(name: str, group: typer.Typer | None = None):
    """Register a command whose FerZooErrors end as one line on stderr and exit status 2."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except FerZooError as exc:
                raise fail(str(exc)) from None

        return (group or app).command(name, cls=_PlainHelp)(wrapper)

    return decorate


def given_on_command_line(context: typer.Context) -> set[str]:
    """The parameters of the running command that the command line set (not their defaults)."""
    return {name for name in context.params
            if getattr(context.get_parameter_source(name), "name", "") == "COMMANDLINE"}


def loaded_plugins() -> plugin_loader.PluginSet:
    """The plugins, with each warning printed once on stderr (an error in strict mode)."""
    loaded = plugin_loader.checked()
    for warning in loaded.warnings:
        sys.stderr.write(f"fer-zoo: warning: {warning}\n")
    return loaded


@dataclass(frozen=True)
class Reporting:
    """How a training command (train, reproduce) reports: its --quiet, --json-log, --track and --track-uri,
    declared once in REPORTING and given to the command as one value (``"reporting"`` in a
    :func:`with_settings` layout)."""

    quiet: bool = False
    json_log: bool = False
    track: str | None = None
    track_uri: str | None = None

    @contextlib.contextmanager
    def reporter(self):
        """What training reports through: one JSON line per epoch with --json-log, nothing with --quiet,
        else the live progress display, stopped however training ends."""
        from fer_zoo.report.terminal import JsonLines, TrainProgress

        if self.json_log or self.quiet:
            yield JsonLines(sys.stdout) if self.json_log else None
            return
        progress = TrainProgress(console())
        try:
            yield progress
        finally:
            progress.stop()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def parse_weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise FerZooError(f"--weights: expected comma-separated numbers such as 2,1,1, got {text!r}") from None


def parse_shape(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    parts = [part.strip() for part in text.lower().split("x")]
    # ASCII digits only, as every number option takes: int() would read "٤٨" as 48
    shape = tuple(int(p) for p in parts) if all(p.isascii() and p.isdigit() for p in parts) else ()
    if len(shape) != 3 or min(shape) <= 0:
        raise FerZooError(f"--input-shape: expected HxWxC such as 48x48x1, got {text!r}")
    return shape


class _OneLineLog(logging.Handler):
    """The library's notes and warnings (logger ``fer_zoo``) as one line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        kind = "warning" if record.levelno >= logging.WARNING else "note"
        sys.stderr.write(f"fer-zoo: {kind}: {one_line(record.getMessage())}\n")


@app.callback()
def _main() -> None:
    logger = logging.getLogger("fer_zoo")
    if not any(isinstance(h, _OneLineLog) for h in logger.handlers):
        logger.addHandler(_OneLineLog())
        logger.setLevel(logging.INFO)
        logger.propagate = False


DataOption = Annotated[str, typer.Option("--data", help="synthetic (default), a CSV, a folder, or NAME:key=value,...")]

REPORTING = {"quiet": QuietFlag, "json_log": JsonLogFlag, "track": TrackOption, "track_uri": TrackUriOption}


def with_settings(fn, layout: list[str | list[str]], bench: bool = False):
    """``fn`` as a command whose options are its own parameters, the run settings' (fer_zoo.training.run_config)
    and the :class:`Reporting` ones, in the order ``layout`` gives: a parameter's name, a list of settings, or
    ``"reporting"`` (then ``fn`` takes ``reporting: Reporting``)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    own = {name: param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[name])
           for name, param in inspect.signature(fn).parameters.items()
           if param.kind is not param.VAR_KEYWORD and name != "reporting"}
    reporting = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind,
                                   default=getattr(Reporting, name)) for name, kind in REPORTING.items()]
    params = [p for item in layout for p in (run_config.cli_parameters(item, bench) if isinstance(item, list)
                                              else reporting if item == "reporting" else [own.pop(item)])]
    assert not own, f"{fn.__name__}: {sorted(own)} missing from the layout"
    typed = fn
    if "reporting" in layout:
        @functools.wraps(fn)
        def typed(**options):
            reporting = Reporting(**{name: options.pop(name) for name in REPORTING})
            return fn(**options, reporting=reporting)
    typed.__signature__ = inspect.Signature(params, return_annotation=None)
    typed.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    return typed


def main() -> None:
    app()
