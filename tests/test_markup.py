"""Text that comes from a user, a file or a plugin is printed as it is: rich never reads its "[/]" or
"[bold]" as markup (a closing tag alone is a MarkupError traceback; an opening one silently vanishes)."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

MARKUP = "[/] [bold]x[/bold]"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _rename_distribution(name: str) -> None:
    """The last installed plugin's distribution (its METADATA Name) becomes ``name``: a directory cannot
    hold "/", the metadata can."""
    metadata = next(Path(sys.path[0]).glob("*.dist-info")) / "METADATA"
    metadata.write_text(metadata.read_text().replace("Name: acme-fer", f"Name: {name}"))


def test_list_and_plugins_print_a_distribution_name_as_it_is(cli, install_plugin, tiny_plugin_source, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    _rename_distribution("acme[/]fer")
    for command in ("list", "plugins"):
        result = cli(command)
        assert result.exit_code == 0, result.output
        assert "acme[/]fer" in result.stdout, result.stdout


def test_info_detectors_and_datasets_print_a_description_as_it_is(cli, install_plugin, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    install_plugin("acme-fer", f"""
import fer_zoo
def build(input_shape, num_classes):
    import keras
    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes, activation="softmax")])
@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(name="marked", build=build, input_shape=(8, 8, 1), description={MARKUP!r}))
@fer_zoo.hookimpl
def fer_zoo_register_detectors(register):
    register(fer_zoo.FaceDetector(name="marked", build=lambda: None, description={MARKUP!r},
                                  options={{"[/]": {MARKUP!r}}}))
@fer_zoo.hookimpl
def fer_zoo_register_datasets(register):
    register(fer_zoo.DatasetSource(name="marked", load=lambda o: None, description={MARKUP!r}))
""")
    for args in (["info", "marked"], ["detectors"], ["datasets"]):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
        assert MARKUP in _flat(result.stdout), (args, result.stdout)


def _marked_image(tmp_path: Path) -> Path:
    path = tmp_path / "[bold]x[" / "].png"  # its path reads .../[bold]x[/].png
    path.parent.mkdir()
    Image.new("RGB", (48, 48), (120, 120, 120)).save(path)
    return path


def test_predict_prints_a_file_name_as_it_is(cli, tiny_model_file, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    image = _marked_image(tmp_path)
    result = cli("predict", str(tiny_model_file), str(image), "--no-detect")
    assert result.exit_code == 0, result.output
    assert "[bold]x[/].png" in result.stdout, result.stdout


def test_explain_prints_a_file_name_as_it_is(cli, tiny_model_file, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    image = _marked_image(tmp_path)
    result = cli("explain", str(tiny_model_file), str(image), "--no-detect", "--out", str(tmp_path / "maps"))
    assert result.exit_code == 0, result.output
    assert "[bold]x[/].png" in result.stdout, result.stdout


def test_cache_commands_print_a_path_as_it_is(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    cache = tmp_path / "[bold]" / "[" / "]"  # prints as .../[bold]/[/]
    monkeypatch.setenv("FER_ZOO_CACHE_DIR", str(cache))
    for command in ("clear", "info"):
        result = cli("cache", command)
        assert result.exit_code == 0, result.output
        assert str(cache) in result.stdout, result.stdout
