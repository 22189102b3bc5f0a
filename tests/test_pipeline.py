"""The pieces of the training loop that keep shapes fixed and numbers honest."""

from __future__ import annotations

import numpy as np
import pytest


def test_batches_have_one_shape_and_a_fresh_order_each_epoch():
    from fer_zoo.models.pipeline import Batches

    x = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1)
    y = np.arange(100)
    batches = Batches(x, y, batch_size=32, seed=7)
    assert len(batches) == 3  # 100 // 32: the ragged 4 images sit out this epoch
    epoch0 = [batches[i] for i in range(len(batches))]
    assert all(bx.shape == (32, 1, 1, 1) and by.shape == (32,) for bx, by in epoch0)
    assert all(np.array_equal(bx[:, 0, 0, 0], by) for bx, by in epoch0)  # images keep their labels
    seen0 = np.concatenate([by for _, by in epoch0])
    assert len(set(seen0)) == 96
    batches.set_epoch(1)
    seen1 = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert set(seen0) != set(seen1)  # another remainder sits out, in another order
    batches.set_epoch(0)
    again = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert np.array_equal(seen0, again)  # (seed, epoch) fixes the order: a resumed run sees the same batches


def test_batches_carry_sample_weights():
    from fer_zoo.models.pipeline import Batches

    x = np.zeros((10, 2, 2, 1), np.uint8)
    weights = np.arange(10, dtype=np.float32)
    batches = Batches(x, np.arange(10), batch_size=4, seed=0, sample_weight=weights)
    _, labels, w = batches[0]
    assert np.array_equal(w, weights[labels])


def test_predict_fixed_scores_every_image_in_one_batch_shape():
    import keras

    from fer_zoo.models.pipeline import predict_fixed

    seen = []

    class Recorder(keras.layers.Layer):
        def call(self, x):
            seen.append(tuple(x.shape))
            return x

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Softmax()(Recorder()(inputs)))
    x = np.random.default_rng(0).normal(size=(70, 4)).astype("float32")
    out = predict_fixed(model, x, batch_size=32)
    assert out.shape == (70, 4)
    assert np.allclose(out, keras.ops.convert_to_numpy(keras.ops.softmax(x)), atol=1e-6)
    assert {s[0] for s in seen if s[0] is not None} == {32}  # 70 images: 3 batches of 32, the last padded


def test_precise_batch_norm_sets_the_statistics_of_the_current_weights():
    import keras
    from keras import layers

    from fer_zoo.models.pipeline import PreciseBatchNorm

    inputs = keras.Input((6,))
    hidden = layers.Dense(5, name="dense")(inputs)
    model = keras.Model(inputs, layers.BatchNormalization(momentum=0.99, name="bn")(hidden))
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(64, 6)).astype("float32")
    bn = model.get_layer("bn")
    assert np.allclose(keras.ops.convert_to_numpy(bn.moving_mean), 0)  # as initialised
    PreciseBatchNorm(model, x, images=64, seed=0)()
    features = keras.Model(inputs, hidden).predict(x, verbose=0)
    assert np.allclose(keras.ops.convert_to_numpy(bn.moving_mean), features.mean(axis=0), atol=1e-4)
    assert np.allclose(keras.ops.convert_to_numpy(bn.moving_variance), features.var(axis=0), rtol=1e-3)
    assert bn.momentum == 0.99  # restored for training


def test_top2_counts_a_constant_prediction_as_k_over_k_not_as_a_hit():
    import keras

    from fer_zoo.models.pipeline import TopKAccuracy
    from fer_zoo.models.ranking import top_k_rank

    labels = np.arange(7).repeat(10)
    constant = np.full((70, 7), 1 / 7, np.float32)
    assert np.mean(top_k_rank(constant, labels) < 2) == pytest.approx(2 / 7)
    metric = TopKAccuracy(2)
    metric.update_state(labels, constant)
    assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(2 / 7)
    # Keras' own metric counts every tie as a hit: what the history used to show
    keras_metric = keras.metrics.SparseTopKCategoricalAccuracy(k=2)
    keras_metric.update_state(labels, constant)
    assert float(keras.ops.convert_to_numpy(keras_metric.result())) == pytest.approx(1.0)
    # an ordinary prediction: second place is a hit, third is not
    p = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]], np.float32)
    assert top_k_rank(p, np.array([1, 2])).tolist() == [1, 2]
