"""Test-time views: the images a model is also shown at evaluation, their probabilities averaged.

- "none": the images; "flip": them and their mirrors;
- "tencrop": the four corner and the centre ``side`` x ``side`` crops, and their mirrors. A model trained
  with a random crop (its inference graph starts with the "centre_crop" layer) sees each crop at its own
  crop size, placed where that layer cuts it; any other model gets each crop resized back to the full image.

Keras ops only, so every backend runs it. The modes a recipe may declare are fer_zoo.plugins.recipe's.
"""

from __future__ import annotations

import numpy as np

from fer_zoo.plugins.recipe import TTA_MODES  # noqa: F401  (re-exported)

CENTRE_CROP = "centre_crop"  # the name of the inference model's first layer when it was trained with a crop


def centre_crop_side(model) -> int | None:
    """The side of the window a crop-trained model's "centre_crop" layer cuts, else None; ``model`` is a
    Keras model or a fer_zoo.inference.runtime.Classifier (of a Keras model; an exported one: None)."""
    model = getattr(model, "keras_model", model)
    for layer in getattr(model, "layers", []):
        if layer.name == CENTRE_CROP:
            return int(layer.output.shape[1])
    return None


def default_side(height: int, width: int, crop_side: int | None = None) -> int:
    """``tta_crop`` 0: the model's own crop side when it has one, else 7/8 the image's shorter side."""
    return crop_side or round(min(height, width) * 7 / 8)


def ten_crops(x: np.ndarray, side: int = 0, crop_side: int | None = None) -> list[np.ndarray]:
    """Ten float32 views of ``x`` (N, H, W, C): each of the corner and centre ``side`` x ``side`` crops
    followed by its mirror. ``crop_side``: the model's centre-crop side; each crop is then resized to it (if
    it differs) and placed at the image's centre, where that layer cuts it; else resized to H x W."""
    from keras import ops

    from fer_zoo.errors import FerZooError

    n, h, w, c = x.shape
    side = side or default_side(h, w, crop_side)
    if side > min(h, w):
        raise FerZooError(f"tta_crop: {side} px is larger than the {h}x{w} images")
    origins = [(0, 0), (0, w - side), (h - side, 0), (h - side, w - side), ((h - side) // 2, (w - side) // 2)]
    target = (crop_side, crop_side) if crop_side else (h, w)
    views = []
    for top, left in origins:
        crop = x[:, top:top + side, left:left + side].astype("float32")
        if crop.shape[1:3] != target:
            crop = ops.convert_to_numpy(ops.image.resize(crop, target))
        for view in (crop, crop[:, :, ::-1]):
            views.append(_centred(view, h, w) if crop_side else np.ascontiguousarray(view))
    return views


def _centred(window: np.ndarray, height: int, width: int) -> np.ndarray:
    """``window`` on a zero canvas of height x width, where a centre-crop layer of its size cuts it."""
    n, side, _, c = window.shape
    top, left = (height - side) // 2, (width - side) // 2
    canvas = np.zeros((n, height, width, c), np.float32)
    canvas[:, top:top + side, left:left + side] = window
    return canvas


def views(x: np.ndarray, tta: str, side: int = 0, crop_side: int | None = None) -> list[np.ndarray]:
    """The test-time views of ``x`` for ``tta`` (one of TTA_MODES)."""
    if tta == "flip":
        return [x, x[:, :, ::-1]]
    if tta == "tencrop":
        return ten_crops(x, side, crop_side)
    return [x]


def predict_averaged(model, x: np.ndarray, batch_size: int = 256, tta: str = "none", side: int = 0) -> np.ndarray:
    """``model``'s probabilities averaged over the test-time views of ``x``; ``model`` is a Keras model or
    anything with ``run_batch`` and ``predict(x, batch_size)`` (fer_zoo.inference.runtime.Classifier)."""
    shown = views(x, tta, side, centre_crop_side(model))
    if hasattr(model, "run_batch"):
        return np.mean([model.predict(v.astype("float32"), batch_size) for v in shown], axis=0)
    return np.mean([model.predict(v.astype("float32"), batch_size=batch_size, verbose=0) for v in shown], axis=0)
