"""Export speed on this machine: batch-1 latency and batch-256 throughput of every `fer-zoo export`
format, each loaded the way `fer-zoo predict` / `evaluate` load it.

Usage: python scripts/bench_export.py MODEL [--repeats 200] [--data synthetic] [--format onnx ...]

MODEL is a run directory or .keras file (for int8, a trained one: the export is verified by top-1
agreement on real images). Prints a Markdown table: format, quantisation, size, runtime, verification
figure, median batch-1 latency, batch-256 images/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from fer_zoo import median_seconds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = [("keras", "none"), ("h5", "none"), ("savedmodel", "none"), ("tflite", "none"), ("tflite", "float16"),
            ("tflite", "int8"), ("onnx", "none"), ("onnx", "int8")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--format", action="append", dest="formats", help="only this format (repeatable)")
    args = parser.parse_args(argv)

    import numpy as np

    from fer_zoo import export, load_classifier
    from fer_zoo.deploy.export import FORMATS  # the file suffix each format is written with

    rng = np.random.default_rng(0)
    print("| format | quantize | size | runtime | verification | batch 1 (ms) | batch 256 (img/s) |")
    print("|---|---|---:|---|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, quantize in VARIANTS:
            if args.formats and fmt not in args.formats:
                continue
            out = Path(tmp) / f"{fmt}-{quantize}{FORMATS[fmt]}"
            report = export(args.model, fmt, out, quantize=quantize, data=args.data)
            # a SavedModel runs whatever code it holds; this one the script wrote itself, just now
            classifier = load_classifier(out, runtime="keras", unsafe=fmt == "savedmodel")
            one = rng.uniform(0, 255, (1, *classifier.input_shape)).astype("float32")
            batch = rng.uniform(0, 255, (256, *classifier.input_shape)).astype("float32")
            latency = median_seconds(lambda: classifier.run_batch(one), args.repeats, warmup=5)
            throughput = 256 / median_seconds(lambda: classifier.run_batch(batch), max(args.repeats // 20, 5),
                                              warmup=5)
            figure = (f"top-1 {report.value:.1%}, int8 of {report.int8_scope}" if report.check == "top1_agreement"
                      else f"max Δp {report.value:.1e}")
            print(f"| {fmt} | {quantize} | {report.bytes / 1e6:.2f} MB | {report.runtime} | {figure} | "
                  f"{1000 * latency:.2f} | {throughput:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
