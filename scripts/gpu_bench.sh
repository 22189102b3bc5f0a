#!/usr/bin/env bash
# The quick bench on a GPU machine that has JAX but no TensorFlow and no network.
#
# Here, with network:   pip download --dest wheels keras pluggy typer rich xxhash pillow pandas \
#                           scikit-learn matplotlib namex optree ml-dtypes h5py
# There:                WHEELS=wheels bash scripts/gpu_bench.sh [extra `fer-zoo bench` flags]
#
# Installs fer-zoo without its TensorFlow dependency, runs `fer-zoo bench --all --budget quick` under
# KERAS_BACKEND=jax with bf16 mixed precision, and leaves the results in ${OUT:-bench-gpu}.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m venv --system-site-packages .venv-gpu   # keeps the machine's JAX
. .venv-gpu/bin/activate
if [ -n "${WHEELS:-}" ]; then
  pip install --no-index --find-links "$WHEELS" keras pluggy typer rich xxhash pillow pandas scikit-learn matplotlib
fi
pip install --no-deps --no-build-isolation -e .
python -c "import jax; print('jax', jax.__version__, jax.devices())"
KERAS_BACKEND=jax fer-zoo bench --all --budget quick --precision mixed_bfloat16 --out "${OUT:-bench-gpu}" "$@"
