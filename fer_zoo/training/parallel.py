"""Data-parallel training over one machine's devices: `fer-zoo train/bench --devices N|all`.

One model, replicated on N devices; each step's global batch (the recipe's batch per device, times N) is
split across them and the gradients are averaged, so a step sees N times the images. On JAX this is
Keras' distribution API (``keras.distribution.DataParallel``); on TensorFlow, ``tf.distribute``'s
MirroredStrategy (fer_zoo.tf_backend: Keras' own TensorFlow distribution is a prototype). PyTorch is
refused in one line. The learning rate is the recipe's, unscaled (docs/scaling.md says why and how to
scale it); the run's config.json records the devices and the global batch.

Devices are the accelerators where there are any, else the CPU devices the backend exposes: one, unless
told otherwise (JAX: ``XLA_FLAGS=--xla_force_host_platform_device_count=N``; TensorFlow: logical CPU
devices configured before it starts). That is how the tests run it on a CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fer_zoo.errors import FerZooError


def parse(spec: str | int | None) -> int | str:
    """``--devices``: a positive count, or ``"all"``; None means one device."""
    if spec is None:
        return 1
    if isinstance(spec, str) and spec.strip().lower() == "all":
        return "all"
    try:
        count = int(spec)
    except (TypeError, ValueError):
        raise FerZooError(f"--devices must be a number of devices or 'all', got {spec!r}") from None
    if count < 1:
        raise FerZooError(f"--devices must be at least 1, got {count}")
    return count


def available() -> list[str]:
    """The devices one model can be replicated over here: the accelerators, else the CPU devices."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        accelerators = [d for d in jax.devices() if d.platform != "cpu"]
        return [f"{d.platform}:{d.id}" for d in accelerators or jax.devices("cpu")]
    if backend == "tensorflow":
        from fer_zoo import tf_backend

        return tf_backend.replica_devices()
    raise AssertionError(backend)  # resolve() refused it


def resolve(spec: str | int | None) -> int:
    """How many devices ``--devices`` means here; more than there are is refused, naming what there is."""
    wanted = parse(spec)
    if wanted == 1:
        return 1
    import keras

    backend = keras.backend.backend()
    if backend not in ("jax", "tensorflow"):
        raise FerZooError(f"--devices {wanted}: data-parallel training needs the JAX or TensorFlow backend, "
                          f"not {backend} (KERAS_BACKEND=jax or tensorflow)")
    devices = available()
    if wanted == "all":
        return len(devices)
    if wanted > len(devices):
        raise FerZooError(f"--devices {wanted}: this machine has {len(devices)} ({', '.join(devices)})")
    return wanted


@contextmanager
def data_parallel(count: int) -> Iterator[None]:
    """Within it, models built, compiled, trained and run are replicated over ``count`` devices."""
    if count == 1:
        yield
        return
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        previous = keras.distribution.distribution()
        devices = keras.distribution.list_devices()[:count]
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            yield
        finally:
            keras.distribution.set_distribution(previous)
    elif backend == "tensorflow":
        from fer_zoo import tf_backend

        with tf_backend.mirrored(count).scope():
            yield
    else:
        raise AssertionError(backend)  # resolve() refused it


def multiple(n: int, count: int, up: bool = True) -> int:
    """``n`` rounded to a multiple of ``count`` (each device gets an equal share of a batch), at least ``count``."""
    if up:
        return max(count, -(-n // count) * count)
    return max(count, n // count * count)
