"""One TensorRT execution context with its stream, per-shape buffers and CUDA graphs."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.runtime.backends.tensorrt.shapes import Shape
from ptx.runtime.cuda import DeviceBuffer, Event, Graph, PinnedBuffer, Stream, capture

MAX_SHAPES = 4  # buffer sets kept per context (least recently used dropped first)


@dataclass
class Buffers:
    """Device and pinned host buffers for one (profile, input shapes) key."""

    device: dict[str, DeviceBuffer] = field(default_factory=dict)
    pinned: dict[str, PinnedBuffer] = field(default_factory=dict)

    def close(self) -> None:
        """Free everything."""
        for buf in (*self.device.values(), *self.pinned.values()):
            buf.close()


class ExecContext:
    """An IExecutionContext, its own stream, buffers allocated once per shape, graphs."""

    def __init__(self, engine: Any, logger: Any, stream: int | None, graphs: bool) -> None:
        self.context = engine.create_execution_context()
        if self.context is None:
            raise ModelError(
                f"TensorRT could not create an execution context ({_errors(logger)}); "
                "free GPU memory or use fewer contexts"
            )
        self.logger = logger
        self.stream = Stream(stream)
        self.active = self.stream.handle  # the stream of the request holding this context
        self.done = Event()  # recorded after each request: the next user waits on it
        self.use_graphs = graphs
        self.profile = 0
        self.shapes: dict[str, Shape] = {}
        self.buffers: OrderedDict[tuple, Buffers] = OrderedDict()
        self.graphs: dict[tuple, Graph | None] = {}
        self.scratches: dict[tuple, DeviceBuffer] = {}  # aligned stand-ins, kept for reuse

    def prepare(self, profile: int, shapes: dict[str, Shape], stream: int) -> None:
        """Select ``profile`` and set the input shapes (graphs are dropped when they change)."""
        if profile != self.profile:
            if not self.context.set_optimization_profile_async(profile, stream):
                raise ModelError(
                    f"TensorRT refused optimisation profile {profile}: {_errors(self.logger)}"
                )
            self.profile = profile
            self.shapes = {}  # TensorRT wants every input shape again under a new profile
            self._drop_graphs()
        if shapes != self.shapes:
            for name, shape in shapes.items():
                if not self.context.set_input_shape(name, tuple(shape)):
                    raise InputError(
                        f"TensorRT refused shape {list(shape)} for input '{name}' under profile "
                        f"{profile}: {_errors(self.logger)}"
                    )
            self.shapes = dict(shapes)
            self._drop_graphs()

    def output_shape(self, name: str) -> Shape:
        """An output's shape for the shapes set by ``prepare``."""
        shape = tuple(self.context.get_tensor_shape(name))
        if any(d < 0 for d in shape):
            raise ModelError(f"TensorRT left output '{name}' shape {list(shape)} unresolved")
        return shape

    def buffers_for(self, key: tuple, specs: dict[str, tuple[Shape, np.dtype]]) -> Buffers:
        """Device + pinned buffers for ``key`` (name -> (shape, dtype)), made once and reused."""
        if key in self.buffers:
            self.buffers.move_to_end(key)
            return self.buffers[key]
        bufs = Buffers()
        for name, (shape, dtype) in specs.items():
            bufs.device[name] = DeviceBuffer(shape, dtype)
            bufs.pinned[name] = PinnedBuffer(shape, dtype)
        self.buffers[key] = bufs
        while len(self.buffers) > MAX_SHAPES:
            gone, old = self.buffers.popitem(last=False)
            self.stream.synchronize()  # nothing in flight may still use what we free
            graph = self.graphs.pop(gone, None)  # it replays into the buffers freed here
            if graph is not None:
                graph.close()
            old.close()
        return bufs

    def scratch(self, name: str, shape: Shape, dtype: np.dtype) -> Any:
        """An aligned device array standing in for a caller's unaligned ``name`` (reused)."""
        key = (name, tuple(shape), np.dtype(dtype).str)
        if key not in self.scratches:
            self.scratches[key] = DeviceBuffer(shape, dtype)
        return self.scratches[key].array

    def bind(self, addresses: dict[str, int]) -> None:
        """Point every IO tensor at its device address."""
        for name, ptr in addresses.items():
            if not self.context.set_tensor_address(name, int(ptr)):
                raise ModelError(
                    f"TensorRT refused the address of '{name}': {_errors(self.logger)}"
                )

    def execute(self, stream: int, key: tuple) -> None:
        """Enqueue on ``stream``: a graph replay when one was captured for ``key``."""
        graph = self.graphs.get(key)
        if graph is not None:
            graph.launch(stream)
            return
        self._enqueue(stream)
        if self.use_graphs and key not in self.graphs and stream != 0:
            # Captured after the warm-up enqueue above (as trtexec does); None = fall back.
            self.graphs[key] = capture(stream, lambda: self._enqueue(stream))

    def _enqueue(self, stream: int) -> bool:
        self.logger.messages.clear()
        if not self.context.execute_async_v3(stream):
            raise ModelError(f"TensorRT execute_async_v3 failed: {_errors(self.logger)}")
        return True

    def _drop_graphs(self) -> None:
        for graph in self.graphs.values():
            if graph is not None:
                graph.close()
        self.graphs.clear()

    def close(self) -> None:
        """Free buffers, graphs, the stream (if owned) and the context."""
        self.stream.synchronize()
        self._drop_graphs()
        for bufs in (*self.buffers.values(), *self.scratches.values()):
            bufs.close()
        self.buffers.clear()
        self.scratches.clear()
        self.done.close()
        self.stream.close()
        self.context = None


def _errors(logger: Any) -> str:
    found = logger.errors()[:1] if hasattr(logger, "errors") else []
    return found[0] if found else "no reason given"
