"""cuda-python (``cuda.bindings``) loaded lazily, every return code checked, devices.

All CUDA work in ptx.runtime goes through ``check``: a non-zero code becomes a
CudaError line naming the call and CUDA's own name for the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ptx.errors import InputError, MissingDependency, PtxError

INSTALL = ("cuda-python", "gpu")


class CudaError(PtxError):
    """A CUDA call failed (or there is no usable GPU)."""


@lru_cache(maxsize=1)
def runtime() -> Any:
    """``cuda.bindings.runtime`` (MissingDependency with the install hint)."""
    try:
        from cuda.bindings import runtime as rt
    except ImportError as exc:
        raise MissingDependency(*INSTALL, "running on a GPU") from exc
    return rt


@lru_cache(maxsize=1)
def driver() -> Any:
    """``cuda.bindings.driver`` (MissingDependency with the install hint)."""
    try:
        from cuda.bindings import driver as drv
    except ImportError as exc:
        raise MissingDependency(*INSTALL, "running on a GPU") from exc
    return drv


def is_double() -> bool:
    """True when cuda.bindings is the CPU double of tests/doubles (its times are not GPU's)."""
    try:
        return bool(getattr(runtime(), "PTX_CPU_DOUBLE", False))
    except MissingDependency:
        return False


def error_name(err: Any) -> str:
    """CUDA's name for an error code (cudaError_t or CUresult)."""
    return getattr(err, "name", None) or f"error {int(err)}"


def check(result: Any, what: str) -> Any:
    """Unwrap a cuda.bindings result tuple; raise CudaError unless its code is success."""
    if isinstance(result, tuple):
        err, rest = result[0], result[1:]
    else:
        err, rest = result, ()
    if int(err) != 0:
        raise CudaError(f"CUDA {what} failed: {error_name(err)} (see `ptx doctor`)")
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else rest


def call_driver(fn_name: str, *args: Any) -> Any:
    """A driver call whose library may be absent (the binding raises instead of returning)."""
    fn = getattr(driver(), fn_name)
    try:
        result = fn(*args)
    except (RuntimeError, OSError) as exc:  # cuda.pathfinder: no libcuda on this machine
        raise CudaError(f"CUDA {fn_name} failed: no NVIDIA driver ({str(exc)[:120]})") from exc
    return check(result, fn_name)


def last_error(what: str) -> None:
    """Raise CudaError if the last launch or call left an error behind."""
    rt = runtime()
    check(rt.cudaGetLastError(), f"{what} (last error)")


@dataclass(frozen=True)
class DeviceInfo:
    """One GPU as CUDA reports it."""

    index: int
    name: str
    capability: tuple[int, int]
    memory_bytes: int
    multiprocessors: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "index": self.index,
            "name": self.name,
            "compute_capability": f"{self.capability[0]}.{self.capability[1]}",
            "memory_gib": round(self.memory_bytes / 2**30, 1),
            "multiprocessors": self.multiprocessors,
        }


def device_count() -> int:
    """CUDA devices visible to the runtime; 0 when there is no driver or no GPU."""
    try:
        rt = runtime()
    except MissingDependency:
        return 0
    err, count = rt.cudaGetDeviceCount()
    return int(count) if int(err) == 0 else 0


def device_info(index: int = 0) -> DeviceInfo:
    """Name, compute capability, memory and SM count of GPU ``index``."""
    rt = runtime()
    attr = rt.cudaDeviceAttr

    def get(a: Any) -> int:
        return int(check(rt.cudaDeviceGetAttribute(a, index), "cudaDeviceGetAttribute"))

    major = get(attr.cudaDevAttrComputeCapabilityMajor)
    minor = get(attr.cudaDevAttrComputeCapabilityMinor)
    sms = get(attr.cudaDevAttrMultiProcessorCount)
    props = check(rt.cudaGetDeviceProperties(index), "cudaGetDeviceProperties")
    raw = props.name or b"?"
    name = raw.split(b"\0", 1)[0].decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return DeviceInfo(index, name, (major, minor), int(props.totalGlobalMem), sms)


def use_device(index: int = 0) -> DeviceInfo:
    """Make GPU ``index`` current for this thread (primary context); CudaError if none."""
    count = device_count()
    if count == 0:
        raise CudaError("no CUDA GPU found (no driver or no device); see `ptx doctor`")
    if not 0 <= index < count:
        raise CudaError(f"GPU {index} does not exist: this machine has {count} (0..{count - 1})")
    rt = runtime()
    check(rt.cudaSetDevice(index), "cudaSetDevice")
    check(rt.cudaFree(0), "context creation")  # makes the primary context current now
    return device_info(index)


def parse_device(device: str) -> int:
    """GPU index from ``cuda``, ``cuda:N`` or ``gpu:N`` (``auto``: GPU 0; ``cpu`` refused)."""
    if device == "cpu":
        raise InputError("device 'cpu' names no GPU: this needs cuda or cuda:N")
    if device in ("auto", "cuda", "gpu"):
        return 0
    head, _, tail = device.partition(":")
    if head in ("cuda", "gpu") and tail.isdigit():
        return int(tail)
    raise InputError(f"device '{device}': use cuda or cuda:N")
