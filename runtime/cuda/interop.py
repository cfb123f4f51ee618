"""Zero-copy device arrays: ``__cuda_array_interface__`` and DLPack in, the interface out.

Accepts torch, CuPy, pycuda, Numba or JAX arrays, ptx's own buffers, and a raw
pointer with shape and dtype. A host array where a device array is required is one
InputError line. Nothing here touches the GPU, so all of it is tested on the CPU.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ptx.errors import InputError

KDL_CPU, KDL_CUDA, KDL_CUDA_HOST, KDL_CUDA_MANAGED = 1, 2, 3, 13
_DL_CODES = {0: "i", 1: "u", 2: "f", 6: "b"}  # kDLInt, kDLUInt, kDLFloat, kDLBool
HOST_HINT = (
    "copy it to the GPU first (cupy.asarray(x), torch.as_tensor(x, device='cuda')), "
    "or call run() with NumPy arrays"
)


@dataclass(frozen=True)
class DeviceArray:
    """A C-contiguous array in GPU memory: pointer, shape, dtype; ``owner`` keeps it alive."""

    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype
    readonly: bool = False
    stream: int | None = None  # the producer's stream, when it said (CAI v3)
    owner: Any = field(default=None, repr=False, compare=False)
    device: int | None = None  # the GPU index, when the producer said (DLPack)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes covered."""
        return self.size * self.dtype.itemsize

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """Version 3 of the interface, so torch.as_tensor / cupy.asarray wrap it zero-copy."""
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, self.readonly),
            "strides": None,
            "version": 3,
        }

    def rows(self, start: int, stop: int) -> DeviceArray:
        """Items ``start:stop`` of axis 0, as a view (same memory)."""
        n = self.shape[0] if self.shape else 0
        if not 0 <= start <= stop <= n:
            raise InputError(f"rows {start}:{stop} out of range for shape {list(self.shape)}")
        row = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        shape = (stop - start, *self.shape[1:])
        return DeviceArray(
            self.ptr + start * row, shape, self.dtype, self.readonly, self.stream, self, self.device
        )


def c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Byte strides of a C-contiguous array of ``shape``."""
    strides, step = [], itemsize
    for dim in reversed(shape):
        strides.append(step)
        step *= max(int(dim), 1)
    return tuple(reversed(strides))


def _contiguous(shape: tuple[int, ...], strides: tuple[int, ...] | None, itemsize: int) -> bool:
    if strides is None:
        return True
    return all(
        d <= 1 or s == c
        for d, s, c in zip(shape, strides, c_strides(shape, itemsize), strict=False)
    )


def _from_cai(obj: Any, what: str) -> DeviceArray:
    cai = obj.__cuda_array_interface__
    shape = tuple(int(d) for d in cai["shape"])
    dtype = np.dtype(cai["typestr"])
    ptr, readonly = cai["data"]
    if cai.get("mask") is not None:
        raise InputError(f"{what}: masked device arrays are not supported")
    if not _contiguous(shape, cai.get("strides"), dtype.itemsize):
        raise InputError(f"{what}: device array is not C-contiguous; pass x.contiguous() / a copy")
    if ptr == 0 and int(np.prod(shape)) > 0:
        raise InputError(f"{what}: device array has a null pointer")
    stream = cai.get("stream")
    return DeviceArray(int(ptr), shape, dtype, bool(readonly), stream, obj)


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


def dlpack_fields(capsule: Any) -> dict[str, Any]:
    """Pointer, device, shape, byte strides and dtype of a legacy ``dltensor`` capsule."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    addr = get(capsule, b"dltensor")  # DLManagedTensor starts with its DLTensor
    t = _DLTensor.from_address(addr)
    code, bits, lanes = t.dtype.code, t.dtype.bits, t.dtype.lanes
    if code not in _DL_CODES or lanes != 1:
        raise InputError(f"DLPack dtype code {code} ({bits} bits x {lanes}) is not supported")
    dtype = np.dtype(bool) if code == 6 else np.dtype(f"{_DL_CODES[code]}{bits // 8}")
    shape = tuple(int(t.shape[i]) for i in range(t.ndim))
    strides = None
    if t.strides:
        strides = tuple(int(t.strides[i]) * dtype.itemsize for i in range(t.ndim))
    return {
        "ptr": int(t.data or 0) + int(t.byte_offset),
        "device": (int(t.device.device_type), int(t.device.device_id)),
        "shape": shape,
        "strides": strides,
        "dtype": dtype,
    }


def _from_dlpack(obj: Any, what: str) -> DeviceArray:
    kind, _ = obj.__dlpack_device__()
    if int(kind) not in (KDL_CUDA, KDL_CUDA_MANAGED):
        where = "host (CPU)" if int(kind) in (KDL_CPU, KDL_CUDA_HOST) else f"device type {kind}"
        raise InputError(f"{what}: a {where} array where a GPU array is required; {HOST_HINT}")
    capsule = obj.__dlpack__()
    f = dlpack_fields(capsule)
    if not _contiguous(f["shape"], f["strides"], f["dtype"].itemsize):
        raise InputError(f"{what}: device array is not C-contiguous; pass a contiguous copy")
    index = f["device"][1]
    return DeviceArray(f["ptr"], f["shape"], f["dtype"], False, None, (obj, capsule), index)


def check_device(arr: DeviceArray, index: int, what: str) -> None:
    """InputError when ``arr`` says it lives on another GPU than ``index``."""
    if arr.device is not None and arr.device != index:
        raise InputError(
            f"{what} is on cuda:{arr.device}, but this runs on cuda:{index}; "
            f"copy it there first (x.to('cuda:{index}'))"
        )


def as_device_array(obj: Any, what: str = "array") -> DeviceArray:
    """A DeviceArray over ``obj``'s GPU memory (no copy), or one InputError line."""
    if isinstance(obj, DeviceArray):
        return obj
    if hasattr(obj, "__cuda_array_interface__"):
        try:
            return _from_cai(obj, what)
        except (AttributeError, RuntimeError):
            pass  # e.g. a torch CPU tensor raises here; DLPack below names the device
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array_interface__"):
        raise InputError(f"{what}: a host (NumPy) array where a GPU array is required; {HOST_HINT}")
    if hasattr(obj, "__dlpack_device__") and hasattr(obj, "__dlpack__"):
        return _from_dlpack(obj, what)
    raise InputError(
        f"{what}: {type(obj).__name__} is not a GPU array (needs __cuda_array_interface__ "
        "or DLPack: torch, CuPy, pycuda, Numba, JAX)"
    )


def stream_handle(stream: Any) -> int | None:
    """A raw cudaStream_t from an int, a torch/CuPy stream, or a ``__cuda_stream__`` object."""
    if stream is None:
        return None
    if isinstance(stream, (int, np.integer)):
        return int(stream)
    if hasattr(stream, "__cuda_stream__"):
        _, handle = stream.__cuda_stream__()
        return int(handle)
    for attr in ("cuda_stream", "ptr", "handle"):  # torch, CuPy, ptx.runtime.cuda.Stream
        value = getattr(stream, attr, None)
        if isinstance(value, (int, np.integer)):
            return int(value)
    raise InputError(
        f"stream: {type(stream).__name__} is not a CUDA stream (give an int handle, "
        "a torch.cuda.Stream, a CuPy stream or an object with __cuda_stream__)"
    )
