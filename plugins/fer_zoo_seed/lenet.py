"""LeNet-5 adapted to 48x48x1 faces.

The paper names LeNet among its comparisons but gives neither a design nor a result. This keeps
LeNet-5's shape (6 and 16 filters of 5x5, each followed by 2x2 pooling, then 120 - 84 units) with the
usual modern substitutions: ReLU for tanh, max for average pooling, softmax over 7 classes.
"""

import fer_zoo
from fer_zoo_seed import PAPER


def build_lenet(input_shape, num_classes):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(6, 5, activation="relu", name="c1"),
            layers.MaxPooling2D(2, name="s2"),
            layers.Conv2D(16, 5, activation="relu", name="c3"),
            layers.MaxPooling2D(2, name="s4"),
            layers.Flatten(name="flatten"),
            layers.Dense(120, activation="relu", name="c5"),
            layers.Dense(84, activation="relu", name="f6"),
            layers.Dense(num_classes, activation="softmax", dtype="float32", name="output"),
        ],
        name="lenet",
    )


@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(
        fer_zoo.Architecture(
            name="lenet",
            build=build_lenet,
            input_shape=(48, 48, 1),
            description="LeNet-5 at 48x48x1: two 5x5 conv/pool stages, dense 120-84 (ReLU, max pooling)",
            params=168_971,
            macs=1_234_188,
            reference=f"LeCun et al. 1998; compared in {PAPER}, §3.2",
            # No batch norm: Adam at lr 0.01 (the seed recipe) left 2 of 3 seeds at chance, and SGD at
            # 0.01 or Adam at 3e-4 answered the majority class for most of the quick budget; Adam at 1e-3
            # leaves it within two epochs (docs/architectures.md, "LeNet: Adam at 1e-3").
            recipe="adam",
        )
    )
