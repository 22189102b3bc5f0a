"""Epoch cost of `fer-zoo train` against a bare `model.fit(x, y, validation_data=...)` of the same
network on the same arrays, in one process, at FER2013's scale by default (28,709 training and 3,589
validation images of the synthetic default).

Usage: python scripts/bench_training.py [--arch custom] [--images 28709] [--epochs 3] [--rounds 2]
       KERAS_BACKEND=jax python scripts/bench_training.py ...

An epoch is everything between two epoch starts: for fer-zoo the training steps (with its in-graph
augmentation), precise batch-norm statistics, validation and the checkpoint; for the bare fit the
training steps and Keras' own validation. The first epoch of each run (tracing, compiling) is left out.
The two pipelines run interleaved, in rotated order, --rounds times; the figures are medians over all
steady epochs, with their range. Prints seconds per epoch and the ratio fer-zoo / bare (target <= 1.25).
Optionally compares the seed's ImageDataGenerator pipeline too (--with-idg).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def epoch_clock():
    """A Keras callback recording the time of every epoch start and of the end of training."""
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.marks: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.marks.append(time.perf_counter())

        def on_train_end(self, logs=None):
            self.marks.append(time.perf_counter())

        def steady(self) -> list[float]:
            durations = [b - a for a, b in zip(self.marks, self.marks[1:])]
            return durations[1:]

    return Clock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="custom")
    parser.add_argument("--images", type=int, default=28709)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="each pipeline this many times, interleaved")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--with-idg", action="store_true", help="also the seed's ImageDataGenerator pipeline")
    args = parser.parse_args()

    import keras

    import fer_zoo
    from fer_zoo import load_dataset, train
    # the bare fit it is compared with compiles the model as `fer-zoo train` does, at the same recipe
    from fer_zoo.models.pipeline import compile_for
    from fer_zoo.models.recipes import get_recipe

    spec = f"synthetic:size={args.images}"
    dataset = load_dataset(spec)
    train_part, val_part = dataset.splits["train"], dataset.splits["val"]
    recipe = get_recipe(fer_zoo.get_architecture(args.arch).recipe or "seed")
    env = fer_zoo.describe_environment()
    print(f"{args.arch}, {len(train_part):,} training / {len(val_part):,} val images, batch {recipe.batch_size}, "
          f"{args.precision}; {env['backend']} on {env['device']}", flush=True)

    def ours() -> list[float]:
        clock = epoch_clock()
        with tempfile.TemporaryDirectory() as tmp:
            train(args.arch, spec, f"{tmp}/run", epochs=args.epochs, precision=args.precision, callbacks=[clock])
        return clock.steady()

    def bare() -> list[float]:
        keras.config.set_dtype_policy(args.precision)
        keras.utils.set_random_seed(0)
        model = fer_zoo.create_model(args.arch)
        compile_for(model, recipe, soft_labels=False)
        clock = epoch_clock()
        model.fit(train_part.x.astype("float32") / 255, train_part.y, batch_size=recipe.batch_size,
                  epochs=args.epochs, validation_data=(val_part.x.astype("float32") / 255, val_part.y), verbose=0,
                  callbacks=[clock])
        keras.config.set_dtype_policy("float32")
        return clock.steady()

    def seed_pipeline() -> list[float]:
        from keras.src.legacy.preprocessing.image import ImageDataGenerator

        generator = ImageDataGenerator(rescale=1 / 255, width_shift_range=0.1, height_shift_range=0.1,
                                       zoom_range=0.1, rotation_range=10, shear_range=0.1, horizontal_flip=True)
        flow = generator.flow(train_part.x.astype("float32"), train_part.y, batch_size=recipe.batch_size, seed=0)

        class Flow(keras.utils.PyDataset):
            def __len__(self):
                return len(flow)

            def __getitem__(self, index):
                return flow[index]

        keras.utils.set_random_seed(0)
        model = fer_zoo.create_model(args.arch)
        compile_for(model, recipe, soft_labels=False)
        clock = epoch_clock()
        model.fit(Flow(), epochs=args.epochs, verbose=0, callbacks=[clock],
                  validation_data=(val_part.x.astype("float32") / 255, val_part.y))
        return clock.steady()

    pipelines = {"fer-zoo train (augmented, validated, checkpointed)": ours,
                 "bare model.fit(x, y, validation_data)": bare}
    if args.with_idg:
        pipelines["seed ImageDataGenerator + fit"] = seed_pipeline
    seconds = {name: [] for name in pipelines}
    names = list(pipelines)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order every round
            seconds[name] += pipelines[name]()
            print(f"round {r + 1}: {name}: {' '.join(f'{v:.2f}' for v in seconds[name][-(args.epochs - 1):])} "
                  f"s/epoch", flush=True)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name in names:
        print(f"{name:<52} median {medians[name]:7.2f} s/epoch ({len(train_part) / medians[name]:,.0f} img/s; "
              f"range {min(seconds[name]):.2f}-{max(seconds[name]):.2f}, {len(seconds[name])} epochs)")
    print(f"fer-zoo epoch / bare fit epoch: {medians[names[0]] / medians[names[1]]:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
