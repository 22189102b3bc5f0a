"""A recipe as plain data: how a network is trained (optimizer, schedule, augmentation), each number with
its allowed range. The kind plugins register recipes as (fer_zoo.plugins.KINDS); the built-in recipes, TOML
files and flag overrides are fer_zoo/models/recipes.py's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from fer_zoo import values
from fer_zoo.errors import FerZooError
from fer_zoo.plugins.registry import NAME_PATTERN, PluginSource, plugin_fields

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
    # --- training side (issue #35): schedules, warm-up, mixing ---
    "warmup_epochs": (int, 0, 1_000_000, False, False),  # epochs of linear warm-up
    "min_learning_rate": (float, 0, None, False, False),  # where cosine ends
    "step_epochs": (int, 1, 1_000_000, False, False),  # epochs between step decays
    "step_factor": (float, 0, 1, True, True),  # the step decay's multiplier
    "mixup": (float, 0, 1000, False, False),  # Beta(alpha, alpha)'s alpha; 0: off
    "cutmix": (float, 0, 1000, False, False),  # Beta(alpha, alpha)'s alpha; 0: off
    "mix_probability": (float, 0, 1, False, False),  # chance a batch is mixed
    # --- image side (issue #35): random crop, test-time views ---
    "augment.crop": (int, 0, 4096, False, False),  # pixels, the square window's side; 0: off
    "augment.crop_padding": (int, 0, 1024, False, False),  # pixels of zeros on each side before cropping
    "tta_crop": (int, 0, 4096, False, False),  # pixels, the ten-crop side; 0: see Recipe.tta_crop
}
# --- training side (issue #35): the fields that take one of a few words ---
SCHEDULES = ("constant", "plateau", "cosine", "step")
TTA_MODES = ("none", "flip", "tencrop")  # the test-time views a recipe may declare (fer_zoo.models.tta)
CHOICES: dict[str, tuple[str, ...]] = {"schedule": SCHEDULES, "plateau_monitor": ("val_accuracy", "val_loss"),
                                       "weight_decay_kind": ("decoupled", "coupled"), "tta": TTA_MODES}
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
    # the network sees a random crop x crop window (pixels) of the image padded by crop_padding zeros on each
    # side, and the centre window at inference; 0: off
    crop: int = 0
    crop_padding: int = 0

    @property
    def active(self) -> bool:
        return any((self.shift, self.zoom, self.rotation_degrees, self.shear, self.flip, self.erasing, self.crop))

    def summary(self) -> str:
        """One phrase a table or model card shows: "shift 0.1, rotation 10, flip"; "none" when inactive."""
        parts = [f"{f.name.replace('_degrees', '')} {getattr(self, f.name):g}" for f in fields(self)
                 if not isinstance(getattr(self, f.name), bool) and getattr(self, f.name)]
        parts += [f.name for f in fields(self) if getattr(self, f.name) is True]
        return ", ".join(parts) or "none"


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
    # --- training side (issue #35) ---
    nesterov: bool = False  # Nesterov momentum (SGD only)
    # how the learning rate moves per epoch: "constant", "plateau" (plateau_factor after plateau_patience
    # epochs without progress in plateau_monitor), "cosine" (down to min_learning_rate at the last epoch),
    # "step" (times step_factor every step_epochs epochs); after warmup_epochs of linear warm-up from 0
    schedule: str = "constant"
    plateau_monitor: str = "val_accuracy"  # "val_accuracy" or "val_loss"
    warmup_epochs: int = 0
    min_learning_rate: float = 0.0
    step_epochs: int = 30
    step_factor: float = 0.1
    # "decoupled": w -= lr*wd*w beside the gradient (Keras' weight_decay); "coupled": wd*w added to the
    # gradient before momentum (L2, PyTorch's SGD weight_decay)
    weight_decay_kind: str = "decoupled"
    mixup: float = 0.0  # alpha of Beta(alpha, alpha); 0: off
    cutmix: float = 0.0  # alpha of Beta(alpha, alpha); 0: off
    mix_probability: float = 1.0  # the chance a training batch is mixed
    # --- image side (issue #35) ---
    # the test-time views the run is also scored with: "none", "flip" (and its mirror) or "tencrop" (corners
    # and centre of tta_crop px, and their mirrors; 0: the model's crop side if it has one, else 7/8 the side)
    tta: str = "none"
    tta_crop: int = 0
    # --- what `fer-zoo recipes` shows; neither is part of what is trained, nor of config.json ---
    description: str = field(default="", compare=False)
    # Filled in by the registry from the entry point; whatever a plugin passes here is replaced.
    plugin: PluginSource | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise FerZooError(f"recipe name {self.name!r} is invalid: use lower-case letters, digits, '_' and '-'")
        if not isinstance(self.augment, Augment):
            raise FerZooError(f"recipe {self.name!r}: augment must be a fer_zoo.Augment, "
                              f"got {type(self.augment).__name__}")
        if not isinstance(self.description, str) or "\n" in self.description.strip():
            raise FerZooError(f"recipe {self.name!r}: description must be one line of text")

    @classmethod
    def trained_fields(cls) -> list:
        """The fields that say how a net is trained, which config.json records and a recipe file sets: all but
        those that only describe the recipe (``compare=False``: its description and plugin)."""
        return [f for f in fields(cls) if f.compare]

    def as_dict(self) -> dict[str, Any]:
        """What is trained, as config.json records it: :meth:`trained_fields`, augment as a dict."""
        return {f.name: asdict(self.augment) if f.name == "augment" else getattr(self, f.name)
                for f in self.trained_fields()}

    def describe(self) -> dict[str, Any]:
        """The plain-data view `fer-zoo recipes --json` prints: where it came from, then every value."""
        return {"name": self.name, **plugin_fields(self.plugin), "description": self.description,
                **{k: v for k, v in self.as_dict().items() if k != "name"}}

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        """The inverse of :meth:`as_dict` (a run's config.json), tolerant of fields added since."""
        known = {f.name for f in cls.trained_fields()}
        values = {k: v for k, v in data.items() if k in known}
        values["augment"] = Augment(**data.get("augment", {}))
        # older runs: Nesterov whenever SGD had momentum, a plateau schedule whenever plateau_factor was set
        values.setdefault("nesterov", bool(data.get("momentum")))
        values.setdefault("schedule", "plateau" if data.get("plateau_factor") else "constant")
        return cls(**values)


def checked(key: str, value, label: str):
    """``value`` of the field ``key`` ("augment.shift" for augmentation) within its range (:data:`RANGES`), as
    the declared type (a TOML 0 for a float field becomes 0.0: Keras' SGD refuses an int momentum)."""
    if key in CHOICES:
        if not isinstance(value, str) or value not in CHOICES[key]:
            raise FerZooError(f"{label} must be one of {', '.join(CHOICES[key])}, got {value!r}")
        return value
    if key not in RANGES or (key == "plateau_factor" and value is None):
        return value
    kind, low, high, low_open, high_open = RANGES[key]
    if kind is int:
        return values.integer(value, label, low, high)
    return values.real(value, label, low, high, low_open=low_open, high_open=high_open)


def registered(recipe: Recipe) -> Recipe:
    """A recipe a plugin registers (fer_zoo.plugins.KINDS), as exactly :class:`Recipe` and :class:`Augment`
    rebuilt from their fields (a subclass is not trusted), every value within its range."""
    augment = recipe.augment
    if not isinstance(augment, Augment):
        raise FerZooError(f"recipe {recipe.name!r}: augment must be a fer_zoo.Augment")
    recipe = replace(recipe, augment=Augment(**{f.name: getattr(augment, f.name) for f in fields(Augment)}))
    # the fields a flag also sets, named as the recipe's here (check() names the flag)
    recipe = replace(recipe, **{key: checked(key, getattr(recipe, key), f"recipe {recipe.name!r} {key}")
                                for key in FLAGS})
    if recipe.optimizer not in OPTIMIZERS:
        raise FerZooError(f"recipe {recipe.name!r}: optimizer must be one of {', '.join(OPTIMIZERS)}, "
                          f"got {recipe.optimizer!r}")
    return check(recipe, f"recipe {recipe.name!r}")


def check(recipe: Recipe, label: str = "recipe") -> Recipe:
    """Every number of ``recipe`` within its range: a built-in, a run's saved recipe, a TOML file changed by flags."""
    numbers = {f.name: checked(f.name, getattr(recipe, f.name), FLAGS.get(f.name, f"{label} {f.name}"))
               for f in fields(recipe) if f.name in RANGES or f.name in CHOICES}
    augment = {f.name: checked(f"augment.{f.name}", getattr(recipe.augment, f.name),
                               f"{label} augment.{f.name}") for f in fields(recipe.augment)
               if f"augment.{f.name}" in RANGES}
    if recipe.schedule == "plateau" and not recipe.plateau_factor:
        raise FerZooError(f"{label} schedule: plateau needs a plateau_factor in (0, 1)")
    if recipe.optimizer == "adamw" and recipe.weight_decay_kind == "coupled":
        raise FerZooError(f"{label} weight_decay_kind: coupled contradicts adamw (its decay is decoupled); "
                                 f"use adam with coupled decay, or decoupled")
    return replace(recipe, **numbers, augment=replace(recipe.augment, **augment))
