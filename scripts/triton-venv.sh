#!/usr/bin/env bash
# Make .venv-triton: a real `tritonserver` (Triton 2.51, python backend only, bundled by
# nvidia-pytriton) with what a ptx python-backend model.py needs to run ptx.runtime.
# Its own venv because nvidia-pytriton needs numpy<2 (ptx's .venv pins numpy 2).
#   bash scripts/triton-venv.sh [VENV]      (default: .venv-triton beside this repo)
# Idempotent: a venv whose stamp matches this script is left as it is (prints its path).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.venv-triton}"
python="${PYTHON:-python3}"
# The stamp is this script's checksum: editing the package list rebuilds the venv.
want="$(sha256sum "$0" | cut -d' ' -f1)"
stamp="$venv/.ptx-triton-ready"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
    echo "$venv"
    exit 0
fi
rm -rf "$venv"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip setuptools wheel
"${pip[@]}" "nvidia-pytriton==0.7.0" "numpy<2" onnxruntime onnx pillow
# ptx itself without its deps (no torch; editable, so the venv follows this checkout).
"${pip[@]}" --no-deps --no-build-isolation -e "$root" 2>/dev/null
# The python backend runs its stub from backends/python (pytriton copies it there per
# run); the stub built for this venv's Python goes there once.
"$venv/bin/python" - <<'PY'
import shutil, sys
from pytriton.utils.distribution import get_root_module_path, get_stub_path
stub = get_stub_path(f"{sys.version_info[0]}.{sys.version_info[1]}")
shutil.copy(stub, get_root_module_path() / "tritonserver/backends/python/triton_python_backend_stub")
PY
"$venv/bin/python" -c "import numpy, onnxruntime, pytriton, ptx.runtime" >/dev/null
echo "$want" >"$stamp"
echo "$venv"
