"""A served model: its engine instances, batcher, statistics and KServe metadata."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.errors import InputError
from ptx.inputs import resolve_shapes
from ptx.runtime import load, pick_backend
from ptx.runtime.backends import quiet_pool
from ptx.runtime.backends.auto.precision import OV_PRECISION
from ptx.runtime.cpu import physical_cores
from ptx.runtime.engine import Engine, TensorInfo
from ptx.runtime.pipelines.gpu import GpuEnhancer, engine_enhancer
from ptx.runtime.server.batcher import Batcher, Overloaded, Result
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.metrics import Metrics
from ptx.runtime.server.protocol import datatype_of, wire_shape
from ptx.runtime.server.stats import ModelStats
from ptx.tensors import from_numpy

PLATFORMS = {"onnxruntime": "onnxruntime_onnx", "tensorrt": "tensorrt_plan"}
RGB = "rgb"  # the feed and output name of the GPU image pipeline's requests (uint8 NHWC)


class RequestTimeout(Exception):
    """Inference did not finish within the server's --timeout-s (HTTP 504)."""


def rejection_reason(exc: BaseException) -> str | None:
    """The rejected-requests metric's reason for ``exc`` (overload, timeout), else None."""
    if isinstance(exc, Overloaded):
        return "overload"
    if isinstance(exc, RequestTimeout):
        return "timeout"
    return None


def on_gpu(engine: Engine) -> bool:
    """True when the image routes can use the GPU pipeline: device arrays, one float in/out."""
    io = [*engine.inputs, *engine.outputs]
    floats = all(np.dtype(t.dtype).name in ("float16", "float32") for t in io)
    return engine.device != "cpu" and engine.device_arrays and len(io) == 2 and floats


class GpuImages:
    """Each engine instance's GpuEnhancer (its own streams), made by its worker on first use.

    A request (or a merged batch of same-size requests) is decoded on the host; then
    upload, the fused preprocess kernel, the engine, the fused postprocess kernel and the
    download run on the instance's stream, and the worker waits for that batch.
    """

    def __init__(self) -> None:
        self._by_engine: dict[int, GpuEnhancer] = {}  # each touched only by its engine's worker

    def run(self, engine: Engine, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """uint8 NHWC images (one size) in, the enhanced uint8 NHWC images out."""
        gpu = self._by_engine.get(id(engine))
        if gpu is None:
            gpu = self._by_engine[id(engine)] = engine_enhancer(engine)
        return {RGB: np.stack(gpu.run(list(feeds[RGB])))}

    def close(self, engine: Engine) -> None:
        """Free the engine's GPU pipeline buffers and streams, if it made any."""
        gpu = self._by_engine.pop(id(engine), None)
        if gpu is not None:
            gpu.close()


@dataclass
class ServedModel:
    """One model as the server exposes it."""

    name: str
    path: Path
    engine: Engine  # instance 0: IO, spec and metadata
    batcher: Batcher
    stats: ModelStats
    timeout_s: float

    @property
    def gpu_images(self) -> bool:
        """True when the image routes run through the GPU pipeline."""
        return self.batcher.images is not None

    @property
    def spec(self):
        """The model's ModelSpec, or None for a foreign model."""
        return self.engine.spec

    async def infer(
        self,
        feeds: dict[str, np.ndarray],
        on_abandon: Callable[[Future], None] | None = None,
        kind: str = "tensor",
    ) -> Result:
        """Queue ``feeds`` and wait for the result, up to the timeout (RequestTimeout after).

        ``on_abandon(future)`` is called when the wait timed out but the work runs on
        (so memory held for it is released when it really ends).
        """
        future = self.batcher.submit(feeds, kind)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except asyncio.TimeoutError:
            self.batcher.cancel(future)  # still queued: its slot is free for others
            if on_abandon is not None and not future.cancelled():
                on_abandon(future)
            raise RequestTimeout(
                f"model '{self.name}': no result within {self.timeout_s:g} s; "
                "retry, or raise --timeout-s"
            ) from None

    def check_labels(self, feeds: dict[str, np.ndarray]) -> None:
        """InputError (400) for a label id outside the spec's vocabulary, before batching."""
        labels = self.spec.labels if self.spec is not None else {}
        for name, vocab in labels.items():
            arr = feeds.get(name)
            if arr is None or arr.dtype.kind not in "iu" or arr.size == 0:
                continue
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi >= len(vocab):
                bad = lo if lo < 0 else hi
                raise InputError(
                    f"input '{name}': label id {bad} is outside 0..{len(vocab) - 1} "
                    f"({', '.join(vocab[:8])}{'...' if len(vocab) > 8 else ''})"
                )

    def metadata(self) -> dict:
        """KServe v2 model metadata."""

        def tensors(infos):
            return [
                {"name": t.name, "datatype": datatype_of(t.dtype), "shape": wire_shape(t)}
                for t in infos
            ]

        meta = {
            "name": self.name,
            "versions": ["1"],
            "platform": PLATFORMS.get(self.engine.backend, self.engine.backend),
            "inputs": tensors(self.engine.inputs),
            "outputs": tensors(self.engine.outputs),
        }
        params: dict[str, str] = {
            "backend": self.engine.backend,
            "precision": served_precision(self.engine),
            "device": self.engine.device,
        }
        if self.engine.choice is not None:  # set when `auto` measured the backends
            params["backend_choice"] = self.engine.choice.line()
        if self.spec is not None:
            params.update(task=self.spec.task, family=self.spec.family)
        meta["parameters"] = params
        return meta

    def config(self) -> dict:
        """A Triton-style model configuration (what perf_analyzer reads)."""
        merge = self.batcher.merge
        kind = "KIND_CPU" if self.engine.device == "cpu" else "KIND_GPU"
        cfg = {
            "name": self.name,
            "platform": PLATFORMS.get(self.engine.backend, self.engine.backend),
            "max_batch_size": self.batcher.max_batch if merge else 0,
            "input": [_config_tensor(t, merge) for t in self.engine.inputs],
            "output": [_config_tensor(t, merge) for t in self.engine.outputs],
            "instance_group": [{"count": len(self.batcher.engines), "kind": kind}],
        }
        if merge:
            cfg["dynamic_batching"] = {
                "max_queue_delay_microseconds": self.batcher.max_delay_ns // 1000
            }
        return cfg


def served_precision(engine: Engine) -> str:
    """The precision the loaded engine runs: auto's pick, OpenVINO's setting, else fp32."""
    if engine.choice is not None:
        return engine.choice.precision
    if engine.backend == "tensorrt":
        return "plan"  # fixed when the plan was built; the plan does not say which
    ov = getattr(engine, "precision", None)  # OpenVINO's spelling: f32, bf16, f16, i8
    return {v: k for k, v in OV_PRECISION.items()}.get(ov, "fp32")


def _config_tensor(info: TensorInfo, merge: bool) -> dict:
    dims = wire_shape(info)
    return {
        "name": info.name,
        "data_type": from_numpy(info.dtype).triton,
        "dims": dims[1:] if merge else dims,
    }


def check_device(name: str, path: Path, config: ServerConfig) -> None:
    """One InputError line when ``--device cuda`` asks ONNX Runtime for a GPU it cannot use."""
    if config.device in (None, "cpu") or pick_backend(path, config.backend) != "onnxruntime":
        return
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise InputError(
            f"model '{name}' ({path.name}): --device {config.device} runs an .onnx on "
            "onnxruntime-gpu, which is not installed here (pip install onnxruntime-gpu); "
            "serve a .plan (ptx build), or use --device cpu"
        )


def load_models(config: ServerConfig, metrics: Metrics) -> dict[str, ServedModel]:
    """Load every model ``--instances`` times and start its batcher (PtxError on a bad model)."""
    threads = config.threads or max(1, physical_cores() // config.instances)
    served: dict[str, ServedModel] = {}
    try:
        for name, path in config.models.items():
            check_device(name, path, config)
            # Busy-waiting pool threads starve the event loop and the other instances
            # (measured: p50 at concurrency 1 went 14 ms -> 5.6 ms with spin off).
            options = quiet_pool(config.backend)
            engines = [
                load(
                    path,
                    threads=threads,
                    backend=config.backend,
                    precision=config.precision,
                    device=config.device,
                    trial_shapes=config.trial_shapes or None,
                    **options,
                )
                for _ in range(config.instances)
            ]
            if config.trial_shapes:  # a named backend runs no trial: still one line if bad
                where = f"--trial-shape for model '{name}' ({path.name})"
                resolve_shapes(engines[0].inputs, engines[0].spec, config.trial_shapes, where=where)
            stats = ModelStats(name)
            batcher = Batcher(
                name,
                engines,
                config.max_batch,
                config.max_delay_us / 1e6,
                config.queue,
                stats,
                metrics,
                GpuImages() if on_gpu(engines[0]) else None,
            )
            served[name] = ServedModel(name, path, engines[0], batcher, stats, config.timeout_s)
    except BaseException:
        close_models(served)
        raise
    return served


def close_models(models: dict[str, ServedModel], timeout_s: float = 30.0) -> None:
    """Drain and stop every model's workers."""
    for model in models.values():
        model.batcher.close(timeout_s)
