"""GPU: memory, copies, streams, events, graph capture and interop of ptx.runtime.cuda."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.runtime import cuda
from ptx.runtime.kernels.params import letterbox_params
from ptx.spec import ImageConvention

pytestmark = pytest.mark.gpu
RNG = np.random.default_rng(int(np.random.SeedSequence().entropy % 2**32))


@pytest.fixture(scope="module")
def gpu():
    return cuda.use_device(0)


def test_device_info(gpu):
    assert gpu.name and gpu.capability >= (7, 5) and gpu.multiprocessors > 0
    assert gpu.memory_bytes > 2**30


def test_pinned_round_trip_through_device_memory(gpu):
    data = RNG.standard_normal((3, 257, 129)).astype(np.float32)
    stage = cuda.PinnedBuffer(data.shape, np.float32)
    back = cuda.PinnedBuffer(data.shape, np.float32)
    a, b = cuda.DeviceBuffer(data.shape, np.float32), cuda.DeviceBuffer(data.shape, np.float32)
    stream = cuda.Stream()
    np.copyto(stage.array, data)
    back.array[...] = np.nan
    cuda.fill_bytes(b, 0xFF, stream.handle)
    cuda.copy_h2d(a, stage.array, stream.handle)
    cuda.copy_d2d(b, a, stream.handle)
    cuda.copy_d2h(back.array, b, stream.handle)
    stream.synchronize()
    np.testing.assert_array_equal(back.array, data)
    for buf in (stage, back, a, b):
        buf.close()
    stream.close()


def test_events_time_work_and_order_streams(gpu):
    first, second = cuda.Stream(), cuda.Stream()
    start, end = cuda.Event(timing=True), cuda.Event(timing=True)
    n = 1 << 26
    src, dst = cuda.DeviceBuffer((n,), np.uint8), cuda.DeviceBuffer((n,), np.uint8)
    cuda.fill_bytes(src, 7, first.handle)
    start.record(first.handle)
    cuda.copy_d2d(dst, src, first.handle)
    end.record(first.handle)
    second.wait(end)
    out = np.zeros(16, np.uint8)
    cuda.copy_d2h(out, dst.array.rows(0, 16), second.handle)
    second.synchronize()
    assert end.done() and end.ms_since(start) > 0
    assert out.tolist() == [7] * 16


def test_graph_capture_replays_a_kernel(gpu):
    from ptx.runtime.kernels.ops import kernels_for
    from ptx.runtime.kernels.reference import preprocess_reference

    k = kernels_for(0)
    p = letterbox_params((40, 40), (24, 24), ImageConvention(), dtype="float32")
    src = cuda.DeviceBuffer((2, 40, 40, 3), np.uint8)
    dst = cuda.DeviceBuffer(p.out_shape(2), np.float32)
    stream = cuda.Stream()
    graph = cuda.capture(stream.handle, lambda: k.preprocess(src, dst, p, stream.handle))
    assert graph is not None
    for _ in range(2):  # replays read the current contents of src
        batch = RNG.integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
        cuda.copy_h2d(src, batch, stream.handle)
        cuda.fill_bytes(dst, 0xFF, stream.handle)
        graph.launch(stream.handle)
        out = np.empty(p.out_shape(2), np.float32)
        cuda.copy_d2h(out, dst, stream.handle)
        stream.synchronize()
        np.testing.assert_allclose(out, preprocess_reference(batch, p), rtol=1e-5, atol=1e-5)
    graph.close()


def test_interop_pointers_are_the_frameworks_own(gpu):
    cp = pytest.importorskip("cupy")
    torch = pytest.importorskip("torch")
    c = cp.arange(12, dtype=cp.float32).reshape(3, 4)
    assert cuda.as_device_array(c).ptr == c.data.ptr
    t = torch.arange(12, dtype=torch.float16, device="cuda").reshape(3, 4)
    arr = cuda.as_device_array(t)
    assert arr.ptr == t.data_ptr() and arr.dtype == np.float16 and arr.shape == (3, 4)
    buf = cuda.DeviceBuffer((5,), np.int32)
    view = torch.as_tensor(buf, device="cuda")
    view.copy_(torch.arange(5, dtype=torch.int32, device="cuda"))
    torch.cuda.synchronize()
    assert cp.asarray(buf).get().tolist() == [0, 1, 2, 3, 4]
    from ptx.errors import InputError

    with pytest.raises(InputError, match="not C-contiguous"):
        cuda.as_device_array(t.t())
    with pytest.raises(InputError, match="host"):
        cuda.as_device_array(torch.zeros(3))
