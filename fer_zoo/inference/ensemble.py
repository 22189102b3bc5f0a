"""Ensembles: several trained models answering as one, their probabilities averaged (optionally weighted).

Each member keeps its own preprocessing and input size (images are resized for each member from the
original pixels, never twice) and its own class order (matched by name to the first member's classes).
Residual Masking Network's 76.82% on FER2013 is such an average of seven nets; its best single net 74.14%.
"""

from __future__ import annotations

import numpy as np

from fer_zoo.errors import FerZooError
from fer_zoo.inference.runtime import Classifier, load_classifier
from fer_zoo.training.scores import class_columns, on_data_classes


class Ensemble(Classifier):
    """A Classifier whose answer is the weighted mean of its members' probabilities."""

    def __init__(self, members: list[Classifier], weights: list[float] | None = None):
        if len(members) < 2:
            raise FerZooError("an ensemble needs two or more models")
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members) or any(not np.isfinite(w) or w < 0 for w in weights) or sum(weights) == 0:
            raise FerZooError(f"--weights: {len(members)} non-negative numbers, not all zero, one per model; got "
                              f"{weights}")
        first = members[0]
        self.members, self.weights = members, [w / sum(weights) for w in weights]
        self.columns = [class_columns(m.class_names, first.class_names, m.source) for m in members]
        super().__init__(source=" + ".join(m.source for m in members),
                         runtime="ensemble of " + ", ".join(m.runtime for m in members),
                         input_shape=first.input_shape, class_names=first.class_names,
                         run_batch=self._run, notes=[n for m in members for n in m.notes])

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.predict(x)

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The weighted mean of the members' probabilities over the first member's classes."""
        return sum(w * on_data_classes(m.predict(x, batch_size), c)
                   for m, w, c in zip(self.members, self.weights, self.columns))

    def member_probabilities(self, x: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
        return [on_data_classes(m.predict(x, batch_size), c) for m, c in zip(self.members, self.columns)]


def load_ensemble(models: list[str], weights: list[float] | None = None, **options) -> Classifier:
    """One model as its Classifier, several as an Ensemble (``options`` go to each member's loader)."""
    import os
    from pathlib import Path

    for model in models:  # pathlib drops the slash: 'tiny.keras/' would load the file
        if model.endswith(("/", os.sep)) and not Path(model).is_dir():
            raise FerZooError(f"{model}: not a folder (a trailing / names a folder; drop it for a file)")
    if len(models) == 1:
        if weights is not None:
            raise FerZooError(f"--weights: weighs an ensemble's members; with one model there is nothing to weigh "
                              f"(got {','.join(f'{w:g}' for w in weights)})")
        return load_classifier(models[0], **options)
    return Ensemble([load_classifier(m, **options) for m in models], weights)


def is_model(name: str) -> bool:
    """Whether ``name`` names a model (a run directory, a model file, an architecture) rather than an input."""
    from pathlib import Path

    from fer_zoo import plugins
    from fer_zoo.inference.runtime import artifact_kind

    path = Path(name)
    if path.exists():
        return artifact_kind(path) is not None
    return name in plugins.current().architectures


def split_models(first: str, rest: list[str]) -> tuple[list[str], list[str]]:
    """``fer-zoo predict A B photo.jpg``: the leading arguments that are models, then the inputs."""
    models = [first]
    while rest and is_model(rest[0]):
        models.append(rest.pop(0))
    return models, rest
