"""Training throughput of `custom`: fer-zoo's pipeline against a bare model.fit and the seed's
ImageDataGenerator pipeline, side by side in one process on the same in-memory arrays.

Usage: python scripts/bench_training.py [--arch custom] [--images 3072] [--epochs 3]

Steady state: the first epoch (tracing, warm-up) is excluded; images/s is the median over the rest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class EpochTimer:
    def __init__(self):
        import keras

        outer = self
        self.seconds = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                outer.seconds.append(time.perf_counter() - self.start)

        self.callback = Timer()

    def steady(self, images: int) -> float:
        return statistics.median(images / s for s in self.seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="custom")
    parser.add_argument("--images", type=int, default=3072)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    import keras
    import numpy as np

    import fer_zoo
    from fer_zoo.data.synthetic import generate
    from fer_zoo.runs import TrainOptions, train
    from fer_zoo.training import RECIPES, compile_for

    x, y = generate(args.images, seed=0)
    recipe = RECIPES["seed"]
    results = {}

    # 1. fer-zoo train: augmentation in the graph, checkpoints every epoch
    spec = f"synthetic:size={args.images},seed=0"
    with tempfile.TemporaryDirectory() as tmp:
        run = train(args.arch, spec, f"{tmp}/run", TrainOptions(epochs=args.epochs))
        results["fer-zoo train (augmented, checkpointing)"] = statistics.median(
            r["images_per_second"] for r in run.history[1:])

    # 2. bare model.fit on normalised arrays, no augmentation
    keras.utils.set_random_seed(0)
    bare = fer_zoo.create_model(args.arch)
    compile_for(bare, recipe, soft_labels=False)
    timer = EpochTimer()
    bare.fit(x.astype("float32") / 255, y, batch_size=recipe.batch_size, epochs=args.epochs, verbose=0,
             callbacks=[timer.callback])
    results["bare model.fit (no augmentation)"] = timer.steady(len(x))

    # 3. the seed's pipeline: ImageDataGenerator (per-image numpy transforms) feeding fit
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    generator = ImageDataGenerator(rescale=1 / 255, width_shift_range=0.1, height_shift_range=0.1, zoom_range=0.1,
                                   rotation_range=10, shear_range=0.1, horizontal_flip=True)
    flow = generator.flow(x.astype("float32"), y, batch_size=recipe.batch_size, seed=0)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return len(flow)

        def __getitem__(self, index):
            return flow[index]

    keras.utils.set_random_seed(0)
    seed_model = fer_zoo.create_model(args.arch)
    compile_for(seed_model, recipe, soft_labels=False)
    timer = EpochTimer()
    seed_model.fit(Batches(), epochs=args.epochs, verbose=0, callbacks=[timer.callback])
    results["seed ImageDataGenerator + fit"] = timer.steady(len(x))

    ours = results["fer-zoo train (augmented, checkpointing)"]
    for name, speed in results.items():
        print(f"{name:<42} {speed:8.0f} images/s  ({speed / ours:.2f}x fer-zoo)")
    print(f"fer-zoo / bare fit: {ours / results['bare model.fit (no augmentation)']:.2f} (target >= 0.9); "
          f"fer-zoo / ImageDataGenerator: {ours / results['seed ImageDataGenerator + fit']:.2f} (target >= 1.1)")
    del np


if __name__ == "__main__":
    main()
