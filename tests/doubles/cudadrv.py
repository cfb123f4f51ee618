"""A strict double of the ``cuda.bindings.driver`` calls ptx makes: modules and launches.

A launch reads its arguments through the kernelParams pointer array, typed by the
``extern "C"`` signature parsed from the kernel's own .cu file, checks the launch
configuration as the driver does, and queues the NumPy reference of that kernel
(runtime/kernels/reference.py) on the stream, writing only the pixels the grid covers.
"""

from __future__ import annotations

import ctypes
import functools
import re
from enum import IntEnum
from pathlib import Path
from typing import Any

import cudart
import numpy as np
from cuda_state import Fault, Op

from ptx.runtime.kernels.params import PostParams, PreParams
from ptx.runtime.kernels.reference import postprocess_reference, preprocess_reference

KERNEL_DIR = Path(__file__).resolve().parents[2] / "runtime" / "kernels"
CTYPES = {"ptr": ctypes.c_uint64, "long long": ctypes.c_int64, "int": ctypes.c_int32}
CTYPES["float"] = ctypes.c_float


class CUresult(IntEnum):
    CUDA_SUCCESS = 0
    CUDA_ERROR_INVALID_VALUE = 1
    CUDA_ERROR_INVALID_IMAGE = 200
    CUDA_ERROR_INVALID_HANDLE = 400
    CUDA_ERROR_NOT_FOUND = 500
    CUDA_ERROR_ILLEGAL_ADDRESS = 700


MODULES: dict[int, bytes] = {}
FUNCTIONS: dict[int, str] = {}


@functools.lru_cache(maxsize=4)
def signature(name: str) -> list[tuple[str, str]]:
    """(argument name, type key) of ``extern "C" __global__ void name(...)`` in its .cu."""
    for cu in KERNEL_DIR.glob("*.cu"):
        text = re.sub(r"//[^\n]*", "", cu.read_text())
        m = re.search(rf"__global__\s+void\s+{name}\s*\(([^)]*)\)", text)
        if m:
            out = []
            for part in m.group(1).split(","):
                words = part.replace("*", " * ").split()
                key = "ptr" if "*" in words else ("long long" if "long" in words else words[-2])
                out.append((words[-1], key))
            return out
    raise KeyError(name)


def _code(fn: Any) -> Any:
    @functools.wraps(fn)
    def call(*args: Any) -> tuple:
        g = cudart.gpu()
        with g.lock:
            if g.sticky is not None:
                return (CUresult(int(g.sticky)), None)
            try:
                return (CUresult.CUDA_SUCCESS, fn(*args))
            except Fault as exc:
                g.why = exc.why
                return (CUresult(int(exc.code)), None)

    return call


def _image_at(ptr: int) -> bytes:
    head = ctypes.string_at(ptr, 64)
    if head[:4] == b"\x7fELF":  # ELF64: section headers end the file
        shoff = int.from_bytes(head[0x28:0x30], "little")
        size = shoff + int.from_bytes(head[0x3A:0x3C], "little") * int.from_bytes(
            head[0x3C:0x3E], "little"
        )
        return ctypes.string_at(ptr, size)
    return ctypes.string_at(ptr)  # PTX: NUL-terminated


@_code
def cuModuleLoadData(ptr: int) -> int:  # noqa: N802
    """Load a cubin (ELF) or PTX image from its address."""
    image = _image_at(int(ptr))
    if not (image[:4] == b"\x7fELF" or b".entry" in image):
        raise Fault(CUresult.CUDA_ERROR_INVALID_IMAGE, "not a cubin or PTX image")
    handle = next(cudart.gpu().ids)
    MODULES[handle] = image
    return handle


@_code
def cuModuleGetFunction(module: int, name: bytes) -> int:  # noqa: N802
    """A kernel of a loaded module, by its extern "C" name."""
    image = MODULES.get(module)
    if image is None:
        raise Fault(CUresult.CUDA_ERROR_INVALID_HANDLE, "unknown module")
    if name not in image:
        raise Fault(CUresult.CUDA_ERROR_NOT_FOUND, f"no kernel {name!r}")
    handle = next(cudart.gpu().ids)
    FUNCTIONS[handle] = name.decode()
    return handle


@_code
def cuModuleUnload(module: int) -> None:  # noqa: N802
    """Unload a module."""
    if MODULES.pop(module, None) is None:
        raise Fault(CUresult.CUDA_ERROR_INVALID_HANDLE, "unknown module")


def _args(name: str, params: int) -> dict[str, Any]:
    sig = signature(name)
    ptrs = (ctypes.c_void_p * len(sig)).from_address(params)
    return {arg: CTYPES[key].from_address(ptrs[i]).value for i, (arg, key) in enumerate(sig)}


@_code
def cuLaunchKernel(  # noqa: N802
    f: int, gx: int, gy: int, gz: int, bx: int, by: int, bz: int,
    shared: int, stream: int, params: int, extra: int,
) -> None:  # fmt: skip
    """Check the launch, then queue the kernel's NumPy reference on the stream."""
    name = FUNCTIONS.get(f)
    if name is None:
        raise Fault(CUresult.CUDA_ERROR_INVALID_HANDLE, "unknown function")
    if bx * by * bz > 1024 or min(gx, gy, gz, bx, by, bz) < 1 or max(gy, gz) > 65535:
        raise Fault(CUresult.CUDA_ERROR_INVALID_VALUE, f"grid {(gx, gy, gz)} block {(bx, by, bz)}")
    a = _args(name, int(params))
    cover = (gy * by, gx * bx, gz)
    run, ranges = (_pre if name == "ptx_preprocess" else _post)(a, cover)
    cudart.gpu().issue(int(stream), Op(f"kernel {name}", run, ranges))


def _canvas(n: int, h: int, w: int, nchw: bool, fp16: bool) -> tuple[tuple, np.dtype]:
    return ((n, 3, h, w) if nchw else (n, h, w, 3)), np.dtype(np.float16 if fp16 else np.float32)


def _write(full: np.ndarray, ref: np.ndarray, cover: tuple, hw_axes: tuple) -> None:
    """Write the reference where the grid covers (rows, cols, images); keep the rest."""
    idx = [slice(None)] * ref.ndim
    idx[0] = slice(0, cover[2])
    idx[hw_axes[0]], idx[hw_axes[1]] = slice(0, cover[0]), slice(0, cover[1])
    full[tuple(idx)] = ref[tuple(idx)]


def _pre(a: dict, cover: tuple) -> tuple:
    g, n = cudart.gpu(), a["batch"]
    shape, dt = _canvas(n, a["dst_h"], a["dst_w"], a["nchw"], a["fp16"])
    src_n = a["src_image_stride"] * (n - 1) + a["src_pitch"] * (a["src_h"] - 1) + 3 * a["src_w"]
    dst_n = int(np.prod(shape)) * dt.itemsize
    p = PreParams(
        (a["src_h"], a["src_w"]), (a["dst_h"], a["dst_w"]), a["top"], a["left"],
        (a["inner_h"], a["inner_w"]), bool(a["reflect"]), a["fill"],
        (a["scale0"], a["scale1"], a["scale2"]), (a["offset0"], a["offset1"], a["offset2"]),
        bool(a["swap_rb"]), "NCHW" if a["nchw"] else "NHWC", dt.name,
    )  # fmt: skip

    def run() -> None:
        raw = g.view(a["src"], src_n)
        imgs = np.stack([
            np.lib.stride_tricks.as_strided(
                raw[i * a["src_image_stride"] :], (a["src_h"], a["src_w"], 3),
                (a["src_pitch"], 3, 1),
            ) for i in range(n)
        ])  # fmt: skip
        out = g.view(a["dst"], dst_n).view(dt).reshape(shape)
        axes = (2, 3) if a["nchw"] else (1, 2)
        _write(out, preprocess_reference(np.ascontiguousarray(imgs), p), cover, axes)

    return run, [(a["src"], src_n), (a["dst"], dst_n)]


def _post(a: dict, cover: tuple) -> tuple:
    g, n = cudart.gpu(), a["batch"]
    shape, dt = _canvas(n, a["src_h"], a["src_w"], a["nchw"], a["fp16"])
    src_n = int(np.prod(shape)) * dt.itemsize
    dst_n = a["dst_image_stride"] * (n - 1) + a["dst_pitch"] * (a["out_h"] - 1) + 3 * a["out_w"]
    p = PostParams(
        (a["src_h"], a["src_w"]), a["top"], a["left"], (a["inner_h"], a["inner_w"]),
        (a["out_h"], a["out_w"]), (a["a0"], a["a1"], a["a2"]), (a["b0"], a["b1"], a["b2"]),
        bool(a["swap_rb"]), "NCHW" if a["nchw"] else "NHWC", dt.name,
    )  # fmt: skip

    def run() -> None:
        x = g.view(a["src"], src_n).view(dt).reshape(shape)
        ref = postprocess_reference(x, p)
        raw = g.view(a["dst"], dst_n)
        for i in range(n):
            out = np.lib.stride_tricks.as_strided(
                raw[i * a["dst_image_stride"] :], (a["out_h"], a["out_w"], 3),
                (a["dst_pitch"], 3, 1), writeable=True,
            )  # fmt: skip
            if i < cover[2]:
                out[: cover[0], : cover[1]] = ref[i, : cover[0], : cover[1]]

    return run, [(a["src"], src_n), (a["dst"], dst_n)]
