"""The scripts behind the docs' figures, where they hold logic of their own."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_DATA = "synthetic:size=84,seed=1,preset=easy"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_calibration_stopped_mid_seed_carries_on_from_its_last_epoch_with_the_same_draws(tmp_path, capsys):
    import keras

    import fer_zoo
    from fer_zoo.training.rundir import read_history

    calibrate = load_script("calibrate_synthetic")
    argv = ["--arch", "lenet", "--data", TINY_DATA, "--epochs", "2", "--seeds", "1"]
    calibrate.main(argv)  # the reference: one sitting, in a temporary directory
    reference = [line for line in capsys.readouterr().out.splitlines() if line.startswith("lenet seed 0:")]

    class StopAtEpoch2(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    seed_dir = tmp_path / "cal" / "seed0"
    with pytest.raises(fer_zoo.FerZooError, match="interrupted; 1 completed epoch"):  # a stopped calibration
        fer_zoo.train("lenet", TINY_DATA, seed_dir, epochs=2, seed=0, checkpoint_seconds=0, callbacks=[StopAtEpoch2()])
    assert [row["epoch"] for row in read_history(seed_dir / "history.csv")] == [1]

    calibrate.main([*argv, "--out", str(tmp_path / "cal")])
    printed = capsys.readouterr().out
    assert f"seed 0: continuing {seed_dir}" in printed
    assert "epoch 1/2" not in printed and "epoch 2/2" in printed  # epoch 1 is not trained again
    assert [row["epoch"] for row in read_history(seed_dir / "history.csv")] == [1, 2]
    resumed = [line for line in printed.splitlines() if line.startswith("lenet seed 0:")]
    assert [line.split("; status")[0] for line in resumed] == [line.split("; status")[0] for line in reference]

    history = (seed_dir / "history.csv").read_text()
    with pytest.raises(SystemExit) as stopped:  # another architecture's calibration must not continue this one
        calibrate.main(["--arch", "custom", *argv[2:], "--out", str(tmp_path / "cal")])
    assert stopped.value.code == 2
    assert "the run was started with architecture lenet (not custom)" in capsys.readouterr().err
    assert (seed_dir / "history.csv").read_text() == history


def test_the_export_benchmark_loads_every_format_it_writes(tiny_model_file, capsys):
    # the SavedModel it exports itself must load (a SavedModel needs unsafe=True since it can carry code)
    bench_export = load_script("bench_export")
    bench_export.main([str(tiny_model_file), "--repeats", "1", "--data", "synthetic:size=120,seed=3",
                       "--format", "savedmodel", "--format", "onnx"])
    rows = [line.split(" | ")[:2] for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows == [["| savedmodel", "none"], ["| onnx", "none"], ["| onnx", "int8"]]


def internal_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of each import of fer_zoo's insides: a submodule, or a name of fer_zoo that is one."""
    import fer_zoo

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fer_zoo."):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.module == "fer_zoo":
            found += [(node.lineno, f"fer_zoo.{a.name}") for a in node.names if a.name not in fer_zoo.__all__]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("fer_zoo.")]
    return found


def test_internal_imports_are_told_apart_from_the_public_api():
    assert internal_imports("from fer_zoo import train, plugins\nimport fer_zoo.quiet\nfrom fer_zoo.data import x") == [
        (1, "fer_zoo.plugins"), (2, "fer_zoo.quiet"), (3, "fer_zoo.data")]


def test_scripts_use_the_public_api_or_say_why_not():
    # a script that reaches inside fer_zoo says why: on that line, or in a comment line above it or above
    # the run of imports it is part of
    unexplained = []
    for path in sorted((ROOT / "scripts").glob("*.py")):
        lines = ["", *path.read_text().splitlines()]
        for number, module in internal_imports(path.read_text()):
            above = number - 1
            while lines[above].strip().startswith(("from fer_zoo", "import fer_zoo")) and "#" not in lines[above]:
                above -= 1
            if "#" not in lines[number] and not lines[above].strip().startswith("#"):
                unexplained.append(f"{path.name}:{number}: {module}")
    assert unexplained == []
