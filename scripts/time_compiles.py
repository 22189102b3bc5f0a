"""What each function's first call adds (tracing, compiling) against its steady cost, per architecture:
the figures behind the time box's estimate of a training step's first call.

Usage: python scripts/time_compiles.py [ARCH ...]   (default: the four seed architectures and mini_xception)

Each architecture runs in a fresh process (nothing compiled yet), at its default recipe's batch size:
the compiled forward pass (what validation uses), the precise-BN pass over 500 images, and the training
step (three calls: the first compiles). It prints each first call, the steady cost, and what the first
call added per layer of the network: the figures behind fer_zoo.training.callbacks' STEP_COMPILE_PER_LAYER and
PRECISE_BN_COMPILE_PER_LAYER.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ARCHS = ["lenet", "custom", "mini_xception", "alexnet48", "vgg16_48"]


def seconds(call) -> float:
    tick = time.perf_counter()
    call()
    return time.perf_counter() - tick


def measure(arch: str) -> dict:
    import numpy as np

    import fer_zoo

    model = fer_zoo.create_model(arch)  # Keras loaded quietly, before the modules below import it
    # the training pipeline's pieces, each compiled and timed on its own: what this script measures
    from fer_zoo.models.pipeline import PreciseBatchNorm, compile_for, leaf_layers, predict_fixed, training_model
    from fer_zoo.models.recipes import resolve

    recipe = resolve(fer_zoo.get_architecture(arch).recipe)
    batch = recipe.batch_size
    x = np.random.default_rng(0).integers(0, 256, (500, *model.input_shape[1:]), dtype=np.uint8)
    y = np.zeros(batch, np.int64)
    forward = [seconds(lambda: predict_fixed(model, x[:batch], batch)) for _ in range(2)]
    precise = PreciseBatchNorm(model, x, 500, 0)
    precise_bn = [seconds(precise) for _ in range(2)] if precise.sample is not None else [0.0, 0.0]
    trainer = training_model(model, recipe.augment, 0)
    compile_for(trainer, recipe, soft_labels=False)
    step = [seconds(lambda: trainer.train_on_batch(x[:batch], y)) for _ in range(3)]
    return {"arch": arch, "batch": batch, "layers": len(leaf_layers(model)), "forward": forward,
            "precise_bn": precise_bn, "step": step}


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2])))
        return
    from fer_zoo import device_name

    archs = sys.argv[1:] or ARCHS
    import keras  # noqa: F401  (the backend's name, for the header)

    print(f"{device_name()} · {keras.backend.backend()} · seconds: first call / steady (what the first added, "
          f"per layer)")
    print("| arch | layers | batch | forward | precise BN (500 images) | training step |")
    print("|---|---|---|---|---|---|")

    def cell(first: float, steady: float, layers: int) -> str:
        return f"{first:.2f} / {steady:.2f} ({(first - steady) / layers:.3f})"

    for arch in archs:
        done = subprocess.run([sys.executable, __file__, "--one", arch], capture_output=True, text=True, check=True)
        m = json.loads(done.stdout.strip().splitlines()[-1])
        n = m["layers"]
        print(f"| {arch} | {n} | {m['batch']} | {cell(*m['forward'], n)} | {cell(*m['precise_bn'], n)} | "
              f"{cell(m['step'][0], min(m['step'][1:]), n)} |", flush=True)

if __name__ == "__main__":
    main()
