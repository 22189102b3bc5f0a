"""Emotions of the faces in photos and videos: find faces, crop, classify in batches, report.

Long because decoding, detection, cropping, batching and annotation are one streaming pipeline whose
memory bound (at most ``batch_size`` frames in flight) only holds if it lives in one place.

The flow per input frame (an image file, or every Nth frame of a video): decode (guarding against
decompression bombs, honouring EXIF orientation) -> detect faces (OpenCV Haar cascade, or the whole image
with ``detect=False``) -> crop each face with a margin clipped at the border, squared by repeating the edge
-> resize and convert to the classifier's input -> classify ``batch_size`` faces at a time. Decoding and
detection of image files run on worker threads (OpenCV and Pillow release the GIL) while the main thread
classifies; video frames are decoded on the main thread, in order. At most ``batch_size`` frames wait
for classification, whether or not they hold faces.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_zoo.data.dataset import NOT_AN_IMAGE, PILLOW_FORMATS, image_to_uint8, png_short
from fer_zoo.environment import sharing_cores
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.inputs import regular_file

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})
MAX_PIXELS = 64_000_000  # larger images are refused before decoding (a small file can claim 100k x 100k)
DEFAULT_MARGIN = 0.1


@dataclass
class Face:
    """One face (or, with ``box`` None, a frame in which no face was found)."""

    source: str
    frame: int | None  # the video frame index; None for an image file
    box: list[int] | None  # [x, y, w, h] in the frame's pixels
    label: str | None = None
    probabilities: dict[str, float] | None = None

    def as_dict(self) -> dict:
        return {"source": self.source, "frame": self.frame, "box": self.box, "label": self.label,
                "probabilities": self.probabilities}


@dataclass
class Summary:
    faces: int = 0
    frames: int = 0  # image files plus sampled video frames
    frames_without_face: int = 0
    unreadable: int = 0
    seconds: float = 0.0  # decode + detect + classify, model loading excluded
    classify_seconds: float = 0.0
    batch_size: int = 0
    runtime: str = ""
    detector: str | None = None  # the detector that ran (``auto`` resolved); None: each image was a face

    @property
    def faces_per_second(self) -> float:
        return self.faces / self.seconds if self.seconds > 0 else 0.0

    @property
    def ms_per_face(self) -> float:
        return 1000 * self.classify_seconds / self.faces if self.faces else 0.0

    def as_dict(self) -> dict:
        return {**self.__dict__, "faces_per_second": self.faces_per_second, "classify_ms_per_face": self.ms_per_face}


@dataclass
class _Frame:
    source: str
    frame: int | None
    image: np.ndarray | None = None  # uint8 grey or RGB, kept only for annotation
    boxes: list[list[int]] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    error: str | None = None


# --- inputs -----------------------------------------------------------------------------------------


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """(file, the argument it came from) for every image and video named or found under a folder."""
    found = []
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            # a pipe or a dangling symlink named like a photo is reported when it is read, not skipped unseen
            files = sorted(p for p in path.rglob("*") if not p.is_dir() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            if not files:
                raise FerZooError(f"{path}: a folder with no image or video in it (looked for "
                                  f"{', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))})")
            found += [(p, path) for p in files]
        else:
            found.append((path, path))  # a missing or odd file is reported when it is read
    return found


class ImageTooLarge(FerZooError):
    """An image whose header claims more pixels than the limit (refused before its pixels are decoded)."""


def read_image(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An image file as uint8, upright per its EXIF orientation: (H, W) for a greyscale file (FER2013
    style faces stay one channel), else RGB (H, W, 3)."""
    regular_file(path)  # a named pipe would block Image.open forever
    return decode_image(path, str(path), max_pixels, "; see --max-pixels")


def decode_image(data: Path | bytes, name: str, max_pixels: int = MAX_PIXELS, hint: str = "") -> np.ndarray:
    """What :func:`read_image` returns, from a file or its bytes (an upload), with the same checks: the
    pixel count its header claims (:class:`ImageTooLarge`, before decoding), decompression bombs, a PNG cut
    short, anything Pillow cannot read (:class:`FerZooError` naming ``name``)."""
    import io
    import warnings

    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # damaged EXIF (Pillow warns, then reads the pixels): the image stays as stored, upright
            warnings.filterwarnings("ignore", "(Possibly )?corrupt EXIF", UserWarning)
            with Image.open(data if isinstance(data, Path) else io.BytesIO(data), formats=PILLOW_FORMATS) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise ImageTooLarge(f"{name}: {width}x{height} pixels is over the limit of {max_pixels:,} "
                                        f"(a decompression bomb?){hint}")
                if short := png_short(data):
                    raise OSError(short)
                if img.getexif().get(0x0112, 1) != 1:  # EXIF orientation; exif_transpose copies even upright images
                    img = ImageOps.exif_transpose(img)
                return image_to_uint8(img)  # 16-bit greyscale scaled, not clipped
    except FerZooError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{name}: refused, a possible decompression bomb ({one_line(exc, 120)})") from None
    except Image.UnidentifiedImageError:  # Pillow's text names a BytesIO object for an upload
        raise FerZooError(f"{name}: cannot read image: {NOT_AN_IMAGE}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise FerZooError(f"{name}: cannot read image: {one_line(exc, 160)}") from None


def video_frames(path: Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) for every ``every``-th frame of a video file."""
    import cv2

    regular_file(path)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FerZooError(f"{path}: cannot open video")
    index, yielded = 0, 0
    try:
        while True:
            if index % every == 0:
                ok, frame = capture.read()
                if not ok:
                    break
                yielded += 1
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif not capture.grab():  # skipped frames are not decoded
                break
            index += 1
    finally:
        capture.release()
    if yielded == 0:
        raise FerZooError(f"{path}: no frames could be decoded")


def parse_classes(text: str | None) -> list[str] | None:
    """``--classes angry,happy,...`` as names, each non-empty and said once (None: the model's own)."""
    if text is None:
        return None
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise FerZooError(f"--classes {text!r}: an empty class name; name each class, comma-separated, in the "
                          f"model's output order")
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise FerZooError(f"--classes {text!r}: {twice!r} is given twice; the names must be distinct")
    return names


# --- faces ------------------------------------------------------------------------------------------


def _detector(spec: str):
    """The detector ``spec`` names (``NAME[:key=value,...]``), built once per calling thread (a detector
    need not be thread-safe)."""
    import threading

    from fer_zoo import plugins
    from fer_zoo.inference.detectors import build_detector, detect_faces, parse

    detector, options = parse(spec, plugins.current().detectors)
    local = threading.local()
    local.detect = build_detector(detector, options)  # fail now, in the caller's thread, if it cannot be built

    def detect(image: np.ndarray, source: str) -> list[list[int]]:
        if not hasattr(local, "detect"):
            local.detect = build_detector(detector, options)
        return detect_faces(detector.name, local.detect, image, source)

    detect.name = detector.name
    return detect


def crop_square(box: list[int], margin: float = DEFAULT_MARGIN) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the square a face crop covers in the image, before clipping at its border."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    return x0, y0, x0 + int(round(side)), y0 + int(round(side))


def crop_face(image: np.ndarray, box: list[int], margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """The box grown by ``margin`` of its size on each side, clipped at the image border; a crop cut by the
    border is made square again by repeating its edge pixels, so the face keeps its proportions."""
    import cv2

    x0, y0, x1, y1 = crop_square(box, margin)
    height, width = image.shape[:2]
    crop = image[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    if crop.size == 0:
        raise ValueError(f"box {box} lies outside the {width}x{height} image")
    pads = (max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0))
    if any(pads):
        crop = cv2.copyMakeBorder(np.ascontiguousarray(crop), *pads, cv2.BORDER_REPLICATE)
    return crop


# --- the pipeline -----------------------------------------------------------------------------------


class FaceFinder:
    """Faces of one image, ready for the classifier: detected (or the whole image), cropped with a margin,
    resized and converted to ``shape``. The detector is built once per calling thread."""

    def __init__(self, shape: tuple[int, int, int], detector: str | None = "auto", margin: float = DEFAULT_MARGIN,
                 keep_images: bool = False):
        self.shape, self.margin, self.keep_images = shape, margin, keep_images
        self.detect = _detector(detector) if detector is not None else None  # '' is a typo, not "none"
        self.detector_name = self.detect.name if self.detect else None  # ``auto`` resolved

    def frame(self, source: str, index: int | None, image: np.ndarray) -> _Frame:
        from fer_zoo.inference.runtime import fit_image

        height, width = image.shape[:2]
        boxes = self.detect(image, source) if self.detect is not None else [[0, 0, width, height]]
        crops = [fit_image(crop_face(image, box, self.margin) if self.detect is not None else image, self.shape)
                 for box in boxes]
        return _Frame(source, index, image if self.keep_images else None, boxes, crops)


def classify_frames(classifier, frames: list[_Frame], batch_size: int) -> list[list[Face]]:
    """Each frame's faces, classified ``batch_size`` at a time across frames; a frame without a face is one
    Face with ``box`` None."""
    crops = [crop for frame in frames for crop in frame.crops]
    proba = classifier.predict(np.stack(crops), batch_size) if crops else np.zeros((0, 0))
    names, row, out = classifier.class_names, 0, []
    for frame in frames:
        faces = []
        for box in frame.boxes:
            p = proba[row]
            row += 1
            faces.append(Face(frame.source, frame.frame, box, names[int(p.argmax())],
                              {name: float(v) for name, v in zip(names, p)}))
        out.append(faces or [Face(frame.source, frame.frame, None)])
    return out


@dataclass
class PredictOptions:
    detect: bool = True
    detector: str = "auto"
    batch_size: int = 64
    every: int = 1
    margin: float = DEFAULT_MARGIN
    strict: bool = False
    max_pixels: int = MAX_PIXELS
    keep_images: bool = False  # for annotation
    workers: int = 2


def predict(classifier, inputs: Iterable[str | os.PathLike], options: PredictOptions | None = None,
            on_error: Callable[[str], None] | None = None,
            on_frame: Callable[[_Frame, list[Face]], None] | None = None) -> tuple[list[Face], Summary]:
    """Faces (and faceless frames) of every input, in input order, with the run's :class:`Summary`.

    An unreadable input is passed to ``on_error`` and skipped, or raised (``strict``). ``on_frame`` sees
    each frame with its faces once they are classified (for annotation).
    """
    options = options or PredictOptions()
    if options.batch_size < 1 or options.every < 1 or options.margin < 0:
        raise FerZooError("--batch-size and --every must be at least 1, --margin not negative")
    files = expand_inputs(inputs)
    finder = FaceFinder(classifier.input_shape, options.detector if options.detect else None, options.margin,
                        options.keep_images)
    summary = Summary(batch_size=options.batch_size, runtime=classifier.runtime, detector=finder.detector_name)
    results: list[Face] = []
    pending: list[_Frame] = []
    pending_faces = 0
    start = time.perf_counter()

    def flush():
        nonlocal pending, pending_faces
        t0 = time.perf_counter()
        per_frame = classify_frames(classifier, pending, options.batch_size)
        summary.classify_seconds += time.perf_counter() - t0
        for frame, faces in zip(pending, per_frame):
            if faces[0].box is None:
                summary.frames_without_face += 1
            else:
                summary.faces += len(faces)
            results.extend(faces)
            if on_frame is not None:
                on_frame(frame, faces)
        pending, pending_faces = [], 0

    def load_image(path: Path) -> _Frame:  # on one of the workers, which share the cores
        try:
            with sharing_cores(options.workers):
                return finder.frame(str(path), None, read_image(path, options.max_pixels))
        except FerZooError as exc:
            return _Frame(str(path), None, error=str(exc))

    def frames() -> Iterator[_Frame]:
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            window: deque = deque()
            for path, _ in files:
                if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file():
                    while window:
                        yield window.popleft().result()
                    try:
                        for index, image in video_frames(path, options.every):
                            yield finder.frame(str(path), index, image)
                    except FerZooError as exc:
                        yield _Frame(str(path), None, error=str(exc))
                    continue
                window.append(pool.submit(load_image, path))  # a missing file is one error, from read_image
                if len(window) >= max(4 * options.workers, 2 * options.batch_size):  # decode while classifying
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()

    for frame in frames():
        if frame.error is not None:
            if options.strict:
                raise FerZooError(frame.error)
            summary.unreadable += 1
            if on_error is not None:
                on_error(frame.error)
            continue
        summary.frames += 1
        pending.append(frame)
        pending_faces += len(frame.crops)
        if pending_faces >= options.batch_size or len(pending) >= options.batch_size:
            flush()
    flush()
    summary.seconds = time.perf_counter() - start
    return results, summary


# --- annotation -------------------------------------------------------------------------------------


_FRAME_NAME = re.compile(r"^(?P<video>.+)_frame\d{6,}$")


class Annotator:
    """Writes each frame with its faces boxed and labelled to ``out_dir``, mirroring the input names. Every
    name is decided, and checked by fer_zoo/outputs.py, before the first file is written: one file per frame,
    none outside ``out_dir``, none on an input. A photo whose name is a video's frame name (``clip.mp4`` and
    ``clip_frame000000.png``) is numbered like any other clash (``clip_frame000000-2.png``)."""

    def __init__(self, out_dir: str | os.PathLike, inputs: Iterable[str | os.PathLike], force: bool = False,
                 models: Iterable[str | os.PathLike] = ()):
        from fer_zoo import outputs

        self.out_dir = Path(out_dir)
        inputs = list(inputs)
        given = outputs.inputs(models=models, files=inputs)
        files = expand_inputs(inputs)  # an empty input folder is refused before --annotate's folder is made
        outputs.folder(self.out_dir, "--annotate", given, force, empty=True)
        self.names: dict[str, Path] = {}
        taken: set[Path] = set()

        def free(relative: Path) -> Path:
            name, n = relative, 1
            while name in taken:
                n += 1
                name = relative.with_name(f"{relative.name}-{n}")
            taken.add(name)
            return name

        for path, root in files:
            if str(path) in self.names:  # named twice: one annotated copy
                continue
            # a folder is named by what it really is ("..", "." and symlinks resolved); a file by its own name
            top = (root.resolve().name or "input") if root != path else None
            relative = Path(top) / path.relative_to(root) if top else Path(path.name or "input")
            self.names[str(path)] = free(relative.with_name(outputs.safe_name(relative.stem)))
        videos = {self.names[str(path)] for path, _ in files if path.suffix.lower() in VIDEO_SUFFIXES}
        for path, _ in files:
            name = self.names[str(path)]
            match = _FRAME_NAME.match(name.name)
            if name not in videos and match and name.with_name(match["video"]) in videos:
                self.names[str(path)] = free(name)
        for path, _ in files:
            name = self.names[str(path)]
            sample = name.with_name(f"{name.name}_frame000000") if name in videos else name
            outputs.member(self.out_dir, sample.with_name(sample.name + ".png"), "--annotate", given, force)
        self.written = 0

    def path_for(self, source: str, frame: int | None) -> Path:
        name = self.names[source]
        if frame is not None:
            name = name.with_name(f"{name.name}_frame{frame:06d}")
        return self.out_dir / name.with_name(name.name + ".png")

    def __call__(self, frame: _Frame, faces: list[Face]) -> None:
        import cv2

        from fer_zoo import outputs

        canvas = cv2.cvtColor(frame.image, cv2.COLOR_GRAY2BGR if frame.image.ndim == 2 else cv2.COLOR_RGB2BGR)
        height, width = canvas.shape[:2]
        thick = max(1, round(min(height, width) / 250))
        for face in faces:
            if face.box is None:
                continue
            x, y, w, h = face.box
            cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), (60, 220, 60), thick)
            text = f"{face.label} {face.probabilities[face.label]:.0%}"
            scale = min(max(w / 160, 0.4), 2.0)
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            ty = y - 4 if y - th - base - 4 >= 0 else min(y + h + th + 4, height - base)
            for colour, weight in (((0, 0, 0), thick + 2), ((60, 220, 60), thick)):
                cv2.putText(canvas, text, (x, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, weight, cv2.LINE_AA)
        target = self.path_for(frame.source, frame.frame)

        def write(tmp: Path) -> None:
            if not cv2.imwrite(str(tmp), canvas):
                raise FerZooError(f"{target}: cannot write the annotated image")

        outputs.write_with(target, "--annotate", write)
        self.written += 1
