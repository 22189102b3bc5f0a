"""`fer-zoo bench`: a tiny comparison checks every file and column, isolation and resume."""

from __future__ import annotations

import csv
import json

import pytest

from fer_zoo.status import Status

# results.csv's header: as it has always been, and the reported test figure beside the val one (#35)
CSV_COLUMNS = ["model", "architecture", "kind", "plugin", "param_count", "macs", "infer_batch_size", "train_acc",
               "val_acc", "test_acc", "top2_val", "macro_f1_test", "tta", "val_tta_acc", "test_tta_acc", "epochs", "train_samples_per_sec",
               "infer_samples_per_sec", "latency_ms", "seconds_per_epoch", "total_seconds", "reported_val_acc",
               "reported_test_acc",
               "status", "seeds", "error"]

DATA = "synthetic:size=140,seed=3,preset=easy"
BROKEN = """
import fer_zoo

def build(input_shape, num_classes):
    raise MemoryError("pretend the device is full")

@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(name="broken", build=build, input_shape=(48, 48, 1), description="fails"))
"""


def shipped_weights(tmp_path, tiny_plugin_source, install_plugin) -> str:
    """The tiny plugin, shipping weights: those of a tiny network built once with a fixed seed."""
    import keras

    install_plugin("maker-fer", tiny_plugin_source("maker"))
    import fer_zoo

    keras.utils.set_random_seed(5)
    path = tmp_path / "tiny.weights.h5"
    fer_zoo.create_model("maker").save_weights(path)
    return str(path)


def test_tiny_bench_files_columns_isolation_and_resume(cli, tmp_path, install_plugin, tiny_plugin_source):
    install_plugin("acme-fer", tiny_plugin_source("tiny", weights=shipped_weights(tmp_path, tiny_plugin_source,
                                                                                    install_plugin)))
    install_plugin("broken-fer", BROKEN)
    out = tmp_path / "bench"
    # the quick budget has no time box: on a loaded machine the smoke budget's 25 s may not hold one epoch
    options = ["--data", DATA, "--budget", "quick", "--epochs", "1", "--batch-size", "35", "--out", str(out),
               "--pretrained", "--fine-tune", "--ensemble", "--track", "tensorboard", "--recipe", "modern"]
    args = ["bench", "tiny", "broken", *options]
    result = cli(*args)
    assert result.exit_code == 0, result.output  # one failed row does not fail the bench
    for name in ("results.csv", "results.json", "results.md", "accuracy_vs_params.png", "curves.png", "bench.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    with open(out / "results.csv", newline="") as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    assert list(next(iter(rows.values()))) == CSV_COLUMNS
    for name in ("tiny",):
        row = rows[name]
        # the status and every score are the row's run's, as it measured them; a row that is not ok says why
        metrics = json.loads((out / name / "seed0" / "metrics.json").read_text())
        assert (row["status"], row["error"]) == (metrics["status"], metrics.get("reason") or "")
        assert (row["status"] == "ok") == (row["error"] == "")
        assert (row["tta"], row["val_tta_acc"], row["test_tta_acc"]) == ("", "", "")  # its recipe declares none
        for column, key in (("train_acc", "train_accuracy"), ("val_acc", "val_accuracy"), ("test_acc", "test_accuracy"),
                            ("top2_val", "val_top2_accuracy"), ("macro_f1_test", "test_macro_f1"),
                            ("total_seconds", "seconds")):
            assert float(row[column]) == pytest.approx(metrics[key], abs=1e-3), (name, column)
        history = csv.DictReader((out / name / "seed0" / "history.csv").read_text().splitlines())
        epoch_seconds = [float(r["epoch_seconds"]) for r in history]
        assert float(row["seconds_per_epoch"]) == pytest.approx(sum(epoch_seconds) / len(epoch_seconds), abs=1e-3)
        assert float(row["infer_samples_per_sec"]) > 0 and float(row["latency_ms"]) > 0  # measured, not left blank
        assert row["infer_batch_size"] == "256" and row["epochs"] == "1"
        assert (out / name / "seed0" / "best.keras").is_file()  # the training issue's run layout
        assert any((out / name / "seed0" / "tensorboard").glob("events.out.tfevents.*"))  # --track reached the worker
        config = json.loads((out / name / "seed0" / "config.json").read_text())
        assert config["recipe"]["name"] == "modern" and config["recipe"]["optimizer"] == "sgd"  # so did --recipe
    assert "recipe modern" in result.output  # the header says which recipe trained every row
    assert rows["tiny"]["param_count"] == "75" and rows["tiny"]["plugin"] == "acme-fer 1.0"
    # the shipped weights, scored as they are (no training, so no training columns) and fine-tuned
    scored, tuned = rows["tiny/pretrained"], rows["tiny/fine-tuned"]
    assert (scored["kind"], scored["epochs"], scored["train_samples_per_sec"]) == ("pretrained", "0", "")
    from fer_zoo.inference.evaluation import evaluate

    as_shipped = evaluate("tiny", DATA, "test", runtime="keras")
    assert float(scored["test_acc"]) == pytest.approx(as_shipped["accuracy"])
    assert tuned["kind"] == "fine-tune" and tuned["epochs"] == "1"
    assert json.loads((out / "tiny-fine-tune" / "seed0" / "config.json").read_text())["init_from"] == "tiny"
    assert "broken/pretrained" not in rows  # broken ships no weights
    # the ensemble row: the trained rows' saved probabilities, averaged and scored on the same test images
    import numpy as np

    from fer_zoo.data import load_dataset

    members = [np.load(out / folder / "seed0" / "predictions.npz")["test"] for folder in ("tiny", "tiny-fine-tune")]
    test_y = load_dataset(DATA).splits["test"].y
    assert float(rows["ensemble"]["test_acc"]) == pytest.approx(float(np.mean(np.mean(members, 0).argmax(1) == test_y)))
    assert rows["ensemble"]["error"] == "the mean of tiny, tiny/fine-tuned (seed 0 each)"
    # an out-of-memory row is retried once at half the batch, then ends as its own row only
    assert rows["broken"]["status"] == "out of memory"
    assert "pretend the device is full" in rows["broken"]["error"] and "half the batch, 17" in rows["broken"]["error"]
    # every name the run wrote is the vocabulary's: metrics.json's scores, row.json's, the tracker's tags
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    from fer_zoo.metric_names import METRICS

    run = out / "tiny" / "seed0"
    summary, row_file = (json.loads((run / name).read_text()) for name in ("metrics.json", "row.json"))
    assert {m.summary for m in METRICS if m.summary} <= set(summary)
    assert {m.row: row_file[m.row] for m in METRICS if m.row} == {m.row: summary[m.summary] for m in METRICS if m.row}
    events = EventAccumulator(str(next((run / "tensorboard").glob("events.out.tfevents.*"))))
    events.Reload()
    tags, tracked = set(events.Tags()["tensors"]), {m.tracked for m in METRICS if m.tracked}
    assert tracked <= tags and tags - tracked <= {f"final/{m.summary}" for m in METRICS if m.final}
    assert "final/test_accuracy" in tags
    table = result.stdout
    assert "tiny/fine-tuned" in table and "budget quick" in table and "train img/s" in table
    assert "tiny: starting" in table and "tiny: epoch 1/1" in table  # progress, one line per event (no tty)
    report = json.loads((out / "results.json").read_text())
    assert report["environment"]["data_fingerprint"].startswith("synthetic-")
    assert {"device", "backend", "versions", "budget"} <= set(report["environment"])

    # rerunning the command skips the finished rows (their run directories stay untouched); the reruns leave out
    # broken, whose out-of-memory row (two worker processes each time) is checked above
    again_args = ["bench", "tiny", *options]
    before = (out / "tiny" / "seed0" / "best.keras").stat().st_mtime_ns
    again = cli(*again_args)
    assert again.exit_code == 0
    assert (out / "tiny" / "seed0" / "best.keras").stat().st_mtime_ns == before
    assert "tiny: reused from" in again.stdout
    assert "reused from an earlier run in this --out: tiny, tiny/pretrained, tiny/fine-tuned" in again.stdout
    # a different config in the same --out is refused
    other = cli("bench", "tiny", "--data", DATA, "--budget", "quick", "--epochs", "2", "--batch-size", "35", "--out",
                str(out))
    assert other.exit_code == 2
    assert (f"{out}/ holds a bench of another config: epochs 1 → 2, pretrained true → false, "
            f"fine_tune true → false, ensemble true → false, recipe modern → each row's default; "
            f"pass --out DIR for a new bench, or --force to replace it") in other.stderr
    # a damaged row.json (say, a disk that filled up) is that row run again, with a warning; the others are reused
    (out / "tiny" / "seed0" / "row.json").write_text('{"model": "tiny", "see')
    mended = cli(*again_args)
    assert mended.exit_code == 0, mended.output
    assert f"fer-zoo: warning: {out / 'tiny' / 'seed0' / 'row.json'}: unreadable (" in mended.stderr
    assert "running that row again" in mended.stderr
    assert "tiny: epoch 1/1" in mended.stdout and "reused from an earlier run in this --out: tiny/pretrained" in \
        mended.stdout
    assert json.loads((out / "tiny" / "seed0" / "row.json").read_text())["status"] == rows["tiny"]["status"]


def test_a_row_that_never_trained_keeps_no_model(cli, tmp_path, install_plugin, tiny_plugin_source, capsys):
    """A row the time box let take no training step writes no .keras file (for vgg16_48 it would be the 127 MB
    network as built); its row, metrics.json and `evaluate` still say why."""
    from dataclasses import replace

    from fer_zoo.benchmark import worker as bench_worker
    from fer_zoo.benchmark.bench import BUDGETS, BenchConfig, RowSpec, effective_budget
    from fer_zoo.benchmark.executors import Bench
    from fer_zoo.data import load_dataset

    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    config = BenchConfig(data=DATA, budget="smoke", seeds=1, epochs=1, batch_size=35, precision="float32")
    budget = effective_budget(BUDGETS["smoke"], config, load_dataset(DATA))  # as run_bench gives it to rows
    bench = Bench(config, replace(budget, time_box=0.001), tmp_path, lambda event: None)
    run_dir = tmp_path / "tiny" / "seed0"
    row = bench_worker.run(bench.job(RowSpec("tiny"), 0, run_dir))
    assert row["status"] == "too slow" and "time box" in row["reason"] and row["epochs"] == 0
    assert row["param_count"] == 75 and row["infer_samples_per_sec"] > 0  # still measured, from memory
    assert not list(run_dir.glob("*.keras")), sorted(p.name for p in run_dir.iterdir())
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "too slow"
    result = cli("evaluate", str(run_dir), "--data", DATA)
    assert result.exit_code == 2
    assert f"fer-zoo: error: {run_dir}: this run trained no step, so it keeps no model (too slow: " in result.stderr


def test_bench_needs_architectures(cli):
    result = cli("bench")
    assert result.exit_code == 2 and "--all" in result.stderr


def test_the_default_table_fits_80_columns_and_says_why_rows_are_not_ok():
    from rich.console import Console

    from fer_zoo.benchmark.bench import BUDGETS
    from fer_zoo.report.terminal import bench_table

    row = {"model": "mini_xception", "param_count": 58_423, "val_acc": 0.6512, "val_acc_std": 0.0231,
           "test_acc": 0.6478, "test_acc_std": 0.0199, "epochs": 10, "train_samples_per_sec": 96_123.0,
           "train_samples_per_sec_std": 1_234.0, "total_seconds": 1234.0, "status": "time-boxed",
           "error": "2 of 3 epochs in the 25 s time box"}
    rows = [row, {**row, "model": "vgg16_48", "status": "out of memory", "error": "RESOURCE_EXHAUSTED"}]
    environment = {"dataset": "synthetic:size=6000,difficulty=0.7,seed=0", "budget": {"name": "smoke",
                   "description": BUDGETS["smoke"].description}, "device": "NVIDIA H200", "backend": "jax",
                   "precision": "mixed_bfloat16", "seeds": 3}
    console = Console(width=80, record=True, color_system=None)
    console.print(bench_table(rows, environment))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "…" not in text  # no cell cut short
    assert "65.1±2.3" in text and "96.1k±1.23k" in text and "out of memory" in text
    assert "vgg16_48: RESOURCE_EXHAUSTED" in text and "mini_xception: 2 of 3 epochs" in text
    wide = Console(width=200, record=True, color_system=None)
    wide.print(bench_table(rows, environment, wide=True))
    wide_text = wide.export_text()
    assert "infer img/s (b256)" in wide_text and "reported val" in wide_text


def test_the_smoke_budget_defaults_to_easy_faces_and_the_others_to_fer2013_shaped_ones():
    import numpy as np

    from fer_zoo.benchmark.bench import default_data
    from fer_zoo.data import load_dataset

    def shares(budget):
        data = default_data(budget)
        data += ("," if ":" in data else ":") + "size=1400"
        counts = np.bincount(load_dataset(data).splits["train"].y, minlength=7)
        return counts / counts.sum()

    smoke, quick = shares("smoke"), shares("quick")
    assert smoke.min() > 0.12  # balanced: FER2013's rare disgust would make 25-s scores meaningless
    assert quick.min() < 0.03 and quick.max() > 0.2  # disgust rare, happy common, as in FER2013


# A network whose outputs are NaN from the first step; on import (in the worker process too) it rewords the
# training loop's error, so only the status the loop set can tell the bench that the row diverged.
NAN = """
import fer_zoo
from fer_zoo import status

plain = status.StatusError.__init__
status.StatusError.__init__ = lambda self, kind, message: plain(self, kind, "the numbers went away")

def build(input_shape, num_classes):
    import keras
    from keras import layers
    return keras.Sequential([keras.Input(shape=input_shape), layers.Rescaling(float("nan")),
                             layers.GlobalAveragePooling2D(), layers.Dense(num_classes, activation="softmax")])

@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(name="nan", build=build, input_shape=(48, 48, 1), description="NaN"))
"""


def test_a_row_whose_loss_became_nan_is_diverged_because_the_loop_said_so(install_plugin, tmp_path):
    from fer_zoo.benchmark.bench import BUDGETS, BenchConfig, RowSpec
    from fer_zoo.benchmark.executors import Bench

    install_plugin("nan-fer", NAN)
    config = BenchConfig(data=DATA, budget="quick", seeds=1, epochs=1, batch_size=35, precision="float32")
    row = Bench(config, BUDGETS["quick"], tmp_path, lambda event: None).run_in_process(RowSpec("nan"), 0)
    assert row["status"] == "diverged" and row["error"] == "the numbers went away"
    assert not (tmp_path / "nan" / "seed0" / "row.json").exists()  # a rerun runs it again


def test_every_view_takes_its_columns_from_the_one_table(tmp_path, monkeypatch):
    """A column added to fer_zoo.report.columns is in results.csv, results.md, both rich tables and
    report.html's table, and its seeds' mean is in results.json; nothing else lists columns."""
    from dataclasses import replace

    from rich.console import Console

    from fer_zoo.benchmark.bench import RowSpec, aggregate, write_results
    from fer_zoo.benchmark import html
    from fer_zoo.report import columns
    from fer_zoo.report.terminal import bench_table

    added = replace(columns.COLUMNS[columns.COLUMNS.index(next(c for c in columns.COLUMNS if c.key == "macs"))],
                    key="batch_size", heading="batch seen", views=frozenset(columns.VIEWS),
                    narrow=("batch", "count"))
    monkeypatch.setattr(columns, "COLUMNS", [*columns.COLUMNS[:-3], added, *columns.COLUMNS[-3:]])
    import fer_zoo

    monkeypatch.setattr(fer_zoo, "get_architecture", lambda name: fer_zoo.Architecture(
        name=name, build=lambda *a: None, input_shape=(48, 48, 1), description="-"))
    seeds = [{"model": "net", "seed": s, "status": "ok", "batch_size": size, "val_acc": 0.5} for s, size in
             enumerate((4321, 4323))]
    row = aggregate(RowSpec("net"), seeds)
    assert (row["batch_size"], row["batch_size_std"]) == (4322, pytest.approx(1.414, abs=1e-3))
    environment = {"dataset": "d", "budget": {"name": "quick", "description": "q"}, "device": "cpu",
                   "backend": "tensorflow", "precision": "float32", "seeds": 2}
    write_results({"rows": [row], "runs": {}, "environment": environment}, tmp_path)
    with open(tmp_path / "results.csv", newline="") as f:
        [written] = list(csv.DictReader(f))
    assert list(written)[-4:] == ["batch_size", "status", "seeds", "error"] and written["batch_size"] == "4322"
    markdown = (tmp_path / "results.md").read_text()
    assert "| reported test† | batch seen | train img/s |" in markdown and "| — | 4.32 k | — |" in markdown
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["batch_size"] == 4322
    for wide, heading, cell in ((False, "batch", "4.32k±1.41"), (True, "batch seen", "4.32 k")):
        console = Console(width=250, record=True, color_system=None)
        console.print(bench_table([row], environment, wide=wide))
        text = console.export_text()
        assert heading in text and cell in text, text
    assert "<th>batch seen</th>" in html.results_table([row])


def test_time_box_subset_and_epochs_override_the_budget_and_are_recorded(cli, tmp_path, install_plugin,
                                                                         tiny_plugin_source):
    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    out = tmp_path / "bench"
    result = cli("bench", "tiny", "--data", DATA, "--budget", "smoke", "--epochs", "5000", "--subset", "40",
                 "--time-box", "4", "--batch-size", "8", "--out", str(out))
    assert result.exit_code == 0, result.output
    run = out / "tiny" / "seed0"
    config = json.loads((run / "config.json").read_text())
    assert (config["time_box"], config["subset"], config["recipe"]["epochs"]) == (4, 40, 5000)
    metrics = json.loads((run / "metrics.json").read_text())
    # the time box, not the epochs, ended it: its recorded reason says so (time-boxed, or on a loaded machine
    # too slow for one epoch in it)
    assert metrics["epochs"] < 5000 and "the 4 s time box" in metrics["reason"]
    assert metrics["time_boxed"] is True or metrics["status"] == "too slow"
    environment = json.loads((out / "results.json").read_text())["environment"]
    assert {k: environment["budget"][k] for k in ("epochs", "subset", "time_box")} == \
        {"epochs": 5000, "subset": 40, "time_box": 4}
    assert environment["budget_overrides"] == {"epochs": 5000, "subset": 40, "time_box": 4}
    footer = " ".join(result.stdout.split())
    assert "40 training images" in footer and "4 s of training per architecture (at most 5000 epochs)" in footer
    assert "at most 20 epochs" not in footer and "2,000" not in footer


def test_a_subset_larger_than_the_training_split_is_refused_but_the_budgets_own_means_all(cli, tmp_path):
    from fer_zoo.benchmark.bench import BUDGETS, BenchConfig, effective_budget
    from fer_zoo.data import load_dataset

    dataset = load_dataset(DATA)
    train = len(dataset.splits["train"])
    bench = cli("bench", "lenet", "--data", DATA, "--subset", str(train + 1), "--out", str(tmp_path / "b"))
    assert bench.exit_code == 2 and len(bench.stderr.strip().splitlines()) == 1
    assert f"--subset {train + 1}: {DATA} has {train} training images" in bench.stderr
    assert not (tmp_path / "b").exists()
    trained = cli("train", "lenet", "--data", DATA, "--subset", str(train + 1), "--out", str(tmp_path / "r"))
    assert trained.exit_code == 2 and f"--subset {train + 1}: {DATA} has {train} training images" in trained.stderr
    assert not (tmp_path / "r").exists()
    smoke = effective_budget(BUDGETS["smoke"], BenchConfig(DATA, "smoke", 1, None, None, "float32"), dataset)
    assert smoke.subset == train and f"all {train} training images" in smoke.description
    assert effective_budget(BUDGETS["quick"], BenchConfig(DATA, "quick", 1, 3, None, "float32"), dataset).epochs == 3
