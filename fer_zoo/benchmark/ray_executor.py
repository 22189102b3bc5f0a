"""`fer-zoo bench --executor ray`: each (architecture, seed) row as a Ray task, on a local Ray started on
demand or on a running cluster (``--address``).

A row runs in a Ray worker process of its own (``max_calls=1``: a fresh process per row, as the local
executor's worker processes) with one GPU where the cluster has GPUs (``--devices N``: N of them), else
``cpus_per_row`` CPUs. It
trains in a temporary directory on its node and returns the row and that directory, packed; the driver
unpacks it into ``--out``, so the files, tables and resume semantics are the local executor's: a row
with ``row.json`` is not run again, and a row that an earlier run left half-trained travels to its task
and resumes there. A worker that dies mid-row (killed, or out of memory) is retried once by Ray, then
the row is marked failed. Progress (which row runs on which node, and each epoch) reaches the driver
through a small actor that the tasks post to.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from fer_zoo.errors import FerZooError, describe_exception, one_line
from fer_zoo.status import Status, out_of_memory, status_of

INSTALL = "pip install 'fer-zoo[ray]'"


def require_ray():
    try:
        import ray
    except ImportError:
        raise FerZooError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def unpack(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")  # no absolute paths, links out, or devices


class _BoardReporter:
    """A training reporter (fer_zoo.training.callbacks.Reporter) that posts to the driver's board."""

    def __init__(self, board, label: str, seed: int):
        self.board, self.base = board, {"model": label, "seed": seed}

    def started(self, epochs: int, steps: int, batch_size: int, first_epoch: int) -> None:
        self.board.post.remote({**self.base, "event": "started", "epochs": epochs, "steps": steps,
                                "batch_size": batch_size, "first_epoch": first_epoch + 1})

    def step(self, epoch: int, step: int) -> None:
        pass

    def epoch(self, report) -> None:
        self.board.post.remote({**self.base, "event": "epoch", **report.as_dict()})


def run_row(job: dict, prior: bytes | None, board) -> tuple[dict, bytes, str]:
    """A Ray task: one bench row in this worker process; returns (row, the run directory packed, node)."""
    import ray

    from fer_zoo import atomic
    from fer_zoo.benchmark import worker as bench_worker

    node = ray.util.get_node_ip_address()
    board.post.remote({"event": "row", "model": job["label"], "seed": job["seed"], "state": "running",
                       "node": node, "pid": os.getpid()})
    with tempfile.TemporaryDirectory(prefix="fer-zoo-row-") as tmp:
        run_dir = Path(tmp) / "row"
        if prior is not None:
            unpack(prior, run_dir)
        job = {**job, "run_dir": str(run_dir)}
        try:
            row = bench_worker.run(job, reporter=_BoardReporter(board, job["label"], job["seed"]))
        except Exception as exc:
            if not isinstance(exc, FerZooError) and not out_of_memory(exc):
                raise  # a bug: Ray reports it, and the row is failed
            row = {"model": job["label"], "seed": job["seed"], "status": status_of(exc),
                   "error": str(exc) if isinstance(exc, FerZooError) else one_line(describe_exception(exc))}
        else:
            atomic.write_json(run_dir / "row.json", row)
        run_dir.mkdir(parents=True, exist_ok=True)
        return row, pack(run_dir), node


class RayExecutor:
    """Rows as Ray tasks; ``address`` None starts a local Ray (and stops it after), else joins that cluster."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_row: float = 1.0, num_cpus: int | None = None):
        self.address, self.cpus_per_row, self.num_cpus = address, cpus_per_row, num_cpus
        self.ray = require_ray()
        self.concurrent_rows = 0  # how many rows the cluster ran side by side, at most (set by run)

    def run(self, tasks: list, bench) -> dict[tuple[str, int], dict]:
        ray = self.ray
        if not tasks:
            return {}
        started_here = not ray.is_initialized()
        if started_here:
            options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            try:
                if self.address:
                    ray.init(address=self.address, **options)
                else:
                    ray.init(num_cpus=self.num_cpus, **options)
            except Exception as exc:  # Ray's errors are of many kinds; the user needs the one line
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                raise FerZooError(f"--executor ray: could not start or reach {where}: {one_line(exc, 200)}") from None
        try:
            return self._run(tasks, bench)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, tasks: list, bench) -> dict[tuple[str, int], dict]:
        ray = self.ray
        gpus = ray.cluster_resources().get("GPU", 0)
        devices = bench.config.devices if isinstance(bench.config.devices, int) else 1  # the CLI refuses "all"
        board = ray.remote(_Board).options(num_cpus=0).remote()
        task = ray.remote(max_retries=1, retry_exceptions=False, max_calls=1, num_gpus=devices if gpus else 0,
                          num_cpus=0 if gpus else self.cpus_per_row)(run_row)
        pending = {}
        for spec, seed in tasks:
            run_dir = bench.run_dir(spec, seed)
            prior = pack(run_dir) if (run_dir / "state.json").is_file() else None  # resume it there
            ref = task.remote(bench.job(spec, seed, run_dir), prior, board)
            pending[ref] = (spec, seed)
            bench.emit({"event": "row", "model": spec.label, "seed": seed, "state": "queued"})
        results: dict[tuple[str, int], dict] = {}
        attempts: dict[tuple[str, int], int] = {}
        live: set[tuple[str, int]] = set()  # rows whose task has started and not returned
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            self._forward(ray.get(board.drain.remote()), bench, attempts, live)
            for ref in ready:
                spec, seed = pending.pop(ref)
                live.discard((spec.label, seed))
                results[spec.label, seed] = row = self._collect(ref, spec, seed, bench)
                bench.emit({"event": "row", "model": spec.label, "seed": seed, "state": "finished", "row": row})
        self._forward(ray.get(board.drain.remote()), bench, attempts, live)
        return results

    def _forward(self, events: list[dict], bench, attempts: dict, live: set) -> None:
        for event in events:
            key = (event.get("model"), event.get("seed"))
            if event.get("event") == "row" and event.get("state") == "running":
                attempts[key] = attempts.get(key, 0) + 1
                if attempts[key] > 1:  # Ray started it again: the first worker died
                    bench.emit({"event": "row", "model": key[0], "seed": key[1], "state": "retrying",
                                "reason": "its Ray worker died; Ray runs it again (once)"})
                live.add(key)
                self.concurrent_rows = max(self.concurrent_rows, len(live))
            bench.emit(event)

    def _collect(self, ref, spec, seed: int, bench) -> dict:
        ray = self.ray
        try:
            row, packed, node = ray.get(ref)
        except ray.exceptions.RayError as exc:
            if status_of(exc) == Status.OUT_OF_MEMORY:  # Ray's memory monitor killed it (its own error type)
                return {"model": spec.label, "seed": seed, "status": Status.OUT_OF_MEMORY,
                        "error": f"its Ray worker ran out of memory: {one_line(exc, 160)}"}
            return {"model": spec.label, "seed": seed, "status": Status.FAILED,
                    "error": f"its Ray worker died twice (killed, or out of memory): {one_line(exc, 160)}"}
        run_dir = bench.run_dir(spec, seed)
        staging = run_dir.with_name(f".{run_dir.name}.incoming")
        shutil.rmtree(staging, ignore_errors=True)
        unpack(packed, staging)
        shutil.rmtree(run_dir, ignore_errors=True)
        staging.rename(run_dir)  # the whole row, or what was there before
        return {**row, "node": node}


class _Board:
    """An actor holding the events that rows post until the driver drains them."""

    def __init__(self):
        self.events: list[dict] = []

    def post(self, event: dict) -> None:
        self.events.append({**event, "time": time.time()})

    def drain(self) -> list[dict]:
        events, self.events = self.events, []
        return events
