"""Face detectors for `fer-zoo predict`: the built-in Haar cascade, and the type plugins register theirs with.

A detector is built once per worker thread (``build()``), so it need not be thread-safe, and is then
called with one image — uint8, ``(H, W)`` greyscale or ``(H, W, 3)`` RGB — returning the faces as
``[x, y, w, h]`` boxes in that image's pixels. Importing this module loads neither OpenCV nor Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fer_zoo.errors import FerZooError
from fer_zoo.hookspecs import hookimpl
from fer_zoo.registry import NAME_PATTERN, PluginSource

Boxes = Sequence[Sequence[int]]


@dataclass(frozen=True)
class FaceDetector:
    """A face detector a plugin can register: ``build() -> detect(image) -> [[x, y, w, h], ...]``."""

    name: str
    build: Callable[[], Callable[[Any], Boxes]]
    description: str
    plugin: PluginSource | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise FerZooError(f"detector name {self.name!r} is invalid: use lower-case letters, digits, '_' and '-'")
        if not callable(self.build):
            raise FerZooError(f"detector {self.name!r}: build must be callable")
        if not isinstance(self.description, str) or "\n" in self.description.strip():
            raise FerZooError(f"detector {self.name!r}: description must be one line of text")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "plugin": self.plugin.distribution if self.plugin else None,
                "plugin_version": self.plugin.version if self.plugin else None}


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, the detector the `fer` package uses."""

    def __init__(self, min_size: int = 24, scale_factor: float = 1.1, min_neighbors: int = 5):
        import cv2

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
        name="haar", build=HaarDetector,
        description="OpenCV's frontal-face Haar cascade (haarcascade_frontalface_default.xml), as the fer package",
    ))
