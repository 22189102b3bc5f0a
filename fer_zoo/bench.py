"""`fer-zoo bench`: every selected architecture on the same data, splits, seeds and budget.

Each (architecture, seed) trains in its own process (``python -m fer_zoo.bench_worker``), so a crash, an
out-of-memory kill or a NaN ends only its row. Rows are plain data; report.py draws them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fer_zoo import atomic
from fer_zoo.errors import FerZooError, one_line


@dataclass(frozen=True)
class Budget:
    name: str
    epochs: int | None  # None: each architecture's recipe length
    subset: int | None  # training images; None: all
    eval_subset: int | None  # val and test images each; None: all
    time_box: float | None  # seconds of training per architecture
    infer_repeats: int  # timed batch-256 inference calls
    latency_repeats: int  # timed batch-1 calls


BUDGETS = {
    # finishes `--all` on the synthetic default in under 5 minutes on a 2-core CPU
    "smoke": Budget("smoke", epochs=3, subset=2000, eval_subset=150, time_box=25, infer_repeats=1,
                    latency_repeats=10),
    "quick": Budget("quick", epochs=10, subset=None, eval_subset=None, time_box=None, infer_repeats=5,
                    latency_repeats=50),
    "paper": Budget("paper", epochs=None, subset=None, eval_subset=None, time_box=None, infer_repeats=10,
                    latency_repeats=100),
}
NUMERIC = ["param_count", "macs", "train_acc", "val_acc", "test_acc", "top2_val", "macro_f1_test", "epochs",
           "train_samples_per_sec", "infer_samples_per_sec", "latency_ms", "seconds_per_epoch", "total_seconds"]
CSV_COLUMNS = ["model", "plugin", *NUMERIC[:2], "infer_batch_size", *NUMERIC[2:], "reported_val_acc", "status",
               "seeds", "error"]


@dataclass
class BenchConfig:
    data: str
    budget: str
    seeds: int
    epochs: int | None
    batch_size: int | None
    precision: str

    def comparable(self) -> dict:
        return asdict(self)


def default_precision() -> str:
    from fer_zoo.runs import has_accelerator

    return "mixed_bfloat16" if has_accelerator() else "float32"


def select(patterns: list[str], all_: bool) -> list[str]:
    import fer_zoo

    if not patterns and not all_:
        raise FerZooError("name architectures (fnmatch patterns such as 'vgg*') or pass --all")
    names = fer_zoo.list_architectures(None if all_ else patterns)
    if not names:
        raise FerZooError(f"no architecture matches {' '.join(patterns)} (`fer-zoo list` shows them)")
    return names


def _prepare(out: Path, config: BenchConfig, force: bool) -> None:
    path = out / "bench.json"
    if path.is_file() and not force:
        saved = json.loads(path.read_text())
        if saved != config.comparable():
            changed = ", ".join(k for k in saved if saved.get(k) != config.comparable().get(k))
            raise FerZooError(f"--out {out}: holds a bench with a different config ({changed}); "
                              f"use another --out or --force")
    elif force and out.is_dir():
        for row in out.glob("*/seed*/row.json"):
            row.unlink()
    atomic.write_json(path, config.comparable())


def run_bench(names: list[str], config: BenchConfig, out: Path, force: bool = False, on_row=None) -> dict:
    """Train and measure each architecture; returns {"rows", "runs", "environment"} as plain data."""
    from fer_zoo.data import load_dataset
    from fer_zoo.runs import cpu_name, device_name

    import keras

    budget = BUDGETS.get(config.budget)
    if budget is None:
        raise FerZooError(f"--budget must be one of {', '.join(BUDGETS)}, got {config.budget!r}")
    if config.seeds < 1:
        raise FerZooError("--seeds must be at least 1")
    dataset = load_dataset(config.data)  # parse and cache once, before the workers
    out.mkdir(parents=True, exist_ok=True)
    _prepare(out, config, force)
    runs: dict[str, list[dict]] = {}
    for name in names:
        runs[name] = [_run_one(name, seed, config, budget, out) for seed in range(config.seeds)]
        if on_row:
            on_row(name, runs[name])
    rows = [aggregate(name, seed_rows) for name, seed_rows in runs.items()]
    from fer_zoo import __version__

    environment = {
        "device": device_name(), "cpu": cpu_name(), "backend": keras.backend.backend(),
        "precision": config.precision, "budget": asdict(budget), "data": config.data,
        "dataset": dataset.name, "data_fingerprint": dataset.fingerprint, "seeds": config.seeds,
        "versions": {"fer-zoo": __version__, "keras": keras.__version__, "python": sys.version.split()[0]},
    }
    return {"rows": rows, "runs": runs, "environment": environment}


def _run_one(name: str, seed: int, config: BenchConfig, budget: Budget, out: Path) -> dict:
    run_dir = out / name / f"seed{seed}"
    row_path = run_dir / "row.json"
    if row_path.is_file():
        return json.loads(row_path.read_text())  # finished by an earlier invocation
    batch_size = config.batch_size
    for attempt in (1, 2):
        job = {"arch": name, "data": config.data, "run_dir": str(run_dir), "seed": seed,
               "epochs": config.epochs or budget.epochs, "batch_size": batch_size, "precision": config.precision,
               "subset": budget.subset, "eval_subset": budget.eval_subset, "time_box": budget.time_box, "infer_repeats": budget.infer_repeats,
               "latency_repeats": budget.latency_repeats}
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        done = subprocess.run([sys.executable, "-m", "fer_zoo.bench_worker", json.dumps(job)], capture_output=True,
                              text=True, env=env)
        if done.returncode == 0 and row_path.is_file():
            return json.loads(row_path.read_text())
        error = _last_error(done.stderr) or f"worker exited with status {done.returncode}"
        out_of_memory = done.returncode in (-9, 137) or "out of memory" in error.lower() or \
            "ResourceExhausted" in error
        if attempt == 1 and out_of_memory:
            from fer_zoo.runs import resolve_recipe, TrainOptions
            import fer_zoo

            current = batch_size or resolve_recipe(fer_zoo.get_architecture(name).recipe, TrainOptions()).batch_size
            batch_size = max(1, current // 2)  # as timm's benchmark does: once, at half the batch
            continue
        status = "out of memory" if out_of_memory else ("NaN" if "loss became" in error else "failed")
        if attempt == 2:
            error += f" (also at half the batch, {batch_size})"
        return {"model": name, "seed": seed, "status": status, "error": error}
    raise AssertionError("unreachable")


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith(("I0000", "W0000",
                                                                                                     "WARNING: All"))]
    for line in reversed(lines):
        if line.startswith("fer-zoo: error: "):
            return line.removeprefix("fer-zoo: error: ")
    return one_line(lines[-1], 300) if lines else ""


def aggregate(name: str, seed_rows: list[dict]) -> dict:
    """One row per architecture: values of the successful seeds as mean and std."""
    import fer_zoo

    arch = fer_zoo.get_architecture(name)
    good = [r for r in seed_rows if r.get("status") in ("ok", "time-boxed")]
    row: dict[str, Any] = {"model": name, "plugin": str(arch.plugin) if arch.plugin else None,
                           "reported_val_acc": (arch.reported or {}).get("val"), "seeds": len(seed_rows),
                           "infer_batch_size": 256}
    for key in NUMERIC:
        values = [r[key] for r in good if r.get(key) is not None]
        row[key] = statistics.mean(values) if values else None
        row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
    statuses = sorted({r.get("status", "failed") for r in seed_rows})
    row["status"] = statuses[0] if len(statuses) == 1 else "/".join(statuses)
    errors = [r["error"] for r in seed_rows if r.get("error")]
    row["error"] = errors[0] if errors else None
    return row


def write_results(result: dict, out: Path) -> list[Path]:
    """results.csv, results.json, results.md, accuracy_vs_params.png, curves.png."""
    import csv
    import io

    from fer_zoo.report import accuracy_vs_params_png, bench_markdown, curves_png
    from fer_zoo.runs import read_history

    rows = result["rows"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic.write_text(out / "results.csv", buffer.getvalue())
    atomic.write_json(out / "results.json", {"environment": result["environment"], "rows": rows})
    atomic.write_text(out / "results.md", bench_markdown(rows, result["environment"]))
    atomic.write_with(out / "accuracy_vs_params.png", lambda tmp: accuracy_vs_params_png(rows, tmp))
    histories = {name: read_history(out / name / "seed0" / "history.csv") for name in result["runs"]}
    atomic.write_with(out / "curves.png", lambda tmp: curves_png({k: v for k, v in histories.items() if v}, tmp,
                                                                 val_only=True))
    return [out / f for f in ("results.csv", "results.json", "results.md", "accuracy_vs_params.png", "curves.png")]
