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
from tests.conftest import png_claiming

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

CASES = [
    # --- flags -------------------------------------------------------------------------------------
    Case("unknown-flag", lambda c: ["list", "--bogus"], "No such option: --bogus"),
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
         "--lr positive"),
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
    Case("synthetic-size-word", lambda c: ["data", "inspect", "synthetic:size=abc"], "option size: expected an integer"),
    Case("synthetic-size-tiny", lambda c: ["data", "inspect", "synthetic:size=3"], "size must be >= 7"),
    Case("synthetic-difficulty", lambda c: ["data", "inspect", "synthetic:difficulty=extreme"], "difficulty must be"),
    Case("synthetic-unknown-option", lambda c: ["data", "inspect", "synthetic:colour=1"], "unknown option(s) colour"),
    Case("synthetic-preset", lambda c: ["data", "inspect", "synthetic:preset=hard"], "preset must be one of"),
    Case("synthetic-noise", lambda c: ["data", "inspect", "synthetic:label_noise=2"], "label_noise in [0, 1]"),
    Case("synthetic-imbalance", lambda c: ["data", "inspect", "synthetic:imbalance=weird"], "imbalance must be"),
    Case("fer2013-unknown-option", lambda c: ["data", "inspect", f"fer2013:path={c.csv()},colour=1"],
         "unknown option(s) colour"),
    Case("fer2013-fraction", lambda c: ["data", "inspect", f"fer2013:path={c.csv(lambda l: [x.rsplit(',', 1)[0] for x in l])},val_fraction=2"],
         "val_fraction=2.0"),
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
    Case("folder-option", lambda c: ["data", "inspect", f"folder:path={c.folder()},colour=1"], "unknown option(s)"),
    Case("folder-path-is-file", lambda c: ["data", "inspect", f"folder:path={c.csv()}"], "no such folder"),
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
         "not a model"),
    # --- recipe files --------------------------------------------------------------------------------
    Case("recipe-not-toml", lambda c: _recipe(c, "this is = = not toml"), "mine.toml"),
    Case("recipe-unknown-key", lambda c: _recipe(c, "learning_rat = 0.1"), "unknown key learning_rat"),
    Case("recipe-wrong-type", lambda c: _recipe(c, 'learning_rate = "fast"'), "learning_rate must be float"),
    Case("recipe-bool-batch", lambda c: _recipe(c, "batch_size = true"), "batch_size must be int"),
    Case("recipe-augment-not-table", lambda c: _recipe(c, "augment = 3"), "[augment] must be a table"),
    Case("recipe-augment-flip-number", lambda c: _recipe(c, "[augment]\nflip = 1"), "augment.flip must be bool"),
    Case("recipe-augment-key", lambda c: _recipe(c, "[augment]\nsparkle = 1"), "unknown key augment.sparkle"),
    Case("recipe-base", lambda c: _recipe(c, 'base = "fancy"'), "base must be one of"),
    Case("recipe-batch-0", lambda c: _recipe(c, "batch_size = 0"), "--batch-size must be at least 1"),
    Case("recipe-missing-file", lambda c: ["train", "lenet", "--data", DATA, "--recipe", c.p("gone.toml"),
                                           "--out", c.p("o")], "gone.toml"),
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
]


def _env(c: Ctx, name: str, value: str) -> list[str]:
    c.env(name, value)
    return []


def _plugin(c: Ctx, source: str) -> list[str]:
    c.plugin(source)
    return []


def _recipe(c: Ctx, text: str) -> list[str]:
    return ["train", "lenet", "--data", DATA, "--recipe", c.file("mine.toml", text.encode()), "--out", c.p("o")]


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

    from fer_zoo.train import TrainOptions, train
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
