"""`--help`, `list` and `plugins` must not import TensorFlow or Keras (a ~5 s import)."""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
import sys
from typer.testing import CliRunner
from fer_zoo.cli import app

runner = CliRunner()
for args in (["--help"], ["list"], ["list", "--json"], ["plugins"], ["plugins", "--json"], ["detectors"]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
    heavy = sorted(m for m in ("tensorflow", "keras", "jax", "torch", "cv2", "matplotlib") if m in sys.modules)
    print(" ".join(args), "->", ",".join(heavy) or "light")
"""


def test_light_commands_import_no_framework():
    # a fresh interpreter: this test process may already have imported Keras
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "--help -> light", "list -> light", "list --json -> light", "plugins -> light", "plugins --json -> light",
        "detectors -> light",
    ]
