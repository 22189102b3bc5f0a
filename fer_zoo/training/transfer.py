"""Starting from other weights: another model's (a file, a run directory) or an architecture's shipped ones,
and freezing part of the network while fine-tuning."""

from __future__ import annotations

from pathlib import Path

from fer_zoo.errors import FerZooError
from fer_zoo.training.saved import load_model


def init_from(inference, source: str, unsafe: bool, dataset) -> None:
    """Start from another model's weights: a file, a run directory, or an architecture's shipped weights."""
    import fer_zoo
    from fer_zoo import plugins
    from fer_zoo.models.build import create_model
    from fer_zoo.models.pipeline import inference_model

    if not Path(source).exists() and source in plugins.current().architectures:
        donor_arch = fer_zoo.get_architecture(source)
        data_classes = tuple(dataset.class_names)
        if tuple(donor_arch.class_names) != data_classes:
            raise FerZooError(f"--init-from {source}: its weights predict {', '.join(donor_arch.class_names)}; the data "
                              f"has {', '.join(data_classes)} (same classes, same order needed to fine-tune)")
        bare = create_model(donor_arch, donor_arch.input_shape, len(data_classes), pretrained=True)
        donor = inference_model(donor_arch, dataset.image_shape, len(data_classes), bare=bare)
    else:
        donor = load_model(source, unsafe)
    try:
        inference.set_weights(donor.get_weights())
    except ValueError as exc:
        raise FerZooError(f"--init-from {source}: its weights do not fit this architecture ({exc})") from None


def network_of(inference, arch):
    """The bare network inside an inference model (its one nested model)."""
    import keras

    nested = [layer for layer in inference.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise FerZooError(f"architecture {arch.name!r}: cannot tell its network apart inside the model to freeze it")
    return nested[0]


def freeze(network, freeze: int | str) -> None:
    """Freeze the first ``freeze`` layers of ``network`` that have weights, or with "backbone" all of them
    but the last (the classifier head). Frozen batch-norm layers keep their statistics (Keras runs them in
    inference mode)."""
    weighted = [layer for layer in network.layers if layer.weights]
    count = len(weighted) - 1 if freeze == "backbone" else freeze
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < len(weighted):
        raise FerZooError(f"--freeze must be between 0 and {len(weighted) - 1} (the network has {len(weighted)} layers "
                          f"with weights) or 'backbone', got {freeze!r}")
    for layer in weighted[:count]:
        layer.trainable = False
