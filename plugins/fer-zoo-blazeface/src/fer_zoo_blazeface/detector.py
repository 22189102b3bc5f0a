"""Full-range BlazeFace over a tiled pyramid, on ONNX Runtime.

The network sees 192x192 RGB in [-1, 1] and scores 2,304 anchors, one per cell of a 48x48 grid (stride 4),
each with a box regressed from the cell's centre (and six key points, unused here). It finds faces from
about 11 of its pixels up to most of its frame. To find faces of ``min_face`` photo pixels and up, the
photo is searched at a pyramid of scales: the finest makes a ``min_face`` face ``FINE_FACE`` model pixels
wide and the last fits the whole photo in one frame. A level larger than the frame is cut into 192x192
tiles overlapping by at least ``OVERLAP`` pixels, so that a face up to ``OVERLAP`` pixels there lies whole
in one tile; the next level need only show a larger face at ``FINE_FACE`` pixels, which lets it be
``OVERLAP / FINE_FACE`` times coarser (a 512x512 photo: four tiles at 2/3 scale, then the whole). All
tiles of a photo go through the network in one batch; boxes from all levels are merged by weighted
non-maximum suppression (as MediaPipe does).
"""

from __future__ import annotations

import math
import os
import threading
from importlib import resources

import numpy as np

SIZE = 192  # the network's input side
GRID = 48  # anchors per side (stride 4)
FINE_FACE = 16.0  # model pixels a min_face face is scaled to at the finest level (found from ~11)
OVERLAP = 40  # least overlap of neighbouring tiles, in model pixels
MODEL = "face_detection_full_range.onnx"

_session = None
_lock = threading.Lock()


def session():
    """One ONNX Runtime session for the process (its ``run`` is thread-safe, and it has its own threads)."""
    global _session
    with _lock:
        if _session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = os.cpu_count() or 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            with resources.as_file(resources.files(__package__) / "model" / MODEL) as path:
                _session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return _session


def _anchor_centres() -> np.ndarray:
    ys, xs = np.mgrid[0:GRID, 0:GRID]
    return ((np.stack([xs, ys], -1).reshape(-1, 2) + 0.5) * (SIZE / GRID)).astype(np.float32)


ANCHORS = _anchor_centres()  # (2304, 2): each anchor's centre in model pixels


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


def decode(regressors: np.ndarray, logits: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``[x, y, w, h]`` in model pixels and scores of one frame's anchors that reach ``min_score``."""
    keep = logits > math.log(min_score / (1 - min_score))
    raw, centres = regressors[keep], ANCHORS[keep]
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


class BlazeFace:
    """``detect(image) -> [[x, y, w, h], ...]`` for uint8 greyscale ``(H, W)`` or RGB ``(H, W, 3)`` images."""

    OPTIONS = {"min_face": "smallest face, px (24)", "min_score": "score a face needs, 0-1 (0.5)",
               "iou": "overlap that merges two boxes, 0-1 (0.3)"}

    def __init__(self, min_face: int | str = 24, min_score: float | str = 0.5, iou: float | str = 0.3):
        from fer_zoo.detectors import number  # options arrive as text from --detector blazeface:key=value

        self.min_face = number(min_face, "min_face", int, 4)
        self.min_score = number(min_score, "min_score", float, 0.01, 0.99)
        self.iou = number(iou, "iou", float, 0.01, 0.99)
        self.session = session()
        self.input = self.session.get_inputs()[0].name

    def scored(self, image: np.ndarray) -> list[tuple[list[int], float]]:
        """Each face's box and score, best first."""
        import cv2

        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        height, width = image.shape[:2]
        tiles = plan(height, width, self.min_face)
        batch = np.zeros((len(tiles), SIZE, SIZE, 3), np.uint8)  # padding is black, as MediaPipe's letterbox
        levels: dict[float, np.ndarray] = {}
        for i, (scale, y, x) in enumerate(tiles):
            if scale not in levels:
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                levels[scale] = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            tile = levels[scale][y:y + SIZE, x:x + SIZE]
            batch[i, :tile.shape[0], :tile.shape[1]] = tile
        regressors, logits = self.session.run(None, {self.input: batch.astype(np.float32) / 127.5 - 1})
        boxes, scores = [], []
        for i, (scale, y, x) in enumerate(tiles):
            found, score = decode(regressors[i], logits[i, :, 0], self.min_score)
            found[:, 0] += x
            found[:, 1] += y
            boxes.append(found / scale)
            scores.append(score)
        merged = weighted_nms(np.concatenate(boxes), np.concatenate(scores), self.iou)
        # boxes keep their true extent (a face cut by the border reaches past it); fer-zoo crops such faces
        # by repeating the edge pixels
        return [([round(x), round(y), max(1, round(w)), max(1, round(h))], score)
                for (x, y, w, h), score in merged if x < width and y < height and x + w > 0 and y + h > 0]

    def __call__(self, image: np.ndarray) -> list[list[int]]:
        return sorted((box for box, _ in self.scored(image)), key=lambda b: (b[0], b[1]))

