"""Test-time augmentation computes what it says: which views, and their average."""

from __future__ import annotations

import numpy as np
import pytest

from fer_zoo.evaluation import predict_proba


class Recorder:
    """A classifier that keeps every batch it is shown and answers from the batch's pixels, so each view
    gives other probabilities."""

    def __init__(self):
        self.views: list[np.ndarray] = []

    def run_batch(self, x):  # the Classifier protocol predict_proba recognises
        raise NotImplementedError

    def predict(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        self.views.append(x.copy())
        first = x[:, 0, 0, 0] / 255.0
        return np.stack([first, 1 - first], axis=1)


def gradient_images(n: int = 2, side: int = 16) -> np.ndarray:
    rows, cols = np.mgrid[0:side, 0:side]
    return np.repeat((rows * 10 + cols)[None, :, :, None], n, axis=0).astype(np.uint8)


def test_flip_averages_the_image_and_its_mirror():
    x = gradient_images()
    model = Recorder()
    proba = predict_proba(model, x, tta="flip")
    assert len(model.views) == 2
    assert np.array_equal(model.views[0], x) and np.array_equal(model.views[1], x[:, :, ::-1])
    # x[0, 0] = 0 and its mirror's first pixel is x[0, 15] = 15: the average of 0 and 15/255
    assert proba[0, 0] == pytest.approx((0 + 15 / 255) / 2)


def test_tencrop_averages_corner_and_centre_crops_and_their_mirrors():
    x = gradient_images()
    model = Recorder()
    proba = predict_proba(model, x, tta="tencrop")
    views = model.views
    assert len(views) == 10 and all(v.shape == x.shape for v in views)
    for crop, mirror in zip(views[0::2], views[1::2]):
        assert np.allclose(mirror, crop[:, :, ::-1])
    # 14x14 crops at (0, 0), (0, 2), (2, 0), (2, 2) and the centre (1, 1), resized back to 16x16: the first
    # pixel follows the crop's origin on the gradient (rows count 10, columns 1)
    corners = [v[0, 0, 0, 0] for v in views[0::2]]
    top_left, top_right, bottom_left, bottom_right, centre = corners
    assert top_left < top_right < centre < bottom_left < bottom_right
    assert top_right - top_left == pytest.approx(2, abs=0.3) and bottom_left - top_left == pytest.approx(20, abs=2)
    expected = np.mean([v[:, 0, 0, 0] / 255.0 for v in views], axis=0)
    assert np.allclose(proba[:, 0], expected)
