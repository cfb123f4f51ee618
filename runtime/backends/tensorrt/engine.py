"""TensorRTEngine: a ``.plan`` behind the Engine interface (NumPy) and on device arrays.

Loading checks, in order and before touching the GPU where it can: the sidecar's
flavour and version against the installed TensorRT, the plan's checksum, that a GPU
exists, and the GPU's compute capability against the plan's targets; each refusal is
one line saying how to rebuild. Requests pick the optimisation profile that fits, or
are split by batch (``allow_chunking``). Contexts form a pool for concurrent callers.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError, MissingDependency, ModelError
from ptx.formats.sidecar import read_sidecar
from ptx.formats.tensorrt import capturing_logger, detect, installed
from ptx.io import sha256_file
from ptx.runtime.backends.tensorrt.compat import INSTALL_HINTS, check_gpu, check_plan
from ptx.runtime.backends.tensorrt.context import ExecContext
from ptx.runtime.backends.tensorrt.shapes import Profile, Shape, plan_chunks, profiles_from_engine
from ptx.runtime.backends.tensorrt.shapes import validate_shapes as _validate
from ptx.runtime.cuda import (
    DeviceBuffer,
    Stream,
    as_device_array,
    check_device,
    copy_d2d,
    copy_d2h,
    copy_h2d,
    device_count,
    parse_device,
    stream_handle,
    use_device,
)
from ptx.runtime.engine import Engine, EngineOptions, TensorInfo, coerce_dtype
from ptx.spec import ModelSpec
from ptx.tensors import from_trt

ALIGNMENT = 256  # bytes: TensorRT refuses IO tensor addresses aligned to less


def numpy_dtype(trt_dtype: Any, name: str) -> np.dtype:
    """The NumPy dtype of a TensorRT DataType (ModelError for BF16 / FP8 / INT4 IO)."""
    try:
        return from_trt(trt_dtype).numpy
    except InputError:
        key = str(trt_dtype).split(".")[-1].upper()
        raise ModelError(
            f"tensor '{name}' is {key}, which has no NumPy dtype; export it FP16/FP32"
        ) from None


@dataclass(frozen=True)
class TensorRTOptions(EngineOptions):
    """``contexts``: execution contexts for concurrent callers; ``allow_chunking``: split a
    batch larger than every profile; ``cuda_graph``: replay each fixed shape as a CUDA graph;
    ``stream``: the caller's CUDA stream (any object ptx.runtime.cuda understands)."""

    contexts: int = 1
    allow_chunking: bool = True
    cuda_graph: bool = False
    stream: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.contexts < 1:
            raise InputError(f"contexts must be >= 1, got {self.contexts}")


class TensorRTEngine(Engine):
    """A deserialised TensorRT plan with a pool of execution contexts."""

    backend = "tensorrt"
    Options = TensorRTOptions
    device_arrays = True

    def __init__(
        self,
        path: str | Path,
        device: str = "cuda",
        threads: int | None = None,  # noqa: ARG002 - the Engine signature; TensorRT has no pool
        options: TensorRTOptions | None = None,
        **kwargs: object,
    ) -> None:
        path = Path(path)
        self.settings = settings = self.resolve_options(options, kwargs)
        sidecar = read_sidecar(path)
        flavour = check_plan(path, sidecar, installed(), sha256_file(path))
        index = parse_device(device)
        if device_count() == 0:
            raise ModelError(
                f"{path}: a TensorRT plan needs an NVIDIA GPU and driver, and none is visible "
                "here (see `ptx doctor`); run the .onnx with onnxruntime instead"
            )
        gpu = use_device(index)
        if sidecar is not None:
            check_gpu(path, sidecar, gpu.capability, gpu.name)
        try:
            flav = detect(flavour)
        except MissingDependency as exc:
            raise ModelError(
                f"{path}: loading this plan needs {flavour} TensorRT: {INSTALL_HINTS[flavour]}"
            ) from exc
        self._logger = capturing_logger(flav.trt)
        self._runtime = flav.trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            reason = (self._logger.errors() or ["no reason given"])[0]
            raise ModelError(
                f"{path}: {flav.module} {flav.version} could not load the plan on {gpu.name} "
                f"({reason}); rebuild it here with ptx build"
            )
        spec = ModelSpec.from_dict(sidecar["spec"]) if sidecar and sidecar.get("spec") else None
        super().__init__(path, spec)
        self.gpu, self.flavour, self.allow_chunking = gpu, flav, settings.allow_chunking
        self.device, self.index = f"cuda:{index}", index
        self._inputs, self._outputs = self._io(spec)
        self.profiles: list[Profile] = profiles_from_engine(
            self._engine, [t.name for t in self._inputs]
        )
        self._declared = {
            t.name: tuple(self._engine.get_tensor_shape(t.name)) for t in self._inputs
        }
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._contexts = []
        for _ in range(settings.contexts):
            ctx = ExecContext(
                self._engine, self._logger, stream_handle(settings.stream), settings.cuda_graph
            )
            self._contexts.append(ctx)
            self._pool.put(ctx)

    def _io(self, spec: ModelSpec | None) -> tuple[list[TensorInfo], list[TensorInfo]]:
        inputs, outputs = [], []
        for i in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(i)
            dtype = numpy_dtype(self._engine.get_tensor_dtype(name), name)
            shape = tuple(self._engine.get_tensor_shape(name))
            names = {}
            if spec is not None:
                found = [t for t in (*spec.inputs, *spec.outputs) if t.name == name]
                names = found[0].dynamic_dims if found else {}
            dims = tuple(d if d >= 0 else names.get(axis) for axis, d in enumerate(shape))
            is_input = "INPUT" in str(self._engine.get_tensor_mode(name)).upper()
            (inputs if is_input else outputs).append(TensorInfo(name, dtype, dims))
        return inputs, outputs

    # -- scheduling ------------------------------------------------------------------------
    def plan(self, shapes: dict[str, Shape]) -> list:
        """The chunks a request of ``shapes`` runs as (validated against the plan)."""
        _validate(shapes, self._declared, self.path.name)
        return plan_chunks(self.profiles, shapes, self.allow_chunking, self.path.name)

    def _acquire(self, stream: int | None) -> Any:
        if self.closed:
            raise ModelError(f"{self.path.name}: engine is closed; load the plan again")
        ctx = self._pool.get()
        ctx.active = stream if stream is not None else ctx.stream.handle
        if ctx.active != ctx.stream.handle:
            Stream(ctx.active).wait(ctx.done)  # the context's last request must finish first
        return ctx

    def _release(self, ctx: Any) -> None:
        ctx.done.record(ctx.active)
        self._pool.put(ctx)

    # -- NumPy in, NumPy out ---------------------------------------------------------------
    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a batch from host arrays; outputs are new host arrays."""
        feeds = {t.name: coerce_dtype(t.name, feeds[t.name], t.dtype) for t in self._known(feeds)}
        chunks = self.plan({k: v.shape for k, v in feeds.items()})
        ctx = self._acquire(None)
        parts: dict[str, list[np.ndarray]] = {t.name: [] for t in self._outputs}
        try:
            stream = ctx.active
            for c in chunks:
                sub = {k: v[c.start : c.stop] if len(chunks) > 1 else v for k, v in feeds.items()}
                shapes = {k: v.shape for k, v in sub.items()}
                ctx.prepare(c.profile, shapes, stream)
                specs = {k: (v.shape, v.dtype) for k, v in sub.items()}
                specs |= {t.name: (ctx.output_shape(t.name), t.dtype) for t in self._outputs}
                key = (c.profile, tuple(sorted(shapes.items())))
                bufs = ctx.buffers_for(key, specs)
                for name, arr in sub.items():
                    np.copyto(bufs.pinned[name].array, arr)
                    copy_h2d(bufs.device[name], bufs.pinned[name].array, stream)
                ctx.bind({name: buf.ptr for name, buf in bufs.device.items()})
                ctx.execute(stream, key)
                for t in self._outputs:
                    copy_d2h(bufs.pinned[t.name].array, bufs.device[t.name], stream)
                ctx.stream.synchronize()
                for t in self._outputs:
                    parts[t.name].append(bufs.pinned[t.name].array.copy())
        finally:
            self._release(ctx)
        return {k: v[0] if len(v) == 1 else np.concatenate(v) for k, v in parts.items()}

    def _known(self, feeds: dict[str, Any]) -> list[TensorInfo]:
        names = {t.name for t in self._inputs}
        if set(feeds) != names:
            raise InputError(
                f"{self.path.name}: inputs {sorted(names)} expected, got {sorted(feeds)}"
            )
        return self._inputs

    # -- device arrays in, device arrays out -----------------------------------------------
    def run_device(
        self,
        feeds: dict[str, Any],
        outputs: dict[str, Any] | None = None,
        stream: Any = None,
    ) -> dict[str, Any]:
        """Run on GPU arrays (torch, CuPy, pycuda, DLPack) without copies.

        ``outputs`` (name -> device array) are written in place; missing ones are
        allocated. With ``stream`` the work is queued there and this returns at once;
        without, it runs on the context's stream and returns when outputs are ready.
        """
        arrays = {
            t.name: as_device_array(feeds.get(t.name), f"input '{t.name}'")
            for t in self._known(feeds)
        }
        for t in self._inputs:
            check_device(arrays[t.name], self.index, f"{self.path.name}: input '{t.name}'")
            if arrays[t.name].dtype != t.dtype:
                raise InputError(
                    f"{self.path.name}: input '{t.name}' needs {t.dtype.name} on the device, "
                    f"got {arrays[t.name].dtype.name} (device arrays are never cast)"
                )
        chunks = self.plan({k: v.shape for k, v in arrays.items()})
        given = {k: as_device_array(v, f"output '{k}'") for k, v in (outputs or {}).items()}
        for k, v in given.items():
            check_device(v, self.index, f"{self.path.name}: output '{k}'")
        ctx = self._acquire(stream_handle(stream))
        result: dict[str, Any] = {}
        try:
            for c in chunks:
                sub = {
                    k: v.rows(c.start, c.stop) if len(chunks) > 1 else v for k, v in arrays.items()
                }
                shapes = {k: v.shape for k, v in sub.items()}
                ctx.prepare(c.profile, shapes, ctx.active)
                if not result:
                    result = self._outputs_for(ctx, given, c, chunks, DeviceBuffer)
                outs = {
                    k: v.rows(c.start, c.stop) if len(chunks) > 1 else v for k, v in result.items()
                }
                sub, bound = self._aligned(ctx, sub, copy_in=True), self._aligned(ctx, outs)
                addresses = {k: v.ptr for k, v in (*sub.items(), *bound.items())}
                ctx.bind(addresses)
                key = (c.profile, tuple(sorted(shapes.items())), tuple(sorted(addresses.items())))
                ctx.execute(ctx.active, key)
                for k, v in bound.items():
                    if v is not outs[k]:
                        copy_d2d(outs[k], v, ctx.active)
            if stream is None:
                ctx.stream.synchronize()
        finally:
            self._release(ctx)
        return result

    def _aligned(self, ctx: Any, arrays: dict[str, Any], copy_in: bool = False) -> dict[str, Any]:
        """The arrays, with any not 256-byte aligned (TensorRT's rule) swapped for scratch."""
        out = {}
        for name, arr in arrays.items():
            if arr.ptr % ALIGNMENT == 0:
                out[name] = arr
                continue
            out[name] = ctx.scratch(name, arr.shape, arr.dtype)
            if copy_in:
                copy_d2d(out[name], arr, ctx.active)
        return out

    def _outputs_for(self, ctx: Any, given: dict, first: Any, chunks: list, alloc: Any) -> dict:
        """Output arrays for the whole request: the caller's (checked) or new buffers."""
        total = chunks[-1].stop
        out = {}
        for t in self._outputs:
            shape = ctx.output_shape(t.name)
            if len(chunks) > 1:
                if shape[0] != first.stop - first.start:
                    raise ModelError(
                        f"output '{t.name}' is not batched on axis 0; turn chunking off"
                    )
                shape = (total, *shape[1:])
            if t.name in given:
                arr = given[t.name]
                if tuple(arr.shape) != shape or arr.dtype != t.dtype or arr.readonly:
                    raise InputError(
                        f"{self.path.name}: output '{t.name}' needs a writable {t.dtype.name} "
                        f"{list(shape)} device array, got {arr.dtype.name} {list(arr.shape)}"
                    )
                out[t.name] = arr
            else:
                out[t.name] = alloc(shape, t.dtype).array
        return out

    def close(self) -> None:
        """Free contexts, buffers, graphs and the engine."""
        for ctx in self._contexts:
            ctx.close()
        self._contexts.clear()
        self._engine = None
        super().close()
