"""The plugin kit: conformance helper, scaffold, plugin API version, the example distribution."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import fer_zoo
from fer_zoo import Architecture
from fer_zoo.testing import ConformanceError, check_architecture

def test_scaffold_passes_its_own_test_and_installs_as_a_plugin(cli, tmp_path, monkeypatch):
    result = cli("new-plugin", "tiny-net", "--out", str(tmp_path / "proj"))
    assert result.exit_code == 0, result.output
    root = tmp_path / "proj"
    assert (root / "pyproject.toml").read_text().count('tiny-net = "fer_zoo_tiny_net"') == 1
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                            capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert tested.returncode == 0, tested.stdout[-2000:] + tested.stderr[-2000:]
    assert "1 passed" in tested.stdout
    # installed like any distribution (offline: no build isolation, no dependencies)
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                "--no-index", "--target", str(target), str(root)], capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    # on the path as site-packages would be (what tests/conftest.py's install_plugin does): found by its entry point
    import importlib

    from fer_zoo import plugins

    monkeypatch.syspath_prepend(str(target))
    importlib.invalidate_caches()
    plugins.reset()
    try:
        listed = cli("list", "--json")
    finally:
        for module in [m for m in sys.modules if m == "fer_zoo_tiny_net" or m.startswith("fer_zoo_tiny_net.")]:
            sys.modules.pop(module)
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["tiny-net"]["plugin"] == "fer-zoo-tiny-net" and rows["tiny-net"]["params"] == 19_655


def test_scaffold_refuses_bad_names_and_existing_folders(cli, tmp_path):
    assert "use lower-case letters" in cli("new-plugin", "Bad Name", "--out", str(tmp_path / "x")).stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = cli("new-plugin", "ok", "--out", str(tmp_path / "full"))
    assert result.exit_code == 2 and "not empty" in result.stderr


def build_without_softmax(input_shape, num_classes):
    import keras

    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(), keras.layers.Dense(num_classes)])


CRASH_ON_TRAINING = '''
import os, signal

def build(input_shape, num_classes):
    import keras

    class Crashes(keras.layers.Layer):
        def call(self, x, training=None):
            if training:  # a stand-in for a kernel that corrupts the heap: the process dies by a signal
                os.kill(os.getpid(), signal.SIGSEGV)
            return x

    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(Crashes()(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(x))
'''


def test_a_native_crash_in_the_training_step_is_one_named_problem():
    namespace: dict = {}
    exec(CRASH_ON_TRAINING, namespace)
    arch = Architecture(name="crashy", build=namespace["build"], input_shape=(8, 8, 1), description="x")
    with pytest.raises(ConformanceError) as excinfo:
        check_architecture(arch)  # this test process survives: the step ran in a child
    [problem] = [p for p in excinfo.value.problems if "training step" in p]
    assert "crashed the process with SIGSEGV" in problem


def test_conformance_names_each_problem_and_its_fix():
    arch = Architecture(name="sloppy", build=build_without_softmax, input_shape=(8, 8, 1), description="x",
                        params=5, macs=448)
    with pytest.raises(ConformanceError) as excinfo:
        check_architecture(arch, isolate=False)  # the child-process step has its own test above
    problems = excinfo.value.problems
    assert any("declared params=5 but the built model has 455: set params=455" in p for p in problems)
    assert any("end with a softmax" in p for p in problems)
    assert all("\n" not in p for p in problems)


def test_conformance_rejects_lambda_layers_and_missing_weights(tmp_path):
    def build(input_shape, num_classes):
        import keras

        inputs = keras.Input(shape=input_shape)
        x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
        x = keras.layers.Flatten()(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(x))

    arch = Architecture(name="lambda-net", build=build, input_shape=(8, 8, 1), description="x",
                        weights=tmp_path / "missing.weights.h5")
    with pytest.raises(ConformanceError) as excinfo:
        check_architecture(arch, isolate=False)
    text = str(excinfo.value)
    assert "no Lambda layers" in text and "missing.weights.h5 does not exist: ship a .weights.h5" in text


def test_shipped_weights_are_loaded_and_wrong_ones_refused(tmp_path):
    from dataclasses import replace

    from fer_zoo.plugins.scaffold import MODULE  # the scaffold's network, shipped with weights
    namespace: dict = {}
    exec(MODULE.format(arch="shipped", ident="shipped", api=fer_zoo.PLUGIN_API_VERSION), namespace)
    arch = namespace["ARCHITECTURE"]
    weights = tmp_path / "shipped.weights.h5"
    arch.build(arch.input_shape, 7).save_weights(weights)
    check_architecture(replace(arch, weights=lambda: weights), isolate=False)
    # weights of another network (other class count, so other shapes) are not this architecture's
    other = tmp_path / "other.weights.h5"
    arch.build(arch.input_shape, 5).save_weights(other)
    with pytest.raises(ConformanceError, match="shipped weights .*other.weights.h5 do not load"):
        check_architecture(replace(arch, weights=lambda: other), isolate=False)


def test_incompatible_plugin_api_is_shown_with_the_reason(cli, install_plugin, tiny_plugin_source):
    install_plugin("future-fer", 'FER_ZOO_PLUGIN_API = "2.0"\n' + tiny_plugin_source("future"))
    result = cli("list", "--json")
    assert "future" not in {r["name"] for r in json.loads(result.stdout)}
    assert "requires fer-zoo plugin API 2.0, this fer-zoo 1.0" in result.stderr
    [row] = [p for p in json.loads(cli("plugins", "--json").stdout) if p["distribution"] == "future-fer"]
    assert row["status"] == "incompatible"
    assert "incompatible" in cli("plugins").stdout


def test_example_distribution_is_installed_and_listed(cli):
    rows = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    assert rows["mini_xception"]["plugin"] == "fer-zoo-mini-xception"
    assert rows["mini_xception"]["input_shape"] == [64, 64, 1]
