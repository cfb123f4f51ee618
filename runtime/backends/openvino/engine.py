"""Engine backed by an OpenVINO CompiledModel on the CPU, reading the .onnx directly.

``openvino`` is imported inside functions, so importing this module is free and a
missing package surfaces as one MissingDependency line naming ``ptx[openvino]``.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.errors import ModelError, PtxError, require
from ptx.formats.onnx import graph_inputs, load_onnx
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.backends.auto.cache import cache_root, model_digest
from ptx.runtime.cpu import physical_cores
from ptx.runtime.engine import Engine, EngineOptions, TensorInfo, coerce_dtype
from ptx.spec import ONNX_METADATA_KEY, ModelSpec

log = logging.getLogger("ptx.runtime")

HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT"}
PRECISIONS = ("f32", "bf16", "f16", "i8")  # i8: the INT8 model beside the source, f32 rest
MAX_STATIC = 4  # static-shape models kept per engine (least recently used goes)
MAX_SEEN = 1024  # shapes counted towards static_after
_NOISE = ("Exception from ", "Check '", "FrontEnd API failed", "Summary:")


def _ov():
    return require("openvino", "openvino", "the openvino backend")


def openvino_version() -> str:
    """The installed OpenVINO release, e.g. '2026.4.1' (build suffix dropped)."""
    return _ov().get_version().split("-")[0]


def ov_message(exc: BaseException) -> str:
    """The informative line of an OpenVINO error (its text starts with source locations)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(_NOISE)]
    return (useful or lines or [type(exc).__name__])[0].lstrip("- ")


def rejected_ops(exc: BaseException) -> list[str]:
    """Op types an OpenVINO conversion error names as unsupported (empty when none)."""
    found = re.findall(
        r"(?:No conversion rule found for operations|not supported\w*):\s*(.+)", str(exc)
    )
    return [op.strip() for line in found for op in line.split(",") if op.strip()]


def _load_error(path: Path, exc: BaseException) -> ModelError:
    ops = rejected_ops(exc)
    if ops:
        return ModelError(
            f"{path}: OpenVINO cannot run op {', '.join(ops)}; "
            "use --backend onnxruntime (or auto, which falls back to it)"
        )
    msg = ov_message(exc)
    if "can't be parsed" in msg or "Could not open" in msg:
        return ModelError(
            f"{path}: not a valid ONNX model (truncated, or not ONNX at all); re-export the model"
        )
    return ModelError(f"{path}: OpenVINO cannot load it: {msg}")


def cache_dir_for(sha: str, root: Path | None = None) -> Path:
    """Compiled-model cache folder: <ptx cache>/openvino/<model sha[:16]>-<OpenVINO version>."""
    return (root or cache_root()) / "openvino" / f"{sha[:16]}-{openvino_version()}"


@dataclass(frozen=True)
class OpenVINOOptions(EngineOptions):
    """OpenVINO's options.

    ``hint``: latency (one request at a time) or throughput (streams for concurrent
    callers); ``precision``: f32, bf16, f16, or i8 (runs ``m.int8.onnx``, the NNCF
    quantized copy ``ptx convert --precision int8`` writes beside ``m.onnx``, its
    unquantized ops in f32); ``cache``: keep compiled models on disk;
    ``static_after``: a dynamic model runs a shape on a static-shape compilation once
    that shape recurs more than this many times (OpenVINO's CPU kernels are faster
    on static shapes; None keeps one dynamic model).
    """

    hint: str = "latency"
    precision: str = "f32"
    cache: bool = True
    static_after: int | None = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hint not in HINTS:
            raise ModelError(f"openvino hint '{self.hint}': use {' or '.join(HINTS)}")
        if self.precision not in PRECISIONS:
            raise ModelError(f"openvino precision '{self.precision}': use {', '.join(PRECISIONS)}")


class OpenVINOEngine(Engine):
    """OpenVINO CPU inference, f32 pinned, infer requests reused (options: OpenVINOOptions)."""

    backend = "openvino"
    Options = OpenVINOOptions

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        threads: int | None = None,
        options: OpenVINOOptions | None = None,
        **kwargs: object,
    ) -> None:
        ov = _ov()
        path = Path(path)
        self.settings = settings = self.resolve_options(options, kwargs)
        hint, precision, cache = settings.hint, settings.precision, settings.cache
        if device != "cpu":
            raise ModelError(f"the openvino backend runs on the CPU only, not '{device}'")
        if threads is not None and threads < 1:
            raise ModelError(f"threads must be >= 1, got {threads}")
        if precision == "i8":  # a separate, quantized model file; its int8 ops run as int8
            path, precision = ladder.int8_model(path), "f32"
        names = onnx_io_names(path)  # ONNX's own names; ModelError for non-tensor IO
        model = read_onnx(path)
        super().__init__(path, _spec_of(model))
        self.device = device
        self.threads = threads or physical_cores()
        self.hint, self.precision = hint, settings.precision
        config = {
            "PERFORMANCE_HINT": HINTS[hint],
            "INFERENCE_NUM_THREADS": self.threads,
            # The CPU plugin's default may be bf16 on AMX/AVX512-BF16 parts: pin f32 for parity.
            "INFERENCE_PRECISION_HINT": precision,
            # The plugin pins its threads to cores from the first one on, whatever else
            # runs: two one-thread engines in two processes (ptx batch's actors, serve
            # instances) then shared one core and each ran at half speed (measured: 23.3
            # runs/s alone, 11.5 each as a pair; unpinned 23.3 each). Alone it gains nothing.
            "ENABLE_CPU_PINNING": False,
        }
        self.cache_dir = self._cache_dir(path) if cache else None
        if self.cache_dir is not None:
            config["CACHE_DIR"] = str(self.cache_dir)
        self._core, self._config, self._model = ov.Core(), config, model
        self.static_after = settings.static_after
        self._dynamic = _Variant(self._compile(model))
        self._static: OrderedDict[tuple, _Variant] = OrderedDict()
        self._seen: dict[tuple, int] = {}
        self._lock = threading.Lock()
        compiled = self._dynamic.compiled
        self._inputs = [
            self._info(p, self.spec, "inputs", _port_name(p, i, names[0]))
            for i, p in enumerate(compiled.inputs)
        ]
        self._outputs = [
            self._info(p, self.spec, "outputs", _port_name(p, i, names[1]))
            for i, p in enumerate(compiled.outputs)
        ]
        self._output_names = [t.name for t in self._outputs]
        self._dtypes = [(t.name, t.dtype) for t in self._inputs]
        self._tensor = ov.Tensor
        if not any(p.get_partial_shape().is_dynamic for p in compiled.inputs):
            self.static_after = None  # already static: nothing to specialise
        # What the plugin settled on (a hint it cannot honour is silently changed).
        self.inference_precision = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
        self.threads = int(compiled.get_property("INFERENCE_NUM_THREADS")) or self.threads

    def _compile(self, model):
        try:
            return self._core.compile_model(model, "CPU", self._config)
        except Exception as exc:  # pybind RuntimeError subclasses, one per failure kind
            raise _load_error(self.path, exc) from exc

    @staticmethod
    def _cache_dir(path: Path) -> Path | None:
        folder = cache_dir_for(model_digest(path))
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.info("openvino: no compiled-model cache (%s: %s)", folder, exc.strerror)
            return None
        return folder if os.access(folder, os.W_OK) else None

    @staticmethod
    def _info(port, spec: ModelSpec | None, side: str, name: str) -> TensorInfo:
        named = {t.name: t.shape for t in getattr(spec, side, [])} if spec else {}
        dims = []
        for axis, d in enumerate(port.get_partial_shape()):
            if not d.is_dynamic:
                dims.append(d.get_length())
            else:  # OpenVINO drops ONNX dim names; the spec keeps them (as ORT reports them)
                want = named.get(name)
                dims.append(want[axis] if want and isinstance(want[axis], str) else None)
        return TensorInfo(name, np.dtype(port.get_element_type().to_dtype()), tuple(dims))

    @property
    def static_shapes(self) -> list[tuple]:
        """Input shapes (one tuple per input) now served by a static-shape compilation."""
        return list(self._static)

    def prepare(self, shapes: dict[str, tuple[int, ...]]) -> bool:
        """Compile the static-shape model for these input shapes now; False if it cannot be."""
        if self.closed:
            raise ModelError(f"{self.path.name}: engine is closed; load the model again")
        key = tuple(tuple(shapes[name]) for name, _ in self._dtypes)
        if not any(p.get_partial_shape().is_dynamic for p in self._model.inputs):
            return False
        return self._specialise(key) is not self._dynamic

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch on a reused infer request; a rejected feed becomes one InputError."""
        if self.closed:
            raise ModelError(f"{self.path.name}: engine is closed; load the model again")
        try:
            arrays = [feeds[name] for name, _ in self._dtypes]
        except KeyError:
            self.check_feeds(feeds)
            raise
        variant = self._variant(tuple(np.shape(a) for a in arrays))
        request = variant.take()
        try:
            return self._infer(request, feeds, arrays)
        finally:
            variant.requests.put(request)

    def _variant(self, key: tuple) -> _Variant:
        """The static model for this shape once it has recurred, else the dynamic one."""
        variant = self._static.get(key)
        if variant is not None:
            return variant
        if self.static_after is None:
            return self._dynamic
        if len(self._seen) > MAX_SEEN:  # a stream of ever-new sizes: forget old counts
            self._seen = {k: v for k, v in self._seen.items() if v == -1}
        seen = self._seen[key] = self._seen.get(key, 0) + 1
        if seen <= 0:  # -1 + 1: a shape whose reshape failed before
            self._seen[key] = -1
            return self._dynamic
        return self._specialise(key) if seen > self.static_after else self._dynamic

    def _specialise(self, key: tuple) -> _Variant:
        """Compile (or take from the disk cache) the model reshaped to ``key``; LRU-bounded."""
        with self._lock:
            if key in self._static:
                self._static.move_to_end(key)
                return self._static[key]
            if self._seen.get(key) == -1:  # reshape failed once: stay dynamic for this shape
                return self._dynamic
            model = self._model.clone()
            try:
                model.reshape({port: list(s) for port, s in zip(model.inputs, key, strict=True)})
                variant = _Variant(self._core.compile_model(model, "CPU", self._config))
            except Exception as exc:  # a graph that only runs dynamic: keep the dynamic model
                log.info(
                    "openvino: %s stays dynamic for %s (%s)", self.path.name, key, ov_message(exc)
                )
                self._seen[key] = -1
                return self._dynamic
            self._static[key] = variant
            if len(self._static) > MAX_STATIC:
                self._static.popitem(last=False)
            return variant

    def _infer(self, request, feeds: dict[str, np.ndarray], arrays: list) -> dict[str, np.ndarray]:
        tensor = self._tensor
        try:
            for i, ((name, want), arr) in enumerate(zip(self._dtypes, arrays, strict=True)):
                if getattr(arr, "dtype", None) != want:
                    arr = coerce_dtype(name, arr, want)
                arr = np.ascontiguousarray(arr)
                # shared_memory: OpenVINO reads the caller's buffer, no copy in. It only wraps
                # writeable buffers, so a read-only one (np.frombuffer over a request body) is
                # copied rather than refused with "array is not writeable".
                shared = bool(arr.flags.writeable)
                request.set_input_tensor(i, tensor(arr, shared_memory=shared))
            request.infer()
        except PtxError:
            raise
        except Exception as exc:
            self.check_feeds(feeds)  # raises the clear message when the feed is at fault
            raise ModelError(f"{self.path.name}: OpenVINO failed: {ov_message(exc)}") from exc
        # The request reuses its output memory on the next call: hand out copies.
        return {
            name: request.get_output_tensor(i).data.copy()
            for i, name in enumerate(self._output_names)
        }

    def close(self) -> None:
        """Drop the compiled models and their requests."""
        for attr in ("_dynamic", "_model"):
            self.__dict__.pop(attr, None)
        self._static = OrderedDict()
        super().close()


class _Variant:
    """One compiled model and its idle infer requests (reused; a busy one makes another)."""

    def __init__(self, compiled) -> None:
        self.compiled = compiled
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.requests.put(compiled.create_infer_request())

    def take(self):
        """An idle request, or a new one when concurrent callers hold them all."""
        try:
            return self.requests.get_nowait()
        except queue.Empty:
            return self.compiled.create_infer_request()


def read_onnx(path: Path):
    """An ov.Model from ``path`` through the ONNX frontend (no probing of other formats)."""
    ov = _ov()
    try:
        frontend = ov.frontend.FrontEndManager().load_by_framework("onnx")
        return frontend.convert(frontend.load(str(path)))
    except Exception as exc:  # GeneralFailure, OpConversionFailure, ...
        raise _load_error(path, exc) from exc


def _spec_of(model) -> ModelSpec | None:
    """The ModelSpec the ONNX frontend kept from metadata_props (rt_info framework section)."""
    key = ["framework", ONNX_METADATA_KEY]
    if not model.has_rt_info(key):
        return None
    return ModelSpec.from_json(model.get_rt_info(key).astype(str))


def onnx_io_names(path: Path) -> tuple[list[str], list[str]]:
    """(input names, output names) as the ONNX graph gives them; ModelError for non-tensor IO.

    OpenVINO names a port by any of its tensor's names (an input may come back as the
    name of a later node's output); ONNX Runtime and the feeds use the graph's names.
    """
    try:
        model = load_onnx(path, external_data=False)
    except ModelError:
        return [], []  # OpenVINO read it; its own names will have to do
    ins, outs = graph_inputs(model.graph), list(model.graph.output)
    for side, values in (("input", ins), ("output", outs)):
        for vi in values:
            if vi.type.WhichOneof("value") != "tensor_type":
                kind = (vi.type.WhichOneof("value") or "untyped value").replace("_type", "")
                raise ModelError(
                    f"{path.name}: {side} '{vi.name}' is a {kind}; the openvino backend "
                    f"feeds and returns tensors only (use --backend onnxruntime)"
                )
    return [vi.name for vi in ins], [vi.name for vi in outs]


def _port_name(port, index: int, graph_names: list[str]) -> str:
    """The graph's name for an OpenVINO port: one of the port's names, else by position."""
    names = port.get_names()
    for name in graph_names:
        if name in names:
            return name
    if index < len(graph_names):
        return graph_names[index]
    return port.get_any_name()
