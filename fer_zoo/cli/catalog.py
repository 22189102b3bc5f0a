"""`list`, `info`, `plugins`, `recipes`, `new-plugin`, `datasets`, `detectors`: what is installed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fer_zoo import plugins as plugin_loader
from fer_zoo.cli.base import JsonFlag, command, console, loaded_plugins, parse_shape, print_json



@command("list")
def list_command(
    patterns: Annotated[
        list[str] | None, typer.Argument(help="fnmatch filters such as 'vgg*'; all architectures when none.")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", "-x", help="fnmatch filter to leave out.")] = None,
    pretrained: Annotated[bool, typer.Option("--pretrained", help="Only architectures that ship weights.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the available architectures, built-in and from plugins."""
    from fer_zoo.report.terminal import architectures_table

    keep = ("--pretrained", lambda a: a.weights is not None) if pretrained else None
    archs = [a.describe() for a in loaded_plugins().architectures.select(patterns or [], exclude or [], keep)]
    if as_json:
        print_json(archs)
    elif archs:
        console().print(architectures_table(archs))
    else:
        sys.stderr.write("fer-zoo: no architecture is installed\n")


@command("info")
def info(
    name: Annotated[str, typer.Argument(help="Architecture name, as `fer-zoo list` shows it.")],
    input_shape: Annotated[
        str | None, typer.Option("--input-shape", help="Build at HxWxC instead of the declared shape.")
    ] = None,
    num_classes: Annotated[int, typer.Option("--num-classes", min=2, help="Number of output classes.")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """Build an architecture and show its layers and parameter counts (like the paper's Table 1)."""
    import fer_zoo.api
    from fer_zoo.report.terminal import layers_table

    loaded_plugins()
    arch, info = fer_zoo.api.describe_architecture(name, parse_shape(input_shape), num_classes)
    for warning in info.pop("warnings"):
        sys.stderr.write(f"fer-zoo: warning: {warning}\n")
    summary = info.pop("summary")
    if as_json:
        print_json(info)
    else:
        console().print(layers_table(arch, summary, tuple(info["input_shape"])))


@command("plugins")
def plugins_command(as_json: JsonFlag = False) -> None:
    """Show plugin distributions, their versions, the hooks they implement and any load errors."""
    from fer_zoo.report.terminal import plugins_table

    loaded = plugin_loader.current()
    if as_json:
        print_json([p.describe() for p in loaded.plugins])
    else:
        console().print(plugins_table(loaded.plugins))
    loaded.raise_if_strict()


@command("new-plugin")
def new_plugin_command(
    name: Annotated[str, typer.Argument(help="The architecture's name, e.g. tiny-resnet.")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder to create (default ./fer-zoo-NAME).")] = None,
) -> None:
    """Scaffold a plugin distribution: pyproject with the entry point, the module, a test, a README."""
    from fer_zoo.plugins.scaffold import scaffold

    root = scaffold(name, out)
    console().print(f"created {root}: pip install -e '{root}[test]' && python -m pytest {root}", markup=False)


@command("recipes")
def recipes_command(
    patterns: Annotated[list[str] | None, typer.Argument(help="fnmatch filters; all recipes when none.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the training recipes, built-in and from plugins: optimizer, schedule, budget, augmentation, TTA."""
    from fer_zoo.report.terminal import recipes_table

    recipes = loaded_plugins().recipes.describe(patterns or [])
    if as_json:
        print_json(recipes)
    else:
        console().print(recipes_table(recipes))


@command("datasets")
def datasets_command(as_json: JsonFlag = False) -> None:
    """List data sources, built-in and from plugins, with their options."""
    from fer_zoo.report.terminal import datasets_table

    sources = loaded_plugins().datasets
    if as_json:
        print_json(sources.describe())
    else:
        console().print(datasets_table(sources.describe()))


@command("detectors")
def detectors_command(as_json: JsonFlag = False) -> None:
    """List the face detectors `predict --detector` can use, built-in and from plugins."""
    from fer_zoo.inference.detectors import default
    from fer_zoo.report.terminal import detectors_table

    detectors = loaded_plugins().detectors
    if as_json:
        print_json(detectors.describe())
    else:
        console().print(detectors_table(detectors.describe(), default(detectors)))
