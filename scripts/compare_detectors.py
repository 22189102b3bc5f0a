"""Face detectors side by side: speed on photos of three sizes, and agreement on faces of known place and size.

Usage: python scripts/compare_detectors.py [--detectors haar,blazeface] [--per-size 40] [--repeats 20]
       python scripts/compare_detectors.py --sweep verify=0.6,0.7,0.8    # one blazeface option

Speed: the median of --repeats warm calls on scikit-image's astronaut at 512x512 and resized to 640x480
and 1280x720, each detector in a fresh process. Agreement, on faces pasted at a known place into frames
of 400x300 to 1024x768 (a random grey level), at each face size:
  * head: the astronaut's head with its hair and shoulders (real context), --per-size random placings;
  * lfw: scikit-image's 100 LFW faces (`data.lfw_subset`), tight 25x25 greyscale crops, upscaled;
a face counts as found when a box's centre lies within half the face's size of the face's centre. Also
counts boxes on 12 scikit-image photos without a face. Everything ships with scikit-image: no download.
--sweep KEY=V1,V2,... instead prints, for each `blazeface:KEY=V`, the faces found on a few of those sets,
the boxes on the faceless photos and the median ms on the astronaut.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SIZES = (20, 24, 28, 32, 48, 64, 96, 160)
PHOTOS = ((512, 512), (640, 480), (1280, 720))  # (width, height) of the astronaut for the speed table
NO_FACE = ("coffee", "chelsea", "rocket", "hubble_deep_field", "horse", "moon", "brick", "grass", "gravel",
           "retina", "page", "text")


def heads(astronaut, size: int, count: int, rng):
    """(frame, face centre) with the astronaut's head scaled so that its face is ``size`` pixels."""
    import cv2

    crop, face = astronaut[20:230, 130:320], (177 - 130, 66 - 20, 95)  # face box inside the crop
    scale = size / face[2]
    head = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for i in range(count):
        width, height = [(512, 512), (640, 480), (1024, 768), (400, 300)][i % 4]
        head_part = head[:height, :width]
        frame = np.full((height, width, 3), rng.integers(30, 220), np.uint8)
        y = rng.integers(0, height - head_part.shape[0] + 1)
        x = rng.integers(0, width - head_part.shape[1] + 1)
        frame[y:y + head_part.shape[0], x:x + head_part.shape[1]] = head_part
        yield frame, (x + (face[0] + face[2] / 2) * scale, y + (face[1] + face[2] / 2) * scale)


def lfw(faces, size: int, rng):
    import cv2

    side = round(size * 25 / 19)  # the 25x25 crops are a little wider than the face
    for i, face in enumerate(faces):
        width, height = [(512, 512), (640, 480), (400, 300)][i % 3]
        frame = np.full((height, width), rng.integers(30, 220), np.uint8)
        y, x = rng.integers(0, height - side), rng.integers(0, width - side)
        frame[y:y + side, x:x + side] = cv2.resize((face * 255).astype(np.uint8), (side, side),
                                                   interpolation=cv2.INTER_CUBIC)
        yield frame, (x + side / 2, y + side / 2)


def faceless():
    import skimage.data
    from skimage.util import img_as_ubyte

    for name in NO_FACE:
        image = np.ascontiguousarray(img_as_ubyte(getattr(skimage.data, name)()))
        yield image[..., :3] if image.ndim == 3 else image


def found(detect, samples, size: int) -> tuple[int, int]:
    """(faces found, faces shown)."""
    hits = shown = 0
    for frame, (cx, cy) in samples:
        shown += 1
        hits += any(abs(x + w / 2 - cx) < size / 2 and abs(y + h / 2 - cy) < size / 2 for x, y, w, h in detect(frame))
    return hits, shown


def sweep(spec: str, per_size: int, repeats: int) -> None:
    import skimage.data

    from fer_zoo import median_seconds
    from fer_zoo import plugins  # the detector registry: a detector built by name with options to sweep

    astronaut, faces = skimage.data.astronaut(), skimage.data.lfw_subset()[:100]

    key, _, values = spec.partition("=")
    build = plugins.current().detectors["blazeface"].build
    print(f"{key:>9}  head 24   lfw 24   lfw 48  lfw 160  faceless boxes  ms")
    for value in values.split(","):
        detect, rng = build(**{key: value}), np.random.default_rng(0)
        cells = []
        for label, size in (("head", 24), ("lfw", 24), ("lfw", 48), ("lfw", 160)):
            samples = heads(astronaut, size, per_size, rng) if label == "head" else lfw(faces, size, rng)
            cells.append("%d/%d" % found(detect, samples, size))
        ms = 1000 * median_seconds(lambda d=detect: d(astronaut), repeats, warmup=2)
        print(f"{value:>9}" + "".join(f"{c:>9}" for c in cells) + f"{sum(len(detect(i)) for i in faceless()):>16}"
              f"{ms:>5.0f}")


def speed(name: str, repeats: int) -> list[float]:
    """Median ms per photo of PHOTOS for one detector, in this process (threads of one detector's libraries,
    left waiting, slow the next one's: OpenCV's after the cascade cost BlazeFace 2x here)."""
    import cv2
    import skimage.data

    from fer_zoo import median_seconds
    from fer_zoo import plugins  # the detector registry: a detector built by name

    detect, astronaut = plugins.current().detectors[name].build(), skimage.data.astronaut()
    photos = [cv2.resize(astronaut, size, interpolation=cv2.INTER_AREA) for size in PHOTOS]
    return [1000 * median_seconds(lambda p=photo: detect(p), repeats, warmup=2) for photo in photos]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", default="haar,blazeface")
    parser.add_argument("--per-size", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sweep", default=None, help="KEY=V1,V2,...: values of one blazeface option")
    args = parser.parse_args()
    if args.sweep:
        sweep(args.sweep, args.per_size, args.repeats)
        return
    import skimage.data

    import fer_zoo
    from fer_zoo import plugins  # the detector registry: which are installed, each built by name

    names = args.detectors.split(",")
    available = plugins.current().detectors
    missing = [name for name in names if name not in available]
    if missing:
        raise SystemExit(f"compare_detectors: not installed: {', '.join(missing)} (fer-zoo detectors lists them)")
    detectors = {name: available[name].build() for name in names}
    astronaut = skimage.data.astronaut()
    info = fer_zoo.describe_environment()
    print(f"{info['device']} · fer-zoo {fer_zoo.__version__} · {', '.join(names)}")

    print(f"\nms per photo (median of {args.repeats}; each detector in a process of its own)")
    print(f"{'photo':<12}" + "".join(f"{name:>12}" for name in names))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        timings = {name: pool.submit(speed, name, args.repeats).result() for name in names}
    for i, (width, height) in enumerate(PHOTOS):
        print(f"{f'{width}x{height}':<12}" + "".join(f"{timings[name][i]:>12.1f}" for name in names))

    rng = np.random.default_rng(0)
    faces = skimage.data.lfw_subset()[:100]
    print("\nfaces found (a box on the face) / faces shown; 'both': found by all")
    print(f"{'set':<6}{'size':>6}{'shown':>7}" + "".join(f"{name:>11}" for name in names) + f"{'both':>7}")
    for label in ("head", "lfw"):
        for size in SIZES:
            samples = heads(astronaut, size, args.per_size, rng) if label == "head" else lfw(faces, size, rng)
            shown, hits, both = 0, dict.fromkeys(names, 0), 0
            for frame, (cx, cy) in samples:
                shown += 1
                seen = {name: found(detect, [(frame, (cx, cy))], size)[0] for name, detect in detectors.items()}
                for name, hit in seen.items():
                    hits[name] += hit
                both += all(seen.values())
            print(f"{label:<6}{size:>6}{shown:>7}" + "".join(f"{hits[n]:>11}" for n in names) + f"{both:>7}")

    print(f"\nboxes on {len(NO_FACE)} photos without a face")
    counts = {name: sum(len(detect(image)) for image in faceless()) for name, detect in detectors.items()}
    print("".join(f"{name:>11}" for name in names))
    print("".join(f"{counts[name]:>11}" for name in names))


if __name__ == "__main__":
    main()
