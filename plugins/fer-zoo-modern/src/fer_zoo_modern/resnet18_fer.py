"""ResNet-18 for 40-48 px faces.

He et al.'s ResNet-18 (BasicBlock, [2, 2, 2, 2] blocks of 64, 128, 256, 512 filters) with the stem
CIFAR-style nets use for small images: one 3x3 convolution at stride 1, batch normalisation and ReLU,
no 7x7 stride-2 convolution and no max pooling, so a 48x48 face keeps 48x48 through the first stage
and reaches the last at 6x6 (stages at stride 1, 2, 2, 2). A block's first convolution carries the
stride; where the shape changes the shortcut is a 1x1 convolution and batch normalisation. Then global
average pooling and a 7-way softmax. Convolutions have no bias (batch norm follows each), kernels are
He-normal, as torchvision's ResNet, and the last batch norm of each block starts at zero scale (Goyal et al.
2017; torchvision's ``zero_init_residual``): an untrained net is then its shortcuts, so its activations do
not grow block by block. Without it, eight He-normal blocks summed saturate the softmax before training
(every face got the same prediction, 0.99998 on one class).

The strided 1x1 shortcut is written as 1x1 subsampling (a 1x1 max pooling at stride 2) then a 1x1
convolution: the same numbers, but TensorFlow 2.21's oneDNN kernels corrupt the heap in the gradient
of a strided 1x1 convolution on some map sizes on AVX-512 CPUs (fer-zoo-mini-xception does the same).
"""

import fer_zoo

FER_ZOO_PLUGIN_API = "1.0"

STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))  # (filters, stride of the stage's first block)
BLOCKS_PER_STAGE = 2


def build_resnet18_fer(input_shape, num_classes):
    import keras
    from keras import layers

    def conv_bn(x, filters, kernel, stride, name, gamma="ones"):
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                          kernel_initializer="he_normal", name=f"{name}_conv")(x)
        return layers.BatchNormalization(gamma_initializer=gamma, name=f"{name}_bn")(x)

    def basic_block(x, filters, stride, name):
        shortcut = x
        if stride != 1 or x.shape[-1] != filters:
            if stride != 1:
                shortcut = layers.MaxPooling2D(1, strides=stride, name=f"{name}_subsample")(shortcut)
            shortcut = conv_bn(shortcut, filters, 1, 1, f"{name}_shortcut")
        x = conv_bn(x, filters, 3, stride, f"{name}_1")
        x = layers.ReLU(name=f"{name}_1_relu")(x)
        x = conv_bn(x, filters, 3, 1, f"{name}_2", gamma="zeros")  # each block starts as its shortcut
        x = layers.Add(name=f"{name}_add")([x, shortcut])
        return layers.ReLU(name=f"{name}_relu")(x)

    inputs = keras.Input(shape=input_shape)
    x = layers.ReLU(name="stem_relu")(conv_bn(inputs, 64, 3, 1, "stem"))
    for stage, (filters, stride) in enumerate(STAGES, start=1):
        for block in range(BLOCKS_PER_STAGE):
            x = basic_block(x, filters, stride if block == 0 else 1, f"stage{stage}_block{block + 1}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="resnet18_fer")


ARCHITECTURE = fer_zoo.Architecture(
    name="resnet18_fer",
    build=build_resnet18_fer,
    input_shape=(48, 48, 1),
    description="ResNet-18 (BasicBlock [2,2,2,2], 64-512) with a 3x3 stride-1 stem and no stem pooling, for 40-48 px faces",
    params=11_180_871,
    macs=1_247_038_976,
    reference="He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, 2015 (arXiv:1512.03385); "
              "small-image stem as in its CIFAR-style variants",
    recipe="resnet18-fer",
    flexible_input=True,
)


@fer_zoo.hookimpl
def fer_zoo_register_architectures(register):
    register(ARCHITECTURE)
