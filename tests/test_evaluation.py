"""Test-time augmentation computes what it says: which views, and their average."""

from __future__ import annotations

import numpy as np
import pytest

from fer_zoo.inference.evaluation import predict_proba


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


def test_an_ensemble_averages_its_members_each_at_its_own_input(cli, tmp_path):
    import json

    from fer_zoo.data import load_dataset
    from fer_zoo.inference.runtime import fit_images
    from tests.conftest import tiny_classifier

    data = "synthetic:size=84,seed=1,preset=easy"
    small, large = tmp_path / "a.keras", tmp_path / "b.keras"
    tiny_classifier(seed=1).save(small)
    big = tiny_classifier(input_shape=(64, 64, 1), seed=7)
    big.save(large)
    result = cli("evaluate", str(small), str(large), "--data", data, "--weights", "3,1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["weights"] == [0.75, 0.25] and [m["model"] for m in report["members"]] == [str(small), str(large)]
    test = load_dataset(data).splits["test"]
    import keras

    p_small = keras.saving.load_model(small).predict(test.x.astype("float32"), verbose=0)
    p_large = big.predict(fit_images(test.x, (64, 64, 1)), verbose=0)  # the 64x64 member sees resized faces
    expected = 0.75 * p_small + 0.25 * p_large
    assert report["accuracy"] == pytest.approx(float(np.mean(expected.argmax(1) == test.y)))
    assert report["members"][0]["accuracy"] == pytest.approx(float(np.mean(p_small.argmax(1) == test.y)))
    bad = cli("evaluate", str(small), str(large), "--data", data, "--weights", "1,x")
    assert bad.exit_code == 2 and "--weights: expected comma-separated numbers" in bad.stderr
    bad = cli("evaluate", str(small), str(large), "--data", data, "--weights", "1")
    assert bad.exit_code == 2 and "one per model" in bad.stderr


def test_predict_with_several_models_answers_with_their_mean(cli, tmp_path):
    import json

    from PIL import Image

    from tests.conftest import tiny_classifier

    models = []
    for seed in (1, 2):
        models.append(tmp_path / f"m{seed}.keras")
        tiny_classifier(seed=seed).save(models[-1])
    face = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (48, 48), dtype=np.uint8)).save(face)

    def probabilities(*args):
        result = cli("predict", *map(str, args), str(face), "--no-detect", "--json", "--runtime", "keras")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)[0]["probabilities"]

    one, two, both = probabilities(models[0]), probabilities(models[1]), probabilities(*models)
    assert both == pytest.approx({k: (one[k] + two[k]) / 2 for k in one}, abs=1e-5)


def test_nan_probabilities_are_refused_never_scored(cli, tmp_path):
    """A classifier of the right shape that answers NaN (a diverged run's weights, exported) is one line, not an
    accuracy: argmax of NaN is class 0, which would score as if the model always answered angry."""
    from tests.bad_values import onnx_model

    data = "synthetic:size=42,seed=2,preset=easy"
    fine = cli("evaluate", onnx_model(tmp_path / "fine.onnx"), "--data", data, "--json")
    assert fine.exit_code == 0, fine.output
    result = cli("evaluate", onnx_model(tmp_path / "nan.onnx", weight=float("nan")), "--data", data)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "nan.onnx: the model's outputs are not finite numbers" in result.stderr and "accuracy" not in result.stdout


def test_an_empty_split_is_one_line_naming_it(cli, tmp_path):
    from fer_zoo.data.fer2013 import write_csv
    from tests.bad_values import onnx_model

    csv = tmp_path / "no-private.csv"
    x = np.zeros((10, 48, 48, 1), np.uint8)
    write_csv(csv, x, np.arange(10) % 7, usage=["Training"] * 7 + ["PublicTest"] * 3)
    model = onnx_model(tmp_path / "m.onnx")
    assert cli("evaluate", model, "--data", str(csv), "--split", "val").exit_code == 0
    result = cli("evaluate", model, "--data", str(csv), "--split", "test")
    assert result.exit_code == 2 and "no-private.csv: its test split is empty" in result.stderr


RUN_DATA = "synthetic:size=84,seed=5,preset=easy"


@pytest.fixture
def tiny_run(cli, install_plugin, tiny_plugin_source, tmp_path):
    """A one-epoch run of a tiny net on data that is not the synthetic default."""
    install_plugin("acme-tiny", tiny_plugin_source("tiny"))
    run = tmp_path / "run"
    result = cli("train", "tiny", "--data", RUN_DATA, "--epochs", "1", "--batch-size", "16", "--out", str(run),
                 "--quiet")
    assert result.exit_code == 0, result.output
    return run


def test_evaluate_without_data_scores_the_runs_own_data_and_says_so(cli, tiny_run, tmp_path):
    import json

    from fer_zoo.data import load_dataset

    result = cli("evaluate", str(tiny_run), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["data_spec"] == RUN_DATA and report["notes"] == [f"data: {RUN_DATA} (the run's)"]
    assert report["images"] == len(load_dataset(RUN_DATA).splits["test"])
    explicit = json.loads(cli("evaluate", str(tiny_run), "--data", RUN_DATA, "--json").stdout)
    assert explicit["accuracy"] == report["accuracy"] and explicit["notes"] == []
    shown = cli("evaluate", str(tiny_run))
    assert shown.exit_code == 0 and f"note: data: {RUN_DATA} (the run's)" in shown.stdout
    other = "synthetic:size=42,seed=9,preset=easy"  # an explicit --data still wins
    given = json.loads(cli("evaluate", str(tiny_run), "--data", other, "--json").stdout)
    assert given["data_spec"] == other and given["images"] == len(load_dataset(other).splits["test"])


def test_runs_trained_on_different_data_need_data_named(cli, tiny_run, tmp_path):
    import json
    import shutil

    twin = tmp_path / "twin"
    shutil.copytree(tiny_run, twin)
    config = json.loads((twin / "config.json").read_text())
    (twin / "config.json").write_text(json.dumps(config | {"data": "synthetic:size=42"}))
    result = cli("evaluate", str(tiny_run), str(twin))
    assert result.exit_code == 2 and "trained on different data" in result.stderr and "--data" in result.stderr


def test_a_model_that_is_not_a_run_keeps_the_synthetic_default(tmp_path):
    from fer_zoo.inference.evaluation import default_data
    from tests.conftest import tiny_classifier

    model = tmp_path / "m.keras"
    tiny_classifier().save(model)
    assert default_data([str(model)]) == ("synthetic", "data: synthetic (the default for a model that is not a "
                                                       "run; --data names other data)")


def test_export_checks_a_run_on_its_own_data(cli, tiny_run, tmp_path):
    import json

    result = cli("export", str(tiny_run), "--format", "keras", "--out", str(tmp_path / "m.keras"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["data"] == RUN_DATA and report["notes"] == [f"data: {RUN_DATA} (the run's)"]
