"""A run that did not learn is never "ok": the verdict rules, and the time box's arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fer_zoo.data.dataset import CLASS_NAMES
from fer_zoo.training.scores import chance_level, run_status

BALANCED = np.arange(7).repeat(100)  # 700 val labels, 1/7 each
HAPPY_HEAVY = np.array([3] * 300 + list(range(7)) * 100)  # happy = 400 of 1000


def epoch(n, loss=1.2, images=1000):
    return {"epoch": n, "loss": loss, "images": images}


def verdict(history, val_accuracy, labels=BALANCED, planned=3, time_boxed=False):
    return run_status(history, planned_epochs=planned, images_per_epoch=1000, val_accuracy=val_accuracy,
                      val_labels=labels, class_names=CLASS_NAMES, time_boxed=time_boxed, time_box=25)


def test_a_run_that_learned_is_ok():
    assert verdict([epoch(1), epoch(2), epoch(3)], 0.62) == ("ok", "")


def test_chance_is_the_most_common_class_plus_two_standard_errors():
    share, top, bar = chance_level(HAPPY_HEAVY, 7)
    assert (share, CLASS_NAMES[top]) == (0.4, "happy")
    assert bar == pytest.approx(0.4 + 2 * math.sqrt(0.4 * 0.6 / 1000))
    status, reason = verdict([epoch(1), epoch(2), epoch(3)], 0.42, labels=HAPPY_HEAVY)
    assert status == "chance" and "'happy' (40.0% of val; 43.1% is clearly better on 1,000 images)" in reason
    # 42% would be learning on a balanced split (chance 14.3%)
    assert verdict([epoch(1), epoch(2), epoch(3)], 0.42)[0] == "ok"


def test_a_loss_that_blew_up_is_diverged():
    status, reason = verdict([epoch(1, loss=13.4), epoch(2, loss=13.8), epoch(3, loss=13.8)], 1 / 7)
    assert status == "diverged" and "13.8" in reason and "2 ln 7" in reason
    # blowing up once and settling at the constant-prediction loss is chance, not divergence
    assert verdict([epoch(1, loss=7091), epoch(2, loss=1.95), epoch(3, loss=1.95)], 1 / 7)[0] == "chance"
    # a non-finite loss is divergence at once; one high first epoch of a net still starting is not
    assert verdict([epoch(1, loss=float("nan"))], 1 / 7)[0] == "diverged"
    assert verdict([epoch(1, loss=4.01)], 0.15)[0] == "chance"
    assert verdict([epoch(1, loss=4.5), epoch(2, loss=4.2)], 0.15)[0] == "chance"


def test_a_high_rising_loss_is_not_diverged_while_val_is_clearly_above_chance():
    # a loss above 2 ln 7 = 3.89 and rising (4.6 -> 5.4, as VGG16-48's first four steps went), while val
    # accuracy in the last epoch is clearly above chance
    rising = [epoch(1, loss=4.6), dict(epoch(2, loss=5.4), val_accuracy=0.40)]
    assert verdict(rising, 0.40) == ("ok", "")
    rising[-1]["val_accuracy"] = 0.15  # the same losses with val at chance
    assert verdict(rising, 0.40)[0] == "diverged"
    # a blow-up after a good first epoch: the best epoch's val is good, the last one's is at chance
    blown = [dict(epoch(1, loss=1.6), val_accuracy=0.55), dict(epoch(2, loss=13.8), val_accuracy=1 / 7)]
    assert verdict(blown, 0.55)[0] == "diverged"


def test_the_time_box_statuses():
    status, reason = verdict([epoch(1, images=370)], 0.2, time_boxed=True)
    assert status == "too slow" and "370 of one epoch's 1,000 images" in reason and "25 s time box" in reason
    status, reason = verdict([epoch(1), epoch(2, images=500)], 0.6, time_boxed=True)
    assert status == "time-boxed" and "1 of 3 epochs and part of another in" in reason  # as the epochs column
    assert verdict([epoch(1), epoch(2)], 0.6, time_boxed=True)[1] == "2 of 3 epochs in the 25 s time box"
    # at chance because the time box cut it short: the reason says so, and only then
    status, reason = verdict([epoch(1), epoch(2, images=500)], 0.15, time_boxed=True)
    assert status == "chance" and "the 25 s time box held 1 epoch and part of another of 1,000 images" in reason
    assert "time box" not in verdict([epoch(1), epoch(2), epoch(3)], 0.15, time_boxed=True)[1]


def test_the_time_box_starts_a_step_only_if_it_and_the_scoring_still_fit():
    from fer_zoo.training.callbacks import TimeBox

    box = TimeBox(seconds=25, started=100.0, forward_seconds=1.0, reserve_batches=4)
    assert box.owed() == 4.0
    assert box.next_step() == 3.0  # before a step is measured: three forward passes
    assert box.fits(100.0 + 18.0) and not box.fits(100.0 + 18.5)  # 18 + 3 + 4 = 25
    box.step_seconds = [9.0, 2.0, 2.0, 2.5]  # the first step compiled: left out
    assert box.next_step() == 2.0
    assert box.fits(100.0 + 19.0) and not box.fits(100.0 + 19.5)


def test_the_time_box_reserves_the_first_step_and_first_validation_compiles():
    from fer_zoo.training.callbacks import TimeBox

    box = TimeBox(seconds=25, started=100.0, forward_seconds=1.0, reserve_batches=4, first_step_compile=5.0,
                  first_validation=1.0)
    assert box.next_step() == 8.0  # three forward passes, and the training step's compile
    assert box.owed() == 5.0  # and the precise-BN pass's compile, still owed
    assert box.fits(100.0 + 12.0) and not box.fits(100.0 + 12.5)
    box.step_seconds = [8.0]  # the compiling step is done: the next one is three forward passes
    assert box.next_step() == 3.0
    box.on_epoch_end(0)  # validated once: nothing left to compile
    assert box.owed() == 4.0 and box.fits(100.0 + 18.0) and not box.fits(100.0 + 18.5)


def test_a_time_boxed_run_counts_its_networks_layers_into_the_compiles_it_reserves(monkeypatch, tmp_path):
    from fer_zoo.training import callbacks
    from fer_zoo.training.train import TrainOptions, train

    boxes = []
    monkeypatch.setattr(callbacks.TimeBox, "on_train_begin", lambda self, logs=None: boxes.append(self))
    from fer_zoo.models.pipeline import leaf_layers

    result = train("lenet", "synthetic:size=84,seed=1,preset=easy", tmp_path / "run",
                   TrainOptions(epochs=1, batch_size=32, time_box=600))
    box, = boxes
    assert box.first_step_compile == callbacks.STEP_COMPILE_PER_LAYER * len(leaf_layers(result.model)) > 0
    assert box.first_validation == 0  # no batch norm, no precise-BN pass to compile


def test_metrics_refuse_nan_probabilities_and_an_empty_split():
    """argmax of a NaN row is 0: unguarded, a broken model would score as one that always answers angry."""
    from fer_zoo.errors import FerZooError
    from fer_zoo.training.scores import metrics

    labels = np.array([0, 1, 2])
    proba = np.eye(3)[[0, 1, 2]]
    assert metrics(labels, proba, ("a", "b", "c"))["accuracy"] == 1.0
    proba[1, 1] = np.nan
    with pytest.raises(FerZooError, match="NaN or infinite"):
        metrics(labels, proba, ("a", "b", "c"))
    with pytest.raises(FerZooError, match="empty split"):
        metrics(labels[:0], proba[:0], ("a", "b", "c"))


def test_a_status_is_judged_by_its_type_never_by_its_text():
    from fer_zoo.errors import FerZooError
    from fer_zoo.status import Status, StatusError, status_of

    def raised_from(cause: BaseException, message: str) -> FerZooError:
        try:
            raise FerZooError(message) from cause
        except FerZooError as exc:
            return exc

    class ResourceExhaustedError(Exception):  # TensorFlow's, by name (no TensorFlow import)
        pass

    assert status_of(raised_from(MemoryError("the device is full"), "build failed")) == "out of memory"
    assert status_of(ResourceExhaustedError("OOM when allocating")) == "out of memory"
    assert status_of(FerZooError("out of memory: loss became NaN (ResourceExhausted)")) == "failed"
    assert status_of(StatusError(Status.DIVERGED, "anything at all")) == "diverged"


def test_every_view_of_a_status_follows_its_severity():
    """The bench's means and exit status, the terminal's colours and report.html's classes, for every status
    and for a row of several seeds (as bad as its worst)."""
    from rich.console import Console

    from fer_zoo.benchmark.bench import exit_status
    from fer_zoo.benchmark import html
    from fer_zoo.report.terminal import bench_table
    from fer_zoo.status import Severity, Status

    environment = {"dataset": "d", "budget": {"name": "quick", "description": "q"}, "device": "cpu",
                   "backend": "tensorflow", "precision": "float32", "seeds": 1}
    colours = {"good": 32, "warn": 33, "bad": 31}  # ANSI green, yellow, red
    for status in [*Status, "chance/ok", "ok/time-boxed", "failed/out of memory"]:
        level = max(Status(part).severity for part in str(status).split("/"))
        rows = [{"model": "net", "status": status}]
        assert exit_status(rows, strict=True) == (0 if level <= Severity.CUT_SHORT else 1), status
        assert exit_status(rows) == (1 if level == Severity.DID_NOT_RUN else 0), status
        tone = "good" if level == Severity.OK else "warn" if level <= Severity.UNTRAINED else "bad"
        assert f"class='status-{ {'good': 'ok'}.get(tone, tone) }'" in html.results_table(rows), status
        console = Console(record=True, width=120, force_terminal=True, color_system="standard")
        console.print(bench_table(rows, environment))
        assert f"\x1b[{colours[tone]}m{status}" in console.export_text(styles=True), status
