"""`fer-zoo bench`: a tiny comparison checks every file and column, isolation and resume."""

from __future__ import annotations

import csv
import json

from fer_zoo.bench import CSV_COLUMNS

DATA = "synthetic:size=140,seed=3"
BROKEN = """
import fer_zoo

def build(input_shape, num_classes):
    raise MemoryError("pretend the device ran out of memory")

@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(name="broken", build=build, input_shape=(48, 48, 1), description="fails"))
"""


def test_tiny_bench_files_columns_isolation_and_resume(cli, tmp_path, install_plugin, tiny_plugin_source):
    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    install_plugin("broken-fer", BROKEN)
    out = tmp_path / "bench"
    args = ["bench", "lenet", "tiny", "broken", "--data", DATA, "--epochs", "1", "--batch-size", "35", "--out", str(out)]
    result = cli(*args)
    assert result.exit_code == 0, result.output  # one failed row does not fail the bench
    for name in ("results.csv", "results.json", "results.md", "accuracy_vs_params.png", "curves.png", "bench.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    with open(out / "results.csv", newline="") as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    assert list(next(iter(rows.values()))) == CSV_COLUMNS
    for name in ("lenet", "tiny"):
        row = rows[name]
        assert row["status"] == "ok" and row["plugin"]
        for column in ("param_count", "val_acc", "test_acc", "infer_samples_per_sec", "latency_ms", "train_acc",
                       "top2_val", "macro_f1_test", "seconds_per_epoch", "total_seconds"):
            assert float(row[column]) >= 0, (name, column)
        assert row["infer_batch_size"] == "256" and row["epochs"] == "1"
        assert (out / name / "seed0" / "best.keras").is_file()  # the training issue's run layout
    assert rows["tiny"]["param_count"] == "75" and rows["tiny"]["plugin"] == "acme-fer 1.0"
    # an out-of-memory row is retried once at half the batch, then ends as its own row only
    assert rows["broken"]["status"] == "out of memory"
    assert "pretend the device ran out" in rows["broken"]["error"] and "half the batch, 17" in rows["broken"]["error"]
    table = result.stdout
    assert "lenet" in table and "budget smoke" in table and "paper val" in table and "device" in table
    report = json.loads((out / "results.json").read_text())
    assert report["environment"]["data_fingerprint"].startswith("synthetic-")
    assert {"device", "backend", "versions", "budget"} <= set(report["environment"])

    # rerunning the same command skips the finished rows (their run directories stay untouched)
    before = (out / "lenet" / "seed0" / "best.keras").stat().st_mtime_ns
    again = cli(*args)
    assert again.exit_code == 0
    assert (out / "lenet" / "seed0" / "best.keras").stat().st_mtime_ns == before
    # a different config in the same --out is refused
    other = cli("bench", "lenet", "--data", DATA, "--epochs", "2", "--batch-size", "35", "--out", str(out))
    assert other.exit_code == 2 and "different config (epochs)" in other.stderr


def test_bench_needs_architectures(cli):
    result = cli("bench")
    assert result.exit_code == 2 and "--all" in result.stderr
