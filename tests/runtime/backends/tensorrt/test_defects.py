"""Defects found by reading the TensorRT path, each shown on the CPU (no TensorRT needed)."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from ptx.errors import InputError, ModelError
from ptx.runtime import load
from ptx.runtime.backends.tensorrt.compat import check_plan
from ptx.runtime.backends.tensorrt.engine import TensorRTEngine
from ptx.runtime.cuda import check_device, parse_device
from ptx.runtime.cuda.interop import _DLTensor, as_device_array
from ptx.spec import ModelSpec, TensorSpec


class FakeEngine:
    """The ICudaEngine calls TensorRTEngine._io makes, for one dynamic input and output."""

    num_io_tensors = 2
    names = ("image", "out")

    def get_tensor_name(self, i):
        return self.names[i]

    def get_tensor_dtype(self, name):
        return "DataType.FLOAT"

    def get_tensor_shape(self, name):
        return (-1, 3, -1, -1)

    def get_tensor_mode(self, name):
        return "TensorIOMode.INPUT" if name == "image" else "TensorIOMode.OUTPUT"


def test_sidecar_spec_names_the_dynamic_dims():
    spec = ModelSpec(
        task="enhance",
        inputs=[TensorSpec("image", "float32", ["batch", 3, "h", "w"])],
        outputs=[TensorSpec("out", "float32", ["batch", 3, "h", "w"])],
    )
    engine = object.__new__(TensorRTEngine)
    engine._engine = FakeEngine()
    inputs, outputs = engine._io(spec)  # before: 'dict' object is not callable
    assert inputs[0].shape == ("batch", 3, "h", "w") and outputs[0].name == "out"


def test_a_plan_on_the_cpu_is_one_clear_error(tmp_path):
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"vtrt" + bytes(60))
    with pytest.raises(InputError, match="runs on an NVIDIA GPU, not device 'cpu'"):
        load(plan, device="cpu")  # before: "cpu" reached TensorRT as GPU 0
    with pytest.raises(InputError, match="device 'cpu' names no GPU"):
        parse_device("cpu")
    assert parse_device("cuda:2") == 2 and parse_device("auto") == 0


def test_install_hints_name_what_exists(tmp_path):
    plan = tmp_path / "m.plan"
    for header, hint in ((b"ftrt", "pip install tensorrt,"), (b"vtrt", "ptx[tensorrt-rtx]")):
        plan.write_bytes(header + bytes(60))
        with pytest.raises(ModelError) as err:
            check_plan(plan, None, {})
        assert hint in str(err.value) and "ptx[tensorrt]" not in str(err.value)


class DLOnGpu:
    """A DLPack producer whose capsule says CUDA device ``index`` (as torch's cuda:1 does)."""

    def __init__(self, index: int) -> None:
        self.a, self.index = np.zeros((2, 3), np.float32), index

    def __dlpack_device__(self):
        return (2, self.index)

    def __dlpack__(self, **kw):
        capsule = self.a.__dlpack__()
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        t = _DLTensor.from_address(get(capsule, b"dltensor"))
        t.device.device_type, t.device.device_id = 2, self.index
        return capsule


def test_the_dlpack_device_id_is_kept_and_checked():
    arr = as_device_array(DLOnGpu(1))
    assert arr.device == 1 and arr.rows(0, 1).device == 1  # before: the id was dropped
    check_device(arr, 1, "input 'image'")
    with pytest.raises(InputError, match="input 'image' is on cuda:1, but this runs on cuda:0"):
        check_device(arr, 0, "input 'image'")
