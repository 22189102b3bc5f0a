"""Recipe values are checked against the limits of what consumes them: Keras' own constraints, else sense."""

from __future__ import annotations

import math

import pytest

from fer_zoo.errors import FerZooError
from fer_zoo.models.recipes import RANGES, RECIPES, check, make_optimizer, resolve


def test_every_built_in_recipe_is_within_the_ranges():
    for recipe in RECIPES.values():
        assert check(recipe) == recipe


@pytest.mark.parametrize("key, low, high", [(k, r[1], r[2]) for k, r in RANGES.items()])
def test_each_range_is_enforced_at_both_ends(tmp_path, key, low, high):
    kind, _, _, low_open, high_open = RANGES[key]
    table, _, field = key.rpartition(".")
    path = tmp_path / "r.toml"

    def load(value):
        path.write_text((f"[{table}]\n" if table else "") + f"{field} = {value!r}\n")
        return resolve("seed", str(path))

    below = low - (0 if low_open else (1 if kind is int else 1e-3))
    with pytest.raises(FerZooError, match=rf"r\.toml: {key} must be"):
        load(below)
    load(low + (1 if kind is int else 1e-3) if low_open else low)  # the edge itself, where closed
    if high is not None:
        above = high + (0 if high_open else (1 if kind is int else 1e-3))
        with pytest.raises(FerZooError, match=rf"r\.toml: {key} must be"):
            load(above)
    if kind is float:
        with pytest.raises(FerZooError, match="finite number"):
            load(math.nan)


def test_a_whole_number_in_a_float_field_reaches_keras_as_a_float(tmp_path):
    """Keras' SGD refuses an int momentum ("must be a float between [0, 1]"); TOML's `momentum = 1` is one."""
    path = tmp_path / "r.toml"
    path.write_text('base = "modern"\nmomentum = 1\nweight_decay = 0\n')
    recipe = resolve(None, str(path))
    assert isinstance(recipe.momentum, float) and isinstance(recipe.weight_decay, float)
    assert float(make_optimizer(recipe).momentum) == 1.0


def test_the_edges_keras_accepts_are_accepted(tmp_path):
    import keras

    path = tmp_path / "r.toml"
    path.write_text('base = "modern"\nmomentum = 0.0\nplateau_factor = 0.99\n[augment]\nerasing = 1.0\n')
    recipe = resolve(None, str(path))
    make_optimizer(recipe)
    keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=recipe.plateau_factor)
    keras.layers.RandomErasing(factor=recipe.augment.erasing, scale=(0.02, 0.2))
    with pytest.raises(ValueError):  # why plateau_factor stops below 1
        keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=1.0)


def test_flags_are_checked_too_and_named_as_flags():
    with pytest.raises(FerZooError, match=r"--label-smoothing must be a finite number in \[0, 1\), got 1"):
        resolve("seed", label_smoothing=1.0)
    with pytest.raises(FerZooError, match="--lr"):
        resolve("seed", lr=math.inf)
