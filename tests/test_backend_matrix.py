"""One backend-agnostic check, run under each Keras backend — TensorFlow, JAX and PyTorch — in a process
of its own: the conformance kit, train, evaluate, predict, explain and bench; export's TensorFlow formats
are refused in one line elsewhere; `--devices 2` is refused under PyTorch. The models each backend
writes are read back here, under TensorFlow, and give the same probabilities."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

DATA = "synthetic:size=70,seed=2,preset=easy"
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # backend -> the module it needs
EXTRAS = {"tensorflow": "fer-zoo's own dependencies", "jax": "pip install -e '.[dev]'",
          "torch": "pip install 'fer-zoo[torch]' (.ci/run does)"}

PROBE = """
import json, sys
import keras
import fer_zoo
from fer_zoo.benchmark.bench import BenchConfig, run_bench
from fer_zoo.errors import FerZooError
from fer_zoo.inference.evaluation import evaluate
from fer_zoo.inference.explain import explain
from fer_zoo.deploy.export import export
from fer_zoo.inference.predict import PredictOptions, predict
from fer_zoo.inference.runtime import load_classifier
from fer_zoo.testing import check_architecture
from fer_zoo.training.train import TrainOptions, train

out, face, data = sys.argv[1], sys.argv[2], sys.argv[3]
# every check of the kit, its training step included, under this backend, in this process (the child process
# that contains a native crash costs a second interpreter start; tests/test_plugin_kit.py covers it)
check_architecture(fer_zoo.get_architecture("tiny"), isolate=False)
result = train("tiny", data, out + "/run", TrainOptions(epochs=2, batch_size=16, checkpoint_seconds=0))
report = evaluate(out + "/run", data, "val")
classifier = load_classifier(out + "/run", runtime="auto")
faces, _ = predict(classifier, [face], PredictOptions(detect=False))
[explained], _ = explain(load_classifier(out + "/run", runtime="keras"), [face], detector=None)


# the bench's rows through the worker's own code, under this backend, in this process: a worker process of
# its own would cost a second interpreter start and test nothing backend-specific (it inherits KERAS_BACKEND;
# tests/test_bench.py covers the process boundary)
class InProcess:
    name, concurrent_rows = "in-process", 1

    def run(self, tasks, bench):
        from fer_zoo.benchmark import worker
        return {(spec.label, seed): worker.run(bench.job(spec, seed, bench.run_dir(spec, seed)))
                for spec, seed in tasks}


bench = run_bench(["tiny"], BenchConfig(data=data, budget="smoke", seeds=1, epochs=1, batch_size=16,
                                        precision="float32"), __import__("pathlib").Path(out + "/bench"),
                  executor=InProcess())
refusals = {}
for name, call in (("onnx", lambda: export(out + "/run", "onnx", out + "/m.onnx")),
                   ("devices", lambda: train("tiny", data, out + "/dp", TrainOptions(epochs=1, devices=2)))):
    try:
        call()
        refusals[name] = None
    except FerZooError as exc:
        refusals[name] = str(exc)
print(json.dumps({"backend": keras.backend.backend(), "history": result.history,
                  "val_accuracy": result.metrics["val_accuracy"], "evaluated": report["accuracy"],
                  "runtime": classifier.runtime, "probabilities": faces[0].probabilities,
                  "explained": explained.target, "bench_status": bench["rows"][0]["status"],
                  "bench_backend": bench["environment"]["backend"], "refusals": refusals}))
"""


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_the_zoo_under_each_backend(backend, install_plugin, tiny_plugin_source, tmp_path):
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"the {backend} backend is not installed: {EXTRAS[backend]}")
    from PIL import Image

    install_plugin("tiny-bn", tiny_plugin_source("tiny", batch_norm=True))
    face = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)).save(face)
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), str(face), DATA], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": backend,
                                                       "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["backend"] == backend == found["bench_backend"]
    assert [row["epoch"] for row in found["history"]] == [1, 2] and np.isfinite(found["history"][-1]["loss"])
    assert found["evaluated"] == pytest.approx(found["val_accuracy"], abs=1e-9)  # the best epoch, scored again
    assert found["bench_status"] not in ("failed", "diverged", "out of memory")
    assert abs(sum(found["probabilities"].values()) - 1) < 1e-5 and found["explained"] in found["probabilities"]
    if backend == "tensorflow":
        assert found["runtime"].startswith("onnxruntime") and found["refusals"]["onnx"] is None
        assert found["refusals"]["devices"].startswith("--devices 2: this machine has 1")
    else:
        assert found["runtime"] == f"keras ({backend})"
        assert "--format onnx converts through TensorFlow" in found["refusals"]["onnx"]
    if backend == "torch":
        assert "data-parallel training needs the JAX or TensorFlow backend" in found["refusals"]["devices"]

    # the run this backend wrote, read here under TensorFlow: the same probabilities for the same face
    from fer_zoo.inference.predict import PredictOptions, predict
    from fer_zoo.inference.runtime import load_classifier

    here, _ = predict(load_classifier(tmp_path / "run", runtime="keras"), [face], PredictOptions(detect=False))
    assert here[0].probabilities == pytest.approx(found["probabilities"], abs=1e-4)
