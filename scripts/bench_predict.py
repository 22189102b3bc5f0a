"""Inference speed of `custom` on this machine: batch-1 latency per runtime, and `fer-zoo predict`
end to end on a folder of face images.

Usage: python scripts/bench_predict.py [--arch custom] [--faces 500] [--repeats 300]

Prints, for one 48x48 face at batch 1, the median latency of `model.predict`, an eager `model(x)`, the
backend's compiled function (what `--runtime keras` uses), TFLite (LiteRT) and ONNX Runtime (what
`--runtime auto` uses); then `predict --no-detect --batch-size 64` over --faces PNG files (faces/s end to
end, as its summary line reports). The weights are untrained: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from fer_zoo import median_seconds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def median_ms(fn, x, repeats: int) -> float:
    return 1000 * median_seconds(lambda: fn(x), repeats, warmup=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="custom")
    parser.add_argument("--faces", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    import fer_zoo
    from fer_zoo import export, load_classifier, load_dataset
    # what `fer-zoo predict` runs, timed on a folder without the Predictor's per-call set-up
    from fer_zoo.inference.predict import PredictOptions, predict
    # the network with its preprocessing inside, untrained: what a run directory's best.keras holds
    from fer_zoo.models.pipeline import inference_model

    arch = fer_zoo.get_architecture(args.arch)
    model = inference_model(arch, (48, 48, 1), 7)
    x = np.random.default_rng(0).uniform(0, 255, (1, 48, 48, 1)).astype("float32")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("FER_ZOO_CACHE_DIR", str(tmp / "cache"))
        path = tmp / f"{args.arch}.keras"
        model.save(path)
        export(path, "tflite", tmp / "m.tflite")
        rows = [
            ("model.predict", median_ms(lambda a: model.predict(a, verbose=0), x, min(args.repeats, 100))),
            ("eager model(x)", median_ms(lambda a: model(a, training=False), x, min(args.repeats, 100))),
        ]
        for label, runtime_model, runtime in [("compiled (--runtime keras)", path, "keras"),
                                              ("TFLite (LiteRT)", tmp / "m.tflite", "keras"),
                                              ("ONNX Runtime (--runtime auto)", path, "auto")]:
            classifier = load_classifier(runtime_model, runtime=runtime)
            rows.append((f"{label}: {classifier.runtime}", median_ms(classifier.run_batch, x, args.repeats)))
        print(f"{args.arch}, one 48x48 face, batch 1, median of {args.repeats} calls:")
        for label, ms in rows:
            print(f"  {label:<60} {ms:7.2f} ms")

        faces = tmp / "faces"
        faces.mkdir()
        images = load_dataset(f"synthetic:size={max(args.faces * 10 // 8, 10)}").splits["train"].x[:args.faces]
        for i, img in enumerate(images):
            Image.fromarray(img[:, :, 0]).save(faces / f"{i:05d}.png")
        classifier = load_classifier(path, runtime="auto")
        for attempt in range(3):
            found, summary = predict(classifier, [faces], PredictOptions(detect=False, batch_size=64))
            print(f"predict --no-detect --batch-size 64, {len(found)} face images (run {attempt + 1}): "
                  f"{summary.faces_per_second:,.0f} faces/s end to end, classification {summary.ms_per_face:.3f} "
                  f"ms/face ({summary.runtime})")


if __name__ == "__main__":
    main()
