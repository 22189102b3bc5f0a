"""Grad-CAM and Grad-CAM++: where in a face a Keras model found the evidence for a class.

The heat map of class *c* at a convolutional layer with feature maps ``A`` is ``relu(sum_k w_k A_k)``,
the weights ``w_k`` from the gradient of *c*'s score (the pre-softmax logit where the output layer
has a softmax activation, else the log-probability) with respect to ``A``: its spatial mean for
Grad-CAM (Selvaraju et al. 2017), a positive-gradient weighting for Grad-CAM++ (Chattopadhay et al. 2018).

The gradient is taken without rebuilding the model: for one call, the target layer's output gets a
zero tensor added, and the gradient with respect to that tensor is the gradient with respect to the
layer's output. So it works for any Keras model the zoo loads (nested networks inside the
preprocessing pipeline, Sequential or functional) under every backend that differentiates:
TensorFlow, JAX and PyTorch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_zoo.errors import FerZooError

METHODS = ("layer-cam", "grad-cam", "grad-cam++")


@dataclass
class Explanation:
    """One face, the model's answer, and the heat map for ``target``."""

    source: str
    box: list[int] | None  # [x, y, w, h] in the image; None: the whole image was the face
    face: np.ndarray  # the pixels the model saw (H, W, C), uint8
    label: str  # the predicted class
    probabilities: dict[str, float]
    target: str  # the class the heat map explains
    heat: np.ndarray  # (H, W) float32 in [0, 1], at the face's size; all zero where no evidence was found
    layer: str

    @property
    def peak(self) -> tuple[int, int]:
        """(row, column) of the hottest pixel."""
        return tuple(int(v) for v in np.unravel_index(int(self.heat.argmax()), self.heat.shape))

    def as_dict(self) -> dict:
        return {"source": self.source, "box": self.box, "label": self.label, "probabilities": self.probabilities,
                "target": self.target, "layer": self.layer, "peak": list(self.peak)}


def _spatial(layer, side: int = 2) -> bool:
    import keras

    if isinstance(layer, keras.layers.InputLayer):  # never called: a probe on it sees nothing
        return False
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # never called in a graph
        return False
    return len(shape) == 4 and all(d is None or d >= side for d in shape[1:3])


def target_layer(model, name: str | None = None):
    """The named layer, or the last one whose output is a feature map at least an eighth of the input's side
    (6x6 for 48x48 faces; the last spatial one if none is): the 2x2 or 3x3 maps at the end of most FER nets
    say little about where in a face the evidence is."""
    import math

    from fer_zoo.models.pipeline import leaf_layers

    layers = leaf_layers(model)
    candidates = [layer for layer in layers if _spatial(layer)]
    side = math.ceil(min(d for d in model.input_shape[1:3] if d) / 8)
    fine = [layer for layer in candidates if _spatial(layer, side)]
    if name is None and fine:
        return fine[-1]
    if name is not None:
        for layer in layers:
            if layer.name == name:
                if not _spatial(layer):
                    raise FerZooError(f"--layer {name}: its output is not a spatial feature map; choose one of "
                                      f"{', '.join(c.name for c in candidates[-6:])}")
                return layer
        raise FerZooError(f"--layer {name}: no such layer; the last spatial ones are "
                          f"{', '.join(c.name for c in candidates[-6:])}")
    if not candidates:
        raise FerZooError(f"model {model.name!r} has no layer with a spatial output to explain")
    return candidates[-1]


class _Probe:
    """Adds ``delta`` to one layer's output and keeps that output, for the length of a ``with`` block."""

    def __init__(self, layer, output_layer):
        self.layer, self.output_layer = layer, output_layer
        self.delta, self.activations = None, None

    def __enter__(self):
        import keras

        original = self.layer.call

        def call(*args, **kwargs):
            out = original(*args, **kwargs)
            self.activations = out
            return out if self.delta is None else out + keras.ops.cast(self.delta, out.dtype)

        self.layer.call = call
        # the score is the logit: the output layer's softmax is switched off for the block
        self.softmax = getattr(self.output_layer, "activation", None) is keras.activations.softmax
        if self.softmax:
            self.output_layer.activation = keras.activations.linear
        return self

    def __exit__(self, *exc):
        import keras

        del self.layer.call
        if self.softmax:
            self.output_layer.activation = keras.activations.softmax
        return False


def _value_and_grad(fn, zeros):
    """``fn(delta) -> (scalar, aux)``: its value, aux and gradient at ``zeros``, on the Keras backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        from fer_zoo import tf_backend

        return tf_backend.value_and_grad(fn, zeros)
    if backend == "jax":
        import jax

        (value, aux), grad = jax.value_and_grad(fn, has_aux=True)(zeros)
        return value, aux, grad
    if backend == "torch":
        import torch

        delta = torch.zeros(tuple(zeros.shape), requires_grad=True, device=keras.ops.convert_to_tensor(0.0).device)
        value, aux = fn(delta)
        value.backward()
        return value.detach(), aux.detach(), delta.grad
    raise FerZooError(f"explain needs gradients, and the {backend} backend has none: set KERAS_BACKEND to "
                      f"tensorflow, jax or torch")


def grad_cam(model, images: np.ndarray, classes=None, *, layer: str | None = None,
             method: str = "layer-cam") -> tuple[np.ndarray, np.ndarray, str]:
    """Heat maps ``[N, H, W]`` in [0, 1] at the images' size, the probabilities ``[N, K]`` and the layer's name.

    ``images`` are what ``model`` takes (raw pixels for the zoo's models); ``classes`` the class index per
    image to explain (default: each image's predicted class).
    """
    import keras

    from fer_zoo.models.pipeline import leaf_layers

    if method not in METHODS:
        raise FerZooError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    chosen = target_layer(model, layer)
    x = keras.ops.convert_to_tensor(np.asarray(images, np.float32))
    probe = _Probe(chosen, leaf_layers(model)[-1])
    probs = keras.ops.convert_to_numpy(model(x, training=False)).astype(np.float32)
    classes = probs.argmax(1) if classes is None else np.broadcast_to(np.asarray(classes), (len(probs),))
    pick = keras.ops.convert_to_tensor(np.eye(probs.shape[1], dtype=np.float32)[classes])

    with probe:
        logits = probe.softmax

        def score(delta):
            probe.delta = delta
            out = keras.ops.cast(model(x, training=False), "float32")
            out = out if logits else keras.ops.log(keras.ops.maximum(out, 1e-30))
            return keras.ops.sum(out * pick), probe.activations

        model(x, training=False)  # the feature maps' shape
        if probe.activations is None:  # a layer outside the forward pass, which a probe cannot see
            raise FerZooError(f"--layer {chosen.name}: model {model.name!r} does not call it on its input; "
                              f"choose a layer on the path from input to output")
        zeros = keras.ops.zeros(tuple(probe.activations.shape), "float32")
        _, activations, grads = _value_and_grad(score, zeros)
    a = keras.ops.convert_to_numpy(activations).astype(np.float32)
    g = keras.ops.convert_to_numpy(grads).astype(np.float32)
    if method == "layer-cam":  # each position weighted by its own positive gradient
        cam = np.maximum((np.maximum(g, 0) * a).sum(-1), 0)
    elif method == "grad-cam":
        weights = g.mean(axis=(1, 2))
    else:  # Grad-CAM++ with the exponential score's closed form: alpha = g^2 / (2 g^2 + sum(A) g^3)
        g2, g3 = g ** 2, g ** 3
        denominator = 2 * g2 + a.sum(axis=(1, 2), keepdims=True) * g3
        alpha = g2 / np.where(denominator != 0, denominator, 1)
        weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    if method != "layer-cam":
        cam = np.maximum(np.einsum("nhwk,nk->nhw", a, weights), 0)
    cam = _resize(cam, images.shape[1:3])
    top = cam.reshape(len(cam), -1).max(1)
    return cam / np.where(top > 0, top, 1)[:, None, None], probs, chosen.name


def _resize(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``[N, h, w]`` non-negative maps to ``size``."""
    from PIL import Image

    out = np.empty((len(maps), *size), np.float32)
    for i, m in enumerate(maps):
        out[i] = np.asarray(Image.fromarray(m.astype(np.float32), mode="F").resize(size[::-1], Image.BILINEAR))
    return np.maximum(out, 0)


def explainable(classifier, target: str | None = None):
    """The Keras model to take gradients through, once ``classifier`` and ``target`` are known to allow it."""
    model = classifier.keras_model
    if model is None:
        raise FerZooError(f"{classifier.source}: explain needs a Keras model (a run directory or a .keras file) "
                          f"to take gradients through; this one runs under {classifier.runtime}")
    if target is not None and target not in classifier.class_names:
        raise FerZooError(f"--class {target}: the model's classes are {', '.join(classifier.class_names)}")
    return model


def explain_frame(classifier, frame, *, target: str | None = None, boxed: bool = True, layer: str | None = None,
                  method: str = "layer-cam") -> list[Explanation]:
    """Each face of one frame (fer_zoo.inference.predict.FaceFinder's) explained; ``boxed`` False: the whole
    image was the face, so no box is reported."""
    model = explainable(classifier, target)
    if not frame.crops:
        return []
    names = list(classifier.class_names)
    faces = np.stack(frame.crops)
    heat, probs, used = grad_cam(model, faces, None if target is None else names.index(target), layer=layer,
                                 method=method)
    return [Explanation(frame.source, box if boxed else None, face.astype(np.uint8), names[int(p.argmax())],
                        {n: float(v) for n, v in zip(names, p)}, target or names[int(p.argmax())], h, used)
            for box, face, h, p in zip(frame.boxes, faces, heat, probs)]


def explain(classifier, inputs: Iterable[str | os.PathLike], *, target: str | None = None,
            detector: str | None = "auto", margin: float = 0.1, layer: str | None = None,
            method: str = "layer-cam") -> tuple[list[Explanation], list[str]]:
    """Each face in each image file explained; also the files in which no face was found."""
    from fer_zoo.inference.predict import FaceFinder, expand_inputs, read_image

    explainable(classifier, target)
    finder = FaceFinder(classifier.input_shape, detector, margin)
    explanations, faceless = [], []
    for path, _ in expand_inputs(inputs):
        frame = finder.frame(str(path), None, read_image(path))
        if not frame.crops:
            faceless.append(str(path))
            continue
        explanations += explain_frame(classifier, frame, target=target, boxed=detector is not None, layer=layer,
                                      method=method)
    return explanations, faceless


def output_names(explanations: list[Explanation]) -> list[str]:
    """A file name per explanation: the image's stem, and the face's number where an image has several, then
    the class; what comes from data (a stem, a class name) cannot hold a path separator (``../x`` is ``.._x``)."""
    from fer_zoo.outputs import safe_name

    stems = [safe_name(Path(e.source).stem) for e in explanations]
    count: dict[str, int] = {}
    names = []
    for stem in stems:
        count[stem] = count.get(stem, 0) + 1
        names.append(stem if stems.count(stem) == 1 else f"{stem}-face{count[stem]}")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):  # two inputs with one stem (a/x.png, b/x.png)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name}-{seen[name]}"
    return [f"{name}-{safe_name(e.target)}.png" for name, e in zip(names, explanations)]


def write_maps(explanations: list[Explanation], out_dir: Path, given: list[Path], method: str,
               force: bool = False) -> list[Path]:
    """One PNG per explanation in ``out_dir`` (the face and its heat map). ``given``: the command's inputs
    (fer_zoo.outputs.inputs); every name is checked before the first file is written: inside ``out_dir``,
    no input, nothing replaced without ``force``."""
    from fer_zoo import outputs
    from fer_zoo.report.figures import explanation_png

    outputs.folder(out_dir, "--out", given, force)
    targets = [outputs.member(out_dir, name, "--out", given, force) for name in output_names(explanations)]
    for e, target in zip(explanations, targets):
        title = (f"{Path(e.source).name}: {e.label} {e.probabilities[e.label]:.0%} · {method} for "
                 f"{e.target} at {e.layer}")
        outputs.write_with(target, "--out", lambda tmp, e=e, title=title: explanation_png(e.face, e.heat, tmp, title))
    return targets
