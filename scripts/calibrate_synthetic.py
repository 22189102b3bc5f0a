"""Calibrate the synthetic default: `fer-zoo train ARCH --epochs N` for several seeds, val accuracy.

Usage: python scripts/calibrate_synthetic.py [--arch custom] [--epochs 10] [--seeds 3] [--first-seed 0]
                                             [--data synthetic] [--recipe NAME] [--subset N]
                                             [--precision float32] [--out DIR]

Runs exactly what `fer-zoo train ARCH --data DATA --epochs N --seed S [--recipe R]` runs (without
--recipe, the architecture's default recipe; --epochs 10 on all the data is the bench's quick budget)
and prints each seed's per-epoch val accuracy, then the mean and std of the last and of the best epoch.
``--subset N`` trains on a seeded subset of N images (val and test N/4 each), for slow CPUs.
``--out DIR`` keeps each seed's run directory (DIR/seedS) and continues any it finds there, from its
last whole epoch with the same draws, so a calibration too long for one sitting (VGG16-48 on a CPU:
~2.5 hours a seed) can be stopped and run again: the same command carries on where it stopped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="custom")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="run seeds first-seed .. first-seed + seeds - 1 (to split a long calibration)")
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--recipe", default=None, help="default: the architecture's own")
    parser.add_argument("--subset", type=int, default=None, help="train on a seeded subset of this many images")
    parser.add_argument("--precision", default="float32", help="mixed_bfloat16: the bench's GPU default")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the runs here (DIR/seedS) and continue the unfinished ones")
    args = parser.parse_args(argv)

    from rich.console import Console

    from fer_zoo import FerZooError, device_name, train
    from fer_zoo.report.terminal import TrainProgress  # `fer-zoo train`'s own progress lines, in this log too

    print(f"device: {device_name()}; {args.precision}", flush=True)

    last, best = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            out = (args.out or Path(tmp)) / f"seed{seed}"
            resume = (out / "config.json").is_file()
            if resume:
                print(f"seed {seed}: continuing {out}", flush=True)
            progress = TrainProgress(Console(width=100))  # a line an epoch, in a log too
            # only a run of this calibration continues: fer-zoo refuses another arch, data, recipe or budget
            asked = {"data", "seed", "precision", "subset", "epochs"} | ({"recipe"} if args.recipe else set())
            try:
                result = train(args.arch, args.data, None if resume else out, resume=out if resume else None,
                               reporter=progress, asked=asked, epochs=args.epochs, seed=seed, recipe=args.recipe,
                               subset=args.subset, precision=args.precision)
            except FerZooError as exc:
                print(f"calibrate_synthetic.py: error: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
            finally:
                progress.stop()
            accs = [row["val_accuracy"] for row in result.history]
            last.append(accs[-1])
            best.append(max(accs))
            print(f"{args.arch} seed {seed}: val accuracy per epoch {' '.join(f'{a:.3f}' for a in accs)}; "
                  f"train {result.history[-1]['accuracy']:.3f}; test (best) {result.metrics['test_accuracy']:.3f}; "
                  f"status {result.metrics['status']}; {sum(r['epoch_seconds'] for r in result.history):.0f} s "
                  f"training", flush=True)

    def spread(values):
        return statistics.stdev(values) if len(values) > 1 else 0.0

    recipe = args.recipe or "default recipe"
    print(f"{args.arch} ({recipe}, {args.precision}) on {args.data}, {args.epochs} epochs, {args.seeds} seed(s): "
          f"val accuracy last epoch {statistics.mean(last):.3f} ± {spread(last):.3f}, "
          f"best epoch {statistics.mean(best):.3f} ± {spread(best):.3f}")


if __name__ == "__main__":
    main()
