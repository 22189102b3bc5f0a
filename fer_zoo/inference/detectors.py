"""Face detectors for `fer-zoo predict`: the built-in Haar cascade, and checked calls into any detector (the
type plugins register theirs with, ``FaceDetector``, is in :mod:`fer_zoo.plugins.registry`).

A detector is built once per worker thread (``build(**options)``), so it need not be thread-safe, and is
then called with one image — uint8, ``(H, W)`` greyscale or ``(H, W, 3)`` RGB — returning the faces as
``[x, y, w, h]`` boxes in that image's pixels. ``--detector NAME:key=value,...`` passes options, as text,
to ``build``; a detector declares the ones it takes. ``--detector auto`` (the default everywhere) is the
installed detector of highest ``priority``: a plugin's better detector replaces the built-in cascade
(priority 0) by registering with a higher one. Importing this module loads neither OpenCV nor Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fer_zoo import values
from fer_zoo.errors import FerZooError, describe_exception
from fer_zoo.plugins.hookspecs import hookimpl
from fer_zoo.plugins.registry import (  # noqa: F401  (AUTO, Boxes, FaceDetector, default: kept here by name)
    AUTO, NAME_PATTERN, Boxes, FaceDetector, Option, PluginSource, Registry, default, option_help, parse_options,
    plugin_fields, read_option,
)

def parse(spec: str, available: Mapping[str, FaceDetector]) -> tuple[FaceDetector, dict[str, str]]:
    """``--detector NAME[:key=value,...]`` -> (the detector, its options as text), checked by name; ``auto``
    is :func:`default`'s."""
    name, _, rest = spec.partition(":")
    if name == AUTO and available:
        name = default(available).name
    if name not in available:
        hint = available.hint(name) if isinstance(available, Registry) else ""
        raise FerZooError(f"--detector must be {AUTO} or one of {', '.join(sorted(available)) or '(none installed)'}, "
                          f"got {name!r}{hint}")
    detector = available[name]
    return detector, parse_options(spec, "--detector", name, rest, detector.options, "detector option")


def number(value, name: str, kind: type = float, low: float | None = None, high: float | None = None):
    """An option's text (or a number) as ``kind`` within [low, high] (:mod:`fer_zoo.values`: a float must be
    finite), or a one-line error naming it. Plugins' detectors call this for their own options."""
    label = f"detector option {name}"
    return values.integer(value, label, low, high) if kind is int else values.real(value, label, low, high)


MAX_FACE = 1 << 16  # px: beyond any image fer-zoo reads (--max-pixels), where OpenCV's int sizes overflow


def build_detector(detector: FaceDetector, options: Mapping[str, str]) -> Callable[[Any], Any]:
    """``detector.build(**options)``, checked: what it raises (a FerZooError as it is, anything else but a
    Ctrl-C as the detector's failure) or a result that is not callable is a one-line error naming it."""
    try:
        detect = detector.build(**options)
    except (FerZooError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # the plugin's bug, sys.exit() included, is the plugin's
        raise FerZooError(f"detector {detector.name!r}{_from(detector)}: build() failed: {describe_exception(exc)}")
    if not callable(detect):
        raise FerZooError(f"detector {detector.name!r}{_from(detector)}: build() returned "
                          f"{type(detect).__name__}, not a function of an image")
    return detect


def detect_faces(name: str, detect: Callable[[Any], Any], image, source: str) -> list[list[int]]:
    """The boxes ``detect(image)`` finds, as ``[x, y, w, h]`` lists of ints with positive sizes overlapping the
    image; a detector that raises or returns anything else is a one-line error naming it and the image."""
    height, width = image.shape[:2]
    try:
        found = detect(image)
    except (FerZooError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise FerZooError(f"detector {name!r} failed on {source}: {describe_exception(exc)}") from None
    try:
        boxes = [list(box) for box in found]
    except Exception:
        raise FerZooError(f"detector {name!r} returned {type(found).__name__} for {source}, not a list of "
                          f"[x, y, w, h] boxes") from None
    return [_box(name, box, width, height, source) for box in boxes]


def _box(name: str, box: list, width: int, height: int, source: str) -> list[int]:
    import math
    import numbers

    def integral(v) -> bool:
        return (isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                and float(v).is_integer())

    if len(box) != 4 or not all(integral(v) for v in box):
        raise FerZooError(f"detector {name!r} returned the box {box!r:.80} for {source}: a box is [x, y, w, h], "
                          f"four finite whole numbers")
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0 or x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise FerZooError(f"detector {name!r} returned the box {[x, y, w, h]}, which is not [x, y, w, h] inside "
                          f"the {width}x{height} image {source}")
    return [x, y, w, h]


def _from(detector: FaceDetector) -> str:
    return f" ({detector.plugin})" if detector.plugin else ""


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, the detector the `fer` package uses (with ``min_size=50``)."""

    OPTIONS = {"min_size": Option.integer("smallest face, px (24; fer uses 50)", 1, MAX_FACE),
               "scale_factor": Option.real("scale step (1.1)", 1.01, 4),
               "min_neighbors": Option.integer("overlapping hits a face needs (5)", 0)}

    def __init__(self, min_size: int | str = 24, scale_factor: float | str = 1.1, min_neighbors: int | str = 5):
        import cv2

        given = {"min_size": min_size, "scale_factor": scale_factor, "min_neighbors": min_neighbors}
        min_size, scale_factor, min_neighbors = (read_option(given, self.OPTIONS, key, None, f"detector option {key}")
                                                 for key in ("min_size", "scale_factor", "min_neighbors"))

        if not hasattr(cv2, "CascadeClassifier"):
            raise FerZooError("this OpenCV has no CascadeClassifier (OpenCV 5 dropped it): "
                              "pip install 'opencv-python-headless<5'")
        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if self.cascade.empty():
            raise FerZooError("OpenCV's haarcascade_frontalface_default.xml could not be loaded")
        self.min_size, self.scale_factor, self.min_neighbors = min_size, scale_factor, min_neighbors

    def __call__(self, image) -> list[list[int]]:
        import cv2

        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        found = self.cascade.detectMultiScale(grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                              minSize=(self.min_size, self.min_size))
        return sorted(([int(v) for v in box] for box in found), key=lambda b: (b[0], b[1]))


@hookimpl
def fer_zoo_register_detectors(register):
    register(FaceDetector(
        name="haar", build=HaarDetector, options=HaarDetector.OPTIONS,
        description="OpenCV's frontal-face Haar cascade (haarcascade_frontalface_default.xml), as the fer package",
    ))
