"""`fer-zoo train --deterministic` and `fer-zoo reproduce`: a tiny run trained again from its record alone is
the same run to the bit (history and weights), one changed recorded value makes another, and a run whose
data changed is refused before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

DATA = "synthetic:size=84,preset=easy"
# every random draw of training: augmentation (affine and erasing: the modern recipe), dropout, batch norm
# (precise BN's images), the batch order, the initial weights and the subset
NET = '''
import fer_zoo

def build(input_shape, num_classes):
    import keras
    from keras import layers
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(4, 3, strides=2),
        layers.BatchNormalization(),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax", dtype="float32"),
    ])

@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(name="drop", build=build, input_shape=(48, 48, 1), description="dropout too"))
'''
TIMES = ("epoch_seconds", "images_per_second")


@pytest.fixture(scope="module")
def drop(install_plugin_for_module):
    install_plugin_for_module("acme-drop", NET)


RECIPE = 'base = "modern"\nlearning_rate = 0.05\n[augment]\nerasing = 0.5\n'


@pytest.fixture(scope="module")
def trained(drop, tmp_path_factory) -> tuple[Path, Path]:
    """One deterministic run under a recipe file, for every test here that reproduces or edits it (each gets a
    copy): (the run, its recipe file). Trained once per test process, not once per test."""
    from typer.testing import CliRunner

    from fer_zoo.cli import app

    root = tmp_path_factory.mktemp("reproduce")
    recipe = root / "mine.toml"
    recipe.write_text(RECIPE)
    run = _train(lambda *args: CliRunner().invoke(app, list(args)), root / "a", "--deterministic", "--seed", "3",
                 "--recipe", str(recipe))
    return run, recipe


@pytest.fixture
def recipe_file(trained) -> Path:
    """The run's recipe file, as it was when the run trained, again after the test."""
    yield trained[1]
    trained[1].write_text(RECIPE)


def _train(cli, out: Path, *flags: str) -> Path:
    result = cli("train", "drop", "--data", DATA, "--out", str(out), "--epochs", "2", "--batch-size", "16",
                 "--subset", "48", "--quiet", *flags)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def original(trained, tmp_path) -> Path:
    """A copy of the shared run, for this test alone."""
    return Path(shutil.copytree(trained[0], tmp_path / "runs" / "a"))


def _history(run: Path) -> list[dict]:
    lines = (run / "history.csv").read_text().splitlines()
    head = lines[0].split(",")
    return [{k: v for k, v in zip(head, line.split(",")) if k not in TIMES} for line in lines[1:]]


def _weights(run: Path) -> list[np.ndarray]:
    import keras

    return [np.asarray(w) for w in keras.saving.load_model(run / "best.keras", compile=False).get_weights()]


def _same_weights(a: Path, b: Path) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))


def _config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def test_a_deterministic_run_reproduces_exactly(cli, original, recipe_file):
    config = _config(original)
    assert config["deterministic"] is True
    assert "--deterministic" in (original / "MODEL_CARD.md").read_text()
    recipe_file.write_text('base = "seed"\n')  # the file changes; the run's recorded values do not
    before = {p.name: p.read_bytes() for p in original.iterdir() if p.is_file()}
    result = cli("reproduce", str(original), "--quiet")
    assert result.exit_code == 0, result.output
    again = original.parent / "a-reproduced"  # the default: beside the run
    assert f"recipe file {recipe_file} has changed since the run" in result.output
    assert _config(again) == config
    assert _history(again) == _history(original) and len(_history(again)) == 2
    assert _same_weights(original, again)
    assert {p.name: p.read_bytes() for p in original.iterdir() if p.is_file()} == before  # the run untouched
    second = cli("reproduce", str(original), "--quiet")  # never onto an earlier reproduction
    assert second.exit_code == 0 and (original.parent / "a-reproduced-2" / "best.keras").is_file()


@pytest.mark.parametrize("change", ["seed", "learning_rate"])
def test_one_changed_recorded_value_trains_another_run(cli, original, tmp_path, change):
    copy = tmp_path / "edited"
    shutil.copytree(original, copy)
    config = _config(copy)
    if change == "seed":
        config["seed"] = 4
    else:
        config["recipe"]["learning_rate"] = 0.5
    (copy / "config.json").write_text(json.dumps(config))
    result = cli("reproduce", str(copy), "--out", str(tmp_path / "b"), "--quiet")
    assert result.exit_code == 0, result.output
    assert _config(tmp_path / "b") == config
    assert _history(tmp_path / "b") != _history(original)
    assert not _same_weights(original, tmp_path / "b")


def _edited(original: Path, where: Path, **changes) -> Path:
    shutil.copytree(original, where)
    (where / "config.json").write_text(json.dumps(_config(where) | changes))
    return where


def test_a_run_whose_data_changed_is_refused(cli, original, tmp_path):
    run = _edited(original, tmp_path / "c", dataset_fingerprint="0" * 64)
    result = cli("reproduce", str(run), "--out", str(tmp_path / "new"))
    assert result.exit_code == 2 and "has changed since the run" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "new").exists()


def test_a_run_whose_data_is_gone_is_refused(cli, original, tmp_path):
    run = _edited(original, tmp_path / "c", data=str(tmp_path / "gone.csv"))
    result = cli("reproduce", str(run))
    assert result.exit_code == 2 and "cannot be read now" in result.stderr and "no such file" in result.stderr
    assert not (tmp_path / "c-reproduced").exists()


def test_the_run_itself_and_a_folder_that_is_not_a_run_are_refused(cli, original, tmp_path):
    before = (original / "config.json").read_bytes()
    result = cli("reproduce", str(original), "--out", str(original))
    assert result.exit_code == 2 and "--out" in result.stderr
    assert (original / "config.json").read_bytes() == before
    result = cli("reproduce", str(tmp_path))
    assert result.exit_code == 2 and "not a run directory" in result.stderr


def test_without_deterministic_reproduce_says_the_numbers_may_differ(cli, drop, tmp_path):
    import fer_zoo

    run = _train(cli, tmp_path / "plain")
    assert _config(run)["deterministic"] is False
    result = fer_zoo.reproduce(run, tmp_path / "again")
    assert any("not --deterministic" in note for note in result.notes)
    assert _config(tmp_path / "again") == _config(run)


def test_deterministic_switches_tensorflows_op_determinism_on_for_the_run_only(drop, tmp_path):
    import keras

    import fer_zoo

    if keras.backend.backend() != "tensorflow":
        pytest.skip("op determinism is TensorFlow's switch")
    from tensorflow.python.framework import config as tf_config

    seen = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(tf_config.is_op_determinism_enabled())

    for deterministic in (True, False):
        fer_zoo.train("drop", DATA, tmp_path / str(deterministic), epochs=1, batch_size=16, subset=32,
                      deterministic=deterministic, callbacks=[Watch()])
        assert set(seen) == {deterministic} and not tf_config.is_op_determinism_enabled()
        seen.clear()
