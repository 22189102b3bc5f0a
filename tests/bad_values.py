"""Files that parse but hold values fer-zoo must refuse: classifiers of the wrong shape or with NaN weights,
ONNX graphs written with the onnx package's helper API (no TensorFlow conversion), FER+ vote files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOTE_COLUMNS = "neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def onnx_model(path: Path, *, input_type: str = "float", output_shape=("N", 7), no_input: bool = False,
               metadata: str | None = None, weight: float = 0.0) -> str:
    """A tiny ONNX graph: 48x48x1 pixels -> softmax over ``output_shape[1]`` classes, or what the options break
    (``input_type`` "uint8" or "int64", ``output_shape=()`` a scalar, no input at all, class-name metadata,
    ``weight=nan``: a well-formed classifier that answers NaN)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem = {"float": TensorProto.FLOAT, "uint8": TensorProto.UINT8, "int64": TensorProto.INT64}[input_type]
    nodes, inits, inputs = [], [], []
    if no_input:
        inits.append(numpy_helper.from_array(np.full((1, 7), 1 / 7, np.float32), "c"))
        nodes.append(helper.make_node("Identity", ["c"], ["y"]))
        output_shape = (1, 7)
    else:
        inputs.append(helper.make_tensor_value_info("x", elem, ["N", 48, 48, 1]))
        src = "x"
        if input_type != "float":
            nodes.append(helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT))
            src = "xf"
        if len(output_shape) == 0:
            nodes.append(helper.make_node("ReduceMean", [src], ["y"], keepdims=0))
        else:
            inits += [numpy_helper.from_array(np.array([-1, 48 * 48], np.int64), "shape"),
                      numpy_helper.from_array(np.full((48 * 48, output_shape[1]), weight, np.float32), "w")]
            nodes += [helper.make_node("Reshape", [src, "shape"], ["flat"]),
                      helper.make_node("MatMul", ["flat", "w"], ["z"]),
                      helper.make_node("Softmax", ["z"], ["y"], axis=1)]
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(output_shape))
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, [output], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what every installed onnxruntime reads
    if metadata is not None:
        from fer_zoo.tf_backend import ONNX_METADATA_KEY

        model.metadata_props.add(key=ONNX_METADATA_KEY, value=metadata)
    onnx.save(model, str(path))
    return str(path)


def keras_model(path: Path, kind: str) -> str:
    """``multi-output``: two heads; ``one-class``: a single sigmoid; ``nan``: every weight NaN;
    ``uint8``: an input of uint8; ``ok``: a plain 7-class classifier."""
    import keras

    pixels = keras.Input((48, 48, 1), dtype="uint8" if kind == "uint8" else "float32")
    flat = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(pixels))
    one = kind == "one-class"
    head = keras.layers.Dense(1 if one else 7, activation="sigmoid" if one else "softmax")
    outputs = [head(flat), keras.layers.Dense(2)(flat)] if kind == "multi-output" else head(flat)
    model = keras.Model(pixels, outputs)
    if kind == "nan":
        model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    model.save(path)
    return str(path)


def uint8_tflite(path: Path) -> str:
    """A TFLite classifier whose input is uint8 (a fully quantised model's), from a two-op tf.function."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 48, 48, 1], tf.uint8)], autograph=False)
    def classify(x):
        return tf.nn.softmax(tf.reshape(tf.cast(x, tf.float32), [1, -1])[:, :7])

    converter = tf.lite.TFLiteConverter.from_concrete_functions([classify.get_concrete_function()], classify)
    Path(path).write_bytes(converter.convert())
    return str(path)


def ferplus_labels(path: Path, usage: list[str], votes: dict[int, str] | None = None, base: str = "10") -> str:
    """fer2013new.csv aligned with ``usage``: every row ``base`` votes for neutral, rows in ``votes`` replaced
    by that text for all ten columns' first ("" empty, "inf", a huge number)."""
    rows = []
    for i, use in enumerate(usage):
        first = (votes or {}).get(i, base)
        rows.append(f"{use},img{i:05d}.png,{first}," + ",".join(["0"] * 9))
    Path(path).write_text(f"Usage,Image name,{VOTE_COLUMNS}\n" + "\n".join(rows) + "\n")
    return str(path)
