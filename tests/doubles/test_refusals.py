"""What ptx does when TensorRT or CUDA says no: one line naming the call and TensorRT's reason."""

from __future__ import annotations

import numpy as np
import pytest
import trt_double
from models import enhancer_onnx, profile, sidecar_plan

from ptx.errors import InputError, ModelError
from ptx.runtime.backends.tensorrt import TensorRTEngine
from ptx.runtime.cuda import DeviceBuffer, copy_d2d, copy_d2h, copy_h2d
from ptx.runtime.kernels.ops import kernels_for
from ptx.runtime.kernels.params import inverse_params, pad_params
from ptx.spec import ImageConvention

SMALL = profile((1, 3, 8, 8), (1, 3, 8, 8), (2, 3, 16, 16))
BOTH = [SMALL, profile((1, 3, 17, 17), (1, 3, 20, 20), (2, 3, 32, 32))]
X = np.zeros((1, 3, 8, 8), np.float32)
Ctx = trt_double.IExecutionContext


@pytest.fixture
def plan(tmp_path, gpu_doubles):
    return sidecar_plan(tmp_path, enhancer_onnx(tmp_path / "e.onnx"), BOTH)


def say_no(monkeypatch, name, value=False):
    def refuse(self, *args):
        self.engine._logger.log(trt_double.ILogger.Severity.ERROR, f"{name}: no")
        return value

    monkeypatch.setattr(Ctx, name, refuse)


@pytest.mark.parametrize(
    ("method", "x", "match"),
    [
        ("set_optimization_profile_async", np.zeros((1, 3, 20, 20), np.float32), "profile 1"),
        ("set_input_shape", X, "refused shape \\[1, 3, 8, 8\\]"),
        ("set_tensor_address", X, "refused the address of 'image'"),
        ("execute_async_v3", X, "execute_async_v3 failed: execute_async_v3: no"),
    ],
)
def test_a_refusal_is_one_line_with_tensorrts_reason(plan, monkeypatch, method, x, match):
    engine = TensorRTEngine(plan)
    say_no(monkeypatch, method)
    with pytest.raises((ModelError, InputError), match=match) as err:
        engine.run({"image": x})
    assert "\n" not in str(err.value)


def test_no_context_and_unresolved_outputs(plan, monkeypatch):
    monkeypatch.setattr(Ctx, "get_tensor_shape", lambda self, name: (-1, 3, 8, 8))
    with pytest.raises(ModelError, match="left output 'out' shape \\[-1, 3, 8, 8\\] unresolved"):
        TensorRTEngine(plan).run({"image": X})
    monkeypatch.setattr(trt_double.ICudaEngine, "create_execution_context", lambda self: None)
    with pytest.raises(ModelError, match="could not create an execution context"):
        TensorRTEngine(plan)


def test_copy_size_mismatches_are_one_line(gpu_doubles):
    a, b = DeviceBuffer((4,), np.float32), DeviceBuffer((5,), np.float32)
    with pytest.raises(InputError, match="copy of 20 bytes into a 16-byte"):
        copy_h2d(a, np.zeros(5, np.float32))
    with pytest.raises(InputError, match="writable contiguous 16-byte"):
        copy_d2h(np.zeros(8, np.float32)[::2], a)
    with pytest.raises(InputError, match="copy of 20 bytes into a 16-byte"):
        copy_d2d(a, b)


def test_empty_batches_launch_nothing(gpu_doubles):
    k = kernels_for(0)
    pre = pad_params((4, 4), ImageConvention())
    post = inverse_params(pre, ImageConvention())
    src, x = DeviceBuffer((0, 4, 4, 3), np.uint8), DeviceBuffer((0, 3, 4, 4), np.float32)
    k.preprocess(src, x, pre)
    k.postprocess(x, src, post)
    assert not [t for t in gpu_doubles.timeline if t[3].startswith("kernel")]


def test_wrong_input_names_are_one_line(plan):
    with pytest.raises(InputError, match="inputs \\['image'\\] expected, got \\['x'\\]"):
        TensorRTEngine(plan).run({"x": X})
