#!/usr/bin/env bash
# GPU check: CPU-vs-GPU score parity, GPU batch-1 latency and batch-256 throughput.
#
# Status: written and dry-run on a CPU machine only (the GPU part has NOT been run:
# no GPU machine was lent when it was written). The check runs the model under
# KERAS_BACKEND=jax because the GPU image has JAX with CUDA but no TensorFlow; it
# brings Keras and its two missing pure dependencies (namex, optree) as wheels.
#
#   1. here, once, from the repo root (needs the project venv: TensorFlow + MediaPipe):
#        bench/gpu_check.sh prepare
#      -> .whl/  keras, namex, optree wheels for CPython 3.12 (ignored by git)
#      -> .cache/gpucheck/inputs.npz  real aligned crops + TensorFlow-CPU scores (ignored by git)
#   2. on the GPU machine, from the repo root, carrying .whl and .cache/gpucheck:
#        bench/gpu_check.sh            # exit 0 = GPU used and scores agree
#      prints JSON (and writes $OUT/gpu_check.json when $OUT is set): max |GPU - CPU|
#      at default (TF32) and highest precision, |JAX - TensorFlow|, batch-1 p50/p95,
#      one face with flip TTA, batch-256 images/s. Takes about 2-3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [[ "${1:-run}" == prepare ]]; then
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
  TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. "$PY" bench/gpu_check.py prepare
  du -sh .whl .cache/gpucheck
  exit 0
fi

[[ -f .cache/gpucheck/inputs.npz ]] || { echo "run 'bench/gpu_check.sh prepare' on the CPU machine first" >&2; exit 2; }
if ls .whl/keras-*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
exec PYTHONPATH=. "$PY" bench/gpu_check.py run ${OUT:+--out "$OUT/gpu_check.json"}
