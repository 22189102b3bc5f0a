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
    # Before each validation, re-estimate batch-norm statistics on this many training images with the
    # current weights ("precise BN", Wu & Johnson 2021); 0 keeps Keras' moving averages as they are.
    precise_bn: int = 2048

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
    if any((augment.shift, augment.zoom, augment.rotation_degrees, augment.shear, augment.flip)):
        out.append(random_affine_class()(shift=augment.shift, zoom=augment.zoom,
                                         rotation_degrees=augment.rotation_degrees, shear=augment.shear,
                                         flip=augment.flip, seed=seed, name="augment"))
    if augment.erasing:
        out.append(layers.RandomErasing(factor=augment.erasing, scale=(0.02, 0.2), seed=seed + 5, name="erase"))
    return out


_RANDOM_AFFINE = None


def random_affine_class():
    """One random affine transform per image: flip, rotation, shear, zoom and shift composed into a single
    resampling (``keras.ops.image.affine_transform``), where chaining Keras' RandomFlip, RandomRotation,
    RandomShear, RandomZoom and RandomTranslation resamples each image four times. Training only."""
    global _RANDOM_AFFINE
    if _RANDOM_AFFINE is not None:
        return _RANDOM_AFFINE
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="fer_zoo")
    class RandomAffine(keras.layers.Layer):
        def __init__(self, shift=0.0, zoom=0.0, rotation_degrees=0.0, shear=0.0, flip=False, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.shift, self.zoom, self.rotation_degrees = shift, zoom, rotation_degrees
            self.shear, self.flip, self.seed = shear, flip, seed
            self.seed_generator = keras.random.SeedGenerator(seed)
            self.supports_masking = False

        def call(self, images, training=None):
            if not training:
                return images
            n = ops.shape(images)[0]
            height, width = images.shape[1], images.shape[2]

            def uniform(low, high):
                return keras.random.uniform((n,), low, high, seed=self.seed_generator)

            angle = uniform(-1.0, 1.0) * (self.rotation_degrees * math.pi / 180)
            shear = uniform(-1.0, 1.0) * self.shear
            zoom = 1.0 + uniform(-1.0, 1.0) * self.zoom
            mirror = ops.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0) if self.flip else ops.ones((n,))
            tx = uniform(-1.0, 1.0) * (self.shift * width)
            ty = uniform(-1.0, 1.0) * (self.shift * height)
            cos, sin = ops.cos(angle), ops.sin(angle)
            # output offset -> input offset: rotation @ shear @ scale (x mirrored for a flip)
            a00, a01 = cos * zoom * mirror, (cos * shear - sin) * zoom
            a10, a11 = sin * zoom * mirror, (sin * shear + cos) * zoom
            cx, cy = (width - 1) / 2, (height - 1) / 2
            a02 = cx + tx - a00 * cx - a01 * cy
            a12 = cy + ty - a10 * cx - a11 * cy
            zeros = ops.zeros((n,))
            transform = ops.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)
            return ops.image.affine_transform(ops.cast(images, "float32"), transform, interpolation="bilinear",
                                              fill_mode="nearest")

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "shift": self.shift, "zoom": self.zoom,
                    "rotation_degrees": self.rotation_degrees, "shear": self.shear, "flip": self.flip,
                    "seed": self.seed}

    _RANDOM_AFFINE = RandomAffine
    return _RANDOM_AFFINE


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


def batch_norm_layers(model) -> list:
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += batch_norm_layers(layer)
        elif isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
    return found


def precise_batch_norm(model, x, batch_size: int = 256) -> None:
    """Replace every batch-norm layer's moving mean and variance by the average of its batch statistics
    over ``x``, computed with the current weights (forward passes in training mode, no weight update).

    With a high learning rate the weights move faster than Keras' moving averages (momentum 0.99) follow,
    so early validation measures stale statistics rather than the network; this measures the network.
    """
    layers = batch_norm_layers(model)
    if not layers or len(x) == 0:
        return
    momenta = [layer.momentum for layer in layers]
    try:
        for k, start in enumerate(range(0, len(x), batch_size)):
            for layer in layers:
                layer.momentum = k / (k + 1)  # a running mean of the batch statistics
            model(x[start:start + batch_size].astype("float32"), training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)
