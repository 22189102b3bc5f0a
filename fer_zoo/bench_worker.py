"""One bench row in its own process: train (or resume), then time inference; writes row.json.

Run by fer_zoo.bench as ``python -m fer_zoo.bench_worker JOB_JSON``; a user error ends as one
``fer-zoo: error:`` line on stderr and status 2, which the parent reads as the row's error.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from fer_zoo import atomic
from fer_zoo.errors import FerZooError
from fer_zoo.timing import median_seconds


def batch_timer():
    """Per-batch wall times, for steady-state training throughput (warm-up and short batches left out)."""
    import keras

    class BatchTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.durations: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.last, self.index, self.epoch = time.perf_counter(), 0, epoch

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            # the first batches of a run trace and compile; the first of each epoch shuffles
            if self.index > 0 and not (self.epoch == 0 and self.index < 3):
                self.durations.append(now - self.last)
            self.last, self.index = now, self.index + 1

    return BatchTimer()


def time_inference(model, shape, batch: int, repeats: int) -> float:
    """Median seconds per call of the compiled predict step, after one warm-up call; the result is copied
    to host memory, so the device has finished when the clock is read."""
    x = np.random.default_rng(0).integers(0, 256, (batch, *shape), dtype=np.uint8).astype("float32")
    # one warm-up call: the first traces and compiles
    return median_seconds(lambda: np.asarray(model.predict_on_batch(x)), repeats, warmup=1)


def run(job: dict) -> dict:
    import fer_zoo
    from fer_zoo.evaluation import load_model
    from fer_zoo.runs import TrainOptions, train

    run_dir = Path(job["run_dir"])
    arch = fer_zoo.get_architecture(job["arch"])
    options = TrainOptions(epochs=job["epochs"], batch_size=job["batch_size"], seed=job["seed"],
                           precision=job["precision"], subset=job["subset"], eval_subset=job["eval_subset"],
                           time_box=job["time_box"])
    timer = batch_timer()
    resumable = (run_dir / "state.json").is_file() and not json.loads((run_dir / "state.json").read_text()).get(
        "finished")
    result = train(arch.name, job["data"], run_dir, options, resume=resumable, force=not resumable,
                   callbacks=[timer])
    config = json.loads((run_dir / "config.json").read_text())
    batch_size = config["recipe"]["batch_size"]
    metrics = result.metrics
    model = load_model(run_dir / "best.keras")
    shape = tuple(model.input_shape[1:])
    throughput = 256 / time_inference(model, shape, 256, job["infer_repeats"])
    latency = time_inference(model, shape, 1, job["latency_repeats"])
    # too few batches for a steady state (a tiny run): say nothing rather than a warm-up figure
    steady = batch_size / statistics.median(timer.durations) if timer.durations else None
    history = result.history
    return {
        "model": arch.name, "seed": job["seed"], "status": "time-boxed" if metrics.get("time_boxed") else "ok",
        "param_count": int(model.count_params()), "macs": arch.macs,
        "train_acc": metrics.get("train_accuracy"), "val_acc": metrics.get("val_accuracy"),
        "test_acc": metrics.get("test_accuracy"), "top2_val": metrics.get("val_top2_accuracy"),
        "macro_f1_test": metrics.get("test_macro_f1"), "epochs": metrics["epochs"],
        "train_samples_per_sec": steady, "infer_samples_per_sec": throughput, "latency_ms": latency * 1000,
        "seconds_per_epoch": statistics.mean(r["epoch_seconds"] for r in history) if history else None,
        "total_seconds": metrics.get("seconds"), "batch_size": batch_size, "error": None,
    }


def main() -> None:
    job = json.loads(sys.argv[1])
    try:
        row = run(job)
    except FerZooError as exc:
        sys.stderr.write(f"fer-zoo: error: {exc}\n")
        sys.exit(2)
    atomic.write_json(Path(job["run_dir"]) / "row.json", row)


if __name__ == "__main__":
    main()
