"""`--devices`: one model trained data parallel over several devices — JAX's host devices and
TensorFlow's logical CPUs stand in for GPUs — and the run it writes resumes, evaluates, exports and
predicts like any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

DATA = "synthetic:size=140,seed=2,preset=easy"

JAX_PROBE = """
import json, sys
import keras, numpy as np
from fer_zoo.errors import FerZooError
from fer_zoo.training.train import TrainOptions, train

out, data = sys.argv[1], sys.argv[2]
def options(devices, batch, epochs=2):
    return TrainOptions(epochs=epochs, batch_size=batch, devices=devices, augment=False, checkpoint_seconds=0)

class Stop(keras.callbacks.Callback):  # a kill after the first epoch
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt

placed = set()
class Look(keras.callbacks.Callback):  # where the weights are while it trains
    def on_epoch_end(self, epoch, logs=None):
        placed.update(len(w.value.sharding.device_set) for w in self.model.weights)

two = train("tiny", data, out + "/two", options(2, 16), callbacks=[Look()])
one = train("tiny", data, out + "/one", options(1, 32))  # the same global batch on one device
try:
    train("tiny", data, out + "/cut", options(2, 16), callbacks=[Stop()])
except FerZooError as exc:
    interrupted = str(exc)
resumed = train("", data, out + "/cut", resume=True)
handed_back = {len(w.value.sharding.device_set) for w in two.model.weights}
print(json.dumps({"placed": sorted(placed), "handed_back": sorted(handed_back), "devices": [str(d) for d in keras.distribution.list_devices()],
                  "interrupted": interrupted,
                  "two_vs_one": [float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(two.model.weights,
                                                                               one.model.weights)],
                  "names": [w.path for w in two.model.weights],
                  "resumed_vs_two": max(float(np.abs(a - b).max()) for a, b in zip(resumed.model.get_weights(),
                                                                                  two.model.get_weights())),
                  "moved": max(float(np.abs(a).max()) for a in two.model.get_weights())}))
"""

TF_PROBE = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from fer_zoo.training.train import TrainOptions, train
import keras
mirrored = []
class Look(keras.callbacks.Callback):  # what the variables are while it trains
    def on_epoch_end(self, epoch, logs=None):
        mirrored.append(type(self.model.weights[0].value).__name__)
result = train("tiny", sys.argv[2], sys.argv[1], TrainOptions(epochs=1, batch_size=16, devices="all",
                                                               checkpoint_seconds=0), callbacks=[Look()])
import numpy as np
print(json.dumps({"variable": mirrored[0], "status": result.metrics["status"], "loss": result.history[-1]["loss"],
                  "one_image": list(result.model.predict_on_batch(np.zeros((1, 48, 48, 1), np.uint8)).shape)}))
"""


def _probe(source: str, tmp_path, backend: str, **env) -> dict:
    done = subprocess.run([sys.executable, "-c", source, str(tmp_path / "runs"), DATA], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": backend,
                                                       "TF_CPP_MIN_LOG_LEVEL": "3", **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_jax_data_parallel_equals_one_device_and_its_run_works_everywhere(install_plugin, tiny_plugin_source,
                                                                         tmp_path, cli):
    pytest.importorskip("jax", reason="JAX is not installed (pip install -e '.[dev]' brings it)")
    install_plugin("tiny-bn", tiny_plugin_source("tiny", batch_norm=True))
    found = _probe(JAX_PROBE, tmp_path, "jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    assert found["devices"] == ["cpu:0", "cpu:1"] and found["placed"] == [2]  # every weight on both devices
    assert found["handed_back"] == [1]  # and the model train() returns is an ordinary one-device model
    # synchronous data parallel is the same arithmetic as one device with the global batch: batch norm's
    # statistics are the global batch's, so every weight agrees — except the convolution's bias, whose
    # gradient under batch norm is zero up to rounding, which Adam scales to full steps (and the moving
    # mean, which follows that bias)
    differences = dict(zip(found["names"], found["two_vs_one"]))
    compared = {k: v for k, v in differences.items() if not k.endswith(("conv2d/bias", "moving_mean"))}
    assert len(compared) >= 5 and found["moved"] > 0.01 and max(compared.values()) < 1e-4, differences
    assert "1 completed epoch(s) are saved" in found["interrupted"]
    assert found["resumed_vs_two"] < 1e-5, found  # resumed on two devices: as if never cut
    runs = tmp_path / "runs"
    config = json.loads((runs / "two" / "config.json").read_text())
    assert (config["devices"], config["global_batch_size"], config["recipe"]["batch_size"]) == (2, 32, 16)
    assert json.loads((runs / "one" / "config.json").read_text())["devices"] == 1

    # here, under TensorFlow on one device: evaluate, export and predict the run two devices made
    from PIL import Image

    evaluated = cli("evaluate", str(runs / "two"), "--data", DATA, "--split", "val", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads((runs / "two" / "metrics.json").read_text())
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(metrics["val_accuracy"], abs=1e-9)
    exported = cli("export", str(runs / "two"), "--format", "onnx", "--out", str(tmp_path / "two.onnx"))
    assert exported.exit_code == 0, exported.output
    face = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)).save(face)
    by_run = cli("predict", str(runs / "two"), str(face), "--no-detect", "--json", "--runtime", "keras")
    by_onnx = cli("predict", str(tmp_path / "two.onnx"), str(face), "--no-detect", "--json")
    assert json.loads(by_run.stdout)[0]["probabilities"] == pytest.approx(
        json.loads(by_onnx.stdout)[0]["probabilities"], abs=1e-4)


def test_tensorflow_data_parallel_mirrors_the_variables(install_plugin, tiny_plugin_source, tmp_path):
    install_plugin("tiny-plugin", tiny_plugin_source("tiny"))
    found = _probe(TF_PROBE, tmp_path, "tensorflow")
    assert found["variable"] == "MirroredVariable" and np.isfinite(found["loss"])
    assert found["one_image"] == [1, 7]  # the model handed back answers one image with one row
    config = json.loads((tmp_path / "runs" / "config.json").read_text())
    assert (config["devices"], config["global_batch_size"]) == (2, 32)  # "all": both logical CPUs


@pytest.mark.parametrize("devices, message", [
    ("3", "--devices 3: this machine has 1 (/device:CPU:0)"),
    ("two", "--devices must be a number of devices or 'all', got 'two'"),
    ("0", "--devices must be at least 1"),
])
def test_devices_that_are_not_there_are_refused(cli, install_plugin, tiny_plugin_source, tmp_path, devices, message):
    install_plugin("tiny-plugin", tiny_plugin_source("tiny"))
    result = cli("train", "tiny", "--data", DATA, "--epochs", "1", "--devices", devices, "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
