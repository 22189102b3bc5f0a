"""Around a bare network: the model a run trains and saves, the batches it is fed, and how it is run.

- :func:`inference_model`: raw 0-255 pixels of the data's shape in (resized, channel-converted and
  normalised inside), probabilities out. This is what ``best.keras`` holds.
- :func:`training_model`: augmentation layers in front of it, sharing every weight (a random crop among
  them: :class:`RandomWindow`, with the inference model's "centre_crop" layer).
- :class:`Batches`: fixed-size training batches, reshuffled per epoch from (seed, epoch); the ragged
  remainder is left out of that epoch (a different one each time), so the training step keeps one shape.
- :func:`predict_fixed`: every image scored, in batches of one size (the last padded), so the predict
  step keeps one shape too.
- :class:`PreciseBatchNorm`: batch-norm statistics re-estimated in one compiled forward pass.

Keras APIs only (``keras.layers``, ``keras.ops``, ``keras.random``), so every backend runs it. This
module imports Keras; nothing on the light CLI path (``--help``, ``list``, ``plugins``) imports it.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from fer_zoo.errors import FerZooError
from fer_zoo.models.optimizers import CoupledAdam, CoupledSGD  # noqa: F401  (registered for saved models)
from fer_zoo.models.recipes import Augment, Recipe, make_optimizer
from fer_zoo.plugins.registry import Architecture


class TrainingTransform(layers.Layer):
    """A seeded random transform of a batch of images (``transform``) in the training graph; at inference the
    images pass through unchanged. Its output keeps the input's shape."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = False

    def call(self, images, training=None):
        if not training:
            return images
        return self.transform(images, ops.shape(images)[0], images.shape[1], images.shape[2])

    def transform(self, images, n, height, width):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fer_zoo")
class RandomAffine(TrainingTransform):
    """One random affine transform per image: flip, rotation, shear, zoom and shift composed into a single
    resampling (``keras.ops.image.affine_transform``), where chaining Keras' RandomFlip, RandomRotation,
    RandomShear, RandomZoom and RandomTranslation resamples each image four times. Training only."""

    def __init__(self, shift=0.0, zoom=0.0, rotation_degrees=0.0, shear=0.0, flip=False, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.shift, self.zoom, self.rotation_degrees = shift, zoom, rotation_degrees
        self.shear, self.flip = shear, flip

    def transform(self, images, n, height, width):

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

    def get_config(self):
        return {**super().get_config(), "shift": self.shift, "zoom": self.zoom,
                "rotation_degrees": self.rotation_degrees, "shear": self.shear, "flip": self.flip,
                "seed": self.seed}


def top_k_hits(y_true, probabilities, k: int = 2):
    """1.0 where the true class is among the ``k`` most probable, ties broken by class index.

    Keras' TopKCategoricalAccuracy counts every tie as a hit, so a network that outputs one constant
    distribution scores 100% top-2 at chance top-1; here a constant output scores k/K, as it should.
    Works on class indices or on one-hot/soft labels (their argmax).
    """
    from fer_zoo.models.ranking import top_k_rank

    if len(y_true.shape) == len(probabilities.shape) and y_true.shape[-1] == probabilities.shape[-1]:
        truth = ops.argmax(y_true, axis=-1)
    else:
        truth = ops.reshape(y_true, (-1,))
    rank = top_k_rank(ops.cast(probabilities, "float32"), ops.cast(truth, "int32"), ops)
    return ops.cast(rank < k, "float32")


@keras.saving.register_keras_serializable(package="fer_zoo")
class TopKAccuracy(keras.metrics.MeanMetricWrapper):
    """Top-k accuracy with ties broken by class index (see :func:`top_k_hits`)."""

    def __init__(self, k: int = 2, name: str = "top2_accuracy", dtype=None):
        super().__init__(fn=top_k_hits, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {"k": self.k, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="fer_zoo")
class RandomWindow(TrainingTransform):
    """A random ``crop`` x ``crop`` window per image of the image padded by ``padding`` zeros on each side,
    moved (by a whole-pixel shift, zeros coming in) to the image's centre, where the inference model's
    "centre_crop" layer cuts it: the training graph is then this layer in front of the very inference model
    that is saved, sharing every layer. The image keeps its size. Training only: at inference it passes the
    image through, and the centre crop is the inference model's own."""

    def __init__(self, crop, padding=0, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.crop, self.padding = crop, padding

    def transform(self, images, n, height, width):

        def offset(side):  # the window's first row (column) in the image's own coordinates, padding negative
            high = side + self.padding - self.crop
            drawn = keras.random.randint((n,), -self.padding, high + 1, seed=self.seed_generator)
            return ops.cast(drawn - (side - self.crop) // 2, "float32")

        dy, dx = offset(height), offset(width)
        ones, zeros = ops.ones((n,)), ops.zeros((n,))
        # output pixel (x, y) reads input (x + dx, y + dy); outside the image reads the padding's zeros
        transform = ops.stack([ones, zeros, dx, zeros, ones, dy, zeros, zeros], axis=1)
        return ops.image.affine_transform(ops.cast(images, "float32"), transform, interpolation="nearest",
                                          fill_mode="constant", fill_value=0)

    def get_config(self):
        return {**super().get_config(), "crop": self.crop, "padding": self.padding, "seed": self.seed}


def crop_input(arch: Architecture, data_shape: tuple[int, int, int], crop: int,
               label: str = "recipe augment.crop") -> tuple[int, int, int]:
    """The input a network trained on ``crop`` x ``crop`` windows of ``data_shape`` images is built at; a crop
    larger than the images, or an architecture that cannot be built at it, is refused naming ``label``."""
    if crop > min(data_shape[0], data_shape[1]):
        raise FerZooError(f"{label}: {crop} px is larger than the {data_shape[0]}x{data_shape[1]} images")
    if not arch.flexible_input and tuple(arch.input_shape[:2]) != (crop, crop):
        raise FerZooError(f"{label}: {crop} px, but architecture {arch.name!r} is built only at "
                          f"{arch.input_shape[0]}x{arch.input_shape[1]} (not flexible_input); use crop "
                          f"{arch.input_shape[0]} or 0")
    return crop, crop, arch.input_shape[2]


def inference_model(arch: Architecture, data_shape: tuple[int, int, int], num_classes: int, bare=None,
                    crop: int = 0):
    """Raw 0-255 images of the data's shape in, probabilities out: adapts size and channels to what the
    architecture declares, applies its normalisation, then the bare network. ``crop`` > 0 (a recipe's
    augment.crop): the network is built at crop x crop and the model starts with a Cropping2D named
    "centre_crop" that cuts the images' centre window."""
    from fer_zoo.models.build import create_model

    net_shape = crop_input(arch, data_shape, crop) if crop else arch.input_shape
    bare = bare if bare is not None else create_model(arch, net_shape, num_classes)
    height, width, channels = net_shape
    inputs = keras.Input(shape=data_shape, name="pixels")
    x = inputs
    if crop:
        top, left = (data_shape[0] - crop) // 2, (data_shape[1] - crop) // 2
        x = layers.Cropping2D(((top, data_shape[0] - crop - top), (left, data_shape[1] - crop - left)),
                              name="centre_crop")(x)
    elif tuple(data_shape[:2]) != (height, width):
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


def augmentation_layers(augment: Augment, seed: int) -> list:
    out = []
    if any((augment.shift, augment.zoom, augment.rotation_degrees, augment.shear, augment.flip)):
        out.append(RandomAffine(shift=augment.shift, zoom=augment.zoom, rotation_degrees=augment.rotation_degrees,
                                shear=augment.shear, flip=augment.flip, seed=seed, name="augment"))
    if augment.erasing:
        out.append(layers.RandomErasing(factor=augment.erasing, scale=(0.02, 0.2), seed=seed + 5, name="erase"))
    if augment.crop:  # last: the window is cut from the transformed image
        out.append(RandomWindow(augment.crop, augment.crop_padding, seed=seed + 11, name="random_crop"))
    return out


def training_model(inference, augment: Augment, seed: int):
    """The inference model behind the augmentation layers; the two share every weight."""
    steps = augmentation_layers(augment, seed)
    if not steps:
        return inference
    inputs = keras.Input(shape=inference.input_shape[1:], name="pixels")
    x = inputs
    for layer in steps:
        x = layer(x)
    return keras.Model(inputs, inference(x), name="training")


def inference_part(model, arch_name: str):
    """The inference model inside a training model (or the model itself, trained without augmentation)."""
    try:
        return model.get_layer(f"{arch_name}_inference")
    except ValueError:
        return model


def compile_for(model, recipe: Recipe, soft_labels: bool) -> None:
    if soft_labels or recipe.label_smoothing or recipe.mixup or recipe.cutmix:  # mixed targets are soft
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
        accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=make_optimizer(recipe), loss=loss, metrics=[accuracy, TopKAccuracy(2)])


class Batches(keras.utils.PyDataset):
    """Training batches of exactly ``batch_size`` images in an order drawn from (seed, epoch).

    Call :meth:`set_epoch` at each epoch start: a resumed run then sees the batches the uninterrupted
    run would have seen. ``len(x) % batch_size`` images sit out each epoch, a different draw each time.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                 sample_weight: np.ndarray | None = None, multiple_of: int = 1, mixup: float = 0.0,
                 cutmix: float = 0.0, mix_probability: float = 1.0):
        super().__init__()
        self.mixup, self.cutmix, self.mix_probability = mixup, cutmix, mix_probability
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size = max(1, min(batch_size, len(x)))
        if multiple_of > 1:  # data parallel: an equal share for each device
            if len(x) < multiple_of:
                raise FerZooError(f"{len(x)} training images cannot be shared by {multiple_of} devices")
            self.batch_size -= self.batch_size % multiple_of
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def __getitem__(self, index: int):
        picked = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        x, y = self.x[picked], self.y[picked]
        weight = None if self.sample_weight is None else self.sample_weight[picked]
        if self.mixup or self.cutmix:  # y is one-hot here (train.py); the draws come from (seed, epoch, batch)
            rng = np.random.default_rng([self.seed, self.epoch, index, 4099])
            x, y, weight = mix_batch(x, y, weight, rng, self.mixup, self.cutmix, self.mix_probability)
        return (x, y) if weight is None else (x, y, weight)


def mix_batch(x: np.ndarray, y: np.ndarray, weight, rng: np.random.Generator, mixup: float, cutmix: float,
              probability: float = 1.0):
    """A batch mixed with a permutation of itself: with ``probability``, mixup (Zhang et al. 2018: images and
    targets blended by lambda ~ Beta(mixup, mixup)) or cutmix (Yun et al. 2019: a box of the other image,
    of area 1 - lambda with lambda ~ Beta(cutmix, cutmix), pasted in; targets weighted by the box's
    actual area); both on, each mixed batch picks one at random. Images come back float32 either way."""
    x = x.astype(np.float32)
    if not rng.random() < probability:
        return x, y, weight
    use_cutmix = bool(cutmix) and (not mixup or rng.random() < 0.5)
    alpha = cutmix if use_cutmix else mixup
    lam = float(rng.beta(alpha, alpha))
    other = rng.permutation(len(x))
    if use_cutmix:
        height, width = x.shape[1], x.shape[2]
        cut_h, cut_w = int(round(height * math.sqrt(1 - lam))), int(round(width * math.sqrt(1 - lam)))
        cy, cx = int(rng.integers(height)), int(rng.integers(width))
        top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h - cut_h // 2, height)
        left, right = max(cx - cut_w // 2, 0), min(cx + cut_w - cut_w // 2, width)
        x = x.copy()
        x[:, top:bottom, left:right] = x[other, top:bottom, left:right]
        lam = 1 - (bottom - top) * (right - left) / (height * width)
    else:
        x = lam * x + (1 - lam) * x[other]
    y = (lam * y + (1 - lam) * y[other]).astype(np.float32)
    if weight is not None:
        weight = lam * weight + (1 - lam) * weight[other]
    return x, y, weight


def padded(x: np.ndarray, batch_size: int) -> np.ndarray:
    """``x`` with zero images appended up to a multiple of ``batch_size``."""
    extra = (-len(x)) % batch_size
    if not extra:
        return x
    return np.concatenate([x, np.zeros((extra, *x.shape[1:]), x.dtype)])


def predict_fixed(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``model``'s probabilities for every image of ``x``, run in batches of exactly ``batch_size``."""
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    out = model.predict(padded(x, batch_size), batch_size=batch_size, verbose=0)
    return np.asarray(out, dtype=np.float32)[: len(x)]


def leaf_layers(model) -> list:
    """Every non-container layer of ``model``, nested models opened, in call order."""
    found = []
    for layer in model.layers:
        found += leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found


def batch_norm_layers(model) -> list:
    return [layer for layer in leaf_layers(model) if isinstance(layer, layers.BatchNormalization)]


class TrainingModeForward(keras.Model):
    """The wrapped model's forward pass in training mode, so ``predict`` compiles it once."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.built = True  # the inner model is; building by running it would execute it eagerly

    def call(self, x, training=None):
        return self.inner(x, training=True)


class PreciseBatchNorm:
    """Sets every batch-norm layer's moving mean and variance to the statistics of one batch of
    training images, computed with the current weights ("precise BN", Wu & Johnson 2021).

    With a high learning rate the weights move faster than Keras' moving averages follow, so early
    validation would measure stale statistics rather than the network. The forward pass runs as a
    compiled predict step of one shape (the momentum of 0 it needs is fixed when it is traced), so it
    costs one compilation per run and a forward pass per validation.
    """

    def __init__(self, inference, x: np.ndarray, images: int, seed: int):
        self.layers = batch_norm_layers(inference)
        rng = np.random.default_rng([seed, 7919])
        self.sample = x[np.sort(rng.permutation(len(x))[:images])] if self.layers and images else None
        self.forward = TrainingModeForward(inference, name="precise_bn_forward") if self.sample is not None else None

    def __call__(self) -> None:
        if self.forward is None:
            return
        momenta = [layer.momentum for layer in self.layers]
        try:
            for layer in self.layers:
                layer.momentum = 0.0
            self.forward.predict(self.sample, batch_size=len(self.sample), verbose=0)
        finally:
            for layer, momentum in zip(self.layers, momenta):
                layer.momentum = momentum

