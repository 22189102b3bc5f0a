"""What the scale-out options buy on this machine: one model on 1 and N devices (`--devices`), and a bench
grid row by row, side by side (`--jobs`) and as Ray tasks (`--executor ray`).

Usage: python scripts/bench_scaling.py [--arch custom] [--devices 2] [--images 2000] [--rows 4]

Devices: `fer-zoo train ARCH --epochs 2` on --images synthetic faces, at the recipe's batch per device,
once per device count, each in a fresh process; the steady img/s is the second epoch's (config.json's
`train_images_per_second`). On a machine without accelerators the devices are JAX's host devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=N`), which share the same CPU cores: the number
measures the overhead of the machinery, not a speed-up. Grid: --rows bench rows of the smoke budget
(the architecture, several seeds) with each executor; whole wall time, start-up included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train_rate(arch: str, devices: int, images: int, out: Path, backend: str) -> float:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend == "jax":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    run = out / f"{arch}-{devices}"
    subprocess.run([sys.executable, "-m", "fer_zoo", "train", arch, "--epochs", "2", "--subset", str(images),
                    "--devices", str(devices), "--out", str(run), "--quiet", "--no-augment"],
                   check=True, env=env, capture_output=True, text=True)
    return json.loads((run / "metrics.json").read_text())["train_images_per_second"]


def grid_seconds(arch: str, rows: int, out: Path, *executor: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fer_zoo", "bench", arch, "--seeds", str(rows), "--budget", "smoke",
                    "--epochs", "2", "--out", str(out), "--json", *executor], check=True, capture_output=True,
                   text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="custom")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--backend", default="jax")
    args = parser.parse_args()
    from fer_zoo.environment import cpu_name  # the CPU's model even where a GPU is visible (device_name names that)

    print(f"{cpu_name()} · {os.cpu_count()} cores · {args.backend}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = None
        for devices in sorted({1, args.devices}):
            rate = train_rate(args.arch, devices, args.images, tmp / "runs", args.backend)
            base = base or rate
            print(f"train {args.arch}, {devices} device(s): {rate:8,.0f} img/s  ({rate / base:.2f}x)", flush=True)
        executors = [("local, one row at a time", ()), ("local, --jobs 2", ("--jobs", "2"))]
        try:
            import ray  # noqa: F401

            executors.append(("ray, local cluster", ("--executor", "ray")))
        except ImportError:
            print("(Ray is not installed: its line is left out)")
        for name, extra in executors:
            seconds = grid_seconds(args.arch, args.rows, tmp / name.replace(" ", "_"), *extra)
            print(f"bench {args.rows} rows of {args.arch}, {name:<26} {seconds:6.1f} s wall", flush=True)


if __name__ == "__main__":
    main()
