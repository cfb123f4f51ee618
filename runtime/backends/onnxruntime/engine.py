"""Engine backed by an onnxruntime.InferenceSession, tuned for latency."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.runtime.cpu import physical_cores
from ptx.runtime.cuda.api import parse_device
from ptx.runtime.engine import Engine, EngineOptions, TensorInfo, coerce_dtype
from ptx.spec import ONNX_METADATA_KEY, ModelSpec
from ptx.tensors import from_ort


@dataclass(frozen=True)
class OnnxRuntimeOptions(EngineOptions):
    """``spin``: idle pool threads busy-wait (lowest latency) or park (leave the CPU to others)."""

    spin: bool = True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load_error(path: Path, exc: BaseException) -> ModelError:
    """One line for a model ONNX Runtime refused, saying what to do."""
    msg = _first_line(exc)
    if "INVALID_PROTOBUF" in msg or "Protobuf parsing failed" in msg:
        return ModelError(
            f"{path}: not a valid ONNX model (truncated, or not ONNX at all); re-export the model"
        )
    if "NO_SUCHFILE" in msg or "Load model from" in msg and "failed" in msg:
        return ModelError(f"{path}: ONNX Runtime cannot read it: {msg}")
    return ModelError(f"{path}: ONNX Runtime cannot load it: {msg}")


def session_options(threads: int | None = None, spin: bool = True):
    """SessionOptions for one low-latency request at a time.

    Graph optimisation ALL (fusions and layout transforms), sequential execution
    (the inter-op pool only pays off on graphs with parallel branches), intra-op
    threads = physical cores unless given. ``spin=False`` parks idle pool threads
    instead of busy-waiting, so decoding threads beside the engine get the CPU.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads if threads else physical_cores()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    opts.log_severity_level = 3  # warnings about unused initialisers are noise to a user
    return opts


class OnnxRuntimeEngine(Engine):
    """ONNX Runtime session with latency-oriented options (see session_options)."""

    backend = "onnxruntime"
    Options = OnnxRuntimeOptions

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        threads: int | None = None,
        options: OnnxRuntimeOptions | None = None,
        **kwargs: object,
    ) -> None:
        import onnxruntime as ort

        path = Path(path)
        self.settings = self.resolve_options(options, kwargs)
        if threads is not None and threads < 1:
            raise ModelError(f"threads must be >= 1, got {threads}")
        providers: list = ["CPUExecutionProvider"]
        if device == "cuda" or device.startswith("cuda:"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ModelError(
                    f"device '{device}' needs onnxruntime-gpu (pip install onnxruntime-gpu)"
                )
            # cuda:N picks the GPU (a Ray actor or a multi-GPU host need not be on GPU 0).
            gpu = {"device_id": parse_device(device)}
            providers = [("CUDAExecutionProvider", gpu), "CPUExecutionProvider"]
        elif device != "cpu":
            raise ModelError(f"unknown device '{device}' (use cpu, cuda or cuda:N)")
        opts = session_options(threads, self.settings.spin)
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as exc:  # ORT raises its own pybind exception classes
            raise _load_error(path, exc) from exc
        # The spec rides in metadata_props, which ORT already parsed: no second onnx.load.
        raw = self.session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
        super().__init__(path, ModelSpec.from_json(raw) if raw else None)
        self.device = device
        self.threads = opts.intra_op_num_threads
        self._inputs = [self._info(a) for a in self.session.get_inputs()]
        self._outputs = [self._info(a) for a in self.session.get_outputs()]
        self._output_names = [t.name for t in self._outputs]
        self._dtypes = [(t.name, t.dtype) for t in self._inputs]
        self._run = self.session.run
        # ORT also logs a failed run to stderr; the raised error already says it all.
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4

    def _info(self, arg) -> TensorInfo:
        try:
            dtype = from_ort(arg.type).numpy
        except InputError as exc:
            raise ModelError(f"{self.path.name}: tensor '{arg.name}': {exc}") from None
        shape = tuple(d if isinstance(d, int) else (d or None) for d in arg.shape)
        return TensorInfo(arg.name, dtype, shape)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch on the session; a rejected feed becomes one InputError line."""
        for name, want in self._dtypes:
            arr = feeds.get(name)
            if arr is not None and getattr(arr, "dtype", None) != want:
                feeds = self._coerce(feeds)
                break
        try:
            results = self._run(self._output_names, feeds, self._run_options)
        except Exception as exc:
            self.check_feeds(feeds)  # raises the clear message when the feed is at fault
            raise ModelError(f"{self.path.name}: ONNX Runtime failed: {_first_line(exc)}") from exc
        return dict(zip(self._output_names, results, strict=True))

    def _coerce(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A copy of ``feeds`` with each known input cast to its dtype (the slow path)."""
        want = dict(self._dtypes)
        return {k: coerce_dtype(k, v, want[k]) if k in want else v for k, v in feeds.items()}

    def close(self) -> None:
        """Drop the session (frees its memory arena)."""
        self.__dict__.pop("session", None)
        self._run = self._closed
        super().close()

    def _closed(self, *_: object) -> None:
        raise ModelError(f"{self.path.name}: engine is closed; load the model again")
