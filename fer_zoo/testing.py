"""The conformance check plugin authors call in their own tests:

    from fer_zoo.testing import check_architecture

    def test_my_architecture():
        check_architecture(my_plugin.ARCHITECTURE)   # or check_architecture("my-net")

It checks that the architecture's recipe resolves (a registered name or a readable .toml), builds the network,
runs it, trains one step, saves and reloads it, and loads shipped weights.
Every problem found is one line saying what to fix; they are raised together as one AssertionError.
The training step runs in a child process (``isolate=True``, the default), so a native crash in the
backend (a segmentation fault in a convolution kernel, say) is one failing check that names the signal,
not a dead test run.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np

from fer_zoo.errors import FerZooError, one_line
from fer_zoo.plugins.registry import Architecture


class ConformanceError(AssertionError):
    def __init__(self, name: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"architecture {name!r} does not conform:\n" + "\n".join(f"- {p}" for p in problems))


def check_architecture(arch: Architecture | str, num_classes: int = 7, isolate: bool = True) -> None:
    """Raise ConformanceError listing every way ``arch`` breaks the plugin contract; None if it keeps it."""
    import fer_zoo

    if isinstance(arch, str):
        arch = fer_zoo.get_architecture(arch)
    problems: list[str] = []
    _check_recipe(arch, problems)
    shapes = [arch.input_shape]
    if arch.flexible_input:
        shapes += [s for s in ((48, 48, 1), (64, 64, 3)) if s != arch.input_shape]
    model = None
    for shape in shapes:
        built = _build(arch, shape, num_classes, problems)
        if built is not None and shape == arch.input_shape:
            model = built
    if model is None:
        raise ConformanceError(arch.name, problems)
    _check_counts(arch, model, num_classes, problems)
    x = np.random.default_rng(0).uniform(0, 1, (4, *arch.input_shape)).astype("float32")
    _check_probabilities(model, x, num_classes, problems)
    if isolate:
        _check_train_step_isolated(arch, x, num_classes, problems)
    else:
        problems += train_step_problems(arch, x, num_classes)
    _check_round_trip(model, x, problems)
    _check_weights(arch, num_classes, x, problems)
    if problems:
        raise ConformanceError(arch.name, problems)


def _check_recipe(arch, problems):
    """The recipe the architecture names resolves: a recipe registered here (built-in or a plugin's), or a
    .toml file that reads as one; a typo surfaces now, not at train time."""
    from fer_zoo.models.recipes import resolve

    if arch.recipe is None:
        return
    try:
        resolve(arch.recipe)
    except FerZooError as exc:
        problems.append(f"recipe={arch.recipe!r} does not resolve: {one_line(str(exc))}")


def _build(arch, shape, num_classes, problems):
    from fer_zoo.models.build import create_model

    try:
        return create_model(arch, shape, num_classes)
    except FerZooError as exc:
        where = "the declared input shape" if shape == arch.input_shape else f"{shape} (flexible_input=True)"
        problems.append(f"build at {where}: {exc}; make build(input_shape, num_classes) return a keras.Model "
                        f"with that input and a (None, num_classes) softmax output")
        return None


def _check_counts(arch, model, num_classes, problems):
    from fer_zoo.models.build import declared_mismatches, summarize

    if num_classes == 7:  # declared counts are for the 7-class default
        problems += declared_mismatches(arch, summarize(model))


def _check_probabilities(model, x, num_classes, problems):
    y = np.asarray(model.predict(x, verbose=0))
    if y.shape != (len(x), num_classes):
        problems.append(f"predictions have shape {y.shape}, expected {(len(x), num_classes)}")
    elif not np.all(np.isfinite(y)) or not np.allclose(y.sum(axis=1), 1, atol=1e-3) or y.min() < 0:
        problems.append("outputs are not probabilities (rows must be >= 0 and sum to 1): end with a softmax")
    if str(model.layers[-1].dtype_policy.compute_dtype) != "float32" and hasattr(model.layers[-1], "dtype_policy"):
        problems.append("the last layer does not compute in float32: give it dtype='float32' so mixed precision "
                        "keeps the softmax sound")


def train_step_problems(arch, x, num_classes) -> list[str]:
    """One training step from a fresh build: what went wrong, if anything."""
    import keras

    from fer_zoo.models.build import create_model

    try:
        keras.utils.set_random_seed(0)
        model = create_model(arch, arch.input_shape, num_classes)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        loss = float(np.asarray(model.train_on_batch(x, np.arange(len(x)) % num_classes)).reshape(-1)[0])
    except Exception as exc:
        return [f"one training step failed: {one_line(exc, 200)}"]
    if not math.isfinite(loss) or not all(np.all(np.isfinite(np.asarray(w))) for w in model.get_weights()):
        return ["one training step produced NaN or inf: check initialisers, divisions and logs in the network"]
    return []


_CHILD = """
import json, sys
import cloudpickle
from fer_zoo.testing import train_step_problems
arch, x, num_classes = cloudpickle.loads(sys.stdin.buffer.read())
sys.stdout.write("FER_ZOO_PROBLEMS " + json.dumps(train_step_problems(arch, x, num_classes)) + "\\n")
"""


def _check_train_step_isolated(arch, x, num_classes, problems):
    """The training step in a child process: a native crash there is a problem here, named by its signal."""
    import os
    import signal
    import subprocess
    import sys

    try:
        import cloudpickle  # carries build functions by value (lambdas, closures), where pickle cannot
        payload = cloudpickle.dumps((arch, x, num_classes))
    except Exception:  # cannot be sent to a child (no cloudpickle, an unpicklable build): check here
        problems += train_step_problems(arch, x, num_classes)
        return
    done = subprocess.run([sys.executable, "-c", _CHILD], input=payload, capture_output=True, timeout=900)
    out = done.stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        if line.startswith("FER_ZOO_PROBLEMS "):
            problems += json.loads(line.removeprefix("FER_ZOO_PROBLEMS "))
            return
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        problems.append(f"one training step crashed the process with {name} (a native crash in the "
                        f"{os.environ.get('KERAS_BACKEND', 'tensorflow')} backend's kernels; seen: TensorFlow's oneDNN "
                        f"on a 1x1 stride-2 convolution): rewrite that layer or report it upstream")
    else:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = one_line(lines[-1] if lines else "no output", 200)
        problems.append(f"one training step ended its process with status {done.returncode}: {tail}")


def _check_round_trip(model, x, problems):
    import keras

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        try:
            model.save(path)
            loaded = keras.saving.load_model(path, safe_mode=True)
        except Exception as exc:
            problems.append(f".keras save/load failed ({one_line(exc, 160)}): use Keras layers, register custom ones "
                            f"with @keras.saving.register_keras_serializable, and no Lambda layers")
            return
    before, after = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    if not np.allclose(before, after, atol=1e-6):
        problems.append(f".keras round trip changed predictions by {np.abs(before - after).max():.2e}: "
                        f"a layer's get_config() misses some of its state")


def _check_weights(arch, num_classes, x, problems):
    from fer_zoo.models.build import create_model

    if arch.weights is None:
        return
    try:
        model = create_model(arch, arch.input_shape, num_classes, pretrained=True)
    except FerZooError as exc:
        problems.append(f"{exc}: ship a .weights.h5 saved from build(input_shape, num_classes) and point weights= "
                        f"at it inside the package")
        return
    if not np.all(np.isfinite(model.predict(x, verbose=0))):
        problems.append("the shipped weights give NaN predictions")
