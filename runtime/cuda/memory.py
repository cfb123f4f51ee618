"""Device memory and pinned host memory, allocated once and freed exactly once."""

from __future__ import annotations

import contextlib
import ctypes
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.runtime.cuda.api import check, runtime
from ptx.runtime.cuda.interop import DeviceArray, as_device_array


class DeviceBuffer:
    """``cudaMalloc`` memory holding one C-contiguous array; frees itself on close/GC."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype | type) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.ptr = int(check(runtime().cudaMalloc(max(self.nbytes, 1)), "cudaMalloc"))

    @property
    def array(self) -> DeviceArray:
        """The buffer as a DeviceArray (``__cuda_array_interface__``, zero-copy)."""
        return DeviceArray(self.ptr, self.shape, self.dtype, owner=self)

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """So torch.as_tensor / cupy.asarray can wrap the buffer."""
        return self.array.__cuda_array_interface__

    def close(self) -> None:
        """Free the memory (idempotent)."""
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            check(runtime().cudaFree(ptr), "cudaFree")

    def __del__(self) -> None:
        # At interpreter shutdown the CUDA context may already be gone.
        with contextlib.suppress(Exception):
            self.close()


class PinnedBuffer:
    """Page-locked host memory seen as a NumPy array (fast, truly async H2D / D2H)."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype | type) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.ptr = int(check(runtime().cudaMallocHost(max(self.nbytes, 1)), "cudaMallocHost"))
        raw = (ctypes.c_ubyte * max(self.nbytes, 1)).from_address(self.ptr)
        self.array = np.frombuffer(raw, dtype=np.uint8, count=self.nbytes).view(self.dtype)
        self.array = self.array.reshape(self.shape)

    def close(self) -> None:
        """Free the memory (idempotent); the NumPy view must not be used afterwards."""
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            self.array = np.empty((0,), self.dtype)
            check(runtime().cudaFreeHost(ptr), "cudaFreeHost")

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _kind(name: str) -> Any:
    return getattr(runtime().cudaMemcpyKind, name)


def copy_h2d(dst: Any, src: np.ndarray, stream: int = 0) -> None:
    """Host → device, async on ``stream`` (truly async only when ``src`` is pinned)."""
    d = as_device_array(dst, "copy destination")
    src = np.ascontiguousarray(src)
    if src.nbytes != d.nbytes:
        raise InputError(f"copy of {src.nbytes} bytes into a {d.nbytes}-byte device array")
    rt = runtime()
    check(
        rt.cudaMemcpyAsync(
            d.ptr, src.ctypes.data, src.nbytes, _kind("cudaMemcpyHostToDevice"), stream
        ),
        "cudaMemcpyAsync H2D",
    )


def copy_d2h(dst: np.ndarray, src: Any, stream: int = 0) -> None:
    """Device → host, async on ``stream``; ``dst`` must be C-contiguous and writable."""
    s = as_device_array(src, "copy source")
    if not dst.flags.c_contiguous or not dst.flags.writeable or dst.nbytes != s.nbytes:
        raise InputError(f"copy destination must be a writable contiguous {s.nbytes}-byte array")
    rt = runtime()
    check(
        rt.cudaMemcpyAsync(
            dst.ctypes.data, s.ptr, s.nbytes, _kind("cudaMemcpyDeviceToHost"), stream
        ),
        "cudaMemcpyAsync D2H",
    )


def copy_d2d(dst: Any, src: Any, stream: int = 0) -> None:
    """Device → device, async on ``stream``."""
    d, s = as_device_array(dst, "copy destination"), as_device_array(src, "copy source")
    if d.nbytes != s.nbytes:
        raise InputError(f"copy of {s.nbytes} bytes into a {d.nbytes}-byte device array")
    rt = runtime()
    check(
        rt.cudaMemcpyAsync(d.ptr, s.ptr, s.nbytes, _kind("cudaMemcpyDeviceToDevice"), stream),
        "cudaMemcpyAsync D2D",
    )


def fill_bytes(dst: Any, value: int, stream: int = 0) -> None:
    """Set every byte of a device array to ``value`` (poisoning outputs in tests)."""
    d = as_device_array(dst, "memset destination")
    check(runtime().cudaMemsetAsync(d.ptr, int(value), d.nbytes, stream), "cudaMemsetAsync")
