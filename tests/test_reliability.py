"""Nothing is lost and nothing runs that should not: a crash at every write of an epoch resumes to the
complete history; broken cache entries and converted models are rebuilt; leftovers of killed writers are
cleaned and counted; annotated copies never land on an input; plugins that exit or misbehave are contained."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_zoo import atomic

TINY_DATA = "synthetic:size=64,seed=4,preset=easy"


class Crash(Exception):
    """Stands for a kill: raised as a write begins, so every earlier write is on disk and this one is not."""


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


ORIGINAL_REPLACING = atomic.replacing


def crash_at(monkeypatch, index: int | None, seen: list[str]):
    """Make the ``index``-th write through fer_zoo.atomic raise Crash (None: count the writes only)."""

    def replacing(path, suffix=None):
        seen.append(Path(path).name)
        if index is not None and len(seen) == index:
            raise Crash(f"killed before writing {Path(path).name}")
        return ORIGINAL_REPLACING(path, suffix)

    monkeypatch.setattr(atomic, "replacing", replacing)


def history_rows(run: Path) -> list[dict]:
    import csv

    with open(run / "history.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in ("epoch_seconds", "images_per_second")}
                for row in csv.DictReader(f)]


def test_a_crash_at_any_write_after_the_first_epoch_resumes_to_the_complete_history(tmp_path, monkeypatch,
                                                                                   install_plugin,
                                                                                   tiny_plugin_source):
    from fer_zoo.data import load_dataset
    from fer_zoo.inference.runtime import load_model
    from fer_zoo.training.train import TrainOptions, train

    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    load_dataset(TINY_DATA)  # cached now: the runs below write the same files in the same order
    options = TrainOptions(epochs=2, batch_size=16, checkpoint_seconds=0)
    writes: list[str] = []
    crash_at(monkeypatch, None, writes)
    train("tiny", TINY_DATA, tmp_path / "clean", options)
    reference = history_rows(tmp_path / "clean")
    best_weights = load_model(tmp_path / "clean").get_weights()
    first_epoch_done = writes.index("state.json") + 1  # config, then epoch 1's checkpoint ends with state.json
    later = list(range(first_epoch_done + 1, len(writes) + 1))
    assert [writes[i - 1] for i in later][-5:] == ["predictions.npz", "metrics.json", "curves.png", "MODEL_CARD.md",
                                                   "state.json"]
    assert {"last-0002.keras", "history.csv", "best.keras"} <= {writes[i - 1] for i in later}
    for index in later:  # every write of epoch 2's checkpoint and of the finish
        run = tmp_path / f"crash{index}"
        crash_at(monkeypatch, index, [])
        with pytest.raises(Crash):
            train("tiny", TINY_DATA, run, options)
        monkeypatch.setattr(atomic, "replacing", ORIGINAL_REPLACING)
        resumed = train("tiny", TINY_DATA, run, options, resume=True)
        state = json.loads((run / "state.json").read_text())
        assert state["finished"] and state["completed_epochs"] == 2, (index, writes[index - 1])
        assert history_rows(run) == reference, (index, writes[index - 1])
        assert json.loads((run / "metrics.json").read_text())["epochs"] == 2 == resumed.metrics["epochs"]
        assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in (tmp_path / "clean").iterdir())
        assert all(np.array_equal(a, b) for a, b in zip(load_model(run).get_weights(), best_weights))


def test_a_truncated_cache_entry_is_a_miss_deleted_and_rebuilt(caplog):
    from fer_zoo.data import cache, load_dataset

    first = load_dataset(TINY_DATA)
    [entry] = [Path(cache.info()["path"]) / e["file"] for e in cache.info()["entries"]]
    entry.write_bytes(entry.read_bytes()[:200])
    with caplog.at_level(logging.WARNING, logger="fer_zoo"):
        again = load_dataset(TINY_DATA)
    assert np.array_equal(again.splits["train"].x, first.splits["train"].x)
    assert any("was unreadable" in r.getMessage() and entry.name in r.getMessage() for r in caplog.records)
    assert load_dataset(TINY_DATA).fingerprint == first.fingerprint  # rebuilt whole: read back fine


def test_leftovers_of_killed_writers_are_counted_then_removed(cli):
    from fer_zoo.data import cache, load_dataset

    folder = cache.ensure_dir()
    pid = dead_pid()
    leftover = folder / f".synthetic-abc.npz.{pid}.a1b2c3d4.npz"
    leftover.write_bytes(b"x" * 5000)
    mine = folder / atomic.scratch_prefix("live.npz")
    mine = mine.with_name(mine.name + "zz9zz9zz.npz")
    mine.write_bytes(b"y")  # this process is alive: not a leftover
    assert cache.info()["leftovers"] == {"files": 1, "bytes": 5000}
    assert "1 leftover(s)" in " ".join(cli("cache", "info").stdout.split())  # however the console wraps it
    load_dataset(TINY_DATA)  # the next write to the folder cleans up
    assert not leftover.exists() and mine.exists()
    assert cache.info()["leftovers"]["files"] == 0


def test_a_garbage_cached_onnx_model_is_converted_again(tiny_model_file, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("FER_ZOO_CACHE_DIR", str(tmp_path / "own-cache"))
    from fer_zoo.inference.runtime import load_classifier

    x = np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 1)).astype("float32")
    good = load_classifier(tiny_model_file, runtime="onnx").predict(x)
    [cached] = list((tmp_path / "own-cache" / "onnx").glob("*.onnx"))
    cached.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="fer_zoo"):
        again = load_classifier(tiny_model_file, runtime="onnx")
    assert again.runtime.startswith("onnxruntime") and np.allclose(again.predict(x), good, atol=1e-5)
    assert any("cached ONNX model" in r.getMessage() for r in caplog.records)
    assert cached.stat().st_size > 1000


def test_an_interrupted_export_keeps_the_old_artifact_and_cleans_up(tiny_model_file, tmp_path, monkeypatch):
    from fer_zoo.deploy import export as export_module

    out = tmp_path / "m.onnx"
    export_module.export(tiny_model_file, "onnx", out, data=TINY_DATA)
    before = out.read_bytes()
    stale = tmp_path / f".m.onnx.{dead_pid()}.q1w2e3r4"
    stale.mkdir()
    (stale / "model.onnx").write_bytes(b"half")

    real_replace = os.replace

    def killed(source, target, *args, **kwargs):
        if Path(target) == out:
            raise Crash("killed while moving into place")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(Crash):
        export_module.export(tiny_model_file, "onnx", out, data=TINY_DATA, force=True)
    assert out.read_bytes() == before  # whole, the previous one
    assert not stale.exists()  # the leftover of the earlier killed export went at this export's start
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_16_bit_image_folders_are_scaled_not_clipped(tmp_path):
    from fer_zoo.data import load_dataset

    root = tmp_path / "faces"
    values = {}
    for split in ("train", "test"):
        for cls in ("happy", "sad"):
            (root / split / cls).mkdir(parents=True)
            for i in range(2):
                deep = np.full((48, 48), 20000 * (i + 1), np.uint16)
                Image.fromarray(deep).save(root / split / cls / f"{i}.png")
                values[i] = deep[0, 0]
    dataset = load_dataset(str(root))
    seen = sorted({int(v) for v in np.unique(dataset.splits["test"].x)})
    assert seen == [round(20000 / 257), round(40000 / 257)]  # 78 and 156, not both 255


def test_a_utf8_byte_order_mark_is_not_a_missing_column(tmp_path):
    from fer_zoo.data import load_dataset
    from fer_zoo.data.fer2013 import write_csv

    x = np.random.default_rng(1).integers(0, 256, (14, 48, 48, 1), dtype=np.uint8)
    plain, marked = tmp_path / "plain.csv", tmp_path / "bom.csv"
    write_csv(plain, x, np.arange(14) % 7, usage=["Training"] * 8 + ["PublicTest"] * 3 + ["PrivateTest"] * 3)
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    a, b = load_dataset(str(plain)), load_dataset(str(marked))
    assert np.array_equal(a.splits["train"].x, b.splits["train"].x)


@pytest.mark.parametrize("layout", ["parent", "dot", "symlink", "same-names"])
def test_annotated_copies_land_inside_the_folder_never_on_an_input(cli, tiny_model_file, tmp_path, monkeypatch,
                                                                   layout):
    photos = tmp_path / "photos"
    other = tmp_path / "other"
    for folder in (photos, other):
        folder.mkdir()
        Image.new("RGB", (64, 64), (90, 90, 90)).save(folder / "face.png")
    originals = {p: p.read_bytes() for p in tmp_path.rglob("*.png")}
    out = tmp_path / "annotated"
    if layout == "parent":  # cd photos && fer-zoo predict RUN .. --annotate ../annotated
        monkeypatch.chdir(photos)
        args = [".."]
        annotate = "../annotated"
    elif layout == "dot":
        monkeypatch.chdir(photos)
        args = ["."]
        annotate = str(out)
    elif layout == "symlink":
        (tmp_path / "link").symlink_to(photos)
        args = [str(tmp_path / "link")]
        annotate = str(out)
    else:
        args = [str(photos / "face.png"), str(other / "face.png")]
        annotate = str(out)
    result = cli("predict", str(tiny_model_file), *args, "--annotate", annotate, "--no-detect", "--json")
    if layout == "parent":  # the inputs hold the --annotate folder itself: refused, nothing written
        assert result.exit_code == 2 and "inside the input folder" in result.stderr
        assert not out.exists()
    else:
        assert result.exit_code == 0, result.output
        written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
        assert len(written) == len(json.loads(result.stdout))
        assert all((out / w).resolve().is_relative_to(out.resolve()) for w in written)
    assert {p: p.read_bytes() for p in originals} == originals  # no input overwritten


def test_plugins_that_exit_or_return_instead_of_registering_are_contained(cli, install_plugin, monkeypatch,
                                                                           tiny_plugin_source):
    from fer_zoo import plugins

    install_plugin("exits-fer", "import sys\nsys.exit(0)\n")
    install_plugin("returns-fer", """
import fer_zoo
@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    return [fer_zoo.Architecture(name="lost", build=lambda s, n: None, input_shape=(48, 48, 1), description="x")]
""")
    monkeypatch.setattr(plugins, "SLOW_IMPORT_SECONDS", -1.0)  # every import counts as slow here
    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    result = cli("list", "--json")
    assert result.exit_code == 0
    names = {r["name"] for r in json.loads(result.stdout)}
    assert "tiny" in names and "lost" not in names and "custom" in names
    warnings = result.stderr
    assert "exits-fer" in warnings and "called sys.exit(0)" in warnings
    assert "returns-fer" in warnings and "returned list instead of calling register" in warnings
    assert "acme-fer" in warnings and "s to import" in warnings


def test_savedmodel_exports_replace_cleanly_and_are_evaluated_without_writing_into_them(cli, tiny_model_file,
                                                                                         tmp_path):
    out = tmp_path / "sm"
    (tmp_path / ".sm.old").mkdir()  # what an earlier fer-zoo's interrupted replace could leave
    for attempt in range(2):  # the second replaces the first folder
        result = cli("export", str(tiny_model_file), "--format", "savedmodel", "--out", str(out), "--force",
                     "--data", TINY_DATA)
        assert result.exit_code == 0, result.output
    inside = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    result = cli("evaluate", str(out), "--unsafe", "--data", TINY_DATA, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == inside  # nothing written into it
    assert "confusion_png" not in json.loads(result.stdout)


def test_an_unsafe_export_of_a_model_with_code_verifies_its_own_file(cli, tmp_path):
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x)))
    model.save(tmp_path / "lambda.keras")
    refused = cli("export", str(tmp_path / "lambda.keras"), "--format", "keras", "--out", str(tmp_path / "o.keras"))
    assert refused.exit_code == 2 and "--unsafe" in refused.stderr
    result = cli("export", str(tmp_path / "lambda.keras"), "--format", "keras", "--out", str(tmp_path / "o.keras"),
                 "--unsafe", "--data", TINY_DATA)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.keras").is_file() and "verified" in result.stdout


class InterruptAt:
    """A Keras callback standing for Ctrl-C: KeyboardInterrupt as step ``step`` of epoch ``epoch`` (both
    0-based) begins."""

    def __new__(cls, epoch: int, step: int = 0):
        import keras

        class Interrupt(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if self.epoch == epoch and batch == step:
                    raise KeyboardInterrupt

            def on_epoch_begin(self, index, logs=None):
                self.epoch = index

        return Interrupt()


def test_ctrl_c_keeps_every_finished_epoch_and_the_resume_ends_as_an_uninterrupted_run(tmp_path, install_plugin,
                                                                                      tiny_plugin_source):
    from fer_zoo.errors import FerZooError
    from fer_zoo.inference.runtime import load_model
    from fer_zoo.training.train import TrainOptions, train

    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    options = TrainOptions(epochs=3, batch_size=16)  # the default 30 s between checkpoints: epochs are far shorter
    train("tiny", TINY_DATA, tmp_path / "clean", options)
    run = tmp_path / "run"
    with pytest.raises(FerZooError, match=r"interrupted; 2 completed epoch\(s\) are saved in [^(]*: continue with"):
        # epoch 2's checkpoint was skipped, and epoch 3 has trained a step since
        train("tiny", TINY_DATA, run, options, callbacks=[InterruptAt(2, step=1)])
    assert json.loads((run / "state.json").read_text())["completed_epochs"] == 2
    resumed = train("tiny", TINY_DATA, run, options, resume=True)
    assert resumed.resumed_from == 2 and [row["epoch"] for row in resumed.history] == [1, 2, 3]
    assert history_rows(run) == history_rows(tmp_path / "clean")  # epoch 2 saved as it ended, optimizer and all
    assert all(np.array_equal(a, b) for a, b in zip(load_model(run).get_weights(),
                                                    load_model(tmp_path / "clean").get_weights()))

    gone = tmp_path / "gone"  # nothing finished: nothing is claimed, and the new folder goes
    with pytest.raises(FerZooError, match="before any epoch was saved; nothing was kept and .* was removed"):
        train("tiny", TINY_DATA, gone, options, callbacks=[InterruptAt(0)])
    assert not gone.exists()


def test_a_resume_removes_scratch_files_of_dead_writers_and_uncommitted_checkpoints(tmp_path, install_plugin,
                                                                                   tiny_plugin_source):
    from fer_zoo.errors import FerZooError
    from fer_zoo.training.train import TrainOptions, train

    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    options = TrainOptions(epochs=2, batch_size=16, checkpoint_seconds=0)
    run = tmp_path / "run"
    with pytest.raises(FerZooError, match="interrupted; 1 completed"):
        train("tiny", TINY_DATA, run, options, callbacks=[InterruptAt(1)])
    # what a kill in epoch 2's checkpoint leaves: numbered files the commit never named, and the dead
    # process's temporary files; beside them a live process's temporary file, which stays
    pid = dead_pid()
    for name in ("last-0002.keras", "best-0002.keras", f".last-0002.keras.{pid}.a1b2c3d4.keras",
                 f".best-0002.keras.{pid}.e5f6g7h8.keras", f".history.csv.{pid}.i9j0k1l2.csv"):
        (run / name).write_bytes((run / "best.keras").read_bytes())
    live = run / (atomic.scratch_prefix("state.json") + "zz9zz9zz.json")
    live.write_text("{}")
    resumed = train("tiny", TINY_DATA, run, options, resume=True)
    assert resumed.resumed_from == 1 and [row["epoch"] for row in resumed.history] == [1, 2]
    left = sorted(p.name for p in run.iterdir())
    assert [name for name in left if name.startswith(".")] == [live.name]
    assert not [name for name in left if name[:5] in ("last-", "best-")]


def test_a_finished_run_killed_before_its_tidy_loses_its_numbered_files_at_the_next_resume(tmp_path, install_plugin,
                                                                                        tiny_plugin_source):
    from fer_zoo.training.train import TrainOptions, train

    install_plugin("acme-fer", tiny_plugin_source("tiny"))
    options = TrainOptions(epochs=1, batch_size=16)
    run = tmp_path / "run"
    train("tiny", TINY_DATA, run, options)
    (run / "last-0001.keras").write_bytes((run / "best.keras").read_bytes())
    assert train("tiny", TINY_DATA, run, options, resume=True).already_finished
    assert not (run / "last-0001.keras").exists()
