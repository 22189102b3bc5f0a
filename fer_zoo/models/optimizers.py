"""Keras optimizers with coupled (L2) weight decay, the recipe's ``weight_decay_kind = "coupled"``;
registered as serialisable, so a checkpoint's optimizer loads back with its decay."""

from __future__ import annotations

import keras
from keras import ops


class CoupledWeightDecay:
    """Mixed into a Keras optimizer: L2 weight decay coupled to the gradient, ``g + l2 * w`` after clipping
    and before the optimizer's momentum or moments (PyTorch's ``weight_decay`` on SGD and Adam), where
    Keras' own ``weight_decay`` is decoupled (``w -= lr * wd * w`` beside the update)."""

    def __init__(self, *args, l2: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2 = l2

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        grads = [g if g is None else ops.add(g, ops.multiply(ops.cast(v, g.dtype), self.l2))
                 for g, v in zip(grads, trainable_variables)]
        return super()._backend_update_step(grads, trainable_variables, learning_rate)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


@keras.saving.register_keras_serializable(package="fer_zoo")
class CoupledSGD(CoupledWeightDecay, keras.optimizers.SGD):
    """SGD with coupled (L2) weight decay."""


@keras.saving.register_keras_serializable(package="fer_zoo")
class CoupledAdam(CoupledWeightDecay, keras.optimizers.Adam):
    """Adam with coupled (L2) weight decay."""
