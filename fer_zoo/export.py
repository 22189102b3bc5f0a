"""Deployable models, verified — and every line of fer-zoo that needs TensorFlow itself.

``export()`` writes the inference model (raw 0-255 pixels in, normalisation inside, no augmentation) as
``keras``, ``h5``, ``savedmodel``, ``tflite`` or ``onnx``, loads the artifact back through its own runtime,
and compares its predictions with the Keras model's on real images: the largest absolute difference of a
probability for float formats, top-1 agreement for int8. Past the tolerance nothing is written.

The rest of the package imports this module only when it needs TensorFlow (SavedModel, TFLite, the
tf2onnx conversion, a ``tf.function``), so under ``KERAS_BACKEND=jax`` without TensorFlow everything else
still runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer_zoo.errors import FerZooError, one_line
from fer_zoo.quiet import muted

FORMATS = {"keras": ".keras", "h5": ".h5", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}
QUANTIZATIONS = ("none", "float16", "int8")
SUPPORTED = {"tflite": QUANTIZATIONS, "onnx": ("none", "int8")}
# The documented tolerances (docs/export.md): largest |probability difference| for float formats,
# smallest top-1 agreement with the Keras model for int8.
MAX_ABS_DIFF = {"none": 1e-4, "float16": 1e-2}
MIN_TOP1_AGREEMENT = 0.9
# int8 narrows step by step what it quantises until the check passes (each step is reported).
# TFLite: op types kept in float. Elementwise MUL/ADD come first: a batch norm after pooling or after a
# ReLU'd dense layer stays a multiply-add whose int8 rounding cancels the signal (the paper's custom net
# loses it entirely: 17% top-1 agreement). ONNX: the op types quantised (mini-Xception's unfolded batch
# norms and residual adds lose too much in int8; its convolutions alone are safe).
INT8_LADDER = {
    "tflite": [("keep_float", ()), ("keep_float", ("MUL", "ADD")), ("keep_float", ("MUL", "ADD", "FULLY_CONNECTED"))],
    "onnx": [("quantize_only", ()), ("quantize_only", ("Conv", "MatMul", "Gemm")), ("quantize_only", ("Conv",))],
}
CHECK_IMAGES = 256
REPRESENTATIVE_IMAGES = 256


class VerificationFailed(FerZooError):
    """The exported artifact does not reproduce the model within tolerance (exit status 1)."""


@dataclass
class ExportReport:
    path: str
    format: str
    quantize: str
    bytes: int
    runtime: str
    check: str  # "max_abs_diff" or "top1_agreement"
    value: float
    tolerance: float
    max_abs_diff: float
    top1_agreement: float
    images: int
    data: str
    int8_scope: str = ""  # int8: what was quantised ("all ops", "all but MUL, ADD", "only Conv")

    def as_dict(self) -> dict:
        return asdict(self)


def export(model: str | os.PathLike, fmt: str, out: str | os.PathLike, quantize: str = "none",
           data: str = "synthetic", force: bool = False, unsafe: bool = False,
           scale: float | None = None, offset: float | None = None) -> ExportReport:
    """Export ``model`` (run dir, .keras/.h5, or an architecture with shipped weights) to ``out``."""
    from fer_zoo.runtime import load_classifier

    out = Path(out)
    _check_request(fmt, quantize, out, force)
    source = load_classifier(model, runtime="keras", unsafe=unsafe, scale=scale, offset=offset)
    if source.keras_model is None:
        raise FerZooError(f"{model}: export takes a Keras model (a run directory, .keras/.h5 file or an "
                          f"architecture with weights), not a {source.runtime} artifact")
    check_x, representative = _images(data, source.input_shape, quantize == "int8")
    reference = source.predict(check_x)
    out.parent.mkdir(parents=True, exist_ok=True)
    ladder = INT8_LADDER[fmt] if quantize == "int8" else [("keep_float", ())]
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as scratch:
        for step, scope in enumerate(ladder):
            artifact = Path(scratch) / f"try{step}" / f"model{FORMATS[fmt]}"
            artifact.parent.mkdir()
            with muted(stdout=True):
                _write(source, fmt, quantize, artifact, representative, scope)
            try:
                report = _verify(artifact, fmt, quantize, out, reference, check_x, data, scope)
                break
            except VerificationFailed:
                if step == len(ladder) - 1:
                    raise
        _move_into_place(artifact, out)
    report.bytes = _size(out)
    return report


def _check_request(fmt: str, quantize: str, out: Path, force: bool) -> None:
    if fmt not in FORMATS:
        raise FerZooError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if quantize not in QUANTIZATIONS:
        raise FerZooError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if quantize not in SUPPORTED.get(fmt, ("none",)):
        formats = [f for f, allowed in SUPPORTED.items() if quantize in allowed]
        raise FerZooError(f"--quantize {quantize} is available for --format {' or '.join(formats)}, "
                          f"not {fmt}")
    suffix = FORMATS[fmt]
    if suffix and out.suffix.lower() != suffix:
        raise FerZooError(f"--out {out}: a {fmt} file must end in {suffix}")
    if out.exists() and not force:
        raise FerZooError(f"--out {out} exists; pass --force to replace it")


def _images(data: str, shape: tuple[int, int, int], representative: bool):
    """Real images for the check (val split) and int8 calibration (train split), at the model's input."""
    from fer_zoo.data import load_dataset
    from fer_zoo.runtime import fit_images

    dataset = load_dataset(data)
    check_split = dataset.splits.get("val") or dataset.splits.get("test") or dataset.splits["train"]
    check = fit_images(check_split.x[:CHECK_IMAGES], shape)
    rep = None
    if representative:
        train = dataset.splits["train"].x
        pick = np.random.default_rng(0).permutation(len(train))[:REPRESENTATIVE_IMAGES]
        rep = fit_images(train[np.sort(pick)], shape)
    return check, rep


def _write(source, fmt: str, quantize: str, path: Path, representative, scope=("keep_float", ())) -> None:
    model = source.keras_model
    try:
        if fmt in ("keras", "h5"):
            model.save(path)
        elif fmt == "savedmodel":
            _saved_model(model, path)
        elif fmt == "tflite":
            path.write_bytes(_tflite_bytes(model, quantize, representative, scope[1]))
        else:
            _onnx(model, path, source.class_names)
            if quantize == "int8":
                _onnx_int8(path, representative, source.class_names, scope[1])
    except FerZooError:
        raise
    except Exception as exc:  # a converter's refusal (an op it cannot express) is a clear message, not a trace
        raise FerZooError(f"{source.source}: the {fmt} converter failed: {one_line(exc, 300)}") from None


def _verify(artifact: Path, fmt: str, quantize: str, out: Path, reference: np.ndarray, x: np.ndarray,
            data: str, scope=("keep_float", ())) -> ExportReport:
    from fer_zoo.runtime import load_classifier

    loaded = load_classifier(artifact, runtime="keras")
    got = loaded.predict(x)
    if got.shape != reference.shape:
        raise VerificationFailed(f"the {fmt} artifact predicts {got.shape[-1]} classes, the model "
                                 f"{reference.shape[-1]}; nothing written")
    diff = float(np.abs(got - reference).max())
    agreement = float(np.mean(got.argmax(1) == reference.argmax(1)))
    if quantize == "int8":
        check, value, tolerance, ok = "top1_agreement", agreement, MIN_TOP1_AGREEMENT, agreement >= MIN_TOP1_AGREEMENT
    else:
        tolerance = MAX_ABS_DIFF[quantize]
        check, value, ok = "max_abs_diff", diff, diff <= tolerance
    if not ok:
        relation = "<" if check == "top1_agreement" else ">"
        kept = f" (quantising {describe_scope(scope)})" if quantize == "int8" else ""
        raise VerificationFailed(f"{fmt} export failed verification on {len(x)} images of {data}: {check} "
                                 f"{value:.3g} {relation} tolerance {tolerance:g}{kept}; nothing written to {out}")
    return ExportReport(str(out), fmt, quantize, 0, loaded.runtime, check, value, tolerance, diff, agreement,
                        len(x), data, describe_scope(scope) if quantize == "int8" else "")


def describe_scope(scope) -> str:
    kind, ops = scope
    if not ops:
        return "all ops"
    return f"all but {', '.join(ops)}" if kind == "keep_float" else f"only {', '.join(ops)}"


def _move_into_place(artifact: Path, out: Path) -> None:
    """The verified artifact replaces ``out`` (file or SavedModel folder) in one rename where it can."""
    if out.is_dir() and not out.is_symlink():
        old = out.with_name(f".{out.name}.old")
        os.replace(out, old)
        os.replace(artifact, out)
        shutil.rmtree(old)
    else:
        if artifact.is_dir() and out.exists():
            out.unlink()
        os.replace(artifact, out)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# --- converters -------------------------------------------------------------------------------------


def _tflite_bytes(model, quantize: str, representative, keep_float=()) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        # Weights and activations in int8, calibrated on real images; input and output stay float32 so the
        # artifact is called exactly like the others.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        samples = lambda: ([representative[i:i + 1]] for i in range(len(representative)))  # noqa: E731
        converter.representative_dataset = samples
        if keep_float:  # selective quantisation, TFLite's documented way: the quantisation debugger
            options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(keep_float))
            debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=samples,
                                                                 debug_options=options)
            return debugger.get_nondebug_quantized_model()
    return converter.convert()


def _saved_model(model, path: Path) -> None:
    """A SavedModel whose ``serve`` endpoint runs the model in inference mode. Keras 3.15's own
    ``model.export(format="tf_saved_model")`` traced mini-Xception (a functional model nested in the
    inference model) with batch norm in training mode: probabilities off by up to 0.91."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=lambda x: model(x, training=False),
                         input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="pixels")])
    archive.write_out(str(path), verbose=False)


def _onnx(model, path: Path, class_names) -> None:
    import logging

    import tensorflow as tf
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:  # tf2onnx 1.17 still uses NumPy 1 aliases; Keras ships the shim it applies before its own export
        from keras.src.export.tf2onnx_lib import patch_tf2onnx

        patch_tf2onnx()
    except ImportError:
        pass
    # Not `model.export(format="onnx")`: like its SavedModel export, Keras 3.15 traces mini-Xception with
    # batch norm in training mode there. An explicit inference-mode function converts correctly.
    spec = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="pixels"),)
    function = tf.function(lambda x: model(x, training=False), input_signature=spec)
    tf2onnx.convert.from_function(function, input_signature=spec, output_path=str(path))
    _label_onnx(path, class_names)


def _label_onnx(path: Path, class_names) -> None:
    """Record the class names in the ONNX file's metadata, where `fer-zoo predict` reads them back."""
    import json

    import onnx

    from fer_zoo.runtime import ONNX_METADATA_KEY

    proto = onnx.load(str(path))
    for prop in list(proto.metadata_props):
        if prop.key == ONNX_METADATA_KEY:
            proto.metadata_props.remove(prop)
    proto.metadata_props.add(key=ONNX_METADATA_KEY, value=json.dumps(list(class_names)))
    onnx.save(proto, str(path))


def _onnx_int8(path: Path, representative, class_names, only=()) -> None:
    """Static int8 quantisation (QDQ) by ONNX Runtime, calibrated on the representative images."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    import onnxruntime as ort

    input_name = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{input_name: representative[i:i + 1]} for i in range(len(representative))])

        def get_next(self):
            return next(self.batches, None)

    quantized = path.with_name("int8.onnx")
    quantize_static(str(path), str(quantized), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=list(only) or None)
    os.replace(quantized, path)
    _label_onnx(path, class_names)


# --- runtimes that need TensorFlow -------------------------------------------------------------------


def compiled_call(model):
    """``model(x)`` as a ``tf.function`` with a fixed signature: one trace, ~4 ms at batch 1 on a CPU."""
    import tensorflow as tf

    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
    fn = tf.function(lambda x: model(x, training=False), input_signature=signature)
    return lambda x: fn(x).numpy()


def saved_model_runner(path: Path):
    """A SavedModel's ``serve`` endpoint (as `model.export` writes it): (run, input shape, classes)."""
    import tensorflow as tf

    from fer_zoo.runtime import _static_shape

    try:
        loaded = tf.saved_model.load(str(path))
        serve = loaded.signatures.get("serve") or loaded.signatures["serving_default"]
    except Exception as exc:
        raise FerZooError(f"{path}: cannot load SavedModel: {one_line(exc, 200)}") from None
    spec = list(serve.structured_input_signature[1].values())[0]
    shape = _static_shape(list(spec.shape[1:]), str(path))
    output = list(serve.structured_outputs.values())[0]
    n = int(output.shape[-1])
    key = list(serve.structured_input_signature[1])[0]
    return (lambda x: list(serve(**{key: tf.constant(x)}).values())[0].numpy()), shape, n


def tensorflow_gpu_name() -> str | None:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else None


def tf_lite_interpreter_class():
    import tensorflow as tf

    return tf.lite.Interpreter


def to_onnx_verified(model, path: Path) -> None:
    """Convert a Keras model to ONNX at ``path`` (atomically) if it reproduces the model on noise images."""
    from fer_zoo.runtime import _from_onnx, default_class_names

    x = np.random.default_rng(0).uniform(0, 255, (32, *model.input_shape[1:])).astype(np.float32)
    reference = compiled_call(model)(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        tmp = Path(scratch) / "model.onnx"
        try:
            with muted(stdout=True):
                _onnx(model, tmp, default_class_names(model.output_shape[-1]))
        except Exception as exc:
            raise FerZooError(f"the ONNX conversion failed: {one_line(exc, 200)}") from None
        diff = float(np.abs(_from_onnx(tmp, str(tmp)).run_batch(x) - reference).max())
        if diff > MAX_ABS_DIFF["none"]:
            raise FerZooError(f"the ONNX conversion differs from Keras by {diff:.2g}")
        os.replace(tmp, path)


def scratch_dir() -> str:
    """A folder that lives as long as the process, for conversions that are not cached."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.TemporaryDirectory(prefix="fer-zoo-")
    return _SCRATCH.name


_SCRATCH: tempfile.TemporaryDirectory | None = None
