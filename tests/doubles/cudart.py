"""A strict double of the ``cuda.bindings.runtime`` calls ptx makes, over cuda_state.Gpu.

Same names, same tuple returns ``(cudaError_t, value...)``, CUDA's error codes. Refused
at the call: bad handles, copies outside an allocation or after a free, kind mismatches,
syncs while capturing, graph replays whose captured buffers were freed (buffers moved).
"""

from __future__ import annotations

import functools
from enum import IntEnum
from types import SimpleNamespace
from typing import Any

import numpy as np
from cuda_state import POISON, Fault, Gpu, Op, cudaError_t, host_bytes, host_write

STATE: dict[str, Gpu] = {}
cudaStreamNonBlocking = 1  # noqa: N816 - cuda.bindings' names
cudaEventDefault = 0  # noqa: N816
cudaEventDisableTiming = 2  # noqa: N816


class cudaMemcpyKind(IntEnum):  # noqa: N801
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3
    cudaMemcpyDefault = 4


class cudaStreamCaptureMode(IntEnum):  # noqa: N801
    cudaStreamCaptureModeGlobal = 0
    cudaStreamCaptureModeThreadLocal = 1
    cudaStreamCaptureModeRelaxed = 2


class cudaDeviceAttr(IntEnum):  # noqa: N801
    cudaDevAttrMultiProcessorCount = 16
    cudaDevAttrComputeCapabilityMajor = 75
    cudaDevAttrComputeCapabilityMinor = 76


def gpu() -> Gpu:
    """The simulated device (installed by ``doubles.install``)."""
    return STATE["gpu"]


def _api(fn: Any) -> Any:
    """Lock, return the sticky error if any, turn a Fault into its code."""

    @functools.wraps(fn)
    def call(*args: Any) -> tuple:
        g = gpu()
        with g.lock:
            if g.sticky is not None:
                return (g.sticky,)
            try:
                out = fn(*args)
            except Fault as exc:
                g.last, g.why = exc.code, exc.why
                return (exc.code, None)
            if g.sticky is not None:
                return (g.sticky,)
            return (cudaError_t.cudaSuccess, *(() if out is None else (out,)))

    return call


@_api
def cudaGetDeviceCount() -> int:  # noqa: N802
    """One simulated device."""
    return 1


@_api
def cudaSetDevice(index: int) -> None:  # noqa: N802
    """Only device 0 exists."""
    if index != 0:
        raise Fault(cudaError_t.cudaErrorInvalidDevice, f"device {index}")


@_api
def cudaDeviceGetAttribute(attr: Any, index: int) -> int:  # noqa: N802
    """Compute capability and SM count of the simulated device."""
    g = gpu()
    values = {
        "cudaDevAttrComputeCapabilityMajor": g.capability[0],
        "cudaDevAttrComputeCapabilityMinor": g.capability[1],
        "cudaDevAttrMultiProcessorCount": 4,
    }
    if index != 0 or attr.name not in values:
        raise Fault(cudaError_t.cudaErrorInvalidValue, f"attribute {attr}")
    return values[attr.name]


@_api
def cudaGetDeviceProperties(index: int) -> Any:  # noqa: N802
    """Name and memory of the simulated device."""
    if index != 0:
        raise Fault(cudaError_t.cudaErrorInvalidDevice, f"device {index}")
    return SimpleNamespace(name=gpu().name.encode(), totalGlobalMem=8 << 30)


@_api
def cudaDeviceSynchronize() -> None:  # noqa: N802
    """Run everything queued."""
    gpu().sync_all()


def cudaGetLastError() -> tuple:  # noqa: N802
    """The last error, cleared unless it is sticky."""
    g = gpu()
    with g.lock:
        err, g.last = g.last, cudaError_t.cudaSuccess
        return (g.sticky or err,)


@_api
def cudaMalloc(size: int) -> int:  # noqa: N802
    """Device memory: host bytes behind a 256-byte aligned handle."""
    return gpu().malloc(int(size))


@_api
def cudaFree(ptr: int) -> None:  # noqa: N802
    """Free device memory after all queued work (0 only makes the context)."""
    if int(ptr) != 0:  # cudaFree(0) only makes the context
        gpu().free(int(ptr))


@_api
def cudaMallocHost(size: int) -> int:  # noqa: N802
    """Pinned host memory at a real, 256-byte aligned address."""
    return gpu().malloc(int(size), host=True)


@_api
def cudaFreeHost(ptr: int) -> None:  # noqa: N802
    """Free pinned host memory after all queued work."""
    gpu().free(int(ptr), host=True)


def _device(ptr: int, nbytes: int, what: str) -> None:
    why = gpu().range_error(ptr, nbytes)
    if why:
        raise Fault(cudaError_t.cudaErrorInvalidValue, f"{what}: {why}")


@_api
def cudaMemcpyAsync(dst: int, src: int, count: int, kind: Any, stream: int) -> None:  # noqa: N802
    """Queue a copy; device ranges are checked now, bytes move when it runs."""
    g, dst, src, n, kind = gpu(), int(dst), int(src), int(count), int(kind)
    if kind == cudaMemcpyKind.cudaMemcpyHostToDevice:
        _device(dst, n, "H2D destination")
        pinned = g.pinned(src, n)
        staged = None if pinned is not None else host_bytes(src, n)  # pageable: staged now

        def run() -> None:
            data = pinned if staged is None else np.frombuffer(staged, np.uint8)
            g.view(dst, n)[:] = data

        g.issue(stream, Op("memcpy H2D", run, [(dst, n)]))
    elif kind == cudaMemcpyKind.cudaMemcpyDeviceToHost:
        _device(src, n, "D2H source")
        if g.find(dst) is not None and not g.find(dst).host:
            raise Fault(cudaError_t.cudaErrorInvalidValue, "D2H destination is device memory")
        host_write(dst, bytes([POISON]) * n)  # a read before the sync sees this
        g.issue(stream, Op("memcpy D2H", lambda: host_write(dst, g.view(src, n)), [(src, n)]))
    elif kind == cudaMemcpyKind.cudaMemcpyDeviceToDevice:
        _device(dst, n, "D2D destination")
        _device(src, n, "D2D source")

        def d2d() -> None:
            g.view(dst, n)[:] = g.view(src, n).copy()

        g.issue(stream, Op("memcpy D2D", d2d, [(dst, n), (src, n)]))
    else:
        raise Fault(cudaError_t.cudaErrorInvalidValue, f"copy kind {kind} is not used by ptx")


@_api
def cudaMemsetAsync(ptr: int, value: int, count: int, stream: int) -> None:  # noqa: N802
    """Queue a byte fill of device memory."""
    g, ptr, n = gpu(), int(ptr), int(count)
    _device(ptr, n, "memset")

    def run() -> None:
        g.view(ptr, n)[:] = int(value) & 0xFF

    g.issue(stream, Op("memset", run, [(ptr, n)]))


@_api
def cudaStreamCreateWithFlags(flags: int) -> int:  # noqa: N802
    """A new stream (an ordered queue)."""
    from cuda_state import StreamQ

    g = gpu()
    handle = next(g.ids)
    g.streams[handle] = StreamQ(handle)
    return handle


@_api
def cudaStreamSynchronize(stream: int) -> None:  # noqa: N802
    """Run the stream's queue (and what it waits on)."""
    s = gpu().stream(stream)
    gpu().run_until(s.handle, len(s.ops))


@_api
def cudaStreamDestroy(stream: int) -> None:  # noqa: N802
    """Destroy a stream once its queued work has run."""
    s = gpu().stream(stream)
    if s.handle == 0 or s.capture is not None:
        raise Fault(cudaError_t.cudaErrorInvalidResourceHandle, "destroy of a stream in use")
    gpu().run_until(s.handle, len(s.ops))  # its work still completes
    for e in gpu().events.values():  # as in CUDA, its events stay valid, and complete
        if e.stream == s.handle:
            e.stream = None
    del gpu().streams[s.handle]


@_api
def cudaStreamWaitEvent(stream: int, event: int, flags: int) -> None:  # noqa: N802
    """Later work on the stream waits for the event's position."""
    g = gpu()
    s, e = g.stream(stream), g.event(event)
    if e.stream is None:
        return
    s.waits[e.stream] = max(s.waits.get(e.stream, 0), e.pos)
    g.issue(s.handle, Op("wait event", lambda: None, wait=(e.stream, e.pos)))


@_api
def cudaEventCreateWithFlags(flags: int) -> int:  # noqa: N802
    """A new event (timing unless cudaEventDisableTiming)."""
    from cuda_state import EventQ

    g = gpu()
    handle = next(g.ids)
    g.events[handle] = EventQ(handle, timing=not int(flags) & cudaEventDisableTiming)
    return handle


@_api
def cudaEventRecord(event: int, stream: int) -> None:  # noqa: N802
    """Mark the stream's current position."""
    g = gpu()
    e, s = g.event(event), g.stream(stream)
    if s.capture is not None:
        return  # recorded inside the graph; ptx records outside captures
    e.stream, e.pos, e.stamp = s.handle, len(s.ops) + 1, None

    def stamp() -> None:
        e.stamp = g.now()

    g.issue(s.handle, Op("event record", stamp))


@_api
def cudaEventSynchronize(event: int) -> None:  # noqa: N802
    """Run the recorded stream up to the event."""
    e = gpu().event(event)
    if e.stream is not None:
        gpu().run_until(e.stream, e.pos)


def cudaEventQuery(event: int) -> tuple:  # noqa: N802
    """Success when done; else NotReady, and the work progresses (the next query sees it)."""
    g = gpu()
    with g.lock:
        if g.sticky is not None:
            return (g.sticky,)
        e = g.events.get(int(event))
        if e is None:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        if e.stream is None or g.complete((e.stream, e.pos)):
            return (cudaError_t.cudaSuccess,)
        g.run_until(e.stream, e.pos)
        return (cudaError_t.cudaErrorNotReady,)


@_api
def cudaEventElapsedTime(start: int, end: int) -> float:  # noqa: N802
    """Host milliseconds between two timed events (never GPU time)."""
    a, b = gpu().event(start), gpu().event(end)
    if not (a.timing and b.timing):
        raise Fault(cudaError_t.cudaErrorInvalidResourceHandle, "event made without timing")
    if a.stamp is None or b.stamp is None:
        raise Fault(cudaError_t.cudaErrorNotReady, "event not complete")
    return (b.stamp - a.stamp) * 1000.0  # host time of a CPU double: never GPU time


@_api
def cudaEventDestroy(event: int) -> None:  # noqa: N802
    """Destroy an event."""
    gpu().events.pop(gpu().event(event).handle)


@_api
def cudaStreamBeginCapture(stream: int, mode: Any) -> None:  # noqa: N802
    """Start capturing the stream's work into a graph."""
    s = gpu().stream(stream)
    if s.handle == 0 or s.capture is not None:
        raise Fault(cudaError_t.cudaErrorIllegalState, "capture on this stream is not allowed")
    s.capture = []


def cudaStreamEndCapture(stream: int) -> tuple:  # noqa: N802
    """(err, graph handle)."""
    g = gpu()
    with g.lock:
        s = g.streams.get(int(stream))
        if s is None or s.capture is None:
            return (cudaError_t.cudaErrorIllegalState, None)
        ops, s.capture = s.capture, None
        handle = next(g.ids)
        g.graphs[handle] = ops
        return (cudaError_t.cudaSuccess, handle)


@_api
def cudaGraphInstantiate(graph: int, flags: int) -> int:  # noqa: N802
    """An executable copy of a captured graph."""
    g = gpu()
    if graph not in g.graphs:
        raise Fault(cudaError_t.cudaErrorInvalidValue, "unknown graph")
    handle = next(g.ids)
    g.graphs[handle] = list(g.graphs[graph])
    return handle


@_api
def cudaGraphLaunch(exec_: int, stream: int) -> None:  # noqa: N802
    """Queue a graph's ops; refused when a buffer it captured was freed."""
    g = gpu()
    ops = g.graphs.get(exec_)
    if ops is None:
        raise Fault(cudaError_t.cudaErrorInvalidValue, "unknown executable graph")
    for op in ops:
        for ptr, n in op.ranges:
            why = g.range_error(ptr, n)
            if why:  # the buffers it captured moved: a replay would touch freed memory
                raise Fault(cudaError_t.cudaErrorIllegalAddress, f"graph replay: {why}")
    for op in ops:
        g.issue(stream, Op(op.name, op.run, op.ranges, tag=("graph", op.tag)))


@_api
def cudaGraphExecDestroy(exec_: int) -> None:  # noqa: N802
    """Destroy an executable graph."""
    gpu().graphs.pop(exec_, None)


@_api
def cudaGraphDestroy(graph: int) -> None:  # noqa: N802
    """Destroy a graph."""
    gpu().graphs.pop(graph, None)


PTX_CPU_DOUBLE = True  # ptx.runtime.cuda.api.is_double() reads this
