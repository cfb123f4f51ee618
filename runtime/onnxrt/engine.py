"""Engine backed by an onnxruntime.InferenceSession."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ptx.errors import ModelError
from ptx.runtime.engine import Engine, TensorInfo
from ptx.spec import ModelSpec, spec_from_onnx

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(bool)": np.bool_,
}


def _read_spec(path: Path) -> ModelSpec | None:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError / OSError variants
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from exc
    return spec_from_onnx(model)


class OnnxRuntimeEngine(Engine):
    """ONNX Runtime session with latency-oriented options."""

    backend = "onnxruntime"

    def __init__(
        self, path: str | Path, device: str = "cpu", threads: int | None = None, **_: object
    ) -> None:
        import onnxruntime as ort

        path = Path(path)
        super().__init__(path, _read_spec(path))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ModelError("--device cuda needs onnxruntime-gpu (pip install 'ptx[gpu]')")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: ONNX Runtime cannot load it: {first}") from exc
        self.device = device
        self._inputs = [self._info(a) for a in self.session.get_inputs()]
        self._outputs = [self._info(a) for a in self.session.get_outputs()]
        self._output_names = [t.name for t in self._outputs]

    @staticmethod
    def _info(arg) -> TensorInfo:
        dtype = np.dtype(_ORT_TYPES.get(arg.type, np.float32))
        shape = tuple(d if isinstance(d, int) else (d or None) for d in arg.shape)
        return TensorInfo(arg.name, dtype, shape)

    @property
    def inputs(self) -> list[TensorInfo]:
        return self._inputs

    @property
    def outputs(self) -> list[TensorInfo]:
        return self._outputs

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch on the session."""
        self.check_feeds(feeds)
        results = self.session.run(self._output_names, feeds)
        return dict(zip(self._output_names, results, strict=True))
