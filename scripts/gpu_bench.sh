#!/usr/bin/env bash
# The GPU checks of docs/benchmarks.md, on a machine that has JAX but no TensorFlow and no network
# (such as the lent H100/H200 machines, whose plain `python3` holds JAX, PyTorch, pluggy, typer, rich,
# pandas, scikit-learn, matplotlib, pillow, opencv and xxhash, but not Keras).
#
# Here, with network, once:
#   pip download --dest wheels --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --no-deps \
#       keras namex optree "setuptools>=77"
# There:
#   WHEELS=wheels bash scripts/gpu_bench.sh          (results and logs in ${OUT:-gpu-results})
# A rehearsal on any CPU (small sizes, same steps), with jax and setuptools>=77 in that python:
#   REHEARSAL=1 PYTHON=/path/to/python bash scripts/gpu_bench.sh
#
# Installs into that interpreter directly: a `--system-site-packages` venv made from the base
# interpreter loses a JAX that lives in another venv. Then, under KERAS_BACKEND=jax:
#   1. `fer-zoo bench --all` with the GPU defaults (quick budget, mixed_bfloat16), cold compile cache;
#   2. the same into a fresh --out with the compile cache now warm;
#   3. scripts/bench_training.py: fer-zoo's epoch against a bare model.fit at FER2013 scale;
#   4. `fer-zoo train custom` for the paper's 450 epochs at FER2013 scale (wall time);
#   5. scripts/check_precision.py: a few epochs of every architecture in mixed_bfloat16, NaN or not;
#   6. scripts/calibrate_synthetic.py: AlexNet-48 and VGG16-48 for the quick budget (10 epochs of the
#      default) in mixed_bfloat16, 3 seeds, under their default recipe and under the paper's (`seed`);
#   7. scripts/compare_modern.py at the paper budget: vggnet and resnet18_fer under their recipes and
#      custom under the paper's, 300 epochs, 3 seeds, mixed_bfloat16, val and test with and without
#      ten-crop TTA (the table in $OUT/compare_modern.md, the runs in $OUT/modern-runs).
# STEPS picks some of them (default: all), e.g. STEPS="bench calibrate" for steps 1 and 6.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if [ -n "${WHEELS:-}" ]; then
  "$PY" -m pip install --no-index --no-deps "$WHEELS"/*.whl
fi
# What the install and the steps need from the interpreter, said before anything runs.
"$PY" -c "import jax" 2>/dev/null \
  || { echo "gpu_bench.sh: $PY has no JAX: $PY -m pip install jax, or set PYTHON to one that has" >&2; exit 2; }
"$PY" -c "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 77)" 2>/dev/null \
  || { echo "gpu_bench.sh: installing fer-zoo needs setuptools>=77 in $PY: $PY -m pip install 'setuptools>=77'," \
       "or put its wheel in WHEELS" >&2; exit 2; }
"$PY" -m pip install -q --no-deps --no-build-isolation -e . -e plugins/fer-zoo-mini-xception -e plugins/fer-zoo-modern
export KERAS_BACKEND=jax FER_ZOO_CACHE_DIR="$OUT/cache"
"$PY" -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"
if [ -n "${REHEARSAL:-}" ]; then
  BENCH=(lenet --budget smoke); IMAGES=512; EPOCHS=3; SIZE=512; LONG=2; PRECISION=(lenet --images 256 --epochs 2)
  CALIBRATE=(lenet); CALIBRATION=(--epochs 2 --seeds 1 --subset 256)
  MODERN=(--epochs 1 --seeds 1 --subset 256)
else
  BENCH=(--all); IMAGES=28709; EPOCHS=4; SIZE=28709; LONG=450; PRECISION=(--images 2048 --epochs 3)
  CALIBRATE=(alexnet48 vgg16_48); CALIBRATION=(--epochs 10 --seeds 3)
  MODERN=(--epochs 300 --seeds 3)
fi
STEPS=" ${STEPS:-bench warm ratio long precision calibrate modern} "
step() { [[ "$STEPS" == *" $1 "* ]]; }
timed() { local start=$SECONDS; "$@"; echo "wall: $((SECONDS - start)) s for: $*"; }
if step bench; then
  timed "$PY" -m fer_zoo bench "${BENCH[@]}" --out "$OUT/bench-cold" 2>&1 | tee "$OUT/bench-cold.log"
fi
if step warm; then
  timed "$PY" -m fer_zoo bench "${BENCH[@]}" --out "$OUT/bench-warm" 2>&1 | tee "$OUT/bench-warm.log"
fi
if step ratio; then
  timed "$PY" scripts/bench_training.py --images "$IMAGES" --epochs "$EPOCHS" --rounds 1 --precision mixed_bfloat16 \
    2>&1 | tee "$OUT/epoch-ratio.log"
fi
if step long; then
  timed "$PY" -m fer_zoo train custom --data "synthetic:size=$SIZE" --epochs "$LONG" --precision mixed_bfloat16 \
    --out "$OUT/custom-long" --json-log 2>&1 | tail -2 | tee "$OUT/custom-long.log"
fi
if step precision; then
  timed "$PY" scripts/check_precision.py "${PRECISION[@]}" 2>&1 | tee "$OUT/precision.log"
fi
if step calibrate; then
  for arch in "${CALIBRATE[@]}"; do
    for recipe in "" seed; do
      timed "$PY" scripts/calibrate_synthetic.py --arch "$arch" ${recipe:+--recipe "$recipe"} "${CALIBRATION[@]}" \
        --precision mixed_bfloat16 2>&1 | grep -v '^WARNING\|^I0000' | tee -a "$OUT/calibrate.log"
    done
  done
fi
if step modern; then
  timed "$PY" scripts/compare_modern.py "${MODERN[@]}" --precision mixed_bfloat16 --runs "$OUT/modern-runs" \
    --out "$OUT/compare_modern.md" 2>&1 | grep -v '^WARNING\|^I0000' | tee "$OUT/compare-modern.log"
fi
