"""The embedded synthetic faces: deterministic, fast enough, shaped like FER2013 by default (its class
proportions and label noise in every split), the earlier balanced set as the `easy` preset."""

from __future__ import annotations

import json

import numpy as np

from fer_zoo.data import load_dataset
from fer_zoo.data.synthetic import FER2013_COUNTS, generate


def test_same_seed_same_bytes_other_seed_other_bytes():
    a, ya = generate(600, seed=3)
    b, yb = generate(600, seed=3)
    c, _ = generate(600, seed=4)
    assert a.tobytes() == b.tobytes() and np.array_equal(ya, yb)
    assert a.tobytes() != c.tobytes()
    assert a.dtype == np.uint8 and a.shape == (600, 48, 48, 1)


def test_balanced_by_default_and_fer2013_imbalance_on_request():
    _, y = generate(700, seed=0)
    assert np.bincount(y, minlength=7).tolist() == [100] * 7
    _, y = generate(7000, seed=0, imbalance="fer2013")
    share = np.bincount(y, minlength=7) / 7000
    expected = FER2013_COUNTS / FER2013_COUNTS.sum()
    assert np.all(np.abs(share - expected) < 0.02) and share[1] < 0.03  # disgust rare


def test_label_noise_changes_only_that_share_of_labels():
    _, clean = generate(2000, seed=1)
    _, noisy = generate(2000, seed=1, label_noise=0.3)
    changed = np.mean(clean != noisy)
    assert 0.2 < changed < 0.32  # 30% redrawn, 1/7 of those redrawn to the same class


def test_classes_differ_in_the_drawn_geometry():
    x, y = generate(1400, seed=2, difficulty=0.0)
    mouth = x[:, 30:40, 16:32, 0].astype(float).mean(axis=(1, 2))
    # an open surprised mouth is darker than a neutral closed one, on average
    assert mouth[y == 5].mean() < mouth[y == 6].mean() - 3


def test_default_preset_is_fer2013_shaped_and_easy_is_balanced_and_clean():
    from fer_zoo.data.synthetic import PRESETS

    default = load_dataset("synthetic:size=2100,seed=2", use_cache=False)
    expected = FER2013_COUNTS / FER2013_COUNTS.sum()
    noise = float(PRESETS["fer2013"]["label_noise"])
    for split in ("train", "val", "test"):
        y = default.splits[split].y
        share = np.bincount(y, minlength=7) / len(y)
        # drawn in FER2013's proportions, then a share relabelled uniformly at random
        mixed = (1 - noise) * expected + noise / 7
        tolerance = 0.03 if split == "train" else 0.06
        assert np.all(np.abs(share - mixed) < tolerance), (split, share.round(3))
    easy = load_dataset("synthetic:size=2100,seed=2,preset=easy", use_cache=False)
    assert np.bincount(easy.splits["train"].y, minlength=7).tolist() == [300] * 7
    # the same images: only the labels' noise and the class draw differ between the presets' options
    clean = load_dataset("synthetic:size=2100,seed=2,label_noise=0", use_cache=False)
    relabelled = np.mean(clean.splits["val"].y != default.splits["val"].y)
    assert np.array_equal(clean.splits["val"].x, default.splits["val"].x)
    assert 0.5 * noise < relabelled < noise  # a tenth redrawn, 1/7 of those to the same class


def test_default_source_splits_and_options(cli):
    result = cli("data", "inspect", "synthetic:size=140,seed=5", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {s: sum(c.values()) for s, c in report["splits"].items()} == {"train": 140, "val": 23, "test": 23}
    assert "not FER2013 accuracies" in result.stderr
    assert report["duplicates_across_splits"] == {"train/val": 0, "train/test": 0, "val/test": 0}
    a = load_dataset("synthetic:size=140,seed=5")
    b = load_dataset("synthetic:size=140,seed=5", use_cache=False)
    assert a.fingerprint == b.fingerprint and np.array_equal(a.splits["val"].x, b.splits["val"].x)


def test_bad_synthetic_options(cli):
    for spec, message in [("synthetic:difficulty=extreme", "difficulty must be easy, medium, hard"),
                          ("synthetic:size=abc", "dataset option size must be an integer in [7, 1000000], got 'abc'"),
                          ("synthetic:size=100000000000000", "dataset option size must be an integer in [7, 1000000]"),
                          ("synthetic:seed=-1", "dataset option seed must be an integer in [0, 4294967295], got '-1'"),
                          ("synthetic:seed=18446744073709551616", "dataset option seed must be an integer in [0, "),
                          ("synthetic:label_noise=nan", "dataset option label_noise must be a finite number in [0, 1]"),
                          ("synthetic:preset=hardest", "preset must be one of fer2013, easy"),
                          ("synthetic:colour=1", "synthetic has no option 'colour' (its options: preset,")]:
        result = cli("data", "inspect", spec)
        assert result.exit_code == 2 and message in result.stderr, spec


def test_generation_is_vectorised_per_block_not_per_image(monkeypatch):
    # speed itself is measured by scripts/bench_synthetic.py (tests never assert wall-clock time);
    # here: the renderer runs once per block of images, never once per image
    from fer_zoo.data import synthetic

    calls = []
    real = synthetic.render
    monkeypatch.setattr(synthetic, "render", lambda p: calls.append(len(p["skin"])) or real(p))
    synthetic.generate(1200, seed=0)
    assert sorted(calls) == [200, 500, 500]
