"""The GPU enhance pipeline on the doubles: same pixels as the CPU pipeline, batches overlapped."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import InputError, ModelError
from ptx.runtime import load
from ptx.runtime.pipelines.enhance import enhance_arrays, image_convention
from ptx.runtime.pipelines.gpu import GpuEnhancer, engine_model, enhance_arrays_gpu

RNG = np.random.default_rng(11)


def test_the_gpu_pipeline_equals_the_cpu_pipeline(plan, gpu_doubles):
    images = [RNG.integers(0, 256, (20, 28, 3), dtype=np.uint8) for _ in range(3)]
    images += [RNG.integers(0, 256, (9, 33, 3), dtype=np.uint8)]
    engine = load(plan)
    got = enhance_arrays_gpu(engine, images, image_convention(engine, None), batch=2)
    cpu = load(plan.with_suffix(".onnx"))
    want = enhance_arrays(cpu, images, batch=2)
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape and np.array_equal(a, b)


def test_copy_of_batch_i_plus_1_is_issued_before_compute_of_batch_i_completes(plan, gpu_doubles):
    engine = load(plan)
    images = [RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(4)]
    enhance_arrays_gpu(engine, images, image_convention(engine, None), batch=1)
    t = gpu_doubles.timeline
    computes = [e for e in t if e[3] == "tensorrt enqueueV3"]
    uploads = [e for e in t if e[3] == "memcpy H2D" and e[1] == "issue"]
    first_done = next(e for e in computes if e[1] == "done")
    second_upload = uploads[1]
    assert second_upload[2] != first_done[2]  # the other slot's stream
    assert second_upload[0] < first_done[0], "batch 1's copy waited for batch 0's compute"
    streams = {e[2] for e in uploads}
    assert len(streams) == 2  # double-buffered: two streams take turns


def test_the_pipeline_refuses_what_it_cannot_feed(plan, gpu_doubles):
    cpu = load(plan.with_suffix(".onnx"))
    with pytest.raises(ModelError, match="has no GPU path"):
        engine_model(cpu)
    run, *_ = engine_model(load(plan))
    with pytest.raises(ModelError, match="float16/float32"):
        GpuEnhancer(run, image_convention(cpu, None), np.uint8)
    gpu = GpuEnhancer(run, image_convention(cpu, None))
    with pytest.raises(InputError, match="no images"):
        gpu.submit([])
    with pytest.raises(InputError, match="batch must be"):
        enhance_arrays_gpu(run, [], image_convention(cpu, None), batch=0)
