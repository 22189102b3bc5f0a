"""Recipes, the model pipeline around a bare network, and augmentation inside the training graph.

Keras APIs only (``keras.layers``, ``keras.ops``), so every backend runs it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fer_zoo.errors import FerZooError
from fer_zoo.registry import Architecture


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
    plateau_factor: float | None = None  # ReduceLROnPlateau on val accuracy
    plateau_patience: int = 5
    label_smoothing: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


RECIPES = {
    # The seed paper, §2.3: Adam lr 0.01, sparse categorical cross-entropy, batch 256, 450 epochs, and
    # ImageDataGenerator augmentation "within reasonable limits": we read those as 10% shifts and zoom,
    # 10 degrees of rotation, 0.1 shear and horizontal flips.
    "seed": Recipe("seed", "adam", 0.01, 256, 450,
                   Augment(shift=0.1, zoom=0.1, rotation_degrees=10, shear=0.1, flip=True)),
    # What the strongest single FER2013 nets use (Khaireddin & Chen 2021 and peers).
    "modern": Recipe("modern", "sgd", 0.01, 64, 300,
                     Augment(shift=0.1, zoom=0.1, rotation_degrees=10, flip=True, erasing=0.5),
                     momentum=0.9, weight_decay=1e-4, plateau_factor=0.75, plateau_patience=5),
}


def get_recipe(name: str, **overrides) -> Recipe:
    if name not in RECIPES:
        raise FerZooError(f"unknown recipe {name!r}; recipes are {', '.join(RECIPES)}")
    return replace(RECIPES[name], **{k: v for k, v in overrides.items() if v is not None})


def make_optimizer(recipe: Recipe):
    import keras

    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(recipe.learning_rate, weight_decay=recipe.weight_decay or None)
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(recipe.learning_rate, weight_decay=recipe.weight_decay or 1e-4)
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(recipe.learning_rate, momentum=recipe.momentum, nesterov=recipe.momentum > 0,
                                    weight_decay=recipe.weight_decay or None)
    raise FerZooError(f"unknown optimizer {recipe.optimizer!r}; use adam, adamw or sgd")


def augmentation_layers(augment: Augment, seed: int) -> list:
    from keras import layers

    out = []
    if augment.flip:
        out.append(layers.RandomFlip("horizontal", seed=seed))
    if augment.rotation_degrees:
        out.append(layers.RandomRotation(augment.rotation_degrees / 360, fill_mode="nearest", seed=seed + 1))
    if augment.shear:
        out.append(_symmetric_shear()(augment.shear, fill_mode="nearest", seed=seed + 2))
    if augment.zoom:
        out.append(layers.RandomZoom(augment.zoom, fill_mode="nearest", seed=seed + 3))
    if augment.shift:
        out.append(layers.RandomTranslation(augment.shift, augment.shift, fill_mode="nearest", seed=seed + 4))
    if augment.erasing:
        out.append(layers.RandomErasing(factor=augment.erasing, scale=(0.02, 0.2), seed=seed + 5))
    return out


_SHEAR = None


def _symmetric_shear():
    """keras.layers.RandomShear whose saved config loads again.

    Keras 3.15's RandomShear saves its factor as (-f, f) and then refuses the negative bound when the
    model is loaded, so a checkpoint holding it cannot be resumed. This subclass saves ``shear`` alone.
    """
    global _SHEAR
    if _SHEAR is None:
        import keras

        @keras.saving.register_keras_serializable(package="fer_zoo")
        class SymmetricShear(keras.layers.RandomShear):
            def __init__(self, shear, **kwargs):
                kwargs.pop("x_factor", None), kwargs.pop("y_factor", None)
                super().__init__(x_factor=shear, y_factor=shear, **kwargs)
                self.shear = shear

            def get_config(self):
                config = {k: v for k, v in super().get_config().items() if k not in ("x_factor", "y_factor")}
                return {**config, "shear": self.shear}

        _SHEAR = SymmetricShear
    return _SHEAR


def inference_model(arch: Architecture, data_shape: tuple[int, int, int], num_classes: int, bare=None):
    """Raw 0-255 images of the data's shape in, probabilities out: adapts size and channels to what the
    architecture declares, applies its normalisation, then the bare network."""
    import keras
    from keras import layers

    from fer_zoo.models import create_model

    bare = bare if bare is not None else create_model(arch, arch.input_shape, num_classes)
    height, width, channels = arch.input_shape
    inputs = keras.Input(shape=data_shape, name="pixels")
    x = inputs
    if tuple(data_shape[:2]) != (height, width):
        x = layers.Resizing(height, width, name="resize")(x)
    if data_shape[2] != channels:
        if channels == 3 and data_shape[2] == 1:
            x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
        elif channels == 1 and data_shape[2] == 3:
            x = layers.Dense(1, use_bias=False, trainable=False, name="rgb_to_grey",
                             kernel_initializer=keras.initializers.Constant([[0.299], [0.587], [0.114]]))(x)
        else:
            raise FerZooError(f"architecture {arch.name!r} takes {channels} channels; the data has {data_shape[2]}")
    scale, offset = arch.normalization
    x = layers.Rescaling(scale, offset, name="normalize")(x)
    return keras.Model(inputs, bare(x), name=f"{arch.name}_inference")


def training_model(inference, augment: Augment, seed: int):
    """The inference model behind the augmentation layers; the two share every weight."""
    import keras

    steps = augmentation_layers(augment, seed)
    if not steps:
        return inference
    inputs = keras.Input(shape=inference.input_shape[1:], name="pixels")
    x = inputs
    for layer in steps:
        x = layer(x)
    return keras.Model(inputs, inference(x), name="training")


def top2(name: str = "top2_accuracy", sparse: bool = True):
    import keras

    cls = keras.metrics.SparseTopKCategoricalAccuracy if sparse else keras.metrics.TopKCategoricalAccuracy
    return cls(k=2, name=name)


def compile_for(model, recipe: Recipe, soft_labels: bool) -> None:
    import keras

    if soft_labels or recipe.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy"), top2(sparse=False)]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = ["accuracy", top2()]
    model.compile(optimizer=make_optimizer(recipe), loss=loss, metrics=metrics)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)
