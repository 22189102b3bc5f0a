"""`fer-zoo new-plugin NAME`: a ready-to-publish plugin distribution that passes its own test."""

from __future__ import annotations

import re
from pathlib import Path

from fer_zoo import atomic, outputs
from fer_zoo.errors import FerZooError

MAX_NAME = 64

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{arch} - a fer-zoo architecture plugin"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["fer-zoo>={fer_zoo_version}", "keras>=3.13"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The one line that makes this a fer-zoo plugin.
[project.entry-points.fer_zoo]
{arch} = "{package}"

[tool.setuptools.packages.find]
where = ["src"]
'''

MODULE = '''"""{arch}: a fer-zoo architecture plugin. Replace the network in build_{ident} with yours."""

import fer_zoo

FER_ZOO_PLUGIN_API = "{api}"


def build_{ident}(input_shape, num_classes):
    # Import Keras here, not at the top: `fer-zoo list` imports this module and must stay fast.
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.GlobalAveragePooling2D(),
            layers.Dropout(0.3),
            # float32 keeps the softmax sound under mixed precision
            layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ],
        name="{arch}",
    )


ARCHITECTURE = fer_zoo.Architecture(
    name="{arch}",
    build=build_{ident},
    input_shape=(48, 48, 1),
    description="A small CNN: two conv/BN/pool stages and global average pooling",
    params=19_655,
    macs=11_280_832,
    recipe="seed",
    flexible_input=True,
)


@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(ARCHITECTURE)
'''

TEST = '''from fer_zoo.testing import check_architecture

from {package} import ARCHITECTURE


def test_{ident}_keeps_the_fer_zoo_contract():
    check_architecture(ARCHITECTURE)
'''

README = '''# {dist}

A [fer-zoo](https://pypi.org/project/fer-zoo/) architecture plugin providing `{arch}`.

```
pip install -e ".[test]"        # then `fer-zoo list` shows {arch}
python -m pytest                # the conformance check
fer-zoo info {arch}
fer-zoo train {arch} --epochs 5
fer-zoo bench {arch} custom
```

Edit `build_{ident}` in `src/{package}/__init__.py`; after changing the network, update `params` and
`macs` to what `fer-zoo info {arch} --json` reports (the test tells you if they differ).
'''


def scaffold(name: str, out: Path | None = None) -> Path:
    """Write the distribution ``fer-zoo-NAME`` into ``out`` (default ./fer-zoo-NAME); returns its folder."""
    from fer_zoo import PLUGIN_API_VERSION, __version__

    arch = name.strip().lower()
    # the distribution and package names are made from it, so it must be a valid name for both (PEP 508 and
    # a Python identifier): no doubled or trailing separator, and short enough to be a file name
    if not re.fullmatch(r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*", arch) or len(arch) > MAX_NAME:
        shown = repr(name) if len(name) <= MAX_NAME else f"{name[:20]!r}... ({len(name)} characters)"
        raise FerZooError(f"plugin name {shown}: use lower-case letters, digits, '_' and '-', starting with a letter, "
                          f"with no doubled or trailing '_'/'-', at most {MAX_NAME} characters")
    from fer_zoo import plugins

    installed = plugins.current().architectures
    if arch in installed or arch.replace("-", "_") in installed or arch.replace("_", "-") in installed:
        raise FerZooError(f"plugin name {name!r}: an installed architecture is already called that "
                          f"(`fer-zoo list`); choose another name")
    ident = arch.replace("-", "_")
    package, dist = f"fer_zoo_{ident}", f"fer-zoo-{arch.replace('_', '-')}"
    root = Path(out) if out is not None else Path(dist)
    outputs.folder(root, "--out", force=True)
    if outputs.exists(root) and (not root.is_dir() or any(root.iterdir())):
        raise FerZooError(f"--out {root}: exists and is not empty")
    version = __version__ if __version__[0].isdigit() and "+" not in __version__ else "0.1"
    values = dict(arch=arch, ident=ident, package=package, dist=dist, api=PLUGIN_API_VERSION,
                  fer_zoo_version=version)
    files = {
        "pyproject.toml": PYPROJECT,
        f"src/{package}/__init__.py": MODULE,
        f"tests/test_{ident}.py": TEST,
        "README.md": README,
    }
    try:
        for relative, template in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_text(path, template.format(**values))
    except OSError as exc:
        raise FerZooError(f"--out {root}: cannot write the plugin there ({exc.strerror or exc})") from None
    return root
