"""The Keras callbacks of a run: the epoch's bookkeeping (validation, history, checkpoints, the one
throughput measure, progress) and the time box.

None of them reads a batch's results except the time box (which must know when a step has finished):
a callback that reads per-batch logs makes Keras wait for the device after every step, and an
accelerator then idles while Python catches up.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from fer_zoo.status import Status

TRAIN_TO_FORWARD = 3.0  # a training step costs about three forward passes (forward, and backward at twice)
# What a first call compiles, per layer of the network: the training step (forward, backward, update) and the
# precise-BN pass. Typical figures on a 2-core CPU under TensorFlow (scripts/time_compiles.py: 0.18-0.34 s a
# layer for the step over lenet, custom, mini_xception, alexnet48 and vgg16_48, 0-0.07 s for precise BN); a
# faster machine compiles sooner, so the time box is then a little cautious about a row's first step.
STEP_COMPILE_PER_LAYER = 0.25
PRECISE_BN_COMPILE_PER_LAYER = 0.05


@dataclass
class EpochReport:
    """What a progress display shows after each epoch (plain data)."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_accuracy: float
    best_val_accuracy: float
    best_epoch: int  # the epoch whose weights are best.keras: this one when it set a new best
    images_per_second: float | None
    epoch_seconds: float
    eta_seconds: float | None
    steps: int  # the steps this epoch ran: fewer than epoch_steps when the time box cut it
    epoch_steps: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reporter:
    """Progress of a run, as plain calls; the CLI and the bench worker draw or print them."""

    def started(self, epochs: int, steps: int, batch_size: int, first_epoch: int) -> None: ...

    def step(self, epoch: int, step: int) -> None: ...

    def epoch(self, report: EpochReport) -> None: ...


class EpochEnd(keras.callbacks.Callback):
    """Per epoch: reseed, time the training part, validate, keep the history and the best weights, and
    checkpoint the run directory (after the first epoch, then at most every ``checkpoint_seconds``, and at
    the end).

    ``run`` is the train loop's state (fer_zoo.training.train.Run): the directory writer, the models, the data.
    """

    def __init__(self, run, reporter: Reporter | None = None):
        super().__init__()
        self.run = run
        self.reporter = reporter or Reporter()
        self.bad_loss: str | None = None
        self.status: Status | None = None  # DIVERGED once the loss or the network's outputs are not numbers
        self.last_checkpoint = time.perf_counter()

    def on_train_begin(self, logs=None):
        self.reporter.started(self.run.recipe.epochs, len(self.run.batches), self.run.batches.batch_size,
                              self.run.completed)

    def on_epoch_begin(self, epoch, logs=None):
        # The same draws after a resume: the global seeds, the batch order, and every layer's own random
        # stream (augmentation, dropout), whose state a .keras checkpoint does not keep.
        keras.utils.set_random_seed(self.run.seed * 100_003 + epoch)
        self.run.batches.set_epoch(epoch)
        streams = [v for v in self.model.non_trainable_variables if v.path.endswith("seed_generator_state")]
        for index, state in enumerate(streams):
            seed = (self.run.seed * 1_000_003 + epoch * 10_007 + index) % (2**31 - 1)
            state.assign(keras.ops.convert_to_tensor([seed, 0], dtype=state.dtype))
        self.started = time.perf_counter()
        self.steady_from = None
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 1:  # the first step of an epoch pays tracing and compiling (epoch 1) or the reshuffle
            self.steady_from = time.perf_counter()
        self.steps = batch + 1
        self.reporter.step(self.run.completed + 1, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        # Keras has turned the epoch's logs into numbers: the device has finished the epoch's steps.
        trained = time.perf_counter()
        logs = logs if logs is not None else {}
        batch_size = self.run.batches.batch_size
        if self.steady_from is not None and trained > self.steady_from:
            images_per_second = (self.steps - 1) * batch_size / (trained - self.steady_from)
        else:
            images_per_second = None  # one step: nothing but the compile to time
        loss = float(logs.get("loss", math.nan))
        if not math.isfinite(loss):
            self.bad_loss, self.status = "NaN" if math.isnan(loss) else "infinite", Status.DIVERGED
            self.model.stop_training = True
            return
        scores = self.run.validate()
        if scores is None:  # the network's outputs are not numbers any more
            self.bad_loss, self.status = "NaN", Status.DIVERGED
            self.model.stop_training = True
            return
        logs.update(scores)  # for the plateau schedule and early stopping, which come after this callback
        row = {"epoch": epoch + 1, "loss": loss, "accuracy": float(logs.get("accuracy", math.nan)),
               "top2_accuracy": float(logs.get("top2_accuracy", math.nan)), **scores,
               "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
               "images": self.steps * batch_size, "epoch_images": len(self.run.batches) * batch_size,
               "epoch_seconds": time.perf_counter() - self.started,
               "images_per_second": images_per_second}
        self.run.record(row)
        last = epoch + 1 == self.run.recipe.epochs or self.model.stop_training or self.run.time_box_fired()
        # The first epoch is always saved, however short: a killed run keeps its directory too. Epochs in
        # between are kept in memory, for Ctrl-C to save; a kill loses them (at most checkpoint_seconds),
        # and --resume re-runs them with the same draws.
        first = self.run.saved == 0
        if last or first or time.perf_counter() - self.last_checkpoint >= self.run.checkpoint_seconds:
            self.run.checkpoint()
            self.last_checkpoint = time.perf_counter()
        else:
            self.run.remember()
        durations = [r["epoch_seconds"] for r in self.run.history[self.run.resumed_from:]]
        remaining = self.run.recipe.epochs - (epoch + 1)
        self.reporter.epoch(EpochReport(
            epoch=epoch + 1, epochs=self.run.recipe.epochs, loss=loss, accuracy=row["accuracy"],
            val_accuracy=scores["val_accuracy"], best_val_accuracy=self.run.best_val_accuracy,
            best_epoch=self.run.best_epoch, images_per_second=images_per_second, epoch_seconds=row["epoch_seconds"],
            eta_seconds=float(np.median(durations[-3:])) * remaining if durations else None,
            steps=self.steps, epoch_steps=len(self.run.batches)))

    def on_train_end(self, logs=None):
        if self.bad_loss is None and self.run.unsaved:
            self.run.checkpoint()  # stopped early (early stopping): keep what was done


class LearningRate(keras.callbacks.Callback):
    """Sets each epoch's learning rate from the recipe's schedule (fer_zoo.models.recipes.learning_rate_at)
    and the run's history, so a resumed run gets the rates of the uninterrupted one."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def on_epoch_begin(self, epoch, logs=None):
        from fer_zoo.models.recipes import learning_rate_at

        recipe = self.run.recipe
        monitored = [row[recipe.plateau_monitor] for row in self.run.history]
        self.model.optimizer.learning_rate = learning_rate_at(recipe, epoch, monitored)


class Tracking(keras.callbacks.Callback):
    """Sends each epoch's scores (after EpochEnd has added validation's) to fer_zoo.training.tracking's trackers."""

    def __init__(self, trackers):
        super().__init__()
        self.trackers = trackers

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "val_accuracy" not in logs:  # a NaN epoch: EpochEnd stops the run
            return
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.trackers.epoch(epoch + 1, {**logs, "learning_rate": rate})


class TimeBox(keras.callbacks.Callback):
    """Stops training before the time box would overflow: a step is started only if it, and the
    validation and scoring still owed, fit in what is left. ``forward_seconds`` is the measured time of
    one forward batch; the step time comes from the steps run so far. Before any step it is three forward
    passes and ``first_step_compile``, the estimated compile of the training step; ``first_validation`` is
    what the first validation compiles (the precise-BN pass), owed until an epoch has ended. It reads each
    step's end, so the device waits for Python between steps: meant for budgets of seconds, not long runs.
    """

    def __init__(self, seconds: float, started: float, forward_seconds: float, reserve_batches: float,
                 first_step_compile: float = 0.0, first_validation: float = 0.0):
        super().__init__()
        self.deadline = started + seconds
        self.forward_seconds = forward_seconds
        self.first_step_compile = first_step_compile
        self.reserve_batches = reserve_batches
        self.first_validation = first_validation
        self.fired = False
        self.step_seconds: list[float] = []
        self.last = None

    def owed(self) -> float:
        """Seconds still owed after training stops: validation and scoring at the measured forward speed,
        and the first validation's compile until it is done."""
        return self.reserve_batches * self.forward_seconds + self.first_validation

    def next_step(self) -> float:
        measured = self.step_seconds[1:]  # the first includes the compile
        if measured:
            return float(np.median(measured[-5:]))
        return TRAIN_TO_FORWARD * self.forward_seconds + (0.0 if self.step_seconds else self.first_step_compile)

    def fits(self, now: float) -> bool:
        return now + self.next_step() + self.owed() <= self.deadline

    def on_epoch_begin(self, epoch, logs=None):
        self.last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.first_validation = 0.0  # validated (EpochEnd runs first): compiled now

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.last is not None:
            self.step_seconds.append(now - self.last)
        self.last = now
        if not self.fits(now):
            self.fired = True
            self.model.stop_training = True
