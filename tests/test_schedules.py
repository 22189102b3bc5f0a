"""The training-side recipe vocabulary: schedules, warm-up, Nesterov, the TOML checks."""

import math
from dataclasses import replace

import numpy as np
import pytest

from fer_zoo.errors import FerZooError
from fer_zoo.models.recipes import RECIPES, Recipe, learning_rate_at, load_recipe_file, make_optimizer

BASE = Recipe("t", "sgd", 0.1, 8, 10, momentum=0.9)


def test_cosine_with_warmup_rates():
    r = replace(BASE, schedule="cosine", warmup_epochs=2, min_learning_rate=0.01)
    rates = [learning_rate_at(r, e) for e in range(10)]
    assert rates[0] == pytest.approx(0.1 / 3) and rates[1] == pytest.approx(0.2 / 3)
    assert rates[2] == pytest.approx(0.1)
    assert rates[6] == pytest.approx(0.01 + 0.09 * (1 + math.cos(math.pi * 4 / 8)) / 2)


def test_step_rates():
    r = replace(BASE, schedule="step", step_epochs=3, step_factor=0.5)
    assert [learning_rate_at(r, e) for e in (0, 2, 3, 6, 9)] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125])


def test_constant_is_constant():
    assert {learning_rate_at(BASE, e) for e in range(10)} == {0.1}


@pytest.mark.parametrize("monitor, values, reduced_at", [
    ("val_accuracy", [0.5, 0.6, 0.6, 0.6, 0.7], 4),  # two epochs without a higher accuracy
    ("val_loss", [1.0, 0.9, 0.9, 0.9, 0.8], 4),  # two epochs without a lower loss
])
def test_plateau_follows_its_monitor(monitor, values, reduced_at):
    r = replace(BASE, schedule="plateau", plateau_factor=0.5, plateau_patience=2, plateau_monitor=monitor)
    rates = [learning_rate_at(r, e, values) for e in range(6)]
    assert rates[:reduced_at] == [pytest.approx(0.1)] * reduced_at
    assert rates[reduced_at] == pytest.approx(0.05)
    # the other monitor's reading of the same numbers differs
    other = replace(r, plateau_monitor="val_loss" if monitor == "val_accuracy" else "val_accuracy")
    assert [learning_rate_at(other, e, values) for e in range(6)] != rates


def test_plateau_matches_keras_reduce_lr_on_plateau():
    import keras

    values = [0.3, 0.35, 0.35, 0.34, 0.36, 0.36, 0.36, 0.36, 0.2, 0.2]
    r = replace(BASE, schedule="plateau", plateau_factor=0.75, plateau_patience=2)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    callback = keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=0.75, patience=2, mode="max")
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        ours = learning_rate_at(r, epoch, values)
        assert ours == float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        callback.on_epoch_end(epoch, {"val_accuracy": value})


def test_nesterov_changes_the_sgd_step():
    import keras

    def step(nesterov):
        w = keras.Variable(np.array([1.0], np.float32))
        opt = make_optimizer(replace(BASE, nesterov=nesterov, learning_rate=0.1))
        for _ in range(2):
            opt.apply([keras.ops.convert_to_tensor(np.array([1.0], np.float32))], [w])
        return float(keras.ops.convert_to_numpy(w)[0])

    # Keras' SGD: v = m*v - lr*g; plain w += v; Nesterov w += m*v - lr*g
    assert step(False) == pytest.approx(1 - 0.1 - (0.1 + 0.09))
    # Nesterov: 1 - 0.9*0.1 - 0.1 = 0.81, then 0.81 - 0.9*0.19 - 0.1
    assert step(True) == pytest.approx(0.539)


def test_builtins_keep_todays_behaviour():
    assert RECIPES["modern"].nesterov and RECIPES["modern"].schedule == "plateau"
    assert RECIPES["stable"].schedule == RECIPES["adam"].schedule == "plateau"
    assert RECIPES["seed"].schedule == "constant" and not RECIPES["seed"].nesterov


def test_old_config_derives_the_implicit_values():
    old = RECIPES["modern"].as_dict()
    for key in ("nesterov", "schedule", "plateau_monitor", "warmup_epochs"):
        old.pop(key)
    assert Recipe.from_dict(old) == RECIPES["modern"]
    seed = RECIPES["seed"].as_dict()
    seed.pop("nesterov"), seed.pop("schedule")
    assert Recipe.from_dict(seed) == RECIPES["seed"]


@pytest.mark.parametrize("line, message", [
    ('schedule = "linear"', "schedule must be one of constant, plateau, cosine, step"),
    ('plateau_monitor = "loss"', "plateau_monitor must be one of val_accuracy, val_loss"),
    ("warmup_epochs = -1", "warmup_epochs must be an integer"),
    ("step_factor = 1.5", "step_factor must be a finite number in (0, 1)"),
    ("nesterov = 1", "nesterov must be bool"),
    ('optimizer = "adamw"\nweight_decay_kind = "coupled"', "coupled contradicts adamw"),
    ("mix_probability = 2.0", "mix_probability must be a finite number in [0, 1]"),
])
def test_toml_refusals_name_the_key(tmp_path, line, message):
    from fer_zoo.models.recipes import resolve

    path = tmp_path / "mine.toml"
    path.write_text(f'base = "seed"\n{line}\n')
    with pytest.raises(FerZooError) as caught:
        resolve(None, str(path))
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_toml_takes_the_new_fields(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('base = "modern"\nschedule = "cosine"\nwarmup_epochs = 5\nmin_learning_rate = 0\n'
                    'plateau_monitor = "val_loss"\nnesterov = false\n')
    recipe, _ = load_recipe_file(path, "seed")
    assert (recipe.schedule, recipe.warmup_epochs, recipe.plateau_monitor, recipe.nesterov) == (
        "cosine", 5, "val_loss", False)
    assert isinstance(recipe.min_learning_rate, float)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_coupled_and_decoupled_weight_decay(optimizer, tmp_path):
    import keras

    def step(kind, wd=0.1):
        w = keras.Variable(np.array([2.0], np.float32))
        opt = make_optimizer(replace(BASE, optimizer=optimizer, momentum=0.9 if optimizer == "sgd" else 0.0,
                                     weight_decay=wd, weight_decay_kind=kind, learning_rate=0.1))
        for _ in range(2):
            opt.apply([keras.ops.convert_to_tensor(np.array([1.0], np.float32))], [w])
        return float(keras.ops.convert_to_numpy(w)[0]), opt

    if optimizer == "sgd":
        # coupled (PyTorch's SGD, no Nesterov): g' = g + wd*w; v = m*v - lr*g'; w += v
        w, v = 2.0, 0.0
        for _ in range(2):
            v = 0.9 * v - 0.1 * (1.0 + 0.1 * w)
            w += v
        assert step("coupled")[0] == pytest.approx(w, rel=1e-6)
        # decoupled (Keras): w -= lr*wd*w, then the momentum step on the bare gradient
        w, v = 2.0, 0.0
        for _ in range(2):
            w -= 0.1 * 0.1 * w
            v = 0.9 * v - 0.1
            w += v
        assert step("decoupled")[0] == pytest.approx(w, rel=1e-6)
    else:
        # Adam's first step moves by about lr whatever the gradient's scale; coupled decay changes the
        # gradient (1.2 instead of 1), so only decoupled decay shrinks w by lr*wd*w on top
        assert step("coupled")[0] == pytest.approx(2.0 - 0.2, abs=1e-4)
        assert step("decoupled")[0] == pytest.approx(2.0 * 0.99 - 0.1 - (2.0 * 0.99 - 0.1) * 0.01 - 0.1, abs=1e-4)
    # a checkpoint's optimizer comes back with its decay
    _, opt = step("coupled")
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(again) is type(opt) and again.l2 == pytest.approx(0.1)


def _batch():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, 6, 6, 1)).astype(np.uint8)
    y = np.eye(4, dtype=np.float32)[np.arange(8) % 4]
    return x, y


def test_mixup_blends_pairs_with_a_beta_lambda():
    from fer_zoo.models.pipeline import mix_batch

    x, y = _batch()
    mixed, targets, _ = mix_batch(x, y, None, np.random.default_rng([1, 2]), 0.4, 0.0)
    rng = np.random.default_rng([1, 2])
    rng.random()
    lam = rng.beta(0.4, 0.4)
    other = rng.permutation(8)
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[other].astype(np.float32), rtol=1e-5)
    np.testing.assert_allclose(targets, lam * y + (1 - lam) * y[other], rtol=1e-5)
    assert not np.array_equal(mixed, x)


def test_cutmix_box_area_is_the_label_weight():
    from fer_zoo.models.pipeline import mix_batch

    x, y = _batch()
    boxes = 0
    for seed in range(8):
        mixed, targets, _ = mix_batch(x, y, None, np.random.default_rng([seed]), 0.0, 1.0)
        rng = np.random.default_rng([seed])
        rng.random(), rng.beta(1.0, 1.0)
        other = rng.permutation(8)
        rows, cols = np.nonzero(np.any(mixed != x, axis=(0, 3)))
        if rows.size == 0:
            continue
        boxes += 1
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        np.testing.assert_array_equal(mixed[:, top:bottom, left:right], x[other, top:bottom, left:right])
        area = (bottom - top) * (right - left) / 36
        np.testing.assert_allclose(targets, (1 - area) * y + area * y[other], rtol=1e-6)
    assert boxes >= 4


def test_batches_mix_again_the_same_and_not_at_probability_zero():
    from fer_zoo.models.pipeline import Batches

    x, y = _batch()
    batches = Batches(x, y, 4, seed=3, mixup=1.0)
    batches.set_epoch(2)
    first = batches[1]
    again = Batches(x, y, 4, seed=3, mixup=1.0)
    again.set_epoch(2)
    np.testing.assert_array_equal(again[1][0], first[0])
    np.testing.assert_array_equal(again[1][1], first[1])
    plain = Batches(x, y, 4, seed=3)
    plain.set_epoch(2)
    assert not np.array_equal(plain[1][1], first[1])
    never = Batches(x, y, 4, seed=3, mixup=1.0, mix_probability=0.0)
    never.set_epoch(2)
    np.testing.assert_array_equal(never[1][0], plain[1][0])
    np.testing.assert_array_equal(never[1][1], plain[1][1])


def test_a_checkpoint_keeps_its_coupled_decay(tmp_path):
    import keras

    from fer_zoo.training.saved import load_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(make_optimizer(replace(RECIPES["modern"], weight_decay_kind="coupled")), "categorical_crossentropy")
    model.fit(np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]], verbose=0)
    model.save(tmp_path / "last.keras")
    back = load_model(tmp_path / "last.keras", compile=True).optimizer
    assert (type(back).__name__, back.l2, back.nesterov, int(keras.ops.convert_to_numpy(back.iterations))) == (
        "CoupledSGD", pytest.approx(1e-4), True, 1)
