"""A recipe as plain data: how a network is trained (optimizer, schedule, augmentation), each number with
its allowed range. The kind plugins register recipes as (fer_zoo.plugins.KINDS); the built-in recipes, TOML
files and flag overrides are fer_zoo/models/recipes.py's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from fer_zoo import values

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
