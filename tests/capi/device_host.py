"""A Python host (ctypes) running libptx's device path on the CPU doubles of CUDA/TensorRT.

Run by test_capi_device.py as ``python device_host.py LIBPTX MODEL.onnx WORKDIR``; the
host installs the doubles in its interpreter, which libptx then shares (a Python
host), so ptx_run_device is driven end to end with the doubles' device pointers.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "doubles"))

import gpu_doubles  # noqa: E402
import models  # noqa: E402

from ptx.runtime.cuda import DeviceBuffer, Stream, copy_d2h, copy_h2d  # noqa: E402

Shape = ctypes.c_int64 * 8


class Input(ctypes.Structure):
    """struct ptx_input."""

    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("data", ctypes.c_void_p)]  # fmt: skip


class Output(ctypes.Structure):
    """struct ptx_output."""

    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p), ("capacity", ctypes.c_size_t),
                ("dtype", ctypes.c_int), ("rank", ctypes.c_int32), ("shape", Shape),
                ("nbytes", ctypes.c_size_t)]  # fmt: skip


def main(lib_path: str, onnx_path: str, work: str) -> None:
    """Print one line per check: name, status code, message or figure."""
    lib = ctypes.CDLL(lib_path)
    lib.ptx_last_error.restype = ctypes.c_char_p
    with gpu_doubles.installed():
        hi = (2, 3, 32, 32)
        prof = [models.profile((1, 3, 8, 8), (1, 3, 16, 16), hi)]
        plan = models.sidecar_plan(Path(work), Path(onnx_path), prof)
        m = ctypes.c_void_p()
        opts = b'{"allow_chunking": false}'
        rc = lib.ptx_model_load(str(plan).encode(), b"tensorrt", opts, ctypes.byref(m))
        print("load", rc, lib.ptx_last_error().decode())
        x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
        ref = ort.InferenceSession(onnx_path).run(None, {"image": x})[0]
        dx, dy, s = DeviceBuffer(x.shape, x.dtype), DeviceBuffer(x.shape, x.dtype), Stream()
        copy_h2d(dx, x, s.handle)
        dims = (ctypes.c_int64 * 4)(*x.shape)
        inp = Input(None, 1, 4, dims, dx.array.ptr)
        out = Output(None, dy.array.ptr, x.nbytes, 1, 4, Shape(*x.shape), 0)
        stream = ctypes.c_void_p(s.handle)
        rc = lib.ptx_run_device(m, ctypes.byref(inp), 1, ctypes.byref(out), 1, stream)
        y = np.zeros_like(x)
        copy_d2h(y, dy, s.handle)
        s.synchronize()
        print("device", rc, float(np.abs(y - ref).max()), out.nbytes, list(out.shape[:4]))
        small = Output(None, dy.array.ptr, 16, 1, 4, Shape(*x.shape), 0)
        rc = lib.ptx_run_device(m, ctypes.byref(inp), 1, ctypes.byref(small), 1, stream)
        print("small", rc, lib.ptx_last_error().decode())
        big = np.zeros((3, 3, 8, 8), np.float32)  # batch 3 > the profile's max 2
        bdims = (ctypes.c_int64 * 4)(*big.shape)
        binp = Input(None, 1, 4, bdims, big.ctypes.data)
        hy = np.zeros_like(big)
        hout = Output(None, hy.ctypes.data, hy.nbytes, 1, 0, Shape(), 0)
        rc = lib.ptx_run(m, ctypes.byref(binp), 1, ctypes.byref(hout), 1)
        print("profile", rc, lib.ptx_last_error().decode())
        lib.ptx_model_free(m)


if __name__ == "__main__":
    main(*sys.argv[1:4])
