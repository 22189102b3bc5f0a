"""--track: the real MLflow and TensorBoard libraries receive the run's settings, every epoch's scores (the
same numbers as history.csv), the final scores and the run's files, in a temporary store."""

from __future__ import annotations

import csv

import pytest

DATA = "synthetic:size=140,seed=3,preset=easy"


def _history(run):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def test_train_tracks_to_mlflow_and_tensorboard(cli, tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'fer-zoo[track]')")
    pytest.importorskip("tensorboard", reason="TensorBoard is not installed (pip install 'fer-zoo[track]')")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    monkeypatch.chdir(tmp_path)  # the default MLflow store is ./mlruns
    run = tmp_path / "runs" / "lenet"
    result = cli("train", "lenet", "--data", DATA, "--epochs", "2", "--batch-size", "32", "--out", str(run),
                 "--track", "mlflow,tensorboard", "--quiet")
    assert result.exit_code == 0, result.output
    history = _history(run)

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    [tracked] = client.search_runs([client.get_experiment_by_name("fer-zoo").experiment_id])
    assert tracked.info.run_name == str(run) and tracked.info.status == "FINISHED"
    assert tracked.data.params["architecture"] == "lenet" and tracked.data.params["recipe.epochs"] == "2"
    assert tracked.data.tags["fer_zoo.status"] in ("ok", "chance")
    val = client.get_metric_history(tracked.info.run_id, "val/accuracy")
    assert [(m.step, round(m.value, 6)) for m in sorted(val, key=lambda m: m.step)] == [
        (int(row["epoch"]), round(float(row["val_accuracy"]), 6)) for row in history]
    assert "final/test_accuracy" in tracked.data.metrics
    files = {a.path for a in client.list_artifacts(tracked.info.run_id)}
    assert {"MODEL_CARD.md", "config.json", "metrics.json", "history.csv", "best.keras"} <= files

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    loss = events.Tensors("train/loss")  # TensorBoard's scalars dashboard reads these
    assert [(e.step, round(float(make_ndarray(e.tensor_proto)), 5)) for e in loss] == [
        (int(row["epoch"]), round(float(row["loss"]), 5)) for row in history]
    assert "final/val_accuracy" in events.Tags()["tensors"]
    assert events.PluginTagToContent("scalars").keys() >= {"train/loss", "val/accuracy", "learning_rate"}


def test_a_failed_run_is_marked_failed(cli, tmp_path):
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'fer-zoo[track]')")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    # --init-from a model of another input size: refused inside the run, after tracking started
    result = cli("train", "lenet", "--data", DATA, "--epochs", "1", "--out", str(tmp_path / "run"), "--track",
                 "mlflow", "--track-uri", uri, "--init-from", "mini_xception", "--quiet")
    assert result.exit_code == 2
    client = MlflowClient(tracking_uri=uri)
    [tracked] = client.search_runs([client.get_experiment_by_name("fer-zoo").experiment_id])
    assert tracked.info.status == "FAILED"


def test_track_refuses_unknown_trackers_in_one_line(cli, tmp_path):
    result = cli("train", "lenet", "--data", DATA, "--out", str(tmp_path / "run"), "--track", "wandb")
    assert result.exit_code == 2 and "--track must be mlflow or tensorboard" in result.stderr
    assert not (tmp_path / "run").exists()
    bench = cli("bench", "lenet", "--data", DATA, "--out", str(tmp_path / "b"), "--track", "mlflow,comet")
    assert bench.exit_code == 2 and "'comet'" in bench.stderr and not (tmp_path / "b").exists()
