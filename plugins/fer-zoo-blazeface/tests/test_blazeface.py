"""The BlazeFace detector plugin: registered through its entry point, finds real faces large and small
(through the tiles), none where there is none, and drives `fer-zoo predict --detector blazeface`."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

import fer_zoo
from fer_zoo_blazeface import detector
from fer_zoo_blazeface.detector import FULL, OVERLAP, SIZE, BlazeFace, decode, plan

ASTRONAUT_FACE = (177, 66, 95, 95)  # where OpenCV's Haar cascade puts the one face in skimage's astronaut


def iou(a, b) -> float:
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data", reason="the test photo ships with scikit-image")
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def blazeface() -> BlazeFace:
    return BlazeFace()


def test_registered_through_its_entry_point():
    from fer_zoo import plugins

    found = plugins.current().detectors["blazeface"]
    assert found.plugin.distribution == "fer-zoo-blazeface"
    assert found.build is BlazeFace


def test_finds_the_face_in_a_real_photo_where_haar_does(blazeface, astronaut):
    import cv2

    boxes = blazeface(astronaut)
    assert len(boxes) == 1 and iou(boxes[0], ASTRONAUT_FACE) > 0.6
    grey = blazeface(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY))  # greyscale in, same face
    assert len(grey) == 1 and iou(grey[0], boxes[0]) > 0.8


def test_a_small_face_in_a_large_photo_is_found_through_the_tiles(blazeface, astronaut):
    import cv2

    # the astronaut's face at about 30 px in a 1024x768 frame: 6 px if the whole frame were shrunk to 192
    head = cv2.resize(astronaut[30:210, 140:310], None, fx=0.32, fy=0.32, interpolation=cv2.INTER_AREA)
    frame = np.full((768, 1024, 3), 120, np.uint8)
    y, x = 500, 700
    frame[y:y + head.shape[0], x:x + head.shape[1]] = head
    face = (x + round((177 - 140) * 0.32), y + round((66 - 30) * 0.32), 30, 30)
    boxes = blazeface(frame)
    assert len(boxes) == 1 and iou(boxes[0], face) > 0.4
    assert plan(768, 1024, 24)[0][0] > 0.5 and len(plan(768, 1024, 24)) > 1


def test_a_tight_face_crop_is_confirmed_by_the_short_range_model(blazeface):
    import cv2

    skimage_data = pytest.importorskip("skimage.data")
    # a 25x25 LFW crop (no hair, no scene) at 64 px in a grey frame: the full-range model scores it under
    # min_score, the short-range model confirms it
    face = cv2.resize((skimage_data.lfw_subset()[4] * 255).astype(np.uint8), (64, 64), interpolation=cv2.INTER_CUBIC)
    frame = np.full((300, 400), 120, np.uint8)
    frame[100:164, 200:264] = face
    [(x, y, w, h)] = blazeface(frame)
    assert abs(x + w / 2 - 232) < 32 and abs(y + h / 2 - 132) < 32 and 24 < w < 80  # on the face, of its size
    assert BlazeFace(propose=0.5)(frame) == []  # no candidates, nothing to confirm: missed
    assert BlazeFace(verify=0.99)(frame) == []  # the short-range model's word decides


def test_no_face_no_box(blazeface):
    skimage_data = pytest.importorskip("skimage.data")
    assert blazeface(skimage_data.coffee()) == []
    assert blazeface(np.full((300, 400), 128, np.uint8)) == []


@pytest.mark.parametrize("height,width", [(100, 80), (512, 512), (480, 640), (1080, 1920), (3000, 200)])
def test_tiles_cover_every_level_with_overlap(height, width):
    tiles = plan(height, width, 24)
    assert tiles[-1] == (SIZE / max(height, width), 0, 0)  # the last level is the whole photo in one frame
    for scale in {s for s, _, _ in tiles[:-1]}:
        h, w = round(height * scale), round(width * scale)
        ys = sorted({y for s, y, _ in tiles if s == scale})
        xs = sorted({x for s, _, x in tiles if s == scale})
        for starts, length in ((ys, h), (xs, w)):
            assert starts[0] == 0 and starts[-1] + SIZE >= length  # from edge to edge
            assert all(b - a <= SIZE - OVERLAP for a, b in zip(starts, starts[1:]))  # neighbours overlap


def test_decode_puts_a_box_on_its_anchor():
    regressors = np.zeros((len(FULL.anchors), 16), np.float32)
    logits = np.full(len(FULL.anchors), -10, np.float32)
    anchor = 48 * 10 + 30  # row 10, column 30 of the 48x48 grid: centre (122, 42) in model pixels
    regressors[anchor, :4] = [2, -3, 20, 24]  # centre offset, then width and height
    logits[anchor] = 3.0
    boxes, scores = decode(regressors, logits, 0.5)
    assert np.allclose(boxes, [[122 + 2 - 10, 42 - 3 - 12, 20, 24]]) and np.allclose(scores, 1 / (1 + np.exp(-3)))
    assert len(decode(regressors, logits, 0.96)[0]) == 0  # sigmoid(3) = 0.953: below the bar


def test_one_session_serves_every_thread(astronaut, monkeypatch):
    results = []
    threads = [threading.Thread(target=lambda: results.append(BlazeFace()(astronaut))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and all(r == results[0] for r in results) and len(results[0]) == 1
    import onnxruntime

    def no_new_session(*args, **kwargs):
        raise AssertionError("a second ONNX Runtime session was opened")

    monkeypatch.setattr(onnxruntime, "InferenceSession", no_new_session)
    assert BlazeFace()(astronaut) == results[0]  # a new detector reuses both sessions
    assert detector.session(detector.FULL) is detector.session(detector.FULL)


def test_a_session_takes_the_threads_fer_zoo_gives_the_calling_thread(astronaut, monkeypatch):
    from fer_zoo.environment import sharing_cores

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    whole = detector.session(FULL)
    alone = BlazeFace()(astronaut)
    with sharing_cores(2):  # two detectors at once: two cores each
        half = detector.session(FULL)
        assert BlazeFace()(astronaut) == alone
    assert whole.get_session_options().intra_op_num_threads == 4
    assert half.get_session_options().intra_op_num_threads == 2
    assert detector.session(FULL) is whole


def test_on_one_thread_the_frames_go_two_at_a_time_and_find_the_same_faces(astronaut, monkeypatch):
    import cv2

    from fer_zoo.environment import sharing_cores

    photo = cv2.resize(astronaut, (640, 640))  # nine tiles at 2/3 scale, then the whole: ten frames
    real, batches = detector.session, []

    class Spy:  # the session, counting the frames of each call
        def __init__(self, net):
            self.session = real(net)

        def get_inputs(self):
            return self.session.get_inputs()

        def run(self, names, feeds):
            batches.append(len(next(iter(feeds.values()))))
            return self.session.run(names, feeds)

    monkeypatch.setattr(detector, "session", Spy)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    several = BlazeFace()(photo)
    assert batches[0] == len(plan(640, 640, 24)) == 10  # four threads: all the frames in one call
    batches.clear()
    with sharing_cores(4):  # four workers at once: one thread each
        assert BlazeFace()(photo) == several
    assert batches[:5] == [detector.ONE_THREAD_BATCH] * 5 == [2] * 5


def test_predict_with_the_plugin_detector(astronaut, tmp_path):
    import keras
    from PIL import Image
    from typer.testing import CliRunner

    from fer_zoo.cli import app

    inputs = keras.Input((48, 48, 1))
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs))
    model = tmp_path / "tiny.keras"
    keras.Model(inputs, outputs).save(model)
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)

    result = CliRunner().invoke(app, ["predict", str(model), str(photo), "--detector", "blazeface", "--json"])
    assert result.exit_code == 0, result.output
    faces = json.loads(result.stdout)
    assert len(faces) == 1 and iou(faces[0]["box"], ASTRONAUT_FACE) > 0.6

    predictor = fer_zoo.Predictor(model, detector="blazeface", runtime="keras")
    assert [face.box for face in predictor(photo)] == [faces[0]["box"]]
    # options from the command line: the astronaut scores 0.94, so a bar of 0.98 (and no candidates) leaves no face
    strict = CliRunner().invoke(app, ["predict", str(model), str(photo), "--detector",
                                      "blazeface:min_score=0.98,propose=0.98", "--json"])
    assert strict.exit_code == 0 and [face["box"] for face in json.loads(strict.stdout)] == [None]
    bad = CliRunner().invoke(app, ["predict", str(model), str(photo), "--detector", "blazeface:min_score=2"])
    assert bad.exit_code == 2
    assert "detector option min_score must be a finite number in [0.01, 0.99], got '2'" in bad.stderr
