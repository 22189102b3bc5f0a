"""Where bench rows run: several at once on this machine (--jobs), or as Ray tasks (--executor ray) on a
real local Ray, a worker killed mid-row included; the same files and resume semantics either way."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest

DATA = "synthetic:size=140,seed=3,preset=easy"


def _config(**overrides):
    from fer_zoo.benchmark.bench import BenchConfig

    return BenchConfig(**{"data": DATA, "budget": "smoke", "seeds": 2, "epochs": 1, "batch_size": 35,
                          "precision": "float32", **overrides})


def test_local_jobs_run_rows_side_by_side(install_plugin, tiny_plugin_source, tmp_path):
    from fer_zoo.benchmark.bench import LocalExecutor, run_bench, write_results

    install_plugin("tiny-plugin", tiny_plugin_source("tiny"))
    events = []
    result = run_bench(["tiny"], _config(), tmp_path / "bench", on_event=events.append,
                       executor=LocalExecutor(jobs=2))
    states = [(e["seed"], e["state"]) for e in events if e["event"] == "row"]
    # both rows had started before either finished
    assert states.index((1, "started")) < min(states.index((0, "finished")), states.index((1, "finished")))
    assert [r["seed"] for r in result["runs"]["tiny"]] == [0, 1]
    assert all((tmp_path / "bench" / "tiny" / f"seed{s}" / "row.json").is_file() for s in (0, 1))
    assert result["environment"]["concurrent_rows"] == 2
    write_results(result, tmp_path / "bench")
    assert "Up to 2 rows ran at once on this machine" in (tmp_path / "bench" / "results.md").read_text()


def test_ray_is_an_extra_named_in_one_line(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: importing it raises ImportError
    result = cli("bench", "lenet", "--executor", "ray", "--out", str(tmp_path / "b"))
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [
        "fer-zoo: error: --executor ray needs Ray, which is not installed: pip install 'fer-zoo[ray]'"]
    assert not (tmp_path / "b").exists()
    for args, message in ((["--executor", "spark"], "--executor must be local or ray"),
                          (["--address", "ray://x:10001"], "--address is for --executor ray")):
        bad = cli("bench", "lenet", *args, "--out", str(tmp_path / "b"))
        assert bad.exit_code == 2 and message in bad.stderr and not (tmp_path / "b").exists()


def test_ray_rows_with_a_killed_worker(install_plugin, tiny_plugin_source, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'fer-zoo[ray]' (.ci/run does)")
    from fer_zoo.benchmark.bench import run_bench
    from fer_zoo.benchmark.ray_executor import RayExecutor

    install_plugin("tiny-plugin", tiny_plugin_source("tiny"))
    out = tmp_path / "bench"
    kills = {0: 1, 1: 2}  # seed 0's worker is killed once (Ray runs it again), seed 1's on both attempts
    events = []

    def on_event(event):
        events.append(event)
        if event["event"] == "row" and event["state"] == "running" and kills[event["seed"]]:
            kills[event["seed"]] -= 1
            os.kill(event["pid"], signal.SIGKILL)  # the Ray worker process running the row, mid-row

    config = _config(time_box=3600)  # not the smoke box: a loaded machine (parallel tests) must not time it out
    result = run_bench(["tiny"], config, out, on_event=on_event, executor=RayExecutor(num_cpus=2))
    assert not ray.is_initialized()  # the local Ray it started is stopped again
    first, second = result["runs"]["tiny"]
    assert first["status"] != "failed" and first["val_acc"] is not None and first["node"]
    assert second["status"] == "failed" and "Ray worker died twice" in second["error"]
    retried = {e["seed"] for e in events if e["event"] == "row" and e["state"] == "retrying"}
    assert retried == {0, 1}
    assert [e for e in events if e["event"] == "epoch" and e["seed"] == 0]  # epochs reach the driver
    seed0 = out / "tiny" / "seed0"
    assert json.loads((seed0 / "row.json").read_text())["val_acc"] == first["val_acc"]
    assert (seed0 / "best.keras").is_file() and (seed0 / "config.json").is_file()
    assert not (out / "tiny" / "seed1" / "row.json").exists()

    # a rerun reuses the row Ray finished (its unpacked row.json) and hands the executor only the failed one;
    # which executor runs it then is the local tests' business (test_bench.py), so this one only records it
    events.clear()

    class Recording:  # runs nothing: what the bench hands it is the check
        name, concurrent_rows = "recording", 1

        def __init__(self):
            self.handed = []

        def run(self, tasks, bench):
            self.handed += [(spec.label, seed) for spec, seed in tasks]
            return {(spec.label, seed): {"model": spec.label, "seed": seed, "status": "failed", "error": "not run"}
                    for spec, seed in tasks}

    recording = Recording()
    again = run_bench(["tiny"], config, out, on_event=events.append, executor=recording)
    assert recording.handed == [("tiny", 1)]
    assert {(e["seed"], e["state"]) for e in events if e["event"] == "row"} == {(0, "reused")}
    assert again["runs"]["tiny"][0] == json.loads((seed0 / "row.json").read_text())


def test_progress_shows_where_each_row_runs():
    import io

    from rich.console import Console

    from fer_zoo.report.terminal import BenchProgress

    console = Console(file=io.StringIO(), width=100)  # not a terminal: one line per event
    progress = BenchProgress(console, ["tiny"], 2)
    for event in ({"event": "row", "model": "tiny", "seed": 0, "state": "queued"},
                  {"event": "row", "model": "tiny", "seed": 1, "state": "queued"},
                  {"event": "row", "model": "tiny", "seed": 0, "state": "running", "node": "10.0.0.7", "pid": 1},
                  {"event": "started", "model": "tiny", "seed": 0, "epochs": 3, "steps": 4, "batch_size": 8,
                   "first_epoch": 1},
                  {"event": "epoch", "model": "tiny", "seed": 0, "epoch": 1, "epochs": 3, "val_accuracy": 0.5,
                   "images_per_second": 100.0, "epoch_seconds": 1.0, "steps": 4, "epoch_steps": 4}):
        progress(event)
    assert progress.rows["tiny", 0]["state"] == "training on 10.0.0.7"
    assert progress.rows["tiny", 1]["state"] == "queued"
    assert "tiny seed 0: running on 10.0.0.7" in console.file.getvalue()
    table = Console(file=io.StringIO(), width=100)
    table.print(progress.table())
    assert "training on 10.0.0.7" in table.file.getvalue() and "1/3" in table.file.getvalue()
