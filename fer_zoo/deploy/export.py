"""Deployable models, verified.

``export()`` writes the inference model (raw 0-255 pixels in, normalisation inside, no augmentation) as
``keras``, ``h5``, ``savedmodel``, ``tflite`` or ``onnx``, loads the artifact back through its own runtime,
and compares its predictions with the Keras model's on real images: the largest absolute difference of a
probability for float formats, top-1 agreement for int8. Past the tolerance nothing is written.
The converters themselves need TensorFlow and live in fer_zoo.tf_backend.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fer_zoo import atomic
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.quiet import muted
from fer_zoo.inference.runtime import MAX_ABS_DIFF as FLOAT_TOLERANCE

FORMATS = {"keras": ".keras", "h5": ".h5", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}
QUANTIZATIONS = ("none", "float16", "int8")
SUPPORTED = {"tflite": QUANTIZATIONS, "onnx": ("none", "int8")}
# The documented tolerances (docs/export.md): largest |probability difference| for float formats,
# smallest top-1 agreement with the Keras model for int8.
MAX_ABS_DIFF = {"none": FLOAT_TOLERANCE, "float16": 1e-2}
MIN_TOP1_AGREEMENT = 0.9
# int8 narrows step by step what it quantises until the check passes (each step is reported).
# TFLite: op types kept in float. Elementwise MUL/ADD come first: a batch norm after pooling or after a
# ReLU'd dense layer stays a multiply-add whose int8 rounding cancels the signal (the paper's custom net
# loses it entirely: 17% top-1 agreement). ONNX: the op types quantised (mini-Xception's unfolded batch
# norms and residual adds lose too much in int8; its convolutions alone are safe).
INT8_LADDER = {
    "tflite": [("keep_float", ()), ("keep_float", ("MUL", "ADD")), ("keep_float", ("MUL", "ADD", "FULLY_CONNECTED"))],
    "onnx": [("quantize_only", ()), ("quantize_only", ("Conv", "MatMul", "Gemm")), ("quantize_only", ("Conv",))],
}
CHECK_IMAGES = 256
REPRESENTATIVE_IMAGES = 256


class VerificationFailed(FerZooError):
    """The exported artifact does not reproduce the model within tolerance (exit status 1)."""


@dataclass
class ExportReport:
    path: str
    format: str
    quantize: str
    bytes: int
    runtime: str
    check: str  # "max_abs_diff" or "top1_agreement"
    value: float
    tolerance: float
    max_abs_diff: float
    top1_agreement: float
    images: int
    data: str
    int8_scope: str = ""  # int8: what was quantised ("all ops", "all but MUL, ADD", "only Conv")
    notes: list[str] = field(default_factory=list)  # which data checked it, where --data was not given

    def as_dict(self) -> dict:
        return asdict(self)


TENSORFLOW_FORMATS = ("savedmodel", "tflite", "onnx")
# what a SavedModel folder holds (TensorFlow's and Keras's writers), file or folder: a folder holding
# anything else is the user's, and --force must not delete it with the old model
SAVED_MODEL_PARTS = {"saved_model.pb": "file", "saved_model.pbtxt": "file", "fingerprint.pb": "file",
                     "keras_metadata.pb": "file", "variables": "dir", "assets": "dir", "assets.extra": "dir"}


def export(model: str | os.PathLike, fmt: str, out: str | os.PathLike, quantize: str = "none",
           data: str | None = None, force: bool = False, unsafe: bool = False,
           scale: float | None = None, offset: float | None = None) -> ExportReport:
    """Export ``model`` (run dir, .keras/.h5, or an architecture with shipped weights) to ``out``; checked on
    ``data`` (None: the run's own data, else the synthetic default)."""
    import keras

    from fer_zoo.inference.evaluation import default_data
    from fer_zoo.inference.runtime import load_classifier

    out = Path(out)
    notes = []
    if data is None:
        data, note = default_data([str(model)])
        notes.append(note)
    _check_request(fmt, quantize, out, force, model, data)
    backend = keras.backend.backend()
    if backend != "tensorflow" and fmt in TENSORFLOW_FORMATS:
        raise FerZooError(f"--format {fmt} converts through TensorFlow and needs its backend, not {backend}: run "
                          f"it with KERAS_BACKEND=tensorflow (the model file is the same under every backend)")
    source = load_classifier(model, runtime="keras", unsafe=unsafe, scale=scale, offset=offset)
    if source.keras_model is None:
        raise FerZooError(f"{model}: export takes a Keras model (a run directory, .keras/.h5 file or an "
                          f"architecture with weights), not a {source.runtime} artifact")
    check_x, representative = _images(data, source.input_shape, quantize == "int8")
    reference = source.predict(check_x)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FerZooError(f"--out {out}: cannot create its folder ({exc.strerror or exc})") from None
    atomic.remove_stale(out.parent)  # what a killed export left beside its --out
    ladder = INT8_LADDER[fmt] if quantize == "int8" else [("keep_float", ())]
    try:
        scratch_dir = atomic.scratch_dir(out)
    except OSError as exc:  # a read-only file system, whoever runs fer-zoo
        raise FerZooError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    with scratch_dir as scratch:
        for step, scope in enumerate(ladder):
            artifact = Path(scratch) / f"try{step}" / f"model{FORMATS[fmt]}"
            artifact.parent.mkdir()
            with muted(stdout=True):
                _write(source, fmt, quantize, artifact, representative, scope)
            try:
                report = _verify(artifact, fmt, quantize, out, reference, check_x, data, scope)
                break
            except VerificationFailed:
                if step == len(ladder) - 1:
                    raise
        _move_into_place(artifact, out, Path(scratch))
    report.bytes = _size(out)
    report.notes = notes
    return report


def _check_request(fmt: str, quantize: str, out: Path, force: bool, model="", data: str = "") -> None:
    if fmt not in FORMATS:
        raise FerZooError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if quantize not in QUANTIZATIONS:
        raise FerZooError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if quantize not in SUPPORTED.get(fmt, ("none",)):
        formats = [f for f, allowed in SUPPORTED.items() if quantize in allowed]
        raise FerZooError(f"--quantize {quantize} is available for --format {' or '.join(formats)}, "
                          f"not {fmt}")
    suffix = FORMATS[fmt]
    if suffix and out.suffix.lower() != suffix:
        raise FerZooError(f"--out {out}: a {fmt} file must end in {suffix}")
    from fer_zoo import outputs

    given = outputs.inputs(data=data, models=[model])
    if fmt != "savedmodel":
        outputs.file(out, "--out", given, force)
        return
    outputs.folder(out, "--out", given, force, replace=True)
    # --force replaces the whole folder: only an old SavedModel goes that way, never a folder of other things
    if out.is_dir() and not out.is_symlink() and any(out.iterdir()):
        if not (out / "saved_model.pb").is_file():
            raise FerZooError(f"--out {out}: a folder that is not a SavedModel (no saved_model.pb); --force "
                              f"replaces only a SavedModel folder, so choose another --out")
        for entry in sorted(out.iterdir()):
            kind = SAVED_MODEL_PARTS.get(entry.name)
            if kind is None or entry.is_symlink() or not (entry.is_dir() if kind == "dir" else entry.is_file()):
                raise FerZooError(f"--out {out}: holds {entry.name}, which no SavedModel holds; --force replaces "
                                  f"only a SavedModel folder, so move it or choose another --out")


def _images(data: str, shape: tuple[int, int, int], representative: bool):
    """Real images for the check (val split) and int8 calibration (train split), at the model's input."""
    from fer_zoo.data import load_dataset
    from fer_zoo.inference.runtime import fit_images

    dataset = load_dataset(data)
    check_split = dataset.splits.get("val") or dataset.splits.get("test") or dataset.splits["train"]
    check = fit_images(check_split.x[:CHECK_IMAGES], shape)
    rep = None
    if representative:
        train = dataset.splits["train"].x
        pick = np.random.default_rng(0).permutation(len(train))[:REPRESENTATIVE_IMAGES]
        rep = fit_images(train[np.sort(pick)], shape)
    return check, rep


def _write(source, fmt: str, quantize: str, path: Path, representative, scope=("keep_float", ())) -> None:
    from fer_zoo import tf_backend

    model = source.keras_model
    try:
        if fmt in ("keras", "h5"):
            model.save(path)
        elif fmt == "savedmodel":
            tf_backend.write_saved_model(model, path)
        elif fmt == "tflite":
            path.write_bytes(tf_backend.tflite_bytes(model, quantize, representative, scope[1]))
        else:
            tf_backend.write_onnx(model, path, source.class_names)
            if quantize == "int8":
                _onnx_int8(path, representative, source.class_names, scope[1])
    except FerZooError:
        raise
    except Exception as exc:  # a converter's refusal (an op it cannot express) is a clear message, not a trace
        raise FerZooError(f"{source.source}: the {fmt} converter failed: {one_line(exc, 300)}") from None


def _verify(artifact: Path, fmt: str, quantize: str, out: Path, reference: np.ndarray, x: np.ndarray,
            data: str, scope=("keep_float", ())) -> ExportReport:
    from fer_zoo.inference.runtime import load_classifier

    # the artifact is the one just written from the model being exported: loading it runs nothing new
    loaded = load_classifier(artifact, runtime="keras", unsafe=True)
    got = loaded.predict(x)
    if got.shape != reference.shape:
        raise VerificationFailed(f"the {fmt} artifact predicts {got.shape[-1]} classes, the model "
                                 f"{reference.shape[-1]}; nothing written")
    diff = float(np.abs(got - reference).max())
    agreement = float(np.mean(got.argmax(1) == reference.argmax(1)))
    if quantize == "int8":
        check, value, tolerance, ok = "top1_agreement", agreement, MIN_TOP1_AGREEMENT, agreement >= MIN_TOP1_AGREEMENT
    else:
        tolerance = MAX_ABS_DIFF[quantize]
        check, value, ok = "max_abs_diff", diff, diff <= tolerance
    if not ok:
        relation = "<" if check == "top1_agreement" else ">"
        kept = f" (quantising {describe_scope(scope)})" if quantize == "int8" else ""
        raise VerificationFailed(f"{fmt} export failed verification on {len(x)} images of {data}: {check} "
                                 f"{value:.3g} {relation} tolerance {tolerance:g}{kept}; nothing written to {out}")
    return ExportReport(str(out), fmt, quantize, 0, loaded.runtime, check, value, tolerance, diff, agreement,
                        len(x), data, describe_scope(scope) if quantize == "int8" else "")


def describe_scope(scope) -> str:
    kind, ops = scope
    if not ops:
        return "all ops"
    return f"all but {', '.join(ops)}" if kind == "keep_float" else f"only {', '.join(ops)}"


def _move_into_place(artifact: Path, out: Path, scratch: Path) -> None:
    """The verified artifact replaces ``out`` (file or SavedModel folder) in one rename where it can; an
    old folder is moved into the scratch folder first (removed with it)."""
    if out.is_dir() and not out.is_symlink():
        os.replace(out, scratch / "replaced")
        os.replace(artifact, out)
    else:
        if artifact.is_dir() and out.exists():
            out.unlink()
        os.replace(artifact, out)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# --- int8 ONNX (ONNX Runtime's quantiser; no TensorFlow) ---------------------------------------------


def _onnx_int8(path: Path, representative, class_names, only=()) -> None:
    """Static int8 quantisation (QDQ) by ONNX Runtime, calibrated on the representative images."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    import onnxruntime as ort

    input_name = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{input_name: representative[i:i + 1]} for i in range(len(representative))])

        def get_next(self):
            return next(self.batches, None)

    quantized = path.with_name("int8.onnx")
    # 7-bit weights (reduce_range): on x86 CPUs without VNNI, ONNX Runtime multiplies uint8 activations by
    # int8 weights with an instruction whose 16-bit sums saturate at full 8-bit range, and the file must
    # keep its accuracy on whichever CPU runs it (top-1 agreement 0.8 without it on an AVX2-only EPYC)
    quantize_static(str(path), str(quantized), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=list(only) or None)
    os.replace(quantized, path)
    from fer_zoo.tf_backend import label_onnx

    label_onnx(path, class_names)
