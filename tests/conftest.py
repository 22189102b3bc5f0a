"""Shared fixtures: real entry points for throw-away plugin distributions, and the CLI runner."""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fer_zoo import plugins


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject's addopts): one worker more than there are cores, since many tests spend their
    time waiting for a subprocess, a server or Ray, and the extra worker runs another test meanwhile
    (the suite in a 2-core checkout, one run each: 282 s with 3 workers, 301 s with 2)."""
    return (os.cpu_count() or 1) + 1


_counter = itertools.count()

TINY_PLUGIN = '''
import fer_zoo

def build_tiny(input_shape, num_classes):
    import keras
    from keras import layers
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(4, 3, strides=2),{batch_norm}
        layers.GlobalAveragePooling2D(),
        layers.Dense(num_classes, activation="softmax", dtype="float32"),
    ])

@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(
        name={name!r}, build=build_tiny, input_shape=(48, 48, 1), description="a tiny test net",
        params={params}, macs=19_072, weights={weights!r},
    ))
'''


@pytest.fixture(scope="session", autouse=True)
def no_user_cache(tmp_path_factory):
    """The suite never writes to the user's own cache (~/.cache/fer-zoo): what a module's or the session's
    fixtures convert or cache, before any test's own cache is set, lands here."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("FER_ZOO_CACHE_DIR", str(tmp_path_factory.mktemp("session-cache")))
        yield


@pytest.fixture(scope="session")
def shared_compiled(tmp_path_factory) -> Path:
    """Converted ONNX models and JAX's compiled programs, kept for the whole session: they are keyed by
    content, so sharing them is safe, and converting the same model in every test is slow."""
    return tmp_path_factory.mktemp("compiled")


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch, tmp_path, shared_compiled):
    """Every test sees the plugins installed for it, none of another test's, and its own dataset cache."""
    # COLUMNS too: pytest-xdist's workers set it to 80, and a test that wants a width sets its own
    for var in (plugins.STRICT_ENV, plugins.DISABLE_ENV, "COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    cache = tmp_path / "cache"
    cache.mkdir()
    for kind in ("onnx", "jax"):
        (shared_compiled / kind).mkdir(exist_ok=True)
        (cache / kind).symlink_to(shared_compiled / kind)
    monkeypatch.setenv("FER_ZOO_CACHE_DIR", str(cache))
    plugins.reset()
    yield
    plugins.reset()


@contextlib.contextmanager
def _installing(root: Path, monkeypatch: pytest.MonkeyPatch):
    """``install_plugin``'s installer, its sites under ``root``; the modules it made are forgotten after."""
    made_modules: list[str] = []

    def install(distribution: str, source: str, version: str = "1.0", entry_point: str | None = None) -> str:
        site = root / f"site{next(_counter)}"
        site.mkdir()
        module = f"ferzoo_testplugin_{next(_counter)}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[fer_zoo]\n{entry_point or module} = {module}\n")
        monkeypatch.syspath_prepend(str(site))
        # and for child processes (bench workers)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
        importlib.invalidate_caches()
        plugins.reset()
        made_modules.append(module)
        return module

    yield install
    for module in made_modules:
        sys.modules.pop(module, None)


@pytest.fixture
def install_plugin(tmp_path, monkeypatch):
    """Install a plugin distribution for real: a module and a ``*.dist-info`` on ``sys.path``.

    ``install_plugin("acme-fer", source)`` gives distribution ``acme-fer`` one ``fer_zoo`` entry point
    pointing at a new module holding ``source``; the plugin loader then finds it like any pip install.
    """
    with _installing(tmp_path, monkeypatch) as install:
        yield install


@pytest.fixture(scope="module")
def install_plugin_for_module(tmp_path_factory):
    """``install_plugin`` for a whole test module: for a module whose tests share something trained with it."""
    with pytest.MonkeyPatch.context() as monkeypatch, _installing(tmp_path_factory.mktemp("plugins"),
                                                                   monkeypatch) as install:
        yield install


@pytest.fixture
def tiny_plugin_source():
    """A plugin module registering a tiny network (with ``batch_norm``, one batch-norm layer after the conv)."""
    def source(name: str = "tiny", batch_norm: bool = False, weights: str | None = None) -> str:
        """``weights``: a .weights.h5 file the plugin ships (``tiny_weights`` writes one)."""
        return TINY_PLUGIN.format(name=name, batch_norm="\n        layers.BatchNormalization()," if batch_norm else "",
                                  params=75 + 16 * batch_norm, weights=weights)
    return source


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height: what a decompression bomb's header looks like."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


@pytest.fixture
def no_fit(monkeypatch):
    """The library's train() as it is, up to the training itself: config.json (and recipe.toml) written, no
    epoch run; any device count counts as present."""
    from fer_zoo.training import parallel
    from fer_zoo.training import train as train_module

    monkeypatch.setattr(train_module, "fit", lambda arch, dataset, recipe, options, out, *rest:
                        train_module.RunResult(out, {}, []))
    monkeypatch.setattr(parallel, "resolve", lambda spec: 2 if parallel.parse(spec) == "all" else parallel.parse(spec))
    return train_module.train


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def cli(runner):
    """Run ``fer-zoo ARGS`` in-process; returns click's Result (stdout, stderr, exit_code)."""
    from fer_zoo.cli import app

    return lambda *args: runner.invoke(app, list(args))


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def tiny_classifier(input_shape=(48, 48, 1), num_classes: int = 7, seed: int = 0):
    """A small untrained Keras classifier of raw 0-255 pixels with confident, input-dependent outputs:
    large random weights make its top-1 decisions robust (what int8 verification needs)."""
    import keras
    from keras import initializers, layers

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1 / 127.5, -1.0)(inputs)
    x = layers.Conv2D(8, 5, strides=4, activation="relu",
                      kernel_initializer=initializers.RandomNormal(0.0, 0.3, seed=seed))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(num_classes, kernel_initializer=initializers.RandomNormal(0.0, 0.3, seed=seed + 1))(x)
    return keras.Model(inputs, layers.Activation("softmax", dtype="float32")(x), name="tiny_classifier")


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """A saved tiny classifier (48x48x1, 7 classes), shared by the export and predict tests."""
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    tiny_classifier().save(path)
    return path
