"""Where bench rows run: :class:`LocalExecutor` runs each in a worker process on this machine, one or
``jobs`` at a time (fer_zoo.benchmark.ray_executor has the Ray one). :class:`Bench` is what every executor is given:
the config, where rows go, the event sink, and how to run one row in a local worker process (an
out-of-memory kill is retried once at half the batch).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fer_zoo.errors import FerZooError, one_line
from fer_zoo.training.rundir import seed_dir
from fer_zoo.status import Status

Event = dict[str, Any]
# fer_zoo.benchmark.bench's BenchConfig, Budget and RowSpec (that module imports this one)
BenchConfig = Budget = RowSpec = Any


class Bench:
    """What an executor needs to run rows: the config, the budget, where rows go, and the event sink."""

    def __init__(self, config: BenchConfig, budget: Budget, out: Path, emit: Callable[[Event], None]):
        self.config, self.budget, self.out, self.emit = config, budget, out, emit

    def run_dir(self, spec: RowSpec, seed: int) -> Path:
        return seed_dir(self.out, spec.folder, seed)

    def job(self, spec: RowSpec, seed: int, run_dir: Path, batch_size: int | None = None) -> dict:
        """One row for fer_zoo.benchmark.worker, as plain JSON-able data; its training options are a
        fer_zoo.training.run_config.RunConfig's."""
        from fer_zoo.training.run_config import RunConfig

        config, budget = self.config, self.budget
        # the user's --epochs, --subset and --time-box over the budget's own (run_bench's budget has them too)
        options = RunConfig(recipe=config.recipe, epochs=config.epochs or budget.epochs,
                            batch_size=batch_size if batch_size is not None else config.batch_size, seed=seed,
                            precision=config.precision, subset=config.subset or budget.subset,
                            eval_subset=budget.eval_subset, time_box=config.time_box or budget.time_box,
                            devices=config.devices,
                            init_from=spec.arch if spec.kind == "fine-tune" else None)
        return {"arch": spec.arch, "kind": spec.kind, "label": spec.label, "data": config.data,
                "run_dir": str(run_dir), "seed": seed, "options": options.as_job(),
                "infer_repeats": budget.infer_repeats, "latency_repeats": budget.latency_repeats,
                "track": list(config.track), "track_uri": config.track_uri}

    def run_in_process(self, spec: RowSpec, seed: int) -> dict:
        """One row in a worker process of its own; an out-of-memory kill is retried once at half the batch."""
        run_dir = self.run_dir(spec, seed)
        row_path = run_dir / "row.json"
        batch_size = self.config.batch_size
        name = spec.label
        for attempt in (1, 2):
            code, stderr, reported = _worker(self.job(spec, seed, run_dir, batch_size), self.emit)
            if code == 0 and row_path.is_file():
                return json.loads(row_path.read_text())
            error = _last_error(stderr) or f"worker exited with status {code}"
            # the worker said how it ended; a process the kernel killed (SIGKILL: the OOM killer) could not
            status = reported or (Status.OUT_OF_MEMORY if code in (-9, 137) else Status.FAILED)
            if attempt == 1 and status == Status.OUT_OF_MEMORY:
                current = batch_size or _recipe_batch_size(spec.arch, self.config.recipe)
                batch_size = max(1, current // 2)  # once, at half the batch
                self.emit({"event": "row", "model": name, "seed": seed, "state": "retrying",
                           "reason": f"out of memory; retrying at batch {batch_size}"})
                continue
            if attempt == 2:
                error += f" (also at half the batch, {batch_size})"
            return {"model": name, "seed": seed, "status": status, "error": error}
        raise AssertionError("unreachable")


class LocalExecutor:
    """Rows in worker processes on this machine, ``jobs`` at a time (threads wait on the processes)."""

    name = "local"

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise FerZooError("--jobs must be at least 1")
        self.jobs = jobs

    @property
    def concurrent_rows(self) -> int:
        return self.jobs

    def run(self, tasks: list[tuple[RowSpec, int]], bench: Bench) -> dict[tuple[str, int], dict]:
        def one(spec: RowSpec, seed: int) -> dict:
            bench.emit({"event": "row", "model": spec.label, "seed": seed, "state": "started"})
            row = bench.run_in_process(spec, seed)
            bench.emit({"event": "row", "model": spec.label, "seed": seed, "state": "finished", "row": row})
            return row

        if self.jobs == 1:
            return {(spec.label, seed): one(spec, seed) for spec, seed in tasks}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = {(spec.label, seed): pool.submit(one, spec, seed) for spec, seed in tasks}
            return {key: future.result() for key, future in futures.items()}


def serialised(emit: Callable[[Event], None]) -> Callable[[Event], None]:
    """``emit`` for events from several threads at once: one at a time."""
    lock = threading.Lock()

    def locked(event: Event) -> None:
        with lock:
            emit(event)

    return locked


def _recipe_batch_size(name: str, recipe: str | None) -> int:
    import fer_zoo
    from fer_zoo.models.recipes import resolve

    return resolve(fer_zoo.get_architecture(name).recipe, recipe).batch_size


def _worker(job: dict, emit) -> tuple[int, str, Status | None]:
    """Run one row's worker process; forward its JSON lines as events; return (exit code, stderr, the status
    the worker reported when it failed)."""
    # the worker inherits TF_CPP_MIN_LOG_LEVEL, which importing fer_zoo set here (and sets there again)
    process = subprocess.Popen([sys.executable, "-m", "fer_zoo.benchmark.worker", json.dumps(job)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    reported = None
    drain = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
    drain.start()
    for line in process.stdout:
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "status":
                reported = Status(event["status"])
                continue
            emit({**event, "model": job["label"], "seed": job["seed"]})
    code = process.wait()
    drain.join()
    process.stdout.close(), process.stderr.close()  # a bench of many rows would leak two pipes a row
    return code, "".join(errors), reported


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith(("I0000", "W0000",
                                                                                                     "WARNING: All"))]
    for line in reversed(lines):
        if line.startswith("fer-zoo: error: "):
            return line.removeprefix("fer-zoo: error: ")
    return one_line(lines[-1], 300) if lines else ""
