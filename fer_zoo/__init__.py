"""fer-zoo: a plugin-based model zoo for facial-expression recognition CNNs.

The public API (docs/python.md): everything the ``fer-zoo`` command line does, from Python. Importing it
loads neither TensorFlow nor Keras; building, training or loading a model does.
"""

from __future__ import annotations

import os as _os
from importlib import metadata as _metadata

# TensorFlow's C++ start-up lines (CUDA probing, "failed call to cuInit" on a machine without a GPU,
# oneDNN notes) are noise for a zoo's users; real failures still raise Python exceptions. Set before
# Keras is first imported; a user's own setting wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# likewise FFmpeg's own lines about a broken video ("moov atom not found"): fer-zoo reports it in one line
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from fer_zoo.api import (bench, describe_architecture, evaluate, export, inspect_data, load_classifier, load_dataset,
                         reproduce, train)
from fer_zoo.errors import FerZooError
from fer_zoo.plugins.hookspecs import hookimpl
from fer_zoo.plugins.recipe import Augment, Recipe
from fer_zoo.plugins.registry import Architecture, FaceDetector
from fer_zoo.timing import median_seconds

# The contract plugins are written against: a plugin may require it by setting, in its module,
# FER_ZOO_PLUGIN_API = "1.0" (same major version, minor at most ours).
PLUGIN_API_VERSION = "1.0"

try:
    __version__ = _metadata.version("fer-zoo")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "Architecture",
    "Augment",
    "Classifier",
    "Dataset",
    "DatasetSource",
    "ExportReport",
    "FaceDetector",
    "FerZooError",
    "PLUGIN_API_VERSION",
    "Predictor",
    "Recipe",
    "RunResult",
    "bench",
    "call_threads",
    "create_model",
    "describe_architecture",
    "describe_environment",
    "device_name",
    "evaluate",
    "export",
    "get_architecture",
    "get_recipe",
    "hookimpl",
    "inspect_data",
    "list_architectures",
    "list_recipes",
    "load_classifier",
    "load_dataset",
    "median_seconds",
    "recipe_from_toml",
    "reproduce",
    "train",
]

# the classes the API returns, by where they live; imported when asked
_LAZY = {
    "Classifier": "fer_zoo.inference.runtime",  # what load_classifier returns
    "Dataset": "fer_zoo.data.dataset",  # what load_dataset returns
    "DatasetSource": "fer_zoo.data.dataset",  # what a data-source plugin registers
    "ExportReport": "fer_zoo.deploy.export",  # what export returns
    "Predictor": "fer_zoo.inference.predictor",  # faces and expressions from Python
    "RunResult": "fer_zoo.training.train",  # what train returns
}


def __getattr__(name: str):
    # imported when asked, so `import fer_zoo` (and `fer-zoo list`) stays light
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fer_zoo' has no attribute {name!r}")


def list_architectures(pattern: str | list[str] | None = None, exclude: str | list[str] | None = None) -> list[str]:
    """Names of the available architectures, filtered by fnmatch patterns: ``list_architectures("vgg*")``."""
    from fer_zoo import plugins

    loaded = plugins.checked()
    as_list = lambda p: [p] if isinstance(p, str) else list(p or [])  # noqa: E731
    return loaded.architectures.names(as_list(pattern), as_list(exclude))


def get_architecture(name: str) -> Architecture:
    """The registered ``Architecture`` called ``name``; ``FerZooError`` if there is none."""
    from fer_zoo import plugins

    loaded = plugins.checked()
    return loaded.get_architecture(name)


def list_recipes(pattern: str | list[str] | None = None) -> list[str]:
    """Names of the registered training recipes (built-in and plugins'), filtered by fnmatch patterns."""
    from fer_zoo.models.recipes import registered_recipes

    return registered_recipes().names([pattern] if isinstance(pattern, str) else list(pattern or []))


def get_recipe(name: str) -> Recipe:
    """The registered ``Recipe`` called ``name`` (``FerZooError`` with a did-you-mean if there is none);
    ``dataclasses.replace`` changes its fields, and ``fer_zoo.train(..., recipe=...)`` trains under it."""
    from fer_zoo.models.recipes import get_recipe as _get

    return _get(name)


def recipe_from_toml(path, base: str = "seed") -> Recipe:
    """The recipe a .toml file describes (``base = "NAME"`` then the fields it changes; ``base`` when it names
    none), every value checked: what ``--recipe FILE.toml`` trains under."""
    from pathlib import Path

    from fer_zoo.models.recipes import load_recipe_file

    return load_recipe_file(Path(path), base)[0]


def create_model(name: str, input_shape: tuple[int, int, int] | None = None, num_classes: int = 7,
                 pretrained: bool = False):
    """Build the bare network of architecture ``name`` (a ``keras.Model``) at its declared input shape;
    ``pretrained=True`` loads the weights its plugin ships (a FerZooError if it ships none)."""
    from fer_zoo.models.build import create_model as _create
    from fer_zoo.quiet import import_keras

    import_keras()
    return _create(get_architecture(name), input_shape, num_classes, pretrained)


def describe_environment() -> dict:
    """Backend, device and versions (``{"backend", "device", "versions"}``), as a run's config and a bench
    record them: for scripts that report where they measured."""
    from fer_zoo.environment import describe
    from fer_zoo.quiet import import_keras

    import_keras()
    return describe()


def call_threads() -> int:
    """The CPU threads one model call on this thread may use (every core, unless fer-zoo runs several calls
    at once, as serve's workers do): what a plugin sizes its own thread pool by, e.g. an ONNX Runtime
    session's ``intra_op_num_threads``."""
    from fer_zoo.environment import call_threads as threads

    return threads()


def device_name() -> str:
    """The accelerator's name if one is visible, else the CPU model: what a measurement ran on."""
    from fer_zoo.environment import device_name as name

    return name()

