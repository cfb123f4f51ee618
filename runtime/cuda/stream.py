"""Streams, events and CUDA-graph capture over cuda.bindings.runtime."""

from __future__ import annotations

import contextlib
from typing import Any

from ptx.runtime.cuda.api import CudaError, check, runtime


class Stream:
    """A non-blocking stream this object owns, or a caller's stream it only wraps."""

    def __init__(self, handle: int | None = None) -> None:
        rt = runtime()
        self.owned = handle is None
        if handle is None:
            flags = rt.cudaStreamNonBlocking
            handle = int(check(rt.cudaStreamCreateWithFlags(flags), "cudaStreamCreateWithFlags"))
        self.handle = int(handle)

    def __cuda_stream__(self) -> tuple[int, int]:
        """The cuda.core stream protocol: (version, handle)."""
        return (0, self.handle)

    def synchronize(self) -> None:
        """Wait for everything queued on the stream."""
        check(runtime().cudaStreamSynchronize(self.handle), "cudaStreamSynchronize")

    def wait(self, event: Event) -> None:
        """Make later work on this stream wait for ``event``."""
        check(runtime().cudaStreamWaitEvent(self.handle, event.handle, 0), "cudaStreamWaitEvent")

    def close(self) -> None:
        """Destroy the stream if this object created it."""
        if self.owned and self.handle:
            handle, self.handle = self.handle, 0
            check(runtime().cudaStreamDestroy(handle), "cudaStreamDestroy")

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class Event:
    """A CUDA event (timing enabled only when asked: it costs a little)."""

    def __init__(self, timing: bool = False) -> None:
        rt = runtime()
        flags = rt.cudaEventDefault if timing else rt.cudaEventDisableTiming
        self.handle = int(check(rt.cudaEventCreateWithFlags(flags), "cudaEventCreateWithFlags"))

    def record(self, stream: int) -> None:
        """Record on ``stream`` (a raw handle)."""
        check(runtime().cudaEventRecord(self.handle, stream), "cudaEventRecord")

    def synchronize(self) -> None:
        """Block until the event has happened."""
        check(runtime().cudaEventSynchronize(self.handle), "cudaEventSynchronize")

    def done(self) -> bool:
        """True when the work before the event has finished."""
        err = runtime().cudaEventQuery(self.handle)[0]
        if int(err) == int(runtime().cudaError_t.cudaErrorNotReady):
            return False
        check((err,), "cudaEventQuery")
        return True

    def ms_since(self, start: Event) -> float:
        """Milliseconds from ``start`` to this event (both recorded with timing)."""
        return float(
            check(runtime().cudaEventElapsedTime(start.handle, self.handle), "cudaEventElapsedTime")
        )

    def close(self) -> None:
        """Destroy the event."""
        if self.handle:
            handle, self.handle = self.handle, 0
            check(runtime().cudaEventDestroy(handle), "cudaEventDestroy")

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class Graph:
    """An instantiated CUDA graph, replayed with ``launch``."""

    def __init__(self, graph: Any, exec_: Any) -> None:
        self.graph, self.exec = graph, exec_

    def launch(self, stream: int) -> None:
        """Replay the captured work on ``stream``."""
        check(runtime().cudaGraphLaunch(self.exec, stream), "cudaGraphLaunch")

    def close(self) -> None:
        """Destroy the executable graph and the graph."""
        rt = runtime()
        if self.exec is not None:
            rt.cudaGraphExecDestroy(self.exec)
            rt.cudaGraphDestroy(self.graph)
            self.exec = self.graph = None


def capture(stream: int, enqueue: Any) -> Graph | None:
    """Capture what ``enqueue()`` puts on ``stream`` into a graph; None when capture fails.

    As trtexec does: a failed capture is ended, its error cleared, and the caller falls
    back to plain enqueues (``enqueue`` must already have run once, outside capture).
    """
    rt = runtime()
    mode = rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
    try:
        check(rt.cudaStreamBeginCapture(stream, mode), "cudaStreamBeginCapture")
    except CudaError:
        rt.cudaGetLastError()
        return None
    ok = True
    try:
        ok = enqueue() is not False
    finally:
        err, graph = rt.cudaStreamEndCapture(stream)
    if int(err) != 0 or not ok or graph is None:
        rt.cudaGetLastError()  # clear the sticky-free capture error
        if graph is not None and int(err) == 0:
            rt.cudaGraphDestroy(graph)
        return None
    err, exec_ = rt.cudaGraphInstantiate(graph, 0)
    if int(err) != 0:
        rt.cudaGetLastError()
        rt.cudaGraphDestroy(graph)
        return None
    return Graph(graph, exec_)
