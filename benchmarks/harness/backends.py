"""Backend adapters: one interface the harness times, whatever runs the model.

An adapter splits an iteration as trtexec does: ``prepare(feeds)`` once per
shape (bind inputs, allocate outputs), then per iteration ``enqueue()`` (start
the work; host time spent here is the *enqueue* time) and ``sync()`` (wait for
it). Synchronous backends (ONNX Runtime and PyTorch on the CPU) do the work in
``enqueue()``. A GPU adapter (TensorRT) returns per-phase times from
CUDA events in ``phase_times()`` (``h2d`` / ``compute`` / ``d2h`` in ms) and
lists them in ``phases``; the harness and report pick them up unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptx import runtime
from ptx.errors import InputError, ModelError, require
from ptx.export.pytorch.factory import build_user_model
from ptx.runtime import Engine
from ptx.runtime.cuda import (
    DeviceBuffer,
    Event,
    PinnedBuffer,
    Stream,
    copy_d2h,
    copy_h2d,
    device_count,
    is_double,
)
from ptx.spec import ModelSpec
from ptx.tensors import NamedShape, TensorInfo
from ptx.training.common.checkpoint import load_checkpoint


class Backend(ABC):
    """What the harness times: prepare once, then enqueue + sync per iteration."""

    name: str = "?"
    device: str = "cpu"
    phases: tuple[str, ...] = ()  # GPU adapters: ("h2d", "compute", "d2h")

    def __init__(self, model: str, inputs: list[TensorInfo], spec: ModelSpec | None) -> None:
        self.model = model
        self.inputs = inputs
        self.spec = spec

    @property
    def precision(self) -> str:
        """fp32 / fp16 / mixed: the spec's word, else the first float input's dtype."""
        if self.spec is not None and self.spec.precision:
            return self.spec.precision
        floats = [t.dtype for t in self.inputs if np.issubdtype(np.dtype(t.dtype), np.floating)]
        return "fp16" if floats and np.dtype(floats[0]) == np.float16 else "fp32"

    @property
    def choice(self) -> dict | None:
        """The auto backend's decision (backend, precision, why, trial), else None."""
        return None

    @property
    def label(self) -> str:
        """Series name in tables and plots: backend/precision/device."""
        return f"{self.name}/{self.precision}/{self.device}"

    @abstractmethod
    def prepare(self, feeds: dict[str, np.ndarray]) -> None:
        """Bind this shape's inputs (and allocate outputs) before timing."""

    @abstractmethod
    def enqueue(self) -> None:
        """Start one iteration."""

    def sync(self) -> None:  # noqa: B027 - synchronous backends have nothing to wait for
        """Wait until the iteration started by enqueue() is done (no-op when synchronous)."""

    def phase_times(self) -> dict[str, float]:
        """Per-phase times (ms) of the last iteration; empty without device timers."""
        return {}


class EngineBackend(Backend):
    """Any ptx.runtime Engine: run() is the whole iteration."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(str(engine.path), list(engine.inputs), engine.spec)
        self.engine = engine
        self.name = engine.backend
        self.device = engine.device
        self._feeds: dict[str, np.ndarray] = {}

    @property
    def precision(self) -> str:
        """What the engine computes in: OpenVINO's inference precision, else the model's."""
        if getattr(self.engine, "precision", None) == "i8":  # OpenVINO ran the INT8 copy
            return "int8"
        ran = getattr(self.engine, "inference_precision", None)
        return {"bf16": "bf16", "f16": "fp16"}.get(str(ran), super().precision)

    @property
    def choice(self) -> dict | None:
        """What ``--backend auto`` measured and picked (None for a named backend)."""
        made = getattr(self.engine, "choice", None)
        return made.to_dict() if made is not None else None

    def prepare(self, feeds: dict[str, np.ndarray]) -> None:
        """Check the feeds once (a wrong shape fails here, not mid-benchmark) and keep them."""
        self.engine.check_feeds(feeds)
        self._feeds = feeds

    def enqueue(self) -> None:
        """Run the batch through the engine."""
        self.engine.run(self._feeds)


class TensorRTBackend(Backend):
    """A plan on the GPU: pinned H2D, execute_async_v3, D2H on one stream, timed by events."""

    def __init__(self, engine: Engine, transfers: bool = True) -> None:
        super().__init__(str(engine.path), list(engine.inputs), engine.spec)
        self.engine, self.name, self.transfers = engine, engine.backend, transfers
        self.double = is_double()
        self.device = f"{engine.device} (CPU double)" if self.double else engine.device
        self.phases = () if self.double else ("h2d", "compute", "d2h")
        self.stream = Stream()
        self.events = [Event(timing=True) for _ in range(4)]
        self.bufs: dict[str, tuple[PinnedBuffer, DeviceBuffer]] = {}
        self.outs: dict[str, tuple[PinnedBuffer, DeviceBuffer]] = {}

    def prepare(self, feeds: dict[str, np.ndarray]) -> None:
        """Pinned + device buffers for this shape; one untimed run sizes the outputs."""
        self.engine.check_feeds(feeds)
        for pinned, dev in (*self.bufs.values(), *self.outs.values()):
            pinned.close()
            dev.close()
        self.bufs = {}
        for t in self.inputs:
            arr = np.ascontiguousarray(feeds[t.name], dtype=t.dtype)
            pinned = PinnedBuffer(arr.shape, arr.dtype)
            np.copyto(pinned.array, arr)
            self.bufs[t.name] = (pinned, DeviceBuffer(arr.shape, arr.dtype))
        self._copy_in()
        outs = self.engine.run_device({k: d.array for k, (_, d) in self.bufs.items()}, None)
        self.outs = {
            k: (PinnedBuffer(v.shape, v.dtype), v.owner) for k, v in outs.items()
        }  # fmt: skip

    def _copy_in(self) -> None:
        for pinned, dev in self.bufs.values():
            copy_h2d(dev, pinned.array, self.stream.handle)

    def enqueue(self) -> None:
        """Queue copy in, the plan, copy out; returns without waiting."""
        s, ev = self.stream.handle, self.events
        ev[0].record(s)
        if self.transfers:
            self._copy_in()
        ev[1].record(s)
        self.engine.run_device(
            {k: d.array for k, (_, d) in self.bufs.items()},
            {k: d.array for k, (_, d) in self.outs.items()},
            stream=s,
        )
        ev[2].record(s)
        for pinned, dev in self.outs.values() if self.transfers else ():
            copy_d2h(pinned.array, dev, s)
        ev[3].record(s)

    def sync(self) -> None:
        """Wait for the stream."""
        self.stream.synchronize()

    def phase_times(self) -> dict[str, float]:
        """h2d / compute / d2h ms from CUDA events; none under the CPU doubles."""
        if self.double:
            return {}
        ev = self.events
        return {p: ev[i + 1].ms_since(ev[i]) for i, p in enumerate(self.phases)}


class TorchBackend(Backend):
    """PyTorch eager (or torch.compile) on the CPU: the baseline export should beat."""

    name = "torch"

    def __init__(
        self,
        module: Any,
        model: str,
        inputs: list[TensorInfo],
        spec: ModelSpec | None,
        threads: int | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(model, inputs, spec)
        self.torch = require("torch", "train", "PyTorch benchmarking")
        if threads:
            self.torch.set_num_threads(threads)
        self.module = module.eval()
        self.compiled = compile
        if compile:
            self.name = "torch-compile"
            self.module = self.torch.compile(self.module)
        self._args: tuple = ()

    def prepare(self, feeds: dict[str, np.ndarray]) -> None:
        """Convert the feeds to tensors once and trigger any compilation for this shape."""
        self._args = tuple(
            self.torch.from_numpy(np.ascontiguousarray(feeds[t.name])) for t in self.inputs
        )
        try:
            self.enqueue()
        except Exception as exc:  # torch.compile raises many types (BackendCompilerFailed, ...)
            what = "torch.compile" if self.compiled else "PyTorch"
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"{self.model}: {what} failed on this model: {first}") from exc

    def enqueue(self) -> None:
        """One forward pass without autograd."""
        with self.torch.inference_mode():
            self.module(*self._args)


@dataclass
class Target:
    """What to benchmark, as the CLI names it: exactly one of the four sources."""

    model: str | None = None  # .onnx (ONNX Runtime)
    engine: str | None = None  # .plan (TensorRT)
    checkpoint: str | None = None  # ptx checkpoint folder (PyTorch eager)
    torch: str | None = None  # file.py:factory (PyTorch eager)
    device: str = "cpu"
    backend: str = "onnxruntime"  # for --model: onnxruntime, openvino or auto (the runtime's pick)
    precision: str = "auto"  # for --model: auto, fp32, bf16, fp16 (ptx.runtime.load's ladder)
    trial_shapes: dict[str, tuple[int, ...]] | None = None  # backend auto: the trial's size
    threads: int | None = None
    compile: bool = False
    torch_inputs: list[NamedShape] = field(default_factory=list)  # --shapes, for --torch
    cuda_graph: bool = False  # --engine: replay each shape as a CUDA graph
    transfers: bool = True  # --engine: time the H2D / D2H copies too

    def check(self) -> None:
        """Exactly one source, and flags that fit it."""
        given = [k for k in ("model", "engine", "checkpoint", "torch") if getattr(self, k)]
        if len(given) != 1:
            raise InputError(
                "give exactly one of --model m.onnx, --engine m.plan, --checkpoint DIR, "
                f"--torch file.py:factory (got {', '.join('--' + g for g in given) or 'none'})"
            )
        if self.compile and not (self.checkpoint or self.torch):
            raise InputError("--compile applies to PyTorch (--checkpoint or --torch) only")
        if self.device not in ("cpu", "cuda"):
            raise InputError(f"--device '{self.device}': use cpu or cuda")
        if self.backend != "onnxruntime" and not self.model:
            raise InputError("--backend applies to --model m.onnx only")
        if self.precision != "auto" and not self.model:
            raise InputError("--precision applies to --model m.onnx only")


def open_backend(target: Target) -> Backend:
    """Load the target once (call again per stream: each stream owns its engine)."""
    target.check()
    if target.model:
        engine = runtime.load(
            target.model,
            device=target.device,
            threads=target.threads,
            backend=target.backend,
            precision=target.precision,
            trial_shapes=target.trial_shapes,
        )
        return EngineBackend(engine)
    if target.engine:
        _require_file(target.engine, "--engine")
        _require_gpu(target.engine)
        engine = runtime.load(target.engine, device="cuda", cuda_graph=target.cuda_graph)
        return TensorRTBackend(engine, target.transfers)
    if target.device != "cpu":
        raise InputError("PyTorch benchmarking runs on the CPU here (--device cpu)")
    if target.checkpoint:
        module, spec = load_checkpoint(target.checkpoint)
        infos = [_info_from_spec(t) for t in spec.inputs]
        return TorchBackend(module, target.checkpoint, infos, spec, target.threads, target.compile)
    module = build_user_model(target.torch)
    if not target.torch_inputs:
        raise InputError(
            f"--torch {target.torch}: give every input's shape with --shapes NAME:SHAPE[:dtype]"
        )
    # A user module declares no IO: every axis is open and --shapes fixes it.
    infos = [
        TensorInfo(s.name, np.dtype(s.dtype or "float32"), (None,) * len(s.shape))
        for s in target.torch_inputs
    ]
    return TorchBackend(module, target.torch, infos, None, target.threads, target.compile)


def _info_from_spec(t) -> TensorInfo:
    return TensorInfo(t.name, np.dtype(t.dtype), tuple(t.shape))


def _require_gpu(plan: str) -> None:
    if device_count() == 0:
        raise ModelError(
            f"{plan}: a TensorRT engine runs on an NVIDIA GPU and none is visible here "
            f"(no CUDA device); benchmark the ONNX model on the CPU with --model m.onnx"
        )


def _require_file(path: str, flag: str) -> None:
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{flag} {p}: no such file")
