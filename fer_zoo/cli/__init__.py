"""The ``fer-zoo`` command line: parse, call the library, print. No logic of its own.

One module per group of commands (catalog, runs, faces, bench, data, serve) over base.py's shared app, options
and one-line errors. `--help`, `list` and `plugins` must not import TensorFlow or Keras; commands that
build a model import them inside the library functions they call.
"""

from fer_zoo.cli import bench, catalog, data, faces, runs, serve  # noqa: F401  (each registers its commands)
from fer_zoo.cli.base import app, main

__all__ = ["app", "main"]
