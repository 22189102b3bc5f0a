"""Training, evaluation and prediction use Keras APIs only: one tiny run under the JAX backend proves it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from fer_zoo.runs import train, TrainOptions
from fer_zoo.evaluation import evaluate
result = train("lenet", "synthetic:size=70,seed=2", sys.argv[1], TrainOptions(epochs=1, batch_size=35))
report = evaluate(sys.argv[1], "synthetic:size=70,seed=2", "val", tta="tencrop")
from fer_zoo.predict import PredictOptions, predict
from fer_zoo.runtime import load_classifier
classifier = load_classifier(sys.argv[1], runtime="auto")  # ONNX needs TensorFlow's converter: Keras on JAX
faces, _ = predict(classifier, [sys.argv[2]], PredictOptions(detect=False))
print(json.dumps({"metrics": result.metrics, "accuracy": report["accuracy"], "runtime": classifier.runtime,
                  "probabilities": faces[0].probabilities}))
"""


def test_train_and_evaluate_under_jax(tmp_path):
    pytest.importorskip("jax", reason="JAX is not installed (pip install -e '.[dev]' brings it)")
    env = {**os.environ, "KERAS_BACKEND": "jax", "FER_ZOO_CACHE_DIR": str(tmp_path / "cache"),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    face = tmp_path / "face.png"
    from PIL import Image

    Image.new("L", (48, 48), 120).save(face)
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "run"), str(face)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    output = json.loads(done.stdout.strip().splitlines()[-1])
    assert output["metrics"]["epochs"] == 1 and 0 <= output["accuracy"] <= 1
    assert output["runtime"] == "keras (jax)" and abs(sum(output["probabilities"].values()) - 1) < 1e-5
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["backend"] == "jax"
