"""Which heat-map method finds the evidence: LayerCAM, Grad-CAM and Grad-CAM++ on small nets trained on
synthetic faces whose class is decided by one feature (the open mouth, or the wide eyes), for the three
heads FER nets end in (global average pooling, global max pooling, flatten + dense). Prints, per head and
method, the share of each map that lies below row 28 (the mouth; the eyes lie above it), mean over the
test faces of class 1: near 1 for mouth-decided faces and near 0 for eye-decided ones is right.

With --figure PATH it also draws the three methods over the astronaut photo's face (scikit-image's sample)
for the mini-Xception example's shipped weights, with the machine named in the title.

Usage: python scripts/compare_cam_methods.py [--figure docs/images/explain-methods.png]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HEADS = ("average", "max", "flatten")


def small_net(head: str):
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    pooled = {"average": layers.GlobalAveragePooling2D(), "max": layers.GlobalMaxPooling2D(),
              "flatten": layers.Flatten()}[head]
    return keras.Sequential([
        keras.Input((48, 48, 1)), layers.Rescaling(1 / 255),
        layers.Conv2D(16, 3, activation="relu", padding="same"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu", padding="same", name="last_conv"), pooled,
        layers.Dense(2, activation="softmax")])


def table(epochs: int) -> None:
    import keras

    # faces told apart by one feature, and the CAM of a bare Keras model: what the table compares
    from fer_zoo.data.synthetic import one_feature_faces
    from fer_zoo.inference.explain import METHODS, grad_cam

    print(f"{'head':8} {'decided by':10} {'test acc':>8}  " + "  ".join(f"{m:>10}" for m in METHODS))
    for head in HEADS:
        for feature in ("mouth", "eyes"):
            model = small_net(head)
            model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
            x, y = one_feature_faces(1000, feature, seed=0)
            model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
            test_x, test_y = one_feature_faces(200, feature, seed=1)
            accuracy = model.evaluate(test_x, test_y, verbose=0)[1]
            shares = []
            for method in METHODS:
                heat, _, _ = grad_cam(model, test_x[test_y == 1], 1, layer="last_conv", method=method)
                total = heat.sum((1, 2))
                empty = total == 0
                share = heat[:, 28:].sum((1, 2))[~empty] / total[~empty]
                mean = f"{share.mean():.2f}" if len(share) else "—"
                shares.append(mean + (f" ({empty.sum()}/{len(empty)}∅)" if empty.any() else ""))
            print(f"{head:8} {feature:10} {accuracy:8.1%}  " + "  ".join(f"{s:>10}" for s in shares), flush=True)
    print("share of each map below row 28 (the mouth); ∅: maps that came out empty (all zero), left out")


def figure(path: str) -> None:
    import skimage.data

    from fer_zoo import describe_environment, load_classifier
    # `fer-zoo explain`'s maps, kept in memory for one figure instead of written as PNGs
    from fer_zoo.inference.explain import METHODS, explain

    photo = os.path.join(os.path.dirname(path) or ".", ".astronaut.png")
    from PIL import Image

    Image.fromarray(skimage.data.astronaut()).save(photo)
    try:
        classifier = load_classifier("mini_xception", runtime="keras")
        results = {m: explain(classifier, [photo], method=m)[0][0] for m in METHODS}
    finally:
        os.remove(photo)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(10, 3.1))
    first = results[METHODS[0]]
    for ax, (title, heat) in zip(axes, [("face (mini-Xception's input)", None)] +
                                 [(f"{m} at {r.layer}", r.heat) for m, r in results.items()]):
        ax.imshow(first.face[..., 0], cmap="gray", vmin=0, vmax=255)
        if heat is not None:
            ax.imshow(heat, cmap="jet", alpha=0.45, vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"fer-zoo explain: evidence for '{first.label}' ({first.probabilities[first.label]:.0%}), "
                 f"heat 0-1 of each map's maximum · {describe_environment()['device']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--figure", default=None)
    args = parser.parse_args()
    from fer_zoo import describe_environment

    info = describe_environment()
    print(f"device: {info['device']} · backend {info['backend']}")
    table(args.epochs)
    if args.figure:
        figure(args.figure)


if __name__ == "__main__":
    main()
