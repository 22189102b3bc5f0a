"""Run tracking: a run's settings, each epoch's scores, its final scores and its files, sent to MLflow or
written as TensorBoard event files, while it trains (`fer-zoo train/bench --track mlflow,tensorboard`).

Both are optional extras (``pip install 'fer-zoo[track]'``). MLflow goes to a local SQLite store,
``mlruns/mlflow.db`` with the files under ``mlruns/artifacts`` (``mlflow ui --backend-store-uri
sqlite:///mlruns/mlflow.db`` shows it), or to the tracking URI given. TensorBoard's event files go to
the run directory's ``tensorboard/`` folder, or under the folder given, one subfolder per run
(``tensorboard --logdir runs/``).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from fer_zoo.errors import FerZooError
from fer_zoo import metric_names

TRACKERS = ("mlflow", "tensorboard")
EXPERIMENT = "fer-zoo"
# what a finished run sends as files, when it has them
ARTIFACTS = ("MODEL_CARD.md", "config.json", "metrics.json", "history.csv", "curves.png", "confusion.png",
             "best.keras")
# history names -> tracked names (train and val side by side), and the final scores: fer_zoo.metric_names
EPOCH_SCORES, FINAL_SCORES = metric_names.TRACKED, metric_names.FINAL


def parse(value: str | None) -> list[str]:
    """``--track mlflow,tensorboard`` as a list; a one-line error for anything else (None: no tracking)."""
    if value is None:
        return []
    allowed = f"{' or '.join(TRACKERS)} (or both, comma-separated)"
    kinds = [k.strip() for k in value.split(",")]
    for kind in kinds:
        if not kind:  # '' or 'mlflow,' is a half-typed list, not "no tracking"
            raise FerZooError(f"--track {value!r}: an empty name; it takes {allowed}")
        if kind not in TRACKERS:
            raise FerZooError(f"--track must be {allowed}, got {kind!r}")
    if len(set(kinds)) < len(kinds):
        twice = next(k for k in kinds if kinds.count(k) > 1)
        raise FerZooError(f"--track {value!r}: {twice} is given twice; it takes {allowed}")
    return kinds


def check(kinds: list[str] | tuple[str, ...]) -> None:
    """A one-line error now, not in every bench row, where a tracker's library is not installed."""
    import importlib.util

    for kind, module in (("mlflow", "mlflow"), ("tensorboard", "tensorboard")):
        if kind in kinds and importlib.util.find_spec(module) is None:
            raise FerZooError(f"--track {kind} needs {module}: pip install 'fer-zoo[track]'")


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """Nested settings as ``recipe.lr = 0.01`` pairs, values as text."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flatten(value, name + ".")
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value, default=str)
    return out


class Trackers:
    """Every tracker of one run behind one set of calls; what one cannot do is an error before training."""

    def __init__(self, kinds: list[str], uri: str | None, name: str, run_dir: Path):
        self.members = [_open(kind, uri, name, Path(run_dir)) for kind in kinds]

    def __bool__(self) -> bool:
        return bool(self.members)

    def start(self, config: dict) -> None:
        for member in self.members:
            member.start(config)

    def epoch(self, step: int, logs: dict) -> None:
        scores = {EPOCH_SCORES[k]: float(v) for k, v in logs.items()
                  if k in EPOCH_SCORES and v is not None and math.isfinite(float(v))}
        for member in self.members:
            member.epoch(step, scores)

    def finish(self, run_dir: Path, metrics: dict) -> None:
        final = {f"final/{k}": float(metrics[k]) for k in FINAL_SCORES if metrics.get(k) is not None}
        files = [Path(run_dir) / name for name in ARTIFACTS if (Path(run_dir) / name).is_file()]
        for member in self.members:
            member.finish(final, files, metrics.get("status", "ok"), failed=False)

    def fail(self, message: str) -> None:
        for member in self.members:
            member.finish({}, [], message, failed=True)


def _open(kind: str, uri: str | None, name: str, run_dir: Path):
    return MLflowTracker(uri, name) if kind == "mlflow" else TensorBoardTracker(uri, name, run_dir)


class MLflowTracker:
    def __init__(self, uri: str | None, name: str):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise FerZooError("--track mlflow needs MLflow: pip install 'fer-zoo[track]'") from None
        self.artifacts = None
        if uri is None:
            store = Path("mlruns").resolve()
            store.mkdir(exist_ok=True)
            uri, self.artifacts = f"sqlite:///{store / 'mlflow.db'}", str(store / "artifacts")
        self.uri, self.name, self.run_id = uri, name, None
        try:
            self.client = MlflowClient(tracking_uri=uri)
            experiment = self.client.get_experiment_by_name(EXPERIMENT)
            self.experiment = (experiment.experiment_id if experiment else
                               self.client.create_experiment(EXPERIMENT, artifact_location=self.artifacts))
        except Exception as exc:  # MLflow's own errors vary by store
            raise FerZooError(f"--track-uri {uri}: MLflow cannot use it ({str(exc).splitlines()[0]})") from None

    def start(self, config: dict) -> None:
        from mlflow.entities import Param

        run = self.client.create_run(self.experiment, run_name=self.name, tags={
            "fer_zoo.architecture": str(config.get("architecture")), "fer_zoo.data": str(config.get("data"))})
        self.run_id = run.info.run_id
        params = [Param(k, v[:6000]) for k, v in flatten(config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per call
            self.client.log_batch(self.run_id, params=params[i:i + 100])

    def epoch(self, step: int, scores: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in scores.items()])

    def finish(self, final: dict[str, float], files: list[Path], status: str, failed: bool) -> None:
        from mlflow.entities import Metric, RunTag

        if self.run_id is None:
            return
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, 0) for k, v in final.items()],
                              tags=[RunTag("fer_zoo.status", status[:5000])])
        for path in files:
            self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")


class TensorBoardTracker:
    def __init__(self, uri: str | None, name: str, run_dir: Path):
        try:
            from tensorboard.summary import Writer
        except ImportError:
            raise FerZooError("--track tensorboard needs TensorBoard: pip install 'fer-zoo[track]'") from None
        self.folder = Path(uri) / name if uri else run_dir / "tensorboard"
        self.writer_class, self.writer = Writer, None
        self.last_step = 0

    def start(self, config: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.writer = self.writer_class(str(self.folder))

    def epoch(self, step: int, scores: dict[str, float]) -> None:
        for tag, value in scores.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()
        self.last_step = step

    def finish(self, final: dict[str, float], files: list[Path], status: str, failed: bool) -> None:
        if self.writer is None:
            return
        for tag, value in final.items():
            self.writer.add_scalar(tag, value, self.last_step)
        self.writer.close()
