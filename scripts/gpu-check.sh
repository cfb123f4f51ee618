#!/usr/bin/env bash
# make gpu-check: every check of ptx that needs an NVIDIA GPU, in one script.
#
# Needs: an NVIDIA GPU and driver (compute capability 7.5 or newer; Hopper H100/H200 is
# sm_90 and gets a cubin of its own), Python with cuda-python and the NVRTC wheel
# (pip install 'ptx[gpu]'), onnx and onnxruntime; CuPy or torch built for CUDA for the
# tests that hand the kernels device arrays. Optional: TensorRT wheels (mainline tensorrt,
# or tensorrt_rtx with its libs) in $PTX_TRT_WHEELS (default $REPO/.whl), installed
# offline beside ptx; without them and without an installed TensorRT, the TensorRT row
# says "skipped" with the reason.
#
# Checks (one row each in $OUT/summary.md, logs beside it):
#   gpu        the GPU, its compute capability, and whether the kernels have a cubin for it;
#   doctor     driver, NVRTC, every kernel compiled for every target;
#   gpu tests  the gpu-marked tests: kernels against their NumPy references, CUDA memory,
#              streams, events and graphs, zero-copy interop, the GPU enhance pipeline,
#              and (with TensorRT) plans run, chunked, concurrent and graph-replayed;
#   kernels    the fused preprocessing kernel timed against torch and a device copy;
#   ort-cuda   the GPU pipeline on ONNX Runtime's CUDA engine vs the CPU pipeline;
#   tensorrt   `ptx build` for this GPU, `ptx run enhance --device cuda` and
#              `ptx bench --engine` on the plan, images vs the ONNX on the CPU.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/ptx-gpu-check}
TRT_WHEELS=${PTX_TRT_WHEELS:-$REPO/.whl}
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
if ls "$TRT_WHEELS"/tensorrt*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --target "$WORK/trt" "$TRT_WHEELS"/tensorrt*.whl \
    >>"$OUT/install.log" 2>&1 && export PYTHONPATH="$WORK/trt${PYTHONPATH:+:$PYTHONPATH}"
fi
GPU=$(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>&1 | head -1)
echo "$GPU" | tee "$OUT/gpu.txt"
CC=$(echo "$GPU" | awk -F', ' '{print $2}' | tr -d '.')
case "$CC" in
  75|80|86|89|90) GPU="$GPU (cubin sm_$CC)" ;;
  [0-9]*) GPU="$GPU (no cubin: the driver JITs the compute_75 PTX)" ;;
  *) echo "no usable GPU: $GPU"; exit 1 ;;
esac

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

step kernels
timeout 180 $PY -m ptx.benchmarks.studies.gpu_preprocess --json-out "$OUT/gpu_preprocess.json" \
  >"$WORK/bench.txt" 2>&1
BENCH_RC=$?
cat "$WORK/bench.txt"

step "ort-cuda and tensorrt"
timeout 300 $PY - "$REPO" "$WORK/e2e" >"$OUT/e2e.txt" 2>&1 <<'EOF'
"""The GPU pipeline end to end: ONNX Runtime's CUDA engine, then a TensorRT plan if any."""
import importlib.util, subprocess, sys
from pathlib import Path
import numpy as np
import onnxruntime as ort
from PIL import Image
sys.path.insert(0, sys.argv[1] + "/tests/doubles")
from models import enhancer_onnx  # a small real residual enhancer, dynamic batch and size
folder = Path(sys.argv[2]); folder.mkdir()
onnx = enhancer_onnx(folder / "m.onnx", seed=3)
(folder / "imgs").mkdir()
rng = np.random.default_rng(5)
for i, (h, w) in enumerate([(48, 64), (48, 64), (48, 64), (33, 17)]):
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(img).save(folder / "imgs" / f"{i}.png")
def ptx(*args):
    done = subprocess.run([sys.executable, "-m", "ptx", *args], capture_output=True, text=True)
    return done.returncode, ((done.stdout + done.stderr).strip().splitlines() or [""])[-1]
def enhance(model, out, device):
    return ptx("run", "enhance", "--model", str(model), "--input", str(folder / "imgs"),
               "--out", str(folder / out), "--batch", "2", "--device", device, "--no-progress")
def rel_l2(out):
    worst = 0.0
    for p in sorted((folder / "cpu").iterdir()):
        a = np.asarray(Image.open(folder / out / p.name), np.float64)
        b = np.asarray(Image.open(p), np.float64)
        worst = max(worst, float(np.linalg.norm(a - b) / np.linalg.norm(b)))
    return f"rel L2 {worst:.2e} vs the CPU pipeline"
rc, line = enhance(onnx, "cpu", "cpu")
assert rc == 0, f"the CPU pipeline failed: {line}"
if "CUDAExecutionProvider" in ort.get_available_providers():
    rc, line = enhance(onnx, "ort", "cuda")
    print("ort-cuda:", rel_l2("ort") if rc == 0 else f"failed: {line}")
else:
    print("ort-cuda: skipped: this onnxruntime has no CUDAExecutionProvider (onnxruntime-gpu)")
if not any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx")):
    print("tensorrt: skipped: neither tensorrt nor tensorrt_rtx is installed, and no wheels "
          "were given in $PTX_TRT_WHEELS")
    raise SystemExit
from ptx.export.trt import detect
from ptx.runtime.cuda import use_device
cc = use_device(0).capability
flav, extra = detect("auto"), []
if flav.name == "rtx":
    extra = ["--compute-capability", f"{cc[0]}.{cc[1]}"]
rc, line = ptx("build", "--onnx", str(onnx), "--out", str(folder / "m.plan"),
               "--shapes", "image:1x3x8x8,2x3x48x64,4x3x64x64", *extra)
if rc != 0:
    print(f"tensorrt: skipped: {flav.module} {flav.version} does not build for "
          f"sm_{cc[0]}{cc[1]}: {line}")
    raise SystemExit
rc, line = enhance(folder / "m.plan", "trt", "cuda")
print("tensorrt run:", rel_l2("trt") if rc == 0 else f"failed: {line}")
rc, line = ptx("bench", "--engine", str(folder / "m.plan"), "--shapes", "image:2x3x48x64",
               "--duration", "1")
print("tensorrt bench:", "ok" if rc == 0 else f"failed: {line}")
EOF
E2E_RC=$?
cat "$OUT/e2e.txt"
ORT=$(grep "^ort-cuda:" "$OUT/e2e.txt" | cut -d' ' -f2-)
TRT=$(grep "^tensorrt" "$OUT/e2e.txt" | cut -d' ' -f2- | tr '\n' ' ')

SUMMARY=$(grep -E "passed|failed|error" "$OUT/gpu-tests.log" | tail -1)
{
  echo "| check | result |"
  echo "|---|---|"
  echo "| gpu | $GPU |"
  echo "| doctor | $DOCTOR |"
  echo "| gpu tests (rc $TESTS_RC) | $SUMMARY |"
  echo "| kernels (rc $BENCH_RC) | $(tail -1 "$WORK/bench.txt") |"
  echo "| ort-cuda | ${ORT:-not run (rc $E2E_RC, see e2e.txt)} |"
  echo "| tensorrt | ${TRT:-not run (rc $E2E_RC, see e2e.txt)} |"
  echo "| wall time | $(($(date +%s) - START)) s |"
} | tee "$OUT/summary.md"
exit $((TESTS_RC != 0 || BENCH_RC != 0 || E2E_RC != 0))
