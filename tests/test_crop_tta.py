"""A recipe's random crop and its test-time views: the windows the network sees in training, the centre crop
the saved model cuts, the ten crops, and ``evaluate --tta recipe``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_zoo.errors import FerZooError

DATA = "synthetic:size=84,seed=5,preset=easy"


def build_tiny(input_shape, num_classes):
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(shape=input_shape), layers.Conv2D(4, 3, strides=2),
                             layers.GlobalAveragePooling2D(), layers.Dense(num_classes, activation="softmax")])


def architecture(flexible: bool = True):
    import fer_zoo

    return fer_zoo.Architecture(name="cropper", build=build_tiny, input_shape=(48, 48, 1), description="test",
                                flexible_input=flexible)


def images(n: int = 3, side: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side, 1)).astype("float32")


def window_origins(out: np.ndarray, x: np.ndarray, crop: int, padding: int) -> list[list[tuple[int, int]]]:
    """For each image, every (top, left) of its padded image whose crop x crop window is ``out``'s centre."""
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    top = (x.shape[1] - crop) // 2
    centre = out[:, top:top + crop, top:top + crop]
    span = padded.shape[1] - crop + 1
    return [[(a, b) for a in range(span) for b in range(span)
             if np.array_equal(padded[i, a:a + crop, b:b + crop], centre[i])] for i in range(len(x))]


def test_random_crop_shows_the_network_a_random_window_of_the_padded_image():
    import keras

    from fer_zoo.models.pipeline import RandomWindow

    x = images()
    layer = RandomWindow(40, 4, seed=3)
    first = keras.ops.convert_to_numpy(layer(x, training=True))
    second = keras.ops.convert_to_numpy(layer(x, training=True))
    other_seed = keras.ops.convert_to_numpy(RandomWindow(40, 4, seed=4)(x, training=True))
    origins = [window_origins(out, x, 40, 4) for out in (first, second, other_seed)]
    assert all(len(found) == 1 for each in origins for found in each)  # each a window of the padded image
    drawn = [[found[0] for found in each] for each in origins]
    assert drawn[0] != drawn[1] and drawn[0] != drawn[2]  # new windows per call and per seed
    assert any(origin != (4, 4) for origin in drawn[0] + drawn[1])  # not just the centre
    assert np.array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)  # inference: untouched


def test_the_inference_model_starts_by_cutting_the_centre_crop():
    import keras

    from fer_zoo.models.pipeline import inference_model, training_model
    from fer_zoo.plugins.recipe import Augment

    model = inference_model(architecture(), (48, 48, 1), 7, crop=40)
    assert model.input_shape == (None, 48, 48, 1)
    first = model.layers[1]
    assert first.name == "centre_crop" and isinstance(first, keras.layers.Cropping2D)
    x = images()
    assert np.array_equal(keras.ops.convert_to_numpy(first(x)), x[:, 4:44, 4:44])
    network = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    assert network.input_shape == (None, 40, 40, 1)  # the network is built at the crop
    trainer = training_model(model, Augment(crop=40, crop_padding=2, flip=True, erasing=0.5), seed=0)
    assert [layer.name for layer in trainer.layers[1:4]] == ["augment", "erase", "random_crop"]
    assert trainer(x, training=True).shape == (3, 7)


def test_a_crop_the_architecture_cannot_take_names_the_key():
    from fer_zoo.models.pipeline import inference_model

    with pytest.raises(FerZooError, match="augment.crop: 40 px, but architecture 'cropper' is built only at 48x48"):
        inference_model(architecture(flexible=False), (48, 48, 1), 7, crop=40)
    with pytest.raises(FerZooError, match="augment.crop: 64 px is larger than the 48x48 images"):
        inference_model(architecture(), (48, 48, 1), 7, crop=64)


def test_ten_crops_are_the_corner_and_centre_slices_and_their_mirrors():
    from keras import ops

    from fer_zoo.models.tta import ten_crops

    x = images(2, 16)
    origins = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]
    resized = ten_crops(x, 12)  # a model without a centre crop: each crop resized back to 16x16
    assert len(resized) == 10
    for (top, left), view, mirror in zip(origins, resized[0::2], resized[1::2]):
        expected = ops.convert_to_numpy(ops.image.resize(x[:, top:top + 12, left:left + 12], (16, 16)))
        assert np.allclose(view, expected) and np.array_equal(mirror, view[:, :, ::-1])
    native = ten_crops(x, 12, crop_side=12)  # a crop-trained model: each crop where its centre_crop cuts
    for (top, left), view, mirror in zip(origins, native[0::2], native[1::2]):
        assert view.shape == x.shape
        assert np.array_equal(view[:, 2:14, 2:14], x[:, top:top + 12, left:left + 12])
        assert np.array_equal(mirror[:, 2:14, 2:14], x[:, top:top + 12, left:left + 12][:, :, ::-1])


def test_predict_proba_feeds_a_crop_trained_model_its_own_crop_size():
    from fer_zoo.inference.evaluation import predict_proba
    from fer_zoo.models.pipeline import inference_model
    from fer_zoo.models.tta import centre_crop_side, ten_crops

    model = inference_model(architecture(), (48, 48, 1), 7, crop=40)
    assert centre_crop_side(model) == 40
    x = images(4)
    expected = np.mean([model.predict(v, verbose=0) for v in ten_crops(x, 0, 40)], axis=0)
    assert np.allclose(predict_proba(model, x, 4, "tencrop"), expected, atol=1e-6)
    plain = np.mean([model.predict(v, verbose=0) for v in ten_crops(x, 0)], axis=0)  # 42 px resized to 48
    assert not np.allclose(expected, plain, atol=1e-6)


@pytest.mark.parametrize("line, key", [("[augment]\ncrop = -1", "augment.crop"),
                                       ("[augment]\ncrop_padding = 2000", "augment.crop_padding"),
                                       ('tta = "tencropp"', "tta"), ("tta_crop = -3", "tta_crop")])
def test_bad_crop_and_tta_values_name_the_key(tmp_path, line, key):
    from fer_zoo.models.recipes import load_recipe_file

    path = tmp_path / "r.toml"
    path.write_text(f'base = "seed"\n{line}\n')
    with pytest.raises(FerZooError) as caught:
        load_recipe_file(path, "seed")
    message = str(caught.value)
    assert f"{path}: {key}" in message and "\n" not in message


def test_recipe_files_take_the_new_keys_and_old_runs_read_without_them(tmp_path):
    from fer_zoo.models.recipes import load_recipe_file
    from fer_zoo.plugins.recipe import Recipe

    path = tmp_path / "r.toml"
    path.write_text('base = "seed"\ntta = "tencrop"\ntta_crop = 40\n[augment]\ncrop = 40\ncrop_padding = 4\n')
    recipe, _ = load_recipe_file(path, "seed")
    assert (recipe.tta, recipe.tta_crop, recipe.augment.crop, recipe.augment.crop_padding) == ("tencrop", 40, 40, 4)
    assert recipe.augment.active
    old = recipe.as_dict()
    for key in ("tta", "tta_crop"):
        del old[key]
    for key in ("crop", "crop_padding"):
        del old["augment"][key]
    again = Recipe.from_dict(old)
    assert (again.tta, again.tta_crop, again.augment.crop, again.augment.crop_padding) == ("none", 0, 0, 0)


def test_the_bench_tables_have_the_tta_columns():
    from fer_zoo.report import columns

    for view in ("wide", "csv"):
        keys = [c.key for c in columns.view(view)]
        assert {"tta", "val_tta_acc", "test_tta_acc"} <= set(keys)
    assert not {"tta", "val_tta_acc", "test_tta_acc"} & {c.key for c in columns.view("narrow")}
    assert {"val_tta_acc", "test_tta_acc"} <= set(columns.numeric())


def flexible(tiny_plugin_source) -> str:
    """The tiny test net, named flexi, declared buildable at any input size."""
    source = tiny_plugin_source("flexi").replace('description="a tiny test net",',
                                                 'description="a tiny test net", flexible_input=True,')
    assert "flexible_input=True" in source
    return source


def test_a_crop_bigger_than_the_data_is_refused_before_training(cli, install_plugin, tiny_plugin_source, tmp_path):
    install_plugin("acme-flexi", flexible(tiny_plugin_source))
    recipe = tmp_path / "r.toml"
    recipe.write_text('base = "seed"\n[augment]\ncrop = 64\n')
    out = tmp_path / "run"
    result = cli("train", "flexi", "--data", DATA, "--recipe", str(recipe), "--out", str(out), "--quiet")
    assert result.exit_code == 2
    assert "augment.crop: 64 px is larger than the 48x48 images" in result.stderr
    assert len([line for line in result.stderr.splitlines() if "error:" in line]) == 1 and not out.exists()


def test_a_crop_trained_run_predicts_full_images_and_evaluates_with_its_recipes_tta(cli, install_plugin,
                                                                                  tiny_plugin_source, tmp_path):
    from fer_zoo.data import load_dataset
    from fer_zoo.inference.runtime import load_classifier

    install_plugin("acme-flexi", flexible(tiny_plugin_source))
    recipe = tmp_path / "r.toml"
    recipe.write_text('base = "seed"\ntta = "tencrop"\ntta_crop = 40\n[augment]\ncrop = 40\ncrop_padding = 4\n')
    run = tmp_path / "run"
    result = cli("train", "flexi", "--data", DATA, "--recipe", str(recipe), "--epochs", "1", "--batch-size", "16",
                 "--out", str(run), "--quiet")
    assert result.exit_code == 0, result.output
    classifier = load_classifier(run)
    assert classifier.input_shape == (48, 48, 1)
    assert classifier.keras_model.layers[1].name == "centre_crop"
    test = load_dataset(DATA).splits["test"]
    assert classifier.predict(test.x).shape == (len(test), 7)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["tta"] == "tencrop" and 0 <= metrics["test_tta_accuracy"] <= 1
    card = (run / "MODEL_CARD.md").read_text()
    assert "`tencrop` of 40 px crops (the recipe's)" in card and "With the recipe's test-time augmentation" in card

    report = json.loads(cli("evaluate", str(run), "--json").stdout)  # --tta recipe is the default
    assert report["tta"] == "tencrop" and report["tta_from"] == "recipe" and report["tta_crop"] == 40
    assert "tta: tencrop at 40 px (the run's recipe)" in report["notes"]
    assert report["accuracy"] == pytest.approx(metrics["test_tta_accuracy"])
    plain = json.loads(cli("evaluate", str(run), "--tta", "none", "--json").stdout)
    assert plain["tta"] == "none" and plain["accuracy"] == pytest.approx(metrics["test_accuracy"])
    shown = cli("evaluate", str(run), "--tta", "recipe")
    # the heading names the run's path, so it wraps where a longer tmp path (a pytest-xdist worker's) makes it long
    assert shown.exit_code == 0 and "TTA tencrop (the recipe's)" in " ".join(shown.stdout.split())
    assert "note: tta: tencrop at 40 px (the run's recipe)" in shown.stdout
