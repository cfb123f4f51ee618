"""TensorRTEngine end to end on the doubles: a real plan, its ONNX's numbers, strict CUDA."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort
import pytest

from ptx.errors import InputError
from ptx.runtime import load
from ptx.runtime.backends.tensorrt import context as trt_context
from ptx.runtime.cuda import DeviceBuffer, Stream, copy_d2h, copy_h2d

RNG = np.random.default_rng(7)


def reference(plan, x):
    return ort.InferenceSession(str(plan.with_suffix(".onnx"))).run(None, {"image": x})[0]


def test_a_plan_with_a_sidecar_spec_loads_and_runs(plan, gpu_doubles):
    engine = load(plan)  # the sidecar's spec names the dynamic dims (dynamic_dims fix)
    assert engine.device == "cuda:0" and engine.inputs[0].shape == ("batch", 3, "height", "width")
    x = RNG.random((3, 3, 16, 24), dtype=np.float32)
    np.testing.assert_array_equal(engine.run({"image": x})["out"], reference(plan, x))
    engine.close()


def test_a_batch_beyond_the_profile_is_chunked(plan, gpu_doubles):
    x = RNG.random((11, 3, 8, 8), dtype=np.float32)
    engine = load(plan)
    assert [(c.start, c.stop) for c in engine.plan({"image": x.shape})] == [(0, 4), (4, 8), (8, 11)]
    np.testing.assert_array_equal(engine.run({"image": x})["out"], reference(plan, x))
    with pytest.raises(InputError, match="profile 0: image"):
        load(plan, allow_chunking=False).run({"image": x})


def test_contexts_serve_concurrent_callers(plan, gpu_doubles):
    engine = load(plan, contexts=2)
    xs = [RNG.random((2, 3, 8 * (1 + i % 2), 16), dtype=np.float32) for i in range(6)]
    with ThreadPoolExecutor(3) as pool:
        outs = list(pool.map(lambda x: engine.run({"image": x})["out"], xs))
    for x, y in zip(xs, outs, strict=True):
        np.testing.assert_array_equal(y, reference(plan, x))


def test_graphs_replay_and_survive_buffer_eviction(plan, gpu_doubles, monkeypatch):
    monkeypatch.setattr(trt_context, "MAX_SHAPES", 2)
    engine = load(plan, cuda_graph=True)
    sizes = [8, 16, 24, 8, 8]  # the 8x8 buffers are evicted, then needed again
    for h in sizes:
        x = RNG.random((1, 3, h, 8), dtype=np.float32)
        # a graph replayed into freed buffers would be cudaErrorIllegalAddress on the double
        np.testing.assert_array_equal(engine.run({"image": x})["out"], reference(plan, x))
    replays = [t for t in gpu_doubles.timeline if isinstance(t[4], tuple) and t[1] == "done"]
    assert replays, "no graph was replayed"


def test_device_arrays_in_place_on_a_caller_stream(plan, gpu_doubles):
    engine = load(plan, cuda_graph=True)
    x = RNG.random((2, 3, 16, 16), dtype=np.float32)
    dx, dy, out, s = DeviceBuffer(x.shape, x.dtype), DeviceBuffer(x.shape, x.dtype), None, Stream()
    for _ in range(2):
        copy_h2d(dx, x, s.handle)
        engine.run_device({"image": dx.array}, {"out": dy.array}, stream=s)
        out = np.zeros_like(x)
        copy_d2h(out, dy, s.handle)
        s.synchronize()
        np.testing.assert_array_equal(out, reference(plan, x))
    new = engine.run_device({"image": dx.array})["out"]  # allocated, synchronised
    assert new.shape == x.shape
