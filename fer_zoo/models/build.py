"""Building an architecture's network, and measuring it: parameters, MACs, the layer table.

Keras is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fer_zoo.errors import FerZooError, one_line
from fer_zoo.plugins.registry import Architecture


def create_model(arch: Architecture, input_shape: tuple[int, int, int] | None = None, num_classes: int = 7,
                 pretrained: bool = False):
    """Build the bare network and check it keeps the contract: ``(None, num_classes)`` output.

    ``pretrained`` loads the weights the architecture's plugin ships (the one place fer-zoo does): a
    one-line error names the plugin and the file when there are none, or they do not fit.
    """
    shape = tuple(input_shape) if input_shape is not None else arch.input_shape
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise FerZooError(f"num_classes must be an int >= 2, got {num_classes!r}")
    where = f"architecture {arch.name!r} ({arch.plugin or 'unregistered'})"
    try:
        model = arch.build(shape, num_classes)
    except FerZooError:
        raise
    except Exception as exc:  # a plugin's bug is reported as that plugin's, not as ours
        raise FerZooError(f"{where}: build{shape} failed: {type(exc).__name__}: {one_line(exc, 200)}") from exc
    output_shape = _shape_of(model, "output")
    input_shape_built = _shape_of(model, "input")
    if output_shape != (None, num_classes):
        raise FerZooError(f"{where}: build returned output shape {output_shape}, expected (None, {num_classes})")
    if input_shape_built != (None, *shape):
        raise FerZooError(f"{where}: build returned input shape {input_shape_built}, expected (None, {', '.join(map(str, shape))})")
    if pretrained:
        weights = arch.weights_path()
        if weights is None:
            raise FerZooError(f"architecture {arch.name!r} ships no weights: train it ('fer-zoo train {arch.name}') "
                              f"and use the run directory instead")
        try:
            model.load_weights(weights)
        except Exception as exc:  # a plugin's file that does not fit its own build()
            raise FerZooError(f"{where}: shipped weights {weights} do not load into build{shape} with "
                              f"{num_classes} classes: {one_line(exc, 200)}") from None
    return model


def declared_mismatches(arch: Architecture, summary: ModelSummary) -> list[str]:
    """Where the metadata a plugin declares (params, MACs; for 7 classes at its input shape) differs from
    the network it builds."""
    found = []
    for attr, built in (("params", summary.total_params), ("macs", summary.macs)):
        declared = getattr(arch, attr)
        if declared is not None and declared != built:
            found.append(f"declared {attr}={declared:,} but the built model has {built:,}: set {attr}={built}")
    return found


def describe_built(arch: Architecture, input_shape: tuple[int, int, int] | None = None, num_classes: int = 7) -> dict:
    """``fer-zoo info``: the architecture's metadata with the built network's measured counts (at the shape and
    class count asked for), its layer table, and warnings where the declared counts are wrong."""
    shape = tuple(input_shape) if input_shape is not None else arch.input_shape
    summary = summarize(create_model(arch, shape, num_classes))
    warnings = []
    if shape == arch.input_shape and num_classes == 7:
        warnings = [f"{arch.name} ({arch.plugin}) {problem}" for problem in declared_mismatches(arch, summary)]
    return {**arch.describe(), "declared_params": arch.params, "declared_macs": arch.macs,
            "input_shape": list(shape), "num_classes": num_classes, **summary.as_dict(),
            "params": summary.total_params, "macs": summary.macs, "summary": summary, "warnings": warnings}


def _shape_of(model: Any, which: str):
    try:
        return tuple(getattr(model, f"{which}_shape"))
    except Exception:
        return f"<no {which} shape: {type(model).__name__} is not a built keras.Model>"


@dataclass(frozen=True)
class LayerRow:
    name: str
    type: str
    output_shape: tuple
    params: int


@dataclass(frozen=True)
class ModelSummary:
    layers: list[LayerRow]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    macs: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "macs": self.macs,
            "layers": [
                {"name": r.name, "type": r.type, "output_shape": list(r.output_shape), "params": r.params}
                for r in self.layers
            ],
        }


def summarize(model) -> ModelSummary:
    """The layer table as the paper's Table 1 shows it, with parameter counts and MACs."""
    rows = [
        LayerRow(layer.name, type(layer).__name__, tuple(layer.output.shape), layer.count_params())
        for layer in model.layers
    ]
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    return ModelSummary(rows, trainable + non_trainable, trainable, non_trainable, count_macs(model))


def _count(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


def count_macs(model) -> int:
    """Multiply-accumulates per image in the convolution and dense layers.

    Bias additions, normalisation, pooling and activations are not counted (the usual convention
    for "MACs" in model zoos). Nested models are counted layer by layer.
    """
    import keras

    layers = keras.layers
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_macs(layer)
        elif isinstance(layer, (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)):
            # each input position scatters through the whole kernel
            total += _positions(layer, layer.input.shape) * math.prod(layer.kernel.shape)
        elif isinstance(layer, (layers.SeparableConv1D, layers.SeparableConv2D)):
            positions = _positions(layer, layer.output.shape)
            total += positions * (math.prod(layer.depthwise_kernel.shape) + math.prod(layer.pointwise_kernel.shape))
        elif isinstance(layer, (layers.DepthwiseConv1D, layers.DepthwiseConv2D)):
            total += _positions(layer, layer.output.shape) * math.prod(layer.kernel.shape)
        elif isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.Dense)):
            # kernel = window x input channels (/ groups) x filters, applied at every output position
            total += _positions(layer, layer.output.shape) * math.prod(layer.kernel.shape)
    return int(total)


def _positions(layer, shape) -> int:
    """Spatial positions of a (batch, ..., channels) or channels-first tensor shape."""
    dims = shape[1:-1] if getattr(layer, "data_format", "channels_last") == "channels_last" else shape[2:]
    return math.prod(dims)
