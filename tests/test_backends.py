"""Training, evaluation and prediction use Keras APIs only: tiny runs under the JAX backend prove it, and
count what JAX compiles: each step function once per run, and nothing at all the second time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

PROBE = """
import json, sys
from fer_zoo.training.train import train, TrainOptions
from fer_zoo.inference.evaluation import evaluate
data = "synthetic:size=70,seed=2,preset=easy"
result = train("tiny", data, sys.argv[1], TrainOptions(epochs=2, batch_size=32, checkpoint_seconds=0))
if sys.argv[3] == "full":
    report = evaluate(sys.argv[1], data, "val", tta="tencrop")
    from fer_zoo.inference.predict import PredictOptions, predict
    from fer_zoo.inference.runtime import load_classifier
    classifier = load_classifier(sys.argv[1], runtime="auto")  # ONNX needs TensorFlow's converter: Keras on JAX
    faces, _ = predict(classifier, [sys.argv[2]], PredictOptions(detect=False))
    from fer_zoo.inference.explain import explain
    [explained], _ = explain(load_classifier(sys.argv[1], runtime="keras"), [sys.argv[2]], detector=None)
    print(json.dumps({"metrics": result.metrics, "accuracy": report["accuracy"], "runtime": classifier.runtime,
                      "probabilities": faces[0].probabilities, "heat": explained.heat.tolist(),
                      "explained": explained.target}))
"""
STEP = re.compile(r"Compiling jit\((train_step|test_step|predict_step)\) with global shapes and types .*?"
                  r"ShapedArray\(u?int8\[(\d+),48,48,1\]\)")


def run_probe(tmp_path, install_plugin, name: str, mode: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "jax", "FER_ZOO_CACHE_DIR": str(tmp_path / "cache"),
           "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_LOG_COMPILES": "1"}
    face = tmp_path / "face.png"
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)).save(face)
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / name), str(face), mode], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_train_evaluate_predict_under_jax_compile_once_then_from_cache(tmp_path, install_plugin, tiny_plugin_source):
    pytest.importorskip("jax", reason="JAX is not installed (pip install -e '.[dev]' brings it)")
    install_plugin("tiny-bn", tiny_plugin_source("tiny", batch_norm=True))
    # 70 images in batches of 32 (the ragged 6 sit out), validation and scoring on 11 images in one padded
    # batch, precise BN on the 70 training images in one pass: each compiled once, and no test step at all
    first = run_probe(tmp_path, install_plugin, "run", "train")
    compiled = Counter(STEP.findall(first.stderr))
    assert compiled == {("train_step", "32"): 1, ("predict_step", "11"): 1, ("predict_step", "70"): 1}, compiled
    assert json.loads((tmp_path / "run" / "config.json").read_text())["backend"] == "jax"

    # a second process training the same network on the same shapes compiles none of it: the persistent cache
    second = run_probe(tmp_path, install_plugin, "again", "full")
    assert "Persistent compilation cache hit for 'jit_train_step'" in second.stderr
    assert "Persistent compilation cache hit for 'jit_predict_step'" in second.stderr
    output = json.loads(second.stdout.strip().splitlines()[-1])
    assert output["metrics"]["epochs"] == 2
    # the same model scored here under TensorFlow: JAX's evaluation counts the same faces right
    from fer_zoo.inference.evaluation import evaluate

    here = evaluate(tmp_path / "again", "synthetic:size=70,seed=2,preset=easy", "val", tta="tencrop")
    assert output["accuracy"] == pytest.approx(here["accuracy"], abs=1e-6)
    assert output["runtime"] == "keras (jax)" and abs(sum(output["probabilities"].values()) - 1) < 1e-5
    # explain takes its gradients through JAX; TensorFlow, here, finds the same map for the same model
    from fer_zoo.inference.explain import explain
    from fer_zoo.inference.runtime import load_classifier

    [here], _ = explain(load_classifier(tmp_path / "again", runtime="keras"), [tmp_path / "face.png"], detector=None)
    assert here.target == output["explained"] and here.heat.max() == 1
    np.testing.assert_allclose(np.array(output["heat"]), here.heat, atol=1e-4)
