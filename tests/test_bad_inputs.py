"""Every mistake a user can make is one clear line: exit status 2, exactly one `fer-zoo: error:` line
naming the problem (the file, row, flag or variable), no traceback, and nothing written that a later run
would trust. One table of bad inputs of every kind: flags, CSVs, image folders, photos and videos, model
files, run directories, recipe files, caches and the environment, outputs, plugins."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_zoo.data.fer2013 import write_csv
from tests import bad_values
from tests.conftest import png_claiming
from tests.test_plugins import FIGHTING

DATA = "synthetic:size=84,seed=1,preset=easy"
USAGE = ["Training"] * 8 + ["PublicTest"] * 3 + ["PrivateTest"] * 3


class Ctx:
    """What a case can make in its own folder."""

    def __init__(self, root: Path, shared: dict, monkeypatch):
        self.root, self.shared, self.monkeypatch = root, shared, monkeypatch

    def p(self, name: str) -> str:
        return str(self.root / name)

    def csv(self, mutate: Callable[[list[str]], list[str]] | None = None, name: str = "fer.csv",
            text: str | None = None, raw: bytes | None = None) -> str:
        path = self.root / name
        if raw is not None:
            path.write_bytes(raw)
            return str(path)
        if text is None:
            x = np.random.default_rng(0).integers(0, 256, (len(USAGE), 48, 48, 1), dtype=np.uint8)
            write_csv(path, x, np.arange(len(USAGE)) % 7, usage=USAGE)
            lines = path.read_text().splitlines()
            text = "\n".join(mutate(lines) if mutate else lines) + "\n"
        path.write_text(text, encoding="utf-8")
        return str(path)

    def folder(self, classes=("happy", "sad"), splits=("train", "test"), per_class=2, name="faces") -> Path:
        root = self.root / name
        for split in splits:
            for cls in classes:
                (root / split / cls).mkdir(parents=True, exist_ok=True)
                for i in range(per_class):
                    Image.new("L", (48, 48), 40 * i).save(root / split / cls / f"{i}.png")
        return root

    def file(self, name: str, content: bytes = b"") -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return str(path)

    def model(self, kind: str = "tiny") -> str:
        source = self.shared[kind]
        target = self.root / source.name
        shutil.copy(source, target)
        return str(target)

    def run(self) -> Path:
        target = self.root / "run"
        shutil.copytree(self.shared["run"], target)
        return target

    def env(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)

    def plugin(self, source: str) -> None:
        self.shared["install_plugin"]("case-plugin", source)


@dataclass
class Case:
    id: str
    setup: Callable[[Ctx], list[str]]
    message: str  # a fragment the one error line must contain
    code: int = 2


def _csv_case(id_, mutate, message):
    return Case(id_, lambda c: ["data", "inspect", c.csv(mutate)], message)


def _row(lines, i, new):
    return lines[:i] + [new] + lines[i + 1:]


def _first_pixel(line: str, value: str) -> str:
    """The row with its first pixel value replaced."""
    emotion, rest = line.split(",", 1)
    pixels, usage = rest.rsplit(",", 1)
    return f"{emotion},{value}{pixels[pixels.index(' '):]},{usage}"


BROKEN_PLUGIN_HOOK = """
import fer_zoo
@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    raise RuntimeError("the plugin's own bug")
"""

EXIT_PLUGIN = "import sys\nsys.exit(3)\n"

# bench.json as `bench lenet --data DATA --budget smoke --precision float32` writes it
BENCH_JSON = {"data": DATA, "budget": "smoke", "seeds": 1, "epochs": None, "batch_size": None, "precision": "float32",
              "pretrained": False, "fine_tune": False, "ensemble": False}


def _bench_in(c: Ctx, bench_json: str) -> list[str]:
    """A bench of lenet into an --out that already holds ``bench_json``."""
    c.file("b/bench.json", bench_json.encode())
    return ["bench", "lenet", "--data", DATA, "--budget", "smoke", "--precision", "float32", "--out", c.p("b")]


CASES = [
    # --- flags -------------------------------------------------------------------------------------
    Case("unknown-flag", lambda c: ["list", "--bogus"], "No such option: --bogus"),
    Case("list-no-match", lambda c: ["list", "nosuch*"], "no architecture matches nosuch* (installed: alexnet48,"),
    Case("list-excluded-all", lambda c: ["list", "lenet", "--exclude", "len*"],
         "no architecture matches lenet --exclude len*"),
    Case("info-no-name", lambda c: ["info"], "Missing argument 'NAME'"),
    Case("info-unknown-arch", lambda c: ["info", "nosuchnet"], "unknown architecture 'nosuchnet'"),
    Case("info-close-match", lambda c: ["info", "custon"], "did you mean custom"),
    Case("info-shape-2d", lambda c: ["info", "custom", "--input-shape", "48x48"], "--input-shape: expected HxWxC"),
    Case("info-shape-words", lambda c: ["info", "custom", "--input-shape", "axbxc"], "--input-shape"),
    Case("info-shape-zero", lambda c: ["info", "custom", "--input-shape", "0x48x1"], "--input-shape"),
    Case("info-one-class", lambda c: ["info", "custom", "--num-classes", "1"], "--num-classes"),
    Case("info-classes-word", lambda c: ["info", "custom", "--num-classes", "x"], "--num-classes"),
    Case("train-no-arch", lambda c: ["train"], "give an architecture"),
    Case("train-unknown-arch", lambda c: ["train", "nosuchnet", "--out", c.p("o")], "unknown architecture"),
    Case("train-precision", lambda c: ["train", "lenet", "--precision", "float8", "--out", c.p("o")],
         "--precision must be one of"),
    Case("train-recipe-name", lambda c: ["train", "lenet", "--recipe", "fancy", "--data", DATA, "--out", c.p("o")],
         "unknown recipe 'fancy'"),
    Case("train-class-weights", lambda c: ["train", "lenet", "--class-weights", "odd", "--out", c.p("o")],
         "--class-weights must be none or balanced"),
    Case("train-epochs-0", lambda c: ["train", "lenet", "--epochs", "0"], "--epochs"),
    Case("train-batch-0", lambda c: ["train", "lenet", "--batch-size", "0"], "--batch-size"),
    Case("train-lr-negative", lambda c: ["train", "lenet", "--lr", "-1", "--data", DATA, "--out", c.p("o")],
         "--lr must be a positive number, not -1"),
    Case("train-lr-nan", lambda c: ["train", "lenet", "--lr", "nan", "--data", DATA, "--out", c.p("o")],
         "--lr must be a positive number, not nan"),
    Case("train-optimizer", lambda c: ["train", "lenet", "--optimizer", "rmsprop", "--data", DATA, "--out", c.p("o")],
         "unknown optimizer 'rmsprop'"),
    Case("train-smoothing", lambda c: ["train", "lenet", "--label-smoothing", "2"], "--label-smoothing"),
    Case("train-resume-missing", lambda c: ["train", "--resume", c.p("no/such/run")], "not a run directory"),
    Case("bench-nothing", lambda c: ["bench"], "--all"),
    Case("bench-no-match", lambda c: ["bench", "nosuch*", "--out", c.p("b")], "no architecture matches nosuch*"),
    Case("bench-budget", lambda c: ["bench", "lenet", "--budget", "huge", "--data", DATA, "--out", c.p("b")],
         "--budget must be one of"),
    Case("bench-seeds-0", lambda c: ["bench", "lenet", "--seeds", "0"], "--seeds"),
    Case("bench-recipe", lambda c: ["bench", "lenet", "--recipe", "fast", "--data", DATA, "--out", c.p("b")],
         "unknown recipe 'fast'"),
    Case("bench-executor", lambda c: ["bench", "lenet", "--executor", "dask", "--data", DATA, "--out", c.p("b")],
         "--executor must be local or ray, got 'dask'"),
    Case("bench-jobs-0", lambda c: ["bench", "lenet", "--jobs", "0"], "--jobs"),
    Case("bench-jobs-with-ray", lambda c: ["bench", "lenet", "--executor", "ray", "--jobs", "2", "--out", c.p("b")],
         "--jobs is for --executor local"),
    Case("bench-devices", lambda c: ["bench", "lenet", "--devices", "many", "--data", DATA, "--out", c.p("b")],
         "--devices must be a number of devices or 'all', got 'many'"),
    Case("bench-devices-all-on-ray", lambda c: ["bench", "lenet", "--executor", "ray", "--devices", "all",
                                                "--out", c.p("b")], "--devices all with --executor ray"),
    Case("bench-devices-absent", lambda c: ["bench", "lenet", "--devices", "3", "--data", DATA, "--out", c.p("b")],
         "--devices 3: this machine has 1"),
    # --- bench and report inputs ---------------------------------------------------------------------
    Case("bench-config-differs", lambda c: [*_bench_in(c, json.dumps(BENCH_JSON)), "--recipe", "seed"],
         "b/ holds a bench of another config: recipe each row's default → seed; pass --out DIR for a new bench"),
    Case("bench-config-differs-each", lambda c: [*_bench_in(c, json.dumps(BENCH_JSON)), "--seeds", "3", "--epochs",
                                                 "2"], "another config: seeds 1 → 3, epochs none → 2; pass --out"),
    Case("bench-json-truncated", lambda c: _bench_in(c, json.dumps(BENCH_JSON)[:30]), "bench.json: unreadable ("),
    Case("bench-json-not-object", lambda c: _bench_in(c, "[1, 2]"), "bench.json: not a fer-zoo bench file"),
    Case("bench-precision", lambda c: ["bench", "lenet", "--precision", "float8", "--data", DATA, "--out", c.p("b")],
         "--precision must be one of float32, mixed_float16, mixed_bfloat16, got 'float8'"),
    Case("bench-data-no-val", lambda c: ["bench", "lenet", "--data", c.csv(lambda lines: [
        line.replace("PublicTest", "Training") for line in lines]), "--out", c.p("b")], "its val split is empty, and a bench needs images in train, val, test"),
    Case("report-rows-not-objects", lambda c: ["report", c.file("r/results.json", json.dumps(
        {"environment": {}, "rows": [1, 2]}).encode()).removesuffix("/results.json")],
         'results.json: row 1 of "rows" is not a bench row'),
    Case("report-rows-not-a-list", lambda c: ["report", c.file("r/results.json", json.dumps(
        {"environment": {}, "rows": {"a": 1}}).encode()).removesuffix("/results.json")],
         'results.json: not a fer-zoo bench result ("environment" must be an object and "rows" a list)'),
    Case("report-results-truncated", lambda c: ["report", c.file("r/results.json", b'{"rows": [{"mo').removesuffix(
        "/results.json")], "results.json: not a fer-zoo bench result ("),
    Case("train-devices-absent", lambda c: ["train", "lenet", "--devices", "4", "--data", DATA, "--out", c.p("o")],
         "--devices 4: this machine has 1"),
    Case("evaluate-missing", lambda c: ["evaluate", c.p("no/such/model.keras")], "no such model file"),
    Case("evaluate-split", lambda c: ["evaluate", c.model(), "--split", "dev", "--data", DATA],
         "--split must be train, val or test"),
    Case("evaluate-tta", lambda c: ["evaluate", c.model(), "--tta", "rotate", "--data", DATA],
         "--tta must be one of"),
    Case("evaluate-runtime", lambda c: ["evaluate", c.model(), "--runtime", "fast", "--data", DATA],
         "--runtime must be one of"),
    Case("predict-no-inputs", lambda c: ["predict", c.model()], "Missing argument 'INPUTS'"),
    Case("predict-json-csv", lambda c: ["predict", c.model(), c.file("a.png"), "--json", "--csv"],
         "--json and --csv: choose one"),
    Case("predict-batch-0", lambda c: ["predict", c.model(), c.file("a.png"), "--batch-size", "0"], "--batch-size"),
    Case("predict-detector", lambda c: ["predict", c.model(), c.file("a.png"), "--detector", "nosuch"],
         "--detector must be auto or one of"),
    Case("predict-classes-count", lambda c: ["predict", c.model(), c.file("a.png"), "--classes", "a,b"],
         "--classes: 2 names given, the model predicts 7"),
    Case("export-format", lambda c: ["export", c.model(), "--format", "zip", "--out", c.p("m.zip")],
         "--format must be one of"),
    Case("export-suffix", lambda c: ["export", c.model(), "--format", "onnx", "--out", c.p("m.tflite")],
         "must end in .onnx"),
    Case("export-quantize", lambda c: ["export", c.model(), "--format", "tflite", "--out", c.p("m.tflite"),
                                       "--quantize", "int4"], "--quantize must be one of"),
    Case("export-quantize-format", lambda c: ["export", c.model(), "--format", "keras", "--out", c.p("m.keras"),
                                              "--quantize", "int8"], "--quantize int8 is available for"),
    Case("export-exists", lambda c: ["export", c.model(), "--format", "onnx", "--out", c.file("m.onnx", b"x")],
         "exists; pass --force"),
    Case("new-plugin-name", lambda c: ["new-plugin", "Bad Name", "--out", c.p("x")], "use lower-case letters"),
    Case("new-plugin-full", lambda c: ["new-plugin", "ok", "--out", str(Path(c.file("full/keep.txt")).parent)],
         "not empty"),
    # --- --data specs --------------------------------------------------------------------------------
    Case("data-unknown-source", lambda c: ["data", "inspect", "nosuchsource:x=1"], "no such dataset"),
    Case("data-missing-file", lambda c: ["data", "inspect", c.p("no/such.csv")], "no such file or folder"),
    Case("data-no-equals", lambda c: ["data", "inspect", "synthetic:size"], "expected key=value"),
    Case("synthetic-size-word", lambda c: ["data", "inspect", "synthetic:size=abc"], "option size must be an integer"),
    Case("synthetic-size-tiny", lambda c: ["data", "inspect", "synthetic:size=3"], "size must be an integer in [7,"),
    Case("synthetic-difficulty", lambda c: ["data", "inspect", "synthetic:difficulty=extreme"], "difficulty must be"),
    Case("synthetic-unknown-option", lambda c: ["data", "inspect", "synthetic:colour=1"],
         "synthetic has no option 'colour' (its options: preset, size, difficulty, seed, imbalance, label_noise)"),
    Case("synthetic-preset", lambda c: ["data", "inspect", "synthetic:preset=hard"], "preset must be one of"),
    Case("synthetic-noise", lambda c: ["data", "inspect", "synthetic:label_noise=2"],
         "label_noise must be a finite number in [0, 1]"),
    Case("synthetic-imbalance", lambda c: ["data", "inspect", "synthetic:imbalance=weird"], "imbalance must be"),
    Case("fer2013-unknown-option", lambda c: ["data", "inspect", f"fer2013:path={c.csv()},colour=1"],
         "fer2013 has no option 'colour' (its options: path, skip_bad_rows,"),
    Case("fer2013-fraction", lambda c: ["data", "inspect", f"fer2013:path={c.csv(lambda l: [x.rsplit(',', 1)[0] for x in l])},val_fraction=2"],
         "dataset option val_fraction must be a finite number in [0, 1), got '2'"),
    # --- NAME:key=value specs: the one parser of --data and --detector (repeated, empty, typed) ------------
    Case("spec-data-repeated-key", lambda c: ["data", "inspect", "synthetic:size=10,size=20"],
         "--data 'synthetic:size=10,size=20': option 'size' is given twice ('10' and '20')"),
    Case("spec-data-empty-value", lambda c: ["data", "inspect", "synthetic:seed="],
         "--data 'synthetic:seed=': option 'seed' has no value"),
    Case("spec-data-empty-path", lambda c: ["data", "inspect", "fer2013:path="],
         "--data 'fer2013:path=': option 'path' has no value"),
    Case("spec-data-bool-word", lambda c: ["data", "inspect", "fer2013:path=x.csv,skip_bad_rows=maybe"],
         "--data 'fer2013:path=x.csv,skip_bad_rows=maybe': dataset option skip_bad_rows must be true or false"),
    Case("spec-data-close-name", lambda c: ["data", "inspect", "synthetc:size=10"],
         "--data 'synthetc:size=10': no such dataset; did you mean synthetic?"),
    Case("spec-detector-repeated-key", lambda c: ["predict", c.model(), str(_photos(c)), "--detector",
                                                  "haar:min_size=30,min_size=40"],
         "--detector 'haar:min_size=30,min_size=40': option 'min_size' is given twice ('30' and '40')"),
    Case("spec-detector-empty-value", lambda c: ["predict", c.model(), str(_photos(c)), "--detector", "haar:min_size="],
         "--detector 'haar:min_size=': option 'min_size' has no value"),
    Case("spec-detector-word", lambda c: ["predict", c.model(), str(_photos(c)), "--detector", "haar:min_size=big"],
         "--detector 'haar:min_size=big': detector option min_size must be an integer in [1, 65536], got 'big'"),
    Case("spec-detector-unknown-key", lambda c: ["predict", c.model(), str(_photos(c)), "--detector", "haar:colour=1"],
         "--detector 'haar:colour=1': haar has no option 'colour' (its options: min_size, scale_factor, min_neighbors)"),
    Case("spec-detector-close-name", lambda c: ["predict", c.model(), str(_photos(c)), "--detector", "haaar"],
         "got 'haaar'; did you mean haar?"),
    # --- numbers out of range ---------------------------------------------------------------------
    _csv_case("csv-pixel-huge", lambda l: _row(l, 2, _first_pixel(l[2], "1" + "0" * 30)),
              "line 3: pixel value above 255"),
    Case("ferplus-vote-huge", lambda c: _ferplus(c, {3: "1" + "0" * 30}), "line 5: vote count neutral='1000000"),
    Case("ferplus-vote-inf", lambda c: _ferplus(c, {3: "inf"}), "line 5: vote count neutral='inf' must be a whole"),
    Case("ferplus-vote-empty", lambda c: _ferplus(c, {3: ""}), "line 5: vote count neutral='' must be a whole"),
    Case("ferplus-none-kept", lambda c: _ferplus(c, base="1"), "no row has a FER+ majority label (kept 0 of 14"),
    Case("train-seed-negative", lambda c: ["train", "lenet", "--data", DATA, "--seed", "-1", "--out", c.p("o")],
         "--seed must be an integer in [0, 4294967295], got -1"),
    Case("train-seed-2-64", lambda c: ["train", "lenet", "--data", DATA, "--seed", str(2**64), "--out", c.p("o")],
         "--seed must be an integer in [0, 4294967295], got 18446744073709551616"),
    Case("synthetic-seed-negative", lambda c: ["data", "inspect", "synthetic:seed=-1"],
         "dataset option seed must be an integer in [0, 4294967295], got '-1'"),
    Case("synthetic-seed-2-64", lambda c: ["data", "inspect", f"synthetic:seed={2**64}"],
         "dataset option seed must be an integer in [0, 4294967295]"),
    Case("synthetic-size-huge", lambda c: ["data", "inspect", f"synthetic:size={10**14}"],
         "dataset option size must be an integer in [7, 1000000], got '100000000000000'"),
    Case("fer2013-split-seed", lambda c: ["data", "inspect", f"fer2013:path={_no_usage(c)},seed={2**64}"],
         "dataset option seed must be an integer in [0, 4294967295]"),
    Case("fer2013-fraction-nan", lambda c: ["data", "inspect", f"fer2013:path={_no_usage(c)},test_fraction=nan"],
         "dataset option test_fraction must be a finite number in [0, 1), got 'nan'"),
    Case("fer2013-usage-with-fraction", lambda c: ["data", "inspect", f"fer2013:path={c.csv()},val_fraction=0.2"],
         "has a Usage column, which fixes the splits; val_fraction, test_fraction and seed apply to a CSV without"),
    Case("csv-cr-line-ends", lambda c: ["data", "inspect", _cr_only(c)], "fer.csv: its lines end in a bare carriage"),
    Case("folder-val-fraction-negative", lambda c: ["data", "inspect", f"folder:path={c.folder()},val_fraction=-0.5"],
         "dataset option val_fraction must be a finite number in (0, 1), got '-0.5'"),
    Case("folder-test-fraction-with-splits", lambda c: ["data", "inspect",
                                                        f"folder:path={c.folder()},test_fraction=0.2"],
         "faces has split folders (test/, train/), so it does not apply"),
    Case("folder-val-fraction-with-val", lambda c: ["data", "inspect", "folder:path={},val_fraction=0.2".format(
        c.folder(splits=("train", "val", "test")))],
         "faces has split folders (test/, train/, val/), so it does not apply"),
    Case("predict-margin-inf", lambda c: ["predict", c.model(), str(_photos(c)), "--margin", "inf"],
         "Invalid value for '--margin': Input should be less than or equal to 10"),
    Case("explain-margin-nan", lambda c: ["explain", c.model(), str(_photos(c)), "--margin", "nan", "--out", c.p("h")],
         "Invalid value for '--margin': Input should be less than or equal to 10"),
    Case("detector-scale-nan", lambda c: ["predict", c.model(), str(_photos(c)), "--detector", "haar:scale_factor=nan"],
         "detector option scale_factor must be a finite number in [1.01, 4], got 'nan'"),
    Case("detector-min-size-huge", lambda c: ["predict", c.model(), str(_photos(c)), "--detector",
                                              f"haar:min_size={10**12}"],
         "detector option min_size must be an integer in [1, 65536]"),
    Case("evaluate-scale-nan", lambda c: ["evaluate", c.model(), "--data", DATA, "--scale", "nan"],
         "--scale must be a finite number, got nan"),
    Case("evaluate-offset-inf", lambda c: ["predict", c.model(), str(_photos(c)), "--offset", "inf"],
         "--offset must be a finite number, got inf"),
    Case("evaluate-empty-split", lambda c: ["evaluate", c.model(), "--split", "test", "--data",
                                            c.csv(lambda l: [x.replace("PrivateTest", "PublicTest") for x in l])],
         "its test split is empty"),
    Case("train-no-test-split", lambda c: ["train", "lenet", "--data", str(c.folder(splits=("train", "val"))), "--out",
                                           c.p("o")], "has no test split, which training needs"),
    # --- probe: flags, data, explain ----------------------------------------------------------------
    Case("explain-dense-only", lambda c: ["explain", _dense_only(c), str(_photos(c)), "--no-detect", "--out", c.p("h")],
         "has no layer with a spatial output to explain"),
    Case("folder-root-of-disk", lambda c: ["data", "inspect", "/"], "unknown class folder"),
    Case("spec-name-too-long", lambda c: ["data", "inspect", "synthetic:" + "a=1," * 2000],
         "fer-zoo: error: --data 'synthetic:a=1,a=1,"),
    Case("folder-class-case-twice", lambda c: ["data", "inspect", str(c.folder(classes=("happy", "Happy", "sad")))],
         "class folders 'Happy' and 'happy' are the same class 'happy'"),
    Case("bench-seeds-huge", lambda c: ["bench", "lenet", "--seeds", "1000000", "--out", c.p("b")],
         "--seeds must be an integer in [1, 100], got 1000000"),
    Case("bench-jobs-huge", lambda c: ["bench", "lenet", "--jobs", "1000000000", "--out", c.p("b")],
         "--jobs must be an integer in [1, 64], got 1000000000"),
    Case("bench-budget-empty", lambda c: ["bench", "lenet", "--budget", "", "--out", c.p("b")],
         "--budget must be one of smoke, quick, paper, got ''"),
    Case("bench-one-pattern-matches-nothing", lambda c: ["bench", "lenet", "nosuch", "--out", c.p("b")],
         "no architecture matches nosuch (installed: "),
    Case("train-track-empty", lambda c: ["train", "lenet", "--data", DATA, "--track", "", "--out", c.p("o")],
         "--track '': an empty name"),
    Case("train-track-trailing-comma", lambda c: ["train", "lenet", "--data", DATA, "--track", "mlflow,",
                                                  "--out", c.p("o")], "--track 'mlflow,': an empty name"),
    Case("train-track-comma", lambda c: ["train", "lenet", "--data", DATA, "--track", ",", "--out", c.p("o")],
         "--track ',': an empty name"),
    Case("train-track-twice", lambda c: ["train", "lenet", "--data", DATA, "--track", "mlflow,mlflow",
                                         "--out", c.p("o")], "--track 'mlflow,mlflow': mlflow is given twice"),
    Case("train-recipe-empty", lambda c: ["train", "lenet", "--data", DATA, "--recipe", "", "--out", c.p("o")],
         "--recipe '': an empty name; give seed (the paper's)"),
    Case("bench-recipe-empty", lambda c: ["bench", "lenet", "--recipe", "", "--out", c.p("b")],
         "--recipe '': an empty name"),
    Case("train-seed-fraction", lambda c: ["train", "lenet", "--data", DATA, "--seed", "1.0", "--out", c.p("o")],
         "Invalid value for '--seed': must be an integer, got '1.0'"),
    Case("train-subset-arabic-digit", lambda c: ["train", "lenet", "--data", DATA, "--subset", "\u0663",
                                                 "--out", c.p("o")],
         "Invalid value for '--subset': must be an integer at least 1, got '\u0663'"),
    Case("bench-epochs-fraction", lambda c: ["bench", "lenet", "--epochs", "1.5", "--out", c.p("b")],
         "Invalid value for '--epochs': must be an integer at least 1, got '1.5'"),
    Case("folder-png-short-data", lambda c: ["data", "inspect", str(c.folder())] if c.file(
        "faces/train/happy/x.png", png_claiming(1, 1_000_000)) else [],
         "x.png: unreadable image (OSError: truncated: its pixel data holds"),
    Case("predict-png-short-data", lambda c: ["predict", c.model(), c.file("x.png", png_claiming(1, 1_000_000)),
                                              "--no-detect", "--strict"],
         "x.png: cannot read image: truncated: its pixel data holds"),
    _csv_case("csv-pixels-column-twice", lambda l: ["emotion,pixels,pixels,Usage"] + l[1:],
              "column 'pixels' appears 2 times in its header"),
    _csv_case("csv-emotion-column-twice", lambda l: ["emotion,emotion,pixels,Usage"] + l[1:],
              "column 'emotion' appears 2 times in its header"),
    Case("folder-val-fraction-zero", lambda c: ["data", "inspect", "folder:path={},val_fraction=0".format(
        c.folder(splits=("train", "test")))], "dataset option val_fraction must be a finite number in (0, 1), got '0'"),
    Case("folder-flat-val-fraction-zero", lambda c: ["data", "inspect", "folder:path={},val_fraction=0".format(
        c.folder(splits=("",), per_class=10))],
         "dataset option val_fraction must be a finite number in (0, 1), got '0'"),
    Case("predict-classes-empty-names", lambda c: ["predict", c.model(), str(_photos(c)), "--classes", ",,,,,,"],
         "--classes ',,,,,,': an empty class name"),
    Case("predict-classes-empty", lambda c: ["predict", c.model(), str(_photos(c)), "--classes", ""],
         "--classes '': an empty class name"),
    Case("predict-classes-repeated", lambda c: ["predict", c.model(), str(_photos(c)), "--classes", "a,a,a,a,a,a,a"],
         "--classes 'a,a,a,a,a,a,a': 'a' is given twice"),
    Case("predict-detector-empty", lambda c: ["predict", c.model(), str(_photos(c)), "--detector", ""],
         "--detector must be auto or one of "),
    Case("evaluate-one-model-weights-nan", lambda c: ["evaluate", c.model(), "--data", DATA, "--weights", "nan"],
         "--weights: weighs an ensemble's members; with one model there is nothing to weigh (got nan)"),
    Case("evaluate-one-model-weights-zero", lambda c: ["evaluate", c.model(), "--data", DATA, "--weights", "0"],
         "with one model there is nothing to weigh"),
    Case("evaluate-model-trailing-slash", lambda c: ["evaluate", c.model() + "/", "--data", DATA],
         "tiny.keras/: not a folder"),
    Case("info-shape-arabic-digits", lambda c: ["info", "lenet", "--input-shape", "\u0664\u0668x48x1"],
         "--input-shape: expected HxWxC such as 48x48x1, got '\u0664\u0668x48x1'"),
    # --- FER2013 CSVs --------------------------------------------------------------------------------
    _csv_case("csv-no-pixels", lambda l: ["emotion,Usage"] + l[1:], "missing column(s) pixels"),
    _csv_case("csv-no-emotion", lambda l: ["pixels,Usage"] + l[1:], "missing column(s) emotion"),
    _csv_case("csv-short-row", lambda l: _row(l, 3, l[3].rsplit(" ", 1)[0] + ",Training"),
              "line 4: 2303 pixel values"),
    _csv_case("csv-long-row", lambda l: _row(l, 2, l[2].replace(",Training", " 7,Training")), "line 3: 2305 pixel"),
    _csv_case("csv-word-pixel", lambda l: _row(l, 2, l[2].replace(" ", " x", 1)), "line 3: non-numeric pixel"),
    _csv_case("csv-pixel-256", lambda l: _row(l, 4, _first_pixel(l[4], "256")), "line 5"),
    _csv_case("csv-negative-pixel", lambda l: _row(l, 2, _first_pixel(l[2], "-3")), "line 3"),
    _csv_case("csv-pixel-float", lambda l: _row(l, 2, _first_pixel(l[2], "12.5")), "line 3"),
    _csv_case("csv-emotion-7", lambda l: _row(l, 5, "7" + l[5][1:]), "line 6: emotion 7 out of range 0-6"),
    _csv_case("csv-emotion-negative", lambda l: _row(l, 5, "-1" + l[5][1:]), "line 6"),
    _csv_case("csv-emotion-float", lambda l: _row(l, 5, "3.5" + l[5][1:]), "line 6"),
    _csv_case("csv-emotion-empty", lambda l: _row(l, 5, l[5][1:]), "line 6"),
    _csv_case("csv-usage", lambda l: _row(l, 2, l[2].replace("Training", "Validation")), "line 3: unknown Usage"),
    _csv_case("csv-unicode-digit", lambda l: _row(l, 2, l[2].replace(" ", " ²", 1)), "line 3"),
    _csv_case("csv-empty-pixels", lambda l: _row(l, 2, "0,,Training"), "line 3"),
    _csv_case("csv-missing-field", lambda l: _row(l, 2, l[2].rsplit(",", 1)[0]), "line 3"),
    _csv_case("csv-header-only", lambda l: l[:1], "no data rows"),
    Case("csv-empty", lambda c: ["data", "inspect", c.csv(text="")], "empty file"),
    Case("csv-binary", lambda c: ["data", "inspect", c.csv(raw=b"\x89PNG\r\n\x1a\n\x00\x00garbage")], "fer.csv"),
    Case("csv-tabs", lambda c: ["data", "inspect", c.csv(lambda l: [x.replace(",", "\t") for x in l])],
         "missing column(s)"),
    Case("csv-escape-in-header", lambda c: ["data", "inspect", c.csv(lambda l: ["emotion,\x1b[31mpixels,Usage"] + l[1:])],
         "\\x1b[31mpixels"),
    Case("ferplus-alone", lambda c: ["data", "inspect", c.file("fer2013new.csv",
                                                                 b"Usage,Image name,neutral,happiness\n")],
         "is a FER+ label file"),
    Case("ferplus-missing-labels", lambda c: ["data", "inspect", f"ferplus:csv={c.csv()},labels={c.p('none.csv')}"],
         "none.csv"),
    Case("ferplus-mode", lambda c: ["data", "inspect", f"ferplus:csv={c.csv()},labels={c.csv(name='l.csv')},mode=odd"],
         "mode"),
    # --- image folders -------------------------------------------------------------------------------
    Case("folder-empty", lambda c: ["data", "inspect", str(Path(c.file("empty/.keep")).parent)],
         "no class or split folders"),
    Case("folder-unknown-class", lambda c: ["data", "inspect", str(c.folder(classes=("happy", "smirk")))],
         "unknown class folder 'smirk'"),
    Case("folder-empty-class", lambda c: [
        "data", "inspect", str(c.folder()), *([] if [f.unlink() for f in (c.root / "faces/test/sad").iterdir()] else [])],
         "empty class folder"),
    Case("folder-corrupt-image", lambda c: ["data", "inspect", str(c.folder()),
                                            *([] if c.file("faces/test/sad/0.png", b"not a png") else [])],
         "unreadable image"),
    Case("folder-zero-byte", lambda c: ["data", "inspect", str(c.folder()),
                                        *([] if c.file("faces/train/happy/0.png") is None else [])], "unreadable image"),
    Case("folder-no-classes-in-split", lambda c: ["data", "inspect", str(Path(c.file("f/train/.keep")).parents[1])],
         "no class folders"),
    Case("folder-bomb", lambda c: ["data", "inspect", str(c.folder()),
                                   *([] if c.file("faces/test/sad/0.png", png_claiming(10_000, 10_000)) else [])],
         "DecompressionBombWarning"),
    Case("folder-option", lambda c: ["data", "inspect", f"folder:path={c.folder()},colour=1"],
         "folder has no option 'colour' (its options: path, skip_bad_rows,"),
    Case("folder-path-is-file", lambda c: ["data", "inspect", f"folder:path={c.csv()}"], "no such folder"),
    # no path= at all would have been the current folder
    Case("fer2013-no-path", lambda c: ["data", "inspect", "fer2013"], "dataset 'fer2013' needs path=, e.g. --data "
         "fer2013:path=fer2013.csv"),
    Case("folder-no-path", lambda c: ["train", "lenet", "--data", "folder:skip_bad_rows=true", "--out", c.p("o")],
         "dataset 'folder' needs path="),
    Case("ferplus-no-csv", lambda c: ["data", "inspect", f"ferplus:labels={c.csv()}"], "dataset 'ferplus' needs csv="),
    # --- photos and videos (predict --strict stops at the first bad input) --------------------------
    Case("photo-missing", lambda c: ["predict", c.model(), c.p("gone.png"), "--strict"], "gone.png: no such file"),
    Case("photo-garbage", lambda c: ["predict", c.model(), c.file("bad.png", b"nope"), "--strict"],
         "bad.png: cannot read image"),
    Case("photo-empty", lambda c: ["predict", c.model(), c.file("empty.jpg"), "--strict"], "empty.jpg"),
    Case("photo-too-big", lambda c: ["predict", c.model(), _big_png(c), "--strict", "--max-pixels", "100"],
         "over the limit of 100"),
    Case("video-garbage", lambda c: ["predict", c.model(), c.file("clip.mp4", b"\x00" * 2048), "--strict"],
         "clip.mp4"),
    Case("annotate-inside-inputs", lambda c: ["predict", c.model(), str(_photos(c)), "--annotate",
                                              str(_photos(c) / "out")], "inside the input folder"),
    Case("annotate-parent-input", lambda c: ["predict", c.model(), str(_photos(c)), "--annotate", str(_photos(c)),
                                             "--force"], "is the input"),
    Case("annotate-not-empty", lambda c: ["predict", c.model(), str(_photos(c)), "--annotate",
                                          str(Path(c.file("ann/keep.txt")).parent)], "not an empty folder"),
    Case("annotate-is-file", lambda c: ["predict", c.model(), str(_photos(c)), "--annotate", c.file("ann.png")],
         "not an empty folder"),
    # --- model files ---------------------------------------------------------------------------------
    Case("model-not-zip", lambda c: ["evaluate", c.file("m.keras", b"not a zip"), "--data", DATA],
         "not a complete .keras file"),
    Case("model-truncated", lambda c: ["evaluate", _truncated(c), "--data", DATA], "truncated or something else"),
    Case("model-lambda", lambda c: ["evaluate", c.model("lambda"), "--data", DATA], "--unsafe"),
    Case("model-h5-garbage", lambda c: ["evaluate", c.file("m.h5", b"\x89HDF\r\n\x1a\n garbage"), "--data", DATA],
         "cannot load model"),
    Case("model-onnx-garbage", lambda c: ["evaluate", c.file("m.onnx", b"garbage"), "--data", DATA],
         "cannot load ONNX model"),
    Case("model-tflite-garbage", lambda c: ["evaluate", c.file("m.tflite", b"garbage"), "--data", DATA],
         "cannot load TFLite model"),
    Case("model-txt", lambda c: ["evaluate", c.file("notes.txt", b"hi"), "--data", DATA], "not a model"),
    Case("model-empty-dir", lambda c: ["evaluate", str(Path(c.file("d/.keep")).parent), "--data", DATA],
         "not a model"),
    Case("model-savedmodel-safe", lambda c: ["evaluate", str(Path(c.file("sm/saved_model.pb", b"x")).parent),
                                             "--data", DATA], "pass --unsafe"),
    Case("model-other-classes", lambda c: ["evaluate", c.model("five"), "--data", DATA],
         "the data also has angry, disgust, fear, happy, sad, surprise, neutral, which it cannot answer"),
    Case("model-arch-no-weights", lambda c: ["predict", "lenet", c.file("a.png")], "ships no weights"),
    Case("model-unknown-name", lambda c: ["predict", "nosuchnet", c.file("a.png")], "no architecture of that name"),
    Case("export-onnx-source", lambda c: ["export", c.file("m.onnx", b"garbage"), "--format", "tflite", "--out",
                                          c.p("x.tflite")], "cannot load ONNX model"),
    Case("export-lambda", lambda c: ["export", c.model("lambda"), "--format", "onnx", "--out", c.p("x.onnx")],
         "--unsafe"),
    Case("predict-lambda", lambda c: ["predict", c.model("lambda"), c.file("a.png")], "--unsafe"),
    Case("h5-lambda", lambda c: ["evaluate", c.model("lambda_h5"), "--data", DATA], "--unsafe"),
    Case("init-from-lambda", lambda c: ["train", "lenet", "--data", DATA, "--init-from", c.model("lambda"),
                                        "--out", c.p("o")], "--unsafe"),
    # --- models that load but are not classifiers of the expected shape ------------------------------
    Case("model-multi-output", lambda c: ["evaluate", _keras(c, "multi-output"), "--data", DATA],
         "multi-output.keras: not an image classifier: it has 1 input(s) and 2 output(s)"),
    Case("model-uint8-input", lambda c: ["evaluate", _keras(c, "uint8"), "--data", DATA],
         "uint8.keras: not an image classifier: its input takes uint8, not floats"),
    Case("explain-one-class", lambda c: ["explain", _keras(c, "one-class"), str(_photos(c)), "--out", c.p("heat")],
         "one-class.keras: not an image classifier: its output has 1 class"),
    Case("predict-nan-weights", lambda c: ["predict", _keras(c, "nan"), str(_photos(c))],
         "nan.keras: its weights hold NaN or infinite values"),
    Case("explain-nan-weights", lambda c: ["explain", _keras(c, "nan"), str(_photos(c)), "--out", c.p("heat")],
         "nan.keras: its weights hold NaN or infinite values"),
    Case("onnx-no-input", lambda c: ["evaluate", bad_values.onnx_model(c.root / "m.onnx", no_input=True),
                                     "--data", DATA],
         "m.onnx: not an image classifier: it has 0 input(s)"),
    Case("onnx-scalar-output", lambda c: ["evaluate", bad_values.onnx_model(c.root / "m.onnx", output_shape=()),
                                          "--data", DATA], "m.onnx: not an image classifier: its output is a scalar"),
    Case("onnx-uint8-input", lambda c: ["predict", bad_values.onnx_model(c.root / "m.onnx", input_type="uint8"),
                                        str(_photos(c))], "m.onnx: not an image classifier: its input takes uint8"),
    Case("onnx-int64-input", lambda c: ["evaluate", bad_values.onnx_model(c.root / "m.onnx", input_type="int64"),
                                        "--data", DATA], "m.onnx: not an image classifier: its input takes int64"),
    Case("onnx-one-class", lambda c: ["evaluate", bad_values.onnx_model(c.root / "m.onnx", output_shape=("N", 1)),
                                      "--data", DATA], "m.onnx: not an image classifier: its output has 1 class"),
    Case("onnx-garbage-metadata", lambda c: ["evaluate", bad_values.onnx_model(c.root / "m.onnx", metadata="{oops"),
                                             "--data", DATA], "m.onnx: its metadata 'fer_zoo.class_names' must be"),
    Case("tflite-uint8-input", lambda c: ["evaluate", bad_values.uint8_tflite(c.root / "m.tflite"), "--data", DATA],
         "m.tflite: not an image classifier: its input takes uint8"),
    # --- run directories -----------------------------------------------------------------------------
    Case("resume-corrupt-config", lambda c: ["train", "--resume", str(_broken_run(c, "config.json", "{oops"))],
         "config.json: unreadable"),
    Case("resume-corrupt-state", lambda c: ["train", "--resume", str(_broken_run(c, "state.json", "{oops"))],
         "state.json: unreadable"),
    Case("resume-state-list", lambda c: ["train", "--resume", str(_broken_run(c, "state.json", "[1, 2]"))],
         "state.json: not a fer-zoo run file"),
    Case("resume-config-missing-keys", lambda c: ["train", "--resume", str(_broken_run(c, "config.json", "{}"))],
         "not a fer-zoo run config (missing architecture"),
    Case("resume-lambda-checkpoint", lambda c: ["train", "--resume", str(_lambda_checkpoint(c))], "--unsafe"),
    Case("resume-more-epochs", lambda c: ["train", "--resume", str(c.run()), "--epochs", "9"],
         "the run was started with --epochs 1 (not 9); a resumed run keeps its settings"),
    Case("resume-other-arch", lambda c: ["train", "custom", "--resume", str(c.run())],
         "architecture lenet (not custom)"),
    Case("resume-other-recipe-and-lr", lambda c: ["train", "--resume", str(c.run()), "--recipe", "seed", "--lr", "0.5"],
         "(not 0.5), --recipe adam (not seed)"),
    Case("resume-no-augment", lambda c: ["train", "--resume", str(c.run()), "--no-augment"],
         "augmentation on (not off)"),
    Case("resume-elsewhere", lambda c: ["train", "--resume", str(c.run()), "--out", c.p("other")], "drop --out"),
    Case("out-is-file", lambda c: ["train", "lenet", "--data", DATA, "--out", c.file("o.txt")],
         "exists and is not a directory"),
    Case("out-unrelated", lambda c: ["train", "lenet", "--data", DATA, "--out", str(Path(c.file("o/mine.txt")).parent)],
         "not empty and not a run of this config"),
    Case("out-finished", lambda c: ["train", "lenet", "--data", DATA, "--epochs", "1", "--batch-size", "32", "--out",
                                    str(c.run())], "already finished"),
    Case("out-under-file", lambda c: ["train", "lenet", "--data", DATA, "--out", c.file("f.txt") + "/run"],
         "cannot write there"),
    Case("init-from-missing", lambda c: ["train", "lenet", "--data", DATA, "--init-from", c.p("gone.keras"),
                                         "--out", c.p("o")], "no such model file"),
    Case("init-from-mismatch", lambda c: ["train", "custom", "--data", DATA, "--init-from", str(c.run()),
                                          "--out", c.p("o")], "do not fit this architecture"),
    Case("evaluate-run-without-best", lambda c: ["evaluate", str(_broken_run(c, "best.keras", None)), "--data", DATA],
         "a run directory with no best.keras (its model) in it"),
    # --- damaged run directories (each file checked where it is read: key, type, range, consistency) ---
    Case("resume-state-missing-key", lambda c: _resume(c, state=lambda s: s.pop("completed_epochs")),
         "state.json is damaged: completed_epochs is missing"),
    Case("resume-state-word", lambda c: _resume(c, state=lambda s: s.update(completed_epochs="three")),
         "state.json is damaged: completed_epochs must be a whole number, got 'three'"),
    Case("resume-state-fraction", lambda c: _resume(c, state=lambda s: s.update(completed_epochs=2.5)),
         "state.json is damaged: completed_epochs must be a whole number, got 2.5"),
    Case("resume-state-too-many", lambda c: _resume(c, state=lambda s: s.update(completed_epochs=99)),
         "state.json is damaged: completed_epochs must be between 0 and 1 (the run's epochs), got 99"),
    Case("resume-state-best-epoch", lambda c: _resume(c, state=lambda s: s.update(best_epoch=5)),
         "state.json is damaged: best_epoch must be between 1 and 1"),
    Case("resume-state-best-accuracy", lambda c: _resume(c, state=lambda s: s.update(best_val_accuracy="high")),
         "state.json is damaged: best_val_accuracy must be a number, got 'high'"),
    Case("resume-state-finished-word", lambda c: _resume(c, state=lambda s: s.update(finished="no")),
         "state.json is damaged: finished must be true or false, got 'no'"),
    Case("resume-state-null-checkpoint", lambda c: _resume(c, state=lambda s: s.update(checkpoint=None)),
         "state.json is damaged: checkpoint must be last-0001.keras (a file of this run), got null"),
    Case("resume-state-checkpoint-outside", lambda c: _resume(c, state=lambda s: s.update(
        checkpoint="../" + Path(c.model()).name)), "state.json is damaged: checkpoint must be last-0001.keras"),
    Case("resume-state-checkpoint-absent", lambda c: _resume(c, remove="last-0001.keras"),
         "state.json is damaged: checkpoint names last-0001.keras, which is not in"),
    Case("resume-state-folder", lambda c: _resume(c, folder="state.json"),
         "state.json is damaged: a folder where the file belongs"),
    Case("resume-history-word", lambda c: _resume(c, history=lambda l: [l[0], ",".join(["1", "abc",
                                                                                      *l[1].split(",")[2:]])]),
         "history.csv is damaged: line 2: loss must be a number, got 'abc'"),
    Case("resume-history-ragged", lambda c: _resume(c, history=lambda l: [l[0], l[1] + ",7"]),
         "history.csv is damaged: line 2: 13 fields, the header has 12"),
    Case("resume-history-binary", lambda c: _resume(c, history=b"\x89PNG\r\n\x1a\n\xff\x00epoch"),
         "history.csv is damaged: not text"),
    Case("resume-history-duplicate-epoch", lambda c: _resume(c, history=lambda l: [l[0], l[1], l[1]]),
         "history.csv is damaged: line 3: epoch 1 again where epoch 2 belongs"),
    Case("resume-history-missing-epoch", lambda c: _resume(c, history=lambda l: l[:1]),
         "history.csv is damaged: 0 epoch row(s), but state.json counts 1 completed epoch(s)"),
    Case("resume-history-gap", lambda c: _resume(c, history=lambda l: [l[0], "2" + l[1][1:]]),
         "history.csv is damaged: line 2: epoch 2 where epoch 1 belongs"),
    Case("resume-history-absent", lambda c: _resume(c, remove="history.csv"),
         "history.csv is damaged: missing, but state.json counts 1 completed epoch(s)"),
    Case("resume-config-seed-word", lambda c: _resume(c, config=lambda d: d.update(seed="zero")),
         "config.json is damaged: seed must be a whole number, got 'zero'"),
    Case("resume-config-precision", lambda c: _resume(c, config=lambda d: d.update(precision="float8")),
         "config.json is damaged: precision must be one of float32, mixed_float16, mixed_bfloat16, got 'float8'"),
    Case("resume-config-class-weights", lambda c: _resume(c, config=lambda d: d.update(class_weights="often")),
         "config.json is damaged: class_weights must be one of none, balanced, got 'often'"),
    Case("resume-config-optimizer", lambda c: _resume(c, config=lambda d: d["recipe"].update(optimizer="rmsprop")),
         "config.json is damaged: recipe.optimizer must be one of adam, adamw, sgd, got 'rmsprop'"),
    Case("resume-config-epochs-word", lambda c: _resume(c, config=lambda d: d["recipe"].update(epochs="many")),
         "config.json is damaged: recipe.epochs must be a whole number, got 'many'"),
    Case("resume-config-lr-negative", lambda c: _resume(c, config=lambda d: d["recipe"].update(learning_rate=-1)),
         "config.json is damaged: recipe.learning_rate must be above 0, got -1"),
    Case("resume-config-flip-word", lambda c: _resume(c, config=lambda d: d["recipe"]["augment"].update(flip="yes")),
         "config.json is damaged: recipe.augment.flip must be true or false, got 'yes'"),
    Case("resume-config-devices-0", lambda c: _resume(c, config=lambda d: d.update(devices=0)),
         "config.json is damaged: devices must be at least 1, got 0"),
    Case("resume-config-init-from-number", lambda c: _resume(c, config=lambda d: d.update(init_from=3)),
         "config.json is damaged: init_from must be text or null, got 3"),
    Case("resume-config-folder", lambda c: _resume(c, folder="config.json"),
         "config.json is damaged: a folder where the file belongs"),
    Case("resume-best-folder", lambda c: _resume(c, folder="best.keras"),
         "best.keras is damaged: a folder where the file belongs"),
    Case("evaluate-run-best-truncated", lambda c: ["evaluate", str(_resume(c, best=b"PK\x03\x04cut")[-1]),
                                                   "--data", DATA], "best.keras: not a complete .keras file"),
    Case("predict-run-best-folder", lambda c: ["predict", str(_resume(c, folder="best.keras")[-1]), c.file("a.png")],
         "run: not a model"),
    Case("export-run-best-truncated", lambda c: ["export", str(_resume(c, best=b"PK\x03\x04cut")[-1]), "--format",
                                                 "onnx", "--out", c.p("m.onnx")], "not a complete .keras file"),
    Case("init-from-run-best-truncated", lambda c: ["train", "lenet", "--data", DATA, "--init-from",
                                                    str(_resume(c, best=b"PK\x03\x04cut")[-1]), "--out", c.p("o")],
         "not a complete .keras file"),
    # --- recipe files --------------------------------------------------------------------------------
    Case("recipe-not-toml", lambda c: _recipe(c, "this is = = not toml"), "mine.toml"),
    Case("recipe-unknown-key", lambda c: _recipe(c, "learning_rat = 0.1"), "unknown key learning_rat"),
    Case("recipe-wrong-type", lambda c: _recipe(c, 'learning_rate = "fast"'), "learning_rate must be float"),
    Case("recipe-bool-batch", lambda c: _recipe(c, "batch_size = true"), "batch_size must be int"),
    Case("recipe-augment-not-table", lambda c: _recipe(c, "augment = 3"), "[augment] must be a table"),
    Case("recipe-augment-flip-number", lambda c: _recipe(c, "[augment]\nflip = 1"), "augment.flip must be bool"),
    Case("recipe-augment-key", lambda c: _recipe(c, "[augment]\nsparkle = 1"), "unknown key augment.sparkle"),
    Case("recipe-base", lambda c: _recipe(c, 'base = "fancy"'), "base is no registered recipe: 'fancy'"),
    Case("recipe-batch-0", lambda c: _recipe(c, "batch_size = 0"), "batch_size must be an integer in [1,"),
    Case("recipe-missing-file", lambda c: ["train", "lenet", "--data", DATA, "--recipe", c.p("gone.toml"),
                                           "--out", c.p("o")], "gone.toml"),
    # --- recipe values out of range ------------------------------------------------------------------
    Case("recipe-plateau-factor-1", lambda c: _recipe(c, "plateau_factor = 1.0"),
         "mine.toml: plateau_factor must be a finite number in (0, 1), got 1.0"),
    Case("recipe-plateau-factor-negative", lambda c: _recipe(c, "plateau_factor = -0.5"),
         "mine.toml: plateau_factor must be a finite number in (0, 1)"),
    Case("recipe-momentum", lambda c: _recipe(c, "momentum = 1.5"),
         "mine.toml: momentum must be a finite number in [0, 1]"),
    Case("recipe-erasing", lambda c: _recipe(c, "[augment]\nerasing = 2"),
         "mine.toml: augment.erasing must be a finite number in [0, 1]"),
    Case("recipe-base-list", lambda c: _recipe(c, 'base = ["modern"]'), "mine.toml: base must be a recipe's name"),
    Case("recipe-weight-decay-negative", lambda c: _recipe(c, "weight_decay = -1e-4"),
         "mine.toml: weight_decay must be a finite number in [0, 1)"),
    Case("recipe-clip-negative", lambda c: _recipe(c, "gradient_clip = -1"),
         "mine.toml: gradient_clip must be a finite number at least 0"),
    Case("recipe-precise-bn-negative", lambda c: _recipe(c, "precise_bn = -5"),
         "mine.toml: precise_bn must be an integer in [0,"),
    Case("recipe-smoothing-5", lambda c: _recipe(c, "label_smoothing = 5"),
         "mine.toml: label_smoothing must be a finite number in [0, 1)"),
    Case("recipe-smoothing-negative", lambda c: _recipe(c, "label_smoothing = -0.1"),
         "mine.toml: label_smoothing must be a finite number in [0, 1)"),
    Case("recipe-shift-100", lambda c: _recipe(c, "[augment]\nshift = 100"),
         "mine.toml: augment.shift must be a finite number in [0, 1]"),
    Case("recipe-rotation-720", lambda c: _recipe(c, "[augment]\nrotation_degrees = 720"),
         "mine.toml: augment.rotation_degrees must be a finite number in [0, 180]"),
    Case("recipe-lr-nan", lambda c: _recipe(c, "learning_rate = nan"),
         "mine.toml: learning_rate must be a finite number above 0"),
    Case("recipe-epochs-huge", lambda c: _recipe(c, f"epochs = {10**12}"),
         "mine.toml: epochs must be an integer in [1,"),
    # --- caches and the environment ----------------------------------------------------------------
    Case("cache-dir-is-file", lambda c: [*_env(c, "FER_ZOO_CACHE_DIR", c.file("cachefile")), "data", "inspect", DATA],
         "FER_ZOO_CACHE_DIR"),
    Case("cache-dir-under-file", lambda c: [*_env(c, "FER_ZOO_CACHE_DIR", c.file("cf") + "/sub"), "data", "inspect",
                                            DATA], "FER_ZOO_CACHE_DIR"),
    Case("strict-broken-plugin", lambda c: [*_plugin(c, "import no_such_module_anywhere\n"),
                                            *_env(c, "FER_ZOO_STRICT_PLUGINS", "1"), "list"], "FER_ZOO_STRICT_PLUGINS"),
    Case("strict-hook-raises", lambda c: [*_plugin(c, BROKEN_PLUGIN_HOOK), *_env(c, "FER_ZOO_STRICT_PLUGINS", "1"),
                                          "list"], "the plugin's own bug"),
    Case("strict-plugin-exits", lambda c: [*_plugin(c, EXIT_PLUGIN), *_env(c, "FER_ZOO_STRICT_PLUGINS", "1"), "list"],
         "the plugin called sys.exit(3)"),
    # --- plugins that fight back ------------------------------------------------------------------------
    *(Case(f"strict-plugin-{kind}", lambda c, s=source: [*_plugin(c, s), *_env(c, "FER_ZOO_STRICT_PLUGINS", "1"),
                                                          "list"], fragment)
      for kind, (source, fragment) in FIGHTING.items()),
    Case("detector-returns-none", lambda c: _detect(c, "return None"), "detector 'rogue' returned NoneType for"),
    Case("detector-returns-nan-box", lambda c: _detect(c, "return [[float('nan'), 0, 10, 10]]"),
         "a box is [x, y, w, h], four finite whole numbers"),
    Case("detector-returns-text-box", lambda c: _detect(c, "return ['abcd']"), "four finite whole numbers"),
    Case("detector-box-outside", lambda c: _detect(c, "return [[500, 500, 10, 10]]"), "inside the 64x64 image"),
    Case("detector-raises-base-exception", lambda c: _detect(c, "raise GeneratorExit('gone')"),
         "detector 'rogue' failed on"),
    Case("detector-build-exits", lambda c: _detect(c, "pass", build="import sys; sys.exit(5)"),
         "detector 'rogue' (case-plugin 1.0): build() failed: SystemExit: 5"),
    Case("detector-build-not-callable", lambda c: _detect(c, "pass", build="return 42"),
         "build() returned int, not a function of an image"),
    Case("weights-lookup-raises", lambda c: _shipped(c, "raise OSError('package data missing')"),
         "finding its weights failed: OSError: package data missing"),
    Case("weights-lookup-not-a-path", lambda c: _shipped(c, "return 42"), "its weights lookup returned int"),
    # --- outputs -------------------------------------------------------------------------------------
    Case("confusion-onto-model", lambda c: ["evaluate", (m := c.model()), "--data", DATA, "--confusion", m],
         "is the input"),
    Case("confusion-folder", lambda c: ["evaluate", c.model(), "--data", DATA, "--confusion",
                                        str(Path(c.file("cm/.keep")).parent)], "is a folder"),
    Case("confusion-unwritable", lambda c: ["evaluate", c.model(), "--data", DATA, "--confusion",
                                            c.file("blocker") + "/cm.png"], "blocker is a file, not a folder"),
    Case("grid-unwritable", lambda c: ["data", "inspect", DATA, "--grid", c.file("blocker") + "/grid.png"],
         "blocker is a file, not a folder"),
    Case("grid-folder", lambda c: ["data", "inspect", DATA, "--grid", str(Path(c.file("g/.keep")).parent)],
         "is a folder"),
    Case("bench-out-is-file", lambda c: ["bench", "lenet", "--data", DATA, "--out", c.file("bench.txt")], "--out"),
    Case("export-out-under-file", lambda c: ["export", c.model(), "--format", "onnx", "--out",
                                             c.file("blocker") + "/m.onnx"], "--out"),
    # --- outputs onto inputs (output policy) ---------------------------------------------------------
    Case("confusion-onto-csv", lambda c: ["evaluate", c.model(), "--data", (d := c.csv()), "--confusion", d],
         "is the input"),
    Case("confusion-into-image-folder", lambda c: ["evaluate", c.model(), "--data", str(c.folder()), "--confusion",
                                                   str(c.root / "faces/train/happy/0.png"), "--force"],
         "is inside the input folder"),
    Case("confusion-onto-run-best", lambda c: ["evaluate", str(r := c.run()), "--data", DATA, "--confusion",
                                               str(r / "best.keras"), "--force"], "is inside the input folder"),
    Case("confusion-onto-other-run-config", lambda c: ["evaluate", c.model(), "--data", DATA, "--confusion",
                                                       str(c.run() / "config.json"), "--force"],
         "is inside the run directory"),
    Case("confusion-onto-existing", lambda c: ["evaluate", c.model(), "--data", DATA, "--confusion",
                                               c.file("mine.png", b"keep")], "exists; pass --force to replace it"),
    Case("confusion-onto-dot", lambda c: ["evaluate", c.model(), "--data", DATA, "--confusion", "."], "is a folder"),
    Case("confusion-onto-proc", lambda c: ["evaluate", c.model(), "--data", DATA, "--confusion", "/proc/cm.png"],
         "is a system path"),
    Case("grid-onto-csv", lambda c: ["data", "inspect", (d := c.csv()), "--grid", d, "--force"], "is the input"),
    Case("grid-onto-spec-csv", lambda c: ["data", "inspect", f"fer2013:path={(d := c.csv())}", "--grid", d],
         "is the input"),
    Case("grid-into-image-folder", lambda c: ["data", "inspect", str(c.folder()), "--grid",
                                              str(c.root / "faces/test/sad/1.png"), "--force"],
         "is inside the input folder"),
    Case("grid-onto-run-best", lambda c: ["data", "inspect", DATA, "--grid", str(c.run() / "best.keras"), "--force"],
         "is inside the run directory"),
    Case("grid-onto-existing", lambda c: ["data", "inspect", DATA, "--grid", c.file("old.png", b"keep")],
         "exists; pass --force to replace it"),
    Case("grid-onto-dot", lambda c: ["data", "inspect", DATA, "--grid", "."], "is a folder"),
    Case("explain-into-photos", lambda c: ["explain", c.model(), str(_photos(c)), "--out", str(_photos(c) / "maps")],
         "is inside the input folder"),
    Case("explain-onto-photos-parent", lambda c: ["explain", c.model(), str(_photos(c)), "--out", str(c.root),
                                                  "--force"], "holds the input"),
    Case("explain-into-run", lambda c: ["explain", str(r := c.run()), c.file("a.png"), "--out", str(r / "maps")],
         "is inside the input folder"),
    Case("explain-into-other-run", lambda c: ["explain", c.model(), str(_photos(c)), "--out", str(c.run()),
                                              "--force"], "is inside the run directory"),
    Case("explain-onto-model", lambda c: ["explain", (m := c.model()), str(_photos(c)), "--out", m], "is the input"),
    Case("explain-onto-dot", lambda c: ["explain", c.model(), str(_photos(c)), "--out", "."], "is the current folder"),
    Case("explain-onto-file", lambda c: ["explain", c.model(), str(_photos(c)), "--out", c.file("maps.txt", b"k")],
         "is a file"),
    Case("export-onto-run", lambda c: ["export", str(r := c.run()), "--format", "savedmodel", "--out", str(r),
                                       "--force"], "is the input"),
    Case("export-onto-run-best", lambda c: ["export", str(r := c.run()), "--format", "keras", "--out",
                                            str(r / "best.keras"), "--force"], "is inside the input folder"),
    Case("export-onto-model", lambda c: ["export", (m := c.model()), "--format", "keras", "--out", m, "--force"],
         "is the input"),
    Case("export-onto-data-folder", lambda c: ["export", c.model(), "--format", "savedmodel", "--data",
                                               str(f := c.folder()), "--out", str(f), "--force"], "is the input"),
    Case("export-holding-model", lambda c: ["export", c.model(), "--format", "savedmodel", "--out", str(c.root),
                                            "--force"], "holds the input"),
    Case("export-into-other-run", lambda c: ["export", c.model(), "--format", "onnx", "--out",
                                             str(c.run() / "m.onnx")], "is inside the run directory"),
    Case("export-onto-plain-folder", lambda c: ["export", c.model(), "--format", "savedmodel", "--out",
                                                str(Path(c.file("docs/notes.txt", b"k")).parent), "--force"],
         "not a SavedModel"),
    Case("export-onto-dot", lambda c: ["export", c.model(), "--format", "savedmodel", "--out", ".", "--force"],
         "is the current folder"),
    Case("export-onto-proc", lambda c: ["export", c.model(), "--format", "onnx", "--out", "/proc/m.onnx"],
         "is a system path"),
    Case("annotate-onto-run", lambda c: ["predict", str(r := c.run()), str(_photos(c)), "--annotate", str(r),
                                         "--force"], "is the input"),
    Case("annotate-holding-model", lambda c: ["predict", c.model(), str(_photos(c) / "a.png"), "--annotate",
                                              str(c.root), "--force"], "holds the input"),
    Case("annotate-into-other-run", lambda c: ["predict", c.model(), str(_photos(c)), "--annotate",
                                               str(c.run() / "ann")], "is inside the run directory"),
    Case("annotate-onto-dot", lambda c: ["predict", c.model(), str(_photos(c)), "--annotate", ".", "--force"],
         "is the current folder"),
    # --- special files -------------------------------------------------------------------------------
    # (a named pipe would block its reader forever: every case with "fifo" in its id runs under _fifo_deadline)
    Case("photo-fifo", lambda c: ["predict", c.model(), _special(c, "fifo", "x.png"), "--strict"],
         "x.png is not a regular file (a named pipe)"),
    Case("photo-fifo-in-folder", lambda c: ["predict", c.model(), str(_photos(c)), "--strict",
                                            *([] if _special(c, "fifo", "photos/b.png") else [])],
         "b.png is not a regular file (a named pipe)"),
    Case("explain-fifo", lambda c: ["explain", c.model(), _special(c, "fifo", "e.jpg"), "--out", c.p("maps")],
         "e.jpg is not a regular file (a named pipe)"),
    Case("video-fifo", lambda c: ["predict", c.model(), _special(c, "fifo", "v.mp4"), "--strict"],
         "v.mp4 is not a regular file (a named pipe)"),
    Case("photo-socket", lambda c: ["predict", c.model(), _special(c, "socket", "s.png"), "--strict"],
         "s.png is not a regular file (a socket)"),
    Case("photo-dev-zero", lambda c: ["predict", c.model(), "/dev/zero", "--strict"],
         "/dev/zero is not a regular file (a character device)"),
    Case("photo-dangling-symlink", lambda c: ["predict", c.model(), _special(c, "dangling", "d.png"), "--strict"],
         "d.png is not a regular file (a dangling symlink to"),
    Case("video-dangling-in-folder", lambda c: ["predict", c.model(), str(_photos(c)), "--strict",
                                                *([] if _special(c, "dangling", "photos/clip.mp4") else [])],
         "clip.mp4 is not a regular file (a dangling symlink to"),
    Case("folder-fifo", lambda c: ["data", "inspect", str(c.folder()),
                                   *([] if _special(c, "fifo", "faces/train/sad/9.png") else [])],
         "9.png is not a regular file (a named pipe)"),
    Case("folder-fifo-train", lambda c: ["train", "lenet", "--epochs", "1", "--data", str(c.folder()), "--out",
                                         c.p("o"), *([] if _special(c, "fifo", "faces/test/happy/9.png") else [])],
         "9.png is not a regular file (a named pipe)"),
    Case("folder-fifo-skip-bad-rows", lambda c: ["data", "inspect", str(c.folder()), "--skip-bad-rows",
                                                 *([] if _special(c, "fifo", "faces/train/sad/9.png") else [])],
         "9.png is not a regular file (a named pipe)"),
    Case("folder-socket", lambda c: ["data", "inspect", str(c.folder()),
                                     *([] if _special(c, "socket", "faces/train/sad/s.jpg") else [])],
         "s.jpg is not a regular file (a socket)"),
    Case("folder-dangling-symlink", lambda c: ["data", "inspect", str(c.folder()),
                                               *([] if _special(c, "dangling", "faces/test/sad/d.png") else [])],
         "d.png is not a regular file (a dangling symlink to"),
    Case("csv-fifo", lambda c: ["data", "inspect", _special(c, "fifo", "d.csv")],
         "d.csv is not a regular file (a named pipe)"),
    Case("csv-fifo-spec", lambda c: ["data", "inspect", f"fer2013:path={_special(c, 'fifo', 'd.csv')}"],
         "d.csv is not a regular file (a named pipe)"),
    Case("csv-fifo-train", lambda c: ["train", "lenet", "--data", _special(c, "fifo", "d.csv"), "--out", c.p("o")],
         "d.csv is not a regular file (a named pipe)"),
    Case("csv-dev-null", lambda c: ["data", "inspect", "/dev/null"], "/dev/null is not a regular file (a character"),
    Case("csv-socket-spec", lambda c: ["data", "inspect", f"fer2013:path={_special(c, 'socket', 's.csv')}"],
         "s.csv is not a regular file (a socket)"),
    Case("csv-dangling-symlink", lambda c: ["data", "inspect", _special(c, "dangling", "d.csv")],
         "d.csv is not a regular file (a dangling symlink to"),
    Case("ferplus-labels-fifo", lambda c: ["data", "inspect",
                                           f"ferplus:csv={c.csv()},labels={_special(c, 'fifo', 'l.csv')}"],
         "l.csv is not a regular file (a named pipe)"),
    Case("ferplus-csv-dev-zero", lambda c: ["data", "inspect", f"ferplus:csv=/dev/zero,labels={c.csv(name='l.csv')}"],
         "ferplus: csv=/dev/zero is not a regular file (a character device)"),
    Case("recipe-fifo", lambda c: ["train", "lenet", "--data", DATA, "--recipe", _special(c, "fifo", "r.toml"),
                                   "--out", c.p("o")], "r.toml is not a regular file (a named pipe)"),
    Case("recipe-folder", lambda c: ["train", "lenet", "--data", DATA, "--recipe", _special(c, "folder", "r.toml"),
                                     "--out", c.p("o")], "r.toml is not a regular file (a folder)"),
    Case("bench-recipe-fifo", lambda c: ["bench", "lenet", "--data", DATA, "--recipe", _special(c, "fifo", "r.toml"),
                                         "--out", c.p("b")], "r.toml is not a regular file (a named pipe)"),
    Case("model-fifo", lambda c: ["evaluate", _special(c, "fifo", "m.keras"), "--data", DATA],
         "m.keras is not a regular file (a named pipe)"),
    Case("model-onnx-fifo", lambda c: ["evaluate", _special(c, "fifo", "m.onnx"), "--data", DATA],
         "m.onnx is not a regular file (a named pipe)"),
    Case("predict-model-fifo", lambda c: ["predict", _special(c, "fifo", "m.keras"), c.file("a.png")],
         "m.keras is not a regular file (a named pipe)"),
    Case("model-dev-zero", lambda c: ["evaluate", "/dev/zero", "--data", DATA],
         "/dev/zero is not a regular file (a character device)"),
    Case("model-dangling-symlink", lambda c: ["evaluate", _special(c, "dangling", "m.keras"), "--data", DATA],
         "m.keras is not a regular file (a dangling symlink to"),
    # --- bench --out onto inputs (output policy) ------------------------------------------------------
    Case("bench-out-onto-csv", lambda c: ["bench", "lenet", "--data", (d := c.csv()), "--out", d], "is the input"),
    Case("bench-out-holding-csv", lambda c: ["bench", "lenet", "--data", c.csv(), "--out", str(c.root)],
         "holds the input"),
    Case("bench-out-into-image-folder", lambda c: ["bench", "lenet", "--data", str(c.folder()), "--out",
                                                   str(c.root / "faces/bench")], "is inside the input folder"),
    Case("bench-out-onto-spec-csv", lambda c: ["bench", "lenet", "--data", f"fer2013:path={(d := c.csv())}",
                                               "--out", d], "is the input"),
    Case("bench-out-holding-recipe", lambda c: ["bench", "lenet", "--data", DATA, "--recipe",
                                                c.file("r/mine.toml", b"epochs = 1"), "--out", str(c.root / "r")],
         "holds the input"),
    Case("bench-out-into-run", lambda c: ["bench", "lenet", "--data", DATA, "--out", str(c.run())],
         "is inside the run directory"),
    Case("bench-out-dot", lambda c: ["bench", "lenet", "--data", DATA, "--out", "."], "is the current folder"),
    Case("bench-out-proc", lambda c: ["bench", "lenet", "--data", DATA, "--out", "/proc/bench"], "is a system path"),
    # --- a run's settings (fer_zoo.training.run_config): a recipe file inside the --out its run writes ----------
    Case("train-recipe-inside-out", lambda c: ["train", "lenet", "--data", DATA, "--recipe",
                                               c.file("r/mine.toml", b"epochs = 1"), "--out", str(c.root / "r")],
         "mine.toml: is inside --out"),
    Case("train-recipe-inside-out-force", lambda c: ["train", "lenet", "--data", DATA, "--recipe",
                                                     c.file("r/recipe.toml", b"epochs = 1"), "--out",
                                                     str(c.root / "r"), "--force"], "is inside --out"),
    # --- probe: outputs (train, new-plugin, cache, report) ------------------------------------------------
    Case("probe-train-out-dot", lambda c: ["train", "lenet", "--data", DATA, "--epochs", "1", "--out", "."],
         "--out .: is the current folder"),
    Case("probe-train-out-empty", lambda c: ["train", "lenet", "--data", DATA, "--epochs", "1", "--out", ""],
         "is the current folder"),
    Case("probe-train-out-etc", lambda c: ["train", "lenet", "--data", DATA, "--out", "/etc/ferprobe", "--force"],
         "is a system path"),
    Case("probe-train-out-inside-image-folder", lambda c: ["train", "lenet", "--data", str(c.folder()), "--out",
                                                           str(c.root / "faces/run")], "is inside the input folder"),
    Case("probe-train-out-is-image-folder", lambda c: ["train", "lenet", "--data", str(c.folder()), "--out",
                                                       str(c.root / "faces"), "--force"], "is the input"),
    Case("probe-train-out-holds-spec-csv", lambda c: ["train", "lenet", "--data", f"fer2013:path={c.csv(name='f.csv')}",
                                                      "--out", str(c.root), "--force"], "holds the input"),
    Case("probe-train-out-is-init-run", lambda c: ["train", "lenet", "--data", DATA, "--init-from", str(c.run()),
                                                   "--out", str(c.root / "run"), "--force"], "is the input"),
    Case("probe-train-out-inside-run", lambda c: ["train", "lenet", "--data", DATA, "--out",
                                                  str(c.run() / "sub"), "--force"], "is inside the run directory"),
    Case("probe-train-out-cache", lambda c: [*_env(c, "FER_ZOO_CACHE_DIR", str(Path(c.file("cc/keep.txt")).parent)),
                                             "train", "lenet", "--data", DATA, "--out", c.p("cc"), "--force"],
         "is fer-zoo's cache folder"),
    Case("probe-export-out-cache", lambda c: [*_env(c, "FER_ZOO_CACHE_DIR", c.p("cc")), "export", c.model(),
                                              "--format", "keras", "--out", c.p("cc/m.keras")],
         "is fer-zoo's cache folder"),
    Case("probe-new-plugin-etc", lambda c: ["new-plugin", "ok", "--out", "/etc/ferprobe-plugin"], "is a system path"),
    Case("probe-new-plugin-out-file", lambda c: ["new-plugin", "ok", "--out", c.file("f.txt", b"mine")],
         "f.txt: is a file"),
    Case("probe-new-plugin-long-name", lambda c: ["new-plugin", "a" * 300, "--out", c.p("plug")],
         "at most 64 characters"),
    Case("probe-new-plugin-shadows-architecture", lambda c: ["new-plugin", "lenet", "--out", c.p("plug")],
         "an installed architecture is already called that"),
    Case("probe-new-plugin-doubled-dash", lambda c: ["new-plugin", "a--b", "--out", c.p("plug")],
         "no doubled or trailing"),
    Case("probe-new-plugin-trailing-dash", lambda c: ["new-plugin", "trail-", "--out", c.p("plug")],
         "no doubled or trailing"),
    Case("probe-new-plugin-cache", lambda c: [*_env(c, "FER_ZOO_CACHE_DIR", c.p("cc")), "new-plugin", "ok", "--out",
                                              c.p("cc/plug")], "is fer-zoo's cache folder"),
    Case("probe-export-savedmodel-user-file", lambda c: [
        "export", c.model(), "--format", "savedmodel", "--force", "--out",
        str(Path(c.file("sm/saved_model.pb", b"x")).parent) if c.file("sm/mine.txt", b"mine") else ""],
         "holds mine.txt, which no SavedModel holds"),
    Case("probe-inspect-grid-dangling-symlink", lambda c: ["data", "inspect", c.csv(), "--grid",
                                                           _symlink(c, "g.png", "nowhere.png")],
         "g.png exists; pass --force"),
    Case("probe-report-environment-empty", lambda c: ["report", c.file("r/results.json", json.dumps(
        {"environment": {}, "rows": []}).encode()).removesuffix("/results.json")],
         'results.json: "environment" key "data" is missing'),
    Case("probe-report-environment-budget-nameless", lambda c: ["report", c.file("r/results.json", json.dumps(
        {"environment": {**REPORT_ENV, "budget": {}}, "rows": []}).encode()).removesuffix("/results.json")],
         '"environment" key "budget" has no "name"'),
    Case("probe-report-html-is-folder", lambda c: ["report", _report_dir(c, lambda d: (d / "report.html").mkdir())],
         "report.html: exists and is not a report fer-zoo wrote"),
    Case("probe-report-html-symlink", lambda c: ["report", _report_dir(c, lambda d: (d / "report.html").symlink_to(
        c.file("mine.html", b"<p>mine</p>")))], "report.html: exists and is not a report fer-zoo wrote"),
    Case("probe-report-html-users-page", lambda c: ["report", _report_dir(c, lambda d: (d / "report.html").write_text(
        "<p>mine</p>"))], "report.html: exists and is not a report fer-zoo wrote"),
    # found by a second adversarial probe (2026-12-03)
    Case("report-row-value-a-word", lambda c: ["report", _report_rows(c, [{"model": "lenet", "val_acc": "zz"}])],
         'row 1 ("lenet") has val_acc "zz", not a number'),
    Case("report-row-count-a-word", lambda c: ["report", _report_rows(c, [{"model": "lenet", "param_count": "2M"}])],
         'row 1 ("lenet") has param_count "2M", not a number'),
    Case("report-row-spread-a-flag", lambda c: ["report", _report_rows(c, [{"model": "lenet", "test_acc_std": True}])],
         'row 1 ("lenet") has test_acc_std true, not a number'),
    Case("report-row-value-nan", lambda c: ["report", _report_rows(c, [{"model": "lenet", "val_acc": float("nan")}])],
         'row 1 ("lenet") has val_acc NaN, not a finite measure, 0 or more'),
    Case("report-row-count-negative", lambda c: ["report", _report_rows(c, [{"model": "lenet", "param_count": -5}])],
         'row 1 ("lenet") has param_count -5, not a finite measure, 0 or more'),
    Case("report-row-percent-as-fraction", lambda c: ["report", _report_rows(c, [{"model": "lenet", "val_acc": 57.0}])],
         'row 1 ("lenet") has val_acc 57.0, a fraction above 1'),
    Case("report-row-metrics-damaged", lambda c: ["report", _report_run_file(c, "metrics.json", "{oops")],
         "lenet/seed0/metrics.json: unreadable (Expecting property name enclosed in double quotes: line 1 column 2 "
         "(char 1)); remove "),
    Case("report-predictions-garbage", lambda c: ["report", _report_predictions(c, bytes(range(256)) * 2)],
         "lenet/seed0/predictions.npz: not a predictions file fer-zoo wrote (not an .npz archive)"),
    Case("report-predictions-empty", lambda c: ["report", _report_predictions(c, b"")],
         "lenet/seed0/predictions.npz: not a predictions file fer-zoo wrote (an empty file)"),
    Case("report-predictions-objects", lambda c: ["report", _report_predictions(
        c, test=np.array([{"a": 1}], dtype=object))], "predictions.npz: not a predictions file fer-zoo wrote (it holds Python"),
    Case("report-predictions-one-column", lambda c: ["report", _report_predictions(c, test=np.zeros(5))],
         '"test" is not a table of probabilities (shape (5,), float64)'),
    Case("report-predictions-class-too-high", lambda c: ["report", _report_predictions(c, test=np.eye(9)[[8]])],
         "its test answers name class 8, and this bench's data has"),
    Case("predict-empty-folder", lambda c: ["predict", c.model(), str(_folder_of(c, "photos", [])), "--no-detect"],
         "photos: a folder with no image or video in it"),
    Case("predict-annotate-empty-folder", lambda c: ["predict", c.model(), str(_folder_of(c, "photos", [])),
                                                    "--no-detect", "--annotate", c.p("annotated")],
         "photos: a folder with no image or video in it"),
    Case("explain-folder-of-text", lambda c: ["explain", c.model(), str(_folder_of(c, "notes", ["a.txt"])),
                                             "--no-detect", "--out", c.p("maps")], "notes: a folder with no image"),
    Case("resume-checkpoint-not-compiled", lambda c: _resume(c), "last-0001.keras: not a training checkpoint"),
    Case("resume-config-class-names-changed", lambda c: _resume(c, config=lambda d: d.update(class_names=["a", "b"])),
         "config.json: class_names ['a', 'b'] are not its data's"),
    Case("train-csv-bad-row-names-the-option", lambda c: ["train", "lenet", "--data", c.csv(
        lambda lines: _row(lines, 3, "7" + lines[3][1:])), "--out", c.p("run")],
         "line 4: emotion 7 out of range 0-6 (the dataset option skip_bad_rows=true loads the rest)"),
]

REPORT_ENV = {"data": DATA, "dataset": "synthetic", "device": "cpu", "backend": "tensorflow",
              "budget": {"name": "smoke"}}


def _symlink(c: Ctx, name: str, target: str) -> str:
    (c.root / name).symlink_to(c.root / target)
    return c.p(name)


def _report_dir(c: Ctx, make) -> str:
    folder = Path(c.file("r/results.json", json.dumps({"environment": REPORT_ENV, "rows": []}).encode())).parent
    make(folder)
    return str(folder)


def _report_rows(c: Ctx, rows: list[dict]) -> str:
    return str(Path(c.file("r/results.json", json.dumps({"environment": REPORT_ENV, "rows": rows}).encode())).parent)


def _report_predictions(c: Ctx, raw: bytes | None = None, **arrays) -> str:
    """A bench folder whose one trained row's predictions.npz holds ``raw`` bytes, or ``arrays``."""
    folder = Path(_report_rows(c, [{"model": "lenet", "architecture": "lenet", "kind": "train"}]))
    path = folder / "lenet" / "seed0" / "predictions.npz"
    path.parent.mkdir(parents=True)
    if raw is not None:
        path.write_bytes(raw)
    else:
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return str(folder)


def _report_run_file(c: Ctx, name: str, text: str) -> str:
    """A bench folder whose one trained row's run holds ``name`` with ``text``."""
    folder = Path(_report_rows(c, [{"model": "lenet", "architecture": "lenet", "kind": "train"}]))
    (folder / "lenet" / "seed0").mkdir(parents=True)
    (folder / "lenet" / "seed0" / name).write_text(text)
    return str(folder)


def _folder_of(c: Ctx, name: str, files: list[str]) -> Path:
    (c.root / name).mkdir()
    for file in files:
        (c.root / name / file).write_text("not an image")
    return c.root / name


def _env(c: Ctx, name: str, value: str) -> list[str]:
    c.env(name, value)
    return []


def _plugin(c: Ctx, source: str) -> list[str]:
    c.plugin(source)
    return []


def _detect(c: Ctx, body: str, build: str = "return detect") -> list[str]:
    """predict through a plugin's detector 'rogue' whose detect(image) runs ``body``."""
    c.plugin(f"""
import fer_zoo
def detect(image):
    {body}
def build():
    {build}
@fer_zoo.hookimpl
def fer_zoo_register_detectors(register):
    register(fer_zoo.FaceDetector(name="rogue", build=build, description="x"))
""")
    return ["predict", c.model(), str(_photos(c) / "a.png"), "--detector", "rogue", "--strict"]


def _shipped(c: Ctx, body: str) -> list[str]:
    """predict with an architecture whose weights lookup runs ``body``."""
    c.plugin(f"""
import fer_zoo
def build(input_shape, num_classes):
    import keras
    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes, activation="softmax")])
def weights():
    {body}
@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(fer_zoo.Architecture(name="shipped", build=build, input_shape=(8, 8, 1), description="x",
                                  weights=weights))
""")
    return ["predict", "shipped", str(_photos(c) / "a.png"), "--no-detect"]


def _recipe(c: Ctx, text: str) -> list[str]:
    return ["train", "lenet", "--data", DATA, "--recipe", c.file("mine.toml", text.encode()), "--out", c.p("o")]


def _ferplus(c: Ctx, votes: dict[int, str] | None = None, base: str = "10") -> list[str]:
    labels = bad_values.ferplus_labels(c.root / "fer2013new.csv", USAGE, votes, base)
    return ["data", "inspect", f"ferplus:csv={c.csv()},labels={labels}"]


def _no_usage(c: Ctx) -> str:
    return c.csv(lambda lines: [line.rsplit(",", 1)[0] for line in lines])


def _cr_only(c: Ctx) -> str:
    return c.csv(raw=Path(c.csv()).read_bytes().replace(b"\n", b"\r"))


def _keras(c: Ctx, kind: str) -> str:
    return bad_values.keras_model(c.root / f"{kind}.keras", kind)


def _dense_only(c: Ctx) -> str:
    """A classifier with no layer between its input and Flatten: nothing spatial to explain."""
    import keras

    pixels = keras.Input((48, 48, 1))
    model = keras.Model(pixels, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(pixels)))
    path = c.root / "dense_only.keras"
    model.save(path)
    return str(path)


def _big_png(c: Ctx) -> str:
    path = c.root / "big.png"
    Image.new("L", (20, 20)).save(path)
    return str(path)


def _photos(c: Ctx) -> Path:
    root = c.root / "photos"
    if not root.exists():
        root.mkdir()
        Image.new("RGB", (64, 64), (120, 120, 120)).save(root / "a.png")
    return root


def _truncated(c: Ctx) -> str:
    data = Path(c.model()).read_bytes()
    return c.file("cut.keras", data[: len(data) // 2])


def _broken_run(c: Ctx, name: str, text: str | None) -> Path:
    run = c.run()
    state = json.loads((run / "state.json").read_text())
    (run / "state.json").write_text(json.dumps({**state, "finished": False}))
    if text is None:
        (run / name).unlink()
    else:
        (run / name).write_text(text)
    return run


def _resume(c: Ctx, state=None, history=None, config=None, remove: str | None = None, folder: str | None = None,
            best: bytes | None = None) -> list[str]:
    """``train --resume RUN`` of an unfinished copy of the shared run (epoch 1 of 1 committed, its numbered
    files present), damaged as asked: ``state``/``config`` change the parsed JSON in place, ``history``
    maps the lines of history.csv (or is its bytes), ``remove`` deletes a file, ``folder`` puts a folder
    in a file's place, ``best`` replaces best.keras's bytes."""
    run = c.run()
    saved = json.loads((run / "state.json").read_text())
    saved = {**saved, "finished": False, "checkpoint": "last-0001.keras", "best": "best-0001.keras"}
    for name in ("last-0001.keras", "best-0001.keras"):
        shutil.copy(run / "best.keras", run / name)
    for name, change in (("state.json", state), ("config.json", config)):
        data = saved if name == "state.json" else json.loads((run / name).read_text())
        if change:
            change(data)
        (run / name).write_text(json.dumps(data))
    if isinstance(history, bytes):
        (run / "history.csv").write_bytes(history)
    elif history:
        (run / "history.csv").write_text("\n".join(history((run / "history.csv").read_text().splitlines())) + "\n")
    for name in filter(None, (remove, folder)):
        (run / name).unlink()
    if folder:
        (run / folder).mkdir()
    if best is not None:
        (run / "best.keras").write_bytes(best)
    return ["train", "--resume", str(run)]


def _lambda_checkpoint(c: Ctx) -> Path:
    run = c.run()
    state = json.loads((run / "state.json").read_text())
    (run / "state.json").write_text(json.dumps({**state, "finished": False, "completed_epochs": 1}))
    shutil.copy(c.shared["lambda"], run / "last.keras")
    return run


def _special(c: Ctx, kind: str, name: str) -> str:
    """A named pipe, a socket, a folder or a dangling symlink at ``name`` in the case folder."""
    path = c.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))  # the socket file outlives the socket
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(c.root / "nothing-here")
    return str(path)


@pytest.fixture(autouse=True)
def _fifo_deadline(request, tmp_path):
    """A case with "fifo" in its id fails after 60 s instead of hanging pytest: a watchdog thread then opens
    every named pipe in the case folder for writing and closes it, so a reader blocked in open() (in a worker
    thread, or inside a C library where a signal handler would never run) reads end of file and lets go."""
    callspec = getattr(request.node, "callspec", None)
    case = callspec.params.get("case") if callspec else None
    if case is None or "fifo" not in case.id:
        yield
        return
    done, expired = threading.Event(), []

    def watch():
        if done.wait(60):
            return
        expired.append(True)
        while not done.wait(0.2):  # a reader may open one pipe after another
            for fifo in [p for p in tmp_path.rglob("*") if stat.S_ISFIFO(p.lstat().st_mode)]:
                try:
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:  # no reader on this one now
                    pass

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()
    yield
    done.set()
    watchdog.join()
    assert not expired, f"{case.id}: still reading a named pipe after 60 s"


def snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_mtime_ns for p in root.rglob("*")
            if "cache" not in p.relative_to(root).parts}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    import keras

    from fer_zoo.training.train import TrainOptions, train
    from tests.conftest import tiny_classifier

    root = tmp_path_factory.mktemp("shared")
    made = {"tiny": root / "tiny.keras", "lambda": root / "lambda.keras", "five": root / "five.keras"}
    tiny_classifier().save(made["tiny"])
    tiny_classifier(num_classes=5).save(made["five"])  # classes class_0 ... class_4: none of FER2013's
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inputs)
    lambda_model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x)))
    lambda_model.save(made["lambda"])
    made["lambda_h5"] = root / "lambda.h5"
    lambda_model.save(made["lambda_h5"])  # Keras 3's legacy HDF5 (the tf-keras one: tests/test_training.py)
    os.environ.setdefault("FER_ZOO_CACHE_DIR", str(root / "cache"))
    train("lenet", DATA, root / "run", TrainOptions(epochs=1, batch_size=32))
    made["run"] = root / "run"
    return made


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 120 and len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_clear_line(case, cli, shared, tmp_path, monkeypatch, install_plugin):
    shared = {**shared, "install_plugin": install_plugin}
    work = tmp_path / "case"
    work.mkdir()
    args = case.setup(Ctx(work, shared, monkeypatch))
    before = snapshot(work)
    result = cli(*args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("fer-zoo: error: ")]
    assert result.exit_code == case.code, (result.exit_code, result.output[-2000:])
    assert len(errors) == 1, lines
    assert case.message in errors[0], errors[0]
    if os.environ.get("SHOW_ERRORS"):
        print(f"\n{case.id}: {errors[0]}")
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    after = snapshot(work)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}, "something was written"


def test_native_libraries_add_nothing_to_the_one_line(tmp_path, shared):
    """What C++ libraries write straight to file descriptor 2 (FFmpeg on a broken video, TensorFlow at start-up)
    never reaches the user around fer-zoo's one line: a real process, real file descriptors."""
    import subprocess
    import sys

    video = tmp_path / "broken.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 12)
    done = subprocess.run([sys.executable, "-m", "fer_zoo", "predict", str(shared["tiny"]), str(video), "--strict"],
                          capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",
                                                                                "OPENCV_FFMPEG_LOGLEVEL")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"fer-zoo: error: {video}: cannot open video"]
    api = subprocess.run([sys.executable, "-c", "import fer_zoo; print(fer_zoo.create_model('lenet').count_params())"],
                         capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert api.returncode == 0 and api.stdout.strip() == "168971" and api.stderr.strip() == ""
