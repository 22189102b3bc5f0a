"""VGG-16 entered at the stage nearest 48x48, as the paper's §3.2.2 describes it.

VGG-16's first six layers (conv64 x2, pool, conv128 x2, pool) take 224x224 to 56x56, the size nearest
a 48x48 face, so the face enters at block 3. The rest is replicated with Keras' default 'valid'
padding, which shrinks every map: 48 -> 42 -> pool 21 -> 15 -> pool 7 -> 1 after block 5's three
convs. Block 5's pooling would take 1x1 below 1x1 ("the input size dropped below 0"), so it is the
one layer dropped. Then VGG's dense head: 4096, 4096 with dropout, and 7 classes.

Each convolution is followed by batch normalisation, then its ReLU (torchvision's ``vgg16_bn``
layout); VGG-16 has none and the paper adds none here. Without it, and with He-normal kernels, the
network sat at the majority class for three epochs of the quick budget and reached 34.8% val after five;
with it, 40.4% after two (docs/architectures.md). Kernels are He-normal (He et al. 2015, the
initialisation for ReLU nets): under Keras' default Glorot uniform the plain network's eleven ReLU layers
each about halve the signal, the softmax starts the same for every face and training sits at ln 7
(``python scripts/compare_init.py``). The paper does not say how it initialised the network.
"""

import fer_zoo
from fer_zoo_seed import PAPER


def build_vgg16_48(input_shape, num_classes):
    import keras
    from keras import layers

    def block(n, filters, pool=True):
        stack = []
        for i in (1, 2, 3):
            stack += [layers.Conv2D(filters, 3, kernel_initializer="he_normal", name=f"block{n}_conv{i}"),
                      layers.BatchNormalization(name=f"block{n}_bn{i}"),
                      layers.ReLU(name=f"block{n}_relu{i}")]
        return stack + ([layers.MaxPooling2D(2, name=f"block{n}_pool")] if pool else [])

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            *block(3, 256),
            *block(4, 512),
            *block(5, 512, pool=False),
            layers.Flatten(name="flatten"),
            layers.Dense(4096, activation="relu", kernel_initializer="he_normal", name="fc1"),
            layers.Dropout(0.5, name="drop1"),
            layers.Dense(4096, activation="relu", kernel_initializer="he_normal", name="fc2"),
            layers.Dropout(0.5, name="drop2"),
            layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions"),
        ],
        name="vgg16_48",
    )


@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(
        fer_zoo.Architecture(
            name="vgg16_48",
            build=build_vgg16_48,
            input_shape=(48, 48, 1),
            description="VGG-16 from block 3 on (valid padding, block 5 unpooled, batch norm), dense 4096-4096 (§3.2.2)",
            params=33_088_519,
            macs=3_927_233_536,
            reference=f"Simonyan & Zisserman 2014; modified in {PAPER}, §3.2.2",
            reported={"train": 0.96, "val": 0.55},
            recipe="stable",
        )
    )
