"""Does a network leave the ln 7 plateau? Its shipped initialisation against Keras' default (Glorot uniform).

Usage: python scripts/compare_init.py [--arch vgg16_48] [--images 128] [--epochs 20] [--lr 1e-4]

Builds ARCH as fer-zoo does and, a second time, with every kernel but the classifier's re-drawn from
Keras' default Glorot uniform; fits each, same seed, on the same --images easy synthetic faces (pixels
scaled as the architecture declares, no augmentation: can it fit them at all?) with Adam at --lr, batch
32, and prints the training loss and accuracy of every epoch. The first line also gives, for each, how
much the softmax differs between faces before any training (mean over classes of the std over faces).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="vgg16_48")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-4)
    args = parser.parse_args()

    import keras
    import numpy as np

    import fer_zoo
    from fer_zoo import device_name
    from fer_zoo.data.synthetic import generate  # bare arrays at a chosen difficulty, for a bare keras fit

    arch = fer_zoo.get_architecture(args.arch)
    scale, offset = arch.normalization
    images, labels = generate(args.images, seed=0, difficulty=0.2)
    x = images.astype("float32") * scale + offset
    print(f"device: {device_name()} · keras {keras.__version__} ({keras.backend.backend()}) · {args.arch}, "
          f"{args.images} easy faces, Adam {args.lr:g}, batch 32, no augmentation", flush=True)
    for init in ("shipped", "glorot"):
        keras.utils.set_random_seed(0)
        model = fer_zoo.create_model(args.arch)
        if init == "glorot":
            for layer in model.layers[:-1]:
                if hasattr(layer, "kernel"):
                    layer.kernel.assign(keras.initializers.GlorotUniform(seed=1)(layer.kernel.shape))
        spread = float(np.asarray(model(x, training=False)).std(axis=0).mean())
        model.compile(keras.optimizers.Adam(args.lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
        start = time.perf_counter()
        history = model.fit(x, labels, batch_size=32, epochs=args.epochs, verbose=0).history
        print(f"\n{init}: softmax spread at initialisation {spread:.2g}; {time.perf_counter() - start:.0f} s")
        print("epoch " + " ".join(f"{e:>5}" for e in range(1, args.epochs + 1)))
        print("loss  " + " ".join(f"{v:5.3f}" for v in history["loss"]))
        print("acc   " + " ".join(f"{v:5.3f}" for v in history["accuracy"]))


if __name__ == "__main__":
    main()
