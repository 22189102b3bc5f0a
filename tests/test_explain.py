"""fer-zoo explain: heat maps that are exact where the answer is known, on the evidence where a model
learned it, and the CLI's files and refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image


def _features_gap_model(weights: np.ndarray):
    """Input (8, 8, 3) -> identity 1x1 conv ("features") -> global average pooling -> Dense(2) softmax, so
    the class maps are known: CAM_c = sum_k W[k, c] * x[..., k]."""
    import keras

    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(3, 1, use_bias=False, name="features",
                                   kernel_initializer=keras.initializers.Constant(np.eye(3)[None, None]))(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    out = keras.layers.Dense(2, activation="softmax", name="out",
                             kernel_initializer=keras.initializers.Constant(weights))(pooled)
    return keras.Model(inputs, out)


def _normalised(maps):
    maps = np.maximum(maps, 0)
    return maps / maps.reshape(len(maps), -1).max(1)[:, None, None]


@pytest.mark.parametrize("method", ["grad-cam", "layer-cam", "grad-cam++"])
def test_maps_are_the_class_activation_maps_where_those_are_known(method):
    from fer_zoo.inference.explain import grad_cam

    weights = np.array([[1.0, -0.5], [-2.0, 1.0], [0.5, 0.25]], np.float32)
    x = np.random.default_rng(0).uniform(0, 1, (3, 8, 8, 3)).astype(np.float32)
    heat, probs, layer = grad_cam(_features_gap_model(weights), x, classes=[0, 1, 0], layer="features",
                                  method=method)
    assert layer == "features" and heat.shape == (3, 8, 8)
    w = weights[:, [0, 1, 0]].T  # each image's class column
    if method == "layer-cam":  # positive gradients only: the negative weights drop out
        w = np.maximum(w, 0)
    elif method == "grad-cam++":  # the gradient is W / 64 everywhere; alpha = g^2 / (2 g^2 + sum(A) g^3)
        g = w / 64
        w = g ** 2 / (2 * g ** 2 + x.sum((1, 2)) * g ** 3) * np.maximum(g, 0)
    expected = _normalised(np.einsum("nhwk,nk->nhw", x, w))
    np.testing.assert_allclose(heat, expected, atol=1e-5)
    # the output's softmax is back in place afterwards
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(_features_gap_model(weights)(x).numpy(), probs, atol=1e-6)


def _trained(decided_by: str):
    import keras

    from fer_zoo.data.synthetic import one_feature_faces

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((48, 48, 1)), layers.Rescaling(1 / 255),
        layers.Conv2D(16, 3, activation="relu", padding="same"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu", padding="same", name="last_conv"),
        layers.GlobalMaxPooling2D(), layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = one_feature_faces(600, decided_by, seed=0)
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    test_x, test_y = one_feature_faces(60, decided_by, seed=1)
    assert model.evaluate(test_x, test_y, verbose=0)[1] > 0.9  # it learned the feature
    return model, test_x[test_y == 1]


@pytest.mark.parametrize("decided_by", ["mouth", "eyes"])
def test_the_heat_is_where_the_evidence_is(decided_by):
    """Explaining 'open mouth' puts the heat on the lower half of the face; 'wide eyes' on the upper half."""
    from fer_zoo.inference.explain import grad_cam

    model, faces = _trained(decided_by)
    heat, _, layer = grad_cam(model, faces, 1)  # the default method and layer
    assert layer == "last_conv"
    lower = heat[:, 28:].sum((1, 2)) / heat.sum((1, 2))  # the mouth lies below row 28, the eyes above
    if decided_by == "mouth":
        assert lower.mean() > 0.8, lower
    else:
        assert lower.mean() < 0.2, lower


@pytest.fixture
def face_png(tmp_path):
    from fer_zoo.data import load_dataset

    x = load_dataset("synthetic:size=70,seed=1,preset=easy").splits["test"].x
    path = tmp_path / "faces" / "face.png"
    path.parent.mkdir()
    Image.fromarray(x[0, ..., 0]).save(path)
    return path


def test_explain_writes_one_map_per_face_and_keeps_what_is_there(cli, tiny_model_file, face_png, tmp_path):
    out = tmp_path / "maps"
    result = cli("explain", str(tiny_model_file), str(face_png), "--no-detect", "--out", str(out), "--json",
                 "--class", "happy")
    assert result.exit_code == 0, result.output
    [record] = json.loads(result.stdout)
    written = out / "face-happy.png"
    assert record["target"] == "happy" and record["file"] == str(written) and record["box"] is None
    image = Image.open(written)
    assert image.size[0] > 400  # the face and its heat map side by side
    before = written.read_bytes()
    again = cli("explain", str(tiny_model_file), str(face_png), "--no-detect", "--out", str(out), "--class", "happy")
    assert again.exit_code == 2 and "face-happy.png exists; pass --force" in again.stderr
    assert written.read_bytes() == before
    # face.png's map would be face-happy.png, itself an input in the --out folder: refused, --force or not
    other = face_png.with_name("face-happy.png")
    other.write_bytes(face_png.read_bytes())
    onto_input = cli("explain", str(tiny_model_file), str(face_png), str(other), "--no-detect", "--out",
                     str(face_png.parent), "--class", "happy", "--force")
    assert onto_input.exit_code == 2 and f"holds the input {face_png.resolve()}" in onto_input.stderr
    assert other.read_bytes() == face_png.read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--class", "smug"], "--class smug: the model's classes are angry, disgust"),
    (["--layer", "nope"], "--layer nope: no such layer"),
    (["--method", "saliency"], "--method must be one of layer-cam, grad-cam, grad-cam++"),
])
def test_explain_refuses_bad_flags_in_one_line(cli, tiny_model_file, face_png, tmp_path, args, message):
    result = cli("explain", str(tiny_model_file), str(face_png), "--no-detect", "--out", str(tmp_path / "o"), *args)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_explain_needs_a_model_it_can_take_gradients_through(cli, face_png, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Flatten", ["x"], ["flat"]),
                               helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["y"])],
                              "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 48, 48, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 7])],
                              [helper.make_tensor(n, TensorProto.INT64, [1], [v])
                               for n, v in (("starts", 0), ("ends", 7), ("axes", 1))])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    result = cli("explain", str(path), str(face_png), "--no-detect", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "explain needs a Keras model" in result.stderr
    assert not (tmp_path / "o").exists()
