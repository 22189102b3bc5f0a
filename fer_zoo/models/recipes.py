"""Recipes: how a network is trained, as plain data. The built-in ones, TOML files, flag overrides.

An architecture names its default recipe (``Architecture.recipe``); ``--recipe NAME|FILE.toml`` and the
training flags change it. Nothing here imports Keras except :func:`make_optimizer`.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_args, get_type_hints

from fer_zoo import values
from fer_zoo.errors import FerZooError
from fer_zoo.inputs import regular_file

OPTIMIZERS = ("adam", "adamw", "sgd")

# Each number's allowed range: Keras' own constraints where it has them (SGD's momentum in [0, 1],
# ReduceLROnPlateau's factor below 1, RandomErasing's factor in [0, 1]), else what makes sense for it.
# (kind, low, high, low_open, high_open); None for plateau_factor means no plateau schedule.
RANGES: dict[str, tuple] = {
    "learning_rate": (float, 0, None, True, False),
    "batch_size": (int, 1, 1 << 20, False, False),
    "epochs": (int, 1, 1_000_000, False, False),
    "momentum": (float, 0, 1, False, False),
    "weight_decay": (float, 0, 1, False, True),
    "gradient_clip": (float, 0, None, False, False),  # 0: no clipping
    "plateau_factor": (float, 0, 1, True, True),
    "plateau_patience": (int, 0, 1_000_000, False, False),
    "label_smoothing": (float, 0, 1, False, True),
    "precise_bn": (int, 0, 1 << 24, False, False),  # images; 0: Keras' moving averages
    "augment.shift": (float, 0, 1, False, False),  # of the image's width and height
    "augment.zoom": (float, 0, 1, False, True),  # 1 would scale by 0
    "augment.rotation_degrees": (float, 0, 180, False, False),
    "augment.shear": (float, 0, 1, False, False),
    "augment.erasing": (float, 0, 1, False, False),  # a probability
}
# the flag that sets a field, for messages about a value that came from the command line
FLAGS = {"learning_rate": "--lr", "batch_size": "--batch-size", "epochs": "--epochs",
         "label_smoothing": "--label-smoothing"}


@dataclass(frozen=True)
class Augment:
    """Random transforms applied in the training graph only; fractions of the image size."""

    shift: float = 0.0
    zoom: float = 0.0
    rotation_degrees: float = 0.0
    shear: float = 0.0
    flip: bool = False
    erasing: float = 0.0  # probability of erasing one random rectangle

    @property
    def active(self) -> bool:
        return any((self.shift, self.zoom, self.rotation_degrees, self.shear, self.flip, self.erasing))


@dataclass(frozen=True)
class Recipe:
    name: str
    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    augment: Augment = field(default_factory=Augment)
    momentum: float = 0.0
    weight_decay: float = 0.0
    gradient_clip: float = 0.0  # clip the global gradient norm to this (0: no clipping)
    plateau_factor: float | None = None  # ReduceLROnPlateau on val accuracy
    plateau_patience: int = 5
    label_smoothing: float = 0.0
    # Before each validation, re-estimate batch-norm statistics on this many training images with the
    # current weights ("precise BN", Wu & Johnson 2021), in one forward pass; 0 keeps Keras' moving averages.
    precise_bn: int = 1024

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        """The inverse of :meth:`as_dict` (a run's config.json), tolerant of fields added since."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["augment"] = Augment(**data.get("augment", {}))
        return cls(**values)


SEED_AUGMENT = Augment(shift=0.1, zoom=0.1, rotation_degrees=10, shear=0.1, flip=True)

# The paper's augmentation, with a step size deep nets without much batch norm survive: Adam at 3e-4,
# batch 128, the global gradient norm clipped to 1. The default of the paper's AlexNet and VGG readings,
# which the seed recipe collapsed to a constant prediction in the first epoch, and today's AlexNet-48
# learns under at half the pace (docs/architectures.md).
STABLE = Recipe("stable", "adam", 3e-4, 128, 450, SEED_AUGMENT, gradient_clip=1.0, plateau_factor=0.5,
                plateau_patience=5)

RECIPES = {
    # The seed paper, §2.3: Adam lr 0.01, sparse categorical cross-entropy, batch 256, 450 epochs, and
    # ImageDataGenerator augmentation "within reasonable limits": we read those as 10% shifts and zoom,
    # 10 degrees of rotation, 0.1 shear and horizontal flips.
    "seed": Recipe("seed", "adam", 0.01, 256, 450, SEED_AUGMENT),
    "stable": STABLE,
    # Adam at Keras' default step (1e-3) and batch 64, otherwise as ``stable``: a small net without
    # batch norm (LeNet) leaves chance within two or three epochs under it, where SGD at 0.01 and Adam
    # at 3e-4 spend most of the quick budget there (docs/architectures.md).
    "adam": replace(STABLE, name="adam", learning_rate=1e-3, batch_size=64),
    # What the strongest single FER2013 nets use (Khaireddin & Chen 2021 and peers).
    "modern": Recipe("modern", "sgd", 0.01, 64, 300,
                     Augment(shift=0.1, zoom=0.1, rotation_degrees=10, flip=True, erasing=0.5),
                     momentum=0.9, weight_decay=1e-4, plateau_factor=0.75, plateau_patience=5),
}


def get_recipe(name: str, **overrides) -> Recipe:
    if name not in RECIPES:
        raise FerZooError(f"unknown recipe {name!r}; recipes are {', '.join(RECIPES)}")
    return replace(RECIPES[name], **{k: v for k, v in overrides.items() if v is not None})


def load_recipe_file(path: Path, default_base: str) -> tuple[Recipe, str]:
    """A TOML file (``base = "modern"``, default the architecture's recipe, then fields to change) as its recipe
    and the sha256 of the bytes it was read from."""
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
    if not isinstance(base, str) or base not in RECIPES:
        raise FerZooError(f"--recipe {path}: base must be one of {', '.join(RECIPES)}, got {base!r}")
    recipe = RECIPES[base]
    augment = table.pop("augment", {})
    if not isinstance(augment, dict):
        raise FerZooError(f"--recipe {path}: [augment] must be a table")
    _check_types(path, table, recipe, skip={"name", "augment"})
    _check_types(path, augment, recipe.augment, prefix="augment.")
    where = f"--recipe {path}: "
    table = {k: checked(k, v, f"{where}{k}") for k, v in table.items()}
    augment = {k: checked(f"augment.{k}", v, f"{where}augment.{k}") for k, v in augment.items()}
    return replace(recipe, **table, augment=replace(recipe.augment, **augment)), hashlib.sha256(data).hexdigest()


def checked(key: str, value, label: str):
    """``value`` of the field ``key`` ("augment.shift" for augmentation) within its range (:data:`RANGES`), as
    the declared type (a TOML 0 for a float field becomes 0.0: Keras' SGD refuses an int momentum)."""
    if key not in RANGES or (key == "plateau_factor" and value is None):
        return value
    kind, low, high, low_open, high_open = RANGES[key]
    if kind is int:
        return values.integer(value, label, low, high)
    return values.real(value, label, low, high, low_open=low_open, high_open=high_open)


def check(recipe: Recipe, label: str = "recipe") -> Recipe:
    """Every number of ``recipe`` within its range: a built-in, a run's saved recipe, a TOML file changed by flags."""
    numbers = {f.name: checked(f.name, getattr(recipe, f.name), FLAGS.get(f.name, f"{label} {f.name}"))
               for f in fields(recipe) if f.name in RANGES}
    augment = {f.name: checked(f"augment.{f.name}", getattr(recipe.augment, f.name),
                               f"{label} augment.{f.name}") for f in fields(recipe.augment)
               if f"augment.{f.name}" in RANGES}
    return replace(recipe, **numbers, augment=replace(recipe.augment, **augment))


def _check_types(path: Path, table: dict, template, prefix: str = "", skip: set[str] = frozenset()) -> None:
    # the declared types, not the template's values: SEED_AUGMENT's rotation of 10 must still take 7.5
    declared = get_type_hints(type(template))
    known = {f.name for f in fields(template) if f.name not in skip}
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


def resolve_with_origin(arch_recipe: str | None, recipe: str | None = None, *, plugin=None,
                        epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
                        optimizer: str | None = None, label_smoothing: float | None = None,
                        augment: bool = True) -> tuple[Recipe, dict]:
    """:func:`resolve`, and where the recipe came from, as config.json records it: ``{"kind": "built-in",
    "name"}``, ``{"kind": "file", "path", "sha256"}``, or, for the .toml an architecture's plugin names
    (``plugin``, its fer_zoo.plugins.registry.PluginSource), ``{"kind": "plugin", "distribution", "version",
    "path", "sha256"}``. A recipe file's recipe keeps its base's name; the origin says which file changed it."""
    name = recipe or arch_recipe or "seed"
    if name.endswith(".toml"):
        chosen, digest = load_recipe_file(Path(name), arch_recipe if arch_recipe in RECIPES else "seed")
        origin = {"kind": "file", "path": name, "sha256": digest}
        if recipe is None and plugin is not None:
            origin = {"kind": "plugin", "distribution": plugin.distribution, "version": plugin.version,
                      "path": name, "sha256": digest}
    else:
        chosen = get_recipe(name)
        origin = {"kind": "built-in", "name": name}
    chosen = replace(chosen, **{k: v for k, v in dict(
        epochs=epochs, batch_size=batch_size, learning_rate=lr, optimizer=optimizer,
        label_smoothing=label_smoothing).items() if v is not None})
    if not augment:
        chosen = replace(chosen, augment=Augment())
    if chosen.optimizer not in OPTIMIZERS:
        raise FerZooError(f"unknown optimizer {chosen.optimizer!r}; use {', '.join(OPTIMIZERS)}")
    if chosen.epochs < 1 or chosen.batch_size < 1 or not chosen.learning_rate > 0:
        raise FerZooError("--epochs and --batch-size must be at least 1 and --lr positive")
    return check(chosen, f"--recipe {name}"), origin


def make_optimizer(recipe: Recipe):
    import keras

    clip = {"global_clipnorm": recipe.gradient_clip} if recipe.gradient_clip else {}
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(recipe.learning_rate, weight_decay=recipe.weight_decay or None, **clip)
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(recipe.learning_rate, weight_decay=recipe.weight_decay or 1e-4, **clip)
    return keras.optimizers.SGD(recipe.learning_rate, momentum=recipe.momentum, nesterov=recipe.momentum > 0,
                                weight_decay=recipe.weight_decay or None, **clip)
