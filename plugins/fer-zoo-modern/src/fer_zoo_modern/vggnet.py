"""VGGNet for FER2013 (Khaireddin & Chen 2021, arXiv:2105.03588).

Four stages of two 3x3 'same' convolutions, each followed by batch normalisation and ReLU, with 64,
128, 256 and 512 filters; each stage ends in 2x2 max pooling (48 -> 24 -> 12 -> 6 -> 3, or 40 -> 20
-> 10 -> 5 -> 2 on the 40x40 crops it trains on). Then flatten, two dense layers of 1024 units with
ReLU and dropout 0.2 (the rate of the authors' ``Vgg`` class), and a 7-way softmax.

The authors' public code (usef-kh/fer, models/vgg.py) has 4096-unit dense layers; fer-zoo follows
issue #35's 1024 (docs/architectures.md says what that changes). The convolutions keep their biases,
as the authors' ``nn.Conv2d`` do. Kernels are He-normal: the net is plain (no shortcuts) and ReLU.
"""

import fer_zoo

FER_ZOO_PLUGIN_API = "1.0"

STAGES = (64, 128, 256, 512)
DENSE_UNITS = 1024
DROPOUT = 0.2


def build_vggnet(input_shape, num_classes):
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape)
    x = inputs
    for stage, filters in enumerate(STAGES, start=1):
        for conv in ("a", "b"):
            x = layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal",
                              name=f"conv{stage}{conv}")(x)
            x = layers.BatchNormalization(name=f"bn{stage}{conv}")(x)
            x = layers.ReLU(name=f"relu{stage}{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = layers.Dense(DENSE_UNITS, activation="relu", kernel_initializer="he_normal", name=f"fc{i}")(x)
        x = layers.Dropout(DROPOUT, name=f"drop{i}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="vggnet")


ARCHITECTURE = fer_zoo.Architecture(
    name="vggnet",
    build=build_vggnet,
    input_shape=(48, 48, 1),
    description="VGGNet (Khaireddin & Chen 2021): 4 stages of 2 conv+BN+ReLU (64-512), dense 1024-1024, dropout 0.2",
    params=10_468_295,
    macs=474_242_048,
    reference="Khaireddin & Chen, Facial Emotion Recognition: State of the Art Performance on FER2013, 2021 "
              "(arXiv:2105.03588)",
    # PublicTest (fer-zoo's val), ten-crop TTA, the checkpoint chosen on PrivateTest (docs/architectures.md)
    reported={"val": 0.7328},
    recipe="khaireddin",
    flexible_input=True,
)


@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(ARCHITECTURE)
