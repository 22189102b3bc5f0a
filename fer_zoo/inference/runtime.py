"""One way to run any trained classifier, whatever it was saved as.

Long because every format a classifier arrives in (run directory, .keras, Keras-2 .h5, ONNX, TFLite,
SavedModel, shipped weights) has its loader and its checks here, behind the one Classifier they return.

A :class:`Classifier` takes raw 0-255 pixels, shape ``(N, H, W, C)`` at its ``input_shape``, and returns
class probabilities. It can come from a run directory, a ``.keras`` or Keras-2 ``.h5`` file, an exported
ONNX, TFLite or SavedModel artifact, or the name of an architecture whose plugin ships weights.

Keras models run either as a compiled function of the active backend (``runtime="keras"``) or, converted
once and cached, under ONNX Runtime (``runtime="onnx"``) — about 5x faster at batch 1 on a CPU.
``runtime="auto"`` picks ONNX Runtime where the conversion is possible and keeps Keras otherwise.

Long because it is the one place that loads models for inference: each format (run directory, Keras file,
shipped weights, ONNX, TFLite, SavedModel) has its own few lines here rather than a copy elsewhere; the
Keras file itself is read by :func:`fer_zoo.training.saved.load_model`, which training resumes from too.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_zoo.errors import FerZooError, one_line
from fer_zoo.inputs import regular_file
from fer_zoo.training.saved import (KERAS_SUFFIXES, checked_scaling, load_model, refuse_untrained_run,
                                    resolve_model_path)

RUNTIMES = ("auto", "keras", "onnx")
MAX_ABS_DIFF = 1e-4  # a conversion that moves any probability further than this is not used
log = logging.getLogger(__name__)


@dataclass
class Classifier:
    """A trained classifier behind one calling convention: raw pixels in, probabilities out."""

    source: str  # what the user named: a path or an architecture
    runtime: str  # how it runs, in words: "onnxruntime", "keras (tensorflow)", "litert", ...
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    run_batch: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    keras_model: Any = field(default=None, repr=False)  # set when the source is a Keras model
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Probabilities for ``x`` (N, H, W, C) of raw 0-255 pixels, ``batch_size`` images at a time; images
        of another size or channel count are resized and converted to the model's input first."""
        x = np.asarray(x)
        if x.ndim != 4:
            raise FerZooError(f"{self.source}: expected images (N, H, W, C), got shape {x.shape}")
        if tuple(x.shape[1:]) != self.input_shape:
            x = fit_images(x, self.input_shape)
        x = x.astype(np.float32, copy=False)
        if len(x) == 0:
            return np.zeros((0, self.num_classes), np.float32)
        parts = [np.asarray(self.run_batch(x[i:i + batch_size]), dtype=np.float32)
                 for i in range(0, len(x), batch_size)]
        out = np.concatenate(parts)
        if not np.isfinite(out).all():  # NaN weights (a diverged run), or a NaN --scale: never a score
            raise FerZooError(f"{self.source}: the model's outputs are not finite numbers (NaN or infinite); "
                              f"its weights or its input scaling are broken")
        return out


CLASSIFIER = "a classifier has one image input [N,H,W,C] and one output [N,classes] of floats, classes ≥ 2"
FLOAT_TYPES = ("float16", "bfloat16", "float32", "float64")


def require_classifier(source: str, inputs: list, outputs: list) -> None:
    """Refuse a model that loads but is not an image classifier fer-zoo can feed: ``inputs`` and ``outputs``
    as (full shape, batch included, or None if unknown; dtype name) pairs. Checked at load, so no command
    gets as far as a shape error or a uint8 tensor of pixels it never meant."""
    def fail(what: str):
        raise FerZooError(f"{source}: not an image classifier: {what}; {CLASSIFIER}")

    if len(inputs) != 1 or len(outputs) != 1:
        fail(f"it has {len(inputs)} input(s) and {len(outputs)} output(s)")
    (in_shape, in_type), (out_shape, out_type) = inputs[0], outputs[0]
    if in_shape is None or len(in_shape) != 4:
        fail(f"its input is {_shape(in_shape)}, not [N,H,W,C]")
    if str(in_type) not in FLOAT_TYPES:
        fail(f"its input takes {in_type}, not floats")
    if out_shape is None or len(out_shape) != 2:
        fail(f"its output is {_shape(out_shape)}, not [N,classes]")
    classes = out_shape[1]
    if not isinstance(classes, (int, np.integer)):
        fail(f"its output {_shape(out_shape)} has no fixed number of classes")
    if classes < 2:
        fail(f"its output has {classes} class")
    if str(out_type) not in FLOAT_TYPES:
        fail(f"its output is {out_type}, not floats")


def _shape(dims) -> str:
    if dims is None:
        return "of unknown shape"
    if len(dims) == 0:
        return "a scalar"
    return "[" + ",".join(str(d) if isinstance(d, (int, np.integer)) and d >= 0 else "?" for d in dims) + "]"


def default_class_names(n: int) -> tuple[str, ...]:
    """FER2013's seven in its order, FER+'s eight (the seven + contempt), else ``class_0`` ..."""
    from fer_zoo.data.dataset import CLASS_NAMES, EXTRA_CLASSES

    known = CLASS_NAMES + EXTRA_CLASSES
    return known[:n] if n in (len(CLASS_NAMES), len(known)) else tuple(f"class_{i}" for i in range(n))


def artifact_kind(path: Path) -> str | None:
    """'run', 'keras', 'onnx', 'tflite' or 'savedmodel' for an existing path, else None."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        if (path / "best.keras").is_file():
            return "run"
        return None
    if not path.is_file():
        return None
    return {".onnx": "onnx", ".tflite": "tflite"}.get(path.suffix.lower(),
                                                       "keras" if path.suffix.lower() in KERAS_SUFFIXES else None)


def load_classifier(model: str | os.PathLike, *, runtime: str = "keras", unsafe: bool = False,
                    scale: float | None = None, offset: float | None = None,
                    class_names: list[str] | tuple[str, ...] | None = None) -> Classifier:
    """Load ``model`` (a path, or an architecture name whose plugin ships weights) as a Classifier.

    ``runtime`` applies to Keras models (``keras``, ``onnx`` or ``auto``); exported artifacts always run
    under their own runtime. ``scale``/``offset`` wrap a bare model trained on normalised input.
    """
    if runtime not in RUNTIMES:
        raise FerZooError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    scale, offset = checked_scaling(scale, offset)
    source = str(model)
    path = Path(model)
    kind = artifact_kind(path)
    if kind is None and not path.exists() and _is_architecture(source):
        classifier = _from_architecture(source, runtime)
    elif kind in ("run", "keras"):
        keras_model = load_model(path, unsafe, scale, offset)  # a bare file's normalisation goes inside
        key = _file_key(resolve_model_path(path)) + ("" if scale is None and offset is None else f"-{scale}-{offset}")
        classifier = _from_keras(keras_model, source, runtime, _run_class_names(path), cache_key=key)
        scale = offset = None
    elif kind == "onnx":
        classifier = onnx_classifier(path, source)
    elif kind == "tflite":
        classifier = _from_tflite(path, source)
    elif kind == "savedmodel":
        if not unsafe:
            raise FerZooError(f"{source}: a SavedModel is a TensorFlow program and runs whatever code it was saved "
                              f"with; pass --unsafe only if you trust its author (ONNX, TFLite and .keras files "
                              f"load without it)")
        from fer_zoo import tf_backend

        run, dims, n = tf_backend.saved_model_runner(path)
        require_classifier(source, [([None, *dims], "float32")], [([None, n], "float32")])
        classifier = Classifier(source, "tensorflow savedmodel", static_shape(dims, source),
                                default_class_names(n), run)
    elif path.exists() or path.is_symlink():
        if not path.is_dir():
            regular_file(path, source)  # a pipe, a device, a dangling symlink: say which
        refuse_untrained_run(path)
        if (path / "config.json").is_file() and not os.path.lexists(path / "best.keras"):
            raise FerZooError(f"{source}: a run directory with no best.keras (its model) in it; was it moved or "
                              f"deleted?")
        raise FerZooError(f"{source}: not a model: expected a run directory, a .keras/.h5/.onnx/.tflite file "
                          f"or a SavedModel directory")
    else:
        raise FerZooError(f"{source}: no such model file or run directory, and no architecture of that name "
                          f"(see 'fer-zoo list')")
    if scale is not None or offset is not None:
        classifier = _rescaled(classifier, 1 / 255 if scale is None else scale, offset or 0.0)
    if class_names is not None:
        if len(class_names) != classifier.num_classes:
            raise FerZooError(f"--classes: {len(class_names)} names given, the model predicts "
                              f"{classifier.num_classes} classes")
        classifier.class_names = tuple(class_names)
    return classifier


def fit_image(image: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """One uint8 image (H, W) or (H, W, 1|3), RGB order, resized and converted to ``shape`` (float32)."""
    import cv2

    height, width, channels = shape
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2 and channels == 3:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.ndim == 3 and channels == 1:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.shape[:2] != (height, width):
        shrinking = image.shape[0] > height or image.shape[1] > width
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return image.reshape(shape).astype(np.float32)


def fit_images(images: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A batch of images at ``shape``; a batch already at it is returned as float32 unchanged."""
    if tuple(images.shape[1:]) == tuple(shape):
        return images.astype(np.float32)
    return np.stack([fit_image(np.clip(img, 0, 255).astype(np.uint8), shape) for img in images])


# --- Keras models -----------------------------------------------------------------------------------


def _is_architecture(name: str) -> bool:
    from fer_zoo import plugins

    return name in plugins.current().architectures


def _from_architecture(name: str, runtime: str) -> Classifier:
    """An architecture's shipped weights as a classifier of its declared input (raw pixels in)."""
    from fer_zoo import get_architecture
    from fer_zoo.models.build import create_model
    from fer_zoo.models.pipeline import inference_model

    arch = get_architecture(name)
    classes = len(arch.class_names)
    bare = create_model(arch, arch.input_shape, classes, pretrained=True)
    model = inference_model(arch, arch.input_shape, classes, bare=bare)
    return _from_keras(model, name, runtime, arch.class_names, cache_key=f"{name}-{_file_key(arch.weights_path())}")


def _from_keras(model, source: str, runtime: str, class_names, cache_key: str | None) -> Classifier:
    import keras

    require_classifier(source, [(tuple(t.shape), keras.backend.standardize_dtype(t.dtype)) for t in model.inputs],
                       [(tuple(t.shape), keras.backend.standardize_dtype(t.dtype)) for t in model.outputs])
    shape = tuple(model.input_shape[1:])
    if None in shape:
        raise FerZooError(f"{source}: expected a model of images (H, W, C), its input is {model.input_shape}")
    if not all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in model.weights):  # one at a time
        raise FerZooError(f"{source}: its weights hold NaN or infinite values (saved from a run that diverged?); "
                          f"it cannot classify anything")
    n = model.output_shape[-1]
    names = tuple(class_names) if class_names and len(class_names) == n else default_class_names(n)
    notes = []
    if runtime in ("auto", "onnx"):
        try:
            onnx = _cached_onnx(model, cache_key, source)
            return Classifier(source, "onnxruntime (converted from keras)", shape, names, onnx.run_batch, model)
        except FerZooError as exc:
            if runtime == "onnx":
                raise
            notes.append(f"ONNX Runtime not used ({exc}); running the Keras model")
    return Classifier(source, f"keras ({keras.backend.backend()})", shape, names, _compiled(model), model, notes)


def _compiled(model) -> Callable[[np.ndarray], np.ndarray]:
    """The model's forward pass compiled by the active backend (``model.predict`` costs ~60 ms a call)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        from fer_zoo import tf_backend

        return tf_backend.compiled_call(model)
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]
        call = jax.jit(lambda t, f, x: model.stateless_call(t, f, x, training=False)[0])
        return lambda x: np.asarray(call(trainable, frozen, x))
    return lambda x: keras.ops.convert_to_numpy(model(x, training=False))


def _cached_onnx(model, cache_key: str | None, source: str) -> Classifier:
    """The model converted to ONNX (and checked against Keras), kept in the cache for the next run; a cached
    file that does not load (truncated by a kill, say) is deleted and converted again."""
    import keras

    from fer_zoo import __version__
    from fer_zoo.environment import cache_dir

    if keras.backend.backend() != "tensorflow":
        raise FerZooError("the ONNX conversion needs the tensorflow backend")
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as exc:
        raise FerZooError(f"{exc.name} is not installed") from None
    directory = cache_dir() / "onnx"
    target = directory / f"{cache_key}-{__version__}-keras{keras.__version__}.onnx" if cache_key else None
    if target is not None and target.is_file():
        try:
            return onnx_classifier(target, source)
        except FerZooError as exc:
            target.unlink(missing_ok=True)
            log.warning("cached ONNX model %s was unreadable (%s); converting again", target.name, exc)
    path = target or Path(_scratch_dir()) / "model.onnx"
    _convert_to_onnx(model, path)
    return onnx_classifier(path, source)


def _convert_to_onnx(model, path: Path) -> None:
    """Convert a Keras model to ONNX at ``path`` (atomically) if it reproduces the model on noise images."""
    from fer_zoo import atomic, tf_backend
    from fer_zoo.quiet import muted

    x = np.random.default_rng(0).uniform(0, 255, (32, *model.input_shape[1:])).astype(np.float32)
    reference = tf_backend.compiled_call(model)(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale(path.parent)
    with atomic.scratch_dir(path) as scratch:
        tmp = Path(scratch) / "model.onnx"
        try:
            with muted(stdout=True):
                tf_backend.write_onnx(model, tmp, default_class_names(model.output_shape[-1]))
        except Exception as exc:
            raise FerZooError(f"the ONNX conversion failed: {one_line(exc, 200)}") from None
        diff = float(np.abs(onnx_classifier(tmp, str(tmp)).run_batch(x) - reference).max())
        if diff > MAX_ABS_DIFF:
            raise FerZooError(f"the ONNX conversion differs from Keras by {diff:.2g}")
        os.replace(tmp, path)


_SCRATCH = None


def _scratch_dir() -> str:
    """A folder that lives as long as the process, for conversions that are not cached."""
    import tempfile

    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.TemporaryDirectory(prefix="fer-zoo-")
    return _SCRATCH.name


def _file_key(path: Path) -> str:
    from fer_zoo.data.cache import file_digest

    return file_digest(path)


def _run_class_names(path: Path) -> list[str] | None:
    """The class names a run recorded in its config.json (the run directory or the file's folder)."""
    config = (path if path.is_dir() else path.parent) / "config.json"
    try:
        names = json.loads(config.read_text()).get("class_names")
    except (OSError, ValueError, AttributeError):
        return None
    return names if isinstance(names, list) and all(isinstance(n, str) for n in names) else None


# --- exported artifacts -----------------------------------------------------------------------------


def onnx_classifier(path: Path, source: str) -> Classifier:
    """An ONNX file under ONNX Runtime (CPU), class names from its metadata."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise FerZooError(f"{source}: running ONNX models needs onnxruntime (pip install onnxruntime)") from None
    from fer_zoo.environment import call_threads

    options = ort.SessionOptions()
    options.log_severity_level = 3
    threads = call_threads()
    if threads < (os.cpu_count() or 1):  # a worker's share; else ONNX Runtime's own choice (its cores)
        options.intra_op_num_threads = threads
    # no busy-waiting between calls: a spinning pool takes the cores from the face detector that runs next
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise FerZooError(f"{source}: cannot load ONNX model: {one_line(exc, 200)}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    require_classifier(source, [(i.shape, _onnx_type(i.type)) for i in inputs],
                       [(o.shape, _onnx_type(o.type)) for o in outputs])
    shape = static_shape(inputs[0].shape[1:], source)
    n = int(outputs[0].shape[-1])
    from fer_zoo.tf_backend import ONNX_METADATA_KEY

    meta = session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
    names = default_class_names(n) if meta is None else _metadata_names(meta, n, source, ONNX_METADATA_KEY)
    input_name = inputs[0].name
    return Classifier(source, "onnxruntime", shape, names, lambda x: session.run(None, {input_name: x})[0])


def _onnx_type(name: str) -> str:
    """ONNX Runtime's "tensor(float)" as numpy's name, "float32"."""
    bare = name.removeprefix("tensor(").removesuffix(")")
    return {"float": "float32", "double": "float64"}.get(bare, bare)


def _metadata_names(meta: str, n: int, source: str, key: str) -> tuple[str, ...]:
    """Class names from an ONNX file's metadata: a JSON list of ``n`` strings, or a one-line error."""
    try:
        names = json.loads(meta)
    except ValueError:
        names = None
    if not isinstance(names, list) or len(names) != n or not all(isinstance(x, str) and x for x in names):
        raise FerZooError(f"{source}: its metadata {key!r} must be a JSON list of its {n} class names, "
                          f"got {one_line(meta, 80)!r}")
    return tuple(names)


def _from_tflite(path: Path, source: str) -> Classifier:
    interpreter, runtime = _tflite_interpreter(path, source)
    require_classifier(source, [(list(d["shape"]), np.dtype(d["dtype"]).name) for d in interpreter.get_input_details()],
                       [(list(d["shape"]), np.dtype(d["dtype"]).name) for d in interpreter.get_output_details()])
    detail = interpreter.get_input_details()[0]
    index, out_index = detail["index"], interpreter.get_output_details()[0]["index"]
    shape = static_shape(list(detail["shape"][1:]), source)
    n = int(interpreter.get_output_details()[0]["shape"][-1])
    current = {"batch": int(detail["shape"][0])}

    def run(x: np.ndarray) -> np.ndarray:
        if len(x) != current["batch"]:
            interpreter.resize_tensor_input(index, list(x.shape), strict=False)
            interpreter.allocate_tensors()
            current["batch"] = len(x)
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return interpreter.get_tensor(out_index).copy()

    return Classifier(source, runtime, shape, default_class_names(n), run)


def _tflite_interpreter(path: Path, source: str):
    """LiteRT's interpreter (``ai-edge-litert``) where installed, else TensorFlow's deprecated one."""
    from fer_zoo.environment import call_threads

    threads = call_threads()
    try:
        from ai_edge_litert.interpreter import Interpreter

        runtime = "litert"
    except ImportError:
        from fer_zoo import tf_backend

        Interpreter, runtime = tf_backend.tf_lite_interpreter_class(), "tf.lite (tensorflow)"
    from fer_zoo.quiet import muted

    try:
        with muted():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interpreter = Interpreter(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
    except Exception as exc:
        raise FerZooError(f"{source}: cannot load TFLite model: {one_line(exc, 200)}") from None
    return interpreter, runtime


def static_shape(dims, source: str) -> tuple[int, int, int]:
    if len(dims) != 3 or not all(isinstance(d, (int, np.integer)) and d > 0 for d in dims):
        raise FerZooError(f"{source}: expected an input of images (H, W, C) with fixed sizes, got {list(dims)}")
    return tuple(int(d) for d in dims)


def _rescaled(classifier: Classifier, scale: float, offset: float) -> Classifier:
    """A bare model trained on normalised input behind raw 0-255 pixels."""
    inner = classifier.run_batch

    def run(x: np.ndarray) -> np.ndarray:
        return inner((x * np.float32(scale) + np.float32(offset)).astype(np.float32))

    return Classifier(classifier.source, classifier.runtime, classifier.input_shape, classifier.class_names, run,
                      None, classifier.notes)
