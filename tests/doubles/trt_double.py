"""A strict double of the TensorRT Python API subset ptx uses (tensorrt / tensorrt_rtx).

Its engine runs the ONNX the plan was built from (named with its SHA-256 in the plan's
sidecar, found through the plan file ptx opened) with ONNX Runtime, reading inputs from
and writing outputs to the CUDA double's device memory, queued on the given stream.
Refused as TensorRT refuses (False + an ``Error Code 3: API Usage Error`` on the logger):
execute_async_v3 before every input shape and every tensor address is set; a shape outside
the active profile; an address not 256-byte aligned; a context used from a second stream
while its work on the first is not ordered before it.
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any

import cudart
import numpy as np
from cuda_state import ALIGN, Op

__version__ = "0"  # set by gpu_doubles.install to the version the plans name
PLANS: list[Path] = []  # plan files opened while installed (an audit hook fills it)
NUMPY = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32}
NUMPY |= {"INT64": np.int64, "BOOL": np.bool_, "UINT8": np.uint8}


class ILogger:
    """The logger interface (subclass it and override ``log``)."""

    class Severity(IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    INTERNAL_ERROR, ERROR, WARNING = Severity.INTERNAL_ERROR, Severity.ERROR, Severity.WARNING
    INFO, VERBOSE = Severity.INFO, Severity.VERBOSE

    def __init__(self) -> None:
        pass

    def log(self, severity: Severity, msg: str) -> None:
        """Receive one message."""


class Logger(ILogger):
    """TensorRT's stock logger: prints messages at or above ``min_severity``."""

    def __init__(self, min_severity: ILogger.Severity = ILogger.Severity.WARNING) -> None:
        super().__init__()
        self.min_severity = min_severity

    def log(self, severity: ILogger.Severity, msg: str) -> None:
        """Print ``msg`` when severe enough."""
        if severity <= self.min_severity:
            print(f"[TRT double] {msg}")


class DataType(Enum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    BF16 = 7
    INT64 = 8

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return 2 if self.name == "BF16" else np.dtype(NUMPY[self.name]).itemsize


class TensorIOMode(Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


def _usage(logger: Any, where: str, why: str) -> bool:
    logger.log(ILogger.Severity.ERROR, f"{where}: Error Code 3: API Usage Error ({why})")
    return False


class Runtime:
    """Deserialises plans into engines."""

    def __init__(self, logger: ILogger) -> None:
        self.logger = logger

    def deserialize_cuda_engine(self, serialized_engine: bytes) -> ICudaEngine | None:
        """The engine of a plan ptx built (its sidecar names the ONNX), or None + an error."""
        data = bytes(serialized_engine)
        if data[:4] not in (b"ftrt", b"vtrt"):
            self.logger.log(
                ILogger.Severity.ERROR,
                "IRuntime::deserializeCudaEngine: Error Code 1: Serialization (Serialization "
                "assertion magicTagRead == kMAGIC_TAG failed.Magic tag does not match)",
            )
            return None
        sha = hashlib.sha256(data).hexdigest()
        for plan in reversed(PLANS):
            side = plan.with_name(plan.name + ".json")
            try:
                sidecar = json.loads(side.read_text())
            except (OSError, ValueError):
                continue
            if sidecar.get("plan_sha256") == sha:
                return ICudaEngine(plan, sidecar, self.logger)
        self.logger.log(
            ILogger.Severity.ERROR,
            "the TensorRT double runs a plan's source ONNX; no sidecar of an opened plan "
            "matches these bytes (build it with ptx build)",
        )
        return None


class ICudaEngine:
    """IO tensors and profiles from the sidecar; the ONNX model on ONNX Runtime."""

    def __init__(self, plan: Path, sidecar: dict, logger: Any) -> None:
        import onnxruntime as ort

        onnx = Path(sidecar["onnx"]["path"])
        onnx = onnx if onnx.is_absolute() else plan.parent / onnx
        if hashlib.sha256(onnx.read_bytes()).hexdigest() != sidecar["onnx"]["sha256"]:
            raise ValueError(f"{onnx} changed since {plan} was built from it")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
        self._session = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
        self._logger = logger
        self._io = [(t, TensorIOMode.INPUT) for t in sidecar["inputs"]]
        self._io += [(t, TensorIOMode.OUTPUT) for t in sidecar["outputs"]]
        self._profiles = sidecar.get("profiles") or [{}]
        self._cache: dict[tuple, dict[str, tuple[int, ...]]] = {}

    def _tensor(self, name: str) -> tuple[dict, TensorIOMode]:
        for t, mode in self._io:
            if t["name"] == name:
                return t, mode
        return {"name": name, "dtype": "float", "shape": []}, TensorIOMode.NONE

    @property
    def num_io_tensors(self) -> int:
        """Inputs and outputs."""
        return len(self._io)

    @property
    def num_optimization_profiles(self) -> int:
        """Profiles the plan was built with."""
        return len(self._profiles)

    def get_tensor_name(self, index: int) -> str:
        """The name of IO tensor ``index``."""
        return self._io[index][0]["name"]

    def get_tensor_dtype(self, name: str) -> DataType:
        """Its DataType."""
        return DataType[self._tensor(name)[0]["dtype"].upper()]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        """Its build-time shape (-1 for dynamic dims)."""
        return tuple(self._tensor(name)[0]["shape"])

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        """INPUT, OUTPUT or NONE."""
        return self._tensor(name)[1]

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[tuple]:
        """[min, opt, max] of an input under a profile (the static shape when it has none)."""
        r = self._profiles[profile_index].get(name)
        if r is None:
            shape = self.get_tensor_shape(name)
            return [shape, shape, shape]
        return [tuple(r["min"]), tuple(r["opt"]), tuple(r["max"])]

    def create_execution_context(self) -> IExecutionContext:
        """A new context (profile 0, no shapes, no addresses)."""
        return IExecutionContext(self)

    def _output_shapes(self, shapes: dict[str, tuple]) -> dict[str, tuple]:
        """Output shapes for these input shapes (one run of zeros, cached per shape)."""
        key = tuple(sorted(shapes.items()))
        if key not in self._cache:
            feeds = {
                n: np.zeros(s, NUMPY[self.get_tensor_dtype(n).name]) for n, s in shapes.items()
            }
            outs = self._session.run(None, feeds)
            names = [o.name for o in self._session.get_outputs()]
            self._cache[key] = {n: tuple(o.shape) for n, o in zip(names, outs, strict=True)}
        return self._cache[key]


class IExecutionContext:
    """Shapes, addresses and enqueues, checked as TensorRT checks them."""

    def __init__(self, engine: ICudaEngine) -> None:
        self.engine = engine
        self.active_optimization_profile = 0
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._addresses: dict[str, int] = {}
        self._last: tuple[int, int] | None = None  # (stream, position) of the last enqueue

    def set_optimization_profile_async(self, profile_index: int, stream_handle: int) -> bool:
        """Select a profile; input shapes must be set again afterwards."""
        if not 0 <= profile_index < self.engine.num_optimization_profiles:
            return _usage(
                self.engine._logger, "IExecutionContext::setOptimizationProfileAsync",
                f"profile {profile_index} out of range",
            )  # fmt: skip
        self.active_optimization_profile, self._shapes = profile_index, {}
        return True

    def set_input_shape(self, name: str, shape: Any) -> bool:
        """Set an input's shape: refused outside the active profile's [min, max]."""
        eng, shape = self.engine, tuple(int(d) for d in shape)
        if eng.get_tensor_mode(name) != TensorIOMode.INPUT:
            return _usage(eng._logger, "IExecutionContext::setInputShape", f"no input '{name}'")
        lo, _, hi = eng.get_tensor_profile_shape(name, self.active_optimization_profile)
        if len(shape) != len(lo) or any(
            not a <= s <= b for a, s, b in zip(lo, shape, hi, strict=True)
        ):
            return _usage(
                eng._logger, "IExecutionContext::setInputShape",
                f"Set dimension {list(shape)} for tensor {name} does not satisfy any "
                f"optimization profiles. Valid range for profile "
                f"{self.active_optimization_profile}: {list(lo)}..{list(hi)}",
            )  # fmt: skip
        self._shapes[name] = shape
        return True

    def _inputs(self) -> list[str]:
        return [t["name"] for t, m in self.engine._io if m == TensorIOMode.INPUT]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        """An input's set shape, or an output's shape for them (-1s until all are set)."""
        if self.engine.get_tensor_mode(name) == TensorIOMode.INPUT:
            return self._shapes.get(name, self.engine.get_tensor_shape(name))
        if set(self._shapes) != set(self._inputs()):
            return self.engine.get_tensor_shape(name)
        return self.engine._output_shapes(self._shapes)[name]

    def set_tensor_address(self, name: str, memory: int) -> bool:
        """Bind an IO tensor to device memory: 256-byte aligned, else refused."""
        if self.engine.get_tensor_mode(name) == TensorIOMode.NONE:
            return _usage(self.engine._logger, "setTensorAddress", f"no tensor '{name}'")
        if int(memory) % ALIGN:
            return _usage(
                self.engine._logger, "IExecutionContext::setTensorAddress",
                f"address {int(memory):#x} of tensor '{name}' is not aligned to {ALIGN} bytes",
            )  # fmt: skip
        self._addresses[name] = int(memory)
        return True

    def get_tensor_address(self, name: str) -> int:
        """The bound address (0 when unset)."""
        return self._addresses.get(name, 0)

    def execute_async_v3(self, stream_handle: int) -> bool:
        """Queue one inference on ``stream_handle``; False + an error when not ready."""
        eng, g = self.engine, cudart.gpu()
        where = "IExecutionContext::enqueueV3"
        missing = [n for n in self._inputs() if n not in self._shapes]
        if missing:
            return _usage(eng._logger, where, f"input shape of {missing} not set")
        names = [t["name"] for t, _ in eng._io]
        unbound = [n for n in names if n not in self._addresses]
        if unbound:
            return _usage(eng._logger, where, f"Neither address or allocator is set for {unbound}")
        with g.lock:
            if self._last is not None and not g.ordered(self._last, int(stream_handle)):
                return _usage(
                    eng._logger, where,
                    "the execution context is still in use on another stream; one context "
                    "serves one stream at a time (wait on an event, or use another context)",
                )  # fmt: skip
            shapes = dict(self._shapes) | eng._output_shapes(self._shapes)
            spans = {}
            for n in names:
                dt = np.dtype(NUMPY[eng.get_tensor_dtype(n).name])
                spans[n] = (self._addresses[n], int(np.prod(shapes[n])) * dt.itemsize, dt)

            def run() -> None:
                feeds = {
                    n: g.view(p, k).view(dt).reshape(shapes[n]).copy()
                    for n, (p, k, dt) in spans.items() if n in self._shapes
                }  # fmt: skip
                outs = eng._session.run(None, feeds)
                for o, arr in zip(eng._session.get_outputs(), outs, strict=True):
                    p, k, dt = spans[o.name]
                    g.view(p, k)[:] = np.ascontiguousarray(arr, dt).view(np.uint8).reshape(-1)

            ranges = [(p, k) for p, k, _ in spans.values()]
            pos = g.issue(int(stream_handle), Op("tensorrt enqueueV3", run, ranges))
            if pos[1] >= 0:
                self._last = pos
        return True
