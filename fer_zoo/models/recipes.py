"""Recipes: how a network is trained, as plain data. The built-in ones, TOML files, flag overrides.

An architecture names its default recipe (``Architecture.recipe``); ``--recipe NAME|FILE.toml`` and the
training flags change it. A name is any recipe registered through the ``fer_zoo_register_recipes`` hook: the
built-in ones below register through it like a plugin's (this module is an entry point). Nothing here imports
Keras except :func:`make_optimizer`. The Recipe and Augment types and their ranges are
fer_zoo/plugins/recipe.py's (re-exported here).
"""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import get_args, get_type_hints

from fer_zoo.errors import FerZooError
from fer_zoo.inputs import regular_file
from fer_zoo.plugins.hookspecs import hookimpl
from fer_zoo.plugins.recipe import (FLAGS, OPTIMIZERS, RANGES, Augment, Recipe, check, checked,  # noqa: F401
                                    registered)

SEED_AUGMENT = Augment(shift=0.1, zoom=0.1, rotation_degrees=10, shear=0.1, flip=True)

# The paper's augmentation, with a step size deep nets without much batch norm survive: Adam at 3e-4,
# batch 128, the global gradient norm clipped to 1. The default of the paper's AlexNet and VGG readings,
# which the seed recipe collapsed to a constant prediction in the first epoch, and today's AlexNet-48
# learns under at half the pace (docs/architectures.md).
STABLE = Recipe("stable", "adam", 3e-4, 128, 450, SEED_AUGMENT, gradient_clip=1.0, plateau_factor=0.5,
                plateau_patience=5, schedule="plateau",
                description="the paper's augmentation at a step deep nets survive: Adam 3e-4, clipped, plateau")

RECIPES = {
    # The seed paper, §2.3: Adam lr 0.01, sparse categorical cross-entropy, batch 256, 450 epochs, and
    # ImageDataGenerator augmentation "within reasonable limits": we read those as 10% shifts and zoom,
    # 10 degrees of rotation, 0.1 shear and horizontal flips.
    "seed": Recipe("seed", "adam", 0.01, 256, 450, SEED_AUGMENT,
                   description="the seed paper's: Adam 0.01, batch 256, 450 epochs, its augmentation"),
    "stable": STABLE,
    # Adam at Keras' default step (1e-3) and batch 64, otherwise as ``stable``: a small net without
    # batch norm (LeNet) leaves chance within two or three epochs under it, where SGD at 0.01 and Adam
    # at 3e-4 spend most of the quick budget there (docs/architectures.md).
    "adam": replace(STABLE, name="adam", learning_rate=1e-3, batch_size=64,
                    description="stable at Keras' default Adam step, batch 64: for small nets without batch norm"),
    # What the strongest single FER2013 nets use (Khaireddin & Chen 2021 and peers).
    "modern": Recipe("modern", "sgd", 0.01, 64, 300,
                     Augment(shift=0.1, zoom=0.1, rotation_degrees=10, flip=True, erasing=0.5),
                     momentum=0.9, weight_decay=1e-4, plateau_factor=0.75, plateau_patience=5, nesterov=True,
                     schedule="plateau",
                     description="SGD Nesterov 0.01, wd 1e-4, plateau x0.75/5, erasing: strong FER2013 nets"),
}


@hookimpl
def fer_zoo_register_recipes(register):
    for recipe in RECIPES.values():
        register(recipe)


def registered_recipes():
    """Every recipe registered in this process (built-in and plugins'): a fer_zoo.plugins.registry.Registry."""
    from fer_zoo import plugins

    return plugins.checked().recipes


def get_recipe(name: str, **overrides) -> Recipe:
    """The registered recipe ``name`` (a did-you-mean when there is none), with ``overrides`` that are not None."""
    return replace(registered_recipes().get(name), **{k: v for k, v in overrides.items() if v is not None})


def load_recipe_file(path: Path, default_base: str) -> tuple[Recipe, str]:
    """A TOML file (``base = "modern"``, default the architecture's recipe, then fields to change, ``name``
    among them) as its recipe and the sha256 of the bytes it was read from."""
    import hashlib

    regular_file(path, f"--recipe {path}")
    try:
        data = path.read_bytes()
        table = tomllib.loads(data.decode())
    except OSError as exc:
        raise FerZooError(f"--recipe {path}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FerZooError(f"--recipe {path}: not TOML ({exc})") from None
    base = table.pop("base", default_base)
    known = registered_recipes()
    if not isinstance(base, str):
        raise FerZooError(f"--recipe {path}: base must be a recipe's name, got {base!r}; {known.listing}")
    if base not in known:
        raise FerZooError(f"--recipe {path}: base is no registered recipe: {base!r}{known.hint(base)}")
    recipe = known[base]
    augment = table.pop("augment", {})
    if not isinstance(augment, dict):
        raise FerZooError(f"--recipe {path}: [augment] must be a table")
    _check_types(path, table, recipe, skip={"augment"})
    _check_types(path, augment, recipe.augment, prefix="augment.")
    if table.get("plateau_factor") and "schedule" not in table:  # what plateau_factor alone always meant
        table["schedule"] = "plateau"
    where = f"--recipe {path}: "
    table = {k: checked(k, v, f"{where}{k}") for k, v in table.items()}
    augment = {k: checked(f"augment.{k}", v, f"{where}augment.{k}") for k, v in augment.items()}
    return replace(recipe, **table, augment=replace(recipe.augment, **augment)), hashlib.sha256(data).hexdigest()


def _check_types(path: Path, table: dict, template, prefix: str = "", skip: set[str] = frozenset()) -> None:
    # the declared types, not the template's values: SEED_AUGMENT's rotation of 10 must still take 7.5
    declared = get_type_hints(type(template))
    # a recipe's description and plugin (compare=False) describe it: a file does not set them
    known = {f.name for f in fields(template) if f.compare and f.name not in skip}
    for key, value in table.items():
        if key not in known:
            raise FerZooError(f"--recipe {path}: unknown key {prefix}{key} (keys: {', '.join(sorted(known))})")
        expected = next(t for t in get_args(declared[key]) or (declared[key],) if t is not type(None))
        accepted = (int, float) if expected is float else (expected,)
        if not isinstance(value, accepted) or (expected is not bool and isinstance(value, bool)):
            raise FerZooError(f"--recipe {path}: {prefix}{key} must be {expected.__name__}, got {value!r}")


def resolve(arch_recipe: str | None, recipe: str | None = None, *, epochs: int | None = None,
            batch_size: int | None = None, lr: float | None = None, optimizer: str | None = None,
            label_smoothing: float | None = None, augment: bool = True) -> Recipe:
    """The recipe a run uses: ``recipe`` (a name or a .toml file) or the architecture's, then the flags."""
    return resolve_with_origin(arch_recipe, recipe, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                               label_smoothing=label_smoothing, augment=augment)[0]


def resolve_with_origin(arch_recipe: str | None, recipe: str | Recipe | None = None, *, plugin=None,
                        epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
                        optimizer: str | None = None, label_smoothing: float | None = None,
                        augment: bool = True) -> tuple[Recipe, dict]:
    """:func:`resolve`, and where the recipe came from, as config.json records it: ``{"kind": "built-in",
    "name"}``, ``{"kind": "file", "path", "sha256"}``, or, for the .toml an architecture's plugin names
    (``plugin``, its fer_zoo.plugins.registry.PluginSource), ``{"kind": "plugin", "distribution", "version",
    "path", "sha256"}``; a recipe a plugin registers, ``{"kind": "plugin", "name", "distribution", "version"}``;
    a :class:`Recipe` the Python API was given, ``{"kind": "python", "name"}``.
    A recipe file's recipe keeps its base's name; the origin says which file changed it."""
    if isinstance(recipe, Recipe):  # the Python API's own: recorded as given, with its values
        chosen, origin = registered(recipe), {"kind": "python", "name": recipe.name}
        name = recipe.name
    elif (name := recipe or arch_recipe or "seed").endswith(".toml"):
        chosen, digest = load_recipe_file(Path(name), arch_recipe if arch_recipe in registered_recipes() else "seed")
        origin = {"kind": "file", "path": name, "sha256": digest}
        if recipe is None and plugin is not None:
            origin = {"kind": "plugin", "distribution": plugin.distribution, "version": plugin.version,
                      "path": name, "sha256": digest}
    else:
        chosen = get_recipe(name)
        origin = recipe_origin(chosen)
    chosen = replace(chosen, **{k: v for k, v in dict(
        epochs=epochs, batch_size=batch_size, learning_rate=lr, optimizer=optimizer,
        label_smoothing=label_smoothing).items() if v is not None})
    if not augment:
        chosen = replace(chosen, augment=Augment())
    if chosen.optimizer not in OPTIMIZERS:
        raise FerZooError(f"unknown optimizer {chosen.optimizer!r}; use {', '.join(OPTIMIZERS)}")
    for flag, value, ok, must in (("--epochs", chosen.epochs, chosen.epochs >= 1, "at least 1"),
                                  ("--batch-size", chosen.batch_size, chosen.batch_size >= 1, "at least 1"),
                                  ("--lr", chosen.learning_rate, chosen.learning_rate > 0, "a positive number")):
        if not ok:  # NaN compares false: refused too
            raise FerZooError(f"{flag} must be {must}, not {value:g}")
    return check(chosen, f"--recipe {name}"), origin


def recipe_origin(recipe: Recipe) -> dict:
    """Where the registered ``recipe`` came from, as config.json records it."""
    source = recipe.plugin
    if source is None or source.distribution == "fer-zoo":
        return {"kind": "built-in", "name": recipe.name}
    return {"kind": "plugin", "name": recipe.name, "distribution": source.distribution, "version": source.version}


def learning_rate_at(recipe: Recipe, epoch: int, monitored=()) -> float:
    """The learning rate of epoch ``epoch`` (0-based) under ``recipe``'s schedule; ``monitored`` holds the
    plateau monitor's value after each earlier epoch (a plateau schedule replays Keras' ReduceLROnPlateau
    over them, float32 step by step, so a resumed run gets the uninterrupted run's rate). Warm-up: epoch e
    below warmup_epochs W runs at learning_rate * (e + 1) / (W + 1); the schedule then starts at epoch W."""
    import math

    import numpy as np

    base, warm = recipe.learning_rate, recipe.warmup_epochs
    if epoch < warm:
        return base * (epoch + 1) / (warm + 1)
    done = epoch - warm
    if recipe.schedule == "cosine":
        span = max(1, recipe.epochs - warm)
        return recipe.min_learning_rate + (base - recipe.min_learning_rate) * (1 + math.cos(math.pi * done / span)) / 2
    if recipe.schedule == "step":
        return base * recipe.step_factor ** (done // recipe.step_epochs)
    if recipe.schedule == "plateau":
        rate, wait = float(np.float32(base)), 0
        maximise = recipe.plateau_monitor == "val_accuracy"
        best = -np.inf if maximise else np.inf
        for value in list(monitored)[warm:epoch]:
            if (value > best + 1e-4) if maximise else (value < best - 1e-4):  # Keras' min_delta
                best, wait = value, 0
                continue
            wait += 1
            if wait >= recipe.plateau_patience and rate > 0:
                rate, wait = float(np.float32(rate * recipe.plateau_factor)), 0
        return rate
    return base


def make_optimizer(recipe: Recipe):
    import keras

    clip = {"global_clipnorm": recipe.gradient_clip} if recipe.gradient_clip else {}
    if recipe.weight_decay_kind == "coupled" and recipe.weight_decay:  # L2 in the gradient (check refuses adamw)
        from fer_zoo.models.optimizers import CoupledAdam, CoupledSGD

        if recipe.optimizer == "adam":
            return CoupledAdam(recipe.learning_rate, l2=recipe.weight_decay, **clip)
        return CoupledSGD(recipe.learning_rate, momentum=recipe.momentum, nesterov=recipe.nesterov,
                          l2=recipe.weight_decay, **clip)
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(recipe.learning_rate, weight_decay=recipe.weight_decay or None, **clip)
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(recipe.learning_rate, weight_decay=recipe.weight_decay or 1e-4, **clip)
    return keras.optimizers.SGD(recipe.learning_rate, momentum=recipe.momentum, nesterov=recipe.nesterov,
                                weight_decay=recipe.weight_decay or None, **clip)
