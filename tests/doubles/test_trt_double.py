"""The TensorRT double: the real API's names, TensorRT's refusals, the plan's ONNX computed."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
import trt_double
from models import has_builder

from ptx.runtime.cuda import DeviceBuffer, Event, Stream, copy_d2h, copy_h2d

CLASSES = ("Runtime", "ICudaEngine", "IExecutionContext", "ILogger", "Logger", "DataType")
CLASSES += ("TensorIOMode",)
REAL = importlib.import_module("tensorrt_rtx") if has_builder() else None  # before any double


def test_every_name_the_double_defines_exists_on_real_tensorrt_rtx():
    if REAL is None:
        pytest.skip("no tensorrt_rtx installed to compare with")
    real = REAL
    for cls in CLASSES:
        mine = getattr(trt_double, cls)
        names = {n for n, _ in inspect.getmembers(mine) if not n.startswith("_")}
        if isinstance(mine, type) and issubclass(mine, trt_double.Enum):
            names = set(mine.__members__) | {"name", "value"}
        missing = sorted(n for n in names if not hasattr(getattr(real, cls), n))
        assert not missing, f"{cls}: the double defines {missing}, real tensorrt_rtx does not"
    severities = set(real.ILogger.Severity.__members__)
    assert set(trt_double.ILogger.Severity.__members__) <= severities


class Log(trt_double.ILogger):
    def __init__(self):
        super().__init__()
        self.lines = []

    def log(self, severity, msg):
        self.lines.append(msg)


@pytest.fixture
def ctx(plan, gpu_doubles):
    log = Log()
    trt_double.PLANS.append(plan)
    engine = trt_double.Runtime(log).deserialize_cuda_engine(plan.read_bytes())
    return engine.create_execution_context(), log


def test_the_engine_reads_io_and_profiles_from_the_plans_sidecar(ctx):
    engine = ctx[0].engine
    if REAL is not None:  # instance attributes too: private ones start with _
        for obj, cls in ((engine, REAL.ICudaEngine), (ctx[0], REAL.IExecutionContext)):
            public = [n for n in vars(obj) if not n.startswith("_")]
            assert all(hasattr(cls, n) for n in public), public
    assert engine.num_io_tensors == 2 and engine.num_optimization_profiles == 1
    assert [engine.get_tensor_name(i) for i in range(2)] == ["image", "out"]
    assert str(engine.get_tensor_mode("image")) == "TensorIOMode.INPUT"
    assert engine.get_tensor_dtype("out") == trt_double.DataType.FLOAT
    assert engine.get_tensor_profile_shape("image", 0)[2] == (4, 3, 64, 64)


def test_refusals_are_tensorrts(ctx, gpu_doubles):
    c, log = ctx
    x, y = DeviceBuffer((1, 3, 8, 8), np.float32), DeviceBuffer((1, 3, 8, 8), np.float32)
    s = Stream()
    assert (
        c.execute_async_v3(s.handle) is False
        and "input shape of ['image'] not set" in log.lines[-1]
    )
    assert c.set_input_shape("image", (8, 3, 8, 8)) is False  # batch 8 > the profile's 4
    assert "does not satisfy any optimization profiles" in log.lines[-1]
    assert c.set_input_shape("image", (1, 3, 8, 8))
    assert tuple(c.get_tensor_shape("out")) == (1, 3, 8, 8)
    assert c.set_tensor_address("image", x.ptr)
    assert c.execute_async_v3(s.handle) is False and "Neither address" in log.lines[-1]
    assert c.set_tensor_address("out", y.ptr + 4) is False and "aligned to 256" in log.lines[-1]
    assert c.set_tensor_address("out", y.ptr)
    assert all("Error Code 3: API Usage Error" in line for line in log.lines)
    assert c.execute_async_v3(s.handle)
    other = Stream()
    assert c.execute_async_v3(other.handle) is False  # still in flight on s
    assert "still in use on another stream" in log.lines[-1]
    done = Event()
    done.record(s.handle)
    other.wait(done)
    assert c.execute_async_v3(other.handle)  # ordered after s's work: allowed
    assert c.set_optimization_profile_async(3, s.handle) is False


def test_the_enqueue_computes_the_onnx_on_device_memory(ctx, plan):
    import onnxruntime as ort

    c, _ = ctx
    x = np.random.default_rng(1).random((2, 3, 16, 24), dtype=np.float32)
    dx, dy = DeviceBuffer(x.shape, np.float32), DeviceBuffer(x.shape, np.float32)
    s, out = Stream(), np.zeros_like(x)
    copy_h2d(dx, x, s.handle)
    c.set_input_shape("image", x.shape)
    c.set_tensor_address("image", dx.ptr)
    c.set_tensor_address("out", dy.ptr)
    assert c.execute_async_v3(s.handle)
    copy_d2h(out, dy, s.handle)
    s.synchronize()
    want = ort.InferenceSession(str(plan.with_suffix(".onnx"))).run(None, {"image": x})[0]
    np.testing.assert_array_equal(out, want)


def test_an_unknown_plan_is_none_and_an_error(gpu_doubles):
    log = Log()
    assert trt_double.Runtime(log).deserialize_cuda_engine(b"junk") is None
    assert "Magic tag does not match" in log.lines[-1]
    assert trt_double.Runtime(log).deserialize_cuda_engine(b"vtrt" + bytes(9)) is None
    assert "no sidecar" in log.lines[-1]
