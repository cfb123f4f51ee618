"""The simulated GPU behind the CUDA double: memory, ordered stream queues, events, graphs.

Device memory is host memory behind integer handles (256-byte aligned, guard gaps between
allocations, freed ranges remembered). Work queued on a stream runs only when something
waits for it (a stream or event synchronise, an event query, a free), in stream order and
across ``wait`` edges, so a host read before the wait sees the poison written at issue.
A fault while running queued work is sticky: every later call returns it, as on a GPU.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

ALIGN = 256
BASE = 0x7F00_0000_0000
POISON = 0xFF  # what a host buffer holds between a queued D2H copy and its completion
# Handles and addresses are unique across simulated GPUs, so an object left over from an
# earlier test (freed by its __del__ later) can never touch a later test's GPU.
_IDS = itertools.count(0x1000)
_BASES = {"next": BASE}


class cudaError_t(IntEnum):  # noqa: N801 - cuda.bindings' name; values are CUDA's
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorInvalidConfiguration = 9
    cudaErrorInvalidDevice = 101
    cudaErrorInvalidResourceHandle = 400
    cudaErrorIllegalState = 401
    cudaErrorNotReady = 600
    cudaErrorIllegalAddress = 700
    cudaErrorLaunchFailure = 719
    cudaErrorStreamCaptureUnsupported = 900
    cudaErrorStreamCaptureInvalidated = 901
    cudaErrorStreamCaptureUnmatched = 903


class Fault(Exception):
    """A refused call or a fault in queued work, carrying CUDA's error code."""

    def __init__(self, code: cudaError_t, why: str) -> None:
        super().__init__(f"{code.name}: {why}")
        self.code, self.why = code, why


@dataclass
class Allocation:
    """Device (``host=False``) or pinned host memory: ``base``..``base + size``."""

    base: int
    size: int
    data: np.ndarray  # uint8, the bytes themselves
    host: bool


@dataclass
class Op:
    """One queued piece of work; ``ranges`` are the device bytes it touches."""

    name: str
    run: Callable[[], None]
    ranges: list[tuple[int, int]] = field(default_factory=list)
    wait: tuple[int, int] | None = None  # (stream, position) this op waits for
    tag: object = None


@dataclass
class StreamQ:
    """A stream: ops issued in order; ``done`` of them have run."""

    handle: int
    ops: list[Op] = field(default_factory=list)
    done: int = 0
    capture: list[Op] | None = None  # ops go here while capturing a graph
    waits: dict[int, int] = field(default_factory=dict)  # stream -> position waited on


@dataclass
class EventQ:
    """An event: the stream position it marks, and the host time that position ran."""

    handle: int
    timing: bool
    stream: int | None = None
    pos: int = 0
    stamp: float | None = None


class Gpu:
    """One simulated device; every API call of the double goes through one lock."""

    def __init__(self, capability: tuple[int, int] = (8, 9), name: str | None = None) -> None:
        self.capability = capability
        self.name = name or f"ptx CPU double of a CUDA GPU (sm_{capability[0]}{capability[1]})"
        self.lock = threading.RLock()
        self.allocs: dict[int, Allocation] = {}
        self.freed: list[tuple[int, int]] = []
        self.streams: dict[int, StreamQ] = {0: StreamQ(0)}
        self.events: dict[int, EventQ] = {}
        self.graphs: dict[int, list[Op]] = {}
        self.ids = _IDS
        self.clock = itertools.count()
        self.timeline: list[tuple[int, str, int, str, object]] = []
        self.sticky: cudaError_t | None = None
        self.last: cudaError_t = cudaError_t.cudaSuccess
        self.why = ""  # the last refusal or fault, in words (for test messages)

    # -- memory ---------------------------------------------------------------------------
    def malloc(self, size: int, host: bool = False) -> int:
        """A new allocation's address (device handle, or a real pinned host address)."""
        if size <= 0:
            raise Fault(cudaError_t.cudaErrorInvalidValue, "allocation of 0 bytes")
        if host:
            raw = np.zeros(size + ALIGN, np.uint8)
            base = -(-raw.ctypes.data // ALIGN) * ALIGN
            data = raw[base - raw.ctypes.data :][:size]
        else:
            base, data = _BASES["next"], np.zeros(size, np.uint8)
            _BASES["next"] += -(-size // ALIGN) * ALIGN + 4096  # guard gap
        self.allocs[base] = Allocation(base, size, data, host)
        return base

    def free(self, ptr: int, host: bool = False) -> None:
        """Free after all queued work (cudaFree synchronises the device)."""
        self.sync_all()
        a = self.allocs.get(ptr)
        if a is None or a.host != host:
            raise Fault(cudaError_t.cudaErrorInvalidValue, f"free of {ptr:#x}: not an allocation")
        del self.allocs[ptr]
        self.freed.append((a.base, a.size))

    def find(self, ptr: int) -> Allocation | None:
        """The live allocation containing ``ptr``."""
        for a in self.allocs.values():
            if a.base <= ptr < a.base + a.size:
                return a
        return None

    def range_error(self, ptr: int, nbytes: int) -> str | None:
        """Why device bytes ``ptr``..+``nbytes`` are not usable, or None."""
        a = self.find(ptr)
        if a is None or a.host:
            if any(b <= ptr < b + s for b, s in self.freed):
                return f"{ptr:#x} was freed (use after free)"
            return f"{ptr:#x} is not device memory"
        if ptr + nbytes > a.base + a.size:
            over = ptr + nbytes - a.base - a.size
            return f"{nbytes} bytes at {ptr:#x} run {over} past the end of a {a.size}-byte block"
        return None

    def view(self, ptr: int, nbytes: int) -> np.ndarray:
        """The uint8 bytes of a device range (IllegalAddress fault when not live)."""
        why = self.range_error(ptr, nbytes)
        if why:
            raise Fault(cudaError_t.cudaErrorIllegalAddress, why)
        a = self.find(ptr)
        return a.data[ptr - a.base : ptr - a.base + nbytes]

    def pinned(self, ptr: int, nbytes: int) -> np.ndarray | None:
        """The bytes of a pinned host range, or None when ``ptr`` is pageable memory."""
        a = self.find(ptr)
        if a is None or not a.host or ptr + nbytes > a.base + a.size:
            return None
        return a.data[ptr - a.base : ptr - a.base + nbytes]

    # -- streams and events ---------------------------------------------------------------
    def stream(self, handle: int) -> StreamQ:
        """The stream ``handle`` (InvalidResourceHandle when unknown)."""
        s = self.streams.get(int(handle))
        if s is None:
            raise Fault(cudaError_t.cudaErrorInvalidResourceHandle, f"stream {handle} unknown")
        return s

    def event(self, handle: int) -> EventQ:
        """The event ``handle`` (InvalidResourceHandle when unknown)."""
        e = self.events.get(int(handle))
        if e is None:
            raise Fault(cudaError_t.cudaErrorInvalidResourceHandle, f"event {handle} unknown")
        return e

    def issue(self, stream: int, op: Op) -> tuple[int, int]:
        """Queue ``op`` (or capture it); returns (stream, position) once it has run."""
        s = self.stream(stream)
        if s.capture is not None:
            s.capture.append(op)
            return (s.handle, -1)
        s.ops.append(op)
        self.timeline.append((next(self.clock), "issue", s.handle, op.name, op.tag))
        return (s.handle, len(s.ops))

    def run_until(self, handle: int, pos: int) -> None:
        """Run stream ``handle``'s ops up to position ``pos``, and what they wait for."""
        s = self.stream(handle)
        if s.capture is not None:
            raise Fault(cudaError_t.cudaErrorStreamCaptureUnsupported, "wait on a capturing stream")
        while s.done < min(pos, len(s.ops)):
            op = s.ops[s.done]
            s.done += 1
            if self.sticky is not None:
                continue
            try:
                if op.wait is not None and not self.complete(op.wait):
                    self.run_until(*op.wait)  # a destroyed stream's work has all run
                op.run()
            except Fault as exc:
                self.sticky = exc.code
                self.why = exc.why
            self.timeline.append((next(self.clock), "done", s.handle, op.name, op.tag))

    def complete(self, where: tuple[int, int]) -> bool:
        """True when the op at (stream, position) has run."""
        s = self.streams.get(where[0])
        return s is None or s.done >= where[1]

    def ordered(self, where: tuple[int, int], stream: int) -> bool:
        """True when the op at ``where`` runs before anything issued now on ``stream``."""
        if where[1] < 0 or where[0] == stream or self.complete(where):
            return True
        return self.stream(stream).waits.get(where[0], 0) >= where[1]

    def sync_all(self) -> None:
        """Run everything queued on every stream."""
        for s in list(self.streams.values()):
            if s.capture is None:
                self.run_until(s.handle, len(s.ops))

    def now(self) -> float:
        """Host seconds (what the double's event times are: CPU time, never GPU time)."""
        return time.perf_counter()


def host_bytes(ptr: int, nbytes: int) -> bytes:
    """A snapshot of pageable host memory (what cudaMemcpyAsync stages at the call)."""
    return ctypes.string_at(ptr, nbytes)


def host_write(ptr: int, data: np.ndarray | bytes) -> None:
    """Write bytes to a host address."""
    buf = bytes(data) if not isinstance(data, bytes) else data
    ctypes.memmove(ptr, buf, len(buf))
