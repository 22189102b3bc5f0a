"""Modern single networks for FER2013, each a fer-zoo architecture plugin with its own entry point:

- ``vggnet`` (vggnet.py): Khaireddin & Chen 2021's VGG variant, four double-convolution stages;
- ``resnet18_fer`` (resnet18_fer.py): ResNet-18 with a stem for 40-48 px faces.

Both build at any input size (trained on 40x40 crops of the 48x48 faces); docs/architectures.md gives
their layers, counts and the protocol behind the published figure.
"""
