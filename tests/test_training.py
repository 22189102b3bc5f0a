"""`fer-zoo train` / `evaluate`: tiny models on tiny data, run directories, resume, safety checks."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rich.console import Console

from fer_zoo.data import load_dataset
from fer_zoo.report.terminal import TrainProgress
from fer_zoo.training.rundir import HISTORY_COLUMNS
from fer_zoo.training.train import TrainOptions, train

TINY_DATA = "synthetic:size=84,seed=1,preset=easy"
TIMING = {"epoch_seconds", "images_per_second"}
PRINTED = TrainProgress(Console(width=80, record=True, file=io.StringIO(), color_system=None))  # trained_run's


def history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def accuracy_by_hand(model_file: Path, split: str, flip: bool = False) -> float:
    """The share of TINY_DATA's ``split`` the saved model gets right, its probabilities averaged with
    those of the mirrored faces if ``flip``: what the scores must equal."""
    import keras

    model = keras.saving.load_model(model_file)
    part = load_dataset(TINY_DATA).splits[split]
    x = part.x.astype("float32")
    proba = model.predict(x, verbose=0)
    if flip:
        proba = (proba + model.predict(x[:, :, ::-1], verbose=0)) / 2
    return float(np.mean(proba.argmax(axis=1) == part.y))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One LeNet trained for 2 epochs on 84 synthetic faces, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("runs") / "lenet"
    result = train("lenet", TINY_DATA, out, TrainOptions(epochs=2, batch_size=32), reporter=PRINTED)
    return out, result



def test_run_directory_layout(trained_run):
    run, result = trained_run
    for name in ("config.json", "history.csv", "best.keras", "state.json", "metrics.json", "curves.png",
                 "MODEL_CARD.md"):
        assert (run / name).is_file(), name
    assert not (run / "last.keras").exists()  # the optimizer state goes once the run has finished
    rows = history(run)
    assert list(rows[0]) == HISTORY_COLUMNS and [r["epoch"] for r in rows] == ["1", "2"]
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["name"] == "adam" and config["recipe"]["batch_size"] == 32  # lenet's own recipe
    assert config["dataset_fingerprint"].startswith("synthetic-") and config["backend"] == "tensorflow"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best_epoch"] in (1, 2)
    assert metrics["test_accuracy"] == pytest.approx(accuracy_by_hand(run / "best.keras", "test"), abs=1e-6)
    best_val = max(float(r["val_accuracy"]) for r in rows)
    assert abs(metrics["val_accuracy"] - best_val) < 0.02  # best.keras is the best val epoch, re-scored


def test_each_epoch_is_one_80_column_line_marking_the_epoch_best_keras_holds(trained_run):
    run, result = trained_run
    lines = [line for line in PRINTED.progress.console.export_text().splitlines() if line.startswith("epoch ")
             and ": loss " in line]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all(len(line) <= 80 for line in lines)
    marked = [i + 1 for i, line in enumerate(lines) if "(best)" in line]
    rows = history(run)
    improved = [int(r["epoch"]) for i, r in enumerate(rows)
                if float(r["val_accuracy"]) > max([float(q["val_accuracy"]) for q in rows[:i]], default=-1)]
    assert marked == improved and marked[-1] == result.metrics["best_epoch"]


def test_an_epoch_the_time_box_cut_says_how_many_steps_it_ran(tmp_path, monkeypatch):
    from fer_zoo.training.callbacks import TimeBox
    from fer_zoo.report.terminal import BenchProgress

    monkeypatch.setattr(TimeBox, "fits", lambda self, now: len(self.step_seconds) < 2)  # the box fires after step 2
    reports = []

    class Recording(TrainProgress):
        def epoch(self, report):
            reports.append(report)
            super().epoch(report)

    printed = Recording(Console(width=80, record=True, file=io.StringIO(), color_system=None))
    result = train("lenet", TINY_DATA, tmp_path / "boxed", TrainOptions(epochs=3, batch_size=8, time_box=600),
                   reporter=printed)
    steps = len(load_dataset(TINY_DATA).splits["train"].y) // 8  # the ragged batch is dropped
    assert [r["images"] for r in result.history] == [16]  # two steps of 8, not the epoch
    assert (reports[0].steps, reports[0].epoch_steps) == (2, steps)
    assert result.metrics["status"] == "too slow"
    assert result.metrics["epochs"] == round(2 / steps, 2)  # the share it trained, not the epoch it began
    from fer_zoo.report.terminal import cell_text

    assert cell_text({"epochs": 2 + 2 / steps}, "epochs", "epochs") == f"{2 + 2 / steps:.1f}" != "2"
    assert cell_text({"epochs": 20}, "epochs", "epochs") == "20"
    assert f"epoch 1/3 (2/{steps} steps): loss" in printed.progress.console.export_text()
    bench = BenchProgress(Console(file=io.StringIO(), width=100), ["lenet"], 1)  # not a terminal: lines
    bench({"event": "epoch", "model": "lenet", "seed": 0, **reports[0].as_dict()})
    assert f"lenet: epoch 1/3 (2/{steps} steps) · val" in bench.console.file.getvalue()
    # the curves put that epoch at the share of an epoch it trained, not at a whole epoch
    import matplotlib.pyplot as plt

    from fer_zoo.report.figures import bench_curves_png, curves_png

    drawn = []
    monkeypatch.setattr(plt, "close", lambda fig: drawn.append(fig))
    curves_png({"lenet": result.history}, tmp_path / "curves.png")
    bench_curves_png({"lenet": result.history}, tmp_path / "bench_curves.png")
    lines = [line for fig in drawn for ax in fig.axes for line in ax.get_lines()]
    # 7 curves, and the 4 val points of that cut-short epoch drawn hollow over them
    assert len(lines) == 11 and all(list(line.get_xdata()) == [pytest.approx(2 / steps)] for line in lines)
    assert all(line.axes.get_xlim()[0] < 2 / steps < line.axes.get_xlim()[1] for line in lines)  # and in view


def test_the_model_card_says_what_was_trained_how_and_how_well(cli, trained_run, tmp_path):
    import shlex

    run, result = trained_run
    card = (run / "MODEL_CARD.md").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert card.startswith("---\nlibrary_name: fer-zoo") and "## Bias, risks and limitations" in card
    assert f"value: {metrics['test_accuracy']:.4f}" in card  # the model index carries the measured number
    for name, row in metrics["test_per_class"].items():  # every class's scores, as measured
        assert f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |" in card
    assert config["dataset_fingerprint"] in card and "selected on **val**" in card
    # the command it gives trains the same run
    command = card.split("## How to reproduce")[1].split("```")[1].strip()
    args = shlex.split(command)[1:]
    assert args[:2] == ["train", "lenet"] and ["--seed", "0"] == args[args.index("--seed"):args.index("--seed") + 2]
    assert args[args.index("--batch-size") + 1] == "32" and args[args.index("--epochs") + 1] == "2"
    again = cli(*args, "--out", str(tmp_path / "again"), "--quiet")
    assert again.exit_code == 0, again.output
    drop = TIMING | {"epoch_seconds"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in history(tmp_path / "again")] == \
        [{k: v for k, v in r.items() if k not in drop} for r in history(run)]


def test_best_model_is_the_inference_model(trained_run):
    import keras

    run, _ = trained_run
    from fer_zoo.models.pipeline import RandomAffine

    model = keras.saving.load_model(run / "best.keras")
    assert model.input_shape == (None, 48, 48, 1)

    def layers(m):
        for layer in m.layers:
            yield layer
            if isinstance(layer, keras.Model):
                yield from layers(layer)

    kinds = {type(layer) for layer in layers(model)}
    assert not kinds & {RandomAffine, keras.layers.RandomErasing}  # no augmentation inside
    assert keras.layers.Rescaling in kinds  # the normalisation is inside: raw pixels in
    probabilities = model.predict(np.zeros((2, 48, 48, 1), "uint8"), verbose=0)
    assert probabilities.shape == (2, 7) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_evaluate_a_run(cli, trained_run, tmp_path):
    run, _ = trained_run
    result = cli("evaluate", str(run), "--data", TINY_DATA, "--split", "val", "--json",
                 "--confusion", str(tmp_path / "cm.png"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"accuracy", "top2_accuracy", "macro_f1", "per_class", "confusion_matrix", "split", "tta"}
    assert np.sum(report["confusion_matrix"]) == report["images"] == 14
    assert report["top2_accuracy"] >= report["accuracy"]
    assert (tmp_path / "cm.png").stat().st_size > 0
    flipped = json.loads(cli("evaluate", str(run), "--data", TINY_DATA, "--tta", "flip", "--json").stdout)
    assert flipped["tta"] == "flip"
    assert flipped["accuracy"] == pytest.approx(accuracy_by_hand(run / "best.keras", "test", flip=True), abs=1e-6)
    assert report["accuracy"] == pytest.approx(accuracy_by_hand(run / "best.keras", "val"), abs=1e-6)


def test_same_seed_same_history(tmp_path, trained_run):
    run, _ = trained_run
    again = train("lenet", TINY_DATA, tmp_path / "again", TrainOptions(epochs=2, batch_size=32))
    for a, b in zip(history(run), history(again.run_dir)):
        assert {k: v for k, v in a.items() if k not in TIMING} == {k: v for k, v in b.items() if k not in TIMING}


def test_existing_out_is_refused_unless_force(cli, trained_run, tmp_path):
    run, _ = trained_run
    result = cli("train", "lenet", "--data", TINY_DATA, "--epochs", "2", "--batch-size", "32", "--out", str(run))
    assert result.exit_code == 2 and "already finished" in result.stderr
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    result = cli("train", "lenet", "--data", TINY_DATA, "--out", str(other))
    assert result.exit_code == 2 and "not empty and not a run of this config" in result.stderr
    assert (other / "notes.txt").read_text() == "mine"


def test_killed_run_resumes_to_a_complete_history(cli, tmp_path):
    out = tmp_path / "killed"
    code = ("from fer_zoo.training.train import train, TrainOptions; "
            f"train('lenet', {TINY_DATA!r}, {str(out)!r}, TrainOptions(epochs=8, batch_size=32, "
            "checkpoint_seconds=0))")
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = out / "state.json"
        if state.is_file() and json.loads(state.read_text())["completed_epochs"] >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = json.loads((out / "state.json").read_text())["completed_epochs"]
    assert 2 <= done < 8
    # the command that started it, with --resume: the same settings, so it goes on (a job script's retry)
    result = cli("train", "lenet", "--data", TINY_DATA, "--epochs", "8", "--batch-size", "32", "--resume", str(out),
                 "--quiet")
    assert result.exit_code == 0, result.output
    epochs = [int(r["epoch"]) for r in history(out)]
    assert epochs == list(range(1, 9))
    assert json.loads((out / "state.json").read_text())["finished"] is True


def test_nan_loss_stops_with_a_clear_message(cli, tmp_path):
    out = tmp_path / "nan"
    result = cli("train", "lenet", "--data", TINY_DATA, "--epochs", "3", "--batch-size", "32", "--optimizer", "sgd",
                 "--lr", "1e30", "--no-augment", "--out", str(out), "--quiet")
    assert result.exit_code == 2
    assert "loss became" in result.stderr and "lower --lr" in result.stderr and len(result.stderr.splitlines()) == 1
    saved = history(out) if (out / "history.csv").exists() else []
    assert len(saved) < 3 and all(np.isfinite(float(r["loss"])) for r in saved)  # only finite epochs kept
    assert not (out / "metrics.json").exists()  # the run did not finish


def test_lambda_model_is_refused_without_unsafe(cli, tmp_path):
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inputs)
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    result = cli("evaluate", str(path), "--data", TINY_DATA)
    assert result.exit_code == 2 and "safe mode" in result.stderr and "--unsafe" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "lenet", "--precision", "float8"], "--precision must be one of"),
        (["train", "--resume", "no/such/run"], "not a run directory"),
        (["train"], "give an architecture"),
        (["train", "lenet", "--recipe", "fancy"], "unknown recipe 'fancy'"),
        (["evaluate", "no/such/model.keras"], "no such model file or run directory"),
    ],
)
def test_bad_train_and_evaluate_input(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1


def test_corrupt_model_and_classes_matched_by_name(cli, tmp_path, trained_run):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip")
    result = cli("evaluate", str(corrupt), "--data", TINY_DATA)
    assert result.exit_code == 2 and "not a complete .keras file" in result.stderr
    from tests.conftest import tiny_classifier

    # FER+'s eight classes (FER2013's seven + contempt) on FER2013-style data: scored on the seven, by name
    eight = tiny_classifier(num_classes=8)
    eight.save(tmp_path / "eight.keras")
    report = json.loads(cli("evaluate", str(tmp_path / "eight.keras"), "--data", TINY_DATA, "--json").stdout)
    assert report["model_classes"][-1] == "contempt" and report["classes"] == report["model_classes"][:7]
    x = load_dataset(TINY_DATA).splits["test"].x.astype("float32")
    proba = eight.predict(x, verbose=0)[:, :7]
    assert report["accuracy"] == pytest.approx(float(np.mean(proba.argmax(1) == load_dataset(TINY_DATA).splits["test"].y)))


def test_recipe_file_overrides(tmp_path):
    from fer_zoo.models.recipes import resolve

    path = tmp_path / "mine.toml"
    path.write_text('base = "modern"\nlearning_rate = 0.05\n[augment]\nflip = false\n')
    recipe = resolve("seed", str(path), epochs=3)
    assert (recipe.name, recipe.learning_rate, recipe.epochs, recipe.augment.flip) == ("modern", 0.05, 3, False)
    assert recipe.momentum == 0.9 and recipe.augment.erasing == 0.5


def test_recipe_file_takes_each_field_in_its_declared_type(tmp_path):
    """A float field takes 7.5 or 0 even where the base recipe's value is a whole number (seed's rotation 10)."""
    from fer_zoo.models.recipes import resolve

    path = tmp_path / "mine.toml"
    path.write_text('base = "seed"\nlearning_rate = 1\nplateau_factor = 0.5\n'
                    '[augment]\nrotation_degrees = 7.5\nshift = 0\n')
    recipe = resolve(None, str(path))
    assert (recipe.learning_rate, recipe.plateau_factor) == (1, 0.5)
    assert (recipe.augment.rotation_degrees, recipe.augment.shift, recipe.augment.zoom) == (7.5, 0, 0.1)


def keras2_h5(path: Path, with_lambda: bool = False) -> Path:
    """A genuine Keras-2 .h5 classifier, written by tf-keras as the seed's modelfinal.h5 was."""
    k2 = pytest.importorskip("tf_keras", reason="tf-keras (the dev extra) writes the Keras-2 fixture")
    layers = [k2.layers.InputLayer(input_shape=(48, 48, 1))]
    if with_lambda:
        layers.append(k2.layers.Lambda(lambda t: t * 2.0))
    layers += [k2.layers.Conv2D(4, 3, activation="relu"), k2.layers.MaxPooling2D(), k2.layers.BatchNormalization(),
               k2.layers.Flatten(), k2.layers.Dense(7, activation="softmax")]
    model = k2.Sequential(layers)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.save(path)
    return path


def test_keras2_h5_classifier_with_scale(cli, tmp_path):
    import h5py

    path = keras2_h5(tmp_path / "modelfinal.h5")
    assert h5py.File(path).attrs["keras_version"].startswith("2.")
    result = cli("evaluate", str(path), "--data", TINY_DATA, "--scale", str(1 / 255), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images"] == 14


def test_keras2_h5_with_lambda_is_refused(cli, tmp_path):
    path = keras2_h5(tmp_path / "lambda.h5", with_lambda=True)
    result = cli("evaluate", str(path), "--data", TINY_DATA, "--scale", str(1 / 255))
    assert result.exit_code == 2 and "--unsafe" in result.stderr


def test_class_weights_label_smoothing_and_init_from(cli, trained_run, tmp_path):
    run, _ = trained_run
    out = tmp_path / "finetune"
    # a learning rate of ~0: the fine-tuned weights stay the donor's, if --init-from loaded them
    result = cli("train", "lenet", "--data", TINY_DATA, "--epochs", "1", "--batch-size", "42", "--out", str(out),
                 "--class-weights", "balanced", "--label-smoothing", "0.1", "--init-from", str(run), "--lr", "1e-12",
                 "--quiet")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["class_weights"] == "balanced" and config["recipe"]["label_smoothing"] == 0.1
    assert config["init_from"] == str(run)
    import keras

    donor = keras.saving.load_model(run / "best.keras").get_weights()
    tuned = keras.saving.load_model(out / "best.keras").get_weights()
    assert len(donor) == len(tuned) and all(np.allclose(a, b, atol=1e-6) for a, b in zip(donor, tuned))
    bad = cli("train", "custom", "--data", TINY_DATA, "--epochs", "1", "--out", str(tmp_path / "bad"),
              "--init-from", str(run), "--quiet")
    assert bad.exit_code == 2 and "do not fit this architecture" in bad.stderr
    assert not (tmp_path / "bad").exists()  # refused before training: nothing left behind
    odd = cli("train", "lenet", "--class-weights", "odd", "--out", str(tmp_path / "odd"))
    assert odd.exit_code == 2 and "--class-weights must be none or balanced" in odd.stderr
    assert not (tmp_path / "odd").exists()  # nothing half-written


def test_fine_tuning_shipped_weights_with_a_frozen_backbone(cli, tmp_path):
    import fer_zoo

    if "mini_xception" not in fer_zoo.list_architectures():
        pytest.skip("the example plugin fer-zoo-mini-xception is not installed")
    import keras

    out = tmp_path / "tuned"
    result = cli("train", "mini_xception", "--pretrained", "--freeze", "backbone", "--data", TINY_DATA, "--epochs",
                 "1", "--batch-size", "32", "--lr", "0.01", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["init_from"] == "mini_xception" and config["freeze"] == "backbone"
    shipped = fer_zoo.create_model("mini_xception", pretrained=True)
    tuned = keras.saving.load_model(out / "best.keras").get_layer("mini_xception")
    weighted = [layer.name for layer in shipped.layers if layer.weights]
    for name in weighted[:-1]:  # the backbone: exactly the shipped weights (batch-norm statistics too)
        assert all(np.array_equal(a, b) for a, b in zip(shipped.get_layer(name).get_weights(),
                                                        tuned.get_layer(name).get_weights())), name
    head = weighted[-1]
    assert not np.allclose(shipped.get_layer(head).get_weights()[0], tuned.get_layer(head).get_weights()[0])
    bad = cli("train", "mini_xception", "--freeze", "many", "--data", TINY_DATA, "--out", str(tmp_path / "b"))
    assert bad.exit_code == 2 and "--freeze: expected a number of layers or 'backbone'" in bad.stderr


def test_what_a_run_writes_with_every_option_set_reads_back_through_the_checks(tmp_path):
    """The checks of config.json, state.json and history.csv refuse damage, never a run fer-zoo wrote: a
    config with every option away from its default, a history with empty cells (a one-step epoch has no
    throughput), a state before any epoch (nothing trained: no best yet)."""
    import fer_zoo
    from fer_zoo.training import rundir
    from fer_zoo.models.recipes import resolve
    from fer_zoo.training.train import config_json

    options = TrainOptions(recipe="modern", seed=3, precision="mixed_bfloat16", class_weights="balanced",
                           label_smoothing=0.1, early_stopping=2, init_from="lenet", freeze="backbone", subset=40,
                           eval_subset=10, time_box=12.5, devices=1)
    arch = fer_zoo.get_architecture("lenet")
    recipe = resolve(arch.recipe, "modern", epochs=3, label_smoothing=0.1)
    config = config_json(arch, load_dataset(TINY_DATA), TINY_DATA, recipe, options)
    run = tmp_path / "run"
    rundir.prepare(run, config, None, force=False)
    assert rundir.load_config(run) == json.loads((run / "config.json").read_text())
    rows = [{"epoch": 1, "loss": 1.9, "accuracy": 0.2, "val_loss": 1.8, "val_accuracy": 0.25, "top2_accuracy": 0.4,
             "val_top2_accuracy": 0.5, "learning_rate": 0.01, "images": 64, "epoch_images": 64,
             "epoch_seconds": 0.5, "images_per_second": None}]
    rundir.write_history(run / "history.csv", rows)
    assert rundir.read_history(run / "history.csv", completed=1) == [
        {k: v for k, v in rows[0].items() if v is not None}]
    for name in ("last-0000.keras", "best-0000.keras"):
        (run / name).write_bytes(b"")
    nothing = {"completed_epochs": 0, "best_val_accuracy": -float("inf"), "best_epoch": 0, "finished": False,
               "checkpoint": "last-0000.keras", "best": "best-0000.keras"}
    (run / "state.json").write_text(json.dumps(nothing))
    assert rundir.load_run(run).state == nothing and rundir.unfinished(run)


def test_history_holds_the_scheduled_learning_rate(cli, tmp_path):
    from fer_zoo.models.recipes import Recipe, learning_rate_at

    recipe_file = tmp_path / "cosine.toml"
    recipe_file.write_text('base = "seed"\nschedule = "cosine"\nwarmup_epochs = 1\nmin_learning_rate = 0.001\n')
    out = tmp_path / "cosine"
    result = cli("train", "lenet", "--data", TINY_DATA, "--epochs", "3", "--batch-size", "32", "--no-augment",
                 "--recipe", str(recipe_file), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    recipe = Recipe.from_dict(json.loads((out / "config.json").read_text())["recipe"])
    rates = [float(r["learning_rate"]) for r in history(out)]
    assert rates == [pytest.approx(learning_rate_at(recipe, e), rel=1e-6) for e in range(3)]
    assert rates[0] < rates[1] > rates[2]  # warm-up, then cosine decay


def test_mixed_batches_train_with_soft_targets(cli, tmp_path):
    recipe_file = tmp_path / "mix.toml"
    recipe_file.write_text('base = "modern"\nmixup = 0.4\ncutmix = 1.0\nmix_probability = 0.5\n'
                           'weight_decay_kind = "coupled"\nlabel_smoothing = 0.1\n')
    out = tmp_path / "mix"
    result = cli("train", "lenet", "--data", TINY_DATA, "--epochs", "2", "--batch-size", "32", "--no-augment",
                 "--recipe", str(recipe_file), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    recipe = json.loads((out / "config.json").read_text())["recipe"]
    assert (recipe["mixup"], recipe["cutmix"], recipe["weight_decay_kind"]) == (0.4, 1.0, "coupled")
    assert [int(r["epoch"]) for r in history(out)] == [1, 2]
