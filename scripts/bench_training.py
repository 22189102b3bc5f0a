"""Training throughput of `custom`: fer-zoo's pipeline against a bare model.fit and the seed's
ImageDataGenerator pipeline, side by side in one process on the same in-memory arrays.

Usage: python scripts/bench_training.py [--arch custom] [--images 3072] [--epochs 3] [--rounds 3]

Steady state: the first epoch of each run (tracing, warm-up) is excluded. The pipelines run interleaved,
in rotated order, --rounds times each; the figure is the median epoch over all rounds, with its range
(single epochs on this 2-core machine vary by up to 2x when anything else runs).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="custom")
    parser.add_argument("--images", type=int, default=3072)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="each pipeline this many times, interleaved")
    args = parser.parse_args()

    import keras

    import fer_zoo
    from fer_zoo.data.synthetic import generate
    from fer_zoo.runs import TrainOptions, train
    from fer_zoo.training import RECIPES, compile_for

    x, y = generate(args.images, seed=0)
    recipe = RECIPES["seed"]
    spec = f"synthetic:size={args.images},seed=0"

    def ours() -> list[float]:
        """fer-zoo train: augmentation in the graph, checkpoints every epoch."""
        with tempfile.TemporaryDirectory() as tmp:
            run = train(args.arch, spec, f"{tmp}/run", TrainOptions(epochs=args.epochs))
            return [r["images_per_second"] for r in run.history[1:]]

    def bare() -> list[float]:
        """bare model.fit on normalised arrays, no augmentation."""
        keras.utils.set_random_seed(0)
        model = fer_zoo.create_model(args.arch)
        compile_for(model, recipe, soft_labels=False)
        timer = EpochTimer()
        model.fit(x.astype("float32") / 255, y, batch_size=recipe.batch_size, epochs=args.epochs, verbose=0,
                  callbacks=[timer.callback])
        return [len(x) / s for s in timer.seconds[1:]]

    def seed_pipeline() -> list[float]:
        """the seed's ImageDataGenerator (per-image numpy transforms) feeding fit."""
        from keras.src.legacy.preprocessing.image import ImageDataGenerator

        generator = ImageDataGenerator(rescale=1 / 255, width_shift_range=0.1, height_shift_range=0.1,
                                       zoom_range=0.1, rotation_range=10, shear_range=0.1, horizontal_flip=True)
        flow = generator.flow(x.astype("float32"), y, batch_size=recipe.batch_size, seed=0)

        class Batches(keras.utils.PyDataset):
            def __len__(self):
                return len(flow)

            def __getitem__(self, index):
                return flow[index]

        keras.utils.set_random_seed(0)
        model = fer_zoo.create_model(args.arch)
        compile_for(model, recipe, soft_labels=False)
        timer = EpochTimer()
        model.fit(Batches(), epochs=args.epochs, verbose=0, callbacks=[timer.callback])
        return [len(x) / s for s in timer.seconds[1:]]

    pipelines = {"fer-zoo train (augmented, checkpointing)": ours, "bare model.fit (no augmentation)": bare,
                 "seed ImageDataGenerator + fit": seed_pipeline}
    rates = {name: [] for name in pipelines}
    names = list(pipelines)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order every round
            rates[name] += pipelines[name]()
            print(f"round {r + 1}: {name}: {' '.join(f'{v:.0f}' for v in rates[name][-(args.epochs - 1):])} images/s",
                  flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    mine = medians[names[0]]
    for name in names:
        print(f"{name:<42} median {medians[name]:5.0f} images/s (min {min(rates[name]):.0f}, max "
              f"{max(rates[name]):.0f}, {len(rates[name])} epochs)")
    print(f"fer-zoo / bare fit: {mine / medians[names[1]]:.2f} (target >= 0.9); "
          f"fer-zoo / ImageDataGenerator: {mine / medians[names[2]]:.2f} (target >= 1.1)")


if __name__ == "__main__":
    main()
