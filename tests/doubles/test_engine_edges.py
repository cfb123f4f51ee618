"""TensorRTEngine's less travelled paths on the doubles: profiles, refusals, chunked device runs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import trt_double
from models import enhancer_onnx, profile, sidecar_plan

from ptx.errors import InputError, MissingDependency, ModelError
from ptx.runtime.backends.tensorrt import TensorRTEngine
from ptx.runtime.backends.tensorrt import engine as trt_engine
from ptx.runtime.cuda import CudaError, DeviceBuffer, Stream, copy_d2h, copy_h2d
from ptx.runtime.cuda.interop import DeviceArray

RNG = np.random.default_rng(3)
SMALL = profile((1, 3, 8, 8), (1, 3, 8, 8), (2, 3, 16, 16))
LARGE = profile((1, 3, 17, 17), (2, 3, 32, 32), (3, 3, 64, 64))


@pytest.fixture
def onnx(tmp_path, gpu_doubles):
    return enhancer_onnx(tmp_path / "e.onnx")


def ref(onnx, x):
    return ort.InferenceSession(str(onnx)).run(None, {"image": x})[0]


def test_profiles_switch_and_shapes_are_set_again(onnx, tmp_path):
    engine = TensorRTEngine(sidecar_plan(tmp_path, onnx, [SMALL, LARGE]))
    for shape in [(2, 3, 8, 8), (3, 3, 32, 20), (1, 3, 16, 16), (5, 3, 8, 8)]:
        x = RNG.random(shape, dtype=np.float32)
        np.testing.assert_array_equal(engine.run({"image": x})["out"], ref(onnx, x))
    with pytest.raises(InputError, match="fits no optimisation profile"):
        engine.run({"image": RNG.random((1, 3, 80, 8), dtype=np.float32)})
    engine.close()
    with pytest.raises(ModelError, match="engine is closed"):
        engine.run({"image": RNG.random((1, 3, 8, 8), dtype=np.float32)})


def test_chunked_device_runs_fill_caller_outputs(onnx, tmp_path):
    engine = TensorRTEngine(sidecar_plan(tmp_path, onnx, [SMALL]))
    x = RNG.random((5, 3, 8, 8), dtype=np.float32)  # 2 + 2 + 1 under a max batch of 2
    dx, dy, s, out = DeviceBuffer(x.shape, x.dtype), DeviceBuffer(x.shape, x.dtype), Stream(), None
    copy_h2d(dx, x, s.handle)
    engine.run_device({"image": dx.array}, {"out": dy.array}, stream=s)
    out = np.zeros_like(x)
    copy_d2h(out, dy, s.handle)
    s.synchronize()
    np.testing.assert_array_equal(out, ref(onnx, x))
    fresh = engine.run_device({"image": dx.array})["out"]
    assert fresh.shape == x.shape
    with pytest.raises(InputError, match="needs a writable float32"):
        engine.run_device({"image": dx.array}, {"out": DeviceBuffer((1,), np.float32).array})
    with pytest.raises(InputError, match="device arrays are never cast"):
        engine.run_device({"image": DeviceBuffer(x.shape, np.float16).array})
    other = DeviceArray(dy.ptr, x.shape, np.dtype(np.float32), device=1)
    with pytest.raises(InputError, match="output 'out' is on cuda:1"):
        engine.run_device({"image": dx.array}, {"out": other})


def test_refusals_at_load(onnx, tmp_path, monkeypatch):
    with pytest.raises(InputError, match="contexts must be >= 1"):
        TensorRTEngine(sidecar_plan(tmp_path, onnx, [SMALL]), contexts=0)
    with pytest.raises(ModelError, match="BF16, which has no NumPy dtype"):
        TensorRTEngine(sidecar_plan(tmp_path, onnx, [SMALL], dtype="bf16"))
    plan = sidecar_plan(tmp_path, onnx, [SMALL])
    onnx.write_bytes(onnx.read_bytes() + b" ")  # the plan's source changed since the build
    with pytest.raises(ValueError, match="changed since"):
        TensorRTEngine(plan)

    def missing(name):
        raise MissingDependency("tensorrt", "tensorrt", "--trt tensorrt")

    monkeypatch.setattr(trt_engine, "detect", missing)
    with pytest.raises(ModelError, match="pip install 'ptx\\[tensorrt-rtx\\]'"):
        TensorRTEngine(plan)


class Blind(list):
    def append(self, item):  # the double cannot see which plan was opened
        pass


def test_a_plan_tensorrt_cannot_deserialise_is_one_line(onnx, tmp_path, monkeypatch):
    plan = sidecar_plan(tmp_path, onnx, [SMALL])
    monkeypatch.setattr(trt_double, "PLANS", Blind())
    with pytest.raises(ModelError, match="could not load the plan .*no sidecar"):
        TensorRTEngine(plan)


def test_a_fault_in_queued_work_surfaces_as_one_cuda_error(onnx, tmp_path, gpu_doubles):
    engine = TensorRTEngine(sidecar_plan(tmp_path, onnx, [SMALL]))
    dx = DeviceBuffer((1, 3, 8, 8), np.float32)
    small = DeviceBuffer((1, 3, 4, 8), np.float32)
    short = DeviceArray(small.ptr, (1, 3, 8, 8), dx.dtype)
    with pytest.raises(CudaError, match="cudaErrorIllegalAddress"):
        engine.run_device({"image": dx.array}, {"out": short})  # output runs past its block
    assert "past the end" in gpu_doubles.why


def test_unaligned_device_arrays_go_through_aligned_scratch(onnx, tmp_path, gpu_doubles):
    tiny = profile((1, 3, 4, 4), (2, 3, 5, 5), (2, 3, 16, 16))
    engine = TensorRTEngine(sidecar_plan(tmp_path, onnx, [tiny]))
    x = RNG.random((5, 3, 5, 5), dtype=np.float32)  # 300-byte rows: chunk 2 starts at 600
    dx, dy, s = DeviceBuffer(x.shape, x.dtype), DeviceBuffer(x.shape, x.dtype), Stream()
    copy_h2d(dx, x, s.handle)
    for _ in range(2):  # before: "TensorRT refused the address of 'image'" on chunk 2
        engine.run_device({"image": dx.array}, {"out": dy.array}, stream=s)
        out = np.zeros_like(x)
        copy_d2h(out, dy, s.handle)
        s.synchronize()
        np.testing.assert_array_equal(out, ref(onnx, x))
    assert len(engine._contexts[0].scratches) == 4  # in + out for chunks of 2 and 1, reused
    engine.close()
