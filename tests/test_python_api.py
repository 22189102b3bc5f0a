"""The public API: docs/python.md's examples run as written, and each function is what its command does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

import fer_zoo
from tests.conftest import repo_root

TINY_DATA = "synthetic:size=84,seed=1,preset=easy"


def python_blocks(path: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (repo_root() / path).read_text(), re.S | re.M)


def test_the_python_guide_runs_as_written(tmp_path, monkeypatch, capsys):
    # in order, in one namespace and an empty folder, as a reader would paste them
    blocks = python_blocks("docs/python.md")
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, block in enumerate(blocks, 1):
        started = time.perf_counter()
        try:
            exec(compile(block, f"docs/python.md block {number}", "exec"), namespace)
        except Exception as exc:  # name the block: the traceback's line numbers count from its start
            raise AssertionError(f"docs/python.md, python block {number} failed:\n{block}") from exc
        print(f"block {number}: {time.perf_counter() - started:.1f} s", file=sys.__stderr__)
    printed = capsys.readouterr().out
    assert "True True" in printed  # the resumed finished run came back as it was
    assert "onnxruntime" in printed
    assert "--executor must be local or ray, got 'slurm'" in printed
    assert (tmp_path / "runs" / "lenet" / "confusion_test.png").is_file()
    assert {"results.csv", "results.json", "report.html"} <= {p.name for p in (tmp_path / "bench").iterdir()}


def test_every_public_function_is_in_the_guide():
    text = (repo_root() / "docs" / "python.md").read_text()
    functions = [name for name in fer_zoo.__all__ if callable(getattr(fer_zoo, name)) and name[0].islower()
                 and name not in ("hookimpl", "describe_environment", "device_name", "median_seconds")]
    assert [name for name in functions if f"fer_zoo.{name}(" not in text] == []
    for name in functions:
        assert getattr(fer_zoo, name).__doc__, name


def test_importing_the_api_loads_no_framework():
    probe = ("import sys, fer_zoo; fer_zoo.train, fer_zoo.bench, fer_zoo.evaluate, fer_zoo.export; "
             "print(sorted(m for m in ('tensorflow', 'keras', 'cv2', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("call, message", [
    (lambda: fer_zoo.train(), "give an architecture"),
    (lambda: fer_zoo.train(resume="runs/x", out="elsewhere"), "--resume runs/x: continues that run in its own "
                                                               "directory; drop --out"),
    (lambda: fer_zoo.train("lenet", pretrained=True, init_from="runs/x"), "--pretrained and --init-from"),
    (lambda: fer_zoo.train("lenet", freeze="head"), "--freeze: expected a number of layers or 'backbone'"),
    (lambda: fer_zoo.train("lenet", devices="some"), "--devices must be a number of devices or 'all'"),
    (lambda: fer_zoo.bench(["lenet"], executor="ray", devices="all"), "--devices all with --executor ray"),
    (lambda: fer_zoo.bench(["lenet"], address="ray://x"), "--address is for --executor ray"),
    (lambda: fer_zoo.bench(["lenet"], executor="ray", jobs=2), "--jobs is for --executor local"),
])
def test_the_api_refuses_what_the_command_refuses_before_any_work(call, message, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(fer_zoo.FerZooError, match=re.escape(message)):
        call()
    assert list(work.iterdir()) == []  # nothing written: no run directory, no bench folder


def test_train_refuses_an_option_it_does_not_have(tmp_path):
    with pytest.raises(TypeError, match="epoch"):
        fer_zoo.train("lenet", TINY_DATA, tmp_path / "run", epoch=1)
    assert not (tmp_path / "run").exists()


def test_the_bench_command_and_the_function_write_the_same_results(cli, tmp_path):
    args = dict(data=TINY_DATA, budget="smoke", epochs=1)
    rows = fer_zoo.bench(["lenet"], out=tmp_path / "py", **args)["rows"]
    done = cli("bench", "lenet", "--data", TINY_DATA, "--budget", "smoke", "--epochs", "1",
               "--out", str(tmp_path / "cli"), "--json")
    assert done.exit_code == 0, done.output
    from_cli = json.loads(done.stdout)["rows"]
    same = ("model", "kind", "status", "param_count", "epochs")
    assert [{k: r[k] for k in same} for r in rows] == [{k: r[k] for k in same} for r in from_cli]
    assert json.loads((tmp_path / "py" / "results.json").read_text())["rows"] == rows
