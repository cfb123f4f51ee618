"""The CUDA double refuses what CUDA refuses, with CUDA's error codes, through ptx.runtime.cuda."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from cuda_state import POISON, cudaError_t

from ptx.runtime.cuda import (
    CudaError,
    DeviceBuffer,
    Event,
    PinnedBuffer,
    Stream,
    capture,
    copy_d2d,
    copy_d2h,
    copy_h2d,
    device_count,
    fill_bytes,
    use_device,
)
from ptx.runtime.cuda.interop import DeviceArray


def test_the_device_and_an_ordered_round_trip(gpu_doubles):
    assert device_count() == 1 and use_device(0).capability == (8, 9)
    with pytest.raises(CudaError, match="does not exist"):
        use_device(1)
    s, dev, dev2 = Stream(), DeviceBuffer((3, 5), np.float32), DeviceBuffer((3, 5), np.float32)
    src, out = PinnedBuffer((3, 5), np.float32), PinnedBuffer((3, 5), np.float32)
    src.array[:] = np.arange(15).reshape(3, 5)
    copy_h2d(dev, src.array, s.handle)
    copy_d2d(dev2, dev, s.handle)
    copy_d2h(out.array, dev2, s.handle)
    assert dev.ptr % 256 == 0 and np.isnan(out.array).all()  # read before the sync: poison
    s.synchronize()
    np.testing.assert_array_equal(out.array, src.array)
    fill_bytes(dev2, 0, s.handle)
    copy_d2h(out.array, dev2, s.handle)
    s.synchronize()
    assert not out.array.any()
    for buf in (dev, dev2, src, out):
        buf.close()
    s.close()


def test_pageable_sources_are_staged_at_the_call_pinned_ones_at_execution(gpu_doubles):
    s, dev, out = Stream(), DeviceBuffer((4,), np.uint8), np.zeros(4, np.uint8)
    host, pinned = np.full(4, 7, np.uint8), PinnedBuffer((4,), np.uint8)
    copy_h2d(dev, host, s.handle)
    host[:] = 9  # pageable: already staged, so 7 arrives
    copy_d2h(out, dev, s.handle)
    s.synchronize()
    assert (out == 7).all()
    pinned.array[:] = 1
    copy_h2d(dev, pinned.array, s.handle)
    pinned.array[:] = 2  # pinned: read when the copy runs, so 2 arrives (a real race)
    copy_d2h(out, dev, s.handle)
    s.synchronize()
    assert (out == 2).all() and POISON == 0xFF


def test_copies_past_the_end_after_a_free_or_of_the_wrong_kind_are_invalid_value(gpu_doubles):
    dev = DeviceBuffer((4,), np.float32)
    big = DeviceArray(dev.ptr, (8,), np.dtype(np.float32))
    with pytest.raises(CudaError, match="cudaErrorInvalidValue"):
        copy_h2d(big, np.zeros(8, np.float32))
    assert "past the end" in gpu_doubles.why
    ptr = dev.ptr
    dev.close()
    with pytest.raises(CudaError, match="cudaErrorInvalidValue"):
        copy_h2d(DeviceArray(ptr, (4,), np.dtype(np.float32)), np.zeros(4, np.float32))
    assert "use after free" in gpu_doubles.why
    with pytest.raises(CudaError, match="cudaFree"):
        from ptx.runtime.cuda.api import check, runtime

        check(runtime().cudaFree(ptr), "cudaFree")  # a double free


def test_queued_work_on_freed_memory_is_a_sticky_illegal_address(gpu_doubles):
    from cuda_state import Op

    s, dev = Stream(), DeviceBuffer((4,), np.float32)
    ptr = dev.ptr
    dev.close()
    gpu_doubles.issue(s.handle, Op("kernel", lambda: gpu_doubles.view(ptr, 16)))
    with pytest.raises(CudaError, match="cudaErrorIllegalAddress"):
        s.synchronize()
    with pytest.raises(CudaError, match="cudaErrorIllegalAddress"):
        DeviceBuffer((1,), np.float32)  # sticky: the context is lost, as on a GPU


def test_events_order_streams_and_query_progresses(gpu_doubles):
    a, b, ev = Stream(), Stream(), Event(timing=True)
    dev, out = DeviceBuffer((2,), np.int32), np.zeros(2, np.int32)
    copy_h2d(dev, np.array([3, 4], np.int32), a.handle)
    ev.record(a.handle)
    b.wait(ev)
    copy_d2h(out, dev, b.handle)
    assert ev.done() is False and ev.done() is True  # NotReady, then it has run
    b.synchronize()
    assert out.tolist() == [3, 4]
    start = Event(timing=True)
    start.record(a.handle)
    ev.record(a.handle)
    ev.synchronize()
    assert ev.ms_since(start) >= 0.0
    with pytest.raises(CudaError, match="cudaErrorInvalidResourceHandle"):
        ev.ms_since(Event())  # no timing flag


def test_a_graph_replays_and_is_refused_after_its_buffers_moved(gpu_doubles):
    s, dev, out = Stream(), DeviceBuffer((2,), np.int32), np.zeros(2, np.int32)
    copy_h2d(dev, np.array([5, 6], np.int32), s.handle)
    graph = capture(s.handle, lambda: fill_bytes(dev, 1, s.handle))
    assert graph is not None
    graph.launch(s.handle)
    copy_d2h(out, dev, s.handle)
    s.synchronize()
    assert out.tolist() == [0x01010101] * 2
    with pytest.raises(CudaError, match="cudaStreamSynchronize failed: cudaErrorStreamCapture"):
        capture(s.handle, lambda: s.synchronize())
    dev.close()
    with pytest.raises(CudaError, match="cudaErrorIllegalAddress"):
        graph.launch(s.handle)
    graph.close()


def test_error_codes_are_cudas_own():
    if importlib.util.find_spec("cuda.bindings") is None:
        pytest.skip("cuda-python is not installed: nothing to compare with")
    from cuda.bindings import driver, runtime
    from cudadrv import CUresult

    for code in cudaError_t:
        assert int(getattr(runtime.cudaError_t, code.name)) == code.value
    for code in CUresult:
        assert int(getattr(driver.CUresult, code.name)) == code.value


def test_capture_falls_back_when_cuda_refuses_it(gpu_doubles):
    s = Stream()
    assert capture(0, lambda: None) is None  # the legacy stream cannot be captured
    assert capture(s.handle, lambda: False) is None  # the enqueue itself said no
    import cudart
    from cuda_state import cudaError_t as codes

    real = cudart.cudaGraphInstantiate
    cudart.cudaGraphInstantiate = lambda g, f: (codes.cudaErrorInvalidValue, None)
    try:
        assert capture(s.handle, lambda: None) is None
    finally:
        cudart.cudaGraphInstantiate = real


def test_modules_load_launch_and_unload(gpu_doubles):
    from ptx.runtime.cuda import Module

    with pytest.raises(CudaError, match="CUDA_ERROR_INVALID_IMAGE"):
        Module(b"not a kernel")
    m = Module(b"// PTX\n.entry ptx_postprocess(\n)\n{\n}\n")
    with pytest.raises(CudaError, match="CUDA_ERROR_NOT_FOUND"):
        m.function("nope")
    m.close()
    m.close()


def test_a_missing_cuda_python_is_one_install_line(monkeypatch):
    import sys

    from ptx.errors import MissingDependency
    from ptx.runtime.cuda import api, is_double

    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings.driver", None)
    pkg = sys.modules.get("cuda.bindings")
    for name in ("runtime", "driver"):
        if pkg is not None and hasattr(pkg, name):
            monkeypatch.delattr(pkg, name)
    api.runtime.cache_clear()
    api.driver.cache_clear()
    try:
        assert device_count() == 0 and is_double() is False
        with pytest.raises(MissingDependency, match="pip install 'ptx\\[gpu\\]'"):
            api.driver()
    finally:
        api.runtime.cache_clear()
        api.driver.cache_clear()


def test_an_event_outlives_the_stream_it_was_recorded_on(gpu_doubles):
    """CUDA keeps an event valid after its stream is destroyed: waiting on it is allowed."""
    a, b, ev = Stream(), Stream(), Event(timing=True)
    dev, out = DeviceBuffer((2,), np.int32), np.zeros(2, np.int32)
    copy_h2d(dev, np.array([5, 6], np.int32), a.handle)
    ev.record(a.handle)
    b.wait(ev)  # queued before the destroy: its wait must still hold
    a.close()
    b.wait(ev)  # and after it
    copy_d2h(out, dev, b.handle)
    b.synchronize()
    assert out.tolist() == [5, 6] and ev.done() is True
    ev.synchronize()
