"""CUDA through cuda-python, lazily: devices, streams, events, memory, kernels, interop.

Importing this package needs only NumPy; ``cuda.bindings`` loads on first use and a
missing install is one MissingDependency line (pip install 'ptx[gpu]').
"""

from ptx.runtime.cuda.api import (
    CudaError,
    DeviceInfo,
    check,
    device_count,
    device_info,
    is_double,
    parse_device,
    use_device,
)
from ptx.runtime.cuda.interop import DeviceArray, as_device_array, check_device, stream_handle
from ptx.runtime.cuda.memory import (
    DeviceBuffer,
    PinnedBuffer,
    copy_d2d,
    copy_d2h,
    copy_h2d,
    fill_bytes,
)
from ptx.runtime.cuda.module import Module
from ptx.runtime.cuda.stream import Event, Graph, Stream, capture

__all__ = [
    "CudaError",
    "DeviceArray",
    "DeviceBuffer",
    "DeviceInfo",
    "Event",
    "Graph",
    "Module",
    "PinnedBuffer",
    "Stream",
    "as_device_array",
    "capture",
    "check",
    "check_device",
    "copy_d2d",
    "copy_d2h",
    "copy_h2d",
    "device_count",
    "device_info",
    "fill_bytes",
    "is_double",
    "parse_device",
    "stream_handle",
    "use_device",
]
