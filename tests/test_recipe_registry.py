"""Recipes are a pluggable kind: a distribution registers named recipes through `fer_zoo_register_recipes`, the
built-in ones register the same way, `fer-zoo recipes` lists them, an architecture's `recipe` names one, the
conformance kit checks it resolves, and a run records where its recipe came from."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import fer_zoo
from fer_zoo import plugins
from fer_zoo.testing import ConformanceError, check_architecture
from fer_zoo.training.run_config import RunConfig

DATA = "synthetic:size=84,preset=easy"

RECIPE_PLUGIN = '''
import fer_zoo

@fer_zoo.hookimpl
def fer_zoo_register_recipes(register):
    register(fer_zoo.Recipe("acme-sgd", "sgd", 0.02, 32, 40, fer_zoo.Augment(flip=True, rotation_degrees=7.5),
                            momentum=0.85, nesterov=True, schedule="cosine", warmup_epochs=2, {more}
                            description="acme's SGD: cosine after two warm-up epochs"))
'''


@pytest.fixture
def acme(install_plugin):
    """A distribution `acme-fer` 2.3.1 that registers one recipe, `acme-sgd`."""
    install_plugin("acme-fer", RECIPE_PLUGIN.format(more=""), version="2.3.1")
    yield
    plugins.reset()


def test_built_in_recipes_register_through_the_entry_point_group():
    loaded = plugins.checked()
    names = set(loaded.recipes.names())
    assert {"seed", "stable", "adam", "modern"} <= names
    builtin = next(p for p in loaded.plugins if "seed" in p.recipes)
    assert builtin.distribution == "fer-zoo" and builtin.hooks == ["fer_zoo_register_recipes"]
    assert fer_zoo.get_recipe("seed").plugin.distribution == "fer-zoo"


def test_a_plugins_recipe_is_listed_with_its_plugin_and_values(cli, acme, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert "acme-sgd" in fer_zoo.list_recipes("acme-*")
    result = cli("recipes", "--json")
    assert result.exit_code == 0, result.output
    entry = next(r for r in json.loads(result.stdout) if r["name"] == "acme-sgd")
    assert (entry["plugin"], entry["plugin_version"]) == ("acme-fer", "2.3.1")
    assert (entry["optimizer"], entry["learning_rate"], entry["nesterov"], entry["schedule"]) == ("sgd", 0.02, True,
                                                                                                   "cosine")
    assert entry["augment"]["rotation_degrees"] == 7.5
    table = cli("recipes")
    assert table.exit_code == 0
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    lines = table.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("acme-sgd "))
    assert lines[at].split(None, 1)[1].strip() == "sgd 0.02, nesterov 0.85; cosine after 2 warm-up"
    assert lines[at + 1].split() == ["acme-fer", "2.3.1", "40", "epochs,", "batch", "32;", "TTA", "none"]
    assert lines[at + 2].strip() == "rotation 7.5, flip"


def test_an_unknown_recipe_name_suggests_the_close_one(cli):
    result = cli("train", "lenet", "--recipe", "modrn", "--data", DATA, "--epochs", "1")
    assert result.exit_code == 2
    assert "unknown recipe 'modrn'; did you mean modern?" in result.stderr
    assert cli("recipes", "nope*").exit_code == 2


def test_a_plugin_registering_a_recipe_out_of_range_is_refused_and_names_it(install_plugin, tiny_plugin_source):
    source = RECIPE_PLUGIN.format(more="momentum=1.5,").replace("momentum=0.85, ", "") + tiny_plugin_source("tiny")
    install_plugin("broken-fer", source)
    loaded = plugins.current()
    broken = next(p for p in loaded.plugins if p.distribution == "broken-fer")
    assert "fer_zoo_register_recipes failed" in broken.error and "momentum" in broken.error
    assert "acme-sgd" not in loaded.recipes and "tiny" not in loaded.architectures  # nothing of any kind
    plugins.reset()


def test_a_recipe_that_is_not_a_recipe_is_refused(install_plugin):
    install_plugin("odd-fer", '''
import fer_zoo

@fer_zoo.hookimpl
def fer_zoo_register_recipes(register):
    register({"name": "dict-recipe", "optimizer": "sgd"})
''')
    odd = next(p for p in plugins.current().plugins if p.distribution == "odd-fer")
    assert "expects a fer_zoo.Recipe, got dict" in odd.error
    plugins.reset()


def test_a_run_under_a_plugins_recipe_records_its_origin_and_reproduces(cli, no_fit, tmp_path, acme):
    no_fit("lenet", DATA, tmp_path / "a", RunConfig(recipe="acme-sgd", epochs=3))
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["recipe_origin"] == {"kind": "plugin", "name": "acme-sgd", "distribution": "acme-fer",
                                       "version": "2.3.1"}
    assert (config["recipe"]["learning_rate"], config["recipe"]["epochs"], config["recipe"]["warmup_epochs"]) == \
        (0.02, 3, 2)
    from fer_zoo.training import model_card

    card = model_card.render(config, {}, tmp_path / "a")
    assert "registered by plugin acme-fer 2.3.1" in card
    command = card.split("## How to reproduce")[1].split("```")[1].strip()
    assert "--recipe acme-sgd --epochs 3" in command  # the registered name, not a copy of the file
    again = cli(*command.split()[1:], "--out", str(tmp_path / "b"), "--quiet")
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "b" / "config.json").read_text()) == config


def test_a_recipe_object_trains_as_given_and_its_card_passes_the_copy(no_fit, tmp_path):
    mine = replace(fer_zoo.get_recipe("modern"), name="mine", learning_rate=0.03, mixup=0.4)
    fer_zoo.train("lenet", DATA, tmp_path / "a", recipe=mine, epochs=2)
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["recipe_origin"] == {"kind": "python", "name": "mine"}
    assert (config["recipe"]["learning_rate"], config["recipe"]["mixup"], config["recipe"]["epochs"]) == (0.03, 0.4, 2)
    from fer_zoo.training import model_card

    card = model_card.render(config, {}, tmp_path / "a")
    assert f"--recipe {tmp_path / 'a' / 'recipe.toml'}" in card  # no registered name rebuilds it
    assert fer_zoo.recipe_from_toml(tmp_path / "a" / "recipe.toml") == replace(mine, epochs=2)
    with pytest.raises(fer_zoo.FerZooError, match="momentum"):
        fer_zoo.train("lenet", DATA, tmp_path / "c", recipe=replace(mine, momentum=3.0))
    assert not (tmp_path / "c").exists()


def test_recipe_from_toml_reads_a_file_over_a_registered_base(tmp_path, acme):
    path = tmp_path / "r.toml"
    path.write_text('base = "acme-sgd"\nbatch_size = 16\n')
    recipe = fer_zoo.recipe_from_toml(path)
    assert (recipe.name, recipe.batch_size, recipe.learning_rate) == ("acme-sgd", 16, 0.02)
    path.write_text('base = "acme-sdg"\n')
    with pytest.raises(fer_zoo.FerZooError, match="did you mean acme-sgd"):
        fer_zoo.recipe_from_toml(path)


@pytest.mark.parametrize("recipe, expected", [("modrn", "did you mean modern"), ("missing.toml", "missing.toml")])
def test_the_conformance_kit_checks_the_recipe_resolves(recipe, expected):
    arch = replace(fer_zoo.get_architecture("lenet"), recipe=recipe)
    with pytest.raises(ConformanceError, match=expected):
        check_architecture(arch, isolate=False)


def test_a_reported_test_figure_shows_in_list_and_in_the_bench_row(cli, install_plugin, tiny_plugin_source,
                                                                    monkeypatch):
    from fer_zoo.benchmark.bench import RowSpec, aggregate

    monkeypatch.setenv("COLUMNS", "80")
    source = tiny_plugin_source("tiny").replace("macs=19_072,", 'macs=19_072, reported={"val": 0.7, "test": 0.7132},')
    install_plugin("acme-fer", source)
    row = next(line for line in cli("list").stdout.splitlines() if line.startswith("tiny "))
    assert row.split()[-1] == "70.0/71.3"
    aggregated = aggregate(RowSpec("tiny"), [])
    assert (aggregated["reported_val_acc"], aggregated["reported_test_acc"]) == (0.7, 0.7132)
    plugins.reset()
