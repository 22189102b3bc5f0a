"""The one run schema (fer_zoo.training.run_config): a run re-created from its own model card's command writes
the same config.json, for every recorded field, for a recipe from a file and from a plugin, and once end to end."""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

import pytest

from fer_zoo.training import run_config
from fer_zoo.training.run_config import RunConfig

DATA = "synthetic:size=84,preset=easy"
# a value away from the default for every field config.json records (a new field must add one)
SAMPLES = {"recipe": "modern", "epochs": 3, "batch_size": 16, "lr": 0.005, "optimizer": "sgd", "augment": False,
           "seed": 7, "deterministic": True, "precision": "mixed_bfloat16", "class_weights": "balanced", "label_smoothing": 0.1,
           "early_stopping": 5, "init_from": "some/model.keras", "freeze": "backbone", "subset": 40,
           "eval_subset": 12, "time_box": 12.5, "devices": 2}


def _card_command(config: dict, run_dir: Path) -> list[str]:
    from fer_zoo.training import model_card

    card = model_card.render(config, {}, run_dir)
    command = card.split("## How to reproduce")[1].split("```")[1].strip()
    args = shlex.split(command)
    assert args[:2] == ["fer-zoo", "train"]
    return args[1:]


def _config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def _again(cli, config: dict, run: Path, out: Path) -> dict:
    result = cli(*_card_command(config, run), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    return _config(out)


def test_every_recorded_field_has_a_sample():
    assert set(run_config.recorded()) == set(SAMPLES)
    assert {n for n, _, _ in run_config.settings()} - set(SAMPLES) == {"checkpoint_seconds"}  # when, not what


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_run_made_again_from_its_card_writes_the_same_config(cli, no_fit, tmp_path, name):
    no_fit("lenet", DATA, tmp_path / "default", RunConfig())
    no_fit("lenet", DATA, tmp_path / "a", RunConfig(**{name: SAMPLES[name]}))
    config = _config(tmp_path / "a")
    assert config != _config(tmp_path / "default")  # the sample changes what is recorded
    assert _again(cli, config, tmp_path / "a", tmp_path / "b") == config


def test_a_card_missing_one_flag_does_not_reproduce(cli, no_fit, tmp_path, monkeypatch):
    """What the property above catches: the card's command without --seed trains another run."""
    no_fit("lenet", DATA, tmp_path / "a", RunConfig(seed=7))
    config = _config(tmp_path / "a")
    command = run_config.command
    monkeypatch.setattr(run_config, "command", lambda c, d=None: command(c, d).replace(" --seed 7", ""))
    assert _again(cli, config, tmp_path / "a", tmp_path / "b")["seed"] == 0


def test_a_recipe_file_is_recorded_and_reproduced_from_the_runs_copy(cli, no_fit, tmp_path):
    recipe = tmp_path / "mine.toml"
    recipe.write_text('base = "modern"\nlearning_rate = 0.05\nmomentum = 0.8\n[augment]\nflip = false\nshear = 0.2\n')
    no_fit("lenet", DATA, tmp_path / "a", RunConfig(recipe=str(recipe), epochs=2))
    config = _config(tmp_path / "a")
    assert config["recipe_origin"] == {"kind": "file", "path": str(recipe),
                                       "sha256": hashlib.sha256(recipe.read_bytes()).hexdigest()}
    args = _card_command(config, tmp_path / "a")
    assert args[args.index("--recipe") + 1] == str(tmp_path / "a" / "recipe.toml")
    recipe.write_text('base = "seed"\n')  # the user's file changes; the run's copy does not
    again = _again(cli, config, tmp_path / "a", tmp_path / "b")
    assert again["recipe_origin"]["path"] == str(tmp_path / "a" / "recipe.toml")
    assert {k: v for k, v in again.items() if k != "recipe_origin"} == \
        {k: v for k, v in config.items() if k != "recipe_origin"}
    assert again["recipe"]["momentum"] == 0.8 and again["recipe"]["augment"]["shear"] == 0.2


def test_a_plugins_recipe_file_is_recorded_with_the_plugin_and_reproduced(cli, no_fit, tmp_path, install_plugin,
                                                                         tiny_plugin_source):
    shipped = tmp_path / "shipped.toml"
    shipped.write_text('base = "stable"\nbatch_size = 24\n[augment]\nerasing = 0.3\n')
    source = tiny_plugin_source("tiny").replace("macs=19_072,", f"macs=19_072, recipe={str(shipped)!r},")
    assert str(shipped) in source
    install_plugin("acme-fer", source, version="2.3.1")
    no_fit("tiny", DATA, tmp_path / "a", RunConfig(epochs=2))
    config = _config(tmp_path / "a")
    assert config["recipe_origin"] == {"kind": "plugin", "distribution": "acme-fer", "version": "2.3.1",
                                       "path": str(shipped), "sha256": hashlib.sha256(shipped.read_bytes()).hexdigest()}
    assert (config["recipe"]["name"], config["recipe"]["batch_size"]) == ("stable", 24)
    again = _again(cli, config, tmp_path / "a", tmp_path / "b")
    assert {k: v for k, v in again.items() if k != "recipe_origin"} == \
        {k: v for k, v in config.items() if k != "recipe_origin"}


def test_the_bench_job_carries_every_option_to_the_worker():
    options = RunConfig(**{k: v for k, v in SAMPLES.items()})
    assert RunConfig.from_job(json.loads(json.dumps(options.as_job()))) == options


def test_a_recipe_file_inside_out_is_refused(cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "r.toml").write_text('base = "seed"\n')
    before = sorted(p.name for p in run.iterdir())
    result = cli("train", "lenet", "--data", DATA, "--recipe", str(run / "r.toml"), "--out", str(run), "--force")
    assert result.exit_code == 2 and "is inside --out" in result.stderr
    assert sorted(p.name for p in run.iterdir()) == before and (run / "r.toml").read_text() == 'base = "seed"\n'


def test_a_trained_run_made_again_from_its_card_trains_the_same(cli, tmp_path):
    """End to end: a real (one-epoch) run with the flags the card used to drop, then its card's command."""
    flags = ["--optimizer", "sgd", "--label-smoothing", "0.1", "--no-augment", "--early-stopping", "5",
             "--epochs", "1", "--batch-size", "16", "--seed", "3", "--subset", "60"]
    first = cli("train", "lenet", "--data", DATA, "--out", str(tmp_path / "a"), "--quiet", *flags)
    assert first.exit_code == 0, first.output
    config = _config(tmp_path / "a")
    card_args = shlex.split((tmp_path / "a" / "MODEL_CARD.md").read_text()
                            .split("## How to reproduce")[1].split("```")[1].strip())[1:]
    again = cli(*card_args, "--out", str(tmp_path / "b"), "--quiet")
    assert again.exit_code == 0, again.output
    assert _config(tmp_path / "b") == config
    timing = ("epoch_seconds", "images_per_second", "seconds")

    def history(run):
        lines = (run / "history.csv").read_text().splitlines()
        head = lines[0].split(",")
        return [{k: v for k, v in zip(head, line.split(",")) if k not in timing} for line in lines[1:]]

    assert history(tmp_path / "b") == history(tmp_path / "a")
