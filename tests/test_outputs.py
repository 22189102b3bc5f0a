"""The output policy (fer_zoo/outputs.py) lets the right writes through: an existing output replaced whole
with --force, names from data kept inside their folder, one annotated file per frame; the inputs' bytes
never change. The refusals are cases in tests/test_bad_inputs.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_zoo import outputs
from fer_zoo.errors import FerZooError

DATA = "synthetic:size=42,seed=2,preset=easy"


def _bytes(*roots: Path) -> dict[Path, bytes]:
    files = [p for root in roots for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()]
    return {p: p.read_bytes() for p in files}


def test_force_replaces_an_unrelated_output_whole_and_a_failed_write_keeps_the_old_one(cli, tiny_model_file,
                                                                                      tmp_path, monkeypatch):
    from fer_zoo.report import figures

    mine = tmp_path / "out" / "mine.png"
    mine.parent.mkdir()
    mine.write_bytes(b"old bytes")
    inputs = _bytes(tiny_model_file)

    def half_written(matrix, classes, path, title):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(figures, "confusion_png", half_written)
    failed = cli("evaluate", str(tiny_model_file), "--data", DATA, "--confusion", str(mine), "--force")
    assert failed.exit_code == 2 and "--confusion" in failed.stderr and "No space left" in failed.stderr
    assert mine.read_bytes() == b"old bytes" and sorted(mine.parent.iterdir()) == [mine]  # no half file, no scratch
    monkeypatch.undo()

    result = cli("evaluate", str(tiny_model_file), "--data", DATA, "--confusion", str(mine), "--force", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["confusion_png"] == str(mine)
    assert Image.open(mine).format == "PNG" and sorted(mine.parent.iterdir()) == [mine]
    grid = tmp_path / "out" / "grid.png"
    grid.write_bytes(b"old grid")
    assert cli("data", "inspect", DATA, "--grid", str(grid), "--force").exit_code == 0
    assert Image.open(grid).format == "PNG"
    assert _bytes(tiny_model_file) == inputs


def test_export_force_replaces_only_a_savedmodel_folder(cli, tiny_model_file, tmp_path):
    """A folder holding a saved_model.pb and a user's file is not a SavedModel: --force refuses it, naming the
    file, and deletes nothing."""
    out = tmp_path / "sm"
    out.mkdir()
    (out / "saved_model.pb").write_bytes(b"x")
    (out / "mine.txt").write_bytes(b"my notes")
    before = _bytes(out)
    result = cli("export", str(tiny_model_file), "--format", "savedmodel", "--out", str(out), "--force")
    assert result.exit_code == 2 and "holds mine.txt" in result.stderr, result.output
    assert _bytes(out) == before
    (out / "mine.txt").unlink()
    (out / "variables").mkdir()
    assert cli("export", str(tiny_model_file), "--format", "savedmodel", "--out", str(out), "--force").exit_code == 0
    assert (out / "saved_model.pb").stat().st_size > 1


def test_names_from_data_stay_inside_the_out_folder(tmp_path):
    from fer_zoo.inference.explain import Explanation, write_maps

    photos = tmp_path / "photos"
    photos.mkdir()
    photo = photos / "..face.png"  # a stem of dots
    Image.new("L", (48, 48), 90).save(photo)
    outside = tmp_path / "x.png"
    outside.write_bytes(b"not yours")
    before, names = _bytes(photos, outside), {p.name for p in tmp_path.iterdir()}
    face = np.full((48, 48, 1), 90, np.uint8)

    def explained(target):
        return Explanation(str(photo), None, face, target, {target: 1.0}, target, np.zeros((48, 48), np.float32),
                           "conv")

    out = tmp_path / "maps"
    given = outputs.inputs(files=[photo])
    files = write_maps([explained("../../x"), explained("/abs/y"), explained("..")], out, given, "layer-cam")
    assert len(set(files)) == 3
    assert all(f.resolve().parent == out.resolve() for f in files), files
    assert sorted(p.name for p in out.iterdir()) == sorted(f.name for f in files)
    assert _bytes(photos, outside) == before and {p.name for p in tmp_path.iterdir()} == names | {"maps"}


def test_a_photo_named_like_a_video_frame_gets_its_own_file(cli, tiny_model_file, tmp_path):
    import cv2

    inputs = tmp_path / "in"
    inputs.mkdir()
    video = inputs / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 64))
    for i in range(3):
        writer.write(np.full((64, 64, 3), 60 * i, np.uint8))
    writer.release()
    photo = inputs / "clip_frame000000.png"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(photo)
    before = _bytes(inputs)
    out = tmp_path / "annotated"
    result = cli("predict", str(tiny_model_file), str(photo), str(video), "--annotate", str(out), "--no-detect",
                 "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 4  # the photo and three frames
    assert sorted(p.name for p in out.iterdir()) == ["clip_frame000000-2.png", "clip_frame000000.png",
                                                    "clip_frame000001.png", "clip_frame000002.png"]
    photo_copy = np.asarray(Image.open(out / "clip_frame000000-2.png").convert("RGB"))
    assert photo_copy[32, 32].tolist() == [200, 10, 10]  # the photo's copy, not a frame's (grey)
    assert _bytes(inputs) == before


def test_paths_are_compared_resolved(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "fer.csv").write_text("emotion,pixels,Usage\n")
    (tmp_path / "link").symlink_to(data)
    given = outputs.inputs(data=f"fer2013:path={data / 'fer.csv'},val_fraction=0.1")
    assert given == [(data / "fer.csv").resolve()]
    with pytest.raises(FerZooError, match="is the input"):
        outputs.file(tmp_path / "link" / "fer.csv", "--grid", given, force=True)
    with pytest.raises(FerZooError, match="is the input"):
        outputs.file(tmp_path / "elsewhere" / ".." / "link" / "fer.csv", "--grid", given, force=True)
    monkeypatch.chdir(data)
    with pytest.raises(FerZooError, match="is the current folder"):
        outputs.folder(tmp_path / "link", "--out", [], force=True)
    assert outputs.file(tmp_path / "grid.png", "--grid", given) == tmp_path / "grid.png"


def test_a_run_directory_is_told_by_its_state_not_by_a_model_file(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "best.keras").write_bytes(b"an exported model")  # a user's own folder, not a run
    (project / "config.json").write_text('{"name": "my app"}')
    assert outputs.file(project / "cm.png", "--confusion") == project / "cm.png"
    (project / "config.json").write_text('{"architecture": "lenet", "recipe": {}}')  # killed before a checkpoint
    with pytest.raises(FerZooError, match="is inside the run directory"):
        outputs.file(project / "cm.png", "--confusion")
    (project / "config.json").unlink()
    (project / "state.json").write_text("{}")
    with pytest.raises(FerZooError, match="is inside the run directory"):
        outputs.folder(project / "maps" / "deeper", "--out")
