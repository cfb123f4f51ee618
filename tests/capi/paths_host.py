"""A ctypes host driving ptx_run / ptx_run_alloc through both of libptx's call paths.

Run by test_capi_paths.py as ``python paths_host.py LIBPTX TWO.onnx``; TWO.onnx has
outputs ``y`` (float32) and ``idx`` (int64). Prints ``case code | message | figures``.
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

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


def main(lib_path: str, model_path: str) -> None:
    """One line per case."""
    lib = ctypes.CDLL(lib_path)
    lib.ptx_last_error.restype = ctypes.c_char_p
    lib.ptx_tensor_data.restype = ctypes.c_void_p
    lib.ptx_tensor_nbytes.restype = ctypes.c_size_t
    m = ctypes.c_void_p()
    assert lib.ptx_model_load(model_path.encode(), b"onnxruntime", None, ctypes.byref(m)) == 0
    x = np.random.default_rng(0).random((1, 3, 4, 5), dtype=np.float32)
    dims = (ctypes.c_int64 * 4)(*x.shape)

    def run(case: str, inputs: list[Input], outputs: list[Output]) -> None:
        arr = (Input * len(inputs))(*inputs)
        outs = (Output * len(outputs))(*outputs)
        rc = lib.ptx_run(m, arr, len(inputs), outs, len(outputs))
        figures = " ".join(f"{o.dtype}:{list(o.shape[: o.rank])}" for o in outs) if rc == 0 else ""
        print(f"{case} {rc} | {lib.ptx_last_error().decode()} | {figures}")

    image = Input(b"image", 1, 4, dims, x.ctypes.data)
    y = np.zeros_like(x)
    idx = np.zeros((1, 1, 4, 5), np.int64)

    def out(name: bytes | None, buf: np.ndarray) -> Output:
        return Output(name, buf.ctypes.data, buf.nbytes, 0, 0, Shape(), 0)

    run("named", [image], [out(b"idx", idx)])
    print("idx_ok", int(np.array_equal(idx, x.argmax(axis=1, keepdims=True))))
    run("positional", [Input(None, 1, 4, dims, x.ctypes.data)], [out(None, y), out(None, idx)])
    print("y_ok", int(np.allclose(y, x * 0.5 + 0.25)))
    run("count", [image, image], [out(None, y)])
    run("dtype99", [Input(b"image", 99, 4, dims, x.ctypes.data)], [out(None, y)])
    run("outname", [image], [out(b"nope", y)])
    run("inname", [Input(b"wrong", 1, 4, dims, x.ctypes.data)], [out(None, y)])

    tensors = (ctypes.c_void_p * 2)()
    rc = lib.ptx_run_alloc(m, (Input * 1)(image), 1, tensors, 2)
    sizes = [lib.ptx_tensor_nbytes(ctypes.c_void_p(t)) for t in tensors]
    data = lib.ptx_tensor_data(ctypes.c_void_p(tensors[1]))
    got = np.frombuffer((ctypes.c_char * sizes[1]).from_address(data), np.int64)
    print("alloc", rc, sizes[0], sizes[1], int(np.array_equal(got, idx.ravel())))
    for t in tensors:
        lib.ptx_tensor_free(ctypes.c_void_p(t))
    lib.ptx_model_free(m)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
