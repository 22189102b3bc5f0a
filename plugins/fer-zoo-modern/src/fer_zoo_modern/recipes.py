"""The recipes the two nets were published with, registered by name (``fer_zoo_register_recipes``) as plain
data; each architecture's ``recipe`` names its own. docs/architectures.md gives their sources.

Weight decay is coupled (L2 added to the gradient before momentum), as PyTorch's SGD, which both recipes
come from, applies it. Both train on random 40x40 crops of the 48x48 faces (the saved model then cuts the
centre 40x40) and are scored with ten 40x40 crops and their mirrors.
"""

import fer_zoo

# Khaireddin & Chen 2021: SGD Nesterov 0.9, lr 0.01, wd 1e-4, ReduceLROnPlateau x0.75 after 5 epochs without
# a better val accuracy, batch 64, 300 epochs; random resized crops (scale 0.8-1.2: zoom 0.2), shifts of up to
# 20%, flips, rotations of 10 degrees, random erasing (p 0.5); 40x40 crops, ten-crop at test.
KHAIREDDIN = fer_zoo.Recipe(
    "khaireddin", "sgd", 0.01, 64, 300,
    fer_zoo.Augment(shift=0.2, zoom=0.2, rotation_degrees=10, flip=True, erasing=0.5, crop=40),
    momentum=0.9, nesterov=True, weight_decay=1e-4, weight_decay_kind="coupled", schedule="plateau",
    plateau_factor=0.75, plateau_patience=5, plateau_monitor="val_accuracy", tta="tencrop", tta_crop=40,
    description="Khaireddin & Chen 2021: SGD Nesterov 0.01, plateau x0.75/5, 40 px crops, ten-crop")

# ResNet-18 with a modern recipe: SGD Nesterov 0.9, lr 0.1, wd 1e-4, batch 128, 300 epochs of cosine decay,
# label smoothing 0.1, mixup (alpha 1); 40x40 random crops of the 4-px-padded face and flips; ten-crop at test.
RESNET18_FER = fer_zoo.Recipe(
    "resnet18-fer", "sgd", 0.1, 128, 300, fer_zoo.Augment(flip=True, crop=40, crop_padding=4),
    momentum=0.9, nesterov=True, weight_decay=1e-4, weight_decay_kind="coupled", schedule="cosine",
    label_smoothing=0.1, mixup=1.0, tta="tencrop", tta_crop=40,
    description="ResNet-18 for FER: SGD Nesterov 0.1, cosine, smoothing 0.1, mixup 1, 40 px crops, ten-crop")


@fer_zoo.hookimpl
def fer_zoo_register_recipes(register):
    register(KHAIREDDIN)
    register(RESNET18_FER)
