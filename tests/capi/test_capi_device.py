"""ptx_run_device (CUDA pointers + a cudaStream_t) through libptx, on the CPU doubles."""

from __future__ import annotations

import sys
from pathlib import Path

HOST = Path(__file__).resolve().parent / "device_host.py"


def test_device_pointers_on_a_caller_stream(built, tmp_path: Path) -> None:
    onnx = built.models / "affine.onnx"
    out = built.check([sys.executable, HOST, built.lib, onnx, tmp_path], timeout=300)
    rows = {line.split(" ", 1)[0]: line.split(" ", 2)[1:] for line in out.splitlines()}
    assert rows["load"] == ["0", ""]
    code, diff, nbytes, shape = rows["device"][0], *rows["device"][1].split(" ", 2)
    assert code == "0" and float(diff) == 0.0 and nbytes == str(3 * 16 * 16 * 4)
    assert shape == "[1, 3, 16, 16]"
    assert rows["small"][0] == "6" and "needs 3072 bytes" in rows["small"][1]
    assert rows["profile"][0] == "1" and "profile" in rows["profile"][1]


def test_device_pointers_on_a_cpu_engine_is_a_model_error(built) -> None:
    out = built.check([built.hosts / "host", "nodevice", built.models / "affine.onnx"])
    assert out.startswith("nodevice model | ") and "no GPU path" in out
