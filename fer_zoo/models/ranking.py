"""The one rule for where the true class ranks among a model's answers, shared by the scores (numpy) and the
compiled training metric (``keras.ops``); light, so the scores stay plain numpy."""

import numpy as np


def top_k_rank(probabilities, labels, xp=np):
    """Each true class's rank among the predictions (0 = top), ties broken by class index.

    Keras' top-k metrics count every tie as a hit, so a network that outputs one constant distribution
    would score 100% top-2 at chance top-1; here it scores k/K. ``xp`` is the array namespace: numpy, or
    ``keras.ops`` inside the compiled training metric (the one rule for both).
    """
    p_true = xp.take_along_axis(probabilities, labels[:, None], axis=1)
    index = xp.arange(xp.shape(probabilities)[-1])[None, :]
    ahead = xp.logical_or(probabilities > p_true,
                          xp.logical_and(probabilities == p_true, index < labels[:, None]))
    return xp.sum(xp.where(ahead, 1, 0), axis=1)
