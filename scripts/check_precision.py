"""Train every architecture briefly under a mixed precision and report whether any loss or output went
NaN (the mini-Xception example went NaN under mixed_bfloat16 on an H200 with the paper's recipe).

Usage: KERAS_BACKEND=jax python scripts/check_precision.py [--precision mixed_bfloat16] [--images 512]
                                                          [--epochs 2] [--recipe NAME] [ARCH ...]

Each architecture trains with its default recipe (or --recipe) on a seeded subset of the synthetic
default, through `fer-zoo train`'s own loop; the table shows the losses per epoch and the verdict.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch", nargs="*")
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--recipe", default=None)
    args = parser.parse_args()

    import fer_zoo
    from fer_zoo import FerZooError, train

    env = fer_zoo.describe_environment()
    print(f"{args.precision} on {env['backend']} ({env['device']}), {args.images} images, {args.epochs} epochs",
          flush=True)
    for name in args.arch or fer_zoo.list_architectures():
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                result = train(name, "synthetic", f"{tmp}/run", recipe=args.recipe, epochs=args.epochs,
                               precision=args.precision, subset=args.images)
            except FerZooError as exc:
                print(f"{name:14} FAILED: {exc}", flush=True)
                continue
        losses = [r["loss"] for r in result.history]
        finite = all(math.isfinite(v) for v in losses + [r["val_loss"] for r in result.history])
        print(f"{name:14} recipe {args.recipe or 'default':8} train loss "
              f"{' '.join(f'{v:.3f}' for v in losses)}; val acc {result.metrics.get('val_accuracy', 0):.3f}; "
              f"{'finite' if finite else 'NOT FINITE'}; status {result.metrics['status']}; "
              f"{time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
