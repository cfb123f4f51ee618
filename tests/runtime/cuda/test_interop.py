"""Zero-copy array interop and stream handles (parsing only: no GPU needed)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.runtime.cuda import CudaError, device_count, parse_device, use_device
from ptx.runtime.cuda.interop import (
    DeviceArray,
    as_device_array,
    c_strides,
    dlpack_fields,
    stream_handle,
)


class Cai:
    """An object exposing a given __cuda_array_interface__ (what CuPy / Numba hand over)."""

    def __init__(self, **cai):
        self.__cuda_array_interface__ = {"version": 3, "strides": None, **cai}


def test_cuda_array_interface_is_read_zero_copy():
    arr = as_device_array(Cai(shape=(2, 3, 4), typestr="<f2", data=(0x7000, False), stream=5))
    assert (arr.ptr, arr.shape, arr.dtype, arr.stream) == (0x7000, (2, 3, 4), np.float16, 5)
    assert arr.nbytes == 48
    same = as_device_array(Cai(shape=(2, 3), typestr="|u1", data=(0x10, True), strides=(3, 1)))
    assert same.readonly and same.shape == (2, 3)
    back = arr.__cuda_array_interface__
    assert back["data"] == (0x7000, False) and back["typestr"] == "<f2" and back["version"] == 3


def test_non_contiguous_masked_and_null_arrays_are_refused():
    with pytest.raises(InputError, match="not C-contiguous"):
        as_device_array(Cai(shape=(2, 3), typestr="<f4", data=(16, False), strides=(4, 8)))
    with pytest.raises(InputError, match="masked"):
        as_device_array(Cai(shape=(2,), typestr="<f4", data=(16, False), mask=object()))
    with pytest.raises(InputError, match="null pointer"):
        as_device_array(Cai(shape=(2,), typestr="<f4", data=(0, False)))


def test_host_arrays_where_a_device_array_is_required_are_one_line():
    with pytest.raises(InputError) as err:
        as_device_array(np.zeros((2, 3), np.float32), "input 'image'")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("input 'image': a host (NumPy) array")
    assert "cupy.asarray" in msg

    class DLHost:  # DLPack only, CPU device (what a torch CPU tensor or JAX CPU array says)
        def __init__(self):
            self.a = np.arange(6, dtype=np.float32)

        def __dlpack__(self, **kw):
            return self.a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    with pytest.raises(InputError, match="a host \\(CPU\\) array where a GPU array"):
        as_device_array(DLHost())
    with pytest.raises(InputError, match="list is not a GPU array"):
        as_device_array([1, 2, 3])


def test_dlpack_capsule_fields():
    a = np.arange(24, dtype=np.float16).reshape(2, 3, 4)[:, 1:]
    f = dlpack_fields(a.__dlpack__())
    assert f["ptr"] == a.ctypes.data and f["shape"] == (2, 2, 4) and f["dtype"] == np.float16
    assert f["device"] == (1, 0)
    assert f["strides"] in (None, a.strides)
    assert f["strides"] != c_strides(a.shape, 2)  # a slice: not contiguous, and it says so
    b = np.zeros(3, dtype=np.uint8)
    assert dlpack_fields(b.__dlpack__())["dtype"] == np.uint8


def test_rows_view_offsets_the_pointer():
    arr = DeviceArray(1000, (10, 3, 4, 4), np.dtype(np.float32))
    part = arr.rows(4, 7)
    assert part.ptr == 1000 + 4 * 3 * 4 * 4 * 4 and part.shape == (3, 3, 4, 4)
    with pytest.raises(InputError):
        arr.rows(8, 11)


def test_stream_handles():
    class TorchLike:
        cuda_stream = 1234

    class CoreLike:
        def __cuda_stream__(self):
            return (0, 99)

    assert stream_handle(None) is None
    assert stream_handle(7) == 7
    assert stream_handle(TorchLike()) == 1234
    assert stream_handle(CoreLike()) == 99
    with pytest.raises(InputError, match="not a CUDA stream"):
        stream_handle("default")


def test_device_names():
    assert parse_device("cuda") == 0 and parse_device("cuda:3") == 3
    with pytest.raises(InputError, match="use cuda or cuda:N"):
        parse_device("tpu")


@pytest.mark.skipif(device_count() > 0, reason="this machine has a GPU")
def test_no_gpu_is_a_clean_error():
    with pytest.raises(CudaError, match="no CUDA GPU found"):
        use_device(0)


def test_importing_the_cuda_package_loads_neither_cuda_nor_torch():
    code = (
        "import sys, ptx.runtime.cuda, ptx.runtime.kernels, ptx.runtime.backends.tensorrt; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorrt_rtx', 'cupy')"
        " or m.startswith('cuda.bindings')]; print(bad); assert not bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
