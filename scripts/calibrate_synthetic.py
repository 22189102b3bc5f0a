"""Calibrate the synthetic default: seed-recipe training, N epochs, several seeds, val accuracy.

Usage: python scripts/calibrate_synthetic.py [--arch custom] [--epochs 5] [--seeds 3] [--data synthetic]
       [--train-limit N]

Runs the `seed` recipe (Adam, lr 0.01, batch 256, in-graph augmentation) exactly as the model pipeline
builds it, and prints each seed's per-epoch val accuracy, the mean and std of the final epoch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="custom")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--train-limit", type=int, default=None, help="use the first N training images")
    args = parser.parse_args()

    import keras

    import fer_zoo
    from fer_zoo.data import load_dataset
    from fer_zoo.training import compile_for, get_recipe, inference_model, training_model

    data = load_dataset(args.data)
    train, val = data.splits["train"], data.splits["val"]
    x, y = (train.x[: args.train_limit], train.y[: args.train_limit]) if args.train_limit else (train.x, train.y)
    recipe = get_recipe(fer_zoo.get_architecture(args.arch).recipe or "seed", epochs=args.epochs)
    print(f"{args.arch} on {data.name}: {len(x)} train / {len(val)} val, recipe {recipe.name} "
          f"({recipe.optimizer} lr {recipe.learning_rate}, batch {recipe.batch_size}), {args.epochs} epochs")
    finals = []
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        inference = inference_model(fer_zoo.get_architecture(args.arch), data.image_shape, len(data.class_names))
        model = training_model(inference, recipe.augment, seed)
        compile_for(model, recipe, soft_labels=False)
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=recipe.batch_size, epochs=args.epochs, verbose=0,
                            validation_data=(val.x, val.y), shuffle=True)
        seconds = time.perf_counter() - start
        accs = history.history["val_accuracy"]
        finals.append(accs[-1])
        print(f"seed {seed}: val acc per epoch {' '.join(f'{a:.3f}' for a in accs)}; "
              f"train acc {history.history['accuracy'][-1]:.3f}; {seconds:.0f} s")
    spread = statistics.stdev(finals) if len(finals) > 1 else 0.0
    print(f"final val accuracy: mean {statistics.mean(finals):.3f} ± {spread:.3f} over {len(finals)} seed(s)")


if __name__ == "__main__":
    main()
