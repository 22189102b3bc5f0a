"""Every line of fer-zoo that needs TensorFlow itself: the converters (TFLite, SavedModel, ONNX through
tf2onnx), SavedModel and TFLite runners, a ``tf.function`` forward pass, a gradient for Grad-CAM, the
TensorFlow GPU's name, and the MirroredStrategy behind ``--devices``.

Everything else runs on any Keras backend; the rest of the package imports this module only where a
TensorFlow-only format is asked for, so under ``KERAS_BACKEND=jax`` without TensorFlow it still runs.
Functions here return plain Python and numpy; they know nothing of fer-zoo's other modules.
"""

from __future__ import annotations

import json
from pathlib import Path

from fer_zoo.errors import FerZooError, one_line

ONNX_METADATA_KEY = "fer_zoo.class_names"


def gpu_name() -> str | None:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else None


def replica_devices() -> list[str]:
    """The GPUs, else the (logical) CPU devices, by TensorFlow's names."""
    import tensorflow as tf

    return [d.name for d in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")]


def mirrored(count: int):
    """A MirroredStrategy over the first ``count`` of :func:`replica_devices` (gradients all-reduced)."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices=replica_devices()[:count])


def compiled_call(model):
    """``model(x)`` as a ``tf.function`` with a fixed signature: one trace, ~4 ms at batch 1 on a CPU."""
    import tensorflow as tf

    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
    fn = tf.function(lambda x: model(x, training=False), input_signature=signature)
    return lambda x: fn(x).numpy()


def value_and_grad(fn, zeros):
    """``fn(delta) -> (scalar, aux)`` at ``zeros``: its value, aux and gradient (for fer_zoo.inference.explain)."""
    import tensorflow as tf

    delta = tf.convert_to_tensor(zeros)
    with tf.GradientTape() as tape:
        tape.watch(delta)
        value, aux = fn(delta)
    return value, aux, tape.gradient(value, delta)


def saved_model_runner(path: Path):
    """A SavedModel's ``serve`` endpoint: (run, input dims after the batch, number of classes)."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        serve = loaded.signatures.get("serve") or loaded.signatures["serving_default"]
    except Exception as exc:
        raise FerZooError(f"{path}: cannot load SavedModel: {one_line(exc, 200)}") from None
    spec = list(serve.structured_input_signature[1].values())[0]
    output = list(serve.structured_outputs.values())[0]
    key = list(serve.structured_input_signature[1])[0]
    run = lambda x: list(serve(**{key: tf.constant(x)}).values())[0].numpy()  # noqa: E731
    return run, list(spec.shape[1:]), int(output.shape[-1])


def tf_lite_interpreter_class():
    import tensorflow as tf

    return tf.lite.Interpreter


def tflite_bytes(model, quantize: str, representative, keep_float=()) -> bytes:
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


def write_saved_model(model, path: Path) -> None:
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


def write_onnx(model, path: Path, class_names) -> None:
    """The model as ONNX, through tf2onnx from an inference-mode ``tf.function``, class names in its metadata.

    Not ``model.export(format="onnx")``: like its SavedModel export, Keras 3.15 traces mini-Xception with
    batch norm in training mode there."""
    import logging

    import tensorflow as tf
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:  # tf2onnx 1.17 still uses NumPy 1 aliases; Keras ships the shim it applies before its own export
        from keras.src.export.tf2onnx_lib import patch_tf2onnx

        patch_tf2onnx()
    except ImportError:
        pass
    spec = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="pixels"),)
    function = tf.function(lambda x: model(x, training=False), input_signature=spec)
    tf2onnx.convert.from_function(function, input_signature=spec, output_path=str(path))
    label_onnx(path, class_names)


def label_onnx(path: Path, class_names) -> None:
    """Record the class names in the ONNX file's metadata, where `fer-zoo predict` reads them back."""
    import onnx

    proto = onnx.load(str(path))
    for prop in list(proto.metadata_props):
        if prop.key == ONNX_METADATA_KEY:
            proto.metadata_props.remove(prop)
    proto.metadata_props.add(key=ONNX_METADATA_KEY, value=json.dumps(list(class_names)))
    onnx.save(proto, str(path))


class op_determinism:
    """TensorFlow's deterministic ops for the ``with`` block (``train --deterministic``): the same inputs and
    seeds then give the same bits, on a CPU and on a GPU. The switch is process-wide, so it is put back as it
    was afterwards (through TensorFlow's own internal switch: the public API only turns it on)."""

    def __enter__(self):
        import tensorflow as tf
        from tensorflow.python.framework import config

        self.was_on = config.is_op_determinism_enabled()
        tf.config.experimental.enable_op_determinism()
        return self

    def __exit__(self, *exc):
        from tensorflow.python.framework import config

        if not self.was_on:
            config.disable_op_determinism()
        return False
