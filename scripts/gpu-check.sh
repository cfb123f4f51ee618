#!/usr/bin/env bash
# One prepared GPU check for a single-GPU machine (an H100) whose python has torch with CUDA,
# cuda-python, CuPy, onnx and CPU onnxruntime, no TensorRT and no network. Under 8 minutes:
#   1. installs ptx from this source tree (no dependencies, no build isolation);
#   2. `ptx doctor --json` (GPU, driver, NVRTC, every kernel for every target);
#   3. the `gpu`-marked tests (kernels vs the NumPy reference, CUDA module, pipeline);
#   4. times the fused preprocessing kernel vs the torch chain vs a device-to-device copy;
#   5. tries TensorRT-RTX if its wheels were carried in (see the section below);
# then prints a short table. Files land in $OUT (at most 8, as the device tool returns).
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/ptx-gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PTX_CACHE_DIR=${PTX_CACHE_DIR:-/tmp/ptx-cache}
# Run from outside the tree: the source folder ptx/ would shadow the installed ptx.runtime.
WORK=$(mktemp -d)
cd "$WORK" || exit 1
START=$(date +%s)

step() { echo "== $* ($(($(date +%s) - START)) s)"; }

step install
if ! $PY -m pip install -q --no-deps --no-build-isolation "$REPO" >"$OUT/install.log" 2>&1; then
  echo "install failed (see install.log):"; tail -5 "$OUT/install.log"; exit 1
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu \
  --format=csv,noheader | tee "$OUT/gpu.txt"

step doctor
timeout 120 $PY -c "from ptx.runtime.doctor import doctor_cmd; doctor_cmd()" --json \
  >"$OUT/doctor.json" 2>>"$OUT/install.log"
DOCTOR=$($PY - "$OUT/doctor.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as exc:
    print(f"doctor failed: {exc}"); raise SystemExit
k = r["nvrtc"].get("kernels", [])
ok = sum(x["ok"] for x in k)
print(f"{r['gpu']['count']} GPU(s), NVRTC {r['nvrtc'].get('version', 'missing')}, kernels {ok}/{len(k)} ok")
EOF
)
echo "$DOCTOR"

step "gpu tests"
timeout 300 $PY -m pytest -m gpu -q -rs -p no:cacheprovider --continue-on-collection-errors \
  --rootdir "$REPO" -c "$REPO/pyproject.toml" "$REPO/tests" --junitxml="$OUT/gpu-tests.xml" \
  >"$OUT/gpu-tests.log" 2>&1
TESTS_RC=$?
tail -25 "$OUT/gpu-tests.log"

step benchmark
timeout 180 $PY -m ptx.benchmarks.studies.gpu_preprocess --json-out "$OUT/gpu_preprocess.json" \
  >"$WORK/bench.txt" 2>&1
BENCH_RC=$?
cat "$WORK/bench.txt"

# TensorRT-RTX on this machine: it cannot be installed from the network here. Its wheels
# (tensorrt_rtx_cu13, _bindings, _libs; the libs wheel is ~95 MB, over one device call's
# 64 MiB carry limit) can be carried in pieces: on the development machine
#   pip download --no-deps --python-version 3.12 ... -d .whl tensorrt-rtx-cu13==VERSION
#   split -b 60M .whl/tensorrt_rtx_cu13_libs-*.whl .whl/trt-libs.part.
# then carry .whl/ in two calls on the same warm machine, copying the parts to
# $PTX_TRT_WHEELS (default /tmp/ptx-trt-wheels) in the first; this step joins and installs
# them. Hopper (9.0) is not a TensorRT-RTX target, so ptx is expected to refuse the plan
# with its rebuild line; the raw deserialise result is recorded too.
step "tensorrt-rtx"
TRT_DIR=${PTX_TRT_WHEELS:-/tmp/ptx-trt-wheels}
[ -d "$REPO/.whl" ] && mkdir -p "$TRT_DIR" && cp -n "$REPO"/.whl/* "$TRT_DIR"/ 2>/dev/null
if ls "$TRT_DIR"/trt-libs.part.* >/dev/null 2>&1 && ! ls "$TRT_DIR"/tensorrt_rtx_cu13_libs-*.whl >/dev/null 2>&1; then
  name=$(cat "$TRT_DIR/libs-name.txt" 2>/dev/null || echo tensorrt_rtx_cu13_libs-0-py3-none-manylinux_2_28_x86_64.whl)
  cat "$TRT_DIR"/trt-libs.part.* >"$TRT_DIR/$name"
fi
if ls "$TRT_DIR"/tensorrt_rtx*.whl >/dev/null 2>&1 \
  && $PY -m pip install -q --no-index --no-deps --target /tmp/trt-rtx "$TRT_DIR"/tensorrt_rtx*.whl \
     >"$OUT/trt_rtx.txt" 2>&1; then
  PYTHONPATH=/tmp/trt-rtx${PYTHONPATH:+:$PYTHONPATH} timeout 120 $PY - "$REPO" >>"$OUT/trt_rtx.txt" 2>&1 <<'EOF'
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1] + "/tests/runtime")
from conftest import affine_model  # a tiny real ONNX model
from ptx.export.trt import build_engine, detect
from ptx.errors import PtxError
from ptx.runtime import load
d = Path(tempfile.mkdtemp())
flav = detect("rtx")
print("tensorrt_rtx", flav.version)
rep = build_engine(affine_model(d / "a.onnx"), d / "a.plan", shapes="image:1x3x8x8,2x3x16x16,4x3x32x32")
print("built:", rep.summary())
try:
    load(d / "a.plan")
    print("ptx load: accepted")
except PtxError as exc:
    print("ptx load refused:", exc)
from ptx.formats.tensorrt import capturing_logger
logger = capturing_logger(flav.trt)
engine = flav.trt.Runtime(logger).deserialize_cuda_engine((d / "a.plan").read_bytes())
print("raw deserialise:", "ok" if engine is not None else f"failed: {logger.errors()[:2]}")
EOF
  TRT="$(tail -3 "$OUT/trt_rtx.txt" | tr '\n' ' ')"
else
  TRT="not tried: no tensorrt_rtx wheels in $TRT_DIR (see the comment in scripts/gpu-check.sh)"
  echo "$TRT" >"$OUT/trt_rtx.txt"
fi
echo "$TRT"

SUMMARY=$(grep -E "passed|failed|error" "$OUT/gpu-tests.log" | tail -1)
{
  echo "| check | result |"
  echo "|---|---|"
  echo "| gpu | $(head -1 "$OUT/gpu.txt") |"
  echo "| doctor | $DOCTOR |"
  echo "| gpu tests (rc $TESTS_RC) | $SUMMARY |"
  echo "| preprocess benchmark (rc $BENCH_RC) | $(tail -1 "$WORK/bench.txt") |"
  echo "| tensorrt-rtx | $TRT |"
  echo "| wall time | $(($(date +%s) - START)) s |"
} | tee "$OUT/summary.md"
grep -E "^\|" "$WORK/bench.txt"
exit $((TESTS_RC != 0 || BENCH_RC != 0))
