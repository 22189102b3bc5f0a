"""Every source format, generated here in its exact layout, loads through one function and --data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fer_zoo.data import cache, load_dataset
from fer_zoo.data.fer2013 import parse_fast, read_header, write_csv
from fer_zoo.data.ferplus import VOTE_COLUMNS, targets

USAGE = ["Training"] * 40 + ["PublicTest"] * 12 + ["PrivateTest"] * 10


@pytest.fixture
def faces():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (len(USAGE), 48, 48, 1), dtype=np.uint8)
    x[0, 0, 0, 0], x[1, 0, 0, 0] = 0, 255  # the extremes
    y = np.arange(len(USAGE)) % 7
    return x, y


@pytest.fixture
def fer_csv(tmp_path, faces):
    path = tmp_path / "fer2013.csv"
    write_csv(path, *faces, usage=USAGE)
    return path


def inspect(cli, *args):
    result = cli("data", "inspect", *map(str, args), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fer2013_csv_splits_by_usage_exactly(cli, fer_csv, faces):
    x, y = faces
    report = inspect(cli, fer_csv)
    assert {s: sum(c.values()) for s, c in report["splits"].items()} == {"train": 40, "val": 12, "test": 10}
    assert report["image"] == {"height": 48, "width": 48, "channels": 1}
    dataset = load_dataset(str(fer_csv))
    assert np.array_equal(dataset.splits["train"].x, x[:40]) and np.array_equal(dataset.splits["test"].y, y[52:])
    assert dataset.splits["val"].x.dtype == np.uint8
    assert parse_fast(fer_csv, read_header(fer_csv)) is not None  # the vectorised path handled it


def test_inspect_table_names_the_source_whole_at_80_columns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("data", "inspect", "synthetic:preset=easy,size=70")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "synthetic:preset=easy,size=70,seed=0  (48×48×1)" in lines  # not cut at the table's width
    assert max(map(len, lines)) <= 80 and "│ total    │    70 │" in result.stdout


def test_icml_variant_gives_the_same_arrays(tmp_path, fer_csv, faces):
    icml = tmp_path / "icml_face_data.csv"
    write_csv(icml, *faces, usage=USAGE, layout="icml")
    assert icml.read_text().startswith("emotion, Usage, pixels\n")
    a, b = load_dataset(str(fer_csv)), load_dataset(str(icml))
    for split in ("train", "val", "test"):
        assert np.array_equal(a.splits[split].x, b.splits[split].x)
        assert np.array_equal(a.splits[split].y, b.splits[split].y)


def test_slow_path_agrees_with_fast_path(tmp_path, fer_csv):
    quoted = tmp_path / "quoted.csv"
    lines = fer_csv.read_text().splitlines()
    quoted.write_text("\n".join([lines[0]] + [l.replace(",", ',"', 1).replace(",", '",', 2).replace('",', ",", 1)
                                              for l in lines[1:]]) + "\n")
    assert '"' in quoted.read_text()
    a, b = load_dataset(str(fer_csv)), load_dataset(str(quoted))
    assert np.array_equal(a.splits["train"].x, b.splits["train"].x)


def test_csv_without_usage_is_split_stratified_and_says_so(cli, tmp_path, faces):
    path = tmp_path / "nousage.csv"
    write_csv(path, *faces)
    result = cli("data", "inspect", str(path), "--json")
    assert "no Usage column; made a stratified split" in result.stderr
    counts = json.loads(result.stdout)["splits"]
    assert all(counts["val"][c] >= 1 for c in counts["val"])
    other = load_dataset(f"fer2013:path={path},seed=1")
    assert other.fingerprint != load_dataset(str(path)).fingerprint


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda lines: ["emotion,Usage"] + lines[1:], "missing column(s) pixels"),
        (lambda lines: lines[:3] + [lines[3].rsplit(" ", 1)[0] + ",Training"] + lines[4:],
         "line 4: 2303 pixel values, expected 2304"),
        (lambda lines: lines[:2] + [lines[2].replace(" ", " x", 1)] + lines[3:], "line 3: non-numeric pixel value"),
        (lambda lines: lines[:5] + ["9" + lines[5][1:]] + lines[6:], "line 6: emotion 9 out of range 0-6"),
        (lambda lines: lines[:2] + [lines[2].replace("Training", "Validation")] + lines[3:],
         "line 3: unknown Usage 'Validation'"),
        (lambda lines: [], "empty file"),
    ],
)
def test_bad_csv_is_one_line_exit_2_and_nothing_cached(cli, fer_csv, mutate, message):
    fer_csv.write_text("\n".join(mutate(fer_csv.read_text().splitlines())))
    result = cli("data", "inspect", str(fer_csv))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr and str(fer_csv) in result.stderr
    assert cache.info()["entries"] == []


def test_skip_bad_rows_counts_what_it_skipped(cli, fer_csv):
    lines = fer_csv.read_text().splitlines()
    lines[3] = lines[3].rsplit(" ", 1)[0] + ",Training"
    lines[5] = "9" + lines[5][1:]
    lines[7] = lines[7].rsplit(" ", 1)[0] + ",Training"
    fer_csv.write_text("\n".join(lines) + "\n")
    result = cli("data", "inspect", str(fer_csv), "--skip-bad-rows", "--json")
    assert result.exit_code == 0
    assert "skipped 3 bad row(s): 2 wrong pixel count, 1 emotion out of range" in result.stderr
    assert sum(json.loads(result.stdout)["splits"]["train"].values()) == 37


def test_cache_serves_the_same_and_never_stale(fer_csv):
    first = load_dataset(str(fer_csv))
    assert len(cache.info()["entries"]) == 1
    again = load_dataset(str(fer_csv))
    assert again.fingerprint == first.fingerprint
    assert np.array_equal(again.splits["train"].x, first.splits["train"].x)
    lines = fer_csv.read_text().splitlines()
    lines[1] = "3" + lines[1][1:]
    fer_csv.write_text("\n".join(lines) + "\n")
    changed = load_dataset(str(fer_csv))
    assert changed.fingerprint != first.fingerprint and changed.splits["train"].y[0] == 3
    assert cache.clear() == 2 and cache.info()["entries"] == []


def test_cache_clear_deletes_only_its_own_entries(cli, fer_csv, tmp_path, monkeypatch):
    """$FER_ZOO_CACHE_DIR may name a folder of the user's: their data.npz, notes and folders stay, bytes and all."""
    folder = tmp_path / "cc"
    monkeypatch.setenv("FER_ZOO_CACHE_DIR", str(folder))
    mine = {folder / "data.npz": b"my arrays", folder / "synthetic-abc.npz": b"not a fingerprint",
            folder / "notes.txt": b"notes", folder / "work" / "x.npz": b"deeper"}
    for path, content in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    entry = load_dataset(str(fer_csv)).fingerprint
    assert (folder / f"{entry}.npz").is_file() and [e["file"] for e in cache.info()["entries"]] == [f"{entry}.npz"]
    result = cli("cache", "clear")
    assert result.exit_code == 0, result.output
    assert not (folder / f"{entry}.npz").exists()
    assert {path: path.read_bytes() for path in mine} == mine


def _rewrite_entry(path, dataset, **arrays):
    """The cache entry at ``path`` as a valid .npz archive of ``dataset`` with some arrays replaced."""
    meta = {"name": dataset.name, "class_names": list(dataset.class_names), "notes": dataset.notes,
            "splits": list(dataset.splits)}
    stored = {"meta": np.array(json.dumps(meta))}
    for name, split in dataset.splits.items():
        stored[f"x_{name}"], stored[f"y_{name}"] = split.x, split.y
    path.unlink()
    with open(path, "wb") as f:
        np.savez(f, **{**stored, **arrays})


@pytest.mark.parametrize("broken", ["fewer labels", "label outside the classes", "float pixels", "soft labels NaN",
                                    "a folder"])
def test_an_inconsistent_cache_entry_is_deleted_and_rebuilt_with_one_warning(fer_csv, broken, caplog):
    import logging

    first = load_dataset(str(fer_csv))
    entry = cache.cache_dir() / f"{first.fingerprint}.npz"
    train, val = first.splits["train"], first.splits["val"]
    if broken == "a folder":
        entry.unlink()
        (entry / "inner").mkdir(parents=True)
    else:
        _rewrite_entry(entry, first, **{
            "fewer labels": {"y_train": train.y[:-1]},
            "label outside the classes": {"y_val": val.y + 7},
            "float pixels": {"x_train": train.x.astype(np.float32)},
            "soft labels NaN": {"y_val": np.full((len(val), 7), np.nan, np.float32)},
        }[broken])
    with caplog.at_level(logging.WARNING, logger="fer_zoo"):
        again = load_dataset(str(fer_csv))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and entry.name in warnings[0] and "rebuilding" in warnings[0], warnings
    for name, split in first.splits.items():
        assert np.array_equal(again.splits[name].x, split.x) and np.array_equal(again.splits[name].y, split.y)
    assert entry.is_file()  # written again, whole
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fer_zoo"):
        load_dataset(str(fer_csv))
    assert not caplog.records  # the rebuilt entry reads back without complaint


def test_ferplus_votes_must_be_whole_numbers_and_some_row_kept(cli, tmp_path, fer_csv):
    from tests.bad_values import ferplus_labels

    good = ferplus_labels(tmp_path / "good.csv", USAGE)
    assert sum(sum(c.values()) for c in inspect(cli, f"ferplus:csv={fer_csv},labels={good}")["splits"].values()) == 62
    for votes, base, message in [({5: "2.5"}, "10", "line 7: vote count neutral='2.5' must be a whole number"),
                                 ({5: "٣"}, "10", "line 7: vote count neutral='٣'"),
                                 ({5: "1001"}, "10", "line 7: vote count neutral=1001 must be a whole number"),
                                 ({}, "0", "kept 0 of 62 rows")]:
        labels = ferplus_labels(tmp_path / "bad.csv", USAGE, votes, base)
        result = cli("data", "inspect", f"ferplus:csv={fer_csv},labels={labels}")
        assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1, votes


def test_a_csv_with_usage_refuses_split_options_and_one_without_takes_them_in_range(cli, tmp_path, fer_csv, faces):
    result = cli("data", "inspect", f"fer2013:path={fer_csv},seed=3")
    assert result.exit_code == 2 and "dataset option seed: " in result.stderr and "has a Usage column" in result.stderr
    bare = tmp_path / "bare.csv"
    write_csv(bare, *faces)
    report = inspect(cli, f"fer2013:path={bare},val_fraction=0.25,test_fraction=0,seed=4294967295")
    assert {s: sum(c.values()) for s, c in report["splits"].items()}["test"] == 0
    for option, message in [("val_fraction=1", "val_fraction must be a finite number in [0, 1), got '1'"),
                            ("val_fraction=0.6,test_fraction=0.4", "must sum below 1"),
                            ("seed=4294967296", "seed must be an integer in [0, 4294967295]")]:
        result = cli("data", "inspect", f"fer2013:path={bare},{option}")
        assert result.exit_code == 2 and message in result.stderr, option


def test_a_cr_only_csv_is_refused_naming_the_line_ends(cli, tmp_path, fer_csv):
    cr = tmp_path / "mac.csv"
    cr.write_bytes(fer_csv.read_bytes().replace(b"\n", b"\r"))
    result = cli("data", "inspect", str(cr))
    assert result.exit_code == 2 and "mac.csv: its lines end in a bare carriage return" in result.stderr
    assert cache.info()["entries"] == []


def write_folder(root, layout, size=(48, 48), mode="L", per_class=3):
    for split in layout:
        for cls in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"):
            folder = root / split / cls if split else root / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                value = 10 * ("angry disgust fear happy sad surprise neutral".split().index(cls)) + i
                Image.new(mode, size, value if mode == "L" else (value,) * 3).save(folder / f"{i}.png")


def test_kaggle_folder_maps_classes_by_name_and_carves_val(cli, tmp_path):
    write_folder(tmp_path / "fer", ["train", "test"], per_class=10)
    dataset = load_dataset(str(tmp_path / "fer"))
    assert list(dataset.splits) == ["train", "val", "test"]
    test = dataset.splits["test"]
    # neutral is 6 (canonical), not 4 (alphabetical); its images were drawn with value 60..69
    assert set(test.x[test.y == 6, 0, 0, 0].tolist()) == set(range(60, 70))
    assert any("no val/ folder; carved" in note for note in dataset.notes)
    counts = inspect(cli, tmp_path / "fer")["splits"]
    assert counts["val"]["neutral"] == 1 and counts["train"]["neutral"] == 9


def test_flat_class_folders_and_mixed_sizes(cli, tmp_path):
    write_folder(tmp_path / "flat", [""], per_class=10)
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "flat" / "happy" / "odd.jpg")
    result = cli("data", "inspect", str(tmp_path / "flat"), "--json")
    assert "converted 1 of 71 images to the most common 48x48 greyscale" in result.stderr
    assert json.loads(result.stdout)["image"] == {"height": 48, "width": 48, "channels": 1}


@pytest.mark.parametrize("problem, message", [("unknown", "unknown class folder 'smirk'"),
                                              ("empty", "empty class folder"), ("corrupt", "unreadable image")])
def test_bad_folders(cli, tmp_path, problem, message):
    write_folder(tmp_path / "fer", ["train", "test"])
    if problem == "unknown":
        (tmp_path / "fer" / "train" / "smirk").mkdir()
        (tmp_path / "fer" / "train" / "smirk" / "a.png").write_bytes(b"")
    elif problem == "empty":
        for f in (tmp_path / "fer" / "test" / "sad").iterdir():
            f.unlink()
    else:
        (tmp_path / "fer" / "test" / "sad" / "0.png").write_bytes(b"not a png")
    result = cli("data", "inspect", str(tmp_path / "fer"))
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1


def write_ferplus(path, usage, votes, names=None):
    rows = ["Usage,Image name," + ",".join(VOTE_COLUMNS)]
    for i, (u, v) in enumerate(zip(usage, votes)):
        name = f"fer{i:07d}.png" if names is None else names[i]
        rows.append(f"{u},{name}," + ",".join(map(str, v)))
    path.write_text("\n".join(rows) + "\n")


def test_ferplus_majority_rule():
    #                 neu hap sur sad ang dis fea con unk NF
    votes = np.array([[6,  1,  1,  0,  0,  0,  0,  0,  2,  0],   # neutral 6 of 8 after zeroing ones
                      [4,  4,  0,  0,  0,  0,  0,  0,  2,  0],   # no majority
                      [1,  0,  0,  0,  0,  0,  0,  0,  9,  0],   # unknown on top
                      [0,  0,  0,  0,  5,  0,  2,  3,  0,  0]])  # anger 5 of 10: not more than half
    keep, y = targets(votes, "majority")
    assert keep.tolist() == [True, False, False, False] and y[0] == 6
    keep, soft = targets(votes, "probability")
    assert keep.tolist() == [True, True, False, True]
    assert np.allclose(soft[0], [0, 0, 0, 0, 0, 0, 1, 0]) and np.allclose(soft[3], [0.5, 0, 0.2, 0, 0, 0, 0, 0.3])


def test_ferplus_loads_aligned_and_refuses_misaligned(cli, tmp_path, fer_csv):
    labels = tmp_path / "fer2013new.csv"
    votes = np.zeros((len(USAGE), 10), int)
    votes[:, 1] = 10  # all happy
    votes[5] = [0, 0, 0, 0, 0, 0, 0, 10, 0, 0]  # contempt
    names = [f"fer{i:07d}.png" for i in range(len(USAGE))]
    names[3] = ""
    write_ferplus(labels, USAGE, votes, names)
    report = inspect(cli, f"ferplus:csv={fer_csv},labels={labels}")
    assert report["classes"][-1] == "contempt" and report["splits"]["train"]["contempt"] == 1
    assert sum(report["splits"]["train"].values()) == 39  # the empty image name is dropped
    soft = load_dataset(f"ferplus:csv={fer_csv},labels={labels},mode=probability")
    assert soft.splits["train"].y.shape == (39, 8)
    write_ferplus(labels, USAGE[1:] + ["Training"], votes)
    result = cli("data", "inspect", f"ferplus:csv={fer_csv},labels={labels}")
    assert result.exit_code == 2 and "is not aligned with" in result.stderr


def test_data_spec_errors(cli, tmp_path):
    for spec, message in [("nosuch.csv", "no such file or folder"), ("nosuchsource", "no such dataset"),
                          ("fer2013:path", "expected key=value")]:
        result = cli("data", "inspect", spec)
        assert result.exit_code == 2 and message in result.stderr, spec


def test_datasets_command_lists_builtin_sources(cli):
    rows = {d["name"]: d for d in json.loads(cli("datasets", "--json").stdout)}
    assert {"fer2013", "ferplus", "folder"} <= set(rows) and rows["ferplus"]["plugin"] == "fer-zoo"


def test_dataset_plugin_registers_through_the_hook(cli, install_plugin):
    install_plugin("acme-data", """
import numpy as np
import fer_zoo
from fer_zoo.data import CLASS_NAMES, Dataset, DatasetSource, Split

def load(options):
    n = int(options.get("n", 14))
    x = np.zeros((n, 32, 32, 3), np.uint8)
    y = np.arange(n) % 7
    return Dataset("blank", CLASS_NAMES, {"train": Split(x, y), "val": Split(x[:7], y[:7]), "test": Split(x[:7], y[:7])})

@fer_zoo.hookimpl
def fer_zoo_register_datasets(register):
    register(DatasetSource(name="blank", load=load, description="blank images"))
""")
    report = inspect(cli, "blank:n=21")
    assert sum(report["splits"]["train"].values()) == 21 and report["image"]["channels"] == 3


def test_a_plugin_dataset_that_breaks_the_contract_is_one_line_naming_the_plugin(cli, install_plugin):
    install_plugin("acme-bad-data", """
import numpy as np
import fer_zoo
from fer_zoo.data import CLASS_NAMES, Dataset, DatasetSource, Split

def load(options):
    x = np.zeros((14, 8, 8, 1), np.uint8)
    y = np.arange(14) % 7
    if options.get("break") == "labels":
        y = y + 7
    elif options.get("break") == "lengths":
        y = y[:-1]
    return Dataset("bad", CLASS_NAMES, {"train": Split(x, y), "val": Split(x, y), "test": Split(x, y)})

@fer_zoo.hookimpl
def fer_zoo_register_datasets(register):
    register(DatasetSource(name="bad", load=load, description="broken arrays", options={"break": "what"}))
""")
    for broken, message in [("labels", "split 'train': labels must be integers 0-6"),
                            ("lengths", "split 'train': 14 images but 13 labels")]:
        result = cli("data", "inspect", f"bad:break={broken}")
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
        assert "dataset 'bad' returned data that breaks the contract: " + message in result.stderr, result.stderr


def test_grid_png_is_written(cli, tmp_path, fer_csv):
    grid = tmp_path / "out" / "grid.png"
    report = inspect(cli, fer_csv, "--grid", grid)
    with Image.open(grid) as image:
        assert image.size[1] == 7 * (96 + 2) and report["grid"] == str(grid)


def test_fast_path_streams_blocks_exactly(fer_csv, faces):
    x, y = faces
    header = read_header(fer_csv)
    for block in (20_000, 50_000, 1 << 23):  # two rows a block, a few, all
        labels, images, usage = parse_fast(fer_csv, header, block_bytes=block)
        assert np.array_equal(images, x) and np.array_equal(labels, y) and usage == USAGE


def test_crlf_and_missing_final_newline(tmp_path, fer_csv, faces):
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(fer_csv.read_bytes().replace(b"\n", b"\r\n").rstrip(b"\r\n"))
    labels, images, usage = parse_fast(crlf, read_header(crlf))
    assert np.array_equal(images, faces[0]) and usage == USAGE


@pytest.mark.parametrize(
    "replace, message",
    [
        # an extra "x" leaves the digit-run count right: the byte accounting must catch it
        (lambda row: row.replace(" ", " x ", 1), "2305 pixel values, expected 2304"),
        (lambda row: " ".join(["x" if i == 1 else t for i, t in enumerate(row.split(" "))]), "non-numeric pixel value"),
        (lambda row: row.replace(" ", " 256 ", 1).rsplit(" ", 1)[0] + ",Training", "pixel value above 255"),
        (lambda row: row.replace(" ", " 1000 ", 1).rsplit(" ", 1)[0] + ",Training", "pixel value above 255"),
    ],
)
def test_fast_path_never_accepts_junk(cli, fer_csv, replace, message):
    lines = fer_csv.read_text().splitlines()
    lines[2] = replace(lines[2])
    fer_csv.write_text("\n".join(lines) + "\n")
    assert parse_fast(fer_csv, read_header(fer_csv)) is None
    result = cli("data", "inspect", str(fer_csv))
    assert result.exit_code == 2 and f"line 3: {message}" in result.stderr


def test_a_cached_dataset_is_named_by_the_path_given_now(cli, tmp_path, fer_csv):
    first, link = tmp_path / "a.csv", tmp_path / "linkB.csv"
    first.write_bytes(fer_csv.read_bytes())
    link.symlink_to(first)
    assert load_dataset(str(first)).name == f"fer2013:{first}"
    again = load_dataset(str(link))  # the same bytes: served from the entry parsed as a.csv
    assert len(cache.info()["entries"]) == 1
    assert again.name == f"fer2013:{link}"
    result = cli("data", "inspect", str(link))
    assert result.exit_code == 0, result.output
    assert "linkB.csv" in result.stdout and "a.csv" not in result.stdout.replace("linkB.csv", "")
