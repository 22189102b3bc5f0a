"""`fer-zoo export`: every format written, loaded back through its own runtime and checked; the exported
files then work in `evaluate` like the original."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import fer_zoo

from fer_zoo.deploy import export as export_module
from fer_zoo.inference.runtime import load_classifier

DATA = "synthetic:size=120,seed=3"
SUFFIX = {"keras": ".keras", "h5": ".h5", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}


def _export(cli, model, fmt, out, *extra):
    return cli("export", str(model), "--format", fmt, "--out", str(out), "--data", DATA, "--json", *extra)


@pytest.mark.parametrize("fmt", list(SUFFIX))
def test_every_format_round_trips_within_tolerance(cli, tiny_model_file, tmp_path, fmt):
    out = tmp_path / f"model{SUFFIX[fmt]}"
    result = _export(cli, tiny_model_file, fmt, out)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["check"] == "max_abs_diff" and report["value"] <= export_module.MAX_ABS_DIFF["none"]
    assert report["images"] > 0 and report["bytes"] > 0 and out.exists()
    # the artifact, reloaded on its own, predicts what the Keras model predicts
    x = np.random.default_rng(1).uniform(0, 255, (5, 48, 48, 1)).astype("float32")
    original = load_classifier(tiny_model_file).predict(x)
    if fmt == "savedmodel":  # a TensorFlow program: loaded only when the user vouches for it
        with pytest.raises(fer_zoo.FerZooError, match="runs whatever code it was saved with; pass --unsafe"):
            load_classifier(out)
    artifact = load_classifier(out, unsafe=fmt == "savedmodel")
    assert np.abs(artifact.predict(x) - original).max() < 1e-4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left behind


def test_runtimes_are_named(tmp_path, tiny_model_file):
    runtimes = {}
    for fmt in ("tflite", "onnx", "savedmodel"):
        out = tmp_path / f"m{SUFFIX[fmt]}"
        runtimes[fmt] = export_module.export(tiny_model_file, fmt, out, data=DATA).runtime
    assert runtimes == {"tflite": "litert", "onnx": "onnxruntime", "savedmodel": "tensorflow savedmodel"}


@pytest.mark.parametrize("fmt, quantize", [("tflite", "float16"), ("tflite", "int8"), ("onnx", "int8")])
def test_quantized_exports_are_checked_and_smaller(cli, tiny_model_file, tmp_path, fmt, quantize):
    plain = export_module.export(tiny_model_file, fmt, tmp_path / f"plain{SUFFIX[fmt]}", data=DATA)
    result = _export(cli, tiny_model_file, fmt, tmp_path / f"q{SUFFIX[fmt]}", "--quantize", quantize)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    if quantize == "int8":
        assert report["check"] == "top1_agreement" and report["int8_scope"] == "all ops"
        assert report["value"] >= export_module.MIN_TOP1_AGREEMENT
    else:
        assert report["check"] == "max_abs_diff" and 0 < report["value"] <= export_module.MAX_ABS_DIFF["float16"]
    assert report["bytes"] < plain.bytes


def test_failed_verification_writes_nothing_and_exits_1(cli, tiny_model_file, tmp_path, monkeypatch):
    monkeypatch.setitem(export_module.MAX_ABS_DIFF, "none", -1.0)  # no artifact can pass
    out = tmp_path / "out" / "m.onnx"
    out.parent.mkdir()
    result = _export(cli, tiny_model_file, "onnx", out)
    assert result.exit_code == 1
    assert "failed verification" in result.stderr and "nothing written" in result.stderr
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_int8_quantises_less_until_the_check_passes(tiny_model_file, tmp_path, monkeypatch, fmt):
    from fer_zoo.inference import runtime

    real_load, tried = runtime.load_classifier, []

    def full_int8_loses_the_signal(path, *args, **kwargs):
        """The first artifact tried (full int8) predicts the wrong face, as it does for the paper's custom net."""
        classifier = real_load(path, *args, **kwargs)
        if Path(path).suffix == SUFFIX[fmt]:
            tried.append(path)
            if len(tried) == 1:
                predict = classifier.predict
                classifier.predict = lambda x, *a, **k: np.roll(predict(x, *a, **k), 1, axis=1)
        return classifier

    monkeypatch.setattr(runtime, "load_classifier", full_int8_loses_the_signal)
    report = export_module.export(tiny_model_file, fmt, tmp_path / f"m{SUFFIX[fmt]}", "int8", data=DATA)
    assert len(tried) == 2  # the full int8 refused, the next step of the ladder kept
    assert report.int8_scope == {"tflite": "all but MUL, ADD", "onnx": "only Conv, MatMul, Gemm"}[fmt]
    assert report.value >= export_module.MIN_TOP1_AGREEMENT and (tmp_path / f"m{SUFFIX[fmt]}").is_file()


def test_out_is_never_silently_replaced(cli, tiny_model_file, tmp_path):
    out = tmp_path / "saved"
    assert _export(cli, tiny_model_file, "savedmodel", out).exit_code == 0
    stamp = (out / "saved_model.pb").stat().st_mtime_ns
    refused = _export(cli, tiny_model_file, "savedmodel", out)
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert (out / "saved_model.pb").stat().st_mtime_ns == stamp
    assert _export(cli, tiny_model_file, "savedmodel", out, "--force").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["saved"]


@pytest.mark.parametrize("args, message", [
    (["--format", "pb"], "--format must be one of"),
    (["--format", "onnx", "--quantize", "float16"], "--quantize float16 is available for --format tflite"),
    (["--format", "keras", "--quantize", "int8"], "not keras"),
    (["--format", "tflite", "--quantize", "int4"], "--quantize must be one of"),
])
def test_bad_requests_are_one_line_errors(cli, tiny_model_file, tmp_path, args, message):
    result = cli("export", str(tiny_model_file), "--out", str(tmp_path / "m.tflite"), *args)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.tflite").exists()


def test_wrong_suffix_and_non_keras_sources_are_refused(cli, tiny_model_file, tmp_path):
    result = cli("export", str(tiny_model_file), "--format", "onnx", "--out", str(tmp_path / "m.tflite"))
    assert result.exit_code == 2 and "must end in .onnx" in result.stderr
    onnx = tmp_path / "m.onnx"
    export_module.export(tiny_model_file, "onnx", onnx, data=DATA)
    again = cli("export", str(onnx), "--format", "tflite", "--out", str(tmp_path / "m.tflite"))
    assert again.exit_code == 2 and "export takes a Keras model" in again.stderr


def test_exported_files_evaluate_like_the_original(cli, tiny_model_file, tmp_path):
    scores = {}
    for name, path in [("keras", tiny_model_file), ("onnx", tmp_path / "m.onnx"), ("tflite", tmp_path / "m.tflite")]:
        if name != "keras":
            export_module.export(tiny_model_file, name, path, data=DATA)
        result = cli("evaluate", str(path), "--data", DATA, "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        scores[name] = (data["accuracy"], data["confusion_matrix"])
    assert scores["onnx"] == scores["keras"] and scores["tflite"] == scores["keras"]


def test_onnx_carries_the_class_names(tmp_path, tiny_model_file):
    from fer_zoo.data import CLASS_NAMES

    onnx = tmp_path / "m.onnx"
    export_module.export(tiny_model_file, "onnx", onnx, data=DATA)
    assert load_classifier(onnx).class_names == CLASS_NAMES
    assert load_classifier(onnx, class_names=list("abcdefg")).class_names == tuple("abcdefg")


def test_keras_models_run_under_onnx_runtime_from_a_cache(tiny_model_file, tmp_path, monkeypatch):
    monkeypatch.setenv("FER_ZOO_CACHE_DIR", str(tmp_path / "own-cache"))  # not the session's shared one
    x = np.random.default_rng(2).uniform(0, 255, (9, 48, 48, 1)).astype("float32")
    keras_run = load_classifier(tiny_model_file, runtime="keras")
    fast = load_classifier(tiny_model_file, runtime="auto")
    assert fast.runtime.startswith("onnxruntime") and keras_run.runtime == "keras (tensorflow)"
    assert np.abs(fast.predict(x) - keras_run.predict(x)).max() < 1e-4
    cached = list((tmp_path / "own-cache" / "onnx").glob("*.onnx"))
    assert len(cached) == 1

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again although the cache holds the model")

    from fer_zoo import tf_backend

    monkeypatch.setattr(tf_backend, "write_onnx", no_conversion)
    assert load_classifier(tiny_model_file, runtime="onnx").runtime.startswith("onnxruntime")


@pytest.mark.parametrize("fmt", ["savedmodel", "onnx"])
def test_exports_run_in_inference_mode(tmp_path, fmt):
    """Keras 3.15's `model.export` (tf_saved_model and onnx) traces mini-Xception inside the inference model
    with batch norm in training mode (probabilities off by 0.44 untrained); ours must match `predict`."""
    import fer_zoo

    if "mini_xception" not in fer_zoo.list_architectures():
        pytest.skip("the example plugin fer-zoo-mini-xception is not installed")
    from fer_zoo.models.pipeline import inference_model

    model_file = tmp_path / "mini.keras"
    inference_model(fer_zoo.get_architecture("mini_xception"), (48, 48, 1), 7).save(model_file)
    report = export_module.export(model_file, fmt, tmp_path / f"mini{SUFFIX[fmt]}", data=DATA)
    assert report.value <= export_module.MAX_ABS_DIFF["none"]
