"""AlexNet modified for 48x48x1 faces, as the paper's §3.2.1 describes it.

- The first two layers' kernels and strides are reduced: conv1 11x11/4 becomes 5x5/1 and conv2
  5x5 becomes 3x3, so a 48x48 face is not reduced to a few pixels at once.
- Batch normalisation after every convolution and after the first two dense layers, which are also
  followed by dropout.
- The filter counts stay AlexNet's (96, 256, 384, 384, 256); the two 4096-unit layers become a
  stack of smaller ones (1024, 512, 256): "more fully connected layers ... with reduced units".
"""

import fer_zoo
from fer_zoo_seed import PAPER


def build_alexnet48(input_shape, num_classes):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(96, 5, padding="same", activation="relu", name="conv1"),
            layers.BatchNormalization(name="bn1"),
            layers.MaxPooling2D(3, strides=2, name="pool1"),
            layers.Conv2D(256, 3, padding="same", activation="relu", name="conv2"),
            layers.BatchNormalization(name="bn2"),
            layers.MaxPooling2D(3, strides=2, name="pool2"),
            layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3"),
            layers.BatchNormalization(name="bn3"),
            layers.Conv2D(384, 3, padding="same", activation="relu", name="conv4"),
            layers.BatchNormalization(name="bn4"),
            layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5"),
            layers.BatchNormalization(name="bn5"),
            layers.MaxPooling2D(3, strides=2, name="pool5"),
            layers.Flatten(name="flatten"),
            layers.Dense(1024, activation="relu", name="fc6"),
            layers.BatchNormalization(name="bn6"),
            layers.Dropout(0.5, name="drop6"),
            layers.Dense(512, activation="relu", name="fc7"),
            layers.BatchNormalization(name="bn7"),
            layers.Dropout(0.5, name="drop7"),
            layers.Dense(256, activation="relu", name="fc8"),
            layers.Dense(num_classes, activation="softmax", dtype="float32", name="output"),
        ],
        name="alexnet48",
    )


@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(
        fer_zoo.Architecture(
            name="alexnet48",
            build=build_alexnet48,
            input_shape=(48, 48, 1),
            description="AlexNet for 48x48: 5x5/1 and 3x3 first convs, BN, dense 1024-512-256 (§3.2.1)",
            params=10_545_735,
            macs=504_432_384,
            reference=f"Krizhevsky et al. 2012; modified in {PAPER}, §3.2.1",
            reported={"train": 0.995, "val": 0.612},
            recipe="stable",
        )
    )
