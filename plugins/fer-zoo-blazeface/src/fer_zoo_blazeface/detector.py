"""MediaPipe's BlazeFace, full-range over a tiled pyramid, short-range to check the doubtful boxes; ONNX Runtime.

The full-range network sees 192x192 RGB in [-1, 1] and scores 2,304 anchors, one per cell of a 48x48 grid
(stride 4), each with a box regressed from the cell's centre (and six key points, unused here). It finds
faces from about 11 of its pixels up to most of its frame. To find faces of ``min_face`` photo pixels and
up, the photo is searched at a pyramid of scales: the finest makes a ``min_face`` face ``FINE_FACE`` model
pixels wide and the last fits the whole photo in one frame. A level larger than the frame is cut into
192x192 tiles overlapping by at least ``OVERLAP`` pixels, so that a face up to ``OVERLAP`` pixels there
lies whole in one tile; the next level need only show a larger face at ``FINE_FACE`` pixels, which lets
it be ``OVERLAP / FINE_FACE`` times coarser (a 512x512 photo: four tiles at 2/3 scale, then the whole).
All tiles of a photo go through the network in one batch (two at a time on one thread); boxes from all
levels are merged by weighted non-maximum suppression (as MediaPipe does).

The full-range model was trained on faces with a head and a scene around them, and scores tight,
context-free face crops low (a 25x25 LFW crop pasted into a grey frame: 55 of 100 found at 24 px).
So a box it scores at least ``min_score`` is a face, and one between ``propose`` and ``min_score`` is a
candidate: a window ``CONTEXT`` times its size around it goes, at 128x128, to the short-range model
(MediaPipe's selfie detector, trained on faces that fill much of the frame), and the box is a face when
that model puts a box of about the same size and place there with a score of at least ``verify``. All
candidates of a photo go through in one batch (``scripts/compare_detectors.py --sweep`` chose the values).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from importlib import resources

import numpy as np

FINE_FACE = 16.0  # full-range model pixels a min_face face is scaled to at the finest level (found from ~11)
OVERLAP = 40  # least overlap of neighbouring tiles, in full-range model pixels
CONTEXT = 2.5  # a candidate's window for the short-range model, in box sizes
# frames per network call on one thread: there a larger batch costs more per frame, its activations
# outgrowing the core's cache (a photo's five to ten 192x192 frames: 17 % more time in one batch than in
# twos on this project's 2-core VM; with two threads, one batch is as fast as any split). fer-zoo serve's
# and predict's workers detect on one thread each on 2 cores.
ONE_THREAD_BATCH = 2


def _anchor_centres(side: int, grids: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Each anchor's centre in model pixels, for grids of ``(stride, anchors per cell)`` in output order."""
    centres = []
    for stride, per_cell in grids:
        ys, xs = np.mgrid[0:side // stride, 0:side // stride]
        cells = (np.stack([xs, ys], -1).reshape(-1, 2) + 0.5) * stride
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Net:
    """One of the two BlazeFace networks: its ONNX file, input side and anchors."""

    file: str
    side: int  # input side, model pixels
    anchors: np.ndarray  # (n, 2) centres in model pixels


FULL = Net("face_detection_full_range.onnx", 192, _anchor_centres(192, ((4, 1),)))  # 48x48
SHORT = Net("face_detection_short_range.onnx", 128, _anchor_centres(128, ((8, 2), (16, 6))))  # 16x16x2 + 8x8x6
SIZE = FULL.side

_sessions: dict[str, object] = {}
_lock = threading.Lock()


def session(net: Net = FULL):
    """One ONNX Runtime session per model and thread count for the process (``run`` is thread-safe): on as
    many threads as ``fer_zoo.call_threads()`` gives the calling thread (every core, or its share where
    fer-zoo runs several detectors at once)."""
    import fer_zoo

    threads = fer_zoo.call_threads()
    with _lock:
        if (net.file, threads) not in _sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = threads
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            with resources.as_file(resources.files(__package__) / "model" / net.file) as path:
                _sessions[net.file, threads] = ort.InferenceSession(str(path), options,
                                                                    providers=["CPUExecutionProvider"])
    return _sessions[net.file, threads]


def _starts(length: int) -> list[int]:
    """Where tiles start along one side of ``length`` scaled pixels: evenly spread, overlapping by
    at least OVERLAP."""
    if length <= SIZE:
        return [0]
    count = math.ceil((length - OVERLAP) / (SIZE - OVERLAP))
    return [round(i * (length - SIZE) / (count - 1)) for i in range(count)]


def plan(height: int, width: int, min_face: float) -> list[tuple[float, int, int]]:
    """``(scale, y, x)`` of every tile: the photo scaled by ``scale``, cut at ``(y, x)`` in scaled pixels."""
    whole = SIZE / max(height, width)
    tiles, scale = [], FINE_FACE / min_face
    while scale > whole:  # larger than one frame: cut into tiles
        tiles += [(scale, y, x) for y in _starts(round(height * scale)) for x in _starts(round(width * scale))]
        # a face larger than OVERLAP may be cut at this level: the next must see it at FINE_FACE or more
        scale *= FINE_FACE / OVERLAP
    return tiles + [(whole, 0, 0)]


def decode(regressors: np.ndarray, logits: np.ndarray, min_score: float,
           net: Net = FULL) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``[x, y, w, h]`` in model pixels and scores of one frame's anchors that reach ``min_score``."""
    keep = logits > math.log(min_score / (1 - min_score))
    raw, centres = regressors[keep], net.anchors[keep]
    scores = 1 / (1 + np.exp(-logits[keep].astype(np.float64)))
    size = raw[:, 2:4]
    corner = centres + raw[:, 0:2] - size / 2
    return np.concatenate([corner, size], axis=1), scores


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: each group of boxes overlapping the best remaining one
    by more than ``iou`` becomes their score-weighted mean, with the best score."""
    order, out = np.argsort(-scores), []
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    while len(order):
        best = order[0]
        inter = (np.clip(np.minimum(x2[best], x2[order]) - np.maximum(x1[best], x1[order]), 0, None)
                 * np.clip(np.minimum(y2[best], y2[order]) - np.maximum(y1[best], y1[order]), 0, None))
        overlap = inter / (area[best] + area[order] - inter)
        group = order[overlap > iou]
        weights = scores[group][:, None]
        out.append(((boxes[group] * weights).sum(0) / weights.sum(), float(scores[best])))
        order = order[overlap <= iou]
    return out


def window(image: np.ndarray, box, side: int) -> np.ndarray:
    """A ``side`` x ``side`` view of ``image`` around ``box``'s centre, ``CONTEXT`` times its size (edges
    repeated past the border)."""
    import cv2

    x, y, w, h = box
    span = max(1, round(max(w, h) * CONTEXT))
    left, top = round(x + w / 2 - span / 2), round(y + h / 2 - span / 2)
    height, width = image.shape[:2]
    pad = max(0, -left, -top, left + span - width, top + span - height)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = image[top + pad:top + pad + span, left + pad:left + pad + span]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA if span > side else cv2.INTER_LINEAR)


def _frames(images: list[np.ndarray], net: Net) -> tuple[np.ndarray, np.ndarray]:
    """The network's regressors and logits for a list of ``side`` x ``side`` RGB uint8 frames: in one batch
    where the session has several threads to share it out, ``ONE_THREAD_BATCH`` at a time where it has one."""
    import fer_zoo

    run = session(net)
    name = run.get_inputs()[0].name
    step = len(images) if fer_zoo.call_threads() > 1 else ONE_THREAD_BATCH
    answers = [run.run(None, {name: np.stack(images[i:i + step]).astype(np.float32) / 127.5 - 1})
               for i in range(0, len(images), step)]
    regressors, logits = (np.concatenate(parts) for parts in zip(*answers))
    return regressors, logits[..., 0]


def _covered(box: np.ndarray, faces: list[tuple[np.ndarray, float]]) -> bool:
    """Whether a third or more of ``box``, or of one of ``faces``, lies in the other (the same face, seen at
    another scale or shift)."""
    x, y, w, h = box
    for (fx, fy, fw, fh), _ in faces:
        inter = max(0, min(x + w, fx + fw) - max(x, fx)) * max(0, min(y + h, fy + fh) - max(y, fy))
        if inter >= min(w * h, fw * fh) / 3:
            return True
    return False


class BlazeFace:
    """``detect(image) -> [[x, y, w, h], ...]`` for uint8 greyscale ``(H, W)`` or RGB ``(H, W, 3)`` images."""

    OPTIONS = {"min_face": "smallest face, px (24)", "min_score": "full-range score that makes a face, 0-1 (0.5)",
               "propose": "full-range score that makes a candidate, 0-1 (0.1)",
               "verify": "short-range score that confirms a candidate, 0-1 (0.7)",
               "iou": "overlap that merges two boxes, 0-1 (0.3)"}

    def __init__(self, min_face: int | str = 24, min_score: float | str = 0.5, propose: float | str = 0.1,
                 verify: float | str = 0.7, iou: float | str = 0.3):
        from fer_zoo.inference.detectors import number  # options arrive as text from --detector blazeface:key=value

        self.min_face = number(min_face, "min_face", int, 4)
        self.min_score = number(min_score, "min_score", float, 0.01, 0.99)
        self.propose = min(self.min_score, number(propose, "propose", float, 0.01, 0.99))
        self.verify = number(verify, "verify", float, 0.01, 0.99)
        self.iou = number(iou, "iou", float, 0.01, 0.99)
        session(FULL), session(SHORT)

    def proposals(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """The full-range model's merged boxes ``[x, y, w, h]`` (photo pixels) scoring ``propose`` or more, in
        an RGB ``image``, best first."""
        import cv2

        height, width = image.shape[:2]
        tiles = plan(height, width, self.min_face)
        frames, levels = [], {}
        for scale, y, x in tiles:
            if scale not in levels:
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                levels[scale] = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            frame = np.zeros((SIZE, SIZE, 3), np.uint8)  # padding is black, as MediaPipe's letterbox
            tile = levels[scale][y:y + SIZE, x:x + SIZE]
            frame[:tile.shape[0], :tile.shape[1]] = tile
            frames.append(frame)
        regressors, logits = _frames(frames, FULL)
        boxes, scores = [], []
        for i, (scale, y, x) in enumerate(tiles):
            found, score = decode(regressors[i], logits[i], self.propose)
            found[:, 0] += x
            found[:, 1] += y
            boxes.append(found / scale)
            scores.append(score)
        return weighted_nms(np.concatenate(boxes), np.concatenate(scores), self.iou)

    def confirmed(self, image: np.ndarray, boxes: list[np.ndarray]) -> list[float]:
        """For each candidate box in an RGB ``image``, the short-range model's best score for a face of about
        its size and place in the window around it (0 where it sees none)."""
        if not boxes:
            return []
        regressors, logits = _frames([window(image, box, SHORT.side) for box in boxes], SHORT)
        centre, own = SHORT.side / 2, SHORT.side / CONTEXT  # where the candidate is in its window, and its size
        best = []
        for i in range(len(boxes)):
            found, score = decode(regressors[i], logits[i], self.verify, SHORT)
            middle = found[:, :2] + found[:, 2:] / 2
            size = found[:, 2:].max(1)
            same = (np.abs(middle - centre).max(1) < own / 2) & (size > 0.6 * own) & (size < 1.6 * own)
            best.append(float(score[same].max()) if same.any() else 0.0)
        return best

    def scored(self, image: np.ndarray) -> list[tuple[list[int], float]]:
        """Each face's box and score, best first (a confirmed candidate scores ``min_score``)."""
        import cv2

        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        height, width = image.shape[:2]
        merged = self.proposals(image)
        sure = [(box, score) for box, score in merged if score >= self.min_score]
        # a candidate that overlaps a face already found is that face
        doubtful = [box for box, score in merged if score < self.min_score and not _covered(box, sure)]
        for box, check in zip(doubtful, self.confirmed(image, doubtful)):
            if check and not _covered(box, sure):
                sure.append((box, self.min_score))
        # boxes keep their true extent (a face cut by the border reaches past it); fer-zoo crops such faces
        # by repeating the edge pixels
        return [([round(x), round(y), max(1, round(w)), max(1, round(h))], score)
                for (x, y, w, h), score in sure if x < width and y < height and x + w > 0 and y + h > 0]

    def __call__(self, image: np.ndarray) -> list[list[int]]:
        return sorted((box for box, _ in self.scored(image)), key=lambda b: (b[0], b[1]))
