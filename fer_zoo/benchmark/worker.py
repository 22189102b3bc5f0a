"""One bench row in its own process: train (or resume), then time inference; writes row.json.

Run by fer_zoo.benchmark.bench as ``python -m fer_zoo.benchmark.worker JOB_JSON``. Each epoch is one JSON line on
stdout (the parent's progress display); a user error ends as one ``fer-zoo: error:`` line on stderr and
status 2, which the parent reads as the row's error. A row that fails says how as a JSON line of its own,
``{"event": "status", "status": ...}`` (fer_zoo.status), before it exits.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from fer_zoo import atomic
from fer_zoo.training import rundir
from fer_zoo.errors import FerZooError
from fer_zoo.metric_names import row_scores, split_scores
from fer_zoo.status import Status, out_of_memory, status_of
from fer_zoo.timing import median_seconds


def time_inference(model, batch: int, repeats: int) -> float:
    """Median seconds per call of the compiled predict step, after one warm-up call (the first call of a
    new batch size traces and compiles); the result is copied to host memory, so the device has
    finished when the clock is read."""
    x = np.random.default_rng(0).integers(0, 256, (batch, *model.input_shape[1:]), dtype=np.uint8)
    return median_seconds(lambda: np.asarray(model.predict_on_batch(x)), repeats, warmup=1)


def run(job: dict, reporter=None) -> dict:
    """Train (or resume) and time one row; ``reporter`` gets its progress (default: JSON lines on stdout)."""
    import fer_zoo
    from fer_zoo.report.terminal import JsonLines
    from fer_zoo.training.run_config import RunConfig
    from fer_zoo.training.train import train

    if job.get("kind") == "pretrained":
        return score_pretrained(job)
    run_dir = Path(job["run_dir"])
    arch = fer_zoo.get_architecture(job["arch"])
    options = RunConfig.from_job(job["options"])
    resumable = rundir.unfinished(run_dir)
    from fer_zoo.training import tracking

    kinds = job.get("track") or []
    trackers = tracking.Trackers(kinds, job.get("track_uri"), str(run_dir), run_dir) if kinds else None
    result = train(arch.name, job["data"], run_dir, options, resume=resumable, force=not resumable,
                   reporter=reporter or JsonLines(sys.stdout), trackers=trackers)
    metrics = result.metrics
    model = result.model
    if not any(r.get("images", 1) for r in result.history):
        # not one optimizer step: the file would be the network as built (41-127 MB for the big ones), which
        # no one should evaluate or export; metrics.json and row.json keep the status and its reason
        (run_dir / "best.keras").unlink(missing_ok=True)
    throughput = 256 / time_inference(model, 256, job["infer_repeats"])
    latency = time_inference(model, 1, job["latency_repeats"])
    history = result.history
    return {
        "model": job.get("label", arch.name), "seed": job["seed"], "status": metrics["status"],
        "reason": metrics.get("reason"),
        "param_count": int(model.count_params()), "macs": arch.macs, **row_scores(metrics),
        "infer_samples_per_sec": throughput, "latency_ms": latency * 1000,
        "seconds_per_epoch": sum(r["epoch_seconds"] for r in history) / len(history) if history else None,
        "batch_size": metrics.get("batch_size"), "error": None,
        "tta": metrics.get("tta") if metrics.get("val_tta_accuracy") is not None else None,
    }


def score_pretrained(job: dict) -> dict:
    """A row for shipped weights as they are: scored on the budget's val and test images, timed; no training."""
    import fer_zoo
    from fer_zoo.data import load_dataset
    from fer_zoo.inference.runtime import load_classifier
    from fer_zoo.training.scores import class_columns, metrics, on_data_classes

    arch = fer_zoo.get_architecture(job["arch"])
    from fer_zoo.training.run_config import RunConfig

    options = RunConfig.from_job(job["options"])
    dataset = load_dataset(job["data"])
    if options.subset:
        dataset = dataset.subset(options.subset, options.seed, options.eval_subset)
    classifier = load_classifier(arch.name, runtime="keras")
    columns = class_columns(classifier.class_names, dataset.class_names, arch.name)
    row = {"model": job["label"], "seed": job["seed"], "status": Status.OK, "reason": None, "epochs": 0,
           "param_count": int(classifier.keras_model.count_params()), "macs": arch.macs, "error": None}
    summary = {}
    for split in ("val", "test"):
        if split in dataset.splits and len(dataset.splits[split]):
            part = dataset.splits[split]
            summary |= split_scores(split, metrics(part.y, on_data_classes(classifier.predict(part.x), columns),
                                                   dataset.class_names))
    row |= {key: value for key, value in row_scores(summary).items() if value is not None}
    model = classifier.keras_model
    row["infer_samples_per_sec"] = 256 / time_inference(model, 256, job["infer_repeats"])
    row["latency_ms"] = 1000 * time_inference(model, 1, job["latency_repeats"])
    run_dir = Path(job["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    return row


def report_status(status: Status) -> None:
    """Tell the parent how the row ended, as a JSON line of its own (fer_zoo.benchmark.executors reads it)."""
    sys.stdout.write(json.dumps({"event": "status", "status": status}) + "\n")
    sys.stdout.flush()


def main() -> None:
    job = json.loads(sys.argv[1])
    try:
        row = run(job)
    except FerZooError as exc:
        report_status(status_of(exc))
        sys.stderr.write(f"fer-zoo: error: {exc}\n")
        sys.exit(2)
    except BaseException as exc:
        if out_of_memory(exc):  # a bug's traceback still follows, as before
            report_status(Status.OUT_OF_MEMORY)
        raise
    atomic.write_json(Path(job["run_dir"]) / "row.json", row)


if __name__ == "__main__":
    main()
