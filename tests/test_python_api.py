"""The public API: docs/python.md's examples run as written, and each function is what its command does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

import fer_zoo
from tests.conftest import repo_root

TINY_DATA = "synthetic:size=84,seed=1,preset=easy"


def python_blocks(path: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (repo_root() / path).read_text(), re.S | re.M)


GUIDE_DATA = "synthetic:size=84,preset=easy"  # what docs/python.md's examples train and bench on


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    """docs/python.md's blocks run once, in order, in one namespace and an empty folder, as a reader would paste
    them: (that folder, the namespace, what they printed). Its bench is the one the bench test compares."""
    import contextlib
    import io

    blocks = python_blocks("docs/python.md")
    assert len(blocks) >= 8
    folder = tmp_path_factory.mktemp("guide")
    namespace: dict = {}
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.chdir(folder)
        patch.setenv("FER_ZOO_CACHE_DIR", str(folder / "cache"))
        for number, block in enumerate(blocks, 1):
            started = time.perf_counter()
            try:
                exec(compile(block, f"docs/python.md block {number}", "exec"), namespace)
            except Exception as exc:  # name the block: the traceback's line numbers count from its start
                raise AssertionError(f"docs/python.md, python block {number} failed:\n{block}") from exc
            print(f"block {number}: {time.perf_counter() - started:.1f} s", file=sys.__stderr__)
    return folder, namespace, printed.getvalue()


def test_the_python_guide_runs_as_written(guide):
    folder, _, printed = guide
    assert "True True" in printed  # the resumed finished run came back as it was
    assert "onnxruntime" in printed
    assert "--executor must be local or ray, got 'slurm'" in printed
    assert (folder / "runs" / "lenet" / "confusion_test.png").is_file()
    assert {"results.csv", "results.json", "report.html"} <= {p.name for p in (folder / "bench").iterdir()}


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


def test_the_bench_command_and_the_function_write_the_same_results(cli, guide, tmp_path):
    folder, namespace, _ = guide
    rows = namespace["bench"]["rows"]  # the guide's fer_zoo.bench(["lenet"], data=GUIDE_DATA, budget="smoke", epochs=1)
    assert json.loads((folder / "bench" / "results.json").read_text())["rows"] == rows
    # the command, with the same flags, over a copy of the function's --out: it resolves the very same config
    # (another would be refused) and so reuses every row as the function wrote it (tests/test_bench.py trains
    # rows through the command)
    shutil.copytree(folder / "bench", tmp_path / "cli")
    done = cli("bench", "lenet", "--data", GUIDE_DATA, "--budget", "smoke", "--epochs", "1",
               "--out", str(tmp_path / "cli"), "--json")
    assert done.exit_code == 0, done.output
    from_cli = json.loads(done.stdout)
    assert from_cli["environment"]["dataset"] == namespace["bench"]["environment"]["dataset"]
    assert from_cli["rows"] == rows  # the measured timings too: no row ran again
